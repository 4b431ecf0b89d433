//! Engine side of Aggressive Mode: starting it, dispatching its three messages, floating to
//! port 4500, the one-time VU#857035 warning.

use std::net::SocketAddr;
use std::sync::Once;
use std::time::Instant;

use tracing::{info, warn};

use crate::wire::isakmp::HeaderRepr;

use super::super::diagnostic::Diagnostic;
use super::super::event::Role;
use super::super::policy::ExchangeMode;
use super::super::v1::main_mode::{local_for, vendor_ids, AmInitiatorSent, AmResponderSent};
use super::super::v1::message::Msg;
use super::super::v1::{Ctx, Fault};
use super::phase1::Answer1;
use super::{hex8, Engine, P1State};

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
            now_unix: None,
            fetch_crl: None,
        };
        let (st, msg) = AmInitiatorSent::start(&mut ctx);
        let icookie = st.icookie();
        self.push_p1_initiator(now, icookie, P1State::AmISent(st), msg, "Aggressive Mode");
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
        if hdr.rcookie == [0; 8] && hdr.message_id == 0 {
            self.on_aggressive_1(now, local, remote, hdr, body, whole);
            return;
        }
        let waiting = |s: &P1State| matches!(s, P1State::AmISent(_));
        let Some(idx) = self.p1_continued(hdr, whole, waiting) else {
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
            now_unix: None,
            fetch_crl: None,
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
                let peer_fragmentation = vendor_ids(&msg).fragmentation;
                match s.on_msg2(&mut ctx, hdr, &msg, encrypt_third) {
                    Ok(done) => {
                        e.rcookie = hdr.rcookie;
                        e.peer_fragmentation = peer_fragmentation;
                        if done.float {
                            e.local_port = 4500;
                            e.peer = SocketAddr::new(e.peer.ip(), 4500);
                            e.floated = true;
                            info!(icookie = %hex8(&e.icookie), "NAT detected, moving to port 4500");
                        }
                        e.state = P1State::Established(Box::new(done.sa));
                        e.answer(whole, done.msg3, None, io);
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
            self.p1_failed(now, idx, d, notify);
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
        let fresh = !self
            .p1
            .iter()
            .any(|e| e.icookie == hdr.icookie && e.role == Role::Responder);
        if fresh && self.policy.exchange_mode != ExchangeMode::Aggressive {
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
        let Some(msg) = self.p1_message1(now, hdr, body, whole) else {
            return;
        };
        warn_once();
        let mut ctx = Ctx {
            policy: &self.policy,
            rng: &mut *self.rng,
            local: local_for(&self.policy, local.port()),
            remote,
            now_unix: None,
            fetch_crl: None,
        };
        let peer_fragmentation = vendor_ids(&msg).fragmentation;
        let answer = AmResponderSent::on_msg1(&mut ctx, hdr, &msg).map(|(st, msg)| Answer1 {
            rcookie: st.cookies().1,
            proposal: st.proposal().to_string(),
            state: P1State::AmRSent(Box::new(st)),
            msg,
            peer_fragmentation,
        });
        self.p1_respond(now, local, remote, hdr, whole, answer);
    }
}
