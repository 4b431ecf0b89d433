//! Engine side of Quick Mode: starting it for each proxy-id, dispatching its messages by
//! message ID, answering duplicates, and installing the resulting ESP SA pairs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use crate::wire::isakmp::HeaderRepr;

use super::super::event::{Event, Role};
use super::super::policy::ProxyId;
use super::super::v1::informational;
use super::super::v1::isakmp_sa::NewChild;
use super::super::v1::main_mode::local_for;
use super::super::v1::quick_mode::{QuickModeInitiatorSent, QuickModeResponderSent};
use super::super::v1::{Ctx, Fault};
use super::{
    hex8, later, new_mid, Child, DoneExchange, Engine, QmEntry, QmState, Retx, MAX_QUICK_MODES,
};

impl Engine {
    /// Starts Quick Mode under the newest ISAKMP SA for every proxy-id that has neither an ESP
    /// SA nor a Quick Mode in flight.
    pub(super) fn ensure_children(&mut self, now: Instant) {
        let Some(idx) = self.newest_established() else {
            return;
        };
        let proxies = self.policy.phase2.proxy_ids.clone();
        for proxy in proxies {
            // A pair that is neither being replaced nor on its way out.
            let has_child = self
                .children
                .list
                .iter()
                .any(|c| c.proxy() == proxy && !c.rekeying && c.delete_at.is_none());
            let pending = self.p1.iter().any(|e| {
                e.qm.iter()
                    .any(|q| matches!(&q.state, QmState::ISent(s) if s.proxy() == proxy))
            });
            if !has_child && !pending {
                self.start_quick_mode(now, idx, proxy);
            }
        }
    }

    /// Starts one Quick Mode for `proxy` under the ISAKMP SA at `idx`.
    pub(super) fn start_quick_mode(&mut self, now: Instant, idx: usize, proxy: ProxyId) {
        let spi = self.new_spi();
        let Engine {
            policy,
            rng,
            p1,
            io,
            ..
        } = self;
        let Some(e) = p1.get_mut(idx) else { return };
        if e.qm.len() >= MAX_QUICK_MODES {
            return;
        }
        let mid = new_mid(&mut **rng, e);
        let Some(sa) = e.state.sa() else { return };
        let mut ctx = Ctx {
            policy,
            rng: &mut **rng,
            local: local_for(policy, e.local_port),
            remote: e.peer,
            now_unix: None,
            fetch_crl: None,
        };
        let (st, msg) = QuickModeInitiatorSent::start(&mut ctx, sa, proxy, spi, mid);
        info!(mid = %format_args!("{mid:08x}"), spi_in = %format_args!("{spi:08x}"), %proxy, offer = %st.offer_text(), "initiating Quick Mode");
        // One at a time: a doubling Vec kept room for four (1.2 kB) with every ISAKMP SA.
        e.qm.reserve_exact(1);
        e.qm.push(QmEntry {
            mid,
            state: QmState::ISent(st),
            retx: Some(Retx::new(
                msg.clone(),
                now,
                &policy.retransmit,
                "Quick Mode",
                1,
            )),
            last_in: Vec::new(),
            last_out: None,
        });
        io.send(e.local_port, e.peer, msg);
    }

    pub(super) fn on_quick_mode(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
        whole: &[u8],
    ) {
        let Some(idx) = self.established_index(&hdr.icookie, &hdr.rcookie) else {
            debug!(icookie = %hex8(&hdr.icookie), "Quick Mode for unknown cookies");
            self.io.stats.dropped_unknown_cookie += 1;
            return;
        };
        if hdr.message_id == 0 || !hdr.flags.encrypted() {
            self.io.stats.dropped_malformed += 1;
            return;
        }
        let mid = hdr.message_id;
        let spi = self.new_spi();
        let Engine {
            policy,
            rng,
            p1,
            io,
            ..
        } = self;
        let Some(e) = p1.get_mut(idx) else { return };
        let mut ctx = Ctx {
            policy,
            rng: &mut **rng,
            local: local_for(policy, e.local_port),
            remote,
            now_unix: None,
            fetch_crl: None,
        };
        let mut child: Option<(NewChild, Role)> = None;
        if let Some(qi) = e.qm.iter().position(|q| q.mid == mid) {
            let Some(q) = e.qm.get_mut(qi) else { return };
            if q.last_in == whole {
                match q.last_out.clone() {
                    Some(out) => {
                        io.stats.duplicates_answered += 1;
                        io.send(e.local_port, e.peer, out);
                    }
                    None => io.stats.dropped_unexpected += 1,
                }
                return;
            }
            let Some(sa) = e.state.sa() else { return };
            match std::mem::replace(&mut q.state, QmState::Gone) {
                QmState::ISent(s) => match s.on_msg2(sa, hdr, body) {
                    Ok((c, msg3)) => {
                        io.send(e.local_port, e.peer, msg3.clone());
                        e.qm.remove(qi);
                        e.remember_done(DoneExchange {
                            mid,
                            last_in: whole.to_vec(),
                            reply: Some(msg3),
                        });
                        child = Some((c, Role::Initiator));
                    }
                    Err(Fault::Ignore(s, r)) => {
                        q.state = QmState::ISent(s);
                        io.drop_reason(r);
                        return;
                    }
                    Err(Fault::Fail(d, n)) => {
                        e.qm.remove(qi);
                        e.remember_done(DoneExchange {
                            mid,
                            last_in: whole.to_vec(),
                            reply: None,
                        });
                        if let Some(n) = n {
                            let nmid = new_mid(&mut **rng, e);
                            if let Some(sa) = e.state.sa() {
                                io.send(
                                    e.local_port,
                                    e.peer,
                                    informational::encrypted_notify(sa, nmid, &n, &[]),
                                );
                            }
                        }
                        io.fail(d);
                        self.schedule_reinit_if_idle(now);
                        return;
                    }
                },
                QmState::RSent(s) => match (s.spi(), s.their_spi(), s.on_msg3(sa, hdr, body)) {
                    (_, _, Ok(c)) => {
                        e.qm.remove(qi);
                        e.remember_done(DoneExchange {
                            mid,
                            last_in: whole.to_vec(),
                            reply: None,
                        });
                        child = Some((c, Role::Responder));
                    }
                    (_, _, Err(Fault::Ignore(s, r))) => {
                        q.state = QmState::RSent(s);
                        io.drop_reason(r);
                        return;
                    }
                    (spi_in, spi_out, Err(Fault::Fail(d, _))) => {
                        e.qm.remove(qi);
                        io.events.push_back(Event::ChildSaDown {
                            inbound_spi: spi_in,
                            outbound_spi: spi_out,
                            reason: super::super::event::DownReason::Expired,
                        });
                        io.fail(d);
                        return;
                    }
                },
                QmState::Gone => return,
            }
        } else if let Some(d) = e.done.iter().find(|d| d.mid == mid) {
            if d.last_in == whole {
                match d.reply.clone() {
                    Some(out) => {
                        io.stats.duplicates_answered += 1;
                        io.send(e.local_port, e.peer, out);
                    }
                    None => io.stats.dropped_unexpected += 1,
                }
            } else {
                io.stats.dropped_replay += 1;
            }
            return;
        } else {
            if e.qm.len() >= MAX_QUICK_MODES {
                io.stats.dropped_unexpected += 1;
                return;
            }
            let Some(sa) = e.state.sa() else { return };
            match QuickModeResponderSent::on_msg1(&mut ctx, sa, hdr, body, spi) {
                Ok((st, out)) => {
                    info!(mid = %format_args!("{mid:08x}"), spi_in = %format_args!("{spi:08x}"), proxy = %st.proxy(), "responding to Quick Mode");
                    // Install the inbound SA now: the initiator may use the pair as soon as it
                    // has our message 2, before we see its message 3.
                    let early = st.keys(sa);
                    io.events.push_back(child_up_event(early, e.peer));
                    e.qm.reserve_exact(1);
                    e.qm.push(QmEntry {
                        mid,
                        state: QmState::RSent(st),
                        retx: Some(Retx::new(
                            out.clone(),
                            now,
                            &policy.retransmit,
                            "Quick Mode",
                            2,
                        )),
                        last_in: whole.to_vec(),
                        last_out: Some(out.clone()),
                    });
                    io.send(e.local_port, e.peer, out);
                }
                Err(Fault::Ignore((), r)) => {
                    io.drop_reason(r);
                    return;
                }
                Err(Fault::Fail(d, n)) => {
                    e.remember_done(DoneExchange {
                        mid,
                        last_in: whole.to_vec(),
                        reply: None,
                    });
                    if let Some(n) = n {
                        let nmid = new_mid(&mut **rng, e);
                        if let Some(sa) = e.state.sa() {
                            let msg = informational::encrypted_notify(sa, nmid, &n, &[]);
                            io.send(e.local_port, e.peer, msg);
                        }
                    }
                    io.fail(d);
                    return;
                }
            }
        }
        self.note_peer_for(idx, remote);
        self.saw_peer(now);
        if let Some((c, role)) = child {
            self.install_child(now, idx, c, role);
        }
    }

    /// Follows a NAT rebinding seen on an authenticated message for the ISAKMP SA at `idx`.
    pub(super) fn note_peer_for(&mut self, idx: usize, remote: SocketAddr) {
        if let Some(e) = self.p1.get_mut(idx) {
            if e.peer != remote {
                e.peer = remote;
            }
        }
        self.note_peer(remote);
    }

    /// Records a negotiated pair. As Quick Mode initiator it is announced here
    /// ([`Event::ChildSaUp`]); as responder it was announced when message 2 went out.
    fn install_child(&mut self, now: Instant, idx: usize, c: NewChild, role: Role) {
        let lifetime = Duration::from_secs(u64::from(c.proposal.lifetime_secs));
        let soft = self.soft_lifetime(lifetime, role);
        let lifetime_bytes = c.proposal.lifetime_kb.saturating_mul(1024);
        // Same fraction of the volume as of the time.
        let soft_bytes = if lifetime.is_zero() {
            0
        } else {
            (lifetime_bytes as f64 * soft.as_secs_f64() / lifetime.as_secs_f64()) as u64
        };
        let Some(e) = self.p1.get(idx) else { return };
        let remote = e.peer;
        let udp_encap = c.proposal.udp_encap().then_some(remote);
        let rekey_at = Some(later(now, soft));
        info!(
            spi_in = %format_args!("{:08x}", c.inbound.spi), spi_out = %format_args!("{:08x}", c.outbound.spi),
            proposal = %c.proposal, proxy = %c.proxy, ?udp_encap, "ESP SAs established"
        );
        let child = Child {
            inbound_spi: c.inbound.spi,
            outbound_spi: c.outbound.spi,
            ike_sa: (e.icookie, e.rcookie),
            proposal: c.proposal.to_string(),
            selectors: vec![c.proxy],
            role,
            established_at: now,
            lifetime,
            rekey_at,
            expires_at: later(now, lifetime),
            udp_encap,
            mode: c.proposal.mode(),
            rekeying: false,
            delete_at: None,
            outbound_in_use: false,
            switch_at: None,
            in_bytes: 0,
            out_bytes: 0,
            lifetime_bytes,
            soft_bytes,
        };
        self.io.stats.phase2_established += 1;
        self.consecutive_failures = 0;
        if role == Role::Initiator {
            self.io.events.push_back(child_up_event(c, remote));
        }
        // As responder the peer has the pair as soon as it sent message 3: switch at once; as
        // initiator when ESP arrives on the new inbound SA, or after a short delay.
        let switch_at = later(now, super::lifecycle::OUTBOUND_SWITCH_DELAY);
        self.children.installed(
            now,
            child,
            role == Role::Responder,
            switch_at,
            &mut self.io.events,
        );
    }

    /// Drops a Quick Mode in flight (after the peer rejected it).
    pub(super) fn abandon_quick_mode(&mut self, idx: usize, mid: u32) {
        if let Some(e) = self.p1.get_mut(idx) {
            e.qm.retain(|q| q.mid != mid);
        }
    }
}

/// The `ChildSaUp` event of a negotiated pair with the peer at `remote` (also where ESP-in-UDP
/// goes when the proposal encapsulates).
fn child_up_event(c: NewChild, remote: SocketAddr) -> Event {
    let lifetime = Duration::from_secs(u64::from(c.proposal.lifetime_secs));
    let udp_encap = c.proposal.udp_encap().then_some(remote);
    Event::ChildSaUp {
        lifetime_bytes: c.proposal.lifetime_kb.saturating_mul(1024),
        inbound: c.inbound,
        outbound: c.outbound,
        remote,
        udp_encap,
        selectors: vec![c.proxy],
        mode: c.proposal.mode(),
        lifetime,
    }
}

/// `ChildSaDown` events for the inbound SAs installed early by responder Quick Modes of `e`
/// that will now never complete.
pub(super) fn early_inbound_downs(e: &super::P1Entry) -> Vec<Event> {
    e.qm.iter()
        .filter_map(|q| match &q.state {
            QmState::RSent(s) => Some(Event::ChildSaDown {
                inbound_spi: s.spi(),
                outbound_spi: s.their_spi(),
                reason: super::super::event::DownReason::Expired,
            }),
            _ => None,
        })
        .collect()
}
