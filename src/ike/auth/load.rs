//! Loading a tunnel's `certificate:` files when the configuration is read (the only file I/O of
//! this module; the engines never read files).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cert::{utc_text, Certificate};
use super::crl::CrlStore;
use super::diag::CertError;
use super::key::PrivateKey;
use super::trust::TrustStore;
use super::CertCredentials;

/// The `certificate:` block of a tunnel's `ike:` section, as paths.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateFiles {
    /// `file`: our certificate, optionally followed by its intermediates (PEM).
    pub file: PathBuf,
    /// `key-file`: our private key (PEM; readable by its owner only).
    pub key_file: PathBuf,
    /// `trusted-ca`: CA certificate files or directories of them.
    pub trusted_ca: Vec<PathBuf>,
    /// `crl`: CRL files (PEM or DER).
    pub crl: Vec<PathBuf>,
    /// `peer-file`: the exact certificate the peer must present.
    pub peer_file: Option<PathBuf>,
}

/// Why the certificate configuration cannot be used; `Display` names the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("certificate.{key}: cannot read {path}: {reason}")]
    Read {
        /// The YAML key.
        key: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// A file does not hold what the key needs.
    #[error("certificate.{key}: {path}: {reason}")]
    Content {
        /// The YAML key.
        key: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The private key file is readable by group or others.
    #[error("certificate.key-file: {path} is readable by other users (mode {mode:o}); run: chmod 600 {path}")]
    KeyPermissions {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Our key does not belong to our certificate.
    #[error("{0}")]
    Mismatch(CertError),
}

impl CertificateFiles {
    /// Reads and checks everything; CRLs go into a fresh store.
    pub fn load(&self) -> Result<CertCredentials, LoadError> {
        let mut mine = read_certs("file", &self.file)?;
        let cert = mine.remove(0);
        let key = read_key(&self.key_file)?;
        if cert.public_key.as_ref().map(|k| k.bits()) != Some(key.public_key_bits().as_slice()) {
            return Err(LoadError::Mismatch(CertError::KeyMismatch {
                subject: cert.subject.to_string(),
                key_file: self.key_file.display().to_string(),
            }));
        }
        let mut anchors = Vec::new();
        for p in &self.trusted_ca {
            anchors.extend(read_ca_path(p)?);
        }
        let crls = Arc::new(CrlStore::new());
        for p in &self.crl {
            let bytes = read("crl", p)?;
            crls.add_file(&p.display().to_string(), &bytes)
                .map_err(|e| content("crl", p, &e.to_string()))?;
        }
        let peer_cert = match &self.peer_file {
            Some(p) => Some(read_certs("peer-file", p)?.remove(0)),
            None => None,
        };
        Ok(CertCredentials {
            trust: TrustStore {
                anchors,
                intermediates: mine.clone(),
                peer_cert,
                crls,
                verified: super::verified::VerifiedPaths::shared(),
            },
            cert,
            chain: mine,
            key,
            files: self.clone(),
        })
    }
}

impl CertCredentials {
    /// Warnings for `ikegate check`: our certificate expired or not yet valid at `now_unix`.
    pub fn own_validity_warnings(&self, now_unix: i64) -> Vec<String> {
        let mut out = Vec::new();
        for c in std::iter::once(&self.cert).chain(&self.chain) {
            if now_unix > c.not_after {
                out.push(format!(
                    "certificate.file: \"{}\" expired on {} (now {}); peers will refuse it",
                    c.subject,
                    c.not_after_text(),
                    utc_text(now_unix)
                ));
            } else if now_unix < c.not_before {
                out.push(format!(
                    "certificate.file: \"{}\" is not valid before {} (now {}); peers will refuse it",
                    c.subject,
                    c.not_before_text(),
                    utc_text(now_unix)
                ));
            }
        }
        out
    }
}

fn read(key: &'static str, p: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(p).map_err(|e| LoadError::Read {
        key,
        path: p.display().to_string(),
        reason: e.to_string(),
    })
}

fn content(key: &'static str, p: &Path, reason: &str) -> LoadError {
    LoadError::Content {
        key,
        path: p.display().to_string(),
        reason: reason.to_string(),
    }
}

fn read_certs(key: &'static str, p: &Path) -> Result<Vec<Certificate>, LoadError> {
    let bytes = read(key, p)?;
    Certificate::all_from_pem_or_der(&bytes).map_err(|e| content(key, p, &e.to_string()))
}

fn read_key(p: &Path) -> Result<PrivateKey, LoadError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(p).map_err(|e| LoadError::Read {
        key: "key-file",
        path: p.display().to_string(),
        reason: e.to_string(),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if crate::config::node::check_secret_mode(p).is_err() {
        return Err(LoadError::KeyPermissions {
            path: p.display().to_string(),
            mode,
        });
    }
    let bytes = zeroize::Zeroizing::new(read("key-file", p)?);
    PrivateKey::from_pem(&bytes).map_err(|e| content("key-file", p, &e.to_string()))
}

/// A CA file, or every certificate file of a directory (files that are not certificates are
/// an error naming them: a typo in a CA directory should not silently shrink our trust).
fn read_ca_path(p: &Path) -> Result<Vec<Certificate>, LoadError> {
    if !p.is_dir() {
        return read_certs("trusted-ca", p);
    }
    let entries = std::fs::read_dir(p).map_err(|e| LoadError::Read {
        key: "trusted-ca",
        path: p.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        out.extend(read_certs("trusted-ca", &f)?);
    }
    if out.is_empty() {
        return Err(content(
            "trusted-ca",
            p,
            "the directory holds no certificate",
        ));
    }
    Ok(out)
}
