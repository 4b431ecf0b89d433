//! IKEv1 transport mode: the encapsulation-mode attribute (RFC 2407 §4.5: Transport = 2; RFC
//! 3947: UDP-Encapsulated-Transport = 4; the draft value 61444), seed 002's phase-2 proposal,
//! and a mode disagreement explained on both sides.

use std::time::Duration;

use super::pair::*;
use crate::crypto::dh::DhGroup;
use crate::crypto::{EncAlg, IntegAlg};
use crate::ike::proposal::{
    phase2_offer, phase2_sa, select_phase2, ENCAP_TRANSPORT, ENCAP_UDP_TRANSPORT,
    ENCAP_UDP_TRANSPORT_DRAFT, ENCAP_UDP_TUNNEL_DRAFT,
};
use crate::ike::{EspMode, IkePolicy, NatTraversal};
use crate::wire::isakmp::SaPayload;

fn transport(mut p: IkePolicy) -> IkePolicy {
    p.phase2.mode = EspMode::Transport;
    p.phase2.proxy_ids = vec![p.transport_proxy_id()];
    p
}

/// Seed 002's sainfo: pfs_group modp768, rijndael/3des, hmac_sha1/hmac_md5.
fn seed_002(mut p: IkePolicy) -> IkePolicy {
    p.phase2.encryption = vec![EncAlg::Aes128Cbc, EncAlg::TripleDesCbc];
    p.phase2.authentication = vec![IntegAlg::HmacSha1_96, IntegAlg::HmacMd5_96];
    p.phase2.pfs_group = Some(DhGroup::Modp768);
    p
}

fn modes(n: &Node) -> Vec<EspMode> {
    child_modes(&n.events)
}

#[test]
fn transport_mode_with_seed_002_phase2_raw_and_udp() {
    for nat in [NatTraversal::Disable, NatTraversal::Force] {
        let (mut pa, mut pb) = (
            seed_002(transport(policy_a())),
            seed_002(transport(policy_b())),
        );
        pa.nat_traversal = nat;
        pb.nat_traversal = nat;
        let mut p = Pair::new(pa, pb, 21);
        p.connect();
        assert_eq!(assert_mirrored(&p), 1);
        assert_eq!(modes(&p.a), [EspMode::Transport]);
        assert_eq!(modes(&p.b), [EspMode::Transport]);
        let s = p.a.engine.status();
        assert_eq!(s.children[0].proposal, "aes128-hmac-sha1-modp768");
        assert_eq!(s.children[0].mode, EspMode::Transport);
        assert_eq!(s.children[0].proxy_ids, policy_a().transport_proxy_id());
        assert_eq!(
            p.a.children_up()[0].2.is_some(),
            nat == NatTraversal::Force,
            "UDP encapsulation (mode 4) only when forced"
        );
    }
}

#[test]
fn mode_disagreement_is_explained_on_both_sides() {
    for a_transport in [true, false] {
        let (mut pa, mut pb) = (transport(policy_a()), transport(policy_b()));
        if a_transport {
            pb.phase2.mode = EspMode::Tunnel;
        } else {
            pa.phase2.mode = EspMode::Tunnel;
        }
        let mut p = Pair::new(pa, pb, 22);
        p.connect();
        p.run_for(Duration::from_secs(5));
        assert!(modes(&p.a).is_empty() && modes(&p.b).is_empty());
        let (theirs, ours) = if a_transport {
            ("transport", "tunnel")
        } else {
            ("tunnel", "transport")
        };
        let want = format!(
            "the peer proposes {theirs} mode and this tunnel is configured for {ours} mode: set \
             `mode: {theirs}` on this interface, or {ours} mode on the peer"
        );
        assert!(
            p.b.failures().iter().any(|f| f.contains(&want)),
            "{:?}",
            p.b.failures()
        );
        assert!(
            !p.a.failures().is_empty(),
            "the initiator hears NO-PROPOSAL-CHOSEN"
        );
    }
}

#[test]
fn every_transport_encapsulation_value_is_accepted_and_echoed() {
    let p = transport(policy_b()).phase2;
    for (sent, udp) in [
        (ENCAP_TRANSPORT, false),
        (ENCAP_UDP_TRANSPORT, true),
        (ENCAP_UDP_TRANSPORT_DRAFT, true),
    ] {
        let mut offer = phase2_offer(&p, 1);
        for o in &mut offer {
            o.encap = sent;
        }
        let body = phase2_sa(&offer, 0x1234).emit();
        let sa = SaPayload::parse(&body).unwrap();
        let (chosen, spi, _) = select_phase2(&sa, &p, 0x5678).unwrap();
        assert_eq!(
            (chosen.encap, chosen.mode(), chosen.udp_encap()),
            (sent, EspMode::Transport, udp)
        );
        assert_eq!(spi, 0x1234);
    }
    // Our own offer in transport mode follows the ISAKMP SA's NAT-T method.
    assert_eq!(
        phase2_offer(&p, ENCAP_UDP_TUNNEL_DRAFT)[0].encap,
        ENCAP_UDP_TRANSPORT_DRAFT
    );
    assert_eq!(phase2_offer(&p, 1)[0].encap, ENCAP_TRANSPORT);
}
