//! IKEv2 tunnel lifecycle for real, as root, against strongSwan 6.1 (raw ESP) and 5.9 (ESP in
//! UDP): a 20 ms ping loses nothing across child SA and IKE SA rekeys started by either side;
//! liveness checks declare a SIGKILLed charon dead within interval × retries + one interval and
//! the tunnel heals once charon runs again (we re-initiate, or charon initiates with
//! INITIAL_CONTACT); SIGHUP with a changed proposal renegotiates.
//!
//! The rekey cases ping for 60–75 s each (CI); `IKEGATE_SOAK=1` makes it 3 minutes.

mod common;

use common::charon::{Charon, CharonConfig, Strongswan};
use common::ikegate::Gateway;
use common::netns::{require_root, veth, Netns, Veth};
use common::{poll_opt, TempDir};
use std::time::{Duration, Instant};

const OURS: &str = "10.0.0.1";
const SWAN: &str = "10.0.0.2";
const OURS_HOST: &str = "192.168.1.1";
const SWAN_HOST: &str = "192.168.2.1";
const OURS_LAN: &str = "192.168.1.0/24";
const SWAN_LAN: &str = "192.168.2.0/24";
const PSK: &str = "xeeB5gohvaYi";

/// Seconds of continuous ping per rekey case: 75 (60 when charon rekeys, faster), or 180 for
/// both with `IKEGATE_SOAK=1`.
fn ping_secs(charon_rekeys: bool) -> u64 {
    if std::env::var_os("IKEGATE_SOAK").is_some_and(|v| v != "0") {
        180
    } else if charon_rekeys {
        60
    } else {
        75
    }
}

fn can_run() -> bool {
    require_root() && common::charon::require_strongswan() && common::require_programs(&["ping"])
}

struct Lab {
    ours: Netns,
    swan: Netns,
    _link: Veth,
    dir: TempDir,
}

fn lab(tag: &str) -> Lab {
    let ours = Netns::new(&format!("{tag}o"));
    let swan = Netns::new(&format!("{tag}s"));
    let link = veth(
        &ours,
        &[&format!("{OURS}/24")],
        &swan,
        &[&format!("{SWAN}/24")],
    );
    ours.add_lo_addr(&format!("{OURS_HOST}/32"));
    swan.add_lo_addr(&format!("{SWAN_HOST}/32"));
    Lab {
        ours,
        swan,
        _link: link,
        dir: TempDir::new("v2life"),
    }
}

/// Our IKEv2 config: `ike_extra` lines go under `ike:` (6 spaces), `phase1` under `phase1:`
/// (10 spaces, the block is left out when empty), `phase2` under `phase2:` beside the proxy-id.
fn ours_yaml(ike_extra: &str, phase1: &str, phase2: &str) -> String {
    let phase1 = if phase1.is_empty() {
        String::new()
    } else {
        format!("        phase1:\n{phase1}")
    };
    format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: {OURS}, destination: {SWAN} }}\n    preshared-key: {PSK}\n    responder-only: disable\n    ike:\n      version: 2\n{ike_extra}      proposal:\n{phase1}        phase2:\n          proxy-id:\n            ipv4: {{ local: {OURS_LAN}, remote: {SWAN_LAN} }}\n{phase2}\
route:\n  ipv4:\n    - {{ destination: {SWAN_LAN}, gateway: ipsec0, source: {OURS_HOST} }}\n"
    )
}

fn swan_cfg(sw: Strongswan) -> CharonConfig {
    let mut c = CharonConfig::ikev2_psk(sw, SWAN, OURS, SWAN_LAN, OURS_LAN);
    c.psk = PSK.into();
    c.ike_proposals = "aes256-sha256-modp2048".into();
    c.esp_proposals = "aes256-sha256".into();
    // 5.9's kernel-libipsec only does ESP in UDP: it must fake a NAT to get there.
    c.encap = sw == Strongswan::Debian59;
    c
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

fn context(gw: &Gateway, charon: &Charon) -> String {
    format!(
        "--- ikegate ---\n{}\n--- charon ---\n{}",
        common::tail(&gw.log_text(), 80),
        common::tail(&charon.log(), 60)
    )
}

/// Brings the tunnel up (we initiate) and checks that a ping crosses.
fn bring_up(lab: &Lab, gw: &Gateway, charon: &Charon) {
    if !gw.wait_log("ESP SAs installed", 20) {
        charon.fail(&format!("ikegate did not install SAs:\n{}", gw.log_text()));
    }
    charon.wait_child_installed("net", Duration::from_secs(10));
    lab.ours.ping_ok(SWAN_HOST, 2, || context(gw, charon));
}

/// Our child lifetime 30 s and IKE lifetime 60 s, the least the configuration accepts (we rekey), or charon's child rekey_time 15 s
/// and IKE rekey_time 30 s (charon rekeys, our lifetimes stay long): a 20 ms ping runs through
/// it all and loses nothing, and the rekeys happened, started by the side expected.
fn rekeys_without_loss(sw: Strongswan, charon_rekeys: bool, tag: &str) {
    if !can_run() {
        return;
    }
    sw.require();
    let lab = lab(tag);
    let mut cfg = swan_cfg(sw);
    let (phase1, phase2) = if charon_rekeys {
        cfg.child_rekey_time = Some("15s".into());
        cfg.child_life_time = Some("25s".into());
        cfg.child_rand_time = Some("2s".into());
        cfg.ike_rekey_time = Some("30s".into());
        cfg.over_time = Some("10s".into());
        ("", "")
    } else {
        (
            "          lifetime: 60\n",
            "          lifetime-of-time: 30\n",
        )
    };
    let charon = Charon::start(&lab.swan, cfg);
    let mut gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml("", phase1, phase2),
        Some("ipsec0"),
    );
    bring_up(&lab, &gw, &charon);
    let secs = ping_secs(charon_rekeys);
    let run = common::ping::continuous(&lab.ours, SWAN_HOST, secs);
    let log = gw.log_text();
    let child_rekeys = count(&log, "ESP SAs installed") - 1;
    let ours_child = count(&log, "CREATE_CHILD_SA for a child rekey=Some");
    let ike_rekeys = count(&log, "IKEv2 SA rekeyed");
    let ours_ike = count(&log, "IKEv2: rekeying the IKE SA");
    println!(
        "IKEv2 {sw:?}, {} rekeys: {} pings in {:.0} s, {} lost; {child_rekeys} child rekeys ({ours_child} ours), {ike_rekeys} IKE SA rekeys ({ours_ike} ours)\n{}",
        if charon_rekeys { "charon" } else { "ikegate" },
        run.sent,
        run.took.as_secs_f64(),
        run.lost(),
        run.summary
    );
    assert!(
        run.sent > secs * 30,
        "ping did not run: {}\n{}",
        run.summary,
        context(&gw, &charon)
    );
    assert_eq!(
        run.lost(),
        0,
        "packets lost across rekeys: {}\n{}",
        run.summary,
        context(&gw, &charon)
    );
    let (want_child, want_ike) = run.rekeys_expected(charon_rekeys);
    if charon_rekeys {
        assert!(
            child_rekeys >= want_child && ours_child == 0,
            "{child_rekeys} child rekeys, {ours_child} ours\n{}",
            context(&gw, &charon)
        );
        assert!(
            ike_rekeys >= want_ike && ours_ike == 0,
            "{ike_rekeys} IKE rekeys, {ours_ike} ours\n{}",
            context(&gw, &charon)
        );
    } else {
        assert!(
            ours_child >= want_child && child_rekeys >= ours_child,
            "{child_rekeys} child rekeys, {ours_child} ours\n{}",
            context(&gw, &charon)
        );
        assert!(
            ours_ike >= want_ike && ike_rekeys >= ours_ike,
            "{ike_rekeys} IKE rekeys, {ours_ike} ours\n{}",
            context(&gw, &charon)
        );
    }
    // Replaced children were deleted, not leaked: at most two pairs alive at the end, and
    // charon has one IKE SA left.
    let (inst, rem) = (
        count(&log, "ESP SAs installed"),
        count(&log, "ESP SAs removed"),
    );
    assert!(
        inst - rem <= 2,
        "{inst} installed, {rem} removed\n{}",
        context(&gw, &charon)
    );
    assert!(!log.contains("cannot install"), "{}", context(&gw, &charon));
    // No ESP arrived for a pair we had removed already (the peer's last packets on a replaced
    // pair must find it installed).
    assert!(
        !log.contains("peer sends ESP on an SA we do not have"),
        "{}",
        context(&gw, &charon)
    );
    lab.ours.ping_ok(SWAN_HOST, 2, || context(&gw, &charon));
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn rekeys_by_ikegate_without_loss_sid61() {
    rekeys_without_loss(Strongswan::Sid61, false, "r6i");
}

#[test]
fn rekeys_by_charon_without_loss_sid61() {
    rekeys_without_loss(Strongswan::Sid61, true, "r6c");
}

#[test]
fn rekeys_by_ikegate_without_loss_swan59() {
    rekeys_without_loss(Strongswan::Debian59, false, "r5i");
}

#[test]
fn rekeys_by_charon_without_loss_swan59() {
    rekeys_without_loss(Strongswan::Debian59, true, "r5c");
}

/// charon is SIGKILLed: our liveness checks (every 3 s, 3 tries) declare it dead within
/// 3 × 3 + 3 s (+1 s for the once-a-second traffic sampling), the tunnel comes back when charon
/// restarts (we re-initiate). Then charon is killed and restarted once more and initiates
/// itself before we notice: its INITIAL_CONTACT makes us drop the stale SAs at once.
#[test]
fn dead_peer_detected_and_tunnel_heals_sid61() {
    dead_peer_case(Strongswan::Sid61, "d6");
}

/// The same against 5.9 (ESP in UDP).
#[test]
fn dead_peer_detected_and_tunnel_heals_swan59() {
    dead_peer_case(Strongswan::Debian59, "d5");
}

fn dead_peer_case(sw: Strongswan, tag: &str) {
    if !can_run() {
        return;
    }
    sw.require();
    let lab = lab(tag);
    let mut charon = Charon::start(&lab.swan, swan_cfg(sw));
    let mut gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml("      dpd: { interval: 3, retries: 3 }\n", "", ""),
        Some("ipsec0"),
    );
    bring_up(&lab, &gw, &charon);
    // Idle for more than two intervals: liveness checks are answered while charon lives.
    std::thread::sleep(Duration::from_secs(7));
    assert!(
        !gw.log_text().contains("declared dead"),
        "{}",
        context(&gw, &charon)
    );

    let killed = Instant::now();
    charon.kill9();
    assert!(
        gw.wait_log("IKEv2 peer declared dead", 30),
        "{}",
        context(&gw, &charon)
    );
    let detection = killed.elapsed();
    println!(
        "IKEv2 {sw:?} liveness: charon declared dead {:.1} s after SIGKILL (bound 13 s)",
        detection.as_secs_f64()
    );
    assert!(
        detection <= Duration::from_secs(3 * 3 + 3 + 1),
        "took {detection:?}\n{}",
        context(&gw, &charon)
    );
    let log = gw.log_text();
    assert!(log.contains("ESP SAs removed"), "{}", context(&gw, &charon));
    let before = count(&gw.log_text(), "ESP SAs installed");

    let back = Instant::now();
    charon.restart();
    let up = poll_opt(Duration::from_secs(60), || {
        (count(&gw.log_text(), "ESP SAs installed") > before).then_some(())
    });
    assert!(up.is_some(), "{}", context(&gw, &charon));
    println!(
        "IKEv2 {sw:?}: tunnel back {:.1} s after charon restarted (we re-initiated)",
        back.elapsed().as_secs_f64()
    );
    assert!(
        gw.log_text().contains("IKEv2: re-initiating"),
        "{}",
        context(&gw, &charon)
    );
    lab.ours
        .wait_ping(SWAN_HOST, Duration::from_secs(5), || context(&gw, &charon));

    // charon restarts and initiates before our liveness check notices.
    let before = count(&gw.log_text(), "ESP SAs installed");
    let t0 = Instant::now();
    charon.restart();
    if let Err(e) = charon.initiate("net") {
        panic!("charon could not initiate: {e}\n{}", context(&gw, &charon));
    }
    let up = poll_opt(Duration::from_secs(10), || {
        (count(&gw.log_text(), "ESP SAs installed") > before).then_some(())
    });
    assert!(up.is_some(), "{}", context(&gw, &charon));
    lab.ours
        .wait_ping(SWAN_HOST, Duration::from_secs(5), || context(&gw, &charon));
    println!(
        "IKEv2 {sw:?}: charon restarted and initiated (INITIAL_CONTACT): ping through {:.1} s after the restart began",
        t0.elapsed().as_secs_f64()
    );
    let log = gw.log_text();
    assert!(
        log.contains("(InitialContact)"),
        "stale SAs not dropped on INITIAL_CONTACT\n{}",
        context(&gw, &charon)
    );
    assert_eq!(
        count(&log, "IKEv2 peer declared dead"),
        1,
        "{}",
        context(&gw, &charon)
    );
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}

/// SIGHUP: the same file keeps the SAs; a changed child proposal renegotiates with it, against
/// charon 6.1, and the tunnel keeps working.
#[test]
fn sighup_with_changed_proposal_renegotiates_sid61() {
    if !can_run() {
        return;
    }
    let sw = Strongswan::Sid61;
    sw.require();
    let lab = lab("hu");
    let mut cfg = swan_cfg(sw);
    cfg.esp_proposals = "aes256-sha256,aes128-sha256".into();
    let charon = Charon::start(&lab.swan, cfg);
    let aes = |a: &str| format!("          encryption: {a}\n");
    let mut gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml("", "", &aes("aes256")),
        Some("ipsec0"),
    );
    bring_up(&lab, &gw, &charon);
    gw.signal(libc::SIGHUP);
    assert!(
        gw.wait_log("unchanged, SAs kept", 10),
        "{}",
        context(&gw, &charon)
    );
    assert_eq!(count(&gw.log_text(), "ESP SAs installed"), 1);
    std::fs::write(&gw.config, ours_yaml("", "", &aes("aes128"))).unwrap();
    gw.signal(libc::SIGHUP);
    assert!(
        gw.wait_log("IKE settings changed, renegotiating", 10),
        "{}",
        context(&gw, &charon)
    );
    let again = poll_opt(Duration::from_secs(20), || {
        (count(&gw.log_text(), "ESP SAs installed") >= 2).then_some(())
    });
    assert!(again.is_some(), "{}", context(&gw, &charon));
    let log = gw.log_text();
    let last = log.rsplit("ESP SAs installed").next().unwrap_or("");
    assert!(
        last.starts_with(':') && last.to_lowercase().contains("aes128"),
        "{}",
        context(&gw, &charon)
    );
    lab.ours
        .wait_ping(SWAN_HOST, Duration::from_secs(5), || context(&gw, &charon));
    let info = charon.wait_child_installed("net", Duration::from_secs(10));
    println!("after SIGHUP charon's child: {info:?}");
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}

/// A minimal admin API client run inside a namespace (the API listens on its loopback).
const API_CLIENT: &str = r#"
import sys, urllib.request as u, urllib.error as e
m, url, tok = sys.argv[1], sys.argv[2], sys.argv[3]
req = u.Request(url, method=m, headers={'Authorization': 'Bearer ' + tok})
try:
    r = u.urlopen(req, timeout=20); print(r.status); print(r.read().decode())
except e.HTTPError as x:
    print(x.code); print(x.read().decode())
"#;

/// POSTs `path` to the admin API of the gateway in `ns`; returns the HTTP status and body.
fn api_post(ns: &Netns, token: &str, path: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:18082{path}");
    let out = ns.exec(&["python3", "-c", API_CLIENT, "POST", &url, token]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (code, body) = text.split_once('\n').unwrap_or(("0", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Admin API controls on an IKEv2 tunnel against charon 6.1: `rekey` rekeys the child under a
/// 20 ms ping without a loss, `reset` tears the IKE SA down and negotiates a new one.
#[test]
fn admin_rekey_and_reset_sid61() {
    if !can_run() || !common::require_programs(&["python3"]) {
        return;
    }
    let sw = Strongswan::Sid61;
    sw.require();
    let lab = lab("ap");
    let charon = Charon::start(&lab.swan, swan_cfg(sw));
    let token_file = lab.dir.join("admin.token");
    let admin = format!(
        "admin:\n  listen: 127.0.0.1:18082\n  token-file: {}\n",
        token_file.display()
    );
    let mut gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &format!("{admin}{}", ours_yaml("", "", "")),
        Some("ipsec0"),
    );
    bring_up(&lab, &gw, &charon);
    let token = poll_opt(Duration::from_secs(10), || {
        std::fs::read_to_string(&token_file).ok()
    })
    .unwrap_or_else(|| panic!("no token file\n{}", gw.log_text()));
    let token = token.trim();

    // rekey, in the middle of a 10 s ping.
    let run = std::thread::scope(|s| {
        let ping = s.spawn(|| common::ping::continuous(&lab.ours, SWAN_HOST, 10));
        std::thread::sleep(Duration::from_secs(3));
        let (code, body) = api_post(&lab.ours, token, "/api/v1/tunnels/ipsec0/rekey");
        assert_eq!(code, 200, "{body}\n{}", context(&gw, &charon));
        ping.join().unwrap()
    });
    let log = gw.log_text();
    println!(
        "IKEv2 admin rekey: {} pings, {} lost, {} child SAs installed\n{}",
        run.sent,
        run.lost(),
        count(&log, "ESP SAs installed"),
        run.summary
    );
    assert!(
        log.contains("rekeying the child SAs (operator request)"),
        "{}",
        context(&gw, &charon)
    );
    assert_eq!(
        count(&log, "ESP SAs installed"),
        2,
        "{}",
        context(&gw, &charon)
    );
    assert!(run.sent > 300, "{}", run.summary);
    assert_eq!(
        run.lost(),
        0,
        "lost across the operator's rekey: {}\n{}",
        run.summary,
        context(&gw, &charon)
    );

    // reset: a new IKE SA and child.
    let (code, body) = api_post(&lab.ours, token, "/api/v1/tunnels/ipsec0/reset");
    assert_eq!(code, 200, "{body}\n{}", context(&gw, &charon));
    let again = poll_opt(Duration::from_secs(20), || {
        (count(&gw.log_text(), "IKEv2 SA established") >= 2
            && count(&gw.log_text(), "ESP SAs installed") >= 3)
            .then_some(())
    });
    assert!(again.is_some(), "{}", context(&gw, &charon));
    assert!(
        gw.log_text()
            .contains("resetting the tunnel (operator request)"),
        "{}",
        context(&gw, &charon)
    );
    lab.ours
        .wait_ping(SWAN_HOST, Duration::from_secs(5), || context(&gw, &charon));
    // charon keeps one IKE SA: the old one was deleted, not leaked.
    let sas = charon.list_sas();
    assert_eq!(sas.matches("ESTABLISHED").count(), 1, "{sas}");
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}
