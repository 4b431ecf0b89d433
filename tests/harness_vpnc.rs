//! The vpnc harness (tests/common/vpnc.rs) against a reference server, as root: strongSwan
//! 5.9.8 serving IKEv1 remote access the way issue 13 asks of ikegate — Aggressive Mode with a
//! group PSK (vpnc's group name as a KEY_ID), XAUTH generic, mode-config pull from an address
//! pool with a DNS server, Cisco Unity split-include. vpnc gets an address from the pool and
//! pings a host behind the server through its userspace ESP; a wrong XAUTH password makes vpnc
//! give up with the server's refusal. This proves the harness (and documents the reference
//! exchange) before ikegate's own remote-access tests rely on it.

mod common;

use common::charon::{Charon, CharonConfig};
use common::netns::{require_root, veth, Netns};
use common::vpnc::{Vpnc, VpncConfig};
use std::time::Duration;

const GW: &str = "10.77.0.1";
const CLIENT: &str = "10.77.0.2";
const LAN: &str = "192.168.50.0/24";
const LAN_HOST: &str = "192.168.50.1";
const GROUP_PSK: &str = "group-psk-Eiqu3ahb";

fn xauth_server(ns: &Netns) -> Charon {
    let mut c = CharonConfig::ikev1_psk(GW, "%any", LAN, "dynamic");
    c.aggressive = true;
    c.local_id = Some("gw.example.net".into());
    c.remote_id = Some("keyid:vpngroup".into());
    c.psk = GROUP_PSK.into();
    c.ike_proposals = "aes256-sha1-modp2048,aes128-sha1-modp2048".into();
    c.esp_proposals = "aes256-sha1,aes128-sha1".into();
    c.extra_plugins = ["attr", "unity", "xauth-generic"]
        .map(String::from)
        .to_vec();
    c.extra_charon.push("cisco_unity = yes".into());
    c.extra_conn.push("pools = rw-pool".into());
    c.extra_auth
        .push("remote-xauth {\n      auth = xauth\n    }".into());
    c.extra_swanctl
        .push("pools {\n  rw-pool {\n    addrs = 10.9.9.0/24\n    dns = 192.0.2.53\n  }\n}".into());
    c.extra_swanctl.push(
        "secrets {\n  xauth-alice {\n    id = alice\n    secret = alice-pass-1\n  }\n}".into(),
    );
    Charon::start(ns, c)
}

fn lab() -> (Netns, Netns) {
    let gw = Netns::new("vxg");
    let cl = Netns::new("vxc");
    veth(&gw, &[&format!("{GW}/24")], &cl, &[&format!("{CLIENT}/24")]);
    gw.add_lo_addr(&format!("{LAN_HOST}/32"));
    (gw, cl)
}

fn client(password: &str) -> VpncConfig {
    let mut v = VpncConfig::new(GW, "vpngroup", GROUP_PSK, "alice", password);
    v.dh = "dh14".into();
    v.pfs = "nopfs".into();
    v
}

#[test]
fn vpnc_gets_an_address_and_pings_through_a_strongswan_xauth_server() {
    if !require_root() {
        return;
    }
    let (gw, cl) = lab();
    let charon = xauth_server(&gw);
    let mut vpnc = Vpnc::start(&cl, &client("alice-pass-1"));
    let lease = vpnc
        .wait_connected(Duration::from_secs(20))
        .unwrap_or_else(|e| charon.fail(&format!("vpnc did not connect: {e}")));
    assert_eq!(lease.address.octets()[..3], [10, 9, 9], "{lease:?}");
    assert_eq!(
        lease.dns,
        vec!["192.0.2.53".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    assert_eq!(lease.split_include, vec![LAN.to_string()], "{lease:?}");
    cl.wait_ping(LAN_HOST, Duration::from_secs(10), || {
        format!("vpnc log:\n{}\ncharon log:\n{}", vpnc.log(), charon.log())
    });
    charon.wait_log(
        "XAuth authentication of 'alice' successful",
        Duration::from_secs(1),
    );
    assert!(vpnc.disconnect(), "vpnc did not exit on SIGTERM");
}

#[test]
fn vpnc_gives_up_on_a_wrong_xauth_password() {
    if !require_root() {
        return;
    }
    let (gw, cl) = lab();
    let charon = xauth_server(&gw);
    let mut vpnc = Vpnc::start(&cl, &client("not-the-password"));
    let status = vpnc.wait_exit(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| !s.success()),
        "vpnc should fail: {status:?}\n{}",
        vpnc.log()
    );
    assert!(
        vpnc.log().contains("authentication unsuccessful"),
        "{}",
        vpnc.log()
    );
    charon.wait_log(
        "XAuth authentication of 'alice' failed",
        Duration::from_secs(1),
    );
}
