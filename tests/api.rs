//! Admin API over real sockets against a fake gateway state: every endpoint's status codes,
//! auth, validation errors, the OpenAPI document, metrics, limits (oversized bodies, slow
//! clients, malformed tokens, unknown tunnels), atomic concurrent PUTs, and TLS with a rustls
//! client. Needs no root.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use ikegate::api::client::{tls_trusting, Endpoint};
use ikegate::api::error::ApiError;
use ikegate::api::model::{self, TunnelState};
use ikegate::api::state::{PolicyStore, PolicyUpdate};
use ikegate::api::{AdminState, Control};
use ikegate::ike::IkePolicy;
use ikegate::ra::board::{RaBoard, RaCommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Fake {
    policies: PolicyStore,
    controls: Mutex<Vec<(String, Control)>>,
    applied: Mutex<Vec<(u32, bool)>>,
    /// A real board, answered by a task standing in for the remote-access task.
    ra: Arc<RaBoard>,
}

fn ra_client(id: u64, user: &str, ip: &str) -> model::RaClient {
    model::RaClient {
        id,
        user: user.into(),
        identity: format!("{user}@example.net"),
        virtual_ips: vec![ip.into()],
        outer: "198.51.100.7:4500".into(),
        connected_secs: 42,
        bytes_in: 1000,
        bytes_out: 2000,
        ike_version: 2,
    }
}

/// The board of `ipsec-ra0` with alice and bob, and a task that disconnects on request.
fn ra_board() -> Arc<RaBoard> {
    let (board, mut rx) = RaBoard::new("ipsec-ra0");
    board.publish(model::RemoteAccess {
        name: "ipsec-ra0".into(),
        clients: vec![
            ra_client(1, "alice", "10.8.0.1"),
            ra_client(2, "bob", "10.8.0.2"),
        ],
        pool: vec![model::RaPool {
            prefix: "10.8.0.0/24".into(),
            size: 254,
            active: 2,
            reserved: 1,
        }],
        login_failures: BTreeMap::from([("wrong password".to_string(), 3)]),
        negotiating: 1,
    });
    let b = board.clone();
    tokio::spawn(async move {
        while let Some(RaCommand::Disconnect { id, done }) = rx.recv().await {
            let mut s = (*b.snapshot()).clone();
            s.clients.retain(|c| c.id != id);
            b.publish(s);
            let _ = done.send(Ok(format!("client {id} disconnected")));
        }
    });
    board
}

fn tunnel(name: &str, keying: &str, state: TunnelState) -> model::Tunnel {
    model::Tunnel {
        name: name.into(),
        state,
        keying: keying.into(),
        ike_version: (keying == "ike").then_some(2),
        local: "10.0.0.1".into(),
        remote: "10.0.0.2".into(),
        nat_traversal: "enable".into(),
        mtu: 1400,
        nat: None,
        phase1: vec![],
        phase2: if state == TunnelState::Up {
            vec![model::Phase2Sa {
                inbound_spi: "0xc0000001".into(),
                outbound_spi: "0xd0000001".into(),
                proposal: "aes128-gcm".into(),
                proxy_ids: model::ProxyIdPair {
                    local: "192.168.1.0/24".into(),
                    remote: "192.168.2.0/24".into(),
                },
                selectors: vec![
                    model::ProxyIdPair {
                        local: "192.168.1.0/24".into(),
                        remote: "192.168.2.0/24".into(),
                    },
                    model::ProxyIdPair {
                        local: "2001:db8:1::/48".into(),
                        remote: "2001:db8:2::/48".into(),
                    },
                ],
                role: "initiator".into(),
                age_secs: Some(5),
                expires_in_secs: Some(100),
                udp_encap: None,
                mode: "tunnel".into(),
                inbound: model::PacketCount {
                    packets: 3,
                    bytes: 300,
                },
                outbound: model::PacketCount {
                    packets: 4,
                    bytes: 400,
                },
                current: true,
            }]
        } else {
            vec![]
        },
        dpd: model::Dpd::default(),
        counters: model::Counters {
            tx: model::PacketCount {
                packets: 4,
                bytes: 400,
            },
            rx_drops: BTreeMap::from([("replay".to_string(), 2)]),
            ..Default::default()
        },
        ike: (keying == "ike").then(model::IkeCounters::default),
        last_error: (state == TunnelState::Down).then(|| "no answer from 10.0.0.2".to_string()),
    }
}

impl AdminState for Fake {
    fn tunnels(&self) -> Vec<model::Tunnel> {
        let mut up = tunnel("ipsec0", "ike", TunnelState::Up);
        up.phase1 = vec![model::Phase1Sa {
            role: "initiator".into(),
            state: "established".into(),
            initiator_cookie: "0102030405060708".into(),
            responder_cookie: "1112131415161718".into(),
            proposal: Some("aes256-sha256-prfsha256-curve25519-ke1_mlkem768".into()),
            peer: "10.0.0.2:500".into(),
            local_port: 500,
            age_secs: Some(5),
            expires_in_secs: Some(100),
            peer_identity: Some("10.0.0.2".into()),
            peer_dpd: true,
            key_exchanges: Some("curve25519 + mlkem768".into()),
            post_quantum: true,
            peer_certificate: None,
        }];
        vec![up, tunnel("ipsec1", "manual", TunnelState::Down)]
    }

    fn global(&self) -> model::Global {
        model::Global::default()
    }

    fn policy(&self, name: &str) -> Result<IkePolicy, ApiError> {
        match name {
            "ipsec0" => Ok((*self.policies.get(name).unwrap()).clone()),
            _ => Err(ApiError::conflict(format!("{name} uses manual keys"))),
        }
    }

    fn update_policy<'a>(
        &'a self,
        name: &'a str,
        update: PolicyUpdate,
        rekey_now: bool,
    ) -> BoxFuture<'a, Result<IkePolicy, ApiError>> {
        Box::pin(async move {
            self.policy(name)?;
            self.policies
                .update(name, update, |p| async move {
                    // Give concurrent updates every chance to interleave.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    self.applied
                        .lock()
                        .unwrap()
                        .push((p.phase1.lifetime_secs, rekey_now));
                    Ok(())
                })
                .await
                .unwrap()
        })
    }

    fn control<'a>(&'a self, name: &'a str, c: Control) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            if name != "ipsec0" {
                return Err(ApiError::conflict("manual keys"));
            }
            self.controls.lock().unwrap().push((name.to_string(), c));
            Ok(format!("{c:?} queued"))
        })
    }

    fn esp_keys(&self) -> Vec<String> {
        vec![
            "\"IPv4\",\"10.0.0.1\",\"10.0.0.2\",\"0xd0000001\",\"AES-GCM\",\"0x00\",\"NULL\",\"\""
                .into(),
        ]
    }

    fn ikev1_keys(&self) -> BoxFuture<'_, Result<Vec<String>, ApiError>> {
        Box::pin(async {
            Ok(vec![
                "\"0011223344556677\",\"00112233445566778899aabbccddeeff\"".into(),
            ])
        })
    }

    fn remote_access(&self) -> Vec<model::RemoteAccess> {
        vec![(*self.ra.snapshot()).clone()]
    }

    fn disconnect_client<'a>(
        &'a self,
        _name: &'a str,
        id: u64,
    ) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move { self.ra.disconnect(id).await.map_err(ApiError::conflict) })
    }
}

struct Server {
    ep: Endpoint,
    fake: Arc<Fake>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn new_fake(policies: PolicyStore) -> Arc<Fake> {
    Arc::new(Fake {
        policies,
        controls: Mutex::new(vec![]),
        applied: Mutex::new(vec![]),
        ra: ra_board(),
    })
}

async fn server(allow_key_export: bool) -> Server {
    let policy = IkePolicy::seil_defaults(
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
        b"k",
    );
    let fake = new_fake(PolicyStore::new([("ipsec0".to_string(), policy.into())]));
    let app = ikegate::api::app(fake.clone(), TOKEN, allow_key_export);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(ikegate::api::server::serve(l, None, app));
    Server {
        ep: Endpoint { addr, tls: None },
        fake,
        task,
    }
}

impl Server {
    async fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.ep
            .request(method, path, Some(TOKEN), body)
            .await
            .unwrap()
    }

    async fn json(&self, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        let (c, b) = self.call(method, path, body).await;
        let v = serde_json::from_str(&b).unwrap_or_else(|e| panic!("{method} {path}: {e}: {b}"));
        (c, v)
    }

    /// Sends raw bytes on a new connection and returns what comes back (until close or 5 s).
    async fn raw(&self, req: &[u8]) -> String {
        let mut s = tokio::net::TcpStream::connect(self.ep.addr).await.unwrap();
        s.write_all(req).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn assert_error(code: u16, v: &serde_json::Value, want: u16, error: &str) {
    assert_eq!(code, want, "{v}");
    assert_eq!(v["error"], error, "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
}

#[tokio::test]
async fn health_needs_no_token_and_everything_else_does() {
    let s = server(false).await;
    let (c, b) = s.ep.request("GET", "/healthz", None, None).await.unwrap();
    assert_eq!((c, b.as_str()), (200, "{\"status\":\"ok\"}"));
    for (m, p) in [
        ("GET", "/api/v1/tunnels"),
        ("GET", "/api/v1/tunnels/ipsec0"),
        ("GET", "/api/v1/tunnels/ipsec0/proposals"),
        ("PUT", "/api/v1/tunnels/ipsec0/proposals"),
        ("GET", "/api/v1/tunnels/ipsec0/proxy-ids"),
        ("PUT", "/api/v1/tunnels/ipsec0/proxy-ids"),
        ("GET", "/api/v1/tunnels/ipsec0/dpd"),
        ("POST", "/api/v1/tunnels/ipsec0/initiate"),
        ("POST", "/api/v1/tunnels/ipsec0/rekey"),
        ("POST", "/api/v1/tunnels/ipsec0/reset"),
        ("POST", "/api/v1/tunnels/ipsec0/terminate"),
        ("GET", "/api/v1/tunnels/ipsec0/transcript"),
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/keys/wireshark"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/tunnels/nonexistent"),
        ("GET", "/api/v1/remote-access"),
        ("GET", "/api/v1/remote-access/ipsec-ra0"),
        ("DELETE", "/api/v1/remote-access/ipsec-ra0/clients/1"),
    ] {
        let (c, b) = s.ep.request(m, p, None, Some("{}")).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_error(c, &v, 401, "unauthorized");
        let (c, b) = s.ep.request(m, p, Some("wrong"), Some("{}")).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_error(c, &v, 401, "unauthorized");
    }
    assert!(s.fake.controls.lock().unwrap().is_empty());
    // The panel itself is static and open (it asks for the token).
    let (c, b) = s.ep.request("GET", "/", None, None).await.unwrap();
    assert_eq!(c, 200);
    assert!(b.contains("<title>ikegate</title>"));
    for p in ["/app.js", "/style.css", "/events.js", "/transcript.js"] {
        assert_eq!(s.ep.request("GET", p, None, None).await.unwrap().0, 200);
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_401() {
    let s = server(false).await;
    for h in [
        "Basic dXNlcjpwYXNz".to_string(),
        "Bearer".to_string(),
        "Bearer ".to_string(),
        format!("Bearer{TOKEN}"),
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", &TOKEN[..31]),
    ] {
        let r = s
            .raw(
                format!(
                    "GET /api/v1/tunnels HTTP/1.1\r\nHost: x\r\nAuthorization: {h}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .await;
        assert!(r.starts_with("HTTP/1.1 401"), "{h:?}: {r}");
        assert!(
            r.to_ascii_lowercase().contains("www-authenticate: bearer"),
            "{r}"
        );
    }
    // Non-UTF-8 bytes in the header.
    let mut req = b"GET /api/v1/tunnels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n".to_vec();
    let r = s.raw(&req).await;
    assert!(
        r.starts_with("HTTP/1.1 401") || r.starts_with("HTTP/1.1 400"),
        "{r}"
    );
    // Control characters are refused by the HTTP parser already.
    let r = s
        .raw(b"GET /api/v1/tunnels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x7f\r\nConnection: close\r\n\r\n")
        .await;
    assert!(
        r.starts_with("HTTP/1.1 400") || r.starts_with("HTTP/1.1 401"),
        "{r}"
    );
    // Lower-case scheme works.
    req = format!("GET /api/v1/tunnels HTTP/1.1\r\nHost: x\r\nAuthorization: bearer {TOKEN}\r\nConnection: close\r\n\r\n").into_bytes();
    assert!(s.raw(&req).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn tunnels_list_detail_dpd_and_unknown_names() {
    let s = server(false).await;
    let (c, v) = s.json("GET", "/api/v1/tunnels", None).await;
    assert_eq!(c, 200);
    let ts: Vec<model::Tunnel> = serde_json::from_value(v).unwrap();
    assert_eq!(ts.len(), 2);
    assert_eq!(ts[0].state, TunnelState::Up);
    assert_eq!(ts[1].state, TunnelState::Down);
    let (c, v) = s.json("GET", "/api/v1/tunnels/ipsec0", None).await;
    assert_eq!(c, 200);
    assert_eq!(v["state"], "up");
    assert_eq!(v["phase2"][0]["inbound_spi"], "0xc0000001");
    assert_eq!(v["phase2"][0]["proxy_ids"]["local"], "192.168.1.0/24");
    assert_eq!(v["phase2"][0]["selectors"][1]["local"], "2001:db8:1::/48");
    assert_eq!(v["phase2"][0]["selectors"][1]["remote"], "2001:db8:2::/48");
    assert_eq!(v["counters"]["rx_drops"]["replay"], 2);
    let (c, v) = s.json("GET", "/api/v1/tunnels/ipsec1", None).await;
    assert_eq!(c, 200);
    assert_eq!(v["last_error"], "no answer from 10.0.0.2");
    let (c, v) = s.json("GET", "/api/v1/tunnels/ipsec0/dpd", None).await;
    assert_eq!(c, 200);
    assert_eq!(v["enabled"], false);
    for p in [
        "/api/v1/tunnels/nope",
        "/api/v1/tunnels/nope/dpd",
        "/api/v1/tunnels/nope/proposals",
        "/api/v1/tunnels/nope/proxy-ids",
        "/api/v1/tunnels/%2e%2e%2fetc",
        "/api/v1/nothing",
    ] {
        let (c, v) = s.json("GET", p, None).await;
        assert_error(c, &v, 404, "not_found");
    }
    let long = "x".repeat(5000);
    let (c, v) = s
        .json("GET", &format!("/api/v1/tunnels/{long}"), None)
        .await;
    assert_error(c, &v, 404, "not_found");
    assert!(
        v["detail"].as_str().unwrap().len() < 300,
        "the name is not echoed in full"
    );
    for verb in ["initiate", "rekey", "reset"] {
        let (c, v) = s
            .json("POST", &format!("/api/v1/tunnels/nope/{verb}"), None)
            .await;
        assert_error(c, &v, 404, "not_found");
    }
    // Wrong method.
    let (c, _) = s.call("DELETE", "/api/v1/tunnels/ipsec0", None).await;
    assert_eq!(c, 405);
}

#[tokio::test]
async fn controls_go_to_the_tunnel_task() {
    let s = server(false).await;
    for verb in ["initiate", "rekey", "reset"] {
        let (c, v) = s
            .json("POST", &format!("/api/v1/tunnels/ipsec0/{verb}"), None)
            .await;
        assert_eq!(c, 200, "{v}");
        assert!(v["result"].as_str().unwrap().contains("queued"));
    }
    assert_eq!(
        *s.fake.controls.lock().unwrap(),
        vec![
            ("ipsec0".to_string(), Control::Initiate),
            ("ipsec0".to_string(), Control::Rekey),
            ("ipsec0".to_string(), Control::Reset)
        ]
    );
    let (c, v) = s.json("POST", "/api/v1/tunnels/ipsec1/rekey", None).await;
    assert_error(c, &v, 409, "conflict");
}

#[tokio::test]
async fn proposals_get_put_and_validation() {
    let s = server(false).await;
    let (c, v) = s
        .json("GET", "/api/v1/tunnels/ipsec0/proposals", None)
        .await;
    assert_eq!(c, 200);
    assert_eq!(v["configured"]["phase1"]["dh-group"], "modp1536");
    assert_eq!(v["negotiated_phase2"], "aes128-gcm");
    // What GET returns can be PUT back unchanged.
    let body = v["configured"].to_string();
    let (c, v2) = s
        .json("PUT", "/api/v1/tunnels/ipsec0/proposals", Some(&body))
        .await;
    assert_eq!(c, 200, "{v2}");
    assert_eq!(v2["configured"], v["configured"]);
    let (c, v) = s
        .json(
            "PUT",
            "/api/v1/tunnels/ipsec0/proposals?rekey=now",
            Some(r#"{"phase1": {"encryption": "aes128", "hash": "sha1", "dh-group": "modp2048", "lifetime": 3600},
                     "phase2": {"encryption": ["aes128-gcm"], "pfs-group": "modp2048"}}"#),
        )
        .await;
    assert_eq!(c, 200, "{v}");
    assert_eq!(
        v["configured"]["phase1"]["encryption"],
        serde_json::json!(["aes128"])
    );
    assert_eq!(v["configured"]["phase2"]["pfs-group"], "modp2048");
    assert_eq!(s.fake.applied.lock().unwrap().last(), Some(&(3600, true)));
    // Validation errors name the field, and change nothing.
    for (body, field) in [
        (
            r#"{"phase1": {"encryption": "aes999"}}"#,
            "phase1.encryption",
        ),
        (r#"{"phase1": {"lifetime": 5}}"#, "phase1.lifetime"),
        (r#"{"phase2": {"pfs-group": "modp1"}}"#, "phase2.pfs-group"),
        (
            r#"{"phase2": {"encryption": "aes256", "authentication": []}}"#,
            "phase2.authentication",
        ),
        (r#"{"phase3": {}}"#, "phase3"),
        (r#"[1, 2]"#, "expected a block"),
    ] {
        let (c, v) = s
            .json("PUT", "/api/v1/tunnels/ipsec0/proposals", Some(body))
            .await;
        assert_error(c, &v, 400, "invalid");
        assert!(v["detail"].as_str().unwrap().contains(field), "{body}: {v}");
    }
    for body in ["{", "not json", "{\"phase1\": }", ""] {
        let (c, v) = s
            .json("PUT", "/api/v1/tunnels/ipsec0/proposals", Some(body))
            .await;
        assert_error(c, &v, 400, "bad_request");
        assert!(v["detail"].as_str().unwrap().contains("JSON"), "{v}");
    }
    let (c, v) = s
        .json(
            "PUT",
            "/api/v1/tunnels/ipsec0/proposals?rekey=later",
            Some("{}"),
        )
        .await;
    assert_error(c, &v, 400, "bad_request");
    assert!(v["detail"].as_str().unwrap().starts_with("rekey"));
    let (c, v) = s
        .json("GET", "/api/v1/tunnels/ipsec0/proposals", None)
        .await;
    assert_eq!(c, 200);
    assert_eq!(
        v["configured"]["phase1"]["lifetime"], 3600,
        "failed PUTs changed nothing"
    );
    let (c, v) = s
        .json("GET", "/api/v1/tunnels/ipsec1/proposals", None)
        .await;
    assert_error(c, &v, 409, "conflict");
    let (c, v) = s
        .json("PUT", "/api/v1/tunnels/ipsec1/proposals", Some("{}"))
        .await;
    assert_error(c, &v, 409, "conflict");
}

#[tokio::test]
async fn proxy_ids_get_put_and_validation() {
    let s = server(false).await;
    let (c, v) = s
        .json("GET", "/api/v1/tunnels/ipsec0/proxy-ids", None)
        .await;
    assert_eq!(c, 200);
    assert_eq!(v["configured"]["ipv4"]["local"], "0.0.0.0/0");
    assert_eq!(v["negotiated"][0]["remote"], "192.168.2.0/24");
    let (c, v) = s
        .json(
            "PUT",
            "/api/v1/tunnels/ipsec0/proxy-ids",
            Some(r#"{"ipv4": {"local": "192.168.1.0/24", "remote": "192.168.2.0/24"}}"#),
        )
        .await;
    assert_eq!(c, 200, "{v}");
    assert_eq!(v["configured"]["ipv4"]["local"], "192.168.1.0/24");
    for (body, field) in [
        (
            r#"{"ipv4": {"local": "192.168.1.1/24", "remote": "10.0.0.0/8"}}"#,
            "ipv4.local",
        ),
        (r#"{"ipv4": {"local": "192.168.1.0/24"}}"#, "ipv4.remote"),
        (
            r#"{"ipv6": {"local": "10.0.0.0/8", "remote": "::/0"}}"#,
            "ipv6.local",
        ),
        (r#"{"ipv5": {}}"#, "ipv5"),
        (r#"{}"#, "ipv4"),
    ] {
        let (c, v) = s
            .json("PUT", "/api/v1/tunnels/ipsec0/proxy-ids", Some(body))
            .await;
        assert_error(c, &v, 400, "invalid");
        assert!(v["detail"].as_str().unwrap().contains(field), "{body}: {v}");
    }
    let (c, v) = s
        .json("GET", "/api/v1/tunnels/ipsec0/proxy-ids", None)
        .await;
    assert_eq!(c, 200);
    assert_eq!(v["configured"]["ipv4"]["local"], "192.168.1.0/24");
}

#[tokio::test]
async fn concurrent_puts_are_atomic_last_wins() {
    let s = Arc::new(server(false).await);
    let mut tasks = Vec::new();
    for i in 0..24u32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            // Each body is self-consistent: lifetime and phase-2 lifetime carry the same number,
            // the cipher depends on its parity. A half-applied mix would break that.
            let (enc, hash) = if i % 2 == 0 {
                ("aes128", "sha1")
            } else {
                ("3des", "sha256")
            };
            let body = format!(
                r#"{{"phase1": {{"lifetime": {}, "encryption": "{enc}", "hash": "{hash}"}},
                    "phase2": {{"lifetime-of-time": {}}}}}"#,
                3600 + i,
                3600 + i
            );
            s.call("PUT", "/api/v1/tunnels/ipsec0/proposals", Some(&body))
                .await
                .0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (_, v) = s
        .json("GET", "/api/v1/tunnels/ipsec0/proposals", None)
        .await;
    let p1 = &v["configured"]["phase1"];
    let n = p1["lifetime"].as_u64().unwrap();
    assert_eq!(
        v["configured"]["phase2"]["lifetime-of-time"]
            .as_u64()
            .unwrap(),
        n
    );
    let want = if (n - 3600) % 2 == 0 {
        ("aes128", "sha1")
    } else {
        ("3des", "sha256")
    };
    assert_eq!(p1["encryption"][0], want.0);
    assert_eq!(p1["hash"][0], want.1);
    let applied = s.fake.applied.lock().unwrap().clone();
    assert_eq!(applied.len(), 24);
    assert_eq!(
        u64::from(applied.last().unwrap().0),
        n,
        "the last applied is the one in force"
    );
}

#[tokio::test]
async fn key_export_is_gated_and_checks_the_format() {
    let s = server(false).await;
    let (c, v) = s
        .json("GET", "/api/v1/keys/wireshark?format=esp_sa", None)
        .await;
    assert_error(c, &v, 403, "forbidden");
    let s = server(true).await;
    let (c, b) = s
        .call("GET", "/api/v1/keys/wireshark?format=esp_sa", None)
        .await;
    assert_eq!(c, 200);
    assert!(b.starts_with("\"IPv4\",\"10.0.0.1\""), "{b}");
    let (c, b) = s
        .call(
            "GET",
            "/api/v1/keys/wireshark?format=ikev1_decryption_table",
            None,
        )
        .await;
    assert_eq!(c, 200);
    assert_eq!(
        b,
        "\"0011223344556677\",\"00112233445566778899aabbccddeeff\"\n"
    );
    let (c, v) = s
        .json("GET", "/api/v1/keys/wireshark?format=pcap", None)
        .await;
    assert_error(c, &v, 400, "bad_request");
}

#[tokio::test]
async fn openapi_document_describes_every_endpoint() {
    let s = server(false).await;
    let (c, v) = s.json("GET", "/api/v1/openapi.json", None).await;
    assert_eq!(c, 200);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    let paths = v["paths"].as_object().unwrap();
    for (p, methods) in [
        ("/api/v1/tunnels", &["get"][..]),
        ("/api/v1/tunnels/{name}", &["get"]),
        ("/api/v1/tunnels/{name}/proposals", &["get", "put"]),
        ("/api/v1/tunnels/{name}/proxy-ids", &["get", "put"]),
        ("/api/v1/tunnels/{name}/dpd", &["get"]),
        ("/api/v1/tunnels/{name}/initiate", &["post"]),
        ("/api/v1/tunnels/{name}/rekey", &["post"]),
        ("/api/v1/tunnels/{name}/reset", &["post"]),
        ("/api/v1/tunnels/{name}/terminate", &["post"]),
        ("/api/v1/tunnels/{name}/transcript", &["get"]),
        ("/api/v1/events", &["get"]),
        ("/api/v1/keys/wireshark", &["get"]),
        ("/api/v1/openapi.json", &["get"]),
        ("/metrics", &["get"]),
        ("/healthz", &["get"]),
        ("/api/v1/remote-access", &["get"]),
        ("/api/v1/remote-access/{name}", &["get"]),
        ("/api/v1/remote-access/{name}/clients/{id}", &["delete"]),
    ] {
        for m in methods {
            assert!(
                paths[p][*m].is_object(),
                "{m} {p} missing in the OpenAPI document"
            );
        }
    }
    let schemas = v["components"]["schemas"].as_object().unwrap();
    for name in [
        "Tunnel",
        "Phase2Sa",
        "Proposals",
        "ErrorBody",
        "Dpd",
        "PeerCertificate",
        "Transcript",
        "Exchange",
        "Message",
        "Node",
        "GatewayEvent",
        "RemoteAccess",
        "RaClient",
        "RaPool",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    let cert = &schemas["Phase1Sa"]["properties"]["peer_certificate"];
    assert!(cert.is_object(), "Phase1Sa.peer_certificate missing");
    assert!(schemas["PeerCertificate"]["properties"]["fingerprint_sha256"].is_object());
    assert_eq!(
        schemas["Phase2Sa"]["properties"]["selectors"]["type"],
        "array"
    );
    assert_eq!(schemas["Phase2Sa"]["properties"]["mode"]["type"], "string");
    assert_eq!(
        v["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn metrics_in_prometheus_text_format() {
    let s = server(false).await;
    let (c, b) = s.call("GET", "/metrics", None).await;
    assert_eq!(c, 200);
    for line in [
        "ikegate_tunnel_up{tunnel=\"ipsec0\"} 1",
        "ikegate_tunnel_up{tunnel=\"ipsec1\"} 0",
        "ikegate_tunnel_packets_total{tunnel=\"ipsec0\",direction=\"out\"} 4",
        "ikegate_tunnel_bytes_total{tunnel=\"ipsec0\",direction=\"out\"} 400",
        "ikegate_tunnel_drops_total{tunnel=\"ipsec0\",direction=\"in\",reason=\"replay\"} 2",
        "ikegate_tunnel_rekeys_total{tunnel=\"ipsec0\"} 0",
        "ikegate_dpd_failures_total{tunnel=\"ipsec1\"} 0",
        "ikegate_ike_negotiations_total{tunnel=\"ipsec0\",phase=\"any\",result=\"failure\"} 0",
        "ikegate_tunnel_post_quantum{tunnel=\"ipsec0\",key_exchanges=\"curve25519 + mlkem768\"} 1",
        "ikegate_tunnel_post_quantum{tunnel=\"ipsec1\",key_exchanges=\"\"} 0",
        "# TYPE ikegate_tunnel_packets_total counter",
        "ikegate_ra_clients{interface=\"ipsec-ra0\"} 2",
        "ikegate_ra_negotiating{interface=\"ipsec-ra0\"} 1",
        "ikegate_ra_pool_active{interface=\"ipsec-ra0\",prefix=\"10.8.0.0/24\"} 2",
        "ikegate_ra_pool_reserved{interface=\"ipsec-ra0\",prefix=\"10.8.0.0/24\"} 1",
        "ikegate_ra_login_failures_total{interface=\"ipsec-ra0\",reason=\"wrong password\"} 3",
        "# TYPE ikegate_ra_login_failures_total counter",
    ] {
        assert!(b.lines().any(|l| l == line), "missing {line}:\n{b}");
    }
    // Every sample line is `name{labels} value` with a declared family.
    for l in b.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = l.rsplit_once(' ').unwrap();
        value.parse::<f64>().unwrap();
        let family = name.split('{').next().unwrap();
        assert!(b.contains(&format!("# TYPE {family} ")), "{family}");
    }
}

/// Remote access: clients, pool and failures listed; one client disconnected through its
/// interface's task; wrong names and ids answered in words.
#[tokio::test]
async fn remote_access_lists_clients_and_disconnects_one() {
    let s = server(false).await;
    let (c, v) = s.json("GET", "/api/v1/remote-access", None).await;
    assert_eq!(c, 200, "{v}");
    assert_eq!(v[0]["name"], "ipsec-ra0");
    assert_eq!(v[0]["clients"][1]["user"], "bob");
    assert_eq!(v[0]["clients"][1]["virtual_ips"][0], "10.8.0.2");
    assert_eq!(v[0]["pool"][0]["size"], 254);
    assert_eq!(v[0]["login_failures"]["wrong password"], 3);
    let (c, v) = s.json("GET", "/api/v1/remote-access/ipsec0", None).await;
    assert_error(c, &v, 404, "not_found");
    assert!(v["detail"].as_str().unwrap().contains("ipsec-ra0"), "{v}");
    let (c, v) = s
        .json(
            "DELETE",
            "/api/v1/remote-access/ipsec-ra0/clients/abc",
            None,
        )
        .await;
    assert_error(c, &v, 400, "bad_request");
    let (c, v) = s
        .json("DELETE", "/api/v1/remote-access/ipsec-ra0/clients/99", None)
        .await;
    assert_error(c, &v, 404, "not_found");
    let (c, v) = s
        .json("DELETE", "/api/v1/remote-access/ipsec-ra0/clients/1", None)
        .await;
    assert_eq!(c, 200, "{v}");
    assert_eq!(v["result"], "client 1 disconnected");
    let (c, v) = s.json("GET", "/api/v1/remote-access/ipsec-ra0", None).await;
    assert_eq!(c, 200, "{v}");
    let users: Vec<&str> = v["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["bob"]);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let s = server(false).await;
    let big = format!("{{\"phase1\": {{\"x\": \"{}\"}}}}", "a".repeat(200_000));
    let (c, _) = s
        .call("PUT", "/api/v1/tunnels/ipsec0/proposals", Some(&big))
        .await;
    assert_eq!(c, 413);
    // A lying Content-Length is refused before the body is read.
    let r = s
        .raw(format!("PUT /api/v1/tunnels/ipsec0/proxy-ids HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100000000\r\n\r\n{{").as_bytes())
        .await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // Huge headers.
    let r = s
        .raw(
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: {}\r\n\r\n",
                "j".repeat(100_000)
            )
            .as_bytes(),
        )
        .await;
    assert!(!r.starts_with("HTTP/1.1 200"), "{}", &r[..r.len().min(200)]);
    let (c, _) = s.call("GET", "/healthz", None).await;
    assert_eq!(c, 200, "the server still answers");
}

#[tokio::test]
async fn slow_clients_time_out_without_blocking_others() {
    let s = server(false).await;
    // Headers that never finish: the connection is closed after the header timeout.
    let mut slow = tokio::net::TcpStream::connect(s.ep.addr).await.unwrap();
    slow.write_all(b"GET /api/v1/tunnels HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A body that never arrives: 408 after the request timeout.
    let mut slow_body = tokio::net::TcpStream::connect(s.ep.addr).await.unwrap();
    slow_body
        .write_all(format!("PUT /api/v1/tunnels/ipsec0/proxy-ids HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 50\r\n\r\n{{").as_bytes())
        .await
        .unwrap();
    // An idle keep-alive connection after one request.
    let mut idle = tokio::net::TcpStream::connect(s.ep.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 512];
    let n = idle.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    // Meanwhile others are served at once.
    let t0 = std::time::Instant::now();
    let (c, _) = s.call("GET", "/api/v1/tunnels", None).await;
    assert_eq!(c, 200);
    assert!(t0.elapsed() < Duration::from_secs(2));
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(30), slow.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "slow header connection still open after 30 s");
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(30), slow_body.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "slow body connection still open after 30 s");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let mut rest = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(30), idle.read_to_end(&mut rest)).await;
    assert!(
        r.is_ok(),
        "idle keep-alive connection still open after 30 s"
    );
}

#[tokio::test]
async fn status_command_prints_the_table() {
    let s = server(false).await;
    let dir = std::env::temp_dir().join(format!("ikegate-status-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tf = dir.join("token");
    std::fs::write(&tf, format!("{TOKEN}\n")).unwrap();
    let addr = s.ep.addr.to_string();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ikegate"))
        .args(["status", "--address", &addr, "--token-file"])
        .arg(&tf)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("ipsec0: UP, 10.0.0.1 ⇄ 10.0.0.2, IKEv2 keys"),
        "{text}"
    );
    assert!(
        text.contains("ESP in 0xc0000001 out 0xd0000001 (current), tunnel mode, aes128-gcm"),
        "{text}"
    );
    assert!(
        text.contains(
            "aes128-gcm, 192.168.1.0/24 ⇄ 192.168.2.0/24, 2001:db8:1::/48 ⇄ 2001:db8:2::/48"
        ),
        "{text}"
    );
    assert!(text.contains("ipsec1: DOWN"), "{text}");
    assert!(
        text.contains("last error: no answer from 10.0.0.2"),
        "{text}"
    );
    // A wrong token and no gateway at all say what is wrong.
    std::fs::write(&tf, "nope").unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ikegate"))
        .args(["status", "--address", &addr, "--token-file"])
        .arg(&tf)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    drop(s);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = l.local_addr().unwrap().to_string();
    drop(l);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ikegate"))
        .args(["status", "--address", &free, "--token-file"])
        .arg(&tf)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to the admin API"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn tls_with_a_rustls_client_and_generated_pair() {
    let dir = std::env::temp_dir().join(format!("ikegate-api-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = ikegate::config::AdminConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token_file: dir.join("admin.token"),
        tls: Some(ikegate::config::TlsFiles {
            certificate: dir.join("cert.pem"),
            private_key: dir.join("key.pem"),
        }),
        allow_key_export: false,
    };
    let fake = new_fake(PolicyStore::new([]));
    let srv = ikegate::api::start(&cfg, fake).await.unwrap();
    assert!(srv.token_generated);
    assert!(srv.url.starts_with("https://127.0.0.1:"));
    let fp = srv.fingerprint.clone().unwrap();
    assert_eq!(fp.split(':').count(), 32);
    use std::os::unix::fs::PermissionsExt;
    for f in ["admin.token", "key.pem"] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let token = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let token = token.trim();
    assert_eq!(token.len(), 64);
    let ep = Endpoint {
        addr: srv.local_addr,
        tls: Some((
            tls_trusting(&dir.join("cert.pem")).unwrap(),
            rustls_pki_types::ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into()),
        )),
    };
    let (c, b) = ep
        .request("GET", "/api/v1/tunnels", Some(token), None)
        .await
        .unwrap();
    assert_eq!(c, 200, "{b}");
    let (c, _) = ep
        .request("GET", "/api/v1/tunnels", Some("bad"), None)
        .await
        .unwrap();
    assert_eq!(c, 401);
    // Plain HTTP to the TLS port gets nothing useful.
    let plain = Endpoint {
        addr: srv.local_addr,
        tls: None,
    };
    assert!(!matches!(
        plain.request("GET", "/healthz", None, None).await,
        Ok((200, _))
    ));
    // A client that does not trust this certificate refuses it.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    ikegate::api::server::generate_self_signed(
        &ikegate::config::TlsFiles {
            certificate: other.join("c.pem"),
            private_key: other.join("k.pem"),
        },
        &["127.0.0.1".into()],
    )
    .unwrap();
    let wrong = Endpoint {
        addr: srv.local_addr,
        tls: Some((
            tls_trusting(&other.join("c.pem")).unwrap(),
            rustls_pki_types::ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into()),
        )),
    };
    let e = wrong
        .request("GET", "/healthz", None, None)
        .await
        .unwrap_err();
    assert!(e.contains("TLS"), "{e}");
    srv.stop();
    // Restarting reuses the token and the pair.
    let fake = new_fake(PolicyStore::new([]));
    let srv = ikegate::api::start(&cfg, fake).await.unwrap();
    assert!(!srv.token_generated);
    assert_eq!(srv.fingerprint.as_deref(), Some(fp.as_str()));
    srv.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn non_loopback_listen_gets_tls_next_to_the_token() {
    let dir = std::env::temp_dir().join(format!("ikegate-api-tls2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = ikegate::config::AdminConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        token_file: dir.join("t/admin.token"),
        tls: None,
        allow_key_export: false,
    };
    assert!(cfg.uses_tls());
    let fake = new_fake(PolicyStore::new([]));
    let srv = ikegate::api::start(&cfg, fake).await.unwrap();
    assert!(srv.url.starts_with("https://"));
    assert!(dir.join("t/admin.token.cert.pem").exists());
    let mut c2 = cfg.clone();
    c2.listen = format!("0.0.0.0:{}", srv.local_addr.port())
        .parse()
        .unwrap();
    let ep = Endpoint::from_config(&c2).unwrap();
    let (c, _) = ep.request("GET", "/healthz", None, None).await.unwrap();
    assert_eq!(c, 200);
    srv.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The panel's form editor: GET lists the names each proposal key accepts, and a refused PUT
/// names each error's key in `fields` (so the message goes next to that field).
#[tokio::test]
async fn proposal_choices_and_field_errors() {
    let s = server(false).await;
    let (c, v) = s
        .json("GET", "/api/v1/tunnels/ipsec0/proposals", None)
        .await;
    assert_eq!(c, 200);
    let ch = &v["choices"];
    assert_eq!(
        ch["phase1-encryption"],
        serde_json::json!(["aes128", "aes192", "aes256", "3des"]),
        "{ch}"
    );
    assert!(ch["dh-group"]
        .as_array()
        .unwrap()
        .contains(&"modp1536".into()));
    assert_eq!(
        ch["phase1-prf"],
        serde_json::json!([]),
        "IKEv1: the PRF is the hash"
    );
    assert_eq!(ch["pfs-group"][0], "none");
    assert!(ch["phase2-authentication"]
        .as_array()
        .unwrap()
        .contains(&"hmac-sha256".into()));
    let (c, v) = s
        .json(
            "PUT",
            "/api/v1/tunnels/ipsec0/proposals",
            Some(r#"{"phase1": {"encryption": ["aes256", "aes999"], "lifetime": 5}}"#),
        )
        .await;
    assert_error(c, &v, 400, "invalid");
    let keys: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["phase1.lifetime", "phase1.encryption[1]"], "{v}");
    assert!(
        v["fields"][1]["message"]
            .as_str()
            .unwrap()
            .contains("aes999"),
        "{v}"
    );
    let (_, v) = s.json("GET", "/api/v1/tunnels/nope", None).await;
    assert!(
        v.get("fields").is_none(),
        "only validation errors carry fields: {v}"
    );
}
