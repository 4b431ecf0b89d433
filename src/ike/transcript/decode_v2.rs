//! IKEv2 messages into transcript nodes: the header, then each payload through the
//! bounds-checked views of [`crate::wire::ikev2`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::crypto::dh::DhGroup;
use crate::ike::v2::describe_proposals;
use crate::wire::ikev2::sa::TransformType;
use crate::wire::ikev2::{
    CpAttributeType, CpRepr, Header, HeaderRepr, IdType, NotifyRepr, NotifyType, Payload,
    PayloadType, Payloads, ProposalRepr, RawPayload, SaRepr, TrafficSelector, TsRepr,
};

use super::{hex, text_or_hex, vendor, Decoded, Direction, ExchangeKey, Name, Node};

/// Decodes the header and the unencrypted payloads of an IKEv2 datagram; for an encrypted one,
/// what the SK/SKF payload says about its inside.
pub(super) fn message(datagram: &[u8], dir: Direction) -> Option<Decoded> {
    let h = Header::new_checked(datagram).ok()?;
    let r = HeaderRepr::parse(&h);
    let response = r.flags.response();
    let mut d = Decoded {
        key: ExchangeKey {
            version: 2,
            ispi: r.ispi,
            message_id: r.message_id,
            exchange: r.exchange.0,
            requested_by_us: (dir == Direction::Out) != response,
        },
        exchange_name: r
            .exchange
            .name()
            .map_or_else(|| format!("exchange {}", r.exchange.0).into(), Name::from),
        response: Some(response),
        encrypted: false,
        payloads: Vec::new(),
        note: None,
        first_inner: 0,
        fragment: 0,
    };
    for p in Payloads::new(h.body(), r.next_payload) {
        let raw = match p {
            Ok(raw) => raw,
            Err(e) => {
                d.payloads
                    .push(Node::leaf("malformed", format!("payload chain: {e}")));
                break;
            }
        };
        match Payload::parse(&raw) {
            Ok(Payload::Sk { first_inner, .. }) => {
                d.encrypted = true;
                d.first_inner = first_inner.0;
                d.fragment = 0;
            }
            Ok(Payload::Skf {
                first_inner,
                fragment,
            }) => {
                d.encrypted = true;
                d.first_inner = first_inner.0;
                d.fragment = fragment.fragment_number;
            }
            _ => d.payloads.push(payload(&raw)),
        }
    }
    if d.encrypted {
        d.note = Some("encrypted; could not be decrypted".into());
    }
    Some(d)
}

/// Decodes a decrypted inner payload chain.
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
    let name = short_name(raw.kind);
    let p = match Payload::parse(raw) {
        Ok(p) => p,
        Err(e) => return Node::leaf(name, format!("malformed: {e}")),
    };
    match p {
        Payload::Sa(sa) => sa_node(&sa),
        Payload::Ke(k) => Node::leaf(
            name,
            format!("group {}, {} bytes", group_name(k.group), k.data.len()),
        ),
        Payload::Id(i) => Node::leaf(name, id_text(i.id_type, i.data)),
        Payload::Cert(c) => Node::leaf(name, format!("{}, {} bytes", c.encoding, c.data.len())),
        Payload::Auth(a) => Node::leaf(
            name,
            format!(
                "method {}, {} bytes (contents not kept)",
                a.method,
                a.data.len()
            ),
        ),
        Payload::Nonce(n) => Node::leaf(name, format!("{} bytes", n.nonce.len())),
        Payload::Notify(n) => notify(&n),
        Payload::Delete(d) => Node::leaf(
            name,
            format!(
                "{}: {}",
                d.protocol,
                match d.spis().map(hex).collect::<Vec<_>>().join(", ") {
                    s if s.is_empty() => "the IKE SA".to_string(),
                    s => s,
                }
            ),
        ),
        Payload::VendorId(v) => Node::leaf(name, vendor::name(v.id)),
        Payload::Ts(ts) => ts_node(name, &ts),
        Payload::Cp(cp) => cp_node(&cp),
        Payload::Eap(e) => Node::leaf(
            name,
            format!(
                "{} id {}{}, {} bytes",
                e.code,
                e.identifier,
                e.eap_type.map(|t| format!(" type {t}")).unwrap_or_default(),
                e.data.len()
            ),
        ),
        Payload::Sk { .. } | Payload::Skf { .. } => Node::leaf(name, "encrypted"),
        Payload::Unknown(t) => Node::leaf(
            format!("payload {t}"),
            format!("{} bytes, not decoded", raw.body.len()),
        ),
    }
}

/// The payload abbreviations of RFC 7296 §3.2.
fn short_name(t: PayloadType) -> String {
    match t {
        PayloadType::IDI => "IDi".into(),
        PayloadType::IDR => "IDr".into(),
        PayloadType::TSI => "TSi".into(),
        PayloadType::TSR => "TSr".into(),
        PayloadType::NONCE => "Nonce".into(),
        PayloadType::N => "N".into(),
        PayloadType::D => "D".into(),
        PayloadType::V => "V".into(),
        other => other.to_string(),
    }
}

fn group_name(id: u16) -> String {
    match DhGroup::from_id(id) {
        Some(g) => g.name().to_string(),
        None => format!("#{id}"),
    }
}

fn sa_node(sa: &SaRepr) -> Node {
    let proposals = sa.proposals.iter().map(proposal_node).collect();
    Node::with("SA", describe_proposals(sa), proposals)
}

fn proposal_node(p: &ProposalRepr) -> Node {
    let transforms = p
        .transforms
        .iter()
        .map(|t| {
            let text = if t.kind == TransformType::ESN {
                if t.id == 1 { "esn" } else { "noesn" }.to_string()
            } else {
                let one = SaRepr {
                    proposals: vec![ProposalRepr {
                        transforms: vec![t.clone()],
                        spi: Vec::new(),
                        ..p.clone()
                    }],
                };
                describe_proposals(&one)
            };
            Node::leaf(t.kind.to_string(), text)
        })
        .collect();
    let spi = if p.spi.is_empty() {
        String::new()
    } else {
        format!(", SPI 0x{}", hex(&p.spi))
    };
    Node::with(
        format!("proposal {}", p.number),
        format!("{}{spi}", p.protocol),
        transforms,
    )
}

fn id_text(t: IdType, data: &[u8]) -> String {
    let value = match t {
        IdType::IPV4_ADDR => ip(data).map(|a| a.to_string()),
        IdType::IPV6_ADDR => ip(data).map(|a| a.to_string()),
        IdType::DER_ASN1_DN => crate::ike::auth::DistinguishedName::from_der(data)
            .map(|d| super::truncate(&d.to_string(), super::MAX_TEXT)),
        _ => None,
    }
    .unwrap_or_else(|| text_or_hex(data));
    format!("{t} {value}")
}

fn ip(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b)
            .ok()
            .map(|a| Ipv4Addr::from(a).into()),
        16 => <[u8; 16]>::try_from(b)
            .ok()
            .map(|a| Ipv6Addr::from(a).into()),
        _ => None,
    }
}

fn notify(n: &NotifyRepr<'_>) -> Node {
    let kind = n
        .kind
        .name()
        .map_or_else(|| n.kind.0.to_string(), String::from);
    let mut text = if n.kind.is_error() {
        format!("error {kind}")
    } else {
        format!("status {kind}")
    };
    if !n.spi.is_empty() {
        text.push_str(&format!(", {} SPI {}", n.protocol, hex(n.spi)));
    }
    let data = match n.kind {
        _ if n.data.is_empty() => None,
        NotifyType::INVALID_KE_PAYLOAD => n.data.get(..2).map(|g| {
            format!(
                "wants group {}",
                group_name(u16::from_be_bytes([g[0], g[1]]))
            )
        }),
        NotifyType::NAT_DETECTION_SOURCE_IP
        | NotifyType::NAT_DETECTION_DESTINATION_IP
        | NotifyType::COOKIE => Some(format!("{} bytes", n.data.len())),
        _ => Some(text_or_hex(n.data)),
    };
    if let Some(d) = data {
        text.push_str(&format!(", data {d}"));
    }
    Node::leaf(format!("N({kind})"), text)
}

fn ts_node(name: String, ts: &TsRepr) -> Node {
    let items = ts.selectors.iter().map(selector).collect::<Vec<_>>();
    let text = items
        .iter()
        .map(|n| n.text.clone())
        .collect::<Vec<_>>()
        .join(", ");
    Node::with(name, text, items)
}

fn selector(s: &TrafficSelector) -> Node {
    let range = match (s.start, s.end) {
        (a, b) if a == b => format!("{a}/{}", if a.is_ipv4() { 32 } else { 128 }),
        (a, b) => match prefix_of(a, b) {
            Some(p) => format!("{a}/{p}"),
            None => format!("{a}-{b}"),
        },
    };
    let proto = match s.ip_protocol {
        0 => String::new(),
        p => format!(" protocol {p}"),
    };
    let ports = match (s.start_port, s.end_port) {
        (0, 65535) => String::new(),
        (a, b) if a == b => format!(" port {a}"),
        (a, b) => format!(" ports {a}-{b}"),
    };
    Node::leaf("TS", format!("{range}{proto}{ports}"))
}

/// The prefix length when `start..=end` is exactly one CIDR block.
fn prefix_of(start: IpAddr, end: IpAddr) -> Option<u32> {
    let (a, b, bits) = match (start, end) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return None,
    };
    let span = a ^ b;
    let host_bits = span.count_ones();
    let Some(block) = span.checked_add(1) else {
        return (a == 0).then_some(0);
    };
    (b >= a && a & span == 0 && block.is_power_of_two()).then_some(bits - host_bits)
}

fn cp_node(cp: &CpRepr<'_>) -> Node {
    let attrs = cp
        .attributes
        .iter()
        .map(|a| {
            let value = match a.kind {
                _ if a.value.is_empty() => "(requested)".to_string(),
                CpAttributeType::INTERNAL_IP4_ADDRESS
                | CpAttributeType::INTERNAL_IP4_NETMASK
                | CpAttributeType::INTERNAL_IP4_DNS
                | CpAttributeType::INTERNAL_IP4_NBNS
                | CpAttributeType::INTERNAL_IP4_DHCP => ip(a.value.get(..4).unwrap_or(a.value))
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| text_or_hex(a.value)),
                CpAttributeType::INTERNAL_IP6_ADDRESS | CpAttributeType::INTERNAL_IP6_DNS => {
                    match (ip(a.value.get(..16).unwrap_or(a.value)), a.value.get(16)) {
                        (Some(x), Some(p)) => format!("{x}/{p}"),
                        (Some(x), None) => x.to_string(),
                        _ => text_or_hex(a.value),
                    }
                }
                _ => text_or_hex(a.value),
            };
            Node::leaf(a.kind.to_string(), value)
        })
        .collect();
    Node::with("CP", cp.cfg_type.to_string(), attrs)
}
