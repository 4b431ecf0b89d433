//! Engine side of Informational exchanges: clear notifications before phase 1 completes,
//! encrypted notifications and deletes after; INITIAL-CONTACT, R-U-THERE, peer Deletes.

use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, info};

use crate::wire::isakmp::{HeaderRepr, NotifyType, ProtocolId};

use super::super::diagnostic::Diagnostic;
use super::super::event::{DownReason, Event};
use super::super::v1::informational::{self, InfoItem};
use super::super::v1::message::Msg;
use super::super::v1::NotifySpec;
use super::{hex8, new_mid, DoneExchange, Engine, P1State, QmState};

impl Engine {
    pub(super) fn on_informational(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
        whole: &[u8],
    ) {
        if hdr.flags.encrypted() {
            self.on_encrypted_informational(now, remote, hdr, body, whole);
        } else {
            self.on_clear_informational(now, remote, hdr, body);
        }
    }

    /// A clear notification: only meaningful for a phase-1 negotiation in progress (it is not
    /// authenticated, so it never touches an established SA).
    fn on_clear_informational(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
    ) {
        let Some(idx) = self.p1.iter().position(|e| {
            e.icookie == hdr.icookie
                && e.state.sa().is_none()
                && (e.rcookie == hdr.rcookie || e.rcookie == [0; 8])
        }) else {
            self.io.stats.dropped_unknown_cookie += 1;
            return;
        };
        let items = match Msg::parse(body, hdr.next_payload)
            .map_err(|_| ())
            .and_then(|m| informational::items(&m).map_err(|_| ()))
        {
            Ok(i) => i,
            Err(()) => {
                self.io.stats.dropped_malformed += 1;
                return;
            }
        };
        let Some(kind) = items.iter().find_map(|i| match i {
            InfoItem::Notify { kind, .. } if kind.is_error() => Some(*kind),
            _ => None,
        }) else {
            self.io.stats.dropped_unexpected += 1;
            return;
        };
        self.io.stats.notifies_received += 1;
        let peer = remote.ip();
        let Some(e) = self.p1.get(idx) else { return };
        let diag = match &e.state {
            P1State::ISentSa(s) if kind == NotifyType::NO_PROPOSAL_CHOSEN => {
                Diagnostic::Phase1Rejected {
                    offered: s.offer_text(),
                    peer,
                }
            }
            P1State::AmISent(s) if kind == NotifyType::NO_PROPOSAL_CHOSEN => {
                Diagnostic::Phase1Rejected {
                    offered: s.offer_text(),
                    peer,
                }
            }
            P1State::ISentAuth(_)
                if matches!(
                    kind,
                    NotifyType::AUTHENTICATION_FAILED
                        | NotifyType::INVALID_HASH_INFORMATION
                        | NotifyType::PAYLOAD_MALFORMED
                        | NotifyType::INVALID_PAYLOAD_TYPE
                ) =>
            {
                self.peer_auth_failed(kind, peer)
            }
            P1State::Rejected => {
                self.io.stats.dropped_unexpected += 1;
                return;
            }
            _ => Diagnostic::PeerNotify {
                notify: kind,
                during: "Main Mode",
                peer,
            },
        };
        info!(icookie = %hex8(&hdr.icookie), notify = %kind, "peer rejected Main Mode");
        self.io.fail(diag);
        self.p1.remove(idx);
        self.schedule_reinit_if_idle(now);
    }

    fn on_encrypted_informational(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
        whole: &[u8],
    ) {
        let Some(idx) = self.established_index(&hdr.icookie, &hdr.rcookie) else {
            if self.on_informational_after_message5(now, remote, hdr, body) {
                return;
            }
            debug!(icookie = %hex8(&hdr.icookie), "encrypted informational for unknown cookies");
            self.io.stats.dropped_unknown_cookie += 1;
            return;
        };
        let Some(e) = self.p1.get_mut(idx) else {
            return;
        };
        if let Some(d) = e.done.iter().find(|d| d.mid == hdr.message_id) {
            if d.last_in == whole {
                self.io.stats.dropped_unexpected += 1;
            } else {
                self.io.stats.dropped_replay += 1;
            }
            return;
        }
        let Some(sa) = e.state.sa() else { return };
        let items = match informational::open_encrypted(sa, hdr, body) {
            Ok(i) => i,
            Err(r) => {
                if r == super::super::v1::DropReason::BadHash {
                    debug!(icookie = %hex8(&hdr.icookie), "informational with a bad HASH (forged?) ignored");
                    self.io.stats.dropped_forged_informational += 1;
                }
                self.count_drop(r);
                return;
            }
        };
        e.remember_done(DoneExchange {
            mid: hdr.message_id,
            last_in: whole.to_vec(),
            reply: None,
        });
        self.note_peer_for(idx, remote);
        self.saw_peer(now);
        let cookies = (hdr.icookie, hdr.rcookie);
        for item in items {
            match item {
                InfoItem::Notify {
                    kind, spi, data, ..
                } => self.on_notify(now, cookies, kind, &spi, &data, remote),
                InfoItem::Delete { protocol, spis } => self.on_delete(now, protocol, &spis),
            }
        }
    }

    /// An encrypted notification while we wait for Main Mode message 6: the peer gave up on
    /// our message 5. Returns false when no such negotiation exists.
    fn on_informational_after_message5(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: &HeaderRepr,
        body: &[u8],
    ) -> bool {
        let Some(idx) = self.p1.iter().position(|e| {
            e.icookie == hdr.icookie
                && e.rcookie == hdr.rcookie
                && matches!(e.state, P1State::ISentAuth(_))
        }) else {
            return false;
        };
        let Some(P1State::ISentAuth(s)) = self.p1.get(idx).map(|e| &e.state) else {
            return false;
        };
        let peer = remote.ip();
        let diag = match s.open_informational(hdr, body) {
            None => Diagnostic::PeerCouldNotDecrypt { peer },
            Some(items) => {
                let kind = items.iter().find_map(|i| match i {
                    InfoItem::Notify { kind, .. } if kind.is_error() => Some(*kind),
                    _ => None,
                });
                match kind {
                    Some(
                        k @ (NotifyType::AUTHENTICATION_FAILED
                        | NotifyType::INVALID_HASH_INFORMATION),
                    ) => self.peer_auth_failed(k, peer),
                    Some(k) => Diagnostic::PeerNotify {
                        notify: k,
                        during: "Main Mode",
                        peer,
                    },
                    None => {
                        self.io.stats.dropped_unexpected += 1;
                        return true;
                    }
                }
            }
        };
        self.io.stats.notifies_received += 1;
        self.io.fail(diag);
        self.p1.remove(idx);
        self.schedule_reinit_if_idle(now);
        true
    }

    /// The peer refused our message 5 with `notify`: with certificates, name ours and our
    /// identity; with a pre-shared key, the key.
    fn peer_auth_failed(&self, notify: NotifyType, peer: std::net::IpAddr) -> Diagnostic {
        match self.policy.auth.certificate() {
            Some(c) => Diagnostic::PeerRefusedCertificate {
                notify,
                peer,
                our_id: self.policy.my_identity().to_string(),
                subject: c.cert.subject.to_string(),
                issuer: c.cert.issuer.to_string(),
            },
            None => Diagnostic::PeerAuthFailed { notify, peer },
        }
    }

    fn on_notify(
        &mut self,
        now: Instant,
        cookies: ([u8; 8], [u8; 8]),
        kind: NotifyType,
        spi: &[u8],
        data: &[u8],
        remote: SocketAddr,
    ) {
        self.io.stats.notifies_received += 1;
        let Some(idx) = self.established_index(&cookies.0, &cookies.1) else {
            return;
        };
        match kind {
            NotifyType::INITIAL_CONTACT => {
                info!(icookie = %hex8(&cookies.0), "peer sent INITIAL-CONTACT");
                self.purge_others(idx, DownReason::InitialContact);
            }
            NotifyType::R_U_THERE => {
                let Some(e) = self.p1.get(idx) else { return };
                let Some(sa) = e.state.sa() else { return };
                let mid = new_mid(&mut *self.rng, e);
                let n = NotifySpec {
                    kind: NotifyType::R_U_THERE_ACK,
                    protocol: ProtocolId::ISAKMP,
                    spi: spi.to_vec(),
                };
                let msg = informational::encrypted_notify(sa, mid, &n, data);
                self.io.send(e.local_port, e.peer, msg);
                self.io.stats.dpd_probes_answered += 1;
            }
            NotifyType::R_U_THERE_ACK => self.on_dpd_ack(now, data),
            k if k.is_error() => {
                // Most likely the answer to one of our Quick Modes: find it by SPI, else the
                // oldest one in flight.
                let Some(e) = self.p1.get(idx) else { return };
                let by_spi = e.qm.iter().find(
                    |q| matches!(&q.state, QmState::ISent(s) if spi == s.spi().to_be_bytes()),
                );
                let any = e.qm.iter().find(|q| matches!(q.state, QmState::ISent(_)));
                let diag = match by_spi.or(any) {
                    Some(q) => {
                        let mid = q.mid;
                        let d = match &q.state {
                            QmState::ISent(s) => Diagnostic::Phase2Rejected {
                                offered: s.offer_text(),
                                proxy_id: s.proxy(),
                                notify: k,
                                peer: remote.ip(),
                            },
                            _ => return,
                        };
                        self.abandon_quick_mode(idx, mid);
                        d
                    }
                    None => Diagnostic::PeerNotify {
                        notify: k,
                        during: "an informational exchange",
                        peer: remote.ip(),
                    },
                };
                self.io.fail(diag);
                self.schedule_reinit_if_idle(now);
            }
            other => debug!(notify = %other, "ignoring status notification"),
        }
    }

    fn on_delete(&mut self, now: Instant, protocol: ProtocolId, spis: &[Vec<u8>]) {
        self.io.stats.deletes_received += 1;
        match protocol {
            ProtocolId::IPSEC_ESP => {
                for spi in spis {
                    let Ok(b) = <[u8; 4]>::try_from(spi.as_slice()) else {
                        continue;
                    };
                    let spi = u32::from_be_bytes(b);
                    let Some(ours) = self
                        .children
                        .list
                        .iter()
                        .find(|c| c.outbound_spi == spi || c.inbound_spi == spi)
                        .map(|c| c.inbound_spi)
                    else {
                        continue;
                    };
                    if let Some(c) =
                        self.children
                            .remove(ours, DownReason::PeerDelete, &mut self.io.events)
                    {
                        info!(spi_in = %format_args!("{:08x}", c.inbound_spi), spi_out = %format_args!("{:08x}", c.outbound_spi), "peer deleted ESP SA");
                    }
                }
                self.schedule_reinit_if_idle(now);
            }
            ProtocolId::ISAKMP => {
                for spi in spis {
                    let (Some(i), Some(r)) = (spi.get(..8), spi.get(8..16)) else {
                        continue;
                    };
                    let Some(idx) = self
                        .p1
                        .iter()
                        .position(|e| e.icookie == i && e.rcookie == r)
                    else {
                        continue;
                    };
                    let e = self.p1.remove(idx);
                    self.io
                        .events
                        .extend(super::phase2::early_inbound_downs(&e));
                    info!(icookie = %hex8(&e.icookie), "peer deleted ISAKMP SA");
                    self.io.events.push_back(Event::Phase1Down {
                        icookie: e.icookie,
                        rcookie: e.rcookie,
                        reason: DownReason::PeerDelete,
                    });
                }
            }
            other => debug!(protocol = %other, "ignoring delete"),
        }
    }

    /// Test helper: sends an R-U-THERE with sequence number `seq` under the newest ISAKMP SA.
    #[cfg(test)]
    pub(crate) fn send_r_u_there(&mut self, seq: u32) {
        let Some(idx) = self.newest_established() else {
            return;
        };
        let Some(e) = self.p1.get(idx) else { return };
        let Some(sa) = e.state.sa() else { return };
        let mid = new_mid(&mut *self.rng, e);
        let n = NotifySpec::isakmp(NotifyType::R_U_THERE, &e.icookie, &e.rcookie);
        let msg = informational::encrypted_notify(sa, mid, &n, &seq.to_be_bytes());
        self.io.send(e.local_port, e.peer, msg);
    }
}
