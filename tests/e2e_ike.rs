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
    let left = Netns::new("il");
    let right = Netns::new("ir");
    let link = veth(&left, &["10.0.0.1/24"], &right, &["10.0.0.2/24"]);
    left.add_lo_addr("192.168.1.1/32");
    right.add_lo_addr("192.168.2.1/32");
    Pair {
        left,
        right,
        link,
        dir: TempDir::new("ike"),
    }
}

#[allow(clippy::too_many_arguments)]
fn yaml(
    src: &str,
    dst: &str,
    local: &str,
    remote: &str,
    me: &str,
    nat: &str,
    responder: bool,
    phase2: &str,
) -> String {
    format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: {src}, destination: {dst} }}\n    nat-traversal: {nat}\n    preshared-key: xeeB5gohvaYi\n    responder-only: {}\n    ike:\n      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ local: {local}, remote: {remote} }}\n{phase2}\
route:\n  ipv4:\n    - {{ destination: {remote}, gateway: ipsec0, source: {me} }}\n",
        if responder { "enable" } else { "disable" }
    )
}

fn start(p: &Pair, nat: &str, phase2: &str) -> (Gateway, Gateway, std::path::PathBuf) {
    let keylog = p.dir.join("keys");
    let r = Gateway::start(
        &p.right,
        &p.dir,
        "right",
        &yaml(
            "10.0.0.2",
            "10.0.0.1",
            "192.168.2.0/24",
            "192.168.1.0/24",
            "192.168.2.1",
            nat,
            true,
            phase2,
        ),
        Some("ipsec0"),
    );
    let l = Gateway::start_with(
        &p.left,
        &p.dir,
        "left",
        &yaml(
            "10.0.0.1",
            "10.0.0.2",
            "192.168.1.0/24",
            "192.168.2.0/24",
            "192.168.1.1",
            nat,
            false,
            phase2,
        ),
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
    if !require_root() || !tshark::require_capture_tools() {
        return;
    }
    let p = pair();
    let (mut l, mut r, keylog) = start(&p, nat, phase2);
    let pcap = p.dir.join("c.pcap");
    let cap = Capture::start(&p.left, &p.link.a, &pcap, Some(filter));
    let ctx = || format!("{}\n{}", l.log_text(), r.log_text());
    p.left.ping_ok("192.168.2.1", 3, ctx);
    p.right.ping_ok("192.168.1.1", 3, ctx);
    let pcap = cap.stop();
    let sas: Vec<EspSa> = std::fs::read_to_string(&keylog)
        .unwrap()
        .lines()
        .filter_map(EspSa::from_uat_line)
        .collect();
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

#[test]
fn forced_udp_encapsulation_with_ike() {
    case(
        "force",
        "          encryption: aes128-gcm\n",
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
        &yaml(
            "10.0.0.2",
            "10.0.0.1",
            "192.168.2.0/24",
            "192.168.1.0/24",
            "192.168.2.1",
            "disable",
            true,
            "",
        ),
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
        &yaml(
            "10.0.0.1",
            "10.0.0.2",
            "192.168.1.0/24",
            "192.168.2.0/24",
            "192.168.1.1",
            "disable",
            false,
            "",
        ),
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
