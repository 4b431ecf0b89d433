//! Road warriors, as root: two strongSwan clients whose addresses ikegate is not told
//! (`destination: dynamic`) connect with Aggressive Mode to the same ikegate address, from two
//! addresses or both from behind one NAT box (one public address). Each tunnel has its own
//! pre-shared key and proxy-ids; the identity in message 1 picks the tunnel (and so the key),
//! and both tunnels carry pings. Also ours ⇄ ours over raw ESP.

mod common;

use common::charon::{Charon, CharonConfig};
use common::ikegate::Gateway;
use common::netns::{require_root, veth, Netns};
use common::{poll_opt, TempDir};
use std::time::Duration;

/// ikegate's IKE address (on `lo`, reached over either link).
const GW: &str = "10.0.0.1";
const GW_LAN: &str = "192.168.0.0/24";
const GW_HOST: &str = "192.168.0.1";

/// One client: its link, identity, key and inner network.
struct Client {
    name: &'static str,
    /// Our side and its side of the link.
    link: (&'static str, &'static str),
    id: &'static str,
    psk: &'static str,
    lan: &'static str,
    host: &'static str,
}

const CLIENTS: [Client; 2] = [
    Client {
        name: "ipsec0",
        link: ("10.1.0.1", "10.1.0.2"),
        id: "alice.example.net",
        psk: "alice-Oochai4u",
        lan: "192.168.11.0/24",
        host: "192.168.11.1",
    },
    Client {
        name: "ipsec1",
        link: ("10.2.0.1", "10.2.0.2"),
        id: "bob.example.net",
        psk: "bob-ieF3ahvo",
        lan: "192.168.12.0/24",
        host: "192.168.12.1",
    },
];

fn ikegate_yaml(gw: &str) -> String {
    let mut y = String::from("interfaces:\n");
    let mut routes = String::from("route:\n  ipv4:\n");
    for c in &CLIENTS {
        y += &format!(
            "  {}:\n    ipv4: {{ source: {gw}, destination: dynamic }}\n    preshared-key: {}\n    responder-only: enable\n    ike:\n      exchange-mode: aggressive\n      my-identifier: {{ fqdn: gw.example.net }}\n      peers-identifier: {{ fqdn: {} }}\n      dpd: {{ interval: 5, retries: 3 }}\n      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ local: {GW_LAN}, remote: {} }}\n",
            c.name, c.psk, c.id, c.lan
        );
        routes += &format!(
            "    - {{ destination: {}, gateway: {}, source: {GW_HOST} }}\n",
            c.lan, c.name
        );
    }
    y + &routes
}

fn client_cfg(c: &Client, gw: &str) -> CharonConfig {
    let mut cfg = CharonConfig::ikev1_psk(c.link.1, gw, c.lan, GW_LAN);
    cfg.aggressive = true;
    cfg.psk = c.psk.into();
    cfg.local_id = Some(c.id.into());
    cfg.remote_id = Some("gw.example.net".into());
    cfg
}

#[test]
fn road_warriors_are_told_apart_by_identity() {
    if !require_root()
        || !common::charon::require_strongswan()
        || !common::require_programs(&["ping"])
    {
        return;
    }
    let gw_ns = Netns::new("rwg");
    gw_ns.add_lo_addr(&format!("{GW}/32"));
    gw_ns.add_lo_addr(&format!("{GW_HOST}/32"));
    let mut links = Vec::new();
    let mut nss = Vec::new();
    for (i, c) in CLIENTS.iter().enumerate() {
        let ns = Netns::new(&format!("rwc{i}"));
        links.push(veth(
            &gw_ns,
            &[&format!("{}/24", c.link.0)],
            &ns,
            &[&format!("{}/24", c.link.1)],
        ));
        ns.add_route(&format!("{GW}/32"), Some(c.link.0), None);
        ns.add_lo_addr(&format!("{}/32", c.host));
        nss.push(ns);
    }
    connect_both(&gw_ns, GW, &nss, [CLIENTS[0].link.1, CLIENTS[1].link.1]);
}

/// Both clients behind one masquerading NAT box: ikegate sees one address (with different
/// ports) for both, and still puts each into its own tunnel.
#[test]
fn road_warriors_behind_one_nat() {
    if !require_root()
        || !common::charon::require_strongswan()
        || !common::nat::require_nft()
        || !common::require_programs(&["ping"])
    {
        return;
    }
    use common::nat::{NatTopology, LEFT_ADDR, RIGHT_ADDR};
    let topo = NatTopology::new();
    // A second client namespace behind the same NAT box.
    let second = Netns::new("rwn2");
    let _link2 = veth(
        &topo.nat,
        &[&format!("{}/24", NAT2.0)],
        &second,
        &[&format!("{}/24", NAT2.1)],
    );
    second.add_route("default", Some(NAT2.0), None);
    topo.right.add_lo_addr(&format!("{GW_HOST}/32"));
    topo.left.add_lo_addr(&format!("{}/32", CLIENTS[0].host));
    second.add_lo_addr(&format!("{}/32", CLIENTS[1].host));
    let clients = [&topo.left, &second];
    // Charon in each client binds its own address; both reach ikegate from the NAT box's.
    let outside = common::nat::NAT_OUTSIDE;
    connect_both_from(
        &topo.right,
        RIGHT_ADDR,
        &clients,
        [LEFT_ADDR, NAT2.1],
        [outside, outside],
    );
}

/// The NAT box's side and the second client's side of its link.
const NAT2: (&str, &str) = ("10.0.3.1", "10.0.3.2");

/// Starts ikegate in `gw_ns` (IKE on `gw`) and a charon per client namespace, initiates both,
/// and checks each tunnel: chosen by identity, pings both ways.
fn connect_both(gw_ns: &Netns, gw: &str, nss: &[Netns], from: [&str; 2]) {
    let refs: Vec<&Netns> = nss.iter().collect();
    let addrs = [CLIENTS[0].link.1, CLIENTS[1].link.1];
    connect_both_from(gw_ns, gw, &refs, addrs, from);
}

/// [`connect_both`] with the clients' own addresses `addrs` and the addresses ikegate sees
/// them at, `from`.
fn connect_both_from(gw_ns: &Netns, gw: &str, nss: &[&Netns], addrs: [&str; 2], from: [&str; 2]) {
    let dir = TempDir::new("roadwarrior");
    let mut gw_proc = Gateway::start(gw_ns, &dir, "gw", &ikegate_yaml(gw), Some("ipsec1"));
    let charons: Vec<Charon> = CLIENTS
        .iter()
        .zip(nss)
        .zip(addrs)
        .map(|((c, ns), a)| {
            let mut cfg = client_cfg(c, gw);
            cfg.local_addrs = a.into();
            Charon::start(ns, cfg)
        })
        .collect();
    let ctx = |charons: &[Charon], gw: &Gateway| {
        let mut s = gw.log_text();
        for ch in charons {
            s += &common::tail(&ch.log(), 40);
        }
        s
    };
    for ch in &charons {
        ch.initiate_ok("net");
        ch.wait_child_installed("net", Duration::from_secs(10));
    }
    for ((c, ns), seen) in CLIENTS.iter().zip(nss).zip(from) {
        let log = gw_proc.log_text();
        assert!(
            log.contains(&format!(
                "Aggressive Mode from {seen} with identity fqdn:{}: tunnel {}",
                c.id, c.name
            )),
            "{log}"
        );
        // Traffic both ways through the tunnel this client's identity chose.
        gw_ns.ping_ok(c.host, 3, || ctx(&charons, &gw_proc));
        ns.ping_ok(GW_HOST, 3, || ctx(&charons, &gw_proc));
    }
    let installed = poll_opt(Duration::from_secs(5), || {
        let s = gw_proc.log_text();
        (s.matches("ESP SAs installed").count() >= 2).then_some(s)
    });
    assert!(installed.is_some(), "{}", ctx(&charons, &gw_proc));
    let (code, _) = gw_proc.stop();
    assert_eq!(code, Some(0), "{}", ctx(&charons, &gw_proc));
}

/// ours ⇄ ours over raw ESP (protocol 50): an ikegate client initiating Aggressive Mode to an
/// ikegate whose tunnel is `destination: dynamic`; ESP goes back to the address the client
/// negotiated from.
#[test]
fn road_warrior_over_raw_esp_ours_to_ours() {
    if !require_root() || !common::require_programs(&["ping"]) {
        return;
    }
    let gw_ns = Netns::new("rwrg");
    let client_ns = Netns::new("rwrc");
    let _link = veth(&gw_ns, &["10.3.0.1/24"], &client_ns, &["10.3.0.2/24"]);
    gw_ns.add_lo_addr(&format!("{GW_HOST}/32"));
    client_ns.add_lo_addr("192.168.13.1/32");
    let dir = TempDir::new("roadwarrior-raw");
    let gw_yaml = format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: 10.3.0.1, destination: dynamic }}\n    nat-traversal: disable\n    preshared-key: carol-Uph5eeTh\n    responder-only: enable\n    ike:\n      exchange-mode: aggressive\n      my-identifier: {{ fqdn: gw.example.net }}\n      peers-identifier: {{ user-fqdn: carol@example.net }}\n      proposal:\n        phase2:\n          encryption: aes128-gcm\n          proxy-id:\n            ipv4: {{ local: {GW_LAN}, remote: 192.168.13.0/24 }}\n\
route:\n  ipv4:\n    - {{ destination: 192.168.13.0/24, gateway: ipsec0, source: {GW_HOST} }}\n"
    );
    let client_yaml = format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: 10.3.0.2, destination: 10.3.0.1 }}\n    nat-traversal: disable\n    preshared-key: carol-Uph5eeTh\n    ike:\n      exchange-mode: aggressive\n      my-identifier: {{ user-fqdn: carol@example.net }}\n      peers-identifier: {{ fqdn: gw.example.net }}\n      proposal:\n        phase2:\n          encryption: aes128-gcm\n          proxy-id:\n            ipv4: {{ local: 192.168.13.0/24, remote: {GW_LAN} }}\n\
route:\n  ipv4:\n    - {{ destination: {GW_LAN}, gateway: ipsec0, source: 192.168.13.1 }}\n"
    );
    let mut gw = Gateway::start(&gw_ns, &dir, "gw", &gw_yaml, Some("ipsec0"));
    let mut client = Gateway::start(&client_ns, &dir, "client", &client_yaml, Some("ipsec0"));
    let ctx = || format!("{}\n{}", gw.log_text(), client.log_text());
    let up = poll_opt(Duration::from_secs(20), || {
        gw.log_text().contains("ESP SAs installed").then_some(())
    });
    assert!(up.is_some(), "{}", ctx());
    let log = gw.log_text();
    assert!(
        log.contains("Aggressive Mode from 10.3.0.2 with identity user-fqdn:carol@example.net: tunnel ipsec0"),
        "{log}"
    );
    assert!(log.contains("Raw(10.3.0.2)"), "{log}");
    client_ns.wait_ping(GW_HOST, Duration::from_secs(10), ctx);
    gw_ns.ping_ok("192.168.13.1", 3, ctx);
    let (code, _) = client.stop();
    assert_eq!(code, Some(0));
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}
