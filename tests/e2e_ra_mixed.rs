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
use common::netns::require_root;
use common::ra::{add_user, eap_client, virtual_ip, xauth_client, GatewayPki, RaLab};
use common::vpnc::{Vpnc, VpncConfig};

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
fn lab(n: usize) -> RaLab {
    RaLab::new("rm", "10.4", n, GW, RA_HOST)
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
    for (ch, mode) in charons.iter().zip(["Aggressive", "Aggressive", "Main"]) {
        let log = ch.log();
        assert!(log.contains(&format!("initiating {mode} Mode")), "{log}");
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

/// The gateway's IPv6 host, behind it on `lo`.
const V6_HOST: &str = "fd00:9::1";

/// IPv4 and IPv6 virtual addresses: a pool with `ipv6:`, a strongSwan 5.9 IKEv2 client asking
/// for both (`vips = 0.0.0.0,::`) gets one of each and reaches the gateway's IPv4 and IPv6 hosts
/// through them; the host behind the gateway reaches the client's IPv6 address.
#[test]
fn an_ikev2_client_gets_an_ipv4_and_an_ipv6_address_and_pings_both_ways() {
    if !can_run() {
        return;
    }
    let lab = lab(1);
    lab.gw.add_lo_addr(&format!("{V6_HOST}/128"));
    let pki = GatewayPki::new(lab.dir.path(), GW);
    let users = lab.dir.join("users");
    add_user(&users, "alice", "alice-pass-1", &[]);
    let yaml = gateway_yaml(&users, &pki)
        .replace(
            "pool: { ipv4: 10.8.0.0/24 }",
            "pool: { ipv4: 10.8.0.0/24, ipv6: fd00:8::/112 }",
        )
        .replace(
            &format!("split-include: [{RA_NETS}]"),
            &format!("split-include: [{RA_NETS}, fd00:9::/64]"),
        );
    let gw = Gateway::start(&lab.gw, &lab.dir, "gw", &yaml, Some("ipsec-ra0"));
    let mut cfg = eap_client(
        Strongswan::Debian59,
        "10.40.0.2",
        GW,
        &format!("{RA_NETS},fd00:9::/64"),
        "eap-mschapv2",
        ("alice", "alice-pass-1"),
        &pki,
    );
    cfg.extra_conn.retain(|l| !l.starts_with("vips"));
    cfg.extra_conn.push("vips = 0.0.0.0,::".into());
    let ch = Charon::start(&lab.clients[0], cfg);
    initiate_all(std::slice::from_ref(&ch), &gw);
    let context = || {
        format!(
            "{}\ngateway:\n{}",
            common::tail(&ch.log(), 80),
            gw.log_text()
        )
    };
    let vips = common::ra::virtual_ips(&ch, 2);
    let v4 = vips.iter().find(|v| v.starts_with("10.8.0."));
    let v6 = vips.iter().find(|v| v.starts_with("fd00:8::"));
    let (Some(_), Some(v6)) = (v4, v6) else {
        panic!(
            "want a 10.8.0.x and an fd00:8:: address, got {vips:?}\n{}",
            context()
        );
    };
    let ns = &lab.clients[0];
    ns.wait_ping(RA_HOST, Duration::from_secs(10), context);
    ns.wait_ping(V6_HOST, Duration::from_secs(10), context);
    let out = lab.gw.exec(&[
        "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-I", V6_HOST, v6,
    ]);
    assert!(
        out.status.success(),
        "ping {v6} from {V6_HOST}: {out:?}\n{}",
        context()
    );
    let log = gw.log_text();
    assert!(log.contains(&format!("Some({v6})")), "{log}");
}
