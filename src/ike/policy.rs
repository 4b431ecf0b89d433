//! What one tunnel's IKE engine is allowed to negotiate: addresses, key, identities, phase-1 and
//! phase-2 proposals, retransmission and resource limits. The daemon maps the YAML onto this.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::crypto::dh::DhGroup;
use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::ikev2::transform::Ikev2Cipher;
use crate::crypto::mlkem::KemAlg;
use crate::crypto::prf::HashAlg;
use crate::crypto::{EncAlg, IntegAlg};

/// NAT traversal (RFC 3947) behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatTraversal {
    /// Do not announce NAT-T; never float to port 4500.
    Disable,
    /// Announce NAT-T, detect NAT with NAT-D payloads, float to 4500 when a NAT is found.
    Enable,
    /// Like `Enable`, but pretend to be behind a NAT (bogus local NAT-D hash, as strongSwan's
    /// `forceencaps`), so that ESP is always UDP-encapsulated.
    Force,
}

/// A phase-1 identity (ID payload).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// ID_IPV4_ADDR / ID_IPV6_ADDR.
    Address(IpAddr),
    /// ID_FQDN.
    Fqdn(String),
    /// ID_USER_FQDN (user@domain).
    UserFqdn(String),
    /// ID_KEY_ID (opaque bytes).
    KeyId(Vec<u8>),
    /// ID_DER_ASN1_DN (9 in IKEv1 and IKEv2): a distinguished name, compared as a name.
    Asn1Dn(crate::ike::auth::DistinguishedName),
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Address(a) => write!(f, "{a}"),
            Identity::Fqdn(s) => write!(f, "fqdn:{s}"),
            Identity::UserFqdn(s) => write!(f, "user-fqdn:{s}"),
            Identity::Asn1Dn(d) => write!(f, "asn1dn:\"{d}\""),
            Identity::KeyId(k) => {
                f.write_str("key-id:")?;
                for b in k {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An IPv4 or IPv6 subnet (address and prefix length), host bits cleared.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    addr: IpAddr,
    prefix: u8,
}

impl Subnet {
    /// A subnet; host bits of `addr` are cleared and the prefix is capped at the address width.
    pub fn new(addr: IpAddr, prefix: u8) -> Subnet {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.min(max);
        let addr = match addr {
            IpAddr::V4(a) => {
                let m = if prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(prefix))
                };
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let m = if prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(prefix))
                };
                IpAddr::V6((u128::from(a) & m).into())
            }
        };
        Subnet { addr, prefix }
    }

    /// A single host (/32 or /128).
    pub fn host(addr: IpAddr) -> Subnet {
        Subnet::new(addr, if addr.is_ipv4() { 32 } else { 128 })
    }

    /// 0.0.0.0/0.
    pub fn any_v4() -> Subnet {
        Subnet::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    }

    /// Network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// Prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The netmask as bytes (4 or 16).
    pub fn mask_bytes(&self) -> Vec<u8> {
        match self.addr {
            IpAddr::V4(_) => {
                let m = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                m.to_be_bytes().to_vec()
            }
            IpAddr::V6(_) => {
                let m = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                m.to_be_bytes().to_vec()
            }
        }
    }

    /// Builds a subnet from an address and a netmask; `None` if the mask is not contiguous.
    pub fn from_mask(addr: IpAddr, mask: &[u8]) -> Option<Subnet> {
        let ones: u32 = mask.iter().map(|b| b.count_ones()).sum();
        let s = Subnet::new(addr, ones as u8);
        (s.mask_bytes() == mask).then_some(s)
    }

    /// True when `ip` lies inside this subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        Subnet::new(ip, self.prefix) == *self
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl fmt::Debug for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Subnet {
    type Err = String;
    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a host).
    fn from_str(s: &str) -> Result<Subnet, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not an IP subnet"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': prefix length must be 0..{max}"))?,
            None => max,
        };
        Ok(Subnet::new(addr, prefix))
    }
}

/// One phase-2 proxy-id pair: the traffic selector Quick Mode proposes (local ⇄ remote).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyId {
    /// Our side (IDci when we initiate).
    pub local: Subnet,
    /// The peer's side (IDcr when we initiate).
    pub remote: Subnet,
}

impl ProxyId {
    /// 0.0.0.0/0 ⇄ 0.0.0.0/0, SEIL's route-based default.
    pub fn any_v4() -> ProxyId {
        ProxyId {
            local: Subnet::any_v4(),
            remote: Subnet::any_v4(),
        }
    }
}

impl fmt::Display for ProxyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ⇄ {}", self.local, self.remote)
    }
}

impl fmt::Debug for ProxyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Phase 1 (Main Mode, ISAKMP SA) proposal settings. Every encryption × hash combination is
/// offered, encryption-major, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase1Policy {
    /// ISAKMP SA lifetime in seconds.
    pub lifetime_secs: u32,
    /// Encryption algorithms, most preferred first.
    pub encryption: Vec<IkeCipher>,
    /// Hash algorithms (and PRFs), most preferred first.
    pub hash: Vec<HashAlg>,
    /// Diffie-Hellman group (IKEv1 proposes this one; the first of `dh_groups`).
    pub dh_group: DhGroup,
    /// IKEv2: every key-exchange group offered, most preferred first; the KE payload of
    /// IKE_SA_INIT uses the first (then the one the responder asks for with INVALID_KE_PAYLOAD).
    pub dh_groups: Vec<DhGroup>,
    /// IKEv2: the ENCR transforms offered (what `phase1.encryption` means on an IKEv2 tunnel;
    /// AES-CBC and the AEADs AES-GCM-16 and ChaCha20-Poly1305), most preferred first.
    pub ikev2_encryption: Vec<Ikev2Cipher>,
    /// IKEv2: the PRF transforms offered; empty = the `hash` list.
    pub prf: Vec<HashAlg>,
    /// IKEv2: additional key exchanges (RFC 9370), one entry per round (ADDKE1, ADDKE2, …),
    /// each the acceptable methods most preferred first; `None` = NONE (the round is optional).
    pub additional_kes: Vec<Vec<Option<KemAlg>>>,
}

impl Phase1Policy {
    /// The IKEv2 PRFs offered: `prf`, or the `hash` list when `prf` is empty.
    pub fn ikev2_prfs(&self) -> &[HashAlg] {
        if self.prf.is_empty() {
            &self.hash
        } else {
            &self.prf
        }
    }
}

/// The IKE version a tunnel speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IkeVersion {
    /// IKEv1 (RFC 2409): Main/Aggressive Mode, Quick Mode. The default for existing files.
    #[default]
    V1,
    /// IKEv2 (RFC 7296).
    V2,
}

/// How ESP carries packets (RFC 4303 §3.1): the whole inner packet behind a new outer header
/// (tunnel), or the payload of a packet between the two hosts themselves (transport).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EspMode {
    /// Tunnel mode: the inner IP packet is the ESP payload (next header 4 or 41).
    #[default]
    Tunnel,
    /// Transport mode (host-to-host): the ESP payload is the packet's own payload, the outer
    /// header is the two hosts' (the IKE addresses).
    Transport,
}

impl EspMode {
    /// `tunnel` or `transport`, as in the configuration and the API.
    pub fn name(self) -> &'static str {
        match self {
            EspMode::Tunnel => "tunnel",
            EspMode::Transport => "transport",
        }
    }
}

impl fmt::Display for EspMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Phase 2 (Quick Mode, ESP SA) proposal settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase2Policy {
    /// Proxy-ids: one ESP SA pair is negotiated per entry.
    pub proxy_ids: Vec<ProxyId>,
    /// ESP encryption algorithms, most preferred first.
    pub encryption: Vec<EncAlg>,
    /// ESP integrity algorithms for non-AEAD ciphers, most preferred first.
    pub authentication: Vec<IntegAlg>,
    /// PFS: a fresh DH exchange in every Quick Mode with this group.
    pub pfs_group: Option<DhGroup>,
    /// IKEv2 with PFS: additional key exchanges (RFC 9370) of CREATE_CHILD_SA, run by
    /// IKE_FOLLOWUP_KE; one entry per round, `None` = NONE, as in [`Phase1Policy`].
    pub additional_kes: Vec<Vec<Option<KemAlg>>>,
    /// SA lifetime in seconds.
    pub lifetime_secs: u32,
    /// SA lifetime in bytes (0 = no volume limit; sent in kilobytes).
    pub lifetime_bytes: u64,
    /// Tunnel or transport mode (`mode:` of the interface).
    pub mode: EspMode,
}

/// Retransmission of unanswered messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetransmitPolicy {
    /// Delay before the first retransmission.
    pub initial: Duration,
    /// Retransmissions before giving up.
    pub max_retransmits: u32,
    /// Each delay is the previous one times this factor.
    pub backoff: u32,
    /// Upper bound of one delay.
    pub max_interval: Duration,
}

impl Default for RetransmitPolicy {
    /// 2 s, doubling up to 30 s, 5 retransmissions: give-up after about a minute.
    fn default() -> Self {
        RetransmitPolicy {
            initial: Duration::from_secs(2),
            max_retransmits: 5,
            backoff: 2,
            max_interval: Duration::from_secs(30),
        }
    }
}

/// Phase-1 exchange to initiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeMode {
    /// Main Mode (Identity Protection): six messages, identities encrypted.
    Main,
    /// Aggressive Mode: three messages, identities in the clear; the PSK can be attacked
    /// offline from a captured exchange (VU#857035).
    Aggressive,
}

/// Dead Peer Detection (RFC 3706) settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpdPolicy {
    /// Probe (R-U-THERE) after this long without any sign of life from the peer, then again
    /// every `interval` while unanswered.
    pub interval: Duration,
    /// Unanswered probes after which the peer is declared dead.
    pub retries: u32,
}

impl Default for DpdPolicy {
    /// SEIL's: every 20 s, 5 probes.
    fn default() -> Self {
        DpdPolicy {
            interval: Duration::from_secs(20),
            retries: 5,
        }
    }
}

/// Everything the IKE engine of one tunnel needs to know.
#[derive(Clone)]
pub struct IkePolicy {
    /// IKEv1 or IKEv2.
    pub version: IkeVersion,
    /// Our outer address (source of IKE and ESP; used in NAT-D and as the default ID).
    pub local: IpAddr,
    /// The peer's outer address.
    pub remote: IpAddr,
    /// The peer's IKE port (500).
    pub remote_port: u16,
    /// Pre-shared key, exactly as configured (bytes); empty when `auth` is certificates only.
    pub psk: Zeroizing<Vec<u8>>,
    /// How both sides authenticate: the pre-shared key, or certificates (read by both engines).
    pub auth: crate::ike::auth::AuthChoice,
    /// Never initiate; only answer.
    pub responder_only: bool,
    /// NAT traversal.
    pub nat_traversal: NatTraversal,
    /// Our phase-1 identity; `None` = our address.
    pub my_id: Option<Identity>,
    /// The identity the peer must present; `None` = its address (any address identity is
    /// accepted when a NAT was detected, since the peer then sees its private address).
    pub peer_id: Option<Identity>,
    /// Phase-1 proposal.
    pub phase1: Phase1Policy,
    /// Phase-2 proposal.
    pub phase2: Phase2Policy,
    /// Retransmission.
    pub retransmit: RetransmitPolicy,
    /// Most half-open phase-1 exchanges kept as responder.
    pub half_open_max: usize,
    /// A half-open phase-1 exchange is dropped after this long.
    pub half_open_timeout: Duration,
    /// Send INITIAL-CONTACT after phase 1 as initiator when no other ISAKMP SA exists.
    pub initial_contact: bool,
    /// After a failure or after the peer deleted everything, initiate again after this delay
    /// (ignored with `responder_only`). `None` = only when [`crate::ike::Engine::initiate`] is called.
    pub reinitiate_after: Option<Duration>,
    /// Dead Peer Detection; `None` = never probe (the peer's probes are still answered).
    pub dpd: Option<DpdPolicy>,
    /// NAT keepalive interval (a 0xFF byte on port 4500 when we are behind a NAT); `None` = off.
    pub nat_keepalive: Option<Duration>,
    /// Phase-1 exchange we initiate (as responder both are accepted when configured
    /// aggressive; Main Mode always).
    pub exchange_mode: ExchangeMode,
    /// Aggressive Mode initiator: send the third message encrypted (true, RFC 2408 reading,
    /// strongSwan/OpenSWAN) or in the clear (RTX/racoon). Both are accepted as responder.
    pub aggressive_encrypt_third: bool,
    /// IKE fragmentation: announce it (IKEv2: IKEV2_FRAGMENTATION_SUPPORTED, RFC 7383; IKEv1:
    /// the FRAGMENTATION vendor ID) and fragment messages larger than `fragment_size` when the
    /// peer announced it too; accept the peer's fragments.
    pub fragmentation: bool,
    /// Largest IKE datagram (IP packet) sent before fragmenting, in bytes.
    pub fragment_size: u16,
    /// IKEv2: whether an IKE SA without ML-KEM is refused (`Required`) or accepted with a
    /// warning (`Preferred`).
    pub post_quantum: PostQuantum,
    /// Remote access: this engine serves one client of a remote-access interface (any IDi,
    /// login through [`crate::ra::login`], a virtual address from the pool); `None` for a
    /// site-to-site tunnel.
    pub remote_access: Option<std::sync::Arc<RaPolicy>>,
    /// Remote-access client: ask the gateway for a virtual address (CFG_REQUEST) and log in
    /// with EAP or the group key; `None` for a site-to-site tunnel.
    pub ra_client: Option<std::sync::Arc<RaClientPolicy>>,
}

/// What our own remote-access client asks the gateway for (IKEv2 initiator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaClientPolicy {
    /// Ask for an INTERNAL_IP4_ADDRESS (and DNS).
    pub ipv4: bool,
    /// Ask for an INTERNAL_IP6_ADDRESS.
    pub ipv6: bool,
    /// Log in with EAP (no AUTH in the first IKE_AUTH); `None`: the pre-shared key.
    pub eap: Option<std::sync::Arc<crate::ike::auth::eap::EapCredentials>>,
}

/// What a remote-access client's engine needs from the interface's `remote-access:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaPolicy {
    /// The block (pool, DNS, split-include, `auth`).
    pub config: crate::config::RemoteAccessConfig,
    /// The EAP method IKEv2 clients log in with (`None`: IKEv2 clients use the PSK alone).
    pub eap: Option<crate::ike::auth::eap::EapMethod>,
}

/// The per-tunnel `post-quantum` switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PostQuantum {
    /// No additional key exchanges configured: classic IKE SAs only.
    #[default]
    Off,
    /// Offer ML-KEM, accept a peer without it (the log and the API say so).
    Preferred,
    /// Refuse an IKE SA whose key exchanges include no ML-KEM.
    Required,
}

impl PostQuantum {
    /// The configuration word.
    pub fn name(self) -> &'static str {
        match self {
            PostQuantum::Off => "off",
            PostQuantum::Preferred => "preferred",
            PostQuantum::Required => "required",
        }
    }
}

impl fmt::Debug for IkePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IkePolicy")
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("remote_port", &self.remote_port)
            .field("psk", &format_args!("<{} bytes>", self.psk.len()))
            .field("auth", &self.auth)
            .field("responder_only", &self.responder_only)
            .field("nat_traversal", &self.nat_traversal)
            .field("my_id", &self.my_id)
            .field("peer_id", &self.peer_id)
            .field("phase1", &self.phase1)
            .field("phase2", &self.phase2)
            .field("retransmit", &self.retransmit)
            .field("dpd", &self.dpd)
            .field("nat_keepalive", &self.nat_keepalive)
            .field("exchange_mode", &self.exchange_mode)
            .field("aggressive_encrypt_third", &self.aggressive_encrypt_third)
            .field("version", &self.version)
            .field("fragmentation", &self.fragmentation)
            .field("fragment_size", &self.fragment_size)
            .field("post_quantum", &self.post_quantum)
            .field("remote_access", &self.remote_access.is_some())
            .field("ra_client", &self.ra_client)
            .finish_non_exhaustive()
    }
}

impl IkePolicy {
    /// IKEv1 remote access with XAUTH (`auth:` lists `xauth`): phase 1 uses XAuthInitPreShared
    /// (65001), the answer to message 1 announces XAUTH and Cisco Unity, XAUTH follows phase 1.
    pub fn serves_xauth(&self) -> bool {
        self.remote_access
            .as_ref()
            .is_some_and(|ra| ra.config.auth.contains(&crate::config::RaAuth::Xauth))
    }

    /// SEIL's defaults. Phase 1: encryption aes256, aes128, 3des × hash sha256, sha1 (six
    /// transforms in SEIL's order), modp1536, 86400 s, pre-shared key. Phase 2 (chosen to meet
    /// strongSwan's default ESP proposal): aes256, aes128 × hmac-sha256, hmac-sha1, no PFS,
    /// 28800 s, no volume limit; proxy-id 0.0.0.0/0 ⇄ 0.0.0.0/0. NAT-T enabled, retransmission
    /// 2 s doubling ×5, at most 64 half-open exchanges kept 60 s, INITIAL-CONTACT on, re-initiate
    /// 10 s after a failure.
    pub fn seil_defaults(local: IpAddr, remote: IpAddr, psk: &[u8]) -> IkePolicy {
        IkePolicy {
            version: IkeVersion::V1,
            local,
            remote,
            remote_port: 500,
            psk: Zeroizing::new(psk.to_vec()),
            auth: crate::ike::auth::AuthChoice::Psk,
            responder_only: false,
            nat_traversal: NatTraversal::Enable,
            my_id: None,
            peer_id: None,
            phase1: Phase1Policy {
                lifetime_secs: 86400,
                encryption: vec![
                    IkeCipher::Aes256Cbc,
                    IkeCipher::Aes128Cbc,
                    IkeCipher::TripleDesCbc,
                ],
                hash: vec![HashAlg::Sha256, HashAlg::Sha1],
                dh_group: DhGroup::Modp1536,
                dh_groups: vec![DhGroup::Modp1536],
                ikev2_encryption: vec![Ikev2Cipher::Aes256Cbc, Ikev2Cipher::Aes128Cbc],
                prf: Vec::new(),
                additional_kes: Vec::new(),
            },
            phase2: Phase2Policy {
                proxy_ids: vec![ProxyId::any_v4()],
                encryption: vec![EncAlg::Aes256Cbc, EncAlg::Aes128Cbc],
                authentication: vec![IntegAlg::HmacSha256_128, IntegAlg::HmacSha1_96],
                pfs_group: None,
                additional_kes: Vec::new(),
                lifetime_secs: 28800,
                lifetime_bytes: 0,
                mode: EspMode::Tunnel,
            },
            retransmit: RetransmitPolicy::default(),
            half_open_max: 64,
            half_open_timeout: Duration::from_secs(60),
            initial_contact: true,
            reinitiate_after: Some(Duration::from_secs(10)),
            dpd: Some(DpdPolicy::default()),
            nat_keepalive: Some(Duration::from_secs(20)),
            exchange_mode: ExchangeMode::Main,
            aggressive_encrypt_third: true,
            fragmentation: true,
            fragment_size: 1280,
            post_quantum: PostQuantum::Off,
            remote_access: None,
            ra_client: None,
        }
    }

    /// The one proxy-id of a transport-mode tunnel: our outer address ⇄ the peer's.
    pub fn transport_proxy_id(&self) -> ProxyId {
        ProxyId {
            local: Subnet::host(self.local),
            remote: Subnet::host(self.remote),
        }
    }

    /// Transport mode protects the traffic of the two hosts themselves: its only proxy-id is
    /// [`Self::transport_proxy_id`].
    pub fn check_transport_proxy_ids(&self) -> Result<(), String> {
        let host = self.transport_proxy_id();
        if self.phase2.mode != EspMode::Transport || self.phase2.proxy_ids == [host] {
            return Ok(());
        }
        Err(format!(
            "with `mode: transport` the proxy-id is the two hosts' own addresses ({host}): \
             transport mode carries only traffic between this gateway and its peer; remove \
             `proxy-id` (it defaults to that) or use `mode: tunnel` for subnets"
        ))
    }

    /// Checks that the policy can be negotiated at all; the error names the setting to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.psk.is_empty() && self.auth.certificate().is_none() {
            return Err("preshared-key is empty".into());
        }
        if self.local.is_ipv4() != self.remote.is_ipv4() {
            return Err("local and remote addresses must both be IPv4 or both IPv6".into());
        }
        match self.version {
            IkeVersion::V1 => self.validate_ikev1_phase1()?,
            IkeVersion::V2 => self.validate_ikev2()?,
        }
        if self.phase2.encryption.is_empty() {
            return Err("phase2 needs at least one encryption algorithm".into());
        }
        let needs_integ = self.phase2.encryption.iter().any(|e| !e.is_aead());
        if needs_integ
            && !self
                .phase2
                .authentication
                .iter()
                .any(|a| *a != IntegAlg::None)
        {
            return Err(
                "phase2 non-AEAD encryption needs an authentication algorithm (e.g. hmac-sha256)"
                    .into(),
            );
        }
        self.check_transport_proxy_ids()?;
        if self.phase2.proxy_ids.is_empty() {
            return Err(
                "phase2 needs at least one proxy-id (0.0.0.0/0 ⇄ 0.0.0.0/0 for route-based)".into(),
            );
        }
        for p in &self.phase2.proxy_ids {
            if p.local.addr().is_ipv4() != p.remote.addr().is_ipv4() {
                return Err(format!(
                    "proxy-id {p}: both sides must be the same address family"
                ));
            }
        }
        if self.phase1.lifetime_secs == 0 || self.phase2.lifetime_secs == 0 {
            return Err("lifetimes must be at least 1 second".into());
        }
        if self.retransmit.initial.is_zero() {
            return Err("retransmit.initial must be > 0".into());
        }
        Ok(())
    }

    fn validate_ikev1_phase1(&self) -> Result<(), String> {
        if self.phase1.encryption.is_empty() || self.phase1.hash.is_empty() {
            return Err("phase1 needs at least one encryption and one hash algorithm".into());
        }
        if self.phase1.encryption.len() * self.phase1.hash.len() > 255 {
            return Err("phase1 offers more than 255 encryption × hash combinations".into());
        }
        if self.phase1.dh_groups.len() > 1 {
            return Err(
                "IKEv1 proposes one Diffie-Hellman group: phase1.dh-group takes one value".into(),
            );
        }
        if self.fragmentation && !(576..=9000).contains(&self.fragment_size) {
            return Err("ike.fragment-size must be 576 to 9000 bytes".into());
        }
        if let Some(c) = self.auth.certificate() {
            if self.exchange_mode == ExchangeMode::Aggressive {
                return Err(
                    "IKEv1 Aggressive Mode with certificates is not implemented: set \
                            `exchange-mode: main` (Main Mode also keeps the identities encrypted)"
                        .into(),
                );
            }
            if !matches!(c.key.kind(), crate::ike::auth::KeyKind::Rsa(_)) {
                return Err(format!(
                    "IKEv1 authenticates with RSA certificates here, and certificate.key-file \
                     holds an {} key: use an RSA certificate, or `version: 2` for ECDSA and Ed25519",
                    c.key.kind()
                ));
            }
        }
        Ok(())
    }

    /// What an IKEv2 tunnel needs: ciphers, integrity for the CBC ones, a PRF, key-exchange
    /// groups (the first one is `dh_group`), no Aggressive Mode, a fragment size in 576..=9000.
    fn validate_ikev2(&self) -> Result<(), String> {
        let p1 = &self.phase1;
        if p1.ikev2_encryption.is_empty() {
            return Err("phase1.encryption needs at least one algorithm".into());
        }
        if p1.ikev2_encryption.iter().any(|c| !c.is_aead()) && p1.hash.is_empty() {
            return Err(
                "phase1: a CBC cipher needs an integrity algorithm: set phase1.hash (e.g. sha256)"
                    .into(),
            );
        }
        if p1.hash.contains(&HashAlg::Md5) || p1.prf.contains(&HashAlg::Md5) {
            return Err("phase1: md5 is not offered for IKEv2; use sha256 or sha1".into());
        }
        if p1.ikev2_prfs().is_empty() {
            return Err("phase1.prf: IKEv2 needs a PRF: set prf (e.g. sha256)".into());
        }
        match p1.dh_groups.first() {
            None => return Err("phase1.dh-group: IKEv2 needs at least one group".into()),
            Some(g) if *g != p1.dh_group => {
                return Err("phase1.dh-group must be the first of the group list".into())
            }
            Some(_) => {}
        }
        if self.exchange_mode == ExchangeMode::Aggressive {
            return Err("IKEv2 has no Aggressive Mode: remove ike.exchange-mode".into());
        }
        if self.fragmentation && !(576..=9000).contains(&self.fragment_size) {
            return Err("ike.fragment-size must be 576 to 9000 bytes".into());
        }
        Ok(())
    }

    /// Our phase-1 identity: configured, else our certificate's subject, else our address.
    pub fn my_identity(&self) -> Identity {
        if let Some(id) = &self.my_id {
            return id.clone();
        }
        match self.auth.certificate() {
            Some(c) => Identity::Asn1Dn(c.cert.subject.clone()),
            None => Identity::Address(self.local),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let s: Subnet = "192.168.1.77/24".parse().unwrap();
        assert_eq!(s.to_string(), "192.168.1.0/24");
        assert_eq!(s.mask_bytes(), vec![255, 255, 255, 0]);
        assert!(s.contains("192.168.1.5".parse().unwrap()));
        assert!(!s.contains("192.168.2.5".parse().unwrap()));
        let h: Subnet = "10.0.0.1".parse().unwrap();
        assert_eq!(h.prefix(), 32);
        let v6: Subnet = "2001:db8::1/64".parse().unwrap();
        assert_eq!(v6.to_string(), "2001:db8::/64");
        assert_eq!(
            Subnet::from_mask("10.1.0.0".parse().unwrap(), &[255, 255, 0, 0])
                .unwrap()
                .prefix(),
            16
        );
        assert!(Subnet::from_mask("10.1.0.0".parse().unwrap(), &[255, 0, 255, 0]).is_none());
        assert!("10.0.0.0/33".parse::<Subnet>().is_err());
        assert_eq!(ProxyId::any_v4().to_string(), "0.0.0.0/0 ⇄ 0.0.0.0/0");
    }

    #[test]
    fn validation() {
        let ok = IkePolicy::seil_defaults(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            b"k",
        );
        assert!(ok.validate().is_ok());
        let mut p = ok.clone();
        p.psk = Zeroizing::new(vec![]);
        assert!(p.validate().unwrap_err().contains("preshared-key"));
        let mut p = ok.clone();
        p.phase2.authentication.clear();
        assert!(p.validate().unwrap_err().contains("authentication"));
        p.phase2.encryption = vec![EncAlg::Aes128Gcm16];
        assert!(p.validate().is_ok());
        let mut p = ok.clone();
        p.phase2.proxy_ids = vec![ProxyId {
            local: "10.0.0.0/8".parse().unwrap(),
            remote: "2001:db8::/32".parse().unwrap(),
        }];
        assert!(p.validate().is_err());
    }

    #[test]
    fn ikev2_validation() {
        let mut ok = IkePolicy::seil_defaults(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            b"k",
        );
        ok.version = IkeVersion::V2;
        assert!(ok.validate().is_ok());
        // AEAD only: no integrity needed, a PRF is.
        let mut p = ok.clone();
        p.phase1.ikev2_encryption = vec![Ikev2Cipher::Aes256Gcm16];
        p.phase1.encryption.clear();
        p.phase1.hash.clear();
        assert!(p.validate().unwrap_err().contains("phase1.prf"));
        p.phase1.prf = vec![HashAlg::Sha256];
        assert!(p.validate().is_ok());
        // CBC needs integrity.
        p.phase1.ikev2_encryption.push(Ikev2Cipher::Aes128Cbc);
        assert!(p.validate().unwrap_err().contains("phase1.hash"));
        let mut p = ok.clone();
        p.phase1.ikev2_encryption.clear();
        assert!(p.validate().unwrap_err().contains("phase1.encryption"));
        let mut p = ok.clone();
        p.phase1.dh_groups = vec![DhGroup::Ecp256, DhGroup::Modp2048];
        assert!(p.validate().unwrap_err().contains("first"));
        p.phase1.dh_group = DhGroup::Ecp256;
        assert!(p.validate().is_ok());
        // Several groups are IKEv2's only.
        p.version = IkeVersion::V1;
        assert!(p
            .validate()
            .unwrap_err()
            .contains("one Diffie-Hellman group"));
        let mut p = ok.clone();
        p.exchange_mode = ExchangeMode::Aggressive;
        assert!(p.validate().unwrap_err().contains("Aggressive Mode"));
        let mut p = ok.clone();
        p.fragment_size = 100;
        assert!(p.validate().unwrap_err().contains("fragment-size"));
        p.fragmentation = false;
        assert!(p.validate().is_ok());
        let mut p = ok;
        p.phase1.hash.push(HashAlg::Md5);
        assert!(p.validate().unwrap_err().contains("md5"));
    }

    #[test]
    fn policy_debug_hides_the_key() {
        let p = IkePolicy::seil_defaults(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            b"xeeB5gohvaYi",
        );
        let s = format!("{p:?}");
        assert!(!s.contains("xeeB5gohvaYi"));
        assert!(s.contains("<12 bytes>"));
    }
}
