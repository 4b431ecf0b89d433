//! The next deadline of each client's IKE engine, in a heap: the remote-access task asks for
//! the earliest one and for those due in O(log clients) instead of asking every engine on every
//! turn of its loop (which, at thousands of clients, cost more than the datagram it served).
//!
//! Entries are replaced lazily: [`DeadlineQueue::set`] records a client's current deadline and
//! pushes it; an older entry of the same client stays in the heap until it surfaces and is then
//! skipped because it no longer matches. The caller re-arms a client after every call into its
//! engine (its deadline may have moved either way).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// Deadlines keyed by `K` (a client id).
#[derive(Debug)]
pub struct DeadlineQueue<K> {
    heap: BinaryHeap<Reverse<(Instant, K)>>,
    current: HashMap<K, Instant>,
}

impl<K: Copy + Ord + Hash> Default for DeadlineQueue<K> {
    fn default() -> Self {
        DeadlineQueue {
            heap: BinaryHeap::new(),
            current: HashMap::new(),
        }
    }
}

impl<K: Copy + Ord + Hash> DeadlineQueue<K> {
    /// `key`'s deadline is now `at` (`None`: it has none, or it is gone).
    pub fn set(&mut self, key: K, at: Option<Instant>) {
        match at {
            Some(at) => {
                if self.current.insert(key, at) != Some(at) {
                    self.heap.push(Reverse((at, key)));
                }
            }
            None => {
                self.current.remove(&key);
            }
        }
        // Stale entries are dropped when they surface; rebuild when they dominate.
        if self.heap.len() > 2 * self.current.len() + 64 {
            self.heap = self
                .current
                .iter()
                .map(|(k, at)| Reverse((*at, *k)))
                .collect();
        }
    }

    /// The earliest deadline.
    pub fn earliest(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, key))) = self.heap.peek().copied() {
            if self.current.get(&key) == Some(&at) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// The keys whose deadline is at or before `now`, earliest first; their deadlines are
    /// cleared (the caller re-arms them after running their engines).
    pub fn take_due(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        while let Some(at) = self.earliest() {
            if at > now {
                break;
            }
            if let Some(Reverse((_, key))) = self.heap.pop() {
                self.current.remove(&key);
                due.push(key);
            }
        }
        due
    }

    /// How many keys have a deadline.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// True when no key has a deadline.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first_moved_and_removed_deadlines_are_skipped() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut q = DeadlineQueue::default();
        q.set(1u64, Some(t0 + s(5)));
        q.set(2, Some(t0 + s(3)));
        q.set(3, Some(t0 + s(4)));
        assert_eq!(q.earliest(), Some(t0 + s(3)));
        // Client 2's deadline moves later, client 3's goes away.
        q.set(2, Some(t0 + s(10)));
        q.set(3, None);
        assert_eq!(q.earliest(), Some(t0 + s(5)));
        assert_eq!(q.len(), 2);
        assert_eq!(q.take_due(t0 + s(4)), Vec::<u64>::new());
        assert_eq!(q.take_due(t0 + s(10)), vec![1, 2]);
        assert!(q.is_empty() && q.earliest().is_none());
        // Moving earlier works as well.
        q.set(4, Some(t0 + s(9)));
        q.set(4, Some(t0 + s(1)));
        assert_eq!(q.take_due(t0 + s(1)), vec![4]);
        assert_eq!(q.earliest(), None);
    }

    #[test]
    fn stale_entries_do_not_pile_up() {
        let t0 = Instant::now();
        let mut q = DeadlineQueue::default();
        for i in 0..10_000u32 {
            q.set(i % 10, Some(t0 + Duration::from_millis(u64::from(i))));
        }
        assert_eq!(q.len(), 10);
        assert!(q.heap.len() <= 2 * 10 + 64, "{}", q.heap.len());
        assert_eq!(q.take_due(t0 + Duration::from_secs(60)).len(), 10);
    }
}
