//! Helpers shared by the exchanges: a parsed payload list, identity and proxy-id encoding.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ike::policy::{Identity, Subnet};
use crate::wire::isakmp::{IdPayload, IdType, PayloadType, Payloads, RawPayload, WireError};

/// The payloads of one (decrypted) message, and where the chain ends (padding follows).
pub(crate) struct Msg<'a> {
    pub payloads: Vec<RawPayload<'a>>,
    pub data: &'a [u8],
    pub chain_end: usize,
}

impl<'a> Msg<'a> {
    /// Parses the whole chain; any malformed payload fails the message.
    pub fn parse(data: &'a [u8], first: PayloadType) -> Result<Msg<'a>, WireError> {
        let mut it = Payloads::new(data, first);
        let payloads = it.by_ref().collect::<Result<Vec<_>, _>>()?;
        Ok(Msg {
            payloads,
            data,
            chain_end: it.offset(),
        })
    }

    /// The first payload of a type.
    pub fn find(&self, kind: PayloadType) -> Option<&RawPayload<'a>> {
        self.payloads.iter().find(|p| p.kind == kind)
    }

    /// All payloads of a type.
    pub fn all(&self, kind: PayloadType) -> impl Iterator<Item = &RawPayload<'a>> {
        self.payloads.iter().filter(move |p| p.kind == kind)
    }

    /// For messages that must start with a HASH payload: its body and the bytes of every
    /// payload after it, up to the end of the chain (what HASH(1)/(2) and the informational
    /// hash cover).
    pub fn leading_hash(&self) -> Option<(&'a [u8], &'a [u8])> {
        let first = self
            .payloads
            .first()
            .filter(|p| p.kind == PayloadType::HASH)?;
        let rest = self.data.get(first.whole.len()..self.chain_end)?;
        Some((first.body, rest))
    }
}

/// Encodes a phase-1 identity as an ID payload body (protocol 0, port 0, as strongSwan does).
pub(crate) fn identity_body(id: &Identity) -> Vec<u8> {
    match id {
        Identity::Address(IpAddr::V4(a)) => IdPayload::emit(IdType::IPV4_ADDR, 0, 0, &a.octets()),
        Identity::Address(IpAddr::V6(a)) => IdPayload::emit(IdType::IPV6_ADDR, 0, 0, &a.octets()),
        Identity::Fqdn(s) => IdPayload::emit(IdType::FQDN, 0, 0, s.as_bytes()),
        Identity::UserFqdn(s) => IdPayload::emit(IdType::USER_FQDN, 0, 0, s.as_bytes()),
        Identity::KeyId(k) => IdPayload::emit(IdType::KEY_ID, 0, 0, k),
        Identity::Asn1Dn(d) => IdPayload::emit(IdType::DER_ASN1_DN, 0, 0, d.der()),
    }
}

/// Decodes a phase-1 ID payload into an identity (any protocol/port accepted).
pub(crate) fn identity_from(id: &IdPayload<'_>) -> Option<Identity> {
    match id.id_type {
        IdType::IPV4_ADDR => Some(Identity::Address(ipv4(id.data)?)),
        IdType::IPV6_ADDR => Some(Identity::Address(ipv6(id.data)?)),
        IdType::FQDN => Some(Identity::Fqdn(
            String::from_utf8_lossy(id.data).into_owned(),
        )),
        IdType::USER_FQDN => Some(Identity::UserFqdn(
            String::from_utf8_lossy(id.data).into_owned(),
        )),
        IdType::KEY_ID => Some(Identity::KeyId(id.data.to_vec())),
        IdType::DER_ASN1_DN => Some(Identity::Asn1Dn(
            crate::ike::auth::DistinguishedName::from_der(id.data)?,
        )),
        _ => None,
    }
}

/// A Quick Mode traffic selector: a subnet with protocol and port (0 = any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Selector {
    pub subnet: Subnet,
    pub protocol: u8,
    pub port: u16,
}

impl Selector {
    /// Any protocol and port.
    pub fn subnet(subnet: Subnet) -> Selector {
        Selector {
            subnet,
            protocol: 0,
            port: 0,
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.subnet)?;
        if self.protocol != 0 || self.port != 0 {
            write!(f, "[{}/{}]", self.protocol, self.port)?;
        }
        Ok(())
    }
}

/// Encodes a proxy-id side as ID_IPV4_ADDR_SUBNET / ID_IPV6_ADDR_SUBNET (as SEIL does, even
/// for hosts).
pub(crate) fn selector_body(s: &Selector) -> Vec<u8> {
    let mut data = match s.subnet.addr() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    data.extend_from_slice(&s.subnet.mask_bytes());
    let t = if s.subnet.addr().is_ipv4() {
        IdType::IPV4_ADDR_SUBNET
    } else {
        IdType::IPV6_ADDR_SUBNET
    };
    IdPayload::emit(t, s.protocol, s.port, &data)
}

/// Decodes a Quick Mode ID payload (address, subnet or range that is a whole subnet).
pub(crate) fn selector_from(id: &IdPayload<'_>) -> Option<Selector> {
    let subnet = match id.id_type {
        IdType::IPV4_ADDR => Subnet::host(ipv4(id.data)?),
        IdType::IPV6_ADDR => Subnet::host(ipv6(id.data)?),
        IdType::IPV4_ADDR_SUBNET => {
            let a = ipv4(id.data.get(..4)?)?;
            Subnet::from_mask(a, id.data.get(4..8)?)?
        }
        IdType::IPV6_ADDR_SUBNET => {
            let a = ipv6(id.data.get(..16)?)?;
            Subnet::from_mask(a, id.data.get(16..32)?)?
        }
        _ => return None,
    };
    Some(Selector {
        subnet,
        protocol: id.protocol,
        port: id.port,
    })
}

fn ipv4(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 4] = b.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(a)))
}

fn ipv6(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 16] = b.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_roundtrip() {
        for s in [
            "192.168.1.0/24",
            "0.0.0.0/0",
            "10.0.0.1/32",
            "2001:db8::/48",
        ] {
            let sel = Selector::subnet(s.parse().unwrap());
            let b = selector_body(&sel);
            let back = selector_from(&IdPayload::parse(&b).unwrap()).unwrap();
            assert_eq!(back, sel);
        }
        // seed 003 #985
        let b = hex::decode("04000000c0a80100ffffff00").unwrap();
        let sel = selector_from(&IdPayload::parse(&b).unwrap()).unwrap();
        assert_eq!(sel.subnet.to_string(), "192.168.1.0/24");
        // non-contiguous mask
        let b = hex::decode("04000000c0a80100ff00ff00").unwrap();
        assert!(selector_from(&IdPayload::parse(&b).unwrap()).is_none());
    }

    /// Peers pad differently after the last payload (strongSwan: zeros; racoon/SEIL: random
    /// bytes ending in the pad length). Both parse, and the hashed range stops at the chain end.
    #[test]
    fn padding_styles_are_ignored() {
        let mut c = crate::wire::isakmp::PayloadChain::new();
        c.push(PayloadType::HASH, &[7; 20])
            .push(PayloadType::NOTIFY, &[1; 12]);
        let (first, chain) = c.into_parts();
        for pad in [
            vec![0u8; 12],
            vec![
                0x8d, 0x3a, 0xe8, 0x2a, 0x97, 0xfa, 0xf1, 0xf5, 0xe3, 0x9f, 0x03, 0x0b,
            ],
        ] {
            let mut m = chain.clone();
            m.extend_from_slice(&pad);
            let msg = Msg::parse(&m, first).unwrap();
            assert_eq!(msg.payloads.len(), 2);
            assert_eq!(msg.chain_end, chain.len());
            let (hash, rest) = msg.leading_hash().unwrap();
            assert_eq!(hash, &[7; 20]);
            assert_eq!(rest.len(), 16);
        }
    }

    #[test]
    fn identities_roundtrip() {
        for id in [
            Identity::Address("10.0.0.1".parse().unwrap()),
            Identity::Address("2001:db8::1".parse().unwrap()),
            Identity::Fqdn("gw.example".into()),
            Identity::UserFqdn("a@b".into()),
            Identity::KeyId(vec![1, 2, 3]),
        ] {
            let b = identity_body(&id);
            assert_eq!(identity_from(&IdPayload::parse(&b).unwrap()), Some(id));
        }
    }
}
