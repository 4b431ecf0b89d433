//! Main Mode (Identity Protection, RFC 2409 §5) with pre-shared keys, both roles.
//!
//! ```text
//! Initiator                          Responder
//! HDR, SA, VID...            -->                       MmInitiatorSentSa
//!                            <--     HDR, SA, VID...   MmResponderSentSa
//! HDR, KE, Ni [, NAT-D x2]   -->                       MmInitiatorSentKe
//!                            <--     HDR, KE, Nr [, NAT-D x2]   MmResponderSentKe
//! HDR*, IDii, HASH_I         -->     (port 4500 from here when a NAT was detected)
//!                            <--     HDR*, IDir, HASH_R        → IsakmpSa on both sides
//! ```

use std::net::SocketAddr;

use crate::crypto::dh::DhPrivate;
use crate::ike::diagnostic::{AuthSide, Diagnostic};
use crate::ike::policy::{Identity, IkePolicy, NatTraversal};
use crate::ike::proposal::{
    check_phase1_answer, phase1_offer, phase1_sa, select_phase1, Phase1Proposal, Reject,
};
use crate::ike::random::random_bytes;
use crate::wire::isakmp::{
    ExchangeType, Flags, HeaderRepr, IdPayload, NotifyPayload, NotifyType, PayloadChain,
    PayloadType, SaPayload, DOI_IPSEC,
};

use super::isakmp_sa::IsakmpSa;
use super::keys::{MmTranscript, Phase1Keys};
use super::message::{identity_body, identity_from, Msg};
use super::nat::{self, NatDetection, NatTMethod, PeerVendorIds};
use super::{ct_eq, new_cookie, Ctx, DropReason, Fault, NotifySpec};

/// Nonce length we send (strongSwan sends 32 bytes too).
const NONCE_LEN: usize = 32;

/// Message 5/6 checked: (peer identity, INITIAL-CONTACT seen, next IV), or why not (with a drop
/// reason when the input is only to be ignored).
type AuthOutcome = Result<(Identity, bool, Vec<u8>), (Option<DropReason>, Diagnostic)>;

/// Initiator, message 1 sent, waiting for message 2.
pub(crate) struct MmInitiatorSentSa {
    icookie: [u8; 8],
    sai_b: Vec<u8>,
    offer: Vec<Phase1Proposal>,
}

/// Initiator, message 3 sent, waiting for message 4.
pub(crate) struct MmInitiatorSentKe {
    icookie: [u8; 8],
    rcookie: [u8; 8],
    sai_b: Vec<u8>,
    proposal: Phase1Proposal,
    dh: DhPrivate,
    ni: Vec<u8>,
    vids: PeerVendorIds,
    method: NatTMethod,
}

/// Initiator, message 5 sent, waiting for message 6.
pub(crate) struct MmInitiatorSentAuth {
    common: Authenticating,
}

/// Responder, message 2 sent, waiting for message 3.
pub(crate) struct MmResponderSentSa {
    icookie: [u8; 8],
    rcookie: [u8; 8],
    sai_b: Vec<u8>,
    proposal: Phase1Proposal,
    vids: PeerVendorIds,
    method: NatTMethod,
}

/// Responder, message 4 sent, waiting for message 5.
pub(crate) struct MmResponderSentKe {
    common: Authenticating,
}

/// What both roles hold between the key exchange and authentication.
struct Authenticating {
    icookie: [u8; 8],
    rcookie: [u8; 8],
    sai_b: Vec<u8>,
    proposal: Phase1Proposal,
    keys: Phase1Keys,
    gxi: Vec<u8>,
    gxr: Vec<u8>,
    /// IV for the next encrypted Main Mode message.
    iv: Vec<u8>,
    vids: PeerVendorIds,
    method: NatTMethod,
    nat: NatDetection,
}

impl Authenticating {
    fn transcript(&self) -> MmTranscript<'_> {
        MmTranscript {
            gxi: &self.gxi,
            gxr: &self.gxr,
            cky_i: &self.icookie,
            cky_r: &self.rcookie,
            sai_b: &self.sai_b,
        }
    }

    fn header(&self, first: PayloadType, flags: u8) -> HeaderRepr {
        HeaderRepr {
            icookie: self.icookie,
            rcookie: self.rcookie,
            next_payload: first,
            exchange: ExchangeType::IDENTITY_PROTECTION,
            flags: Flags(flags),
            message_id: 0,
        }
    }

    fn into_sa(self, last_block: Vec<u8>, peer: Identity, initial_contact: bool) -> IsakmpSa {
        IsakmpSa {
            icookie: self.icookie,
            rcookie: self.rcookie,
            keys: self.keys,
            last_block,
            proposal: self.proposal,
            peer_identity: peer,
            nat_t: self.method,
            nat: self.nat,
            peer_dpd: self.vids.dpd,
            initial_contact,
        }
    }

    /// Decrypts and checks message 5 or 6: returns the peer's identity, whether it carried
    /// INITIAL-CONTACT, and the IV after it.
    fn open_auth(
        &self,
        policy: &IkePolicy,
        body: &[u8],
        first: PayloadType,
        side: AuthSide,
    ) -> AuthOutcome {
        let garbage = Diagnostic::AuthFailed {
            side,
            garbage: true,
        };
        let (plain, next_iv) = self
            .keys
            .decrypt(&self.iv, body)
            .ok_or((Some(DropReason::Malformed), garbage.clone()))?;
        let msg = Msg::parse(&plain, first).map_err(|_| (None, garbage.clone()))?;
        let (id, hash) = match (msg.find(PayloadType::ID), msg.find(PayloadType::HASH)) {
            (Some(i), Some(h)) => (i, h),
            _ => return Err((None, garbage)),
        };
        let t = self.transcript();
        let expected = match side {
            AuthSide::HashR => self.keys.hash_r(&t, id.body),
            AuthSide::HashI => self.keys.hash_i(&t, id.body),
        };
        if !ct_eq(&expected, hash.body) {
            return Err((
                None,
                Diagnostic::AuthFailed {
                    side,
                    garbage: false,
                },
            ));
        }
        let parsed = IdPayload::parse(id.body).map_err(|e| {
            (
                None,
                Diagnostic::Malformed {
                    detail: format!("phase-1 ID payload {e}"),
                },
            )
        })?;
        let peer = identity_from(&parsed).ok_or((
            None,
            Diagnostic::Unsupported {
                detail: format!("phase-1 identity type {}", parsed.id_type),
            },
        ))?;
        check_peer_identity(policy, &peer, self.nat)?;
        let ic = msg.all(PayloadType::NOTIFY).any(|n| {
            NotifyPayload::parse(n.body)
                .map(|n| n.kind == NotifyType::INITIAL_CONTACT)
                .unwrap_or(false)
        });
        Ok((peer, ic, next_iv))
    }

    /// Builds our encrypted message 5 or 6 (ID, HASH) and returns it with the IV after it.
    fn seal_auth(&self, policy: &IkePolicy, side: AuthSide) -> (Vec<u8>, Vec<u8>) {
        let id = identity_body(&policy.my_identity());
        let t = self.transcript();
        let hash = match side {
            AuthSide::HashI => self.keys.hash_i(&t, &id),
            AuthSide::HashR => self.keys.hash_r(&t, &id),
        };
        let mut chain = PayloadChain::new();
        chain
            .push(PayloadType::ID, &id)
            .push(PayloadType::HASH, &hash);
        let (first, bytes) = chain.into_parts();
        let (ct, next_iv) = self.keys.encrypt(&self.iv, &bytes);
        (
            self.header(first, Flags::ENCRYPTION).emit_with_body(&ct),
            next_iv,
        )
    }
}

fn check_peer_identity(
    policy: &IkePolicy,
    peer: &Identity,
    nat: NatDetection,
) -> Result<(), (Option<DropReason>, Diagnostic)> {
    let expected = policy
        .peer_id
        .clone()
        .unwrap_or(Identity::Address(policy.remote));
    let natted_address =
        policy.peer_id.is_none() && nat.any() && matches!(peer, Identity::Address(_));
    if *peer == expected || natted_address {
        return Ok(());
    }
    Err((
        None,
        Diagnostic::IdentityMismatch {
            received: peer.to_string(),
            expected: expected.to_string(),
        },
    ))
}

fn header(icookie: [u8; 8], rcookie: [u8; 8], first: PayloadType) -> HeaderRepr {
    HeaderRepr {
        icookie,
        rcookie,
        next_payload: first,
        exchange: ExchangeType::IDENTITY_PROTECTION,
        flags: Flags(0),
        message_id: 0,
    }
}

fn vendor_ids(msg: &Msg<'_>) -> PeerVendorIds {
    let mut v = PeerVendorIds::default();
    for p in msg.all(PayloadType::VENDOR_ID) {
        v.add(p.body);
    }
    v
}

/// Appends the two NAT-D payloads: the peer's address as we send to it, then ours (random
/// bytes when NAT-T is forced, so that the peer sees "us" behind a NAT).
fn push_nat_d(
    ctx: &mut Ctx<'_>,
    chain: &mut PayloadChain,
    m: NatTMethod,
    p: &Phase1Proposal,
    ci: &[u8; 8],
    cr: &[u8; 8],
) {
    if m == NatTMethod::None {
        return;
    }
    let remote = nat::nat_d_hash(p.hash, ci, cr, ctx.remote);
    let local = if ctx.policy.nat_traversal == NatTraversal::Force {
        random_bytes(ctx.rng, p.hash.output_len())
    } else {
        nat::nat_d_hash(p.hash, ci, cr, ctx.local)
    };
    chain
        .push(m.nat_d_type(), &remote)
        .push(m.nat_d_type(), &local);
}

fn detect_nat(
    ctx: &Ctx<'_>,
    msg: &Msg<'_>,
    m: NatTMethod,
    p: &Phase1Proposal,
    ci: &[u8; 8],
    cr: &[u8; 8],
) -> NatDetection {
    if m == NatTMethod::None {
        return NatDetection::default();
    }
    let received: Vec<&[u8]> = msg
        .payloads
        .iter()
        .filter(|x| x.kind == PayloadType::NAT_D || x.kind == PayloadType::NAT_D_DRAFT)
        .map(|x| x.body)
        .collect();
    if received.is_empty() {
        return NatDetection::default();
    }
    let mut d = nat::detect(p.hash, ci, cr, &received, ctx.local, ctx.remote);
    if ctx.policy.nat_traversal == NatTraversal::Force {
        d.local_behind = true;
    }
    d
}

fn ke_and_nonce<'a>(msg: &Msg<'a>) -> Option<(&'a [u8], &'a [u8])> {
    let ke = msg.find(PayloadType::KE)?.body;
    let n = msg.find(PayloadType::NONCE)?.body;
    (8..=256).contains(&n.len()).then_some((ke, n))
}

fn bad_ke(e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::Malformed {
        detail: format!("key exchange payload: {e}"),
    }
}

impl MmInitiatorSentSa {
    /// Builds message 1 (SA with our offer, vendor IDs).
    pub fn start(ctx: &mut Ctx<'_>) -> (MmInitiatorSentSa, Vec<u8>) {
        let icookie = new_cookie(ctx.rng);
        let offer = phase1_offer(&ctx.policy.phase1);
        let sai_b = phase1_sa(&offer).emit();
        let mut chain = PayloadChain::new();
        chain.push(PayloadType::SA, &sai_b);
        for v in nat::initiator_vids(ctx.policy.nat_traversal) {
            chain.push(PayloadType::VENDOR_ID, v);
        }
        let (first, bytes) = chain.into_parts();
        let msg = header(icookie, [0; 8], first).emit_with_body(&bytes);
        (
            MmInitiatorSentSa {
                icookie,
                sai_b,
                offer,
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
        self.offer
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Handles message 2 and builds message 3.
    pub fn on_msg2(
        self,
        ctx: &mut Ctx<'_>,
        hdr: &HeaderRepr,
        msg: &Msg<'_>,
    ) -> Result<(MmInitiatorSentKe, Vec<u8>), Fault<MmInitiatorSentSa>> {
        let Some(sa) = msg.find(PayloadType::SA) else {
            return Err(Fault::Ignore(self, DropReason::Unexpected));
        };
        let sa = match SaPayload::parse(sa.body) {
            Ok(s) => s,
            Err(e) => {
                return Err(Fault::Fail(
                    Diagnostic::Phase1BadAnswer {
                        detail: format!("SA payload {e}"),
                    },
                    None,
                ))
            }
        };
        let proposal = check_phase1_answer(&sa, &self.offer).map_err(|d| Fault::Fail(d, None))?;
        let vids = vendor_ids(msg);
        let method = vids.method(ctx.policy.nat_traversal);
        let rcookie = hdr.rcookie;
        let secret = random_bytes(ctx.rng, proposal.group.secret_len());
        let dh = DhPrivate::from_secret(proposal.group, &secret);
        let ni = random_bytes(ctx.rng, NONCE_LEN);
        let mut chain = PayloadChain::new();
        chain
            .push(PayloadType::KE, dh.public_value())
            .push(PayloadType::NONCE, &ni);
        push_nat_d(ctx, &mut chain, method, &proposal, &self.icookie, &rcookie);
        let (first, bytes) = chain.into_parts();
        let out = header(self.icookie, rcookie, first).emit_with_body(&bytes);
        Ok((
            MmInitiatorSentKe {
                icookie: self.icookie,
                rcookie,
                sai_b: self.sai_b,
                proposal,
                dh,
                ni,
                vids,
                method,
            },
            out,
        ))
    }
}

impl MmInitiatorSentKe {
    /// The chosen suite.
    pub fn proposal(&self) -> &Phase1Proposal {
        &self.proposal
    }

    /// Handles message 4: derives the keys, detects NAT. The caller decides about floating to
    /// port 4500 and then calls [`MmInitiatorNatChecked::message5`].
    pub fn on_msg4(
        self,
        ctx: &mut Ctx<'_>,
        msg: &Msg<'_>,
    ) -> Result<MmInitiatorNatChecked, Fault<MmInitiatorSentKe>> {
        let Some((gxr, nr)) = ke_and_nonce(msg) else {
            return Err(Fault::Ignore(self, DropReason::Unexpected));
        };
        let gxy = self
            .dh
            .shared_secret(gxr)
            .map_err(|e| Fault::Fail(bad_ke(e), None))?;
        let keys = Phase1Keys::derive(
            &self.proposal,
            &ctx.policy.psk,
            &self.ni,
            nr,
            &gxy,
            &self.icookie,
            &self.rcookie,
        );
        let nat = detect_nat(
            ctx,
            msg,
            self.method,
            &self.proposal,
            &self.icookie,
            &self.rcookie,
        );
        let gxi = self.dh.public_value().to_vec();
        let iv = keys.phase1_iv(&gxi, gxr);
        Ok(MmInitiatorNatChecked {
            common: Authenticating {
                icookie: self.icookie,
                rcookie: self.rcookie,
                sai_b: self.sai_b,
                proposal: self.proposal,
                keys,
                gxi,
                gxr: gxr.to_vec(),
                iv,
                vids: self.vids,
                method: self.method,
                nat,
            },
        })
    }
}

/// Initiator between messages 4 and 5: keys derived, NAT detected, message 5 not yet built.
pub(crate) struct MmInitiatorNatChecked {
    common: Authenticating,
}

impl MmInitiatorNatChecked {
    /// True when NAT-T is in use and a NAT was detected (or forced): float to port 4500.
    pub fn should_float(&self) -> bool {
        self.common.method != NatTMethod::None && self.common.nat.any()
    }

    /// NAT detection result.
    pub fn nat(&self) -> NatDetection {
        self.common.nat
    }

    /// Builds message 5.
    pub fn message5(mut self, ctx: &mut Ctx<'_>) -> (MmInitiatorSentAuth, Vec<u8>) {
        let (out, next_iv) = self.common.seal_auth(ctx.policy, AuthSide::HashI);
        self.common.iv = next_iv;
        (
            MmInitiatorSentAuth {
                common: self.common,
            },
            out,
        )
    }
}

impl MmInitiatorSentAuth {
    /// Tries to open an encrypted informational message that arrived instead of message 6,
    /// with the keys of this negotiation (IV from the last block of our message 5). `None`
    /// when it does not decrypt to a message with a valid HASH(1): the peer's keys differ.
    pub fn open_informational(
        &self,
        hdr: &HeaderRepr,
        body: &[u8],
    ) -> Option<Vec<super::informational::InfoItem>> {
        let c = &self.common;
        let iv = c.keys.message_iv(&c.iv, hdr.message_id);
        let (plain, _) = c.keys.decrypt(&iv, body)?;
        let msg = Msg::parse(&plain, hdr.next_payload).ok()?;
        let (hash, rest) = msg.leading_hash()?;
        let expected = c.keys.prf_a(&[&hdr.message_id.to_be_bytes(), rest]);
        if !ct_eq(&expected, hash) {
            return None;
        }
        super::informational::items(&msg).ok()
    }

    /// Handles message 6: verifies HASH_R and the peer's identity.
    pub fn on_msg6(
        self,
        ctx: &mut Ctx<'_>,
        hdr: &HeaderRepr,
        body: &[u8],
    ) -> Result<IsakmpSa, Fault<MmInitiatorSentAuth>> {
        if !hdr.flags.encrypted() {
            return Err(Fault::Ignore(self, DropReason::Unexpected));
        }
        match self
            .common
            .open_auth(ctx.policy, body, hdr.next_payload, AuthSide::HashR)
        {
            Ok((peer, ic, last)) => Ok(self.common.into_sa(last, peer, ic)),
            Err((Some(r), _)) => Err(Fault::Ignore(self, r)),
            Err((None, d)) => Err(Fault::Fail(d, None)),
        }
    }
}

impl MmResponderSentSa {
    /// Handles message 1: selects a transform and builds message 2.
    pub fn on_msg1(
        ctx: &mut Ctx<'_>,
        hdr: &HeaderRepr,
        msg: &Msg<'_>,
    ) -> Result<(MmResponderSentSa, Vec<u8>), Fault<()>> {
        let rcookie = new_cookie(ctx.rng);
        let notify = |k| Some(NotifySpec::isakmp(k, &hdr.icookie, &rcookie));
        let malformed = |d: String| {
            Fault::Fail(
                Diagnostic::Malformed { detail: d },
                notify(NotifyType::PAYLOAD_MALFORMED),
            )
        };
        let Some(sa_p) = msg.find(PayloadType::SA) else {
            return Err(malformed("Main Mode message 1 without SA payload".into()));
        };
        let sa = SaPayload::parse(sa_p.body).map_err(|e| malformed(format!("SA payload {e}")))?;
        if sa.doi != DOI_IPSEC {
            return Err(Fault::Fail(
                Diagnostic::Unsupported {
                    detail: format!("DOI {}", sa.doi),
                },
                notify(NotifyType::DOI_NOT_SUPPORTED),
            ));
        }
        let (proposal, reply) = match select_phase1(&sa, &ctx.policy.phase1) {
            Ok(x) => x,
            Err(Reject::Malformed(e)) => {
                return Err(Fault::Fail(
                    Diagnostic::Malformed {
                        detail: format!("SA payload {e}"),
                    },
                    notify(NotifyType::BAD_PROPOSAL_SYNTAX),
                ))
            }
            Err(Reject::NoProposal(d)) => {
                return Err(Fault::Fail(d, notify(NotifyType::NO_PROPOSAL_CHOSEN)))
            }
        };
        let vids = vendor_ids(msg);
        let method = vids.method(ctx.policy.nat_traversal);
        let mut chain = PayloadChain::new();
        chain.push(PayloadType::SA, &reply.emit());
        for v in nat::responder_vids(method) {
            chain.push(PayloadType::VENDOR_ID, v);
        }
        let (first, bytes) = chain.into_parts();
        let out = header(hdr.icookie, rcookie, first).emit_with_body(&bytes);
        Ok((
            MmResponderSentSa {
                icookie: hdr.icookie,
                rcookie,
                sai_b: sa_p.body.to_vec(),
                proposal,
                vids,
                method,
            },
            out,
        ))
    }

    /// The cookies.
    pub fn cookies(&self) -> ([u8; 8], [u8; 8]) {
        (self.icookie, self.rcookie)
    }

    /// The chosen suite.
    pub fn proposal(&self) -> &Phase1Proposal {
        &self.proposal
    }

    /// Handles message 3 and builds message 4.
    pub fn on_msg3(
        self,
        ctx: &mut Ctx<'_>,
        msg: &Msg<'_>,
    ) -> Result<(MmResponderSentKe, Vec<u8>), Fault<MmResponderSentSa>> {
        let Some((gxi, ni)) = ke_and_nonce(msg) else {
            return Err(Fault::Ignore(self, DropReason::Unexpected));
        };
        let p = self.proposal;
        let secret = random_bytes(ctx.rng, p.group.secret_len());
        let dh = DhPrivate::from_secret(p.group, &secret);
        let gxy = match dh.shared_secret(gxi) {
            Ok(g) => g,
            Err(e) => {
                let n = NotifySpec::isakmp(
                    NotifyType::INVALID_KEY_INFORMATION,
                    &self.icookie,
                    &self.rcookie,
                );
                return Err(Fault::Fail(bad_ke(e), Some(n)));
            }
        };
        let nr = random_bytes(ctx.rng, NONCE_LEN);
        let keys = Phase1Keys::derive(
            &p,
            &ctx.policy.psk,
            ni,
            &nr,
            &gxy,
            &self.icookie,
            &self.rcookie,
        );
        let nat = detect_nat(ctx, msg, self.method, &p, &self.icookie, &self.rcookie);
        let mut chain = PayloadChain::new();
        chain
            .push(PayloadType::KE, dh.public_value())
            .push(PayloadType::NONCE, &nr);
        push_nat_d(
            ctx,
            &mut chain,
            self.method,
            &p,
            &self.icookie,
            &self.rcookie,
        );
        let (first, bytes) = chain.into_parts();
        let out = header(self.icookie, self.rcookie, first).emit_with_body(&bytes);
        let gxr = dh.public_value().to_vec();
        let iv = keys.phase1_iv(gxi, &gxr);
        Ok((
            MmResponderSentKe {
                common: Authenticating {
                    icookie: self.icookie,
                    rcookie: self.rcookie,
                    sai_b: self.sai_b,
                    proposal: p,
                    keys,
                    gxi: gxi.to_vec(),
                    gxr,
                    iv,
                    vids: self.vids,
                    method: self.method,
                    nat,
                },
            },
            out,
        ))
    }
}

impl MmResponderSentKe {
    /// Handles message 5 (verifies HASH_I and the identity) and builds message 6.
    pub fn on_msg5(
        self,
        ctx: &mut Ctx<'_>,
        hdr: &HeaderRepr,
        body: &[u8],
    ) -> Result<(IsakmpSa, Vec<u8>), Fault<MmResponderSentKe>> {
        if !hdr.flags.encrypted() {
            return Err(Fault::Ignore(self, DropReason::Unexpected));
        }
        let c = &self.common;
        match c.open_auth(ctx.policy, body, hdr.next_payload, AuthSide::HashI) {
            Ok((peer, ic, iv_after_5)) => {
                let mut common = self.common;
                common.iv = iv_after_5;
                let (out, last) = common.seal_auth(ctx.policy, AuthSide::HashR);
                Ok((common.into_sa(last, peer, ic), out))
            }
            Err((Some(r), _)) => Err(Fault::Ignore(self, r)),
            Err((None, d)) => {
                let kind = match d {
                    Diagnostic::IdentityMismatch { .. } => NotifyType::INVALID_ID_INFORMATION,
                    _ => NotifyType::AUTHENTICATION_FAILED,
                };
                let n = NotifySpec::isakmp(kind, &c.icookie, &c.rcookie);
                Err(Fault::Fail(d, Some(n)))
            }
        }
    }
}

/// The address NAT-D uses for us: the configured address with the port the datagram used.
pub(crate) fn local_for(policy: &IkePolicy, port: u16) -> SocketAddr {
    SocketAddr::new(policy.local, port)
}
