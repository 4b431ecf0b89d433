//! IKE_SA_INIT (RFC 7296 §1.2): the initiator's request and its answers (COOKIE,
//! INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN, the real answer), the responder's choice, NAT
//! detection (§2.23) and the COOKIE we ask for under load (§2.6).

use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, info};
use zeroize::Zeroizing;

use crate::crypto::dh::{DhGroup, DhPrivate};
use crate::crypto::ikev2::keys::skeyseed;
use crate::crypto::ikev2::IkeSaKeys;
use crate::ike::policy::NatTraversal;
use crate::ike::Diagnostic;
use crate::wire::ikev2::{
    ExchangeType, Flags, HeaderRepr, KeRepr, NonceRepr, NotifyRepr, NotifyType, Payload,
    PayloadRepr, PayloadType, ProtocolId, SaRepr, HEADER_LEN,
};

use super::auth::InitAnswered;
use super::auth_sig::{
    certificate_request_data, parse_signature_hashes, signature_hashes_data, x509_payload,
};
use super::cookie::{cookie_notify, plain_answer};
use super::exchange::NAT_T_PORT;
use super::found::Found;
use super::intermediate::{Handshake, IntAuth, Rounds};
use super::message::{nat_hash, plain};
use super::proposal::{accept_ike_answer, choose_ike, describe, ike_offer, IkeChoice};
use super::{Engine, IkeSa, Request, RequestKind, SaState, V2Diagnostic, MAX_IKE_SAS};

/// Initiator state after IKE_SA_INIT went out.
pub(super) struct InitSent {
    pub dh: DhPrivate,
    pub ni: Vec<u8>,
    /// Our request as sent (signed in our AUTH).
    pub request: Vec<u8>,
}

/// What the notifications of an IKE_SA_INIT message say.
#[derive(Default)]
struct InitNotifies<'a> {
    nat_src: Vec<&'a [u8]>,
    nat_dst: Option<&'a [u8]>,
    cookie: Option<&'a [u8]>,
    fragmentation: bool,
    intermediate: bool,
    signature_hashes: Option<&'a [u8]>,
    error: Option<(NotifyType, &'a [u8])>,
}

fn notifies<'a>(payloads: &[Payload<'a>]) -> InitNotifies<'a> {
    let mut n = InitNotifies::default();
    for p in payloads {
        let Payload::Notify(x) = p else { continue };
        match x.kind {
            NotifyType::NAT_DETECTION_SOURCE_IP => n.nat_src.push(x.data),
            NotifyType::NAT_DETECTION_DESTINATION_IP => n.nat_dst = Some(x.data),
            NotifyType::COOKIE => n.cookie = Some(x.data),
            NotifyType::IKEV2_FRAGMENTATION_SUPPORTED => n.fragmentation = true,
            NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED => n.intermediate = true,
            NotifyType::SIGNATURE_HASH_ALGORITHMS => n.signature_hashes = Some(x.data),
            k if k.is_error() && n.error.is_none() => n.error = Some((k, x.data)),
            _ => {}
        }
    }
    n
}

fn notify(kind: NotifyType, data: &[u8]) -> NotifyRepr<'_> {
    NotifyRepr {
        protocol: ProtocolId(0),
        kind,
        spi: &[],
        data,
    }
}

impl Engine {
    /// Sends IKE_SA_INIT with a KE payload of `group` (a retry keeps the SPI and adds the
    /// COOKIE when the responder asked for one).
    pub(super) fn start_ike_sa(
        &mut self,
        now: Instant,
        group: DhGroup,
        spi: Option<[u8; 8]>,
        cookie: Option<Vec<u8>>,
    ) {
        // A COOKIE retry sends the same request again, the COOKIE first (RFC 7296 §2.6): the
        // responder's COOKIE may cover our nonce, so the nonce and KE stay.
        let mut kept = None;
        if let Some(s) = spi {
            let mine = |x: &IkeSa| x.spi_i == s && x.original_initiator && !x.established();
            if let Some(old) = self.sas.iter().position(mine).map(|i| self.sas.remove(i)) {
                if let (SaState::InitSent(st), true) = (old.state, cookie.is_some()) {
                    kept = (st.dh.group() == group).then_some((st.dh, st.ni));
                }
            }
            self.sas.retain(|x| !mine(x));
        }
        if self.sas.len() >= MAX_IKE_SAS {
            debug!("too many IKE SAs; not starting another");
            return;
        }
        let spi_i = spi.unwrap_or_else(|| self.new_ike_spi());
        let (dh, ni) = match kept {
            Some(k) => k,
            None => {
                let ni = self.nonce();
                (self.dh(group), ni)
            }
        };
        let local = SocketAddr::new(self.policy.local, 500);
        let offer = ike_offer(&self.policy.phase1, &[]);
        let nat = self.nat_payload_data(&spi_i, &[0; 8], local, self.peer);
        let header = HeaderRepr {
            ispi: spi_i,
            rspi: [0; 8],
            next_payload: PayloadType::NO_NEXT,
            minor_version: 0,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: Flags(Flags::INITIATOR),
            message_id: 0,
        };
        let ke = KeRepr {
            group: group.id(),
            data: dh.public_value(),
        };
        let nonce = NonceRepr { nonce: &ni };
        let cookie_n = cookie.as_deref().map(|c| notify(NotifyType::COOKIE, c));
        let frag = notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, &[]);
        let intermediate = notify(NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED, &[]);
        let nat_n: Vec<NotifyRepr<'_>> = nat.iter().map(|(k, d)| notify(*k, d)).collect();
        let hashes = signature_hashes_data();
        let sig_n = notify(NotifyType::SIGNATURE_HASH_ALGORITHMS, &hashes);
        let mut payloads: Vec<&dyn PayloadRepr> = Vec::new();
        if let Some(c) = &cookie_n {
            payloads.push(c);
        }
        payloads.extend([&offer as &dyn PayloadRepr, &ke, &nonce]);
        payloads.extend(nat_n.iter().map(|n| n as &dyn PayloadRepr));
        if self.policy.fragmentation {
            payloads.push(&frag);
        }
        if !self.policy.phase1.additional_kes.is_empty() {
            payloads.push(&intermediate);
        }
        if self.policy.auth.certificate().is_some() {
            payloads.push(&sig_n);
        }
        let Ok(request) = plain(&header, &payloads) else {
            return;
        };
        info!(peer = %self.peer, group = group.name(), "IKEv2: sending IKE_SA_INIT");
        let mut sa = IkeSa::new(
            spi_i,
            true,
            SaState::InitSent(Box::new(InitSent {
                dh,
                ni,
                request: request.clone(),
            })),
            self.peer,
            now,
        );
        sa.next_request_id = 1;
        self.add_ike_sa(sa);
        let i = self.sas.len() - 1;
        let rp = self.policy.retransmit;
        self.put_request(
            i,
            Request {
                message_id: 0,
                exchange: ExchangeType::IKE_SA_INIT,
                datagrams: vec![request],
                next_at: crate::ike::core::later(now, rp.initial),
                interval: rp.initial,
                retransmits: 0,
                max_retransmits: rp.max_retransmits,
                kind: RequestKind::SaInit,
            },
        );
    }

    /// The NAT_DETECTION_SOURCE/DESTINATION_IP notifications for a message from `local` to
    /// `remote` (none with NAT-T disabled; a random source hash with `force`, which makes the
    /// peer see us behind a NAT and encapsulate ESP in UDP).
    fn nat_payload_data(
        &mut self,
        spi_i: &[u8; 8],
        spi_r: &[u8; 8],
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Vec<(NotifyType, Vec<u8>)> {
        let src = match self.policy.nat_traversal {
            NatTraversal::Disable => return Vec::new(),
            NatTraversal::Force => crate::ike::random::random_bytes(&mut *self.rng, 20),
            NatTraversal::Enable => nat_hash(spi_i, spi_r, local),
        };
        vec![
            (NotifyType::NAT_DETECTION_SOURCE_IP, src),
            (
                NotifyType::NAT_DETECTION_DESTINATION_IP,
                nat_hash(spi_i, spi_r, remote),
            ),
        ]
    }

    /// NAT detection from the peer's notifications of a message it sent from `remote` to our
    /// `local` (hashes over the SPIs of that message's header).
    fn detect_nat(
        &self,
        sa: &mut IkeSa,
        spis: (&[u8; 8], &[u8; 8]),
        n: &InitNotifies<'_>,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        if self.policy.nat_traversal == NatTraversal::Disable || n.nat_dst.is_none() {
            return;
        }
        let peer_hash = nat_hash(spis.0, spis.1, remote);
        let peer_behind = !n.nat_src.contains(&peer_hash.as_slice());
        let our_hash = nat_hash(spis.0, spis.1, local);
        let local_behind = n.nat_dst != Some(our_hash.as_slice())
            || self.policy.nat_traversal == NatTraversal::Force;
        sa.nat.nat_t = "rfc7296";
        sa.nat.local_behind_nat = local_behind;
        sa.nat.peer_behind_nat = peer_behind;
    }

    pub(super) fn on_sa_init_response(
        &mut self,
        now: Instant,
        i: usize,
        remote: SocketAddr,
        h: &HeaderRepr,
        msg: &[u8],
    ) {
        let body = msg.get(HEADER_LEN..).unwrap_or_default();
        let Ok(payloads) = Payload::parse_chain(body, h.next_payload) else {
            self.io.stats.dropped_malformed += 1;
            return;
        };
        let n = notifies(&payloads);
        let SaState::InitSent(st) = &self.sas[i].state else {
            return;
        };
        let sent_group = st.dh.group();
        if let Some(c) = n.cookie {
            info!("IKEv2: the responder asked for a COOKIE; retrying with it");
            let spi = self.sas[i].spi_i;
            return self.start_ike_sa(now, sent_group, Some(spi), Some(c.to_vec()));
        }
        if let Some((kind, data)) = n.error {
            return self.sa_init_refused(now, i, kind, data, sent_group, remote);
        }
        let f = Found::of(&payloads);
        let (Some(sa_p), Some(ke), Some(nr)) = (f.sa, f.ke, f.nonce) else {
            return self.sa_init_bad_answer(now, i, "a response without SA, KE or Nonce");
        };
        let Some((choice, _)) = accept_ike_answer(sa_p, &self.policy.phase1) else {
            let d = format!("the peer chose {}, which we did not offer", describe(sa_p));
            return self.sa_init_bad_answer(now, i, &d);
        };
        if choice.group != sent_group || ke.group != sent_group.id() {
            return self.sa_init_bad_answer(now, i, "the peer's KE group is not the one we sent");
        }
        if choice.post_quantum() && !n.intermediate {
            let d = "additional key exchanges chosen without INTERMEDIATE_EXCHANGE_SUPPORTED";
            return self.sa_init_bad_answer(now, i, d);
        }
        if let Err(d) = self.post_quantum_verdict(&choice, remote.ip(), true, || choice.name()) {
            self.io.fail(Diagnostic::Ikev2(d));
            self.sas.remove(i);
            return self.schedule_reinit(now);
        }
        let SaState::InitSent(st) = std::mem::replace(&mut self.sas[i].state, SaState::Established)
        else {
            return;
        };
        let Ok(g_ir) = st.dh.shared_secret(ke.data) else {
            return self.sa_init_bad_answer(now, i, "the peer's KE value is invalid");
        };
        let spi_r = h.rspi;
        let Some(keys) = derive(choice, &st.ni, nr, &g_ir, &self.sas[i].spi_i, &spi_r) else {
            return self.sa_init_bad_answer(now, i, "key derivation failed");
        };
        let local = SocketAddr::new(self.policy.local, 500);
        let mut sa = std::mem::replace(
            &mut self.sas[i],
            IkeSa::new([0; 8], true, SaState::Established, remote, now),
        );
        sa.spi_r = spi_r;
        let spi_i = sa.spi_i;
        self.detect_nat(&mut sa, (&spi_i, &spi_r), &n, local, remote);
        sa.fragmentation = n.fragmentation && self.policy.fragmentation;
        sa.peer_sig_hashes = n
            .signature_hashes
            .map(parse_signature_hashes)
            .unwrap_or_default();
        sa.choice = Some(choice);
        sa.keys = Some(keys);
        sa.request = None;
        if sa.nat.local_behind_nat || sa.nat.peer_behind_nat {
            sa.local_port = NAT_T_PORT;
            sa.peer = SocketAddr::new(remote.ip(), NAT_T_PORT);
            sa.nat.floated = true;
        }
        self.sas[i] = sa;
        let hs = Handshake {
            ni: st.ni,
            nr: nr.to_vec(),
            init_request: st.request,
            init_response: msg.to_vec(),
        };
        let rounds = choice.rounds();
        if rounds.is_empty() {
            self.start_auth(now, i, hs, &IntAuth::default());
        } else {
            self.start_intermediate(now, i, hs, rounds.into(), IntAuth::default());
        }
    }

    fn sa_init_refused(
        &mut self,
        now: Instant,
        i: usize,
        kind: NotifyType,
        data: &[u8],
        sent: DhGroup,
        remote: SocketAddr,
    ) {
        let configured = &self.policy.phase1.dh_groups;
        let names = configured
            .iter()
            .map(|g| g.name())
            .collect::<Vec<_>>()
            .join(", ");
        let spi = self.sas[i].spi_i;
        if kind == NotifyType::INVALID_KE_PAYLOAD {
            let asked = data.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
            let group = asked
                .and_then(DhGroup::from_id)
                .filter(|g| configured.contains(g) && *g != sent);
            let asked_name = asked
                .map(|a| DhGroup::from_id(a).map_or(format!("group {a}"), |g| g.name().to_string()))
                .unwrap_or_else(|| "an unnamed group".into());
            let d = V2Diagnostic::InvalidKe {
                asked: asked_name,
                sent: sent.name().into(),
                retried: group.is_some(),
                configured: names,
            };
            if let Some(g) = group {
                info!("{d}");
                self.io.last_error = Some(d.to_string());
                return self.start_ike_sa(now, g, Some(spi), None);
            }
            self.io.fail(Diagnostic::Ikev2(d));
        } else if kind == NotifyType::NO_PROPOSAL_CHOSEN {
            let offered = describe(&ike_offer(&self.policy.phase1, &[]));
            self.io
                .fail(Diagnostic::Ikev2(V2Diagnostic::ProposalRejected {
                    what: "IKE SA",
                    offered,
                    peer: remote.ip(),
                }));
        } else {
            self.io.fail(Diagnostic::Ikev2(V2Diagnostic::PeerNotify {
                notify: kind.to_string(),
                during: "IKE_SA_INIT",
                peer: remote.ip(),
            }));
        }
        self.sas.remove(i);
        self.schedule_reinit(now);
    }

    fn sa_init_bad_answer(&mut self, now: Instant, i: usize, detail: &str) {
        self.io.fail(Diagnostic::Phase1BadAnswer {
            detail: format!("IKEv2 IKE_SA_INIT: {detail}"),
        });
        self.sas.remove(i);
        self.schedule_reinit(now);
    }

    /// Responder: a new IKE_SA_INIT request (or a retransmission of one we answered).
    pub(super) fn on_sa_init_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        h: &HeaderRepr,
        msg: &[u8],
    ) {
        if h.message_id != 0 || !h.flags.initiator() {
            self.io.stats.dropped_malformed += 1;
            return;
        }
        if let Some(sa) = self
            .sas
            .iter()
            .find(|s| s.spi_i == h.ispi && !s.original_initiator && s.peer.ip() == remote.ip())
        {
            if let Some((0, d)) = &sa.last_response {
                self.io.stats.duplicates_answered += 1;
                let (p, d) = (sa.local_port, d.clone());
                for x in d {
                    self.io.send(p, remote, x);
                }
            }
            return;
        }
        let body = msg.get(HEADER_LEN..).unwrap_or_default();
        let Ok(payloads) = Payload::parse_chain(body, h.next_payload) else {
            self.io.stats.dropped_malformed += 1;
            return;
        };
        let f = Found::of(&payloads);
        let (Some(sa_p), Some(ke), Some(ni)) = (f.sa, f.ke, f.nonce) else {
            self.io.stats.dropped_malformed += 1;
            return;
        };
        let n = notifies(&payloads);
        if self.wants_cookies() {
            let admitted =
                self.cookies
                    .admit(now, &mut *self.rng, ni, remote.ip(), &h.ispi, n.cookie);
            if let Err(want) = admitted {
                self.io.stats.dropped_half_open_limit += 1;
                return self.answer_plain(h, remote, local.port(), &[&cookie_notify(&want)]);
            }
        }
        if !self.new_sa_rate.allow(now) {
            self.io.stats.dropped_rate_limit += 1;
            return;
        }
        let Some((answer, choice)) = choose_ike(sa_p, &self.policy.phase1, Some(ke.group)) else {
            return self.refuse_sa_init(h, remote, local.port(), sa_p);
        };
        if let Err(d) = self.post_quantum_verdict(&choice, remote.ip(), false, || describe(sa_p)) {
            self.io.fail(Diagnostic::Ikev2(d));
            let n = notify(NotifyType::NO_PROPOSAL_CHOSEN, &[]);
            return self.answer_plain(h, remote, local.port(), &[&n]);
        }
        if choice.post_quantum() && !n.intermediate {
            self.io.stats.dropped_malformed += 1;
            let n = notify(NotifyType::INVALID_SYNTAX, &[]);
            return self.answer_plain(h, remote, local.port(), &[&n]);
        }
        if ke.group != choice.group.id() {
            info!(
                asked = ke.group,
                want = choice.group.name(),
                "IKEv2: answering INVALID_KE_PAYLOAD"
            );
            let g = choice.group.id().to_be_bytes();
            return self.answer_plain(
                h,
                remote,
                local.port(),
                &[&notify(NotifyType::INVALID_KE_PAYLOAD, &g)],
            );
        }
        let dh = self.dh(choice.group);
        let Ok(g_ir) = dh.shared_secret(ke.data) else {
            self.io.stats.dropped_malformed += 1;
            return;
        };
        let spi_r = self.new_ike_spi();
        let nr = self.nonce();
        let Some(keys) = derive(choice, ni, &nr, &g_ir, &h.ispi, &spi_r) else {
            return;
        };
        let mut sa = IkeSa::new(h.ispi, false, SaState::Established, remote, now);
        sa.spi_r = spi_r;
        sa.local_port = local.port();
        self.detect_nat(
            &mut sa,
            (&h.ispi, &[0; 8]),
            &n,
            SocketAddr::new(self.policy.local, local.port()),
            remote,
        );
        sa.fragmentation = n.fragmentation && self.policy.fragmentation;
        sa.peer_sig_hashes = n
            .signature_hashes
            .map(parse_signature_hashes)
            .unwrap_or_default();
        sa.choice = Some(choice);
        sa.keys = Some(keys);
        sa.expected_request_id = 1;
        let our_local = SocketAddr::new(self.policy.local, local.port());
        let nat = self.nat_payload_data(&h.ispi, &spi_r, our_local, remote);
        let header = HeaderRepr {
            ispi: h.ispi,
            rspi: spi_r,
            next_payload: PayloadType::NO_NEXT,
            minor_version: 0,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: Flags(Flags::RESPONSE),
            message_id: 0,
        };
        let sa_answer = SaRepr {
            proposals: vec![answer],
        };
        let ke_out = KeRepr {
            group: choice.group.id(),
            data: dh.public_value(),
        };
        let nonce = NonceRepr { nonce: &nr };
        let nat_n: Vec<NotifyRepr<'_>> = nat.iter().map(|(k, d)| notify(*k, d)).collect();
        let frag = notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, &[]);
        let intermediate = notify(NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED, &[]);
        let certreq_data = certificate_request_data(&self.policy);
        let certreq = certreq_data.as_deref().map(|d| x509_payload(true, d));
        let hashes = signature_hashes_data();
        let sig_n = notify(NotifyType::SIGNATURE_HASH_ALGORITHMS, &hashes);
        let mut out: Vec<&dyn PayloadRepr> = vec![&sa_answer, &ke_out, &nonce];
        out.extend(nat_n.iter().map(|x| x as &dyn PayloadRepr));
        if let Some(c) = &certreq {
            out.push(c);
        }
        if sa.fragmentation {
            out.push(&frag);
        }
        if choice.post_quantum() {
            out.push(&intermediate);
        }
        if self.policy.auth.certificate().is_some() {
            out.push(&sig_n);
        }
        let Ok(response) = plain(&header, &out) else {
            return;
        };
        info!(peer = %remote, proposal = %choice.name(), "IKEv2: answered IKE_SA_INIT");
        sa.state = SaState::InitAnswered(Box::new(InitAnswered {
            ni: ni.to_vec(),
            nr,
            init_request: msg.to_vec(),
            init_response: response.clone(),
            intermediate: Rounds {
                pending: choice.rounds().into(),
                int_auth: IntAuth::default(),
            },
        }));
        sa.last_response = Some((0, vec![response.clone()]));
        self.io.send(local.port(), remote, response);
        self.add_ike_sa(sa);
    }

    fn refuse_sa_init(&mut self, h: &HeaderRepr, remote: SocketAddr, port: u16, sa_p: &SaRepr) {
        let mut configured = describe(&ike_offer(&self.policy.phase1, &[]));
        // Every proposal of the peer has an ML-KEM round and we offer none: say what to set.
        let peer_requires_addke = !sa_p.proposals.is_empty()
            && sa_p
                .proposals
                .iter()
                .all(|p| (p.transforms.iter()).any(|t| (6..=12).contains(&t.kind.0) && t.id != 0));
        if peer_requires_addke && self.policy.phase1.additional_kes.is_empty() {
            configured.push_str(
                " without additional key exchanges (the peer requires ML-KEM: set \
                 `post-quantum: required` or `proposal.phase1.additional-key-exchanges`)",
            );
        }
        self.io
            .fail(Diagnostic::Ikev2(V2Diagnostic::ProposalMismatch {
                what: "IKE SA",
                received: describe(sa_p),
                configured,
            }));
        self.answer_plain(
            h,
            remote,
            port,
            &[&notify(NotifyType::NO_PROPOSAL_CHOSEN, &[])],
        );
    }

    /// An unencrypted IKE_SA_INIT response keeping no state (errors, COOKIE requests).
    fn answer_plain(
        &mut self,
        h: &HeaderRepr,
        remote: SocketAddr,
        port: u16,
        payloads: &[&dyn PayloadRepr],
    ) {
        if let Some(m) = plain_answer(h, payloads) {
            self.io.send(port, remote, m);
        }
    }
}

/// SKEYSEED and the IKE SA keys of a new IKE SA.
fn derive(
    choice: IkeChoice,
    ni: &[u8],
    nr: &[u8],
    g_ir: &Zeroizing<Vec<u8>>,
    spi_i: &[u8; 8],
    spi_r: &[u8; 8],
) -> Option<IkeSaKeys> {
    let seed = skeyseed(choice.suite.prf, ni, nr, g_ir);
    IkeSaKeys::derive(choice.suite, &seed, ni, nr, spi_i, spi_r).ok()
}
