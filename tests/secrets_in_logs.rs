//! Secrets never reach a log or an API response, as root: a full negotiation and a rekey against
//! strongSwan 5.9 (IKEv1 Main + Quick Mode, and IKEv2 with a CREATE_CHILD_SA rekey) with the
//! gateway at `RUST_LOG=trace`; then every key of the run, taken from the opt-in exports
//! (`--wireshark-keylog`, `GET /api/v1/keys/wireshark` in its three formats) and from charon's
//! own key log, and the pre-shared key, must appear neither in the gateway's log nor in the
//! response of any other endpoint (every GET of the OpenAPI document, `/metrics`, the panel).
//!
//! A key is looked for as lower- and upper-case hex, colon-separated hex and as the decimal list
//! Rust's `Debug` prints for a byte slice (its first 12 bytes, resp. 8).

mod common;

use common::charon::{Charon, CharonConfig, Strongswan};
use common::ikegate::Gateway;
use common::netns::{require_root, swan_lab, Netns, SwanLab};
use std::time::Duration;

const PSK: &str = "Jai0ahqu3Ziexoh9";
const ADMIN: &str = "127.0.0.1:8080";

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && common::require_programs(&["curl", "ping"])
}

fn ours_yaml(version: u8, token: &str) -> String {
    let ike = if version == 1 {
        "      version: 1\n"
    } else {
        "      version: 2\n"
    };
    format!(
        "admin:\n  listen: {ADMIN}\n  token-file: {token}\n  allow-key-export: true\n\
interfaces:\n  ipsec0:\n    ipv4: {{ source: 10.0.0.1, destination: 10.0.0.2 }}\n    nat-traversal: enable\n    preshared-key: {PSK}\n    ike:\n{ike}      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ local: 192.168.1.0/24, remote: 192.168.2.0/24 }}\n\
route:\n  ipv4:\n    - {{ destination: 192.168.2.0/24, gateway: ipsec0, source: 192.168.1.1 }}\n"
    )
}

/// `curl` inside the namespace: (status, body).
fn http(ns: &Netns, method: &str, path: &str, token: &str) -> (u16, String) {
    let out = ns.exec(&[
        "curl",
        "-sS",
        "--max-time",
        "20",
        "-X",
        method,
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-w",
        "\n%{http_code}",
        &format!("http://{ADMIN}{path}"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Every hex run of 32 digits or more (16 bytes: the shortest key; SPIs and cookies are at
/// most 16 digits) in `text`, as bytes.
fn long_hex(text: &str) -> Vec<Vec<u8>> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|t| t.len() >= 32 && t.len() % 2 == 0)
        .map(|t| {
            (0..t.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

/// The spellings of `key` looked for.
fn spellings(key: &[u8]) -> Vec<String> {
    let head = &key[..key.len().min(12)];
    let lower: String = head.iter().map(|b| format!("{b:02x}")).collect();
    let colon: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let dec: Vec<String> = key[..key.len().min(8)]
        .iter()
        .map(|b| b.to_string())
        .collect();
    vec![
        lower.clone(),
        lower.to_uppercase(),
        colon.join(":"),
        colon.join(":").to_uppercase(),
        format!("[{}", dec.join(", ")),
    ]
}

/// Panics naming where a secret appears in `text`.
fn assert_clean(what: &str, text: &str, keys: &[Vec<u8>]) {
    assert!(
        !text.contains(PSK),
        "the pre-shared key appears in {what}:\n{}",
        excerpt(text, PSK)
    );
    for k in keys {
        for s in spellings(k) {
            assert!(
                !text.contains(&s),
                "key material ({s}…) appears in {what}:\n{}",
                excerpt(text, &s)
            );
        }
    }
}

fn excerpt(text: &str, needle: &str) -> String {
    let i = text.find(needle).unwrap_or(0);
    let start = text[..i].rfind('\n').map_or(0, |p| p + 1);
    let end = text[i..].find('\n').map_or(text.len(), |p| i + p);
    text[start..end].to_string()
}

/// Every GET path of the OpenAPI document (`{name}` = ipsec0) but the key export, plus the
/// panel's files.
fn get_paths(openapi: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(openapi).expect("OpenAPI JSON");
    let mut out: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.get("get").is_some())
        .map(|(p, _)| p.replace("{name}", "ipsec0"))
        .filter(|p| p != "/api/v1/keys/wireshark")
        .collect();
    out.extend(["/", "/app.js"].map(String::from));
    out
}

fn run(version: u8) {
    if !can_run() {
        return;
    }
    let lab: SwanLab = swan_lab("sko", "sks", "secrets");
    let mut cfg = if version == 1 {
        CharonConfig::ikev1_psk("10.0.0.2", "10.0.0.1", "192.168.2.0/24", "192.168.1.0/24")
    } else {
        let mut c = CharonConfig::ikev2_psk(
            Strongswan::Debian59,
            "10.0.0.2",
            "10.0.0.1",
            "192.168.2.0/24",
            "192.168.1.0/24",
        );
        c.ike_proposals = "aes256-sha256-modp2048".into();
        c.esp_proposals = "aes256-sha256".into();
        // 5.9's kernel-libipsec only does ESP in UDP: it fakes a NAT to get there.
        c.encap = true;
        c
    };
    cfg.psk = PSK.into();
    let charon = Charon::start(&lab.swan, cfg);
    let token_file = lab.dir.join("admin.token");
    let keylog = lab.dir.join("esp.keys");
    let yaml = ours_yaml(version, token_file.to_str().unwrap());
    let config = lab.dir.join("ours.yaml");
    std::fs::write(&config, &yaml).unwrap();
    let argv = [
        common::ikegate::bin(),
        "run",
        "--config",
        config.to_str().unwrap(),
        "--wireshark-keylog",
        keylog.to_str().unwrap(),
    ];
    let mut gw = Gateway::spawn(
        &lab.ours,
        &lab.dir,
        "ours",
        config.clone(),
        &argv,
        &[("RUST_LOG", "trace")],
        Some("ipsec0"),
    );
    if !gw.wait_log("ESP SAs installed", 20) {
        charon.fail(&format!("no SAs:\n{}", gw.log_text()));
    }
    charon.wait_child_installed("net", Duration::from_secs(10));
    lab.ours
        .ping_ok("192.168.2.1", 2, || common::tail(&gw.log_text(), 40));
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    // A rekey: new ESP keys (and for IKEv2 a CREATE_CHILD_SA under the IKE SA's keys).
    let (code, body) = http(&lab.ours, "POST", "/api/v1/tunnels/ipsec0/rekey", token);
    assert_eq!(code, 200, "{body}");
    let installed = || gw.log_text().matches("ESP SAs installed").count();
    assert!(
        common::poll_opt(Duration::from_secs(20), || (installed() >= 2).then_some(())).is_some(),
        "no rekey:\n{}",
        common::tail(&gw.log_text(), 60)
    );
    lab.ours
        .ping_ok("192.168.2.1", 2, || common::tail(&gw.log_text(), 40));

    // The secrets of the run, from the opt-in exports and from charon.
    let mut export = std::fs::read_to_string(&keylog).unwrap();
    for format in ["esp_sa", "ikev1_decryption_table", "ikev2_decryption_table"] {
        let (code, body) = http(
            &lab.ours,
            "GET",
            &format!("/api/v1/keys/wireshark?format={format}"),
            token,
        );
        assert!(code == 200 || code == 501, "{format}: {code} {body}");
        export.push_str(&body);
    }
    let mut keys = long_hex(&export);
    for k in charon.esp_keys() {
        keys.push(k.encr_key);
        keys.push(k.integ_key);
    }
    for k in charon.ike_keys() {
        keys.extend([k.sk_d, k.sk_ai, k.sk_ar, k.sk_ei, k.sk_er, k.sk_pi, k.sk_pr]);
    }
    keys.retain(|k| k.len() >= 16);
    keys.sort();
    keys.dedup();
    // 2 × (enc + integ) per child SA and at least 2 child SAs; IKE keys on top.
    let min = if version == 1 { 8 } else { 12 };
    assert!(
        keys.len() >= min,
        "only {} keys collected:\n{export}",
        keys.len()
    );
    println!("IKEv{version}: {} distinct keys checked", keys.len());

    // Every other response.
    let (code, openapi) = http(&lab.ours, "GET", "/api/v1/openapi.json", token);
    assert_eq!(code, 200);
    for path in get_paths(&openapi) {
        let (code, body) = http(&lab.ours, "GET", &path, token);
        assert!(code < 500, "{path}: {code} {body}");
        assert_clean(&format!("GET {path}"), &body, &keys);
    }
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{}", common::tail(&log, 40));
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "not at trace level?"
    );
    assert_clean("the gateway's log (RUST_LOG=trace)", &log, &keys);
}

#[test]
fn ikev1_negotiation_and_rekey_leak_no_secret() {
    run(1);
}

#[test]
fn ikev2_negotiation_and_rekey_leak_no_secret() {
    run(2);
}
