//! What the engine hands back to its caller: datagrams to send and events.

use std::net::SocketAddr;
use std::time::Duration;

use crate::crypto::EspKeys;

use super::diagnostic::Diagnostic;
use super::policy::{EspMode, ProxyId};
use super::status::NatStatus;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Our UDP port to send from: 500, or 4500 after NAT-T floated (the caller then prepends the
    /// 4-byte non-ESP marker).
    pub local_port: u16,
    /// Where to send it.
    pub remote: SocketAddr,
    /// The ISAKMP message (without the non-ESP marker), or exactly `[0xff]`: a NAT keepalive
    /// (RFC 3948), sent as is on port 4500 without the marker.
    pub data: Vec<u8>,
}

/// Which side started an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent the first message.
    Initiator,
    /// The peer sent the first message.
    Responder,
}

/// Why an SA went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    /// The peer sent a Delete for it.
    PeerDelete,
    /// The peer sent INITIAL-CONTACT: it restarted and forgot its old SAs.
    InitialContact,
    /// [`super::Engine::shutdown`].
    Shutdown,
    /// Its lifetime ran out.
    Expired,
    /// A newer SA replaced it (rekey, make-before-break) and its grace period is over.
    Rekeyed,
    /// [`super::Engine::reset`] (operator request).
    Reset,
    /// Dead Peer Detection declared the peer dead.
    PeerDead,
}

/// Something the caller must act on or may want to show.
#[derive(Debug)]
pub enum Event {
    /// An ISAKMP SA is established.
    Phase1Up {
        /// Initiator cookie.
        icookie: [u8; 8],
        /// Responder cookie.
        rcookie: [u8; 8],
        /// Who initiated Main Mode.
        role: Role,
        /// The suite, e.g. `aes256-sha256-modp1536`.
        proposal: String,
        /// The peer's address and port now in use.
        peer: SocketAddr,
        /// The peer's phase-1 identity.
        peer_identity: String,
        /// NAT detection and NAT-T.
        nat: NatStatus,
        /// Lifetime of the ISAKMP SA.
        lifetime: Duration,
    },
    /// An ISAKMP SA is gone.
    Phase1Down {
        /// Initiator cookie.
        icookie: [u8; 8],
        /// Responder cookie.
        rcookie: [u8; 8],
        /// Why.
        reason: DownReason,
    },
    /// A pair of ESP SAs is ready: install the inbound SA now and prepare the outbound one;
    /// start using the outbound SA when [`Event::UseOutbound`] names it.
    ChildSaUp {
        /// Keys for packets from the peer (SPI chosen by us).
        inbound: EspKeys,
        /// Keys for packets to the peer (SPI chosen by the peer).
        outbound: EspKeys,
        /// The peer's IKE address when the pair was negotiated (where raw ESP goes; it matters
        /// for a peer whose address is not configured).
        remote: SocketAddr,
        /// `Some(peer NAT-T address:port)` when ESP must be UDP-encapsulated (RFC 3948).
        udp_encap: Option<SocketAddr>,
        /// The negotiated traffic selectors as (local ⇄ remote) pairs of one address family each:
        /// one pair for an IKEv1 proxy-id, the family-matched products of TSi × TSr for an IKEv2
        /// child. Outbound packets are routed to this pair's SA by their inner addresses, and
        /// inbound inner packets must match one of them.
        selectors: Vec<ProxyId>,
        /// Tunnel or transport mode (transport: the ESP payload is the packet's own payload
        /// between our outer address and `remote`'s).
        mode: EspMode,
        /// Time lifetime.
        lifetime: Duration,
        /// Volume lifetime in bytes (0 = none).
        lifetime_bytes: u64,
    },
    /// Start sealing outbound packets with the outbound SA `outbound_spi` (announced by an
    /// earlier [`Event::ChildSaUp`]). Sent once both directions of a new pair exist, so the
    /// peer can already decrypt it (make-before-break).
    UseOutbound {
        /// The peer's SPI of the pair to use.
        outbound_spi: u32,
    },
    /// A pair of ESP SAs must be removed.
    ChildSaDown {
        /// Our inbound SPI.
        inbound_spi: u32,
        /// The peer's SPI (our outbound).
        outbound_spi: u32,
        /// Why.
        reason: DownReason,
    },
    /// The peer's authenticated messages now come from another address or port (NAT rebinding):
    /// UDP-encapsulated ESP should follow.
    PeerAddressChanged {
        /// The new address and port.
        remote: SocketAddr,
    },
    /// Dead Peer Detection declared the peer dead; its SAs were removed (`ChildSaDown` events
    /// precede this one) and, unless responder-only, re-initiation is scheduled.
    PeerDead {
        /// The peer's address at the time.
        remote: SocketAddr,
    },
    /// A peer certificate names this CRL distribution point and no fresh CRL is cached: fetch
    /// it (HTTP GET, with a timeout) and hand the bytes to `crls.insert_fetched` (or report
    /// `crls.fetch_failed`). The message that needed it was dropped; its retransmission will
    /// find the CRL cached.
    FetchCrl {
        /// The URL (http:// or https://).
        url: String,
        /// Where the CRL goes.
        crls: std::sync::Arc<crate::ike::auth::CrlStore>,
    },
    /// A remote-access client's engine asks the user directory (see [`crate::ra::login`]):
    /// answer through `TunnelEngine::login_answer` with the request's ticket.
    Login(crate::ra::login::LoginRequest),
    /// A negotiation failed; the cause says why in plain words.
    Failed {
        /// The diagnosis.
        cause: Diagnostic,
    },
}
