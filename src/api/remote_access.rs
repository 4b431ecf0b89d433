//! Remote-access interfaces in the admin API: their clients (user, identity, virtual
//! addresses, outer address, time connected, bytes, IKE version), pool usage and login failures
//! by reason (`GET /api/v1/remote-access`, `GET /api/v1/remote-access/{name}`), and the
//! disconnect of one client (`DELETE /api/v1/remote-access/{name}/clients/{id}`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};

use super::error::ApiError;
use super::handlers::App;
use super::model::{self, Accepted};

type S = State<Arc<App>>;

/// 404 for an interface that is not a remote-access one, naming those there are.
fn unknown_interface(app: &App, name: &str) -> ApiError {
    let shown: String = name.chars().take(64).collect();
    let known: Vec<String> = app
        .state
        .remote_access()
        .into_iter()
        .map(|r| r.name)
        .collect();
    let listed = if known.is_empty() {
        "none is configured (add a `remote-access:` block to an interface)".to_string()
    } else {
        known.join(", ")
    };
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no remote-access interface named \"{shown}\"; remote-access interfaces: {listed}"),
    )
}

/// Every remote-access interface, in configuration order.
#[utoipa::path(get, path = "/api/v1/remote-access", tag = "remote-access",
    responses((status = 200, body = Vec<model::RemoteAccess>)))]
pub(super) async fn list_remote_access(State(app): S) -> Json<Vec<model::RemoteAccess>> {
    Json(app.state.remote_access())
}

/// One remote-access interface: its clients, pool usage and login failures by reason.
#[utoipa::path(get, path = "/api/v1/remote-access/{name}", tag = "remote-access",
    params(("name" = String, Path, description = "interface name, e.g. ipsec-ra0")),
    responses((status = 200, body = model::RemoteAccess),
              (status = 404, body = model::ErrorBody)))]
pub(super) async fn get_remote_access(
    State(app): S,
    Path(name): Path<String>,
) -> Result<Json<model::RemoteAccess>, ApiError> {
    app.state
        .remote_access()
        .into_iter()
        .find(|r| r.name == name)
        .map(Json)
        .ok_or_else(|| unknown_interface(&app, &name))
}

/// Disconnects one client: its IKE SA is deleted (the client is told) and its address released
/// (kept for the user's reconnect while the lease lasts).
#[utoipa::path(delete, path = "/api/v1/remote-access/{name}/clients/{id}", tag = "remote-access",
    params(("name" = String, Path, description = "interface name"),
           ("id" = u64, Path, description = "the client's id, as listed")),
    responses((status = 200, body = model::Accepted),
              (status = 400, body = model::ErrorBody),
              (status = 404, body = model::ErrorBody),
              (status = 409, body = model::ErrorBody, description = "the client went away meanwhile"),
              (status = 501, body = model::ErrorBody),
              (status = 503, body = model::ErrorBody)))]
pub(super) async fn disconnect_client(
    State(app): S,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Accepted>, ApiError> {
    let id: u64 = id.parse().map_err(|_| {
        let shown: String = id.chars().take(32).collect();
        ApiError::bad_request(format!(
            "client id \"{shown}\" is not a number; take it from GET /api/v1/remote-access/{{name}}"
        ))
    })?;
    let Some(ra) = app
        .state
        .remote_access()
        .into_iter()
        .find(|r| r.name == name)
    else {
        return Err(unknown_interface(&app, &name));
    };
    if !ra.clients.iter().any(|c| c.id == id) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{name} has no client {id}; connected: {}", ra.clients.len()),
        ));
    }
    let result = app.state.disconnect_client(&name, id).await?;
    tracing::info!(interface = %name, client = id, "disconnect requested through the admin API: {result}");
    Ok(Json(Accepted { result }))
}

/// The routes (authenticated by the caller's layer).
pub(super) fn routes(r: Router<Arc<App>>) -> Router<Arc<App>> {
    r.route("/api/v1/remote-access", get(list_remote_access))
        .route("/api/v1/remote-access/{name}", get(get_remote_access))
        .route(
            "/api/v1/remote-access/{name}/clients/{id}",
            delete(disconnect_client),
        )
}
