//! The EAP peer (client) side of one login, sans-IO: the answers a remote-access client gives
//! the gateway's EAP-Request/Identity, EAP-MD5 challenge (RFC 3748 §5.4) and EAP-MSCHAPv2
//! rounds (draft-kamath-pppext-eap-mschapv2, RFC 2759), checking the gateway's authenticator
//! response before trusting its Success. The MSK it exports keys the client's final AUTH.

use std::sync::Arc;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::mschapv2::{self, CHALLENGE_LEN, NT_RESPONSE_LEN};
use super::wire::{self, method, opcode, Md5Value, MschapResponse};
use super::EapMethod;
use crate::ike::random::RandomSource;
use crate::wire::ikev2::{EapCode, EapRepr};

/// What a remote-access client logs in with.
#[derive(Clone, PartialEq, Eq)]
pub struct EapCredentials {
    /// The method the client expects (another one is refused with EAP-Nak).
    pub method: EapMethod,
    /// The EAP identity (user name).
    pub identity: String,
    /// The password.
    pub password: Zeroizing<String>,
}

impl std::fmt::Debug for EapCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EapCredentials")
            .field("method", &self.method)
            .field("identity", &self.identity)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What to do after one of the gateway's EAP messages.
#[derive(Debug)]
pub enum PeerStep {
    /// Send this EAP-Response.
    Respond(Vec<u8>),
    /// EAP-Success: the method's MSK (none for EAP-MD5, when SK_pi/SK_pr key the AUTH).
    Success(Option<Zeroizing<Vec<u8>>>),
    /// The login failed (EAP-Failure, or the gateway broke the method), in words.
    Failure(String),
}

/// One client's EAP conversation.
pub struct EapPeer {
    creds: Arc<EapCredentials>,
    mschap: Option<MschapSent>,
    /// MS-CHAPv2: the gateway proved it knows the password; the key to export.
    msk: Option<Zeroizing<Vec<u8>>>,
    /// MS-CHAPv2: the gateway's Failure message (an EAP-Failure follows).
    refused: Option<String>,
}

impl std::fmt::Debug for EapPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EapPeer")
            .field("method", &self.creds.method)
            .finish_non_exhaustive()
    }
}

/// Our MS-CHAPv2 Response, kept to check the gateway's authenticator response.
struct MschapSent {
    challenge: [u8; CHALLENGE_LEN],
    peer_challenge: [u8; CHALLENGE_LEN],
    nt_response: [u8; NT_RESPONSE_LEN],
    nt_hash: Zeroizing<[u8; 16]>,
}

impl EapPeer {
    /// A conversation logging in with `creds`.
    pub fn new(creds: Arc<EapCredentials>) -> EapPeer {
        EapPeer {
            creds,
            mschap: None,
            msk: None,
            refused: None,
        }
    }

    /// Handles one EAP message from the gateway.
    pub fn handle(&mut self, packet: &[u8], rng: &mut dyn RandomSource) -> PeerStep {
        let msg = match EapRepr::parse(packet) {
            Ok(m) => m,
            Err(e) => return PeerStep::Failure(format!("malformed EAP message ({e})")),
        };
        match msg.code {
            EapCode::SUCCESS => self.on_success(),
            EapCode::FAILURE => PeerStep::Failure(match self.refused.take() {
                Some(m) => format!("the gateway refused our password ({m})"),
                None => "the gateway sent EAP-Failure (wrong user name or password?)".into(),
            }),
            EapCode::REQUEST => self.on_request(msg.identifier, msg.eap_type, msg.data, rng),
            other => PeerStep::Failure(format!("unexpected EAP code {}", other.0)),
        }
    }

    fn on_success(&mut self) -> PeerStep {
        match self.creds.method {
            EapMethod::Md5 => PeerStep::Success(None),
            EapMethod::MsChapV2 => match self.msk.take() {
                Some(msk) => PeerStep::Success(Some(msk)),
                None => PeerStep::Failure(
                    "EAP-Success before the gateway proved it knows our MS-CHAPv2 password".into(),
                ),
            },
        }
    }

    fn on_request(
        &mut self,
        id: u8,
        eap_type: Option<u8>,
        data: &[u8],
        rng: &mut dyn RandomSource,
    ) -> PeerStep {
        let ours = self.creds.method;
        match eap_type {
            Some(method::IDENTITY) => {
                let name = self.creds.identity.clone();
                PeerStep::Respond(response(id, method::IDENTITY, name.as_bytes()))
            }
            Some(method::MD5) if ours == EapMethod::Md5 => self.on_md5(id, data),
            Some(method::MSCHAPV2) if ours == EapMethod::MsChapV2 => self.on_mschap(id, data, rng),
            Some(_) => {
                // RFC 3748 §5.3.1: a legacy Nak naming the method we want.
                let want = match ours {
                    EapMethod::Md5 => method::MD5,
                    EapMethod::MsChapV2 => method::MSCHAPV2,
                };
                PeerStep::Respond(response(id, method::NAK, &[want]))
            }
            None => PeerStep::Failure("an EAP-Request without a type".into()),
        }
    }

    fn on_md5(&mut self, id: u8, data: &[u8]) -> PeerStep {
        let value = match Md5Value::parse(data) {
            Ok(v) => v.value,
            Err(e) => return PeerStep::Failure(format!("malformed EAP-MD5 challenge ({e})")),
        };
        use md5::Digest;
        let digest = md5::Md5::new()
            .chain_update([id])
            .chain_update(self.creds.password.as_bytes())
            .chain_update(value)
            .finalize();
        let answer = Md5Value {
            value: &digest,
            name: b"",
        };
        PeerStep::Respond(response(id, method::MD5, &answer.to_vec()))
    }

    fn on_mschap(&mut self, id: u8, data: &[u8], rng: &mut dyn RandomSource) -> PeerStep {
        let req = match wire::parse_request(data) {
            Ok(r) => r,
            Err(e) => return PeerStep::Failure(format!("malformed MS-CHAPv2 request ({e})")),
        };
        match req.op {
            opcode::CHALLENGE => {
                let Ok(challenge) = <[u8; CHALLENGE_LEN]>::try_from(req.value) else {
                    return PeerStep::Failure("an MS-CHAPv2 challenge of the wrong size".into());
                };
                self.mschap_response(id, req.id, challenge, rng)
            }
            opcode::SUCCESS => self.mschap_success(id, req.text),
            opcode::FAILURE => {
                self.refused = Some(String::from_utf8_lossy(req.text).into_owned());
                PeerStep::Respond(response(id, method::MSCHAPV2, &[opcode::FAILURE]))
            }
            op => PeerStep::Failure(format!("unexpected MS-CHAPv2 op-code {op}")),
        }
    }

    fn mschap_response(
        &mut self,
        id: u8,
        ms_id: u8,
        challenge: [u8; CHALLENGE_LEN],
        rng: &mut dyn RandomSource,
    ) -> PeerStep {
        let mut peer_challenge = [0u8; CHALLENGE_LEN];
        rng.fill(&mut peer_challenge);
        let name = self.creds.identity.as_bytes();
        let nt_hash = mschapv2::nt_password_hash(&self.creds.password);
        let nt_response = mschapv2::nt_response(&challenge, &peer_challenge, name, &nt_hash);
        let r = MschapResponse {
            id: ms_id,
            peer_challenge,
            nt_response,
            name,
        };
        let data = wire::mschap_response(&r);
        self.mschap = Some(MschapSent {
            challenge,
            peer_challenge,
            nt_response,
            nt_hash,
        });
        PeerStep::Respond(response(id, method::MSCHAPV2, &data))
    }

    /// The gateway's Success-Request: its authenticator response must match before we ack.
    fn mschap_success(&mut self, id: u8, text: &[u8]) -> PeerStep {
        let Some(sent) = &self.mschap else {
            return PeerStep::Failure("an MS-CHAPv2 Success before our Response".into());
        };
        let expected = mschapv2::authenticator_response(
            &sent.nt_hash,
            &sent.nt_response,
            &sent.peer_challenge,
            &sent.challenge,
            self.creds.identity.as_bytes(),
        );
        let got = text.get(..expected.len()).unwrap_or(text);
        if !bool::from(got.ct_eq(expected.as_bytes())) {
            return PeerStep::Failure(
                "the gateway's MS-CHAPv2 authenticator response is wrong: it does not know our \
                 password (a rogue gateway, or another user's entry)"
                    .into(),
            );
        }
        self.msk = Some(mschapv2::msk(&sent.nt_hash, &sent.nt_response));
        PeerStep::Respond(response(id, method::MSCHAPV2, &[opcode::SUCCESS]))
    }
}

/// An EAP-Response packet.
fn response(id: u8, eap_type: u8, data: &[u8]) -> Vec<u8> {
    super::server::packet(EapCode::RESPONSE, id, Some(eap_type), data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::random::SeededRandom;

    fn peer(method: EapMethod) -> EapPeer {
        EapPeer::new(Arc::new(EapCredentials {
            method,
            identity: "alice".into(),
            password: Zeroizing::new("clientPass".into()),
        }))
    }

    fn request(id: u8, eap_type: u8, data: &[u8]) -> Vec<u8> {
        let len = (5 + data.len()) as u16;
        let mut m = vec![1, id, (len >> 8) as u8, len as u8, eap_type];
        m.extend_from_slice(data);
        m
    }

    fn respond(step: PeerStep) -> Vec<u8> {
        match step {
            PeerStep::Respond(r) => r,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// A gateway that does not know the password cannot fake MS-CHAPv2's Success, and an
    /// EAP-Success without it is refused: no MSK, no AUTH from us.
    #[test]
    fn a_gateway_without_our_password_gets_no_msk() {
        let mut rng = SeededRandom::new(1);
        let mut p = peer(EapMethod::MsChapV2);
        let id = respond(p.handle(&request(1, method::IDENTITY, &[]), &mut rng));
        assert_eq!(&id[4..], b"\x01alice");
        let challenge = wire::mschap_challenge(7, &[9; 16], b"gw");
        let r = respond(p.handle(&request(2, method::MSCHAPV2, &challenge), &mut rng));
        assert_eq!((r[0], r[1], r[4]), (2, 2, method::MSCHAPV2));
        let forged =
            wire::mschap_message(opcode::SUCCESS, 7, &format!("S={} M=hi", "0".repeat(40)));
        let step = p.handle(&request(3, method::MSCHAPV2, &forged), &mut rng);
        assert!(
            matches!(&step, PeerStep::Failure(m) if m.contains("authenticator response is wrong")),
            "{step:?}"
        );
        let step = p.handle(&[3, 4, 0, 4], &mut rng);
        assert!(matches!(step, PeerStep::Failure(_)), "{step:?}");
    }

    /// EAP-MD5: the response is MD5(identifier ‖ password ‖ challenge); another method is
    /// answered with a Nak naming ours.
    #[test]
    fn md5_response_and_nak() {
        let mut rng = SeededRandom::new(1);
        let mut p = peer(EapMethod::Md5);
        let nak = respond(p.handle(&request(1, method::MSCHAPV2, &[1]), &mut rng));
        assert_eq!(&nak[4..], [method::NAK, method::MD5]);
        let value = Md5Value {
            value: &[5; 16],
            name: b"gw",
        };
        let r = respond(p.handle(&request(2, method::MD5, &value.to_vec()), &mut rng));
        use md5::Digest;
        let want = md5::Md5::new()
            .chain_update([2])
            .chain_update(b"clientPass")
            .chain_update([5; 16])
            .finalize();
        assert_eq!(Md5Value::parse(&r[5..]).unwrap().value, &want[..]);
        assert!(matches!(
            p.handle(&[3, 3, 0, 4], &mut rng),
            PeerStep::Success(None)
        ));
    }
}
