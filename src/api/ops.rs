//! The operator's views of a running negotiation: a tunnel's decoded transcript
//! (`GET /api/v1/tunnels/{name}/transcript`) and the live event stream (`GET /api/v1/events`,
//! Server-Sent Events). The stream runs outside the request timeout; it holds one of at most
//! [`MAX_EVENT_STREAMS`] slots, and a client that reads too slowly loses the oldest events and
//! receives an `event: lagged` saying how many, so a stalled client never holds up the gateway.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use super::error::ApiError;
use super::handlers::App;
use crate::ike::transcript::Exchange;

/// Event streams served at once (each holds an admin API connection).
pub const MAX_EVENT_STREAMS: usize = 16;
/// A comment line this often keeps proxies and clients from timing the stream out.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// A tunnel's negotiation transcript.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Transcript {
    /// The tunnel.
    pub tunnel: String,
    /// Its last IKE exchanges, oldest first (at most 32).
    pub exchanges: Vec<Exchange>,
}

/// The last IKE exchanges of a tunnel, decoded after decryption: each message with direction,
/// time, exchange, message ID and payload tree (proposals and transforms by name, KE group,
/// nonce lengths, IDs, notifications, traffic selectors, configuration attributes, vendor IDs),
/// and each exchange's outcome and diagnostic. Keys, nonces and AUTH/HASH contents are never
/// included.
#[utoipa::path(get, path = "/api/v1/tunnels/{name}/transcript", tag = "tunnels",
    params(("name" = String, Path, description = "interface name")),
    responses((status = 200, body = Transcript),
              (status = 404, body = super::model::ErrorBody),
              (status = 409, body = super::model::ErrorBody, description = "manually keyed tunnel"),
              (status = 503, body = super::model::ErrorBody)))]
pub(super) async fn get_transcript(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Transcript>, ApiError> {
    let exchanges = app.state.transcript(&name).await?;
    Ok(Json(Transcript {
        tunnel: name,
        exchanges,
    }))
}

/// What the event stream's handler shares.
#[derive(Clone)]
pub(super) struct Streams {
    app: Arc<App>,
    active: Arc<AtomicUsize>,
}

/// Frees a stream slot when the stream is dropped (client gone).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One Server-Sent Event of the stream, as the OpenAPI document describes it (the fields of the
/// SSE wire format; `data` is JSON text).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct SseEvent {
    /// `ready` (the first event), `lagged` (this client lost events), or absent: a gateway
    /// event.
    pub event: Option<String>,
    /// JSON: `{"streams": n}` for `ready`, `{"missed": n}` for `lagged`, otherwise a
    /// `GatewayEvent`.
    pub data: String,
    /// A gateway event's sequence number.
    pub id: Option<String>,
}

/// Live events as Server-Sent Events: first `event: ready`, then one `data:` line of JSON per
/// event (`GatewayEvent`: seq, time, tunnel, kind, message, diagnostic), and `event: lagged`
/// with `{"missed": n}` when this client fell behind and lost `n` events.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    responses((status = 200, content_type = "text/event-stream",
                description = "Server-Sent Events: `ready` with the number of streams open, \
                               then each `data:` a GatewayEvent, or `lagged` with the number of \
                               events this client lost",
                body = SseEvent),
              (status = 401, body = super::model::ErrorBody),
              (status = 503, body = super::model::ErrorBody, description = "too many streams")))]
pub(super) async fn events(State(s): State<Streams>) -> axum::response::Response {
    let Some(rx) = s.app.state.events() else {
        return ApiError::unavailable("this gateway publishes no events").into_response();
    };
    if s.active.fetch_add(1, Ordering::Relaxed) >= MAX_EVENT_STREAMS {
        s.active.fetch_sub(1, Ordering::Relaxed);
        return ApiError::unavailable(format!(
            "{MAX_EVENT_STREAMS} event streams are open already; close one"
        ))
        .into_response();
    }
    let slot = Slot(s.active.clone());
    let ready = Event::default().event("ready").data(format!(
        "{{\"streams\":{}}}",
        s.active.load(Ordering::Relaxed)
    ));
    let first = futures::stream::once(async move { Ok::<_, Infallible>(ready) });
    let rest = futures::stream::unfold((rx, slot), |(mut rx, slot)| async move {
        let ev = loop {
            match rx.recv().await {
                Ok(e) => match Event::default().id(e.seq.to_string()).json_data(&e) {
                    Ok(ev) => break ev,
                    Err(_) => continue,
                },
                Err(RecvError::Lagged(n)) => {
                    break Event::default()
                        .event("lagged")
                        .data(format!("{{\"missed\":{n}}}"))
                }
                Err(RecvError::Closed) => return None,
            }
        };
        Some((Ok::<_, Infallible>(ev), (rx, slot)))
    });
    use futures::StreamExt;
    Sse::new(first.chain(rest))
        .keep_alive(KeepAlive::new().interval(KEEPALIVE))
        .into_response()
}

/// The event stream's routes (authenticated; merged outside the request timeout).
pub(super) fn streaming_router(app: Arc<App>) -> Router {
    let s = Streams {
        app: app.clone(),
        active: Arc::new(AtomicUsize::new(0)),
    };
    Router::new()
        .route("/api/v1/events", get(events))
        .route_layer(axum::middleware::from_fn_with_state(
            app,
            super::handlers::auth,
        ))
        .with_state(s)
}
