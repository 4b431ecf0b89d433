//! Engine side of Main Mode: starting it, dispatching its messages to the typestate machine,
//! floating to port 4500, and what happens once an ISAKMP SA is up.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use crate::wire::isakmp::{HeaderRepr, NotifyType, ProtocolId};

use super::super::diagnostic::Diagnostic;
use super::super::event::{DownReason, Event, Role};
use super::super::random::random_u32;
use super::super::v1::informational;
use super::super::v1::main_mode::{local_for, vendor_ids, MmInitiatorSentSa, MmResponderSentSa};
use super::super::v1::message::Msg;
use super::super::v1::{Ctx, DropReason, Fault, NotifySpec};
use super::send_delete;
use super::{hex8, later, new_mid, Engine, P1Entry, P1State, Retx};

/// A responder's answer to phase-1 message 1.
pub(super) struct Answer1 {
    /// The exchange's next state.
    pub state: P1State,
    /// Our (responder) cookie.
    pub rcookie: [u8; 8],
    /// The proposal we chose, as text.
    pub proposal: String,
    /// Message 2.
    pub msg: Vec<u8>,
    /// Message 1 announced IKEv1 fragmentation.
    pub peer_fragmentation: bool,
}

/// The NAT-T port.
const NAT_T_PORT: u16 = 4500;

impl Engine {
    /// Starts the configured phase-1 exchange.
    pub(super) fn start_phase1(&mut self, now: Instant) {
        match self.policy.exchange_mode {
            super::super::policy::ExchangeMode::Main => self.start_main_mode(now),
            super::super::policy::ExchangeMode::Aggressive => self.start_aggressive_mode(now),
        }
    }

    pub(super) fn start_main_mode(&mut self, now: Instant) {
        let remote = SocketAddr::new(self.policy.remote, self.policy.remote_port);
        let mut ctx = Ctx {
            policy: &self.policy,
            rng: &mut *self.rng,
            local: local_for(&self.policy, 500),
            remote,
            now_unix: None,
            fetch_crl: None,
        };
        let (st, msg) = MmInitiatorSentSa::start(&mut ctx);
        let icookie = st.icookie();
        self.push_p1_initiator(now, icookie, P1State::ISentSa(st), msg, "Main Mode");
    }

    /// Records an exchange we start (its first message goes out now, resent on a timer).
    pub(super) fn push_p1_initiator(
        &mut self,
        now: Instant,
        icookie: [u8; 8],
        state: P1State,
        msg: Vec<u8>,
        exchange: &'static str,
    ) {
        let remote = SocketAddr::new(self.policy.remote, self.policy.remote_port);
        info!(icookie = %hex8(&icookie), peer = %remote, "initiating {exchange}");
        let mut e = P1Entry::new(Role::Initiator, icookie, state, remote, 500);
        e.retx = Some(Retx::new(
            msg.clone(),
            now,
            &self.policy.retransmit,
            exchange,
            1,
        ));
        self.io.send(500, remote, msg);
        self.p1.reserve_exact(1);
        self.p1.push(e);
    }

    /// The phase-1 exchange a later message (`whole`, responder cookie set) continues, or `None`
    /// when nothing more is to be done with it: a message ID other than 0 (counted malformed),
    /// unknown cookies (counted), or a duplicate of the last message (answered again, or counted
    /// unexpected).
    pub(super) fn p1_continued(
        &mut self,
        hdr: &HeaderRepr,
        whole: &[u8],
        waiting: fn(&P1State) -> bool,
    ) -> Option<usize> {
        if hdr.message_id != 0 {
            self.io.stats.dropped_malformed += 1;
            return None;
        }
        let idx = self.p1_exchange_for(hdr, waiting)?;
        let e = self.p1.get(idx)?;
        if e.last_in == whole {
            if !e.answer_duplicate(whole, &mut self.io) {
                self.io.stats.dropped_unexpected += 1;
            }
            return None;
        }
        Some(idx)
    }

    /// The exchange a phase-1 message with a responder cookie belongs to: same cookies, or
    /// ours still waiting (in `waiting`) for the responder's first answer. Counts the miss.
    pub(super) fn p1_exchange_for(
        &mut self,
        hdr: &HeaderRepr,
        waiting: fn(&P1State) -> bool,
    ) -> Option<usize> {
        let idx = self.p1.iter().position(|e| {
            e.icookie == hdr.icookie
                && (e.rcookie == hdr.rcookie || (e.rcookie == [0; 8] && waiting(&e.state)))
        });
        if idx.is_none() {
            debug!(icookie = %hex8(&hdr.icookie), rcookie = %hex8(&hdr.rcookie), "phase-1 message for unknown cookies");
            self.io.stats.dropped_unknown_cookie += 1;
        }
        idx
    }

    /// Ends the phase-1 exchange at `idx` after a failure: the notification for the peer (if
    /// any), the diagnostic, and a new attempt later if we were initiating.
    pub(super) fn p1_failed(
        &mut self,
        now: Instant,
        idx: usize,
        cause: Diagnostic,
        notify: Option<NotifySpec>,
    ) {
        let Some(e) = self.p1.get(idx) else { return };
        if let Some(n) = notify {
            let mid = random_u32(&mut *self.rng);
            self.io.send(
                e.local_port,
                e.peer,
                informational::plain_notify(e.icookie, e.rcookie, mid, &n),
            );
        }
        self.io.fail(cause);
        let role = e.role;
        self.p1.remove(idx);
        if role == Role::Initiator {
            self.schedule_reinit_if_idle(now);
        }
    }

    /// Screens a phase-1 message 1 (responder cookie zero): answers a duplicate, drops what
    /// cannot start an exchange (encrypted, half-open limit, unparsable, over the per-source
    /// rate of [`crate::ike::limits`]). `Some` is the parsed
    /// message of a new exchange.
    pub(super) fn p1_message1<'b>(
        &mut self,
        now: Instant,
        hdr: &HeaderRepr,
        body: &'b [u8],
        whole: &[u8],
    ) -> Option<Msg<'b>> {
        if let Some(e) = self
            .p1
            .iter()
            .find(|e| e.icookie == hdr.icookie && e.role == Role::Responder)
        {
            if !e.answer_duplicate(whole, &mut self.io) {
                self.io.stats.dropped_unexpected += 1;
            }
            return None;
        }
        if hdr.flags.encrypted() {
            self.io.stats.dropped_malformed += 1;
            return None;
        }
        let half_open = self
            .p1
            .iter()
            .filter(|e| e.role == Role::Responder && e.state.sa().is_none())
            .count();
        if half_open >= self.policy.half_open_max {
            debug!(icookie = %hex8(&hdr.icookie), "half-open limit reached, dropping phase-1 message 1");
            self.io.stats.dropped_half_open_limit += 1;
            return None;
        }
        let Ok(msg) = Msg::parse(body, hdr.next_payload) else {
            self.io.stats.dropped_malformed += 1;
            return None;
        };
        if !self.new_sa_rate.allow(now) {
            debug!(icookie = %hex8(&hdr.icookie), "new negotiations over the rate limit, dropping phase-1 message 1");
            self.io.stats.dropped_rate_limit += 1;
            return None;
        }
        Some(msg)
    }

    /// Records the responder's side of a new exchange after message 1: the answer, or the
    /// failure (with the notification that says why, under the cookies the peer expects).
    pub(super) fn p1_respond(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        whole: &[u8],
        answer: Result<Answer1, Fault<()>>,
    ) {
        let mut e = P1Entry::new(
            Role::Responder,
            hdr.icookie,
            P1State::Rejected,
            remote,
            local.port(),
        );
        e.expires_at = Some(later(now, self.policy.half_open_timeout));
        e.last_in = whole.to_vec();
        match answer {
            Ok(Answer1 {
                state,
                rcookie: rc,
                proposal,
                msg: out,
                peer_fragmentation,
            }) => {
                let exchange = match state {
                    P1State::AmRSent(_) => "Aggressive Mode",
                    _ => "Main Mode",
                };
                info!(icookie = %hex8(&hdr.icookie), rcookie = %hex8(&rc), peer = %remote, %proposal, "responding to {exchange}");
                e.rcookie = rc;
                e.state = state;
                e.peer_fragmentation = peer_fragmentation;
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
                debug!(icookie = %hex8(&hdr.icookie), "ignoring phase-1 message 1");
                self.io.drop_reason(r);
                return;
            }
        }
        self.p1.reserve_exact(1);
        self.p1.push(e);
    }

    pub(super) fn on_main_mode(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
        whole: &[u8],
    ) {
        if hdr.rcookie == [0; 8] && hdr.message_id == 0 {
            self.on_main_mode_1(now, local, remote, hdr, body, whole);
            return;
        }
        let waiting = |s: &P1State| matches!(s, P1State::ISentSa(_));
        let Some(idx) = self.p1_continued(hdr, whole, waiting) else {
            return;
        };
        let now_unix = self.now_unix(now);
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
            local: local_for(policy, local.port()),
            remote,
            now_unix,
            fetch_crl: None,
        };
        let clear = || {
            Msg::parse(body, hdr.next_payload)
                .ok()
                .filter(|_| !hdr.flags.encrypted())
        };
        let state = std::mem::replace(&mut e.state, P1State::Gone);
        let mut failed = None;
        let mut established = false;
        match state {
            P1State::ISentSa(s) => {
                let Some(msg) = clear() else {
                    e.state = P1State::ISentSa(s);
                    io.stats.dropped_malformed += 1;
                    return;
                };
                match s.on_msg2(&mut ctx, hdr, &msg) {
                    Ok((next, out)) => {
                        e.rcookie = hdr.rcookie;
                        e.peer_fragmentation = vendor_ids(&msg).fragmentation;
                        e.state = P1State::ISentKe(next);
                        let retx = Retx::new(out.clone(), now, &policy.retransmit, "Main Mode", 3);
                        e.answer(whole, out, Some(retx), io);
                    }
                    Err(Fault::Ignore(s, r)) => {
                        e.state = P1State::ISentSa(s);
                        io.drop_reason(r);
                    }
                    Err(Fault::Fail(d, _)) => failed = Some((d, None)),
                }
            }
            P1State::ISentKe(s) => {
                let Some(msg) = clear() else {
                    e.state = P1State::ISentKe(s);
                    io.stats.dropped_malformed += 1;
                    return;
                };
                match s.on_msg4(&mut ctx, &msg) {
                    Ok(checked) => {
                        if checked.should_float() {
                            e.local_port = NAT_T_PORT;
                            e.peer = SocketAddr::new(e.peer.ip(), NAT_T_PORT);
                            e.floated = true;
                            info!(icookie = %hex8(&e.icookie), nat = ?checked.nat(), "NAT detected, moving to port 4500");
                        }
                        match checked.message5(&mut ctx) {
                            Ok((next, out)) => {
                                e.state = P1State::ISentAuth(next);
                                let retx =
                                    Retx::new(out.clone(), now, &policy.retransmit, "Main Mode", 5);
                                e.answer(whole, out, Some(retx), io);
                            }
                            Err(d) => failed = Some((d, None)),
                        }
                    }
                    Err(Fault::Ignore(s, r)) => {
                        e.state = P1State::ISentKe(s);
                        io.drop_reason(r);
                    }
                    Err(Fault::Fail(d, _)) => failed = Some((d, None)),
                }
            }
            P1State::ISentAuth(s) => match s.on_msg6(&mut ctx, hdr, body) {
                Ok(sa) => {
                    e.state = P1State::Established(Box::new(sa));
                    e.retx = None;
                    e.last_in = whole.to_vec();
                    e.last_out = None;
                    established = true;
                }
                Err(Fault::Ignore(s, r)) => {
                    e.state = P1State::ISentAuth(s);
                    io.drop_reason(r);
                }
                Err(Fault::Fail(d, _)) => failed = Some((d, None)),
            },
            P1State::RSentSa(s) => {
                let Some(msg) = clear() else {
                    e.state = P1State::RSentSa(s);
                    io.stats.dropped_malformed += 1;
                    return;
                };
                match s.on_msg3(&mut ctx, &msg) {
                    Ok((next, out)) => {
                        e.state = P1State::RSentKe(next);
                        e.answer(whole, out, None, io);
                    }
                    Err(Fault::Ignore(s, r)) => {
                        e.state = P1State::RSentSa(s);
                        io.drop_reason(r);
                    }
                    Err(Fault::Fail(d, n)) => failed = Some((d, n)),
                }
            }
            P1State::RSentKe(s) => match s.on_msg5(&mut ctx, hdr, body) {
                Ok((sa, out)) => {
                    if local.port() == NAT_T_PORT {
                        e.local_port = NAT_T_PORT;
                        e.floated = true;
                    }
                    e.peer = remote;
                    e.state = P1State::Established(Box::new(sa));
                    e.answer(whole, out, None, io);
                    established = true;
                }
                Err(Fault::Ignore(s, r)) => {
                    e.state = P1State::RSentKe(s);
                    io.drop_reason(r);
                }
                Err(Fault::Fail(d, n)) => failed = Some((d, n)),
            },
            other @ (P1State::Established(_)
            | P1State::Rejected
            | P1State::Gone
            | P1State::AmISent(_)
            | P1State::AmRSent(_)) => {
                e.state = other;
                io.stats.dropped_unexpected += 1;
            }
        }
        let fetch_crl = ctx.fetch_crl.take();
        self.request_crl(fetch_crl);
        if let Some((d, notify)) = failed {
            self.p1_failed(now, idx, d, notify);
            return;
        }
        if established {
            self.on_phase1_up(now, idx);
        }
    }

    /// Main Mode message 1 (responder cookie zero): a new responder exchange, or a duplicate.
    fn on_main_mode_1(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
        whole: &[u8],
    ) {
        let Some(msg) = self.p1_message1(now, hdr, body, whole) else {
            return;
        };
        let mut ctx = Ctx {
            policy: &self.policy,
            rng: &mut *self.rng,
            local: local_for(&self.policy, local.port()),
            remote,
            now_unix: None,
            fetch_crl: None,
        };
        let peer_fragmentation = vendor_ids(&msg).fragmentation;
        let answer = MmResponderSentSa::on_msg1(&mut ctx, hdr, &msg).map(|(st, msg)| Answer1 {
            rcookie: st.cookies().1,
            proposal: st.proposal().to_string(),
            state: P1State::RSentSa(st),
            msg,
            peer_fragmentation,
        });
        self.p1_respond(now, local, remote, hdr, whole, answer);
    }

    /// An ISAKMP SA just came up at `idx`.
    pub(super) fn on_phase1_up(&mut self, now: Instant, idx: usize) {
        let Some(e) = self.p1.get_mut(idx) else {
            return;
        };
        let Some(sa) = e.state.sa() else { return };
        let lifetime = Duration::from_secs(u64::from(sa.proposal.lifetime_secs));
        let role = e.role;
        let soft = self.soft_lifetime(lifetime, role);
        let Some(e) = self.p1.get_mut(idx) else {
            return;
        };
        let Some(sa) = e.state.sa() else { return };
        e.established_at = Some(now);
        e.expires_at = Some(later(now, lifetime));
        if !self.policy.responder_only {
            e.rekey_at = Some(later(now, soft));
        }
        let nat = e.nat_status();
        let (icookie, rcookie, role, peer) = (e.icookie, e.rcookie, e.role, e.peer);
        let peer_initial_contact = sa.initial_contact;
        info!(
            icookie = %hex8(&icookie), rcookie = %hex8(&rcookie), proposal = %sa.proposal,
            peer = %peer, identity = %sa.peer_identity, ?nat, "ISAKMP SA established"
        );
        self.io.stats.phase1_established += 1;
        self.io.events.push_back(Event::Phase1Up {
            icookie,
            rcookie,
            role,
            proposal: sa.proposal.to_string(),
            peer,
            peer_identity: sa.peer_identity.to_string(),
            nat,
            lifetime,
        });
        self.note_peer(peer);
        self.dpd.dead_since = None;
        self.dpd.attempts = 0;
        self.saw_peer(now);
        if nat.floated {
            self.nat_keepalive_last = Some(now);
        }
        if peer_initial_contact {
            self.purge_others(idx, DownReason::InitialContact);
        }
        let idx = match self
            .p1
            .iter()
            .position(|e| (e.icookie, e.rcookie) == (icookie, rcookie))
        {
            Some(i) => i,
            None => return,
        };
        let others = self.p1.iter().filter(|e| e.state.sa().is_some()).count() > 1;
        if role == Role::Initiator
            && self.policy.initial_contact
            && !others
            && self.children.list.is_empty()
        {
            let Engine { rng, p1, io, .. } = self;
            if let Some(e) = p1.get_mut(idx) {
                if let Some(sa) = e.state.sa() {
                    let mid = new_mid(&mut **rng, e);
                    let n = NotifySpec::isakmp(NotifyType::INITIAL_CONTACT, &icookie, &rcookie);
                    let msg = informational::encrypted_notify(sa, mid, &n, &[]);
                    io.send(e.local_port, e.peer, msg);
                }
            }
        }
        if role == Role::Initiator && self.want_up {
            self.ensure_children(now);
        }
        if role == Role::Responder && self.policy.remote_access.is_some() {
            self.start_remote_access(now, idx);
        }
    }

    /// Removes the ISAKMP SAs established before the one at `keep`, and the ESP SAs
    /// established before it under other ISAKMP SAs (the peer restarted: INITIAL-CONTACT).
    /// Anything newer stays, so a replayed INITIAL-CONTACT cannot tear down a rekeyed SA.
    /// Deletes for what we drop go to the peer under `keep`: a restarted peer ignores them, and
    /// when both sides initiated at once (INITIAL-CONTACT crossing a second, fresh SA) the peer
    /// drops the same SAs we do.
    pub(super) fn purge_others(&mut self, keep: usize, reason: DownReason) {
        let Some(k) = self.p1.get(keep) else { return };
        let cookies = (k.icookie, k.rcookie);
        let Some(since) = k.established_at else {
            return;
        };
        let gone: Vec<u32> = self
            .children
            .list
            .iter()
            .filter(|c| c.ike_sa != cookies && c.established_at < since)
            .map(|c| c.inbound_spi)
            .collect();
        let mut esp_spis = Vec::new();
        for spi in gone {
            info!(spi_in = %format_args!("{spi:08x}"), "removing ESP SA: peer sent INITIAL-CONTACT");
            esp_spis.push(spi.to_be_bytes());
            self.children.remove(spi, reason, &mut self.io.events);
        }
        let mut isakmp = Vec::new();
        let old = std::mem::take(&mut self.p1);
        self.p1.reserve_exact(old.len());
        for e in old {
            let older = e.established_at.is_some_and(|t| t < since);
            if (e.icookie, e.rcookie) == cookies || e.state.sa().is_none() || !older {
                self.p1.push(e);
            } else {
                isakmp.push([&e.icookie[..], &e.rcookie[..]].concat());
                self.io.events.push_back(Event::Phase1Down {
                    icookie: e.icookie,
                    rcookie: e.rcookie,
                    reason,
                });
            }
        }
        let Engine { rng, p1, io, .. } = self;
        let Some(e) = p1.iter().find(|e| (e.icookie, e.rcookie) == cookies) else {
            return;
        };
        if !esp_spis.is_empty() {
            let spis: Vec<&[u8]> = esp_spis.iter().map(|s| &s[..]).collect();
            send_delete(&mut **rng, io, e, ProtocolId::IPSEC_ESP, &spis);
        }
        for c in &isakmp {
            send_delete(&mut **rng, io, e, ProtocolId::ISAKMP, &[c]);
        }
    }

    /// Follows the peer's address from an authenticated message.
    pub(super) fn note_peer(&mut self, remote: SocketAddr) {
        if remote == self.peer {
            return;
        }
        let changed_port_only = remote.ip() == self.peer.ip();
        self.peer = remote;
        let mut encap_changed = false;
        for c in self.children.list.iter_mut() {
            if c.udp_encap.is_some() && c.udp_encap != Some(remote) {
                c.udp_encap = Some(remote);
                encap_changed = true;
            }
        }
        if encap_changed || !changed_port_only {
            info!(peer = %remote, "peer address changed");
            self.io
                .events
                .push_back(Event::PeerAddressChanged { remote });
        }
    }

    /// Drop counters for a given reason (used by the other dispatchers).
    pub(super) fn count_drop(&mut self, r: DropReason) {
        self.io.drop_reason(r);
    }

    /// Which ISAKMP SA a (icookie, rcookie) pair names, if established.
    pub(super) fn established_index(&self, icookie: &[u8; 8], rcookie: &[u8; 8]) -> Option<usize> {
        self.p1
            .iter()
            .position(|e| &e.icookie == icookie && &e.rcookie == rcookie && e.state.sa().is_some())
    }
}
