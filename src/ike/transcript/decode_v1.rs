//! IKEv1 (ISAKMP) messages into transcript nodes: the header, then each payload by its type,
//! through the bounds-checked views of [`crate::wire::isakmp`].

use crate::ike::proposal::{describe_phase1_transform, describe_phase2_transform};
use crate::ike::v1::message::{identity_from, selector_from};
use crate::wire::isakmp::cfg::{AttributePayload, CfgAttr};
use crate::wire::isakmp::{
    AttrValue, CertPayload, DeletePayload, ExchangeType, FragmentPayload, Header, IdPayload,
    IdType, NotifyPayload, PayloadType, Payloads, ProtocolId, RawPayload, SaPayload,
};

use super::{hex, text_or_hex, vendor, Decoded, Direction, ExchangeKey, Node};

/// The friendly name of an IKEv1 exchange type.
pub(super) fn exchange_name(e: ExchangeType) -> super::Name {
    match e {
        ExchangeType::IDENTITY_PROTECTION => "Main Mode".into(),
        ExchangeType::AGGRESSIVE => "Aggressive Mode".into(),
        ExchangeType::QUICK_MODE => "Quick Mode".into(),
        ExchangeType::INFORMATIONAL => "Informational".into(),
        ExchangeType::TRANSACTION => "Transaction (mode-cfg)".into(),
        other => format!("exchange {other}").into(),
    }
}

/// Decodes the header and, unless encrypted, the payloads of an ISAKMP datagram.
pub(super) fn message(datagram: &[u8], _dir: Direction) -> Option<Decoded> {
    let h = Header::new_checked(datagram).ok()?;
    let r = h.repr();
    let encrypted = r.flags.encrypted();
    let payloads = if encrypted {
        Vec::new()
    } else {
        chain(r.next_payload.0, h.body())
    };
    Some(Decoded {
        key: ExchangeKey {
            version: 1,
            ispi: r.icookie,
            message_id: r.message_id,
            exchange: r.exchange.0,
            requested_by_us: false,
        },
        exchange_name: exchange_name(r.exchange),
        response: None,
        encrypted,
        payloads,
        note: encrypted.then(|| "encrypted; could not be decrypted".to_string()),
        first_inner: r.next_payload.0,
        fragment: 0,
    })
}

/// Decodes a payload chain (plaintext; padding after its end is ignored).
pub(super) fn chain(first: u8, data: &[u8]) -> Vec<Node> {
    let mut out = Vec::new();
    for p in Payloads::new(data, PayloadType(first)) {
        match p {
            Ok(raw) => out.push(payload(&raw)),
            Err(e) => {
                out.push(Node::leaf("malformed", format!("payload chain: {e}")));
                break;
            }
        }
    }
    out
}

fn payload(raw: &RawPayload<'_>) -> Node {
    let b = raw.body;
    let len = |what: &str| Node::leaf(what, format!("{} bytes (contents not kept)", b.len()));
    match raw.kind {
        PayloadType::SA => sa(b),
        PayloadType::KE => Node::leaf("KE", format!("public value, {} bytes", b.len())),
        PayloadType::ID => id(b),
        PayloadType::CERT | PayloadType::CERT_REQ => cert(raw.kind, b),
        PayloadType::HASH => len("HASH"),
        PayloadType::SIG => len("SIG"),
        PayloadType::NONCE => Node::leaf("NONCE", format!("{} bytes", b.len())),
        PayloadType::NOTIFY => notify(b),
        PayloadType::DELETE => delete(b),
        PayloadType::ATTRIBUTE => attributes(b),
        PayloadType::VENDOR_ID => Node::leaf("VID", vendor::name(b)),
        PayloadType::NAT_D | PayloadType::NAT_D_DRAFT => {
            Node::leaf("NAT-D", format!("hash, {} bytes", b.len()))
        }
        PayloadType::NAT_OA | PayloadType::NAT_OA_DRAFT => match IdPayload::parse(b) {
            Ok(i) => Node::leaf("NAT-OA", id_text(&i)),
            Err(e) => Node::leaf("NAT-OA", format!("malformed: {e}")),
        },
        PayloadType::FRAGMENT => match FragmentPayload::parse(b) {
            Ok(f) => Node::leaf(
                "FRAG",
                format!(
                    "message {} fragment {}{}, {} bytes",
                    f.id,
                    f.number,
                    if f.last { " (last)" } else { "" },
                    f.data.len()
                ),
            ),
            Err(e) => Node::leaf("FRAG", format!("malformed: {e}")),
        },
        other => Node::leaf(
            format!("payload {other}"),
            format!("{} bytes, not decoded", b.len()),
        ),
    }
}

fn sa(b: &[u8]) -> Node {
    let sa = match SaPayload::parse(b) {
        Ok(s) => s,
        Err(e) => return Node::leaf("SA", format!("malformed: {e}")),
    };
    let mut proposals = Vec::new();
    for p in sa.proposals() {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                proposals.push(Node::leaf("proposal", format!("malformed: {e}")));
                break;
            }
        };
        let mut transforms = Vec::new();
        for t in p.transforms() {
            let node = match t {
                Ok(t) => {
                    let text = match p.protocol {
                        ProtocolId::ISAKMP => describe_phase1_transform(&t),
                        ProtocolId::IPSEC_ESP => describe_phase2_transform(&t),
                        _ => None,
                    };
                    Node::leaf(
                        format!("transform {}", t.number),
                        text.unwrap_or_else(|| format!("transform id {}", t.id)),
                    )
                }
                Err(e) => Node::leaf("transform", format!("malformed: {e}")),
            };
            transforms.push(node);
        }
        let spi = if p.spi.is_empty() {
            String::new()
        } else {
            format!(", SPI 0x{}", hex(p.spi))
        };
        proposals.push(Node::with(
            format!("proposal {}", p.number),
            format!("{}{spi}", p.protocol),
            transforms,
        ));
    }
    Node::with(
        "SA",
        format!("DOI {}, situation {}", sa.doi, sa.situation),
        proposals,
    )
}

fn id(b: &[u8]) -> Node {
    match IdPayload::parse(b) {
        Ok(i) => Node::leaf("ID", id_text(&i)),
        Err(e) => Node::leaf("ID", format!("malformed: {e}")),
    }
}

/// An ID payload in words: a phase-1 identity or a Quick Mode selector, with protocol/port.
fn id_text(i: &IdPayload<'_>) -> String {
    let value = match i.id_type {
        IdType::IPV4_ADDR_SUBNET | IdType::IPV6_ADDR_SUBNET => {
            selector_from(i).map(|s| s.subnet.to_string())
        }
        _ => identity_from(i).map(|id| super::truncate(&id.to_string(), super::MAX_TEXT)),
    }
    .unwrap_or_else(|| text_or_hex(i.data));
    let mut s = format!("{} {value}", i.id_type);
    if i.protocol != 0 || i.port != 0 {
        s.push_str(&format!(" (protocol {}, port {})", i.protocol, i.port));
    }
    s
}

fn cert(kind: PayloadType, b: &[u8]) -> Node {
    let name = if kind == PayloadType::CERT {
        "CERT"
    } else {
        "CR"
    };
    match CertPayload::parse(b) {
        Ok(c) => Node::leaf(name, format!("{}, {} bytes", c.encoding, c.data.len())),
        Err(e) => Node::leaf(name, format!("malformed: {e}")),
    }
}

fn notify(b: &[u8]) -> Node {
    let n = match NotifyPayload::parse(b) {
        Ok(n) => n,
        Err(e) => return Node::leaf("N", format!("malformed: {e}")),
    };
    let mut text = if n.kind.is_error() {
        format!("error {}", n.kind)
    } else {
        format!("status {}", n.kind)
    };
    text.push_str(&format!(", protocol {}", n.protocol));
    if !n.spi.is_empty() {
        text.push_str(&format!(", SPI {}", hex(n.spi)));
    }
    if !n.data.is_empty() {
        text.push_str(&format!(", data {}", text_or_hex(n.data)));
    }
    Node::leaf(format!("N({})", n.kind), text)
}

/// A mode-config / XAUTH Attribute payload: each attribute by name; passwords and passcodes are
/// never kept, only their length.
fn attributes(b: &[u8]) -> Node {
    let p = match AttributePayload::parse(b) {
        Ok(p) => p,
        Err(e) => return Node::leaf("ATTR", format!("malformed: {e}")),
    };
    let mut children = Vec::new();
    for a in p.attributes() {
        match a {
            Ok(a) => children.push(attribute(CfgAttr(a.kind), a.value)),
            Err(e) => {
                children.push(Node::leaf("malformed", format!("attributes: {e}")));
                break;
            }
        }
    }
    Node::with(
        "ATTR",
        format!("CFG_{} id {}", p.kind, p.identifier),
        children,
    )
}

fn attribute(kind: CfgAttr, value: AttrValue<'_>) -> Node {
    let name = kind
        .name()
        .map_or_else(|| kind.0.to_string(), str::to_string);
    let v = match value {
        AttrValue::Basic(n) => return Node::leaf(name, n.to_string()),
        AttrValue::Variable(v) => v,
    };
    let text = match kind {
        _ if v.is_empty() => "(asked for)".to_string(),
        CfgAttr::XAUTH_USER_PASSWORD
        | CfgAttr::XAUTH_PASSCODE
        | CfgAttr::XAUTH_ANSWER
        | CfgAttr::XAUTH_NEXT_PIN => format!("{} bytes (not kept)", v.len()),
        CfgAttr::INTERNAL_IP4_ADDRESS
        | CfgAttr::INTERNAL_IP4_NETMASK
        | CfgAttr::INTERNAL_IP4_DNS
        | CfgAttr::INTERNAL_IP4_NBNS
        | CfgAttr::INTERNAL_IP4_DHCP
            if v.len() == 4 =>
        {
            std::net::Ipv4Addr::new(v[0], v[1], v[2], v[3]).to_string()
        }
        CfgAttr::INTERNAL_IP4_SUBNET if v.len() == 8 => format!(
            "{}/{}",
            std::net::Ipv4Addr::new(v[0], v[1], v[2], v[3]),
            std::net::Ipv4Addr::new(v[4], v[5], v[6], v[7])
        ),
        CfgAttr::UNITY_SPLIT_INCLUDE | CfgAttr::UNITY_LOCAL_LAN if v.len() % 14 == 0 => v
            .chunks_exact(14)
            .map(|e| {
                format!(
                    "{}/{}",
                    std::net::Ipv4Addr::new(e[0], e[1], e[2], e[3]),
                    std::net::Ipv4Addr::new(e[4], e[5], e[6], e[7])
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => text_or_hex(v),
    };
    Node::leaf(name, text)
}

fn delete(b: &[u8]) -> Node {
    match DeletePayload::parse(b) {
        Ok(d) => Node::leaf(
            "D",
            format!(
                "{}: {}",
                d.protocol,
                d.spis().map(hex).collect::<Vec<_>>().join(", ")
            ),
        ),
        Err(e) => Node::leaf("D", format!("malformed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_payloads_show_names_and_never_the_password() {
        // XAUTH REPLY: user name "alice", password "s3cret-pass"; then a mode-config REPLY.
        let mut body = vec![2, 0, 0, 7];
        body.extend_from_slice(&[0x40, 0x89, 0, 5]);
        body.extend_from_slice(b"alice");
        body.extend_from_slice(&[0x40, 0x8a, 0, 11]);
        body.extend_from_slice(b"s3cret-pass");
        body.extend_from_slice(&[0, 1, 0, 4, 10, 8, 0, 7, 0, 3, 0, 0]);
        let mut payload = vec![0, 0];
        payload.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        payload.extend_from_slice(&body);
        let nodes = chain(PayloadType::ATTRIBUTE.0, &payload);
        let json = serde_json::to_string(&nodes).unwrap();
        assert!(json.contains("CFG_REPLY id 7"), "{json}");
        assert!(
            json.contains("XAUTH_USER_NAME") && json.contains("alice"),
            "{json}"
        );
        assert!(json.contains("11 bytes (not kept)"), "{json}");
        assert!(
            json.contains("10.8.0.7") && json.contains("(asked for)"),
            "{json}"
        );
        assert!(!json.contains("s3cret"), "{json}");
    }
}
