//! Certificate paths already validated, so that a peer that comes back (a rekey, a reconnect, the
//! next of many tunnels with one certificate) is not validated again: strongSwan's `cert_cache`
//! does the same for its issuer signatures. A path's validation (webpki: the issuers'
//! signatures, basic constraints, key usage, EKU) is a pure function of the end entity, the other
//! certificates offered, the trust anchors and the time; the time enters only through each
//! certificate's validity period. So an entry is keyed by a SHA-256 over every certificate given
//! (end entity, candidates, anchors: a changed trust configuration or a different chain misses),
//! and answers only inside the period in which every certificate of its path is valid.
//! Revocation, the pinned peer certificate and the end entity's own validity and key usage are
//! checked on every handshake, outside this cache: a CRL that arrives revokes at once.
//!
//! Bounded ([`MAX_ENTRIES`], oldest dropped first); successes only (a refusal is validated again,
//! so its diagnostic is always the current one).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::cert::Certificate;

/// Paths kept at most.
pub const MAX_ENTRIES: usize = 1024;

/// What webpki accepted: the path as positions in the inputs it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifiedPath {
    /// Positions in the candidate list of the intermediates, end entity's issuer first.
    pub intermediates: Vec<usize>,
    /// Position in the anchor list of the anchor the path ends at, when one matched by name.
    pub anchor: Option<usize>,
    /// The latest notBefore and the earliest notAfter of the end entity and intermediates.
    pub valid_from: i64,
    pub valid_until: i64,
}

/// The key of one validation: every certificate it was given, in order and by role.
pub(crate) type PathKey = [u8; 32];

/// The cache, shared by every trust store of the process (see [`VerifiedPaths::shared`]).
#[derive(Default)]
pub struct VerifiedPaths {
    inner: Mutex<Entries>,
}

impl std::fmt::Debug for VerifiedPaths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedPaths")
            .field("paths", &self.len())
            .field("hits", &self.hits())
            .finish()
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<PathKey, VerifiedPath>,
    order: VecDeque<PathKey>,
    hits: u64,
}

impl VerifiedPaths {
    /// The process's one cache: trust stores loaded from configuration share it, so one peer
    /// certificate seen on many interfaces is validated once.
    pub fn shared() -> Arc<VerifiedPaths> {
        static SHARED: OnceLock<Arc<VerifiedPaths>> = OnceLock::new();
        SHARED.get_or_init(Arc::default).clone()
    }

    /// The key of a validation of `end` with these `candidates` against these `anchors`.
    pub(crate) fn key(
        end: &Certificate,
        candidates: &[&Certificate],
        anchors: &[Certificate],
    ) -> PathKey {
        let mut h = Sha256::new();
        let mut put = |tag: u8, der: &[u8]| {
            h.update([tag]);
            h.update((der.len() as u64).to_be_bytes());
            h.update(der);
        };
        put(b'e', end.der());
        for c in candidates {
            put(b'c', c.der());
        }
        for a in anchors {
            put(b'a', a.der());
        }
        h.finalize().into()
    }

    /// The path validated before under `key`, if `now_unix` is inside its validity period.
    pub(crate) fn get(&self, key: &PathKey, now_unix: i64) -> Option<VerifiedPath> {
        let mut e = self.inner.lock().ok()?;
        let hit = e
            .map
            .get(key)
            .filter(|p| p.valid_from <= now_unix && now_unix <= p.valid_until)
            .cloned();
        if hit.is_some() {
            e.hits += 1;
        }
        hit
    }

    /// Keeps a path webpki accepted.
    pub(crate) fn put(&self, key: PathKey, path: VerifiedPath) {
        let Ok(mut e) = self.inner.lock() else {
            return;
        };
        if e.map.insert(key, path).is_some() {
            return;
        }
        e.order.push_back(key);
        while e.order.len() > MAX_ENTRIES {
            if let Some(old) = e.order.pop_front() {
                e.map.remove(&old);
            }
        }
    }

    /// Validations answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.inner.lock().map(|e| e.hits).unwrap_or(0)
    }

    /// Paths kept.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|e| e.map.len()).unwrap_or(0)
    }

    /// True when no path is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
