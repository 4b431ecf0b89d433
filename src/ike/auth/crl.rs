//! Certificate revocation lists: loaded from files (`crl:`) or fetched by the I/O layer from a
//! certificate's HTTP distribution point, cached until their nextUpdate. The engines only read
//! the store; when a CRL they need is missing they ask for it (`Event::FetchCrl`) and the daemon
//! fetches it and [`CrlStore::insert_fetched`]s it.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::cert::{looks_like_pem, utc_text, Certificate};
use super::dn::DistinguishedName;

/// After a failed fetch, the certificate is refused for this long before we try again.
pub const FETCH_RETRY_SECS: i64 = 30;

/// One CRL, parsed.
#[derive(Debug, Clone)]
struct CrlEntry {
    der: Vec<u8>,
    issuer: DistinguishedName,
    next_update: Option<i64>,
    from_url: bool,
}

/// What the store knows about a certificate's revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationStatus {
    /// Listed by no valid CRL of its issuer (or no CRL is known and none is named).
    Good,
    /// Listed.
    Revoked {
        /// Where the CRL came from.
        source: String,
        /// revocationDate.
        date: String,
        /// reasonCode.
        reason: Option<String>,
    },
    /// The certificate names this HTTP distribution point and we have no fresh CRL: fetch it.
    NeedFetch(String),
    /// The last fetch of this URL failed a moment ago.
    Unavailable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// The CRLs of one tunnel's certificate configuration, shared (`Arc`) between the engine that
/// reads them and the daemon that fetches them.
#[derive(Debug, Default)]
pub struct CrlStore {
    inner: Mutex<StoreInner>,
}

#[derive(Debug, Default)]
struct StoreInner {
    by_source: HashMap<String, CrlEntry>,
    pending: HashSet<String>,
    failed: HashMap<String, (i64, String)>,
}

/// A CRL that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a CRL: {0}")]
pub struct CrlParseError(pub String);

impl CrlStore {
    /// An empty store.
    pub fn new() -> CrlStore {
        CrlStore::default()
    }

    /// Adds a CRL read from a file (PEM or DER).
    pub fn add_file(&self, path: &str, bytes: &[u8]) -> Result<(), CrlParseError> {
        let entry = parse_crl(bytes, false)?;
        self.lock().by_source.insert(path.to_string(), entry);
        Ok(())
    }

    /// Stores a CRL the daemon fetched from `url`.
    pub fn insert_fetched(&self, url: &str, bytes: &[u8]) -> Result<(), CrlParseError> {
        let mut g = self.lock();
        g.pending.remove(url);
        match parse_crl(bytes, true) {
            Ok(entry) => {
                g.failed.remove(url);
                g.by_source.insert(url.to_string(), entry);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Records that fetching `url` failed at `now_unix`.
    pub fn fetch_failed(&self, url: &str, reason: &str, now_unix: i64) {
        let mut g = self.lock();
        g.pending.remove(url);
        g.failed
            .insert(url.to_string(), (now_unix, reason.to_string()));
    }

    /// Marks `url` as being fetched; true when it was not already (emit one fetch request).
    pub fn request(&self, url: &str) -> bool {
        self.lock().pending.insert(url.to_string())
    }

    /// Number of CRLs held.
    pub fn len(&self) -> usize {
        self.lock().by_source.len()
    }

    /// True when no CRL is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoreInner> {
        // A panic while holding the lock leaves plain data; keep using it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `cert`, issued by `issuer`, is revoked at `now_unix`. Only CRLs whose signature
    /// verifies with the issuer's key count.
    pub fn status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        now_unix: i64,
    ) -> RevocationStatus {
        let g = self.lock();
        let fresh = |e: &CrlEntry| e.next_update.is_none_or(|n| n > now_unix) || !e.from_url;
        let mut consulted = false;
        for (source, e) in g
            .by_source
            .iter()
            .filter(|(_, e)| e.issuer == cert.issuer && fresh(e))
        {
            let Ok((_, crl)) = CertificateRevocationList::from_der(&e.der) else {
                continue;
            };
            let Ok((_, issuer_x)) = x509_parser::parse_x509_certificate(issuer.der()) else {
                continue;
            };
            if crl.verify_signature(issuer_x.public_key()).is_err() {
                continue;
            }
            consulted = true;
            let listed = crl
                .iter_revoked_certificates()
                .find(|r| r.raw_serial() == cert.serial_bytes.as_slice())
                .map(|r| {
                    (
                        r.revocation_date.timestamp(),
                        r.reason_code().map(|(_, c)| format!("{c}")),
                    )
                });
            if let Some((date, reason)) = listed {
                return RevocationStatus::Revoked {
                    source: source.clone(),
                    date: utc_text(date),
                    reason,
                };
            }
        }
        if consulted {
            return RevocationStatus::Good;
        }
        // The first HTTP distribution point is the one we fetch.
        let Some(url) = cert.crl_urls.first() else {
            return RevocationStatus::Good;
        };
        match g.failed.get(url) {
            Some((at, reason)) if now_unix - at < FETCH_RETRY_SECS => {
                RevocationStatus::Unavailable {
                    url: url.clone(),
                    reason: reason.clone(),
                }
            }
            _ => RevocationStatus::NeedFetch(url.clone()),
        }
    }
}

fn parse_crl(bytes: &[u8], from_url: bool) -> Result<CrlEntry, CrlParseError> {
    let der = if looks_like_pem(bytes) {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateRevocationListDer::from_pem_slice(bytes)
            .map_err(|e| CrlParseError(format!("bad PEM: {e:?}")))?
            .as_ref()
            .to_vec()
    } else {
        bytes.to_vec()
    };
    let (rest, crl) =
        CertificateRevocationList::from_der(&der).map_err(|e| CrlParseError(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CrlParseError("trailing bytes".into()));
    }
    let issuer = DistinguishedName::from_x509(crl.issuer());
    let next_update = crl.next_update().map(|t| t.timestamp());
    Ok(CrlEntry {
        issuer,
        next_update,
        from_url,
        der: der.clone(),
    })
}
