//! Settings that work but are weak: `ikegate check` (and `run`) say so in plain words, naming
//! the key, without refusing the file (old peers such as racoon in seed 002 may need them).

use super::{Config, Keying};
use crate::crypto::dh::DhGroup;
use crate::crypto::prf::HashAlg;
use crate::crypto::IntegAlg;

/// One line per weak setting: `interfaces.NAME.KEY: what, why, what to use instead`.
pub fn weak_settings(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for i in &cfg.interfaces {
        let Keying::Ike(p) = &i.keying else { continue };
        let at = |key: &str| format!("interfaces.{}.ike.proposal.{key}", i.name);
        let modp768 = "modp768 (group 1, a 768-bit MODP group) is weak: a 768-bit discrete \
                       logarithm has been computed publicly (Logjam, 2015), so a recorded \
                       session can be decrypted; use modp2048, ecp256 or curve25519 if the peer \
                       allows";
        if p.phase1.dh_groups.contains(&DhGroup::Modp768) || p.phase1.dh_group == DhGroup::Modp768 {
            out.push(format!("{}: {modp768}", at("phase1.dh-group")));
        }
        if p.phase2.pfs_group == Some(DhGroup::Modp768) {
            out.push(format!("{}: {modp768}", at("phase2.pfs-group")));
        }
        if p.phase1.hash.contains(&HashAlg::Md5) {
            out.push(format!(
                "{}: md5 is weak: MD5 collisions are practical and RFC 8247 says MUST NOT for \
                 IKE; use sha256 (or sha1) if the peer allows",
                at("phase1.hash")
            ));
        }
        if p.phase2.authentication.contains(&IntegAlg::HmacMd5_96) {
            out.push(format!(
                "{}: hmac-md5 is weak: it is deprecated for ESP (RFC 8221: MUST NOT); use \
                 hmac-sha256 (or hmac-sha1) if the peer allows",
                at("phase2.authentication")
            ));
        }
    }
    out
}
