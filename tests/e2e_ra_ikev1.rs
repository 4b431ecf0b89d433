//! IKEv1 remote access served by ikegate (issue 13), as root: one `remote-access:` interface
//! with a group PSK, XAUTH from a users file (written with `ikegate users add`) and mode-config
//! from a pool, against real clients — vpnc 0.5.3 (Aggressive Mode, mode-config pull, its own
//! userspace ESP) and strongSwan 5.9 with `xauth-generic` (pull and push). Each gets its own
//! pool address and pings a host behind the gateway (an address on the gateway namespace's lo).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::ikegate::{bin, Gateway};
use common::netns::{require_root, veth, Netns};
use common::vpnc::{Vpnc, VpncConfig};
use common::{poll_opt, TempDir};

const GROUP_PSK: &str = "group-psk-Eiqu3ahb";
const LAN_HOST: &str = "192.168.50.1";

/// Adds `user` with `password` to the users file `file` through the CLI.
fn add_user(file: &std::path::Path, user: &str, password: &str) {
    let mut child = Command::new(bin())
        .args(["users", "add", file.to_str().unwrap(), user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

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
    add_user(&users, "alice", "alice-pass-1");
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
