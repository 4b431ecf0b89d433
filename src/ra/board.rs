//! What a remote-access interface shows the admin API (`GET /api/v1/remote-access`): its task
//! publishes a [`model::RemoteAccess`] after each change and the API reads it without a lock;
//! a disconnect goes the other way, as an [`RaCommand`] on the task's queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot};

use super::acceptor::{ClientId, RaAcceptor};
use crate::api::model;

/// A request to a remote-access task.
#[derive(Debug)]
pub enum RaCommand {
    /// Disconnect client `id` (Delete its IKE SA, release its lease); the answer says what was
    /// done, or why not.
    Disconnect {
        /// The client's number ([`model::RaClient::id`]).
        id: u64,
        /// Where the answer goes.
        done: oneshot::Sender<Result<String, String>>,
    },
}

/// One remote-access interface's published state and its task's command queue.
#[derive(Debug)]
pub struct RaBoard {
    state: ArcSwap<model::RemoteAccess>,
    commands: mpsc::Sender<RaCommand>,
}

impl RaBoard {
    /// A board for interface `name` (nothing connected yet) and the queue its task reads.
    pub fn new(name: &str) -> (Arc<RaBoard>, mpsc::Receiver<RaCommand>) {
        let (commands, rx) = mpsc::channel(8);
        let state = ArcSwap::from_pointee(model::RemoteAccess {
            name: name.into(),
            ..model::RemoteAccess::default()
        });
        (Arc::new(RaBoard { state, commands }), rx)
    }

    /// The interface's name.
    pub fn name(&self) -> String {
        self.state.load().name.clone()
    }

    /// The latest published state.
    pub fn snapshot(&self) -> Arc<model::RemoteAccess> {
        self.state.load_full()
    }

    /// Publishes `state` (the task calls this after a change).
    pub fn publish(&self, state: model::RemoteAccess) {
        self.state.store(Arc::new(state));
    }

    /// Asks the task to disconnect client `id`.
    pub async fn disconnect(&self, id: u64) -> Result<String, String> {
        let (done, answer) = oneshot::channel();
        self.commands
            .send(RaCommand::Disconnect { id, done })
            .await
            .map_err(|_| "the interface's task has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the interface's task did not answer".to_string())?
    }
}

/// The state of `acceptor` (interface `name`) at `now`, each client's inner bytes (in, out)
/// from `traffic`.
pub fn snapshot(
    name: &str,
    acceptor: &RaAcceptor,
    now: Instant,
    traffic: impl Fn(ClientId) -> (u64, u64),
) -> model::RemoteAccess {
    let registry = acceptor.registry();
    let infos: HashMap<&str, _> = registry
        .clients()
        .into_iter()
        .map(|c| (c.user.as_str(), c))
        .collect();
    let mut clients = Vec::new();
    let mut negotiating = 0;
    for (id, c) in acceptor.clients() {
        let Some(info) = c.user.as_deref().and_then(|u| infos.get(u)) else {
            negotiating += 1;
            continue;
        };
        let (bytes_in, bytes_out) = traffic(id);
        let lease = &info.lease;
        let virtual_ips = [
            lease.ipv4.map(|a| a.to_string()),
            lease.ipv6.map(|a| a.to_string()),
        ];
        clients.push(model::RaClient {
            id: id.0,
            user: info.user.clone(),
            identity: info.identity.clone(),
            virtual_ips: virtual_ips.into_iter().flatten().collect(),
            outer: info.outer.to_string(),
            connected_secs: now.saturating_duration_since(info.since).as_secs(),
            bytes_in,
            bytes_out,
            ike_version: info.ike_version,
        });
    }
    clients.sort_by(|a, b| a.user.cmp(&b.user).then(a.id.cmp(&b.id)));
    let usage = registry.usage();
    let (v4, v6) = registry.pool().prefixes();
    let pool = [v4, v6]
        .into_iter()
        .flatten()
        .map(|p| model::RaPool {
            prefix: p.to_string(),
            size: usage.size,
            active: usage.active,
            reserved: usage.reserved,
        })
        .collect();
    let login_failures = registry
        .failures()
        .iter()
        .map(|(k, v)| ((*k).to_string(), *v))
        .collect();
    model::RemoteAccess {
        name: name.into(),
        clients,
        pool,
        login_failures,
        negotiating,
    }
}
