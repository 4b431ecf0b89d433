//! The connected clients of one remote-access interface (sans-IO): who got which lease, since
//! when, from where; leases released on Delete, DPD death and disconnect; login failures counted
//! by reason. The engine feeds it, the admin API and metrics read [`ClientRegistry::clients`],
//! [`ClientRegistry::usage`] and [`ClientRegistry::failures`].

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::directory::LoginFailure;
use super::pool::{AddressPool, Lease, PoolExhausted, PoolUsage};

/// A connected client, as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The authenticated user (EAP identity; the IDi for PSK road warriors).
    pub user: String,
    /// The IKE identity (IDi) it sent.
    pub identity: String,
    /// Its virtual addresses.
    pub lease: Lease,
    /// Its outer address and port.
    pub outer: SocketAddr,
    /// When it connected.
    pub since: Instant,
    /// IKE version (1 or 2).
    pub ike_version: u8,
}

/// Why a client went away (the log's words; all release the lease the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// It sent a Delete for its IKE SA.
    Deleted,
    /// It stopped answering liveness checks.
    DpdDead,
    /// The admin disconnected it.
    Disconnected,
    /// It connected again (same user) and the new IKE SA replaced this one.
    Replaced,
}

/// The clients of one remote-access interface.
#[derive(Debug)]
pub struct ClientRegistry {
    pool: AddressPool,
    clients: HashMap<String, ClientInfo>,
    failures: BTreeMap<&'static str, u64>,
}

impl ClientRegistry {
    /// A registry over `pool`.
    pub fn new(pool: AddressPool) -> ClientRegistry {
        ClientRegistry {
            pool,
            clients: HashMap::new(),
            failures: BTreeMap::new(),
        }
    }

    /// A client authenticated: leases its address (the same as last time while that lease
    /// lasts). Returns the lease and the client it replaces, if the user was still connected
    /// (the caller deletes that IKE SA).
    pub fn connect(
        &mut self,
        user: &str,
        identity: &str,
        outer: SocketAddr,
        ike_version: u8,
        now: Instant,
    ) -> Result<(Lease, Option<ClientInfo>), PoolExhausted> {
        let (lease, _) = self.pool.acquire(user, now)?;
        let old = self.clients.insert(
            user.to_string(),
            ClientInfo {
                user: user.to_string(),
                identity: identity.to_string(),
                lease,
                outer,
                since: now,
                ike_version,
            },
        );
        Ok((lease, old))
    }

    /// The client of `user` went away: its lease is released (kept for it for the retention
    /// time). Returns what it was.
    pub fn disconnect(&mut self, user: &str, why: Departure, now: Instant) -> Option<ClientInfo> {
        let c = self.clients.remove(user)?;
        self.pool.release(user, now);
        tracing::info!(
            "remote-access client \"{user}\" ({:?}) gone ({why:?}); its address stays reserved for it",
            c.lease.ipv4
        );
        Some(c)
    }

    /// Counts a failed login by reason (`ikegate_ra_login_failures_total{reason}`).
    pub fn login_failed(&mut self, failure: &LoginFailure) {
        *self.failures.entry(failure.reason()).or_default() += 1;
    }

    /// Frees expired reservations; returns when to call again.
    pub fn expire(&mut self, now: Instant) -> Option<Instant> {
        self.pool.expire(now);
        self.pool.next_expiry()
    }

    /// The connected clients, by user name.
    pub fn clients(&self) -> Vec<&ClientInfo> {
        let mut v: Vec<_> = self.clients.values().collect();
        v.sort_by(|a, b| a.user.cmp(&b.user));
        v
    }

    /// The address pool.
    pub fn pool(&self) -> &AddressPool {
        &self.pool
    }

    /// Pool usage.
    pub fn usage(&self) -> PoolUsage {
        self.pool.usage()
    }

    /// Login failures by reason.
    pub fn failures(&self) -> &BTreeMap<&'static str, u64> {
        &self.failures
    }

    /// How long a released address stays reserved by default (strongSwan keeps offline
    /// leases until the pool needs them; a day covers a laptop's night).
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> ClientRegistry {
        ClientRegistry::new(AddressPool::new(
            Some("10.8.0.0/24".parse().unwrap()),
            None,
            Duration::from_secs(600),
        ))
    }

    #[test]
    fn reconnect_keeps_the_address_and_replaces_the_old_client() {
        let t0 = Instant::now();
        let outer: SocketAddr = "198.51.100.7:4500".parse().unwrap();
        let mut r = registry();
        let (a, old) = r.connect("alice", "alice@example", outer, 2, t0).unwrap();
        assert!(old.is_none());
        let (b, _) = r.connect("bob", "bob@example", outer, 2, t0).unwrap();
        assert_ne!(a.ipv4, b.ipv4);
        // Alice's laptop reconnects without a Delete: same address, old IKE SA to remove.
        let (a2, old) = r.connect("alice", "alice@example", outer, 2, t0).unwrap();
        assert_eq!(a2, a);
        assert_eq!(old.map(|c| c.since), Some(t0));
        // DPD death, then back within the retention time: same address again.
        assert!(r.disconnect("alice", Departure::DpdDead, t0).is_some());
        assert_eq!(r.usage().reserved, 1);
        assert_eq!(r.clients().len(), 1);
        let t1 = t0 + Duration::from_secs(300);
        assert_eq!(
            r.connect("alice", "alice@example", outer, 2, t1).unwrap().0,
            a
        );
        assert_eq!(
            r.clients()
                .iter()
                .map(|c| c.user.as_str())
                .collect::<Vec<_>>(),
            ["alice", "bob"]
        );
        // Deleted, and the reservation expires.
        r.disconnect("bob", Departure::Deleted, t1);
        assert_eq!(r.expire(t1), Some(t1 + Duration::from_secs(600)));
        assert_eq!(r.expire(t1 + Duration::from_secs(600)), None);
        assert_eq!(r.usage().reserved, 0);
        assert!(r.disconnect("bob", Departure::Disconnected, t1).is_none());
    }

    #[test]
    fn failures_are_counted_by_reason() {
        let mut r = registry();
        r.login_failed(&LoginFailure::UnknownUser { user: "x".into() });
        r.login_failed(&LoginFailure::WrongPassword {
            user: "x".into(),
            method: "eap-md5",
        });
        r.login_failed(&LoginFailure::WrongPassword {
            user: "y".into(),
            method: "eap-md5",
        });
        assert_eq!(
            r.failures()
                .iter()
                .map(|(k, v)| (*k, *v))
                .collect::<Vec<_>>(),
            [("unknown_user", 1), ("wrong_password", 2)]
        );
    }
}
