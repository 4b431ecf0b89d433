//! The outbound selector table of one tunnel interface: which outbound SA seals an inner packet,
//! chosen by the packet's addresses.
//!
//! A tunnel may carry several child SAs at once (an IPv4 and an IPv6 proxy-id, IKEv2 children
//! with several traffic selectors). Each outbound SA in use has a selector set (local ⇄ remote
//! pairs, see [`OutboundSa::selectors`]); a packet from `src` to `dst` goes to the SA with a
//! selector whose `local` contains `src` and whose `remote` contains `dst`.
//!
//! **Overlaps** are resolved by specificity, deterministically and independent of the order in
//! which SAs were installed: the selector with the longer remote prefix wins, then the longer
//! local prefix, then the lower remote and local network addresses, then the lower SPI. So
//! `10.1.0.0/16 ⇄ 10.2.3.0/24` beats `0.0.0.0/0 ⇄ 10.2.0.0/16` for a packet both admit.
//!
//! The table is immutable: [`OutboundRoutes`] swaps a whole new one in atomically (arc-swap, as
//! the inbound [`super::SaTable`]), so the packet path neither locks nor allocates; a lookup is
//! a scan of the rows of the packet's address family, first match wins (rows are kept in
//! precedence order).

use std::cmp::Reverse;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::sa::OutboundSa;
use crate::ike::ProxyId;

/// An immutable set of outbound SAs in use, each with its selector set, ready for lookups.
#[derive(Debug, Default)]
pub struct SelectorTable {
    /// The SAs in use, each once, in the order they were put in use.
    sas: Vec<Arc<OutboundSa>>,
    /// IPv4 selectors in precedence order.
    v4: Vec<Row>,
    /// IPv6 selectors in precedence order.
    v6: Vec<Row>,
}

/// One selector, precomputed for matching: addresses as integers (an IPv4 address in the low 32
/// bits), `(network, mask)` per side.
#[derive(Debug, Clone, Copy)]
struct Row {
    local: (u128, u128),
    remote: (u128, u128),
    /// Index into [`SelectorTable::sas`].
    sa: usize,
}

impl Row {
    fn new(s: &ProxyId, sa: usize) -> Row {
        let side = |n: &crate::ike::Subnet| {
            let p = u32::from(n.prefix());
            let mask = match n.addr() {
                IpAddr::V4(_) if p == 0 => 0,
                IpAddr::V4(_) => u128::from(u32::MAX << (32 - p.min(32))),
                IpAddr::V6(_) if p == 0 => 0,
                IpAddr::V6(_) => u128::MAX << (128 - p.min(128)),
            };
            (bits(n.addr()) & mask, mask)
        };
        Row {
            local: side(&s.local),
            remote: side(&s.remote),
            sa,
        }
    }

    #[inline]
    fn admits(&self, src: u128, dst: u128) -> bool {
        dst & self.remote.1 == self.remote.0 && src & self.local.1 == self.local.0
    }
}

/// An address as an integer (IPv4 in the low 32 bits).
#[inline]
fn bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl SelectorTable {
    /// A table of these SAs (each routed by its own [`OutboundSa::selectors`]).
    pub fn new(sas: Vec<Arc<OutboundSa>>) -> SelectorTable {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (i, sa) in sas.iter().enumerate() {
            for s in sa.selectors() {
                // A selector mixing families would never match a packet: left out.
                match (s.local.addr(), s.remote.addr()) {
                    (IpAddr::V4(_), IpAddr::V4(_)) => v4.push((*s, i)),
                    (IpAddr::V6(_), IpAddr::V6(_)) => v6.push((*s, i)),
                    _ => {}
                }
            }
        }
        let key = |(s, i): &(ProxyId, usize)| {
            (
                Reverse(s.remote.prefix()),
                Reverse(s.local.prefix()),
                s.remote.addr(),
                s.local.addr(),
                sas.get(*i).map_or(0, |sa| sa.spi),
            )
        };
        v4.sort_by_key(key);
        v6.sort_by_key(key);
        let rows = |v: Vec<(ProxyId, usize)>| v.iter().map(|(s, i)| Row::new(s, *i)).collect();
        SelectorTable {
            v4: rows(v4),
            v6: rows(v6),
            sas,
        }
    }

    /// The SA that seals a packet from `src` to `dst`: the most specific selector containing
    /// both (see the module documentation), `None` when no selector does.
    #[inline]
    pub fn lookup(&self, src: IpAddr, dst: IpAddr) -> Option<&Arc<OutboundSa>> {
        let rows = match (src, dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => &self.v4,
            (IpAddr::V6(_), IpAddr::V6(_)) => &self.v6,
            _ => return None,
        };
        let (src, dst) = (bits(src), bits(dst));
        rows.iter()
            .find(|r| r.admits(src, dst))
            .and_then(|r| self.sas.get(r.sa))
    }

    /// Whether no SA is in use.
    pub fn is_empty(&self) -> bool {
        self.sas.is_empty()
    }

    /// The SAs in use, in the order they were put in use.
    pub fn sas(&self) -> &[Arc<OutboundSa>] {
        &self.sas
    }

    /// The SA in use with this SPI, if any.
    pub fn get(&self, spi: u32) -> Option<&Arc<OutboundSa>> {
        self.sas.iter().find(|s| s.spi == spi)
    }

    /// A new table with `sa` in use, replacing the SA of the same selector set, if any
    /// (make-before-break per selector set). Returns the table and the replaced SA.
    pub fn with(&self, sa: Arc<OutboundSa>) -> (SelectorTable, Option<Arc<OutboundSa>>) {
        let mut replaced = None;
        let mut sas = Vec::with_capacity(self.sas.len() + 1);
        for o in &self.sas {
            if o.spi == sa.spi || o.selectors() == sa.selectors() {
                replaced = replaced.or(Some(o.clone()));
            } else {
                sas.push(o.clone());
            }
        }
        sas.push(sa);
        (SelectorTable::new(sas), replaced)
    }

    /// A new table without the SA `spi`, or `None` when it is not in use.
    pub fn without(&self, spi: u32) -> Option<SelectorTable> {
        self.get(spi)?;
        let sas = self.sas.iter().filter(|s| s.spi != spi).cloned().collect();
        Some(SelectorTable::new(sas))
    }
}

/// The outbound side of one tunnel: the current [`SelectorTable`], read lock-free on the packet
/// path and replaced atomically when IKE (or the manual configuration) changes the SAs in use.
#[derive(Debug, Default)]
pub struct OutboundRoutes {
    table: ArcSwap<SelectorTable>,
    writer: std::sync::Mutex<()>,
}

impl OutboundRoutes {
    /// No SA in use: every packet is dropped (and counted as `no_sa`).
    pub fn new() -> OutboundRoutes {
        OutboundRoutes::default()
    }

    /// The current table (one atomic load and reference count; once per batch).
    pub fn load(&self) -> Arc<SelectorTable> {
        self.table.load_full()
    }

    /// The current table for a short look without awaiting in between (no reference count
    /// change; per packet).
    pub fn peek(&self) -> arc_swap::Guard<Arc<SelectorTable>> {
        self.table.load()
    }

    /// Puts `sa` in use, replacing the SA with the same selector set; returns the replaced SA.
    pub fn use_sa(&self, sa: Arc<OutboundSa>) -> Option<Arc<OutboundSa>> {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let (t, old) = self.table.load().with(sa);
        self.table.store(Arc::new(t));
        old
    }

    /// Stops using the SA `spi`; true when it was in use.
    pub fn remove(&self, spi: u32) -> bool {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        match self.table.load().without(spi) {
            Some(t) => {
                self.table.store(Arc::new(t));
                true
            }
            None => false,
        }
    }

    /// The SAs in use (for status and key export).
    pub fn all(&self) -> Vec<Arc<OutboundSa>> {
        self.table.load().sas().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{EncAlg, EspKeys, IntegAlg};
    use crate::esp::Encap;

    fn sa(spi: u32, sel: &[(&str, &str)]) -> Arc<OutboundSa> {
        let keys = EspKeys {
            spi,
            enc: EncAlg::Aes128Gcm16,
            integ: IntegAlg::None,
            enc_key: zeroize::Zeroizing::new(vec![7; 20]),
            integ_key: zeroize::Zeroizing::new(vec![]),
        };
        let selectors = sel
            .iter()
            .map(|(l, r)| ProxyId {
                local: l.parse().unwrap(),
                remote: r.parse().unwrap(),
            })
            .collect();
        let o = OutboundSa::new(&keys, Encap::Raw("192.0.2.1".parse().unwrap()), [0; 16])
            .unwrap()
            .with_selectors(selectors);
        Arc::new(o)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn spi_for(t: &SelectorTable, src: &str, dst: &str) -> Option<u32> {
        t.lookup(ip(src), ip(dst)).map(|s| s.spi)
    }

    #[test]
    fn empty_table_matches_nothing() {
        let t = SelectorTable::default();
        assert!(t.is_empty());
        assert_eq!(spi_for(&t, "10.0.0.1", "10.0.0.2"), None);
        assert_eq!(spi_for(&t, "2001:db8::1", "2001:db8::2"), None);
    }

    #[test]
    fn ipv4_and_ipv6_children_each_get_their_family() {
        let r = OutboundRoutes::new();
        r.use_sa(sa(4, &[("192.168.1.0/24", "192.168.2.0/24")]));
        r.use_sa(sa(6, &[("2001:db8:1::/48", "2001:db8:2::/48")]));
        let t = r.load();
        assert_eq!(spi_for(&t, "192.168.1.5", "192.168.2.9"), Some(4));
        assert_eq!(spi_for(&t, "2001:db8:1::5", "2001:db8:2::9"), Some(6));
        // The bug this table fixes: the second child must not take the first one's traffic.
        assert_eq!(t.sas().len(), 2);
    }

    #[test]
    fn one_child_with_both_families() {
        let t = SelectorTable::new(vec![sa(
            9,
            &[
                ("192.168.1.0/24", "192.168.2.0/24"),
                ("2001:db8:1::/48", "2001:db8:2::/48"),
            ],
        )]);
        assert_eq!(spi_for(&t, "192.168.1.5", "192.168.2.9"), Some(9));
        assert_eq!(spi_for(&t, "2001:db8:1::5", "2001:db8:2::9"), Some(9));
    }

    #[test]
    fn no_match_is_none() {
        let t = SelectorTable::new(vec![
            sa(4, &[("192.168.1.0/24", "192.168.2.0/24")]),
            sa(5, &[("192.168.1.0/24", "192.168.3.0/24")]),
        ]);
        // Wrong destination, wrong source, wrong family.
        assert_eq!(spi_for(&t, "192.168.1.5", "192.168.4.1"), None);
        assert_eq!(spi_for(&t, "10.0.0.1", "192.168.2.1"), None);
        assert_eq!(spi_for(&t, "2001:db8:1::5", "2001:db8:2::9"), None);
        // A one-row table refuses too.
        let one = SelectorTable::new(vec![sa(4, &[("192.168.1.0/24", "192.168.2.0/24")])]);
        assert_eq!(spi_for(&one, "192.168.1.5", "192.168.4.1"), None);
        assert_eq!(spi_for(&one, "192.168.9.5", "192.168.2.1"), None);
    }

    #[test]
    fn prefix_edges_and_mixed_families() {
        let t = SelectorTable::new(vec![
            sa(1, &[("192.168.1.1/32", "0.0.0.0/0")]),
            sa(2, &[("::/0", "2001:db8::1/128")]),
            sa(3, &[("128.0.0.0/1", "0.0.0.0/1")]),
        ]);
        assert_eq!(spi_for(&t, "192.168.1.1", "8.8.8.8"), Some(3));
        assert_eq!(spi_for(&t, "192.168.1.1", "200.0.0.1"), Some(1));
        assert_eq!(spi_for(&t, "192.168.1.2", "200.0.0.1"), None);
        assert_eq!(spi_for(&t, "127.0.0.1", "8.8.8.8"), None);
        assert_eq!(spi_for(&t, "fe80::1", "2001:db8::1"), Some(2));
        assert_eq!(spi_for(&t, "fe80::1", "2001:db8::2"), None);
        // An IPv4 source with an IPv6 destination matches nothing (no such packet parses).
        assert_eq!(spi_for(&t, "192.168.1.1", "2001:db8::1"), None);
        assert_eq!(spi_for(&t, "::1", "200.0.0.1"), None);
    }

    #[test]
    fn overlap_picks_the_most_specific_whatever_the_order() {
        let wide = || sa(1, &[("0.0.0.0/0", "0.0.0.0/0")]);
        let mid = || sa(2, &[("0.0.0.0/0", "10.2.0.0/16")]);
        let narrow = || sa(3, &[("10.1.0.0/16", "10.2.3.0/24")]);
        let local_only = || sa(4, &[("10.1.0.0/16", "10.2.0.0/16")]);
        let orders: [Vec<Arc<OutboundSa>>; 3] = [
            vec![wide(), mid(), narrow(), local_only()],
            vec![narrow(), local_only(), wide(), mid()],
            vec![local_only(), mid(), narrow(), wide()],
        ];
        for o in orders {
            let t = SelectorTable::new(o);
            assert_eq!(spi_for(&t, "10.1.0.1", "10.2.3.4"), Some(3));
            // Same remote prefix: the longer local prefix wins.
            assert_eq!(spi_for(&t, "10.1.0.1", "10.2.9.9"), Some(4));
            assert_eq!(spi_for(&t, "10.9.0.1", "10.2.9.9"), Some(2));
            assert_eq!(spi_for(&t, "10.9.0.1", "10.2.3.4"), Some(2));
            assert_eq!(spi_for(&t, "10.9.0.1", "172.16.0.1"), Some(1));
        }
    }

    #[test]
    fn equal_selectors_of_different_sets_tie_break_by_spi() {
        let a = || sa(0x20, &[("10.1.0.0/16", "10.2.0.0/16")]);
        let b = || {
            sa(
                0x10,
                &[
                    ("10.1.0.0/16", "10.2.0.0/16"),
                    ("10.1.0.0/16", "10.3.0.0/16"),
                ],
            )
        };
        for o in [vec![a(), b()], vec![b(), a()]] {
            let t = SelectorTable::new(o);
            assert_eq!(spi_for(&t, "10.1.0.1", "10.2.0.1"), Some(0x10));
        }
    }

    #[test]
    fn make_before_break_replaces_per_selector_set() {
        let r = OutboundRoutes::new();
        let v4 = [("192.168.1.0/24", "192.168.2.0/24")];
        let v6 = [("2001:db8:1::/48", "2001:db8:2::/48")];
        assert!(r.use_sa(sa(0x41, &v4)).is_none());
        assert!(r.use_sa(sa(0x61, &v6)).is_none());
        // A reader holding the old table keeps a consistent view during the swap.
        let before = r.load();
        // Rekey of the IPv4 child: only the IPv4 entry changes.
        let old = r.use_sa(sa(0x42, &v4)).map(|o| o.spi);
        assert_eq!(old, Some(0x41));
        let t = r.load();
        assert_eq!(spi_for(&t, "192.168.1.5", "192.168.2.9"), Some(0x42));
        assert_eq!(spi_for(&t, "2001:db8:1::5", "2001:db8:2::9"), Some(0x61));
        assert_eq!(spi_for(&before, "192.168.1.5", "192.168.2.9"), Some(0x41));
        // The replaced pair's ChildSaDown finds it no longer in use: nothing changes.
        assert!(!r.remove(0x41));
        assert_eq!(r.all().len(), 2);
        // Removing the IPv6 child leaves IPv4 alone.
        assert!(r.remove(0x61));
        let t = r.load();
        assert_eq!(spi_for(&t, "2001:db8:1::5", "2001:db8:2::9"), None);
        assert_eq!(spi_for(&t, "192.168.1.5", "192.168.2.9"), Some(0x42));
        // Selector sets compare as sets: order and duplicates do not matter.
        let both = [v4[0], v6[0]];
        let both_rev = [v6[0], v4[0], v6[0]];
        r.use_sa(sa(0x90, &both));
        assert_eq!(r.use_sa(sa(0x91, &both_rev)).map(|o| o.spi), Some(0x90));
        assert_eq!(
            r.all().iter().map(|s| s.spi).collect::<Vec<_>>(),
            [0x42, 0x91]
        );
    }
}
