//! The IKEv2 IKE SA keys charon derived, scraped from its log, and the Wireshark
//! `ikev2_decryption_table` entry they make.
//!
//! With `ike` logging at level 4 (see `CharonConfig::strongswan_conf`), strongSwan 5.9 and 6.1
//! print each IKE SA's `Sk_d secret`, `Sk_ai secret`, `Sk_ar secret` (not for AEAD),
//! `Sk_ei secret`, `Sk_er secret` (with the 4-byte salt for GCM), `Sk_pi secret` and
//! `Sk_pr secret`, each followed by a hex dump, and the NAT-D inputs `natd_chunk` =
//! SPIi | SPIr | address | port, whose first one with a non-zero SPIr gives both SPIs. Lines are
//! tied to the IKE SA by the `<conn|N>` prefix (`ike_name = yes`).

use super::keys::{read_dump_line, split_log_line_ike};
use std::collections::HashMap;

/// The keys of one IKEv2 IKE SA from one charon's point of view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IkeKeys {
    /// The IKE SA's unique id (`gw[1]`, `<gw|1>`).
    pub unique_id: u32,
    /// True when this charon initiated the IKE SA.
    pub initiator: bool,
    /// IKE SA initiator's and responder's SPIs.
    pub spi_i: [u8; 8],
    pub spi_r: [u8; 8],
    /// strongSwan's name of the negotiated IKE proposal,
    /// e.g. `AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384`.
    pub proposal: String,
    pub sk_d: Vec<u8>,
    pub sk_ai: Vec<u8>,
    pub sk_ar: Vec<u8>,
    pub sk_ei: Vec<u8>,
    pub sk_er: Vec<u8>,
    pub sk_pi: Vec<u8>,
    pub sk_pr: Vec<u8>,
}

impl IkeKeys {
    /// The encryption algorithm of `proposal` (its first element).
    pub fn encr_alg(&self) -> &str {
        self.proposal.split('/').next().unwrap_or("")
    }

    /// The integrity algorithm of `proposal`, None for AEAD.
    pub fn integ_alg(&self) -> Option<&str> {
        self.proposal.split('/').find(|a| {
            a.starts_with("HMAC_") || a.starts_with("AES_XCBC") || a.starts_with("AES_CMAC")
        })
    }

    /// One record of Wireshark's `ikev2_decryption_table` (for `-o uat:ikev2_decryption_table:…`;
    /// SPIs and keys are byte fields, written as bare hex),
    /// or None when Wireshark 4.0 cannot decrypt this suite (e.g. ChaCha20-Poly1305).
    pub fn ikev2_uat_record(&self) -> Option<String> {
        let encr = wireshark_ikev2_encr_name(self.encr_alg())?;
        let integ = match self.integ_alg() {
            None => "NONE [RFC4306]",
            Some(a) => wireshark_ikev2_integ_name(a)?,
        };
        Some(format!(
            "{},{},{},{},\"{encr}\",{},{},\"{integ}\"",
            hex::encode(self.spi_i),
            hex::encode(self.spi_r),
            hex::encode(&self.sk_ei),
            hex::encode(&self.sk_er),
            hex::encode(&self.sk_ai),
            hex::encode(&self.sk_ar),
        ))
    }
}

/// Wireshark 4.0 `ikev2_decryption_table` encryption name for a strongSwan IKE algorithm.
pub fn wireshark_ikev2_encr_name(alg: &str) -> Option<&'static str> {
    Some(match alg {
        "3DES_CBC" => "3DES [RFC2451]",
        "AES_CBC_128" => "AES-CBC-128 [RFC3602]",
        "AES_CBC_192" => "AES-CBC-192 [RFC3602]",
        "AES_CBC_256" => "AES-CBC-256 [RFC3602]",
        "AES_GCM_8_128" => "AES-GCM-128 with 8 octet ICV [RFC5282]",
        "AES_GCM_12_128" => "AES-GCM-128 with 12 octet ICV [RFC5282]",
        "AES_GCM_16_128" => "AES-GCM-128 with 16 octet ICV [RFC5282]",
        "AES_GCM_16_192" => "AES-GCM-192 with 16 octet ICV [RFC5282]",
        "AES_GCM_8_256" => "AES-GCM-256 with 8 octet ICV [RFC5282]",
        "AES_GCM_12_256" => "AES-GCM-256 with 12 octet ICV [RFC5282]",
        "AES_GCM_16_256" => "AES-GCM-256 with 16 octet ICV [RFC5282]",
        _ => return None,
    })
}

/// Wireshark 4.0 `ikev2_decryption_table` integrity name for a strongSwan algorithm.
pub fn wireshark_ikev2_integ_name(alg: &str) -> Option<&'static str> {
    Some(match alg {
        "HMAC_SHA1_96" => "HMAC_SHA1_96 [RFC2404]",
        "HMAC_SHA2_256_128" => "HMAC_SHA2_256_128 [RFC4868]",
        "HMAC_SHA2_384_192" => "HMAC_SHA2_384_192 [RFC4868]",
        "HMAC_SHA2_512_256" => "HMAC_SHA2_512_256 [RFC4868]",
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dump {
    NatdChunk,
    SkD,
    SkAi,
    SkAr,
    SkEi,
    SkEr,
    SkPi,
    SkPr,
}

/// Parses the keys of every IKEv2 IKE SA whose `Sk_d` was logged, in order of unique id.
pub fn parse_ike_keys(log: &str) -> Vec<IkeKeys> {
    let mut sas: HashMap<u32, IkeKeys> = HashMap::new();
    let mut natd: HashMap<u32, bool> = HashMap::new();
    // Per thread: the dump being read (IKE SA, target, length) and its bytes.
    let mut dumps: HashMap<u32, (u32, Dump, usize, Vec<u8>)> = HashMap::new();
    for line in log.lines() {
        let Some((thread, group, ike, msg)) = split_log_line_ike(line) else {
            continue;
        };
        if let Some((uid, target, len, mut buf)) = dumps.remove(&thread) {
            if group == "IKE" && read_dump_line(msg, &mut buf, len) {
                if buf.len() < len {
                    dumps.insert(thread, (uid, target, len, buf));
                } else {
                    store(&mut sas, &mut natd, uid, target, buf);
                }
                continue;
            }
        }
        let Some(uid) = ike else { continue };
        let t = msg.trim();
        match group {
            "IKE" => {
                if t.starts_with("initiating IKE_SA ") {
                    sas.entry(uid).or_default().initiator = true;
                } else if t.contains(" is initiating IKE_SA") {
                    sas.entry(uid).or_default().initiator = false;
                } else if let Some((name, rest)) = t.split_once(" => ") {
                    let target = match name {
                        "natd_chunk" => Dump::NatdChunk,
                        "Sk_d secret" => Dump::SkD,
                        "Sk_ai secret" => Dump::SkAi,
                        "Sk_ar secret" => Dump::SkAr,
                        "Sk_ei secret" => Dump::SkEi,
                        "Sk_er secret" => Dump::SkEr,
                        "Sk_pi secret" => Dump::SkPi,
                        "Sk_pr secret" => Dump::SkPr,
                        _ => continue,
                    };
                    let len: usize = rest
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    if len == 0 {
                        store(&mut sas, &mut natd, uid, target, Vec::new());
                    } else {
                        dumps.insert(thread, (uid, target, len, Vec::new()));
                    }
                }
            }
            "CFG" => {
                if let Some(p) = t.strip_prefix("selected proposal: IKE:") {
                    sas.entry(uid).or_default().proposal = p.to_string();
                }
            }
            _ => {}
        }
    }
    let mut out: Vec<IkeKeys> = sas
        .into_iter()
        .filter(|(_, k)| !k.sk_d.is_empty())
        .map(|(uid, mut k)| {
            k.unique_id = uid;
            k
        })
        .collect();
    out.sort_by_key(|k| k.unique_id);
    out
}

fn store(
    sas: &mut HashMap<u32, IkeKeys>,
    natd: &mut HashMap<u32, bool>,
    uid: u32,
    target: Dump,
    buf: Vec<u8>,
) {
    let k = sas.entry(uid).or_default();
    match target {
        Dump::NatdChunk => {
            // The first chunk with both SPIs (the initiator's own ones have SPIr = 0).
            if buf.len() >= 16 && buf[8..16] != [0; 8] && !natd.contains_key(&uid) {
                k.spi_i.copy_from_slice(&buf[..8]);
                k.spi_r.copy_from_slice(&buf[8..16]);
                natd.insert(uid, true);
            }
        }
        Dump::SkD => k.sk_d = buf,
        Dump::SkAi => k.sk_ai = buf,
        Dump::SkAr => k.sk_ar = buf,
        Dump::SkEi => k.sk_ei = buf,
        Dump::SkEr => k.sk_er = buf,
        Dump::SkPi => k.sk_pi = buf,
        Dump::SkPr => k.sk_pr = buf,
    }
}
