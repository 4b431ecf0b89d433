//! IKEv2 failures in plain words: what was received, what is configured, which side to change.

use std::fmt;
use std::net::IpAddr;

/// Why an IKEv2 negotiation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V2Diagnostic {
    /// Initiator: the peer accepted none of our proposals (NO_PROPOSAL_CHOSEN).
    ProposalRejected {
        /// "IKE SA" or "child SA".
        what: &'static str,
        /// Our offer in proposal syntax.
        offered: String,
        /// The peer.
        peer: IpAddr,
    },
    /// Responder: nothing the peer offered is acceptable.
    ProposalMismatch {
        /// "IKE SA" or "child SA".
        what: &'static str,
        /// The peer's offer in proposal syntax.
        received: String,
        /// What we accept in proposal syntax.
        configured: String,
    },
    /// Initiator: the responder wants another key-exchange group (INVALID_KE_PAYLOAD).
    InvalidKe {
        /// The group the peer asked for.
        asked: String,
        /// The group our KE payload used.
        sent: String,
        /// True when we retried with the asked group; false when it is not configured.
        retried: bool,
        /// Our configured groups.
        configured: String,
    },
    /// Initiator: the peer refused our AUTH (AUTHENTICATION_FAILED).
    PeerRefusedAuth {
        /// The peer.
        peer: IpAddr,
        /// The identity we sent.
        our_id: String,
        /// The identity we expect from the peer.
        expected_peer_id: String,
    },
    /// The peer answered our certificate authentication with AUTHENTICATION_FAILED.
    PeerRefusedCertificate {
        /// The peer.
        peer: IpAddr,
        /// The identity we sent.
        our_id: String,
        /// Our certificate's subject.
        subject: String,
        /// Our certificate's issuer.
        issuer: String,
    },
    /// The peer's AUTH payload did not verify with our pre-shared key.
    AuthFailed {
        /// The peer.
        peer: IpAddr,
        /// The identity the peer sent.
        peer_id: String,
        /// Our identity.
        our_id: String,
    },
    /// The peer's identity is not the one configured.
    IdentityMismatch {
        /// What it sent.
        received: String,
        /// What `peers-identifier` says.
        expected: String,
    },
    /// Traffic selectors do not overlap (TS_UNACCEPTABLE, either side).
    TsUnacceptable {
        /// True when the peer refused ours; false when we refused the peer's.
        peer_refused: bool,
        /// Our local ⇄ remote subnets.
        ours: String,
        /// The peer's proposal (its local ⇄ remote), when we refused it.
        theirs: String,
    },
    /// An IKEv1 message reached this IKEv2 tunnel.
    PeerSpeaksIkev1 {
        /// The peer.
        peer: IpAddr,
    },
    /// The peer answered an error notification we have no better words for.
    PeerNotify {
        /// The notification's name or number.
        notify: String,
        /// The exchange.
        during: &'static str,
        /// The peer.
        peer: IpAddr,
    },
    /// `post-quantum: required`, and the peer's IKE SA proposal has no ML-KEM key exchange.
    NotPostQuantum {
        /// The peer.
        peer: IpAddr,
        /// True when the peer chose (we initiated); false when it offered (we answered).
        peer_chose: bool,
        /// What the peer chose or offered, in proposal syntax.
        proposal: String,
    },
    /// Responder of a remote-access interface: a client was refused (its login, or its
    /// IKE_AUTH); it was told AUTHENTICATION_FAILED.
    RemoteAccessRefused {
        /// The client's outer address.
        peer: IpAddr,
        /// The identity (IDi) it presented.
        identity: String,
        /// Why, in words (never the password).
        reason: String,
    },
    /// Remote-access client: our login at the gateway failed.
    LoginFailed {
        /// The gateway.
        peer: IpAddr,
        /// What happened.
        detail: String,
    },
    /// A request of ours went unanswered despite retransmissions.
    NoAnswer {
        /// The exchange.
        exchange: &'static str,
        /// Retransmissions done.
        retransmits: u32,
        /// The peer.
        peer: IpAddr,
    },
}

impl fmt::Display for V2Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V2Diagnostic::ProposalRejected { what, offered, peer } => write!(
                f,
                "IKEv2 {what} proposal mismatch: we offered {offered}; the peer ({peer}) answered NO_PROPOSAL_CHOSEN — compare its configured proposals with ours"
            ),
            V2Diagnostic::ProposalMismatch { what, received, configured } => write!(
                f,
                "IKEv2 {what} proposal mismatch: received {received}, configured {configured} — add one of the peer's algorithms to the proposal or change the peer"
            ),
            V2Diagnostic::InvalidKe { asked, sent, retried: true, .. } => write!(
                f,
                "the peer answered INVALID_KE_PAYLOAD: it wants key exchange {asked}, we sent {sent}; retried with {asked} (list {asked} first in phase1.dh-group to save the round trip)"
            ),
            V2Diagnostic::InvalidKe { asked, sent, configured, .. } => write!(
                f,
                "the peer answered INVALID_KE_PAYLOAD: it wants key exchange {asked}, we sent {sent}, and {asked} is not in our phase1.dh-group ({configured}) — add {asked} or change the peer's proposal"
            ),
            V2Diagnostic::PeerRefusedAuth { peer, our_id, expected_peer_id } => write!(
                f,
                "the peer ({peer}) refused our authentication (AUTHENTICATION_FAILED): we sent identity {our_id} and expect {expected_peer_id} — the pre-shared keys or identities differ"
            ),
            V2Diagnostic::PeerRefusedCertificate { peer, our_id, subject, issuer } => write!(
                f,
                "the peer ({peer}) refused our authentication (AUTHENTICATION_FAILED): we sent identity {our_id} with our certificate \"{subject}\" issued by \"{issuer}\" — the peer may not trust that CA (give it the root CA), may expect another identity, or could not check revocation; its log says which"
            ),
            V2Diagnostic::AuthFailed { peer, peer_id, our_id } => write!(
                f,
                "the peer's ({peer}) AUTH payload did not verify: it sent identity {peer_id}, we are {our_id} — the pre-shared keys differ (is there a trailing newline or space in the key file?)"
            ),
            V2Diagnostic::IdentityMismatch { received, expected } => write!(
                f,
                "the peer presented identity {received}, but peers-identifier is {expected} — set the same identity on both sides"
            ),
            V2Diagnostic::TsUnacceptable { peer_refused: true, ours, .. } => write!(
                f,
                "traffic selectors refused by the peer (TS_UNACCEPTABLE): we proposed {ours} — configure the same subnets (proxy-id) on both sides"
            ),
            V2Diagnostic::TsUnacceptable { ours, theirs, .. } => write!(
                f,
                "traffic selectors do not match (we answered TS_UNACCEPTABLE): the peer proposed {theirs}, we have {ours} — configure the same subnets (proxy-id) on both sides"
            ),
            V2Diagnostic::PeerSpeaksIkev1 { peer } => write!(
                f,
                "the peer ({peer}) speaks IKEv1 but this tunnel runs IKEv2 — set `ike.version: 1` here or configure the peer for IKEv2 (keyexchange=ikev2 / version = 2)"
            ),
            V2Diagnostic::PeerNotify { notify, during, peer } => {
                write!(f, "the peer ({peer}) answered {during} with {notify}")
            }
            V2Diagnostic::NotPostQuantum { peer, peer_chose, proposal } => write!(
                f,
                "post-quantum: required, but the peer ({peer}) {} {proposal} — no ML-KEM key exchange, so an IKE SA would not be post-quantum protected; enable ML-KEM on the peer (strongSwan 6: append ke1_mlkem768 to its IKE proposal, e.g. aes256-sha256-x25519-ke1_mlkem768) or set `post-quantum: preferred` here to accept it",
                if *peer_chose { "chose" } else { "offered only" }
            ),
            V2Diagnostic::RemoteAccessRefused { peer, identity, reason } => write!(
                f,
                "remote-access client {peer} (identity {identity}) refused with AUTHENTICATION_FAILED: {reason}"
            ),
            V2Diagnostic::LoginFailed { peer, detail } => {
                write!(f, "our remote-access login at {peer} failed: {detail}")
            }
            V2Diagnostic::NoAnswer { exchange, retransmits, peer } => write!(
                f,
                "the peer ({peer}) did not answer our {exchange} request after {retransmits} retransmissions (is UDP 500/4500 blocked, or is the peer down?)"
            ),
        }
    }
}
