//! Why a negotiation failed, in plain words for the operator. Each variant carries the facts;
//! `Display` turns them into the sentence shown in logs, events and the admin API.

use std::fmt;
use std::net::IpAddr;

use crate::wire::isakmp::NotifyType;

use super::policy::ProxyId;

/// Which Main Mode authentication hash failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSide {
    /// The responder's HASH_R (we are the initiator).
    HashR,
    /// The initiator's HASH_I (we are the responder).
    HashI,
}

/// The reason for a [`super::Event::Failed`], with a `Display` that names the cause and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnostic {
    /// An IKEv2 failure.
    Ikev2(crate::ike::v2::V2Diagnostic),
    /// The peer's certificate or signature was refused (either IKE version), or ours is unusable.
    Certificate(crate::ike::auth::CertError),
    /// Initiator: the peer answered our Main Mode offer with NO-PROPOSAL-CHOSEN.
    Phase1Rejected {
        /// What we offered, e.g. `aes256-sha256-modp1024`.
        offered: String,
        /// The peer.
        peer: IpAddr,
    },
    /// Responder: nothing the peer offered is acceptable.
    Phase1Mismatch {
        /// What the peer offered.
        received: String,
        /// What we accept.
        configured: String,
        /// How to fix it (names the attribute that differs).
        hint: String,
    },
    /// Initiator: the peer chose a transform we did not offer, or answered nonsense.
    Phase1BadAnswer {
        /// Details.
        detail: String,
    },
    /// The authentication hash did not verify (or the message decrypted to garbage).
    AuthFailed {
        /// Which hash.
        side: AuthSide,
        /// True when the message did not even decrypt to valid payloads.
        garbage: bool,
    },
    /// Initiator: the peer reported that it could not authenticate us.
    PeerAuthFailed {
        /// The notification it sent.
        notify: NotifyType,
        /// The peer.
        peer: IpAddr,
    },
    /// Initiator (IKEv1 signatures): the peer answered our message 5 with a notification that
    /// refuses our certificate or identity.
    PeerRefusedCertificate {
        /// The notification it sent.
        notify: NotifyType,
        /// The peer.
        peer: IpAddr,
        /// The identity we sent.
        our_id: String,
        /// Our certificate's subject.
        subject: String,
        /// Our certificate's issuer.
        issuer: String,
    },
    /// Initiator: after our message 5 the peer sent a notification encrypted under other keys
    /// than ours (strongSwan answers an undecryptable message 5 with PAYLOAD-MALFORMED).
    PeerCouldNotDecrypt {
        /// The peer.
        peer: IpAddr,
    },
    /// The peer presented a different phase-1 identity than configured.
    IdentityMismatch {
        /// What it presented.
        received: String,
        /// What we expect.
        expected: String,
    },
    /// Dead Peer Detection: the peer answered none of our probes.
    PeerDead {
        /// The peer.
        peer: IpAddr,
        /// How long it stayed silent after our first probe.
        silent: std::time::Duration,
    },
    /// Our message went unanswered despite retransmissions.
    NoAnswer {
        /// "Main Mode" or "Quick Mode".
        exchange: &'static str,
        /// Number of our unanswered message in that exchange (1-based).
        message: u8,
        /// Retransmissions done.
        retransmits: u32,
    },
    /// Initiator: the peer answered our IKEv1 message with an IKEv2 INVALID_MAJOR_VERSION
    /// notification addressed to our cookie (an IKEv2-only peer, e.g. strongSwan 6 built
    /// without IKEv1).
    PeerIkev2Only {
        /// The peer.
        peer: IpAddr,
    },
    /// Responder: the peer never sent Main Mode message 5 after our message 4.
    PeerStalled {
        /// The peer.
        peer: IpAddr,
        /// How long we waited.
        secs: u64,
    },
    /// Initiator: the peer answered Quick Mode with other proxy-ids than we proposed.
    ProxyIdMismatch {
        /// What we proposed.
        proposed: ProxyId,
        /// What the peer answered.
        answered: ProxyId,
    },
    /// Responder: the peer proposed proxy-ids we do not have.
    ProxyIdUnknown {
        /// What the peer proposed (from our point of view: local ⇄ remote).
        received: ProxyId,
        /// What we have.
        configured: Vec<ProxyId>,
    },
    /// Initiator: the peer rejected our Quick Mode with a notification.
    Phase2Rejected {
        /// What we offered.
        offered: String,
        /// The proxy-id of that Quick Mode.
        proxy_id: ProxyId,
        /// The notification.
        notify: NotifyType,
        /// The peer.
        peer: IpAddr,
    },
    /// Responder: nothing the peer offered in Quick Mode is acceptable.
    Phase2Mismatch {
        /// What the peer offered.
        received: String,
        /// What we accept.
        configured: String,
        /// How to fix it.
        hint: String,
    },
    /// The peer reported an error notification we have no better explanation for.
    PeerNotify {
        /// The notification.
        notify: NotifyType,
        /// During which exchange.
        during: &'static str,
        /// The peer.
        peer: IpAddr,
    },
    /// A message from the peer could not be understood.
    Malformed {
        /// Details.
        detail: String,
    },
    /// The peer uses an exchange we do not implement.
    Unsupported {
        /// Details.
        detail: String,
    },
    /// A remote-access client did not get in (XAUTH refused, no address, it stopped
    /// answering mode-config).
    RemoteAccess {
        /// The client's outer address.
        peer: IpAddr,
        /// What happened, in words.
        detail: String,
    },
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PSK_HINT: &str =
            "the pre-shared keys differ (is there a trailing newline or space in the key file?)";
        match self {
            Diagnostic::Ikev2(d) => d.fmt(f),
            Diagnostic::Certificate(e) => e.fmt(f),
            Diagnostic::Phase1Rejected { offered, peer } => write!(
                f,
                "phase 1 proposal mismatch: we offered {offered}; peer ({peer}) answered NO-PROPOSAL-CHOSEN"
            ),
            Diagnostic::Phase1Mismatch { received, configured, hint } => write!(
                f,
                "phase 1 proposal mismatch: received {received}, configured {configured} — {hint}"
            ),
            Diagnostic::Phase1BadAnswer { detail } => {
                write!(f, "phase 1: the peer's answer is not acceptable: {detail}")
            }
            Diagnostic::AuthFailed { side, garbage } => {
                let name = match side {
                    AuthSide::HashR => "HASH_R",
                    AuthSide::HashI => "HASH_I",
                };
                if *garbage {
                    let msg = match side {
                        AuthSide::HashR => 6,
                        AuthSide::HashI => 5,
                    };
                    write!(
                        f,
                        "{name} did not verify: Main Mode message {msg} decrypted to garbage, so {PSK_HINT}"
                    )
                } else {
                    write!(f, "{name} did not verify: {PSK_HINT}")
                }
            }
            Diagnostic::PeerAuthFailed { notify, peer } => write!(
                f,
                "HASH_I did not verify on the peer ({peer} answered {notify}): {PSK_HINT}"
            ),
            Diagnostic::PeerRefusedCertificate { notify, peer, our_id, subject, issuer } => write!(
                f,
                "the peer ({peer}) refused our Main Mode authentication ({notify}): we sent identity {our_id} with our certificate \"{subject}\" issued by \"{issuer}\" — the peer may not trust that CA (give it the root CA), may expect another identity, or could not check revocation; its log says which"
            ),
            Diagnostic::PeerCouldNotDecrypt { peer } => write!(
                f,
                "the peer ({peer}) could not decrypt our Main Mode message 5 and answered with a notification under different keys: {PSK_HINT}"
            ),
            Diagnostic::IdentityMismatch { received, expected } => write!(
                f,
                "phase 1 identity mismatch: peer identified itself as {received}, expected {expected} — set peer-id or my-identifier on the peer"
            ),
            Diagnostic::PeerDead { peer, silent } => write!(
                f,
                "peer {peer} is dead: no answer to Dead Peer Detection probes for {}s and no ESP from it; its SAs were cleared (rebooted or unreachable?)",
                silent.as_secs()
            ),
            Diagnostic::NoAnswer { exchange, message, retransmits } => {
                let hint = match (*exchange, *message) {
                    ("Main Mode", 1) => "is UDP 500 blocked, or is the peer's address wrong?",
                    ("Main Mode", 5) => {
                        "most likely the pre-shared keys differ and the peer could not decrypt our message, or UDP 4500 is blocked"
                    }
                    ("Main Mode", _) => "is UDP 500/4500 blocked, or the PSK wrong on the peer side?",
                    (_, _) => "is the peer still up, or did it reject us without telling (check its log)?",
                };
                write!(
                    f,
                    "peer did not answer {exchange} message {message} after {retransmits} retransmissions ({hint})"
                )
            }
            Diagnostic::PeerIkev2Only { peer } => write!(
                f,
                "the peer ({peer}) answered INVALID_MAJOR_VERSION: it does not speak IKEv1 — set `ike.version: 2` on this tunnel"
            ),
            Diagnostic::PeerStalled { peer, secs } => write!(
                f,
                "peer ({peer}) did not send Main Mode message 5 within {secs} s of our message 4 (is UDP 4500 blocked on the way? the peer moves there when it sees a NAT; otherwise check the peer's log)"
            ),
            Diagnostic::ProxyIdMismatch { proposed, answered } => write!(
                f,
                "proxy-id mismatch: we proposed {proposed}, peer answered {answered} — configure the same subnets on both sides"
            ),
            Diagnostic::ProxyIdUnknown { received, configured } => {
                write!(f, "proxy-id mismatch: peer proposed {received}, configured ")?;
                write_list(f, configured)?;
                f.write_str(" — configure the same subnets on both sides")
            }
            Diagnostic::Phase2Rejected { offered, proxy_id, notify, peer } => {
                if *notify == NotifyType::INVALID_ID_INFORMATION {
                    write!(
                        f,
                        "proxy-id mismatch: we proposed {proxy_id}; peer ({peer}) answered INVALID-ID-INFORMATION — configure the same subnets on both sides"
                    )
                } else if *notify == NotifyType::NO_PROPOSAL_CHOSEN {
                    write!(
                        f,
                        "phase 2 proposal mismatch: we offered {offered}; peer ({peer}) answered NO-PROPOSAL-CHOSEN"
                    )
                } else {
                    write!(f, "phase 2 failed: we offered {offered} for {proxy_id}; peer ({peer}) answered {notify}")
                }
            }
            Diagnostic::Phase2Mismatch { received, configured, hint } => write!(
                f,
                "phase 2 proposal mismatch: received {received}, configured {configured} — {hint}"
            ),
            Diagnostic::PeerNotify { notify, during, peer } => {
                write!(f, "peer ({peer}) sent {notify} during {during}")
            }
            Diagnostic::Malformed { detail } => write!(f, "malformed message from the peer: {detail}"),
            Diagnostic::Unsupported { detail } => write!(f, "unsupported: {detail}"),
            Diagnostic::RemoteAccess { peer, detail } => {
                write!(f, "remote-access client {peer}: {detail}")
            }
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[ProxyId]) -> fmt::Result {
    for (i, p) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{p}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let d = Diagnostic::Phase1Rejected {
            offered: "aes256-sha256-modp1024".into(),
            peer: "10.0.0.2".parse().unwrap(),
        };
        assert_eq!(
            d.to_string(),
            "phase 1 proposal mismatch: we offered aes256-sha256-modp1024; peer (10.0.0.2) answered NO-PROPOSAL-CHOSEN"
        );
        let d = Diagnostic::AuthFailed {
            side: AuthSide::HashR,
            garbage: false,
        };
        assert_eq!(
            d.to_string(),
            "HASH_R did not verify: the pre-shared keys differ (is there a trailing newline or space in the key file?)"
        );
        let d = Diagnostic::NoAnswer {
            exchange: "Main Mode",
            message: 3,
            retransmits: 5,
        };
        assert_eq!(
            d.to_string(),
            "peer did not answer Main Mode message 3 after 5 retransmissions (is UDP 500/4500 blocked, or the PSK wrong on the peer side?)"
        );
    }
}
