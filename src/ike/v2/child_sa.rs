//! CREATE_CHILD_SA (RFC 7296 §1.3): new child SAs, child rekeys (with and without PFS) and IKE
//! SA rekeys (§2.18, the children move to the new IKE SA), and installing a negotiated child
//! in the shared child table.

use std::time::{Duration, Instant};

use tracing::info;
use zeroize::Zeroizing;

use crate::crypto::dh::DhPrivate;
use crate::crypto::ikev2::keys::{child_sa_keys, rekey_skeyseed};
use crate::crypto::ikev2::IkeSaKeys;
use crate::ike::core::child::{ChildSa, IkeSaId};
use crate::ike::core::later;
use crate::ike::event::{Event, Role};
use crate::ike::policy::{EspMode, Subnet};
use crate::ike::Diagnostic;
use crate::wire::ikev2::{
    ExchangeType, HeaderRepr, KeRepr, NonceRepr, NotifyRepr, NotifyType, Payload, PayloadRepr,
    ProtocolId, SaRepr, Side,
};

use super::auth::ChildOffer;
use super::exchange::Inner;
use super::followup::{Finish, IkeRekeyDone};
use super::found::Found;
use super::mode::{initiator_mode, USE_TRANSPORT_MODE};
use super::proposal::{
    accept_esp_answer, accept_ike_answer, choose_ike, describe, esp_offer, ike_offer, EspChoice,
    IkeChoice,
};
use super::{
    ts, Engine, IkeSa, RequestKind, SaState, V2Diagnostic, INITIATOR_DELETE_DELAY,
    RESPONDER_SWITCH_DELAY,
};

/// The algorithms and SPIs of a negotiated child.
pub(super) struct ChildParams {
    pub choice: EspChoice,
    pub our_spi: u32,
    pub peer_spi: u32,
    /// We initiated the exchange that created it.
    pub we_initiated: bool,
}

/// A child negotiated and ready to install.
pub(super) struct NewChildSa {
    pub params: ChildParams,
    /// (Ni, Nr) of the exchange that created it.
    pub nonces: (Vec<u8>, Vec<u8>),
    /// The PFS shared secret.
    pub g_ir: Option<Zeroizing<Vec<u8>>>,
    pub local: Vec<Subnet>,
    pub remote: Vec<Subnet>,
    /// Inbound SPI of the child it replaces.
    pub rekey_of: Option<u32>,
    /// Tunnel or transport mode (USE_TRANSPORT_MODE in both messages).
    pub mode: EspMode,
}

/// Our CREATE_CHILD_SA request for a child, in flight.
pub(super) struct ChildRequest {
    pub offer: ChildOffer,
    pub ni: Vec<u8>,
    pub dh: Option<DhPrivate>,
    pub rekey_of: Option<u32>,
}

impl ChildRequest {
    /// The inbound SPI it reserved.
    pub fn our_spi(&self) -> u32 {
        self.offer.our_spi
    }
}

/// Our CREATE_CHILD_SA request rekeying the IKE SA, in flight.
pub(super) struct IkeRekeyRequest {
    pub new_spi: [u8; 8],
    pub ni: Vec<u8>,
    pub dh: DhPrivate,
}

fn notify(kind: NotifyType, protocol: ProtocolId, spi: &[u8]) -> NotifyRepr<'_> {
    NotifyRepr {
        protocol,
        kind,
        spi,
        data: &[],
    }
}

impl Engine {
    /// See [`crate::ike::core::child::soft_lifetime`].
    pub(super) fn soft_lifetime(&mut self, lifetime: Duration, role: Role) -> Duration {
        crate::ike::core::child::soft_lifetime(&mut *self.rng, lifetime, role)
    }

    /// Derives the keys of a negotiated child and installs it (events for the data plane).
    pub(super) fn install_child(&mut self, now: Instant, i: usize, c: NewChildSa) {
        self.install_child_keyed(now, i, c, &[]);
    }

    /// [`Engine::install_child`] with the secrets of additional key exchanges (RFC 9370),
    /// concatenated in order, appended to the KEYMAT seed.
    pub(super) fn install_child_keyed(
        &mut self,
        now: Instant,
        i: usize,
        c: NewChildSa,
        additional: &[u8],
    ) {
        let Some(sa) = self.sas.get(i) else {
            return;
        };
        let Some(keys) = sa.keys.as_ref() else {
            return;
        };
        let p = &c.params;
        // KEYMAT splits initiator→responder first; "initiator" is the exchange's.
        let spis = if p.we_initiated {
            (p.our_spi, p.peer_spi)
        } else {
            (p.peer_spi, p.our_spi)
        };
        let Ok((i2r, r2i)) = child_sa_keys(
            keys.suite.prf,
            &keys.sk_d,
            c.g_ir.as_deref().map(|v| v.as_slice()),
            (&c.nonces.0, &c.nonces.1),
            (p.choice.enc, p.choice.integ),
            spis,
            additional,
        ) else {
            return;
        };
        let (outbound, inbound) = if p.we_initiated {
            (i2r, r2i)
        } else {
            (r2i, i2r)
        };
        let role = if p.we_initiated {
            Role::Initiator
        } else {
            Role::Responder
        };
        let lifetime = Duration::from_secs(u64::from(self.policy.phase2.lifetime_secs));
        let soft = self.soft_lifetime(lifetime, role);
        let lifetime_bytes = self.policy.phase2.lifetime_bytes;
        let selectors = ts::pairs(&c.local, &c.remote);
        let sa = &self.sas[i];
        let udp_encap = sa.udp_encap();
        let remote = sa.peer;
        info!(
            spi_in = %format_args!("{:08x}", p.our_spi),
            spi_out = %format_args!("{:08x}", p.peer_spi),
            suite = %p.choice.name(),
            local = %ts::subnet_words(&c.local),
            remote = %ts::subnet_words(&c.remote),
            "IKEv2 child SA established"
        );
        self.io.stats.phase2_established += 1;
        self.io.events.push_back(Event::ChildSaUp {
            inbound,
            outbound,
            remote,
            udp_encap,
            selectors: selectors.clone(),
            mode: c.mode,
            lifetime,
            lifetime_bytes,
        });
        let child = ChildSa {
            inbound_spi: p.our_spi,
            outbound_spi: p.peer_spi,
            ike_sa: sa.id(),
            proposal: p.choice.name(),
            selectors,
            role,
            established_at: now,
            lifetime,
            rekey_at: Some(now + soft),
            expires_at: later(now, lifetime),
            udp_encap,
            mode: c.mode,
            rekeying: false,
            delete_at: None,
            outbound_in_use: false,
            switch_at: None,
            in_bytes: 0,
            out_bytes: 0,
            soft_bytes: lifetime_bytes / 100 * 80,
            lifetime_bytes,
        };
        // A rekey: the initiator switches at once (the responder installed both directions
        // before answering) and deletes the old pair soon; the responder switches when the old
        // pair is deleted or the new one carries traffic.
        let switch_now = c.rekey_of.is_none() || p.we_initiated;
        // The peer's explicit rekey (REKEY_SA) replaces that pair: never a collision with it,
        // however young it is (the table's time-window rule is for IKEv1, which cannot say).
        if let (Some(old), false) = (c.rekey_of, p.we_initiated) {
            if let Some(o) = self.children.list.iter_mut().find(|x| x.inbound_spi == old) {
                o.rekeying = true;
            }
        }
        self.children.installed(
            now,
            child,
            switch_now,
            now + RESPONDER_SWITCH_DELAY,
            &mut self.io.events,
        );
        if let Some(old) = c.rekey_of {
            if let Some(o) = self.children.list.iter_mut().find(|x| x.inbound_spi == old) {
                if p.we_initiated {
                    o.delete_at = Some(now + INITIATOR_DELETE_DELAY);
                } else {
                    // The peer deletes it; ours is the hard lifetime.
                    o.delete_at = None;
                    o.rekey_at = None;
                    o.rekeying = true;
                }
            }
        }
        self.consecutive_failures = 0;
    }

    /// Sends CREATE_CHILD_SA for a new child (`rekey = None`) or a rekey of a child.
    pub(super) fn start_create_child(&mut self, now: Instant, i: usize, rekey: Option<u32>) {
        let (local, remote) = match rekey.and_then(|s| self.children.get(s)) {
            Some(old) => (
                dedup(old.selectors.iter().map(|p| p.local)),
                dedup(old.selectors.iter().map(|p| p.remote)),
            ),
            None if rekey.is_some() => return,
            None => ts::configured(&self.policy.phase2.proxy_ids),
        };
        let our_spi = self.new_spi();
        let ni = self.nonce();
        let pfs = self.policy.phase2.pfs_group;
        let dh = pfs.map(|g| self.dh(g));
        let sa = esp_offer(&self.policy.phase2, our_spi, pfs);
        let nonce = NonceRepr { nonce: &ni };
        let ke_pub = dh
            .as_ref()
            .map(|d| (d.group().id(), d.public_value().to_vec()));
        let ke = ke_pub.as_ref().map(|(g, v)| KeRepr { group: *g, data: v });
        let tsi = ts::ts_payload(Side::Initiator, &local);
        let tsr = ts::ts_payload(Side::Responder, &remote);
        let old_spi = rekey.map(|s| s.to_be_bytes());
        let rekey_n = old_spi
            .as_ref()
            .map(|s| notify(NotifyType::REKEY_SA, ProtocolId::ESP, s));
        let mut payloads: Vec<&dyn PayloadRepr> = Vec::new();
        if let Some(n) = &rekey_n {
            payloads.push(n);
        }
        payloads.extend([&sa as &dyn PayloadRepr, &nonce]);
        if let Some(k) = &ke {
            payloads.push(k);
        }
        payloads.extend([&tsi as &dyn PayloadRepr, &tsr]);
        if self.policy.phase2.mode == EspMode::Transport {
            payloads.push(&USE_TRANSPORT_MODE);
        }
        info!(rekey = ?rekey.map(|s| format!("{s:08x}")), "IKEv2: CREATE_CHILD_SA for a child");
        let req = ChildRequest {
            offer: ChildOffer {
                our_spi,
                local,
                remote,
            },
            ni: ni.clone(),
            dh,
            rekey_of: rekey,
        };
        self.send_request(
            now,
            i,
            ExchangeType::CREATE_CHILD_SA,
            &payloads,
            RequestKind::Child(Box::new(req)),
        );
    }

    /// Initiator: the answer to our child CREATE_CHILD_SA.
    pub(super) fn on_create_child_response(
        &mut self,
        now: Instant,
        i: usize,
        req: ChildRequest,
        inner: &Inner,
    ) {
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        let peer = self.sas[i].peer.ip();
        let pfs = req.dh.as_ref().map(|d| d.group());
        let un_rekey = |e: &mut Engine| {
            if let Some(c) = req
                .rekey_of
                .and_then(|s| e.children.list.iter_mut().find(|c| c.inbound_spi == s))
            {
                c.rekeying = false;
                c.rekey_at = Some(now + Duration::from_secs(30));
            }
        };
        let f = Found::of(&payloads);
        if let Some(k) = f.error {
            un_rekey(self);
            return self.child_refused(now, k, &req.offer, pfs, peer);
        }
        let ke = f.ke;
        let (Some(sa), Some(nr), Some(tsi), Some(tsr)) = (f.sa, f.nonce, f.tsi, f.tsr) else {
            un_rekey(self);
            return self.io.fail(Diagnostic::Phase1BadAnswer {
                detail: "IKEv2 CREATE_CHILD_SA: response without SA, Nonce or TS".into(),
            });
        };
        let Some((choice, peer_spi)) = accept_esp_answer(sa, &self.policy.phase2, pfs) else {
            un_rekey(self);
            return self.io.fail(Diagnostic::Phase1BadAnswer {
                detail: format!(
                    "IKEv2: the peer chose {}, which we did not offer",
                    describe(sa)
                ),
            });
        };
        let g_ir = match (&req.dh, ke) {
            (Some(d), Some(k)) if k.group == d.group().id() => match d.shared_secret(k.data) {
                Ok(s) => Some(s),
                Err(_) => return un_rekey(self),
            },
            (None, None) => None,
            _ => {
                un_rekey(self);
                return self.io.fail(Diagnostic::Phase1BadAnswer {
                    detail: "IKEv2 CREATE_CHILD_SA: KE payload does not match our PFS group".into(),
                });
            }
        };
        if !ts::within(&tsi.selectors, &req.offer.local)
            || !ts::within(&tsr.selectors, &req.offer.remote)
        {
            un_rekey(self);
            return self.io.fail(Diagnostic::Phase1BadAnswer {
                detail: "IKEv2: the peer answered traffic selectors outside those we proposed"
                    .into(),
            });
        }
        let child = NewChildSa {
            params: ChildParams {
                choice,
                our_spi: req.offer.our_spi,
                peer_spi,
                we_initiated: true,
            },
            nonces: (req.ni, nr.to_vec()),
            g_ir,
            local: ts::subnets(&tsi.selectors),
            remote: ts::subnets(&tsr.selectors),
            rekey_of: req.rekey_of,
            mode: initiator_mode(self.policy.phase2.mode, f.transport),
        };
        let rounds = choice.rounds();
        if rounds.is_empty() {
            return self.install_child(now, i, child);
        }
        match super::followup::link_of(&payloads) {
            Some(link) => self.start_followup(now, i, Finish::Child(child), rounds, link),
            None => {
                un_rekey(self);
                self.io.fail(Diagnostic::Phase1BadAnswer {
                    detail: "IKEv2 CREATE_CHILD_SA: additional key exchanges chosen without \
                             ADDITIONAL_KEY_EXCHANGE"
                        .into(),
                });
            }
        }
    }

    /// Responder: a CREATE_CHILD_SA request (new child, child rekey or IKE SA rekey).
    pub(super) fn on_create_child_request(
        &mut self,
        now: Instant,
        i: usize,
        h: &HeaderRepr,
        inner: &Inner,
    ) {
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        let f = Found::of(&payloads);
        let (sa, ni, ke) = (f.sa, f.nonce.map(<[u8]>::to_vec), f.ke);
        let (Some(sa), Some(ni)) = (sa, ni) else {
            return self.respond_error(i, h, NotifyType::INVALID_SYNTAX, &[]);
        };
        if sa.proposals.iter().any(|p| p.protocol == ProtocolId::IKE) {
            return self.on_ike_rekey_request(now, i, h, sa, ni, ke);
        }
        let rekey_of = payloads.iter().find_map(|p| match p {
            Payload::Notify(n) if n.kind == NotifyType::REKEY_SA => {
                <[u8; 4]>::try_from(n.spi).ok().map(u32::from_be_bytes)
            }
            _ => None,
        });
        // The peer names its inbound SPI of the child; ours is the pair's inbound.
        let ours = match rekey_of {
            Some(peer_in) => match self.children.by_outbound(peer_in) {
                Some(c) => Some(c.inbound_spi),
                None => {
                    return self.respond_error(
                        i,
                        h,
                        NotifyType::CHILD_SA_NOT_FOUND,
                        &peer_in.to_be_bytes(),
                    )
                }
            },
            None => None,
        };
        let pfs = self.policy.phase2.pfs_group;
        if let (Some(g), Some(k)) = (pfs, ke) {
            if k.group != g.id() {
                return self.respond_error(
                    i,
                    h,
                    NotifyType::INVALID_KE_PAYLOAD,
                    &g.id().to_be_bytes(),
                );
            }
        }
        let nr = self.nonce();
        let dh = match (pfs, ke) {
            (Some(g), Some(_)) => Some(self.dh(g)),
            _ => None,
        };
        let g_ir = match (&dh, ke) {
            (Some(d), Some(k)) => match d.shared_secret(k.data) {
                Ok(s) => Some(s),
                Err(_) => return self.respond_error(i, h, NotifyType::INVALID_SYNTAX, &[]),
            },
            _ => None,
        };
        let pfs_arg = dh.as_ref().map(|d| (d.group(), d.public_value()));
        let chosen = self.choose_child(&payloads, pfs_arg, (ni, nr.clone()), ours);
        let (mut out, mut child) = match chosen {
            Ok(x) => x,
            Err(n) => return self.respond_error(i, h, n, &[]),
        };
        child.g_ir = g_ir;
        let nonce = NonceRepr { nonce: &nr };
        let ke_out = dh.as_ref().map(|d| KeRepr {
            group: d.group().id(),
            data: d.public_value(),
        });
        let ts_part = out.split_off(1);
        let mut msg: Vec<&dyn PayloadRepr> = out.iter().map(|b| b.as_ref()).collect();
        msg.push(&nonce);
        if let Some(k) = &ke_out {
            msg.push(k);
        }
        msg.extend(ts_part.iter().map(|b| b.as_ref()));
        let rounds = child.params.choice.rounds();
        if rounds.is_empty() {
            self.respond(i, h, &msg);
            return self.install_child(now, i, child);
        }
        let link = self.expect_followup(i, Finish::Child(child), rounds);
        let n = NotifyRepr {
            protocol: ProtocolId(0),
            kind: NotifyType::ADDITIONAL_KEY_EXCHANGE,
            spi: &[],
            data: &link,
        };
        msg.push(&n);
        self.respond(i, h, &msg);
    }

    /// Answers a request with one error notification.
    pub(super) fn respond_error(
        &mut self,
        i: usize,
        h: &HeaderRepr,
        kind: NotifyType,
        data: &[u8],
    ) {
        let n = NotifyRepr {
            protocol: ProtocolId(0),
            kind,
            spi: &[],
            data,
        };
        self.respond(i, h, &[&n]);
    }

    /// Sends CREATE_CHILD_SA rekeying IKE SA `i`.
    pub(super) fn start_ike_rekey(&mut self, now: Instant, i: usize) {
        let Some(choice) = self.sas[i].choice else {
            return;
        };
        let new_spi = self.new_ike_spi();
        let ni = self.nonce();
        let dh = self.dh(choice.group);
        let mut p1 = self.policy.phase1.clone();
        // The rekeyed SA keeps the group (the KE payload must match it).
        p1.dh_groups.retain(|g| *g == choice.group);
        if p1.dh_groups.is_empty() {
            p1.dh_groups.push(choice.group);
        }
        let sa = ike_offer(&p1, &new_spi);
        let nonce = NonceRepr { nonce: &ni };
        let ke_pub = dh.public_value().to_vec();
        let ke = KeRepr {
            group: choice.group.id(),
            data: &ke_pub,
        };
        info!("IKEv2: rekeying the IKE SA");
        let req = IkeRekeyRequest {
            new_spi,
            ni: ni.clone(),
            dh,
        };
        self.send_request(
            now,
            i,
            ExchangeType::CREATE_CHILD_SA,
            &[&sa, &nonce, &ke],
            RequestKind::RekeyIke(Box::new(req)),
        );
    }

    /// Initiator: the answer to our IKE SA rekey.
    pub(super) fn on_ike_rekey_response(
        &mut self,
        now: Instant,
        i: usize,
        req: IkeRekeyRequest,
        inner: &Inner,
    ) {
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        let peer = self.sas[i].peer.ip();
        let f = Found::of(&payloads);
        if let Some(k) = f.error {
            self.io.fail(Diagnostic::Ikev2(V2Diagnostic::PeerNotify {
                notify: k.to_string(),
                during: "the IKE SA rekey",
                peer,
            }));
            self.sas[i].rekey_at = Some(now + Duration::from_secs(30));
            return;
        }
        let (Some(sa), Some(nr), Some(ke)) = (f.sa, f.nonce, f.ke) else {
            return;
        };
        let Some((choice, peer_spi)) = accept_ike_answer(sa, &self.policy.phase1) else {
            return;
        };
        // A rekey keeps `post-quantum: required` (our offer ends with the classic proposals).
        if let Err(d) = self.post_quantum_verdict(&choice, peer, true, || choice.name()) {
            self.io.fail(Diagnostic::Ikev2(d));
            self.sas[i].rekey_at = Some(now + Duration::from_secs(30));
            return;
        }
        let Ok(peer_spi) = <[u8; 8]>::try_from(peer_spi.as_slice()) else {
            return;
        };
        let Ok(g_ir) = req.dh.shared_secret(ke.data) else {
            return;
        };
        let ids = (req.new_spi, peer_spi);
        let rounds = choice.rounds();
        if !rounds.is_empty() {
            let Some(link) = super::followup::link_of(&payloads) else {
                return;
            };
            let finish = Finish::IkeRekey(Box::new(IkeRekeyDone {
                choice,
                g_ir,
                nonces: (req.ni, nr.to_vec()),
                ids,
                we_initiated: true,
            }));
            return self.start_followup(now, i, finish, rounds, link);
        }
        self.rekeyed_ike_sa(now, i, choice, &g_ir, (&req.ni, nr), ids, true, &[]);
        // The old IKE SA goes away; its children now live under the new one.
        self.sas[i].retiring = true;
        self.queue(i, super::Pending::DeleteIke);
    }

    /// Responder: the peer rekeys IKE SA `i`.
    fn on_ike_rekey_request(
        &mut self,
        now: Instant,
        i: usize,
        h: &HeaderRepr,
        sa: &SaRepr,
        ni: Vec<u8>,
        ke: Option<KeRepr<'_>>,
    ) {
        let Some(ke) = ke else {
            return self.respond_error(i, h, NotifyType::INVALID_SYNTAX, &[]);
        };
        let Some((mut answer, choice)) = choose_ike(sa, &self.policy.phase1, Some(ke.group)) else {
            self.io
                .fail(Diagnostic::Ikev2(V2Diagnostic::ProposalMismatch {
                    what: "IKE SA rekey",
                    received: describe(sa),
                    configured: describe(&ike_offer(&self.policy.phase1, &[])),
                }));
            return self.respond_error(i, h, NotifyType::NO_PROPOSAL_CHOSEN, &[]);
        };
        let peer = self.sas[i].peer.ip();
        if let Err(d) = self.post_quantum_verdict(&choice, peer, false, || describe(sa)) {
            self.io.fail(Diagnostic::Ikev2(d));
            return self.respond_error(i, h, NotifyType::NO_PROPOSAL_CHOSEN, &[]);
        }
        if ke.group != choice.group.id() {
            return self.respond_error(
                i,
                h,
                NotifyType::INVALID_KE_PAYLOAD,
                &choice.group.id().to_be_bytes(),
            );
        }
        let Ok(peer_spi) = <[u8; 8]>::try_from(answer.spi.as_slice()) else {
            return self.respond_error(i, h, NotifyType::INVALID_SYNTAX, &[]);
        };
        let dh = self.dh(choice.group);
        let Ok(g_ir) = dh.shared_secret(ke.data) else {
            return self.respond_error(i, h, NotifyType::INVALID_SYNTAX, &[]);
        };
        let new_spi = self.new_ike_spi();
        let nr = self.nonce();
        answer.spi = new_spi.to_vec();
        let sa_out = SaRepr {
            proposals: vec![answer],
        };
        let nonce = NonceRepr { nonce: &nr };
        let ke_out = KeRepr {
            group: choice.group.id(),
            data: dh.public_value(),
        };
        let rounds = choice.rounds();
        if !rounds.is_empty() {
            let finish = Finish::IkeRekey(Box::new(IkeRekeyDone {
                choice,
                g_ir,
                nonces: (ni, nr.clone()),
                ids: (peer_spi, new_spi),
                we_initiated: false,
            }));
            let link = self.expect_followup(i, finish, rounds);
            let n = NotifyRepr {
                protocol: ProtocolId(0),
                kind: NotifyType::ADDITIONAL_KEY_EXCHANGE,
                spi: &[],
                data: &link,
            };
            return self.respond(i, h, &[&sa_out, &nonce, &ke_out, &n]);
        }
        self.respond(i, h, &[&sa_out, &nonce, &ke_out]);
        self.rekeyed_ike_sa(
            now,
            i,
            choice,
            &g_ir,
            (&ni, &nr),
            (peer_spi, new_spi),
            false,
            &[],
        );
        self.sas[i].retiring = true;
    }

    /// Creates the IKE SA that replaces `old` (§2.18) and moves the children to it;
    /// `additional`: the secrets of RFC 9370 additional key exchanges, in order.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn rekeyed_ike_sa(
        &mut self,
        now: Instant,
        old: usize,
        choice: IkeChoice,
        g_ir: &[u8],
        nonces: (&[u8], &[u8]),
        ids: ([u8; 8], [u8; 8]),
        we_initiated: bool,
        additional: &[u8],
    ) {
        let Some(old_keys) = self.sas[old].keys.as_ref() else {
            return;
        };
        let (prf, sk_d) = (old_keys.suite.prf, &old_keys.sk_d);
        let seed = rekey_skeyseed(prf, sk_d, g_ir, nonces.0, nonces.1, additional);
        let Ok(keys) = IkeSaKeys::derive(choice.suite, &seed, nonces.0, nonces.1, &ids.0, &ids.1)
        else {
            return;
        };
        let o = &self.sas[old];
        let mut sa = IkeSa::new(ids.0, we_initiated, SaState::Established, o.peer, now);
        sa.spi_r = ids.1;
        sa.local_port = o.local_port;
        sa.nat = o.nat;
        sa.fragmentation = o.fragmentation;
        sa.peer_identity = o.peer_identity.clone();
        sa.peer_cert = o.peer_cert.clone();
        sa.choice = Some(choice);
        sa.keys = Some(keys);
        let old_id = o.id();
        let lifetime = Duration::from_secs(u64::from(self.policy.phase1.lifetime_secs));
        let role = if we_initiated {
            Role::Initiator
        } else {
            Role::Responder
        };
        let soft = self.soft_lifetime(lifetime, role);
        sa.established_at = Some(now);
        sa.rekey_at = Some(now + soft);
        sa.expires_at = Some(later(now, lifetime));
        let new_id = sa.id();
        info!(proposal = %choice.name(), "IKEv2 SA rekeyed");
        self.io.events.push_back(Event::Phase1Up {
            icookie: sa.spi_i,
            rcookie: sa.spi_r,
            role,
            proposal: choice.name(),
            peer: sa.peer,
            peer_identity: sa.peer_identity.clone().unwrap_or_default(),
            nat: sa.nat,
            lifetime,
        });
        self.io.stats.phase1_established += 1;
        let lowest = nonces.0.min(nonces.1).to_vec();
        sa.rekeyed_from = Some((old_id, lowest.clone()));
        self.add_ike_sa(sa);
        let twin = self.sas.iter().find(|x| {
            x.id() != new_id && x.rekeyed_from.as_ref().is_some_and(|(o, _)| *o == old_id)
        });
        let survivor = match twin {
            None => new_id,
            Some(t) => self.settle_rekey_collision(new_id, lowest, t.id()),
        };
        for c in self.children.list.iter_mut() {
            if c.ike_sa == old_id || c.ike_sa == new_id {
                c.ike_sa = survivor;
            }
        }
    }

    /// Both ends rekeyed the same IKE SA at once (§2.8.2): the new SA whose exchange had the
    /// lowest nonce goes, deleted by the end that initiated it; the children live under the
    /// other. Returns the survivor.
    fn settle_rekey_collision(
        &mut self,
        new_id: IkeSaId,
        lowest: Vec<u8>,
        twin_id: IkeSaId,
    ) -> IkeSaId {
        let twin_lowest = self
            .find_sa(twin_id)
            .and_then(|i| self.sas[i].rekeyed_from.as_ref().map(|(_, n)| n.clone()))
            .unwrap_or_default();
        let (loser, survivor) = if lowest < twin_lowest {
            (new_id, twin_id)
        } else {
            (twin_id, new_id)
        };
        info!("IKEv2: simultaneous IKE SA rekey; keeping one of the two new SAs");
        for c in self.children.list.iter_mut().filter(|c| c.ike_sa == loser) {
            c.ike_sa = survivor;
        }
        if let Some(i) = self.find_sa(loser) {
            self.sas[i].retiring = true;
            if self.sas[i].original_initiator {
                self.queue(i, super::Pending::DeleteIke);
            }
        }
        survivor
    }
}

fn dedup(it: impl Iterator<Item = Subnet>) -> Vec<Subnet> {
    let mut v = Vec::new();
    for s in it {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}
