//! Remote access with RADIUS as the user directory (issue 13), as root: ONE ikegate
//! remote-access interface (`auth: [xauth, eap-mschapv2]`, a group key for the IKEv1 clients
//! beside the certificate the IKEv2 clients check) asks a real FreeRADIUS 3.2 (its own
//! namespace, reached over a veth from the gateway's) about every login. At the same time:
//! vpnc 0.5.3 and strongSwan 5.9 `xauth-generic` (IKEv1 XAUTH, sent to the server as PAP),
//! strongSwan 5.9 and 6.1 EAP-MSCHAPv2 (IKEv2 EAP relayed round by round, RFC 3579, the MSK
//! from the MS-MPPE keys). Each client gets its own pool address and pings the gateway's host
//! and a client of the other IKE version; a wrong password is refused on both sides with the
//! user and "rejected by RADIUS server" in our log (never the password, the gateway at
//! `RUST_LOG=trace`); with FreeRADIUS stopped the log says the directory is unavailable,
//! naming the server.
//!
//! Prints "skipping: …" when not root or a program is missing.

mod common;

use common::charon::{Charon, Strongswan};
use common::freeradius::{self, FreeRadius, Options, User};
use common::ikegate::Gateway;
use common::netns::{require_root, veth};
use common::ra::{eap_client, virtual_ip, xauth_client, GatewayPki, RaLab};
use common::vpnc::{Vpnc, VpncConfig};
use common::{poll_opt, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// ikegate's IKE address (on `lo`).
const GW: &str = "10.0.0.1";
/// The pool and the gateway's host in one prefix (IKEv1 carries one selector pair per SA).
const RA_NETS: &str = "10.8.0.0/23";
const RA_HOST: &str = "10.8.1.1";
/// The RADIUS link: the gateway's side and the server's.
const RADIUS_LINK: (&str, &str) = ("10.9.0.1", "10.9.0.2");
const RADIUS_SERVER: &str = "10.9.0.2:1812";
const SECRET: &str = "rr-radius-shared-secret";
const GROUP_PSK: &str = "group-psk-rr-Oos7ie";
const WRONG: &str = "Wr0ng-rr-guess";

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
    User {
        name: "carol",
        password: "carol-radius-pw",
        reply_message: "Hello carol",
    },
    User {
        name: "dave",
        password: "dave-radius-pw",
        reply_message: "Hello dave",
    },
];

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && common::require_programs(&["freeradius", "vpnc", "ping", "openssl"])
}

/// The gateway namespace (GW and RA_HOST on lo), client i on its own veth (10.5{i}.0.2, the
/// gateway 10.5{i}.0.1), FreeRADIUS in its own namespace behind the RADIUS link.
struct Lab {
    base: RaLab,
    radius: FreeRadius,
}

impl std::ops::Deref for Lab {
    type Target = RaLab;
    fn deref(&self) -> &RaLab {
        &self.base
    }
}

fn lab(n: usize) -> Lab {
    let mut base = RaLab::new("rr", "10.5", n, GW, RA_HOST);
    eprintln!("FreeRADIUS: {}", freeradius::version());
    let radius = FreeRadius::start_with(&Options {
        secret: SECRET,
        users: USERS,
        clients: "10.9.0.0/24",
        default_eap_type: "mschapv2",
        ns_prefix: "rrr",
    });
    let (ours, theirs) = RADIUS_LINK;
    base.links.push(veth(
        &base.gw,
        &[&format!("{ours}/24")],
        radius.netns(),
        &[&format!("{theirs}/24")],
    ));
    let key = base.dir.join("radius.key");
    std::fs::write(&key, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    Lab { base, radius }
}

/// One interface serving both IKE versions, users from FreeRADIUS: 1 s then 2 s (two tries)
/// before the server counts as unavailable.
fn gateway_yaml(dir: &TempDir, pki: &GatewayPki) -> String {
    format!(
        "interfaces:\n  ipsec-ra0:\n    ipv4: {{ source: {GW}, destination: dynamic }}\n    \
         preshared-key: {GROUP_PSK}\n    responder-only: enable\n    ike:\n      version: 2\n\
         {}      proposal:\n        phase2:\n          \
         encryption: [aes256, aes128]\n          authentication: [hmac-sha256, hmac-sha1]\n    \
         remote-access:\n      pool: {{ ipv4: 10.8.0.0/24 }}\n      \
         split-include: [{RA_NETS}]\n      auth: [xauth, eap-mschapv2]\n      \
         radius: {{ server: {RADIUS_SERVER}, secret-file: {}, timeout: 1, retries: 1 }}\n",
        pki.yaml(),
        dir.join("radius.key").display()
    )
}

/// The gateway at `RUST_LOG=trace` (a password or the shared secret must not show even there).
fn gateway(lab: &Lab, yaml: &str) -> Gateway {
    Gateway::start_logged(&lab.gw, &lab.dir, "gw", yaml, Some("ipsec-ra0"), "trace")
}

fn vpnc_cfg(user: &str, password: &str) -> VpncConfig {
    let mut v = VpncConfig::new(GW, "vpngroup", GROUP_PSK, user, password);
    v.dh = "dh14".into();
    v.pfs = "nopfs".into();
    v
}

fn context(gw: &Gateway, lab: &Lab, clients: &[String]) -> String {
    let mut s = gw.log_text();
    for c in clients {
        s += &common::tail(c, 40);
    }
    s + "\nFreeRADIUS:\n" + &lab.radius.log_tail()
}

/// The gateway's login lines, for the record.
fn print_logins(log: &str) {
    for l in log
        .lines()
        .filter(|l| l.contains("logged in") || l.contains("login failed"))
    {
        eprintln!("{l}");
    }
}

/// `swanctl --initiate` of every client at once; panics with the logs when one fails.
fn initiate_all(charons: &[Charon], ctx: impl Fn() -> String) {
    std::thread::scope(|s| {
        let runs: Vec<_> = charons
            .iter()
            .map(|ch| s.spawn(move || ch.initiate("net")))
            .collect();
        for r in runs {
            if let Err(e) = r.join().unwrap() {
                panic!("{e}\n{}", ctx());
            }
        }
    });
}

#[test]
fn ikev1_and_ikev2_clients_log_in_through_freeradius_on_one_interface() {
    if !can_run() {
        return;
    }
    let mut lab = lab(4);
    let pki = GatewayPki::new(lab.dir.path(), GW);
    let mut gw = gateway(&lab, &gateway_yaml(&lab.dir, &pki));
    let ns = |i: usize| &lab.base.clients[i];
    let mut vpnc = Vpnc::start(ns(0), &vpnc_cfg("alice", "alice-radius-pw"));
    let at = |i: usize| format!("10.5{i}.0.2");
    let bob = xauth_client(
        &at(1),
        GW,
        GW,
        GROUP_PSK,
        RA_NETS,
        ("bob", "bob-radius-pw"),
        true,
        true,
    );
    let eap = |i: usize, s: Strongswan, user: &str, pw: &str| {
        eap_client(s, &at(i), GW, RA_NETS, "eap-mschapv2", (user, pw), &pki)
    };
    let charons = vec![
        Charon::start(ns(1), bob),
        Charon::start(
            ns(2),
            eap(2, Strongswan::Debian59, "carol", "carol-radius-pw"),
        ),
        Charon::start(ns(3), eap(3, Strongswan::Sid61, "dave", "dave-radius-pw")),
    ];
    let logs = |v: &Vpnc| {
        let mut l: Vec<String> = charons.iter().map(Charon::log).collect();
        l.push(v.log());
        l
    };
    let lease = vpnc
        .wait_connected(Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("vpnc: {e}\n{}", context(&gw, &lab, &logs(&vpnc))));
    initiate_all(&charons, || context(&gw, &lab, &logs(&vpnc)));
    let alice = lease.address.to_string();
    let [bob, carol, dave] = [0, 1, 2].map(|i| virtual_ip(&charons[i]));
    let all = [&alice, &bob, &carol, &dave];
    for (i, a) in all.iter().enumerate() {
        assert!(a.starts_with("10.8.0."), "{all:?}");
        assert!(!all[i + 1..].contains(a), "an address given twice: {all:?}");
    }
    // Each pings the gateway's host and a client of the other IKE version.
    let ctx = || context(&gw, &lab, &logs(&vpnc));
    for (i, other) in [(0, &carol), (1, &dave), (2, &alice), (3, &bob)] {
        ns(i).wait_ping(RA_HOST, Duration::from_secs(10), ctx);
        ns(i).wait_ping(other, Duration::from_secs(10), ctx);
    }
    let log = gw.log_text();
    for (user, vip) in [
        ("alice", &alice),
        ("bob", &bob),
        ("carol", &carol),
        ("dave", &dave),
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("user \"{user}\"")) && l.contains("logged in"));
        assert!(line.is_some_and(|l| l.contains(vip.as_str())), "{log}");
    }
    // What the server saw: the gateway's NAS attributes, and MPPE keys for the EAP logins.
    let fr = lab.radius.log();
    for attr in [
        "NAS-Identifier = \"ipsec-ra0\"",
        "Calling-Station-Id = \"10.50.0.2\"",
        "Calling-Station-Id = \"10.53.0.2\"",
        "Service-Type = Framed-User",
        "NAS-Port-Type = Virtual",
        "MS-MPPE-Recv-Key",
    ] {
        assert!(fr.contains(attr), "FreeRADIUS did not see {attr}:\n{fr}");
    }
    assert!(vpnc.disconnect(), "vpnc did not exit on SIGTERM");

    // Wrong passwords: vpnc (PAP) and strongSwan 5.9 (EAP-MSCHAPv2).
    let mut bad = Vpnc::start(ns(0), &vpnc_cfg("alice", WRONG));
    let status = bad.wait_exit(Duration::from_secs(20));
    assert!(status.is_some_and(|s| !s.success()), "{}", bad.log());
    let want = format!("user \"alice\" rejected by RADIUS server {RADIUS_SERVER} (Access-Reject");
    assert!(gw.wait_log(&want, 5), "{}", context(&gw, &lab, &[]));
    assert!(gw.log_text().contains("Login refused for alice"));
    charons[1]
        .terminate("gw")
        .unwrap_or_else(|e| charons[1].fail(&e));
    drop(charons);
    let wrong = Charon::start(ns(2), eap(2, Strongswan::Debian59, "carol", WRONG));
    assert!(wrong.initiate("net").is_err(), "{}", wrong.log());
    let clog = wrong.log();
    assert!(
        clog.contains("EAP_FAILURE") || clog.contains("AUTHENTICATION_FAILED"),
        "{clog}"
    );
    let want = format!("user \"carol\" rejected by RADIUS server {RADIUS_SERVER}");
    let found = poll_opt(Duration::from_secs(5), || {
        gw.log_text().contains(&want).then_some(())
    });
    assert!(found.is_some(), "{}", context(&gw, &lab, &[clog]));

    // FreeRADIUS stopped: the directory is unavailable, the server named.
    lab.radius.stop();
    let mut late = Vpnc::start(ns(0), &vpnc_cfg("alice", "alice-radius-pw"));
    let status = late.wait_exit(Duration::from_secs(30));
    assert!(status.is_some_and(|s| !s.success()), "{}", late.log());
    let want = format!(
        "the user directory could not answer: RADIUS server {RADIUS_SERVER} did not answer 2 \
         Access-Requests"
    );
    assert!(gw.wait_log(&want, 5), "{}", gw.log_text());
    let (_, text) = gw.stop();
    print_logins(&text);
    for secret in [WRONG, "alice-radius-pw", "carol-radius-pw", SECRET] {
        assert!(!text.contains(secret), "the log shows a secret:\n{text}");
    }
}
