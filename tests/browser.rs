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
