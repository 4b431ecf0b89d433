//! The routes: REST handlers under `/api/v1`, `/metrics`, `/healthz`, the OpenAPI document and
//! the static panel. Every handler goes through [`AdminState`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::OpenApi;

use super::error::ApiError;
use super::model::{self, Accepted, KeyFormatQuery, RekeyQuery};
use super::state::{AdminState, Control};
use crate::ike::{IkePolicy, IkeVersion};

/// What every handler shares.
pub struct App {
    /// The gateway (or a fake in tests).
    pub state: Arc<dyn AdminState>,
    /// SHA-256 of the bearer token (compared in constant time).
    token_hash: [u8; 32],
    /// `admin.allow-key-export`.
    pub allow_key_export: bool,
}

impl App {
    /// Shared handler state for a token and the key export gate.
    pub fn new(state: Arc<dyn AdminState>, token: &str, allow_key_export: bool) -> App {
        App {
            state,
            token_hash: Sha256::digest(token.as_bytes()).into(),
            allow_key_export,
        }
    }

    fn authorized(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(v) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "send `Authorization: Bearer <token>`; the token is in the admin token file",
            ));
        };
        let given = v
            .to_str()
            .ok()
            .and_then(|s| {
                let (scheme, rest) = s.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("malformed Authorization header; expected `Bearer <token>`")
            })?;
        let h: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        if bool::from(h.ct_eq(&self.token_hash)) {
            Ok(())
        } else {
            Err(ApiError::unauthorized("wrong token"))
        }
    }
}

type S = State<Arc<App>>;

/// axum's `Query`, rejecting a malformed query string with the API's JSON error body (axum's
/// own rejection is text/plain, which the document does not promise; found by schemathesis).
struct ApiQuery<T>(T);

impl<T, St> axum::extract::FromRequestParts<St> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned + Send,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &St,
    ) -> Result<Self, ApiError> {
        <Query<T> as axum::extract::FromRequestParts<St>>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))
    }
}

/// The whole router: API (authenticated), metrics (authenticated), health and the panel (open).
pub fn router(app: Arc<App>) -> Router {
    let api = super::remote_access::routes(Router::new())
        .route("/api/v1/tunnels", get(list_tunnels))
        .route("/api/v1/tunnels/{name}", get(get_tunnel))
        .route(
            "/api/v1/tunnels/{name}/proposals",
            get(get_proposals).put(put_proposals),
        )
        .route(
            "/api/v1/tunnels/{name}/proxy-ids",
            get(get_proxy_ids).put(put_proxy_ids),
        )
        .route("/api/v1/tunnels/{name}/dpd", get(get_dpd))
        .route("/api/v1/tunnels/{name}/initiate", post(initiate))
        .route("/api/v1/tunnels/{name}/rekey", post(rekey))
        .route("/api/v1/tunnels/{name}/reset", post(reset))
        .route("/api/v1/tunnels/{name}/terminate", post(terminate))
        .route(
            "/api/v1/tunnels/{name}/transcript",
            get(super::ops::get_transcript),
        )
        .route("/api/v1/keys/wireshark", get(wireshark_keys))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), auth));
    Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/app.js", get(app_js))
        .route(
            "/events.js",
            get(|| async { static_file("text/javascript; charset=utf-8", EVENTS_JS) }),
        )
        .route(
            "/transcript.js",
            get(|| async { static_file("text/javascript; charset=utf-8", TRANSCRIPT_JS) }),
        )
        .route(
            "/remote-access.js",
            get(|| async { static_file("text/javascript; charset=utf-8", REMOTE_ACCESS_JS) }),
        )
        .route("/style.css", get(style_css))
        .route("/graph.js", get(|| async { static_file(JS, GRAPH_JS) }))
        .route(
            "/proposal-form.js",
            get(|| async { static_file(JS, PROPOSAL_FORM_JS) }),
        )
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(not_found)
        .with_state(app)
}

pub(super) async fn auth(State(app): S, req: Request, next: Next) -> Response {
    match app.authorized(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /api/v1/openapi.json",
    )
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "ikegate admin API", description = "Tunnels, proposals, proxy-ids, DPD, \
        controls and key export of an ikegate IPsec gateway. Every endpoint except /healthz \
        needs `Authorization: Bearer <token>`."),
    paths(list_tunnels, get_tunnel, get_proposals, put_proposals, get_proxy_ids, put_proxy_ids,
        get_dpd, initiate, rekey, reset, terminate, wireshark_keys, openapi, metrics, healthz,
        super::ops::get_transcript, super::ops::events,
        super::remote_access::list_remote_access, super::remote_access::get_remote_access,
        super::remote_access::disconnect_client),
    components(schemas(model::Tunnel, model::TunnelState, model::Nat, model::Phase1Sa, model::PeerCertificate,
        model::Phase2Sa, model::ProxyIdPair, model::PacketCount, model::Dpd, model::Counters,
        model::IkeCounters, model::Proposals, model::ProposalBlock, model::Phase1Block,
        model::Phase2Block, model::ProxyIds, model::Accepted, model::ErrorBody, model::FieldError, model::ProposalChoices, model::Health,
        super::ops::Transcript, crate::ike::transcript::Exchange, crate::ike::transcript::Message,
        crate::ike::transcript::Node, crate::ike::transcript::Direction,
        crate::daemon::events::GatewayEvent, super::ops::SseEvent,
        model::RemoteAccess, model::RaClient, model::RaPool)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        // Every operation behind the token answers 401 without it (found by schemathesis:
        // the document left that status out of most operations).
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let open = op.security.as_ref().is_some_and(|s| {
                    s.iter().any(|r| {
                        serde_json::to_value(r)
                            .is_ok_and(|v| v.as_object().is_some_and(|m| m.is_empty()))
                    })
                });
                if !open && !op.responses.responses.contains_key("401") {
                    op.responses.responses.insert(
                        "401".into(),
                        utoipa::openapi::ResponseBuilder::new()
                            .description("no token, or a wrong one")
                            .content(
                                "application/json",
                                utoipa::openapi::ContentBuilder::new()
                                    .schema(Some(utoipa::openapi::Ref::from_schema_name(
                                        "ErrorBody",
                                    )))
                                    .build(),
                            )
                            .build()
                            .into(),
                    );
                }
            }
        }
    }
}

/// Every configured tunnel with state, SAs, DPD, counters and the last error.
#[utoipa::path(get, path = "/api/v1/tunnels", tag = "tunnels",
    responses((status = 200, body = Vec<model::Tunnel>),
              (status = 401, body = model::ErrorBody)))]
async fn list_tunnels(State(app): S) -> Json<Vec<model::Tunnel>> {
    Json(app.state.tunnels())
}

fn tunnel_of(app: &App, name: &str) -> Result<model::Tunnel, ApiError> {
    app.state.tunnel(name).ok_or_else(|| {
        ApiError::unknown_tunnel(
            name,
            app.state.tunnels().into_iter().map(|t| t.name).collect(),
        )
    })
}

/// One tunnel.
#[utoipa::path(get, path = "/api/v1/tunnels/{name}", tag = "tunnels",
    params(("name" = String, Path, description = "interface name, e.g. ipsec0")),
    responses((status = 200, body = model::Tunnel),
              (status = 404, body = model::ErrorBody)))]
async fn get_tunnel(
    State(app): S,
    Path(name): Path<String>,
) -> Result<Json<model::Tunnel>, ApiError> {
    tunnel_of(&app, &name).map(Json)
}

/// The `phase1` block as the configuration file would say it, for the tunnel's IKE version.
fn phase1_block(p: &IkePolicy) -> model::Phase1Block {
    let p1 = &p.phase1;
    let names = |v: &[crate::crypto::prf::HashAlg]| v.iter().map(|h| h.name().into()).collect();
    let (encryption, prf, dh_groups) = match p.version {
        IkeVersion::V1 => (
            p1.encryption.iter().map(|c| c.name().into()).collect(),
            Vec::new(),
            vec![p1.dh_group.name().into()],
        ),
        IkeVersion::V2 => (
            p1.ikev2_encryption
                .iter()
                .map(|c| c.name().into())
                .collect(),
            names(p1.ikev2_prfs()),
            p1.dh_groups.iter().map(|g| g.name().into()).collect(),
        ),
    };
    model::Phase1Block {
        lifetime: p1.lifetime_secs,
        encryption,
        hash: names(&p1.hash),
        prf,
        dh_group: p1.dh_group.name().into(),
        dh_groups,
        additional_key_exchanges: crate::config::pq::rounds_value(&p1.additional_kes),
    }
}

/// The names each proposal list accepts for the tunnel's IKE version (the configuration
/// parser's vocabularies; IKEv2 offers no 3des/md5 for the IKE SA, IKEv1 no AEAD nor PRF list).
fn choices_of(p: &IkePolicy) -> model::ProposalChoices {
    use crate::crypto::dh::DhGroup;
    use crate::crypto::prf::HashAlg;
    use crate::crypto::{EncAlg, IntegAlg};
    let names = |v: &mut dyn Iterator<Item = &'static str>| v.map(String::from).collect();
    let v2 = p.version == IkeVersion::V2;
    let hashes = || {
        HashAlg::ALL
            .iter()
            .filter(move |h| !v2 || **h != HashAlg::Md5)
            .map(|h| h.name())
    };
    let groups: Vec<String> = names(&mut DhGroup::ALL.iter().map(|g| g.name()));
    model::ProposalChoices {
        phase1_encryption: if v2 {
            names(
                &mut crate::crypto::ikev2::transform::Ikev2Cipher::ALL
                    .iter()
                    .map(|c| c.name()),
            )
        } else {
            names(
                &mut crate::crypto::ike_cipher::IkeCipher::ALL
                    .iter()
                    .map(|c| c.name()),
            )
        },
        phase1_hash: names(&mut hashes()),
        phase1_prf: if v2 { names(&mut hashes()) } else { Vec::new() },
        dh_group: groups.clone(),
        additional_key_exchanges: if v2 {
            names(&mut crate::crypto::mlkem::KemAlg::ALL.iter().map(|k| k.name()))
        } else {
            Vec::new()
        },
        phase2_encryption: names(&mut EncAlg::ALL.iter().map(|e| e.config_name())),
        phase2_authentication: names(
            &mut IntegAlg::ALL
                .iter()
                .filter(|a| **a != IntegAlg::None)
                .map(|a| a.config_name()),
        ),
        pfs_group: std::iter::once("none".to_string()).chain(groups).collect(),
    }
}

fn proposals_of(p: &IkePolicy, t: &model::Tunnel) -> model::Proposals {
    model::Proposals {
        choices: choices_of(p),
        configured: model::ProposalBlock {
            phase1: phase1_block(p),
            phase2: model::Phase2Block {
                encryption: p
                    .phase2
                    .encryption
                    .iter()
                    .map(|e| e.config_name().into())
                    .collect(),
                authentication: p
                    .phase2
                    .authentication
                    .iter()
                    .map(|a| a.config_name().into())
                    .collect(),
                pfs_group: p
                    .phase2
                    .pfs_group
                    .map(|g| g.name().to_string())
                    .unwrap_or_else(|| "none".into()),
                lifetime_of_time: p.phase2.lifetime_secs,
                lifetime_of_byte: p.phase2.lifetime_bytes,
                additional_key_exchanges: crate::config::pq::rounds_value(&p.phase2.additional_kes),
            },
        },
        negotiated_phase1: t
            .phase1
            .iter()
            .rev()
            .find(|s| s.age_secs.is_some())
            .and_then(|s| s.proposal.clone()),
        negotiated_phase2: t
            .phase2
            .iter()
            .find(|s| s.current)
            .or(t.phase2.last())
            .map(|s| s.proposal.clone()),
    }
}

/// Configured and negotiated phase-1 / phase-2 proposals.
#[utoipa::path(get, path = "/api/v1/tunnels/{name}/proposals", tag = "proposals",
    params(("name" = String, Path, description = "interface name")),
    responses((status = 200, body = model::Proposals),
              (status = 404, body = model::ErrorBody),
              (status = 409, body = model::ErrorBody, description = "manually keyed tunnel")))]
async fn get_proposals(
    State(app): S,
    Path(name): Path<String>,
) -> Result<Json<model::Proposals>, ApiError> {
    let t = tunnel_of(&app, &name)?;
    let p = app.state.policy(&name)?;
    Ok(Json(proposals_of(&p, &t)))
}

/// Parses a request body (JSON, or YAML with a YAML content type) into a YAML value for the
/// configuration parser.
pub(crate) fn body_value(headers: &HeaderMap, body: &Bytes) -> Result<yaml_serde::Value, ApiError> {
    let yaml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("yaml"));
    if yaml {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))?;
        return yaml_serde::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("the body is not valid YAML: {e}")));
    }
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    yaml_serde::to_value(&v)
        .map_err(|e| ApiError::bad_request(format!("the body cannot be read: {e}")))
}

pub(crate) fn rekey_now(q: &RekeyQuery) -> Result<bool, ApiError> {
    match q.rekey.as_deref() {
        None => Ok(false),
        Some("now") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "rekey: \"{}\" is not understood; use `?rekey=now` or leave it out",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

/// Replaces the proposals (body: the `proposal:` block of the configuration file, as JSON).
/// Validated exactly like the file; keys left out take their defaults. Applies at the next
/// negotiation, or at once with `?rekey=now`.
#[utoipa::path(put, path = "/api/v1/tunnels/{name}/proposals", tag = "proposals",
    params(("name" = String, Path, description = "interface name"), RekeyQuery),
    request_body(content = model::ProposalBlock, description = "the `proposal:` block; \
        `phase2.proxy-id` is accepted too"),
    responses((status = 200, body = model::Proposals),
              (status = 400, body = model::ErrorBody, description = "validation errors, by key path"),
              (status = 404, body = model::ErrorBody),
              (status = 409, body = model::ErrorBody),
              (status = 413, description = "body too large")))]
async fn put_proposals(
    State(app): S,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<RekeyQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<model::Proposals>, ApiError> {
    tunnel_of(&app, &name)?;
    let now = rekey_now(&q)?;
    let v = body_value(&headers, &body)?;
    let p = app
        .state
        .update_policy(
            &name,
            Box::new(move |cur| crate::config::parse_proposals(&v, cur)),
            now,
        )
        .await?;
    tracing::info!(tunnel = %name, rekey_now = now, "proposals changed through the admin API");
    let t = tunnel_of(&app, &name)?;
    Ok(Json(proposals_of(&p, &t)))
}

fn proxy_ids_of(p: &IkePolicy, t: &model::Tunnel) -> model::ProxyIds {
    model::ProxyIds {
        configured: p
            .phase2
            .proxy_ids
            .iter()
            .map(|pid| {
                let fam = if pid.local.addr().is_ipv4() {
                    "ipv4"
                } else {
                    "ipv6"
                };
                (
                    fam.to_string(),
                    model::ProxyIdPair {
                        local: pid.local.to_string(),
                        remote: pid.remote.to_string(),
                    },
                )
            })
            .collect(),
        negotiated: t.phase2.iter().map(|s| s.proxy_ids.clone()).collect(),
    }
}

/// Configured and negotiated proxy-ids.
#[utoipa::path(get, path = "/api/v1/tunnels/{name}/proxy-ids", tag = "proxy-ids",
    params(("name" = String, Path, description = "interface name")),
    responses((status = 200, body = model::ProxyIds),
              (status = 404, body = model::ErrorBody),
              (status = 409, body = model::ErrorBody)))]
async fn get_proxy_ids(
    State(app): S,
    Path(name): Path<String>,
) -> Result<Json<model::ProxyIds>, ApiError> {
    let t = tunnel_of(&app, &name)?;
    let p = app.state.policy(&name)?;
    Ok(Json(proxy_ids_of(&p, &t)))
}

/// Replaces the proxy-ids (body: the `proxy-id:` block of the configuration file, as JSON,
/// e.g. `{"ipv4": {"local": "192.168.1.0/24", "remote": "192.168.2.0/24"}}`).
#[utoipa::path(put, path = "/api/v1/tunnels/{name}/proxy-ids", tag = "proxy-ids",
    params(("name" = String, Path, description = "interface name"), RekeyQuery),
    request_body(content = std::collections::BTreeMap<String, model::ProxyIdPair>,
        description = "the `proxy-id:` block"),
    responses((status = 200, body = model::ProxyIds),
              (status = 400, body = model::ErrorBody),
              (status = 404, body = model::ErrorBody),
              (status = 409, body = model::ErrorBody),
              (status = 413, description = "body too large")))]
async fn put_proxy_ids(
    State(app): S,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<RekeyQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<model::ProxyIds>, ApiError> {
    tunnel_of(&app, &name)?;
    let now = rekey_now(&q)?;
    let v = body_value(&headers, &body)?;
    let p = app
        .state
        .update_policy(
            &name,
            Box::new(move |cur| {
                let ids = crate::config::parse_proxy_ids(&v)?;
                let mut p = cur.clone();
                p.phase2.proxy_ids = ids;
                p.check_transport_proxy_ids().map_err(|message| {
                    vec![crate::config::ConfigError {
                        path: String::new(),
                        message,
                    }]
                })?;
                Ok(p)
            }),
            now,
        )
        .await?;
    tracing::info!(tunnel = %name, rekey_now = now, "proxy-ids changed through the admin API");
    let t = tunnel_of(&app, &name)?;
    Ok(Json(proxy_ids_of(&p, &t)))
}

/// Dead peer detection status.
#[utoipa::path(get, path = "/api/v1/tunnels/{name}/dpd", tag = "tunnels",
    params(("name" = String, Path, description = "interface name")),
    responses((status = 200, body = model::Dpd),
              (status = 404, body = model::ErrorBody)))]
async fn get_dpd(State(app): S, Path(name): Path<String>) -> Result<Json<model::Dpd>, ApiError> {
    tunnel_of(&app, &name).map(|t| Json(t.dpd))
}

async fn control(app: &App, name: &str, c: Control) -> Result<Json<Accepted>, ApiError> {
    tunnel_of(app, name)?;
    let result = app.state.control(name, c).await?;
    tracing::info!(tunnel = %name, "{c:?} requested through the admin API: {result}");
    Ok(Json(Accepted { result }))
}

/// Starts phase 1 / phase 2 now if the tunnel is down.
#[utoipa::path(post, path = "/api/v1/tunnels/{name}/initiate", tag = "controls",
    params(("name" = String, Path, description = "interface name")),
    responses((status = 200, body = model::Accepted),
              (status = 404, body = model::ErrorBody),
              (status = 409, body = model::ErrorBody, description = "manually keyed tunnel"),
              (status = 503, body = model::ErrorBody)))]
async fn initiate(State(app): S, Path(name): Path<String>) -> Result<Json<Accepted>, ApiError> {
    control(&app, &name, Control::Initiate).await
}

/// Negotiates new SAs now (make-before-break: the old ones carry traffic until the new ones are
/// installed).
#[utoipa::path(post, path = "/api/v1/tunnels/{name}/rekey", tag = "controls",
    params(("name" = String, Path, description = "interface name")),
    responses((status = 200, body = model::Accepted),
              (status = 404, body = model::ErrorBody),
              (status = 409, body = model::ErrorBody),
              (status = 503, body = model::ErrorBody)))]
async fn rekey(State(app): S, Path(name): Path<String>) -> Result<Json<Accepted>, ApiError> {
    control(&app, &name, Control::Rekey).await
}

/// Deletes every SA of the tunnel (telling the peer) and starts over.
#[utoipa::path(post, path = "/api/v1/tunnels/{name}/reset", tag = "controls",
    params(("name" = String, Path, description = "interface name")),
    responses((status = 200, body = model::Accepted),
              (status = 404, body = model::ErrorBody),
              (status = 409, body = model::ErrorBody),
              (status = 503, body = model::ErrorBody)))]
async fn reset(State(app): S, Path(name): Path<String>) -> Result<Json<Accepted>, ApiError> {
    control(&app, &name, Control::Reset).await
}

/// Deletes every SA of the tunnel (telling the peer) and stops initiating until `initiate`
/// (a peer that initiates is still answered).
#[utoipa::path(post, path = "/api/v1/tunnels/{name}/terminate", tag = "controls",
    params(("name" = String, Path, description = "interface name")),
    responses((status = 200, body = model::Accepted),
              (status = 404, body = model::ErrorBody),
              (status = 409, body = model::ErrorBody),
              (status = 503, body = model::ErrorBody)))]
async fn terminate(State(app): S, Path(name): Path<String>) -> Result<Json<Accepted>, ApiError> {
    control(&app, &name, Control::Terminate).await
}

/// Keys for Wireshark, only with `admin.allow-key-export: true` (403 otherwise). Each use is
/// logged. `esp_sa`: lines for Wireshark's ESP SA table (both directions of every installed SA);
/// `ikev1_decryption_table`: IKEv1 phase-1 keys; `ikev2_decryption_table`: IKEv2 SA keys.
#[utoipa::path(get, path = "/api/v1/keys/wireshark", tag = "keys",
    params(KeyFormatQuery),
    responses((status = 200, content_type = "text/plain", body = String),
              (status = 400, body = model::ErrorBody),
              (status = 403, body = model::ErrorBody),
              (status = 501, body = model::ErrorBody)))]
async fn wireshark_keys(
    State(app): S,
    ApiQuery(q): ApiQuery<KeyFormatQuery>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
) -> Result<Response, ApiError> {
    let who = peer
        .map(|p| p.0 .0.to_string())
        .unwrap_or_else(|| "?".into());
    let format = q.format.as_deref().unwrap_or("esp_sa");
    if !app.allow_key_export {
        tracing::warn!("key export ({format}) refused for {who}: admin.allow-key-export is off");
        return Err(ApiError::forbidden(
            "key export is disabled; set `admin: { allow-key-export: true }` to allow it",
        ));
    }
    let lines = match format {
        "esp_sa" => app.state.esp_keys(),
        // The IKE tasks answer in their version's format: IKEv1 lines are two quoted fields,
        // IKEv2 lines eight (SPIs, keys and algorithm names).
        "ikev1_decryption_table" => {
            let all = app.state.ikev1_keys().await?;
            all.into_iter().filter(|l| l.starts_with('"')).collect()
        }
        "ikev2_decryption_table" => {
            let all = app.state.ikev1_keys().await?;
            all.into_iter().filter(|l| !l.starts_with('"')).collect()
        }
        other => {
            return Err(ApiError::bad_request(format!(
            "format: \"{}\" is not one of esp_sa | ikev1_decryption_table | ikev2_decryption_table",
            other.chars().take(32).collect::<String>()
        )))
        }
    };
    tracing::warn!(
        "key export: {} {format} line(s) sent to {who} (admin.allow-key-export is on)",
        lines.len()
    );
    let mut body = lines.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(s) => ([(header::CONTENT_TYPE, "application/json")], s).into_response(),
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            .into_response(),
    }
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, content_type = "text/plain", body = String),
              (status = 401, body = model::ErrorBody)))]
async fn metrics(State(app): S) -> Response {
    let mut text = super::metrics::render(&app.state.tunnels(), &app.state.global());
    text.push_str(&super::metrics::render_remote_access(
        &app.state.remote_access(),
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Liveness (no authentication).
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()),
    responses((status = 200, body = model::Health)))]
async fn healthz() -> Json<model::Health> {
    Json(model::Health {
        status: "ok".into(),
    })
}

const INDEX: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const EVENTS_JS: &str = include_str!("../../web/events.js");
const TRANSCRIPT_JS: &str = include_str!("../../web/transcript.js");
const REMOTE_ACCESS_JS: &str = include_str!("../../web/remote-access.js");
const STYLE: &str = include_str!("../../web/style.css");
/// The panel's throughput graph and proposal form editor (`web/`, loaded by index.html).
const GRAPH_JS: &str = include_str!("../../web/graph.js");
const PROPOSAL_FORM_JS: &str = include_str!("../../web/proposal-form.js");
const JS: &str = "text/javascript; charset=utf-8";

fn static_file(ct: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    static_file("text/html; charset=utf-8", INDEX)
}

async fn app_js() -> Response {
    static_file("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> Response {
    static_file("text/css; charset=utf-8", STYLE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::dh::DhGroup;
    use crate::crypto::ikev2::transform::Ikev2Cipher;
    use crate::crypto::prf::HashAlg;

    /// What GET shows as `configured.phase1`, sent back as a PUT body, gives the same policy.
    fn round_trip(p: &IkePolicy) -> IkePolicy {
        let block = model::ProposalBlock {
            phase1: phase1_block(p),
            phase2: model::Phase2Block {
                encryption: vec!["aes256".into()],
                authentication: vec!["hmac-sha256".into()],
                pfs_group: "none".into(),
                lifetime_of_time: 28800,
                lifetime_of_byte: 0,
                additional_key_exchanges: Vec::new(),
            },
        };
        let json = serde_json::to_value(&block).unwrap();
        let v = yaml_serde::to_value(&json).unwrap();
        crate::config::parse_proposals(&v, p).unwrap_or_else(|e| panic!("{e:?}\n{json}"))
    }

    #[test]
    fn phase1_block_round_trips_for_both_versions() {
        let v1 = IkePolicy::seil_defaults(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            b"k",
        );
        let b = phase1_block(&v1);
        assert!(b.prf.is_empty());
        assert_eq!(b.dh_groups, ["modp1536"]);
        assert_eq!(round_trip(&v1).phase1, v1.phase1);

        let mut v2 = v1.clone();
        v2.version = IkeVersion::V2;
        v2.phase1.ikev2_encryption = vec![Ikev2Cipher::Aes256Gcm16, Ikev2Cipher::ChaCha20Poly1305];
        v2.phase1.encryption.clear();
        v2.phase1.hash.clear();
        v2.phase1.prf = vec![HashAlg::Sha384];
        v2.phase1.dh_groups = vec![DhGroup::Curve25519, DhGroup::Ecp256];
        v2.phase1.dh_group = DhGroup::Curve25519;
        let b = phase1_block(&v2);
        assert_eq!(b.encryption, ["aes256-gcm", "chacha20-poly1305"]);
        assert!(b.hash.is_empty());
        assert_eq!(b.prf, ["sha384"]);
        assert_eq!(b.dh_group, "curve25519");
        assert_eq!(b.dh_groups, ["curve25519", "ecp256"]);
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(
            json["dh-groups"],
            serde_json::json!(["curve25519", "ecp256"])
        );
        assert_eq!(round_trip(&v2).phase1, v2.phase1);
        // Post-quantum rounds show as lists of alternatives and come back the same.
        use crate::crypto::mlkem::KemAlg;
        v2.phase1.additional_kes = vec![
            vec![Some(KemAlg::MlKem768)],
            vec![Some(KemAlg::MlKem1024), None],
        ];
        v2.post_quantum = crate::ike::policy::PostQuantum::Required;
        let json = serde_json::to_value(phase1_block(&v2)).unwrap();
        assert_eq!(
            json["additional-key-exchanges"],
            serde_json::json!([["mlkem768"], ["mlkem1024", "none"]])
        );
        assert_eq!(round_trip(&v2).phase1, v2.phase1);
        // A body from before `prf` / `dh-groups` still deserializes.
        let old: model::Phase1Block = serde_json::from_str(
            r#"{"lifetime": 86400, "encryption": ["aes256"], "hash": ["sha1"], "dh-group": "modp1536"}"#,
        )
        .unwrap();
        assert!(old.prf.is_empty() && old.dh_groups.is_empty());
    }
}
