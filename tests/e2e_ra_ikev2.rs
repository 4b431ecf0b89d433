//! IKEv2 remote access against real clients, as root: one ikegate interface (`ipsec-ra0`,
//! `destination: dynamic`, a pool, users from a users file) serving strongSwan 5.9.8 and 6.1
//! as IKEv2 clients with `vips = 0.0.0.0`: EAP-MSCHAPv2 (the gateway proving itself with its
//! certificate), EAP-MD5 and PSK road warriors. Two clients at once each get their own
//! address and ping a host behind the gateway and each other; a wrong password gives
//! AUTHENTICATION_FAILED and a clear line in our log; a reconnecting client gets its address
//! back. Prints "skipping: …" when not root or strongSwan is missing.

mod common;

use common::charon::{Charon, CharonConfig, Strongswan};
use common::ikegate::{api, Gateway};
use common::netns::{require_root, veth, Netns, Veth};
use common::ra::{add_user, eap_client, virtual_ip, GatewayPki};
use common::{poll_opt, TempDir};
use std::time::Duration;

/// ikegate's IKE address (on `lo`) and the host behind it.
const GW: &str = "10.0.0.1";
const GW_HOST: &str = "192.168.1.1";
const POOL: &str = "10.8.0.0/24";
/// The admin API, on the gateway namespace's loopback.
const ADMIN: &str = "127.0.0.1:18190";

/// The client links: (gateway side, client side).
const LINKS: [(&str, &str); 2] = [("10.1.0.1", "10.1.0.2"), ("10.2.0.1", "10.2.0.2")];

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && common::require_programs(&["ping", "openssl"])
}

/// The gateway namespace and one namespace per client, linked by veth pairs.
struct Lab {
    gw: Netns,
    clients: Vec<Netns>,
    _links: Vec<Veth>,
    dir: TempDir,
}

fn lab(tag: &str, n: usize) -> Lab {
    let gw = Netns::new(&format!("rv{tag}g"));
    gw.add_lo_addr(&format!("{GW}/32"));
    gw.add_lo_addr(&format!("{GW_HOST}/32"));
    gw.enable_forwarding();
    let mut clients = Vec::new();
    let mut links = Vec::new();
    for (i, (ours, theirs)) in LINKS.iter().take(n).enumerate() {
        let ns = Netns::new(&format!("rv{tag}{i}"));
        links.push(veth(
            &gw,
            &[&format!("{ours}/24")],
            &ns,
            &[&format!("{theirs}/24")],
        ));
        ns.add_route(&format!("{GW}/32"), Some(ours), None);
        clients.push(ns);
    }
    Lab {
        gw,
        clients,
        _links: links,
        dir: TempDir::new(&format!("rve-{tag}")),
    }
}

/// The interface: `auth` as given, users `alice`/`bob`, the certificate when given.
fn ikegate_yaml(auth: &str, users: &std::path::Path, pki: Option<&GatewayPki>) -> String {
    let cert = pki.map_or_else(String::new, GatewayPki::yaml);
    let users = if auth == "psk" {
        String::new()
    } else {
        format!("      users-file: {}\n", users.display())
    };
    let psk = if pki.is_none() {
        "    preshared-key: \"group secret\"\n"
    } else {
        ""
    };
    format!(
        "interfaces:\n  ipsec-ra0:\n    ipv4: {{ source: {GW}, destination: dynamic }}\n{psk}    responder-only: enable\n    ike:\n      version: 2\n{cert}    remote-access:\n      pool: {{ ipv4: {POOL} }}\n      dns: [10.8.0.53]\n      split-include: [192.168.1.0/24, {POOL}]\n      auth: {auth}\n{users}"
    )
}

/// A client at link `i` logging in as `user` with `method` (`psk`: the group key; EAP: checking
/// the gateway's certificate from `pki`).
fn client_cfg(
    strongswan: Strongswan,
    i: usize,
    method: &str,
    user: &str,
    password: &str,
    pki: Option<&GatewayPki>,
) -> CharonConfig {
    let nets = "192.168.1.0/24,10.8.0.0/24";
    if let Some(pki) = pki {
        return eap_client(
            strongswan,
            LINKS[i].1,
            GW,
            nets,
            method,
            (user, password),
            pki,
        );
    }
    let mut cfg = CharonConfig::ikev2_psk(strongswan, LINKS[i].1, GW, "dynamic", nets);
    cfg.ike_proposals = "aes256-sha256-modp2048-modp1536".into();
    cfg.esp_proposals = "aes256-sha256".into();
    cfg.remote_id = Some(GW.into());
    cfg.extra_conn.push("vips = 0.0.0.0".into());
    assert_eq!(
        method, "psk",
        "an EAP client checks the gateway's certificate"
    );
    cfg.local_id = Some(format!("{user}@example.net"));
    cfg.psk = "group secret".into();
    cfg
}

/// Pings `vip` from the host behind the gateway (the client's child covers that network, not
/// the gateway's own address).
fn ping_from_behind(gw: &Netns, vip: &str, context: impl FnOnce() -> String) {
    let out = gw.exec(&[
        "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", GW_HOST, vip,
    ]);
    assert!(
        out.status.success(),
        "ping {vip} from {GW_HOST}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        context()
    );
}

fn context(gw: &Gateway, charons: &[&Charon]) -> String {
    let mut s = gw.log_text();
    for ch in charons {
        s += &common::tail(&ch.log(), 60);
    }
    s
}

/// strongSwan 5.9 and 6.1 with EAP-MSCHAPv2 at once: each its own address, pings to the host
/// behind the gateway and to each other; then 5.9 reconnects and gets the same address.
#[test]
fn two_eap_mschapv2_clients_share_one_interface_and_keep_their_address() {
    if !can_run() {
        return;
    }
    let lab = lab("m", 2);
    let pki = GatewayPki::new(lab.dir.path(), GW);
    let users = lab.dir.join("users");
    add_user(&users, "alice", "alicePass", &[]);
    add_user(&users, "bob", "bobPass", &[]);
    let yaml = ikegate_yaml("eap-mschapv2", &users, Some(&pki));
    let gw = Gateway::start(&lab.gw, &lab.dir, "gw", &yaml, Some("ipsec-ra0"));
    let who = [
        (Strongswan::Debian59, "alice", "alicePass"),
        (Strongswan::Sid61, "bob", "bobPass"),
    ];
    let charons: Vec<Charon> = who
        .iter()
        .enumerate()
        .map(|(i, (s, u, p))| {
            let cfg = client_cfg(*s, i, "eap-mschapv2", u, p, Some(&pki));
            Charon::start(&lab.clients[i], cfg)
        })
        .collect();
    let refs: Vec<&Charon> = charons.iter().collect();
    for ch in &charons {
        ch.initiate_ok("net");
    }
    let vips: Vec<String> = charons.iter().map(virtual_ip).collect();
    assert_ne!(vips[0], vips[1], "{}", context(&gw, &refs));
    for (i, ns) in lab.clients.iter().enumerate() {
        assert!(vips[i].starts_with("10.8.0."), "{vips:?}");
        ns.wait_ping(GW_HOST, Duration::from_secs(10), || context(&gw, &refs));
        ping_from_behind(&lab.gw, &vips[i], || context(&gw, &refs));
        ns.ping_ok(&vips[1 - i], 3, || context(&gw, &refs));
    }
    let log = gw.log_text();
    for (user, vip) in [("alice", &vips[0]), ("bob", &vips[1])] {
        assert!(
            log.contains(&format!("user \"{user}\"")) && log.contains(vip.as_str()),
            "{log}"
        );
    }
    // Reconnect: the lease is kept for the user.
    charons[0]
        .terminate("gw")
        .unwrap_or_else(|e| charons[0].fail(&e));
    std::thread::sleep(Duration::from_secs(1));
    charons[0].initiate_ok("net");
    let again = virtual_ip(&charons[0]);
    assert_eq!(again, vips[0], "{}", context(&gw, &refs));
    lab.clients[0].wait_ping(GW_HOST, Duration::from_secs(10), || context(&gw, &refs));
}

/// A wrong password: AUTHENTICATION_FAILED to strongSwan, the reason in our log, never the
/// password.
#[test]
fn a_wrong_password_is_refused_with_a_clear_reason() {
    if !can_run() {
        return;
    }
    let lab = lab("w", 1);
    let pki = GatewayPki::new(lab.dir.path(), GW);
    let users = lab.dir.join("users");
    add_user(&users, "alice", "alicePass", &[]);
    let yaml = ikegate_yaml("eap-mschapv2", &users, Some(&pki));
    let mut gw = Gateway::start(&lab.gw, &lab.dir, "gw", &yaml, Some("ipsec-ra0"));
    let cfg = client_cfg(
        Strongswan::Debian59,
        0,
        "eap-mschapv2",
        "alice",
        "Wr0ngGuess",
        Some(&pki),
    );
    let ch = Charon::start(&lab.clients[0], cfg);
    assert!(ch.initiate("net").is_err(), "{}", context(&gw, &[&ch]));
    let log = ch.log();
    assert!(
        log.contains("EAP_FAILURE") || log.contains("AUTHENTICATION_FAILED"),
        "{log}"
    );
    let want = "wrong password for user \"alice\" (eap-mschapv2)";
    assert!(gw.wait_log(want, 5), "{}", context(&gw, &[&ch]));
    let (_, text) = gw.stop();
    assert!(!text.contains("Wr0ngGuess"), "{text}");
}

/// EAP-MD5 (no MSK: AUTH keyed by SK_pi/SK_pr) and a PSK road warrior, strongSwan 5.9.
#[test]
fn eap_md5_and_psk_clients_get_an_address() {
    if !can_run() {
        return;
    }
    for (tag, auth, method) in [("5", "eap-md5", "eap-md5"), ("p", "psk", "psk")] {
        let lab = lab(tag, 1);
        let pki = GatewayPki::new(lab.dir.path(), GW);
        let users = lab.dir.join("users");
        add_user(&users, "alice", "alicePass", &["--eap-md5"]);
        let with_cert = (auth != "psk").then_some(&pki);
        let admin = format!(
            "admin:\n  listen: {ADMIN}\n  token-file: {}\n",
            lab.dir.join("admin.token").display()
        );
        let yaml = admin + &ikegate_yaml(auth, &users, with_cert);
        let gw = Gateway::start(&lab.gw, &lab.dir, "gw", &yaml, Some("ipsec-ra0"));
        let cfg = client_cfg(
            Strongswan::Debian59,
            0,
            method,
            "alice",
            "alicePass",
            with_cert,
        );
        let ch = Charon::start(&lab.clients[0], cfg);
        ch.initiate_ok("net");
        let vip = virtual_ip(&ch);
        assert!(vip.starts_with("10.8.0."), "{vip}");
        lab.clients[0].wait_ping(GW_HOST, Duration::from_secs(10), || context(&gw, &[&ch]));
        ping_from_behind(&lab.gw, &vip, || context(&gw, &[&ch]));
        if auth == "psk" {
            admin_lists_and_disconnects(&lab, &gw, &ch, &vip);
        }
    }
}

/// The admin API lists the client (identity, address, bytes), `/metrics` counts it, and a
/// DELETE disconnects it: charon's IKE SA goes, the API lists nobody.
fn admin_lists_and_disconnects(lab: &Lab, gw: &Gateway, ch: &Charon, vip: &str) {
    let token = lab.dir.join("admin.token");
    let api = |method: &str, path: &str| api(&lab.gw, ADMIN, &token, method, path);
    let listed = poll_opt(Duration::from_secs(10), || {
        let (code, body) = api("GET", "/api/v1/remote-access/ipsec-ra0");
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let c = v["clients"].get(0)?;
        (code == 200 && c["bytes_in"].as_u64()? > 0).then(|| c.clone())
    })
    .unwrap_or_else(|| panic!("the API never listed the client\n{}", context(gw, &[ch])));
    assert_eq!(listed["virtual_ips"][0], vip, "{listed}");
    assert_eq!(
        listed["identity"], "user-fqdn:alice@example.net",
        "{listed}"
    );
    assert_eq!(listed["user"], "alice@example.net", "{listed}");
    assert_eq!(listed["ike_version"], 2, "{listed}");
    let (_, metrics) = api("GET", "/metrics");
    assert!(
        metrics.contains("ikegate_ra_clients{interface=\"ipsec-ra0\"} 1"),
        "{metrics}"
    );
    let id = listed["id"].as_u64().unwrap();
    let (code, body) = api(
        "DELETE",
        &format!("/api/v1/remote-access/ipsec-ra0/clients/{id}"),
    );
    assert_eq!(code, 200, "{body}\n{}", context(gw, &[ch]));
    ch.wait_ike_gone("gw", Duration::from_secs(10));
    let (_, body) = api("GET", "/api/v1/remote-access/ipsec-ra0");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["clients"].as_array().map(Vec::len), Some(0), "{v}");
    assert!(
        gw.log_text().contains("disconnected by the admin"),
        "{}",
        gw.log_text()
    );
}
