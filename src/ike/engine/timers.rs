//! The engine's timers: retransmission and give-up, half-open and lifetime expiry, rekeying,
//! re-initiation after a failure.

use std::time::Instant;

use tracing::{debug, info};

use super::super::diagnostic::Diagnostic;
use super::super::event::{DownReason, Event};
use super::isakmp_sa_gone;
use super::{backoff, hex8, later, Engine, P1State, QmState};

impl Engine {
    pub(super) fn run_retransmits(&mut self, now: Instant) {
        let policy = self.policy.retransmit;
        let mut failed_p1 = Vec::new();
        let mut failed_qm = false;
        for (i, e) in self.p1.iter_mut().enumerate() {
            if let Some(r) = e.retx.as_mut().filter(|r| r.next_at <= now) {
                if r.count >= policy.max_retransmits {
                    failed_p1.push((i, r.exchange, r.message, r.count));
                } else {
                    r.count += 1;
                    r.interval = backoff(r.interval, &policy);
                    r.next_at = later(now, r.interval);
                    debug!(icookie = %hex8(&e.icookie), message = r.message, "retransmitting");
                    self.io.stats.retransmits += 1;
                    self.io.send(e.local_port, e.peer, r.data.clone());
                }
            }
            let mut gone = Vec::new();
            for q in e.qm.iter_mut() {
                if let Some(r) = q.retx.as_mut().filter(|r| r.next_at <= now) {
                    if r.count >= policy.max_retransmits {
                        gone.push(q.mid);
                        failed_qm = true;
                        if let QmState::RSent(s) = &q.state {
                            self.io.events.push_back(Event::ChildSaDown {
                                inbound_spi: s.spi(),
                                outbound_spi: s.their_spi(),
                                reason: DownReason::Expired,
                            });
                        }
                        self.io.fail(Diagnostic::NoAnswer {
                            exchange: r.exchange,
                            message: r.message,
                            retransmits: r.count,
                        });
                    } else {
                        r.count += 1;
                        r.interval = backoff(r.interval, &policy);
                        r.next_at = later(now, r.interval);
                        self.io.stats.retransmits += 1;
                        self.io.send(e.local_port, e.peer, r.data.clone());
                    }
                }
            }
            e.qm.retain(|q| !gone.contains(&q.mid));
        }
        let failed_any = failed_qm || !failed_p1.is_empty();
        for (i, exchange, message, count) in failed_p1.into_iter().rev() {
            self.io.fail(Diagnostic::NoAnswer {
                exchange,
                message,
                retransmits: count,
            });
            self.p1.remove(i);
        }
        if failed_any {
            self.schedule_reinit_if_idle(now);
        }
    }

    /// After a failure: try again later if nothing is being negotiated.
    pub(super) fn schedule_reinit_if_idle(&mut self, now: Instant) {
        let busy = self.p1.iter().any(|e| {
            matches!(
                e.state,
                P1State::ISentSa(_)
                    | P1State::ISentKe(_)
                    | P1State::ISentAuth(_)
                    | P1State::AmISent(_)
            ) || e.qm.iter().any(|q| matches!(q.state, QmState::ISent(_)))
        });
        let complete = self
            .policy
            .phase2
            .proxy_ids
            .iter()
            .all(|p| self.children.list.iter().any(|c| c.proxy() == *p));
        if !busy && !complete && self.reinit_at.is_none() {
            self.schedule_reinit(now);
        }
    }

    pub(super) fn run_expiries(&mut self, now: Instant) {
        // Phase-1: half-open expiry, lifetime expiry, rekey.
        let mut i = 0;
        while i < self.p1.len() {
            let Some(est) = self.p1.get(i).map(|e| e.established_at) else {
                break;
            };
            let newer = self
                .p1
                .iter()
                .any(|o| o.established_at > est && o.state.sa().is_some());
            let wanted = self.want_up || !self.children.list.is_empty();
            let Some(e) = self.p1.get_mut(i) else { break };
            if e.rekey_at.is_some_and(|t| t <= now) {
                e.rekey_at = None;
                if wanted && !newer && !self.policy.responder_only {
                    info!(icookie = %hex8(&e.icookie), "rekeying ISAKMP SA");
                    self.start_phase1(now);
                }
                continue;
            }
            if e.expires_at.is_some_and(|t| t <= now) {
                let e = self.p1.remove(i);
                self.io
                    .events
                    .extend(super::phase2::early_inbound_downs(&e));
                match &e.state {
                    P1State::Established(_) => {
                        info!(icookie = %hex8(&e.icookie), "ISAKMP SA expired");
                        isakmp_sa_gone(&mut *self.rng, &mut self.io, &e, DownReason::Expired, true);
                    }
                    P1State::RSentKe(_) => {
                        self.io.stats.half_open_expired += 1;
                        self.io.fail(Diagnostic::PeerStalled {
                            peer: e.peer.ip(),
                            secs: self.policy.half_open_timeout.as_secs(),
                        });
                    }
                    _ => self.io.stats.half_open_expired += 1,
                }
                continue;
            }
            i += 1;
        }
        // Children: rekey at the soft lifetime (make-before-break), remove at the hard one,
        // delete replaced pairs after their grace period.
        let may_initiate = !self.policy.responder_only;
        let due = self.children.run(now, may_initiate, &mut self.io.events);
        if !due.rekey.is_empty() {
            self.ensure_up(now);
        }
        for c in due.expired.iter().chain(&due.replaced) {
            self.send_child_delete(c);
        }
        for c in &due.expired {
            if self.want_up && !self.children.list.iter().any(|x| x.proxy() == c.proxy()) {
                self.ensure_up(now);
            }
        }
    }
}
