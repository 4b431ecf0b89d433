//! Buffers shared by the packet and IKE receive tasks, so that their memory follows the number
//! of batches in flight rather than the number of tunnels or addresses.

/// Buffers shared by every task of the packet path. A task takes a set when it has packets to
/// handle and gives it back after the batch, so the memory in use follows the number of batches
/// in flight (about one per core), not the number of tunnels or addresses. Taking and giving
/// back lock once per batch, never per packet.
pub(crate) struct Pool<T>(std::sync::Mutex<Vec<Box<T>>>);

impl<T> Pool<T> {
    pub(crate) const fn new() -> Pool<T> {
        Pool(std::sync::Mutex::new(Vec::new()))
    }

    /// A set that `fits`, or a new one from `make`.
    pub(crate) fn take(&self, fits: impl Fn(&T) -> bool, make: impl FnOnce() -> T) -> Box<T> {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match v.iter().rposition(|b| fits(b)) {
            Some(i) => v.swap_remove(i),
            None => {
                drop(v);
                Box::new(make())
            }
        }
    }

    pub(crate) fn give(&self, b: Box<T>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(b);
    }
}
