//! Where every IKE datagram of the process enters: which tunnel's engine a message belongs to.
//! Sans-IO (after quinn-proto's `Endpoint`): it maps (our address, the sender, the message) to
//! a tunnel handle `T` the caller chose (the daemon uses its tasks' channels).
//!
//! A tunnel with a configured peer is found by the (local, peer) address pair, whatever the IKE
//! version. A tunnel with `destination: dynamic` (a road warrior) is chosen late, by identity:
//! an IKEv1 Aggressive Mode message 1 whose IDii matches the tunnel's `peers-identifier`; its
//! initiator cookie is then remembered (the latest [`DYNAMIC_COOKIES`] per tunnel), so the rest
//! of the exchange and everything under the ISAKMP SA finds the tunnel from whatever address
//! (two road warriors behind one NAT, a NAT that rebinds). The engine authenticates everything.
//! Whatever is left on a local address with a remote-access interface goes to that interface
//! ([`Endpoint::add_remote_access`]), whose acceptor tells its clients apart by SPI.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::policy::Identity;

/// IKE SAs (initiator cookies / SPIs) of a `destination: dynamic` tunnel remembered, at most.
pub const DYNAMIC_COOKIES: usize = 8;

/// The IKE major version of a message (1 or 2), from its header; `None` for a runt.
pub fn major_version(msg: &[u8]) -> Option<u8> {
    msg.get(17).map(|v| v >> 4)
}

/// The responder's SPI (IKEv2) or cookie (IKEv1) of an IKE message is zero: the message would
/// start a negotiation (or is an IKE_SA_INIT retried with a COOKIE).
pub fn responder_spi_is_zero(msg: &[u8]) -> bool {
    msg.get(8..16).is_some_and(|r| r.iter().all(|&b| b == 0))
}

/// Routes IKE messages to tunnels.
pub struct Endpoint<T> {
    fixed: HashMap<(IpAddr, IpAddr), T>,
    dynamic: Vec<DynamicPeer<T>>,
    /// Initiator cookie → index in `dynamic`, oldest first.
    learned: Mutex<Vec<([u8; 8], usize)>>,
    /// Remote-access interfaces by local address: every message from an unknown peer on that
    /// address, of either IKE version (their acceptor tells clients apart).
    remote_access: HashMap<IpAddr, T>,
}

impl<T> Default for Endpoint<T> {
    fn default() -> Self {
        Endpoint {
            fixed: HashMap::new(),
            dynamic: Vec::new(),
            learned: Mutex::new(Vec::new()),
            remote_access: HashMap::new(),
        }
    }
}

/// A tunnel with `destination: dynamic`.
struct DynamicPeer<T> {
    name: String,
    local: IpAddr,
    id: Identity,
    handle: T,
}

impl<T> Endpoint<T> {
    /// A tunnel whose peer is at `peer`, reached on our `local` address (the first one added
    /// for a pair wins).
    pub fn add_fixed(&mut self, local: IpAddr, peer: IpAddr, handle: T) {
        self.fixed.entry((local, peer)).or_insert(handle);
    }

    /// A road-warrior tunnel on `local`, chosen by the peer's identity `id`.
    pub fn add_dynamic(&mut self, name: &str, local: IpAddr, id: Identity, handle: T) {
        self.dynamic.push(DynamicPeer {
            name: name.to_string(),
            local,
            id,
            handle,
        });
    }

    /// A remote-access interface on `local` (see [`crate::ra::acceptor`]): it gets what no
    /// fixed or identity-chosen tunnel takes (the first one added for an address wins).
    pub fn add_remote_access(&mut self, local: IpAddr, handle: T) {
        self.remote_access.entry(local).or_insert(handle);
    }

    /// The tunnel for a message from `from` to our `local` address, if any.
    pub fn route(&self, local: IpAddr, from: IpAddr, msg: &[u8]) -> Option<&T> {
        if let Some(h) = self.fixed.get(&(local, from)) {
            return Some(h);
        }
        self.route_dynamic(local, from, msg)
            .or_else(|| self.remote_access.get(&local))
    }

    fn route_dynamic(&self, local: IpAddr, from: IpAddr, msg: &[u8]) -> Option<&T> {
        if self.dynamic.is_empty() || major_version(msg) != Some(1) {
            return None;
        }
        let icookie: [u8; 8] = msg.get(..8)?.try_into().ok()?;
        let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&(_, i)) = learned.iter().find(|(c, _)| *c == icookie) {
            return self.dynamic.get(i).map(|d| &d.handle);
        }
        let id = super::aggressive_initiator_identity(msg)?;
        let i = self
            .dynamic
            .iter()
            .position(|d| d.local == local && d.id == id)?;
        if learned.iter().filter(|(_, j)| *j == i).count() >= DYNAMIC_COOKIES {
            if let Some(oldest) = learned.iter().position(|(_, j)| *j == i) {
                learned.remove(oldest);
            }
        }
        learned.push((icookie, i));
        let d = self.dynamic.get(i)?;
        tracing::info!(
            "Aggressive Mode from {from} with identity {id}: tunnel {} (destination: dynamic)",
            d.name
        );
        Some(&d.handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_pairs_route_any_version_and_dynamic_needs_ikev1_identity() {
        let mut e: Endpoint<u8> = Endpoint::default();
        let (l, p) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        e.add_fixed(l, p, 1);
        e.add_dynamic("rw", l, Identity::Fqdn("alice".into()), 2);
        let mut v2 = vec![0u8; 28];
        v2[17] = 0x20;
        assert_eq!(major_version(&v2), Some(2));
        assert_eq!(major_version(&[0; 10]), None);
        assert_eq!(e.route(l, p, &v2), Some(&1));
        // An IKEv2 message from an unknown address never reaches a road-warrior tunnel.
        assert_eq!(e.route(l, "10.0.0.9".parse().unwrap(), &v2), None);
        assert_eq!(e.route(l, "10.0.0.9".parse().unwrap(), b"short"), None);
        // A remote-access interface on that address takes every unknown peer, any version.
        e.add_remote_access(l, 3);
        assert_eq!(e.route(l, "10.0.0.9".parse().unwrap(), &v2), Some(&3));
        assert_eq!(e.route(l, p, &v2), Some(&1));
        let other: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(e.route(other, "10.0.0.9".parse().unwrap(), &v2), None);
    }
}
