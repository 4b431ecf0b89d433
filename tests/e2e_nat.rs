//! NAT traversal through a real NAT box (nftables masquerade), as root, against strongSwan:
//! - ikegate behind the NAT: the tunnel floats to 4500, pings cross, our NAT keepalives (one
//!   0xFF byte) are seen in a capture, and after the NAT rebinds our flows the tunnel heals;
//! - strongSwan behind the NAT: after the NAT rebinds its flows ikegate follows the new mapping
//!   (from authenticated ESP-in-UDP and IKE) without renegotiating.

mod common;

use common::charon::{Charon, CharonConfig};
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
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: {src}, destination: {dst} }}\n    nat-traversal: enable\n    preshared-key: {PSK}\n    responder-only: {}\n    ike:\n      version: 1\n      exchange-mode: main\n{ike_extra}      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ local: {local}, remote: {remote} }}\n\
route:\n  ipv4:\n    - {{ destination: {remote}, gateway: ipsec0, source: {me} }}\n",
        if responder { "enable" } else { "disable" }
    )
}

#[test]
fn ours_behind_nat_keepalives_and_rebinding() {
    if !can_run() {
        return;
    }
    let topo = NatTopology::new();
    topo.left.add_lo_addr(&format!("{LEFT_HOST}/32"));
    topo.right.add_lo_addr(&format!("{RIGHT_HOST}/32"));
    let dir = TempDir::new("nat");
    let mut cfg = CharonConfig::ikev1_psk(RIGHT_ADDR, "%any", RIGHT_LAN, LEFT_LAN);
    cfg.psk = PSK.into();
    cfg.remote_id = Some(LEFT_ADDR.into());
    cfg.dpd_delay = Some(5);
    let charon = Charon::start(&topo.right, cfg);
    let pcap = dir.join("left.pcap");
    let cap = Capture::start(&topo.left, &topo.left_link.a, &pcap, Some("udp"));
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
    let ctx = || format!("{}\n{}", gw.log_text(), common::tail(&charon.log(), 40));
    assert!(gw.wait_log("ESP SAs installed", 20), "{}", ctx());
    let log = gw.log_text();
    // charon's `encap = yes` makes it look NATed too.
    assert!(
        log.contains("we are behind a NAT") || log.contains("both sides are behind NATs"),
        "{log}"
    );
    assert!(log.contains("on UDP 4500"), "{log}");
    topo.left.ping_ok(RIGHT_HOST, 3, ctx);
    // Idle: keepalives every 2 s.
    std::thread::sleep(Duration::from_secs(7));
    // The NAT rebinds our flows to other ports: charon learns the new mapping from our next
    // authenticated IKE message (a DPD probe once its replies stop reaching us).
    topo.rebind(Some((31000, 31999)));
    let healed = common::nat::heal_time(&topo.left, RIGHT_HOST, 30);
    println!("ours behind NAT: tunnel usable again {healed:?} after the rebinding");
    assert!(healed.is_some(), "{}", ctx());
    topo.left.ping_ok(RIGHT_HOST, 3, ctx);
    let pcap = cap.stop();
    let n = common::nat::keepalives(&pcap, LEFT_ADDR);
    println!("NAT keepalives from ikegate seen in the capture: {n}");
    assert!(n >= 2, "only {n} keepalives\n{}", gw.log_text());
    let mapped = topo.conntrack();
    assert!(mapped.contains("dport=31"), "no rebound mapping:\n{mapped}");
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn peer_behind_nat_rebinding_is_followed() {
    if !can_run() {
        return;
    }
    let topo = NatTopology::new();
    topo.left.add_lo_addr(&format!("{LEFT_HOST}/32"));
    topo.right.add_lo_addr(&format!("{RIGHT_HOST}/32"));
    let dir = TempDir::new("nat");
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
    let mut cfg = CharonConfig::ikev1_psk(LEFT_ADDR, RIGHT_ADDR, LEFT_LAN, RIGHT_LAN);
    cfg.psk = PSK.into();
    cfg.extra_charon = vec!["keep_alive = 2s".into()];
    cfg.dpd_delay = Some(3);
    let charon = Charon::start(&topo.left, cfg);
    charon.initiate_ok("net");
    let ctx = || format!("{}\n{}", gw.log_text(), common::tail(&charon.log(), 40));
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
    println!("peer behind NAT: replies reach the new mapping {healed:?} after the rebinding");
    assert!(healed.is_some(), "{}", ctx());
    let log = gw.log_text();
    assert!(
        log.contains("NAT mapping moved to 10.0.2.1:32") || log.contains("peer now at 10.0.2.1:32"),
        "{log}"
    );
    // No renegotiation was needed.
    assert_eq!(log.matches("ESP SAs installed").count(), installs, "{log}");
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}
