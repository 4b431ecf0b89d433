//! Quick Mode (RFC 2409 §5.5), both roles: ESP SA negotiation under an ISAKMP SA.
//!
//! ```text
//! Initiator                                   Responder
//! HDR*, HASH(1), SA, Ni [, KE], IDci, IDcr -->                        QuickModeInitiatorSent
//!                                          <-- HDR*, HASH(2), SA, Nr [, KE], IDci, IDcr   QuickModeResponderSent
//! HDR*, HASH(3)                            -->                        → ESP SA pair on both sides
//! ```
//! HASH(1) = prf(SKEYID_a, M-ID | rest), HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest),
//! HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).

use zeroize::Zeroizing;

use crate::crypto::dh::DhPrivate;
use crate::ike::diagnostic::Diagnostic;
use crate::ike::policy::{ProxyId, Subnet};
use crate::ike::proposal::{
    check_phase2_answer, phase2_offer, phase2_sa, select_phase2, Phase2Proposal, Reject,
};
use crate::ike::random::random_bytes;
use crate::wire::isakmp::{
    ExchangeType, Flags, HeaderRepr, IdPayload, NotifyType, PayloadChain, PayloadType, ProtocolId,
    SaPayload,
};

use super::isakmp_sa::{derive_child, ChildSeed, IsakmpSa, NewChild};
use super::message::{selector_body, selector_from, Msg, Selector};
use super::{ct_eq, Ctx, DropReason, Fault, NotifySpec};

const NONCE_LEN: usize = 32;

/// Initiator: message 1 sent, waiting for message 2.
pub(crate) struct QuickModeInitiatorSent {
    mid: u32,
    iv: Vec<u8>,
    ni: Vec<u8>,
    dh: Option<DhPrivate>,
    spi: u32,
    offer: Vec<Phase2Proposal>,
    proxy: ProxyId,
}

/// Responder: message 2 sent, waiting for message 3.
pub(crate) struct QuickModeResponderSent {
    mid: u32,
    iv: Vec<u8>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    gxy: Option<Zeroizing<Vec<u8>>>,
    chosen: Phase2Proposal,
    our_spi: u32,
    their_spi: u32,
    proxy: ProxyId,
}

fn qm_header(sa: &IsakmpSa, mid: u32, first: PayloadType) -> HeaderRepr {
    HeaderRepr {
        icookie: sa.icookie,
        rcookie: sa.rcookie,
        next_payload: first,
        exchange: ExchangeType::QUICK_MODE,
        flags: Flags(Flags::ENCRYPTION),
        message_id: mid,
    }
}

/// Prefixes a chain with a HASH payload and encrypts it. Returns the message and the next IV.
pub(crate) fn seal_with_hash(
    sa: &IsakmpSa,
    hdr: HeaderRepr,
    iv: &[u8],
    hash: &[u8],
    rest: PayloadChain,
) -> (Vec<u8>, Vec<u8>) {
    let (rest_first, rest_bytes) = rest.into_parts();
    let mut plain = vec![rest_first.0, 0];
    plain.extend_from_slice(&((hash.len() + 4) as u16).to_be_bytes());
    plain.extend_from_slice(hash);
    plain.extend_from_slice(&rest_bytes);
    let (ct, next_iv) = sa.keys.encrypt(iv, &plain);
    (
        HeaderRepr {
            next_payload: PayloadType::HASH,
            ..hdr
        }
        .emit_with_body(&ct),
        next_iv,
    )
}

/// Decrypts a Quick Mode message body; returns the plaintext and the next IV.
fn open(
    sa: &IsakmpSa,
    iv: &[u8],
    hdr: &HeaderRepr,
    body: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), DropReason> {
    if !hdr.flags.encrypted() {
        return Err(DropReason::Unexpected);
    }
    sa.keys.decrypt(iv, body).ok_or(DropReason::Malformed)
}

/// The bodies of the two ID payloads (IDci, IDcr), if present.
type IdBodies<'a> = Option<(&'a [u8], &'a [u8])>;

fn ids<'a>(msg: &Msg<'a>) -> Result<IdBodies<'a>, ()> {
    let v: Vec<_> = msg.all(PayloadType::ID).collect();
    match v.as_slice() {
        [] => Ok(None),
        [a, b] => Ok(Some((a.body, b.body))),
        _ => Err(()),
    }
}

fn parse_sel(b: &[u8]) -> Option<Selector> {
    selector_from(&IdPayload::parse(b).ok()?)
}

impl QuickModeInitiatorSent {
    /// Builds message 1 for `proxy` with our inbound `spi` and message ID `mid`.
    pub fn start(
        ctx: &mut Ctx<'_>,
        sa: &IsakmpSa,
        proxy: ProxyId,
        spi: u32,
        mid: u32,
    ) -> (QuickModeInitiatorSent, Vec<u8>) {
        let offer = phase2_offer(&ctx.policy.phase2, sa.encap_mode());
        let sa_body = phase2_sa(&offer, spi).emit();
        let ni = random_bytes(ctx.rng, NONCE_LEN);
        let dh = ctx.policy.phase2.pfs_group.map(|g| {
            let s = random_bytes(ctx.rng, g.secret_len());
            DhPrivate::from_secret(g, &s)
        });
        let mut rest = PayloadChain::new();
        rest.push(PayloadType::SA, &sa_body)
            .push(PayloadType::NONCE, &ni);
        if let Some(dh) = &dh {
            rest.push(PayloadType::KE, dh.public_value());
        }
        rest.push(
            PayloadType::ID,
            &selector_body(&Selector::subnet(proxy.local)),
        )
        .push(
            PayloadType::ID,
            &selector_body(&Selector::subnet(proxy.remote)),
        );
        let hash = sa.keys.prf_a(&[&mid.to_be_bytes(), rest.bytes()]);
        let iv0 = sa.keys.message_iv(&sa.last_block, mid);
        let (out, iv) =
            seal_with_hash(sa, qm_header(sa, mid, PayloadType::HASH), &iv0, &hash, rest);
        (
            QuickModeInitiatorSent {
                mid,
                iv,
                ni,
                dh,
                spi,
                offer,
                proxy,
            },
            out,
        )
    }

    /// Our inbound SPI.
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The proxy-id of this exchange.
    pub fn proxy(&self) -> ProxyId {
        self.proxy
    }

    /// What we offered, as text.
    pub fn offer_text(&self) -> String {
        self.offer
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Handles message 2: verifies HASH(2), checks the answer and the IDs, derives the keys,
    /// and builds message 3.
    pub fn on_msg2(
        self,
        sa: &IsakmpSa,
        hdr: &HeaderRepr,
        body: &[u8],
    ) -> Result<(NewChild, Vec<u8>), Fault<QuickModeInitiatorSent>> {
        let (plain, next_iv) = match open(sa, &self.iv, hdr, body) {
            Ok(x) => x,
            Err(r) => return Err(Fault::Ignore(self, r)),
        };
        let Ok(msg) = Msg::parse(&plain, hdr.next_payload) else {
            return Err(Fault::Ignore(self, DropReason::Malformed));
        };
        let Some((hash, rest)) = msg.leading_hash() else {
            return Err(Fault::Ignore(self, DropReason::Malformed));
        };
        let expected = sa.keys.prf_a(&[&self.mid.to_be_bytes(), &self.ni, rest]);
        if !ct_eq(&expected, hash) {
            return Err(Fault::Ignore(self, DropReason::BadHash));
        }
        // Tell the peer why (it would otherwise retransmit message 2 until it gives up).
        let spi = self.spi.to_be_bytes().to_vec();
        let fail_with = |d: Diagnostic, kind: NotifyType| {
            let n = NotifySpec {
                kind,
                protocol: ProtocolId::IPSEC_ESP,
                spi: spi.clone(),
            };
            Err(Fault::Fail(d, Some(n)))
        };
        let fail = |d: Diagnostic| {
            let kind = match d {
                Diagnostic::ProxyIdMismatch { .. } => NotifyType::INVALID_ID_INFORMATION,
                _ => NotifyType::PAYLOAD_MALFORMED,
            };
            fail_with(d, kind)
        };
        let (Some(sa_p), Some(nr)) = (msg.find(PayloadType::SA), msg.find(PayloadType::NONCE))
        else {
            return fail(Diagnostic::Malformed {
                detail: "Quick Mode message 2 lacks SA or nonce".into(),
            });
        };
        let sa_parsed = match SaPayload::parse(sa_p.body) {
            Ok(s) => s,
            Err(e) => {
                return fail(Diagnostic::Malformed {
                    detail: format!("Quick Mode SA payload {e}"),
                })
            }
        };
        let (chosen, their_spi) = match check_phase2_answer(&sa_parsed, &self.offer) {
            Ok(x) => x,
            Err(d) => return fail_with(d, NotifyType::NO_PROPOSAL_CHOSEN),
        };
        match ids(&msg) {
            Ok(Some((ci, cr))) => {
                let answered = match (parse_sel(ci), parse_sel(cr)) {
                    (Some(a), Some(b)) => (a, b),
                    _ => {
                        return fail(Diagnostic::Malformed {
                            detail: "Quick Mode ID payload".into(),
                        })
                    }
                };
                let ours = (
                    Selector::subnet(self.proxy.local),
                    Selector::subnet(self.proxy.remote),
                );
                if answered != ours {
                    return fail(Diagnostic::ProxyIdMismatch {
                        proposed: self.proxy,
                        answered: ProxyId {
                            local: answered.0.subnet,
                            remote: answered.1.subnet,
                        },
                    });
                }
            }
            Ok(None) => {}
            Err(()) => {
                return fail(Diagnostic::Malformed {
                    detail: "Quick Mode with one ID payload".into(),
                })
            }
        }
        let gxy = match (&self.dh, msg.find(PayloadType::KE)) {
            (Some(dh), Some(ke)) => match dh.shared_secret(ke.body) {
                Ok(g) => Some(g),
                Err(e) => {
                    return fail(Diagnostic::Malformed {
                        detail: format!("Quick Mode KE: {e}"),
                    })
                }
            },
            (Some(_), None) => {
                return fail(Diagnostic::Malformed {
                    detail: "PFS was negotiated but the peer sent no KE".into(),
                })
            }
            (None, _) => None,
        };
        let child = derive_child(
            sa,
            &chosen,
            self.proxy,
            &ChildSeed {
                gxy: gxy.as_ref().map(|g| g.as_slice()),
                ni_b: &self.ni,
                nr_b: nr.body,
                our_spi: self.spi,
                their_spi,
            },
        );
        let h3 = sa
            .keys
            .prf_a(&[&[0], &self.mid.to_be_bytes(), &self.ni, nr.body]);
        let (out, _) = seal_with_hash(
            sa,
            qm_header(sa, self.mid, PayloadType::HASH),
            &next_iv,
            &h3,
            PayloadChain::new(),
        );
        Ok((child, out))
    }
}

impl QuickModeResponderSent {
    /// Handles message 1 (new message ID `hdr.message_id`): verifies HASH(1), matches the
    /// proxy-ids and the proposal, and builds message 2 with our inbound `our_spi`.
    pub fn on_msg1(
        ctx: &mut Ctx<'_>,
        sa: &IsakmpSa,
        hdr: &HeaderRepr,
        body: &[u8],
        our_spi: u32,
    ) -> Result<(QuickModeResponderSent, Vec<u8>), Fault<()>> {
        let mid = hdr.message_id;
        let iv0 = sa.keys.message_iv(&sa.last_block, mid);
        let (plain, next_iv) = open(sa, &iv0, hdr, body).map_err(|r| Fault::Ignore((), r))?;
        let msg = Msg::parse(&plain, hdr.next_payload)
            .map_err(|_| Fault::Ignore((), DropReason::Malformed))?;
        let (hash, rest) = msg
            .leading_hash()
            .ok_or(Fault::Ignore((), DropReason::Malformed))?;
        let expected = sa.keys.prf_a(&[&mid.to_be_bytes(), rest]);
        if !ct_eq(&expected, hash) {
            return Err(Fault::Ignore((), DropReason::BadHash));
        }
        let malformed = |d: &str| {
            Fault::Fail(
                Diagnostic::Malformed {
                    detail: format!("Quick Mode message 1: {d}"),
                },
                Some(NotifySpec {
                    kind: NotifyType::PAYLOAD_MALFORMED,
                    protocol: ProtocolId::ISAKMP,
                    spi: sa.cookie_pair(),
                }),
            )
        };
        let (Some(sa_p), Some(ni)) = (msg.find(PayloadType::SA), msg.find(PayloadType::NONCE))
        else {
            return Err(malformed("no SA or nonce"));
        };
        let sa_parsed = SaPayload::parse(sa_p.body).map_err(|_| malformed("SA payload"))?;
        let their_spi_for_notify = first_esp_spi(&sa_parsed);
        let esp_notify = |kind| NotifySpec {
            kind,
            protocol: ProtocolId::IPSEC_ESP,
            spi: their_spi_for_notify.clone(),
        };
        // Proxy-ids: the initiator's IDci is our remote side, IDcr our local side.
        let id_bodies = ids(&msg).map_err(|_| malformed("one ID payload"))?;
        let (remote_sel, local_sel) = match id_bodies {
            Some((ci, cr)) => match (parse_sel(ci), parse_sel(cr)) {
                (Some(a), Some(b)) => (a, b),
                _ => {
                    return Err(Fault::Fail(
                        Diagnostic::Unsupported {
                            detail: "Quick Mode ID type (ranges, names)".into(),
                        },
                        Some(esp_notify(NotifyType::INVALID_ID_INFORMATION)),
                    ))
                }
            },
            None => (
                Selector::subnet(Subnet::host(ctx.remote.ip())),
                Selector::subnet(Subnet::host(ctx.policy.local)),
            ),
        };
        let received = ProxyId {
            local: local_sel.subnet,
            remote: remote_sel.subnet,
        };
        let any_port = local_sel.protocol == 0
            && local_sel.port == 0
            && remote_sel.protocol == 0
            && remote_sel.port == 0;
        if !any_port || !ctx.policy.phase2.proxy_ids.contains(&received) {
            return Err(Fault::Fail(
                Diagnostic::ProxyIdUnknown {
                    received,
                    configured: ctx.policy.phase2.proxy_ids.clone(),
                },
                Some(esp_notify(NotifyType::INVALID_ID_INFORMATION)),
            ));
        }
        let (chosen, their_spi, reply) =
            match select_phase2(&sa_parsed, &ctx.policy.phase2, our_spi) {
                Ok(x) => x,
                Err(Reject::Malformed(_)) => return Err(malformed("SA payload")),
                Err(Reject::NoProposal(d)) => {
                    return Err(Fault::Fail(
                        d,
                        Some(esp_notify(NotifyType::NO_PROPOSAL_CHOSEN)),
                    ))
                }
            };
        let mut dh = None;
        let gxy = match (chosen.pfs, msg.find(PayloadType::KE)) {
            (Some(g), Some(ke)) => {
                let s = random_bytes(ctx.rng, g.secret_len());
                let d = DhPrivate::from_secret(g, &s);
                let gxy = d
                    .shared_secret(ke.body)
                    .map_err(|_| malformed("KE payload"))?;
                dh = Some(d);
                Some(gxy)
            }
            (Some(_), None) => return Err(malformed("PFS group without KE")),
            (None, Some(_)) => return Err(malformed("KE without PFS group")),
            (None, None) => None,
        };
        let nr = random_bytes(ctx.rng, NONCE_LEN);
        let mut rest = PayloadChain::new();
        rest.push(PayloadType::SA, &reply.emit())
            .push(PayloadType::NONCE, &nr);
        if let Some(d) = &dh {
            rest.push(PayloadType::KE, d.public_value());
        }
        if let Some((ci, cr)) = id_bodies {
            rest.push(PayloadType::ID, ci).push(PayloadType::ID, cr);
        }
        let h2 = sa.keys.prf_a(&[&mid.to_be_bytes(), ni.body, rest.bytes()]);
        let (out, iv) = seal_with_hash(
            sa,
            qm_header(sa, mid, PayloadType::HASH),
            &next_iv,
            &h2,
            rest,
        );
        Ok((
            QuickModeResponderSent {
                mid,
                iv,
                ni: ni.body.to_vec(),
                nr,
                gxy,
                chosen,
                our_spi,
                their_spi,
                proxy: received,
            },
            out,
        ))
    }

    /// Our inbound SPI.
    pub fn spi(&self) -> u32 {
        self.our_spi
    }

    /// The proxy-id of this exchange.
    pub fn proxy(&self) -> ProxyId {
        self.proxy
    }

    /// Handles message 3: verifies HASH(3) and derives the keys.
    pub fn on_msg3(
        self,
        sa: &IsakmpSa,
        hdr: &HeaderRepr,
        body: &[u8],
    ) -> Result<NewChild, Fault<QuickModeResponderSent>> {
        let (plain, _) = match open(sa, &self.iv, hdr, body) {
            Ok(x) => x,
            Err(r) => return Err(Fault::Ignore(self, r)),
        };
        let Ok(msg) = Msg::parse(&plain, hdr.next_payload) else {
            return Err(Fault::Ignore(self, DropReason::Malformed));
        };
        let Some((hash, _)) = msg.leading_hash() else {
            return Err(Fault::Ignore(self, DropReason::Malformed));
        };
        let expected = sa
            .keys
            .prf_a(&[&[0], &self.mid.to_be_bytes(), &self.ni, &self.nr]);
        if !ct_eq(&expected, hash) {
            return Err(Fault::Ignore(self, DropReason::BadHash));
        }
        Ok(self.keys(sa))
    }

    /// The peer's SPI (our outbound SA).
    pub fn their_spi(&self) -> u32 {
        self.their_spi
    }

    /// The pair's keys, known as soon as message 2 is built: the inbound SA can be installed
    /// before message 3 arrives (the initiator may send on it right after message 2).
    pub fn keys(&self, sa: &IsakmpSa) -> NewChild {
        derive_child(
            sa,
            &self.chosen,
            self.proxy,
            &ChildSeed {
                gxy: self.gxy.as_ref().map(|g| g.as_slice()),
                ni_b: &self.ni,
                nr_b: &self.nr,
                our_spi: self.our_spi,
                their_spi: self.their_spi,
            },
        )
    }
}

fn first_esp_spi(sa: &SaPayload<'_>) -> Vec<u8> {
    sa.proposals()
        .filter_map(|p| p.ok())
        .find(|p| p.protocol == ProtocolId::IPSEC_ESP)
        .map(|p| p.spi.to_vec())
        .unwrap_or_default()
}
