//! Main Mode, responder side: messages 1, 3 and 5 in; 2, 4 and 6 out.

use crate::crypto::dh::DhPrivate;
use crate::ike::auth::CertError;
use crate::ike::diagnostic::{AuthSide, Diagnostic};
use crate::ike::random::random_bytes;
use crate::wire::isakmp::{HeaderRepr, NotifyType, PayloadChain, PayloadType};

use super::super::isakmp_sa::IsakmpSa;
use super::super::keys::Phase1Keys;
use super::super::message::Msg;
use super::super::{new_cookie, Ctx, DropReason, Fault, NotifySpec};
use super::*;

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
        let (proposal, reply) = choose_phase1(sa_p.body, ctx, notify)?;
        let vids = vendor_ids(msg);
        let method = vids.method(ctx.policy.nat_traversal);
        let mut chain = PayloadChain::new();
        chain.push(PayloadType::SA, &reply.emit());
        push_vendor_ids(&mut chain, ctx.policy, Some((&vids, method)));
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
        if p.auth.is_signature() {
            super::super::auth::push_certreqs(&mut chain, ctx.policy);
        }
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
        match c.open_auth(ctx, body, hdr.next_payload, AuthSide::HashI) {
            Ok(p) => {
                let mut common = self.common;
                common.iv = p.next_iv;
                let (out, last) = match common.seal_auth(ctx, AuthSide::HashR) {
                    Ok(x) => x,
                    Err(d) => return Err(Fault::Fail(d, None)),
                };
                Ok((
                    common.into_sa(last, p.identity, p.initial_contact, p.cert),
                    out,
                ))
            }
            Err((Some(r), _)) => Err(Fault::Ignore(self, r)),
            Err((None, d)) => {
                let kind = match &d {
                    Diagnostic::IdentityMismatch { .. }
                    | Diagnostic::Certificate(CertError::IdentityNotInCertificate { .. }) => {
                        NotifyType::INVALID_ID_INFORMATION
                    }
                    Diagnostic::Certificate(CertError::UntrustedIssuer { .. }) => {
                        NotifyType::INVALID_CERT_AUTHORITY
                    }
                    Diagnostic::Certificate(CertError::BadSignature { .. }) => {
                        NotifyType::INVALID_SIGNATURE
                    }
                    _ => NotifyType::AUTHENTICATION_FAILED,
                };
                let n = NotifySpec::isakmp(kind, &c.icookie, &c.rcookie);
                Err(Fault::Fail(d, Some(n)))
            }
        }
    }
}
