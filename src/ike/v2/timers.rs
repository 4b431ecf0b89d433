//! The IKEv2 engine's timers: retransmissions, IKE SA and child lifetimes (rekey, expiry),
//! half-open expiry, liveness checks, NAT keepalives and re-initiation.

use std::time::Instant;

use tracing::info;

use crate::ike::core::child::ChildSa;
use crate::ike::core::earliest;
use crate::ike::event::{DownReason, Event};

use super::exchange::NAT_T_PORT;
use super::{Engine, Pending, SaState, REPLACED_INBOUND_LINGER};

impl Engine {
    pub(super) fn run_timers(&mut self, now: Instant) {
        self.run_retransmits(now);
        self.run_ike_lifetimes(now);
        self.release_lingering(now);
        let due = self.children.run(now, true, &mut self.io.events);
        self.hold_back_replaced(now, &due.replaced);
        for spi in due.rekey {
            self.queue_on_newest(Pending::Child(Some(spi)));
        }
        self.delete_children_of(now, &due.replaced);
        self.delete_children_of(now, &due.expired);
        if !due.expired.is_empty() && self.want_up && !self.policy.responder_only {
            // A pair ran out without a replacement: negotiate a new one.
            self.ensure_up(now);
        }
        self.run_liveness(now);
        self.run_nat_keepalive(now);
        if self.reinit_at.is_some_and(|t| t <= now) {
            self.reinit_at = None;
            if self.want_up {
                info!("IKEv2: re-initiating");
                self.ensure_up(now);
            }
        }
    }

    /// Keeps the inbound SAs of the replaced pairs we are deleting for a moment: their
    /// `ChildSaDown` events wait [`REPLACED_INBOUND_LINGER`] (the Delete goes out now).
    fn hold_back_replaced(&mut self, now: Instant, replaced: &[ChildSa]) {
        let spis: Vec<u32> = replaced.iter().map(|c| c.inbound_spi).collect();
        self.hold_back_down(now, &spis, DownReason::Rekeyed);
    }

    /// Holds back the queued `ChildSaDown` events (with `reason`) of the pairs with these
    /// inbound SPIs for [`REPLACED_INBOUND_LINGER`]: packets the peer sent on them before the
    /// Delete still find them installed.
    pub(super) fn hold_back_down(&mut self, now: Instant, spis: &[u32], reason: DownReason) {
        if spis.is_empty() {
            return;
        }
        let until = now + REPLACED_INBOUND_LINGER;
        let events = std::mem::take(&mut self.io.events);
        for e in events {
            match e {
                Event::ChildSaDown {
                    inbound_spi,
                    reason: r,
                    ..
                } if r == reason && spis.contains(&inbound_spi) => {
                    self.lingering.push((until, e));
                }
                e => self.io.events.push_back(e),
            }
        }
    }

    /// Emits the held-back `ChildSaDown` events that are due.
    fn release_lingering(&mut self, now: Instant) {
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.lingering)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.lingering = keep;
        self.io.events.extend(due.into_iter().map(|(_, e)| e));
    }

    fn run_ike_lifetimes(&mut self, now: Instant) {
        let half_open = self.policy.half_open_timeout;
        let mut drop = Vec::new();
        for (i, sa) in self.sas.iter_mut().enumerate() {
            if matches!(sa.state, SaState::InitAnswered(_) | SaState::Login(_))
                && now.saturating_duration_since(sa.created_at) >= half_open
            {
                self.io.stats.half_open_expired += 1;
                drop.push(sa.id());
                continue;
            }
            if sa.expires_at.is_some_and(|t| t <= now) {
                drop.push(sa.id());
                continue;
            }
            if sa.rekey_at.is_some_and(|t| t <= now) && !sa.retiring && sa.established() {
                sa.rekey_at = None;
                if !sa.queued.contains(&Pending::RekeyIke) {
                    sa.queued.push_back(Pending::RekeyIke);
                }
                let _ = i;
            }
        }
        for id in drop {
            if let Some(i) = self.find_sa(id) {
                self.send_ike_delete_now(i);
            }
            self.drop_ike_sa(id, DownReason::Expired);
        }
    }

    fn run_liveness(&mut self, now: Instant) {
        let Some(d) = self.policy.dpd else {
            return;
        };
        let Some(i) = self.newest_established() else {
            return;
        };
        let sa = &self.sas[i];
        let idle = self
            .live
            .last_seen
            .is_none_or(|t| now.saturating_duration_since(t) >= d.interval);
        if idle && sa.request.is_none() && !sa.queued.contains(&Pending::Liveness) {
            self.queue(i, Pending::Liveness);
        }
    }

    fn run_nat_keepalive(&mut self, now: Instant) {
        let Some(interval) = self.policy.nat_keepalive else {
            return;
        };
        let Some(i) = self.newest_established() else {
            return;
        };
        let sa = &self.sas[i];
        if !sa.nat.local_behind_nat {
            return;
        }
        let last = *self.nat_keepalive_last.get_or_insert(now);
        if now.saturating_duration_since(last) >= interval {
            let peer = sa.peer;
            self.io.send(NAT_T_PORT, peer, vec![0xff]);
            self.io.stats.nat_keepalives_sent += 1;
            self.nat_keepalive_last = Some(now);
        }
    }

    /// The earliest deadline of anything the engine waits for.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let mut t = earliest(self.reinit_at, self.children.deadline());
        for (at, _) in &self.lingering {
            t = earliest(t, Some(*at));
        }
        for sa in &self.sas {
            t = earliest(t, sa.request.as_ref().map(|r| r.next_at));
            t = earliest(t, sa.rekey_at.filter(|_| !sa.retiring));
            t = earliest(t, sa.expires_at);
            if matches!(sa.state, SaState::InitAnswered(_) | SaState::Login(_)) {
                t = earliest(t, Some(sa.created_at + self.policy.half_open_timeout));
            }
        }
        if let (Some(d), Some(i)) = (self.policy.dpd, self.newest_established()) {
            // Only while a liveness check could be started (the window is free).
            let sa = &self.sas[i];
            if sa.request.is_none() && sa.queued.is_empty() {
                let base = self.live.last_seen.or(sa.established_at);
                t = earliest(t, base.map(|b| b + d.interval));
            }
        }
        if let (Some(k), Some(i)) = (self.policy.nat_keepalive, self.newest_established()) {
            if self.sas[i].nat.local_behind_nat {
                t = earliest(t, self.nat_keepalive_last.map(|l| l + k).or(self.last_now));
            }
        }
        t
    }
}
