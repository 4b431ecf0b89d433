//! The admin API against a live IKE pair, as root: proposals PUT with `?rekey=now` changes the
//! negotiated suite, proxy-ids PUT, reset and initiate bring new SAs, invalid PUTs change
//! nothing, and a manually keyed tunnel refuses IKE controls.

mod common;

use std::time::Duration;

use common::ikegate::AdminPair;
use common::netns::{require_root, Netns};
use common::poll_opt;

const ADMIN: &str = "127.0.0.1:18081";

const CLIENT: &str = r#"
import sys, urllib.request as u, urllib.error as e
m, url, tok = sys.argv[1], sys.argv[2], sys.argv[3]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = u.Request(url, data=body, method=m, headers={'Authorization': 'Bearer ' + tok, 'Content-Type': 'application/json'})
try:
    r = u.urlopen(req, timeout=20); print(r.status); print(r.read().decode())
except e.HTTPError as x:
    print(x.code); print(x.read().decode())
"#;

struct Api<'a> {
    ns: &'a Netns,
    token: String,
}

impl Api<'_> {
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        let url = format!("http://{ADMIN}{path}");
        let mut args = vec!["python3", "-c", CLIENT, method, &url, &self.token];
        if let Some(b) = body {
            args.push(b);
        }
        let out = self.ns.exec(&args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (code, rest) = text.split_once('\n').unwrap_or_else(|| {
            panic!(
                "{method} {path}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let v = serde_json::from_str(rest.trim()).unwrap_or(serde_json::Value::Null);
        (code.trim().parse().unwrap(), v)
    }

    fn tunnel(&self) -> serde_json::Value {
        let (c, v) = self.call("GET", "/api/v1/tunnels/ipsec0", None);
        assert_eq!(c, 200, "{v}");
        v
    }

    fn current(&self) -> Option<(String, String)> {
        let t = self.tunnel();
        t["phase2"].as_array()?.iter().find_map(|s| {
            (s["current"] == true).then(|| {
                (
                    s["outbound_spi"].as_str().unwrap_or("").to_string(),
                    s["proposal"].as_str().unwrap_or("").to_string(),
                )
            })
        })
    }
}

const MANUAL: &str = "  ipsec1:
    ipv4: { source: 10.0.0.1, destination: 10.9.9.9 }
    manual-sa:
      outbound: { spi: 0x2001, encryption: aes128-gcm, key: \"0x000102030405060708090a0b0c0d0e0f10111213\" }
      inbound: { spi: 0x2002, encryption: aes128-gcm, key: \"0x000102030405060708090a0b0c0d0e0f10111213\" }
";

#[test]
fn proposals_proxy_ids_and_controls_on_a_live_pair() {
    if !require_root() {
        return;
    }
    let pair = AdminPair::start("al", ADMIN, "", MANUAL);
    let (left, l) = (&pair.left, &pair.left_gw);
    let log = || l.log_text();
    assert!(log().contains("admin API token written to"), "{}", log());
    let api = Api {
        ns: left,
        token: pair.token(),
    };
    let first = poll_opt(Duration::from_secs(15), || api.current())
        .unwrap_or_else(|| panic!("no SA:\n{}", log()));
    assert_eq!(first.1, "aes128-gcm");
    assert_eq!(api.tunnel()["state"], "up");
    let (c, v) = api.call("GET", "/api/v1/tunnels/ipsec1", None);
    assert_eq!(c, 200);
    assert_eq!(v["keying"], "manual");
    assert_eq!(v["dpd"]["state"], "off");

    // A new phase-2 proposal, applied at once: the new SA uses it.
    let (c, v) = api.call(
        "PUT",
        "/api/v1/tunnels/ipsec0/proposals?rekey=now",
        Some(r#"{"phase2": {"encryption": "aes256", "authentication": "hmac-sha256"}}"#),
    );
    assert_eq!(c, 200, "{v}");
    let second = poll_opt(Duration::from_secs(15), || {
        api.current().filter(|c| c.0 != first.0)
    })
    .unwrap_or_else(|| panic!("no new SA after the PUT:\n{}", log()));
    assert_eq!(second.1, "aes256-hmac-sha256", "{}", log());
    let (_, v) = api.call("GET", "/api/v1/tunnels/ipsec0/proposals", None);
    assert_eq!(v["negotiated_phase2"], "aes256-hmac-sha256", "{v}");
    left.ping_ok("192.168.2.1", 2, log);

    // An invalid PUT changes nothing.
    let (c, v) = api.call(
        "PUT",
        "/api/v1/tunnels/ipsec0/proposals",
        Some(r#"{"phase2": {"encryption": "rot13"}}"#),
    );
    assert_eq!(c, 400);
    assert!(
        v["detail"].as_str().unwrap().contains("phase2.encryption"),
        "{v}"
    );
    let (_, v) = api.call("GET", "/api/v1/tunnels/ipsec0/proposals", None);
    assert_eq!(
        v["configured"]["phase2"]["encryption"],
        serde_json::json!(["aes256"])
    );

    // Proxy-ids: same values round-trip.
    let (c, v) = api.call(
        "PUT",
        "/api/v1/tunnels/ipsec0/proxy-ids",
        Some(r#"{"ipv4": {"local": "192.168.1.0/24", "remote": "192.168.2.0/24"}}"#),
    );
    assert_eq!(c, 200, "{v}");
    assert_eq!(v["configured"]["ipv4"]["remote"], "192.168.2.0/24");

    // Reset: every SA goes, new ones come.
    let (c, v) = api.call("POST", "/api/v1/tunnels/ipsec0/reset", None);
    assert_eq!(c, 200, "{v}");
    let third = poll_opt(Duration::from_secs(20), || {
        api.current().filter(|c| c.0 != second.0)
    })
    .unwrap_or_else(|| panic!("no SA after reset:\n{}", log()));
    assert_ne!(third.0, first.0);
    let (c, v) = api.call("POST", "/api/v1/tunnels/ipsec0/initiate", None);
    assert_eq!(c, 200, "{v}");
    left.ping_ok("192.168.2.1", 2, log);

    // IKE controls make no sense for manual keys.
    for verb in ["initiate", "rekey", "reset"] {
        let (c, v) = api.call("POST", &format!("/api/v1/tunnels/ipsec1/{verb}"), None);
        assert_eq!(c, 409, "{v}");
    }
    let (c, _) = api.call("GET", "/api/v1/tunnels/ipsec1/proposals", None);
    assert_eq!(c, 409);
    // Metrics list both tunnels, the manual one without an SA to its absent peer included.
    let (c, _) = api.call("GET", "/metrics", None);
    assert_eq!(c, 200);
}
