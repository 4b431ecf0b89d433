//! X.501 distinguished names for the `asn1dn` identity (ID_DER_ASN1_DN): parsed from the
//! configuration text ("C=JP, O=Example, CN=gw1") or from DER (an ID payload, a certificate),
//! compared as names: attribute types by OID, values without regard to case or to runs of
//! spaces (RFC 4518's caseIgnoreMatch, simplified), never as strings.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Short names of the attribute types we print and parse, with their OIDs.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("C", "2.5.4.6"),
    ("ST", "2.5.4.8"),
    ("L", "2.5.4.7"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("CN", "2.5.4.3"),
    ("SN", "2.5.4.4"),
    ("GN", "2.5.4.42"),
    ("serialNumber", "2.5.4.5"),
    ("title", "2.5.4.12"),
    ("street", "2.5.4.9"),
    ("postalCode", "2.5.4.17"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("E", "1.2.840.113549.1.9.1"),
];

/// One attribute of a relative distinguished name: type OID and value.
#[derive(Debug, Clone)]
struct Attribute {
    oid: String,
    value: String,
}

/// A distinguished name: RDNs in order (most significant first, as in the certificate), each a
/// set of attributes, plus its DER encoding (the certificate's own bytes when it came from one).
#[derive(Clone)]
pub struct DistinguishedName {
    rdns: Vec<Vec<Attribute>>,
    der: Vec<u8>,
}

/// A DN that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{text}' is not a distinguished name: {reason} (write it like \"C=JP, O=Example, CN=gw1\")"
)]
pub struct DnError {
    text: String,
    reason: String,
}

impl DistinguishedName {
    /// Parses "C=JP, O=Example, CN=gw1" (also `/` or `;` separated; `+` joins attributes of one
    /// RDN; `\,` escapes; types by short name or dotted OID, case-insensitive).
    pub fn parse(text: &str) -> Result<DistinguishedName, DnError> {
        let err = |reason: &str| DnError {
            text: text.to_string(),
            reason: reason.into(),
        };
        let mut rdns = Vec::new();
        for rdn in split_unescaped(text.trim().trim_start_matches('/'), &[',', ';', '/']) {
            let mut attrs = Vec::new();
            for part in split_unescaped(&rdn, &['+']) {
                let (ty, value) = part
                    .split_once('=')
                    .ok_or_else(|| err(&format!("'{}' has no '='", part.trim())))?;
                let oid = attribute_oid(ty.trim())
                    .ok_or_else(|| err(&format!("unknown attribute type '{}'", ty.trim())))?;
                let value = unescape(value.trim());
                if value.is_empty() {
                    return Err(err(&format!("{} has an empty value", ty.trim())));
                }
                attrs.push(Attribute { oid, value });
            }
            rdns.push(attrs);
        }
        if rdns.is_empty() {
            return Err(err("it is empty"));
        }
        let der = encode_name(&rdns);
        Ok(DistinguishedName { rdns, der })
    }

    /// Parses a DER `Name` (an ID_DER_ASN1_DN payload or a certificate's subject).
    pub fn from_der(der: &[u8]) -> Option<DistinguishedName> {
        use x509_parser::prelude::FromDer;
        let (rest, name) = x509_parser::x509::X509Name::from_der(der).ok()?;
        if !rest.is_empty() {
            return None;
        }
        // Keep the bytes as received: x509-parser's raw slice of a name can stop at the
        // SEQUENCE header for some encodings (found by the `certificates` fuzz target).
        let mut dn = DistinguishedName::from_x509(&name);
        dn.der = der.to_vec();
        Some(dn)
    }

    /// The name of a parsed certificate field.
    pub fn from_x509(name: &x509_parser::x509::X509Name<'_>) -> DistinguishedName {
        let rdns = name
            .iter_rdn()
            .map(|rdn| {
                rdn.iter()
                    .map(|a| Attribute {
                        oid: a.attr_type().to_id_string(),
                        value: a
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|_| hex(a.attr_value().data)),
                    })
                    .collect()
            })
            .collect();
        DistinguishedName {
            rdns,
            der: name.as_raw().to_vec(),
        }
    }

    /// The DER encoding (sent in an ID payload).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The value of the first attribute with this short name (e.g. "CN").
    pub fn attribute(&self, short: &str) -> Option<&str> {
        let oid = attribute_oid(short)?;
        self.rdns
            .iter()
            .flatten()
            .find(|a| a.oid == oid)
            .map(|a| a.value.as_str())
    }

    fn normalized(&self) -> Vec<Vec<(String, String)>> {
        self.rdns
            .iter()
            .map(|rdn| {
                let mut v: Vec<_> = rdn
                    .iter()
                    .map(|a| (a.oid.clone(), normalize(&a.value)))
                    .collect();
                v.sort();
                v
            })
            .collect()
    }
}

impl PartialEq for DistinguishedName {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der || self.normalized() == other.normalized()
    }
}

impl Eq for DistinguishedName {}

impl Hash for DistinguishedName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized().hash(state);
    }
}

impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            for (j, a) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str(" + ")?;
                }
                let name = ATTRIBUTES
                    .iter()
                    .find(|(_, o)| *o == a.oid)
                    .map(|(n, _)| *n)
                    .unwrap_or(&a.oid);
                write!(f, "{name}={}", a.value.replace(',', "\\,"))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

fn attribute_oid(ty: &str) -> Option<String> {
    if let Some((_, oid)) = ATTRIBUTES.iter().find(|(n, _)| n.eq_ignore_ascii_case(ty)) {
        return Some(oid.to_string());
    }
    match ty.to_ascii_lowercase().as_str() {
        "emailaddress" => return Some("1.2.840.113549.1.9.1".into()),
        "s" => return Some("2.5.4.8".into()),
        _ => {}
    }
    let arcs: Option<Vec<u64>> = ty.split('.').map(|a| a.parse().ok()).collect();
    arcs.filter(|a| first_subidentifier(a).is_some())
        .map(|_| ty.to_string())
}

/// The first BER subidentifier of an OID, `40 · arc1 + arc2` (X.660: the first arc is 0, 1 or
/// 2, and under 0 and 1 the second is below 40); `None` for fewer than two arcs, arcs out of
/// those ranges, or a sum past `u64`.
fn first_subidentifier(arcs: &[u64]) -> Option<u64> {
    let (&a1, &a2) = (arcs.first()?, arcs.get(1)?);
    if a1 > 2 || (a1 < 2 && a2 >= 40) {
        return None;
    }
    (a1 * 40).checked_add(a2)
}

/// caseIgnoreMatch, simplified: trimmed, inner runs of spaces collapsed, case folded.
fn normalize(v: &str) -> String {
    v.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn split_unescaped(s: &str, seps: &[char]) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut escaped, mut quoted) = (false, false);
    for c in s.chars() {
        let cur = out.last_mut().expect("never empty");
        if escaped {
            cur.push('\\');
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
            cur.push(c);
        } else if !quoted && seps.contains(&c) {
            out.push(String::new());
        } else {
            cur.push(c);
        }
    }
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

fn unescape(v: &str) -> String {
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    let mut s = String::from("#");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

// --- a minimal DER encoder for names we were given as text ---

fn encode_name(rdns: &[Vec<Attribute>]) -> Vec<u8> {
    let mut seq = Vec::new();
    for rdn in rdns {
        let mut set = Vec::new();
        for a in rdn {
            let mut atv = tlv(0x06, &encode_oid(&a.oid));
            // countryName and serialNumber are PrintableString, e-mail IA5String, others UTF8String.
            let tag = match a.oid.as_str() {
                "2.5.4.6" | "2.5.4.5" => 0x13,
                "1.2.840.113549.1.9.1" | "0.9.2342.19200300.100.1.25" => 0x16,
                _ => 0x0c,
            };
            atv.extend(tlv(tag, a.value.as_bytes()));
            set.extend(tlv(0x30, &atv));
        }
        seq.extend(tlv(0x31, &set));
    }
    tlv(0x30, &seq)
}

pub(crate) fn encode_oid(oid: &str) -> Vec<u8> {
    let arcs: Vec<u64> = oid.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut out = Vec::new();
    let Some(first) = first_subidentifier(&arcs) else {
        return out;
    };
    push_base128(&mut out, first);
    for a in arcs.iter().skip(2) {
        push_base128(&mut out, *a);
    }
    out
}

fn push_base128(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = vec![(v & 0x7f) as u8];
    v >>= 7;
    while v > 0 {
        tmp.push(0x80 | (v & 0x7f) as u8);
        v >>= 7;
    }
    out.extend(tmp.iter().rev());
}

pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_der_compare_as_names() {
        let a = DistinguishedName::parse("C=JP, O=Example, CN=gw1").unwrap();
        let b = DistinguishedName::parse("c=jp,o=EXAMPLE,  cn=gw1").unwrap();
        let c = DistinguishedName::parse("C=JP, O=Example, CN=gw2").unwrap();
        let reordered = DistinguishedName::parse("CN=gw1, O=Example, C=JP").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, reordered, "RDN order is part of a DN");
        // Our own DER encoding parses back to the same name.
        let back = DistinguishedName::from_der(a.der()).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.to_string(), "C=JP, O=Example, CN=gw1");
        assert_eq!(a.attribute("cn"), Some("gw1"));
        // Separators, escapes, OIDs, multi-valued RDNs.
        let d = DistinguishedName::parse("/C=JP/O=Ex\\, Inc./2.5.4.3=gw1+OU=lab").unwrap();
        assert_eq!(d.to_string(), "C=JP, O=Ex\\, Inc., CN=gw1 + OU=lab");
        assert!(DistinguishedName::parse("").is_err());
        assert!(DistinguishedName::parse("C=JP, nonsense")
            .unwrap_err()
            .to_string()
            .contains("no '='"));
        assert!(DistinguishedName::parse("XX=1")
            .unwrap_err()
            .to_string()
            .contains("unknown attribute"));
        assert!(DistinguishedName::from_der(&[0x30, 0x05, 0x31]).is_none());
    }

    /// A dotted OID as an attribute type must be one X.660 allows: found by fuzzing, a first
    /// arc of 8888888006828830073 overflowed `40 · arc1 + arc2`.
    #[test]
    fn attribute_oids_outside_x660_are_unknown_attributes() {
        for bad in [
            "8888888006828830073.653=84",
            "3.1=x",
            "1.40=x",
            "0.99=x",
            "2.18446744073709551600=x",
            "7=x",
        ] {
            let e = DistinguishedName::parse(bad).unwrap_err().to_string();
            assert!(e.contains("unknown attribute"), "{bad}: {e}");
        }
        let ok = DistinguishedName::parse("2.999.1=x, 1.39.5=y").unwrap();
        assert!(DistinguishedName::from_der(ok.der()).is_some());
        assert_eq!(encode_oid("2.999.1"), [0x88, 0x37, 0x01]);
        assert_eq!(encode_oid("2.5.4.3"), [0x55, 0x04, 0x03]);
        assert!(encode_oid("9.1").is_empty());
    }
}
