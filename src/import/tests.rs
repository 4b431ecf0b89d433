//! Round trips on realistic files (seed 003's SEIL and strongSwan settings among them): what an
//! import writes passes the configuration parser and says what the source said; and the hostile
//! cases: errors with line numbers, no key injection through values, no secret in a comment.

use std::path::Path;

use super::{import, Format};
use crate::config::{parse, Config, Keying};
use crate::crypto::dh::DhGroup;
use crate::crypto::{EncAlg, IntegAlg};
use crate::ike::policy::IkeVersion;
use crate::ike::{Identity, IkePolicy};

fn data(name: &str) -> String {
    let p = format!("{}/tests/data/import/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Imports and parses; panics with the YAML when our parser refuses it.
fn round_trip(format: Format, text: &str) -> (String, Config) {
    let yaml = import(format, text, "test").unwrap_or_else(|e| panic!("{e}"));
    match parse(&yaml, Path::new(".")) {
        Ok(c) => (yaml, c),
        Err(e) => panic!("{yaml}\n{e:?}"),
    }
}

fn ike<'a>(c: &'a Config, name: &str) -> &'a IkePolicy {
    let i = c.interfaces.iter().find(|i| i.name == name).expect(name);
    match &i.keying {
        Keying::Ike(p) => p,
        Keying::Manual { .. } => panic!("{name} is manually keyed"),
    }
}

fn proxy(p: &IkePolicy) -> Vec<String> {
    p.phase2
        .proxy_ids
        .iter()
        .map(|x| format!("{} {}", x.local, x.remote))
        .collect()
}

#[test]
fn seed003_seil_minimal() {
    let (yaml, c) = round_trip(Format::Seil, &data("seed003-minimal.seil"));
    let p = ike(&c, "ipsec0");
    assert_eq!(p.psk.as_slice(), b"xeeB5gohvaYi");
    assert_eq!(p.local.to_string(), "10.0.0.1");
    assert_eq!(p.remote.to_string(), "10.0.0.2");
    assert_eq!(p.version, IkeVersion::V1);
    assert!(!p.responder_only);
    assert_eq!(proxy(p), ["192.168.1.0/24 192.168.2.0/24"]);
    assert_eq!(c.routes.len(), 1);
    assert_eq!(c.routes[0].destination.to_string(), "192.168.2.0/24");
    assert_eq!(c.routes[0].gateway, "ipsec0");
    // SEIL's defaults stay ours: six phase-1 transforms, modp1536.
    assert_eq!(p.phase1.dh_group, DhGroup::Modp1536);
    assert_eq!(p.phase1.encryption.len() * p.phase1.hash.len(), 6);
    assert!(
        yaml.contains("line 5: interface.ge0.ipv4.address: not carried"),
        "{yaml}"
    );
    assert!(
        yaml.contains("line 6: interface.ge1.ipv4.address: not carried"),
        "{yaml}"
    );
}

#[test]
fn seed003_seil_phase1_proposal() {
    let (_, c) = round_trip(Format::Seil, &data("seed003-phase1.seil"));
    let p = ike(&c, "ipsec0");
    assert!(p.responder_only);
    assert_eq!(p.phase1.lifetime_secs, 777);
    assert_eq!(p.phase1.dh_group, DhGroup::Modp1024);
    assert_eq!(p.phase1.encryption.len(), 1);
    assert_eq!(p.phase1.hash.len(), 1);
}

#[test]
fn seed003_seil_phase2_hmac_md5_and_lifetimes() {
    let text = "interface.ipsec0.preshared-key : xeeB5gohvaYi\n\
        interface.ipsec0.ipv4.source : 10.0.0.1\n\
        interface.ipsec0.ipv4.destination : 10.0.0.2\n\
        interface.ipsec0.ike.exchange-mode : aggressive\n\
        interface.ipsec0.ike.peers-identifier : fqdn:peer.example\n\
        interface.ipsec0.ike.proposal.phase2.encryption.1.algorithm : aes128\n\
        interface.ipsec0.ike.proposal.phase2.encryption.0.algorithm : aes256\n\
        interface.ipsec0.ike.proposal.phase2.authentication.0.algorithm : hmac-md5\n\
        interface.ipsec0.ike.proposal.phase2.lifetime-of-time : 60\n\
        interface.ipsec0.ike.proposal.phase2.lifetime-of-byte : 1m\n\
        interface.ipsec0.ike.proposal.phase1.lifetime : 60\n\
        interface.ipsec0.ike.proposal.phase1.encryption.0.algorithm : des\n\
        interface.ipsec0.ike.proposal.phase1.encryption.1.algorithm : 3des\n\
        interface.ipsec0.ike.dpd.interval : 20\n\
        interface.ipsec0.unknown-thing : 1\n";
    let (yaml, c) = round_trip(Format::Seil, text);
    let p = ike(&c, "ipsec0");
    assert_eq!(p.exchange_mode, crate::ike::ExchangeMode::Aggressive);
    assert_eq!(p.peer_id, Some(Identity::Fqdn("peer.example".into())));
    assert_eq!(
        p.phase2.encryption,
        [EncAlg::Aes256Cbc, EncAlg::Aes128Cbc],
        "index order"
    );
    assert_eq!(p.phase2.authentication, [IntegAlg::HmacMd5_96]);
    assert_eq!(p.phase2.lifetime_secs, 60);
    assert_eq!(p.phase2.lifetime_bytes, 1 << 20);
    assert_eq!(p.phase1.lifetime_secs, 60);
    assert_eq!(p.phase1.encryption.len(), 1, "des is not carried, 3des is");
    assert!(
        yaml.contains("line 12: phase1 encryption algorithm des: not carried"),
        "{yaml}"
    );
    assert!(
        yaml.contains("line 15: interface.ipsec0.unknown-thing: not carried"),
        "{yaml}"
    );
}

#[test]
fn seil_policy_based_tables() {
    let (yaml, c) = round_trip(Format::Seil, &data("policy-based.seil"));
    let p = ike(&c, "ipsec0");
    assert_eq!(p.remote.to_string(), "10.0.0.2");
    assert_eq!(p.local.to_string(), "10.0.0.1");
    assert_eq!(p.psk.as_slice(), b"branch key");
    assert_eq!(p.phase1.lifetime_secs, 8 * 3600);
    assert_eq!(p.phase1.dh_group, DhGroup::Modp1024);
    assert_eq!(p.phase2.pfs_group, Some(DhGroup::Modp1024));
    assert_eq!(p.phase2.lifetime_secs, 3600);
    assert_eq!(proxy(p), ["192.168.10.0/24 192.168.20.0/24"]);
    assert!(
        yaml.contains("ipsec.security-policy.sp2: not carried"),
        "{yaml}"
    );
}

#[test]
fn seed003_strongswan_side() {
    let (_, c) = round_trip(Format::Swanctl, &data("seed003-strongswan.swanctl.conf"));
    let p = ike(&c, "ipsec0");
    assert_eq!(p.version, IkeVersion::V1);
    assert_eq!(p.local.to_string(), "10.0.0.2");
    assert_eq!(p.remote.to_string(), "10.0.0.1");
    assert_eq!(p.psk.as_slice(), b"xeeB5gohvaYi");
    assert!(p.responder_only, "auto=add / start_action none");
    assert_eq!(p.phase1.dh_group, DhGroup::Modp1536);
    assert_eq!(proxy(p), ["192.168.2.0/24 192.168.1.0/24"]);
    assert_eq!(
        p.phase2.authentication,
        [IntegAlg::HmacSha256_128, IntegAlg::HmacSha1_96]
    );
    assert_eq!(c.routes[0].destination.to_string(), "192.168.1.0/24");
}

#[test]
fn swanctl_branch_offices() {
    let (yaml, c) = round_trip(Format::Swanctl, &data("branch-offices.swanctl.conf"));
    assert_eq!(
        c.interfaces.len(),
        2,
        "nagoya (certificates, DNS name) is left out"
    );
    let osaka = ike(&c, "ipsec0");
    assert_eq!(osaka.version, IkeVersion::V2);
    assert_eq!(osaka.my_id, Some(Identity::Fqdn("hub.example.net".into())));
    assert_eq!(osaka.psk.as_slice(), b"correct horse battery staple");
    assert_eq!(osaka.phase1.lifetime_secs, 4 * 3600);
    assert_eq!(osaka.phase1.dh_groups, [DhGroup::Ecp384, DhGroup::Modp2048]);
    assert_eq!(
        osaka.phase2.encryption,
        [EncAlg::Aes256Gcm16, EncAlg::Aes128Gcm16]
    );
    assert_eq!(osaka.phase2.lifetime_secs, 66 * 60);
    assert_eq!(osaka.dpd.map(|d| d.interval.as_secs()), Some(30));
    let legacy = ike(&c, "ipsec2");
    assert_eq!(
        legacy.psk.as_slice(),
        b"legacy-key",
        "0x… hex secret decoded"
    );
    assert_eq!(legacy.dpd.map(|d| d.retries), Some(6));
    assert_eq!(legacy.phase2.pfs_group, Some(DhGroup::Modp1024));
    for needle in [
        "connections.osaka.mobike: not carried",
        "connections.osaka.children.voice: not carried",
        "10.21.0.0/16[tcp/443] carried without",
        "secrets.eap-carol: not carried",
        "pools: not carried",
        "swanctl connection \"nagoya\", child \"lan\": not imported",
        "connections.nagoya.local.auth: pubkey not carried",
    ] {
        assert!(yaml.contains(needle), "{needle}\n{yaml}");
    }
    assert!(
        !yaml.contains("Ar3etTnp"),
        "an EAP secret never reaches the output"
    );
}

#[test]
fn errors_carry_line_numbers() {
    let e = import(
        Format::Seil,
        "# c\ninterface.ipsec0.ipv4.source: 10.0.0.1\nno colon here\n",
        "t",
    )
    .unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    let e = import(
        Format::Seil,
        "interface.ipsec0.ipv4.source: 10.0.0.1\ninterface.ipsec0.ipv4.source: 10.0.0.3\n",
        "t",
    )
    .unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("first on line 1"), "{e}");
    let e = import(
        Format::Seil,
        "interface.ipsec0.ipv4.source: gw.example\n",
        "t",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("line 1: interface.ipsec0.ipv4.source"),
        "{e}"
    );
    let e = import(
        Format::Swanctl,
        "connections {\n gw {\n  version = 3\n }\n}\n",
        "t",
    )
    .unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    let e = import(Format::Swanctl, "conn seil\n  left=10.0.0.2\n", "t").unwrap_err();
    assert_eq!(e.line, 1, "an ipsec.conf is refused: {e}");
    let e = import(Format::Swanctl, "# only a comment\n", "t").unwrap_err();
    assert!(e.message.contains("no `connections"), "{e}");
}

#[test]
fn values_cannot_inject_keys_or_leave_comments() {
    let text = "interface.ipsec0.preshared-key: \"a\\\"b\\\\\" \n\
        interface.ipsec0.ipv4.source: 10.0.0.1\n\
        interface.ipsec0.ipv4.destination: 10.0.0.2\n\
        interface.ipsec0.ike.my-identifier: fqdn:x\"\\n  admin: {}\n";
    let (yaml, c) = round_trip(Format::Seil, text);
    assert!(c.admin.is_none(), "{yaml}");
    let p = ike(&c, "ipsec0");
    assert_eq!(p.psk.as_slice(), b"a\"b\\");
    let e = import(Format::Seil, "interface.ipsec0.x}: #: y\n", "t").unwrap_err();
    assert!(e.message.contains("not a SEIL key"), "{e}");
    let swan = "connections {\n gw {\n  version = 1\n  local_addrs = 10.0.0.1\n  \
        remote_addrs = 10.0.0.2\n  \"odd\nkey\" = 1\n }\n}\n";
    assert!(import(Format::Swanctl, swan, "t").is_err());
    let swan = "connections {\n gw {\n  version = 1\n  local_addrs = 10.0.0.1\n  \
        remote_addrs = 10.0.0.2\n  children { c { mode = \"x\\nadmin: {}\" } }\n }\n}\n\
        secrets { ike { secret = \"s3cr\\\"et\" } }\n";
    let (yaml, c) = round_trip(Format::Swanctl, swan);
    assert!(c.admin.is_none(), "{yaml}");
    assert_eq!(ike(&c, "ipsec0").psk.as_slice(), b"s3cr\"et");
    assert_eq!(
        yaml.matches("s3cr").count(),
        1,
        "the key is written once, not in a comment"
    );
}

#[test]
fn oversized_input_is_refused() {
    let big = "#".repeat(super::MAX_INPUT + 1);
    assert_eq!(import(Format::Seil, &big, "t").unwrap_err().line, 0);
}
