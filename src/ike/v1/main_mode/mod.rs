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
use crate::ike::proposal::{select_phase1, Phase1Proposal, Reject};
use crate::ike::random::random_bytes;
use crate::ike::status::PeerCertificate;
use crate::wire::isakmp::{
    ExchangeType, Flags, HeaderRepr, IdPayload, NotifyPayload, NotifyType, PayloadChain,
    PayloadType, SaPayload, SaRepr, DOI_IPSEC,
};

use super::isakmp_sa::IsakmpSa;

mod aggressive;
mod initiator;
mod responder;

pub use aggressive::aggressive_initiator_identity;
pub(crate) use aggressive::{AmInitiatorSent, AmResponderSent};

use super::auth::{self, phase1_auth, PeerRefused};
use super::fragment::VID_FRAGMENTATION;
use super::keys::{MmTranscript, Phase1Keys};
use super::message::{identity_body, identity_from, Msg};
use super::nat::{self, NatDetection, NatTMethod, PeerVendorIds};
use super::{ct_eq, Ctx, DropReason, Fault, NotifySpec};

/// Nonce length we send (strongSwan sends 32 bytes too).
const NONCE_LEN: usize = 32;

/// Message 5/6 checked: the peer, or why not (with a drop reason when the input is only to be
/// ignored).
type AuthOutcome = Result<AuthedPeer, (Option<DropReason>, Diagnostic)>;

/// What a verified message 5/6 told about the peer.
struct AuthedPeer {
    identity: Identity,
    /// It carried INITIAL-CONTACT.
    initial_contact: bool,
    /// The IV after it.
    next_iv: Vec<u8>,
    /// The certificate it authenticated with (signatures only).
    cert: Option<PeerCertificate>,
}

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

impl MmInitiatorSentAuth {
    /// The keys of the exchange (for the transcript's plaintexts).
    pub(crate) fn keys(&self) -> &Phase1Keys {
        &self.common.keys
    }
}

impl MmResponderSentKe {
    /// The keys of the exchange (for the transcript's plaintexts).
    pub(crate) fn keys(&self) -> &Phase1Keys {
        &self.common.keys
    }
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

    fn into_sa(
        self,
        last_block: Vec<u8>,
        peer: Identity,
        initial_contact: bool,
        peer_cert: Option<PeerCertificate>,
    ) -> IsakmpSa {
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
            peer_cert,
        }
    }

    /// Decrypts and checks message 5 or 6: returns the peer's identity, whether it carried
    /// INITIAL-CONTACT, and the IV after it. With signatures the peer's certificate and SIG are
    /// checked too (a CRL to fetch first is asked for in `ctx.fetch_crl`).
    fn open_auth(
        &self,
        ctx: &mut Ctx<'_>,
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
        let Some(id) = msg.find(PayloadType::ID) else {
            return Err((None, garbage));
        };
        let t = self.transcript();
        let expected = match side {
            AuthSide::HashR => self.keys.hash_r(&t, id.body),
            AuthSide::HashI => self.keys.hash_i(&t, id.body),
        };
        let mut cert = None;
        let peer = match ctx.policy.auth.certificate() {
            Some(creds) if self.proposal.auth.is_signature() => {
                let peer = parse_identity(id.body).map_err(|d| (None, d))?;
                let configured = ctx.policy.peer_id.as_ref();
                match auth::verify_peer(creds, &msg, &peer, configured, &expected, ctx.now_unix) {
                    Ok(c) => cert = Some(PeerCertificate::of(&c)),
                    Err(PeerRefused::Refused(d)) => return Err((None, d)),
                    Err(PeerRefused::NeedCrl(url)) => {
                        let d = Diagnostic::Unsupported {
                            detail: format!("waiting for the CRL {url}"),
                        };
                        ctx.fetch_crl = Some(url);
                        return Err((Some(DropReason::AwaitingCrl), d));
                    }
                }
                peer
            }
            _ => {
                let hash = msg.find(PayloadType::HASH).ok_or((None, garbage))?;
                if !ct_eq(&expected, hash.body) {
                    return Err((
                        None,
                        Diagnostic::AuthFailed {
                            side,
                            garbage: false,
                        },
                    ));
                }
                let peer = parse_identity(id.body).map_err(|d| (None, d))?;
                check_peer_identity(ctx.policy, &peer, self.nat)?;
                peer
            }
        };
        let ic = msg.all(PayloadType::NOTIFY).any(|n| {
            NotifyPayload::parse(n.body)
                .map(|n| n.kind == NotifyType::INITIAL_CONTACT)
                .unwrap_or(false)
        });
        Ok(AuthedPeer {
            identity: peer,
            initial_contact: ic,
            next_iv,
            cert,
        })
    }

    /// Builds our encrypted message 5 or 6 (ID and HASH, or ID, CERTs and SIG) and returns it
    /// with the IV after it.
    fn seal_auth(
        &self,
        ctx: &mut Ctx<'_>,
        side: AuthSide,
    ) -> Result<(Vec<u8>, Vec<u8>), Diagnostic> {
        let id = identity_body(&ctx.policy.my_identity());
        let t = self.transcript();
        let hash = match side {
            AuthSide::HashI => self.keys.hash_i(&t, &id),
            AuthSide::HashR => self.keys.hash_r(&t, &id),
        };
        let mut chain = PayloadChain::new();
        chain.push(PayloadType::ID, &id);
        match ctx.policy.auth.certificate() {
            Some(creds) if self.proposal.auth.is_signature() => {
                auth::push_cert_and_sig(&mut chain, creds, &hash, ctx.rng)?;
            }
            _ => {
                chain.push(PayloadType::HASH, &hash);
            }
        }
        let (first, bytes) = chain.into_parts();
        let (ct, next_iv) = self.keys.encrypt(&self.iv, &bytes);
        Ok((
            self.header(first, Flags::ENCRYPTION).emit_with_body(&ct),
            next_iv,
        ))
    }
}

/// The peer's phase-1 identity from its ID payload body.
fn parse_identity(body: &[u8]) -> Result<Identity, Diagnostic> {
    let parsed = IdPayload::parse(body).map_err(|e| Diagnostic::Malformed {
        detail: format!("phase-1 ID payload {e}"),
    })?;
    identity_from(&parsed).ok_or(Diagnostic::Unsupported {
        detail: format!("phase-1 identity type {}", parsed.id_type),
    })
}

/// Our phase-1 offer as text, for logs and diagnostics.
fn offer_text(offer: &[Phase1Proposal]) -> String {
    offer
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The responder's choice among the proposals of message 1's SA payload, or the failure
/// (with the notification `notify` builds under the cookies the peer expects).
fn choose_phase1(
    sa_body: &[u8],
    ctx: &Ctx<'_>,
    notify: impl Fn(NotifyType) -> Option<NotifySpec>,
) -> Result<(Phase1Proposal, SaRepr), Fault<()>> {
    let bad_syntax = |detail: String| {
        Fault::Fail(
            Diagnostic::Malformed { detail },
            notify(NotifyType::BAD_PROPOSAL_SYNTAX),
        )
    };
    let sa = SaPayload::parse(sa_body).map_err(|e| {
        Fault::Fail(
            Diagnostic::Malformed {
                detail: format!("SA payload {e}"),
            },
            notify(NotifyType::PAYLOAD_MALFORMED),
        )
    })?;
    if sa.doi != DOI_IPSEC {
        return Err(Fault::Fail(
            Diagnostic::Unsupported {
                detail: format!("DOI {}", sa.doi),
            },
            notify(NotifyType::DOI_NOT_SUPPORTED),
        ));
    }
    match select_phase1(&sa, &ctx.policy.phase1, phase1_auth(ctx.policy)) {
        Ok(x) => Ok(x),
        Err(Reject::Malformed(e)) => Err(bad_syntax(format!("SA payload {e}"))),
        Err(Reject::NoProposal(d)) => Err(Fault::Fail(d, notify(NotifyType::NO_PROPOSAL_CHOSEN))),
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
    // A remote-access client names its group (vpnc: a KEY_ID) or itself: the group key
    // authenticated it, XAUTH names the user.
    let group_member = policy.peer_id.is_none() && policy.remote_access.is_some();
    if *peer == expected || natted_address || group_member {
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

/// What the peer announced in the vendor ID payloads of `msg`.
pub(crate) fn vendor_ids(msg: &Msg<'_>) -> PeerVendorIds {
    let mut v = PeerVendorIds::default();
    for p in msg.all(PayloadType::VENDOR_ID) {
        v.add(p.body);
    }
    v
}

/// Appends our vendor IDs to message 1 (`peer` = None) or to the answer to a message 1 with
/// the peer's `peer`: DPD, NAT-T (all dialects in message 1, the chosen one in the answer), and
/// FRAGMENTATION when enabled (in the answer only if the peer announced it, as strongSwan does).
fn push_vendor_ids(
    chain: &mut PayloadChain,
    policy: &IkePolicy,
    peer: Option<(&PeerVendorIds, NatTMethod)>,
) {
    let nat_vids = match peer {
        None => nat::initiator_vids(policy.nat_traversal),
        Some((_, method)) => nat::responder_vids(method),
    };
    for v in nat_vids {
        chain.push(PayloadType::VENDOR_ID, v);
    }
    if policy.fragmentation && peer.is_none_or(|(v, _)| v.fragmentation) {
        chain.push(PayloadType::VENDOR_ID, &VID_FRAGMENTATION);
    }
    if policy.serves_xauth() && peer.is_some() {
        use super::remote_access::{VID_CISCO_UNITY, VID_XAUTH};
        chain
            .push(PayloadType::VENDOR_ID, &VID_XAUTH)
            .push(PayloadType::VENDOR_ID, &VID_CISCO_UNITY);
    }
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

/// The address NAT-D uses for us: the configured address with the port the datagram used.
pub(crate) fn local_for(policy: &IkePolicy, port: u16) -> SocketAddr {
    SocketAddr::new(policy.local, port)
}
