//! The inbound SA table: SPI → SA, read lock-free on the packet path and replaced atomically
//! (copy on write) when IKE installs or removes an SA.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::sa::InboundSa;

/// Inbound SAs by SPI. Readers never block; writers copy the map.
#[derive(Debug, Default)]
pub struct SaTable {
    map: ArcSwap<HashMap<u32, Arc<InboundSa>>>,
    writer: std::sync::Mutex<()>,
}

impl SaTable {
    /// An empty table.
    pub fn new() -> SaTable {
        SaTable::default()
    }

    /// The SA with this SPI, if any.
    pub fn get(&self, spi: u32) -> Option<Arc<InboundSa>> {
        self.map.load().get(&spi).cloned()
    }

    /// Installs (or replaces) an SA.
    pub fn insert(&self, sa: Arc<InboundSa>) {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut m = HashMap::clone(&self.map.load());
        m.insert(sa.spi, sa);
        self.map.store(Arc::new(m));
    }

    /// Removes an SA; returns it if it was there.
    pub fn remove(&self, spi: u32) -> Option<Arc<InboundSa>> {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut m = HashMap::clone(&self.map.load());
        let old = m.remove(&spi);
        self.map.store(Arc::new(m));
        old
    }

    /// Whether an SPI is in use (for choosing fresh SPIs).
    pub fn contains(&self, spi: u32) -> bool {
        self.map.load().contains_key(&spi)
    }

    /// Every SA, for snapshots.
    pub fn all(&self) -> Vec<Arc<InboundSa>> {
        self.map.load().values().cloned().collect()
    }
}
