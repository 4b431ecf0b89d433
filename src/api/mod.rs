//! The admin API: REST under `/api/v1` (tunnels, proposals, proxy-ids, DPD, controls, key
//! export), Prometheus `/metrics`, `/healthz`, the OpenAPI document and the web panel (`web/`).
//!
//! Handlers read state and send commands only through [`state::AdminState`]; they never touch
//! the packet path's locks, so a slow or hostile client cannot stall the data plane.

pub mod client;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod handlers;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod remote_access;
pub mod server;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::task::JoinHandle;

use crate::config::AdminConfig;
pub use state::{AdminState, Control, GatewayState};

/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 64 * 1024;
/// A request (body included) must be answered within this (408 beyond: slow clients).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The full application: routes plus body limit and request timeout.
pub fn app(state: Arc<dyn AdminState>, token: &str, allow_key_export: bool) -> Router {
    let app = Arc::new(handlers::App::new(state, token, allow_key_export));
    handlers::router(app.clone())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // The event stream lives longer than any request timeout.
        .merge(ops::streaming_router(app))
}

/// A running admin API.
pub struct AdminServer {
    /// Where it listens.
    pub local_addr: SocketAddr,
    /// `http://…/` or `https://…/`.
    pub url: String,
    /// The token file.
    pub token_file: PathBuf,
    /// Whether the token file was generated now.
    pub token_generated: bool,
    /// SHA-256 fingerprint of the TLS certificate, when TLS is on.
    pub fingerprint: Option<String>,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Stops accepting connections.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Starts the admin API described by `cfg`: reads or generates the token, sets up TLS when the
/// address is not loopback (or files are given), binds, and serves in a background task.
pub async fn start(cfg: &AdminConfig, state: Arc<dyn AdminState>) -> Result<AdminServer, String> {
    let (token, generated) = server::load_or_create_token(&cfg.token_file)?;
    // Only its hash is kept (App); the text is wiped when start returns.
    let token = zeroize::Zeroizing::new(token);
    if generated {
        tracing::info!(
            "admin API token generated in {} (mode 0600)",
            cfg.token_file.display()
        );
    }
    let tls = server::tls_for(cfg)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("admin API: cannot listen on {}: {e}", cfg.listen))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| format!("admin API: {e}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{local_addr}/");
    let fingerprint = tls.as_ref().map(|(_, fp)| fp.clone());
    match &fingerprint {
        Some(fp) => tracing::info!("admin API on {url} (TLS certificate SHA-256 {fp})"),
        None => tracing::info!("admin API on {url}"),
    }
    if cfg.allow_key_export {
        tracing::warn!("admin API key export is enabled (admin.allow-key-export)");
    }
    let router = app(state, &token, cfg.allow_key_export);
    let task = tokio::spawn(server::serve(listener, tls.map(|(c, _)| c), router));
    Ok(AdminServer {
        local_addr,
        url,
        token_file: cfg.token_file.clone(),
        token_generated: generated,
        fingerprint,
        task,
    })
}
