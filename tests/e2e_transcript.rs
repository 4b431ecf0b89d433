//! The negotiation transcript against real strongSwan 5.9 (IKEv1 and IKEv2): three failures —
//! proposal mismatch, wrong pre-shared key, traffic-selector (proxy-id) mismatch — must show
//! their cause through `GET /api/v1/tunnels/ipsec0/transcript` and `ikegate transcript ipsec0`,
//! decrypted where the exchange was encrypted, without any capture or key export. Root only;
//! prints "SKIP: …" otherwise.

mod common;

use common::charon::{Charon, CharonConfig, Strongswan};
use common::ikegate::{bin, Gateway};
use common::netns::{require_root, swan_lab, Netns};

const OURS: &str = "10.0.0.1";
const SWAN: &str = "10.0.0.2";
const PSK: &str = "xeeB5gohvaYi";

fn can_run() -> bool {
    require_root() && common::charon::require_strongswan()
}

/// One failing negotiation: our settings, charon's, and what the transcript must show.
struct Case {
    version: u8,
    psk: &'static str,
    /// Lines under `proposal:` (indented by 8).
    proposal: &'static str,
    swan_ike: &'static str,
    /// What ikegate logs once it has diagnosed the failure.
    log_needle: &'static str,
    /// Substrings of the diagnostic attached to an exchange of the transcript.
    diagnostic: &'static [&'static str],
    /// A payload (name, text substring) some message of the transcript must show.
    payload: (&'static str, &'static str),
    /// Also: `ikegate events` follows the stream while `terminate` and `initiate` replay the
    /// failure, and sees the failure event with its diagnostic.
    follow_events: bool,
}

fn follow_events(ns: &Netns, dir: &common::TempDir, cfg: &str) {
    let log = dir.join("events.jsonl");
    let mut follower = ns.spawn(&[bin(), "events", "--config", cfg, "--json"], Some(&log));
    std::thread::sleep(std::time::Duration::from_millis(500));
    for verb in ["terminate", "initiate"] {
        let (code, out, err) = cli(ns, &[verb, "ipsec0", "--config", cfg]);
        assert_eq!(code, 0, "{verb}: {out}{err}");
        assert!(out.starts_with(&format!("ipsec0: {verb} queued")), "{out}");
    }
    let failure = common::poll_opt(std::time::Duration::from_secs(20), || {
        std::fs::read_to_string(&log).ok()?.lines().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["kind"] == "failure").then_some(v)
        })
    });
    follower.kill();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let failure = failure.unwrap_or_else(|| panic!("no failure event:\n{text}"));
    assert!(
        failure["diagnostic"]
            .as_str()
            .is_some_and(|d| d.contains("proposal mismatch")),
        "{failure}"
    );
    assert_eq!(failure["tunnel"], "ipsec0");
}

fn ours_yaml(c: &Case, token: &str) -> String {
    format!(
        "admin:\n  listen: 127.0.0.1:8080\n  token-file: {token}\n\
interfaces:\n  ipsec0:\n    ipv4: {{ source: {OURS}, destination: {SWAN} }}\n    nat-traversal: enable\n    preshared-key: {}\n    ike:\n      version: {}\n      proposal:\n{}\
route:\n  ipv4:\n    - {{ destination: 192.168.2.0/24, gateway: ipsec0, source: 192.168.1.1 }}\n",
        c.psk, c.version, c.proposal
    )
}

fn swan_cfg(c: &Case) -> CharonConfig {
    let mut s = if c.version == 1 {
        CharonConfig::ikev1_psk(SWAN, OURS, "192.168.2.0/24", "192.168.1.0/24")
    } else {
        let mut s = CharonConfig::ikev2_psk(
            Strongswan::Debian59,
            SWAN,
            OURS,
            "192.168.2.0/24",
            "192.168.1.0/24",
        );
        // 5.9's kernel-libipsec only does ESP in UDP.
        s.encap = true;
        s
    };
    s.psk = PSK.into();
    s.ike_proposals = c.swan_ike.into();
    s.esp_proposals = "aes256-sha256".into();
    s
}

/// `ikegate ARGS…` inside `ns`: (exit code, stdout, stderr).
fn cli(ns: &Netns, args: &[&str]) -> (i32, String, String) {
    let mut all = vec![bin()];
    all.extend_from_slice(args);
    let out = ns.exec(&all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every (name, text) of a JSON payload tree.
fn payloads(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    if let Some(a) = v.as_array() {
        a.iter().for_each(|x| payloads(x, out));
        return;
    }
    let (Some(n), Some(t)) = (v["name"].as_str(), v["text"].as_str()) else {
        return;
    };
    out.push((n.to_string(), t.to_string()));
    payloads(&v["children"], out);
}

fn run(c: Case) {
    if !can_run() {
        return;
    }
    let lab = swan_lab("to", "ts", "transcript");
    let charon = Charon::start(&lab.swan, swan_cfg(&c));
    let token = lab.dir.join("admin.token");
    let yaml = ours_yaml(&c, token.to_str().unwrap());
    let mut gw = Gateway::start(&lab.ours, &lab.dir, "ours", &yaml, Some("ipsec0"));
    if !gw.wait_log(c.log_needle, 40) {
        charon.fail(&format!(
            "ikegate never said {:?}:\n{}",
            c.log_needle,
            gw.log_text()
        ));
    }
    let cfg = gw.config.to_str().unwrap().to_string();
    // The API, through the CLI's --json (the same body).
    let (code, json, err) = cli(
        &lab.ours,
        &["transcript", "ipsec0", "--config", &cfg, "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("transcript JSON");
    let exchanges = v["exchanges"].as_array().expect("exchanges").clone();
    let diagnosed = exchanges
        .iter()
        .filter_map(|e| e["diagnostic"].as_str())
        .find(|d| c.diagnostic.iter().all(|s| d.contains(s)));
    assert!(
        diagnosed.is_some(),
        "no exchange carries a diagnostic with {:?}:\n{json}",
        c.diagnostic
    );
    let mut all = Vec::new();
    for e in &exchanges {
        for m in e["messages"].as_array().into_iter().flatten() {
            payloads(&m["payloads"], &mut all);
        }
    }
    assert!(
        all.iter()
            .any(|(n, t)| n.contains(c.payload.0) && t.contains(c.payload.1)),
        "no payload {:?} in the transcript:\n{json}",
        c.payload
    );
    assert!(!json.contains(PSK) && !json.contains("not-the-same-key"));
    // The ladder in words.
    let (code, text, err) = cli(&lab.ours, &["transcript", "ipsec0", "--config", &cfg]);
    assert_eq!(code, 0, "{err}");
    println!("{text}");
    assert!(text.contains("us ─────────▶ peer") && text.contains("us ◀───────── peer"));
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("diagnostic:")
                && c.diagnostic.iter().all(|s| l.contains(s))),
        "{text}"
    );
    assert!(text.contains(c.payload.1), "{text}");
    if c.follow_events {
        follow_events(&lab.ours, &lab.dir, &cfg);
    }
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn ikev1_proposal_mismatch_is_in_the_transcript() {
    run(Case {
        version: 1,
        psk: PSK,
        proposal: "        phase1:\n          dh-group: modp1024\n          encryption: aes256\n          hash: sha256\n        phase2:\n          proxy-id:\n            ipv4: { local: 192.168.1.0/24, remote: 192.168.2.0/24 }\n",
        swan_ike: "aes256-sha256-modp1536",
        log_needle: "phase 1 proposal mismatch",
        diagnostic: &["phase 1 proposal mismatch", "aes256-sha256-modp1024"],
        payload: ("N(NO-PROPOSAL-CHOSEN)", "error NO-PROPOSAL-CHOSEN"),
        follow_events: false,
    });
}

#[test]
fn ikev1_wrong_psk_is_in_the_transcript() {
    run(Case {
        version: 1,
        psk: "not-the-same-key",
        proposal: "        phase2:\n          proxy-id:\n            ipv4: { local: 192.168.1.0/24, remote: 192.168.2.0/24 }\n",
        swan_ike: "aes256-sha256-modp1536",
        log_needle: "pre-shared keys differ",
        diagnostic: &["pre-shared keys differ"],
        // Main Mode message 5, ours, shown decrypted.
        payload: ("ID", "IPV4-ADDR 10.0.0.1"),
        follow_events: false,
    });
}

#[test]
fn ikev1_proxy_id_mismatch_is_in_the_transcript() {
    run(Case {
        version: 1,
        psk: PSK,
        proposal: "        phase2:\n          proxy-id:\n            ipv4: { local: 192.168.1.0/24, remote: 192.168.9.0/24 }\n",
        swan_ike: "aes256-sha256-modp1536",
        log_needle: "proxy-id mismatch",
        diagnostic: &["proxy-id mismatch", "192.168.9.0/24"],
        // Quick Mode message 1, encrypted, shown decrypted with our proxy-id.
        payload: ("ID", "IPV4-ADDR-SUBNET 192.168.9.0/24"),
        follow_events: false,
    });
}

#[test]
fn ikev2_proposal_mismatch_is_in_the_transcript() {
    run(Case {
        version: 2,
        psk: PSK,
        proposal: "        phase2:\n          proxy-id:\n            ipv4: { local: 192.168.1.0/24, remote: 192.168.2.0/24 }\n",
        swan_ike: "aes128gcm16-prfsha256-ecp521",
        log_needle: "proposal mismatch",
        diagnostic: &["proposal mismatch", "NO_PROPOSAL_CHOSEN"],
        payload: ("N(NO_PROPOSAL_CHOSEN)", "error NO_PROPOSAL_CHOSEN"),
        follow_events: true,
    });
}

#[test]
fn ikev2_wrong_psk_is_in_the_transcript() {
    run(Case {
        version: 2,
        psk: "not-the-same-key",
        proposal: "        phase2:\n          proxy-id:\n            ipv4: { local: 192.168.1.0/24, remote: 192.168.2.0/24 }\n",
        swan_ike: "aes256-sha256-modp2048",
        log_needle: "AUTHENTICATION_FAILED",
        diagnostic: &["AUTHENTICATION_FAILED"],
        // charon's IKE_AUTH response, encrypted, shown decrypted.
        payload: ("N(AUTHENTICATION_FAILED)", "error AUTHENTICATION_FAILED"),
        follow_events: false,
    });
}

#[test]
fn ikev2_traffic_selector_mismatch_is_in_the_transcript() {
    run(Case {
        version: 2,
        psk: PSK,
        proposal: "        phase2:\n          proxy-id:\n            ipv4: { local: 192.168.1.0/24, remote: 192.168.9.0/24 }\n",
        swan_ike: "aes256-sha256-modp2048",
        log_needle: "TS_UNACCEPTABLE",
        diagnostic: &["TS_UNACCEPTABLE", "192.168.9.0/24"],
        payload: ("N(TS_UNACCEPTABLE)", "error TS_UNACCEPTABLE"),
        follow_events: false,
    });
}
