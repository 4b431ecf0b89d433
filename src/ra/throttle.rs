//! Slowing down repeated login failures (sans-IO): per user name and per source address, the
//! first few failures within a window are free, each further one doubles the wait before the
//! next attempt is even checked, up to a ceiling. Memory is bounded: each table holds at most
//! `max_entries` keys, expired ones are purged first, then the least recently failed.
//!
//! The daemon calls [`Throttle::check`] before it asks the user directory, and
//! [`Throttle::record_failure`] / [`Throttle::record_success`] after; [`FailureReason`] is the
//! text for the log and the API (never the password).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::radius::RadiusError;

/// The knobs.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Failures within `window` that cost nothing.
    pub free_failures: u32,
    /// A key with no failure for this long is forgotten.
    pub window: Duration,
    /// The wait after the first failure past the free ones; doubled for each further one.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Keys held per table (users, addresses).
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    /// 3 free failures in 15 minutes, then 1 s, 2 s, 4 s … up to 5 minutes; 4096 keys each.
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            free_failures: 3,
            window: Duration::from_secs(15 * 60),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            max_entries: 4096,
        }
    }
}

/// Why a login failed, as the log and the API show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    UnknownUser,
    WrongPassword,
    /// The client broke the login method's protocol (a malformed or unexpected EAP or XAUTH
    /// message): counted and slowed down like a wrong password, but said as what it was.
    ProtocolError,
    /// The user exists but the directory holds nothing the method can check.
    MethodNotStored,
    /// Refused unasked because of earlier failures: counted, the wait already imposed stands.
    Throttled,
    /// Access-Reject, with the server's Reply-Message when it sent one.
    RadiusReject {
        reply_message: Option<String>,
    },
    /// The server never answered (its name and the client's hint).
    RadiusTimeout {
        message: String,
    },
    /// Any other RADIUS failure (bad answer, request not sendable).
    RadiusError {
        message: String,
    },
}

/// The reason's kind, for counters and metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    UnknownUser,
    WrongPassword,
    ProtocolError,
    MethodNotStored,
    Throttled,
    RadiusReject,
    RadiusTimeout,
    RadiusError,
}

impl FailureKind {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::UnknownUser => "unknown_user",
            FailureKind::WrongPassword => "wrong_password",
            FailureKind::ProtocolError => "protocol",
            FailureKind::MethodNotStored => "method_not_stored",
            FailureKind::Throttled => "throttled",
            FailureKind::RadiusReject => "radius_reject",
            FailureKind::RadiusTimeout => "radius_timeout",
            FailureKind::RadiusError => "radius_error",
        }
    }
}

impl FailureReason {
    pub fn kind(&self) -> FailureKind {
        match self {
            FailureReason::UnknownUser => FailureKind::UnknownUser,
            FailureReason::WrongPassword => FailureKind::WrongPassword,
            FailureReason::ProtocolError => FailureKind::ProtocolError,
            FailureReason::MethodNotStored => FailureKind::MethodNotStored,
            FailureReason::Throttled => FailureKind::Throttled,
            FailureReason::RadiusReject { .. } => FailureKind::RadiusReject,
            FailureReason::RadiusTimeout { .. } => FailureKind::RadiusTimeout,
            FailureReason::RadiusError { .. } => FailureKind::RadiusError,
        }
    }
}

impl From<&RadiusError> for FailureReason {
    fn from(e: &RadiusError) -> FailureReason {
        match e {
            RadiusError::Timeout { .. } => FailureReason::RadiusTimeout {
                message: e.to_string(),
            },
            _ => FailureReason::RadiusError {
                message: e.to_string(),
            },
        }
    }
}

impl core::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FailureReason::UnknownUser => f.write_str("unknown user"),
            FailureReason::WrongPassword => f.write_str("wrong password"),
            FailureReason::ProtocolError => f.write_str("login protocol error"),
            FailureReason::MethodNotStored => {
                f.write_str("nothing stored for the user that this method can check")
            }
            FailureReason::Throttled => f.write_str("refused: too many recent failures"),
            FailureReason::RadiusReject {
                reply_message: Some(m),
            } => write!(
                f,
                "RADIUS server rejected it (Access-Reject): {}",
                printable(m.as_bytes())
            ),
            FailureReason::RadiusReject {
                reply_message: None,
            } => f.write_str("RADIUS server rejected it (Access-Reject, no Reply-Message)"),
            FailureReason::RadiusTimeout { message } | FailureReason::RadiusError { message } => {
                f.write_str(message)
            }
        }
    }
}

/// Text from the network made safe for one log line: invalid UTF-8 replaced, control
/// characters shown as `?`, at most 200 characters.
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Which key holds an attempt back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    User(String),
    Source(IpAddr),
}

/// The answer of [`Throttle::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead and check the credentials.
    Allow,
    /// Refuse without checking; the key may try again after `retry_after`.
    Wait { held: Held, retry_after: Duration },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    blocked_until: Instant,
}

/// One bounded table of failure records.
#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Table<K> {
        Table {
            map: HashMap::new(),
        }
    }

    fn live<Q>(&self, key: &Q, now: Instant, window: Duration) -> Option<Entry>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map
            .get(key)
            .copied()
            .filter(|e| !expired(e, now, window))
    }

    /// Counts a failure; returns the wait it imposes and how many keys were evicted.
    fn fail(&mut self, key: K, now: Instant, c: &ThrottleConfig) -> (Duration, u64) {
        let mut evicted = 0;
        if !self.map.contains_key(&key) && self.map.len() >= c.max_entries {
            evicted = self.make_room(now, c);
        }
        let e = self.map.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            blocked_until: now,
        });
        if expired(e, now, c.window) {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        let delay = delay_after(e.failures, c);
        e.blocked_until = now + delay;
        (delay, evicted)
    }

    fn make_room(&mut self, now: Instant, c: &ThrottleConfig) -> u64 {
        let before = self.map.len();
        self.map.retain(|_, e| !expired(e, now, c.window));
        while self.map.len() >= c.max_entries.max(1) {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.map.remove(&k),
                None => break,
            };
        }
        (before - self.map.len()) as u64
    }
}

fn expired(e: &Entry, now: Instant, window: Duration) -> bool {
    now >= e.blocked_until && now.saturating_duration_since(e.last_failure) >= window
}

/// The wait after the `failures`-th failure in a window.
fn delay_after(failures: u32, c: &ThrottleConfig) -> Duration {
    let Some(over) = failures.checked_sub(c.free_failures).filter(|&o| o > 0) else {
        return Duration::ZERO;
    };
    let factor = 1u32.checked_shl(over - 1).unwrap_or(u32::MAX);
    c.base_delay.saturating_mul(factor).min(c.max_delay)
}

/// Counters for the log, the API and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThrottleCounters {
    /// Failures by reason.
    pub failures: HashMap<FailureKind, u64>,
    /// Attempts refused unchecked because a key was held.
    pub held_back: u64,
    /// Keys dropped to keep the tables bounded.
    pub evicted: u64,
}

/// Failure records per user name and per source address.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    users: Table<String>,
    sources: Table<IpAddr>,
    counters: ThrottleCounters,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Throttle {
        Throttle {
            config,
            users: Table::new(),
            sources: Table::new(),
            counters: ThrottleCounters::default(),
        }
    }

    pub fn counters(&self) -> &ThrottleCounters {
        &self.counters
    }

    /// Whether a login of `user` from `source` may be checked now (counted when not).
    pub fn check(&mut self, now: Instant, user: &str, source: IpAddr) -> Verdict {
        let w = self.config.window;
        let held = [
            self.users
                .live(user, now, w)
                .map(|e| (Held::User(user.to_string()), e.blocked_until)),
            self.sources
                .live(&source, now, w)
                .map(|e| (Held::Source(source), e.blocked_until)),
        ]
        .into_iter()
        .flatten()
        .filter(|(_, until)| *until > now)
        .max_by_key(|(_, until)| *until);
        match held {
            Some((held, until)) => {
                self.counters.held_back += 1;
                Verdict::Wait {
                    held,
                    retry_after: until - now,
                }
            }
            None => Verdict::Allow,
        }
    }

    /// Counts a failed login; returns the wait now imposed on the next attempt (the longer of
    /// the user's and the address's).
    pub fn record_failure(
        &mut self,
        now: Instant,
        user: &str,
        source: IpAddr,
        reason: &FailureReason,
    ) -> Duration {
        *self.counters.failures.entry(reason.kind()).or_insert(0) += 1;
        // A server that does not answer says nothing about the user: count, do not slow down.
        // Nor does a refusal the throttle itself made (its wait stands as it is).
        if matches!(
            reason.kind(),
            FailureKind::RadiusTimeout | FailureKind::RadiusError | FailureKind::Throttled
        ) {
            return Duration::ZERO;
        }
        let (du, eu) = self.users.fail(user.to_string(), now, &self.config);
        let (ds, es) = self.sources.fail(source, now, &self.config);
        self.counters.evicted += eu + es;
        du.max(ds)
    }

    /// A successful login clears the user's record (the address keeps its own: one good
    /// account must not wash an address's guesses at others).
    pub fn record_success(&mut self, user: &str) {
        self.users.map.remove(user);
    }

    /// The log line for a failure: who, from where, why, and the wait imposed.
    pub fn describe(user: &str, source: IpAddr, reason: &FailureReason, wait: Duration) -> String {
        let mut s = format!(
            "login failed for user \"{}\" from {source}: {reason}",
            printable(user.as_bytes())
        );
        if !wait.is_zero() {
            s.push_str(&format!(
                "; further attempts for this user and address are refused for {}s",
                wait.as_secs_f64().ceil()
            ));
        }
        s
    }
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
