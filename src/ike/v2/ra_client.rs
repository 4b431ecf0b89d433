//! IKEv2 remote access, client side (our own road warrior, as the many-client test drives it):
//! a CFG_REQUEST for a virtual address in IKE_AUTH, the traffic selectors left open for the
//! gateway to narrow to that address, and the EAP login of RFC 7296 §2.16 as the initiator:
//! the gateway authenticates first (its AUTH beside the EAP-Request/Identity), then the EAP
//! rounds ([`EapPeer`]), then both AUTH payloads keyed by the MSK (or SK_pi/SK_pr for a method
//! without a key).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use zeroize::Zeroizing;

use crate::crypto::ikev2::keys::{psk_auth, signed_octets, verify_psk_auth};
use crate::ike::auth::eap::{EapPeer, PeerStep};
use crate::ike::policy::Subnet;
use crate::ike::Diagnostic;
use crate::wire::ikev2::{
    AuthMethod, AuthRepr, CfgType, CpAttribute, CpAttributeType, CpRepr, EapCode, EapRepr,
    ExchangeType, IdRepr, IdType, Payload, PayloadRepr, Side,
};

use super::auth::id_body;
use super::auth_sig::AuthRefusal;
use super::exchange::Inner;
use super::found::Found;
use super::{ts, Engine, RequestKind, SaState, V2Diagnostic};

/// The client's EAP login, carried in the IKE_AUTH initiator state.
pub(super) struct EapLogin {
    peer: EapPeer,
    /// What our AUTH signs (over our IDi); keyed by the MSK once EAP succeeded.
    octets_i: Vec<u8>,
    /// The gateway's IDr, once its AUTH verified (its final AUTH signs it again).
    idr: Option<(IdType, Vec<u8>)>,
    /// After EAP-Success, with our AUTH sent: the MSK (`None`: SK_pi/SK_pr key the AUTH).
    key: Option<Option<Zeroizing<Vec<u8>>>>,
}

impl Engine {
    /// The EAP login of a remote-access client configured for one; `octets` is what our AUTH
    /// signs.
    pub(super) fn eap_login(&self, octets: &[u8]) -> Option<Box<EapLogin>> {
        let creds = self.policy.ra_client.as_ref()?.eap.clone()?;
        Some(Box::new(EapLogin {
            peer: EapPeer::new(creds),
            octets_i: octets.to_vec(),
            idr: None,
            key: None,
        }))
    }

    /// The selectors of the first child we propose, `(ours, the peer's)`: a remote-access
    /// client asking for a virtual address proposes any address of its side, which the
    /// gateway narrows to that address.
    pub(super) fn initiator_selectors(&self) -> (Vec<Subnet>, Vec<Subnet>) {
        let (local, remote) = ts::configured(&self.policy.phase2.proxy_ids);
        let Some(c) = &self.policy.ra_client else {
            return (local, remote);
        };
        let mut any = Vec::new();
        if c.ipv4 {
            any.push(Subnet::any_v4());
        }
        if c.ipv6 {
            any.push(Subnet::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0));
        }
        if any.is_empty() {
            (local, remote)
        } else {
            (any, remote)
        }
    }

    /// A remote-access client's CFG_REQUEST: the address families it wants, and their DNS.
    pub(super) fn cfg_request(&self) -> Option<CpRepr<'static>> {
        let c = self.policy.ra_client.as_ref()?;
        let mut kinds = Vec::new();
        if c.ipv4 {
            kinds.extend([
                CpAttributeType::INTERNAL_IP4_ADDRESS,
                CpAttributeType::INTERNAL_IP4_DNS,
            ]);
        }
        if c.ipv6 {
            kinds.extend([
                CpAttributeType::INTERNAL_IP6_ADDRESS,
                CpAttributeType::INTERNAL_IP6_DNS,
            ]);
        }
        (!kinds.is_empty()).then(|| CpRepr {
            cfg_type: CfgType::REQUEST,
            attributes: kinds
                .into_iter()
                .map(|kind| CpAttribute { kind, value: &[] })
                .collect(),
        })
    }

    /// Records the virtual addresses of the gateway's CFG_REPLY.
    pub(super) fn cfg_reply(&mut self, payloads: &[Payload<'_>]) {
        let Some(cp) = Found::of(payloads)
            .cp
            .filter(|c| c.cfg_type == CfgType::REPLY)
        else {
            return;
        };
        let assigned: Vec<IpAddr> = cp
            .attributes
            .iter()
            .filter_map(|a| match a.kind {
                CpAttributeType::INTERNAL_IP4_ADDRESS => {
                    let o = <[u8; 4]>::try_from(a.value).ok()?;
                    Some(IpAddr::V4(Ipv4Addr::from(o)))
                }
                CpAttributeType::INTERNAL_IP6_ADDRESS => {
                    let o = <[u8; 16]>::try_from(a.value.get(..16)?).ok()?;
                    Some(IpAddr::V6(Ipv6Addr::from(o)))
                }
                _ => None,
            })
            .collect();
        tracing::info!(peer = %self.peer, "the gateway assigned us {assigned:?}");
        self.ra.assigned = assigned;
    }

    /// Initiator logging in with EAP: one IKE_AUTH response. False when set aside until a
    /// CRL is fetched (as [`Engine::on_auth_response`]).
    pub(super) fn on_eap_auth_response(&mut self, now: Instant, i: usize, inner: &Inner) -> bool {
        let Some(payloads) = self.payloads_of(inner) else {
            return true;
        };
        let f = Found::of(&payloads);
        if let Some(k) = f.error {
            let eap_failed = f.eap.is_some_and(|e| e.code == EapCode::FAILURE);
            let detail = format!(
                "the gateway answered IKE_AUTH with {k}{}; its log says why",
                if eap_failed { " and EAP-Failure" } else { "" }
            );
            self.login_failed(now, i, detail);
            return true;
        }
        let SaState::AuthSent(st) = &mut self.sas[i].state else {
            return true;
        };
        let Some(mut login) = st.eap.take() else {
            return true;
        };
        if login.idr.is_none() {
            match self.eap_gateway_auth(now, i, &f) {
                Ok(idr) => login.idr = Some(idr),
                Err(AuthRefusal::NeedCrl(url)) => {
                    self.await_crl(&url);
                    self.put_login(i, login);
                    return false;
                }
                Err(AuthRefusal::Failed(d)) => {
                    self.tell_peer_auth_failed(i);
                    self.auth_failed(now, i, d);
                    return true;
                }
            }
        } else if login.key.is_some() {
            return self.eap_final(now, i, login, &payloads);
        }
        if let Some(login) = self.eap_round(now, i, login, f.eap) {
            self.put_login(i, login);
        }
        true
    }

    fn put_login(&mut self, i: usize, login: Box<EapLogin>) {
        if let Some(SaState::AuthSent(st)) = self.sas.get_mut(i).map(|s| &mut s.state) {
            st.eap = Some(login);
        }
    }

    /// The gateway's IDr and AUTH in its first response: its IDr once they verify.
    fn eap_gateway_auth(
        &mut self,
        now: Instant,
        i: usize,
        f: &Found<'_>,
    ) -> Result<(IdType, Vec<u8>), AuthRefusal> {
        let peer = self.sas[i].peer.ip();
        let (Some(idr), Some(auth)) = (f.idr, f.auth) else {
            let detail = "the gateway's first IKE_AUTH response has no IDr or AUTH".to_string();
            let d = Diagnostic::Ikev2(V2Diagnostic::LoginFailed { peer, detail });
            return Err(AuthRefusal::Failed(d));
        };
        let (SaState::AuthSent(st), Some(keys)) = (&self.sas[i].state, &self.sas[i].keys) else {
            let detail = "internal: no IKE_AUTH state".to_string();
            let d = Diagnostic::Ikev2(V2Diagnostic::LoginFailed { peer, detail });
            return Err(AuthRefusal::Failed(d));
        };
        let id = id_body(idr.id_type, idr.data);
        let octets = signed_octets(
            keys.suite.prf,
            &st.init_response,
            &st.ni,
            &keys.sk_pr,
            &id,
            &st.int_auth,
        );
        self.verify_peer_auth(now, i, &idr, &auth, &f.certs, &octets)?;
        Ok((idr.id_type, idr.data.to_vec()))
    }

    /// One EAP request of the gateway: our response, or our AUTH after EAP-Success.
    fn eap_round(
        &mut self,
        now: Instant,
        i: usize,
        mut login: Box<EapLogin>,
        eap: Option<EapRepr<'_>>,
    ) -> Option<Box<EapLogin>> {
        let Some(eap) = eap else {
            let detail = "the gateway's IKE_AUTH response carries no EAP payload".to_string();
            self.login_failed(now, i, detail);
            return None;
        };
        let mut packet = vec![0u8; eap.buffer_len()];
        eap.emit(&mut packet).ok()?;
        match login.peer.handle(&packet, &mut *self.rng) {
            PeerStep::Respond(p) => {
                let r = EapRepr::parse(&p).ok()?;
                self.send_request(now, i, ExchangeType::IKE_AUTH, &[&r], RequestKind::Auth);
            }
            PeerStep::Success(msk) => {
                let keys = self.sas[i].keys.clone()?;
                let prf = keys.suite.prf;
                let key_i: &[u8] = msk.as_deref().map_or(&keys.sk_pi[..], |m| &m[..]);
                let auth = psk_auth(prf, key_i, &login.octets_i);
                let a = AuthRepr {
                    method: AuthMethod::PSK,
                    data: &auth,
                };
                login.key = Some(msk);
                self.send_request(now, i, ExchangeType::IKE_AUTH, &[&a], RequestKind::Auth);
            }
            PeerStep::Failure(detail) => {
                self.login_failed(now, i, detail);
                return None;
            }
        }
        Some(login)
    }

    /// The gateway's last IKE_AUTH response: its AUTH keyed by the MSK, CP(REPLY), the child.
    fn eap_final(
        &mut self,
        now: Instant,
        i: usize,
        login: Box<EapLogin>,
        payloads: &[Payload<'_>],
    ) -> bool {
        let f = Found::of(payloads);
        let (Some(keys), Some(idr), Some(key)) = (
            self.sas[i].keys.clone(),
            login.idr.as_ref(),
            login.key.as_ref(),
        ) else {
            return true;
        };
        let SaState::AuthSent(st) = std::mem::replace(&mut self.sas[i].state, SaState::Established)
        else {
            return true;
        };
        let prf = keys.suite.prf;
        let id = id_body(idr.0, &idr.1);
        let octets = signed_octets(
            prf,
            &st.init_response,
            &st.ni,
            &keys.sk_pr,
            &id,
            &st.int_auth,
        );
        let key_r: &[u8] = key.as_deref().map_or(&keys.sk_pr[..], |m| &m[..]);
        let ok = f.auth.is_some_and(|a| {
            a.method == AuthMethod::PSK && verify_psk_auth(prf, key_r, &octets, a.data)
        });
        if !ok {
            let detail = "the gateway's AUTH after EAP-Success did not verify with the EAP key: \
                          it is not the server that ran our EAP method"
                .to_string();
            self.tell_peer_auth_failed(i);
            self.login_failed(now, i, detail);
            return true;
        }
        let idr = IdRepr {
            side: Side::Responder,
            id_type: idr.0,
            data: &idr.1,
        };
        self.ike_sa_established(now, i, &idr);
        self.cfg_reply(payloads);
        self.first_child_answer(now, i, &st, payloads);
        true
    }

    fn login_failed(&mut self, now: Instant, i: usize, detail: String) {
        let peer = self.sas[i].peer.ip();
        let d = Diagnostic::Ikev2(V2Diagnostic::LoginFailed { peer, detail });
        self.auth_failed(now, i, d);
    }
}
