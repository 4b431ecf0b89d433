//! IKE_FOLLOWUP_KE (RFC 9370 §2.2.4): the additional key exchanges of a CREATE_CHILD_SA with
//! PFS (a child or an IKE SA rekey). The CREATE_CHILD_SA response carries an
//! ADDITIONAL_KEY_EXCHANGE notification whose data links the follow-up exchanges to it; each
//! IKE_FOLLOWUP_KE request carries that link and the next KE (ML-KEM encapsulation key), its
//! response the ciphertext and, while rounds remain, the next link. The new SA is made when
//! the last round is done, its keys from `… | Ni | Nr | SK(1) | … | SK(n)`.

use std::collections::VecDeque;
use std::time::Instant;

use tracing::info;
use zeroize::Zeroizing;

use crate::crypto::mlkem::{encapsulate, KemAlg, KemPrivate};
use crate::ike::Diagnostic;
use crate::wire::ikev2::{
    ExchangeType, HeaderRepr, KeRepr, NotifyRepr, NotifyType, Payload, PayloadRepr, ProtocolId,
};

use super::child_sa::NewChildSa;
use super::exchange::Inner;
use super::found::Found;
use super::proposal::IkeChoice;
use super::{Engine, RequestKind, V2Diagnostic};

/// Length of the link data we hand out (any length is accepted from the peer).
const LINK_LEN: usize = 8;

/// What the follow-up exchanges complete.
pub(super) enum Finish {
    Child(NewChildSa),
    IkeRekey(Box<IkeRekeyDone>),
}

/// An IKE SA rekey waiting for its additional key exchanges.
pub(super) struct IkeRekeyDone {
    pub choice: IkeChoice,
    /// The CREATE_CHILD_SA (EC)DH secret, SK(0).
    pub g_ir: Zeroizing<Vec<u8>>,
    pub nonces: (Vec<u8>, Vec<u8>),
    pub ids: ([u8; 8], [u8; 8]),
    pub we_initiated: bool,
}

/// The additional key exchanges of one CREATE_CHILD_SA, in progress.
pub(super) struct Followup {
    finish: Finish,
    /// The current round first.
    rounds: VecDeque<KemAlg>,
    /// SK(1) | … of the rounds done.
    secrets: Zeroizing<Vec<u8>>,
    /// The link the next IKE_FOLLOWUP_KE request must carry.
    link: Vec<u8>,
}

/// Our IKE_FOLLOWUP_KE request in flight.
pub(super) struct FollowupRequest {
    f: Followup,
    kem: KemPrivate,
}

impl FollowupRequest {
    /// The inbound SPI the child being made reserved, if it is a child.
    pub fn our_spi(&self) -> Option<u32> {
        match &self.f.finish {
            Finish::Child(c) => Some(c.params.our_spi),
            Finish::IkeRekey(_) => None,
        }
    }
}

/// The ADDITIONAL_KEY_EXCHANGE link data of a message, if any.
pub(super) fn link_of(payloads: &[Payload<'_>]) -> Option<Vec<u8>> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.kind == NotifyType::ADDITIONAL_KEY_EXCHANGE => {
            Some(n.data.to_vec())
        }
        _ => None,
    })
}

fn link_notify(link: &[u8]) -> NotifyRepr<'_> {
    NotifyRepr {
        protocol: ProtocolId(0),
        kind: NotifyType::ADDITIONAL_KEY_EXCHANGE,
        spi: &[],
        data: link,
    }
}

impl Engine {
    /// Initiator: starts the follow-up exchanges of a CREATE_CHILD_SA the peer answered.
    pub(super) fn start_followup(
        &mut self,
        now: Instant,
        i: usize,
        finish: Finish,
        rounds: Vec<KemAlg>,
        link: Vec<u8>,
    ) {
        let f = Followup {
            finish,
            rounds: rounds.into(),
            secrets: Zeroizing::new(Vec::new()),
            link,
        };
        self.send_followup(now, i, f);
    }

    fn send_followup(&mut self, now: Instant, i: usize, f: Followup) {
        let Some(&alg) = f.rounds.front() else {
            return;
        };
        let kem = self.kem(alg);
        let public = kem.public_value().to_vec();
        let ke = KeRepr {
            group: alg.id(),
            data: &public,
        };
        let link = f.link.clone();
        let n = link_notify(&link);
        info!(
            method = alg.name(),
            "IKEv2: IKE_FOLLOWUP_KE additional key exchange"
        );
        let req = FollowupRequest { f, kem };
        self.send_request(
            now,
            i,
            ExchangeType::IKE_FOLLOWUP_KE,
            &[&n, &ke],
            RequestKind::Followup(Box::new(req)),
        );
    }

    /// Initiator: the answer to an IKE_FOLLOWUP_KE request.
    pub(super) fn on_followup_response(
        &mut self,
        now: Instant,
        i: usize,
        req: FollowupRequest,
        inner: &Inner,
    ) {
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        let FollowupRequest { mut f, kem } = req;
        let f_ = Found::of(&payloads);
        let peer = self.sas[i].peer.ip();
        if let Some(k) = f_.error {
            let d = V2Diagnostic::PeerNotify {
                notify: k.to_string(),
                during: "IKE_FOLLOWUP_KE",
                peer,
            };
            return self.followup_failed(now, f, Diagnostic::Ikev2(d));
        }
        let secret = match f_.ke {
            Some(ke) if ke.group == kem.alg().id() => kem.decapsulate(ke.data).ok(),
            _ => None,
        };
        let Some(secret) = secret else {
            let detail = format!(
                "IKEv2 IKE_FOLLOWUP_KE: no valid {} KE payload in the response",
                kem.alg().name()
            );
            return self.followup_failed(now, f, Diagnostic::Phase1BadAnswer { detail });
        };
        f.secrets.extend_from_slice(&secret);
        f.rounds.pop_front();
        if f.rounds.is_empty() {
            return self.followups_done(now, i, f);
        }
        match link_of(&payloads) {
            Some(link) => {
                f.link = link;
                self.send_followup(now, i, f);
            }
            None => {
                let detail = "IKEv2 IKE_FOLLOWUP_KE: rounds remain but the response has no \
                              ADDITIONAL_KEY_EXCHANGE"
                    .to_string();
                self.followup_failed(now, f, Diagnostic::Phase1BadAnswer { detail });
            }
        }
    }

    fn followup_failed(&mut self, now: Instant, f: Followup, d: Diagnostic) {
        if let Finish::Child(c) = &f.finish {
            if let Some(old) = c.rekey_of {
                if let Some(x) = self.children.list.iter_mut().find(|x| x.inbound_spi == old) {
                    x.rekeying = false;
                    x.rekey_at = Some(now + std::time::Duration::from_secs(30));
                }
            }
        }
        self.io.fail(d);
    }

    /// Responder: keeps what a CREATE_CHILD_SA negotiated until its follow-up exchanges are
    /// done; returns the link for the ADDITIONAL_KEY_EXCHANGE notification of the response.
    pub(super) fn expect_followup(
        &mut self,
        i: usize,
        finish: Finish,
        rounds: Vec<KemAlg>,
    ) -> Vec<u8> {
        let link = crate::ike::random::random_bytes(&mut *self.rng, LINK_LEN);
        if let Some(sa) = self.sas.get_mut(i) {
            sa.followup = Some(Box::new(Followup {
                finish,
                rounds: rounds.into(),
                secrets: Zeroizing::new(Vec::new()),
                link: link.clone(),
            }));
        }
        link
    }

    /// Responder: an IKE_FOLLOWUP_KE request.
    pub(super) fn on_followup_request(
        &mut self,
        now: Instant,
        i: usize,
        h: &HeaderRepr,
        inner: &Inner,
    ) {
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        let Some(mut f) = self.sas[i].followup.take() else {
            return self.respond_error(i, h, NotifyType::INVALID_SYNTAX, &[]);
        };
        let alg = f.rounds.front().copied();
        let ke = Found::of(&payloads).ke;
        let mut m = Zeroizing::new([0u8; 32]);
        self.rng.fill(&mut m[..]);
        let done = match (alg, ke) {
            (Some(alg), Some(ke))
                if ke.group == alg.id() && link_of(&payloads).as_ref() == Some(&f.link) =>
            {
                encapsulate(alg, ke.data, &m).ok().map(|x| (alg, x))
            }
            _ => None,
        };
        let Some((alg, (ct, secret))) = done else {
            info!("IKEv2: IKE_FOLLOWUP_KE without the expected link or KE payload");
            // The exchange it belongs to may still complete with a proper request.
            self.sas[i].followup = Some(f);
            return self.respond_error(i, h, NotifyType::INVALID_SYNTAX, &[]);
        };
        f.secrets.extend_from_slice(&secret);
        f.rounds.pop_front();
        let ke_out = KeRepr {
            group: alg.id(),
            data: &ct,
        };
        if f.rounds.is_empty() {
            self.respond(i, h, &[&ke_out]);
            return self.followups_done(now, i, *f);
        }
        f.link = crate::ike::random::random_bytes(&mut *self.rng, LINK_LEN);
        let link = f.link.clone();
        self.sas[i].followup = Some(f);
        self.respond(i, h, &[&ke_out as &dyn PayloadRepr, &link_notify(&link)]);
    }

    /// Every additional key exchange is done: the child or rekeyed IKE SA is made.
    fn followups_done(&mut self, now: Instant, i: usize, f: Followup) {
        match f.finish {
            Finish::Child(c) => self.install_child_keyed(now, i, c, &f.secrets),
            Finish::IkeRekey(r) => {
                let n = (&r.nonces.0[..], &r.nonces.1[..]);
                self.rekeyed_ike_sa(
                    now,
                    i,
                    r.choice,
                    &r.g_ir,
                    n,
                    r.ids,
                    r.we_initiated,
                    &f.secrets,
                );
                self.sas[i].retiring = true;
                if r.we_initiated {
                    self.queue(i, super::Pending::DeleteIke);
                }
            }
        }
    }
}
