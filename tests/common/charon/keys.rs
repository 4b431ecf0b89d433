//! The keys charon derived, scraped from its log.

use crate::common::tshark::EspSa;
use std::collections::HashMap;

/// The keys of one ESP SA (one direction of a child SA), from charon's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspKey {
    /// Child name and unique id from "CHILD_SA net{1} established".
    pub child: String,
    pub unique_id: u32,
    pub spi: u32,
    /// Inbound from this charon's point of view.
    pub inbound: bool,
    /// Outer addresses as charon installed the SA (pre-NAT on its side).
    pub src: String,
    pub dst: String,
    /// strongSwan names: `AES_CBC`, `AES_GCM_16`, `3DES_CBC`, `NULL`, …
    pub encr_alg: String,
    /// Including the 4-byte salt for GCM (as RFC 4106 and Wireshark want).
    pub encr_key: Vec<u8>,
    /// `HMAC_SHA2_256_128`, …; None for AEAD.
    pub integ_alg: Option<String>,
    pub integ_key: Vec<u8>,
}

impl EspKey {
    /// A Wireshark `esp_sa` entry matching this SPI from any address.
    pub fn to_sa(&self) -> EspSa {
        EspSa::any(
            self.spi,
            wireshark_encr_name(&self.encr_alg),
            &self.encr_key,
            self.integ_alg
                .as_deref()
                .map(wireshark_auth_name)
                .unwrap_or("NULL"),
            &self.integ_key,
        )
    }
}

/// Wireshark 4.0 `esp_sa` encryption name for a strongSwan algorithm name.
pub fn wireshark_encr_name(alg: &str) -> &'static str {
    match alg {
        "NULL" => "NULL",
        "AES_CBC" => "AES-CBC [RFC3602]",
        "AES_CTR" => "AES-CTR [RFC3686]",
        "3DES_CBC" => "TripleDES-CBC [RFC2451]",
        "DES_CBC" => "DES-CBC [RFC2405]",
        "AES_GCM_8" => "AES-GCM with 8 octet ICV [RFC4106]",
        "AES_GCM_12" => "AES-GCM with 12 octet ICV [RFC4106]",
        "AES_GCM_16" => "AES-GCM with 16 octet ICV [RFC4106]",
        "CHACHA20_POLY1305" => "ChaCha20 with Poly1305 [RFC7634]",
        other => panic!("no Wireshark name for encryption algorithm {other}"),
    }
}

/// Wireshark 4.0 `esp_sa` authentication name for a strongSwan name.
pub fn wireshark_auth_name(alg: &str) -> &'static str {
    match alg {
        "HMAC_MD5_96" => "HMAC-MD5-96 [RFC2403]",
        "HMAC_SHA1_96" => "HMAC-SHA-1-96 [RFC2404]",
        "HMAC_SHA2_256_96" => "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
        "HMAC_SHA2_256_128" => "HMAC-SHA-256-128 [RFC4868]",
        "HMAC_SHA2_384_192" => "HMAC-SHA-384-192 [RFC4868]",
        "HMAC_SHA2_512_256" => "HMAC-SHA-512-256 [RFC4868]",
        other => panic!("no Wireshark name for integrity algorithm {other}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum DumpTarget {
    Dh,
    SeedI,
    SeedR,
    EncrI,
    EncrR,
    IntegI,
    IntegR,
}

#[derive(Default)]
struct ThreadState {
    encr_alg: Option<String>,
    integ_alg: Option<String>,
    /// The last "[ENC] parsed … request|response" seen: true = response.
    last_parsed_response: Option<bool>,
    dumps: HashMap<DumpTarget, Vec<u8>>,
    /// Hex dump being collected: target and expected length.
    dump: Option<(DumpTarget, usize)>,
    /// (inbound, spi, src, dst) from "adding inbound/outbound ESP SA".
    sas: Vec<(bool, u32, String, String)>,
    pending_dir: Option<bool>,
}

/// Splits a charon log line `TIME TT[GRP] message` into (thread, group,
/// message).
fn split_log_line(line: &str) -> Option<(u32, &str, &str)> {
    split_log_line_ike(line).map(|(thread, group, _, msg)| (thread, group, msg))
}

/// Like `split_log_line`, and also the IKE SA's unique id from the `ike_name = yes` prefix
/// (`<gw|1> `, or `<1> ` before a responder knows the connection).
pub(super) fn split_log_line_ike(line: &str) -> Option<(u32, &str, Option<u32>, &str)> {
    let b = line.as_bytes();
    let mut i = 0;
    while let Some(off) = line[i..].find('[') {
        let p = i + off;
        if p + 5 <= b.len()
            && b[p + 4] == b']'
            && b[p + 1..p + 4].iter().all(|c| c.is_ascii_uppercase())
            && p > 0
            && b[p - 1].is_ascii_digit()
        {
            let mut s = p;
            while s > 0 && b[s - 1].is_ascii_digit() {
                s -= 1;
            }
            let thread = line[s..p].parse().ok()?;
            let group = &line[p + 1..p + 4];
            let mut msg = line[p + 5..].strip_prefix(' ').unwrap_or(&line[p + 5..]);
            let mut ike = None;
            // `ike_name = yes` prefixes "<conn|1> " to every line of an IKE_SA.
            if let Some(rest) = msg.strip_prefix('<') {
                if let Some(end) = rest.find("> ") {
                    let name = &rest[..end];
                    ike = name.rsplit('|').next().and_then(|n| n.parse().ok());
                    msg = &rest[end + 2..];
                }
            }
            return Some((thread, group, ike, msg));
        }
        i = p + 1;
    }
    None
}

/// Reads one line of a charon hex dump (`   16: 10 DD EE …  ascii`) into `buf`, up to `len`
/// bytes in all; false when the line is not a dump line.
pub(super) fn read_dump_line(msg: &str, buf: &mut Vec<u8>, len: usize) -> bool {
    let t = msg.trim_start();
    let Some(colon) = t.find(": ") else {
        return false;
    };
    if t[..colon].is_empty() || !t[..colon].chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let want = len.saturating_sub(buf.len()).min(16);
    for tok in t[colon + 2..].split_whitespace().take(want) {
        match u8::from_str_radix(tok, 16) {
            Ok(v) => buf.push(v),
            Err(_) => return false,
        }
    }
    true
}

/// Parses the ESP keys of every established child SA out of a charon log
/// written with `chd` at level 4 (see `CharonConfig::log_keys`).
///
/// IKEv1: `initiator SA seed` = [DH secret |] protocol | SPI_r | Ni | Nr,
/// and the "initiator" keys protect the SA with SPI_r. IKEv2: no seed is
/// logged; the "initiator" keys protect initiator→responder traffic and the
/// role is taken from the last message parsed in that thread (a response
/// means we initiated the exchange).
pub fn parse_esp_keys(log: &str) -> Vec<EspKey> {
    let mut threads: HashMap<u32, ThreadState> = HashMap::new();
    let mut out = Vec::new();
    for line in log.lines() {
        let Some((thread, group, msg)) = split_log_line(line) else {
            continue;
        };
        let st = threads.entry(thread).or_default();
        if group == "CHD" {
            if let Some((target, len)) = st.dump {
                let t = msg.trim_start();
                if let Some(colon) = t.find(": ") {
                    if t[..colon].chars().all(|c| c.is_ascii_digit()) {
                        let buf = st.dumps.entry(target).or_default();
                        let want = len.saturating_sub(buf.len()).min(16);
                        for tok in t[colon + 2..].split_whitespace().take(want) {
                            if let Ok(v) = u8::from_str_radix(tok, 16) {
                                buf.push(v);
                            }
                        }
                        if buf.len() >= len {
                            st.dump = None;
                        }
                        continue;
                    }
                }
                st.dump = None;
            }
            let t = msg.trim();
            if let Some(rest) = t.strip_prefix("using ") {
                if let Some(alg) = rest.strip_suffix(" for encryption") {
                    st.encr_alg = Some(alg.to_string());
                    st.integ_alg = None;
                    st.dumps.clear();
                    st.sas.clear();
                } else if let Some(alg) = rest.strip_suffix(" for integrity") {
                    st.integ_alg = Some(alg.to_string());
                }
                continue;
            }
            if let Some((name, rest)) = t.split_once(" => ") {
                let target = match name {
                    "DH secret" => Some(DumpTarget::Dh),
                    "initiator SA seed" => Some(DumpTarget::SeedI),
                    "responder SA seed" => Some(DumpTarget::SeedR),
                    "encryption initiator key" => Some(DumpTarget::EncrI),
                    "encryption responder key" => Some(DumpTarget::EncrR),
                    "integrity initiator key" => Some(DumpTarget::IntegI),
                    "integrity responder key" => Some(DumpTarget::IntegR),
                    _ => None,
                };
                if let Some(target) = target {
                    let len: usize = rest
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    st.dumps.insert(target, Vec::new());
                    if len > 0 {
                        st.dump = Some((target, len));
                    }
                }
                continue;
            }
            if t == "adding inbound ESP SA" {
                st.pending_dir = Some(true);
                continue;
            }
            if t == "adding outbound ESP SA" {
                st.pending_dir = Some(false);
                continue;
            }
            if let (Some(inbound), Some(rest)) = (st.pending_dir, t.strip_prefix("SPI 0x")) {
                // "SPI 0x19e473f4, src 10.0.0.2 dst 10.0.0.1"
                let toks: Vec<&str> = rest.split_whitespace().collect();
                if let (Some(spi), Some(src), Some(dst)) = (
                    toks.first()
                        .and_then(|s| u32::from_str_radix(s.trim_end_matches(','), 16).ok()),
                    toks.get(2),
                    toks.get(4),
                ) {
                    st.sas
                        .push((inbound, spi, src.to_string(), dst.to_string()));
                }
                st.pending_dir = None;
                continue;
            }
        } else if group == "ENC" {
            if let Some(rest) = msg.strip_prefix("parsed ") {
                if rest.contains(" response ") {
                    st.last_parsed_response = Some(true);
                } else if rest.contains(" request ") {
                    st.last_parsed_response = Some(false);
                }
            }
        } else if group == "IKE" {
            // "CHILD_SA net{1} established with SPIs 19e473f4_i 14d36659_o and TS …"
            let Some(p) = msg.find(" established with SPIs ") else {
                continue;
            };
            // strongSwan 6 installs a rekeyed child in two steps: "inbound CHILD_SA net{3}
            // established …" (with the keys just dumped), later "outbound CHILD_SA …".
            let head = msg[..p]
                .trim_start_matches("inbound ")
                .trim_start_matches("outbound ");
            let Some(head) = head.strip_prefix("CHILD_SA ") else {
                continue;
            };
            let (child, uid) = match head.split_once('{') {
                Some((c, u)) => (c.to_string(), u.trim_end_matches('}').parse().unwrap_or(0)),
                None => (head.to_string(), 0),
            };
            let toks: Vec<&str> = msg[p..].split_whitespace().collect();
            let spi_of = |suffix: &str| {
                toks.iter()
                    .find_map(|t| t.strip_suffix(suffix))
                    .and_then(|s| u32::from_str_radix(s, 16).ok())
            };
            let (Some(spi_in), Some(spi_out)) = (spi_of("_i"), spi_of("_o")) else {
                continue;
            };
            if let Some(keys) = finish_child(st, &child, uid, spi_in, spi_out) {
                out.extend(keys);
            }
            st.dumps.clear();
            st.sas.clear();
        }
    }
    out
}

fn finish_child(
    st: &ThreadState,
    child: &str,
    uid: u32,
    spi_in: u32,
    spi_out: u32,
) -> Option<[EspKey; 2]> {
    let get = |t: DumpTarget| st.dumps.get(&t).cloned().unwrap_or_default();
    let encr_alg = st.encr_alg.clone()?;
    let (ei, er, ii, ir) = (
        get(DumpTarget::EncrI),
        get(DumpTarget::EncrR),
        get(DumpTarget::IntegI),
        get(DumpTarget::IntegR),
    );
    if ei.is_empty() && ii.is_empty() {
        return None;
    }
    // Which SPI do the "initiator" keys protect?
    let seed = get(DumpTarget::SeedI);
    let spi_for_i = if !seed.is_empty() {
        let off = get(DumpTarget::Dh).len() + 1;
        let b = seed.get(off..off + 4)?;
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    } else if st.last_parsed_response == Some(true) {
        spi_out
    } else {
        spi_in
    };
    let addr = |inbound: bool, spi: u32| {
        st.sas
            .iter()
            .find(|(i, s, _, _)| *i == inbound && *s == spi)
            .map(|(_, _, a, b)| (a.clone(), b.clone()))
            .unwrap_or_default()
    };
    let mk = |inbound: bool, spi: u32| {
        let (encr_key, integ_key) = if spi == spi_for_i {
            (ei.clone(), ii.clone())
        } else {
            (er.clone(), ir.clone())
        };
        let (src, dst) = addr(inbound, spi);
        EspKey {
            child: child.to_string(),
            unique_id: uid,
            spi,
            inbound,
            src,
            dst,
            encr_alg: encr_alg.clone(),
            encr_key,
            integ_alg: st.integ_alg.clone(),
            integ_key,
        }
    };
    Some([mk(true, spi_in), mk(false, spi_out)])
}
