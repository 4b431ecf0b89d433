//! The child-SA table both IKE versions can keep: established ESP SA pairs with their
//! lifetimes (time and volume, soft and hard), make-before-break replacement per selector set
//! (which pair carries outbound traffic, when a replaced pair is deleted) and rekey collisions.
//! It decides; the engine that owns it sends the messages (Delete, rekey exchanges).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::info;

use super::later;
use crate::ike::event::{DownReason, Event, Role};
use crate::ike::policy::ProxyId;
use crate::ike::random::{random_u32, RandomSource};
use crate::ike::status::ChildStatus;

/// How long a replaced pair keeps accepting packets before it is deleted.
pub(crate) const REKEY_GRACE: Duration = Duration::from_secs(10);
/// Two pairs of one selector set established within this window are a rekey collision.
const COLLISION_WINDOW: Duration = Duration::from_secs(10);

/// Identifies the IKE SA (IKEv1 cookies, IKEv2 SPIs) a pair was negotiated under.
pub(crate) type IkeSaId = ([u8; 8], [u8; 8]);

/// One established ESP SA pair.
pub(crate) struct ChildSa {
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub ike_sa: IkeSaId,
    /// The suite in proposal syntax.
    pub proposal: String,
    /// (local ⇄ remote) pairs it carries.
    pub selectors: Vec<ProxyId>,
    pub role: Role,
    pub established_at: Instant,
    pub lifetime: Duration,
    pub rekey_at: Option<Instant>,
    pub expires_at: Instant,
    pub udp_encap: Option<SocketAddr>,
    /// Tunnel or transport mode.
    pub mode: crate::ike::EspMode,
    /// A replacement was asked for; it stays in use until the replacement is up.
    pub rekeying: bool,
    /// Superseded: Delete and remove at this time (grace period).
    pub delete_at: Option<Instant>,
    /// Its outbound SA is the one in use.
    pub outbound_in_use: bool,
    /// Start using its outbound SA at this time at the latest.
    pub switch_at: Option<Instant>,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub lifetime_bytes: u64,
    pub soft_bytes: u64,
}

impl ChildSa {
    /// The first selector pair (an IKEv1 pair has exactly one: its proxy-id).
    pub fn proxy(&self) -> ProxyId {
        self.selectors
            .first()
            .copied()
            .unwrap_or_else(ProxyId::any_v4)
    }
}

/// What [`ChildTable::traffic`] found.
#[derive(Default)]
pub(crate) struct Traffic {
    /// Bytes arrived on the inbound SA since the last report (the peer is alive).
    pub got_inbound: bool,
    /// Bytes were sent on the outbound SA since the last report.
    pub sent: bool,
    /// The soft volume lifetime was reached: rekey it.
    pub rekey: bool,
    /// The hard volume lifetime was reached: it was removed.
    pub expired: Option<ChildSa>,
}

/// The pairs that timers made due.
#[derive(Default)]
pub(crate) struct Due {
    /// Soft lifetime reached: start a rekey for these (inbound SPIs).
    pub rekey: Vec<u32>,
    /// Replaced pairs whose grace period ended, removed: send Delete for them.
    pub replaced: Vec<ChildSa>,
    /// Hard lifetime reached, removed: send Delete for them.
    pub expired: Vec<ChildSa>,
}

/// Every established pair of one tunnel.
#[derive(Default)]
pub(crate) struct ChildTable {
    pub list: Vec<ChildSa>,
}

impl ChildTable {
    /// The pair with inbound SPI `spi`.
    pub fn get(&self, spi: u32) -> Option<&ChildSa> {
        self.list.iter().find(|c| c.inbound_spi == spi)
    }

    /// The pair whose outbound SPI (the peer's inbound) is `spi`.
    pub fn by_outbound(&self, spi: u32) -> Option<&ChildSa> {
        self.list.iter().find(|c| c.outbound_spi == spi)
    }

    /// Adds a pair just installed in the data plane and decides which pair of its selector set
    /// carries outbound traffic: at once when `switch_now` or when it is the only one, else at
    /// `switch_at` (or earlier, when its inbound SA sees traffic); older pairs of the set are
    /// deleted after the grace period; a rekey collision keeps, on both ends, the same pair.
    pub fn installed(
        &mut self,
        now: Instant,
        child: ChildSa,
        switch_now: bool,
        switch_at: Instant,
        events: &mut VecDeque<Event>,
    ) {
        let new_rank = collision_rank(child.inbound_spi, child.outbound_spi);
        let (spi, expires_at) = (child.inbound_spi, child.expires_at);
        let mut new_loses = false;
        let mut had_old = false;
        for c in self.list.iter_mut() {
            if c.selectors != child.selectors || c.delete_at.is_some() {
                continue;
            }
            had_old = true;
            let fresh =
                !c.rekeying && now.saturating_duration_since(c.established_at) < COLLISION_WINDOW;
            if fresh && collision_rank(c.inbound_spi, c.outbound_spi) > new_rank {
                info!(keep = %format_args!("{:08x}", c.inbound_spi), drop = %format_args!("{spi:08x}"), "rekey collision");
                new_loses = true;
            } else {
                c.delete_at = Some(grace_end(now, c.expires_at));
                c.rekey_at = None;
            }
        }
        // One at a time: most tunnels hold one or two children for good.
        self.list.reserve_exact(1);
        self.list.push(child);
        let idx = self.list.len() - 1;
        if new_loses {
            if let Some(c) = self.list.get_mut(idx) {
                c.delete_at = Some(grace_end(now, expires_at));
                c.rekey_at = None;
            }
        } else if switch_now || !had_old {
            self.use_outbound(idx, events);
        } else if let Some(c) = self.list.get_mut(idx) {
            c.switch_at = Some(switch_at);
        }
    }

    /// Makes the pair at `idx` the one outbound packets of its selector set use.
    pub fn use_outbound(&mut self, idx: usize, events: &mut VecDeque<Event>) {
        let Some(c) = self.list.get_mut(idx) else {
            return;
        };
        c.switch_at = None;
        if c.outbound_in_use {
            return;
        }
        c.outbound_in_use = true;
        let (sel, spi) = (c.selectors.clone(), c.outbound_spi);
        for (i, o) in self.list.iter_mut().enumerate() {
            if i != idx && o.selectors == sel {
                o.outbound_in_use = false;
            }
        }
        events.push_back(Event::UseOutbound { outbound_spi: spi });
    }

    /// Switches outbound to the pair with inbound SPI `spi` now (e.g. the peer deleted the
    /// pair it replaces).
    pub fn switch_to(&mut self, spi: u32, events: &mut VecDeque<Event>) {
        if let Some(i) = self.list.iter().position(|c| c.inbound_spi == spi) {
            self.use_outbound(i, events);
        }
    }

    /// Removes the pair with inbound SPI `spi` (a `ChildSaDown` event with `reason`); if it
    /// carried outbound traffic, the best remaining pair of its selector set takes over.
    pub fn remove(
        &mut self,
        spi: u32,
        reason: DownReason,
        events: &mut VecDeque<Event>,
    ) -> Option<ChildSa> {
        let i = self.list.iter().position(|c| c.inbound_spi == spi)?;
        let c = self.list.remove(i);
        events.push_back(Event::ChildSaDown {
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
            reason,
        });
        if c.outbound_in_use {
            let best = self
                .list
                .iter()
                .enumerate()
                .filter(|(_, o)| o.selectors == c.selectors)
                .max_by_key(|(_, o)| (o.delete_at.is_none(), o.established_at))
                .map(|(i, _)| i);
            if let Some(b) = best {
                self.use_outbound(b, events);
            }
        }
        Some(c)
    }

    /// Removes every pair (each with a `ChildSaDown` event).
    pub fn clear(&mut self, reason: DownReason, events: &mut VecDeque<Event>) -> Vec<ChildSa> {
        let all = std::mem::take(&mut self.list);
        for c in &all {
            events.push_back(Event::ChildSaDown {
                inbound_spi: c.inbound_spi,
                outbound_spi: c.outbound_spi,
                reason,
            });
        }
        all
    }

    /// Runs the pairs' timers at `now`: outbound switches, soft lifetimes (only when
    /// `may_rekey`: a responder-only IKEv1 tunnel leaves rekeying to the peer), hard lifetimes,
    /// the end of replaced pairs' grace periods.
    pub fn run(&mut self, now: Instant, may_rekey: bool, events: &mut VecDeque<Event>) -> Due {
        let mut due = Due::default();
        let switch: Vec<usize> = (0..self.list.len())
            .filter(|i| self.list[*i].switch_at.is_some_and(|t| t <= now))
            .collect();
        for i in switch {
            self.use_outbound(i, events);
        }
        for c in self.list.iter_mut() {
            if c.rekey_at.is_some_and(|t| t <= now) {
                c.rekey_at = None;
                if may_rekey && !c.rekeying && c.delete_at.is_none() {
                    info!(spi_in = %format_args!("{:08x}", c.inbound_spi), "ESP SA reached its soft lifetime, rekeying");
                    c.rekeying = true;
                    due.rekey.push(c.inbound_spi);
                }
            }
        }
        while let Some(c) = self.list.iter().find(|c| c.expires_at <= now) {
            let spi = c.inbound_spi;
            info!(spi_in = %format_args!("{spi:08x}"), "ESP SA expired");
            due.expired
                .extend(self.remove(spi, DownReason::Expired, events));
        }
        while let Some(c) = self
            .list
            .iter()
            .find(|c| c.delete_at.is_some_and(|t| t <= now))
        {
            let spi = c.inbound_spi;
            info!(spi_in = %format_args!("{spi:08x}"), "deleting replaced ESP SA pair");
            due.replaced
                .extend(self.remove(spi, DownReason::Rekeyed, events));
        }
        due
    }

    /// The data plane's cumulative byte counters of the pair with inbound SPI `spi`.
    pub fn traffic(
        &mut self,
        spi: u32,
        in_bytes: u64,
        out_bytes: u64,
        events: &mut VecDeque<Event>,
    ) -> Traffic {
        let Some(i) = self.list.iter().position(|c| c.inbound_spi == spi) else {
            return Traffic::default();
        };
        let c = &mut self.list[i];
        let mut t = Traffic {
            got_inbound: in_bytes > c.in_bytes,
            sent: out_bytes > c.out_bytes,
            ..Traffic::default()
        };
        c.in_bytes = in_bytes;
        c.out_bytes = out_bytes;
        let used = in_bytes.max(out_bytes);
        if c.soft_bytes > 0 && used >= c.soft_bytes && !c.rekeying && c.delete_at.is_none() {
            info!(spi_in = %format_args!("{spi:08x}"), bytes = used, "ESP SA reached its soft volume lifetime, rekeying");
            c.rekeying = true;
            c.rekey_at = None;
            t.rekey = true;
        }
        let expire = c.lifetime_bytes > 0 && used >= c.lifetime_bytes;
        if expire {
            info!(spi_in = %format_args!("{spi:08x}"), bytes = used, "ESP SA reached its volume lifetime");
        }
        if t.got_inbound && c.switch_at.is_some() {
            self.use_outbound(i, events);
        }
        if expire {
            t.expired = self.remove(spi, DownReason::Expired, events);
        }
        t
    }

    /// The earliest timer of any pair.
    pub fn deadline(&self) -> Option<Instant> {
        self.list
            .iter()
            .flat_map(|c| [c.rekey_at, Some(c.expires_at), c.delete_at, c.switch_at])
            .flatten()
            .min()
    }

    /// Snapshots for the admin API.
    pub fn status(&self, now: Option<Instant>) -> Vec<ChildStatus> {
        self.list
            .iter()
            .map(|c| ChildStatus {
                inbound_spi: c.inbound_spi,
                outbound_spi: c.outbound_spi,
                proposal: c.proposal.clone(),
                proxy_ids: c.selectors.first().copied().unwrap_or_else(ProxyId::any_v4),
                selectors: c.selectors.clone(),
                role: c.role,
                established_at: c.established_at,
                age: now
                    .map(|n| n.saturating_duration_since(c.established_at))
                    .unwrap_or_default(),
                lifetime: c.lifetime,
                udp_encap: c.udp_encap,
                mode: c.mode,
            })
            .collect()
    }
}

/// The soft lifetime of an SA with `lifetime`: 78–83 % for the side that initiated the exchange
/// (SEIL rekeys a 60 s SA after about 47 s), 88–93 % for the other (it rekeys only if the
/// initiator did not), random within the range so that both ends do not start at once.
pub(crate) fn soft_lifetime(
    rng: &mut dyn RandomSource,
    lifetime: Duration,
    role: Role,
) -> Duration {
    let jitter = f64::from(random_u32(rng) % 1000) / 1000.0 * 0.05;
    let base = match role {
        Role::Initiator => 0.78,
        Role::Responder => 0.88,
    };
    lifetime.mul_f64(base + jitter)
}

/// End of the grace period of a replaced pair: [`REKEY_GRACE`] from now, before its expiry.
pub(crate) fn grace_end(now: Instant, expires_at: Instant) -> Instant {
    let before_expiry = expires_at
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(now)
        .max(now);
    later(now, REKEY_GRACE).min(before_expiry)
}

/// Orders two pairs of one selector set in a rekey collision; symmetric in the two SPIs, so
/// both peers (which see inbound and outbound swapped) rank the pairs alike.
fn collision_rank(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}
