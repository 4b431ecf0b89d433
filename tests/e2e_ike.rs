//! ours ⇄ ours with IKEv1 keying, as root: Main Mode + Quick Mode between two `ikegate run`
//! processes, raw ESP (nat-traversal: disable) and forced UDP encapsulation, tshark decoding the
//! capture with the negotiated keys, and a responder flooded with garbage ISAKMP.

mod common;

use common::ikegate::{counter, Gateway};
use common::netns::{require_root, veth, Netns, Veth};
use common::tshark::{self, Capture, EspSa};
use common::{poll_opt, TempDir};
use std::time::Duration;

struct Pair {
    left: Netns,
    right: Netns,
    link: Veth,
    dir: TempDir,
}

fn pair() -> Pair {
    pair_with(&LEFT)
}

/// The pair with the outer addresses of `left` (IPv4 or IPv6) on the veth.
fn pair_with(left_side: &Side) -> Pair {
    let left = Netns::new("il");
    let right = Netns::new("ir");
    let plen = if left_side.src.contains(':') { 64 } else { 24 };
    let link = veth(
        &left,
        &[&format!("{}/{plen}", left_side.src)],
        &right,
        &[&format!("{}/{plen}", left_side.dst)],
    );
    left.add_lo_addr("192.168.1.1/32");
    right.add_lo_addr("192.168.2.1/32");
    Pair {
        left,
        right,
        link,
        dir: TempDir::new("ike"),
    }
}

/// One side of the pair: outer addresses, proxy-ids, its LAN address, and its role.
struct Side {
    src: &'static str,
    dst: &'static str,
    local: &'static str,
    remote: &'static str,
    me: &'static str,
    responder: bool,
}

const LEFT: Side = Side {
    src: "10.0.0.1",
    dst: "10.0.0.2",
    local: "192.168.1.0/24",
    remote: "192.168.2.0/24",
    me: "192.168.1.1",
    responder: false,
};

const RIGHT: Side = Side {
    src: "10.0.0.2",
    dst: "10.0.0.1",
    local: "192.168.2.0/24",
    remote: "192.168.1.0/24",
    me: "192.168.2.1",
    responder: true,
};

fn yaml(side: &Side, nat: &str, phase2: &str) -> String {
    yaml_ike(side, nat, "", phase2)
}

/// The configuration with `ike` lines (e.g. `version: 2`, a `phase1:` block in flow style)
/// added: `ike` at 6 spaces (under `ike:`), the phase-1 line at 8 (under `proposal:`).
fn yaml_ike(side: &Side, nat: &str, ike: &str, phase2: &str) -> String {
    let Side {
        src,
        dst,
        local,
        remote,
        me,
        responder,
    } = *side;
    let fam = if src.contains(':') { "ipv6" } else { "ipv4" };
    format!(
        "interfaces:\n  ipsec0:\n    {fam}: {{ source: {src}, destination: {dst} }}\n    nat-traversal: {nat}\n    preshared-key: xeeB5gohvaYi\n    responder-only: {}\n    ike:\n{ike}      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ local: {local}, remote: {remote} }}\n{phase2}\
route:\n  ipv4:\n    - {{ destination: {remote}, gateway: ipsec0, source: {me} }}\n",
        if responder { "enable" } else { "disable" }
    )
}

fn start_sides(
    p: &Pair,
    (left, right): (&Side, &Side),
    nat: &str,
    ike: &str,
    phase2: &str,
) -> (Gateway, Gateway, std::path::PathBuf) {
    let keylog = p.dir.join("keys");
    let r = Gateway::start(
        &p.right,
        &p.dir,
        "right",
        &yaml_ike(right, nat, ike, phase2),
        Some("ipsec0"),
    );
    let l = Gateway::start_with(
        &p.left,
        &p.dir,
        "left",
        &yaml_ike(left, nat, ike, phase2),
        Some("ipsec0"),
        &["--wireshark-keylog", keylog.to_str().unwrap()],
    );
    let up = poll_opt(Duration::from_secs(15), || {
        l.log_text().contains("ESP SAs installed").then_some(())
    });
    assert!(
        up.is_some(),
        "no SA after 15 s:\n{}\n{}",
        l.log_text(),
        r.log_text()
    );
    (l, r, keylog)
}

fn case(nat: &str, phase2: &str, filter: &str, udp: bool) {
    case_sides((&LEFT, &RIGHT), nat, "", phase2, filter, udp);
}

fn case_sides(sides: (&Side, &Side), nat: &str, ike: &str, phase2: &str, filter: &str, udp: bool) {
    if !require_root() || !tshark::require_capture_tools() {
        return;
    }
    let p = pair_with(sides.0);
    let (mut l, mut r, keylog) = start_sides(&p, sides, nat, ike, phase2);
    let pcap = p.dir.join("c.pcap");
    let cap = Capture::start(&p.left, &p.link.a, &pcap, Some(filter));
    let ctx = || format!("{}\n{}", l.log_text(), r.log_text());
    p.left.ping_ok("192.168.2.1", 3, ctx);
    p.right.ping_ok("192.168.1.1", 3, ctx);
    let pcap = cap.stop();
    let sas = EspSa::from_keylog(&keylog);
    assert_eq!(sas.len(), 2);
    let frames = tshark::decode_esp(&pcap, &sas);
    tshark::assert_all_decrypted(&frames, &["icmp"]);
    assert!(frames.len() >= 12, "{}", tshark::frames_table(&frames));
    assert!(
        frames.iter().all(|f| f.udp_ports.is_some() == udp),
        "{}",
        tshark::frames_table(&frames)
    );
    for gw in [&mut l, &mut r] {
        let (code, log) = gw.stop();
        assert_eq!(code, Some(0), "{log}");
        assert_eq!(counter(&log, "icv"), Some(0), "{log}");
    }
}

#[test]
fn raw_esp_with_ike_seil_defaults() {
    case("disable", "", "esp", false);
}

#[test]
fn raw_esp_with_ike_aes256_gcm_and_pfs() {
    case(
        "disable",
        "          encryption: aes256-gcm\n          pfs-group: modp2048\n",
        "esp",
        false,
    );
}

/// IKE and ESP over IPv6 outer addresses (identities of type IPV6_ADDR), IPv4 inside.
#[test]
fn ike_over_ipv6_outer_addresses() {
    let left = Side {
        src: "fd00::1",
        dst: "fd00::2",
        ..LEFT
    };
    let right = Side {
        src: "fd00::2",
        dst: "fd00::1",
        ..RIGHT
    };
    case_sides(
        (&left, &right),
        "disable",
        "",
        "          encryption: aes128-gcm\n",
        "ip6 proto 50",
        false,
    );
}

#[test]
fn forced_udp_encapsulation_with_ike() {
    case(
        "force",
        "          encryption: aes128-gcm\n",
        "udp port 4500",
        true,
    );
}

/// IKEv2 between two gateways: Curve25519 + AES-GCM for the IKE SA, raw ESP with AES-GCM.
#[test]
fn ikev2_raw_esp_curve25519_gcm() {
    case_sides(
        (&LEFT, &RIGHT),
        "disable",
        "      version: 2\n",
        "          encryption: aes256-gcm\n        phase1: { encryption: aes256-gcm, prf: sha384, dh-group: curve25519 }\n",
        "esp",
        false,
    );
}

/// IKEv2 with AES-CBC, ECP-384 and PFS, ESP forced into UDP 4500.
#[test]
fn ikev2_forced_udp_encapsulation_cbc_pfs() {
    case_sides(
        (&LEFT, &RIGHT),
        "force",
        "      version: 2\n",
        "          encryption: aes128\n          authentication: hmac-sha256\n          pfs-group: curve25519\n        phase1: { encryption: aes128, hash: sha256, dh-group: ecp384 }\n",
        "udp port 4500",
        true,
    );
}

/// A flood of garbage and of fresh Main Mode openings with random cookies at UDP 500 neither
/// crashes the responder nor keeps the real peer from negotiating afterwards.
#[test]
fn responder_survives_an_isakmp_flood() {
    if !require_root() || !common::require_programs(&["python3"]) {
        return;
    }
    let p = pair();
    let mut r = Gateway::start(
        &p.right,
        &p.dir,
        "right",
        &yaml(&RIGHT, "disable", ""),
        Some("ipsec0"),
    );
    let flood = r#"
import os, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.0.0.1', 500))
d = ('10.0.0.2', 500)
for i in range(3000):
    s.sendto(os.urandom(i % 400), d)
for i in range(3000):
    # ISAKMP header: random initiator cookie, zero responder cookie, SA payload next,
    # version 1.0, Main Mode, then a lying or truncated body.
    body = os.urandom(i % 300)
    hdr = os.urandom(8) + b'\0' * 8 + bytes([1, 0x10, 2, 0]) + b'\0\0\0\0' + struct.pack('>I', 28 + len(body) + (i % 3))
    s.sendto(hdr + body, d)
"#;
    let out = p.left.exec(&["python3", "-c", flood]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(r.running(), "responder died:\n{}", r.log_text());
    // The real initiator still gets through.
    let mut l = Gateway::start(
        &p.left,
        &p.dir,
        "left",
        &yaml(&LEFT, "disable", ""),
        Some("ipsec0"),
    );
    let up = poll_opt(Duration::from_secs(20), || {
        l.log_text().contains("ESP SAs installed").then_some(())
    });
    assert!(
        up.is_some(),
        "no SA after the flood:\n{}\n{}",
        l.log_text(),
        r.log_text()
    );
    p.left.ping_ok("192.168.2.1", 2, || r.log_text());
    let (code, log) = r.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.lines().count() < 60,
        "the flood flooded the log:\n{log}"
    );
    l.stop();
}
