//! The login seam between a client's IKE engine and the user directory (sans-IO, both IKE
//! versions). The engine never looks a user up itself: it emits a [`LoginRequest`] (an
//! `Event::Login`) naming a [`LoginTicket`], and is told the outcome later through
//! `TunnelEngine::login_answer(now, ticket, LoginAnswer)`. The answer may come at once (the
//! users file, [`LocalLogins`]) or after a network round trip (RADIUS), so both fit.
//!
//! IKEv2 EAP runs as a pass-through authenticator (RFC 3579's view of a NAS): the engine sends
//! the EAP-Request/Identity itself, then hands every EAP-Response to the backend, which answers
//! with the next EAP-Request ([`LoginAnswer::Continue`]), or with the final verdict. IKEv1
//! XAUTH hands over a user name and password ([`LoginCheck::Password`]). A client already
//! authenticated by IKE itself (PSK or certificate road warrior) only asks to be admitted
//! ([`LoginCheck::Admit`]): the answer carries its lease all the same.
//!
//! Accepting a login is the remote-access interface's call ([`super::acceptor`]): it leases the
//! address ([`super::ClientRegistry::connect`]) and passes the [`Admission`] to the engine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use zeroize::Zeroizing;

use super::directory::{Directory, LoginFailure};
use super::pool::Lease;
use super::throttle::{FailureReason, Throttle, Verdict};
use crate::ike::auth::eap::{EapMethod, EapServer, EapStep};
use crate::ike::random::RandomSource;

/// Names one client's login conversation (unique within a remote-access interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LoginTicket(pub u64);

/// What the engine asks the directory to check.
pub enum LoginCheck {
    /// An EAP-Response from the client (the first one is its EAP-Response/Identity).
    Eap(Vec<u8>),
    /// A user name and cleartext password (IKEv1 XAUTH, or RADIUS PAP).
    Password(Zeroizing<Vec<u8>>),
    /// The client authenticated in IKE itself (group PSK, certificate): admit it and lease it
    /// an address under `user` (its IDi).
    Admit,
}

impl std::fmt::Debug for LoginCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginCheck::Eap(m) => write!(f, "Eap({} bytes)", m.len()),
            LoginCheck::Password(_) => f.write_str("Password(<redacted>)"),
            LoginCheck::Admit => f.write_str("Admit"),
        }
    }
}

/// One question from a client's engine.
#[derive(Debug)]
pub struct LoginRequest {
    /// The conversation it belongs to; the answer names it.
    pub ticket: LoginTicket,
    /// The user as known so far: the XAUTH user name, the IDi for [`LoginCheck::Admit`], or
    /// empty for EAP (the backend reads the EAP identity).
    pub user: String,
    /// The IKE identity (IDi / IDii) the client presented.
    pub identity: String,
    /// The client's outer address (for the throttle and RADIUS' Calling-Station-Id).
    pub source: SocketAddr,
    /// IKE version (1 or 2).
    pub ike_version: u8,
    /// What to check.
    pub check: LoginCheck,
}

impl LoginRequest {
    /// The request without its password (a [`LoginCheck::Password`] becomes
    /// [`LoginCheck::Admit`]; an EAP message is kept, it names the EAP identity): what the
    /// interface keeps while an asynchronous backend works on the answer.
    pub fn without_credential(&self) -> LoginRequest {
        let check = match &self.check {
            LoginCheck::Eap(m) => LoginCheck::Eap(m.clone()),
            LoginCheck::Password(_) | LoginCheck::Admit => LoginCheck::Admit,
        };
        LoginRequest {
            ticket: self.ticket,
            user: self.user.clone(),
            identity: self.identity.clone(),
            source: self.source,
            ike_version: self.ike_version,
            check,
        }
    }
}

/// What the remote-access interface hands a client it admits.
#[derive(Debug)]
pub struct Admission {
    /// The authenticated user.
    pub user: String,
    /// The EAP method's master session key (keys the IKEv2 AUTH payloads, RFC 7296 §2.16).
    pub msk: Option<Zeroizing<Vec<u8>>>,
    /// The EAP-Success to send (EAP only).
    pub eap: Option<Vec<u8>>,
    /// Its virtual addresses.
    pub lease: Lease,
}

/// The answer to a [`LoginRequest`].
#[derive(Debug)]
pub enum LoginAnswer {
    /// EAP goes on: send this EAP-Request.
    Continue(Vec<u8>),
    /// Logged in.
    Accepted(Admission),
    /// Refused: tell the client (EAP-Failure when `eap` is given, then AUTHENTICATION_FAILED)
    /// and log `failure`.
    Rejected {
        /// Why, in words (never the password).
        failure: LoginFailure,
        /// The EAP-Failure to send (EAP only).
        eap: Option<Vec<u8>>,
    },
}

/// A backend's verdict before the interface leases an address: [`LoginAnswer`] without the
/// lease.
#[derive(Debug)]
pub enum BackendVerdict {
    /// EAP goes on: send this EAP-Request.
    Continue(Vec<u8>),
    /// Logged in as `user`.
    Accepted {
        /// The authenticated user.
        user: String,
        /// The EAP MSK, if the method has one.
        msk: Option<Zeroizing<Vec<u8>>>,
        /// The EAP-Success to send, for EAP.
        eap: Option<Vec<u8>>,
    },
    /// Refused.
    Rejected {
        /// Why.
        failure: LoginFailure,
        /// The EAP-Failure to send, for EAP.
        eap: Option<Vec<u8>>,
    },
}

impl BackendVerdict {
    /// The refusal of a client that starts EAP on an interface whose `auth` lists no EAP
    /// method.
    pub fn no_eap_method() -> BackendVerdict {
        BackendVerdict::Rejected {
            failure: LoginFailure::Protocol {
                user: String::new(),
                detail: "the client started EAP, and this interface's `auth` lists no EAP method"
                    .into(),
            },
            eap: None,
        }
    }
}

/// A user directory answering [`LoginRequest`]s: synchronously ([`LocalLogins`]) or later
/// (RADIUS, whose answers the daemon feeds back as they arrive).
pub trait LoginBackend: Send {
    /// Starts checking `req`; `Some` when the verdict is known at once.
    fn check(
        &mut self,
        now: Instant,
        req: &LoginRequest,
        rng: &mut dyn RandomSource,
    ) -> Option<BackendVerdict>;
    /// The conversation `ticket` is over (client gone): forget its state.
    fn forget(&mut self, ticket: LoginTicket);

    // An asynchronous backend (RADIUS) talks to its server through the caller, which owns the
    // socket: the defaults serve a backend that answers at once.

    /// A datagram for the directory's server, to send now.
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        None
    }
    /// A datagram from the directory's server.
    fn handle_datagram(&mut self, _now: Instant, _datagram: &[u8]) {}
    /// When [`LoginBackend::handle_timeout`] is due (retransmissions, giving up).
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// Runs what is due at `now`.
    fn handle_timeout(&mut self, _now: Instant) {}
    /// A verdict reached since the last call, on the conversation it names.
    fn poll_verdict(&mut self) -> Option<(LoginTicket, BackendVerdict)> {
        None
    }
}

/// The users file (any [`Directory`]) as a [`LoginBackend`]: EAP served by [`EapServer`],
/// XAUTH passwords checked against the stored hash, all at once.
pub struct LocalLogins {
    directory: Arc<dyn Directory>,
    method: Option<EapMethod>,
    server_name: String,
    conversations: HashMap<LoginTicket, EapServer>,
}

impl LocalLogins {
    /// A backend over `directory`, asking EAP clients for `method` (none: EAP refused); our
    /// name in MS-CHAPv2 challenges is `server_name`.
    pub fn new(
        directory: Arc<dyn Directory>,
        method: Option<EapMethod>,
        server_name: &str,
    ) -> LocalLogins {
        LocalLogins {
            directory,
            method,
            server_name: server_name.to_string(),
            conversations: HashMap::new(),
        }
    }

    fn eap(
        &mut self,
        ticket: LoginTicket,
        msg: &[u8],
        rng: &mut dyn RandomSource,
    ) -> BackendVerdict {
        let Some(method) = self.method else {
            return BackendVerdict::no_eap_method();
        };
        // The engine sent the EAP-Request/Identity; its answer echoes the identifier.
        let id = msg.get(1).copied().unwrap_or(0);
        let name = &self.server_name;
        let server = self
            .conversations
            .entry(ticket)
            .or_insert_with(|| EapServer::after_identity_request(method, name, id));
        let step = server.handle(msg, self.directory.as_ref(), rng);
        match step {
            // A wrong MS-CHAPv2 password: the Failure request goes with the verdict (not every
            // client acknowledges it: strongSwan gives up at once).
            EapStep::Request(p) => match server.failure().cloned() {
                Some(failure) => {
                    self.conversations.remove(&ticket);
                    BackendVerdict::Rejected {
                        failure,
                        eap: Some(p),
                    }
                }
                None => BackendVerdict::Continue(p),
            },
            EapStep::Success { packet, user, msk } => {
                self.conversations.remove(&ticket);
                BackendVerdict::Accepted {
                    user,
                    msk,
                    eap: Some(packet),
                }
            }
            EapStep::Failure { packet, failure } => {
                self.conversations.remove(&ticket);
                BackendVerdict::Rejected {
                    failure,
                    eap: Some(packet),
                }
            }
        }
    }
}

impl LoginBackend for LocalLogins {
    fn check(
        &mut self,
        _now: Instant,
        req: &LoginRequest,
        rng: &mut dyn RandomSource,
    ) -> Option<BackendVerdict> {
        Some(match &req.check {
            LoginCheck::Eap(m) => self.eap(req.ticket, m, rng),
            LoginCheck::Password(p) => match self.directory.verify_password(&req.user, p) {
                Ok(()) => BackendVerdict::Accepted {
                    user: req.user.clone(),
                    msk: None,
                    eap: None,
                },
                Err(failure) => BackendVerdict::Rejected { failure, eap: None },
            },
            LoginCheck::Admit => BackendVerdict::Accepted {
                user: req.user.clone(),
                msk: None,
                eap: None,
            },
        })
    }

    fn forget(&mut self, ticket: LoginTicket) {
        self.conversations.remove(&ticket);
    }
}

/// The throttle in front of a backend: a user or address past its free failures is refused
/// without asking the directory; failures and successes are recorded.
pub fn throttled(
    throttle: &mut Throttle,
    now: Instant,
    req: &LoginRequest,
    user_hint: &str,
) -> Result<(), LoginFailure> {
    match throttle.check(now, user_hint, req.source.ip()) {
        Verdict::Allow => Ok(()),
        Verdict::Wait { held, retry_after } => Err(LoginFailure::Throttled {
            user: user_hint.to_string(),
            detail: format!(
                "{held:?} failed too often; refused without asking the directory for another {}s",
                retry_after.as_secs_f64().ceil()
            ),
        }),
    }
}

/// Records a finished login in the throttle; returns the log line for a failure (about
/// `user_hint` when the failure names no user, e.g. a directory that did not answer).
pub fn record(
    throttle: &mut Throttle,
    now: Instant,
    (source, user_hint): (SocketAddr, &str),
    outcome: Result<&str, &LoginFailure>,
) -> Option<String> {
    match outcome {
        Ok(user) => {
            throttle.record_success(user);
            None
        }
        Err(f) => {
            let user = f.user().unwrap_or(user_hint).to_string();
            let reason = throttle_reason(f);
            let wait = throttle.record_failure(now, &user, source.ip(), &reason);
            Some(format!(
                "{}; {f}",
                Throttle::describe(&user, source.ip(), &reason, wait)
            ))
        }
    }
}

/// How the throttle weighs a failure: a directory that could not answer says nothing about
/// the user, nor does a refusal by the throttle itself; anything else counts as a failed
/// attempt, under its own reason.
fn throttle_reason(f: &LoginFailure) -> FailureReason {
    match f {
        LoginFailure::UnknownUser { .. } => FailureReason::UnknownUser,
        LoginFailure::WrongPassword { .. } => FailureReason::WrongPassword,
        LoginFailure::MethodNotStored { .. } => FailureReason::MethodNotStored,
        LoginFailure::Protocol { .. } => FailureReason::ProtocolError,
        LoginFailure::Throttled { .. } => FailureReason::Throttled,
        LoginFailure::RadiusReject { reply_message, .. } => FailureReason::RadiusReject {
            reply_message: reply_message.clone(),
        },
        // The failure itself follows in the log line.
        LoginFailure::Unavailable { .. } => FailureReason::RadiusError {
            message: "the directory did not answer".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::auth::eap::wire::Md5Value;
    use crate::ike::SeededRandom;
    use crate::ra::users_file::{AddOptions, UsersFile};

    fn response(id: u8, eap_type: u8, data: &[u8]) -> Vec<u8> {
        let len = (5 + data.len()) as u16;
        let mut m = vec![2, id, (len >> 8) as u8, len as u8, eap_type];
        m.extend_from_slice(data);
        m
    }

    fn eap(check: Vec<u8>) -> LoginRequest {
        LoginRequest {
            ticket: LoginTicket(7),
            user: String::new(),
            identity: "fqdn:laptop".into(),
            source: "198.51.100.7:4500".parse().unwrap(),
            ike_version: 2,
            check: LoginCheck::Eap(check),
        }
    }

    /// The engine sends the EAP-Request/Identity itself (pass-through authenticator); the
    /// users file answers the rest of EAP-MD5 through the seam, right and wrong password.
    #[test]
    fn eap_md5_through_the_seam_after_the_engines_identity_request() {
        let mut users = UsersFile::default();
        let opts = AddOptions { eap_md5: true };
        users.add("alice", "clientPass", &[1; 16], opts).unwrap();
        let users: Arc<dyn Directory> = Arc::new(users);
        for (password, ok) in [(&b"clientPass"[..], true), (&b"nope"[..], false)] {
            let mut rng = SeededRandom::new(4);
            let mut b = LocalLogins::new(users.clone(), Some(EapMethod::Md5), "gw");
            let first = EapServer::identity_request(0x42);
            assert_eq!(&first[..2], [1, 0x42]);
            let now = Instant::now();
            let v = b.check(now, &eap(response(0x42, 1, b"alice")), &mut rng);
            let Some(BackendVerdict::Continue(challenge)) = v else {
                panic!("{v:?}")
            };
            let id = challenge[1];
            let value = Md5Value::parse(&challenge[5..]).unwrap().value.to_vec();
            use md5::Digest;
            let digest = md5::Md5::new()
                .chain_update([id])
                .chain_update(password)
                .chain_update(&value)
                .finalize();
            let answer = Md5Value {
                value: &digest,
                name: b"",
            }
            .to_vec();
            let v = b.check(now, &eap(response(id, 4, &answer)), &mut rng);
            match (v, ok) {
                (Some(BackendVerdict::Accepted { user, eap, .. }), true) => {
                    assert_eq!(user, "alice");
                    assert_eq!(eap.map(|e| e[0]), Some(3), "EAP-Success");
                }
                (Some(BackendVerdict::Rejected { failure, eap }), false) => {
                    assert_eq!(failure.reason(), "wrong_password");
                    assert_eq!(eap.map(|e| e[0]), Some(4), "EAP-Failure");
                }
                (v, _) => panic!("{v:?}"),
            }
            assert!(b.conversations.is_empty());
        }
    }

    /// A broken EAP conversation is logged and counted as a protocol error, not as a wrong
    /// password; a refusal by the throttle does not lengthen its own wait.
    #[test]
    fn failures_keep_their_reason_in_the_throttle() {
        use crate::ra::throttle::{FailureKind, ThrottleConfig};
        let mut t = Throttle::new(ThrottleConfig::default());
        let now = Instant::now();
        let from: SocketAddr = "198.51.100.7:500".parse().unwrap();
        let protocol = LoginFailure::Protocol {
            user: "alice".into(),
            detail: "an EAP-Response of type 3 (Nak) to our MSCHAPv2 challenge".into(),
        };
        let line = record(&mut t, now, (from, "alice"), Err(&protocol)).unwrap();
        assert!(line.contains(": login protocol error;"), "{line}");
        assert!(!line.contains("wrong password"), "{line}");
        let held = LoginFailure::Throttled {
            user: "alice".into(),
            detail: "held for 4s".into(),
        };
        let line = record(&mut t, now, (from, "alice"), Err(&held)).unwrap();
        assert!(line.contains("too many recent failures"), "{line}");
        assert!(!line.contains("further attempts"), "{line}");
        let counted = &t.counters().failures;
        assert_eq!(counted[&FailureKind::ProtocolError], 1);
        assert_eq!(counted[&FailureKind::Throttled], 1);
        assert!(!counted.contains_key(&FailureKind::WrongPassword));
    }
}
