//! The Attribute payload (ISAKMP payload 14) that the Transaction exchange (exchange type 6)
//! carries for IKEv1 mode-config (draft-dukes-ike-mode-cfg-02) and XAUTH
//! (draft-beaulieu-ike-xauth-02), with the Cisco Unity attributes vpnc and strongSwan read.
//!
//! ```text
//! | Type (1) | RESERVED (1) | Identifier (2) | Attributes (TV / TLV, as in SA transforms) ... |
//! ```
//!
//! A mode-config *pull* is REQUEST → REPLY (vpnc, racoon, strongSwan `pull = yes`); a *push* is
//! SET → ACK (YAMAHA RTX, strongSwan `pull = no`). XAUTH is REQUEST (asking for name and
//! password) → REPLY, then SET (XAUTH_STATUS) → ACK. [`ModeCfg`] is the typed view of the
//! attributes ikegate uses, decoded with errors that name the attribute.

use std::net::{Ipv4Addr, Ipv6Addr};

use zeroize::Zeroizing;

use super::sa::{AttrIter, AttrReprValue, AttrValue, Attribute, AttributeRepr};
use super::{be16, WireError};

open_enum! {
    /// The Attribute payload's message type.
    CfgType(u8) {
        /// ISAKMP_CFG_REQUEST: asks for the attributes listed (empty values) or sends XAUTH
        /// prompts.
        REQUEST = 1,
        /// ISAKMP_CFG_REPLY: answers a REQUEST.
        REPLY = 2,
        /// ISAKMP_CFG_SET: pushes attributes (or the XAUTH status).
        SET = 3,
        /// ISAKMP_CFG_ACK: acknowledges a SET.
        ACK = 4,
    }
}

open_enum! {
    /// Mode-config, XAUTH and Cisco Unity attribute types.
    CfgAttr(u16) {
        /// The client's virtual IPv4 address (4 bytes).
        INTERNAL_IP4_ADDRESS = 1,
        /// Its netmask (4 bytes).
        INTERNAL_IP4_NETMASK = 2,
        /// A DNS server (4 bytes; repeated).
        INTERNAL_IP4_DNS = 3,
        /// A NetBIOS name server (4 bytes).
        INTERNAL_IP4_NBNS = 4,
        /// Seconds the address is valid (4 bytes).
        INTERNAL_ADDRESS_EXPIRY = 5,
        /// A DHCP server (4 bytes).
        INTERNAL_IP4_DHCP = 6,
        /// The client's or server's software version (text).
        APPLICATION_VERSION = 7,
        /// The client's virtual IPv6 address (16 bytes, or 17 with a prefix length).
        INTERNAL_IP6_ADDRESS = 8,
        /// IPv6 netmask (16 bytes).
        INTERNAL_IP6_NETMASK = 9,
        /// An IPv6 DNS server (16 bytes).
        INTERNAL_IP6_DNS = 10,
        /// An IPv6 NetBIOS name server.
        INTERNAL_IP6_NBNS = 11,
        /// An IPv6 DHCP server.
        INTERNAL_IP6_DHCP = 12,
        /// A protected IPv4 subnet (address and mask, 8 bytes).
        INTERNAL_IP4_SUBNET = 13,
        /// The attribute types the sender supports.
        SUPPORTED_ATTRIBUTES = 14,
        /// A protected IPv6 subnet (17 bytes).
        INTERNAL_IP6_SUBNET = 15,
        /// XAUTH: the authentication type (0 = generic).
        XAUTH_TYPE = 16520,
        /// XAUTH: the user name.
        XAUTH_USER_NAME = 16521,
        /// XAUTH: the password.
        XAUTH_USER_PASSWORD = 16522,
        /// XAUTH: a token passcode.
        XAUTH_PASSCODE = 16523,
        /// XAUTH: text to show the user.
        XAUTH_MESSAGE = 16524,
        /// XAUTH: a challenge.
        XAUTH_CHALLENGE = 16525,
        /// XAUTH: the user's domain.
        XAUTH_DOMAIN = 16526,
        /// XAUTH: 1 = OK, 0 = FAIL (in a SET).
        XAUTH_STATUS = 16527,
        /// XAUTH: the next PIN.
        XAUTH_NEXT_PIN = 16528,
        /// XAUTH: an answer.
        XAUTH_ANSWER = 16529,
        /// Cisco Unity: a login banner.
        UNITY_BANNER = 28672,
        /// Cisco Unity: whether the client may save the password.
        UNITY_SAVE_PASSWD = 28673,
        /// Cisco Unity: the default DNS domain.
        UNITY_DEF_DOMAIN = 28674,
        /// Cisco Unity: split DNS domains.
        UNITY_SPLITDNS_NAME = 28675,
        /// Cisco Unity: the subnets to send through the tunnel (14-byte entries).
        UNITY_SPLIT_INCLUDE = 28676,
        /// Cisco Unity: the NAT-T port.
        UNITY_NATT_PORT = 28677,
        /// Cisco Unity: local LAN subnets to keep outside the tunnel.
        UNITY_LOCAL_LAN = 28678,
        /// Cisco Unity: PFS required.
        UNITY_PFS = 28679,
        /// Cisco Unity: firewall type.
        UNITY_FW_TYPE = 28680,
        /// Cisco Unity: backup servers.
        UNITY_BACKUP_SERVERS = 28681,
        /// Cisco Unity: DDNS host name.
        UNITY_DDNS_HOSTNAME = 28682,
    }
}

/// The Attribute payload body's fixed part.
const FIXED: usize = 4;
/// One Cisco Unity split-include entry: address (4), mask (4), 6 bytes of padding.
const UNITY_NET: usize = 14;
/// Bounds of what we accept from a peer: DNS servers and subnets.
pub const MAX_LIST: usize = 16;

/// A parsed Attribute payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributePayload<'a> {
    /// REQUEST, REPLY, SET or ACK.
    pub kind: CfgType,
    /// Pairs a REPLY with its REQUEST and an ACK with its SET.
    pub identifier: u16,
    attrs: &'a [u8],
}

impl<'a> AttributePayload<'a> {
    /// Parses the body of an Attribute payload (after its generic header).
    pub fn parse(body: &'a [u8]) -> Result<AttributePayload<'a>, WireError> {
        let kind = *body.first().ok_or(WireError::Truncated)?;
        let identifier = be16(body, 2).ok_or(WireError::Truncated)?;
        Ok(AttributePayload {
            kind: CfgType(kind),
            identifier,
            attrs: body.get(FIXED..).unwrap_or(&[]),
        })
    }

    /// The attributes (bounded like an SA transform's).
    pub fn attributes(&self) -> AttrIter<'a> {
        AttrIter::new(self.attrs)
    }
}

/// An Attribute payload body to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributePayloadRepr {
    /// REQUEST, REPLY, SET or ACK.
    pub kind: CfgType,
    /// The identifier.
    pub identifier: u16,
    /// Attributes, in emission order.
    pub attrs: Vec<AttributeRepr>,
}

impl AttributePayloadRepr {
    /// Encodes the body (without the generic payload header).
    pub fn emit(&self) -> Vec<u8> {
        let mut out = vec![self.kind.0, 0];
        out.extend_from_slice(&self.identifier.to_be_bytes());
        for a in &self.attrs {
            a.emit(&mut out);
        }
        out
    }
}

/// An IPv4 subnet in a mode-config or Unity attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Subnet {
    /// The network address.
    pub addr: Ipv4Addr,
    /// The prefix length (the mask must be contiguous).
    pub prefix: u8,
}

impl Ipv4Subnet {
    fn mask(self) -> Ipv4Addr {
        let bits = u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0);
        Ipv4Addr::from(bits)
    }
}

/// What was wrong with an attribute, in words that name it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfgError {
    /// The attribute list itself is malformed.
    #[error("malformed attribute list: {0}")]
    Wire(WireError),
    /// An attribute's value has a length its type does not allow.
    #[error("{attr} of {len} bytes: expected {expected}")]
    Length {
        /// The attribute.
        attr: CfgAttr,
        /// Bytes received.
        len: usize,
        /// What the type allows.
        expected: &'static str,
    },
    /// A netmask that is not a run of ones followed by zeros.
    #[error("{attr}: netmask {mask} is not contiguous")]
    Mask {
        /// The attribute.
        attr: CfgAttr,
        /// The mask received.
        mask: Ipv4Addr,
    },
    /// More entries than we accept.
    #[error("more than {MAX_LIST} {attr} entries")]
    TooMany {
        /// The attribute.
        attr: CfgAttr,
    },
}

/// The XAUTH attributes of one message (generic user name / password).
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Xauth {
    /// XAUTH_TYPE, when present (0 = generic).
    pub xauth_type: Option<u16>,
    /// The user name (or, in a REQUEST, present-and-empty: the server asks for it).
    pub user_name: Option<Vec<u8>>,
    /// The password (zeroized; in a REQUEST, empty: the server asks for it).
    pub password: Option<Zeroizing<Vec<u8>>>,
    /// XAUTH_STATUS (1 = OK, 0 = FAIL).
    pub status: Option<u16>,
    /// XAUTH_MESSAGE, shown to the user.
    pub message: Option<Vec<u8>>,
}

impl core::fmt::Debug for Xauth {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Xauth")
            .field("xauth_type", &self.xauth_type)
            .field(
                "user_name",
                &self.user_name.as_deref().map(String::from_utf8_lossy),
            )
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("status", &self.status)
            .field(
                "message",
                &self.message.as_deref().map(String::from_utf8_lossy),
            )
            .finish()
    }
}

/// The mode-config attributes ikegate reads and writes. In a REQUEST, an attribute sent with an
/// empty value asks for it: those types are in `requested`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModeCfg {
    /// INTERNAL_IP4_ADDRESS.
    pub ip4_address: Option<Ipv4Addr>,
    /// INTERNAL_IP4_NETMASK.
    pub ip4_netmask: Option<Ipv4Addr>,
    /// INTERNAL_IP4_DNS, in order.
    pub ip4_dns: Vec<Ipv4Addr>,
    /// INTERNAL_IP6_ADDRESS with its prefix length (128 when sent without one).
    pub ip6_address: Option<(Ipv6Addr, u8)>,
    /// INTERNAL_IP4_SUBNET entries.
    pub ip4_subnets: Vec<Ipv4Subnet>,
    /// UNITY_SPLIT_INCLUDE entries.
    pub split_include: Vec<Ipv4Subnet>,
    /// INTERNAL_ADDRESS_EXPIRY, seconds.
    pub address_expiry: Option<u32>,
    /// APPLICATION_VERSION text.
    pub application_version: Option<Vec<u8>>,
    /// Attribute types sent with an empty value (asked for, in a REQUEST).
    pub requested: Vec<CfgAttr>,
    /// Attribute types we do not interpret (logged by name or number, never fatal).
    pub unknown: Vec<CfgAttr>,
    /// The XAUTH attributes.
    pub xauth: Xauth,
}

impl ModeCfg {
    /// Decodes the attributes of a payload.
    pub fn decode(p: &AttributePayload<'_>) -> Result<ModeCfg, CfgError> {
        let mut m = ModeCfg::default();
        for a in p.attributes() {
            m.take(a.map_err(CfgError::Wire)?)?;
        }
        Ok(m)
    }

    fn take(&mut self, a: Attribute<'_>) -> Result<(), CfgError> {
        let attr = CfgAttr(a.kind);
        let v = match a.value {
            AttrValue::Basic(b) => return self.take_basic(attr, b),
            AttrValue::Variable(v) => v,
        };
        if v.is_empty() {
            push_bounded(&mut self.requested, attr, attr)?;
            return Ok(());
        }
        match attr {
            CfgAttr::INTERNAL_IP4_ADDRESS => self.ip4_address = Some(ip4(attr, v)?),
            CfgAttr::INTERNAL_IP4_NETMASK => self.ip4_netmask = Some(ip4(attr, v)?),
            CfgAttr::INTERNAL_IP4_DNS => push_bounded(&mut self.ip4_dns, ip4(attr, v)?, attr)?,
            CfgAttr::INTERNAL_IP6_ADDRESS => self.ip6_address = Some(ip6_prefixed(attr, v)?),
            CfgAttr::INTERNAL_IP4_SUBNET => {
                let (addr, mask) = v
                    .split_at_checked(4)
                    .filter(|_| v.len() == 8)
                    .ok_or_else(|| length(attr, v, "8 (address and mask)"))?;
                let s = subnet(attr, addr, mask)?;
                push_bounded(&mut self.ip4_subnets, s, attr)?;
            }
            CfgAttr::UNITY_SPLIT_INCLUDE => {
                if v.len() % UNITY_NET != 0 {
                    return Err(length(attr, v, "a multiple of 14"));
                }
                for e in v.chunks_exact(UNITY_NET) {
                    let s = subnet(attr, &e[..4], &e[4..8])?;
                    push_bounded(&mut self.split_include, s, attr)?;
                }
            }
            CfgAttr::INTERNAL_ADDRESS_EXPIRY => {
                let b: [u8; 4] = v.try_into().map_err(|_| length(attr, v, "4"))?;
                self.address_expiry = Some(u32::from_be_bytes(b));
            }
            CfgAttr::APPLICATION_VERSION => self.application_version = Some(v.to_vec()),
            CfgAttr::XAUTH_USER_NAME => self.xauth.user_name = Some(v.to_vec()),
            CfgAttr::XAUTH_USER_PASSWORD => self.xauth.password = Some(Zeroizing::new(v.to_vec())),
            CfgAttr::XAUTH_MESSAGE => self.xauth.message = Some(v.to_vec()),
            CfgAttr::XAUTH_TYPE | CfgAttr::XAUTH_STATUS => {
                let b: [u8; 2] = v.try_into().map_err(|_| length(attr, v, "2"))?;
                self.take_basic(attr, u16::from_be_bytes(b))?;
            }
            _ => push_bounded(&mut self.unknown, attr, attr)?,
        }
        Ok(())
    }

    fn take_basic(&mut self, attr: CfgAttr, v: u16) -> Result<(), CfgError> {
        match attr {
            CfgAttr::XAUTH_TYPE => self.xauth.xauth_type = Some(v),
            CfgAttr::XAUTH_STATUS => self.xauth.status = Some(v),
            // A TV attribute with value 0 asks for it as well (racoon sends some that way).
            _ if v == 0 => push_bounded(&mut self.requested, attr, attr)?,
            _ => push_bounded(&mut self.unknown, attr, attr)?,
        }
        Ok(())
    }

    /// The attributes to emit, in a stable order: addresses, DNS, subnets, Unity, XAUTH, then
    /// the requested (empty) ones.
    pub fn to_reprs(&self) -> Vec<AttributeRepr> {
        let mut out = Vec::new();
        let var = |kind: CfgAttr, v: Vec<u8>| AttributeRepr {
            kind: kind.0,
            value: AttrReprValue::Variable(v),
        };
        if let Some(a) = self.ip4_address {
            out.push(var(CfgAttr::INTERNAL_IP4_ADDRESS, a.octets().to_vec()));
        }
        if let Some(m) = self.ip4_netmask {
            out.push(var(CfgAttr::INTERNAL_IP4_NETMASK, m.octets().to_vec()));
        }
        for d in &self.ip4_dns {
            out.push(var(CfgAttr::INTERNAL_IP4_DNS, d.octets().to_vec()));
        }
        if let Some((a, len)) = self.ip6_address {
            let mut v = a.octets().to_vec();
            v.push(len);
            out.push(var(CfgAttr::INTERNAL_IP6_ADDRESS, v));
        }
        for s in &self.ip4_subnets {
            let mut v = s.addr.octets().to_vec();
            v.extend_from_slice(&s.mask().octets());
            out.push(var(CfgAttr::INTERNAL_IP4_SUBNET, v));
        }
        if let Some(e) = self.address_expiry {
            out.push(var(
                CfgAttr::INTERNAL_ADDRESS_EXPIRY,
                e.to_be_bytes().to_vec(),
            ));
        }
        if let Some(v) = &self.application_version {
            out.push(var(CfgAttr::APPLICATION_VERSION, v.clone()));
        }
        if !self.split_include.is_empty() {
            let mut v = Vec::with_capacity(UNITY_NET * self.split_include.len());
            for s in &self.split_include {
                v.extend_from_slice(&s.addr.octets());
                v.extend_from_slice(&s.mask().octets());
                v.extend_from_slice(&[0; UNITY_NET - 8]);
            }
            out.push(var(CfgAttr::UNITY_SPLIT_INCLUDE, v));
        }
        self.xauth_reprs(&mut out);
        for r in &self.requested {
            out.push(var(*r, Vec::new()));
        }
        out
    }

    fn xauth_reprs(&self, out: &mut Vec<AttributeRepr>) {
        let x = &self.xauth;
        if let Some(t) = x.xauth_type {
            out.push(AttributeRepr::basic(CfgAttr::XAUTH_TYPE.0, t));
        }
        let var = |kind: CfgAttr, v: &[u8]| AttributeRepr {
            kind: kind.0,
            value: AttrReprValue::Variable(v.to_vec()),
        };
        if let Some(u) = &x.user_name {
            out.push(var(CfgAttr::XAUTH_USER_NAME, u));
        }
        if let Some(p) = &x.password {
            out.push(var(CfgAttr::XAUTH_USER_PASSWORD, p));
        }
        if let Some(m) = &x.message {
            out.push(var(CfgAttr::XAUTH_MESSAGE, m));
        }
        if let Some(s) = x.status {
            out.push(AttributeRepr::basic(CfgAttr::XAUTH_STATUS.0, s));
        }
    }
}

fn length(attr: CfgAttr, v: &[u8], expected: &'static str) -> CfgError {
    CfgError::Length {
        attr,
        len: v.len(),
        expected,
    }
}

fn push_bounded<T>(list: &mut Vec<T>, item: T, attr: CfgAttr) -> Result<(), CfgError> {
    if list.len() >= MAX_LIST {
        return Err(CfgError::TooMany { attr });
    }
    list.push(item);
    Ok(())
}

fn ip4(attr: CfgAttr, v: &[u8]) -> Result<Ipv4Addr, CfgError> {
    let b: [u8; 4] = v.try_into().map_err(|_| length(attr, v, "4"))?;
    Ok(Ipv4Addr::from(b))
}

fn ip6_prefixed(attr: CfgAttr, v: &[u8]) -> Result<(Ipv6Addr, u8), CfgError> {
    let (addr, prefix) = match v.len() {
        16 => (v, 128),
        17 => (&v[..16], v[16]),
        _ => return Err(length(attr, v, "16 or 17")),
    };
    let b: [u8; 16] = addr.try_into().map_err(|_| length(attr, v, "16 or 17"))?;
    if prefix > 128 {
        return Err(length(attr, v, "a prefix length of at most 128"));
    }
    Ok((Ipv6Addr::from(b), prefix))
}

fn subnet(attr: CfgAttr, addr: &[u8], mask: &[u8]) -> Result<Ipv4Subnet, CfgError> {
    let addr = ip4(attr, addr)?;
    let mask = ip4(attr, mask)?;
    let m = u32::from(mask);
    let prefix = m.leading_ones();
    if m.checked_shl(prefix).unwrap_or(0) != 0 {
        return Err(CfgError::Mask { attr, mask });
    }
    Ok(Ipv4Subnet {
        addr: Ipv4Addr::from(u32::from(addr) & m),
        prefix: prefix as u8,
    })
}

/// The `ikev1_mode_cfg` fuzz target (and its stable replay): arbitrary bytes as an Attribute
/// payload body must parse without panicking, and whatever decodes must encode and decode back to
/// the same attributes (those we do not interpret are not re-emitted).
pub fn fuzz_round_trip(data: &[u8]) {
    let Ok(p) = AttributePayload::parse(data) else {
        return;
    };
    let Ok(mut m) = ModeCfg::decode(&p) else {
        return;
    };
    m.unknown.clear();
    let body = AttributePayloadRepr {
        kind: p.kind,
        identifier: p.identifier,
        attrs: m.to_reprs(),
    }
    .emit();
    let again = AttributePayload::parse(&body)
        .and_then(|q| ModeCfg::decode(&q).map_err(|_| WireError::BadValue));
    assert_eq!(
        again.as_ref(),
        Ok(&m),
        "re-encoded attributes decode differently"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(kind: CfgType, m: &ModeCfg) -> ModeCfg {
        let body = AttributePayloadRepr {
            kind,
            identifier: 0x1234,
            attrs: m.to_reprs(),
        }
        .emit();
        let p = AttributePayload::parse(&body).unwrap();
        assert_eq!((p.kind, p.identifier), (kind, 0x1234));
        ModeCfg::decode(&p).unwrap()
    }

    #[test]
    fn reply_round_trips() {
        let m = ModeCfg {
            ip4_address: Some(Ipv4Addr::new(10, 8, 0, 7)),
            ip4_netmask: Some(Ipv4Addr::new(255, 255, 255, 0)),
            ip4_dns: vec![Ipv4Addr::new(192, 0, 2, 53), Ipv4Addr::new(192, 0, 2, 54)],
            ip6_address: Some(("fd00::7".parse().unwrap(), 64)),
            ip4_subnets: vec![Ipv4Subnet {
                addr: Ipv4Addr::new(192, 168, 10, 0),
                prefix: 24,
            }],
            split_include: vec![
                Ipv4Subnet {
                    addr: Ipv4Addr::new(192, 168, 10, 0),
                    prefix: 24,
                },
                Ipv4Subnet {
                    addr: Ipv4Addr::new(172, 16, 0, 0),
                    prefix: 12,
                },
            ],
            address_expiry: Some(3600),
            ..ModeCfg::default()
        };
        assert_eq!(roundtrip(CfgType::REPLY, &m), m);
    }

    #[test]
    fn request_lists_what_it_asks_for() {
        // vpnc's pull: empty INTERNAL_IP4_ADDRESS, NETMASK, DNS, Unity split include.
        let body = [
            1, 0, 0, 9, // REQUEST, id 9
            0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0x70, 0x04, 0, 0,
        ];
        let p = AttributePayload::parse(&body).unwrap();
        let m = ModeCfg::decode(&p).unwrap();
        assert_eq!(
            m.requested,
            vec![
                CfgAttr::INTERNAL_IP4_ADDRESS,
                CfgAttr::INTERNAL_IP4_NETMASK,
                CfgAttr::INTERNAL_IP4_DNS,
                CfgAttr::UNITY_SPLIT_INCLUDE
            ]
        );
        assert_eq!(roundtrip(CfgType::REQUEST, &m), m);
    }

    #[test]
    fn xauth_reply_keeps_the_password_out_of_debug() {
        let mut m = ModeCfg::default();
        m.xauth.xauth_type = Some(0);
        m.xauth.user_name = Some(b"alice".to_vec());
        m.xauth.password = Some(Zeroizing::new(b"s3cret-pass".to_vec()));
        let back = roundtrip(CfgType::REPLY, &m);
        assert_eq!(back.xauth, m.xauth);
        let dbg = format!("{back:?}");
        assert!(dbg.contains("alice") && dbg.contains("<redacted>"), "{dbg}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }

    #[test]
    fn xauth_status_as_tv_and_tlv() {
        let tv = [3, 0, 0, 1, 0xc0, 0x8f, 0, 1];
        let m = ModeCfg::decode(&AttributePayload::parse(&tv).unwrap()).unwrap();
        assert_eq!(m.xauth.status, Some(1));
        let tlv = [3, 0, 0, 1, 0x40, 0x8f, 0, 2, 0, 0];
        let m = ModeCfg::decode(&AttributePayload::parse(&tlv).unwrap()).unwrap();
        assert_eq!(m.xauth.status, Some(0));
    }

    #[test]
    fn bad_values_name_the_attribute() {
        let short = [2, 0, 0, 1, 0, 1, 0, 3, 10, 0, 0];
        let e = ModeCfg::decode(&AttributePayload::parse(&short).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "INTERNAL-IP4-ADDRESS of 3 bytes: expected 4");
        let holey = [2, 0, 0, 1, 0, 13, 0, 8, 10, 0, 0, 0, 255, 0, 255, 0];
        let e = ModeCfg::decode(&AttributePayload::parse(&holey).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "INTERNAL-IP4-SUBNET: netmask 255.0.255.0 is not contiguous"
        );
        let split = [
            2, 0, 0, 1, 0x70, 0x04, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let e = ModeCfg::decode(&AttributePayload::parse(&split).unwrap()).unwrap_err();
        assert!(e.to_string().contains("multiple of 14"), "{e}");
        assert_eq!(
            AttributePayload::parse(&[1, 0, 0]),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn lists_are_bounded() {
        let mut body = vec![2, 0, 0, 1];
        for _ in 0..=MAX_LIST {
            body.extend_from_slice(&[0, 3, 0, 4, 9, 9, 9, 9]);
        }
        let e = ModeCfg::decode(&AttributePayload::parse(&body).unwrap()).unwrap_err();
        assert_eq!(
            e,
            CfgError::TooMany {
                attr: CfgAttr::INTERNAL_IP4_DNS
            }
        );
    }

    /// The fuzz target's body, replayed on stable over the kept seeds.
    #[test]
    fn fuzz_seeds_replay() {
        let seeds = crate::ike::v2::fuzzing::tests::seeds("ikev1_mode_cfg");
        assert!(!seeds.is_empty());
        for s in &seeds {
            fuzz_round_trip(s);
        }
    }
}
