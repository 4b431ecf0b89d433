//! The gateway's side of IKEv1 remote access after phase 1: XAUTH (draft-beaulieu-ike-xauth-02,
//! generic user name and password), then mode-config (draft-dukes-ike-mode-cfg-02) in either
//! style, all in Transaction exchanges ([`super::transaction`]):
//!
//! ```text
//! Client                                      Gateway
//!                                       <--   REQUEST(XAUTH_USER_NAME, XAUTH_USER_PASSWORD)
//! REPLY(name, password)                 -->   → RaEvent::Ask(CheckPassword): the caller answers
//!                                       <--   SET(XAUTH_STATUS = 1 | 0)        login_result()
//! ACK                                   -->
//! pull (vpnc, racoon, strongSwan pull = yes):
//! REQUEST(INTERNAL_IP4_ADDRESS, …)      -->   → RaEvent::Ask(Lease): the caller answers lease_result()
//!                                       <--   REPLY(address, netmask, DNS, Unity split-include)
//! push (YAMAHA RTX, strongSwan pull = no):
//!                                       <--   SET(address, netmask, DNS, Unity split-include)
//! ACK                                   -->
//! ```
//!
//! `mode-cfg: auto` waits [`RaSettings::auto_push_after`] after the login for the client's
//! REQUEST and pushes when none came; `pull` only answers, `push` pushes at once (and still
//! answers a REQUEST). The credential check and the lease are not done here: the machine asks
//! for them as [`RaEvent::Ask`] and the caller answers later, so the directory (users file,
//! RADIUS) and the pool stay outside the sans-IO engine.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::ike::core::{backoff, later, Retx};
use crate::ike::policy::{ProxyId, RetransmitPolicy, Subnet};
use crate::ike::random::RandomSource;
use crate::wire::isakmp::cfg::{AttributePayloadRepr, CfgAttr, CfgType, Ipv4Subnet, ModeCfg};
use crate::wire::isakmp::{ExchangeType, HeaderRepr};

use super::isakmp_sa::IsakmpSa;
use super::transaction::{self, CfgDrop, CfgMessage};
use super::DropReason;

/// The XAUTH vendor ID (draft-ietf-ipsec-isakmp-xauth-06), announced by a gateway that asks
/// for a user name after phase 1.
pub(crate) const VID_XAUTH: [u8; 8] = [0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12];
/// The Cisco Unity vendor ID (version 1.0), after which vpnc and strongSwan read the Unity
/// attributes (split-include) in mode-config.
pub(crate) const VID_CISCO_UNITY: [u8; 16] = [
    0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9, 0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00,
];

/// How the gateway hands a client its address (`mode-cfg:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModeCfgStyle {
    /// The client's REQUEST if it sends one soon after the login, else a SET.
    Auto,
    /// SET → ACK, right after the login.
    Push,
    /// REQUEST → REPLY only.
    Pull,
}

/// What the gateway hands out and how it talks, per remote-access interface.
#[derive(Debug, Clone)]
pub(crate) struct RaSettings {
    /// Ask for a user name and password (XAUTH) before mode-config.
    pub xauth: bool,
    /// The mode-config style.
    pub mode_cfg: ModeCfgStyle,
    /// INTERNAL_IP4_NETMASK (the pool's mask).
    pub netmask: Ipv4Addr,
    /// INTERNAL_IP4_DNS servers.
    pub dns: Vec<Ipv4Addr>,
    /// UNITY_SPLIT_INCLUDE networks (empty: the client sends everything into the tunnel).
    pub split_include: Vec<Ipv4Subnet>,
    /// Retransmission of our REQUEST and SETs.
    pub retransmit: RetransmitPolicy,
    /// With [`ModeCfgStyle::Auto`]: how long after the login a client has to send its REQUEST.
    pub auto_push_after: Duration,
}

impl RaSettings {
    /// The settings of a `remote-access:` block: XAUTH when `auth` lists it, mode-config in
    /// its `mode-cfg` style (`auto` when not given), the IPv4 pool's mask, the IPv4 DNS servers
    /// and split-include networks (IKEv1 mode-config carries IPv4 ones only here).
    pub fn from_config(
        ra: &crate::config::RemoteAccessConfig,
        retransmit: RetransmitPolicy,
    ) -> RaSettings {
        use crate::config::ModeCfg;
        let v4 = |s: &Subnet| match s.addr() {
            IpAddr::V4(addr) => Some(Ipv4Subnet {
                addr,
                prefix: s.prefix(),
            }),
            IpAddr::V6(_) => None,
        };
        let prefix = ra.pool_ipv4.map_or(32, |p| u32::from(p.prefix()));
        RaSettings {
            xauth: ra.auth.contains(&crate::config::RaAuth::Xauth),
            mode_cfg: match ra.mode_cfg {
                None | Some(ModeCfg::Auto) => ModeCfgStyle::Auto,
                Some(ModeCfg::Push) => ModeCfgStyle::Push,
                Some(ModeCfg::Pull) => ModeCfgStyle::Pull,
            },
            netmask: Ipv4Addr::from(u32::MAX.checked_shl(32 - prefix).unwrap_or(0)),
            dns: ra
                .dns
                .iter()
                .filter_map(|a| match a {
                    IpAddr::V4(a) => Some(*a),
                    IpAddr::V6(_) => None,
                })
                .collect(),
            split_include: ra.split_include.iter().filter_map(v4).collect(),
            retransmit,
            auto_push_after: AUTO_PUSH_AFTER,
        }
    }
}

/// With `mode-cfg: auto`, how long after the login a client has to send its REQUEST before
/// the gateway pushes (vpnc and strongSwan `pull = yes` ask at once).
const AUTO_PUSH_AFTER: Duration = Duration::from_secs(2);

/// A question the caller answers with [`RaResponder::login_result`] or
/// [`RaResponder::lease_result`]. Its `Debug` never shows the password.
pub(crate) enum RaRequest {
    /// Check this XAUTH user name and password against the directory.
    CheckPassword {
        user: String,
        password: Zeroizing<Vec<u8>>,
    },
    /// Lease a virtual address to this user (the same one again on a reconnect).
    Lease { user: String },
}

impl std::fmt::Debug for RaRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RaRequest::CheckPassword { user, .. } => f
                .debug_struct("CheckPassword")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            RaRequest::Lease { user } => f.debug_struct("Lease").field("user", user).finish(),
        }
    }
}

/// What [`RaResponder`] produced, drained with [`RaResponder::poll_event`].
#[derive(Debug)]
pub(crate) enum RaEvent {
    /// A datagram for the client.
    Transmit(Vec<u8>),
    /// A question for the caller.
    Ask(RaRequest),
    /// The client is logged in and has its address: Quick Mode may follow, narrowed to it.
    Ready {
        user: String,
        address: Ipv4Addr,
        style: ModeCfgStyle,
    },
    /// The login is over without an address; the ISAKMP SA should be deleted.
    Failed(RaFailure),
}

/// Why a client did not get in, in words for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RaFailure {
    /// The directory refused the credentials (the caller logged why); the client was told.
    #[error("XAUTH login of \"{user}\" refused; the client was sent XAUTH_STATUS = FAIL")]
    LoginRefused { user: String },
    /// No address could be leased.
    #[error("no address for \"{user}\": {detail}")]
    NoAddress { user: String, detail: String },
    /// The client stopped answering.
    #[error(
        "no answer to our {message} after {retransmits} retransmissions: the client gave up \
         (check its log for why)"
    )]
    NoAnswer {
        message: &'static str,
        retransmits: u32,
    },
    /// The client broke XAUTH or mode-config.
    #[error("{0}")]
    Protocol(String),
}

/// A message of ours waiting for its answer.
struct Pending {
    mid: u32,
    /// The IV of the client's answer (our message's last cipher block).
    answer_iv: Vec<u8>,
    retx: Retx,
}

/// How a lease, once the caller gives it, reaches the client.
enum Delivery {
    Push,
    Reply(ReplyTo),
}

/// A client REQUEST to answer: its exchange, identifier, the IV of our REPLY, what it asked.
struct ReplyTo {
    mid: u32,
    identifier: u16,
    iv: Vec<u8>,
    requested: Vec<CfgAttr>,
}

enum Stage {
    AskedCredentials(Pending),
    Checking {
        user: String,
    },
    StatusSent {
        pending: Pending,
        user: String,
        ok: bool,
    },
    AwaitingModeCfg {
        user: String,
        push_at: Option<Instant>,
    },
    LeasePending {
        user: String,
        deliver: Delivery,
    },
    PushSent {
        pending: Pending,
        user: String,
        address: Ipv4Addr,
    },
    Ready {
        user: String,
        address: Ipv4Addr,
    },
    Over,
}

/// The gateway's XAUTH and mode-config for one client's ISAKMP SA.
pub(crate) struct RaResponder {
    settings: RaSettings,
    stage: Stage,
    events: VecDeque<RaEvent>,
    /// Our last REPLY and the client REQUEST it answered, to answer a retransmission again.
    last_reply: Option<(Vec<u8>, Vec<u8>)>,
}

impl RaResponder {
    /// Starts right after phase 1: sends the XAUTH REQUEST, or without XAUTH goes straight to
    /// mode-config with `identity` (the client's phase-1 identity) as the lease's user.
    pub fn start(
        now: Instant,
        sa: &IsakmpSa,
        settings: RaSettings,
        rng: &mut dyn RandomSource,
        identity: &str,
    ) -> RaResponder {
        let mut r = RaResponder {
            settings,
            stage: Stage::Over,
            events: VecDeque::new(),
            last_reply: None,
        };
        if r.settings.xauth {
            let ask = ModeCfg {
                requested: vec![CfgAttr::XAUTH_USER_NAME, CfgAttr::XAUTH_USER_PASSWORD],
                ..ModeCfg::default()
            };
            let p = r.send_new(now, sa, rng, CfgType::REQUEST, &ask, "XAUTH REQUEST");
            r.stage = Stage::AskedCredentials(p);
        } else {
            r.logged_in(now, identity.to_string());
        }
        r
    }

    /// The next output.
    pub fn poll_event(&mut self) -> Option<RaEvent> {
        self.events.pop_front()
    }

    /// The user name once the client has given it.
    pub fn user(&self) -> Option<&str> {
        match &self.stage {
            Stage::Checking { user }
            | Stage::StatusSent { user, .. }
            | Stage::AwaitingModeCfg { user, .. }
            | Stage::LeasePending { user, .. }
            | Stage::PushSent { user, .. }
            | Stage::Ready { user, .. } => Some(user),
            Stage::AskedCredentials(_) | Stage::Over => None,
        }
    }

    /// The client's virtual address once it has acknowledged or been sent it.
    pub fn address(&self) -> Option<Ipv4Addr> {
        match self.stage {
            Stage::Ready { address, .. } => Some(address),
            _ => None,
        }
    }

    /// When [`RaResponder::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.stage {
            Stage::AskedCredentials(p)
            | Stage::StatusSent { pending: p, .. }
            | Stage::PushSent { pending: p, .. } => Some(p.retx.next_at),
            Stage::AwaitingModeCfg { push_at, .. } => *push_at,
            _ => None,
        }
    }

    /// Handles a Transaction exchange datagram (`hdr` parsed, `body` after the header, `raw`
    /// the whole datagram).
    pub fn handle(
        &mut self,
        now: Instant,
        sa: &IsakmpSa,
        hdr: &HeaderRepr,
        body: &[u8],
        raw: &[u8],
    ) -> Result<(), CfgDrop> {
        if hdr.exchange != ExchangeType::TRANSACTION {
            return Err(DropReason::Unexpected.into());
        }
        if let Some((request, reply)) = &self.last_reply {
            if request.as_slice() == raw {
                self.events.push_back(RaEvent::Transmit(reply.clone()));
                return Ok(());
            }
        }
        let iv = match self.pending() {
            Some(p) if p.mid == hdr.message_id => p.answer_iv.clone(),
            _ => transaction::first_iv(sa, hdr.message_id),
        };
        let msg = transaction::open(sa, &iv, hdr, body)?;
        match msg.kind {
            CfgType::REPLY => self.on_reply(msg),
            CfgType::ACK => self.on_ack(now, msg),
            CfgType::REQUEST => self.on_request(sa, msg, raw),
            _ => Err(unexpected(format!(
                "a mode-config {} from the client: clients send REQUEST, REPLY or ACK",
                msg.kind
            ))),
        }
    }

    /// The caller's answer to [`RaRequest::CheckPassword`]: sends XAUTH_STATUS.
    pub fn login_result(
        &mut self,
        now: Instant,
        sa: &IsakmpSa,
        rng: &mut dyn RandomSource,
        ok: bool,
    ) {
        let Stage::Checking { user } = std::mem::replace(&mut self.stage, Stage::Over) else {
            return;
        };
        let mut status = ModeCfg::default();
        status.xauth.status = Some(u16::from(ok));
        let pending = self.send_new(now, sa, rng, CfgType::SET, &status, "XAUTH SET(status)");
        self.stage = Stage::StatusSent { pending, user, ok };
    }

    /// The caller's answer to [`RaRequest::Lease`]: the address, or why there is none.
    pub fn lease_result(
        &mut self,
        now: Instant,
        sa: &IsakmpSa,
        rng: &mut dyn RandomSource,
        lease: Result<Ipv4Addr, String>,
    ) {
        let Stage::LeasePending { user, deliver } = std::mem::replace(&mut self.stage, Stage::Over)
        else {
            return;
        };
        let address = match lease {
            Ok(a) => a,
            Err(detail) => {
                self.events
                    .push_back(RaEvent::Failed(RaFailure::NoAddress { user, detail }));
                return;
            }
        };
        match deliver {
            Delivery::Push => {
                let attrs = self.attributes(address, None);
                let pending = self.send_new(now, sa, rng, CfgType::SET, &attrs, "mode-cfg SET");
                self.stage = Stage::PushSent {
                    pending,
                    user,
                    address,
                };
            }
            Delivery::Reply(to) => {
                self.reply(sa, &to, address);
                self.ready(user, address, ModeCfgStyle::Pull);
            }
        }
    }

    /// Runs retransmissions and the `auto` push deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Stage::AwaitingModeCfg {
            user,
            push_at: Some(at),
        } = &self.stage
        {
            if now >= *at {
                let user = user.clone();
                self.ask_lease(user, Delivery::Push);
            }
            return;
        }
        let policy = self.settings.retransmit;
        let Some(p) = self.pending_mut() else {
            return;
        };
        if now < p.retx.next_at {
            return;
        }
        if p.retx.count >= policy.max_retransmits {
            let (message, retransmits) = (p.retx.exchange, p.retx.count);
            let failure = match std::mem::replace(&mut self.stage, Stage::Over) {
                Stage::StatusSent {
                    user, ok: false, ..
                } => RaFailure::LoginRefused { user },
                _ => RaFailure::NoAnswer {
                    message,
                    retransmits,
                },
            };
            self.events.push_back(RaEvent::Failed(failure));
            return;
        }
        p.retx.count += 1;
        p.retx.interval = backoff(p.retx.interval, &policy);
        p.retx.next_at = later(now, p.retx.interval);
        let data = p.retx.data.clone();
        self.events.push_back(RaEvent::Transmit(data));
    }

    fn on_reply(&mut self, msg: CfgMessage) -> Result<(), CfgDrop> {
        let Stage::AskedCredentials(p) = &self.stage else {
            return Err(DropReason::Unexpected.into());
        };
        // The message ID (under the exchange's HASH) pairs the answer with our REQUEST;
        // strongSwan's xauth-generic client does not echo the identifier.
        if p.mid != msg.mid {
            return Err(DropReason::Unexpected.into());
        }
        let x = msg.attrs.xauth;
        let (Some(name), Some(password)) = (x.user_name, x.password) else {
            self.stage = Stage::Over;
            self.events.push_back(RaEvent::Failed(RaFailure::Protocol(
                "the client's XAUTH REPLY lacks XAUTH_USER_NAME or XAUTH_USER_PASSWORD: \
                 configure a user name and password on the client"
                    .into(),
            )));
            return Ok(());
        };
        let user = crate::ra::throttle::printable(&name);
        self.stage = Stage::Checking { user: user.clone() };
        self.events
            .push_back(RaEvent::Ask(RaRequest::CheckPassword { user, password }));
        Ok(())
    }

    fn on_ack(&mut self, now: Instant, msg: CfgMessage) -> Result<(), CfgDrop> {
        // As for a REPLY: the message ID pairs the ACK with our SET.
        let matches = self.pending().is_some_and(|p| p.mid == msg.mid);
        if !matches {
            return Err(DropReason::Unexpected.into());
        }
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::StatusSent { user, ok: true, .. } => self.logged_in(now, user),
            Stage::StatusSent {
                user, ok: false, ..
            } => self
                .events
                .push_back(RaEvent::Failed(RaFailure::LoginRefused { user })),
            Stage::PushSent { user, address, .. } => self.ready(user, address, ModeCfgStyle::Push),
            other => {
                self.stage = other;
                return Err(DropReason::Unexpected.into());
            }
        }
        Ok(())
    }

    fn on_request(&mut self, sa: &IsakmpSa, msg: CfgMessage, raw: &[u8]) -> Result<(), CfgDrop> {
        let to = ReplyTo {
            mid: msg.mid,
            identifier: msg.identifier,
            iv: msg.next_iv,
            requested: msg.attrs.requested,
        };
        self.last_reply = Some((raw.to_vec(), Vec::new()));
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::AwaitingModeCfg { user, .. } | Stage::LeasePending { user, .. } => {
                self.ask_lease(user, Delivery::Reply(to));
            }
            Stage::Ready { user, address } => {
                // A REQUEST after the client acknowledged our SET: the same address again.
                self.reply(sa, &to, address);
                self.stage = Stage::Ready { user, address };
            }
            Stage::PushSent { user, address, .. } => {
                // The client asks while our SET is unanswered: it pulls after all.
                self.reply(sa, &to, address);
                self.ready(user, address, ModeCfgStyle::Pull);
            }
            other => {
                self.stage = other;
                self.last_reply = None;
                return Err(unexpected(
                    "a mode-config REQUEST before the XAUTH login completed".into(),
                ));
            }
        }
        Ok(())
    }
}

impl RaResponder {
    /// Encrypts and sends the REPLY to the REQUEST `(mid, identifier, iv)`, keeping it for
    /// the REQUEST's retransmissions.
    fn reply(&mut self, sa: &IsakmpSa, to: &ReplyTo, address: Ipv4Addr) {
        let repr = AttributePayloadRepr {
            kind: CfgType::REPLY,
            identifier: to.identifier,
            attrs: self.attributes(address, Some(&to.requested)).to_reprs(),
        };
        let (out, _) = transaction::seal(sa, to.mid, &to.iv, &repr);
        if let Some((_, reply)) = &mut self.last_reply {
            reply.clone_from(&out);
        }
        self.events.push_back(RaEvent::Transmit(out));
    }

    /// Encrypts `attrs` as the first message of a new Transaction exchange, sends it and
    /// returns what waits for its answer.
    fn send_new(
        &mut self,
        now: Instant,
        sa: &IsakmpSa,
        rng: &mut dyn RandomSource,
        kind: CfgType,
        attrs: &ModeCfg,
        what: &'static str,
    ) -> Pending {
        let mid = new_message_id(rng);
        let mut id = [0u8; 2];
        rng.fill(&mut id);
        let identifier = u16::from_be_bytes(id);
        let repr = AttributePayloadRepr {
            kind,
            identifier,
            attrs: attrs.to_reprs(),
        };
        let (out, answer_iv) = transaction::seal(sa, mid, &transaction::first_iv(sa, mid), &repr);
        self.events.push_back(RaEvent::Transmit(out.clone()));
        Pending {
            mid,
            answer_iv,
            retx: Retx::new(out, now, &self.settings.retransmit, what, 1),
        }
    }

    fn pending(&self) -> Option<&Pending> {
        match &self.stage {
            Stage::AskedCredentials(p)
            | Stage::StatusSent { pending: p, .. }
            | Stage::PushSent { pending: p, .. } => Some(p),
            _ => None,
        }
    }

    fn pending_mut(&mut self) -> Option<&mut Pending> {
        match &mut self.stage {
            Stage::AskedCredentials(p)
            | Stage::StatusSent { pending: p, .. }
            | Stage::PushSent { pending: p, .. } => Some(p),
            _ => None,
        }
    }

    /// XAUTH succeeded (or was not asked for): mode-config in the configured style.
    fn logged_in(&mut self, now: Instant, user: String) {
        match self.settings.mode_cfg {
            ModeCfgStyle::Push => self.ask_lease(user, Delivery::Push),
            ModeCfgStyle::Pull => {
                self.stage = Stage::AwaitingModeCfg {
                    user,
                    push_at: None,
                }
            }
            ModeCfgStyle::Auto => {
                self.stage = Stage::AwaitingModeCfg {
                    user,
                    push_at: Some(later(now, self.settings.auto_push_after)),
                }
            }
        }
    }

    fn ask_lease(&mut self, user: String, deliver: Delivery) {
        self.events
            .push_back(RaEvent::Ask(RaRequest::Lease { user: user.clone() }));
        self.stage = Stage::LeasePending { user, deliver };
    }

    fn ready(&mut self, user: String, address: Ipv4Addr, style: ModeCfgStyle) {
        self.events.push_back(RaEvent::Ready {
            user: user.clone(),
            address,
            style,
        });
        self.stage = Stage::Ready { user, address };
    }

    /// The attributes for `address`: in a SET all of them, in a REPLY the address and what
    /// was asked for.
    fn attributes(&self, address: Ipv4Addr, requested: Option<&[CfgAttr]>) -> ModeCfg {
        let asked = |a: CfgAttr| requested.is_none_or(|r| r.contains(&a));
        let s = &self.settings;
        ModeCfg {
            ip4_address: Some(address),
            ip4_netmask: asked(CfgAttr::INTERNAL_IP4_NETMASK).then_some(s.netmask),
            ip4_dns: if asked(CfgAttr::INTERNAL_IP4_DNS) {
                s.dns.clone()
            } else {
                Vec::new()
            },
            split_include: if asked(CfgAttr::UNITY_SPLIT_INCLUDE) {
                s.split_include.clone()
            } else {
                Vec::new()
            },
            ..ModeCfg::default()
        }
    }
}

#[cfg(test)]
#[path = "remote_access_tests.rs"]
mod tests;

/// The Quick Mode proxy-ids a client with `address` may propose: its address as its side, and
/// as ours each split-include network or, since vpnc and others always propose it, everything.
pub(crate) fn lease_proxy_ids(address: Ipv4Addr, split_include: &[Ipv4Subnet]) -> Vec<ProxyId> {
    let remote = Subnet::host(IpAddr::V4(address));
    let everything = Subnet::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    split_include
        .iter()
        .map(|s| Subnet::new(IpAddr::V4(s.addr), s.prefix))
        .chain(std::iter::once(everything))
        .map(|local| ProxyId { local, remote })
        .collect()
}

/// A random non-zero message ID.
fn new_message_id(rng: &mut dyn RandomSource) -> u32 {
    let mut b = [0u8; 4];
    while b == [0u8; 4] {
        rng.fill(&mut b);
    }
    u32::from_be_bytes(b)
}

fn unexpected(detail: String) -> CfgDrop {
    CfgDrop {
        reason: DropReason::Unexpected,
        detail: Some(detail),
    }
}
