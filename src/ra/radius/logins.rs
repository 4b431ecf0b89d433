//! RADIUS as a remote-access interface's user directory (sans-IO): a [`LoginBackend`] that
//! owns the RADIUS [`Client`] and answers every login later, when the server has.
//!
//! - IKEv1 XAUTH ([`LoginCheck::Password`]) becomes one PAP Access-Request (RFC 2865).
//! - IKEv2 EAP runs as RFC 3579 pass-through: each EAP-Response of the client (the first is
//!   its EAP-Response/Identity, whose identity becomes the User-Name) goes out in an
//!   Access-Request echoing the last Access-Challenge's State; an Access-Challenge's
//!   EAP-Request goes back to the client ([`BackendVerdict::Continue`]); Access-Accept logs
//!   the user in with the MSK the server sent as MS-MPPE-Recv-Key | MS-MPPE-Send-Key (RFC 2548,
//!   the order strongSwan's eap-radius and hostapd use); Access-Reject refuses it.
//!
//! Every request carries NAS-Identifier, Calling-Station-Id (the client's outer address),
//! Service-Type Framed and NAS-Port-Type Virtual. The caller (the interface's task) sends
//! [`LoginBackend::poll_transmit`]'s datagrams to the server, feeds its answers to
//! [`LoginBackend::handle_datagram`], runs [`LoginBackend::handle_timeout`] at
//! [`LoginBackend::poll_timeout`], and hands [`LoginBackend::poll_verdict`]'s verdicts on.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use zeroize::Zeroizing;

use super::client::{
    AccessRequest, Client, ClientConfig, Credential, Output, RadiusError, Reply, RequestId, State,
};
use super::crypto::SecretBytes;
use crate::ike::auth::eap::EapMethod;
use crate::ike::random::RandomSource;
use crate::ra::directory::LoginFailure;
use crate::ra::login::{BackendVerdict, LoginBackend, LoginCheck, LoginRequest, LoginTicket};
use crate::ra::throttle::printable;

// The EAP registries, parser and emitter the IKEv2 EAP server uses.
use crate::ike::auth::eap::server::packet as eap_packet;
use crate::ike::auth::eap::wire::{method, opcode};
use crate::wire::ikev2::{EapCode, EapRepr};

/// The RADIUS server as a [`LoginBackend`].
pub struct RadiusLogins {
    client: Client,
    eap: Option<EapMethod>,
    conversations: HashMap<LoginTicket, Conversation>,
    asked: HashMap<RequestId, Asked>,
    transmits: VecDeque<Vec<u8>>,
    verdicts: VecDeque<(LoginTicket, BackendVerdict)>,
}

/// One client's EAP conversation with the server.
#[derive(Default)]
struct Conversation {
    /// The User-Name: the EAP identity.
    user: String,
    /// The last Access-Challenge's State.
    state: Option<State>,
}

/// An outstanding Access-Request.
struct Asked {
    ticket: LoginTicket,
    user: String,
    /// The identifier of the EAP-Response it carries (EAP only).
    eap_id: Option<u8>,
}

impl std::fmt::Debug for RadiusLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadiusLogins")
            .field("client", &self.client)
            .field("conversations", &self.conversations.len())
            .finish_non_exhaustive()
    }
}

impl RadiusLogins {
    /// A backend asking the server of `config`; `eap` is `None` when the interface's `auth`
    /// lists no EAP method (an EAP client is then refused). Which EAP method runs is the
    /// server's choice (FreeRADIUS: `default_eap_type`).
    pub fn new(config: ClientConfig, eap: Option<EapMethod>) -> RadiusLogins {
        RadiusLogins {
            client: Client::new(config),
            eap,
            conversations: HashMap::new(),
            asked: HashMap::new(),
            transmits: VecDeque::new(),
            verdicts: VecDeque::new(),
        }
    }

    /// The server as configured (`HOST:PORT`).
    pub fn server(&self) -> &str {
        self.client.server()
    }

    fn ask(
        &mut self,
        now: Instant,
        req: AccessRequest,
        asked: Asked,
        rng: &mut dyn RandomSource,
    ) -> Option<BackendVerdict> {
        match self.client.start(now, &req, rng) {
            Ok((id, datagram)) => {
                self.transmits.push_back(datagram);
                self.asked.insert(id, asked);
                None
            }
            Err(e) => {
                self.conversations.remove(&asked.ticket);
                Some(unavailable(&e))
            }
        }
    }

    fn eap(
        &mut self,
        now: Instant,
        req: &LoginRequest,
        msg: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Option<BackendVerdict> {
        if self.eap.is_none() {
            return Some(BackendVerdict::no_eap_method());
        }
        let conversation = self.conversations.entry(req.ticket).or_default();
        if let Some(identity) = eap_identity(msg) {
            conversation.user = identity;
        }
        let user = conversation.user.clone();
        let access = AccessRequest {
            user: user.clone(),
            credential: Credential::Eap {
                message: msg.to_vec(),
                state: conversation.state.clone(),
            },
            calling_station_id: Some(req.source.ip().to_string()),
        };
        let asked = Asked {
            ticket: req.ticket,
            user,
            eap_id: msg.get(1).copied(),
        };
        self.ask(now, access, asked, rng)
    }

    /// The server finished request `id`.
    fn finish(&mut self, id: RequestId, result: Result<Reply, RadiusError>) {
        let Some(asked) = self.asked.remove(&id) else {
            // Its client left meanwhile.
            return;
        };
        let verdict = match result {
            Err(e) => unavailable(&e),
            Ok(reply) => match asked.eap_id {
                None => self.pap_verdict(&asked, reply),
                Some(eap_id) => self.eap_verdict(&asked, eap_id, reply),
            },
        };
        if !matches!(verdict, BackendVerdict::Continue(_)) {
            self.conversations.remove(&asked.ticket);
        }
        self.verdicts.push_back((asked.ticket, verdict));
    }

    fn pap_verdict(&self, asked: &Asked, reply: Reply) -> BackendVerdict {
        match reply {
            Reply::Accept(a) => BackendVerdict::Accepted {
                user: a.user_name.unwrap_or_else(|| asked.user.clone()),
                msk: None,
                eap: None,
            },
            Reply::Reject(r) => self.rejected(asked, r.reply_message, None),
            Reply::Challenge(_) => BackendVerdict::Rejected {
                failure: LoginFailure::Unavailable {
                    detail: format!(
                        "RADIUS server {} answered the password of user \"{}\" with an \
                         Access-Challenge (a second factor?), which XAUTH cannot relay; have \
                         the server accept or reject this user outright",
                        self.server(),
                        asked.user
                    ),
                },
                eap: None,
            },
        }
    }

    fn eap_verdict(&mut self, asked: &Asked, eap_id: u8, reply: Reply) -> BackendVerdict {
        match reply {
            Reply::Accept(a) => BackendVerdict::Accepted {
                user: a.user_name.unwrap_or_else(|| asked.user.clone()),
                msk: a.msk.map(|k| Zeroizing::new(k.expose().to_vec())),
                eap: Some(
                    a.eap
                        .unwrap_or_else(|| eap_status(EapCode::SUCCESS, eap_id)),
                ),
            },
            Reply::Reject(r) => {
                let eap = r
                    .eap
                    .unwrap_or_else(|| eap_status(EapCode::FAILURE, eap_id));
                self.rejected(asked, r.reply_message, Some(eap))
            }
            Reply::Challenge(c) => {
                let Some(eap) = c.eap else {
                    return BackendVerdict::Rejected {
                        failure: LoginFailure::Unavailable {
                            detail: format!(
                                "RADIUS server {} sent an Access-Challenge without EAP-Message \
                                 to an EAP request",
                                self.server()
                            ),
                        },
                        eap: None,
                    };
                };
                // A wrong MS-CHAPv2 password: the server's Failure request goes with the
                // verdict (strongSwan gives up at once rather than acknowledge it).
                if let Some(text) = mschapv2_failure(&eap) {
                    let message = c.reply_message.unwrap_or(text);
                    return self.rejected(asked, Some(message), Some(eap));
                }
                if let Some(conversation) = self.conversations.get_mut(&asked.ticket) {
                    conversation.state = c.state;
                }
                BackendVerdict::Continue(eap)
            }
        }
    }

    fn rejected(
        &self,
        asked: &Asked,
        reply_message: Option<String>,
        eap: Option<Vec<u8>>,
    ) -> BackendVerdict {
        BackendVerdict::Rejected {
            failure: LoginFailure::RadiusReject {
                user: asked.user.clone(),
                server: self.server().to_string(),
                reply_message,
            },
            eap,
        }
    }
}

impl LoginBackend for RadiusLogins {
    fn check(
        &mut self,
        now: Instant,
        req: &LoginRequest,
        rng: &mut dyn RandomSource,
    ) -> Option<BackendVerdict> {
        match &req.check {
            LoginCheck::Admit => Some(BackendVerdict::Accepted {
                user: req.user.clone(),
                msk: None,
                eap: None,
            }),
            LoginCheck::Password(password) => {
                let access = AccessRequest {
                    user: req.user.clone(),
                    credential: Credential::Password(SecretBytes::new(password.to_vec())),
                    calling_station_id: Some(req.source.ip().to_string()),
                };
                let asked = Asked {
                    ticket: req.ticket,
                    user: req.user.clone(),
                    eap_id: None,
                };
                self.ask(now, access, asked, rng)
            }
            LoginCheck::Eap(msg) => self.eap(now, req, msg, rng),
        }
    }

    fn forget(&mut self, ticket: LoginTicket) {
        self.conversations.remove(&ticket);
        self.asked.retain(|_, a| a.ticket != ticket);
        self.verdicts.retain(|(t, _)| *t != ticket);
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    fn handle_datagram(&mut self, _now: Instant, datagram: &[u8]) {
        match self.client.handle_datagram(datagram) {
            Ok((id, result)) => self.finish(id, result),
            Err(reason) => tracing::warn!(
                "dropped a datagram from RADIUS server {}: {reason}",
                self.client.server()
            ),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.client.next_deadline()
    }

    fn handle_timeout(&mut self, now: Instant) {
        for out in self.client.poll(now) {
            match out {
                Output::Retransmit(d) => self.transmits.push_back(d),
                Output::Done(id, result) => self.finish(id, result),
            }
        }
    }

    fn poll_verdict(&mut self) -> Option<(LoginTicket, BackendVerdict)> {
        self.verdicts.pop_front()
    }
}

/// The server could not answer: the directory is unavailable (the error names the server and
/// the tries).
fn unavailable(e: &RadiusError) -> BackendVerdict {
    BackendVerdict::Rejected {
        failure: LoginFailure::Unavailable {
            detail: e.to_string(),
        },
        eap: None,
    }
}

/// The identity inside an EAP-Response/Identity, printable.
fn eap_identity(msg: &[u8]) -> Option<String> {
    let eap = EapRepr::parse(msg).ok()?;
    (eap.code == EapCode::RESPONSE && eap.eap_type == Some(method::IDENTITY))
        .then(|| printable(eap.data))
}

/// An EAP-Success or EAP-Failure (RFC 3748 §4.2) with identifier `id`.
fn eap_status(code: EapCode, id: u8) -> Vec<u8> {
    eap_packet(code, id, None, &[])
}

/// The message of an EAP-Request/MS-CHAPv2 Failure packet (RFC 2759 §6 in EAP, opcode 4).
fn mschapv2_failure(eap: &[u8]) -> Option<String> {
    let eap = EapRepr::parse(eap).ok()?;
    let is_failure = eap.code == EapCode::REQUEST
        && eap.eap_type == Some(method::MSCHAPV2)
        && eap.data.first() == Some(&opcode::FAILURE);
    // Opcode, MS-CHAPv2-ID, MS-Length (2), then the message ("E=691 R=1 …").
    is_failure.then(|| format!("MS-CHAPv2 {}", printable(eap.data.get(4..).unwrap_or(&[]))))
}

#[cfg(test)]
#[path = "logins_tests.rs"]
mod tests;
