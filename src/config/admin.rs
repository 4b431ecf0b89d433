//! The `admin:` block: where the admin API listens, its token file, TLS files, and the key
//! export gate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::node::{child, Errors, Node};
use super::resolve;

/// Default location of the bearer token.
pub const DEFAULT_TOKEN_FILE: &str = "/etc/ikegate/admin.token";

/// The admin API's settings (`admin:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Bearer token file; generated (mode 0600) when missing.
    pub token_file: PathBuf,
    /// Certificate and key files; `None` means plain HTTP on loopback, or a self-signed pair
    /// (next to the token file) on any other address.
    pub tls: Option<TlsFiles>,
    /// Whether `GET /api/v1/keys/wireshark` may export keys.
    pub allow_key_export: bool,
}

/// PEM files of the admin API's TLS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain (PEM), leaf first.
    pub certificate: PathBuf,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
}

impl AdminConfig {
    /// True when the API must speak TLS (any listen address other than loopback, or files
    /// given).
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some() || !self.listen.ip().is_loopback()
    }

    /// The TLS files in use: the configured ones, or the generated pair next to the token file
    /// (`<token-file>.cert.pem`, `<token-file>.key.pem`) for a non-loopback listen without them.
    pub fn tls_files(&self) -> Option<TlsFiles> {
        match &self.tls {
            Some(t) => Some(t.clone()),
            None if !self.listen.ip().is_loopback() => {
                let base = self.token_file.display().to_string();
                Some(TlsFiles {
                    certificate: PathBuf::from(format!("{base}.cert.pem")),
                    private_key: PathBuf::from(format!("{base}.key.pem")),
                })
            }
            None => None,
        }
    }
}

const ADMIN_KEYS: &[&str] = &["listen", "token-file", "tls", "allow-key-export"];

/// Parses `admin:`.
pub(super) fn parse_admin(n: &Node<'_>, base: &Path, errs: &mut Errors) -> Option<AdminConfig> {
    let m = n.block(errs, ADMIN_KEYS)?;
    let listen = match child(m, n, "listen") {
        Some(l) => {
            let s = l.str(errs, "127.0.0.1:8080")?;
            match s.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    l.error(
                        errs,
                        format!(
                            "\"{s}\" is not an address with a port; write e.g. \
                             `127.0.0.1:8080` or `[::1]:8080`"
                        ),
                    );
                    None
                }
            }
        }
        None => Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
    };
    let token_file = match child(m, n, "token-file") {
        Some(t) => t
            .str(errs, DEFAULT_TOKEN_FILE)
            .map(|s| resolve(base, s))
            .filter(|p| {
                if p.as_os_str().is_empty() || p.ends_with("/") {
                    t.error(errs, "give a file name, e.g. `/etc/ikegate/admin.token`");
                    false
                } else {
                    true
                }
            }),
        None => Some(PathBuf::from(DEFAULT_TOKEN_FILE)),
    };
    let mut ok = true;
    let tls = match child(m, n, "tls") {
        Some(t) => 'tls: {
            let Some(tm) = t.block(errs, &["certificate", "private-key"]) else {
                ok = false;
                break 'tls None;
            };
            let mut file = |k: &str, ex: &str| match child(tm, &t, k) {
                Some(v) => v.str(errs, ex).map(|s| resolve(base, s)),
                None => {
                    errs.push(
                        &t.child_path(k),
                        format!("missing: the {k} file (PEM), e.g. `{k}: {ex}`"),
                    );
                    None
                }
            };
            let c = file("certificate", "/etc/ikegate/admin.crt");
            let k = file("private-key", "/etc/ikegate/admin.key");
            match (c, k) {
                (Some(certificate), Some(private_key)) => Some(TlsFiles {
                    certificate,
                    private_key,
                }),
                _ => {
                    ok = false;
                    None
                }
            }
        }
        None => None,
    };
    let allow_key_export = match child(m, n, "allow-key-export") {
        Some(v) => v.choice(
            errs,
            &[
                ("true", true),
                ("false", false),
                ("enable", true),
                ("disable", false),
            ],
        ),
        None => Some(false),
    };
    if !ok {
        return None;
    }
    Some(AdminConfig {
        listen: listen?,
        token_file: token_file?,
        tls,
        allow_key_export: allow_key_export?,
    })
}
