//! The remote-access data plane's client table: the outbound SA of each client, indexed by its
//! pool offset, so that a packet's destination address finds its SA in constant time. Readers
//! (the TUN loop) load an `ArcSwap` and never block; IKE replaces the table copy-on-write when a
//! client comes or goes, under a writer lock the packet path never takes.
//!
//! Inbound, a decrypted packet must come from the virtual address of the client whose SA
//! opened it ([`ClientTable::source_allowed`]); others are dropped and counted.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::pool::offset_in;
use crate::ike::Subnet;

/// Per-client entries of type `T` (the daemon stores the client's outbound SA).
#[derive(Debug)]
pub struct ClientTable<T> {
    ipv4: Option<Subnet>,
    ipv6: Option<Subnet>,
    slots: ArcSwap<Vec<Option<Arc<T>>>>,
    writer: Mutex<()>,
    spoofed: AtomicU64,
    no_client: AtomicU64,
}

impl<T> ClientTable<T> {
    /// A table for a pool of `size` addresses over these prefixes.
    pub fn new(ipv4: Option<Subnet>, ipv6: Option<Subnet>, size: u32) -> ClientTable<T> {
        ClientTable {
            ipv4,
            ipv6,
            slots: ArcSwap::from_pointee((0..size).map(|_| None).collect()),
            writer: Mutex::new(()),
            spoofed: AtomicU64::new(0),
            no_client: AtomicU64::new(0),
        }
    }

    /// The entry of the client whose virtual address is `dst` (outbound packet path).
    pub fn lookup(&self, dst: IpAddr) -> Option<Arc<T>> {
        let slots = self.slots.load();
        let found = offset_in(self.ipv4, self.ipv6, slots.len() as u32, dst)
            .and_then(|o| slots.get(o as usize).cloned().flatten());
        if found.is_none() {
            self.no_client.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// The table as it is now, for a batch of packets: one atomic load, then lookups without
    /// reference counting ([`ClientView::lookup`]).
    pub fn view(&self) -> ClientView<'_, T> {
        ClientView {
            table: self,
            slots: self.slots.load_full(),
        }
    }

    /// The entry at `offset`.
    pub fn get(&self, offset: u32) -> Option<Arc<T>> {
        self.slots.load().get(offset as usize).cloned().flatten()
    }

    /// The pool offset of the virtual address `ip` (`None`: outside the pool).
    pub fn offset_of(&self, ip: IpAddr) -> Option<u32> {
        offset_in(self.ipv4, self.ipv6, self.slots.load().len() as u32, ip)
    }

    /// True when `src` is the virtual address of the client at `offset` (inbound packet path);
    /// counts the packets it refuses.
    pub fn source_allowed(&self, offset: u32, src: IpAddr) -> bool {
        let len = self.slots.load().len() as u32;
        let ok = offset_in(self.ipv4, self.ipv6, len, src) == Some(offset);
        if !ok {
            self.spoofed.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Installs (or replaces) the entry of the client at `offset`.
    pub fn insert(&self, offset: u32, entry: Arc<T>) {
        self.update(offset, Some(entry));
    }

    /// Removes the entry at `offset` (client gone).
    pub fn remove(&self, offset: u32) {
        self.update(offset, None);
    }

    /// Removes the entry at `offset` if `is_it` says it is the one meant (a rekeyed client's
    /// new entry stays when its old SA goes); true when removed.
    pub fn remove_if(&self, offset: u32, is_it: impl Fn(&T) -> bool) -> bool {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut v = Vec::clone(&self.slots.load());
        match v.get_mut(offset as usize) {
            Some(slot) if slot.as_deref().is_some_and(&is_it) => {
                *slot = None;
                self.slots.store(Arc::new(v));
                true
            }
            _ => false,
        }
    }

    /// Packets refused because they did not come from their client's virtual address.
    pub fn spoofed(&self) -> u64 {
        self.spoofed.load(Ordering::Relaxed)
    }

    /// Outbound packets to an address with no connected client.
    pub fn no_client(&self) -> u64 {
        self.no_client.load(Ordering::Relaxed)
    }

    fn update(&self, offset: u32, entry: Option<Arc<T>>) {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut v = Vec::clone(&self.slots.load());
        if let Some(slot) = v.get_mut(offset as usize) {
            *slot = entry;
            self.slots.store(Arc::new(v));
        }
    }
}

/// A [`ClientTable`] as loaded once for a batch of packets.
pub struct ClientView<'a, T> {
    table: &'a ClientTable<T>,
    slots: Arc<Vec<Option<Arc<T>>>>,
}

impl<T> ClientView<'_, T> {
    /// The entry of the client whose virtual address is `dst`; counts misses.
    pub fn lookup(&self, dst: IpAddr) -> Option<&Arc<T>> {
        let t = self.table;
        let found = offset_in(t.ipv4, t.ipv6, self.slots.len() as u32, dst)
            .and_then(|o| self.slots.get(o as usize))
            .and_then(Option::as_ref);
        if found.is_none() {
            t.no_client.fetch_add(1, Ordering::Relaxed);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_by_destination_inbound_by_own_address() {
        let t: ClientTable<&str> = ClientTable::new(
            Some("10.8.0.0/24".parse().unwrap()),
            Some("fd00:8::/112".parse().unwrap()),
            254,
        );
        t.insert(0, Arc::new("alice"));
        t.insert(1, Arc::new("bob"));
        assert_eq!(
            t.lookup("10.8.0.1".parse().unwrap()).as_deref(),
            Some(&"alice")
        );
        assert_eq!(
            t.lookup("fd00:8::2".parse().unwrap()).as_deref(),
            Some(&"bob")
        );
        assert_eq!(t.lookup("10.8.0.3".parse().unwrap()), None);
        assert_eq!(t.lookup("192.0.2.1".parse().unwrap()), None);
        assert_eq!(t.no_client(), 2);
        assert!(t.source_allowed(0, "10.8.0.1".parse().unwrap()));
        assert!(t.source_allowed(1, "fd00:8::2".parse().unwrap()));
        assert!(!t.source_allowed(0, "10.8.0.2".parse().unwrap()));
        assert!(!t.source_allowed(0, "198.51.100.7".parse().unwrap()));
        assert_eq!(t.spoofed(), 2);
        let view = t.view();
        assert_eq!(
            view.lookup("10.8.0.2".parse().unwrap()).map(|e| **e),
            Some("bob")
        );
        assert!(view.lookup("10.8.0.9".parse().unwrap()).is_none());
        assert_eq!(t.no_client(), 3);
        assert_eq!(t.offset_of("10.8.0.2".parse().unwrap()), Some(1));
        assert!(!t.remove_if(1, |e| *e == "someone else"));
        assert!(t.remove_if(1, |e| *e == "bob"));
        assert_eq!(t.lookup("fd00:8::2".parse().unwrap()), None);
        t.remove(0);
        assert_eq!(t.lookup("10.8.0.1".parse().unwrap()), None);
        t.insert(9999, Arc::new("out of range"));
        assert_eq!(t.lookup("10.8.0.1".parse().unwrap()), None);
    }
}
