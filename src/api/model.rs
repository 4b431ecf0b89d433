//! The JSON shapes of the admin API (serde + OpenAPI schemas). These are snapshots: plain data
//! copied out of the published tunnel state, never references into the data plane.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Whether a tunnel carries traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TunnelState {
    /// No SA and no negotiation in progress.
    Down,
    /// A phase-1 or phase-2 negotiation is in progress, no ESP SA yet.
    Connecting,
    /// An outbound ESP SA is installed.
    Up,
}

impl TunnelState {
    /// The lowercase word (`up`, `down`, `connecting`).
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelState::Down => "down",
            TunnelState::Connecting => "connecting",
            TunnelState::Up => "up",
        }
    }
}

/// One tunnel with everything the panel and `ikegate status` show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tunnel {
    /// Interface name, e.g. `ipsec0`.
    pub name: String,
    /// down / connecting / up.
    pub state: TunnelState,
    /// `ike` or `manual`.
    pub keying: String,
    /// The IKE version of an IKE-keyed tunnel: 1 or 2 (`ike.version`).
    #[serde(default)]
    pub ike_version: Option<u8>,
    /// Our outer address.
    pub local: String,
    /// The peer's configured outer address; `dynamic (ADDR)` for a road warrior (`destination:
    /// dynamic`), with the address of its current SA.
    pub remote: String,
    /// Configured NAT traversal: disable / enable / force.
    pub nat_traversal: String,
    /// Tunnel MTU.
    pub mtu: u16,
    /// NAT state of the current ISAKMP SA (IKE only, once phase 1 ran).
    pub nat: Option<Nat>,
    /// ISAKMP SAs and phase-1 negotiations.
    pub phase1: Vec<Phase1Sa>,
    /// ESP SA pairs (for manual keys: the configured pair).
    pub phase2: Vec<Phase2Sa>,
    /// Dead peer detection.
    pub dpd: Dpd,
    /// Counters of the interface.
    pub counters: Counters,
    /// IKE engine counters (IKE only).
    pub ike: Option<IkeCounters>,
    /// The last failure, in plain words.
    pub last_error: Option<String>,
}

/// NAT detection and traversal of an ISAKMP SA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Nat {
    /// A NAT was detected on either side (or NAT-T is forced).
    pub detected: bool,
    /// We are behind a NAT.
    pub local_behind_nat: bool,
    /// The peer is behind a NAT.
    pub peer_behind_nat: bool,
    /// NAT-T dialect agreed: off / rfc3947 / draft.
    pub nat_t: String,
    /// IKE and ESP moved to UDP 4500.
    pub floated: bool,
    /// The peer's address and port as we see them (the mapped address when it is behind a NAT).
    pub mapped: String,
}

/// One ISAKMP SA (or a phase-1 negotiation in progress).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Phase1Sa {
    /// initiator / responder.
    pub role: String,
    /// e.g. `established`, `sent message 3`.
    pub state: String,
    /// Initiator cookie (hex).
    pub initiator_cookie: String,
    /// Responder cookie (hex; zeros until known).
    pub responder_cookie: String,
    /// Chosen proposal, once known.
    pub proposal: Option<String>,
    /// Peer address:port.
    pub peer: String,
    /// Our IKE port.
    pub local_port: u16,
    /// Seconds since establishment.
    pub age_secs: Option<u64>,
    /// Seconds until the configured lifetime ends.
    pub expires_in_secs: Option<u64>,
    /// The peer's authenticated identity.
    pub peer_identity: Option<String>,
    /// The peer announced DPD support.
    pub peer_dpd: bool,
    /// IKEv2: the key exchanges that made the keys, in the order they ran, e.g.
    /// `curve25519 + mlkem768` (RFC 9370 additional key exchanges); null for IKEv1.
    #[serde(default)]
    pub key_exchanges: Option<String>,
    /// True when an ML-KEM key exchange protects the keys; false flags an IKE SA that is not
    /// post-quantum protected (classic (EC)DH only).
    #[serde(default)]
    pub post_quantum: bool,
    /// The certificate the peer authenticated with (certificate authentication only).
    #[serde(default)]
    pub peer_certificate: Option<PeerCertificate>,
}

/// A peer's X.509 certificate, as validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerCertificate {
    /// Subject DN, e.g. `C=JP, O=Example, CN=gw2`.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial number (hex).
    pub serial: String,
    /// notBefore, `YYYY-MM-DD hh:mm:ss UTC`.
    pub not_before: String,
    /// notAfter, `YYYY-MM-DD hh:mm:ss UTC`.
    pub not_after: String,
    /// SHA-256 fingerprint of the DER, colon-separated hex.
    pub fingerprint_sha256: String,
}

/// One ESP SA pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Phase2Sa {
    /// Our inbound SPI, `0x…`.
    pub inbound_spi: String,
    /// Our outbound SPI (chosen by the peer), `0x…`.
    pub outbound_spi: String,
    /// The suite, e.g. `aes128-gcm`.
    pub proposal: String,
    /// Proxy-ids (for IKEv1 the Quick Mode's; with several selectors, the first one).
    pub proxy_ids: ProxyIdPair,
    /// Every traffic selector of the pair (local ⇄ remote, one address family each): outbound
    /// packets inside one of them are sealed with this pair's outbound SA while it is
    /// `current`, inbound inner packets must fall inside one. For manual keys
    /// `0.0.0.0/0 ⇄ 0.0.0.0/0` and `::/0 ⇄ ::/0`.
    #[serde(default)]
    pub selectors: Vec<ProxyIdPair>,
    /// initiator / responder / manual.
    pub role: String,
    /// Seconds since establishment (IKE only).
    pub age_secs: Option<u64>,
    /// Seconds until the negotiated lifetime ends (IKE only).
    pub expires_in_secs: Option<u64>,
    /// UDP encapsulation endpoint, if ESP is UDP-encapsulated.
    pub udp_encap: Option<String>,
    /// `tunnel` (the inner IP packet is the ESP payload) or `transport` (host-to-host: the
    /// payload of packets between the two outer addresses, `mode: transport`).
    #[serde(default = "tunnel_mode")]
    #[schema(example = "tunnel")]
    pub mode: String,
    /// Packets and inner bytes opened with the inbound SA.
    pub inbound: PacketCount,
    /// Packets and inner bytes sealed with the outbound SA (zero when it is not current).
    pub outbound: PacketCount,
    /// Whether the outbound SA is the one outbound packets of its selectors use now (one pair
    /// per selector set is current).
    pub current: bool,
}

fn tunnel_mode() -> String {
    "tunnel".into()
}

/// A local ⇄ remote pair of prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProxyIdPair {
    /// Our side, e.g. `192.168.1.0/24`.
    pub local: String,
    /// The peer's side.
    pub remote: String,
}

/// Packets and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct PacketCount {
    /// Packets.
    pub packets: u64,
    /// Inner bytes.
    pub bytes: u64,
}

/// Dead peer detection (RFC 3706) status.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Dpd {
    /// off / unsupported (the peer did not announce DPD) / idle (no ISAKMP SA) / alive /
    /// probing / dead.
    pub state: String,
    /// DPD probes are sent by this gateway.
    pub enabled: bool,
    /// Seconds between probes when the tunnel is idle.
    pub interval_secs: Option<u64>,
    /// Unanswered probes before the peer is declared dead.
    pub retries: Option<u32>,
    /// The peer announced DPD support in phase 1.
    pub peer_supports_dpd: bool,
    /// The peer answered the last probe (unknown without probes).
    pub peer_alive: Option<bool>,
    /// Probes sent and not yet acknowledged.
    pub probes_outstanding: Option<u32>,
    /// Seconds since the last R-U-THERE-ACK.
    pub last_ack_secs_ago: Option<u64>,
    /// Seconds since the peer last showed a sign of life (inbound ESP, authenticated IKE).
    pub last_seen_secs_ago: Option<u64>,
    /// Sequence number of the last probe.
    pub sequence: Option<u32>,
    /// Peers declared dead so far.
    pub failures: u64,
}

/// Interface counters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Counters {
    /// Inner packets and bytes sealed and sent.
    pub tx: PacketCount,
    /// Inner packets and bytes opened and delivered.
    pub rx: PacketCount,
    /// Inbound drops by reason (`auth`, `replay`, …).
    pub rx_drops: BTreeMap<String, u64>,
    /// Outbound packets dropped for want of an SA.
    pub tx_no_sa: u64,
    /// Outbound packets inside no selector (proxy-id) of the SAs in use.
    pub tx_policy: u64,
    /// Outbound packets that were not sane IP packets.
    pub tx_malformed: u64,
    /// OS send / TUN write errors.
    pub io_errors: u64,
}

/// IKE engine counters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct IkeCounters {
    /// IKE messages received.
    pub received: u64,
    /// IKE messages sent (including retransmissions).
    pub sent: u64,
    /// Retransmissions.
    pub retransmits: u64,
    /// ISAKMP SAs established.
    pub phase1_established: u64,
    /// ESP SA pairs established.
    pub phase2_established: u64,
    /// ESP SA pairs that replaced an earlier one (rekeys).
    pub rekeys: u64,
    /// Failed negotiations.
    pub failures: u64,
    /// Messages dropped (malformed, unknown cookie, bad hash, unexpected, replayed, …).
    pub dropped: u64,
}

/// Counters not attributable to one tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Global {
    /// ESP packets for unknown SPIs.
    pub unknown_spi: u64,
    /// Runt datagrams.
    pub malformed: u64,
    /// NAT keepalives received.
    pub keepalives: u64,
    /// IKE messages received.
    pub ike_messages: u64,
    /// IKE messages dropped because their tunnel's IKE task was behind (bounded queue).
    #[serde(default)]
    pub ike_queue_full: u64,
    /// IKE messages from addresses no tunnel has as its peer.
    #[serde(default)]
    pub ike_unknown_peer: u64,
    /// IKE_SA_INIT requests the receive loop answered with a COOKIE because their tunnel's IKE
    /// queue was half full (a flood).
    #[serde(default)]
    pub ike_cookies_sent: u64,
    /// First messages (new negotiations) dropped because their tunnel's IKE queue was half full.
    #[serde(default)]
    pub ike_first_messages_shed: u64,
}

/// Configured (and negotiated) proposals of a tunnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Proposals {
    /// What this gateway offers and accepts, in the configuration file's shape (a PUT body
    /// takes the same shape).
    pub configured: ProposalBlock,
    /// The phase-1 proposal of the newest established ISAKMP SA.
    pub negotiated_phase1: Option<String>,
    /// The phase-2 proposal of the current ESP SA pair.
    pub negotiated_phase2: Option<String>,
    /// The names each list of `configured` accepts on this tunnel (its IKE version), in our
    /// order of preference: what the panel's form offers.
    pub choices: ProposalChoices,
}

/// Algorithm names a tunnel's `proposal:` block accepts, by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ProposalChoices {
    /// `phase1.encryption`.
    pub phase1_encryption: Vec<String>,
    /// `phase1.hash`.
    pub phase1_hash: Vec<String>,
    /// `phase1.prf` (empty on IKEv1: the PRF comes from the hash).
    pub phase1_prf: Vec<String>,
    /// `phase1.dh-group`.
    pub dh_group: Vec<String>,
    /// Entries of `additional-key-exchanges` (empty on IKEv1).
    pub additional_key_exchanges: Vec<String>,
    /// `phase2.encryption`.
    pub phase2_encryption: Vec<String>,
    /// `phase2.authentication`.
    pub phase2_authentication: Vec<String>,
    /// `phase2.pfs-group` (with `none`).
    pub pfs_group: Vec<String>,
}

/// The `proposal:` block of an interface's `ike:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProposalBlock {
    /// Phase 1.
    pub phase1: Phase1Block,
    /// Phase 2.
    pub phase2: Phase2Block,
}

/// `proposal.phase1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Phase1Block {
    /// ISAKMP SA lifetime, seconds.
    pub lifetime: u32,
    /// e.g. `[aes256, aes128, 3des]`; on an IKEv2 tunnel also `aes128-gcm`, `aes256-gcm`,
    /// `chacha20-poly1305`.
    pub encryption: Vec<String>,
    /// e.g. `[sha256, sha1]` (on IKEv2 the integrity of the CBC ciphers; empty when every
    /// cipher is an AEAD).
    pub hash: Vec<String>,
    /// IKEv2: the PRFs offered, e.g. `[sha256]` (from `hash` unless set); empty on IKEv1,
    /// whose PRF is the HMAC of the hash.
    #[serde(default)]
    pub prf: Vec<String>,
    /// e.g. `modp1536`: the (first) Diffie-Hellman group.
    pub dh_group: String,
    /// Every group offered, most preferred first (IKEv1: just `dh-group`). A PUT may send this
    /// or `dh-group`; sent together, the one that differs from the policy in force is the edit.
    #[serde(default)]
    pub dh_groups: Vec<String>,
    /// IKEv2: the additional key exchanges (RFC 9370), one list of alternatives per round,
    /// e.g. `[[mlkem768]]` or `[[mlkem768], [mlkem1024, none]]`; omitted when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_key_exchanges: Vec<Vec<String>>,
}

/// `proposal.phase2` (proxy-ids have their own endpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Phase2Block {
    /// e.g. `[aes128-gcm, aes256]`.
    pub encryption: Vec<String>,
    /// e.g. `[hmac-sha256]`.
    pub authentication: Vec<String>,
    /// `none` or a DH group.
    pub pfs_group: String,
    /// ESP SA lifetime, seconds.
    pub lifetime_of_time: u32,
    /// ESP SA lifetime, bytes (0 = none).
    pub lifetime_of_byte: u64,
    /// With `pfs-group`: additional key exchanges of every CREATE_CHILD_SA (RFC 9370,
    /// IKE_FOLLOWUP_KE), one list of alternatives per round; omitted when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_key_exchanges: Vec<Vec<String>>,
}

/// Configured and negotiated proxy-ids of a tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProxyIds {
    /// What Quick Mode proposes, in the configuration file's shape (`{ipv4: {local, remote}}`;
    /// a PUT body takes the same shape).
    pub configured: BTreeMap<String, ProxyIdPair>,
    /// Proxy-ids of the established ESP SA pairs.
    pub negotiated: Vec<ProxyIdPair>,
}

/// The answer to initiate / rekey / reset / PUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// What was done or queued, in words.
    pub result: String,
}

/// An error: a short code and the plain-words detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Short machine-readable code, e.g. `not_found`, `invalid`, `unauthorized`.
    pub error: String,
    /// What is wrong and what to do; for validation errors, `key.path: message` lines.
    pub detail: String,
    /// Validation errors one by one, with the key path each belongs to (e.g.
    /// `phase1.encryption[1]`); absent for other errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// One validation error of a request body, by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Key path relative to the body, e.g. `phase1.dh-group` or `phase2.encryption[0]`.
    pub key: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// `?rekey=now` on PUTs.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RekeyQuery {
    /// `now`: renegotiate at once with the new settings (otherwise they apply at the next
    /// negotiation). The only value (schemathesis found the document allowing any string).
    #[param(pattern = "^now$")]
    pub rekey: Option<String>,
}

/// `?format=` of the key export.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyFormatQuery {
    /// `esp_sa` (Wireshark's ESP SA table), `ikev1_decryption_table` or `ikev2_decryption_table`.
    #[param(pattern = "^(esp_sa|ikev1_decryption_table|ikev2_decryption_table)$")]
    pub format: Option<String>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: String,
}

/// A remote-access interface: its clients, its address pool and its login failures.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct RemoteAccess {
    /// The interface, e.g. `ipsec-ra0`.
    pub name: String,
    /// Connected clients (those that logged in and hold an address), by user name.
    pub clients: Vec<RaClient>,
    /// The address pool, per family configured.
    pub pool: Vec<RaPool>,
    /// Failed logins since start, by reason (`wrong password`, `unknown user`, `throttled`, …).
    pub login_failures: BTreeMap<String, u64>,
    /// IKE negotiations under way (clients that have not logged in yet).
    pub negotiating: u64,
}

/// One client of a remote-access interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RaClient {
    /// The client's number on this interface (`DELETE …/clients/{id}` disconnects it).
    pub id: u64,
    /// The user it logged in as (EAP identity or XAUTH user name; its IKE identity with PSK).
    pub user: String,
    /// The IKE identity (IDi / IDii) it sent.
    pub identity: String,
    /// Its virtual addresses from the pool.
    pub virtual_ips: Vec<String>,
    /// Its outer address and port.
    pub outer: String,
    /// Seconds since it connected.
    pub connected_secs: u64,
    /// Inner bytes received from it (decrypted).
    pub bytes_in: u64,
    /// Inner bytes sent to it.
    pub bytes_out: u64,
    /// IKE version, 1 or 2.
    pub ike_version: u8,
}

/// The address pool of one family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RaPool {
    /// The pool's prefix, e.g. `10.8.0.0/24`.
    pub prefix: String,
    /// Addresses it can hand out.
    pub size: u32,
    /// Addresses held by connected clients.
    pub active: u32,
    /// Addresses released but still kept for their user's reconnect.
    pub reserved: u32,
}
