//! Operational faults, as root: each is logged once in plain words, and the gateway recovers
//! when the cause goes away where that makes sense.
//!
//! - The peer vanishing mid-exchange (strongSwan 5.9; UDP 4500 dropped after Main Mode floated
//!   there): one "did not answer Main Mode message 5" line, and the tunnel comes up once the
//!   path is back.
//! - The TUN device deleted under us: one line naming it, no busy loop, exit status 1 (so that
//!   systemd's `Restart=on-failure` or a container restart policy starts it again); the
//!   restarted gateway carries traffic again.
//! - The outer address removed and added back: one line when sends start failing, one when
//!   they work again, traffic flows again with the SAs kept.
//! - The admin token file unwritable at start (an unprivileged user, a root-owned directory):
//!   exit status 1 with one message saying what to do.

mod common;

use common::charon::{Charon, CharonConfig};
use common::ikegate::{AdminPair, Gateway};
use common::netns::{require_root, swan_lab, Netns};
use common::TempDir;
use std::time::{Duration, Instant};

fn ping_from(ns: &Netns, src: &str, dst: &str, count: u32) -> bool {
    ns.exec(&[
        "ping",
        "-c",
        &count.to_string(),
        "-i",
        "0.3",
        "-W",
        "1",
        "-I",
        src,
        dst,
    ])
    .status
    .success()
}

fn wait_ping(ns: &Netns, src: &str, dst: &str, secs: u64) -> bool {
    common::poll_opt(Duration::from_secs(secs), || {
        ping_from(ns, src, dst, 1).then_some(())
    })
    .is_some()
}

#[test]
fn peer_vanishing_mid_exchange_is_logged_once_and_recovered() {
    if !require_root()
        || !common::charon::require_strongswan()
        || !common::require_programs(&["nft", "ping"])
    {
        return;
    }
    let lab = swan_lab("fpo", "fps", "fpeer");
    let mut c = CharonConfig::ikev1_psk("10.0.0.2", "10.0.0.1", "192.168.2.0/24", "192.168.1.0/24");
    c.psk = "Vie8oosh0ohs4quu".into();
    let _charon = Charon::start(&lab.swan, c);
    // Main Mode messages 1-4 pass on UDP 500; charon's NAT-T (forced encapsulation) floats
    // messages 5 and 6 to 4500, where the peer has vanished.
    lab.swan.run(&[
        "nft",
        "add table inet vanish; add chain inet vanish in { type filter hook input priority 0; }; \
         add rule inet vanish in udp dport 4500 drop",
    ]);
    let yaml = "interfaces:\n  ipsec0:\n    ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }\n    nat-traversal: enable\n    preshared-key: Vie8oosh0ohs4quu\n    ike:\n      version: 1\n      proposal:\n        phase2:\n          proxy-id:\n            ipv4: { local: 192.168.1.0/24, remote: 192.168.2.0/24 }\n\
route:\n  ipv4:\n    - { destination: 192.168.2.0/24, gateway: ipsec0, source: 192.168.1.1 }\n";
    let mut gw = Gateway::start(&lab.ours, &lab.dir, "ours", yaml, Some("ipsec0"));
    let needle = "did not answer Main Mode message 5";
    assert!(
        gw.wait_log(needle, 100),
        "no explanation of the vanished peer:\n{}",
        gw.log_text()
    );
    let log = gw.log_text();
    assert_eq!(log.matches(needle).count(), 1, "{log}");
    assert!(log.contains("UDP 4500 is blocked"), "{log}");
    assert!(!log.contains("ESP SAs installed"), "{log}");
    // The peer is back: the next attempt brings the tunnel up.
    lab.swan.run(&["nft", "delete table inet vanish"]);
    assert!(
        gw.wait_log("ESP SAs installed", 60),
        "no recovery:\n{}",
        gw.log_text()
    );
    assert!(wait_ping(&lab.ours, "192.168.1.1", "192.168.2.1", 10));
    assert_eq!(gw.log_text().matches(needle).count(), 1);
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn deleted_tun_device_is_logged_once_and_the_gateway_exits_for_a_restart() {
    if !require_root() || !common::require_programs(&["ping"]) {
        return;
    }
    let mut pair = AdminPair::start("ftun", "127.0.0.1:18097", "", "");
    assert!(wait_ping(&pair.left, "192.168.1.1", "192.168.2.1", 15));
    pair.left.run(&["ip", "link", "del", "ipsec0"]);
    let t0 = Instant::now();
    let code = pair.left_gw.wait_exit(15);
    let log = pair.left_gw.log_text();
    assert_eq!(
        code,
        Some(1),
        "did not exit after losing its TUN device:\n{log}"
    );
    println!("exited {:?} after the device was deleted", t0.elapsed());
    assert_eq!(
        log.matches("the TUN device ipsec0 was deleted under us")
            .count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("deleted under us; stopping (exit status 1)"),
        "{log}"
    );
    assert!(!log.contains("reading the TUN device failed"), "{log}");
    // What systemd's Restart= does: the same command again, with a new device.
    let yaml = std::fs::read_to_string(&pair.left_gw.config).unwrap();
    let gw = Gateway::start(&pair.left, &pair.dir, "left-again", &yaml, Some("ipsec0"));
    assert!(
        wait_ping(&pair.left, "192.168.1.1", "192.168.2.1", 30),
        "{}",
        gw.log_text()
    );
}

/// The veth device holding `addr` in `ns`.
fn dev_of(ns: &Netns, addr: &str) -> String {
    let out = ns.run(&["ip", "-o", "-4", "addr", "show", "to", addr]);
    out.split_whitespace().nth(1).expect("device").to_string()
}

#[test]
fn outer_address_removed_and_back_is_logged_once_each_way() {
    if !require_root() || !common::require_programs(&["ping"]) {
        return;
    }
    let pair = AdminPair::start("fadr", "127.0.0.1:18098", "", "");
    assert!(wait_ping(&pair.left, "192.168.1.1", "192.168.2.1", 15));
    let dev = dev_of(&pair.left, "10.0.0.1");
    pair.left
        .run(&["ip", "addr", "del", "10.0.0.1/24", "dev", &dev]);
    assert!(!ping_from(&pair.left, "192.168.1.1", "192.168.2.1", 8));
    let failed = "sending ESP from 10.0.0.1 failed";
    assert!(
        pair.left_gw.wait_log(failed, 5),
        "{}",
        pair.left_gw.log_text()
    );
    pair.left
        .run(&["ip", "addr", "add", "10.0.0.1/24", "dev", &dev]);
    assert!(
        wait_ping(&pair.left, "192.168.1.1", "192.168.2.1", 15),
        "no traffic after the address came back:\n{}",
        pair.left_gw.log_text()
    );
    let log = pair.left_gw.log_text();
    assert_eq!(log.matches(failed).count(), 1, "{log}");
    assert!(log.contains("is that address still on this host"), "{log}");
    assert_eq!(
        log.matches("sending ESP from 10.0.0.1 works again").count(),
        1,
        "{log}"
    );
    // The SAs were kept: one Quick Mode in the whole run.
    assert_eq!(log.matches("ESP SAs installed").count(), 1, "{log}");
}

#[test]
fn unwritable_admin_token_file_is_explained_at_start() {
    if !require_root() || !common::require_programs(&["setpriv"]) {
        return;
    }
    let ns = Netns::new("ftok");
    ns.add_lo_addr("10.0.0.1/32");
    let dir = TempDir::new("ftoken");
    // A root-owned 0755 directory: the unprivileged gateway can read but not create files.
    let etc = dir.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let token = etc.join("admin.token");
    let config = dir.join("c.yaml");
    std::fs::write(
        &config,
        format!(
            "admin:\n  listen: 127.0.0.1:8080\n  token-file: {}\ninterfaces:\n  ipsec0:\n    ipv4: {{ source: 10.0.0.1, destination: 10.0.0.2 }}\n    preshared-key: Oozi2shahgh7eequ\n    ike:\n      version: 2\n",
            token.display()
        ),
    )
    .unwrap();
    let caps = "-all,+net_admin,+net_raw,+net_bind_service";
    let (inh, amb, bnd) = (
        format!("--inh-caps={caps}"),
        format!("--ambient-caps={caps}"),
        format!("--bounding-set={caps}"),
    );
    let argv = common::ikegate::with_tun_node(
        &dir,
        0o666,
        &[
            "setpriv",
            "--reuid=10001",
            "--regid=10001",
            "--clear-groups",
            &inh,
            &amb,
            &bnd,
            "--",
            common::ikegate::bin(),
            "run",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let out = ns.command(&argv[0]).args(&argv[1..]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let what = format!(
        "the admin token file {} does not exist and cannot be created",
        token.display()
    );
    assert_eq!(err.matches(&what).count(), 1, "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(err.contains("writable by uid 10001"), "{err}");
    assert!(
        err.contains("point admin.token-file at a writable place"),
        "{err}"
    );
    assert!(!token.exists());
}
