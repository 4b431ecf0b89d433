//! A small HTTP/1.1 client for the admin API (`ikegate status`, tests): plain or TLS, trusting
//! exactly the admin certificate file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;

use crate::config::AdminConfig;

/// Where and how to reach an admin API.
#[derive(Clone)]
pub struct Endpoint {
    /// Address to connect to.
    pub addr: SocketAddr,
    /// TLS client configuration and the name to verify, when the API speaks TLS.
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

/// A TLS client configuration that trusts only the certificate(s) in `cert_pem`.
pub fn tls_trusting(cert_pem: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in super::server::read_certs(cert_pem)? {
        roots
            .add(c)
            .map_err(|e| format!("{}: {e}", cert_pem.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

impl Endpoint {
    /// The endpoint of an `admin:` block (an unspecified listen address is reached on
    /// loopback; TLS trusts the configured or generated certificate file).
    pub fn from_config(cfg: &AdminConfig) -> Result<Endpoint, String> {
        let ip = match cfg.listen.ip() {
            IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let addr = SocketAddr::new(ip, cfg.listen.port());
        let tls = match cfg.tls_files() {
            Some(f) => Some((
                tls_trusting(&f.certificate)?,
                ServerName::IpAddress(ip.into()),
            )),
            None => None,
        };
        Ok(Endpoint { addr, tls })
    }

    /// Sends one request and returns the status and body text.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Result<(u16, String), String> {
        tokio::time::timeout(
            Duration::from_secs(20),
            self.request_inner(method, path, token, body),
        )
        .await
        .map_err(|_| format!("no answer from {} within 20 s", self.addr))?
    }

    async fn request_inner(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Result<(u16, String), String> {
        let Open { response, conn, .. } = self.open(method, path, token, body).await?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        drop(conn);
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Sends a GET and hands each line of the response body to `line` as it arrives (a
    /// Server-Sent Events stream), until `line` returns false or the server ends the body.
    /// Connecting and the response headers must come within 20 s; the body may last forever.
    /// A status other than 200 is an error carrying the body.
    pub async fn follow_lines(
        &self,
        path: &str,
        token: Option<&str>,
        mut line: impl FnMut(&str) -> bool,
    ) -> Result<(), String> {
        let open =
            tokio::time::timeout(Duration::from_secs(20), self.open("GET", path, token, None))
                .await
                .map_err(|_| format!("no answer from {} within 20 s", self.addr))??;
        let Open {
            response,
            status_ok,
            conn: _conn,
        } = open;
        let mut body = response.into_body();
        if !status_ok {
            let b = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            return Err(String::from_utf8_lossy(&b).into_owned());
        }
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            let Some(data) = frame.data_ref() else {
                continue;
            };
            buf.extend_from_slice(data);
            while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                let l: Vec<u8> = buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&l);
                if !line(text.trim_end_matches(['\r', '\n'])) {
                    return Ok(());
                }
            }
            if buf.len() > 1 << 20 {
                return Err("a line of the stream is longer than 1 MiB".into());
            }
        }
        Ok(())
    }

    async fn open(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Result<Open, String> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("cannot connect to the admin API at {}: {e}", self.addr))?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, self.addr.to_string());
        if let Some(t) = token {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or("").to_string())))
            .map_err(|e| e.to_string())?;
        match &self.tls {
            Some((cfg, name)) => {
                let s = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| format!("TLS with {}: {e}", self.addr))?;
                send(TokioIo::new(s), req).await
            }
            None => send(TokioIo::new(tcp), req).await,
        }
    }
}

/// A response whose body is still to be read, and its connection (closed when dropped).
struct Open {
    response: hyper::Response<hyper::body::Incoming>,
    status_ok: bool,
    conn: Conn,
}

/// The task driving a client connection, stopped when dropped.
struct Conn(tokio::task::JoinHandle<()>);

impl Drop for Conn {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn send<I>(io: I, req: hyper::Request<Full<Bytes>>) -> Result<Open, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut tx, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = tx.send_request(req).await.map_err(|e| e.to_string())?;
    let status_ok = response.status() == hyper::StatusCode::OK;
    Ok(Open {
        response,
        status_ok,
        conn: Conn(conn),
    })
}
