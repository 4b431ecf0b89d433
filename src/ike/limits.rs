//! Limits under attack that both IKE versions' responders apply before a new negotiation costs
//! them a Diffie-Hellman computation and state: a token bucket per source for new IKE SAs, and
//! the IKEv2 COOKIE secrets (RFC 7296 §2.6), rotated. Sans-IO: the caller passes time and the
//! random source.
//!
//! Each engine serves one tunnel, i.e. one peer address (or one road warrior identity), so a
//! per-engine bucket is a per-source limit. What the half-open limits and the COOKIE leave
//! through is paced here: a flood from the peer's own address (or spoofing it and answering
//! COOKIEs, which needs the path to that address) gets [`NEW_SA_BURST`] negotiations, then
//! [`NEW_SA_PER_SEC`] a second; the rest is dropped and counted (`dropped_rate_limit`).

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::random::RandomSource;
use crate::crypto::prf::HashAlg;

/// New IKE SAs a responder starts per second from one source, after the burst.
pub const NEW_SA_PER_SEC: u32 = 10;
/// New IKE SAs a responder starts from one source at once (a peer with many tunnels to us
/// negotiating them all after a restart).
pub const NEW_SA_BURST: u32 = 32;

/// A token bucket: [`NEW_SA_BURST`] tokens, refilled at [`NEW_SA_PER_SEC`].
#[derive(Debug, Clone, Default)]
pub(crate) struct NegotiationRate {
    /// Tokens in thousandths (whole tokens are too coarse for the refill).
    milli: u64,
    last: Option<Instant>,
}

impl NegotiationRate {
    const FULL: u64 = NEW_SA_BURST as u64 * 1000;

    /// Takes a token for a new negotiation at `now`; false: over the rate, drop it.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let refill = match self.last {
            None => Self::FULL,
            Some(t) => {
                let ms = now.saturating_duration_since(t).as_millis();
                u64::try_from(ms).unwrap_or(u64::MAX) * u64::from(NEW_SA_PER_SEC)
            }
        };
        self.milli = self.milli.saturating_add(refill).min(Self::FULL);
        self.last = Some(now);
        if self.milli < 1000 {
            return false;
        }
        self.milli -= 1000;
        true
    }
}

/// How long one COOKIE secret is used before a new one replaces it (the previous one is still
/// accepted for as long again, so a COOKIE handed out just before a rotation stays valid).
pub const COOKIE_SECRET_LIFETIME: Duration = Duration::from_secs(120);

/// The IKEv2 responder's COOKIE secrets (RFC 7296 §2.6): a COOKIE is
/// `<secret version> | PRF-HMAC-SHA-256(secret, Ni | IPi | SPIi)`, computed without keeping any
/// state per request; the secret is replaced every [`COOKIE_SECRET_LIFETIME`], and a COOKIE of
/// the previous version is still accepted.
pub(crate) struct CookieSecrets {
    version: u8,
    current: Zeroizing<[u8; 16]>,
    previous: Option<Zeroizing<[u8; 16]>>,
    since: Option<Instant>,
}

impl std::fmt::Debug for CookieSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CookieSecrets(version {}, <redacted>)", self.version)
    }
}

impl CookieSecrets {
    pub(crate) fn new(rng: &mut dyn RandomSource) -> CookieSecrets {
        let mut current = Zeroizing::new([0u8; 16]);
        rng.fill(&mut current[..]);
        CookieSecrets {
            version: 0,
            current,
            previous: None,
            since: None,
        }
    }

    /// Replaces the secret when it is older than [`COOKIE_SECRET_LIFETIME`] (the first call
    /// starts its clock).
    pub(crate) fn rotate(&mut self, now: Instant, rng: &mut dyn RandomSource) {
        let Some(since) = self.since else {
            self.since = Some(now);
            return;
        };
        if now.saturating_duration_since(since) < COOKIE_SECRET_LIFETIME {
            return;
        }
        let mut next = Zeroizing::new([0u8; 16]);
        rng.fill(&mut next[..]);
        self.previous = Some(std::mem::replace(&mut self.current, next));
        self.version = self.version.wrapping_add(1);
        self.since = Some(now);
    }

    /// The COOKIE for an initiator's nonce, address and SPI under the current secret.
    pub(crate) fn cookie(&self, parts: &[&[u8]]) -> Vec<u8> {
        cookie_with(self.version, &self.current[..], parts)
    }

    /// Whether `cookie` is ours, under the current or the previous secret.
    pub(crate) fn verify(&self, cookie: &[u8], parts: &[&[u8]]) -> bool {
        let Some(&v) = cookie.first() else {
            return false;
        };
        let secret = if v == self.version {
            &self.current
        } else if v == self.version.wrapping_sub(1) {
            match &self.previous {
                Some(p) => p,
                None => return false,
            }
        } else {
            return false;
        };
        crate::esp::transform::constant_time_eq(cookie, &cookie_with(v, &secret[..], parts))
    }
}

/// The COOKIE secrets shared by every IKEv2 responder of a daemon and the daemon's receive loops
/// (see [`crate::ike::front_door`]): a COOKIE the loop handed out under a flood passes the
/// engine, and the other way round. The lock is taken only under load (a COOKIE to give or to
/// check), never on the way of an established SA's messages.
pub struct CookieJar(std::sync::Mutex<CookieSecrets>);

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieJar(<redacted>)")
    }
}

impl CookieJar {
    /// A jar with a fresh secret from `rng`.
    pub fn new(rng: &mut dyn RandomSource) -> CookieJar {
        CookieJar(std::sync::Mutex::new(CookieSecrets::new(rng)))
    }

    /// RFC 7296 §2.6 for one IKE_SA_INIT request (its Ni, source address and SPIi): `Ok` when
    /// `offered` is a COOKIE of ours for it, else `Err` with the COOKIE to ask for. Rotates the
    /// secret when due (`rng` gives the next one).
    pub fn admit(
        &self,
        now: Instant,
        rng: &mut dyn RandomSource,
        ni: &[u8],
        ip: std::net::IpAddr,
        spi_i: &[u8; 8],
        offered: Option<&[u8]>,
    ) -> Result<(), Vec<u8>> {
        let ip = ip.to_string();
        let parts: [&[u8]; 3] = [ni, ip.as_bytes(), spi_i];
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        s.rotate(now, rng);
        if offered.is_some_and(|c| s.verify(c, &parts)) {
            Ok(())
        } else {
            Err(s.cookie(&parts))
        }
    }
}

fn cookie_with(version: u8, secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut c = vec![version];
    c.extend_from_slice(&HashAlg::Sha256.prf(secret, parts));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::SeededRandom;

    #[test]
    fn the_bucket_allows_the_burst_then_the_rate() {
        let mut r = NegotiationRate::default();
        let t0 = Instant::now();
        let burst = (0..100).filter(|_| r.allow(t0)).count();
        assert_eq!(burst, NEW_SA_BURST as usize);
        // One second later: the rate's worth, no more.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            (0..100).filter(|_| r.allow(t1)).count(),
            NEW_SA_PER_SEC as usize
        );
        // Refilled after a quiet while, never beyond the burst.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!(
            (0..100).filter(|_| r.allow(t2)).count(),
            NEW_SA_BURST as usize
        );
    }

    #[test]
    fn cookies_verify_across_one_rotation_only() {
        let mut rng = SeededRandom::new(7);
        let mut s = CookieSecrets::new(&mut rng);
        let t0 = Instant::now();
        s.rotate(t0, &mut rng);
        let parts: [&[u8]; 3] = [b"nonce", b"10.0.0.2", &[1; 8]];
        let c0 = s.cookie(&parts);
        assert!(s.verify(&c0, &parts));
        assert!(!s.verify(&c0, &[b"nonce", b"10.0.0.3", &[1; 8]]));
        let mut forged = c0.clone();
        forged[5] ^= 1;
        assert!(!s.verify(&forged, &parts));
        assert!(!s.verify(&[], &parts));
        // Not yet due: same secret.
        s.rotate(t0 + Duration::from_secs(60), &mut rng);
        assert_eq!(s.cookie(&parts), c0);
        // Rotated: a new COOKIE; the old one still passes once.
        s.rotate(t0 + COOKIE_SECRET_LIFETIME, &mut rng);
        let c1 = s.cookie(&parts);
        assert_ne!(c1, c0);
        assert!(s.verify(&c0, &parts) && s.verify(&c1, &parts));
        s.rotate(t0 + COOKIE_SECRET_LIFETIME * 2, &mut rng);
        assert!(
            !s.verify(&c0, &parts),
            "a COOKIE two secrets old is refused"
        );
        assert!(s.verify(&c1, &parts));
        assert_eq!(format!("{s:?}"), "CookieSecrets(version 2, <redacted>)");
    }

    #[test]
    fn the_jar_asks_for_a_cookie_then_admits_it_for_that_initiator_only() {
        let mut rng = SeededRandom::new(9);
        let jar = CookieJar::new(&mut rng);
        let t0 = Instant::now();
        let ip: std::net::IpAddr = "10.0.0.4".parse().unwrap();
        let want = jar
            .admit(t0, &mut rng, b"ni", ip, &[3; 8], None)
            .unwrap_err();
        assert!(jar
            .admit(t0, &mut rng, b"ni", ip, &[3; 8], Some(&want))
            .is_ok());
        let other: std::net::IpAddr = "10.0.0.5".parse().unwrap();
        assert!(jar
            .admit(t0, &mut rng, b"ni", other, &[3; 8], Some(&want))
            .is_err());
        assert!(jar
            .admit(t0, &mut rng, b"ni", ip, &[4; 8], Some(&want))
            .is_err());
        assert_eq!(format!("{jar:?}"), "CookieJar(<redacted>)");
    }
}
