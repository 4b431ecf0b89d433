//! Aggressive Mode (RFC 2409 §5.4) with pre-shared keys, both roles. Three messages instead of
//! six; identities travel in the clear, and HASH_R in message 2 lets an eavesdropper test PSK
//! guesses offline (VU#857035) — the engine warns once.
//!
//! ```text
//! Initiator                                        Responder
//! HDR, SA, KE, Ni, IDii, VID...            -->                       AmInitiatorSent
//!                   <--  HDR, SA, KE, Nr, IDir, HASH_R [, NAT-D x2], VID...   AmResponderSent
//! HDR[*], HASH_I [, NAT-D x2]              -->     (port 4500 when a NAT was detected)
//! ```
//!
//! The third message is sent encrypted by default (strongSwan, OpenSWAN) or in the clear
//! (YAMAHA RTX, racoon), as configured; both forms are accepted.

use crate::ike::proposal::{check_phase1_answer, phase1_offer, phase1_sa};
use crate::wire::isakmp::{
    ExchangeType, Flags, HeaderRepr, NotifyType, PayloadChain, PayloadType, SaPayload,
};

use super::super::isakmp_sa::IsakmpSa;
use super::super::keys::Phase1Keys;
use super::super::message::{identity_body, Msg};
use super::super::{new_cookie, Ctx, DropReason, Fault, NotifySpec};
use super::*;

/// Initiator, message 1 sent, waiting for message 2.
pub(crate) struct AmInitiatorSent {
    icookie: [u8; 8],
    sai_b: Vec<u8>,
    offer: Vec<Phase1Proposal>,
    dh: DhPrivate,
    ni: Vec<u8>,
}

/// Responder, message 2 sent, waiting for message 3.
pub(crate) struct AmResponderSent {
    common: Authenticating,
    peer: Identity,
    /// The initiator's ID payload body as sent (HASH_I covers it with its protocol and port:
    /// vpnc sends UDP/500).
    peer_id_b: Vec<u8>,
    /// Our address and the initiator's as seen on message 1 (for NAT-D in message 3).
    first_local: std::net::SocketAddr,
    first_remote: std::net::SocketAddr,
}

/// Initiator after message 2: the ISAKMP SA and message 3, and whether to float to 4500.
pub(crate) struct AmInitiatorDone {
    /// The established SA.
    pub sa: IsakmpSa,
    /// Message 3.
    pub msg3: Vec<u8>,
    /// Send message 3 (and everything after) from port 4500.
    pub float: bool,
}

fn am_header(icookie: [u8; 8], rcookie: [u8; 8], first: PayloadType, flags: u8) -> HeaderRepr {
    HeaderRepr {
        icookie,
        rcookie,
        next_payload: first,
        exchange: ExchangeType::AGGRESSIVE,
        flags: Flags(flags),
        message_id: 0,
    }
}

impl AmInitiatorSent {
    /// Builds message 1: SA (every transform with the configured group), KE, Ni, IDii,
    /// vendor IDs.
    pub fn start(ctx: &mut Ctx<'_>) -> (AmInitiatorSent, Vec<u8>) {
        let icookie = new_cookie(ctx.rng);
        let offer = phase1_offer(&ctx.policy.phase1, phase1_auth(ctx.policy));
        let sai_b = phase1_sa(&offer).emit();
        let group = ctx.policy.phase1.dh_group;
        let secret = random_bytes(ctx.rng, group.secret_len());
        let dh = DhPrivate::from_secret(group, &secret);
        let ni = random_bytes(ctx.rng, NONCE_LEN);
        let id = identity_body(&ctx.policy.my_identity());
        let mut chain = PayloadChain::new();
        chain
            .push(PayloadType::SA, &sai_b)
            .push(PayloadType::KE, dh.public_value())
            .push(PayloadType::NONCE, &ni)
            .push(PayloadType::ID, &id);
        push_vendor_ids(&mut chain, ctx.policy, None);
        let (first, bytes) = chain.into_parts();
        let msg = am_header(icookie, [0; 8], first, 0).emit_with_body(&bytes);
        (
            AmInitiatorSent {
                icookie,
                sai_b,
                offer,
                dh,
                ni,
            },
            msg,
        )
    }

    /// Our cookie.
    pub fn icookie(&self) -> [u8; 8] {
        self.icookie
    }

    /// What we offered, as text.
    pub fn offer_text(&self) -> String {
        offer_text(&self.offer)
    }

    /// Handles message 2 (verifies HASH_R and the responder's identity) and builds message 3.
    pub fn on_msg2(
        self,
        ctx: &mut Ctx<'_>,
        hdr: &HeaderRepr,
        msg: &Msg<'_>,
        encrypt_third: bool,
    ) -> Result<AmInitiatorDone, Fault<AmInitiatorSent>> {
        let (Some(sa), Some((gxr, nr)), Some(id), Some(hash_r)) = (
            msg.find(PayloadType::SA),
            ke_and_nonce(msg),
            msg.find(PayloadType::ID),
            msg.find(PayloadType::HASH),
        ) else {
            return Err(Fault::Ignore(self, DropReason::Unexpected));
        };
        let sa = SaPayload::parse(sa.body).map_err(|e| {
            Fault::Fail(
                Diagnostic::Phase1BadAnswer {
                    detail: format!("SA payload {e}"),
                },
                None,
            )
        })?;
        let proposal = check_phase1_answer(&sa, &self.offer).map_err(|d| Fault::Fail(d, None))?;
        let rcookie = hdr.rcookie;
        let vids = vendor_ids(msg);
        let method = vids.method(ctx.policy.nat_traversal);
        let gxy = self
            .dh
            .shared_secret(gxr)
            .map_err(|e| Fault::Fail(bad_ke(e), None))?;
        let keys = Phase1Keys::derive(
            &proposal,
            &ctx.policy.psk,
            &self.ni,
            nr,
            &gxy,
            &self.icookie,
            &rcookie,
        );
        let nat = detect_nat(ctx, msg, method, &proposal, &self.icookie, &rcookie);
        let gxi = self.dh.public_value().to_vec();
        let iv = keys.phase1_iv(&gxi, gxr);
        let mut common = Authenticating {
            icookie: self.icookie,
            rcookie,
            sai_b: self.sai_b,
            proposal,
            keys,
            gxi,
            gxr: gxr.to_vec(),
            iv,
            vids,
            method,
            nat,
        };
        let expected = common.keys.hash_r(&common.transcript(), id.body);
        if !ct_eq(&expected, hash_r.body) {
            return Err(Fault::Fail(
                Diagnostic::AuthFailed {
                    side: AuthSide::HashR,
                    garbage: false,
                },
                None,
            ));
        }
        let peer = parse_identity(id.body).map_err(|d| Fault::Fail(d, None))?;
        check_peer_identity(ctx.policy, &peer, nat).map_err(|(_, d)| Fault::Fail(d, None))?;
        // Message 3: HASH_I (and NAT-D), from port 4500 when floating.
        let float = method != NatTMethod::None && nat.any();
        let my_id = identity_body(&ctx.policy.my_identity());
        let hash_i = common.keys.hash_i(&common.transcript(), &my_id);
        let mut chain = PayloadChain::new();
        chain.push(PayloadType::HASH, &hash_i);
        // NAT-D hashes use the addresses of messages 1 and 2 (port 500).
        push_nat_d(ctx, &mut chain, method, &proposal, &self.icookie, &rcookie);
        let (first, bytes) = chain.into_parts();
        let msg3 = if encrypt_third {
            let (ct, next_iv) = common.keys.encrypt(&common.iv, &bytes);
            common.iv = next_iv;
            am_header(self.icookie, rcookie, first, Flags::ENCRYPTION).emit_with_body(&ct)
        } else {
            am_header(self.icookie, rcookie, first, 0).emit_with_body(&bytes)
        };
        let last = common.iv.clone();
        Ok(AmInitiatorDone {
            sa: common.into_sa(last, peer, false, None),
            msg3,
            float,
        })
    }
}

impl AmResponderSent {
    /// The keys of the exchange (for the transcript's plaintexts).
    pub(crate) fn keys(&self) -> &Phase1Keys {
        &self.common.keys
    }

    /// Handles message 1: selects a transform, checks the initiator's identity, builds
    /// message 2 (with HASH_R).
    pub fn on_msg1(
        ctx: &mut Ctx<'_>,
        hdr: &HeaderRepr,
        msg: &Msg<'_>,
    ) -> Result<(AmResponderSent, Vec<u8>), Fault<()>> {
        let rcookie = new_cookie(ctx.rng);
        let notify = |k| Some(NotifySpec::isakmp(k, &hdr.icookie, &rcookie));
        let malformed = |d: String| {
            Fault::Fail(
                Diagnostic::Malformed { detail: d },
                notify(NotifyType::PAYLOAD_MALFORMED),
            )
        };
        let (Some(sa_p), Some((gxi, ni)), Some(id)) = (
            msg.find(PayloadType::SA),
            ke_and_nonce(msg),
            msg.find(PayloadType::ID),
        ) else {
            return Err(malformed(
                "Aggressive Mode message 1 needs SA, KE, nonce and ID payloads".into(),
            ));
        };
        let (proposal, reply) = choose_phase1(sa_p.body, ctx, notify)?;
        let vids = vendor_ids(msg);
        let method = vids.method(ctx.policy.nat_traversal);
        let peer = parse_identity(id.body).map_err(|d| Fault::Fail(d, None))?;
        let secret = random_bytes(ctx.rng, proposal.group.secret_len());
        let dh = DhPrivate::from_secret(proposal.group, &secret);
        let gxy = dh
            .shared_secret(gxi)
            .map_err(|e| Fault::Fail(bad_ke(e), notify(NotifyType::INVALID_KEY_INFORMATION)))?;
        let nr = random_bytes(ctx.rng, NONCE_LEN);
        let keys = Phase1Keys::derive(
            &proposal,
            &ctx.policy.psk,
            ni,
            &nr,
            &gxy,
            &hdr.icookie,
            &rcookie,
        );
        let gxr = dh.public_value().to_vec();
        let iv = keys.phase1_iv(gxi, &gxr);
        let common = Authenticating {
            icookie: hdr.icookie,
            rcookie,
            sai_b: sa_p.body.to_vec(),
            proposal,
            keys,
            gxi: gxi.to_vec(),
            gxr,
            iv,
            vids,
            method,
            nat: NatDetection::default(),
        };
        let my_id = identity_body(&ctx.policy.my_identity());
        let hash_r = common.keys.hash_r(&common.transcript(), &my_id);
        let mut chain = PayloadChain::new();
        chain
            .push(PayloadType::SA, &reply.emit())
            .push(PayloadType::KE, &common.gxr)
            .push(PayloadType::NONCE, &nr)
            .push(PayloadType::ID, &my_id)
            .push(PayloadType::HASH, &hash_r);
        push_vendor_ids(&mut chain, ctx.policy, Some((&vids, method)));
        push_nat_d(ctx, &mut chain, method, &proposal, &hdr.icookie, &rcookie);
        let (first, bytes) = chain.into_parts();
        let out = am_header(hdr.icookie, rcookie, first, 0).emit_with_body(&bytes);
        Ok((
            AmResponderSent {
                common,
                peer,
                peer_id_b: id.body.to_vec(),
                first_local: ctx.local,
                first_remote: ctx.remote,
            },
            out,
        ))
    }

    /// The cookies.
    pub fn cookies(&self) -> ([u8; 8], [u8; 8]) {
        (self.common.icookie, self.common.rcookie)
    }

    /// The chosen suite.
    pub fn proposal(&self) -> &Phase1Proposal {
        &self.common.proposal
    }

    /// Handles message 3, encrypted or in the clear: verifies HASH_I, detects NAT, checks the
    /// initiator's identity. Returns the SA and whether the peer floated to 4500.
    pub fn on_msg3(
        mut self,
        ctx: &mut Ctx<'_>,
        hdr: &HeaderRepr,
        body: &[u8],
    ) -> Result<IsakmpSa, Fault<AmResponderSent>> {
        let (plain, last) = if hdr.flags.encrypted() {
            match self.common.keys.decrypt(&self.common.iv, body) {
                Some(x) => x,
                None => return Err(Fault::Ignore(self, DropReason::Malformed)),
            }
        } else {
            (body.to_vec(), self.common.iv.clone())
        };
        let Ok(msg) = Msg::parse(&plain, hdr.next_payload) else {
            return Err(Fault::Ignore(self, DropReason::Malformed));
        };
        let Some(hash) = msg.find(PayloadType::HASH) else {
            return Err(Fault::Ignore(self, DropReason::Malformed));
        };
        let expected = self
            .common
            .keys
            .hash_i(&self.common.transcript(), &self.peer_id_b);
        if !ct_eq(&expected, hash.body) {
            return Err(Fault::Fail(
                Diagnostic::AuthFailed {
                    side: AuthSide::HashI,
                    garbage: hdr.flags.encrypted(),
                },
                None,
            ));
        }
        // NAT-D hashes refer to the port-500 addresses of message 1.
        let nat_ctx = Ctx {
            policy: ctx.policy,
            rng: &mut *ctx.rng,
            local: self.first_local,
            remote: self.first_remote,
            now_unix: None,
            fetch_crl: None,
        };
        self.common.nat = detect_nat(
            &nat_ctx,
            &msg,
            self.common.method,
            &self.common.proposal,
            &self.common.icookie,
            &self.common.rcookie,
        );
        if let Err((_, d)) = check_peer_identity(ctx.policy, &self.peer, self.common.nat) {
            return Err(Fault::Fail(d, None));
        }
        let peer = self.peer.clone();
        Ok(self.common.into_sa(last, peer, false, None))
    }
}

/// The initiator's identity (IDii) in `datagram` when it is an Aggressive Mode message 1 (clear,
/// no responder cookie, message ID 0), else `None`. For choosing, before any key exists, which
/// tunnel a peer with an unconfigured address belongs to; nothing here is authenticated yet.
pub fn aggressive_initiator_identity(datagram: &[u8]) -> Option<Identity> {
    let h = crate::wire::isakmp::Header::new_checked(datagram).ok()?;
    let hdr = h.repr();
    if h.major_version() != 1
        || hdr.exchange != ExchangeType::AGGRESSIVE
        || hdr.rcookie != [0; 8]
        || hdr.message_id != 0
        || hdr.flags.encrypted()
    {
        return None;
    }
    let msg = Msg::parse(h.body(), hdr.next_payload).ok()?;
    parse_identity(msg.find(PayloadType::ID)?.body).ok()
}
