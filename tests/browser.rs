//! The web panel in a real browser, as root: two `ikegate run` in network namespaces negotiate
//! IKE; the left one runs the admin API. Headless Chromium (Debian's `chromium`, driven by
//! playwright-core from the npm registry, installed from `tests/browser/package-lock.json` into
//! the target directory) runs inside the left namespace, logs in with the token, sees the tunnel
//! "up", presses "Rekey", sees the current SPI change, and saves a screenshot to
//! `target/test-artifacts/panel.png`. Also checks `ikegate status`, `/metrics` and the key
//! export against the live pair.

mod common;

use std::time::Duration;

use common::browser::{driver_dir, target_dir, CHROMIUM};
use common::ikegate::{bin, AdminPair};
use common::netns::require_root;
use common::poll_opt;

const ADMIN: &str = "127.0.0.1:18080";

#[test]
fn panel_shows_the_tunnel_up_and_rekeys_it() {
    if !require_root() {
        return;
    }
    if !common::browser::available() {
        return;
    }
    let driver = match driver_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIP: cannot install playwright-core from the npm registry: {e}");
            return;
        }
    };
    let pair = AdminPair::start("bl", ADMIN, "  allow-key-export: true\n", "");
    let (left, l, dir, token_file) = (&pair.left, &pair.left_gw, &pair.dir, &pair.token_file);
    let up = poll_opt(Duration::from_secs(15), || {
        l.log_text().contains("ESP SAs installed").then_some(())
    });
    assert!(up.is_some(), "no SA after 15 s:\n{}", l.log_text());
    let token = pair.token();
    left.ping_ok("192.168.2.1", 2, || l.log_text());

    // `ikegate status` through the API (inside the namespace: the API listens on its loopback).
    let out = left.exec(&[
        bin(),
        "status",
        "--address",
        ADMIN,
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ipsec0: UP, 10.0.0.1 ⇄ 10.0.0.2"), "{text}");
    assert!(text.contains("ESP in 0x"), "{text}");
    // Metrics and the key export (allowed here) against the live pair.
    let curl = |path: &str| {
        let out = left.exec(&[
            "python3",
            "-c",
            "import sys,urllib.request as u;r=u.urlopen(u.Request(sys.argv[1],headers={'Authorization':'Bearer '+sys.argv[2]}));print(r.read().decode())",
            &format!("http://{ADMIN}{path}"),
            &token,
        ]);
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let m = curl("/metrics");
    assert!(m.contains("ikegate_tunnel_up{tunnel=\"ipsec0\"} 1"), "{m}");
    let keys = curl("/api/v1/keys/wireshark?format=esp_sa");
    assert_eq!(
        keys.lines().filter(|l| l.starts_with("\"IPv4\"")).count(),
        2,
        "{keys}"
    );
    assert!(
        l.log_text().contains("key export: 2 esp_sa line(s)"),
        "each use is logged"
    );

    // The browser.
    let artifacts = target_dir().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("panel.png");
    let _ = std::fs::remove_file(&shot);
    let profile = dir.join("chromium-profile");
    let out = left
        .command("node")
        .arg(driver.join("panel.mjs"))
        .current_dir(&driver)
        .env("PANEL_URL", format!("http://{ADMIN}/"))
        .env("PANEL_TOKEN", &token)
        .env("SCREENSHOT", &shot)
        .env("CHROMIUM", CHROMIUM)
        .env("PROFILE_DIR", &profile)
        .env("HOME", dir.path())
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
    eprintln!("browser steps (ms from start): {}", v["ms"]);
    assert_eq!(v["list_state"], "up");
    assert_eq!(v["state_after"], "up");
    assert_eq!(v["token_in_session"], true);
    assert_ne!(v["spi_before"], v["spi_after"]);
    assert_eq!(v["console_errors"], serde_json::json!([]), "{v}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    assert!(l
        .log_text()
        .contains("Rekey requested through the admin API"));
    eprintln!("screenshot: {}", shot.display());
}

/// The throughput graph and the proposal form editor (web/graph.js, web/proposal-form.js) in
/// headless Chromium against a live IKEv1 pair with traffic flowing: the graph gets samples
/// (screenshot `target/test-artifacts/panel-graph.png`), an invalid form edit (two DH groups on
/// IKEv1) shows the API's error next to that field (screenshot `panel-form.png`), and a valid
/// one (reordered encryption, new phase-2 lifetime) is what the API then holds.
#[test]
fn panel_graph_and_proposal_form() {
    if !require_root() {
        return;
    }
    if !common::browser::available() {
        return;
    }
    let driver = match driver_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIP: cannot install playwright-core from the npm registry: {e}");
            return;
        }
    };
    let pair = AdminPair::start("bg", ADMIN, "", "");
    let (left, l, dir) = (&pair.left, &pair.left_gw, &pair.dir);
    let up = poll_opt(Duration::from_secs(15), || {
        l.log_text().contains("ESP SAs installed").then_some(())
    });
    assert!(up.is_some(), "no SA after 15 s:\n{}", l.log_text());
    left.ping_ok("192.168.2.1", 1, || l.log_text());
    // Traffic for the graph: 1 kB echo requests (and their replies) five times a second.
    let _traffic = left.spawn(
        &["ping", "-q", "-i", "0.2", "-s", "1000", "192.168.2.1"],
        None,
    );
    let artifacts = target_dir().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let (graph, form) = (
        artifacts.join("panel-graph.png"),
        artifacts.join("panel-form.png"),
    );
    for f in [&graph, &form] {
        let _ = std::fs::remove_file(f);
    }
    let out = left
        .command("node")
        .arg(driver.join("form.mjs"))
        .current_dir(&driver)
        .env("PANEL_URL", format!("http://{ADMIN}/"))
        .env("PANEL_TOKEN", pair.token())
        .env("GRAPH_SHOT", &graph)
        .env("FORM_SHOT", &form)
        .env("CHROMIUM", CHROMIUM)
        .env("PROFILE_DIR", dir.join("chromium-profile"))
        .env("HOME", dir.path())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().last().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("driver output is not JSON ({e}):\n{stdout}\n{stderr}"));
    assert!(
        out.status.success() && v["ok"] == true,
        "browser: {v}\n{stderr}\ngateway log:\n{}",
        l.log_text()
    );
    // The graph: rates from the counters, traffic both ways (≥ 8 kbit/s each at 5 × 1 kB/s).
    assert!(v["graph_points"].as_u64().unwrap() >= 3, "{v}");
    let rates = v["graph_rates"].as_array().unwrap();
    let last = rates.last().unwrap();
    for k in ["inBps", "outBps"] {
        assert!(last[k].as_f64().unwrap() > 8000.0, "{k}: {v}");
    }
    assert!(
        v["graph_legend"].as_str().unwrap().starts_with("in "),
        "{v}"
    );
    // The form's menus come from the API, and the error sits next to its field.
    assert_eq!(
        v["encryption_before"],
        serde_json::json!(["aes256", "aes128", "3des"])
    );
    assert_eq!(v["dh_before"], serde_json::json!(["modp1536"]));
    assert!(
        v["dh_menu"]
            .as_array()
            .unwrap()
            .contains(&"curve25519".into()),
        "{v}"
    );
    assert!(
        v["dh_error"]
            .as_str()
            .unwrap()
            .contains("IKEv1 proposes one Diffie-Hellman group"),
        "{v}"
    );
    assert_eq!(v["dh_field_marked"], true);
    assert_eq!(v["other_errors"], serde_json::json!([]), "{v}");
    // The valid edit is what the API holds now.
    assert_eq!(v["errors_after_fix"], "");
    let saved = &v["saved"];
    assert_eq!(
        saved["phase1"]["encryption"],
        serde_json::json!(["aes128", "aes256", "3des"]),
        "{v}"
    );
    assert_eq!(saved["phase1"]["dh-group"], "modp1536");
    assert_eq!(saved["phase2"]["lifetime-of-time"], 3600);
    assert_eq!(
        saved["phase2"]["encryption"],
        serde_json::json!(["aes128-gcm", "aes256"])
    );
    assert_eq!(v["encryption_form_after"], saved["phase1"]["encryption"]);
    assert_eq!(v["console_errors"], serde_json::json!([]), "{v}");
    assert_eq!(v["refused_puts_logged"], 1, "{v}");
    for f in [&graph, &form] {
        let png = std::fs::read(f).expect("screenshot written");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 5_000,
            "{}",
            f.display()
        );
        eprintln!("screenshot: {}", f.display());
    }
}
