//! IKE_AUTH (RFC 7296 §1.2, §2.15) with pre-shared keys, carrying the first child SA:
//! identities, the AUTH payloads over the IKE_SA_INIT messages, INITIAL_CONTACT.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::info;

use crate::crypto::ikev2::keys::signed_octets;
use crate::ike::event::{DownReason, Event, Role};
use crate::ike::policy::{EspMode, Identity, Subnet};
use crate::ike::Diagnostic;
use crate::wire::ikev2::{
    AuthMethod, AuthRepr, ExchangeType, HeaderRepr, IdRepr, IdType, NotifyRepr, NotifyType,
    Payload, PayloadRepr, ProtocolId, Side, TsRepr,
};

use super::auth_sig::{certificate_request_data, our_cert_payloads, x509_payload, AuthRefusal};
use super::child_sa::{ChildParams, NewChildSa};
use super::exchange::Inner;
use super::found::Found;
use super::intermediate::{Handshake, IntAuth, Rounds};
use super::mode::{initiator_mode, responder_mode, USE_TRANSPORT_MODE};
use super::proposal::{accept_esp_answer, choose_esp, describe, esp_offer};
use super::ts;
use super::{Engine, Pending, RequestKind, SaState, V2Diagnostic};

/// Initiator state after IKE_AUTH went out.
pub(super) struct AuthSent {
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    /// The responder's IKE_SA_INIT response (signed in its AUTH).
    pub init_response: Vec<u8>,
    pub child: ChildOffer,
    /// IntAuth of the IKE_INTERMEDIATE exchanges (RFC 9242), signed in both AUTH payloads.
    pub int_auth: Vec<u8>,
    /// Remote-access client: the EAP login in progress.
    pub eap: Option<Box<super::ra_client::EapLogin>>,
}

/// The child SA offered in IKE_AUTH or CREATE_CHILD_SA.
pub(super) struct ChildOffer {
    pub our_spi: u32,
    pub local: Vec<Subnet>,
    pub remote: Vec<Subnet>,
}

/// Responder state after answering IKE_SA_INIT.
pub(super) struct InitAnswered {
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    /// The initiator's IKE_SA_INIT request (signed in its AUTH).
    pub init_request: Vec<u8>,
    /// Our response (signed in our AUTH).
    pub init_response: Vec<u8>,
    /// Additional key exchanges still to run over IKE_INTERMEDIATE, and their IntAuth.
    pub intermediate: Rounds,
}

/// An identity as an ID payload: (type, data).
pub(super) fn id_payload(id: &Identity) -> (IdType, Vec<u8>) {
    match id {
        Identity::Address(IpAddr::V4(a)) => (IdType::IPV4_ADDR, a.octets().to_vec()),
        Identity::Address(IpAddr::V6(a)) => (IdType::IPV6_ADDR, a.octets().to_vec()),
        Identity::Fqdn(s) => (IdType::FQDN, s.as_bytes().to_vec()),
        Identity::UserFqdn(s) => (IdType::RFC822_ADDR, s.as_bytes().to_vec()),
        Identity::KeyId(k) => (IdType::KEY_ID, k.clone()),
        Identity::Asn1Dn(d) => (IdType::DER_ASN1_DN, d.der().to_vec()),
    }
}

/// An ID payload as an identity, if of a type we compare.
pub(super) fn identity_of(id: &IdRepr<'_>) -> Option<Identity> {
    let text = || String::from_utf8(id.data.to_vec()).ok();
    Some(match id.id_type {
        IdType::IPV4_ADDR => Identity::Address(IpAddr::from(<[u8; 4]>::try_from(id.data).ok()?)),
        IdType::IPV6_ADDR => Identity::Address(IpAddr::from(<[u8; 16]>::try_from(id.data).ok()?)),
        IdType::FQDN => Identity::Fqdn(text()?),
        IdType::RFC822_ADDR => Identity::UserFqdn(text()?),
        IdType::KEY_ID => Identity::KeyId(id.data.to_vec()),
        IdType::DER_ASN1_DN => {
            Identity::Asn1Dn(crate::ike::auth::DistinguishedName::from_der(id.data)?)
        }
        _ => return None,
    })
}

/// The ID payload body that AUTH covers: type, three reserved octets, data.
pub(super) fn id_body(t: IdType, data: &[u8]) -> Vec<u8> {
    let mut b = vec![t.0, 0, 0, 0];
    b.extend_from_slice(data);
    b
}

impl Engine {
    /// Initiator: sends IKE_AUTH (IDi, AUTH, the first child's SA and TS).
    pub(super) fn start_auth(&mut self, now: Instant, i: usize, hs: Handshake, ia: &IntAuth) {
        let Some(keys) = self.sas[i].keys.clone() else {
            return;
        };
        let Handshake {
            ni,
            nr,
            init_request,
            init_response,
        } = hs;
        let int_auth = ia.octets(self.sas[i].next_request_id);
        let prf = keys.suite.prf;
        let (t, data) = id_payload(&self.policy.my_identity());
        let id = id_body(t, &data);
        let octets = signed_octets(prf, &init_request, &nr, &keys.sk_pi, &id, &int_auth);
        // A remote-access client logging in with EAP sends no AUTH now (RFC 7296 §2.16).
        let eap = self.eap_login(&octets);
        let ours = match eap {
            Some(_) => None,
            None => match self.our_auth(i, prf, &octets) {
                Ok(a) => Some(a),
                Err(e) => return self.auth_failed(now, i, e),
            },
        };
        let creds = self.policy.auth.certificate().cloned();
        let certs = our_cert_payloads(creds.as_deref());
        let certreq_data = certificate_request_data(&self.policy);
        let certreq = certreq_data.as_deref().map(|d| x509_payload(true, d));
        let our_spi = self.new_spi();
        let (local, remote) = self.initiator_selectors();
        // No other IKE SA with the peer (this one reads as established already: the
        // IKE_SA_INIT response handler left it so).
        let first_sa = !self
            .sas
            .iter()
            .enumerate()
            .any(|(j, s)| j != i && s.established());
        let idi = IdRepr {
            side: Side::Initiator,
            id_type: t,
            data: &data,
        };
        let peer_id = self.policy.peer_id.as_ref().map(id_payload);
        let idr = peer_id.as_ref().map(|(t, d)| IdRepr {
            side: Side::Responder,
            id_type: *t,
            data: d,
        });
        let auth_p = ours.as_ref().map(|(method, auth)| AuthRepr {
            method: *method,
            data: auth,
        });
        let cfg_request = self.cfg_request();
        let sa = esp_offer(&self.policy.phase2, our_spi, None);
        let tsi = ts::ts_payload(Side::Initiator, &local);
        let tsr = ts::ts_payload(Side::Responder, &remote);
        let ic = NotifyRepr {
            protocol: ProtocolId(0),
            kind: NotifyType::INITIAL_CONTACT,
            spi: &[],
            data: &[],
        };
        let mut payloads: Vec<&dyn PayloadRepr> = vec![&idi];
        payloads.extend(certs.iter().map(|c| c as &dyn PayloadRepr));
        if first_sa && self.policy.initial_contact {
            payloads.push(&ic);
        }
        if let Some(c) = &certreq {
            payloads.push(c);
        }
        if let Some(r) = &idr {
            payloads.push(r);
        }
        if let Some(a) = &auth_p {
            payloads.push(a);
        }
        if let Some(c) = &cfg_request {
            payloads.push(c);
        }
        payloads.extend([&sa as &dyn PayloadRepr, &tsi, &tsr]);
        if self.policy.phase2.mode == EspMode::Transport {
            payloads.push(&USE_TRANSPORT_MODE);
        }
        self.sas[i].state = SaState::AuthSent(Box::new(AuthSent {
            ni,
            nr,
            init_response,
            child: ChildOffer {
                our_spi,
                local,
                remote,
            },
            int_auth,
            eap,
        }));
        self.send_request(now, i, ExchangeType::IKE_AUTH, &payloads, RequestKind::Auth);
    }

    /// Initiator: the IKE_AUTH response. False when it was set aside until a CRL is fetched
    /// (the caller keeps our request, whose retransmission brings the response again).
    pub(super) fn on_auth_response(&mut self, now: Instant, i: usize, inner: &Inner) -> bool {
        if matches!(&self.sas[i].state, SaState::AuthSent(st) if st.eap.is_some()) {
            return self.on_eap_auth_response(now, i, inner);
        }
        let Some(payloads) = self.payloads_of(inner) else {
            return true;
        };
        let peer = self.sas[i].peer.ip();
        let f = Found::of(&payloads);
        let SaState::AuthSent(st) = &self.sas[i].state else {
            return true;
        };
        let Some(keys) = self.sas[i].keys.clone() else {
            return true;
        };
        let octets = f.idr.map(|idr| {
            signed_octets(
                keys.suite.prf,
                &st.init_response,
                &st.ni,
                &keys.sk_pr,
                &id_body(idr.id_type, idr.data),
                &st.int_auth,
            )
        });
        let verdict = match (f.idr, f.auth, &octets) {
            (Some(idr), Some(auth), Some(o)) => {
                Some(self.verify_peer_auth(now, i, &idr, &auth, &f.certs, o))
            }
            _ => None,
        };
        if let Some(Err(AuthRefusal::NeedCrl(url))) = &verdict {
            self.await_crl(url);
            return false;
        }
        let SaState::AuthSent(st) = std::mem::replace(&mut self.sas[i].state, SaState::Established)
        else {
            return true;
        };
        let (Some(idr), Some(_)) = (f.idr, f.auth) else {
            let cert = self.policy.auth.certificate();
            let d = match f.error {
                Some(NotifyType::AUTHENTICATION_FAILED) if cert.is_some() => {
                    let c = cert.map(|c| &c.cert);
                    V2Diagnostic::PeerRefusedCertificate {
                        peer,
                        our_id: self.policy.my_identity().to_string(),
                        subject: c.map(|c| c.subject.to_string()).unwrap_or_default(),
                        issuer: c.map(|c| c.issuer.to_string()).unwrap_or_default(),
                    }
                }
                Some(NotifyType::AUTHENTICATION_FAILED) => V2Diagnostic::PeerRefusedAuth {
                    peer,
                    our_id: self.policy.my_identity().to_string(),
                    expected_peer_id: self.expected_peer_id(),
                },
                Some(k) => V2Diagnostic::PeerNotify {
                    notify: k.to_string(),
                    during: "IKE_AUTH",
                    peer,
                },
                None => V2Diagnostic::PeerNotify {
                    notify: "a response without IDr or AUTH".into(),
                    during: "IKE_AUTH",
                    peer,
                },
            };
            self.auth_failed(now, i, Diagnostic::Ikev2(d));
            return true;
        };
        if let Some(Err(AuthRefusal::Failed(d))) = verdict {
            self.tell_peer_auth_failed(i);
            self.auth_failed(now, i, d);
            return true;
        }
        self.ike_sa_established(now, i, &idr);
        self.cfg_reply(&payloads);
        self.first_child_answer(now, i, &st, &payloads);
        true
    }

    /// Initiator: the first child in the IKE_AUTH response.
    pub(super) fn first_child_answer(
        &mut self,
        now: Instant,
        i: usize,
        st: &AuthSent,
        payloads: &[Payload<'_>],
    ) {
        let peer = self.sas[i].peer.ip();
        let f = Found::of(payloads);
        if let Some(k) = f.error {
            return self.child_refused(now, k, &st.child, None, peer);
        }
        let (Some(sa), Some(tsi), Some(tsr)) = (f.sa, f.tsi, f.tsr) else {
            return self.child_refused(now, NotifyType::INVALID_SYNTAX, &st.child, None, peer);
        };
        let Some((choice, peer_spi)) = accept_esp_answer(sa, &self.policy.phase2, None) else {
            let d = format!("the peer chose {}, which we did not offer", describe(sa));
            return self.io.fail(Diagnostic::Phase1BadAnswer { detail: d });
        };
        if !ts::within(&tsi.selectors, &st.child.local)
            || !ts::within(&tsr.selectors, &st.child.remote)
        {
            return self.io.fail(Diagnostic::Phase1BadAnswer {
                detail: "IKEv2: the peer answered traffic selectors outside those we proposed"
                    .into(),
            });
        }
        let child = NewChildSa {
            params: ChildParams {
                choice,
                our_spi: st.child.our_spi,
                peer_spi,
                we_initiated: true,
            },
            nonces: (st.ni.clone(), st.nr.clone()),
            g_ir: None,
            local: ts::subnets(&tsi.selectors),
            remote: ts::subnets(&tsr.selectors),
            rekey_of: None,
            mode: initiator_mode(self.policy.phase2.mode, f.transport),
        };
        self.install_child(now, i, child);
    }

    /// Responder: the IKE_AUTH request.
    pub(super) fn on_auth_request(
        &mut self,
        now: Instant,
        i: usize,
        h: &HeaderRepr,
        inner: &Inner,
    ) {
        if self.policy.remote_access.is_some() {
            return self.on_ra_auth_request(now, i, h, inner);
        }
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        // Every additional key exchange must have run (RFC 9370) before IKE_AUTH.
        if !matches!(&self.sas[i].state, SaState::InitAnswered(st) if st.intermediate.pending.is_empty())
        {
            self.io.stats.dropped_unexpected += 1;
            return;
        }
        let f = Found::of(&payloads);
        let (Some(idi), Some(auth)) = (f.idi, f.auth) else {
            self.io.stats.dropped_malformed += 1;
            return;
        };
        let (SaState::InitAnswered(st), Some(keys)) =
            (&self.sas[i].state, self.sas[i].keys.clone())
        else {
            return;
        };
        let prf = keys.suite.prf;
        let int_auth = st.intermediate.int_auth.octets(h.message_id);
        let octets = signed_octets(
            prf,
            &st.init_request,
            &st.nr,
            &keys.sk_pi,
            &id_body(idi.id_type, idi.data),
            &int_auth,
        );
        let verdict = self.verify_peer_auth(now, i, &idi, &auth, &f.certs, &octets);
        if let Err(AuthRefusal::NeedCrl(url)) = &verdict {
            return self.await_crl(url);
        }
        let SaState::InitAnswered(st) =
            std::mem::replace(&mut self.sas[i].state, SaState::Established)
        else {
            return;
        };
        if let Err(AuthRefusal::Failed(d)) = verdict {
            let n = NotifyRepr {
                protocol: ProtocolId(0),
                kind: NotifyType::AUTHENTICATION_FAILED,
                spi: &[],
                data: &[],
            };
            self.respond(i, h, &[&n]);
            return self.auth_failed(now, i, d);
        }
        let (t, data) = id_payload(&self.policy.my_identity());
        let octets = signed_octets(
            prf,
            &st.init_response,
            &st.ni,
            &keys.sk_pr,
            &id_body(t, &data),
            &int_auth,
        );
        let (method, our_auth) = match self.our_auth(i, prf, &octets) {
            Ok(a) => a,
            Err(d) => return self.auth_failed(now, i, d),
        };
        let initial_contact = payloads
            .iter()
            .any(|p| matches!(p, Payload::Notify(n) if n.kind == NotifyType::INITIAL_CONTACT));
        let child = self.choose_child(&payloads, None, (st.ni.clone(), st.nr.clone()), None);
        match &child {
            Ok((answer, _)) => {
                let rest: Vec<&dyn PayloadRepr> = answer.iter().map(|p| p.as_ref()).collect();
                self.respond_authenticated(i, h, (method, &our_auth), &rest);
            }
            Err(n) => {
                let notify = NotifyRepr {
                    protocol: ProtocolId(0),
                    kind: *n,
                    spi: &[],
                    data: &[],
                };
                self.respond_authenticated(i, h, (method, &our_auth), &[&notify]);
            }
        }
        // Dropping the stale IKE SAs moves this one in the table.
        let i = if initial_contact {
            match self.initial_contact(i) {
                Some(i) => i,
                None => return,
            }
        } else {
            i
        };
        self.ike_sa_established(now, i, &idi);
        if let Ok((_, c)) = child {
            self.install_child(now, i, c);
        }
    }

    /// Responder: answers `h` with our IDr, [CERT], the AUTH payload `auth` and `rest`.
    pub(super) fn respond_authenticated(
        &mut self,
        i: usize,
        h: &HeaderRepr,
        auth: (AuthMethod, &[u8]),
        rest: &[&dyn PayloadRepr],
    ) {
        let (t, data) = id_payload(&self.policy.my_identity());
        let creds = self.policy.auth.certificate().cloned();
        let certs = our_cert_payloads(creds.as_deref());
        let idr = IdRepr {
            side: Side::Responder,
            id_type: t,
            data: &data,
        };
        let auth = AuthRepr {
            method: auth.0,
            data: auth.1,
        };
        let mut out: Vec<&dyn PayloadRepr> = vec![&idr];
        out.extend(certs.iter().map(|c| c as &dyn PayloadRepr));
        out.push(&auth);
        out.extend_from_slice(rest);
        self.respond(i, h, &out);
    }

    /// The identity we expect from the peer, in words.
    pub(super) fn expected_peer_id(&self) -> String {
        self.policy
            .peer_id
            .as_ref()
            .map_or_else(|| self.policy.remote.to_string(), |p| p.to_string())
    }

    /// Checks the peer's ID: the configured `peers-identifier`, or its address (any address
    /// behind a NAT, where it sees its private one); any ID for a remote-access client.
    pub(super) fn check_peer_id(&self, id: &IdRepr<'_>, peer: IpAddr) -> Result<(), V2Diagnostic> {
        let got = identity_of(id);
        // A remote-access client may name itself anything: it is chosen by its IDi and proves
        // itself by the group key or EAP, and logs in under that name.
        if self.policy.remote_access.is_some() && got.is_some() {
            return Ok(());
        }
        let ok = match (&self.policy.peer_id, &got) {
            (Some(want), Some(g)) => want == g,
            (None, Some(Identity::Address(a))) => {
                *a == self.policy.remote
                    || *a == peer
                    || self.sas.iter().any(|s| s.nat.peer_behind_nat)
            }
            (None, Some(_)) => false,
            (_, None) => false,
        };
        if ok {
            return Ok(());
        }
        Err(V2Diagnostic::IdentityMismatch {
            received: got.map_or_else(
                || format!("an ID of type {}", id.id_type),
                |g| g.to_string(),
            ),
            expected: self.expected_peer_id(),
        })
    }

    pub(super) fn auth_failed(&mut self, now: Instant, i: usize, d: Diagnostic) {
        self.io.fail(d);
        if i < self.sas.len() {
            self.sas.remove(i);
        }
        self.schedule_reinit(now);
    }

    pub(super) fn ike_sa_established(&mut self, now: Instant, i: usize, peer_id: &IdRepr<'_>) {
        let lifetime = Duration::from_secs(u64::from(self.policy.phase1.lifetime_secs));
        let role = if self.sas[i].original_initiator {
            Role::Initiator
        } else {
            Role::Responder
        };
        let soft = self.soft_lifetime(lifetime, role);
        let sa = &mut self.sas[i];
        sa.state = SaState::Established;
        sa.established_at = Some(now);
        sa.rekey_at = Some(now + soft);
        sa.expires_at = Some(now + lifetime);
        sa.peer_identity = identity_of(peer_id).map(|x| x.to_string());
        self.io.stats.phase1_established += 1;
        self.consecutive_failures = 0;
        self.live.dead_since = None;
        let sa = &self.sas[i];
        let proposal = sa.choice.map(|c| c.name()).unwrap_or_default();
        info!(peer = %sa.peer, %proposal, "IKEv2 SA established");
        self.io.events.push_back(Event::Phase1Up {
            icookie: sa.spi_i,
            rcookie: sa.spi_r,
            role,
            proposal,
            peer: sa.peer,
            peer_identity: sa.peer_identity.clone().unwrap_or_default(),
            nat: sa.nat,
            lifetime,
        });
    }

    /// The peer restarted (INITIAL_CONTACT): every other IKE SA and its children are stale.
    /// Returns the index of the kept IKE SA, which moves when others before it go.
    fn initial_contact(&mut self, keep: usize) -> Option<usize> {
        let keep_id = self.sas[keep].id();
        let stale: Vec<_> = self
            .sas
            .iter()
            .filter(|s| s.id() != keep_id)
            .map(|s| s.id())
            .collect();
        for id in stale {
            self.drop_ike_sa(id, DownReason::InitialContact);
        }
        self.find_sa(keep_id)
    }

    /// Initiator: a child request was refused with `kind`.
    pub(super) fn child_refused(
        &mut self,
        now: Instant,
        kind: NotifyType,
        offer: &ChildOffer,
        pfs: Option<crate::crypto::dh::DhGroup>,
        peer: IpAddr,
    ) {
        let d = match kind {
            NotifyType::NO_PROPOSAL_CHOSEN => {
                let mut offered = describe(&esp_offer(&self.policy.phase2, offer.our_spi, pfs));
                if self.policy.phase2.mode == EspMode::Transport {
                    offered.push_str(
                        " in transport mode (USE_TRANSPORT_MODE; a peer that cannot install \
                         transport-mode SAs, such as strongSwan with kernel-libipsec, refuses \
                         this way: if the algorithms match, use `mode: tunnel`)",
                    );
                }
                V2Diagnostic::ProposalRejected {
                    what: "child SA",
                    offered,
                    peer,
                }
            }
            NotifyType::TS_UNACCEPTABLE => V2Diagnostic::TsUnacceptable {
                peer_refused: true,
                ours: format!(
                    "{} ⇄ {}",
                    ts::subnet_words(&offer.local),
                    ts::subnet_words(&offer.remote)
                ),
                theirs: String::new(),
            },
            k => V2Diagnostic::PeerNotify {
                notify: k.to_string(),
                during: "the child SA negotiation",
                peer,
            },
        };
        self.io.fail(Diagnostic::Ikev2(d));
        self.schedule_reinit(now);
    }

    /// Responder: the child SA we accept from a request's SA/TS payloads (IKE_AUTH or
    /// CREATE_CHILD_SA): the response payloads and the child to install, or the error notify.
    #[allow(clippy::type_complexity)]
    pub(super) fn choose_child(
        &mut self,
        payloads: &[Payload<'_>],
        pfs: Option<(crate::crypto::dh::DhGroup, &[u8])>,
        nonces: (Vec<u8>, Vec<u8>),
        rekey_of: Option<u32>,
    ) -> Result<(Vec<Box<dyn PayloadRepr>>, NewChildSa), NotifyType> {
        let f = Found::of(payloads);
        let (Some(sa), Some(tsi), Some(tsr)) = (f.sa, f.tsi, f.tsr) else {
            return Err(NotifyType::INVALID_SYNTAX);
        };
        let our_spi = self.new_spi();
        let group = pfs.map(|(g, _)| g);
        let Some((answer, choice, peer_spi)) = choose_esp(sa, &self.policy.phase2, group, our_spi)
        else {
            self.io
                .fail(Diagnostic::Ikev2(V2Diagnostic::ProposalMismatch {
                    what: "child SA",
                    received: describe(sa),
                    configured: describe(&esp_offer(&self.policy.phase2, 0, group)),
                }));
            return Err(NotifyType::NO_PROPOSAL_CHOSEN);
        };
        let (local, remote) = self.child_selectors();
        // TSi is the initiator's side: our remote; TSr is ours.
        let n_tsi = ts::narrow(&tsi.selectors, &remote);
        let n_tsr = ts::narrow(&tsr.selectors, &local);
        if n_tsi.is_empty() || n_tsr.is_empty() {
            self.io
                .fail(Diagnostic::Ikev2(V2Diagnostic::TsUnacceptable {
                    peer_refused: false,
                    ours: format!(
                        "{} ⇄ {}",
                        ts::subnet_words(&local),
                        ts::subnet_words(&remote)
                    ),
                    theirs: format!(
                        "{} ⇄ {}",
                        ts::words(&tsi.selectors),
                        ts::words(&tsr.selectors)
                    ),
                }));
            return Err(NotifyType::TS_UNACCEPTABLE);
        }
        let child = NewChildSa {
            params: ChildParams {
                choice,
                our_spi,
                peer_spi,
                we_initiated: false,
            },
            nonces,
            g_ir: None,
            local: ts::subnets(&n_tsr),
            remote: ts::subnets(&n_tsi),
            rekey_of,
            mode: responder_mode(self.policy.phase2.mode, f.transport),
        };
        let mut out: Vec<Box<dyn PayloadRepr>> = vec![
            Box::new(crate::wire::ikev2::SaRepr {
                proposals: vec![answer],
            }),
            Box::new(TsRepr {
                side: Side::Initiator,
                selectors: n_tsi,
            }),
            Box::new(TsRepr {
                side: Side::Responder,
                selectors: n_tsr,
            }),
        ];
        if child.mode == EspMode::Transport {
            out.push(Box::new(USE_TRANSPORT_MODE));
        }
        Ok((out, child))
    }

    /// Queues the child SA rekeys and deletes a child table run made due.
    pub(super) fn queue_on_newest(&mut self, p: Pending) {
        if let Some(i) = self.newest_established() {
            self.queue(i, p);
        }
    }
}
