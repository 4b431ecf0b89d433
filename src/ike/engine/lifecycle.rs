//! Tunnel lifecycle: operator controls (rekey, reset, new policy), make-before-break
//! replacement of ESP SA pairs (which outbound SA to use, when to delete the old pair), and the
//! soft lifetimes with jitter.

use std::time::{Duration, Instant};

use tracing::info;

use crate::wire::isakmp::ProtocolId;

use super::super::event::{DownReason, Event, Role};
use super::super::policy::IkePolicy;
use super::super::random::random_u32;
use super::super::v1::informational;
use super::{new_mid, Engine};

/// How long a replaced pair keeps accepting packets before it is deleted (packets in flight,
/// the peer switching its outbound SA a little later than we do).
pub(super) const REKEY_GRACE: Duration = Duration::from_secs(10);
/// QM initiator: start using the new outbound SA at the latest this long after message 3, if
/// no packet arrived on the new inbound SA before (which proves the peer installed the pair).
pub(super) const OUTBOUND_SWITCH_DELAY: Duration = Duration::from_millis(500);
/// Two pairs for the same proxy-id established within this window are a rekey collision.
const COLLISION_WINDOW: Duration = Duration::from_secs(10);

impl Engine {
    /// Rekeys phase 2 now, make-before-break: a new Quick Mode per proxy-id (under the newest
    /// ISAKMP SA, or after a new Main Mode if none is left). The current pairs stay in use until
    /// the new ones are up; they are then deleted (Delete payload) after a grace period. Works
    /// with `responder_only` too when an ISAKMP SA exists (an explicit operator request).
    pub fn rekey(&mut self, now: Instant) {
        self.last_now = Some(now);
        let mut any = false;
        for c in self.children.iter_mut() {
            if c.delete_at.is_none() && !c.rekeying {
                c.rekeying = true;
                c.rekey_at = None;
                any = true;
            }
        }
        info!(pairs = any, "rekeying phase 2 (operator request)");
        if self.newest_established().is_some() {
            self.ensure_children(now);
        } else if !self.policy.responder_only {
            self.want_up = true;
            self.ensure_up(now);
        }
    }

    /// Deletes every SA (Delete payloads, `ChildSaDown`/`Phase1Down` events with
    /// [`DownReason::Reset`]) and starts over: initiates again (with INITIAL-CONTACT) unless
    /// `responder_only`.
    pub fn reset(&mut self, now: Instant) {
        self.last_now = Some(now);
        info!("resetting the tunnel (operator request)");
        self.teardown(DownReason::Reset, true);
        self.reinit_at = None;
        if !self.policy.responder_only {
            self.want_up = true;
            self.ensure_up(now);
        }
    }

    /// Replaces the policy. Established SAs are kept; the new policy applies from the next
    /// negotiation (rekey, re-initiation, a new exchange from the peer).
    pub fn set_policy(&mut self, policy: IkePolicy) {
        if policy.remote != self.policy.remote || policy.remote_port != self.policy.remote_port {
            self.peer = std::net::SocketAddr::new(policy.remote, policy.remote_port);
        }
        self.policy = policy;
    }

    /// Removes every SA: Delete payloads when `tell_peer`, `ChildSaDown` and `Phase1Down`
    /// events with `reason`. Quick and Main Modes in flight are dropped.
    pub(super) fn teardown(&mut self, reason: DownReason, tell_peer: bool) {
        let children = std::mem::take(&mut self.children);
        for c in &children {
            if tell_peer {
                self.send_child_delete(c);
            }
            self.io.events.push_back(Event::ChildSaDown {
                inbound_spi: c.inbound_spi,
                outbound_spi: c.outbound_spi,
                reason,
            });
        }
        let entries = std::mem::take(&mut self.p1);
        for e in &entries {
            if let Some(sa) = e.state.sa() {
                if tell_peer {
                    let mid = new_mid(&mut *self.rng, e);
                    let msg = informational::encrypted_delete(
                        sa,
                        mid,
                        ProtocolId::ISAKMP,
                        &[&sa.cookie_pair()],
                    );
                    self.io.send(e.local_port, e.peer, msg);
                }
                self.io.events.push_back(Event::Phase1Down {
                    icookie: e.icookie,
                    rcookie: e.rcookie,
                    reason,
                });
            }
        }
    }

    /// The soft lifetime of an SA with `lifetime`: 78–83 % for the side that initiated the
    /// exchange (SEIL rekeys a 60 s SA after about 47 s), 88–93 % for the responder (it rekeys
    /// only if the initiator did not), random within the range so that both sides do not start
    /// at once.
    pub(super) fn soft_lifetime(&mut self, lifetime: Duration, role: Role) -> Duration {
        let jitter = f64::from(random_u32(&mut *self.rng) % 1000) / 1000.0 * 0.05;
        let base = match role {
            Role::Initiator => 0.78,
            Role::Responder => 0.88,
        };
        lifetime.mul_f64(base + jitter)
    }

    /// A new pair (our inbound SPI `spi`) was just installed: decide which pair of its
    /// proxy-id carries outbound traffic and schedule the deletion of the others.
    pub(super) fn on_child_installed(&mut self, now: Instant, spi: u32, role: Role) {
        let Some(new_idx) = self.children.iter().position(|c| c.inbound_spi == spi) else {
            return;
        };
        let Some(new) = self.children.get(new_idx) else {
            return;
        };
        let proxy = new.proxy;
        let new_rank = collision_rank(new.inbound_spi, new.outbound_spi);
        let mut new_loses = false;
        let mut had_old = false;
        for (i, c) in self.children.iter_mut().enumerate() {
            if i == new_idx || c.proxy != proxy || c.delete_at.is_some() {
                continue;
            }
            had_old = true;
            let fresh =
                !c.rekeying && now.saturating_duration_since(c.established_at) < COLLISION_WINDOW;
            if fresh && collision_rank(c.inbound_spi, c.outbound_spi) > new_rank {
                // Rekey collision: both sides ran a Quick Mode at once. Both ends keep the same
                // pair (the rule is symmetric in the two SPIs) and delete the other.
                info!(keep = %format_args!("{:08x}", c.inbound_spi), drop = %format_args!("{:08x}", spi), "rekey collision");
                new_loses = true;
            } else {
                c.delete_at = Some(grace_end(now, c.expires_at));
                c.rekey_at = None;
            }
        }
        let Some(new) = self.children.get_mut(new_idx) else {
            return;
        };
        if new_loses {
            new.delete_at = Some(grace_end(now, new.expires_at));
            new.rekey_at = None;
            return;
        }
        if role == Role::Responder || !had_old {
            self.use_outbound(new_idx);
        } else {
            new.switch_at = Some(now + OUTBOUND_SWITCH_DELAY);
        }
    }

    /// Makes the pair at `idx` the one outbound packets use.
    pub(super) fn use_outbound(&mut self, idx: usize) {
        let Some(c) = self.children.get_mut(idx) else {
            return;
        };
        c.switch_at = None;
        if c.outbound_in_use {
            return;
        }
        c.outbound_in_use = true;
        let (proxy, spi) = (c.proxy, c.outbound_spi);
        for (i, o) in self.children.iter_mut().enumerate() {
            if i != idx && o.proxy == proxy {
                o.outbound_in_use = false;
            }
        }
        self.io
            .events
            .push_back(Event::UseOutbound { outbound_spi: spi });
    }

    /// After a pair went away: if it carried outbound traffic, move to the best remaining pair
    /// of its proxy-id at once.
    pub(super) fn after_child_removed(&mut self, proxy: super::ProxyId, was_in_use: bool) {
        if !was_in_use {
            return;
        }
        let best = self
            .children
            .iter()
            .enumerate()
            .filter(|(_, c)| c.proxy == proxy)
            .max_by_key(|(_, c)| (c.delete_at.is_none(), c.established_at))
            .map(|(i, _)| i);
        if let Some(i) = best {
            self.use_outbound(i);
        }
    }

    /// Runs the make-before-break timers: outbound switches and deletion of replaced pairs.
    pub(super) fn run_child_timers(&mut self, now: Instant) {
        let switch: Vec<usize> = self
            .children
            .iter()
            .enumerate()
            .filter(|(_, c)| c.switch_at.is_some_and(|t| t <= now))
            .map(|(i, _)| i)
            .collect();
        for i in switch {
            self.use_outbound(i);
        }
        while let Some(i) = self
            .children
            .iter()
            .position(|c| c.delete_at.is_some_and(|t| t <= now))
        {
            let c = self.children.remove(i);
            info!(spi_in = %format_args!("{:08x}", c.inbound_spi), spi_out = %format_args!("{:08x}", c.outbound_spi), "deleting replaced ESP SA pair");
            self.send_child_delete(&c);
            self.io.events.push_back(Event::ChildSaDown {
                inbound_spi: c.inbound_spi,
                outbound_spi: c.outbound_spi,
                reason: DownReason::Rekeyed,
            });
            self.after_child_removed(c.proxy, c.outbound_in_use);
        }
    }
}

/// End of the grace period of a replaced pair: [`REKEY_GRACE`] from now, but before its hard
/// expiry.
fn grace_end(now: Instant, expires_at: Instant) -> Instant {
    let before_expiry = expires_at
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(now)
        .max(now);
    (now + REKEY_GRACE).min(before_expiry)
}

/// Orders two pairs of the same proxy-id in a rekey collision. Symmetric in the two SPIs, so
/// both peers (which see inbound and outbound swapped) rank the pairs alike.
fn collision_rank(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}
