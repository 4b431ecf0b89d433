//! Snapshots of the engine for the admin API and metrics.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::event::Role;
use super::policy::ProxyId;

/// NAT traversal state of an ISAKMP SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatStatus {
    /// NAT-T dialect agreed with the peer: "off", "rfc3947" or "draft".
    pub nat_t: &'static str,
    /// We are behind a NAT (or pretend to be, with `nat_traversal: force`).
    pub local_behind_nat: bool,
    /// The peer is behind a NAT (or pretends to be).
    pub peer_behind_nat: bool,
    /// IKE moved to port 4500.
    pub floated: bool,
}

impl EngineStats {
    /// Datagrams dropped as belonging to no exchange of ours: unknown cookies or SPIs, other
    /// versions or exchange types, replays, over the half-open limit. The transcript leaves
    /// them out.
    pub fn dropped_as_junk(&self) -> u64 {
        self.dropped_unknown_cookie
            + self.dropped_unsupported
            + self.dropped_replay
            + self.dropped_half_open_limit
    }
}

/// Counters since the engine was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Datagrams handed to `handle_datagram`.
    pub received: u64,
    /// Datagrams produced by `poll_transmit` (including retransmissions).
    pub sent: u64,
    /// Unparsable, truncated or undecryptable messages.
    pub dropped_malformed: u64,
    /// Messages for cookies we do not know.
    pub dropped_unknown_cookie: u64,
    /// Other IKE versions or exchange types we do not implement.
    pub dropped_unsupported: u64,
    /// Messages whose authentication hash did not verify.
    pub dropped_bad_hash: u64,
    /// Well-formed messages that the exchange's state did not expect.
    pub dropped_unexpected: u64,
    /// New Main Modes refused because too many were half-open.
    pub dropped_half_open_limit: u64,
    /// New negotiations refused by the per-source rate limit ([`crate::ike::limits`]).
    pub dropped_rate_limit: u64,
    /// Informational or Quick Mode messages with an already used message ID.
    pub dropped_replay: u64,
    /// Duplicates of the peer's previous message answered by resending our reply.
    pub duplicates_answered: u64,
    /// Our retransmissions.
    pub retransmits: u64,
    /// Half-open exchanges dropped by expiry.
    pub half_open_expired: u64,
    /// ISAKMP SAs established.
    pub phase1_established: u64,
    /// ESP SA pairs established.
    pub phase2_established: u64,
    /// `Failed` events.
    pub failures: u64,
    /// Notifications received.
    pub notifies_received: u64,
    /// Delete payloads received.
    pub deletes_received: u64,
    /// ESP for unknown SPIs reported by the data plane ([`crate::ike::Engine::unknown_spi`]).
    pub unknown_spi_reports: u64,
    /// Reactions to it (rate-limited: Delete for the stale SPI or a new negotiation).
    pub unknown_spi_reactions: u64,
    /// NAT keepalives we sent.
    pub nat_keepalives_sent: u64,
    /// R-U-THERE probes we sent.
    pub dpd_probes_sent: u64,
    /// R-U-THERE probes from the peer we answered.
    pub dpd_probes_answered: u64,
    /// Encrypted informational messages (Delete, DPD, notifications) whose HASH did not verify:
    /// forged or corrupted, ignored.
    pub dropped_forged_informational: u64,
    /// Authentication messages set aside until the CRL their certificate names is fetched
    /// (the retransmission is judged).
    pub dropped_awaiting_crl: u64,
    /// IKEv1 fragments (payload 132) received.
    pub fragments_received: u64,
    /// IKEv1 messages put back together from the peer's fragments.
    pub messages_reassembled: u64,
    /// IKEv1 fragments dropped: fragmentation disabled, malformed, inconsistent (with what was
    /// gathered for their message), too many or too large, or expired incomplete.
    pub dropped_fragments: u64,
    /// IKEv1 fragment datagrams we sent (counted in `sent` too).
    pub fragments_sent: u64,
}

/// One ISAKMP SA or phase-1 negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase1Status {
    /// Who initiated.
    pub role: Role,
    /// State name, e.g. "established", "sent message 3".
    pub state: &'static str,
    /// Initiator cookie.
    pub icookie: [u8; 8],
    /// Responder cookie (zero until known).
    pub rcookie: [u8; 8],
    /// The chosen suite once known.
    pub proposal: Option<String>,
    /// The peer's address and port.
    pub peer: SocketAddr,
    /// Our port (500 or 4500).
    pub local_port: u16,
    /// When it was established.
    pub established_at: Option<Instant>,
    /// Age since establishment, at the last time the engine was called.
    pub age: Option<Duration>,
    /// The peer's identity once authenticated.
    pub peer_identity: Option<String>,
    /// NAT traversal.
    pub nat: NatStatus,
    /// The peer announced DPD.
    pub peer_dpd: bool,
    /// IKEv2: the key exchanges of the IKE SA in the order they ran, e.g.
    /// `curve25519 + mlkem768` (RFC 9370); `None` for IKEv1 or before the choice.
    pub key_exchanges: Option<String>,
    /// IKEv2: an ML-KEM key exchange protects the IKE SA's keys.
    pub post_quantum: bool,
    /// The certificate the peer authenticated with (certificate authentication only).
    pub peer_certificate: Option<PeerCertificate>,
}

/// What the admin API and panel show of a peer's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial number (hex).
    pub serial: String,
    /// notBefore, "YYYY-MM-DD hh:mm:ss UTC".
    pub not_before: String,
    /// notAfter, "YYYY-MM-DD hh:mm:ss UTC".
    pub not_after: String,
    /// SHA-256 of the DER, colon-separated hex.
    pub fingerprint_sha256: String,
}

impl PeerCertificate {
    /// The displayed facts of a certificate.
    pub fn of(c: &crate::ike::auth::Certificate) -> PeerCertificate {
        PeerCertificate {
            subject: c.subject.to_string(),
            issuer: c.issuer.to_string(),
            serial: c.serial.clone(),
            not_before: c.not_before_text(),
            not_after: c.not_after_text(),
            fingerprint_sha256: c.fingerprint_sha256(),
        }
    }
}

/// One ESP SA pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildStatus {
    /// Our inbound SPI.
    pub inbound_spi: u32,
    /// Our outbound SPI (the peer's).
    pub outbound_spi: u32,
    /// The suite, e.g. `aes256-hmac-sha256`.
    pub proposal: String,
    /// Proxy-ids (local ⇄ remote): for IKEv1 the Quick Mode's, for IKEv2 the first selector.
    pub proxy_ids: ProxyId,
    /// Every traffic selector of the pair (local ⇄ remote, one address family each), as in
    /// [`super::Event::ChildSaUp`]: for IKEv1 just the proxy-id.
    pub selectors: Vec<ProxyId>,
    /// Who initiated the Quick Mode.
    pub role: Role,
    /// When it was established.
    pub established_at: Instant,
    /// Age at the last time the engine was called.
    pub age: Duration,
    /// Time lifetime.
    pub lifetime: Duration,
    /// UDP encapsulation endpoint, if any.
    pub udp_encap: Option<SocketAddr>,
    /// Tunnel or transport mode.
    pub mode: super::EspMode,
}

/// A snapshot of one tunnel's IKE state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineStatus {
    /// Phase-1 SAs and negotiations.
    pub phase1: Vec<Phase1Status>,
    /// ESP SA pairs.
    pub children: Vec<ChildStatus>,
    /// The peer's current address.
    pub peer: SocketAddr,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// Counters.
    pub stats: EngineStats,
    /// Dead Peer Detection.
    pub dpd: DpdStatus,
}

/// Dead Peer Detection state, as the admin API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DpdStatus {
    /// "off" (disabled), "unsupported" (the peer did not announce DPD), "idle" (no ISAKMP SA),
    /// "alive", "probing" or "dead".
    pub state: &'static str,
    /// Unanswered R-U-THERE probes so far.
    pub probes_unanswered: u32,
    /// Probes after which the peer is declared dead.
    pub retries: u32,
    /// Probe interval.
    pub interval: Option<Duration>,
    /// Sequence number of our last R-U-THERE.
    pub sequence: u32,
    /// When the last R-U-THERE-ACK arrived.
    pub last_ack: Option<Instant>,
    /// When the peer last showed a sign of life (inbound ESP, authenticated IKE).
    pub last_seen: Option<Instant>,
    /// When the peer was declared dead (cleared when an ISAKMP SA comes up again).
    pub dead_since: Option<Instant>,
    /// Times the peer was declared dead.
    pub deaths: u64,
}
