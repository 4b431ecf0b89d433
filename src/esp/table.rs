//! The inbound SA table: SPI → SA, read lock-free on the packet path and replaced atomically
//! (copy on write) when IKE installs or removes an SA. The table is split into [`SHARDS`]
//! maps by SPI, and a write copies one of them: bringing up N tunnels copies N²/64 entries,
//! not N² (a whole-table copy per install was 2.4 % of a responder's CPU at 500 tunnels).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::sa::InboundSa;

/// Maps the table is split into (by the SPI's low bits).
pub const SHARDS: usize = 64;

type Shard = HashMap<u32, Arc<InboundSa>>;

/// Inbound SAs by SPI. Readers never block; writers copy one shard.
#[derive(Debug)]
pub struct SaTable {
    shards: Box<[ArcSwap<Shard>]>,
    writer: std::sync::Mutex<()>,
}

impl Default for SaTable {
    fn default() -> SaTable {
        SaTable {
            shards: (0..SHARDS).map(|_| ArcSwap::default()).collect(),
            writer: std::sync::Mutex::new(()),
        }
    }
}

impl SaTable {
    /// An empty table.
    pub fn new() -> SaTable {
        SaTable::default()
    }

    /// The shard an SPI lives in. SPIs are drawn at random, so the low bits spread them.
    fn shard(&self, spi: u32) -> &ArcSwap<Shard> {
        // `shards` has SHARDS entries, and the index is taken modulo SHARDS.
        &self.shards[spi as usize % SHARDS]
    }

    /// The SA with this SPI, if any.
    pub fn get(&self, spi: u32) -> Option<Arc<InboundSa>> {
        self.shard(spi).load().get(&spi).cloned()
    }

    /// Installs (or replaces) an SA.
    pub fn insert(&self, sa: Arc<InboundSa>) {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let shard = self.shard(sa.spi);
        let mut m = HashMap::clone(&shard.load());
        m.insert(sa.spi, sa);
        shard.store(Arc::new(m));
    }

    /// Removes an SA; returns it if it was there.
    pub fn remove(&self, spi: u32) -> Option<Arc<InboundSa>> {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let shard = self.shard(spi);
        if !shard.load().contains_key(&spi) {
            return None;
        }
        let mut m = HashMap::clone(&shard.load());
        let old = m.remove(&spi);
        shard.store(Arc::new(m));
        old
    }

    /// Whether an SPI is in use (for choosing fresh SPIs).
    pub fn contains(&self, spi: u32) -> bool {
        self.shard(spi).load().contains_key(&spi)
    }

    /// Every SA, for snapshots.
    pub fn all(&self) -> Vec<Arc<InboundSa>> {
        self.shards
            .iter()
            .flat_map(|s| s.load().values().cloned().collect::<Vec<_>>())
            .collect()
    }
}
