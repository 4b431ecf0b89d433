//! Several child SAs on one tunnel interface, as root: an IPv4 and an IPv6 proxy-id on the same
//! `ipsec0` negotiate two Quick Modes, and both families must pass at once (the data plane picks
//! the outbound SA per packet from its selector table; a single outbound slot lost every IPv4
//! packet once the IPv6 child came up).
//!
//! - ikegate ⇄ ikegate, phase-2 lifetime 30 s: IPv4 and IPv6 pings concurrently for 35 s, across
//!   a make-before-break rekey of both children, 0 lost;
//! - ikegate ⇄ strongSwan 5.9 (IKEv1, kernel-libipsec, so ESP-in-UDP): strongSwan's IKEv1 uses
//!   only the first traffic selector of a child, so it has one child per family; pings of both
//!   families, both directions, 0 lost.

mod common;

use common::charon::{Charon, CharonConfig};
use common::ikegate::{counter, Gateway};
use common::netns::{require_root, veth, Netns, Veth};
use common::{poll_opt, TempDir};
use std::time::Duration;

const LEFT: &str = "10.0.0.1";
const RIGHT: &str = "10.0.0.2";
const LEFT_V4: &str = "192.168.1.0/24";
const RIGHT_V4: &str = "192.168.2.0/24";
const LEFT_V6: &str = "2001:db8:1::/48";
const RIGHT_V6: &str = "2001:db8:2::/48";
const LEFT_HOST4: &str = "192.168.1.1";
const RIGHT_HOST4: &str = "192.168.2.1";
const LEFT_HOST6: &str = "2001:db8:1::1";
const RIGHT_HOST6: &str = "2001:db8:2::1";
const PSK: &str = "xeeB5gohvaYi";

struct Lab {
    left: Netns,
    right: Netns,
    _link: Veth,
    dir: TempDir,
}

/// Two namespaces on a veth (outer IPv4), each with an IPv4 and an IPv6 host address on `lo`.
fn lab(tag: &str) -> Lab {
    let left = Netns::new(&format!("m{tag}l"));
    let right = Netns::new(&format!("m{tag}r"));
    let link = veth(
        &left,
        &[&format!("{LEFT}/24")],
        &right,
        &[&format!("{RIGHT}/24")],
    );
    left.add_lo_addr(&format!("{LEFT_HOST4}/32"));
    left.add_lo_addr(&format!("{LEFT_HOST6}/128"));
    right.add_lo_addr(&format!("{RIGHT_HOST4}/32"));
    right.add_lo_addr(&format!("{RIGHT_HOST6}/128"));
    Lab {
        left,
        right,
        _link: link,
        dir: TempDir::new("multi"),
    }
}

/// One side's configuration: `ipsec0` with an IPv4 and an IPv6 proxy-id and a route per family.
/// `mine` = (v4 subnet, v6 subnet, v4 host, v6 host) of this side, `theirs` the other's; `head`
/// goes before `interfaces:`.
fn yaml(
    (src, dst): (&str, &str),
    mine: (&str, &str, &str, &str),
    theirs: (&str, &str),
    responder: bool,
    phase2: &str,
    head: &str,
) -> String {
    let (l4, l6, h4, h6) = mine;
    let (r4, r6) = theirs;
    format!(
        "{head}interfaces:\n  ipsec0:\n    ipv4: {{ source: {src}, destination: {dst} }}\n    nat-traversal: enable\n    preshared-key: {PSK}\n    responder-only: {}\n    ike:\n      version: 1\n      exchange-mode: main\n      proposal:\n        phase1:\n          dh-group: modp1536\n        phase2:\n          proxy-id:\n            ipv4: {{ local: {l4}, remote: {r4} }}\n            ipv6: {{ local: \"{l6}\", remote: \"{r6}\" }}\n          encryption: [aes256]\n          authentication: [hmac-sha256]\n{phase2}\
route:\n  ipv4:\n    - {{ destination: {r4}, gateway: ipsec0, source: {h4} }}\n  ipv6:\n    - {{ destination: \"{r6}\", gateway: ipsec0, source: \"{h6}\" }}\n",
        if responder { "enable" } else { "disable" }
    )
}

fn left_yaml(phase2: &str, head: &str) -> String {
    yaml(
        (LEFT, RIGHT),
        (LEFT_V4, LEFT_V6, LEFT_HOST4, LEFT_HOST6),
        (RIGHT_V4, RIGHT_V6),
        false,
        phase2,
        head,
    )
}

/// Waits (≤ `secs`) until `gw` has logged `needle` at least `n` times.
fn wait_count(gw: &Gateway, needle: &str, n: usize, secs: u64) -> bool {
    poll_opt(Duration::from_secs(secs), || {
        (gw.log_text().matches(needle).count() >= n).then_some(())
    })
    .is_some()
}

/// What `ping` reported: (transmitted, received, its statistics lines).
struct PingResult {
    sent: u64,
    received: u64,
    summary: String,
}

/// Pings `dst` `count` times every `interval` seconds (a fixed count and a generous deadline,
/// so the last echo in flight is not counted as lost).
fn ping(ns: &Netns, dst: &str, count: u64, interval: &str) -> PingResult {
    let secs = interval.parse::<f64>().unwrap_or(1.0) * count as f64;
    let deadline = (secs * 1.5) as u64 + 20;
    let out = ns.exec(&[
        "ping",
        "-n",
        "-i",
        interval,
        "-W",
        "2",
        "-c",
        &count.to_string(),
        "-w",
        &deadline.to_string(),
        dst,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or("")
        .to_string();
    let num = |key: &str| -> u64 {
        line.split(',')
            .find(|p| p.contains(key))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    PingResult {
        sent: num("transmitted"),
        received: num(" received"),
        summary: format!("ping {dst}: {line}"),
    }
}

/// Pings every `(namespace, destination)` at the same time; returns the results in order.
fn ping_all(targets: &[(&Netns, &str)], count: u64, interval: &str) -> Vec<PingResult> {
    std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|(ns, dst)| s.spawn(move || ping(ns, dst, count, interval)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("ping thread"))
            .collect()
    })
}

/// Asserts that every ping ran `count` echoes and lost none.
fn assert_no_loss(results: &[PingResult], count: u64, context: impl FnOnce() -> String) {
    let lost: Vec<&PingResult> = results
        .iter()
        .filter(|r| r.sent != count || r.received != r.sent)
        .collect();
    let summary: Vec<&str> = results.iter().map(|r| r.summary.as_str()).collect();
    println!("{}", summary.join("\n"));
    assert!(
        lost.is_empty(),
        "echoes lost or not sent:\n{}\n{}",
        summary.join("\n"),
        context()
    );
}

/// ikegate ⇄ ikegate with an IPv4 and an IPv6 proxy-id on one tunnel: both Quick Modes come
/// up, IPv4 and IPv6 pings run concurrently for 35 s in both directions, across the rekey of
/// both children (phase-2 lifetime 30 s: the initiator rekeys at 78–83 %), and none is lost.
#[test]
fn ipv4_and_ipv6_proxy_ids_ours_to_ours_through_a_rekey() {
    if !require_root() || !common::require_programs(&["ping"]) {
        return;
    }
    let lab = lab("i");
    let phase2 = "          lifetime-of-time: 30\n";
    let mut right = Gateway::start(
        &lab.right,
        &lab.dir,
        "right",
        &yaml(
            (RIGHT, LEFT),
            (RIGHT_V4, RIGHT_V6, RIGHT_HOST4, RIGHT_HOST6),
            (LEFT_V4, LEFT_V6),
            true,
            phase2,
            "",
        ),
        Some("ipsec0"),
    );
    let admin = format!(
        "admin:\n  listen: 127.0.0.1:18093\n  token-file: {}\n",
        lab.dir.join("admin.token").display()
    );
    let mut left = Gateway::start(
        &lab.left,
        &lab.dir,
        "left",
        &left_yaml(phase2, &admin),
        Some("ipsec0"),
    );
    let ctx = |l: &Gateway, r: &Gateway| {
        format!(
            "--- left ---\n{}\n--- right ---\n{}",
            common::tail(&l.log_text(), 60),
            common::tail(&r.log_text(), 60)
        )
    };
    // Both children in use on both sides before the first echo.
    let up = wait_count(&left, "outbound traffic for", 2, 20)
        && wait_count(&right, "outbound traffic for", 2, 20);
    assert!(up, "two children not up after 20 s\n{}", ctx(&left, &right));
    let installed_before = left.log_text().matches("ESP SAs installed").count();
    assert_eq!(installed_before, 2, "{}", ctx(&left, &right));
    let count = 700; // 35 s at 50 ms
    let results = ping_all(
        &[
            (&lab.left, RIGHT_HOST4),
            (&lab.left, RIGHT_HOST6),
            (&lab.right, LEFT_HOST4),
            (&lab.right, LEFT_HOST6),
        ],
        count,
        "0.05",
    );
    assert_no_loss(&results, count, || ctx(&left, &right));
    // Both children were rekeyed during the pings (two more pairs, replacing one each).
    let l = left.log_text();
    let installed = l.matches("ESP SAs installed").count();
    assert!(
        installed >= 4,
        "only {installed} pairs installed: no rekey of both children\n{}",
        ctx(&left, &right)
    );
    assert!(l.contains("(was 0x"), "no make-before-break switch\n{l}");
    // The admin API and `ikegate status` show one current pair per proxy-id, with its selectors.
    let status = |json: bool| {
        let cfg = left.config.to_string_lossy().into_owned();
        let mut args = vec![common::ikegate::bin(), "status", "--config", &cfg];
        if json {
            args.push("--json");
        }
        let out = lab.left.exec(&args);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let v: serde_json::Value = serde_json::from_str(&status(true)).expect("status --json");
    let mut current: Vec<String> = v[0]["phase2"]
        .as_array()
        .expect("phase2")
        .iter()
        .filter(|s| s["current"] == true)
        .map(|s| s["selectors"].to_string())
        .collect();
    current.sort();
    assert_eq!(
        current,
        [
            format!(r#"[{{"local":"{LEFT_V4}","remote":"{RIGHT_V4}"}}]"#),
            format!(r#"[{{"local":"{LEFT_V6}","remote":"{RIGHT_V6}"}}]"#),
        ],
        "{v:#}"
    );
    let text = status(false);
    for sel in [
        format!("{LEFT_V4} ⇄ {RIGHT_V4}"),
        format!("{LEFT_V6} ⇄ {RIGHT_V6}"),
    ] {
        assert!(text.contains(&sel), "{sel} missing:\n{text}");
    }
    let (cl, ll) = left.stop();
    let (cr, lr) = right.stop();
    assert_eq!((cl, cr), (Some(0), Some(0)), "{ll}\n{lr}");
    // Every inner packet that arrived was inside its SA's selectors. (Outbound `tx-policy` is
    // not asserted: the kernel may send IPv6 link-local chatter into the TUN, which no selector
    // covers.)
    for log in [&ll, &lr] {
        assert_eq!(counter(log, "policy"), Some(0), "{log}");
    }
}

/// strongSwan's side: IKEv1 uses only the first traffic selector of a child, so the peer gets one
/// child per family. The first (`net`, IPv4) comes from the helper; the second (`net6`) is
/// written through the helper's raw child lines: close `net`, open `net6` (the helper's own
/// closing brace then closes `net6`).
fn swan_cfg() -> CharonConfig {
    let mut c = CharonConfig::ikev1_psk(RIGHT, LEFT, RIGHT_V4, LEFT_V4);
    c.psk = PSK.into();
    c.ike_proposals = "aes256-sha256-modp1536".into();
    c.esp_proposals = "aes256-sha256".into();
    c.extra_child = vec![
        "}".into(),
        "net6 {".into(),
        format!("  local_ts = {RIGHT_V6}"),
        format!("  remote_ts = {LEFT_V6}"),
        "  esp_proposals = aes256-sha256".into(),
        "  mode = tunnel".into(),
        "  start_action = none".into(),
    ];
    c
}

/// ikegate (initiator) ⇄ strongSwan 5.9 with an IPv4 and an IPv6 proxy-id: two Quick Modes,
/// two children on strongSwan, and IPv4 and IPv6 pings in both directions at once, 0 lost.
#[test]
fn ipv4_and_ipv6_proxy_ids_against_strongswan() {
    if !require_root()
        || !common::charon::require_strongswan()
        || !common::require_programs(&["ping"])
    {
        return;
    }
    let lab = lab("s");
    let charon = Charon::start(&lab.right, swan_cfg());
    let mut gw = Gateway::start(
        &lab.left,
        &lab.dir,
        "ours",
        &left_yaml("", ""),
        Some("ipsec0"),
    );
    let up = wait_count(&gw, "outbound traffic for", 2, 20);
    assert!(
        up,
        "two children not up after 20 s\n{}\n--- charon ---\n{}",
        gw.log_text(),
        common::tail(&charon.log(), 60)
    );
    charon.wait_child_installed("net", Duration::from_secs(10));
    charon.wait_child_installed("net6", Duration::from_secs(10));
    let ctx = || {
        format!(
            "--- ikegate ---\n{}\n--- charon ---\n{}",
            common::tail(&gw.log_text(), 60),
            common::tail(&charon.log(), 80)
        )
    };
    let count = 40;
    let results = ping_all(
        &[
            (&lab.left, RIGHT_HOST4),
            (&lab.left, RIGHT_HOST6),
            (&lab.right, LEFT_HOST4),
            (&lab.right, LEFT_HOST6),
        ],
        count,
        "0.05",
    );
    assert_no_loss(&results, count, ctx);
    // Each family went through its own pair on strongSwan's side too.
    for child in ["net", "net6"] {
        let sas = charon.child_sas(child);
        assert!(
            sas.iter().any(|s| s.packets_in >= 2 * count),
            "{child}: {sas:?}\n{}",
            ctx()
        );
    }
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(counter(&log, "policy"), Some(0), "{log}");
}
