//! Interoperability with a real strongSwan 5.9 charon (userspace ESP through kernel-libipsec, so
//! always UDP-encapsulated on 4500), IKEv1 Main Mode + Quick Mode with pre-shared keys, both
//! directions, several proposals, and the three failure diagnostics (proposal, PSK, proxy-id).
//! Root only; prints "skipping: …" otherwise.

mod common;

use common::charon::{Charon, CharonConfig, Strongswan};
use common::ikegate::Gateway;
use common::netns::{require_root, veth, Netns, Veth};
use common::tshark::{self, Capture, EspSa};
use common::TempDir;
use std::time::{Duration, Instant};

const OURS: &str = "10.0.0.1";
const SWAN: &str = "10.0.0.2";
const OURS_LAN: &str = "192.168.1.0/24";
const SWAN_LAN: &str = "192.168.2.0/24";
const OURS_HOST: &str = "192.168.1.1";
const SWAN_HOST: &str = "192.168.2.1";
const PSK: &str = "xeeB5gohvaYi";

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && tshark::require_capture_tools()
        && common::require_programs(&["ping"])
}

struct Lab {
    ours: Netns,
    swan: Netns,
    link: Veth,
    dir: TempDir,
}

fn lab() -> Lab {
    let ours = Netns::new("so");
    let swan = Netns::new("ss");
    let link = veth(
        &ours,
        &[&format!("{OURS}/24")],
        &swan,
        &[&format!("{SWAN}/24")],
    );
    ours.add_lo_addr(&format!("{OURS_HOST}/32"));
    swan.add_lo_addr(&format!("{SWAN_HOST}/32"));
    Lab {
        ours,
        swan,
        link,
        dir: TempDir::new("swan"),
    }
}

/// ikegate's configuration; `ike_extra` lines go under `ike:` (already indented by 6).
fn ours_yaml(psk: &str, responder_only: bool, ike_extra: &str) -> String {
    format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: {OURS}, destination: {SWAN} }}\n    nat-traversal: enable\n    preshared-key: {psk}\n    responder-only: {}\n    ike:\n      version: 1\n      exchange-mode: main\n{ike_extra}\
route:\n  ipv4:\n    - {{ destination: {SWAN_LAN}, gateway: ipsec0, source: {OURS_HOST} }}\n",
        if responder_only { "enable" } else { "disable" }
    )
}

fn proposal(phase1: &str, phase2: &str) -> String {
    let p1 = if phase1.is_empty() {
        String::new()
    } else {
        format!("        phase1:\n{phase1}")
    };
    format!(
        "      proposal:\n{p1}        phase2:\n          proxy-id:\n            ipv4: {{ local: {OURS_LAN}, remote: {SWAN_LAN} }}\n{phase2}"
    )
}

fn swan_cfg(ike: &str, esp: &str) -> CharonConfig {
    let mut c = CharonConfig::ikev1_psk(SWAN, OURS, SWAN_LAN, OURS_LAN);
    c.psk = PSK.into();
    c.ike_proposals = ike.into();
    c.esp_proposals = esp.into();
    c
}

/// Brings the tunnel up (ikegate initiating, or charon when `swan_initiates`), pings both ways
/// while capturing, and has tshark decrypt every ESP frame with the keys ikegate logged.
fn interop(swan_initiates: bool, ours_ike: &str, ike: &str, esp: &str) {
    if !can_run() {
        return;
    }
    let lab = lab();
    let charon = Charon::start(&lab.swan, swan_cfg(ike, esp));
    let keylog = lab.dir.join("esp_sa.keys");
    let yaml = ours_yaml(PSK, swan_initiates, ours_ike);
    let config = lab.dir.join("ours.yaml");
    std::fs::write(&config, &yaml).unwrap();
    let mut gw = Gateway::start_with(
        &lab.ours,
        &lab.dir,
        "ours",
        &yaml,
        Some("ipsec0"),
        &["--wireshark-keylog", keylog.to_str().unwrap()],
    );
    if swan_initiates {
        charon.initiate_ok("net");
    }
    if !gw.wait_log("ESP SAs installed", 20) {
        charon.fail(&format!("ikegate did not install SAs:\n{}", gw.log_text()));
    }
    let info = charon.wait_child_installed("net", Duration::from_secs(10));
    let pcap = lab.dir.join("veth.pcap");
    let cap = Capture::start(&lab.ours, &lab.link.a, &pcap, Some("udp port 4500"));
    let ctx = || {
        format!(
            "--- ikegate ---\n{}\n--- charon ---\n{}",
            gw.log_text(),
            common::tail(&charon.log(), 40)
        )
    };
    lab.ours.ping_ok(SWAN_HOST, 3, ctx);
    lab.swan.ping_ok(OURS_HOST, 3, ctx);
    let pcap = cap.stop();
    let keys = std::fs::read_to_string(&keylog).unwrap();
    let sas: Vec<EspSa> = keys.lines().filter_map(EspSa::from_uat_line).collect();
    assert_eq!(sas.len(), 2, "{keys}");
    // Our keys are charon's keys: same SPIs and key material in its own log.
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
    let frames = tshark::decode_esp(&pcap, &sas);
    tshark::assert_all_decrypted(&frames, &["icmp"]);
    assert!(frames.len() >= 12, "{}", tshark::frames_table(&frames));
    assert!(
        frames.iter().all(|f| f.udp_ports == Some((4500, 4500))),
        "{}",
        tshark::frames_table(&frames)
    );
    println!("charon child SA: {info:?}");
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
    // Our Delete reached charon: the child SA is gone there too.
    charon.wait_ike_gone("gw", Duration::from_secs(10));
}

#[test]
fn ours_initiates_seil_defaults() {
    // Only the proxy-id is configured: SEIL's six phase-1 transforms and our default phase 2.
    interop(
        false,
        &proposal("", ""),
        "aes256-sha256-modp1536",
        "aes256-sha256",
    );
}

#[test]
fn swan_initiates_seil_defaults() {
    interop(
        true,
        &proposal("", ""),
        "aes256-sha256-modp1536",
        "aes256-sha256",
    );
}

#[test]
fn ours_initiates_aes128_sha1_modp1024_esp_3des_sha1() {
    let p = proposal(
        "          encryption: aes128\n          hash: sha1\n          dh-group: modp1024\n",
        "          encryption: 3des\n          authentication: hmac-sha1\n",
    );
    interop(false, &p, "aes128-sha1-modp1024", "3des-sha1");
}

#[test]
fn swan_initiates_aes256_sha256_modp2048_esp_aes128gcm() {
    let p = proposal(
        "          encryption: aes256\n          hash: sha256\n          dh-group: modp2048\n",
        "          encryption: aes128-gcm\n",
    );
    interop(true, &p, "aes256-sha256-modp2048", "aes128gcm16");
}

#[test]
fn ours_initiates_with_pfs_modp2048() {
    let p = proposal(
        "          dh-group: modp2048\n",
        "          encryption: aes256\n          authentication: hmac-sha256\n          pfs-group: modp2048\n",
    );
    interop(
        false,
        &p,
        "aes256-sha256-modp2048",
        "aes256-sha256-modp2048",
    );
}

/// Runs a negotiation that must fail and returns ikegate's log once `needle` appears in it.
fn failing(
    swan_initiates: bool,
    ours_psk: &str,
    ours_ike: &str,
    swan: CharonConfig,
    needle: &str,
) -> String {
    let lab = lab();
    let charon = Charon::start(&lab.swan, swan);
    let yaml = ours_yaml(ours_psk, swan_initiates, ours_ike);
    let mut gw = Gateway::start(&lab.ours, &lab.dir, "ours", &yaml, Some("ipsec0"));
    if swan_initiates {
        let _ = charon.initiate_timeout("net", 15);
    }
    if !gw.wait_log(needle, 30) {
        charon.fail(&format!(
            "ikegate never said {needle:?}:\n{}",
            gw.log_text()
        ));
    }
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
    for l in log
        .lines()
        .filter(|l| l.contains("WARN ikegate::daemon::ike"))
    {
        println!(
            "diagnostic: {}",
            l.split("daemon::ike: ").nth(1).unwrap_or(l)
        );
    }
    log
}

#[test]
fn proposal_mismatch_as_initiator_is_explained() {
    if !can_run() {
        return;
    }
    let p = proposal(
        "          dh-group: modp1024\n          encryption: aes256\n          hash: sha256\n",
        "",
    );
    let log = failing(
        false,
        PSK,
        &p,
        swan_cfg("aes256-sha256-modp1536", "aes256-sha256"),
        "phase 1 proposal mismatch",
    );
    assert!(
        log.contains("phase 1 proposal mismatch: we offered aes256-sha256-modp1024; peer (10.0.0.2) answered NO-PROPOSAL-CHOSEN"),
        "{log}"
    );
}

#[test]
fn proposal_mismatch_as_responder_is_explained() {
    if !can_run() {
        return;
    }
    let log = failing(
        true,
        PSK,
        "",
        swan_cfg("aes256-sha256-modp1024", "aes256-sha256"),
        "phase 1 proposal mismatch",
    );
    assert!(log.contains("received aes256-sha256-modp1024"), "{log}");
    assert!(
        log.contains("set dh-group: modp1024 or change the peer"),
        "{log}"
    );
}

#[test]
fn psk_mismatch_is_explained() {
    if !can_run() {
        return;
    }
    let log = failing(
        false,
        "not-the-same-key",
        &proposal("", ""),
        swan_cfg("aes256-sha256-modp1536", "aes256-sha256"),
        "pre-shared keys differ",
    );
    assert!(log.contains("pre-shared keys differ"), "{log}");
}

#[test]
fn proxy_id_mismatch_is_explained() {
    if !can_run() {
        return;
    }
    // SEIL's default proxy-id 0.0.0.0/0 ⇄ 0.0.0.0/0 against a policy-based strongSwan that
    // narrows to its subnets: the case of the SEIL article ("mismatched ID was returned").
    let log = failing(
        false,
        PSK,
        "",
        swan_cfg("aes256-sha256-modp1536", "aes256-sha256"),
        "proxy-id mismatch",
    );
    assert!(
        log.contains("proxy-id mismatch: we proposed 0.0.0.0/0 ⇄ 0.0.0.0/0, peer answered"),
        "{log}"
    );
}

/// IKEv1 toward strongSwan 6.1, which is built without IKEv1: it answers our Main Mode message 1
/// with an IKEv2 INFORMATIONAL response carrying INVALID_MAJOR_VERSION for our cookie, and
/// ikegate names the fix at once instead of retransmitting five times and blaming UDP 500.
#[test]
fn ikev1_toward_ikev2_only_strongswan_61_is_named_at_once() {
    if !can_run() {
        return;
    }
    let lab = lab();
    let mut swan = CharonConfig::ikev2_psk(Strongswan::Sid61, SWAN, OURS, SWAN_LAN, OURS_LAN);
    swan.psk = PSK.into();
    let charon = Charon::start(&lab.swan, swan);
    let cap = Capture::start(
        &lab.swan,
        &lab.link.b,
        &lab.dir.join("v1v2.pcap"),
        Some("udp port 500"),
    );
    let t0 = Instant::now();
    let mut gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml(PSK, false, &proposal("", "")),
        Some("ipsec0"),
    );
    let needle = format!(
        "the peer ({SWAN}) answered INVALID_MAJOR_VERSION: it does not speak IKEv1 — set `ike.version: 2` on this tunnel"
    );
    if !gw.wait_log(&needle, 10) {
        charon.fail(&format!(
            "ikegate never said {needle:?}:\n{}",
            gw.log_text()
        ));
    }
    let took = t0.elapsed();
    // The first retransmission alone would come later than this; five take half a minute.
    assert!(took < Duration::from_secs(4), "took {took:?}");
    charon.wait_log("sending INVALID_MAJOR_VERSION", Duration::from_secs(2));
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("did not answer"), "{log}");
    let pcap = cap.stop();

    // What 6.1 answered: an IKEv2 (2.0) INFORMATIONAL (37) response, notify type 5, whose
    // initiator SPI is the initiator cookie of our IKEv1 Main Mode (2) message 1.
    let rows = tshark::fields(
        &pcap,
        "isakmp",
        &[
            "ip.src",
            "isakmp.ispi",
            "isakmp.version",
            "isakmp.exchangetype",
            "isakmp.notify.msgtype",
        ],
    );
    let ours: Vec<_> = rows.iter().filter(|r| r[0] == OURS).collect();
    let theirs: Vec<_> = rows.iter().filter(|r| r[0] == SWAN).collect();
    assert!(!ours.is_empty() && !theirs.is_empty(), "{rows:?}");
    let answer = theirs[0];
    assert_eq!(answer[2], "0x20", "IKEv2 version: {rows:?}");
    assert_eq!(answer[3], "37", "INFORMATIONAL: {rows:?}");
    assert_eq!(answer[4], "5", "INVALID_MAJOR_VERSION: {rows:?}");
    assert!(
        ours.iter()
            .any(|r| r[1] == answer[1] && r[2] == "0x10" && r[3] == "2"),
        "{rows:?}"
    );
    println!("6.1 answered: {answer:?}; ikegate named it after {took:?}");
}
