//! IKEv2 against real strongSwan: 5.9.8 of Debian 12 (kernel-libipsec, always UDP-encapsulated)
//! and 6.1 of Debian sid in a chroot (raw ESP). Both directions, several suites, one child with
//! IPv4 and IPv6 selectors, a narrowed responder, our keys equal to charon's, tshark decrypting
//! ESP (and IKE_AUTH with our exported IKE keys), Delete on shutdown, and the diagnostics against
//! misconfigured peers. Root only; prints "skipping: …" otherwise.

mod common;

use common::charon::{Charon, CharonConfig, Strongswan};
use common::ikegate::Gateway;
use common::netns::{require_root, swan_lab, SwanLab};
use common::poll_opt;
use common::tshark::{self, Capture, EspSa};
use std::time::Duration;

const OURS: &str = "10.0.0.1";
const SWAN: &str = "10.0.0.2";
const PSK: &str = "xeeB5gohvaYi";

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && tshark::require_capture_tools()
        && common::require_programs(&["ping"])
}

fn lab() -> SwanLab {
    swan_lab("v2o", "v2s", "v2swan")
}

/// One interop case.
struct Case {
    sw: Strongswan,
    swan_initiates: bool,
    /// Lines under `proposal:` for phase 1 (8 spaces), empty for our defaults.
    phase1: &'static str,
    /// Lines under `phase2:` besides the proxy-ids (10 spaces).
    phase2: &'static str,
    swan_ike: &'static str,
    swan_esp: &'static str,
    /// Also an IPv6 proxy-id (one child with both families).
    v6: bool,
    /// charon's selectors (local, remote); ours are the /24 and /64 of each side.
    swan_ts: (&'static str, &'static str),
}

const BASE: Case = Case {
    sw: Strongswan::Sid61,
    swan_initiates: false,
    phase1: "",
    phase2: "",
    swan_ike: "aes256-sha256-modp2048",
    swan_esp: "aes256-sha256",
    v6: false,
    swan_ts: ("192.168.2.0/24", "192.168.1.0/24"),
};

fn ours_yaml(c: &Case, psk: &str) -> String {
    let v6 = if c.v6 {
        "            ipv6: { local: \"fd00:1::/64\", remote: \"fd00:2::/64\" }\n"
    } else {
        ""
    };
    let route6 = if c.v6 {
        "  ipv6:\n    - { destination: \"fd00:2::/64\", gateway: ipsec0, source: \"fd00:1::1\" }\n"
    } else {
        ""
    };
    format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: {OURS}, destination: {SWAN} }}\n    preshared-key: {psk}\n    responder-only: {}\n    ike:\n      version: 2\n      dpd: {{ interval: 10, retries: 3 }}\n      proposal:\n{}        phase2:\n          proxy-id:\n            ipv4: {{ local: 192.168.1.0/24, remote: 192.168.2.0/24 }}\n{v6}{}route:\n  ipv4:\n    - {{ destination: 192.168.2.0/24, gateway: ipsec0, source: 192.168.1.1 }}\n{route6}",
        if c.swan_initiates { "enable" } else { "disable" },
        c.phase1,
        c.phase2,
    )
}

fn swan_cfg(c: &Case, psk: &str) -> CharonConfig {
    let mut s = CharonConfig::ikev2_psk(c.sw, SWAN, OURS, c.swan_ts.0, c.swan_ts.1);
    s.psk = psk.into();
    s.ike_proposals = c.swan_ike.into();
    s.esp_proposals = c.swan_esp.into();
    // 5.9's kernel-libipsec only does ESP in UDP: it must fake a NAT to get there.
    s.encap = c.sw == Strongswan::Debian59;
    s
}

/// Brings the tunnel up, pings across (both families with `v6`), checks keys against charon's,
/// decrypts the capture with tshark, then stops ikegate and sees charon drop the IKE SA.
fn interop(c: Case) {
    if !can_run() {
        return;
    }
    c.sw.require();
    c.sw.announce();
    let lab = lab();
    let charon = Charon::start(&lab.swan, swan_cfg(&c, PSK));
    let keylog = lab.dir.join("keys");
    let pcap = lab.dir.join("veth.pcap");
    let cap = Capture::start(&lab.ours, &lab.link.a, &pcap, Some("esp or udp"));
    let mut gw = Gateway::start_with(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml(&c, PSK),
        Some("ipsec0"),
        &["--wireshark-keylog", keylog.to_str().unwrap()],
    );
    if c.swan_initiates {
        charon.initiate_ok("net");
    }
    if !gw.wait_log("ESP SAs installed", 20) {
        charon.fail(&format!("ikegate did not install SAs:\n{}", gw.log_text()));
    }
    let info = charon.wait_child_installed("net", Duration::from_secs(10));
    let ctx = || {
        format!(
            "--- ikegate ---\n{}\n--- charon ---\n{}",
            gw.log_text(),
            common::tail(&charon.log(), 60)
        )
    };
    lab.ours.ping_ok("192.168.2.1", 3, ctx);
    lab.swan.ping_ok("192.168.1.1", 3, ctx);
    if c.v6 {
        lab.ours.ping_ok("fd00:2::1", 3, ctx);
        lab.swan.ping_ok("fd00:1::1", 3, ctx);
    }
    let pcap = cap.stop();

    // Our ESP keys are charon's.
    let keys = std::fs::read_to_string(&keylog).unwrap();
    let sas: Vec<EspSa> = keys.lines().filter_map(EspSa::from_uat_line).collect();
    assert_eq!(sas.len(), 2, "{keys}");
    let swan_keys = charon.esp_keys();
    for sa in &sas {
        assert!(
            swan_keys.iter().any(|k| k.to_sa().spi == sa.spi
                && k.to_sa().encr_key == sa.encr_key
                && k.to_sa().auth_key == sa.auth_key),
            "charon derived different keys for SPI 0x{:08x}: ours {sa:?}, charon's {swan_keys:?}",
            sa.spi
        );
    }
    // Our IKE SA keys are charon's too.
    let ike_lines = std::fs::read_to_string(format!("{}.ikev2", keylog.display())).unwrap();
    let swan_ike = charon.ike_keys();
    let ours_line = ike_lines
        .lines()
        .next()
        .expect("an ikev2_decryption_table line");
    let ike = swan_ike
        .iter()
        .find(|k| ours_line.starts_with(&hex(&k.spi_i)))
        .unwrap_or_else(|| panic!("charon has no IKE SA {ours_line}: {swan_ike:?}"));
    assert!(
        ours_line.contains(&hex(&ike.sk_ei)) && ours_line.contains(&hex(&ike.sk_er)),
        "SK_e differ: {ours_line} vs {ike:?}"
    );
    // tshark decrypts every ESP frame with our keys (Debian 12's tshark 4.0 has no ChaCha20 for
    // ESP: there the keys' equality with charon's and the pings are the proof).
    let udp = c.sw == Strongswan::Debian59;
    let want = if c.v6 { 24 } else { 12 };
    if c.swan_esp.starts_with("chacha") {
        let filter = if udp {
            "udp.port == 4500 && esp"
        } else {
            "ip.proto == 50"
        };
        let esp = tshark::filter_lines(&pcap, filter);
        assert!(esp.len() >= want, "{esp:?}");
    } else {
        let frames = tshark::decode_esp(&pcap, &sas);
        let inner: &[&str] = if c.v6 { &["icmp", "icmpv6"] } else { &["icmp"] };
        tshark::assert_all_decrypted(&frames, inner);
        let table = tshark::frames_table(&frames);
        assert!(frames.len() >= want, "{table}");
        let encap_ok = frames.iter().all(|f| f.udp_ports.is_some() == udp);
        assert!(encap_ok, "UDP encapsulation {udp} expected:\n{table}");
    }
    // ... and IKE_AUTH with our exported IKE keys (Wireshark 4.0 has no ChaCha20 for IKE).
    if !c.swan_ike.starts_with("chacha") {
        tshark::assert_ike_auth_decrypted(&pcap, ours_line, "with our exported keys");
    }
    println!("charon child SA: {info:?}");
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
    charon.wait_ike_gone("gw", Duration::from_secs(10));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn sid61_ours_initiates_default_proposal() {
    interop(Case { ..BASE });
}

#[test]
fn sid61_swan_initiates_gcm_ecp384() {
    interop(Case {
        swan_initiates: true,
        phase1: "        phase1: { encryption: aes256-gcm, prf: sha384, dh-group: ecp384 }\n",
        phase2: "          encryption: aes256-gcm\n",
        swan_ike: "aes256gcm16-prfsha384-ecp384",
        swan_esp: "aes256gcm16",
        ..BASE
    });
}

#[test]
fn sid61_ours_initiates_cbc_curve25519_pfs() {
    interop(Case {
        phase1: "        phase1: { encryption: aes128, hash: sha256, dh-group: curve25519 }\n",
        phase2: "          encryption: aes128\n          authentication: hmac-sha256\n          pfs-group: curve25519\n",
        swan_ike: "aes128-sha256-curve25519",
        swan_esp: "aes128-sha256-curve25519",
        ..BASE
    });
}

#[test]
fn sid61_chacha20poly1305_v4_v6_one_child() {
    interop(Case {
        phase1:
            "        phase1: { encryption: chacha20-poly1305, prf: sha256, dh-group: curve25519 }\n",
        phase2: "          encryption: chacha20-poly1305\n",
        swan_ike: "chacha20poly1305-prfsha256-curve25519",
        swan_esp: "chacha20poly1305",
        v6: true,
        swan_ts: ("192.168.2.0/24,fd00:2::/64", "192.168.1.0/24,fd00:1::/64"),
        ..BASE
    });
}

/// charon proposes wide selectors; we narrow them to our proxy-ids as responder (§2.9).
#[test]
fn sid61_swan_initiates_we_narrow_v4_v6() {
    interop(Case {
        swan_initiates: true,
        v6: true,
        swan_ts: ("192.168.2.0/24,fd00:2::/64", "192.168.0.0/16,fd00::/16"),
        ..BASE
    });
}

#[test]
fn deb59_ours_initiates_default_proposal() {
    interop(Case {
        sw: Strongswan::Debian59,
        ..BASE
    });
}

#[test]
fn deb59_swan_initiates_gcm_ecp384_v4_v6() {
    interop(Case {
        sw: Strongswan::Debian59,
        swan_initiates: true,
        phase1: "        phase1: { encryption: aes256-gcm, prf: sha384, dh-group: ecp384 }\n",
        phase2: "          encryption: aes128-gcm\n",
        swan_ike: "aes256gcm16-prfsha384-ecp384",
        swan_esp: "aes128gcm16",
        v6: true,
        swan_ts: ("192.168.2.0/24,fd00:2::/64", "192.168.1.0/24,fd00:1::/64"),
    });
}

#[test]
fn deb59_ours_initiates_cbc_curve25519_pfs() {
    interop(Case {
        sw: Strongswan::Debian59,
        phase1: "        phase1: { encryption: aes256, hash: sha256, dh-group: curve25519 }\n",
        phase2: "          encryption: aes256\n          authentication: hmac-sha256\n          pfs-group: modp2048\n",
        swan_ike: "aes256-sha256-curve25519",
        swan_esp: "aes256-sha256-modp2048",
        ..BASE
    });
}

#[test]
fn deb59_swan_initiates_chacha20poly1305() {
    interop(Case {
        sw: Strongswan::Debian59,
        swan_initiates: true,
        phase1:
            "        phase1: { encryption: chacha20-poly1305, prf: sha256, dh-group: curve25519 }\n",
        phase2: "          encryption: chacha20-poly1305\n",
        swan_ike: "chacha20poly1305-prfsha256-curve25519",
        swan_esp: "chacha20poly1305",
        ..BASE
    });
}

/// The same suites with the other side initiating: every suite is run in both directions
/// against both versions.
#[test]
fn both_directions_of_every_suite() {
    let gcm = (
        "        phase1: { encryption: aes256-gcm, prf: sha384, dh-group: ecp384 }\n",
        "          encryption: aes256-gcm\n",
        "aes256gcm16-prfsha384-ecp384",
        "aes256gcm16",
    );
    let cbc = (
        "        phase1: { encryption: aes128, hash: sha256, dh-group: curve25519 }\n",
        "          encryption: aes128\n          authentication: hmac-sha256\n          pfs-group: curve25519\n",
        "aes128-sha256-curve25519",
        "aes128-sha256-curve25519",
    );
    let chacha = (
        "        phase1: { encryption: chacha20-poly1305, prf: sha256, dh-group: curve25519 }\n",
        "          encryption: chacha20-poly1305\n",
        "chacha20poly1305-prfsha256-curve25519",
        "chacha20poly1305",
    );
    let default = ("", "", BASE.swan_ike, BASE.swan_esp);
    // (build, charon initiates, suite): the directions the single tests above do not cover.
    let runs = [
        (Strongswan::Sid61, true, default),
        (Strongswan::Sid61, false, gcm),
        (Strongswan::Sid61, true, cbc),
        (Strongswan::Sid61, true, chacha),
        (Strongswan::Debian59, true, default),
        (Strongswan::Debian59, false, gcm),
        (Strongswan::Debian59, true, cbc),
        (Strongswan::Debian59, false, chacha),
    ];
    for (sw, swan_initiates, (phase1, phase2, swan_ike, swan_esp)) in runs {
        println!("{sw:?}, charon initiates: {swan_initiates}, {swan_ike} / {swan_esp}");
        interop(Case {
            sw,
            swan_initiates,
            phase1,
            phase2,
            swan_ike,
            swan_esp,
            ..BASE
        });
    }
}

/// A misconfigured peer: ikegate initiates and must say why in its log.
fn diagnosed(c: Case, swan: impl FnOnce(&mut CharonConfig), ours_psk: &str, expect: &[&str]) {
    if !can_run() {
        return;
    }
    c.sw.require();
    let lab = lab();
    let mut cfg = swan_cfg(&c, PSK);
    swan(&mut cfg);
    let charon = Charon::start(&lab.swan, cfg);
    let mut gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml(&c, ours_psk),
        Some("ipsec0"),
    );
    let seen = poll_opt(Duration::from_secs(20), || {
        let log = gw.log_text();
        expect.iter().all(|e| log.contains(e)).then_some(())
    });
    if seen.is_none() {
        charon.fail(&format!(
            "expected {expect:?} in ikegate's log:\n{}",
            gw.log_text()
        ));
    }
    gw.stop();
}

#[test]
fn sid61_psk_mismatch_is_named() {
    diagnosed(
        BASE,
        |_| {},
        "not-the-key",
        &[
            "refused our authentication (AUTHENTICATION_FAILED)",
            "pre-shared keys or identities differ",
        ],
    );
}

#[test]
fn sid61_ike_proposal_mismatch_is_named() {
    diagnosed(
        BASE,
        |s| s.ike_proposals = "aes128gcm16-prfsha256-ecp521".into(),
        PSK,
        &["IKEv2 IKE SA proposal mismatch: we offered aes256-aes128-prfsha256-prfsha1-sha256-sha1-modp2048-ecp256-curve25519-modp1536", "answered NO_PROPOSAL_CHOSEN"],
    );
}

#[test]
fn sid61_invalid_ke_is_retried() {
    // Our first group is modp2048; charon insists on curve25519 (also in our list).
    diagnosed(
        BASE,
        |s| s.ike_proposals = "aes256-sha256-curve25519".into(),
        PSK,
        &["INVALID_KE_PAYLOAD: it wants key exchange curve25519, we sent modp2048; retried with curve25519", "ESP SAs installed"],
    );
}

#[test]
fn sid61_ts_unacceptable_is_named() {
    diagnosed(
        Case {
            swan_ts: ("10.9.0.0/16", "10.8.0.0/16"),
            ..BASE
        },
        |_| {},
        PSK,
        &[
            "TS_UNACCEPTABLE",
            "we proposed 192.168.1.0/24 ⇄ 192.168.2.0/24",
        ],
    );
}

/// charon initiates with a key we do not have: we refuse and say so.
#[test]
fn sid61_swan_with_wrong_psk_is_refused_and_named() {
    if !can_run() {
        return;
    }
    Strongswan::Sid61.require();
    let lab = lab();
    let c = Case {
        swan_initiates: true,
        ..BASE
    };
    let charon = Charon::start(&lab.swan, swan_cfg(&c, "wrong-key"));
    let mut gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml(&c, PSK),
        Some("ipsec0"),
    );
    assert!(charon.initiate("net").is_err());
    assert!(
        gw.wait_log("AUTH payload did not verify", 10),
        "{}",
        gw.log_text()
    );
    assert!(
        gw.log_text().contains("the pre-shared keys differ"),
        "{}",
        gw.log_text()
    );
    gw.stop();
}

/// The version mismatch both ways, with a real strongSwan 5.9 initiating: its IKEv1 reaching our
/// IKEv2 tunnel, and its IKEv2 reaching our IKEv1 tunnel. Our log names the key to change.
#[test]
fn deb59_version_mismatch_both_ways_is_named() {
    if !can_run() {
        return;
    }
    for (swan_version, ours, expect) in [
        (
            1,
            "version: 2",
            "speaks IKEv1 but this tunnel runs IKEv2 — set `ike.version: 1`",
        ),
        (
            2,
            "version: 1",
            "sent an IKEv2 message; this tunnel runs IKEv1 — set `ike.version: 2`",
        ),
    ] {
        let lab = lab();
        let c = Case {
            sw: Strongswan::Debian59,
            swan_initiates: true,
            ..BASE
        };
        let mut cfg = swan_cfg(&c, PSK);
        if swan_version == 1 {
            cfg = CharonConfig {
                version: 1,
                ike_proposals: "aes256-sha256-modp2048".into(),
                ..cfg
            };
        }
        let charon = Charon::start(&lab.swan, cfg);
        let yaml = ours_yaml(&c, PSK).replace("version: 2", ours);
        let mut gw = Gateway::start(&lab.ours, &lab.dir, "ours", &yaml, Some("ipsec0"));
        lab.ours.wait_udp_listening(500, Duration::from_secs(5));
        let _ = charon.initiate_timeout("net", 3);
        if !gw.wait_log(expect, 3) {
            // charon gives up after its retransmissions: ask once more.
            let _ = charon.initiate_timeout("net", 3);
        }
        if !gw.wait_log(expect, 15) {
            charon.fail(&format!("expected {expect:?}:\n{}", gw.log_text()));
        }
        gw.stop();
    }
}

/// IKE fragmentation (RFC 7383) both ways against strongSwan 6.1: 400-byte FQDN identities
/// make IKE_AUTH larger than a 576-byte fragment size on both ends; the tunnel comes up and the
/// capture shows SKF payloads from both, ours within 576 bytes.
#[test]
fn sid61_ike_fragmentation_both_directions() {
    if !can_run() {
        return;
    }
    Strongswan::Sid61.require();
    let lab = lab();
    let ours_id = "o".repeat(400);
    let swan_id = "s".repeat(400);
    let mut cfg = swan_cfg(&BASE, PSK);
    cfg.local_id = Some(format!("@{swan_id}"));
    cfg.remote_id = Some(format!("@{ours_id}"));
    cfg.fragmentation = Some("force".into());
    cfg.extra_charon.push("fragment_size = 576".into());
    let charon = Charon::start(&lab.swan, cfg);
    let yaml = ours_yaml(&BASE, PSK).replace(
        "      version: 2\n",
        &format!("      version: 2\n      fragment-size: 576\n      my-identifier: {{ fqdn: {ours_id} }}\n      peers-identifier: {{ fqdn: {swan_id} }}\n"),
    );
    let pcap = lab.dir.join("frag.pcap");
    let cap = Capture::start(&lab.ours, &lab.link.a, &pcap, Some("udp"));
    let mut gw = Gateway::start(&lab.ours, &lab.dir, "ours", &yaml, Some("ipsec0"));
    if !gw.wait_log("ESP SAs installed", 20) {
        charon.fail(&format!("no SA:\n{}", gw.log_text()));
    }
    lab.ours.ping_ok("192.168.2.1", 2, || gw.log_text());
    let pcap = cap.stop();
    // SKF is payload type 53; fragments from us (10.0.0.1) and from charon.
    let frags = tshark::fields(&pcap, "isakmp.nextpayload == 53", &["ip.src", "ip.len"]);
    assert!(
        frags.iter().any(|f| f[0] == OURS),
        "no fragments from us: {frags:?}"
    );
    assert!(
        frags.iter().any(|f| f[0] == SWAN),
        "no fragments from charon: {frags:?}"
    );
    let too_big: Vec<_> = frags
        .iter()
        .filter(|f| f[0] == OURS && f[1].parse::<usize>().unwrap_or(9999) > 576)
        .collect();
    assert!(
        too_big.is_empty(),
        "our fragments exceed 576 bytes: {too_big:?}"
    );
    gw.stop();
}
