//! The live event stream and the transcript endpoint over real HTTP against a fake gateway:
//! `ready` first, events as they are published, a client that stops reading loses the oldest
//! and is told how many (the publisher never waits), a bounded number of streams, a stream that
//! outlives the request timeout, and the transcript of a tunnel.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use ikegate::api::client::Endpoint;
use ikegate::api::error::ApiError;
use ikegate::api::model;
use ikegate::api::state::PolicyUpdate;
use ikegate::api::{AdminState, Control};
use ikegate::daemon::events::{EventBus, GatewayEvent, CAPACITY};
use ikegate::ike::transcript::Exchange;
use ikegate::ike::IkePolicy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Fake {
    bus: EventBus,
}

impl AdminState for Fake {
    fn tunnels(&self) -> Vec<model::Tunnel> {
        Vec::new()
    }
    fn global(&self) -> model::Global {
        model::Global::default()
    }
    fn policy(&self, name: &str) -> Result<IkePolicy, ApiError> {
        Err(ApiError::unknown_tunnel(name, vec![]))
    }
    fn update_policy<'a>(
        &'a self,
        name: &'a str,
        _: PolicyUpdate,
        _: bool,
    ) -> BoxFuture<'a, Result<IkePolicy, ApiError>> {
        Box::pin(async move { Err(ApiError::unknown_tunnel(name, vec![])) })
    }
    fn control<'a>(&'a self, name: &'a str, _: Control) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move { Err(ApiError::unknown_tunnel(name, vec![])) })
    }
    fn esp_keys(&self) -> Vec<String> {
        Vec::new()
    }
    fn ikev1_keys(&self) -> BoxFuture<'_, Result<Vec<String>, ApiError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn transcript<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Exchange>, ApiError>> {
        Box::pin(async move {
            match name {
                "ipsec0" => Ok(Vec::new()),
                _ => Err(ApiError::unknown_tunnel(name, vec!["ipsec0".into()])),
            }
        })
    }
    fn events(&self) -> Option<tokio::sync::broadcast::Receiver<GatewayEvent>> {
        Some(self.bus.subscribe())
    }
}

async fn server() -> (Endpoint, Arc<Fake>, tokio::task::JoinHandle<()>) {
    let fake = Arc::new(Fake {
        bus: EventBus::default(),
    });
    let app = ikegate::api::app(fake.clone(), TOKEN, false);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(ikegate::api::server::serve(l, None, app));
    (Endpoint { addr, tls: None }, fake, task)
}

/// Opens a stream by hand and returns the socket once `event: ready` arrived.
async fn open_stream(ep: &Endpoint) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    let req =
        format!("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let got = read_until(&mut s, "event: ready", 5).await;
    assert!(got.contains("text/event-stream"));
    s
}

/// Reads from `s` until `needle` arrived (within `secs` seconds); returns all that came.
async fn read_until(s: &mut tokio::net::TcpStream, needle: &str, secs: u64) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while !String::from_utf8_lossy(&got).contains(needle) {
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within {secs} s"))
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn events_arrive_in_order_through_the_client() {
    let (ep, fake, task) = server().await;
    let f = fake.clone();
    let publisher = tokio::spawn(async move {
        // Publish only once the client is subscribed.
        while f.bus.subscribers() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for i in 0..3 {
            f.bus.publish(
                "ipsec0",
                "failure",
                format!("event {i}"),
                Some("pre-shared keys differ".into()),
            );
        }
    });
    let mut seen: Vec<GatewayEvent> = Vec::new();
    let mut ready = false;
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        ep.follow_lines("/api/v1/events", Some(TOKEN), |line| {
            ready |= line == "event: ready";
            if let Some(d) = line.strip_prefix("data: ") {
                if let Ok(e) = serde_json::from_str::<GatewayEvent>(d) {
                    seen.push(e);
                }
            }
            seen.len() < 3
        }),
    )
    .await;
    assert!(r.is_ok(), "no 3 events within 10 s");
    publisher.await.unwrap();
    assert!(ready);
    assert_eq!(
        seen.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        seen[0].diagnostic.as_deref(),
        Some("pre-shared keys differ")
    );
    task.abort();
}

#[tokio::test]
async fn a_client_that_stops_reading_loses_the_oldest_and_is_told() {
    let (ep, fake, task) = server().await;
    let mut s = open_stream(&ep).await;
    // The client reads nothing while far more than the buffer is published; the publisher
    // never waits for it.
    let started = std::time::Instant::now();
    for i in 0..CAPACITY * 8 {
        fake.bus.publish(
            "ipsec0",
            "dpd",
            format!("event {i} {}", "x".repeat(4000)),
            None,
        );
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    let text = read_until(&mut s, "\"missed\":", 10).await;
    assert!(
        text.contains("event: lagged"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    task.abort();
}

#[tokio::test]
async fn streams_are_bounded_and_outlive_the_request_timeout() {
    let (ep, fake, task) = server().await;
    let mut streams = Vec::new();
    for _ in 0..ikegate::api::ops::MAX_EVENT_STREAMS {
        streams.push(open_stream(&ep).await);
    }
    let (c, b) = ep
        .request("GET", "/api/v1/events", Some(TOKEN), None)
        .await
        .unwrap();
    assert_eq!(c, 503, "{b}");
    assert!(b.contains("event streams are open already"), "{b}");
    // Closing one frees its slot.
    drop(streams.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = open_stream(&ep).await;
    // A stream still delivers after the 15 s request timeout.
    tokio::time::sleep(ikegate::api::REQUEST_TIMEOUT + Duration::from_secs(1)).await;
    fake.bus.publish("ipsec0", "ike-up", "late".into(), None);
    read_until(&mut again, "\"late\"", 5).await;
    task.abort();
}

#[tokio::test]
async fn the_transcript_endpoint_names_the_tunnel() {
    let (ep, _fake, task) = server().await;
    let (c, b) = ep
        .request(
            "GET",
            "/api/v1/tunnels/ipsec0/transcript",
            Some(TOKEN),
            None,
        )
        .await
        .unwrap();
    assert_eq!(c, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["tunnel"], "ipsec0");
    assert_eq!(v["exchanges"], serde_json::json!([]));
    let (c, _) = ep
        .request("GET", "/api/v1/tunnels/nope/transcript", Some(TOKEN), None)
        .await
        .unwrap();
    assert_eq!(c, 404);
    task.abort();
}
