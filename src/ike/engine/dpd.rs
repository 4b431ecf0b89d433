//! Dead Peer Detection (RFC 3706) and the traffic reports of the data plane: probe only when
//! the peer was silent for an interval, declare it dead after `retries` unanswered probes,
//! clear its SAs and re-initiate with backoff; byte lifetimes of ESP SA pairs.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::wire::isakmp::NotifyType;

use super::super::diagnostic::Diagnostic;
use super::super::event::{DownReason, Event};
use super::super::status::DpdStatus;
use super::super::v1::informational;
use super::super::v1::NotifySpec;
use super::send_delete;
use super::{new_mid, Engine};
use crate::wire::isakmp::ProtocolId;

/// Longest delay between two re-initiations after the peer was declared dead.
const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// DPD bookkeeping of the engine.
#[derive(Debug, Default)]
pub(super) struct Dpd {
    /// Our last R-U-THERE sequence number.
    pub seq: u32,
    /// Unanswered probes since the last sign of life.
    pub probes: u32,
    /// When the next probe (or the death verdict) is due while probing.
    pub next_probe: Option<Instant>,
    /// The last sign of life: inbound ESP, an authenticated IKE message, an ACK.
    pub last_seen: Option<Instant>,
    pub last_ack: Option<Instant>,
    pub dead_since: Option<Instant>,
    pub deaths: u64,
    /// Re-initiations since the peer was declared dead (for the backoff).
    pub attempts: u32,
}

impl Engine {
    /// Reports the data plane's cumulative counters of the ESP pair whose inbound SPI is
    /// `inbound_spi`: bytes received on the inbound SA and sent on the outbound SA. Call it
    /// about once a second per pair (cheap). Received bytes are a sign of life for DPD and
    /// prove that the peer installed a new pair (outbound switches at once); the larger of the
    /// two counts against the pair's volume lifetime (soft limit: rekey, hard limit: delete).
    pub fn child_traffic(&mut self, now: Instant, inbound_spi: u32, in_bytes: u64, out_bytes: u64) {
        self.last_now = Some(now);
        let t = self
            .children
            .traffic(inbound_spi, in_bytes, out_bytes, &mut self.io.events);
        if t.got_inbound {
            self.saw_peer(now);
        }
        if t.sent && self.nat_keepalive_last.is_some() {
            self.nat_keepalive_last = Some(now);
        }
        if let Some(c) = &t.expired {
            self.send_child_delete(c);
        }
        if (t.rekey || t.expired.is_some()) && !self.policy.responder_only {
            self.ensure_up(now);
        }
    }

    /// A sign of life from the peer.
    pub(super) fn saw_peer(&mut self, now: Instant) {
        self.dpd.last_seen = Some(now);
        if self.dpd.probes > 0 {
            self.dpd.probes = 0;
            self.dpd.next_probe = None;
        }
    }

    /// Whether we probe at all: DPD configured, an ISAKMP SA up, the peer announced DPD.
    fn dpd_active(&self) -> bool {
        self.policy.dpd.is_some()
            && self
                .newest_established()
                .and_then(|i| self.p1.get(i))
                .and_then(|e| e.state.sa())
                .is_some_and(|sa| sa.peer_dpd)
    }

    /// When DPD needs [`Engine::handle_timeout`] next.
    pub(super) fn dpd_deadline(&self) -> Option<Instant> {
        let cfg = self.policy.dpd?;
        if !self.dpd_active() {
            return None;
        }
        if self.dpd.probes > 0 {
            return self.dpd.next_probe;
        }
        self.dpd.last_seen.map(|t| t + cfg.interval)
    }

    /// Runs DPD: first probe after an interval of silence, then one per interval; dead when
    /// `retries` probes went unanswered for an interval each.
    pub(super) fn run_dpd(&mut self, now: Instant) {
        let Some(cfg) = self.policy.dpd else { return };
        if !self.dpd_active() || self.dpd_deadline().is_none_or(|t| t > now) {
            return;
        }
        if self.dpd.probes >= cfg.retries {
            self.peer_dead(now, cfg.interval.saturating_mul(cfg.retries));
            return;
        }
        self.dpd.probes += 1;
        self.dpd.seq = self.dpd.seq.wrapping_add(1);
        self.dpd.next_probe = Some(now + cfg.interval);
        self.io.stats.dpd_probes_sent += 1;
        info!(
            seq = self.dpd.seq,
            probe = self.dpd.probes,
            of = cfg.retries,
            "peer silent, sending R-U-THERE"
        );
        let Some(idx) = self.newest_established() else {
            return;
        };
        let Engine {
            rng, p1, io, dpd, ..
        } = self;
        let Some(e) = p1.get(idx) else { return };
        let Some(sa) = e.state.sa() else { return };
        let mid = new_mid(&mut **rng, e);
        let n = NotifySpec::isakmp(NotifyType::R_U_THERE, &e.icookie, &e.rcookie);
        let msg = informational::encrypted_notify(sa, mid, &n, &dpd.seq.to_be_bytes());
        io.send(e.local_port, e.peer, msg);
    }

    /// An R-U-THERE-ACK with sequence number `seq` arrived (authenticated).
    pub(super) fn on_dpd_ack(&mut self, now: Instant, data: &[u8]) {
        let Some(seq) = data.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
            self.io.stats.dropped_malformed += 1;
            return;
        };
        let seq = u32::from_be_bytes(seq);
        // Only an answer to one of our outstanding probes counts.
        let outstanding = self.dpd.seq.wrapping_sub(seq) < self.dpd.probes.max(1);
        if !outstanding {
            self.io.stats.dropped_unexpected += 1;
            return;
        }
        self.dpd.last_ack = Some(now);
        self.saw_peer(now);
    }

    /// `retries` probes went unanswered: the peer is gone (rebooted, unplugged).
    fn peer_dead(&mut self, now: Instant, silent: Duration) {
        warn!(
            "peer {} did not answer {} R-U-THERE probes: declaring it dead, clearing its SAs",
            self.peer.ip(),
            self.dpd.probes
        );
        self.dpd.dead_since = Some(now);
        self.dpd.deaths += 1;
        self.dpd.probes = 0;
        self.dpd.next_probe = None;
        self.dpd.last_seen = None;
        self.io.fail(Diagnostic::PeerDead {
            peer: self.peer.ip(),
            silent,
        });
        // A Delete is cheap and helps if the peer is alive but its answers get lost.
        self.teardown(DownReason::PeerDead, true);
        self.io
            .events
            .push_back(Event::PeerDead { remote: self.peer });
        if self.want_up && !self.policy.responder_only {
            let step = self
                .policy
                .reinitiate_after
                .unwrap_or(Duration::from_secs(10));
            let delay = if self.dpd.attempts == 0 {
                Duration::ZERO
            } else {
                step.saturating_mul(1 << self.dpd.attempts.min(6))
                    .min(MAX_BACKOFF)
            };
            self.dpd.attempts += 1;
            self.reinit_at = Some(now + delay);
        }
    }

    /// The DPD part of the status.
    pub(super) fn dpd_status(&self) -> DpdStatus {
        let cfg = self.policy.dpd;
        let state = if cfg.is_none() {
            "off"
        } else if self.newest_established().is_none() {
            if self.dpd.dead_since.is_some() {
                "dead"
            } else {
                "idle"
            }
        } else if !self.dpd_active() {
            "unsupported"
        } else if self.dpd.probes > 0 {
            "probing"
        } else {
            "alive"
        };
        DpdStatus {
            state,
            probes_unanswered: self.dpd.probes,
            retries: cfg.map_or(0, |c| c.retries),
            interval: cfg.map(|c| c.interval),
            sequence: self.dpd.seq,
            last_ack: self.dpd.last_ack,
            last_seen: self.dpd.last_seen,
            dead_since: self.dpd.dead_since,
            deaths: self.dpd.deaths,
        }
    }
}

impl Engine {
    /// The ISAKMP SA whose NAT mapping we keep alive, if we are behind a NAT and NAT-T floated.
    fn keepalive_target(&self) -> Option<(std::net::SocketAddr, Duration)> {
        let iv = self.policy.nat_keepalive?;
        let e = self.p1.get(self.newest_established()?)?;
        let sa = e.state.sa()?;
        (e.floated && sa.nat.local_behind).then_some((e.peer, iv))
    }

    /// When the next NAT keepalive is due.
    pub(super) fn keepalive_deadline(&self) -> Option<Instant> {
        let (_, iv) = self.keepalive_target()?;
        Some(self.nat_keepalive_last? + iv)
    }

    /// Sends a NAT keepalive (RFC 3948: one 0xFF byte on port 4500, a [`super::Transmit`]
    /// whose data is exactly `[0xff]`) when nothing went to the peer for an interval.
    pub(super) fn run_nat_keepalive(&mut self, now: Instant) {
        let Some((peer, _)) = self.keepalive_target() else {
            return;
        };
        if self.nat_keepalive_last.is_none() {
            self.nat_keepalive_last = Some(now);
            return;
        }
        if self.keepalive_deadline().is_some_and(|t| t <= now) {
            self.nat_keepalive_last = Some(now);
            self.io.stats.nat_keepalives_sent += 1;
            self.io.transmits.push_back(super::Transmit {
                local_port: 4500,
                remote: peer,
                data: vec![0xff],
            });
        }
    }
}

/// At most one reaction to ESP for unknown SPIs per this period (a flood must not cause a
/// storm of Deletes or negotiations).
const UNKNOWN_SPI_HOLDOFF: Duration = Duration::from_secs(10);

impl Engine {
    /// The data plane received ESP from this tunnel's peer for `spi`, which names no SA we
    /// have: the peer uses a pair we deleted (our Delete got lost) or it kept SAs across our
    /// restart. Rate-limited reaction: with an ISAKMP SA, a Delete for `spi` so the peer drops
    /// its stale SA (and rekeys); without one, a new negotiation (with INITIAL-CONTACT) unless
    /// responder-only. Returns whether it reacted.
    pub fn unknown_spi(&mut self, now: Instant, spi: u32) -> bool {
        self.last_now = Some(now);
        self.io.stats.unknown_spi_reports += 1;
        if self
            .unknown_spi_at
            .is_some_and(|t| now.saturating_duration_since(t) < UNKNOWN_SPI_HOLDOFF)
        {
            return false;
        }
        self.unknown_spi_at = Some(now);
        if self.children.get(spi).is_some() {
            return false;
        }
        info!(spi = %format_args!("{spi:08x}"), "peer sends ESP on an SA we do not have");
        self.io.stats.unknown_spi_reactions += 1;
        if let Some(idx) = self.newest_established() {
            let Engine { rng, p1, io, .. } = self;
            if let Some(e) = p1.get(idx) {
                let spi = spi.to_be_bytes();
                send_delete(&mut **rng, io, e, ProtocolId::IPSEC_ESP, &[&spi]);
            }
            if !self.policy.responder_only {
                self.ensure_up(now);
            }
        } else if !self.policy.responder_only {
            self.want_up = true;
            self.ensure_up(now);
        }
        true
    }
}
