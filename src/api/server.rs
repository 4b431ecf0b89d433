//! Listening: the token file, TLS (configured files or a generated self-signed pair), and the
//! accept loop with its limits (connections, handshake and header timeouts).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::{AdminConfig, TlsFiles};

/// Most connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 64;
/// A TLS handshake must finish within this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Request headers must arrive within this (slowloris).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the bearer token, or generates one (32 random bytes, hex) into a new file of mode 0600.
/// Returns the token and whether it was generated.
pub fn load_or_create_token(path: &Path) -> Result<(String, bool), String> {
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let t = s.trim().to_string();
            if t.is_empty() {
                return Err(format!(
                    "the admin token file {} is empty; delete it to have a token generated",
                    path.display()
                ));
            }
            crate::config::node::check_secret_mode(path)
                .map_err(|e| format!("admin token file: {e}"))?;
            Ok((t, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = [0u8; 32];
            getrandom::fill(&mut b).map_err(|e| format!("no OS randomness: {e}"))?;
            let token: String = b.iter().map(|x| format!("{x:02x}")).collect();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| unwritable_token(path, dir, &e))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| unwritable_token(path, path.parent().unwrap_or(path), &e))?;
            f.write_all(token.as_bytes())
                .and_then(|()| f.write_all(b"\n"))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok((token, true))
        }
        Err(e) => Err(format!(
            "cannot read the admin token file {}: {e}",
            path.display()
        )),
    }
}

/// Why a missing token file could not be generated, and the two ways out.
fn unwritable_token(path: &Path, dir: &Path, e: &std::io::Error) -> String {
    let uid = nix::unistd::geteuid();
    format!(
        "the admin token file {} does not exist and cannot be created ({e}): make {} \
         writable by uid {uid} (e.g. systemd StateDirectory=, a writable volume), write a \
         token there yourself (`head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {0}; \
         chmod 600 {0}`), or point admin.token-file at a writable place",
        path.display(),
        dir.display()
    )
}

/// SHA-256 fingerprint of a DER certificate, as colon-separated upper-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Generates a self-signed certificate for `names` (DNS names or IP addresses) and writes it
/// (0644) and its key (0600) to `files`.
pub fn generate_self_signed(files: &TlsFiles, names: &[String]) -> Result<(), String> {
    let ck = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| format!("cannot generate a certificate: {e}"))?;
    for (path, text, mode) in [
        (&files.certificate, ck.cert.pem(), 0o644),
        (&files.private_key, ck.signing_key.serialize_pem(), 0o600),
    ] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Reads a PEM certificate chain.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} contains no certificate", path.display()));
    }
    Ok(certs)
}

/// The TLS server configuration from PEM files (ring provider, TLS 1.2 and 1.3, HTTP/1.1).
pub fn server_tls(files: &TlsFiles) -> Result<(Arc<rustls::ServerConfig>, String), String> {
    let certs = read_certs(&files.certificate)?;
    let key = PrivateKeyDer::from_pem_file(&files.private_key).map_err(|e| {
        format!(
            "{}: not a PEM private key: {e}",
            files.private_key.display()
        )
    })?;
    let fp = fingerprint(&certs[0]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{}: {e}", files.certificate.display()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), fp))
}

/// TLS for an admin configuration: `None` for plain HTTP on loopback; otherwise the configured
/// files or, when they do not exist yet, a self-signed pair generated into them. Returns the
/// certificate fingerprint too.
pub fn tls_for(cfg: &AdminConfig) -> Result<Option<(Arc<rustls::ServerConfig>, String)>, String> {
    let Some(files) = cfg.tls_files() else {
        return Ok(None);
    };
    let (c, k) = (files.certificate.exists(), files.private_key.exists());
    match (c, k) {
        (true, true) => {}
        (false, false) => {
            let mut names = vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ];
            if !cfg.listen.ip().is_unspecified() {
                names.push(cfg.listen.ip().to_string());
            }
            if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
                let h = h.trim();
                if !h.is_empty() {
                    names.push(h.to_string());
                }
            }
            generate_self_signed(&files, &names)?;
            tracing::info!(
                "generated a self-signed admin certificate {} (key {})",
                files.certificate.display(),
                files.private_key.display()
            );
        }
        _ => {
            return Err(format!(
                "only one of {} and {} exists: give both, or neither to have a self-signed pair \
                 generated",
                files.certificate.display(),
                files.private_key.display()
            ))
        }
    }
    server_tls(&files).map(Some)
}

/// Serves `app` on `listener` until the task is dropped or aborted: plain HTTP/1.1, or TLS when
/// `tls` is given. Each connection runs in its own task; at most [`MAX_CONNECTIONS`] at once.
pub async fn serve(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>, app: Router) {
    let acceptor = tls.map(TlsAcceptor::from);
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let (tcp, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("admin API accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                Some(a) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, a.accept(tcp)).await {
                    Ok(Ok(s)) => serve_conn(TokioIo::new(s), remote, app).await,
                    Ok(Err(e)) => tracing::debug!("admin API TLS handshake with {remote}: {e}"),
                    Err(_) => tracing::debug!("admin API TLS handshake with {remote} timed out"),
                },
                None => serve_conn(TokioIo::new(tcp), remote, app).await,
            }
        });
    }
}

async fn serve_conn<I>(io: I, remote: SocketAddr, app: Router)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    use tower::ServiceExt;
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(remote));
        app.clone().oneshot(req.map(axum::body::Body::new))
    });
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(16 * 1024);
    if let Err(e) = b.serve_connection(io, svc).await {
        tracing::debug!("admin API connection from {remote}: {e}");
    }
}

/// Whether an address needs TLS (anything but loopback).
pub fn needs_tls(ip: IpAddr) -> bool {
    !ip.is_loopback()
}
