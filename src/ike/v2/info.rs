//! INFORMATIONAL (RFC 7296 §1.4): Delete of children and IKE SAs in both directions, liveness
//! checks (empty requests), and tearing state down when the peer is gone.

use std::time::Instant;

use tracing::{info, warn};

use crate::ike::core::child::{ChildSa, IkeSaId};
use crate::ike::event::{DownReason, Event};
use crate::ike::Diagnostic;
use crate::wire::ikev2::{DeleteRepr, ExchangeType, HeaderRepr, Payload, PayloadRepr, ProtocolId};

use super::exchange::Inner;
use super::{Engine, Pending, RequestKind, V2Diagnostic};

impl Engine {
    /// Responder: an INFORMATIONAL request (Delete, notifications, or empty: liveness).
    pub(super) fn on_informational_request(
        &mut self,
        now: Instant,
        i: usize,
        h: &HeaderRepr,
        inner: &Inner,
    ) {
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        let mut delete_ike = false;
        let mut ours: Vec<u32> = Vec::new();
        for p in &payloads {
            match p {
                Payload::Delete(d) if d.protocol == ProtocolId::IKE => delete_ike = true,
                Payload::Delete(d) if d.protocol == ProtocolId::ESP => {
                    self.io.stats.deletes_received += 1;
                    for s in d.spis() {
                        let Ok(b) = <[u8; 4]>::try_from(s) else {
                            continue;
                        };
                        if let Some(c) = self.children.by_outbound(u32::from_be_bytes(b)) {
                            ours.push(c.inbound_spi);
                        }
                    }
                }
                Payload::Notify(_) => self.io.stats.notifies_received += 1,
                _ => {}
            }
        }
        if delete_ike {
            self.io.stats.deletes_received += 1;
            self.respond(i, h, &[]);
            let id = self.sas[i].id();
            info!("IKEv2: the peer deleted the IKE SA");
            let had_children = self.drop_ike_sa(id, DownReason::PeerDelete);
            if had_children && self.newest_established().is_none() {
                self.schedule_reinit(now);
            }
            return;
        }
        let spi_bytes: Vec<u8> = ours.iter().flat_map(|s| s.to_be_bytes()).collect();
        let del = DeleteRepr::new(ProtocolId::ESP, 4, &spi_bytes);
        match (&del, ours.is_empty()) {
            (Ok(d), false) => self.respond(i, h, &[d as &dyn PayloadRepr]),
            _ => self.respond(i, h, &[]),
        }
        for spi in ours {
            self.peer_deleted_child(now, spi);
        }
    }

    /// The peer deleted the pair with our inbound SPI `spi`: remove it; a pair that replaced
    /// it (rekey responder) now carries the outbound traffic.
    fn peer_deleted_child(&mut self, now: Instant, spi: u32) {
        let Some(old) = self
            .children
            .remove(spi, DownReason::PeerDelete, &mut self.io.events)
        else {
            return;
        };
        info!(spi_in = %format_args!("{spi:08x}"), "IKEv2: the peer deleted a child SA");
        let successor = self
            .children
            .list
            .iter()
            .filter(|c| c.selectors == old.selectors)
            .max_by_key(|c| c.established_at)
            .map(|c| c.inbound_spi);
        match successor {
            Some(s) => {
                // A rekey replaced it: outbound moves to the new pair now, but the old inbound
                // SA stays a moment for packets the peer sent before its Delete (they may
                // arrive after it: ESP and IKE take separate paths).
                self.hold_back_down(now, &[spi], DownReason::PeerDelete);
                self.children.switch_to(s, &mut self.io.events);
            }
            None if !old.rekeying => self.schedule_reinit(now),
            None => {}
        }
        if self.want_up
            && self.children.list.is_empty()
            && !self.policy.responder_only
            && successor.is_none()
        {
            self.ensure_up(now);
        }
    }

    /// Sends Delete for children already removed from the table (their inbound SPIs).
    pub(super) fn delete_children_of(&mut self, _now: Instant, gone: &[ChildSa]) {
        for c in gone {
            if let Some(i) = self
                .find_sa(c.ike_sa)
                .filter(|i| self.sas[*i].established())
            {
                self.queue(i, Pending::DeleteChildren(vec![c.inbound_spi]));
            }
        }
    }

    pub(super) fn start_delete(&mut self, now: Instant, i: usize, spis: &[u32]) {
        let bytes: Vec<u8> = spis.iter().flat_map(|s| s.to_be_bytes()).collect();
        let Ok(d) = DeleteRepr::new(ProtocolId::ESP, 4, &bytes) else {
            return;
        };
        self.send_request(
            now,
            i,
            ExchangeType::INFORMATIONAL,
            &[&d],
            RequestKind::Delete { ike: false },
        );
    }

    pub(super) fn start_delete_ike(&mut self, now: Instant, i: usize) {
        let Ok(d) = DeleteRepr::new(ProtocolId::IKE, 0, &[]) else {
            return;
        };
        self.sas[i].retiring = true;
        self.send_request(
            now,
            i,
            ExchangeType::INFORMATIONAL,
            &[&d],
            RequestKind::Delete { ike: true },
        );
    }

    pub(super) fn start_liveness(&mut self, now: Instant, i: usize) {
        self.live.sequence = self.live.sequence.wrapping_add(1);
        self.live.probes = 1;
        self.io.stats.dpd_probes_sent += 1;
        self.send_request(
            now,
            i,
            ExchangeType::INFORMATIONAL,
            &[],
            RequestKind::Liveness,
        );
    }

    pub(super) fn on_delete_response(&mut self, _now: Instant, i: usize, ike: bool) {
        if ike {
            let id = self.sas[i].id();
            self.drop_ike_sa(id, DownReason::Rekeyed);
        }
    }

    /// Removes an IKE SA and its children (events, no messages). True if it had children.
    pub(super) fn drop_ike_sa(&mut self, id: IkeSaId, reason: DownReason) -> bool {
        let Some(i) = self.find_sa(id) else {
            return false;
        };
        let sa = self.sas.remove(i);
        let spis: Vec<u32> = self
            .children
            .list
            .iter()
            .filter(|c| c.ike_sa == id)
            .map(|c| c.inbound_spi)
            .collect();
        for s in &spis {
            self.children.remove(*s, reason, &mut self.io.events);
        }
        if sa.established_at.is_some() {
            self.io.events.push_back(Event::Phase1Down {
                icookie: sa.spi_i,
                rcookie: sa.spi_r,
                reason,
            });
        }
        !spis.is_empty()
    }

    /// Removes every SA; Delete messages first when `tell_peer`.
    pub(super) fn teardown(&mut self, reason: DownReason, tell_peer: bool) {
        if tell_peer {
            // One INFORMATIONAL per established IKE SA deleting it (and with it its children),
            // sent now: there is no waiting for answers on shutdown.
            for i in 0..self.sas.len() {
                self.send_ike_delete_now(i);
            }
        }
        self.children.clear(reason, &mut self.io.events);
        for sa in std::mem::take(&mut self.sas) {
            if sa.established_at.is_some() {
                self.io.events.push_back(Event::Phase1Down {
                    icookie: sa.spi_i,
                    rcookie: sa.spi_r,
                    reason,
                });
            }
        }
    }

    /// Sends a Delete for established IKE SA `i` without waiting for the answer (shutdown,
    /// expiry).
    pub(super) fn send_ike_delete_now(&mut self, i: usize) {
        if !self.sas.get(i).is_some_and(|s| s.established()) {
            return;
        }
        let Ok(d) = DeleteRepr::new(ProtocolId::IKE, 0, &[]) else {
            return;
        };
        let mid = self.sas[i].next_request_id;
        let header = self.header(i, ExchangeType::INFORMATIONAL, mid, false);
        if let Some(dg) = self.seal(i, &header, &[&d]) {
            self.sas[i].next_request_id = mid.wrapping_add(1);
            let (p, peer) = (self.sas[i].local_port, self.sas[i].peer);
            for x in dg {
                self.io.send(p, peer, x);
            }
        }
    }

    /// A request of IKE SA `i` ran out of retransmissions: the peer is gone.
    pub(super) fn request_failed(
        &mut self,
        now: Instant,
        i: usize,
        exchange: ExchangeType,
        retransmits: u32,
        liveness: bool,
    ) {
        let Some(sa) = self.sas.get(i) else {
            return;
        };
        let peer = sa.peer;
        let id = sa.id();
        let established = sa.established();
        if sa.retiring {
            // A Delete for an IKE SA the peer already dropped (it rekeyed or deleted it first):
            // nothing is lost, the peer is not dead.
            self.drop_ike_sa(id, DownReason::Rekeyed);
            return;
        }
        if liveness || established {
            let silent = self
                .live
                .last_seen
                .map(|t| now.saturating_duration_since(t))
                .unwrap_or_default();
            warn!(%peer, "IKEv2 peer declared dead (no answer to our {exchange} request)");
            self.io.fail(Diagnostic::PeerDead {
                peer: peer.ip(),
                silent,
            });
            self.live.dead_since = Some(now);
            self.live.deaths += 1;
            self.live.probes = 0;
            // Everything with this peer is gone, not only this IKE SA.
            let ids: Vec<IkeSaId> = self.sas.iter().map(|s| s.id()).collect();
            for x in ids {
                self.drop_ike_sa(x, DownReason::PeerDead);
            }
            self.io.events.push_back(Event::PeerDead { remote: peer });
        } else {
            self.io.fail(Diagnostic::Ikev2(V2Diagnostic::NoAnswer {
                exchange: exchange.name().unwrap_or("IKE"),
                retransmits,
                peer: peer.ip(),
            }));
            self.drop_ike_sa(id, DownReason::PeerDead);
        }
        self.schedule_reinit(now);
    }
}
