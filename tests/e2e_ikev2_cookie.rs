//! IKEv2 COOKIE (RFC 7296 §2.6) against strongSwan 5.9.8 as initiator: with the responder's
//! half-open IKE SAs at the threshold (IKE_SA_INIT requests from the peer's address that never
//! continue), charon's IKE_SA_INIT is answered with a COOKIE, charon sends it back, and the
//! tunnel comes up and carries pings. The capture shows the round trip. Root only; prints
//! "skipping: …" otherwise.

mod common;

use common::charon::{Charon, CharonConfig, Strongswan};
use common::ikegate::Gateway;
use common::netns::{require_root, swan_lab};
use common::tshark::{self, Capture};
use std::time::Duration;

const OURS: &str = "10.0.0.1";
const SWAN: &str = "10.0.0.2";
const PSK: &str = "xeeB5gohvaYi";
/// `COOKIE_THRESHOLD` of `src/ike/v2/mod.rs`: half-open IKE SAs before COOKIEs are asked for.
const THRESHOLD: usize = 8;

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && tshark::require_capture_tools()
        && common::require_programs(&["ping", "python3"])
}

fn ours_yaml() -> String {
    format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: {OURS}, destination: {SWAN} }}\n    preshared-key: {PSK}\n    responder-only: enable\n    ike:\n      version: 2\n      proposal:\n        phase1: {{ encryption: aes128, hash: sha256, dh-group: curve25519 }}\n        phase2:\n          proxy-id:\n            ipv4: {{ local: 192.168.1.0/24, remote: 192.168.2.0/24 }}\n          encryption: aes128\n          authentication: hmac-sha256\nroute:\n  ipv4:\n    - {{ destination: 192.168.2.0/24, gateway: ipsec0, source: 192.168.1.1 }}\n"
    )
}

/// IKE_SA_INIT requests from the peer's address (another port) with our proposal, a random SPI,
/// a random Curve25519 value and nonce: each is answered and left half-open.
fn half_open_script(n: usize) -> String {
    format!(
        r#"
import os, socket, struct
def payload(nxt, body): return struct.pack('>BBH', nxt, 0, len(body) + 4) + body
def tr(last, typ, tid, attr=b''):
    return struct.pack('>BBHBBH', 0 if last else 3, 0, 8 + len(attr), typ, 0, tid) + attr
trs = tr(0, 1, 12, struct.pack('>HH', 0x800e, 128)) + tr(0, 2, 5) + tr(0, 3, 12) + tr(1, 4, 31)
prop = struct.pack('>BBHBBBB', 0, 0, 8 + len(trs), 1, 1, 0, 4) + trs
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('{SWAN}', 0))
s.settimeout(2)
answered = 0
for i in range({n}):
    body = payload(34, prop) + payload(40, struct.pack('>HH', 31, 0) + os.urandom(32)) + payload(0, os.urandom(32))
    msg = os.urandom(8) + b'\0' * 8 + bytes([33, 0x20, 34, 0x08]) + struct.pack('>II', 0, 28 + len(body)) + body
    s.sendto(msg, ('{OURS}', 500))
    answer = s.recv(2048)
    # An answer with SA (33) first, not a COOKIE or an error notify.
    answered += answer[16] == 33
print(answered)
"#
    )
}

#[test]
fn strongswan_59_completes_a_cookie_round_trip_over_the_half_open_threshold() {
    if !can_run() {
        return;
    }
    let sw = Strongswan::Debian59;
    sw.require();
    sw.announce();
    let lab = swan_lab("cko", "cks", "ckswan");
    let pcap = lab.dir.join("ike.pcap");
    let cap = Capture::start(&lab.ours, &lab.link.a, &pcap, Some("udp"));
    let mut gw = Gateway::start(&lab.ours, &lab.dir, "ours", &ours_yaml(), Some("ipsec0"));
    lab.ours.wait_udp_listening(500, Duration::from_secs(10));
    let out = lab
        .swan
        .exec(&["python3", "-c", &half_open_script(THRESHOLD)]);
    let answered = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && answered == THRESHOLD.to_string(),
        "half-open IKE_SA_INITs: {answered} answered\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        gw.log_text()
    );
    let mut cfg = CharonConfig::ikev2_psk(sw, SWAN, OURS, "192.168.2.0/24", "192.168.1.0/24");
    cfg.psk = PSK.into();
    cfg.ike_proposals = "aes128-sha256-curve25519".into();
    cfg.esp_proposals = "aes128-sha256".into();
    // 5.9's kernel-libipsec only does ESP in UDP: it must fake a NAT to get there.
    cfg.encap = true;
    let charon = Charon::start(&lab.swan, cfg);
    charon.initiate_ok("net");
    let ctx = || {
        format!(
            "--- ikegate ---\n{}\n--- charon ---\n{}",
            gw.log_text(),
            common::tail(&charon.log(), 80)
        )
    };
    if !gw.wait_log("ESP SAs installed", 20) {
        charon.fail(&format!("ikegate did not install SAs:\n{}", gw.log_text()));
    }
    charon.wait_child_installed("net", Duration::from_secs(10));
    lab.swan.ping_ok("192.168.1.1", 3, ctx);
    let pcap = cap.stop();
    // On the wire: our COOKIE to charon's port 500, then charon's IKE_SA_INIT carrying it.
    let cookies = tshark::fields(
        &pcap,
        "isakmp.exchangetype == 34 && isakmp.notify.msgtype == 16390",
        &["ip.src", "udp.srcport", "udp.dstport"],
    );
    let to_charon = cookies.iter().any(|f| f[0] == OURS && f[2] == "500");
    let from_charon = cookies.iter().any(|f| f[0] == SWAN && f[1] == "500");
    assert!(
        to_charon && from_charon,
        "no COOKIE round trip with charon in the capture: {cookies:?}\n{}",
        ctx()
    );
    println!("COOKIE IKE_SA_INIT messages (src, sport, dport): {cookies:?}");
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
}
