//! The EAP server (authenticator) side of one login, sans-IO: EAP-Identity, then EAP-MD5 or
//! EAP-MSCHAPv2 checked against a [`Directory`]. IKEv2 carries its packets in IKE_AUTH
//! (RFC 7296 §2.16); the MSK it exports keys the final AUTH payloads.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::mschapv2::{self, CHALLENGE_LEN};
use super::wire::{self, method, opcode, Md5Value, MschapPeerPacket, MschapResponse};
use crate::ike::random::RandomSource;
use crate::ra::directory::{Directory, LoginFailure};
use crate::wire::ikev2::{EapCode, EapRepr, PayloadRepr};

/// The EAP method a remote-access interface asks its clients for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EapMethod {
    /// EAP-MD5 (RFC 3748 §5.4): no key, for tests and old clients.
    Md5,
    /// EAP-MSCHAPv2: what Windows, macOS, iOS and Android speak natively.
    MsChapV2,
}

impl EapMethod {
    /// The method's name in the configuration (`auth:`).
    pub fn name(self) -> &'static str {
        match self {
            EapMethod::Md5 => "eap-md5",
            EapMethod::MsChapV2 => "eap-mschapv2",
        }
    }

    fn type_number(self) -> u8 {
        match self {
            EapMethod::Md5 => method::MD5,
            EapMethod::MsChapV2 => method::MSCHAPV2,
        }
    }
}

/// What to do after a client's EAP message.
#[derive(Debug)]
pub enum EapStep {
    /// Send this EAP request and wait for the next response.
    Request(Vec<u8>),
    /// The client is authenticated: send this EAP-Success; `msk` keys the AUTH payloads
    /// (`None` for methods without a key, when SK_pi/SK_pr stand in, RFC 7296 §2.16).
    Success {
        /// The EAP-Success packet.
        packet: Vec<u8>,
        /// The authenticated user name.
        user: String,
        /// The method's master session key.
        msk: Option<Zeroizing<Vec<u8>>>,
    },
    /// The login failed: send this EAP-Failure and log `failure`.
    Failure {
        /// The EAP-Failure packet.
        packet: Vec<u8>,
        /// Why, in words.
        failure: LoginFailure,
    },
}

enum State {
    Identity,
    Md5 {
        user: String,
        challenge: [u8; CHALLENGE_LEN],
    },
    MsChap {
        identity: String,
        challenge: [u8; CHALLENGE_LEN],
    },
    MsChapSucceeded {
        user: String,
        msk: Zeroizing<Vec<u8>>,
    },
    MsChapFailed(LoginFailure),
    Done,
}

/// One client's EAP conversation.
pub struct EapServer {
    method: EapMethod,
    state: State,
    /// Identifier of the request we sent last (responses must echo it).
    id: u8,
    /// Our name in MS-CHAPv2 challenges.
    name: Vec<u8>,
}

impl std::fmt::Debug for EapServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EapServer")
            .field("method", &self.method)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl EapServer {
    /// Starts a conversation: returns the server and the EAP-Request/Identity to send.
    pub fn start(
        method: EapMethod,
        name: &str,
        rng: &mut dyn RandomSource,
    ) -> (EapServer, Vec<u8>) {
        let mut id = [0u8; 1];
        rng.fill(&mut id);
        let s = EapServer {
            method,
            state: State::Identity,
            id: id[0],
            name: name.as_bytes().to_vec(),
        };
        let first = packet(EapCode::REQUEST, s.id, Some(method::IDENTITY), &[]);
        (s, first)
    }

    /// A conversation whose EAP-Request/Identity (identifier `id`) someone else sent: the
    /// IKEv2 engine does as a pass-through authenticator, whichever backend answers next.
    pub fn after_identity_request(method: EapMethod, name: &str, id: u8) -> EapServer {
        EapServer {
            method,
            state: State::Identity,
            id,
            name: name.as_bytes().to_vec(),
        }
    }

    /// The EAP-Request/Identity with identifier `id` (RFC 3748 §5.1).
    pub fn identity_request(id: u8) -> Vec<u8> {
        packet(EapCode::REQUEST, id, Some(method::IDENTITY), &[])
    }

    /// Handles one EAP message from the client.
    pub fn handle(
        &mut self,
        eap: &[u8],
        directory: &dyn Directory,
        rng: &mut dyn RandomSource,
    ) -> EapStep {
        let user = self.user().to_string();
        let protocol = |detail: String| LoginFailure::Protocol {
            user: user.clone(),
            detail,
        };
        let msg = match EapRepr::parse(eap) {
            Ok(m) => m,
            Err(e) => return self.fail(protocol(format!("malformed EAP message ({e})"))),
        };
        if msg.code != EapCode::RESPONSE || msg.identifier != self.id {
            return self.fail(protocol(format!(
                "expected an EAP-Response with identifier {}, got code {} identifier {}",
                self.id, msg.code.0, msg.identifier
            )));
        }
        let eap_type = msg.eap_type.unwrap_or(0);
        if eap_type == method::NAK {
            return self.fail(protocol(format!(
                "the client refused {} (EAP-Nak, it wants method(s) {:?}); configure the same \
                 method on both sides",
                self.method.name(),
                msg.data
            )));
        }
        let expected = match self.state {
            State::Identity => method::IDENTITY,
            _ => self.method.type_number(),
        };
        if eap_type != expected {
            return self.fail(protocol(format!(
                "expected EAP type {expected}, got {eap_type}"
            )));
        }
        match std::mem::replace(&mut self.state, State::Done) {
            State::Identity => self.on_identity(msg.data, rng),
            State::Md5 { user, challenge } => self.on_md5(&user, &challenge, msg.data, directory),
            State::MsChap {
                identity,
                challenge,
            } => self.on_mschap_response(&identity, &challenge, msg.data, directory, rng),
            State::MsChapSucceeded { user, msk } => self.on_success_ack(user, msk, msg.data),
            State::MsChapFailed(f) => self.fail(f),
            State::Done => self.fail(protocol("the EAP exchange is already over".into())),
        }
    }

    /// Why the login failed, once it has (MS-CHAPv2 sends a Failure request first, which the
    /// client acknowledges before the EAP-Failure; the failure is known from that request on).
    pub fn failure(&self) -> Option<&LoginFailure> {
        match &self.state {
            State::MsChapFailed(f) => Some(f),
            _ => None,
        }
    }

    /// The user name the client gave so far (empty before its identity).
    pub fn user(&self) -> &str {
        match &self.state {
            State::Md5 { user, .. } | State::MsChapSucceeded { user, .. } => user,
            State::MsChap { identity, .. } => identity,
            State::MsChapFailed(f) => f.user().unwrap_or(""),
            State::Identity | State::Done => "",
        }
    }

    fn on_identity(&mut self, identity: &[u8], rng: &mut dyn RandomSource) -> EapStep {
        let Ok(user) = std::str::from_utf8(identity).map(|s| s.trim_end_matches('\0')) else {
            return self.fail(LoginFailure::Protocol {
                user: String::new(),
                detail: "the EAP identity is not UTF-8".into(),
            });
        };
        let user = user.to_string();
        let mut challenge = [0u8; CHALLENGE_LEN];
        rng.fill(&mut challenge);
        self.id = self.id.wrapping_add(1);
        let data = match self.method {
            EapMethod::Md5 => Md5Value {
                value: &challenge,
                name: &self.name,
            }
            .to_vec(),
            EapMethod::MsChapV2 => wire::mschap_challenge(self.id, &challenge, &self.name),
        };
        self.state = match self.method {
            EapMethod::Md5 => State::Md5 { user, challenge },
            EapMethod::MsChapV2 => State::MsChap {
                identity: user,
                challenge,
            },
        };
        EapStep::Request(packet(
            EapCode::REQUEST,
            self.id,
            Some(self.method.type_number()),
            &data,
        ))
    }

    fn on_md5(
        &mut self,
        user: &str,
        challenge: &[u8; CHALLENGE_LEN],
        data: &[u8],
        directory: &dyn Directory,
    ) -> EapStep {
        let value = match Md5Value::parse(data) {
            Ok(v) => v.value,
            Err(e) => {
                return self.fail(LoginFailure::Protocol {
                    user: user.into(),
                    detail: format!("malformed EAP-MD5 response ({e})"),
                })
            }
        };
        let secret = match directory.md5_secret(user) {
            Ok(s) => s,
            Err(f) => return self.fail(f),
        };
        use md5::Digest;
        let expected = md5::Md5::new()
            .chain_update([self.id])
            .chain_update(&*secret)
            .chain_update(challenge)
            .finalize();
        if value.len() != expected.len() || !bool::from(value.ct_eq(&expected)) {
            return self.fail(LoginFailure::WrongPassword {
                user: user.into(),
                method: "eap-md5",
            });
        }
        self.succeed(user.to_string(), None)
    }

    fn on_mschap_response(
        &mut self,
        identity: &str,
        challenge: &[u8; CHALLENGE_LEN],
        data: &[u8],
        directory: &dyn Directory,
        rng: &mut dyn RandomSource,
    ) -> EapStep {
        let r = match MschapPeerPacket::parse(data) {
            Ok(MschapPeerPacket::Response(r)) => r,
            Ok(other) => {
                return self.fail(LoginFailure::Protocol {
                    user: identity.into(),
                    detail: format!("expected an MS-CHAPv2 Response, got {other:?}"),
                })
            }
            Err(e) => {
                return self.fail(LoginFailure::Protocol {
                    user: identity.into(),
                    detail: format!("malformed MS-CHAPv2 Response ({e})"),
                })
            }
        };
        match verify_mschap(identity, challenge, &r, directory) {
            Ok((user, auth_response, msk)) => {
                self.id = self.id.wrapping_add(1);
                let text = format!("{auth_response} M=welcome");
                let data = wire::mschap_message(opcode::SUCCESS, r.id, &text);
                self.state = State::MsChapSucceeded { user, msk };
                EapStep::Request(packet(
                    EapCode::REQUEST,
                    self.id,
                    Some(method::MSCHAPV2),
                    &data,
                ))
            }
            Err(failure) => {
                // RFC 2759 §6: E=691 (authentication failure), no retry; a fresh challenge
                // because the message format requires one.
                let mut c = [0u8; CHALLENGE_LEN];
                rng.fill(&mut c);
                let hex: String = c.iter().map(|b| format!("{b:02X}")).collect();
                let text = format!("E=691 R=0 C={hex} V=3 M=authentication failed");
                self.id = self.id.wrapping_add(1);
                let data = wire::mschap_message(opcode::FAILURE, r.id, &text);
                self.state = State::MsChapFailed(failure);
                EapStep::Request(packet(
                    EapCode::REQUEST,
                    self.id,
                    Some(method::MSCHAPV2),
                    &data,
                ))
            }
        }
    }

    fn on_success_ack(&mut self, user: String, msk: Zeroizing<Vec<u8>>, data: &[u8]) -> EapStep {
        match MschapPeerPacket::parse(data) {
            Ok(MschapPeerPacket::SuccessAck) => self.succeed(user, Some(msk)),
            _ => self.fail(LoginFailure::Protocol {
                user,
                detail: "the client did not acknowledge our MS-CHAPv2 Success (it may not \
                         trust the authenticator response)"
                    .into(),
            }),
        }
    }

    fn succeed(&mut self, user: String, msk: Option<Zeroizing<Vec<u8>>>) -> EapStep {
        self.state = State::Done;
        self.id = self.id.wrapping_add(1);
        EapStep::Success {
            packet: packet(EapCode::SUCCESS, self.id, None, &[]),
            user,
            msk,
        }
    }

    fn fail(&mut self, failure: LoginFailure) -> EapStep {
        self.state = State::Done;
        self.id = self.id.wrapping_add(1);
        EapStep::Failure {
            packet: packet(EapCode::FAILURE, self.id, None, &[]),
            failure,
        }
    }
}

/// Checks an MS-CHAPv2 Response; returns the user, the authenticator response and the MSK.
fn verify_mschap(
    identity: &str,
    challenge: &[u8; CHALLENGE_LEN],
    r: &MschapResponse<'_>,
    directory: &dyn Directory,
) -> Result<(String, String, Zeroizing<Vec<u8>>), LoginFailure> {
    // The name hashed into the challenge is the user part, without a `DOMAIN\` prefix.
    let name = r.name.rsplit(|b| *b == b'\\').next().unwrap_or(r.name);
    let user = match std::str::from_utf8(name) {
        Ok(u) if !u.is_empty() => u.to_string(),
        _ => identity.to_string(),
    };
    let nt_hash = directory.nt_hash(&user)?;
    let expected = mschapv2::nt_response(challenge, &r.peer_challenge, name, &nt_hash);
    if !bool::from(expected.ct_eq(&r.nt_response)) {
        return Err(LoginFailure::WrongPassword {
            user,
            method: "eap-mschapv2",
        });
    }
    let auth = mschapv2::authenticator_response(
        &nt_hash,
        &r.nt_response,
        &r.peer_challenge,
        challenge,
        name,
    );
    Ok((user, auth, mschapv2::msk(&nt_hash, &r.nt_response)))
}

/// An EAP packet.
pub(crate) fn packet(code: EapCode, identifier: u8, eap_type: Option<u8>, data: &[u8]) -> Vec<u8> {
    let repr = EapRepr {
        code,
        identifier,
        eap_type,
        data,
    };
    let mut out = vec![0u8; repr.buffer_len()];
    // The buffer is sized by buffer_len and our data is bounded: emit cannot fail.
    let _ = repr.emit(&mut out);
    out
}
