//! IKEv1 and IKEv2 remote-access clients at the same time on ONE ikegate interface (issue 13's
//! headline), as root: `auth: [xauth, eap-mschapv2]`, users from a users file written with
//! `ikegate users add`, a group pre-shared key for the IKEv1 clients beside the certificate the
//! IKEv2 clients check. The clients: vpnc 0.5.3 (Aggressive Mode, XAUTH, mode-config pull),
//! strongSwan 5.9 IKEv1 `xauth-generic` with `pull = yes`, with `pull = no` (push) and in Main
//! Mode (`aggressive = no`), strongSwan 5.9 and 6.1 IKEv2 EAP-MSCHAPv2. Each gets its own pool
//! address and pings a host behind the gateway and a client of the other IKE version.
//! Prints "skipping: …" when not root or a client is missing.

mod common;

use std::time::Duration;

use common::charon::{Charon, Strongswan};
use common::ikegate::Gateway;
use common::netns::{require_root, veth, Netns, Veth};
use common::ra::{add_user, eap_client, virtual_ip, xauth_client, GatewayPki};
use common::vpnc::{Vpnc, VpncConfig};
use common::TempDir;

/// ikegate's IKE address (on `lo`).
const GW: &str = "10.0.0.1";
const GROUP_PSK: &str = "group-psk-Oow5ahke";
/// The pool and the gateway's host in one prefix (IKEv1 carries one selector pair per SA).
const RA_NETS: &str = "10.8.0.0/23";
const RA_HOST: &str = "10.8.1.1";

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && common::require_programs(&["vpnc", "ping", "openssl"])
}

/// The gateway namespace and `n` client namespaces, client i on its own veth: 10.4{i}.0.2,
/// the gateway 10.4{i}.0.1 on its side.
struct Lab {
    gw: Netns,
    clients: Vec<Netns>,
    _links: Vec<Veth>,
    dir: TempDir,
}

fn lab(n: usize) -> Lab {
    let gw = Netns::new("rmg");
    gw.add_lo_addr(&format!("{GW}/32"));
    gw.add_lo_addr(&format!("{RA_HOST}/32"));
    // Client to client goes in and out of ipsec-ra0: the gateway forwards.
    gw.enable_forwarding();
    let mut clients = Vec::new();
    let mut links = Vec::new();
    for i in 0..n {
        let ns = Netns::new(&format!("rm{i}"));
        let (ours, theirs) = (format!("10.4{i}.0.1"), format!("10.4{i}.0.2"));
        links.push(veth(
            &gw,
            &[&format!("{ours}/24")],
            &ns,
            &[&format!("{theirs}/24")],
        ));
        ns.add_route(&format!("{GW}/32"), Some(&ours), None);
        clients.push(ns);
    }
    Lab {
        gw,
        clients,
        _links: links,
        dir: TempDir::new("rm-mixed"),
    }
}

/// One interface serving both IKE versions.
fn gateway_yaml(users: &std::path::Path, pki: &GatewayPki) -> String {
    format!(
        "interfaces:\n  ipsec-ra0:\n    ipv4: {{ source: {GW}, destination: dynamic }}\n    \
         preshared-key: {GROUP_PSK}\n    responder-only: enable\n    ike:\n      version: 2\n\
         {}      dpd: {{ interval: 5, retries: 3 }}\n      proposal:\n        phase2:\n          \
         encryption: [aes256, aes128]\n          authentication: [hmac-sha256, hmac-sha1]\n    \
         remote-access:\n      pool: {{ ipv4: 10.8.0.0/24 }}\n      dns: [192.0.2.53]\n      \
         split-include: [{RA_NETS}]\n      auth: [xauth, eap-mschapv2]\n      users-file: {}\n",
        pki.yaml(),
        users.display()
    )
}

/// `swanctl --initiate` of every client at once; panics with the logs when one fails.
fn initiate_all(charons: &[Charon], gw: &Gateway) {
    std::thread::scope(|s| {
        let runs: Vec<_> = charons
            .iter()
            .map(|ch| s.spawn(move || ch.initiate("net").map_err(|e| (e, ch.log()))))
            .collect();
        for r in runs {
            if let Err((e, log)) = r.join().unwrap() {
                panic!(
                    "{e}
client:
{log}
gateway:
{}",
                    gw.log_text()
                );
            }
        }
    });
}

/// A client of the mix: its name, IKE version and virtual address.
struct Client {
    who: &'static str,
    ike: u8,
    vip: String,
}

#[test]
fn vpnc_strongswan_ikev1_and_ikev2_clients_at_once_on_one_interface() {
    if !can_run() {
        return;
    }
    let lab = lab(6);
    let pki = GatewayPki::new(lab.dir.path(), GW);
    let users = lab.dir.join("users");
    let names = ["alice", "bob", "carol", "dave", "erin", "frank"];
    for u in names {
        add_user(&users, u, &format!("{u}-pass-1"), &[]);
    }
    let yaml = gateway_yaml(&users, &pki);
    let gw = Gateway::start(&lab.gw, &lab.dir, "gw", &yaml, Some("ipsec-ra0"));
    let local = |i: usize| format!("10.4{i}.0.2");
    let creds = |u: &'static str| (u, format!("{u}-pass-1"));

    let mut vpnc_cfg = VpncConfig::new(GW, "vpngroup", GROUP_PSK, "alice", "alice-pass-1");
    vpnc_cfg.dh = "dh14".into();
    vpnc_cfg.pfs = "nopfs".into();
    let mut vpnc = Vpnc::start(&lab.clients[0], &vpnc_cfg);
    // strongSwan: IKEv1 pull, push, Main Mode (pull); IKEv2 5.9 and 6.1, all initiated at once.
    let v1 = |i: usize, pull: bool, aggressive: bool| {
        let (u, p) = creds(names[i]);
        xauth_client(
            &local(i),
            GW,
            GW,
            GROUP_PSK,
            RA_NETS,
            (u, &p),
            pull,
            aggressive,
        )
    };
    let v2 = |i: usize, s: Strongswan| {
        let (u, p) = creds(names[i]);
        eap_client(s, &local(i), GW, RA_NETS, "eap-mschapv2", (u, &p), &pki)
    };
    let cfgs = vec![
        v1(1, true, true),
        v1(2, false, true),
        v1(3, true, false),
        v2(4, Strongswan::Debian59),
        v2(5, Strongswan::Sid61),
    ];
    // Started here (a child dies with the thread that spawned it), initiated in parallel.
    let charons: Vec<Charon> = cfgs
        .into_iter()
        .enumerate()
        .map(|(i, cfg)| Charon::start(&lab.clients[i + 1], cfg))
        .collect();
    initiate_all(&charons, &gw);
    let lease = vpnc
        .wait_connected(Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("vpnc: {e}\n{}\n{}", vpnc.log(), gw.log_text()));
    let mut clients = vec![Client {
        who: "vpnc (IKEv1 Aggressive, pull)",
        ike: 1,
        vip: lease.address.to_string(),
    }];
    let kinds = [
        ("strongSwan 5.9 IKEv1 pull", 1),
        ("strongSwan 5.9 IKEv1 push", 1),
        ("strongSwan 5.9 IKEv1 Main Mode", 1),
        ("strongSwan 5.9 IKEv2 EAP-MSCHAPv2", 2),
        ("strongSwan 6.1 IKEv2 EAP-MSCHAPv2", 2),
    ];
    for (ch, (who, ike)) in charons.iter().zip(kinds) {
        clients.push(Client {
            who,
            ike,
            vip: virtual_ip(ch),
        });
    }
    let context = || {
        let mut s = format!("vpnc:\n{}\n", common::tail(&vpnc.log(), 40));
        for ch in &charons {
            s += &common::tail(&ch.log(), 40);
        }
        s + "\ngateway:\n" + &gw.log_text()
    };
    let mut vips: Vec<&str> = clients.iter().map(|c| c.vip.as_str()).collect();
    assert!(
        vips.iter().all(|v| v.starts_with("10.8.0.")),
        "{vips:?}\n{}",
        context()
    );
    vips.sort_unstable();
    vips.dedup();
    assert_eq!(vips.len(), clients.len(), "{vips:?}\n{}", context());

    // Each reaches the gateway's host and a client of the other IKE version.
    for (i, c) in clients.iter().enumerate() {
        let ns = &lab.clients[i];
        ns.wait_ping(RA_HOST, Duration::from_secs(10), || {
            format!("{}: {}", c.who, context())
        });
        let other = clients
            .iter()
            .cycle()
            .skip(i + 1)
            .find(|o| o.ike != c.ike)
            .unwrap();
        ns.wait_ping(&other.vip, Duration::from_secs(10), || {
            format!("{} -> {} ({}): {}", c.who, other.who, other.vip, context())
        });
    }
    let log = gw.log_text();
    let logins = |v: &str| {
        log.lines()
            .filter(|l| l.contains("logged in from") && l.contains(v))
            .count()
    };
    assert_eq!((logins("IKEv1"), logins("IKEv2")), (4, 2), "{log}");
    assert!(
        log.contains("mode-config Pull") && log.contains("mode-config Push"),
        "{log}"
    );
    assert!(vpnc.disconnect(), "vpnc did not exit on SIGTERM");
}
