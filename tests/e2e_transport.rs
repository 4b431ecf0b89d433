//! ESP transport mode ours ⇄ ours, as root: two `ikegate run` processes with `mode: transport`
//! negotiate host-to-host SAs (IKEv1 encapsulation mode 2/4, IKEv2 USE_TRANSPORT_MODE) between
//! their own outer addresses, over IPv4 and IPv6, raw ESP and forced UDP encapsulation. Ping and
//! an iperf3 TCP transfer between the two hosts' own addresses cross; tshark decrypts the
//! capture with the exported keys and checks every ESP packet is transport mode (the payload
//! starts with ICMP/TCP, no inner IP header) between the two hosts, and that no ICMP or TCP
//! between them travels in the clear.
//!
//! strongSwan is not a peer here: kernel-libipsec refuses transport-mode SAs
//! (`src/libipsec/ipsec_sa.c`: `if (mode != MODE_TUNNEL)` → "IPsec SA: unsupported mode"), and
//! the kernel of this machine has no ESP (XFRM), so a strongSwan transport-mode SA cannot be
//! installed at all.

mod common;

use common::ikegate::{counter, Gateway};
use common::netns::{require_root, veth, Netns, Veth};
use common::tshark::{self, Capture, EspSa};
use common::{poll_opt, TempDir};
use std::time::Duration;

struct Pair {
    left: Netns,
    right: Netns,
    link: Veth,
    dir: TempDir,
    addrs: (&'static str, &'static str),
}

fn pair(v6: bool) -> Pair {
    let left = Netns::new("tl");
    let right = Netns::new("tr");
    let (a, b, plen) = if v6 {
        ("fd00::1", "fd00::2", 64)
    } else {
        ("10.0.0.1", "10.0.0.2", 24)
    };
    let link = veth(
        &left,
        &[&format!("{a}/{plen}")],
        &right,
        &[&format!("{b}/{plen}")],
    );
    // ESP-in-UDP leaves as UDP GSO runs; one segment per packet on the veth makes the kernel
    // split them before the capture tap, so tshark sees (and checks) every ESP packet alone.
    left.run(&["ip", "link", "set", "dev", &link.a, "gso_max_segs", "1"]);
    right.run(&["ip", "link", "set", "dev", &link.b, "gso_max_segs", "1"]);
    Pair {
        left,
        right,
        link,
        dir: TempDir::new("transport"),
        addrs: (a, b),
    }
}

/// A transport-mode tunnel from `src` to `dst` (`ike` lines at 6 spaces, `phase2` at 10).
fn yaml(src: &str, dst: &str, responder: bool, nat: &str, ike: &str, phase2: &str) -> String {
    let fam = if src.contains(':') { "ipv6" } else { "ipv4" };
    let resp = if responder { "enable" } else { "disable" };
    let ike = if ike.is_empty() && phase2.is_empty() {
        "      version: 1\n"
    } else {
        ike
    };
    let phase2 = if phase2.is_empty() {
        String::new()
    } else {
        format!("      proposal:\n        phase2:\n{phase2}")
    };
    format!(
        "interfaces:\n  ipsec0:\n    {fam}: {{ source: {src}, destination: {dst} }}\n    mode: transport\n    \
         nat-traversal: {nat}\n    preshared-key: xeeB5gohvaYi\n    responder-only: {resp}\n    ike:\n{ike}{phase2}"
    )
}

fn start(p: &Pair, nat: &str, ike: &str, phase2: &str) -> (Gateway, Gateway, std::path::PathBuf) {
    let (a, b) = p.addrs;
    let keylog = p.dir.join("keys");
    let r = Gateway::start(
        &p.right,
        &p.dir,
        "right",
        &yaml(b, a, true, nat, ike, phase2),
        None,
    );
    let admin = format!(
        "admin:\n  listen: 127.0.0.1:8080\n  token-file: {}\n",
        p.dir.join("admin.token").display()
    );
    let l = Gateway::start_with(
        &p.left,
        &p.dir,
        "left",
        &(yaml(a, b, false, nat, ike, phase2) + &admin),
        None,
        &["--wireshark-keylog", keylog.to_str().unwrap()],
    );
    let up = poll_opt(Duration::from_secs(20), || {
        (l.log_text().contains("transport mode, ") && r.log_text().contains("transport mode, "))
            .then_some(())
    });
    assert!(
        up.is_some(),
        "no transport-mode SA after 20 s:\n{}\n{}",
        l.log_text(),
        r.log_text()
    );
    (l, r, keylog)
}

/// iperf3 TCP from left to right for 1 MiB between the hosts' own addresses.
fn tcp_transfer(p: &Pair, ctx: &dyn Fn() -> String) {
    let (a, b) = p.addrs;
    let mut server = p.right.spawn(&["iperf3", "-s", "-1", "-B", b], None);
    std::thread::sleep(Duration::from_millis(300));
    let out = p
        .left
        .exec(&["iperf3", "-c", b, "-B", a, "-n", "1M", "-f", "m"]);
    server.kill();
    assert!(
        out.status.success(),
        "iperf3 between the hosts failed:\n{}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        ctx()
    );
}

fn case(v6: bool, nat: &str, ike: &str, phase2: &str) {
    if !require_root() || !tshark::require_capture_tools() || !common::require_programs(&["iperf3"])
    {
        return;
    }
    let p = pair(v6);
    let (a, b) = p.addrs;
    let (mut l, mut r, keylog) = start(&p, nat, ike, phase2);
    let rule = p.left.run(&["ip", if v6 { "-6" } else { "-4" }, "rule"]);
    assert!(
        rule.contains("not from all fwmark 0x4500 lookup 4500"),
        "no transport-mode rule:\n{rule}"
    );
    let pcap = p.dir.join("c.pcap");
    let cap = Capture::start(&p.left, &p.link.a, &pcap, None);
    let ctx = || format!("{}\n{}", l.log_text(), r.log_text());
    p.left.ping_ok(b, 3, ctx);
    p.right.ping_ok(a, 3, ctx);
    tcp_transfer(&p, &ctx);
    let pcap = cap.stop();
    // The admin API (through `ikegate status`) shows the pair's mode.
    let status = p.left.exec(&[
        common::ikegate::bin(),
        "status",
        "--config",
        l.config.to_str().unwrap(),
    ]);
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(
        table.contains("(current), transport mode, "),
        "{table}{}",
        ctx()
    );
    let sas = EspSa::from_keylog(&keylog);
    assert_eq!(sas.len(), 2, "one pair of ESP SAs");
    let frames = tshark::decode_esp(&pcap, &sas);
    let icmp = if v6 { "icmpv6" } else { "icmp" };
    tshark::assert_all_transport(&frames, &[icmp, "tcp"], (a, b));
    assert!(
        frames.len() >= 12 + 100,
        "{}",
        tshark::frames_table(&frames)
    );
    let udp = nat == "force";
    assert!(
        frames.iter().all(|f| f.udp_ports.is_some() == udp),
        "UDP encapsulation {udp} expected:\n{}",
        tshark::frames_table(&frames)
    );
    // Nothing between the two hosts in the clear: no echo, no TCP (ESP is not decrypted here).
    let echo = if v6 {
        "icmpv6.type == 128 || icmpv6.type == 129"
    } else {
        "icmp"
    };
    let clear = tshark::filter_lines(&pcap, &format!("{echo} || tcp"));
    assert!(
        clear.is_empty(),
        "plaintext between the hosts:\n{}",
        clear.join("\n")
    );
    for gw in [&mut l, &mut r] {
        let (code, log) = gw.stop();
        assert_eq!(code, Some(0), "{log}");
        assert_eq!(counter(&log, "icv"), Some(0), "{log}");
    }
    let rule = p.left.run(&["ip", if v6 { "-6" } else { "-4" }, "rule"]);
    assert!(!rule.contains("lookup 4500"), "rule left behind:\n{rule}");
}

/// Seed 002's phase-2 proposal (racoon sainfo: pfs modp768, rijndael/3des, hmac_sha1/md5) in
/// IKEv1 transport mode over IPv4, raw ESP.
#[test]
fn ikev1_ipv4_raw_esp_seed_002_proposal() {
    case(
        false,
        "disable",
        "",
        "          encryption: [aes128, 3des]\n          authentication: [hmac-sha1, hmac-md5]\n          pfs-group: modp768\n",
    );
}

/// IKEv1 over IPv6, ESP in UDP 4500 (encapsulation mode 4, RFC 3947).
#[test]
fn ikev1_ipv6_udp_encapsulated() {
    case(true, "force", "", "          encryption: aes128-gcm\n");
}

/// IKEv2 over IPv4, ESP in UDP 4500, USE_TRANSPORT_MODE in IKE_AUTH.
#[test]
fn ikev2_ipv4_udp_encapsulated() {
    case(false, "force", "      version: 2\n", "");
}

/// IKEv2 over IPv6, raw ESP, with PFS (so a CREATE_CHILD_SA rekey would carry the notify too).
#[test]
fn ikev2_ipv6_raw_esp() {
    case(
        true,
        "disable",
        "      version: 2\n",
        "          encryption: aes256-gcm\n",
    );
}

/// IKEv1: a transport-mode initiator and a tunnel-mode responder disagree; the responder says
/// which side to change, in plain words, and no SA is installed.
#[test]
fn ikev1_mode_mismatch_is_explained() {
    if !require_root() {
        return;
    }
    let p = pair(false);
    let (a, b) = p.addrs;
    // Host-to-host proxy-ids, tunnel mode: only the mode differs.
    let proxy = format!("          proxy-id: {{ ipv4: {{ local: {b}/32, remote: {a}/32 }} }}\n");
    let tunnel = yaml(b, a, true, "disable", "", &proxy).replace("    mode: transport\n", "");
    let r = Gateway::start(&p.right, &p.dir, "right", &tunnel, None);
    let l = Gateway::start(
        &p.left,
        &p.dir,
        "left",
        &yaml(a, b, false, "disable", "", ""),
        None,
    );
    let said = r.wait_log(
        "the peer proposes transport mode and this tunnel is configured for tunnel mode",
        20,
    );
    assert!(
        said,
        "no mode diagnostic:\n{}\n{}",
        r.log_text(),
        l.log_text()
    );
    assert!(
        !l.log_text().contains("ESP SAs installed"),
        "{}",
        l.log_text()
    );
}

/// The evidence for testing ours ⇄ ours only: strongSwan 5.9 and 6.1 with kernel-libipsec
/// (no kernel ESP here) negotiate a transport-mode child with us, then cannot install it
/// ("IPsec SA: unsupported mode" from libipsec's `ipsec_sa_create`).
#[test]
fn strongswan_kernel_libipsec_refuses_transport_mode_sas() {
    use common::charon::{Charon, CharonConfig, Strongswan};
    if !require_root() || !common::charon::require_strongswan() {
        return;
    }
    for sw in [Strongswan::Debian59, Strongswan::Sid61] {
        sw.require();
        sw.announce();
        let p = pair(false);
        let (a, b) = p.addrs;
        let mut cfg = CharonConfig::ikev2_psk(sw, b, a, &format!("{b}/32"), &format!("{a}/32"));
        cfg.psk = "xeeB5gohvaYi".into();
        cfg.ike_proposals = "aes256-sha256-modp2048".into();
        cfg.esp_proposals = "aes256-sha256".into();
        cfg.encap = sw == Strongswan::Debian59;
        cfg.extra_child.push("mode = transport".into());
        let charon = Charon::start(&p.right, cfg);
        let nat = if sw == Strongswan::Debian59 {
            "force"
        } else {
            "disable"
        };
        let gw = Gateway::start(
            &p.left,
            &p.dir,
            "ours",
            &yaml(a, b, false, nat, "      version: 2\n", ""),
            None,
        );
        charon.wait_log("IPsec SA: unsupported mode", Duration::from_secs(20));
        println!(
            "{}: {}",
            sw.version(),
            charon
                .log()
                .lines()
                .filter(|l| l.contains("unsupported mode") || l.contains("unable to install"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        // charon refuses the child in its IKE_AUTH answer; we install nothing and say so.
        assert!(
            gw.wait_log(
                "in transport mode (USE_TRANSPORT_MODE; a peer that cannot install",
                5
            ),
            "{}",
            gw.log_text()
        );
        assert!(
            !gw.log_text().contains("ESP SAs installed"),
            "{}",
            gw.log_text()
        );
        println!(
            "ours: {}",
            gw.log_text()
                .lines()
                .filter(|l| l.contains("WARN"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Through a NAT box the hosts' own addresses differ from what each side sees: the host behind
/// the NAT says in plain words why transport mode cannot work there, and nothing is installed.
#[test]
fn transport_mode_behind_a_nat_is_explained() {
    use common::nat::{NatTopology, LEFT_ADDR, NAT_OUTSIDE, RIGHT_ADDR};
    if !require_root() || !common::nat::require_nft() {
        return;
    }
    let topo = NatTopology::new();
    let dir = TempDir::new("transport-nat");
    let r = Gateway::start(
        &topo.right,
        &dir,
        "right",
        &yaml(RIGHT_ADDR, NAT_OUTSIDE, true, "enable", "", ""),
        None,
    );
    let l = Gateway::start(
        &topo.left,
        &dir,
        "left",
        &yaml(LEFT_ADDR, RIGHT_ADDR, false, "enable", "", ""),
        None,
    );
    assert!(
        l.wait_log(
            "this host is behind a NAT (the peer sees another address than 10.0.1.2)",
            20
        ),
        "{}\n{}",
        l.log_text(),
        r.log_text()
    );
    assert!(r.wait_log("proxy-id mismatch", 10), "{}", r.log_text());
    assert!(
        !l.log_text().contains("ESP SAs installed"),
        "{}",
        l.log_text()
    );
}
