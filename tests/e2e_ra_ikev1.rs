//! IKEv1 remote access served by ikegate (issue 13), as root: one `remote-access:` interface
//! with a group PSK, XAUTH from a users file (written with `ikegate users add`) and mode-config
//! from a pool, against real clients — vpnc 0.5.3 (Aggressive Mode, mode-config pull, its own
//! userspace ESP) and strongSwan 5.9 with `xauth-generic` (pull and push). Each gets its own
//! pool address and pings a host behind the gateway (an address on the gateway namespace's lo).

mod common;

use std::time::Duration;

use common::charon::Charon;
use common::ikegate::Gateway;
use common::netns::{require_root, veth, Netns};
use common::ra::{add_user, xauth_client};
use common::vpnc::{Vpnc, VpncConfig};
use common::{poll_opt, TempDir};

const GROUP_PSK: &str = "group-psk-Eiqu3ahb";
const LAN_HOST: &str = "192.168.50.1";

/// The gateway's configuration: one RA interface on `gw`, pool 10.8.0.0/24.
fn gateway_yaml(gw: &str, users: &std::path::Path, mode_cfg: &str) -> String {
    format!(
        "interfaces:\n  ipsec-ra0:\n    ipv4: {{ source: {gw}, destination: dynamic }}\n    \
         preshared-key: {GROUP_PSK}\n    responder-only: enable\n    ike:\n      \
         exchange-mode: aggressive\n      my-identifier: {{ fqdn: gw.example.net }}\n      \
         dpd: {{ interval: 5, retries: 3 }}\n      proposal:\n        phase1:\n          \
         encryption: [aes256, aes128]\n          hash: [sha1, sha256]\n          \
         dh-group: modp2048\n        phase2:\n          encryption: [aes256, aes128]\n          \
         authentication: [hmac-sha1, hmac-sha256]\n    remote-access:\n      \
         pool: {{ ipv4: 10.8.0.0/24 }}\n      dns: [192.0.2.53]\n      \
         split-include: [192.168.50.0/24]\n      auth: xauth\n      users-file: {}\n      \
         mode-cfg: {mode_cfg}\n",
        users.display()
    )
}

/// Gateway namespace (with the LAN host on lo) and `n` client namespaces on one bridge-less
/// veth each: client i is 10.7{i}.0.2, the gateway 10.7{i}.0.1 on its side.
struct Lab {
    gw: Netns,
    clients: Vec<(Netns, String, String)>,
    dir: TempDir,
}

fn lab(tag: &str, n: usize) -> Lab {
    let gw = Netns::new(&format!("rvd{tag}g"));
    gw.add_lo_addr(&format!("{LAN_HOST}/32"));
    let mut clients = Vec::new();
    for i in 0..n {
        let cl = Netns::new(&format!("rvd{tag}{i}"));
        let g = format!("10.7{i}.{}.1", tag.len());
        let c = format!("10.7{i}.{}.2", tag.len());
        veth(&gw, &[&format!("{g}/24")], &cl, &[&format!("{c}/24")]);
        clients.push((cl, g, c));
    }
    Lab {
        gw,
        clients,
        dir: TempDir::new(&format!("rvd-{tag}")),
    }
}

#[test]
fn vpnc_gets_a_pool_address_and_pings_the_lan_and_a_wrong_password_is_refused() {
    if !require_root() {
        return;
    }
    let lab = lab("v", 1);
    let users = lab.dir.join("users");
    add_user(&users, "alice", "alice-pass-1", &[]);
    let (cl, gw_ip, _) = &lab.clients[0];
    // One gateway address for the test: the interface's source.
    let yaml = gateway_yaml(gw_ip, &users, "auto");
    let gw = Gateway::start(&lab.gw, &lab.dir, "gw", &yaml, Some("ipsec-ra0"));
    let client = |password: &str| {
        let mut v = VpncConfig::new(gw_ip, "vpngroup", GROUP_PSK, "alice", password);
        v.dh = "dh14".into();
        v.pfs = "nopfs".into();
        v
    };
    let mut vpnc = Vpnc::start(cl, &client("alice-pass-1"));
    let lease = vpnc
        .wait_connected(Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("vpnc: {e}\n{}\n{}", vpnc.log(), gw.log_text()));
    assert_eq!(lease.address.octets()[..3], [10, 8, 0], "{lease:?}");
    assert_eq!(lease.split_include, vec!["192.168.50.0/24".to_string()]);
    cl.wait_ping(LAN_HOST, Duration::from_secs(10), || {
        format!("vpnc:\n{}\ngateway:\n{}", vpnc.log(), gw.log_text())
    });
    assert!(vpnc.disconnect(), "vpnc did not exit on SIGTERM");

    let mut bad = Vpnc::start(cl, &client("not-the-password"));
    let status = bad.wait_exit(Duration::from_secs(20));
    assert!(status.is_some_and(|s| !s.success()), "{}", bad.log());
    let refused = poll_opt(Duration::from_secs(5), || {
        gw.log_text().contains("wrong password").then_some(())
    });
    assert!(refused.is_some(), "{}", gw.log_text());
}

/// A strongSwan 5.9 IKEv1 client in Aggressive Mode (XAUTH as `user`, mode-config pull or
/// push), the gateway's `RA_NETS` through the tunnel.
fn strongswan_client(ns: &Netns, gw: &str, user: &str, password: &str, pull: bool) -> Charon {
    let creds = (user, password);
    let cfg = xauth_client(
        "%any",
        gw,
        "gw.example.net",
        GROUP_PSK,
        RA_NETS,
        creds,
        pull,
        true,
    );
    Charon::start(ns, cfg)
}

/// The pool and the gateway's host in one prefix (IKEv1 carries one selector pair per SA).
const RA_NETS: &str = "10.8.0.0/23";
const RA_HOST: &str = "10.8.1.1";

/// vpnc (pull), strongSwan pull and strongSwan push at the same time on one interface: each
/// gets its own address, reaches the gateway's host and the others; vpnc reconnecting gets the
/// same address; a killed strongSwan client is declared dead by DPD and its lease released.
#[test]
fn vpnc_and_strongswan_pull_and_push_at_once_on_one_interface() {
    if !require_root() {
        return;
    }
    let lab = lab("m", 3);
    lab.gw.add_lo_addr(&format!("{RA_HOST}/32"));
    // Client to client goes in and out of ipsec-ra0: the gateway forwards.
    lab.gw.enable_forwarding();
    let users = lab.dir.join("users");
    for u in ["alice", "bob", "carol"] {
        add_user(&users, u, &format!("{u}-pass-1"), &[]);
    }
    let gw_ip = lab.clients[0].1.clone();
    for (cl, via, _) in &lab.clients[1..] {
        cl.add_route(&format!("{gw_ip}/32"), Some(via), None);
    }
    let yaml = gateway_yaml(&gw_ip, &users, "auto").replace("192.168.50.0/24", RA_NETS);
    let gw = Gateway::start_logged(
        &lab.gw,
        &lab.dir,
        "gw",
        &yaml,
        Some("ipsec-ra0"),
        "info,ikegate::ike=debug",
    );
    let vpnc_cfg = || {
        let mut v = VpncConfig::new(&gw_ip, "vpngroup", GROUP_PSK, "alice", "alice-pass-1");
        v.dh = "dh14".into();
        v.pfs = "nopfs".into();
        v
    };
    let (vpnc_ns, bob_ns, carol_ns) = (&lab.clients[0].0, &lab.clients[1].0, &lab.clients[2].0);
    let mut vpnc = Vpnc::start(vpnc_ns, &vpnc_cfg());
    let mut bob = strongswan_client(bob_ns, &gw_ip, "bob", "bob-pass-1", true);
    let carol = strongswan_client(carol_ns, &gw_ip, "carol", "carol-pass-1", false);
    let ctx = |c: &Charon| format!("client:\n{}\ngateway:\n{}", c.log(), gw.log_text());
    let lease = vpnc
        .wait_connected(Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("vpnc: {e}\n{}\n{}", vpnc.log(), gw.log_text()));
    for c in [&bob, &carol] {
        if let Err(e) = c.initiate("net") {
            panic!("{e}\ngateway:\n{}", gw.log_text());
        }
    }
    let vpnc_ip = lease.address.to_string();
    for (ns, c) in [(bob_ns, &bob), (carol_ns, &carol)] {
        ns.wait_ping(RA_HOST, Duration::from_secs(10), || ctx(c));
        ns.wait_ping(&vpnc_ip, Duration::from_secs(10), || ctx(c));
    }
    vpnc_ns.wait_ping(RA_HOST, Duration::from_secs(10), || gw.log_text());
    let log = gw.log_text();
    let addresses: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("has address 10.8.0."))
        .collect();
    assert_eq!(addresses.len(), 3, "{log}");
    assert!(
        log.contains("mode-config Pull") && log.contains("mode-config Push"),
        "{log}"
    );

    // vpnc again: the same address.
    assert!(vpnc.disconnect(), "vpnc did not exit on SIGTERM");
    let mut again = Vpnc::start(vpnc_ns, &vpnc_cfg());
    let lease2 = again
        .wait_connected(Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("vpnc again: {e}\n{}", gw.log_text()));
    assert_eq!(lease2.address, lease.address);

    // bob vanishes: DPD (5 s × 3) declares it dead and its lease goes.
    bob.kill9();
    let gone = poll_opt(Duration::from_secs(45), || {
        gw.log_text()
            .lines()
            .any(|l| l.contains("client \"bob\"") && l.contains("DpdDead"))
            .then_some(())
    });
    assert!(gone.is_some(), "{}", gw.log_text());
    assert!(again.disconnect());
}
