//! The panel's live parts in a real browser, as root: two `ikegate run` in network namespaces
//! negotiate; headless Chromium in the left one logs in, follows `GET /api/v1/events`, and
//! after "Rekey" must receive the gateway's event within a second and show the new SA from it
//! (no polling); the transcript ladder is drawn and unfolds a decrypted message. Screenshots of
//! the ladder and the timeline go to `target/test-artifacts/{transcript,timeline}.png`.

mod common;

use std::time::Duration;

use common::browser::{driver_dir, target_dir, CHROMIUM};
use common::ikegate::{bin, AdminPair};
use common::netns::require_root;
use common::poll_opt;

const ADMIN: &str = "127.0.0.1:18081";

#[test]
fn events_reach_the_panel_within_a_second_and_the_ladder_is_drawn() {
    if !require_root() || !common::browser::available() {
        return;
    }
    let driver = match driver_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIP: cannot install playwright-core from the npm registry: {e}");
            return;
        }
    };
    let pair = AdminPair::start("bv", ADMIN, "", "");
    let (left, l) = (&pair.left, &pair.left_gw);
    let up = poll_opt(Duration::from_secs(15), || {
        l.log_text().contains("ESP SAs installed").then_some(())
    });
    assert!(up.is_some(), "no SA after 15 s:\n{}", l.log_text());
    sa_list_shows_both_sas(left, &pair.token_file);
    let artifacts = target_dir().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for f in ["transcript.png", "timeline.png"] {
        let _ = std::fs::remove_file(artifacts.join(f));
    }
    let v = run_driver(&pair, &driver, "transcript.mjs", ADMIN, &artifacts);
    println!("panel: {v}");
    let latency = v["event_latency_ms"].as_i64().expect("latency");
    assert!(
        (0..1000).contains(&latency),
        "the event took {latency} ms to reach the panel: {v}"
    );
    let table = v["table_latency_ms"].as_i64().expect("table latency");
    assert!(
        table < 1000,
        "the SA table showed the new SA {table} ms after the event: {v}"
    );
    assert!(v["unfolded_payloads"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(
        v["exchanges_after"].as_u64() > v["exchanges_before"].as_u64(),
        "{v}"
    );
    let kinds = v["timeline_kinds"].as_array().cloned().unwrap_or_default();
    assert!(kinds.iter().any(|k| k == "rekey" || k == "child-up"), "{v}");
    assert_eq!(v["console_errors"], serde_json::json!([]), "{v}");
    for f in ["transcript.png", "timeline.png"] {
        let png = std::fs::read(artifacts.join(f)).expect("screenshot written");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{f}");
        eprintln!("screenshot: {}", artifacts.join(f).display());
    }
}

/// Runs a driver script of `tests/browser/` in headless Chromium against the left gateway's
/// panel on `admin`; its JSON line, after checking it succeeded.
fn run_driver(
    pair: &AdminPair,
    driver: &std::path::Path,
    script: &str,
    admin: &str,
    artifacts: &std::path::Path,
) -> serde_json::Value {
    let l = &pair.left_gw;
    let out = pair
        .left
        .command("node")
        .arg(driver.join(script))
        .current_dir(driver)
        .env("PANEL_URL", format!("http://{admin}/"))
        .env("PANEL_TOKEN", pair.token())
        .env("ARTIFACTS", artifacts)
        .env("CHROMIUM", CHROMIUM)
        .env("PROFILE_DIR", pair.dir.join("chromium-profile"))
        .env("HOME", pair.dir.path())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().last().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}):\n{stdout}\n{stderr}\n{}",
            l.log_text()
        )
    });
    assert!(
        out.status.success() && v["ok"] == true,
        "browser: {v}\n{stderr}\ngateway log:\n{}",
        l.log_text()
    );
    v
}

/// A negotiation that fails (the left gateway is switched to a phase-2 proposal the right one
/// does not accept, 3DES with HMAC-MD5, and rekeys at once) shows its cause in the panel: the ladder's exchange carries the
/// diagnostic, in words. Screenshot `target/test-artifacts/transcript-failure.png`.
#[test]
fn a_failed_negotiation_shows_its_cause_in_the_panel() {
    if !require_root() || !common::browser::available() {
        return;
    }
    let Ok(driver) = driver_dir() else {
        eprintln!("SKIP: cannot install playwright-core from the npm registry");
        return;
    };
    const FAIL_ADMIN: &str = "127.0.0.1:18082";
    let pair = AdminPair::start("bf", FAIL_ADMIN, "", "");
    let l = &pair.left_gw;
    let up = poll_opt(Duration::from_secs(15), || {
        l.log_text().contains("ESP SAs installed").then_some(())
    });
    assert!(up.is_some(), "no SA after 15 s:\n{}", l.log_text());
    let body = r#"{"phase2": {"encryption": ["3des"], "authentication": ["hmac-md5"]}}"#;
    let url = format!("http://{FAIL_ADMIN}/api/v1/tunnels/ipsec0/proposals?rekey=now");
    let auth = format!("Authorization: Bearer {}", pair.token());
    let out = pair.left.exec(&[
        "curl",
        "-sS",
        "-X",
        "PUT",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "--data",
        body,
        &url,
    ]);
    assert!(out.status.success(), "{out:?}");
    let failed = poll_opt(Duration::from_secs(20), || {
        l.log_text().contains("NO-PROPOSAL-CHOSEN").then_some(())
    });
    assert!(failed.is_some(), "no refusal logged:\n{}", l.log_text());
    let artifacts = target_dir().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let v = run_driver(&pair, &driver, "failure.mjs", FAIL_ADMIN, &artifacts);
    println!("panel: {v}");
    let diag = v["diagnostic"].as_str().unwrap_or("");
    assert!(
        diag.contains("modp2048") || diag.contains("proposal"),
        "{v}"
    );
    assert_eq!(v["console_errors"], serde_json::json!([]), "{v}");
    let png = std::fs::read(artifacts.join("transcript-failure.png")).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000);
}

/// `ikegate sa list` (words and `--json`) through the API of the live pair.
fn sa_list_shows_both_sas(ns: &common::netns::Netns, token_file: &std::path::Path) {
    let tf = token_file.to_str().unwrap();
    let args = ["sa", "list", "--address", ADMIN, "--token-file", tf];
    let out = ns.exec(&[&[bin()][..], &args[..]].concat());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("ipsec0: UP, IKEv1, 10.0.0.1 ⇄ 10.0.0.2"),
        "{text}"
    );
    assert!(
        text.contains("  IKE SA established (initiator), SPIs "),
        "{text}"
    );
    assert!(text.contains("  CHILD SA (current) in 0x"), "{text}");
    assert!(text.contains("192.168.1.0/24 === 192.168.2.0/24"), "{text}");
    let out = ns.exec(&[&[bin()][..], &args[..], &["--json"][..]].concat());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sa list --json");
    assert_eq!(v[0]["tunnel"], "ipsec0");
    assert_eq!(v[0]["ike_sas"][0]["state"], "established");
    assert!(
        v[0]["child_sas"][0]["inbound_spi"].as_str().is_some(),
        "{v}"
    );
}
