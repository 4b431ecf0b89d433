//! A tunnel's IKE queue: a bounded multi-producer, single-consumer queue that costs an idle
//! tunnel about 150 bytes. A tokio `mpsc` channel costs about 1.1 kB even when empty: its
//! shared state is padded to cache lines and its first block holds 32 slots. Thousands of
//! tunnels each keep one queue (issue 17: 10 kB per tunnel).
//!
//! The queue is a `VecDeque` behind a mutex (it allocates only once something is queued) and
//! two `Notify`s: one wakes the receiver, the other a sender waiting for room. Held only for a
//! push or a pop, the mutex is never held across an await.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// A new queue holding at most `capacity` items (at least one).
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            receiver_gone: false,
        }),
        capacity: capacity.max(1),
        senders: AtomicUsize::new(1),
        shedding: AtomicBool::new(false),
        item: Notify::new(),
        room: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    capacity: usize,
    /// Live [`Sender`]s: at zero, the receiver sees the end once the queue is empty.
    senders: AtomicUsize,
    /// The receiver asks senders to answer for it what they can ([`Receiver::set_shedding`]).
    shedding: AtomicBool,
    /// Something was queued, or the last sender left.
    item: Notify,
    /// An item was taken, or the receiver left.
    room: Notify,
}

struct Queue<T> {
    items: VecDeque<T>,
    receiver_gone: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the oldest item if `wanted` says yes to it, and tells a waiting sender.
    fn pop_if(&self, wanted: impl FnOnce(&T) -> bool) -> Option<T> {
        let mut q = self.lock();
        if !q.items.front().is_some_and(wanted) {
            return None;
        }
        let item = q.items.pop_front();
        if q.items.is_empty() {
            // A burst's room goes back to the allocator once it is drained.
            q.items = VecDeque::new();
        }
        drop(q);
        self.room.notify_one();
        item
    }
}

/// Why [`Sender::try_send`] did not queue the item (which it gives back).
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The queue holds `capacity` items.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

/// The sending side; clones share the queue.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.item.notify_one();
        }
    }
}

impl<T> Sender<T> {
    /// Queues `item` if there is room, without waiting.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let mut q = self.shared.lock();
        if q.receiver_gone {
            return Err(TrySendError::Closed(item));
        }
        if q.items.len() >= self.shared.capacity {
            return Err(TrySendError::Full(item));
        }
        q.items.push_back(item);
        drop(q);
        self.shared.item.notify_one();
        Ok(())
    }

    /// Queues `item`, waiting for room; gives it back when the receiver is gone.
    pub async fn send(&self, mut item: T) -> Result<(), T> {
        loop {
            // Registered before trying, so a pop between the try and the wait is not missed.
            let room = self.shared.room.notified();
            match self.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(i)) => return Err(i),
                Err(TrySendError::Full(i)) => item = i,
            }
            room.await;
        }
    }

    /// Free places in the queue now.
    pub fn capacity(&self) -> usize {
        let used = self.shared.lock().items.len();
        self.shared.capacity.saturating_sub(used)
    }

    /// Places in the queue in all.
    pub fn max_capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Whether the receiver asked senders to answer for it what they can, rather than queue
    /// it ([`Receiver::set_shedding`]).
    pub fn shedding(&self) -> bool {
        self.shared.shedding.load(Ordering::Relaxed)
    }

    /// Whether `other` sends to the same queue.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// The receiving side.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The oldest queued item; `None` once every sender is gone and the queue is empty.
    /// Cancel-safe: an item is taken only when it is returned.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            let queued = self.shared.item.notified();
            if !self.shared.lock().items.is_empty() {
                // Like tokio's own channels: a receiver whose queue never runs dry still yields
                // its worker thread once its task's budget is spent, so that the tasks feeding
                // it get their turn. The item stays queued across that yield.
                tokio::task::coop::consume_budget().await;
                match self.shared.pop_if(|_| true) {
                    Some(item) => return Some(item),
                    None => continue,
                }
            }
            if self.shared.senders.load(Ordering::Acquire) == 0 {
                return None;
            }
            queued.await;
        }
    }

    /// The oldest queued item if there is one and `wanted` says yes to it, without waiting.
    pub fn try_recv_if(&mut self, wanted: impl FnOnce(&T) -> bool) -> Option<T> {
        self.shared.pop_if(wanted)
    }

    /// Tells the senders whether to answer for the receiver what they can (a tunnel's IKE
    /// task: its engine wants COOKIEs, which the receive loop can ask for itself).
    pub fn set_shedding(&self, on: bool) {
        self.shared.shedding.store(on, Ordering::Relaxed);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut q = self.shared.lock();
            q.receiver_gone = true;
            std::mem::take(&mut q.items)
        };
        drop(items);
        self.shared.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn items_arrive_in_order_and_the_queue_is_bounded() {
        let (tx, mut rx) = channel(2);
        assert_eq!((tx.capacity(), tx.max_capacity()), (2, 2));
        tx.try_send(1).unwrap();
        tx.clone().try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(tx.capacity(), 0);
        assert_eq!(rx.recv().await, Some(1));
        tx.try_send(3).unwrap();
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(tx.capacity(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_receiver_that_never_runs_dry_still_lets_other_tasks_run() {
        let (tx, mut rx) = channel(1000);
        for i in 0..1000 {
            tx.try_send(i).unwrap();
        }
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        tokio::spawn(async move { flag.store(true, Ordering::Relaxed) });
        let mut seen_before_it_ran = 0;
        for _ in 0..1000 {
            rx.recv().await.unwrap();
            if !ran.load(Ordering::Relaxed) {
                seen_before_it_ran += 1;
            }
        }
        assert!(ran.load(Ordering::Relaxed));
        assert!(seen_before_it_ran < 1000, "the receiver never yielded");
    }

    #[tokio::test]
    async fn try_recv_if_takes_only_a_wanted_front_item() {
        let (tx, mut rx) = channel(4);
        assert_eq!(rx.try_recv_if(|_| true), None);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(rx.try_recv_if(|&i| i == 2), None);
        assert_eq!(rx.try_recv_if(|&i| i == 1), Some(1));
        assert_eq!(tx.capacity(), 3);
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.try_recv_if(|_| true), None);
    }

    #[tokio::test]
    async fn the_receiver_wakes_for_an_item_and_ends_when_every_sender_is_gone() {
        let (tx, mut rx) = channel::<u32>(4);
        let tx2 = tx.clone();
        let later = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx2.try_send(7).unwrap();
        });
        assert_eq!(rx.recv().await, Some(7));
        later.await.unwrap();
        tx.try_send(8).unwrap();
        drop(tx);
        // What was queued before the last sender left still arrives.
        assert_eq!(rx.recv().await, Some(8));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_waiting_sender_gets_room_and_a_gone_receiver_refuses() {
        let (tx, mut rx) = channel(1);
        tx.try_send(1).unwrap();
        let tx2 = tx.clone();
        let blocked = tokio::spawn(async move { tx2.send(2).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!blocked.is_finished());
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(blocked.await.unwrap(), Ok(()));
        assert_eq!(rx.recv().await, Some(2));
        tx.try_send(3).unwrap();
        let tx3 = tx.clone();
        let waiting = tokio::spawn(async move { tx3.send(4).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        assert_eq!(waiting.await.unwrap(), Err(4));
        assert_eq!(tx.try_send(5), Err(TrySendError::Closed(5)));
    }

    #[tokio::test]
    async fn a_cancelled_receive_loses_nothing() {
        let (tx, mut rx) = channel(8);
        for _ in 0..3 {
            let r = tokio::time::timeout(Duration::from_millis(5), rx.recv()).await;
            assert!(r.is_err());
        }
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
    }

    #[test]
    fn an_idle_queue_is_small() {
        // The shared state of an idle tunnel's queue (plus the Arc's two counters); tokio's
        // mpsc channel is about 1.1 kB.
        let size = std::mem::size_of::<Shared<super::super::ike::Inbox>>() + 16;
        assert!(size <= 192, "{size} bytes");
    }
}
