//! The admin API fuzzed by schemathesis (PyPI) from the OpenAPI document it serves, against a
//! live IKE pair (ours ⇄ ours in namespaces), as root:
//!
//! 1. without a token and with a wrong one: every response matches the document (401 with the
//!    error body), no 5xx, and afterwards nothing has changed (same SAs, proposals, proxy-ids,
//!    no negotiation started);
//! 2. with the token: every check schemathesis has (schema, status codes, content types,
//!    headers, negative data rejected, positive data accepted, `ignored_auth` …), no 5xx.
//!
//! Each run is bounded (`--max-time`, examples per operation, fixed seed) so the whole test
//! takes a few minutes at most. schemathesis comes from `scripts/python-tools.sh` (a venv, run
//! here when missing).

mod common;

use common::ikegate::AdminPair;
use common::netns::{require_root, Netns};
use std::path::{Path, PathBuf};
use std::process::Command;

const ADMIN: &str = "127.0.0.1:18095";

/// The venv's bin directory, created by `scripts/python-tools.sh` when missing.
fn pytools() -> PathBuf {
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/python-tools.sh"
    ))
    .output()
    .expect("scripts/python-tools.sh");
    assert!(
        out.status.success(),
        "scripts/python-tools.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("bin")
}

fn curl(ns: &Netns, path: &str, token: &str) -> (u16, String) {
    let out = ns.exec(&[
        "curl",
        "-sS",
        "--max-time",
        "20",
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

/// What an unauthenticated request must not change: the tunnel's SAs (SPIs), its proposals
/// and proxy-ids.
fn state(ns: &Netns, token: &str) -> String {
    let mut out = String::new();
    for p in [
        "/api/v1/tunnels/ipsec0",
        "/api/v1/tunnels/ipsec0/proposals",
        "/api/v1/tunnels/ipsec0/proxy-ids",
    ] {
        let (code, body) = curl(ns, p, token);
        assert_eq!(code, 200, "{p}: {body}");
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        // Counters and ages move by themselves; keep what a control would change.
        if let Some(o) = v.as_object_mut() {
            if p == "/api/v1/tunnels/ipsec0" {
                let keep = ["name", "keying", "ike_version", "state", "phase1", "phase2"];
                o.retain(|k, _| keep.contains(&k.as_str()));
            }
            for k in ["phase1", "phase2"] {
                let keep = |m: &mut serde_json::Map<String, serde_json::Value>| {
                    m.retain(|k, _| k.contains("spi") || k.contains("cookie") || k == "proposal")
                };
                match o.get_mut(k) {
                    Some(serde_json::Value::Array(sas)) => sas
                        .iter_mut()
                        .filter_map(|x| x.as_object_mut())
                        .for_each(keep),
                    Some(serde_json::Value::Object(m)) => keep(m),
                    _ => {}
                }
            }
        }
        out.push_str(&format!("{p}: {v}\n"));
    }
    out
}

/// Runs schemathesis on `schema` inside `ns`; returns (success, output).
fn schemathesis(
    ns: &Netns,
    bin: &Path,
    schema: &Path,
    dir: &Path,
    extra: &[&str],
) -> (bool, String) {
    let st = bin.join("schemathesis");
    let url = format!("http://{ADMIN}");
    let mut args = vec![
        st.to_str().unwrap(),
        "run",
        schema.to_str().unwrap(),
        "--url",
        &url,
        "--workers",
        "1",
        "--seed",
        "20261202",
        "--max-examples",
        "25",
        "--max-time",
        "60",
        "--request-timeout",
        "20",
        "--no-color",
    ];
    args.extend_from_slice(extra);
    let out = ns
        .command(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn schemathesis_finds_nothing_with_or_without_a_token() {
    if !require_root() || !common::require_programs(&["curl"]) {
        return;
    }
    let bin = pytools();
    let pair = AdminPair::start("sch", ADMIN, "", "");
    let token = pair.token();
    let (code, doc) = curl(&pair.left, "/api/v1/openapi.json", &token);
    assert_eq!(code, 200, "{doc}");
    let schema = pair.dir.join("openapi.json");
    std::fs::write(&schema, &doc).unwrap();
    let before = state(&pair.left, &token);
    let installed = |p: &AdminPair| p.left_gw.log_text().matches("ESP SAs installed").count();
    let sas_before = installed(&pair);

    // Without a token, and with a wrong one: 401s that match the document, nothing else.
    let unauth = "not_a_server_error,status_code_conformance,content_type_conformance,\
                  response_headers_conformance,response_schema_conformance";
    for header in [None, Some("Authorization: Bearer 0000wrong0000")] {
        let mut extra = vec!["--checks", unauth];
        if let Some(h) = header {
            extra.extend(["--header", h]);
        }
        let (ok, out) = schemathesis(&pair.left, &bin, &schema, pair.dir.path(), &extra);
        assert!(ok, "schemathesis ({header:?}) found problems:\n{out}");
        println!("{}", common::tail(&out, 12));
    }
    assert_eq!(
        state(&pair.left, &token),
        before,
        "requests without a valid token changed the gateway"
    );
    assert_eq!(installed(&pair), sas_before, "a negotiation was started");

    // With the token: everything schemathesis checks but `positive_data_acceptance`: the
    // document gives the shapes of the proposal and proxy-id bodies, not the rules between
    // their fields (algorithm names from the registries, lifetimes in range, at least one of
    // ipv4/ipv6), so a schema-valid body may still be refused: with a 400 whose JSON body names
    // the key and the fix, which the other checks hold to the document.
    let auth = format!("Authorization: Bearer {token}");
    let (ok, out) = schemathesis(
        &pair.left,
        &bin,
        &schema,
        pair.dir.path(),
        &[
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--header",
            &auth,
        ],
    );
    assert!(
        ok,
        "schemathesis (with the token) found problems:\n{out}\n--- gateway ---\n{}",
        common::tail(&pair.left_gw.log_text(), 30)
    );
    println!("{}", common::tail(&out, 12));
}
