//! Tunnel lifecycle: operator controls (rekey, reset, new policy), make-before-break
//! replacement of ESP SA pairs (which outbound SA to use, when to delete the old pair), and the
//! soft lifetimes with jitter.

use std::time::{Duration, Instant};

use tracing::info;

use super::super::event::{DownReason, Role};
use super::super::policy::IkePolicy;
use super::isakmp_sa_gone;
use super::Engine;

/// QM initiator: start using the new outbound SA at the latest this long after message 3, if
/// no packet arrived on the new inbound SA before (which proves the peer installed the pair).
pub(super) const OUTBOUND_SWITCH_DELAY: Duration = Duration::from_millis(500);

impl Engine {
    /// Rekeys phase 2 now, make-before-break: a new Quick Mode per proxy-id (under the newest
    /// ISAKMP SA, or after a new Main Mode if none is left). The current pairs stay in use until
    /// the new ones are up; they are then deleted (Delete payload) after a grace period. Works
    /// with `responder_only` too when an ISAKMP SA exists (an explicit operator request).
    pub fn rekey(&mut self, now: Instant) {
        self.last_now = Some(now);
        let mut any = false;
        for c in self.children.list.iter_mut() {
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
    pub fn set_policy(&mut self, policy: impl Into<std::sync::Arc<IkePolicy>>) {
        let policy = policy.into();
        if policy.remote != self.policy.remote || policy.remote_port != self.policy.remote_port {
            self.peer = std::net::SocketAddr::new(policy.remote, policy.remote_port);
        }
        self.policy = policy;
    }

    /// Removes every SA: Delete payloads when `tell_peer`, `ChildSaDown` and `Phase1Down`
    /// events with `reason`. Quick and Main Modes in flight are dropped.
    pub(super) fn teardown(&mut self, reason: DownReason, tell_peer: bool) {
        let children = self.children.clear(reason, &mut self.io.events);
        if tell_peer {
            for c in &children {
                self.send_child_delete(c);
            }
        }
        let entries = std::mem::take(&mut self.p1);
        for e in &entries {
            self.io.events.extend(super::phase2::early_inbound_downs(e));
            isakmp_sa_gone(&mut *self.rng, &mut self.io, e, reason, tell_peer);
        }
    }

    /// See [`super::super::core::child::soft_lifetime`].
    pub(super) fn soft_lifetime(&mut self, lifetime: Duration, role: Role) -> Duration {
        super::super::core::child::soft_lifetime(&mut *self.rng, lifetime, role)
    }
}
