//! Fetching a CRL from a certificate's HTTP distribution point for the engines' CRL store
//! (`Event::FetchCrl`). CRLs are signed by their CA, so plain HTTP is what RFC 5280 expects.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;

use crate::ike::auth::CrlStore;

/// How long one fetch may take in all (connect, request, body).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest CRL we accept.
pub const MAX_CRL_BYTES: usize = 4 << 20;

/// Fetches `url` and stores the CRL (or the failure) in `crls`.
pub async fn fetch(url: String, crls: Arc<CrlStore>) {
    let result = tokio::time::timeout(FETCH_TIMEOUT, get(&url))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", FETCH_TIMEOUT.as_secs())));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match result.and_then(|body| crls.insert_fetched(&url, &body).map_err(|e| e.to_string())) {
        Ok(()) => tracing::info!("CRL {url} fetched and cached"),
        Err(e) => {
            tracing::warn!("CRL {url} could not be fetched: {e}");
            crls.fetch_failed(&url, &e, now);
        }
    }
}

async fn get(url: &str) -> Result<Vec<u8>, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(
            "only http:// distribution points are fetched (a CRL is signed; TLS adds nothing)"
                .into(),
        );
    }
    let host = uri
        .host()
        .ok_or("the URL has no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connect to {host}:{port}: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or(host);
    let req = hyper::Request::get(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header(hyper::header::HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let body = Limited::new(resp.into_body(), MAX_CRL_BYTES)
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?;
    Ok(body.to_bytes().to_vec())
}
