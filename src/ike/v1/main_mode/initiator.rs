//! Main Mode, initiator side: messages 1, 3 and 5 out; 2, 4 and 6 in.

use crate::crypto::dh::DhPrivate;
use crate::ike::diagnostic::{AuthSide, Diagnostic};
use crate::ike::proposal::{check_phase1_answer, phase1_offer, phase1_sa};
use crate::ike::random::random_bytes;
use crate::wire::isakmp::{HeaderRepr, PayloadChain, PayloadType, SaPayload};

use super::super::informational::{self, InfoItem};
use super::super::isakmp_sa::IsakmpSa;
use super::super::keys::Phase1Keys;
use super::super::message::Msg;
use super::super::{new_cookie, Ctx, DropReason, Fault};
use super::*;

impl MmInitiatorSentSa {
    /// Builds message 1 (SA with our offer, vendor IDs).
    pub fn start(ctx: &mut Ctx<'_>) -> (MmInitiatorSentSa, Vec<u8>) {
        let icookie = new_cookie(ctx.rng);
        let offer = phase1_offer(&ctx.policy.phase1, phase1_auth(ctx.policy));
        let sai_b = phase1_sa(&offer).emit();
        let mut chain = PayloadChain::new();
        chain.push(PayloadType::SA, &sai_b);
        push_vendor_ids(&mut chain, ctx.policy, None);
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
        offer_text(&self.offer)
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
        if proposal.auth.is_signature() {
            super::super::auth::push_certreqs(&mut chain, ctx.policy);
        }
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

    /// Builds message 5 (fails only when our key cannot sign).
    pub fn message5(
        mut self,
        ctx: &mut Ctx<'_>,
    ) -> Result<(MmInitiatorSentAuth, Vec<u8>), Diagnostic> {
        let (out, next_iv) = self.common.seal_auth(ctx, AuthSide::HashI)?;
        self.common.iv = next_iv;
        Ok((
            MmInitiatorSentAuth {
                common: self.common,
            },
            out,
        ))
    }
}

impl MmInitiatorSentAuth {
    /// Tries to open an encrypted informational message that arrived instead of message 6,
    /// with the keys of this negotiation (IV from the last block of our message 5). `None`
    /// when it does not decrypt to a message with a valid HASH(1): the peer's keys differ.
    pub fn open_informational(&self, hdr: &HeaderRepr, body: &[u8]) -> Option<Vec<InfoItem>> {
        let c = &self.common;
        let iv = c.keys.message_iv(&c.iv, hdr.message_id);
        let (plain, _) = c.keys.decrypt(&iv, body)?;
        let msg = Msg::parse(&plain, hdr.next_payload).ok()?;
        let (hash, rest) = msg.leading_hash()?;
        let expected = c.keys.prf_a(&[&hdr.message_id.to_be_bytes(), rest]);
        if !ct_eq(&expected, hash) {
            return None;
        }
        informational::items(&msg).ok()
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
            .open_auth(ctx, body, hdr.next_payload, AuthSide::HashR)
        {
            Ok(p) => Ok(self
                .common
                .into_sa(p.next_iv, p.identity, p.initial_contact, p.cert)),
            Err((Some(r), _)) => Err(Fault::Ignore(self, r)),
            Err((None, d)) => Err(Fault::Fail(d, None)),
        }
    }
}
