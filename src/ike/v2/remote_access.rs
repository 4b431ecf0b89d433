//! IKEv2 remote access, responder side: IKE_AUTH with EAP (RFC 7296 §2.16) as a pass-through
//! authenticator, PSK road warriors, and the virtual address from the interface's pool through
//! the configuration payload (§2.19). The user directory is asked through [`crate::ra::login`]:
//! the engine emits `Event::Login`, holds the client's request, and answers it when
//! [`Engine::login_answer`] brings the verdict (at once from the users file, later from RADIUS).
//!
//! ```text
//! client                                   gateway
//! IDi, SA, TSi, TSr, CP(REQUEST)     -->                          (no AUTH: EAP)
//!                                    <--   IDr, [CERT], AUTH, EAP(Request/Identity)
//! EAP(Response)                      -->   Event::Login(Eap) ... login_answer(Continue)
//!                                    <--   EAP(Request)          (rounds of the method)
//! EAP(Response)                      -->   Event::Login(Eap) ... login_answer(Accepted)
//!                                    <--   EAP(Success)
//! AUTH (keyed by the MSK or SK_pi)   -->
//!                                    <--   AUTH (MSK or SK_pr), CP(REPLY), SA, TSi, TSr
//! ```
//!
//! A PSK road warrior sends AUTH in its first IKE_AUTH request: once it verifies, the engine
//! asks only for admission (`LoginCheck::Admit`, which leases the address) and answers with IDr,
//! AUTH, CP(REPLY) and the child.

use std::net::IpAddr;
use std::time::Instant;

use zeroize::Zeroizing;

use crate::crypto::ikev2::keys::{psk_auth, signed_octets, verify_psk_auth};
use crate::ike::event::Event;
use crate::ike::policy::Subnet;
use crate::ike::Diagnostic;
use crate::ra::login::{LoginAnswer, LoginCheck, LoginRequest, LoginTicket};
use crate::ra::Lease;
use crate::wire::ikev2::{
    AuthMethod, AuthRepr, EapRepr, HeaderRepr, IdRepr, IdType, NotifyRepr, NotifyType, Payload,
    PayloadRepr, ProtocolId, SaRepr, Side, TsRepr,
};

use super::auth::{id_body, id_payload, identity_of, InitAnswered};
use super::auth_sig::AuthRefusal;
use super::config_payload::{address_request, narrowed_selectors, AddressRequest, CfgReply};
use super::exchange::Inner;
use super::found::Found;
use super::{ts, Engine, SaState, V2Diagnostic};

/// An engine's remote-access state (one engine serves one client of the interface).
#[derive(Debug, Default)]
pub(super) struct RaState {
    /// Names this client's login conversations ([`Engine::set_login_ticket`]).
    pub ticket: LoginTicket,
    /// Responder: the client's lease and what it asked for (its children are narrowed to it).
    pub lease: Option<(Lease, AddressRequest)>,
    /// Initiator: the virtual addresses the gateway assigned us.
    pub assigned: Vec<IpAddr>,
}

/// A client logging in over IKE_AUTH.
pub(super) struct RaLogin {
    /// The IKE_SA_INIT exchange (signed in both AUTH payloads) and the IntAuth octets.
    hs: InitAnswered,
    int_auth: Vec<u8>,
    /// The client's IDi as received.
    idi: (IdType, Vec<u8>),
    /// The first child the client asked for.
    child: ChildAsk,
    step: Step,
    /// Identifier of the client's last EAP-Response (an EAP-Success echoes it).
    eap_id: u8,
    /// The client's request we answer once the directory has spoken.
    held: Option<HeaderRepr>,
}

/// The first child SA of the client's first IKE_AUTH request (owned: answered later).
struct ChildAsk {
    sa: Option<SaRepr>,
    tsi: Option<TsRepr>,
    tsr: Option<TsRepr>,
    address: Result<AddressRequest, (NotifyType, String)>,
}

enum Step {
    /// EAP in progress: each client response goes to the directory.
    Eap,
    /// EAP succeeded: the client's AUTH keyed by the MSK (or SK_pi) comes next.
    EapDone {
        msk: Option<Zeroizing<Vec<u8>>>,
        lease: Lease,
    },
    /// The client proved itself in IKE (PSK, certificate): waiting for its admission.
    Admit,
}

impl Engine {
    /// Names this engine's login conversations (the remote-access interface gives each client
    /// its own ticket, which the backend keys its EAP state by).
    pub fn set_login_ticket(&mut self, ticket: LoginTicket) {
        self.ra.ticket = ticket;
    }

    /// The virtual addresses the gateway assigned us (remote-access client; empty otherwise).
    pub fn assigned_addresses(&self) -> &[IpAddr] {
        &self.ra.assigned
    }

    /// The answer to an `Event::Login` this engine emitted.
    pub fn login_answer(&mut self, now: Instant, ticket: LoginTicket, answer: LoginAnswer) {
        self.last_now = Some(now);
        let held = self.sas.iter().position(|s| match &s.state {
            SaState::Login(l) => l.held.is_some(),
            _ => false,
        });
        let (Some(i), true) = (held, ticket == self.ra.ticket) else {
            tracing::debug!("login answer {ticket:?} with no login pending: {answer:?}");
            return;
        };
        let SaState::Login(l) = &mut self.sas[i].state else {
            return;
        };
        let Some(h) = l.held.take() else {
            return;
        };
        match answer {
            LoginAnswer::Continue(eap) => self.ra_send_eap(i, &h, &eap),
            LoginAnswer::Accepted(adm) => match &mut l.step {
                Step::Eap => {
                    l.step = Step::EapDone {
                        msk: adm.msk,
                        lease: adm.lease,
                    };
                    let success = adm.eap.unwrap_or_else(|| eap_success(l.eap_id));
                    self.ra_send_eap(i, &h, &success);
                }
                Step::Admit => self.ra_admitted(now, i, &h, adm.lease, None),
                Step::EapDone { .. } => {}
            },
            LoginAnswer::Rejected { failure, eap } => {
                self.ra_refuse(i, &h, failure.to_string(), eap.as_deref())
            }
        }
        self.pump_all(now);
    }

    /// Responder of a remote-access interface: every IKE_AUTH request of the client.
    pub(super) fn on_ra_auth_request(
        &mut self,
        now: Instant,
        i: usize,
        h: &HeaderRepr,
        inner: &Inner,
    ) {
        let Some(payloads) = self.payloads_of(inner) else {
            return;
        };
        match &self.sas[i].state {
            SaState::InitAnswered(st) if st.intermediate.pending.is_empty() => {
                self.ra_first_auth(now, i, h, &payloads)
            }
            // The directory has not answered yet: this is the client's retransmission.
            SaState::Login(l) if l.held.is_some() => {}
            SaState::Login(l) if matches!(l.step, Step::Eap) => {
                self.ra_eap_response(i, h, &payloads)
            }
            SaState::Login(l) if matches!(l.step, Step::EapDone { .. }) => {
                self.ra_final_auth(now, i, h, &payloads)
            }
            _ => self.io.stats.dropped_unexpected += 1,
        }
    }

    /// The client's first IKE_AUTH request: EAP when it sent no AUTH, else PSK or certificate.
    fn ra_first_auth(&mut self, now: Instant, i: usize, h: &HeaderRepr, payloads: &[Payload<'_>]) {
        let f = Found::of(payloads);
        let (Some(idi), Some(ra)) = (f.idi, self.policy.remote_access.clone()) else {
            self.io.stats.dropped_malformed += 1;
            return;
        };
        let SaState::InitAnswered(st) =
            std::mem::replace(&mut self.sas[i].state, SaState::Established)
        else {
            return;
        };
        let int_auth = st.intermediate.int_auth.octets(h.message_id);
        let login = RaLogin {
            hs: *st,
            int_auth,
            idi: (idi.id_type, idi.data.to_vec()),
            child: ChildAsk {
                sa: f.sa.cloned(),
                tsi: f.tsi.cloned(),
                tsr: f.tsr.cloned(),
                address: address_request(f.cp, &ra.config),
            },
            step: Step::Admit,
            eap_id: 0,
            held: None,
        };
        self.sas[i].state = SaState::Login(Box::new(login));
        let methods = ra.config.auth_names();
        match (f.auth, ra.eap) {
            (None, Some(_)) => self.ra_start_eap(i, h),
            (Some(auth), None) => self.ra_check_ike_auth(now, i, h, &idi, &auth, &f.certs),
            (None, None) => self.ra_refuse(
                i,
                h,
                format!(
                    "the client sent no AUTH payload, asking for EAP, but this interface's \
                     `auth: {methods}` serves IKEv2 clients with the group pre-shared key: \
                     configure the client for PSK authentication, or add an EAP method to `auth`"
                ),
                None,
            ),
            (Some(_), Some(m)) => self.ra_refuse(
                i,
                h,
                format!(
                    "the client authenticated with an AUTH payload (pre-shared key or \
                     certificate), but this interface's `auth: {methods}` logs IKEv2 clients in \
                     with {}: configure the client for EAP (strongSwan: `auth = eap-…` in its \
                     local section)",
                    m.name()
                ),
                None,
            ),
        }
    }

    /// EAP: our IDr, [CERT] and AUTH, and the EAP-Request/Identity.
    fn ra_start_eap(&mut self, i: usize, h: &HeaderRepr) {
        let Some((octets, prf)) = self.ra_octets(i, false) else {
            return;
        };
        let (method, our_auth) = match self.our_auth(i, prf, &octets) {
            Ok(a) => a,
            Err(d) => return self.ra_fail(i, d),
        };
        let mut id = [0u8; 1];
        self.rng.fill(&mut id);
        let identity = crate::ike::auth::eap::EapServer::identity_request(id[0]);
        let Ok(eap) = EapRepr::parse(&identity) else {
            return;
        };
        if let SaState::Login(l) = &mut self.sas[i].state {
            l.step = Step::Eap;
        }
        self.respond_authenticated(i, h, (method, &our_auth), &[&eap]);
    }

    /// A PSK (or certificate) road warrior: its AUTH, then its admission by the directory.
    fn ra_check_ike_auth(
        &mut self,
        now: Instant,
        i: usize,
        h: &HeaderRepr,
        idi: &IdRepr<'_>,
        auth: &AuthRepr<'_>,
        certs: &[&[u8]],
    ) {
        let Some((octets, _)) = self.ra_octets(i, true) else {
            return;
        };
        match self.verify_peer_auth(now, i, idi, auth, certs, &octets) {
            Ok(()) => {
                let user = identity_of(idi).map_or_else(String::new, |id| user_name(&id));
                self.ra_ask(i, h, user, LoginCheck::Admit);
            }
            Err(AuthRefusal::NeedCrl(url)) => {
                // Judged again on the client's retransmission, once the CRL is here.
                if let SaState::Login(l) =
                    std::mem::replace(&mut self.sas[i].state, SaState::Established)
                {
                    self.sas[i].state = SaState::InitAnswered(Box::new(l.hs));
                }
                self.await_crl(&url);
            }
            Err(AuthRefusal::Failed(d)) => {
                let n = auth_failed_notify();
                self.respond(i, h, &[&n]);
                self.ra_fail(i, d);
            }
        }
    }

    /// An EAP-Response from the client: to the directory.
    fn ra_eap_response(&mut self, i: usize, h: &HeaderRepr, payloads: &[Payload<'_>]) {
        let Some(eap) = Found::of(payloads).eap else {
            let why = "the client sent an IKE_AUTH request without the EAP payload while EAP \
                       was in progress"
                .to_string();
            return self.ra_refuse(i, h, why, None);
        };
        let mut packet = vec![0u8; eap.buffer_len()];
        if eap.emit(&mut packet).is_err() {
            return;
        }
        if let SaState::Login(l) = &mut self.sas[i].state {
            l.eap_id = eap.identifier;
        }
        self.ra_ask(i, h, String::new(), LoginCheck::Eap(packet));
    }

    /// The client's AUTH after EAP-Success: keyed by the MSK (or SK_pi); ours answers it.
    fn ra_final_auth(&mut self, now: Instant, i: usize, h: &HeaderRepr, payloads: &[Payload<'_>]) {
        let auth = Found::of(payloads).auth;
        let (Some((octets, prf)), Some(keys)) = (self.ra_octets(i, true), self.sas[i].keys.clone())
        else {
            return;
        };
        let SaState::Login(l) = &mut self.sas[i].state else {
            return;
        };
        let Step::EapDone { msk, lease } = std::mem::replace(&mut l.step, Step::Admit) else {
            return;
        };
        let key_i: &[u8] = msk.as_deref().map_or(&keys.sk_pi[..], |m| &m[..]);
        let ok = auth.is_some_and(|a| {
            a.method == AuthMethod::PSK && verify_psk_auth(prf, key_i, &octets, a.data)
        });
        if !ok {
            let keyed = if msk.is_some() {
                "the EAP MSK"
            } else {
                "SK_pi (EAP-MD5 has no MSK)"
            };
            let why = format!(
                "its AUTH payload after EAP-Success did not verify with {keyed}: the client \
                 derived another key (a client that does not use the MSK, or a broken EAP \
                 implementation)"
            );
            return self.ra_refuse(i, h, why, None);
        }
        self.ra_admitted(now, i, h, lease, Some(msk));
    }

    /// Emits `Event::Login` and holds the client's request `h` until the answer.
    fn ra_ask(&mut self, i: usize, h: &HeaderRepr, user: String, check: LoginCheck) {
        let source = self.sas[i].peer;
        let SaState::Login(l) = &mut self.sas[i].state else {
            return;
        };
        l.held = Some(*h);
        let identity = describe_id(&l.idi);
        self.io.events.push_back(Event::Login(LoginRequest {
            ticket: self.ra.ticket,
            user,
            identity,
            source,
            ike_version: 2,
            check,
        }));
    }

    /// Logged in: our AUTH (IDr and AUTH for a PSK client; AUTH keyed by the EAP key after
    /// EAP), CP(REPLY) with the lease and the first child narrowed to it.
    fn ra_admitted(
        &mut self,
        now: Instant,
        i: usize,
        h: &HeaderRepr,
        lease: Lease,
        eap_key: Option<Option<Zeroizing<Vec<u8>>>>,
    ) {
        let (Some((octets, prf)), Some(keys)) =
            (self.ra_octets(i, false), self.sas[i].keys.clone())
        else {
            return;
        };
        let SaState::Login(l) = std::mem::replace(&mut self.sas[i].state, SaState::Established)
        else {
            return;
        };
        let (method, our_auth) = match &eap_key {
            Some(msk) => {
                let key_r: &[u8] = msk.as_deref().map_or(&keys.sk_pr[..], |m| &m[..]);
                (AuthMethod::PSK, psk_auth(prf, key_r, &octets).to_vec())
            }
            None => match self.our_auth(i, prf, &octets) {
                Ok(a) => a,
                Err(d) => return self.ra_fail(i, d),
            },
        };
        let child = self.ra_child(&l, lease);
        let (reply, answer, refused) = match &child {
            Ok((reply, answer, _)) => (Some(reply.repr()), answer.as_slice(), None),
            Err(n) => (None, &[][..], Some(notify(*n))),
        };
        let mut rest: Vec<&dyn PayloadRepr> = Vec::new();
        rest.extend(reply.iter().map(|r| r as &dyn PayloadRepr));
        rest.extend(answer.iter().map(|p| p.as_ref()));
        rest.extend(refused.iter().map(|n| n as &dyn PayloadRepr));
        if eap_key.is_some() {
            // After EAP: AUTH alone (RFC 7296 §2.16, message 8), IDr went out with the first.
            let auth = AuthRepr {
                method,
                data: &our_auth,
            };
            rest.insert(0, &auth);
            self.respond(i, h, &rest);
        } else {
            self.respond_authenticated(i, h, (method, &our_auth), &rest);
        }
        let idi = IdRepr {
            side: Side::Initiator,
            id_type: l.idi.0,
            data: &l.idi.1,
        };
        self.ike_sa_established(now, i, &idi);
        if let Ok((_, _, c)) = child {
            self.install_child(now, i, c);
        }
    }

    /// The client's first child: CP(REPLY) with its lease, and the SA narrowed to it.
    #[allow(clippy::type_complexity)]
    fn ra_child(
        &mut self,
        l: &RaLogin,
        lease: Lease,
    ) -> Result<
        (
            CfgReply,
            Vec<Box<dyn PayloadRepr>>,
            super::child_sa::NewChildSa,
        ),
        NotifyType,
    > {
        let Some(ra) = self.policy.remote_access.clone() else {
            return Err(NotifyType::INTERNAL_ADDRESS_FAILURE);
        };
        let req = match &l.child.address {
            Ok(r) => *r,
            Err((n, why)) => {
                self.io
                    .fail(Diagnostic::Ikev2(V2Diagnostic::RemoteAccessRefused {
                        peer: self.peer.ip(),
                        identity: describe_id(&l.idi),
                        reason: why.clone(),
                    }));
                return Err(*n);
            }
        };
        let reply = CfgReply::new(req, &lease, &ra.config);
        self.ra.lease = Some((lease, req));
        let (Some(sa), Some(tsi), Some(tsr)) = (&l.child.sa, &l.child.tsi, &l.child.tsr) else {
            return Err(NotifyType::INVALID_SYNTAX);
        };
        let asked = [
            Payload::Sa(sa.clone()),
            Payload::Ts(tsi.clone()),
            Payload::Ts(tsr.clone()),
        ];
        let nonces = (l.hs.ni.clone(), l.hs.nr.clone());
        let (answer, child) = self.choose_child(&asked, None, nonces, None)?;
        Ok((reply, answer, child))
    }

    /// The traffic selectors children are narrowed to, `(ours, the peer's)`: a remote-access
    /// client's lease once it has one, else the configured proxy-ids.
    pub(super) fn child_selectors(&self) -> (Vec<Subnet>, Vec<Subnet>) {
        match (&self.ra.lease, &self.policy.remote_access) {
            (Some((lease, req)), Some(ra)) => {
                let (client, ours) = narrowed_selectors(lease, *req, &ra.config);
                (ours, client)
            }
            _ => ts::configured(&self.policy.phase2.proxy_ids),
        }
    }

    /// The octets an AUTH payload of this login signs: the client's (`initiator`) over its IDi,
    /// ours over our IDr; and the PRF.
    fn ra_octets(
        &self,
        i: usize,
        initiator: bool,
    ) -> Option<(Vec<u8>, crate::crypto::prf::HashAlg)> {
        let keys = self.sas.get(i)?.keys.as_ref()?;
        let SaState::Login(l) = &self.sas[i].state else {
            return None;
        };
        let prf = keys.suite.prf;
        let octets = if initiator {
            let id = id_body(l.idi.0, &l.idi.1);
            signed_octets(
                prf,
                &l.hs.init_request,
                &l.hs.nr,
                &keys.sk_pi,
                &id,
                &l.int_auth,
            )
        } else {
            let (t, data) = id_payload(&self.policy.my_identity());
            let id = id_body(t, &data);
            signed_octets(
                prf,
                &l.hs.init_response,
                &l.hs.ni,
                &keys.sk_pr,
                &id,
                &l.int_auth,
            )
        };
        Some((octets, prf))
    }

    /// Sends the next EAP packet of the conversation in answer to `h`.
    fn ra_send_eap(&mut self, i: usize, h: &HeaderRepr, packet: &[u8]) {
        match EapRepr::parse(packet) {
            Ok(eap) => self.respond(i, h, &[&eap]),
            Err(e) => self.ra_refuse(
                i,
                h,
                format!("the login backend answered a malformed EAP packet ({e})"),
                None,
            ),
        }
    }

    /// Refuses the client: the backend's last EAP packet (EAP-Failure, or MS-CHAPv2's Failure
    /// request) when EAP ran, and AUTHENTICATION_FAILED; `reason` in our log; the IKE SA goes.
    fn ra_refuse(&mut self, i: usize, h: &HeaderRepr, reason: String, eap_failure: Option<&[u8]>) {
        let eap = eap_failure.and_then(|p| EapRepr::parse(p).ok());
        let n = auth_failed_notify();
        let mut out: Vec<&dyn PayloadRepr> = Vec::new();
        out.extend(eap.iter().map(|e| e as &dyn PayloadRepr));
        out.push(&n);
        self.respond(i, h, &out);
        let identity = match &self.sas[i].state {
            SaState::Login(l) => describe_id(&l.idi),
            _ => String::new(),
        };
        tracing::warn!(peer = %self.sas[i].peer, %identity, "remote-access client refused: {reason}");
        let d = V2Diagnostic::RemoteAccessRefused {
            peer: self.sas[i].peer.ip(),
            identity,
            reason,
        };
        self.ra_fail(i, Diagnostic::Ikev2(d));
    }

    /// The login failed: the IKE SA goes (a responder does not initiate again).
    fn ra_fail(&mut self, i: usize, d: Diagnostic) {
        self.io.fail(d);
        if i < self.sas.len() {
            self.sas.remove(i);
        }
    }
}

/// A client's user name from its IKE identity: the name without the type prefix.
fn user_name(id: &crate::ike::policy::Identity) -> String {
    use crate::ike::policy::Identity;
    match id {
        Identity::Fqdn(s) | Identity::UserFqdn(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An ID payload's identity in words.
fn describe_id(idi: &(IdType, Vec<u8>)) -> String {
    let id = IdRepr {
        side: Side::Initiator,
        id_type: idi.0,
        data: &idi.1,
    };
    identity_of(&id).map_or_else(|| format!("an ID of type {}", idi.0), |x| x.to_string())
}

/// An EAP-Success (RFC 3748 §4.2) for a backend that accepted without sending one.
fn eap_success(response_id: u8) -> Vec<u8> {
    vec![3, response_id, 0, 4]
}

fn notify(kind: NotifyType) -> NotifyRepr<'static> {
    NotifyRepr {
        protocol: ProtocolId(0),
        kind,
        spi: &[],
        data: &[],
    }
}

fn auth_failed_notify() -> NotifyRepr<'static> {
    notify(NotifyType::AUTHENTICATION_FAILED)
}

#[cfg(test)]
#[path = "remote_access_tests.rs"]
mod tests;
