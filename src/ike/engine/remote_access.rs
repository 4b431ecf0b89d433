//! Engine side of IKEv1 remote access (responder): after phase 1 with a remote-access client,
//! XAUTH and mode-config run in Transaction exchanges ([`RaResponder`]); the user check and the
//! lease are asked of the daemon as `Event::Login` and answered through
//! [`Engine::login_answer`]; once the client has its address, Quick Mode accepts its virtual
//! address as its side ([`lease_proxy_ids`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use tracing::{debug, info};

use crate::ra::login::{LoginAnswer, LoginCheck, LoginRequest, LoginTicket};
use crate::wire::isakmp::cfg::Ipv4Subnet;
use crate::wire::isakmp::HeaderRepr;

use super::super::diagnostic::Diagnostic;
use super::super::event::{DownReason, Event, Role};
use super::super::v1::remote_access::{
    lease_proxy_ids, RaEvent, RaRequest, RaResponder, RaSettings,
};
use super::isakmp_sa_gone;
use super::{hex8, Engine, P1State};

/// One client's XAUTH and mode-config under its ISAKMP SA.
pub(super) struct RaState {
    responder: RaResponder,
    /// What the daemon is being asked now.
    asking: Option<Asking>,
    /// The IPv4 address the directory leased at the login.
    lease: Option<Result<Ipv4Addr, String>>,
    /// The networks handed out as split-include (Quick Mode accepts them as our side).
    split_include: Vec<Ipv4Subnet>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Asking {
    Password,
    Lease,
}

/// The login ticket of the ISAKMP SA with initiator cookie `icookie`.
fn ticket_of(icookie: &[u8; 8]) -> LoginTicket {
    LoginTicket(u64::from_be_bytes(*icookie))
}

impl Engine {
    /// An ISAKMP SA with a remote-access client came up at `idx`: no Quick Mode until it has
    /// its address; XAUTH (or mode-config) starts.
    pub(super) fn start_remote_access(&mut self, now: Instant, idx: usize) {
        let Some(ra) = self.policy.remote_access.clone() else {
            return;
        };
        std::sync::Arc::make_mut(&mut self.policy)
            .phase2
            .proxy_ids
            .clear();
        let settings = RaSettings::from_config(&ra.config, self.policy.retransmit);
        let Engine { p1, rng, .. } = self;
        let Some(e) = p1.get_mut(idx) else { return };
        if e.role != Role::Responder || e.ra.is_some() {
            return;
        }
        let P1State::Established(sa) = &e.state else {
            return;
        };
        let identity = sa.peer_identity.to_string();
        let split_include = settings.split_include.clone();
        let responder = RaResponder::start(now, sa, settings, &mut **rng, &identity);
        e.ra = Some(Box::new(RaState {
            responder,
            asking: None,
            lease: None,
            split_include,
        }));
        self.drain_remote_access(now, idx);
    }

    /// A Transaction exchange (XAUTH, mode-config) from a remote-access client.
    pub(super) fn on_transaction(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
        whole: &[u8],
    ) {
        let Some(idx) = self.established_index(&hdr.icookie, &hdr.rcookie) else {
            self.io.stats.dropped_unknown_cookie += 1;
            return;
        };
        let Some(e) = self.p1.get_mut(idx) else {
            return;
        };
        let (Some(ra), P1State::Established(sa)) = (e.ra.as_mut(), &e.state) else {
            debug!(%remote, "Transaction exchange from a peer that is no remote-access client");
            self.io.stats.dropped_unexpected += 1;
            return;
        };
        if let Err(drop) = ra.responder.handle(now, sa, hdr, body, whole) {
            debug!(
                %remote, mid = hdr.message_id, reason = ?drop.reason,
                "Transaction message dropped{}",
                drop.detail.map(|d| format!(": {d}")).unwrap_or_default()
            );
            self.io.drop_reason(drop.reason);
            return;
        }
        self.note_peer_for(idx, remote);
        self.saw_peer(now);
        self.drain_remote_access(now, idx);
    }

    /// The daemon's answer to an `Event::Login` of this engine.
    pub fn login_answer(&mut self, now: Instant, ticket: LoginTicket, answer: LoginAnswer) {
        let Some(idx) = self
            .p1
            .iter()
            .position(|e| e.ra.is_some() && ticket_of(&e.icookie) == ticket)
        else {
            debug!("login answer {ticket:?} for no remote-access client here");
            return;
        };
        let Engine { p1, rng, .. } = self;
        let Some(e) = p1.get_mut(idx) else { return };
        let (Some(ra), P1State::Established(sa)) = (e.ra.as_mut(), &e.state) else {
            return;
        };
        let (ok, lease) = match answer {
            LoginAnswer::Accepted(a) => (
                true,
                a.lease.ipv4.ok_or_else(|| {
                    "the pool has no IPv4 address, and IKEv1 mode-config hands out IPv4: add \
                     `pool: { ipv4: … }`"
                        .to_string()
                }),
            ),
            LoginAnswer::Rejected { failure, .. } => (false, Err(failure.to_string())),
            LoginAnswer::Continue(_) => {
                debug!("an EAP step for an IKEv1 client: ignored");
                return;
            }
        };
        match ra.asking.take() {
            Some(Asking::Password) => {
                ra.lease = Some(lease);
                ra.responder.login_result(now, sa, &mut **rng, ok);
            }
            Some(Asking::Lease) => ra.responder.lease_result(now, sa, &mut **rng, lease),
            None => return,
        }
        self.drain_remote_access(now, idx);
    }

    /// Runs the remote-access retransmissions and the `auto` push deadline.
    pub(super) fn run_remote_access(&mut self, now: Instant) {
        for idx in 0..self.p1.len() {
            let due = self
                .p1
                .get(idx)
                .and_then(|e| e.ra.as_ref())
                .and_then(|r| r.responder.poll_timeout())
                .is_some_and(|t| t <= now);
            if let (true, Some(ra)) = (due, self.p1.get_mut(idx).and_then(|e| e.ra.as_mut())) {
                ra.responder.handle_timeout(now);
                self.drain_remote_access(now, idx);
            }
        }
    }

    /// The next remote-access deadline.
    pub(super) fn remote_access_deadline(&self) -> Option<Instant> {
        self.p1
            .iter()
            .filter_map(|e| e.ra.as_ref()?.responder.poll_timeout())
            .min()
    }

    /// Carries out what the client's [`RaResponder`] at `idx` produced.
    fn drain_remote_access(&mut self, now: Instant, idx: usize) {
        loop {
            let Engine {
                p1,
                rng,
                io,
                policy,
                ..
            } = self;
            let Some(e) = p1.get_mut(idx) else { return };
            let (Some(ra), P1State::Established(sa)) = (e.ra.as_mut(), &e.state) else {
                return;
            };
            let Some(ev) = ra.responder.poll_event() else {
                return;
            };
            let login = |user: String, check: LoginCheck| {
                Event::Login(LoginRequest {
                    ticket: ticket_of(&e.icookie),
                    user,
                    identity: sa.peer_identity.to_string(),
                    source: e.peer,
                    ike_version: 1,
                    check,
                })
            };
            match ev {
                RaEvent::Transmit(d) => io.send(e.local_port, e.peer, d),
                RaEvent::Ask(RaRequest::CheckPassword { user, password }) => {
                    ra.asking = Some(Asking::Password);
                    io.events
                        .push_back(login(user, LoginCheck::Password(password)));
                }
                RaEvent::Ask(RaRequest::Lease { user }) => match ra.lease.take() {
                    Some(lease) => ra.responder.lease_result(now, sa, &mut **rng, lease),
                    None => {
                        // No XAUTH: the client is admitted under its phase-1 identity.
                        ra.asking = Some(Asking::Lease);
                        io.events.push_back(login(user, LoginCheck::Admit));
                    }
                },
                RaEvent::Ready {
                    user,
                    address,
                    style,
                } => {
                    info!(
                        icookie = %hex8(&e.icookie), peer = %e.peer,
                        "remote-access client \"{user}\" has address {address} (mode-config {style:?})"
                    );
                    std::sync::Arc::make_mut(policy).phase2.proxy_ids =
                        lease_proxy_ids(address, &ra.split_include);
                }
                RaEvent::Failed(f) => {
                    let peer = e.peer.ip();
                    io.fail(Diagnostic::RemoteAccess {
                        peer,
                        detail: f.to_string(),
                    });
                    self.delete_isakmp_sa(idx);
                    return;
                }
            }
        }
    }

    /// Deletes the ISAKMP SA at `idx` (Delete to the peer, `Phase1Down`) and forgets it.
    fn delete_isakmp_sa(&mut self, idx: usize) {
        if idx >= self.p1.len() {
            return;
        }
        let e = self.p1.remove(idx);
        isakmp_sa_gone(&mut *self.rng, &mut self.io, &e, DownReason::Shutdown, true);
    }
}
