//! The sans-IO RADIUS client: identifier allocation, Access-Request encoding, retransmission
//! with backoff, response matching and verification, and the timeout that names the server.
//!
//! The caller gives it the time and the datagrams it received, and sends what it returns:
//! [`Client::start`] → datagram; [`Client::handle_datagram`] → the finished request (or why
//! the datagram was dropped); [`Client::poll`] at [`Client::next_deadline`] → retransmissions
//! and timeouts.

use super::crypto::{
    check_message_authenticator, decrypt_mppe_key, hide_password, sign_request,
    verify_response_authenticator, MessageAuthenticator, SecretBytes,
};
use super::eap::{eap_message, push_eap_message};
use super::wire::{
    vendor_attributes, AttributeType, Code, MsAttributeType, Packet, PacketBuilder, WireError,
    VENDOR_MICROSOFT,
};
use crate::ike::random::RandomSource;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Service-Type value Framed (RFC 2865 §5.6): the user gets a network link.
pub const SERVICE_TYPE_FRAMED: u32 = 2;
/// NAS-Port-Type value Virtual (RFC 2865 §5.41): a tunnel, not a physical port.
pub const NAS_PORT_TYPE_VIRTUAL: u32 = 5;

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server as configured (`HOST:PORT`), for messages.
    pub server: String,
    pub secret: SecretBytes,
    /// NAS-Identifier sent in every request (RFC 2865 requires it or NAS-IP-Address).
    pub nas_identifier: String,
    /// Wait before the first retransmission; doubled after each, up to `max_timeout`.
    pub initial_timeout: Duration,
    pub max_timeout: Duration,
    /// Transmissions of one request, the first included.
    pub max_attempts: u32,
}

impl ClientConfig {
    /// Defaults: 2 s, then 4 s, then 8 s (three transmissions, 14 s in all).
    pub fn new(server: impl Into<String>, secret: SecretBytes) -> ClientConfig {
        ClientConfig {
            server: server.into(),
            secret,
            nas_identifier: "ikegate".into(),
            initial_timeout: Duration::from_secs(2),
            max_timeout: Duration::from_secs(8),
            max_attempts: 3,
        }
    }
}

/// The RADIUS State attribute to echo in the next request of an exchange (RFC 2865 §5.24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State(pub Vec<u8>);

/// What a request proves.
#[derive(Debug, Clone)]
pub enum Credential {
    /// PAP: a User-Password, hidden with the shared secret.
    Password(SecretBytes),
    /// One EAP round: the peer's EAP packet and the State of the previous Access-Challenge.
    Eap {
        message: Vec<u8>,
        state: Option<State>,
    },
}

/// One Access-Request.
#[derive(Debug, Clone)]
pub struct AccessRequest {
    pub user: String,
    pub credential: Credential,
    /// The client's outer address, sent as Calling-Station-Id.
    pub calling_station_id: Option<String>,
}

/// Names an outstanding request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Access-Accept.
#[derive(Debug, Clone)]
pub struct Accept {
    pub eap: Option<Vec<u8>>,
    /// The User-Name the server answered with (RFC 2865 §5.1: the name to use from now on).
    pub user_name: Option<String>,
    /// The EAP Master Session Key from MS-MPPE-Recv-Key | MS-MPPE-Send-Key.
    pub msk: Option<SecretBytes>,
    pub reply_message: Option<String>,
}

/// Access-Reject.
#[derive(Debug, Clone)]
pub struct Reject {
    pub eap: Option<Vec<u8>>,
    pub reply_message: Option<String>,
}

/// Access-Challenge.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub eap: Option<Vec<u8>>,
    pub state: Option<State>,
    pub reply_message: Option<String>,
}

/// The server's verified answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Accept(Accept),
    Reject(Reject),
    Challenge(Challenge),
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RadiusError {
    #[error(
        "RADIUS server {server} did not answer {attempts} Access-Requests over {secs:.1} s{hint}",
        secs = .waited.as_secs_f64()
    )]
    Timeout {
        server: String,
        attempts: u32,
        waited: Duration,
        hint: String,
    },
    #[error("RADIUS server {server} answered with an unusable {code:?}: {reason}")]
    BadReply {
        server: String,
        code: Code,
        reason: String,
    },
    #[error("RADIUS request to {server} cannot be sent: {reason}")]
    Request { server: String, reason: String },
    #[error("RADIUS server {server} has 256 requests outstanding; no identifier is free")]
    NoIdentifier { server: String },
}

/// Why a received datagram was dropped (counted; the request stays outstanding).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    #[error("not a RADIUS packet: {0}")]
    Malformed(WireError),
    #[error("identifier {0} matches no outstanding request")]
    UnknownIdentifier(u8),
    #[error("code {0:?} is not an answer to Access-Request")]
    UnexpectedCode(Code),
    #[error("Response Authenticator does not verify (shared secret differs?)")]
    BadResponseAuthenticator,
    #[error("Message-Authenticator does not verify (shared secret differs?)")]
    BadMessageAuthenticator,
    #[error("an EAP answer without the Message-Authenticator RFC 3579 requires")]
    MissingMessageAuthenticator,
}

/// Counts of dropped datagrams, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters {
    pub malformed: u64,
    pub unknown_identifier: u64,
    pub unexpected_code: u64,
    pub bad_response_authenticator: u64,
    pub bad_message_authenticator: u64,
    pub missing_message_authenticator: u64,
}

impl DropCounters {
    fn count(&mut self, r: &DropReason) {
        let c = match r {
            DropReason::Malformed(_) => &mut self.malformed,
            DropReason::UnknownIdentifier(_) => &mut self.unknown_identifier,
            DropReason::UnexpectedCode(_) => &mut self.unexpected_code,
            DropReason::BadResponseAuthenticator => &mut self.bad_response_authenticator,
            DropReason::BadMessageAuthenticator => &mut self.bad_message_authenticator,
            DropReason::MissingMessageAuthenticator => &mut self.missing_message_authenticator,
        };
        *c += 1;
    }
}

/// What [`Client::poll`] asks the caller to do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send this datagram to the server again.
    Retransmit(Vec<u8>),
    /// The request is over.
    Done(RequestId, Result<Reply, RadiusError>),
}

struct Pending {
    id: RequestId,
    datagram: Vec<u8>,
    authenticator: [u8; 16],
    eap: bool,
    first_sent: Instant,
    deadline: Instant,
    timeout: Duration,
    attempts: u32,
    /// Answers with this identifier that failed verification.
    rejected_answers: u32,
}

/// The client for one server.
pub struct Client {
    config: ClientConfig,
    pending: BTreeMap<u8, Pending>,
    next_identifier: u8,
    next_request: u64,
    drops: DropCounters,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.config.server)
            .field("outstanding", &self.pending.len())
            .field("drops", &self.drops)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Client {
        Client {
            config,
            pending: BTreeMap::new(),
            next_identifier: 0,
            next_request: 0,
            drops: DropCounters::default(),
        }
    }

    pub fn server(&self) -> &str {
        &self.config.server
    }

    pub fn drops(&self) -> DropCounters {
        self.drops
    }

    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Encodes `req` under a free identifier; returns its id and the datagram to send.
    pub fn start(
        &mut self,
        now: Instant,
        req: &AccessRequest,
        rng: &mut dyn RandomSource,
    ) -> Result<(RequestId, Vec<u8>), RadiusError> {
        let identifier = self.free_identifier()?;
        let mut authenticator = [0u8; 16];
        rng.fill(&mut authenticator);
        let datagram = self.encode(identifier, &authenticator, req)?;
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.next_identifier = identifier.wrapping_add(1);
        self.pending.insert(
            identifier,
            Pending {
                id,
                datagram: datagram.clone(),
                authenticator,
                eap: matches!(req.credential, Credential::Eap { .. }),
                first_sent: now,
                deadline: now + self.config.initial_timeout,
                timeout: self.config.initial_timeout,
                attempts: 1,
                rejected_answers: 0,
            },
        );
        Ok((id, datagram))
    }

    fn free_identifier(&self) -> Result<u8, RadiusError> {
        (0..=255u8)
            .map(|i| self.next_identifier.wrapping_add(i))
            .find(|i| !self.pending.contains_key(i))
            .ok_or_else(|| RadiusError::NoIdentifier {
                server: self.config.server.clone(),
            })
    }

    fn encode(
        &self,
        identifier: u8,
        authenticator: &[u8; 16],
        req: &AccessRequest,
    ) -> Result<Vec<u8>, RadiusError> {
        let err = |reason: String| RadiusError::Request {
            server: self.config.server.clone(),
            reason,
        };
        let wire = |e: WireError| err(e.to_string());
        let mut b = PacketBuilder::new(Code::ACCESS_REQUEST, identifier, *authenticator);
        b.push(AttributeType::USER_NAME, req.user.as_bytes())
            .map_err(wire)?;
        match &req.credential {
            Credential::Password(pw) => {
                let hidden = hide_password(pw, authenticator, &self.config.secret)
                    .ok_or_else(|| err("the password is longer than 128 bytes".into()))?;
                b.push(AttributeType::USER_PASSWORD, &hidden)
                    .map_err(wire)?;
            }
            Credential::Eap { message, state } => {
                push_eap_message(&mut b, message).map_err(wire)?;
                if let Some(s) = state {
                    b.push(AttributeType::STATE, &s.0).map_err(wire)?;
                }
            }
        }
        b.push(
            AttributeType::NAS_IDENTIFIER,
            self.config.nas_identifier.as_bytes(),
        )
        .map_err(wire)?;
        if let Some(c) = &req.calling_station_id {
            b.push(AttributeType::CALLING_STATION_ID, c.as_bytes())
                .map_err(wire)?;
        }
        // A tunnel's user: Service-Type Framed, NAS-Port-Type Virtual (RFC 2865 §5.6, §5.41).
        b.push(
            AttributeType::SERVICE_TYPE,
            &SERVICE_TYPE_FRAMED.to_be_bytes(),
        )
        .map_err(wire)?;
        b.push(
            AttributeType::NAS_PORT_TYPE,
            &NAS_PORT_TYPE_VIRTUAL.to_be_bytes(),
        )
        .map_err(wire)?;
        // Message-Authenticator in every request, last (RFC 3579 §3.2; BlastRADIUS, RFC 9765 era
        // servers require it).
        b.push(AttributeType::MESSAGE_AUTHENTICATOR, &[0; 16])
            .map_err(wire)?;
        let mut out = b.emit();
        let offset = out.len() - 16;
        sign_request(&mut out, offset, &self.config.secret);
        Ok(out)
    }

    /// When [`Client::poll`] should next run.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Retransmissions and timeouts due at `now`.
    pub fn poll(&mut self, now: Instant) -> Vec<Output> {
        let due: Vec<u8> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::new();
        for ident in due {
            let Some(p) = self.pending.get_mut(&ident) else {
                continue;
            };
            if p.attempts < self.config.max_attempts {
                p.attempts += 1;
                p.timeout = (p.timeout * 2).min(self.config.max_timeout);
                p.deadline = now + p.timeout;
                out.push(Output::Retransmit(p.datagram.clone()));
            } else if let Some(p) = self.pending.remove(&ident) {
                let err = self.timeout_error(&p, now);
                out.push(Output::Done(p.id, Err(err)));
            }
        }
        out
    }

    fn timeout_error(&self, p: &Pending, now: Instant) -> RadiusError {
        let hint = if p.rejected_answers > 0 {
            format!(
                "; {} answers failed the authenticator check: the shared secret in ikegate's \
                 secret-file differs from the server's client entry for this gateway",
                p.rejected_answers
            )
        } else {
            "; check that the server runs, listens on that address and port, lists this \
             gateway's address as a client, and shares the same secret (servers silently drop \
             requests whose Message-Authenticator does not verify)"
                .into()
        };
        RadiusError::Timeout {
            server: self.config.server.clone(),
            attempts: p.attempts,
            waited: now.saturating_duration_since(p.first_sent),
            hint,
        }
    }

    /// Matches a datagram from the server to its request. `Ok` finishes that request;
    /// `Err` says why the datagram was dropped (also counted in [`Client::drops`]).
    pub fn handle_datagram(
        &mut self,
        datagram: &[u8],
    ) -> Result<(RequestId, Result<Reply, RadiusError>), DropReason> {
        let r = self.match_datagram(datagram);
        if let Err(reason) = &r {
            self.drops.count(reason);
        }
        r
    }

    fn match_datagram(
        &mut self,
        datagram: &[u8],
    ) -> Result<(RequestId, Result<Reply, RadiusError>), DropReason> {
        let packet = Packet::new_checked(datagram).map_err(DropReason::Malformed)?;
        let ident = packet.identifier();
        let pending = self
            .pending
            .get_mut(&ident)
            .ok_or(DropReason::UnknownIdentifier(ident))?;
        let code = packet.code();
        if ![
            Code::ACCESS_ACCEPT,
            Code::ACCESS_REJECT,
            Code::ACCESS_CHALLENGE,
        ]
        .contains(&code)
        {
            return Err(DropReason::UnexpectedCode(code));
        }
        let secret = &self.config.secret;
        if !verify_response_authenticator(&packet, &pending.authenticator, secret) {
            pending.rejected_answers += 1;
            return Err(DropReason::BadResponseAuthenticator);
        }
        match check_message_authenticator(&packet, &pending.authenticator, secret) {
            MessageAuthenticator::Invalid => {
                pending.rejected_answers += 1;
                return Err(DropReason::BadMessageAuthenticator);
            }
            MessageAuthenticator::Absent if pending.eap => {
                pending.rejected_answers += 1;
                return Err(DropReason::MissingMessageAuthenticator);
            }
            _ => {}
        }
        let Some(p) = self.pending.remove(&ident) else {
            return Err(DropReason::UnknownIdentifier(ident));
        };
        let reply = self.decode_reply(&packet, &p.authenticator);
        Ok((p.id, reply))
    }

    fn decode_reply(
        &self,
        packet: &Packet<&[u8]>,
        request_authenticator: &[u8; 16],
    ) -> Result<Reply, RadiusError> {
        let code = packet.code();
        let eap = eap_message(packet).map_err(|e| RadiusError::BadReply {
            server: self.config.server.clone(),
            code,
            reason: e.to_string(),
        })?;
        let reply_message = reply_message(packet);
        Ok(match code {
            Code::ACCESS_ACCEPT => Reply::Accept(Accept {
                eap,
                user_name: packet
                    .first(AttributeType::USER_NAME)
                    .map(crate::ra::throttle::printable),
                msk: self.msk(packet, request_authenticator),
                reply_message,
            }),
            Code::ACCESS_CHALLENGE => Reply::Challenge(Challenge {
                eap,
                state: packet
                    .first(AttributeType::STATE)
                    .map(|s| State(s.to_vec())),
                reply_message,
            }),
            _ => Reply::Reject(Reject { eap, reply_message }),
        })
    }

    /// MS-MPPE-Recv-Key | MS-MPPE-Send-Key (RFC 2548; as EAP methods export the MSK, RFC 3748
    /// §7.10: the key for traffic from the peer first).
    fn msk(&self, packet: &Packet<&[u8]>, request_authenticator: &[u8; 16]) -> Option<SecretBytes> {
        let (mut send, mut recv) = (None, None);
        for a in packet
            .attributes()
            .filter(|a| a.kind == AttributeType::VENDOR_SPECIFIC)
        {
            let Some(vsa) = vendor_attributes(a.value).filter(|v| v.vendor == VENDOR_MICROSOFT)
            else {
                continue;
            };
            for (t, v) in vsa.attributes {
                let key = || decrypt_mppe_key(v, request_authenticator, &self.config.secret);
                match MsAttributeType(t) {
                    MsAttributeType::MS_MPPE_SEND_KEY => send = key(),
                    MsAttributeType::MS_MPPE_RECV_KEY => recv = key(),
                    _ => {}
                }
            }
        }
        let (send, recv) = (send?, recv?);
        let mut msk = Vec::with_capacity(recv.len() + send.len());
        msk.extend_from_slice(recv.expose());
        msk.extend_from_slice(send.expose());
        Some(SecretBytes::new(msk))
    }
}

/// The Reply-Message attributes joined by newlines, control characters shown as `?` so that a
/// server's text cannot forge log lines.
fn reply_message<T: AsRef<[u8]>>(packet: &Packet<T>) -> Option<String> {
    let parts: Vec<String> = packet
        .attributes()
        .filter(|a| a.kind == AttributeType::REPLY_MESSAGE)
        .map(|a| {
            String::from_utf8_lossy(a.value)
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect()
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
