//! Remote access with RADIUS as the user directory (issue 13), as root: ikegate's
//! remote-access interface asks a real FreeRADIUS 3.2 (its own namespace, reached over a veth
//! from the gateway's) about every login. IKEv1 XAUTH goes out as PAP: vpnc 0.5.3 and
//! strongSwan 5.9 xauth-generic at once. IKEv2 EAP-MSCHAPv2 is relayed round by round (RFC
//! 3579) with the MSK from the MS-MPPE keys: strongSwan 5.9 and 6.1 at once. Each client gets
//! its own pool address and pings a host behind the gateway and the other client; a wrong
//! password is refused on both sides with the user and "rejected by RADIUS server" in our
//! log (never the password); with FreeRADIUS stopped the log says the directory is
//! unavailable, naming the server.
//!
//! The IKEv1 and IKEv2 clients use two interfaces of one kind each: one interface cannot yet
//! hold the IKEv1 group key beside the IKEv2 certificate (see the README).
//!
//! Prints "skipping: …" when not root or a program is missing.

mod common;

use common::charon::{Charon, Strongswan};
use common::freeradius::{self, FreeRadius, Options, User};
use common::ikegate::Gateway;
use common::netns::{require_root, veth, Netns, Veth};
use common::ra::{ikev1_xauth_client, ikev2_client, virtual_ip, Ikev1Group, RaPki};
use common::vpnc::{Vpnc, VpncConfig};
use common::{poll_opt, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// ikegate's IKE address (on `lo`) and the host behind it.
const GW: &str = "10.0.0.1";
const GW_HOST: &str = "192.168.1.1";
/// The RADIUS link: the gateway's side and the server's.
const RADIUS_LINK: (&str, &str) = ("10.9.0.1", "10.9.0.2");
const RADIUS_SERVER: &str = "10.9.0.2:1812";
const SECRET: &str = "rr-radius-shared-secret";
const GROUP_PSK: &str = "group-psk-rr-Oos7ie";
/// The client links: (gateway side, client side).
const LINKS: [(&str, &str); 2] = [("10.1.0.1", "10.1.0.2"), ("10.2.0.1", "10.2.0.2")];

const USERS: &[User<'static>] = &[
    User {
        name: "alice",
        password: "alice-radius-pw",
        reply_message: "Hello alice",
    },
    User {
        name: "bob",
        password: "bob-radius-pw",
        reply_message: "Hello bob",
    },
];

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && common::require_programs(&["freeradius", "vpnc", "ping", "openssl"])
}

/// The gateway namespace (GW and GW_HOST on lo), one namespace per client, FreeRADIUS in its
/// own namespace behind the RADIUS link.
struct Lab {
    gw: Netns,
    clients: Vec<Netns>,
    radius: FreeRadius,
    _links: Vec<Veth>,
    dir: TempDir,
}

fn lab(tag: &str, default_eap_type: &str) -> Lab {
    let gw = Netns::new(&format!("rr{tag}g"));
    gw.add_lo_addr(&format!("{GW}/32"));
    gw.add_lo_addr(&format!("{GW_HOST}/32"));
    gw.enable_forwarding();
    let mut clients = Vec::new();
    let mut links = Vec::new();
    for (i, (ours, theirs)) in LINKS.iter().enumerate() {
        let ns = Netns::new(&format!("rr{tag}{i}"));
        links.push(veth(
            &gw,
            &[&format!("{ours}/24")],
            &ns,
            &[&format!("{theirs}/24")],
        ));
        ns.add_route(&format!("{GW}/32"), Some(ours), None);
        clients.push(ns);
    }
    eprintln!("FreeRADIUS: {}", freeradius::version());
    let radius = FreeRadius::start_with(&Options {
        secret: SECRET,
        users: USERS,
        clients: "10.9.0.0/24",
        default_eap_type,
        ns_prefix: &format!("rr{tag}r"),
    });
    let (ours, theirs) = RADIUS_LINK;
    links.push(veth(
        &gw,
        &[&format!("{ours}/24")],
        radius.netns(),
        &[&format!("{theirs}/24")],
    ));
    let dir = TempDir::new(&format!("rr-{tag}"));
    let key = dir.join("radius.key");
    std::fs::write(&key, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    Lab {
        gw,
        clients,
        radius,
        _links: links,
        dir,
    }
}

/// The gateway at `RUST_LOG=trace` (a password or the shared secret must not show even there).
fn gateway(lab: &Lab, yaml: &str) -> Gateway {
    let config = lab.dir.join("gw.yaml");
    std::fs::write(&config, yaml).unwrap();
    let argv = [
        common::ikegate::bin(),
        "run",
        "--config",
        config.to_str().unwrap(),
    ];
    let env = [("RUST_LOG", "trace")];
    Gateway::spawn(
        &lab.gw,
        &lab.dir,
        "gw",
        config.clone(),
        &argv,
        &env,
        Some("ipsec-ra0"),
    )
}

/// The `radius:` block: FreeRADIUS, 1 s then 2 s (two tries) before it counts as unavailable.
fn radius_yaml(dir: &TempDir) -> String {
    format!(
        "      radius: {{ server: {RADIUS_SERVER}, secret-file: {}, timeout: 1, retries: 1 }}\n",
        dir.join("radius.key").display()
    )
}

fn context(gw: &Gateway, lab: &Lab, clients: &[String]) -> String {
    let mut s = gw.log_text();
    for c in clients {
        s += &common::tail(c, 40);
    }
    s + "\nFreeRADIUS:\n" + &lab.radius.log_tail()
}

/// The pool and a host of the gateway in one prefix (IKEv1 carries one selector pair per SA).
const V1_NETS: &str = "10.8.0.0/23";
const V1_HOST: &str = "10.8.1.1";

fn ikev1_yaml(dir: &TempDir) -> String {
    format!(
        "interfaces:\n  ipsec-ra0:\n    ipv4: {{ source: {GW}, destination: dynamic }}\n    \
         preshared-key: {GROUP_PSK}\n    responder-only: enable\n    ike:\n      \
         exchange-mode: aggressive\n      my-identifier: {{ fqdn: gw.example.net }}\n      \
         proposal:\n        phase1:\n          encryption: [aes256, aes128]\n          \
         hash: [sha1, sha256]\n          dh-group: modp2048\n        phase2:\n          \
         encryption: [aes256, aes128]\n          authentication: [hmac-sha1, hmac-sha256]\n    \
         remote-access:\n      pool: {{ ipv4: 10.8.0.0/24 }}\n      \
         split-include: [{V1_NETS}]\n      auth: xauth\n{}",
        radius_yaml(dir)
    )
}

fn vpnc_cfg(user: &str, password: &str) -> VpncConfig {
    let mut v = VpncConfig::new(GW, "vpngroup", GROUP_PSK, user, password);
    v.dh = "dh14".into();
    v.pfs = "nopfs".into();
    v
}

/// IKEv1 XAUTH through FreeRADIUS (PAP): vpnc as alice and strongSwan 5.9 as bob at once,
/// each pinging the gateway's host and the other; then a wrong password (refused, the log
/// names alice and the server's rejection, not the password) and FreeRADIUS stopped (the
/// directory unavailable, naming the server).
#[test]
fn xauth_clients_log_in_through_freeradius() {
    if !can_run() {
        return;
    }
    let mut lab = lab("1", "md5");
    lab.gw.add_lo_addr(&format!("{V1_HOST}/32"));
    let mut gw = gateway(&lab, &ikev1_yaml(&lab.dir));
    let (vpnc_ns, bob_ns) = (&lab.clients[0], &lab.clients[1]);
    let mut vpnc = Vpnc::start(vpnc_ns, &vpnc_cfg("alice", "alice-radius-pw"));
    let group = Ikev1Group {
        gateway_id: "gw.example.net",
        psk: GROUP_PSK,
    };
    let bob = ikev1_xauth_client(bob_ns, GW, &group, ("bob", "bob-radius-pw"), true, V1_NETS);
    let ctx = |v: &Vpnc, c: &Charon| context(&gw, &lab, &[v.log(), c.log()]);
    let lease = vpnc
        .wait_connected(Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("vpnc: {e}\n{}", ctx(&vpnc, &bob)));
    if let Err(e) = bob.initiate("net") {
        panic!("{e}\n{}", ctx(&vpnc, &bob));
    }
    let bob_ip = virtual_ip(&bob);
    let alice_ip = lease.address.to_string();
    assert_ne!(alice_ip, bob_ip);
    assert!(alice_ip.starts_with("10.8.0.") && bob_ip.starts_with("10.8.0."));
    bob_ns.wait_ping(V1_HOST, Duration::from_secs(10), || ctx(&vpnc, &bob));
    bob_ns.wait_ping(&alice_ip, Duration::from_secs(10), || ctx(&vpnc, &bob));
    vpnc_ns.wait_ping(V1_HOST, Duration::from_secs(10), || ctx(&vpnc, &bob));
    vpnc_ns.wait_ping(&bob_ip, Duration::from_secs(10), || ctx(&vpnc, &bob));
    let log = gw.log_text();
    for user in ["alice", "bob"] {
        assert!(log.contains(&format!("user \"{user}\"")), "{log}");
    }
    // What the server saw: the NAS attributes of the gateway.
    let fr = lab.radius.log();
    for attr in [
        "NAS-Identifier = \"ipsec-ra0\"",
        "Calling-Station-Id = \"10.1.0.2\"",
        "Calling-Station-Id = \"10.2.0.2\"",
        "Service-Type = Framed-User",
        "NAS-Port-Type = Virtual",
    ] {
        assert!(fr.contains(attr), "FreeRADIUS did not see {attr}:\n{fr}");
    }
    assert!(vpnc.disconnect(), "vpnc did not exit on SIGTERM");

    let mut bad = Vpnc::start(vpnc_ns, &vpnc_cfg("alice", "Wr0ng-rr-guess"));
    let status = bad.wait_exit(Duration::from_secs(20));
    assert!(status.is_some_and(|s| !s.success()), "{}", bad.log());
    let want = format!("user \"alice\" rejected by RADIUS server {RADIUS_SERVER} (Access-Reject");
    assert!(gw.wait_log(&want, 5), "{}", context(&gw, &lab, &[]));
    assert!(gw.log_text().contains("Login refused for alice"));

    lab.radius.stop();
    let mut late = Vpnc::start(vpnc_ns, &vpnc_cfg("alice", "alice-radius-pw"));
    let status = late.wait_exit(Duration::from_secs(30));
    assert!(status.is_some_and(|s| !s.success()), "{}", late.log());
    let want = format!("the user directory could not answer: RADIUS server {RADIUS_SERVER} did not answer 2 Access-Requests");
    assert!(gw.wait_log(&want, 5), "{}", gw.log_text());
    let (_, text) = gw.stop();
    print_logins(&text);
    for secret in ["Wr0ng-rr-guess", "alice-radius-pw", SECRET] {
        assert!(!text.contains(secret), "the log shows a secret:\n{text}");
    }
}

/// The gateway's login lines, for the record.
fn print_logins(log: &str) {
    for l in log
        .lines()
        .filter(|l| l.contains("logged in") || l.contains("RADIUS"))
    {
        eprintln!("{l}");
    }
}

fn ikev2_yaml(dir: &TempDir, pki: &RaPki) -> String {
    format!(
        "interfaces:\n  ipsec-ra0:\n    ipv4: {{ source: {GW}, destination: dynamic }}\n    \
         responder-only: enable\n    ike:\n      version: 2\n{}    remote-access:\n      \
         pool: {{ ipv4: 10.8.0.0/24 }}\n      split-include: [192.168.1.0/24, 10.8.0.0/24]\n      \
         auth: eap-mschapv2\n{}",
        pki.yaml(),
        radius_yaml(dir)
    )
}

/// IKEv2 EAP-MSCHAPv2 relayed to FreeRADIUS: strongSwan 5.9 (alice) and 6.1 (bob) at once,
/// the AUTH payloads keyed by the MSK from the MS-MPPE keys; each pings the host behind the
/// gateway and the other. Then a wrong password: EAP fails at the client, our log names the
/// user and the server's rejection.
#[test]
fn eap_mschapv2_clients_log_in_through_freeradius() {
    if !can_run() {
        return;
    }
    let lab = lab("2", "mschapv2");
    let pki = RaPki::new(lab.dir.path(), GW);
    let mut gw = gateway(&lab, &ikev2_yaml(&lab.dir, &pki));
    let nets = "192.168.1.0/24,10.8.0.0/24";
    let who = [
        (Strongswan::Debian59, "alice", "alice-radius-pw"),
        (Strongswan::Sid61, "bob", "bob-radius-pw"),
    ];
    let charons: Vec<Charon> = who
        .iter()
        .enumerate()
        .map(|(i, (s, user, pw))| {
            let at = (LINKS[i].1, GW, nets);
            let cfg = ikev2_client(*s, at, "eap-mschapv2", (user, pw), Some(&pki));
            Charon::start(&lab.clients[i], cfg)
        })
        .collect();
    let ctx = || {
        context(
            &gw,
            &lab,
            &charons.iter().map(Charon::log).collect::<Vec<_>>(),
        )
    };
    for ch in &charons {
        if let Err(e) = ch.initiate("net") {
            panic!("{e}\n{}", ctx());
        }
    }
    let vips: Vec<String> = charons.iter().map(virtual_ip).collect();
    assert_ne!(vips[0], vips[1], "{}", ctx());
    for (i, ns) in lab.clients.iter().enumerate() {
        assert!(vips[i].starts_with("10.8.0."), "{vips:?}");
        ns.wait_ping(GW_HOST, Duration::from_secs(10), ctx);
        ns.ping_ok(&vips[1 - i], 3, ctx);
    }
    let log = gw.log_text();
    for (user, vip) in [("alice", &vips[0]), ("bob", &vips[1])] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("user \"{user}\"")) && l.contains("logged in"));
        assert!(line.is_some_and(|l| l.contains(vip.as_str())), "{log}");
    }
    assert!(
        lab.radius.log().contains("MS-MPPE-Recv-Key"),
        "{}",
        lab.radius.log_tail()
    );

    charons[0]
        .terminate("gw")
        .unwrap_or_else(|e| charons[0].fail(&e));
    let at = (LINKS[0].1, GW, nets);
    let cfg = ikev2_client(
        Strongswan::Debian59,
        at,
        "eap-mschapv2",
        ("alice", "Wr0ng-rr-guess"),
        Some(&pki),
    );
    drop(charons);
    let wrong = Charon::start(&lab.clients[0], cfg);
    assert!(wrong.initiate("net").is_err(), "{}", wrong.log());
    let clog = wrong.log();
    assert!(
        clog.contains("EAP_FAILURE") || clog.contains("AUTHENTICATION_FAILED"),
        "{clog}"
    );
    let want = format!("user \"alice\" rejected by RADIUS server {RADIUS_SERVER}");
    let found = poll_opt(Duration::from_secs(5), || {
        gw.log_text().contains(&want).then_some(())
    });
    assert!(found.is_some(), "{}", context(&gw, &lab, &[clog]));
    let (_, text) = gw.stop();
    print_logins(&text);
    for secret in ["Wr0ng-rr-guess", "alice-radius-pw", SECRET] {
        assert!(!text.contains(secret), "the log shows a secret:\n{text}");
    }
}
