//! Tunnel lifecycle for real, as root: make-before-break rekeying under a continuous ping
//! (ours ⇄ strongSwan and ours ⇄ ours, phase-2 lifetime 30 s, phase-1 lifetime 60 s, 3 minutes,
//! 0 lost), and Dead Peer Detection of a strongSwan killed with SIGKILL (detected within
//! interval × retries + one interval, re-initiated, back once strongSwan restarts).

mod common;

use common::charon::{Charon, CharonConfig};
use common::ikegate::Gateway;
use common::netns::{require_root, veth, Netns, Veth};
use common::{poll_opt, TempDir};
use std::time::{Duration, Instant};

const OURS: &str = "10.0.0.1";
const PEER: &str = "10.0.0.2";
const OURS_LAN: &str = "192.168.1.0/24";
const PEER_LAN: &str = "192.168.2.0/24";
const OURS_HOST: &str = "192.168.1.1";
const PEER_HOST: &str = "192.168.2.1";
const PSK: &str = "xeeB5gohvaYi";

/// Length of the continuous ping of the rekey tests (3 minutes; `LIFE_PING_SECS` overrides it
/// for a quick local run).
fn ping_secs() -> u64 {
    std::env::var("LIFE_PING_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180)
}

struct Lab {
    ours: Netns,
    peer: Netns,
    _link: Veth,
    dir: TempDir,
}

fn lab(tag: &str) -> Lab {
    let ours = Netns::new(&format!("l{tag}o"));
    let peer = Netns::new(&format!("l{tag}p"));
    let link = veth(
        &ours,
        &[&format!("{OURS}/24")],
        &peer,
        &[&format!("{PEER}/24")],
    );
    ours.add_lo_addr(&format!("{OURS_HOST}/32"));
    peer.add_lo_addr(&format!("{PEER_HOST}/32"));
    Lab {
        ours,
        peer,
        _link: link,
        dir: TempDir::new("life"),
    }
}

/// An ikegate config; `ike_extra` goes under `ike:`, `phase1`/`phase2` lines under the
/// proposal's phase blocks (all already indented).
#[allow(clippy::too_many_arguments)]
fn yaml(
    src: &str,
    dst: &str,
    local: &str,
    remote: &str,
    me: &str,
    responder: bool,
    ike_extra: &str,
    phase1: &str,
    phase2: &str,
) -> String {
    format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: {src}, destination: {dst} }}\n    nat-traversal: enable\n    preshared-key: {PSK}\n    responder-only: {}\n    ike:\n      version: 1\n      exchange-mode: main\n{ike_extra}      proposal:\n        phase1:\n          dh-group: modp1536\n{phase1}        phase2:\n          proxy-id:\n            ipv4: {{ local: {local}, remote: {remote} }}\n{phase2}\
route:\n  ipv4:\n    - {{ destination: {remote}, gateway: ipsec0, source: {me} }}\n",
        if responder { "enable" } else { "disable" }
    )
}

fn ours_yaml(ike_extra: &str, phase1: &str, phase2: &str) -> String {
    yaml(
        OURS, PEER, OURS_LAN, PEER_LAN, OURS_HOST, false, ike_extra, phase1, phase2,
    )
}

fn swan_cfg() -> CharonConfig {
    let mut c = CharonConfig::ikev1_psk(PEER, OURS, PEER_LAN, OURS_LAN);
    c.psk = PSK.into();
    c.ike_proposals = "aes256-sha256-modp1536".into();
    c.esp_proposals = "aes256-sha256".into();
    c
}

fn occurrences(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// (sent, received, summary) of [`common::ping::continuous`].
fn continuous_ping(ns: &Netns, dst: &str, secs: u64) -> (u64, u64, String) {
    let r = common::ping::continuous(ns, dst, secs);
    (r.sent, r.received, r.summary)
}

const REKEY_PHASE1: &str = "          lifetime: 60\n";
const REKEY_PHASE2: &str = "          lifetime-of-time: 30\n";

/// ikegate initiates with phase-2 lifetime 30 s and phase-1 lifetime 60 s; strongSwan keeps its
/// own (long) lifetimes, so every rekey is ours. 3 minutes of 20 ms pings: 0 lost.
#[test]
fn rekey_without_loss_against_strongswan() {
    if !require_root()
        || !common::charon::require_strongswan()
        || !common::require_programs(&["ping"])
    {
        return;
    }
    let lab = lab("s");
    let mut cfg = swan_cfg();
    cfg.child_rekey_time = Some("1h".into());
    cfg.ike_rekey_time = Some("0".into());
    cfg.ike_reauth_time = Some("0".into());
    let charon = Charon::start(&lab.peer, cfg);
    let mut gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml("", REKEY_PHASE1, REKEY_PHASE2),
        Some("ipsec0"),
    );
    assert!(gw.wait_log("ESP SAs installed", 20), "{}", gw.log_text());
    charon.wait_child_installed("net", Duration::from_secs(10));
    lab.ours.ping_ok(PEER_HOST, 2, || {
        format!("{}\n{}", gw.log_text(), charon.log())
    });
    let (sent, recv, text) = continuous_ping(&lab.ours, PEER_HOST, ping_secs());
    let log = gw.log_text();
    let rekeys = occurrences(&log, "ESP SAs installed") - 1;
    let p1 = occurrences(&log, "phase 1 up");
    println!(
        "ours ⇄ strongSwan: {sent} pings, {} lost, {rekeys} phase-2 rekeys, {} phase-1 rekeys\n{text}",
        sent.saturating_sub(recv),
        p1.saturating_sub(1)
    );
    assert!(
        sent > ping_secs() * 30,
        "ping did not run: {text}\n{}",
        common::tail(&log, 40)
    );
    assert_eq!(
        sent,
        recv,
        "packets lost across rekeys: {text}\n--- ikegate ---\n{}\n--- charon ---\n{}",
        common::tail(&log, 80),
        common::tail(&charon.log(), 60)
    );
    assert!(
        rekeys >= 5,
        "only {rekeys} phase-2 rekeys in 3 minutes\n{log}"
    );
    assert!(p1 >= 3, "only {p1} ISAKMP SAs in 3 minutes\n{log}");
    assert!(
        !log.contains("cannot install"),
        "{}",
        common::tail(&log, 40)
    );
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}

/// strongSwan drives the rekeys (child rekey_time 25 s) while ikegate keeps long lifetimes: ikegate as Quick Mode responder must not lose packets either.
#[test]
fn rekey_by_strongswan_without_loss() {
    if !require_root()
        || !common::charon::require_strongswan()
        || !common::require_programs(&["ping"])
    {
        return;
    }
    let lab = lab("r");
    let mut cfg = swan_cfg();
    cfg.child_rekey_time = Some("25s".into());
    cfg.child_life_time = Some("35s".into());
    cfg.child_rand_time = Some("2s".into());
    let charon = Charon::start(&lab.peer, cfg);
    let gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml("", "", ""),
        Some("ipsec0"),
    );
    assert!(gw.wait_log("ESP SAs installed", 20), "{}", gw.log_text());
    charon.wait_child_installed("net", Duration::from_secs(10));
    lab.ours.ping_ok(PEER_HOST, 2, || {
        format!("{}\n{}", gw.log_text(), charon.log())
    });
    // Half the length of the other two runs (CI time); still 3 or more rekeys.
    let secs = ping_secs() / 2;
    let (sent, recv, text) = continuous_ping(&lab.ours, PEER_HOST, secs);
    let log = gw.log_text();
    let rekeys = occurrences(&log, "ESP SAs installed") - 1;
    println!(
        "strongSwan rekeying: {sent} pings, {} lost, {rekeys} phase-2 rekeys\n{text}",
        sent.saturating_sub(recv)
    );
    assert!(sent > secs * 30, "ping did not run: {text}");
    assert_eq!(
        sent,
        recv,
        "packets lost across rekeys: {text}\n--- ikegate ---\n{}\n--- charon ---\n{}",
        common::tail(&log, 80),
        common::tail(&charon.log(), 60)
    );
    assert!(rekeys as u64 >= secs / 30, "only {rekeys} rekeys\n{log}");
}

/// ours ⇄ ours, both with phase-2 lifetime 30 s and phase-1 lifetime 60 s: 0 lost in 3 minutes.
#[test]
fn rekey_without_loss_ours_to_ours() {
    if !require_root() || !common::require_programs(&["ping"]) {
        return;
    }
    let lab = lab("i");
    let mut right = Gateway::start(
        &lab.peer,
        &lab.dir,
        "right",
        &yaml(
            PEER,
            OURS,
            PEER_LAN,
            OURS_LAN,
            PEER_HOST,
            false,
            "",
            REKEY_PHASE1,
            REKEY_PHASE2,
        ),
        Some("ipsec0"),
    );
    let mut left = Gateway::start(
        &lab.ours,
        &lab.dir,
        "left",
        &ours_yaml("", REKEY_PHASE1, REKEY_PHASE2),
        Some("ipsec0"),
    );
    assert!(
        left.wait_log("ESP SAs installed", 20),
        "{}",
        left.log_text()
    );
    lab.ours.ping_ok(PEER_HOST, 2, || {
        format!("{}\n{}", left.log_text(), right.log_text())
    });
    let (sent, recv, text) = continuous_ping(&lab.ours, PEER_HOST, ping_secs());
    let (l, r) = (left.log_text(), right.log_text());
    let rekeys = occurrences(&l, "ESP SAs installed") - 1;
    println!(
        "ours ⇄ ours: {sent} pings, {} lost, {rekeys} phase-2 rekeys seen on the left\n{text}",
        sent.saturating_sub(recv)
    );
    assert!(sent > ping_secs() * 30, "ping did not run: {text}");
    assert_eq!(
        sent,
        recv,
        "packets lost across rekeys: {text}\n--- left ---\n{}\n--- right ---\n{}",
        common::tail(&l, 80),
        common::tail(&r, 80)
    );
    assert!(
        rekeys as u64 >= ping_secs() / 30,
        "only {rekeys} rekeys\n{l}"
    );
    // Replaced pairs were deleted, not leaked: at most two pairs alive at the end.
    let (inst, rem) = (
        occurrences(&l, "ESP SAs installed"),
        occurrences(&l, "ESP SAs removed"),
    );
    assert!(
        inst - rem <= 2,
        "{inst} installed, {rem} removed\n{}",
        common::tail(&l, 30)
    );
    let (cl, ll) = left.stop();
    let (cr, lr) = right.stop();
    assert_eq!((cl, cr), (Some(0), Some(0)), "{ll}\n{lr}");
}

/// strongSwan is SIGKILLed: ikegate (DPD every 5 s, 3 retries) declares it dead within
/// 5 × 3 + 5 s (+1 s for the traffic sampling), keeps re-initiating, and the tunnel is back
/// once strongSwan runs again, without touching ikegate.
#[test]
fn dpd_detects_a_killed_strongswan_and_recovers() {
    if !require_root()
        || !common::charon::require_strongswan()
        || !common::require_programs(&["ping"])
    {
        return;
    }
    let lab = lab("d");
    let mut charon = Charon::start(&lab.peer, swan_cfg());
    let mut gw = Gateway::start(
        &lab.ours,
        &lab.dir,
        "ours",
        &ours_yaml("      dpd: { interval: 5, retries: 3 }\n", "", ""),
        Some("ipsec0"),
    );
    assert!(gw.wait_log("ESP SAs installed", 20), "{}", gw.log_text());
    charon.wait_child_installed("net", Duration::from_secs(10));
    lab.ours.ping_ok(PEER_HOST, 2, || {
        format!("{}\n{}", gw.log_text(), charon.log())
    });
    // A probe is answered while charon lives.
    assert!(
        gw.wait_log("sending R-U-THERE", 15),
        "{}",
        common::tail(&gw.log_text(), 30)
    );
    let killed = Instant::now();
    charon.kill9();
    assert!(
        gw.wait_log("declared dead", 40),
        "{}",
        common::tail(&gw.log_text(), 40)
    );
    let detection = killed.elapsed();
    println!(
        "DPD detection time after SIGKILL: {:.1} s",
        detection.as_secs_f64()
    );
    assert!(
        detection <= Duration::from_secs(5 * 3 + 5 + 1),
        "took {detection:?}\n{}",
        common::tail(&gw.log_text(), 40)
    );
    let log = gw.log_text();
    assert!(log.contains("is dead"), "{}", common::tail(&log, 30));
    assert!(
        log.contains("ESP SAs removed"),
        "{}",
        common::tail(&log, 30)
    );
    // Re-initiation (Main Mode into the void) …
    assert!(
        gw.wait_log("re-initiating", 10) || gw.log_text().contains("initiating Main Mode"),
        "{}",
        common::tail(&gw.log_text(), 30)
    );
    let before = occurrences(&gw.log_text(), "ESP SAs installed");
    // … and strongSwan comes back: so does the tunnel.
    let back = Instant::now();
    charon.restart();
    let up = poll_opt(Duration::from_secs(90), || {
        (occurrences(&gw.log_text(), "ESP SAs installed") > before).then_some(())
    });
    assert!(up.is_some(), "{}", common::tail(&gw.log_text(), 40));
    println!(
        "tunnel back {:.1} s after strongSwan restarted",
        back.elapsed().as_secs_f64()
    );
    lab.ours.ping_ok(PEER_HOST, 3, || {
        format!("{}\n{}", gw.log_text(), charon.log())
    });
    let (code, _) = gw.stop();
    assert_eq!(code, Some(0));
}

/// SIGHUP re-reads the file: unchanged → SAs kept; changed IKE settings → renegotiated with
/// the new proposal; the tunnel keeps working.
#[test]
fn sighup_reloads_the_config() {
    if !require_root() || !common::require_programs(&["ping"]) {
        return;
    }
    let lab = lab("h");
    let right_yaml = |p2: &str| yaml(PEER, OURS, PEER_LAN, OURS_LAN, PEER_HOST, true, "", "", p2);
    let mut right = Gateway::start(
        &lab.peer,
        &lab.dir,
        "right",
        &right_yaml("          encryption: [aes256, aes128]\n"),
        Some("ipsec0"),
    );
    let mut left = Gateway::start(
        &lab.ours,
        &lab.dir,
        "left",
        &ours_yaml("", "", "          encryption: aes256\n"),
        Some("ipsec0"),
    );
    let logs = |l: &Gateway, r: &Gateway| format!("{}\n{}", l.log_text(), r.log_text());
    assert!(
        left.wait_log("ESP SAs installed", 20),
        "{}",
        logs(&left, &right)
    );
    lab.ours.ping_ok(PEER_HOST, 2, || logs(&left, &right));
    // Same file: nothing happens.
    left.signal(libc::SIGHUP);
    assert!(
        left.wait_log("unchanged, SAs kept", 10),
        "{}",
        logs(&left, &right)
    );
    assert_eq!(occurrences(&left.log_text(), "ESP SAs installed"), 1);
    // Phase-2 encryption changed: renegotiated with aes128.
    std::fs::write(
        &left.config,
        ours_yaml("", "", "          encryption: aes128\n"),
    )
    .unwrap();
    left.signal(libc::SIGHUP);
    assert!(
        left.wait_log("IKE settings changed, renegotiating", 10),
        "{}",
        logs(&left, &right)
    );
    let again = poll_opt(Duration::from_secs(20), || {
        (occurrences(&left.log_text(), "ESP SAs installed") >= 2).then_some(())
    });
    assert!(again.is_some(), "{}", logs(&left, &right));
    let log = left.log_text();
    let last = log.rsplit("ESP SAs installed").next().unwrap_or("");
    assert!(last.starts_with(':') && last.contains("aes128"), "{log}");
    lab.ours.ping_ok(PEER_HOST, 2, || logs(&left, &right));
    let (cl, _) = left.stop();
    let (cr, _) = right.stop();
    assert_eq!((cl, cr), (Some(0), Some(0)));
}

/// Aggressive Mode with FQDN identities against strongSwan (which needs
/// `i_dont_care_about_security_and_use_aggressive_mode_psk`), both directions, and the
/// one-time VU#857035 warning.
#[test]
fn aggressive_mode_against_strongswan() {
    if !require_root()
        || !common::charon::require_strongswan()
        || !common::require_programs(&["ping"])
    {
        return;
    }
    for (swan_initiates, third) in [(false, "encrypted"), (true, "clear")] {
        let lab = lab(if swan_initiates { "ar" } else { "ai" });
        let mut cfg = swan_cfg();
        cfg.aggressive = true;
        cfg.local_id = Some("swan.example.com".into());
        cfg.remote_id = Some("branch.example.com".into());
        let charon = Charon::start(&lab.peer, cfg);
        let extra = format!(
            "      exchange-mode: aggressive\n      aggressive-mode-third-message: {third}\n      my-identifier: {{ fqdn: branch.example.com }}\n      peers-identifier: {{ fqdn: swan.example.com }}\n"
        );
        let y = yaml(
            OURS,
            PEER,
            OURS_LAN,
            PEER_LAN,
            OURS_HOST,
            swan_initiates,
            &extra,
            "",
            "",
        )
        .replace("      exchange-mode: main\n", "");
        let mut gw = Gateway::start(&lab.ours, &lab.dir, "ours", &y, Some("ipsec0"));
        if swan_initiates {
            charon.initiate_ok("net");
        }
        assert!(
            gw.wait_log("ESP SAs installed", 20),
            "{}\n{}",
            gw.log_text(),
            common::tail(&charon.log(), 60)
        );
        charon.wait_child_installed("net", Duration::from_secs(10));
        let log = gw.log_text();
        assert_eq!(occurrences(&log, "VU#857035"), 1, "{log}");
        assert!(
            charon.log().contains("AGGRESSIVE"),
            "{}",
            common::tail(&charon.log(), 40)
        );
        lab.ours.ping_ok(PEER_HOST, 3, || {
            format!("{}\n{}", gw.log_text(), charon.log())
        });
        let (code, _) = gw.stop();
        assert_eq!(code, Some(0));
    }
}
