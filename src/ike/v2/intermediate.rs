//! IKE_INTERMEDIATE (RFC 9242) carrying the additional key exchanges of RFC 9370: after
//! IKE_SA_INIT, one exchange per negotiated ML-KEM round (the initiator's KE payload holds an
//! encapsulation key, the responder's a ciphertext), each followed by the key update
//! `SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)` and new SK_*. Every intermediate message is
//! authenticated in IKE_AUTH through IntAuth (RFC 9242 §3.3), kept here as it runs.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::crypto::ikev2::keys::rekey_skeyseed;
use crate::crypto::ikev2::IkeSaKeys;
use crate::crypto::mlkem::{encapsulate, KemAlg, KemPrivate};
use crate::crypto::prf::HashAlg;
use crate::ike::policy::PostQuantum;
use crate::ike::Diagnostic;
use crate::wire::ikev2::{
    ExchangeType, HeaderRepr, KeRepr, NotifyType, PayloadRepr, PayloadType, HEADER_LEN,
};

use super::exchange::Inner;
use super::found::Found;
use super::message::inner_chain;
use super::proposal::IkeChoice;
use super::{Engine, RequestKind, SaState, V2Diagnostic};

/// The IKE_SA_INIT messages and nonces the AUTH payloads sign.
pub(super) struct Handshake {
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub init_request: Vec<u8>,
    pub init_response: Vec<u8>,
}

/// The running IntAuth values (RFC 9242 §3.3.1): `IntAuth_iN = prf(SK_pi, IntAuth_iN-1 |
/// data)` over the initiator's IKE_INTERMEDIATE messages, `IntAuth_rN` likewise over the
/// responder's, each with the SK_p in force when the message was sent.
#[derive(Default)]
pub(super) struct IntAuth {
    i: Vec<u8>,
    r: Vec<u8>,
}

impl IntAuth {
    /// Adds one IKE_INTERMEDIATE message (as [`int_auth_data`] lays it out).
    pub fn add(&mut self, prf: HashAlg, sk_p: &[u8], from_initiator: bool, data: &[u8]) {
        let prev = if from_initiator {
            &mut self.i
        } else {
            &mut self.r
        };
        *prev = prf.prf(sk_p, &[prev, data]).to_vec();
    }

    /// `IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID`, appended to the octets AUTH signs;
    /// empty when no IKE_INTERMEDIATE exchange took place.
    pub fn octets(&self, ike_auth_mid: u32) -> Vec<u8> {
        if self.i.is_empty() && self.r.is_empty() {
            return Vec::new();
        }
        [&self.i[..], &self.r[..], &ike_auth_mid.to_be_bytes()].concat()
    }
}

/// What IntAuth covers of an IKE_INTERMEDIATE message (RFC 9242 §3.3.2): the IKE header and an
/// Encrypted payload header as if the inner payloads were sent in the clear (no IV, padding or
/// ICV; lengths adjusted), then the inner payloads. A fragmented message counts as whole.
pub(super) fn int_auth_data(h: &HeaderRepr, first: PayloadType, plain: &[u8]) -> Vec<u8> {
    let sk_len = 4 + plain.len();
    let total = HEADER_LEN + sk_len;
    let mut out = vec![0u8; HEADER_LEN];
    let header = HeaderRepr {
        next_payload: PayloadType::SK,
        ..*h
    };
    // The buffer is exactly HEADER_LEN long, so emit cannot fail.
    let _ = header.emit(&mut out, u32::try_from(total).unwrap_or(u32::MAX));
    out.extend_from_slice(&[first.0, 0]);
    out.extend_from_slice(&u16::try_from(sk_len).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(plain);
    out
}

/// Initiator state while an IKE_INTERMEDIATE request is out.
pub(super) struct IntermediateSent {
    pub hs: Handshake,
    /// This round first, then the ones still to run.
    pub rounds: VecDeque<KemAlg>,
    pub kem: KemPrivate,
    pub int_auth: IntAuth,
}

/// Responder side: the rounds still expected and the IntAuth so far.
#[derive(Default)]
pub(super) struct Rounds {
    pub pending: VecDeque<KemAlg>,
    pub int_auth: IntAuth,
}

impl Engine {
    /// Applies `post-quantum` to a negotiated IKE SA `choice`: `Err` with the refusal when it
    /// is required and the choice has no ML-KEM; a warning in the log when only preferred.
    /// `proposal` names what the peer chose (`peer_chose`) or offered.
    pub(super) fn post_quantum_verdict(
        &self,
        choice: &IkeChoice,
        peer: IpAddr,
        peer_chose: bool,
        proposal: impl FnOnce() -> String,
    ) -> Result<(), V2Diagnostic> {
        if choice.post_quantum() {
            return Ok(());
        }
        match self.policy.post_quantum {
            PostQuantum::Off => Ok(()),
            PostQuantum::Preferred => {
                warn!(
                    %peer,
                    proposal = %proposal(),
                    "post-quantum: preferred, but the peer has no ML-KEM key exchange: this IKE SA \
                     is not post-quantum protected"
                );
                Ok(())
            }
            PostQuantum::Required => Err(V2Diagnostic::NotPostQuantum {
                peer,
                peer_chose,
                proposal: proposal(),
            }),
        }
    }

    /// A fresh ML-KEM key pair (d and z from the engine's random source).
    pub(super) fn kem(&mut self, alg: KemAlg) -> KemPrivate {
        let mut d = Zeroizing::new([0u8; 32]);
        let mut z = Zeroizing::new([0u8; 32]);
        self.rng.fill(&mut d[..]);
        self.rng.fill(&mut z[..]);
        KemPrivate::from_seed(alg, &d, &z)
    }

    /// Initiator: sends the IKE_INTERMEDIATE request of the first round in `rounds`.
    pub(super) fn start_intermediate(
        &mut self,
        now: Instant,
        i: usize,
        hs: Handshake,
        rounds: VecDeque<KemAlg>,
        mut int_auth: IntAuth,
    ) {
        let (Some(&alg), Some(keys)) = (rounds.front(), self.sas[i].keys.clone()) else {
            return;
        };
        let kem = self.kem(alg);
        let ke = KeRepr {
            group: alg.id(),
            data: kem.public_value(),
        };
        let mid = self.sas[i].next_request_id;
        let header = self.header(i, ExchangeType::IKE_INTERMEDIATE, mid, false);
        let Ok((first, plain)) = inner_chain(&[&ke]) else {
            return;
        };
        let data = int_auth_data(&header, first, &plain);
        int_auth.add(keys.suite.prf, &keys.sk_pi, true, &data);
        info!(
            method = alg.name(),
            "IKEv2: IKE_INTERMEDIATE additional key exchange"
        );
        self.send_request(
            now,
            i,
            ExchangeType::IKE_INTERMEDIATE,
            &[&ke],
            RequestKind::Intermediate,
        );
        self.sas[i].state = SaState::IntermediateSent(Box::new(IntermediateSent {
            hs,
            rounds,
            kem,
            int_auth,
        }));
    }

    /// Initiator: the IKE_INTERMEDIATE response (the ciphertext of this round).
    pub(super) fn on_intermediate_response(
        &mut self,
        now: Instant,
        i: usize,
        h: &HeaderRepr,
        inner: &Inner,
    ) {
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        let SaState::IntermediateSent(st) =
            std::mem::replace(&mut self.sas[i].state, SaState::Established)
        else {
            return;
        };
        let IntermediateSent {
            hs,
            mut rounds,
            kem,
            mut int_auth,
        } = *st;
        let peer = self.sas[i].peer.ip();
        let f = Found::of(&payloads);
        if let Some(k) = f.error {
            let d = V2Diagnostic::PeerNotify {
                notify: k.to_string(),
                during: "IKE_INTERMEDIATE",
                peer,
            };
            return self.intermediate_failed(now, i, Diagnostic::Ikev2(d));
        }
        let alg = kem.alg();
        let secret = match f.ke {
            Some(ke) if ke.group == alg.id() => kem.decapsulate(ke.data),
            _ => {
                let detail = format!(
                    "IKEv2 IKE_INTERMEDIATE: the response has no {} KE payload",
                    alg.name()
                );
                return self.intermediate_failed(now, i, Diagnostic::Phase1BadAnswer { detail });
            }
        };
        let Ok(secret) = secret else {
            let detail = format!(
                "IKEv2 IKE_INTERMEDIATE: the peer's {} ciphertext",
                alg.name()
            );
            return self.intermediate_failed(now, i, Diagnostic::Phase1BadAnswer { detail });
        };
        let Some(keys) = self.sas[i].keys.clone() else {
            return;
        };
        let data = int_auth_data(h, inner.first, &inner.plain);
        int_auth.add(keys.suite.prf, &keys.sk_pr, false, &data);
        self.additional_key_update(i, &secret, &hs.ni, &hs.nr);
        rounds.pop_front();
        if rounds.is_empty() {
            self.start_auth(now, i, hs, &int_auth);
        } else {
            self.start_intermediate(now, i, hs, rounds, int_auth);
        }
    }

    fn intermediate_failed(&mut self, now: Instant, i: usize, d: Diagnostic) {
        self.io.fail(d);
        self.sas.remove(i);
        self.schedule_reinit(now);
    }

    /// Responder: an IKE_INTERMEDIATE request (the encapsulation key of the next round).
    pub(super) fn on_intermediate_request(&mut self, i: usize, h: &HeaderRepr, inner: &Inner) {
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        let (alg, keys) = match (&self.sas[i].state, &self.sas[i].keys) {
            (SaState::InitAnswered(st), Some(k)) => match st.intermediate.pending.front() {
                Some(a) => (*a, k.clone()),
                None => return self.respond_error(i, h, NotifyType::INVALID_SYNTAX, &[]),
            },
            _ => {
                self.io.stats.dropped_unexpected += 1;
                return;
            }
        };
        let ke = Found::of(&payloads).ke;
        let mut m = Zeroizing::new([0u8; 32]);
        self.rng.fill(&mut m[..]);
        let encapsulated = match ke {
            Some(ke) if ke.group == alg.id() => encapsulate(alg, ke.data, &m).ok(),
            _ => None,
        };
        let Some((ct, secret)) = encapsulated else {
            info!(
                method = alg.name(),
                "IKEv2: IKE_INTERMEDIATE without a valid KE payload of the negotiated method"
            );
            return self.respond_error(i, h, NotifyType::INVALID_SYNTAX, &[]);
        };
        let ke_out = KeRepr {
            group: alg.id(),
            data: &ct,
        };
        let payloads_out: [&dyn PayloadRepr; 1] = [&ke_out];
        let Ok((first, plain)) = inner_chain(&payloads_out) else {
            return;
        };
        let response_header = self.header(i, ExchangeType::IKE_INTERMEDIATE, h.message_id, true);
        let (ni, nr) = {
            let SaState::InitAnswered(st) = &mut self.sas[i].state else {
                return;
            };
            let ia = &mut st.intermediate.int_auth;
            ia.add(
                keys.suite.prf,
                &keys.sk_pi,
                true,
                &int_auth_data(h, inner.first, &inner.plain),
            );
            ia.add(
                keys.suite.prf,
                &keys.sk_pr,
                false,
                &int_auth_data(&response_header, first, &plain),
            );
            st.intermediate.pending.pop_front();
            (st.ni.clone(), st.nr.clone())
        };
        self.respond(i, h, &payloads_out);
        info!(method = alg.name(), "IKEv2: answered IKE_INTERMEDIATE");
        self.additional_key_update(i, &secret, &ni, &nr);
    }

    /// RFC 9370 §2.2.2: after an additional key exchange, `SKEYSEED = prf(SK_d (old), SK(new)
    /// | Ni | Nr)` and every SK_* anew, with the same SPIs and IKE_SA_INIT nonces.
    fn additional_key_update(&mut self, i: usize, secret: &[u8], ni: &[u8], nr: &[u8]) {
        let Some(sa) = self.sas.get_mut(i) else {
            return;
        };
        let Some(old) = sa.keys.as_ref() else {
            return;
        };
        let seed = rekey_skeyseed(old.suite.prf, &old.sk_d, secret, ni, nr, &[]);
        if let Ok(k) = IkeSaKeys::derive(old.suite, &seed, ni, nr, &sa.spi_i, &sa.spi_r) {
            sa.keys = Some(k);
        }
    }
}
