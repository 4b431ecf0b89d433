//! The address pool of a remote-access interface and its leases (sans-IO: time is an argument).
//!
//! Offset `i` of the pool stands for the `i+1`-th host of the IPv4 pool and of the IPv6 pool
//! (the network address itself is never handed out), so one offset names a client's whole
//! virtual address set and indexes the data plane's outbound table in constant time.
//!
//! A lease is *active* while the client is connected. Delete, DPD death or a disconnect
//! *release* it: the address stays reserved for the same user until `retention` has passed
//! (a reconnecting client gets the same address again), and is handed to someone else before
//! that only when the pool has no never-used or expired address left.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::ike::Subnet;

/// Most addresses one pool hands out (an IPv6 /64 is cut down to this).
pub const MAX_POOL_SIZE: u32 = 65_536;

/// A client's virtual addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Offset in the pool (the data plane's index).
    pub offset: u32,
    /// Virtual IPv4 address, if the pool has IPv4.
    pub ipv4: Option<Ipv4Addr>,
    /// Virtual IPv6 address, if the pool has IPv6.
    pub ipv6: Option<Ipv6Addr>,
}

/// How full a pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolUsage {
    /// Addresses the pool can hand out.
    pub size: u32,
    /// Leases of connected clients.
    pub active: u32,
    /// Released leases still reserved for their user.
    pub reserved: u32,
}

/// Why no address could be handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("address pool exhausted: all {size} addresses are leased to connected clients; widen `remote-access.pool`")]
pub struct PoolExhausted {
    /// The pool's size.
    pub size: u32,
}

#[derive(Debug, Clone)]
enum Slot {
    Free,
    Active,
    Reserved { user: String, until: Instant },
}

/// The pool of one remote-access interface.
#[derive(Debug)]
pub struct AddressPool {
    ipv4: Option<Subnet>,
    ipv6: Option<Subnet>,
    retention: Duration,
    slots: Vec<Slot>,
    /// Offsets never handed out start at `fresh`; expired ones wait in `free`.
    fresh: u32,
    free: Vec<u32>,
    by_user: HashMap<String, u32>,
}

impl AddressPool {
    /// A pool over the given prefixes (at least one); `retention` is how long a released
    /// address stays reserved for its user.
    pub fn new(ipv4: Option<Subnet>, ipv6: Option<Subnet>, retention: Duration) -> AddressPool {
        let hosts = |s: Option<Subnet>, width: u32| {
            s.map(|s| {
                let bits = width - u32::from(s.prefix());
                // All but the network address (and IPv4's broadcast address).
                let n = if bits >= 32 { u64::MAX } else { 1u64 << bits };
                n.saturating_sub(if width == 32 { 2 } else { 1 })
            })
        };
        let size = [hosts(ipv4, 32), hosts(ipv6, 128)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(0)
            .min(u64::from(MAX_POOL_SIZE)) as u32;
        AddressPool {
            ipv4,
            ipv6,
            retention,
            slots: vec![Slot::Free; size as usize],
            fresh: 0,
            free: Vec::new(),
            by_user: HashMap::new(),
        }
    }

    /// Hands `user` an address: the one it had while that lease lasts, else a free one.
    /// Returns the lease and whether it was already active (the client connected again
    /// without deleting its old IKE SA: the caller removes the old one).
    pub fn acquire(&mut self, user: &str, now: Instant) -> Result<(Lease, bool), PoolExhausted> {
        self.expire(now);
        if let Some(&off) = self.by_user.get(user) {
            let was_active = matches!(self.slots[off as usize], Slot::Active);
            self.slots[off as usize] = Slot::Active;
            return Ok((self.lease(off), was_active));
        }
        let off = self
            .take_free()
            .ok_or(PoolExhausted { size: self.size() })?;
        self.slots[off as usize] = Slot::Active;
        self.by_user.insert(user.to_string(), off);
        Ok((self.lease(off), false))
    }

    /// The client of `user` is gone (Delete, DPD death, disconnect): its address stays
    /// reserved for it until `now + retention`.
    pub fn release(&mut self, user: &str, now: Instant) {
        if let Some(&off) = self.by_user.get(user) {
            self.slots[off as usize] = Slot::Reserved {
                user: user.into(),
                until: now + self.retention,
            };
        }
    }

    /// Frees the reservations that ran out by `now`.
    pub fn expire(&mut self, now: Instant) {
        for off in 0..self.fresh {
            if let Slot::Reserved { user, until } = &self.slots[off as usize] {
                if *until <= now {
                    self.by_user.remove(user);
                    self.slots[off as usize] = Slot::Free;
                    self.free.push(off);
                }
            }
        }
    }

    /// When the next reservation runs out.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| match s {
                Slot::Reserved { until, .. } => Some(*until),
                _ => None,
            })
            .min()
    }

    /// The pool offset of a virtual address, if it lies in the pool (the data plane's index).
    pub fn offset_of(&self, ip: IpAddr) -> Option<u32> {
        offset_in(self.ipv4, self.ipv6, self.size(), ip)
    }

    /// The lease of `user`, active or reserved.
    pub fn lease_of(&self, user: &str) -> Option<Lease> {
        self.by_user.get(user).map(|&o| self.lease(o))
    }

    /// Addresses handed out and reserved.
    pub fn usage(&self) -> PoolUsage {
        let mut u = PoolUsage {
            size: self.size(),
            ..PoolUsage::default()
        };
        for s in &self.slots[..self.fresh as usize] {
            match s {
                Slot::Active => u.active += 1,
                Slot::Reserved { .. } => u.reserved += 1,
                Slot::Free => {}
            }
        }
        u
    }

    /// Addresses the pool can hand out.
    pub fn size(&self) -> u32 {
        self.slots.len() as u32
    }

    /// The prefixes (for the TUN's routes and the traffic selectors).
    pub fn prefixes(&self) -> (Option<Subnet>, Option<Subnet>) {
        (self.ipv4, self.ipv6)
    }

    fn take_free(&mut self) -> Option<u32> {
        if let Some(off) = self.free.pop() {
            return Some(off);
        }
        if self.fresh < self.size() {
            self.fresh += 1;
            return Some(self.fresh - 1);
        }
        // Reclaim the reservation closest to running out.
        let (off, user) = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Reserved { user, until } => Some((i as u32, user.clone(), *until)),
                _ => None,
            })
            .min_by_key(|(_, _, until)| *until)
            .map(|(i, u, _)| (i, u))?;
        self.by_user.remove(&user);
        Some(off)
    }

    fn lease(&self, offset: u32) -> Lease {
        Lease {
            offset,
            ipv4: self.ipv4.and_then(|s| match s.addr() {
                IpAddr::V4(a) => Some(Ipv4Addr::from(u32::from(a) + 1 + offset)),
                IpAddr::V6(_) => None,
            }),
            ipv6: self.ipv6.and_then(|s| match s.addr() {
                IpAddr::V6(a) => Some(Ipv6Addr::from(u128::from(a) + 1 + u128::from(offset))),
                IpAddr::V4(_) => None,
            }),
        }
    }
}

/// The pool offset of `ip` given the pool's prefixes and size (shared with the data plane,
/// which keeps its own copy of the prefixes and never locks the pool).
pub fn offset_in(ipv4: Option<Subnet>, ipv6: Option<Subnet>, size: u32, ip: IpAddr) -> Option<u32> {
    let delta = match (ip, ipv4, ipv6) {
        (IpAddr::V4(a), Some(p), _) => match p.addr() {
            IpAddr::V4(n) => u64::from(u32::from(a).checked_sub(u32::from(n))?),
            IpAddr::V6(_) => return None,
        },
        (IpAddr::V6(a), _, Some(p)) => match p.addr() {
            IpAddr::V6(n) => u64::try_from(u128::from(a).checked_sub(u128::from(n))?).ok()?,
            IpAddr::V4(_) => return None,
        },
        _ => return None,
    };
    let off = delta.checked_sub(1)?;
    (off < u64::from(size)).then_some(off as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(prefix4: &str, retention: u64) -> AddressPool {
        AddressPool::new(
            Some(prefix4.parse().unwrap()),
            Some("fd00:8::/120".parse().unwrap()),
            Duration::from_secs(retention),
        )
    }

    #[test]
    fn same_user_same_address_while_the_lease_lasts() {
        let t0 = Instant::now();
        let mut p = pool("10.8.0.0/24", 60);
        assert_eq!(p.size(), 254);
        let (a, again) = p.acquire("alice", t0).unwrap();
        assert_eq!(a.ipv4, Some(Ipv4Addr::new(10, 8, 0, 1)));
        assert_eq!(a.ipv6, Some("fd00:8::1".parse().unwrap()));
        assert!(!again);
        let (b, _) = p.acquire("bob", t0).unwrap();
        assert_eq!(b.ipv4, Some(Ipv4Addr::new(10, 8, 0, 2)));
        // Reconnect without Delete: same address, flagged.
        assert_eq!(p.acquire("alice", t0).unwrap(), (a, true));
        p.release("alice", t0);
        assert_eq!(
            p.usage(),
            PoolUsage {
                size: 254,
                active: 1,
                reserved: 1
            }
        );
        let t1 = t0 + Duration::from_secs(59);
        assert_eq!(p.acquire("alice", t1).unwrap(), (a, false));
        p.release("alice", t1);
        assert_eq!(p.next_expiry(), Some(t1 + Duration::from_secs(60)));
        // Expired: alice's address goes back to the pool and is handed out again.
        let t2 = t1 + Duration::from_secs(60);
        let (c, _) = p.acquire("carol", t2).unwrap();
        assert_eq!(c.ipv4, a.ipv4);
        assert_eq!(p.lease_of("alice"), None);
    }

    #[test]
    fn exhaustion_reclaims_reservations_then_refuses() {
        let t0 = Instant::now();
        let mut p = pool("10.8.0.0/30", 3600); // two hosts
        assert_eq!(p.size(), 2);
        p.acquire("a", t0).unwrap();
        p.acquire("b", t0).unwrap();
        let e = p.acquire("c", t0).unwrap_err();
        assert!(e.to_string().contains("all 2 addresses"), "{e}");
        p.release("a", t0);
        let (l, _) = p.acquire("c", t0).unwrap();
        assert_eq!(l.offset, 0);
        assert_eq!(p.lease_of("a"), None);
    }

    #[test]
    fn offsets_index_the_pool() {
        let p = pool("10.8.0.0/24", 1);
        assert_eq!(p.offset_of("10.8.0.1".parse().unwrap()), Some(0));
        assert_eq!(p.offset_of("10.8.0.254".parse().unwrap()), Some(253));
        assert_eq!(p.offset_of("fd00:8::ff".parse().unwrap()), None);
        assert_eq!(p.offset_of("fd00:8::fe".parse().unwrap()), Some(253));
        for ip in [
            "10.8.0.0",
            "10.8.0.255",
            "10.9.0.1",
            "192.168.0.1",
            "fd00:9::1",
        ] {
            assert_eq!(p.offset_of(ip.parse().unwrap()), None, "{ip}");
        }
        // A v6-only /64 is capped.
        let v6 = AddressPool::new(None, Some("fd00::/64".parse().unwrap()), Duration::ZERO);
        assert_eq!(v6.size(), MAX_POOL_SIZE);
    }
}
