//! Initiation pacing: how many phase-1 negotiations we have half-open from one local address.
//!
//! A responder limits the half-open IKE SAs it keeps per source address: strongSwan's charon
//! silently drops IKE_SA_INIT and Main/Aggressive Mode message 1 from an address that already
//! has `charon.block_threshold` (default 5) half-open IKE SAs with it, counted over all of its
//! own addresses. A burst of initiations from one address then loses all but the first five,
//! and the rest wait out our retransmission backoff (2, 4, 8, … s). So the daemon asks the
//! [`Pacer`] before a tunnel sends the opening message of a negotiation ([`opening_initiation`]):
//! at most `limit` tunnels per local address hold a slot, the others wait in FIFO order and
//! start [`SLOT_REUSE_DELAY`] after a slot frees (phase 1 / IKE_AUTH done, failed, or given up).
//!
//! Sans-IO: tunnels are handles `T` the caller chose; time is passed in.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::event::Transmit;

/// Half-open initiations per local address by default: what a default strongSwan accepts
/// (`charon.block_threshold = 5`).
pub const DEFAULT_MAX_HALF_OPEN: usize = 5;

/// How long a freed slot stays unused before the next waiting tunnel sends. The responder
/// counts its IKE SA half-open until it has sent its last response *and* filed the SA away
/// (strongSwan: the worker thread checks the SA in after queueing the response), so an
/// initiation sent the moment our side has the response can still find the peer at its limit
/// when that thread is slow to run: seen against a default strongSwan 5.9 on a loaded 2-core
/// machine, even after a COOKIE round trip. 25 ms covers a scheduler time slice or two and
/// costs a burst of 200 tunnels at 5 slots about 1 s.
pub const SLOT_REUSE_DELAY: Duration = Duration::from_millis(25);

/// IKEv1 exchange types that open a phase 1.
const V1_MAIN_MODE: u8 = 2;
const V1_AGGRESSIVE_MODE: u8 = 4;
/// IKEv2 IKE_SA_INIT and the header flags.
const V2_IKE_SA_INIT: u8 = 34;
const V2_FLAG_INITIATOR: u8 = 0x08;
const V2_FLAG_RESPONSE: u8 = 0x20;

/// Whether an IKE message we send opens a new IKE SA as initiator: IKEv1 Main or Aggressive
/// Mode message 1 (responder cookie still zero), or an IKEv2 IKE_SA_INIT request (responder
/// SPI zero). These are the messages a responder's per-address half-open limit drops.
pub fn opening_initiation(msg: &[u8]) -> bool {
    let (Some(rspi), Some(&version), Some(&exchange), Some(&flags)) =
        (msg.get(8..16), msg.get(17), msg.get(18), msg.get(19))
    else {
        return false;
    };
    if rspi.iter().any(|&b| b != 0) {
        return false;
    }
    match version >> 4 {
        1 => matches!(exchange, V1_MAIN_MODE | V1_AGGRESSIVE_MODE),
        2 => {
            exchange == V2_IKE_SA_INIT
                && flags & V2_FLAG_INITIATOR != 0
                && flags & V2_FLAG_RESPONSE == 0
        }
        _ => false,
    }
}

/// The answer to [`Pacer::request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send now: the tunnel holds a slot until [`Pacer::finished`].
    Go,
    /// Hold the message: the tunnel is queued; [`Pacer::finished`] of another tunnel names it
    /// when its turn comes.
    Wait,
}

/// Half-open initiations per local address, and the tunnels waiting for a slot.
#[derive(Debug)]
pub struct Pacer<T> {
    /// Slots per local address; `None` = unlimited.
    limit: Option<usize>,
    /// A tunnel granted a freed slot sends this long after it was freed.
    reuse_delay: Duration,
    sources: HashMap<IpAddr, Source<T>>,
}

#[derive(Debug)]
struct Source<T> {
    /// Tunnels holding a slot, and since when they may send with it.
    open: Vec<(T, Instant)>,
    /// Tunnels waiting, oldest first.
    waiting: VecDeque<T>,
    /// The "peer drops our initiations" line was logged in this burst.
    warned: bool,
}

impl<T> Default for Source<T> {
    fn default() -> Self {
        Source {
            open: Vec::new(),
            waiting: VecDeque::new(),
            warned: false,
        }
    }
}

impl<T: Copy + Eq> Pacer<T> {
    /// At most `limit` half-open initiations per local address (`None`: no limit), a freed
    /// slot reused after [`SLOT_REUSE_DELAY`].
    pub fn new(limit: Option<usize>) -> Self {
        Pacer {
            limit: limit.map(|l| l.max(1)),
            reuse_delay: SLOT_REUSE_DELAY,
            sources: HashMap::new(),
        }
    }

    /// The same pacer reusing a freed slot after `delay` instead.
    pub fn with_reuse_delay(mut self, delay: Duration) -> Self {
        self.reuse_delay = delay;
        self
    }

    /// How long after a slot is freed its next holder may send.
    pub fn reuse_delay(&self) -> Duration {
        self.reuse_delay
    }

    /// The configured limit.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// `tunnel` wants to send the opening message of a negotiation from `source`. Asking again
    /// (a retransmission) keeps the slot or the place in the queue; a slot granted less than
    /// the reuse delay ago answers `Wait` until then.
    pub fn request(&mut self, now: Instant, source: IpAddr, tunnel: T) -> Admission {
        let limit = self.limit;
        let s = self.sources.entry(source).or_default();
        if let Some((_, from)) = s.open.iter().find(|(t, _)| *t == tunnel) {
            return if *from <= now {
                Admission::Go
            } else {
                Admission::Wait
            };
        }
        if limit.is_none_or(|l| s.open.len() < l) && s.waiting.is_empty() {
            s.open.push((tunnel, now));
            return Admission::Go;
        }
        if !s.waiting.contains(&tunnel) {
            s.waiting.push_back(tunnel);
        }
        Admission::Wait
    }

    /// `tunnel` has no half-open initiation from `source` any more (established, failed, given
    /// up after its retransmissions, or no longer wanted): its slot or its place in the queue
    /// is freed. Returns the tunnels that hold a slot from now on and should send after the
    /// reuse delay ([`Pacer::may_send`]), oldest request first.
    pub fn finished(&mut self, now: Instant, source: IpAddr, tunnel: T) -> Vec<T> {
        let (limit, from) = (self.limit, now + self.reuse_delay);
        let Some(s) = self.sources.get_mut(&source) else {
            return Vec::new();
        };
        s.open.retain(|(t, _)| *t != tunnel);
        s.waiting.retain(|t| *t != tunnel);
        let mut granted = Vec::new();
        while limit.is_none_or(|l| s.open.len() < l) {
            let Some(next) = s.waiting.pop_front() else {
                break;
            };
            s.open.push((next, from));
            granted.push(next);
        }
        if s.open.is_empty() && s.waiting.is_empty() {
            self.sources.remove(&source);
        }
        granted
    }

    /// Whether `tunnel` holds a slot at `source`.
    pub fn holds(&self, source: IpAddr, tunnel: T) -> bool {
        self.sources
            .get(&source)
            .is_some_and(|s| s.open.iter().any(|(t, _)| *t == tunnel))
    }

    /// Whether `tunnel` holds a slot at `source` and may send with it at `now`.
    pub fn may_send(&self, now: Instant, source: IpAddr, tunnel: T) -> bool {
        self.sources
            .get(&source)
            .is_some_and(|s| s.open.iter().any(|(t, from)| *t == tunnel && *from <= now))
    }

    /// Half-open initiations from `source`.
    pub fn half_open(&self, source: IpAddr) -> usize {
        self.sources.get(&source).map_or(0, |s| s.open.len())
    }

    /// Tunnels waiting for a slot at `source`.
    pub fn waiting(&self, source: IpAddr) -> usize {
        self.sources.get(&source).map_or(0, |s| s.waiting.len())
    }

    /// `tunnel` retransmits its opening message to `peer` unanswered. While other initiations
    /// from `source` are half-open too, the likely cause is the peer's per-address half-open
    /// limit: returns that, in words, once per burst (until `source` has nothing half-open).
    pub fn unanswered(
        &mut self,
        now: Instant,
        source: IpAddr,
        tunnel: T,
        peer: IpAddr,
    ) -> Option<String> {
        let limit = self.limit;
        let s = self.sources.get_mut(&source)?;
        let others = s.open.iter().filter(|(t, _)| *t != tunnel).count();
        if s.warned || others == 0 {
            return None;
        }
        s.warned = true;
        let waited = s
            .open
            .iter()
            .find(|(t, _)| *t == tunnel)
            .map_or(Duration::ZERO, |(_, since)| {
                now.saturating_duration_since(*since)
            });
        let ours = match limit {
            Some(l) => format!("initiation.max-half-open-per-source is {l}"),
            None => "initiation.max-half-open-per-source is unlimited".to_string(),
        };
        Some(format!(
            "{peer} has not answered our first IKE message from {source} for {}s while {others} \
             other negotiation(s) from this address are half-open: the peer probably drops new \
             IKE SAs from an address over its per-address half-open limit (strongSwan: \
             charon.block_threshold, default 5). {ours}; lower it to the peer's limit, or raise \
             the limit on the peer",
            waited.as_secs()
        ))
    }
}

/// Sends of one opening message (same bytes) after which, still unanswered, the tunnel stops
/// counting as half-open: the first try and two retransmissions (6 s by default). A peer that
/// never answered keeps no state for it (strongSwan counts only IKE SAs it created), and a
/// silent peer must not hold a slot until our retransmissions give up. A new version of the
/// message under the same initiator SPI (with the peer's COOKIE, or another key exchange
/// group) means the peer answered, and counts from one again.
pub const UNANSWERED_SENDS: u32 = 3;

/// The opening message last sent: its initiator SPI, a digest of its bytes, how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    spi: [u8; 8],
    digest: u64,
    times: u32,
}

impl Sent {
    /// `msg` sent after `last`: a retransmission counts on, anything else starts at one.
    fn after(last: Option<Sent>, spi: [u8; 8], msg: &[u8]) -> Sent {
        use std::hash::{DefaultHasher, Hasher};
        let mut h = DefaultHasher::new();
        h.write(msg);
        let digest = h.finish();
        let times = match last {
            Some(l) if l.spi == spi && l.digest == digest => l.times + 1,
            _ => 1,
        };
        Sent { spi, digest, times }
    }
}

/// One tunnel's side of a shared [`Pacer`]: holds back the tunnel's opening message until it
/// has a slot, and gives the slot up when the tunnel has nothing half-open any more.
#[derive(Debug)]
pub struct Gate<T> {
    tunnel: T,
    source: IpAddr,
    /// The opening message waiting for a slot (the latest copy the engine produced).
    held: Option<Transmit>,
    /// Asked the pacer and not finished since.
    asked: bool,
    /// The peer never answered: the opening message goes out without a slot.
    silent: bool,
    /// The opening message sent last, and how often.
    sent: Option<Sent>,
}

/// What the caller does after a [`Gate`] call.
#[derive(Debug)]
pub struct GateOutput<T> {
    /// Send this now.
    pub send: Option<Transmit>,
    /// These tunnels got a slot: wake them so they send their held message at once.
    pub granted: Vec<T>,
    /// Log this (the peer probably drops our initiations).
    pub warning: Option<String>,
}

impl<T> Default for GateOutput<T> {
    fn default() -> Self {
        GateOutput {
            send: None,
            granted: Vec::new(),
            warning: None,
        }
    }
}

impl<T: Copy + Eq> Gate<T> {
    /// The gate of `tunnel`, which initiates from our address `source`.
    pub fn new(tunnel: T, source: IpAddr) -> Self {
        Gate {
            tunnel,
            source,
            held: None,
            asked: false,
            silent: false,
            sent: None,
        }
    }

    /// The held opening message, once this tunnel holds a slot it may send with at `now`.
    pub fn resume(&mut self, pacer: &Pacer<T>, now: Instant) -> Option<Transmit> {
        if self.held.is_some() && pacer.may_send(now, self.source, self.tunnel) {
            return self.held.take();
        }
        None
    }

    /// Whether `tx` (from the tunnel's engine) may go out now; an opening message without a
    /// slot is held instead.
    pub fn admit(&mut self, pacer: &mut Pacer<T>, now: Instant, tx: Transmit) -> GateOutput<T> {
        let mut out = GateOutput::default();
        let spi = tx.data.get(..8).and_then(|s| <[u8; 8]>::try_from(s).ok());
        let (Some(spi), true) = (spi, opening_initiation(&tx.data)) else {
            out.send = Some(tx);
            return out;
        };
        if self.sent.is_none_or(|s| s.spi != spi) {
            // A new negotiation (new initiator SPI) asks for a slot again.
            self.silent = false;
        }
        if !self.silent {
            self.asked = true;
            if pacer.request(now, self.source, self.tunnel) == Admission::Wait {
                self.held = Some(tx);
                return out;
            }
        }
        let sent = Sent::after(self.sent, spi, &tx.data);
        self.sent = Some(sent);
        if sent.times == UNANSWERED_SENDS && !self.silent {
            out.warning = pacer.unanswered(now, self.source, self.tunnel, tx.remote.ip());
            self.silent = true;
            out.granted = pacer.finished(now, self.source, self.tunnel);
        }
        out.send = Some(tx);
        out
    }

    /// After the engine's events: `half_open` says whether it still has an IKE SA of its own
    /// (as original initiator) not yet established. Without one, the slot or the place in the
    /// queue is given up.
    pub fn settle(&mut self, pacer: &mut Pacer<T>, now: Instant, half_open: bool) -> Vec<T> {
        if half_open || !(self.asked || self.silent) {
            return Vec::new();
        }
        self.release(pacer, now)
    }

    /// The tunnel stops (shutdown, removed by a reload): its slot goes to the next one.
    pub fn release(&mut self, pacer: &mut Pacer<T>, now: Instant) -> Vec<T> {
        self.asked = false;
        self.silent = false;
        self.held = None;
        self.sent = None;
        pacer.finished(now, self.source, self.tunnel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn header(version: u8, exchange: u8, flags: u8, rspi: [u8; 8]) -> Vec<u8> {
        let mut m = vec![0u8; 28];
        m[..8].copy_from_slice(&[1; 8]);
        m[8..16].copy_from_slice(&rspi);
        m[17] = version << 4;
        m[18] = exchange;
        m[19] = flags;
        m
    }

    #[test]
    fn opening_messages_of_both_versions_are_recognised() {
        assert!(opening_initiation(&header(1, 2, 0, [0; 8])));
        assert!(opening_initiation(&header(1, 4, 0, [0; 8])));
        // Main Mode message 3 (responder cookie known), Quick Mode, informational.
        assert!(!opening_initiation(&header(1, 2, 1, [7; 8])));
        assert!(!opening_initiation(&header(1, 32, 1, [7; 8])));
        assert!(!opening_initiation(&header(1, 5, 0, [0; 8])));
        assert!(opening_initiation(&header(2, 34, 0x08, [0; 8])));
        // The responder's IKE_SA_INIT, a response, IKE_AUTH, CREATE_CHILD_SA (rekeys).
        assert!(!opening_initiation(&header(2, 34, 0x20, [7; 8])));
        assert!(!opening_initiation(&header(2, 34, 0x28, [0; 8])));
        assert!(!opening_initiation(&header(2, 35, 0x08, [7; 8])));
        assert!(!opening_initiation(&header(2, 36, 0x08, [7; 8])));
        assert!(!opening_initiation(&header(3, 34, 0x08, [0; 8])));
        assert!(!opening_initiation(&[0; 19]));
        assert!(!opening_initiation(&[]));
    }

    #[test]
    fn at_most_limit_per_source_then_fifo_and_slots_pass_at_once() {
        let t0 = Instant::now();
        let (src, other) = (addr("10.0.0.1"), addr("10.0.0.2"));
        let mut p = Pacer::new(Some(5));
        let admitted: Vec<usize> = (0..12)
            .filter(|&i| p.request(t0, src, i) == Admission::Go)
            .collect();
        assert_eq!(admitted, vec![0, 1, 2, 3, 4]);
        assert_eq!((p.half_open(src), p.waiting(src)), (5, 7));
        // Another local address is counted on its own.
        assert_eq!(p.request(t0, other, 99), Admission::Go);
        // A retransmission keeps the slot, or the place in the queue.
        assert_eq!(p.request(t0, src, 2), Admission::Go);
        assert_eq!(p.request(t0, src, 9), Admission::Wait);
        // Established, failed or given up: each freed slot goes to the oldest waiter at once.
        let t1 = t0 + Duration::from_millis(40);
        assert_eq!(p.finished(t1, src, 3), vec![5]);
        assert_eq!(p.finished(t1, src, 0), vec![6]);
        assert!(p.holds(src, 5) && p.holds(src, 6) && !p.holds(src, 7));
        // A waiter that no longer wants to start leaves the queue without a slot.
        assert!(p.finished(t1, src, 8).is_empty());
        assert_eq!(p.finished(t1, src, 1), vec![7]);
        assert_eq!(p.finished(t1, src, 2), vec![9]);
        assert_eq!(p.waiting(src), 2);
        // A newcomer queues behind the waiters even when a slot is free right now.
        let mut q = Pacer::new(Some(1));
        assert_eq!(q.request(t0, src, 1), Admission::Go);
        assert_eq!(q.request(t0, src, 2), Admission::Wait);
        assert_eq!(q.finished(t1, src, 1), vec![2]);
        assert_eq!(q.request(t1, src, 3), Admission::Wait);
        assert_eq!(q.finished(t1, src, 2), vec![3]);
        assert!(q.finished(t1, src, 3).is_empty());
        assert_eq!((q.half_open(src), q.waiting(src)), (0, 0));
    }

    #[test]
    fn a_burst_drains_in_rounds_of_the_limit() {
        // 200 tunnels, 5 slots, every negotiation takes 20 ms of virtual time, and a freed
        // slot is reused 25 ms later.
        let t0 = Instant::now();
        let src = addr("10.0.0.1");
        let mut p = Pacer::new(Some(5));
        let reuse = p.reuse_delay();
        assert_eq!(reuse, Duration::from_millis(25));
        let mut running: Vec<(usize, Instant)> = (0..200)
            .filter(|&i| p.request(t0, src, i) == Admission::Go)
            .map(|i| (i, t0))
            .collect();
        let mut done = Vec::new();
        let mut now = t0;
        while let Some(pos) = (0..running.len()).min_by_key(|&k| running[k].1) {
            let (t, started) = running.remove(pos);
            now = started + Duration::from_millis(20);
            done.push(t);
            for n in p.finished(now, src, t) {
                assert!(!p.may_send(now, src, n) && p.may_send(now + reuse, src, n));
                assert_eq!(p.request(now, src, n), Admission::Wait);
                assert_eq!(p.request(now + reuse, src, n), Admission::Go);
                running.push((n, now + reuse));
            }
            assert!(p.half_open(src) <= 5);
        }
        assert_eq!(done, (0..200).collect::<Vec<_>>());
        // 40 rounds of 20 ms, 39 reuse delays between them.
        assert_eq!(now - t0, Duration::from_millis(40 * 20 + 39 * 25));
    }

    #[test]
    fn unlimited_never_queues() {
        let t0 = Instant::now();
        let src = addr("10.0.0.1");
        let mut p = Pacer::new(None);
        assert!((0..1000).all(|i| p.request(t0, src, i) == Admission::Go));
        assert_eq!(p.half_open(src), 1000);
    }

    #[test]
    fn unanswered_with_others_half_open_is_said_once_per_burst() {
        let t0 = Instant::now();
        let (src, peer) = (addr("10.0.0.1"), addr("10.0.1.1"));
        let mut p = Pacer::new(Some(10));
        p.request(t0, src, 1);
        // Alone: the peer is just silent, not limiting us.
        assert_eq!(p.unanswered(t0, src, 1, peer), None);
        p.request(t0, src, 2);
        let line = p
            .unanswered(t0 + Duration::from_secs(2), src, 1, peer)
            .unwrap();
        assert!(line.contains("charon.block_threshold"), "{line}");
        assert!(
            line.contains("initiation.max-half-open-per-source is 10"),
            "{line}"
        );
        assert!(line.contains("for 2s"), "{line}");
        assert_eq!(p.unanswered(t0, src, 2, peer), None);
        // A new burst may say it again.
        p.finished(t0, src, 1);
        p.finished(t0, src, 2);
        p.request(t0, src, 3);
        p.request(t0, src, 4);
        assert!(p.unanswered(t0, src, 3, peer).is_some());
    }

    fn opening(spi: u8, peer: &str) -> Transmit {
        let mut data = header(1, 2, 0, [0; 8]);
        data[..8].copy_from_slice(&[spi; 8]);
        Transmit {
            local_port: 500,
            remote: std::net::SocketAddr::new(addr(peer), 500),
            data,
        }
    }

    #[test]
    fn gates_hold_the_opening_message_until_their_turn_and_silent_peers_free_their_slot() {
        let t0 = Instant::now();
        let src = addr("10.0.0.1");
        let mut p = Pacer::new(Some(2));
        let reuse = p.reuse_delay();
        let mut gates: Vec<Gate<usize>> = (0..3).map(|i| Gate::new(i, src)).collect();
        // Non-opening messages always pass.
        let mut qm = opening(9, "10.0.1.1");
        qm.data[8] = 1;
        assert!(gates[2].admit(&mut p, t0, qm).send.is_some());
        assert!(gates[0]
            .admit(&mut p, t0, opening(1, "10.0.1.1"))
            .send
            .is_some());
        assert!(gates[1]
            .admit(&mut p, t0, opening(2, "10.0.1.2"))
            .send
            .is_some());
        // The third waits; its retransmission replaces the held copy.
        assert!(gates[2]
            .admit(&mut p, t0, opening(3, "10.0.1.3"))
            .send
            .is_none());
        assert!(gates[2]
            .admit(&mut p, t0, opening(3, "10.0.1.3"))
            .send
            .is_none());
        assert!(gates[2].resume(&p, t0).is_none());
        // Tunnel 0 is established: tunnel 2 gets the slot and sends after the reuse delay (an
        // engine retransmission before then stays held too).
        assert_eq!(gates[0].settle(&mut p, t0, false), vec![2]);
        assert!(gates[2].resume(&p, t0).is_none());
        assert!(gates[2]
            .admit(&mut p, t0, opening(3, "10.0.1.3"))
            .send
            .is_none());
        assert_eq!(gates[2].resume(&p, t0 + reuse).unwrap().data[0], 3);
        assert!(gates[2].resume(&p, t0 + reuse).is_none());
        // Still negotiating: nothing changes.
        assert!(gates[1].settle(&mut p, t0, true).is_empty());
        // Tunnel 1's peer never answers: at its third send it stops holding a slot (and the
        // log says why, since tunnel 2 is half-open too), then sends without one.
        let t6 = t0 + Duration::from_secs(6);
        assert!(gates[1]
            .admit(&mut p, t6, opening(2, "10.0.1.2"))
            .warning
            .is_none());
        let out = gates[1].admit(&mut p, t6, opening(2, "10.0.1.2"));
        assert!(out.send.is_some() && out.granted.is_empty());
        assert!(out.warning.unwrap().contains("10.0.1.2 has not answered"));
        assert_eq!(p.half_open(src), 1);
        assert!(gates[1]
            .admit(&mut p, t6, opening(2, "10.0.1.2"))
            .send
            .is_some());
        assert_eq!(p.half_open(src), 1);
        // Gone: a stopped tunnel frees its slot.
        gates[2].release(&mut p, t6);
        assert_eq!((p.half_open(src), p.waiting(src)), (0, 0));
        // A new negotiation of tunnel 1 (new SPI) asks for a slot again, even before the
        // engine reported the old one gone.
        let out = gates[1].admit(&mut p, t6, opening(4, "10.0.1.2"));
        assert!(out.send.is_some() && p.holds(src, 1));
        assert!(gates[1].settle(&mut p, t6, false).is_empty());
        assert_eq!(p.half_open(src), 0);
    }

    #[test]
    fn a_retry_with_the_peers_cookie_counts_as_answered() {
        let t0 = Instant::now();
        let src = addr("10.0.0.1");
        let mut p = Pacer::new(Some(5));
        let mut gates: Vec<Gate<usize>> = (0..2).map(|i| Gate::new(i, src)).collect();
        gates[1].admit(&mut p, t0, opening(8, "10.0.1.8"));
        let first = opening(1, "10.0.1.1");
        // The same SPI with a COOKIE notify in front: the peer answered the first send.
        let mut with_cookie = first.clone();
        with_cookie
            .data
            .extend_from_slice(&[0, 0, 0, 8, 0, 0, 0x40, 0x06]);
        let sends = [first, with_cookie.clone(), with_cookie.clone(), with_cookie];
        let warned: Vec<bool> = sends
            .into_iter()
            .map(|tx| {
                let out = gates[0].admit(&mut p, t0, tx);
                assert!(out.send.is_some());
                out.warning.is_some()
            })
            .collect();
        // Unanswered only after the third send of the COOKIE version (the fourth in all).
        assert_eq!(warned, [false, false, false, true]);
    }
}
