//! IKEv2 NAT traversal through a real NAT box (nftables masquerade), as root, against strongSwan
//! 6.1 (raw ESP where it can: behind a NAT it must encapsulate in UDP) and 5.9:
//! - ikegate behind the NAT: IKE floats to UDP 4500, ESP goes in UDP, our NAT keepalives (one
//!   0xFF byte) are in a capture, and after the NAT rebinds our flow (conntrack flush, new port
//!   range) the tunnel heals on the same IKE SA (charon rekeys its children when the endpoint
//!   moves);
//! - charon behind the NAT: after the NAT rebinds its flow ikegate follows the new mapping (from
//!   authenticated ESP-in-UDP and IKE) without renegotiating.

mod common;

use common::charon::{Charon, CharonConfig, Strongswan};
use common::ikegate::Gateway;
use common::nat::{require_nft, NatTopology, LEFT_ADDR, NAT_OUTSIDE, RIGHT_ADDR};
use common::netns::require_root;
use common::tshark::{self, Capture};
use common::TempDir;
use std::time::Duration;

const PSK: &str = "xeeB5gohvaYi";
const LEFT_HOST: &str = "192.168.1.1";
const RIGHT_HOST: &str = "192.168.2.1";
const LEFT_LAN: &str = "192.168.1.0/24";
const RIGHT_LAN: &str = "192.168.2.0/24";

fn can_run() -> bool {
    require_root()
        && require_nft()
        && common::charon::require_strongswan()
        && tshark::require_capture_tools()
        && common::require_programs(&["ping", "tcpdump"])
}

#[allow(clippy::too_many_arguments)]
fn yaml(
    src: &str,
    dst: &str,
    local: &str,
    remote: &str,
    me: &str,
    responder: bool,
    ike_extra: &str,
) -> String {
    format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: {src}, destination: {dst} }}\n    preshared-key: {PSK}\n    responder-only: {}\n    ike:\n      version: 2\n{ike_extra}      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ local: {local}, remote: {remote} }}\n\
route:\n  ipv4:\n    - {{ destination: {remote}, gateway: ipsec0, source: {me} }}\n",
        if responder { "enable" } else { "disable" }
    )
}

fn swan_cfg(
    sw: Strongswan,
    local: &str,
    remote: &str,
    local_ts: &str,
    remote_ts: &str,
) -> CharonConfig {
    let mut c = CharonConfig::ikev2_psk(sw, local, remote, local_ts, remote_ts);
    c.psk = PSK.into();
    c.ike_proposals = "aes256-sha256-modp2048".into();
    c.esp_proposals = "aes256-sha256".into();
    c
}

fn context(gw: &Gateway, charon: &Charon) -> String {
    format!(
        "--- ikegate ---\n{}\n--- charon ---\n{}",
        common::tail(&gw.log_text(), 60),
        common::tail(&charon.log(), 50)
    )
}

/// Packets in a capture matching a tcpdump filter.
fn packets(pcap: &std::path::Path, filter: &str) -> usize {
    let out = std::process::Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(pcap)
        .arg(filter)
        .output()
        .expect("tcpdump -r");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn ikev2_ours_behind_nat_floats_keepalives_and_rebinding_sid61() {
    ours_behind_nat(Strongswan::Sid61);
}

#[test]
fn ikev2_ours_behind_nat_floats_keepalives_and_rebinding_swan59() {
    ours_behind_nat(Strongswan::Debian59);
}

fn ours_behind_nat(sw: Strongswan) {
    if !can_run() {
        return;
    }
    sw.require();
    let topo = NatTopology::new();
    topo.left.add_lo_addr(&format!("{LEFT_HOST}/32"));
    topo.right.add_lo_addr(&format!("{RIGHT_HOST}/32"));
    let dir = TempDir::new("v2nat");
    let mut cfg = swan_cfg(sw, RIGHT_ADDR, "%any", RIGHT_LAN, LEFT_LAN);
    cfg.remote_id = Some(LEFT_ADDR.into());
    let charon = Charon::start(&topo.right, cfg);
    let pcap = dir.join("left.pcap");
    let cap = Capture::start(&topo.left, &topo.left_link.a, &pcap, Some("udp or esp"));
    let mut gw = Gateway::start(
        &topo.left,
        &dir,
        "ours",
        &yaml(
            LEFT_ADDR,
            RIGHT_ADDR,
            LEFT_LAN,
            RIGHT_LAN,
            LEFT_HOST,
            false,
            "      nat-keepalive: 2\n      dpd: { interval: 3, retries: 5 }\n",
        ),
        Some("ipsec0"),
    );
    let ctx = || context(&gw, &charon);
    assert!(gw.wait_log("ESP SAs installed", 20), "{}", ctx());
    let log = gw.log_text();
    // 5.9's kernel-libipsec fakes a NAT of its own to get ESP in UDP.
    let nat = if sw == Strongswan::Sid61 {
        log.contains("we are behind a NAT")
    } else {
        log.contains("we are behind a NAT") || log.contains("both sides are behind NATs")
    };
    assert!(nat, "{}", ctx());
    assert!(log.contains("on UDP 4500"), "{}", ctx());
    topo.left.ping_ok(RIGHT_HOST, 3, ctx);
    let installs = gw.log_text().matches("ESP SAs installed").count();
    // Idle: keepalives every 2 s.
    std::thread::sleep(Duration::from_secs(7));
    // The NAT rebinds our flow to other ports: charon learns the new mapping from our next
    // authenticated IKE message (a liveness check once its ESP stops reaching us).
    topo.rebind(Some((31000, 31999)));
    let healed = common::nat::heal_time(&topo.left, RIGHT_HOST, 30);
    println!("IKEv2 {sw:?}, ours behind NAT: tunnel usable again {healed:?} after the rebinding");
    assert!(healed.is_some(), "{}", ctx());
    topo.left.ping_ok(RIGHT_HOST, 3, ctx);
    // And charon's side sends to the new mapping too.
    topo.right.ping_ok(LEFT_HOST, 3, ctx);
    let pcap = cap.stop();
    let n = common::nat::keepalives(&pcap, LEFT_ADDR);
    println!("IKEv2 {sw:?}: NAT keepalives from ikegate seen in the capture: {n}");
    assert!(n >= 2, "only {n} keepalives\n{}", ctx());
    // No raw ESP and no IKE on 500 after the float: all on 4500.
    assert_eq!(packets(&pcap, "ip proto 50"), 0, "raw ESP behind a NAT");
    assert!(packets(&pcap, "udp port 4500") > 10);
    let mapped = topo.conntrack();
    assert!(mapped.contains("dport=31"), "no rebound mapping:\n{mapped}");
    // Healed by following the mapping, not by a new negotiation: one IKE SA throughout. charon
    // answers "remote endpoint changed" by rekeying its children (kernel-libipsec cannot move
    // them); that rekey is the peer's, it replaces the pair, nothing more is negotiated.
    let log = gw.log_text();
    assert_eq!(log.matches("sending IKE_SA_INIT").count(), 1, "{}", ctx());
    assert!(!log.contains("rekey=None"), "{}", ctx());
    assert!(!log.contains("rekey collision"), "{}", ctx());
    let installed = log.matches("ESP SAs installed").count();
    println!(
        "IKEv2 {sw:?}, ours behind NAT: {} child rekey(s) by charon after the rebinding",
        installed - installs
    );
    assert!(installed <= installs + 1, "{}", ctx());
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn ikev2_peer_behind_nat_rebinding_is_followed_sid61() {
    peer_behind_nat(Strongswan::Sid61);
}

#[test]
fn ikev2_peer_behind_nat_rebinding_is_followed_swan59() {
    peer_behind_nat(Strongswan::Debian59);
}

fn peer_behind_nat(sw: Strongswan) {
    if !can_run() {
        return;
    }
    sw.require();
    let topo = NatTopology::new();
    topo.left.add_lo_addr(&format!("{LEFT_HOST}/32"));
    topo.right.add_lo_addr(&format!("{RIGHT_HOST}/32"));
    let dir = TempDir::new("v2nat");
    let mut gw = Gateway::start(
        &topo.right,
        &dir,
        "ours",
        &yaml(
            RIGHT_ADDR,
            NAT_OUTSIDE,
            RIGHT_LAN,
            LEFT_LAN,
            RIGHT_HOST,
            true,
            "",
        ),
        Some("ipsec0"),
    );
    let mut cfg = swan_cfg(sw, LEFT_ADDR, RIGHT_ADDR, LEFT_LAN, RIGHT_LAN);
    cfg.extra_charon = vec!["keep_alive = 2s".into()];
    cfg.dpd_delay = Some(3);
    let charon = Charon::start(&topo.left, cfg);
    charon.initiate_ok("net");
    let ctx = || context(&gw, &charon);
    assert!(gw.wait_log("ESP SAs installed", 20), "{}", ctx());
    assert!(
        gw.log_text().contains("the peer is behind a NAT"),
        "{}",
        ctx()
    );
    topo.right.ping_ok(LEFT_HOST, 3, ctx);
    let installs = gw.log_text().matches("ESP SAs installed").count();
    topo.rebind(Some((32000, 32999)));
    // Traffic from charon's side first: its ESP arrives from the new port, we follow.
    topo.left.ping_ok(RIGHT_HOST, 3, ctx);
    let healed = common::nat::heal_time(&topo.right, LEFT_HOST, 20);
    println!(
        "IKEv2 {sw:?}, peer behind NAT: replies reach the new mapping {healed:?} after the rebinding"
    );
    assert!(healed.is_some(), "{}", ctx());
    let log = gw.log_text();
    assert!(
        log.contains("NAT mapping moved to 10.0.2.1:32") || log.contains("peer now at 10.0.2.1:32"),
        "{}",
        ctx()
    );
    // An idle period: charon's liveness checks (dpd_delay 3 s) and keepalives arrive from the
    // new mapping and are answered there; then the tunnel still works from our side first.
    std::thread::sleep(Duration::from_secs(7));
    topo.right.ping_ok(LEFT_HOST, 3, ctx);
    let log = gw.log_text();
    assert_eq!(
        log.matches("ESP SAs installed").count(),
        installs,
        "{}",
        ctx()
    );
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}
