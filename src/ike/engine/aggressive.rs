//! Engine side of Aggressive Mode: starting it, dispatching its three messages, floating to
//! port 4500, the one-time VU#857035 warning.

use std::net::SocketAddr;
use std::sync::Once;
use std::time::Instant;

use tracing::{debug, info, warn};

use crate::wire::isakmp::HeaderRepr;

use super::super::diagnostic::Diagnostic;
use super::super::event::Role;
use super::super::policy::ExchangeMode;
use super::super::random::random_u32;
use super::super::v1::informational;
use super::super::v1::main_mode::{local_for, AmInitiatorSent, AmResponderSent};
use super::super::v1::message::Msg;
use super::super::v1::{Ctx, Fault};
use super::{hex8, Engine, P1Entry, P1State, Retx};

static VU857035: Once = Once::new();

fn warn_once() {
    VU857035.call_once(|| {
        warn!(
            "Aggressive Mode with a pre-shared key: anyone who captures the exchange can test \
             guesses of the key offline (CERT VU#857035). Use a long random key, or Main Mode"
        );
    });
}

impl Engine {
    pub(super) fn start_aggressive_mode(&mut self, now: Instant) {
        warn_once();
        let remote = SocketAddr::new(self.policy.remote, self.policy.remote_port);
        let mut ctx = Ctx {
            policy: &self.policy,
            rng: &mut *self.rng,
            local: local_for(&self.policy, 500),
            remote,
        };
        let (st, msg) = AmInitiatorSent::start(&mut ctx);
        info!(icookie = %hex8(&st.icookie()), peer = %remote, "initiating Aggressive Mode");
        let mut e = P1Entry::new(
            Role::Initiator,
            st.icookie(),
            P1State::AmISent(st),
            remote,
            500,
        );
        e.retx = Some(Retx::new(
            msg.clone(),
            now,
            &self.policy.retransmit,
            "Aggressive Mode",
            1,
        ));
        self.io.send(500, remote, msg);
        self.p1.push(e);
    }

    pub(super) fn on_aggressive_mode(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
        whole: &[u8],
    ) {
        if hdr.message_id != 0 {
            self.io.stats.dropped_malformed += 1;
            return;
        }
        if hdr.rcookie == [0; 8] {
            self.on_aggressive_1(now, local, remote, hdr, body, whole);
            return;
        }
        let Some(idx) = self.p1.iter().position(|e| {
            e.icookie == hdr.icookie
                && (e.rcookie == hdr.rcookie
                    || (e.rcookie == [0; 8] && matches!(e.state, P1State::AmISent(_))))
        }) else {
            self.io.stats.dropped_unknown_cookie += 1;
            return;
        };
        let encrypt_third = self.policy.aggressive_encrypt_third;
        let Engine {
            policy,
            rng,
            p1,
            io,
            ..
        } = self;
        let Some(e) = p1.get_mut(idx) else { return };
        if e.last_in == whole {
            if let Some(out) = e.last_out.clone() {
                io.stats.duplicates_answered += 1;
                io.send(e.local_port, e.peer, out);
            } else {
                io.stats.dropped_unexpected += 1;
            }
            return;
        }
        let mut ctx = Ctx {
            policy,
            rng: &mut **rng,
            local: local_for(
                policy,
                if local.port() == 4500 {
                    500
                } else {
                    local.port()
                },
            ),
            remote,
        };
        let state = std::mem::replace(&mut e.state, P1State::Gone);
        let mut failed = None;
        match state {
            P1State::AmISent(s) => {
                let msg = Msg::parse(body, hdr.next_payload)
                    .ok()
                    .filter(|_| !hdr.flags.encrypted());
                let Some(msg) = msg else {
                    e.state = P1State::AmISent(s);
                    io.stats.dropped_malformed += 1;
                    return;
                };
                match s.on_msg2(&mut ctx, hdr, &msg, encrypt_third) {
                    Ok(done) => {
                        e.rcookie = hdr.rcookie;
                        if done.float {
                            e.local_port = 4500;
                            e.peer = SocketAddr::new(e.peer.ip(), 4500);
                            e.floated = true;
                            info!(icookie = %hex8(&e.icookie), "NAT detected, moving to port 4500");
                        }
                        e.state = P1State::Established(Box::new(done.sa));
                        e.retx = None;
                        e.last_in = whole.to_vec();
                        e.last_out = Some(done.msg3.clone());
                        io.send(e.local_port, e.peer, done.msg3);
                    }
                    Err(Fault::Ignore(s, r)) => {
                        e.state = P1State::AmISent(s);
                        io.drop_reason(r);
                        return;
                    }
                    Err(Fault::Fail(d, _)) => failed = Some((d, None)),
                }
            }
            P1State::AmRSent(s) => match s.on_msg3(&mut ctx, hdr, body) {
                Ok(sa) => {
                    if local.port() == 4500 {
                        e.local_port = 4500;
                        e.floated = true;
                    }
                    e.peer = remote;
                    e.state = P1State::Established(Box::new(sa));
                    e.last_in = whole.to_vec();
                    e.last_out = None;
                }
                Err(Fault::Ignore(s, r)) => {
                    e.state = P1State::AmRSent(Box::new(s));
                    io.drop_reason(r);
                    return;
                }
                Err(Fault::Fail(d, n)) => failed = Some((d, n)),
            },
            other => {
                e.state = other;
                io.stats.dropped_unexpected += 1;
                return;
            }
        }
        if let Some((d, notify)) = failed {
            if let Some(n) = notify {
                let mid = random_u32(&mut **rng);
                io.send(
                    e.local_port,
                    e.peer,
                    informational::plain_notify(e.icookie, e.rcookie, mid, &n),
                );
            }
            io.fail(d);
            let role = e.role;
            self.p1.remove(idx);
            if role == Role::Initiator {
                self.schedule_reinit_if_idle(now);
            }
            return;
        }
        self.on_phase1_up(now, idx);
    }

    /// Aggressive Mode message 1: a new responder exchange, or a duplicate.
    fn on_aggressive_1(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
        whole: &[u8],
    ) {
        if let Some(e) = self
            .p1
            .iter()
            .find(|e| e.icookie == hdr.icookie && e.role == Role::Responder)
        {
            if e.last_in == whole {
                if let Some(out) = e.last_out.clone() {
                    self.io.stats.duplicates_answered += 1;
                    self.io.send(e.local_port, e.peer, out);
                    return;
                }
            }
            self.io.stats.dropped_unexpected += 1;
            return;
        }
        if self.policy.exchange_mode != ExchangeMode::Aggressive {
            self.io.stats.dropped_unsupported += 1;
            let d = Diagnostic::Unsupported {
                detail: format!(
                    "peer ({}) started Aggressive Mode but this tunnel is configured for Main Mode — set `exchange-mode: aggressive` here or `main` on the peer",
                    remote.ip()
                ),
            };
            if self.io.last_error != Some(d.to_string()) {
                self.io.fail(d);
            }
            return;
        }
        warn_once();
        if hdr.flags.encrypted() {
            self.io.stats.dropped_malformed += 1;
            return;
        }
        let half_open = self
            .p1
            .iter()
            .filter(|e| e.role == Role::Responder && e.state.sa().is_none())
            .count();
        if half_open >= self.policy.half_open_max {
            self.io.stats.dropped_half_open_limit += 1;
            return;
        }
        let Ok(msg) = Msg::parse(body, hdr.next_payload) else {
            self.io.stats.dropped_malformed += 1;
            return;
        };
        let mut ctx = Ctx {
            policy: &self.policy,
            rng: &mut *self.rng,
            local: local_for(&self.policy, local.port()),
            remote,
        };
        let result = AmResponderSent::on_msg1(&mut ctx, hdr, &msg);
        let mut e = P1Entry::new(
            Role::Responder,
            hdr.icookie,
            P1State::Rejected,
            remote,
            local.port(),
        );
        e.expires_at = Some(now + self.policy.half_open_timeout);
        e.last_in = whole.to_vec();
        match result {
            Ok((st, out)) => {
                let (_, rc) = st.cookies();
                info!(icookie = %hex8(&hdr.icookie), peer = %remote, proposal = %st.proposal(), "responding to Aggressive Mode");
                e.rcookie = rc;
                e.state = P1State::AmRSent(Box::new(st));
                e.last_out = Some(out.clone());
                self.io.send(e.local_port, remote, out);
            }
            Err(Fault::Fail(d, n)) => {
                if let Some(n) = n {
                    let rc = match n.spi.get(8..16) {
                        Some(r) => r.try_into().unwrap_or([0; 8]),
                        None => [0; 8],
                    };
                    e.rcookie = rc;
                    let mid = random_u32(&mut *self.rng);
                    let out = informational::plain_notify(hdr.icookie, rc, mid, &n);
                    e.last_out = Some(out.clone());
                    self.io.send(e.local_port, remote, out);
                }
                self.io.fail(d);
            }
            Err(Fault::Ignore((), r)) => {
                debug!("ignoring Aggressive Mode message 1");
                self.io.drop_reason(r);
                return;
            }
        }
        self.p1.push(e);
    }
}
