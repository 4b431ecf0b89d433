//! Proposal tests.

use super::*;
use crate::crypto::dh::DhGroup;
use crate::crypto::ike_cipher::IkeCipher;
use crate::crypto::prf::HashAlg;
use crate::crypto::{EncAlg, IntegAlg};
use crate::ike::policy::IkePolicy;
use crate::wire::isakmp::SaPayload;

fn seil() -> IkePolicy {
    IkePolicy::seil_defaults(
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
        b"k",
    )
}

#[test]
fn seil_phase1_sa_is_252_bytes_in_seil_order() {
    let p = seil();
    let offer = phase1_offer(&p.phase1, Phase1Auth::Psk);
    let names: Vec<_> = offer.iter().map(|o| o.to_string()).collect();
    assert_eq!(
        names,
        [
            "aes256-sha256-modp1536",
            "aes256-sha1-modp1536",
            "aes128-sha256-modp1536",
            "aes128-sha1-modp1536",
            "3des-sha256-modp1536",
            "3des-sha1-modp1536"
        ]
    );
    let sa = phase1_sa(&offer).emit();
    assert_eq!(sa.len() + 4, 252);
}

#[test]
fn responder_picks_first_acceptable_in_initiator_order() {
    let p = seil();
    let body = phase1_sa(&phase1_offer(&p.phase1, Phase1Auth::Psk)).emit();
    let sa = SaPayload::parse(&body).unwrap();
    let mut mine = p.phase1.clone();
    mine.encryption = vec![IkeCipher::Aes128Cbc, IkeCipher::Aes256Cbc];
    mine.hash = vec![HashAlg::Sha1];
    let (chosen, reply) = select_phase1(&sa, &mine, Phase1Auth::Psk).unwrap();
    assert_eq!(chosen.to_string(), "aes256-sha1-modp1536");
    assert_eq!(reply.proposals[0].transforms[0].number, 2);
    let reply_body = reply.emit();
    let back = check_phase1_answer(
        &SaPayload::parse(&reply_body).unwrap(),
        &phase1_offer(&p.phase1, Phase1Auth::Psk),
    )
    .unwrap();
    assert_eq!(back, chosen);
    assert_eq!(back.lifetime_secs, 86400);
}

#[test]
fn lifetimes_zero_absent_longer_shorter() {
    assert_eq!(effective_lifetime(None, 86400), 86400);
    assert_eq!(effective_lifetime(Some(0), 86400), 86400);
    assert_eq!(effective_lifetime(Some(100_000), 86400), 86400);
    assert_eq!(effective_lifetime(Some(3600), 86400), 3600);
    assert_eq!(effective_lifetime(Some(u64::MAX), 7), 7);
    assert_eq!(effective_kb(Some(0), 0), 0);
    assert_eq!(effective_kb(Some(500), 0), 500);
    assert_eq!(effective_kb(None, 800), 800);
    assert_eq!(effective_kb(Some(500), 800), 500);
    // a peer proposing lifetime 0 gets our lifetime
    let p = seil();
    let mut theirs = p.phase1.clone();
    theirs.lifetime_secs = 0;
    let body = phase1_sa(&phase1_offer(&theirs, Phase1Auth::Psk)).emit();
    let (chosen, _) = select_phase1(
        &SaPayload::parse(&body).unwrap(),
        &p.phase1,
        Phase1Auth::Psk,
    )
    .unwrap();
    assert_eq!(chosen.lifetime_secs, 86400);
}

#[test]
fn phase1_mismatch_names_the_attribute() {
    let p = seil();
    let mut theirs = p.phase1.clone();
    theirs.encryption = vec![IkeCipher::Aes256Cbc];
    theirs.hash = vec![HashAlg::Sha256];
    theirs.dh_group = DhGroup::Modp1024;
    let body = phase1_sa(&phase1_offer(&theirs, Phase1Auth::Psk)).emit();
    let mut mine = theirs.clone();
    mine.dh_group = DhGroup::Modp1536;
    let err = select_phase1(&SaPayload::parse(&body).unwrap(), &mine, Phase1Auth::Psk).unwrap_err();
    let Reject::NoProposal(d) = err else { panic!() };
    assert_eq!(
        d.to_string(),
        "phase 1 proposal mismatch: received aes256-sha256-modp1024, configured aes256-sha256-modp1536 — set dh-group: modp1024 or change the peer"
    );
}

#[test]
fn phase2_offer_and_selection() {
    let mut p = seil().phase2;
    p.encryption = vec![EncAlg::Aes128Gcm16, EncAlg::Aes256Cbc];
    let offer = phase2_offer(&p, ENCAP_UDP_TUNNEL);
    assert_eq!(
        offer.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
        ["aes128-gcm", "aes256-hmac-sha256", "aes256-hmac-sha1"]
    );
    let body = phase2_sa(&offer, 0xc0ffee01).emit();
    let mut mine = seil().phase2;
    mine.authentication = vec![IntegAlg::HmacSha1_96];
    let (chosen, their_spi, reply) =
        select_phase2(&SaPayload::parse(&body).unwrap(), &mine, 0x1234_5678).unwrap();
    assert_eq!(chosen.to_string(), "aes256-hmac-sha1");
    assert!(chosen.udp_encap());
    assert_eq!(their_spi, 0xc0ffee01);
    let rb = reply.emit();
    let (back, spi) = check_phase2_answer(&SaPayload::parse(&rb).unwrap(), &offer).unwrap();
    assert_eq!(spi, 0x1234_5678);
    assert_eq!(back, chosen);
}

#[test]
fn phase2_mismatch_md5() {
    let mut theirs = seil().phase2;
    theirs.encryption = vec![EncAlg::Aes256Cbc];
    theirs.authentication = vec![IntegAlg::HmacMd5_96];
    let body = phase2_sa(&phase2_offer(&theirs, ENCAP_TUNNEL), 1).emit();
    let err = select_phase2(&SaPayload::parse(&body).unwrap(), &seil().phase2, 2).unwrap_err();
    let Reject::NoProposal(d) = err else { panic!() };
    assert_eq!(
        d.to_string(),
        "phase 2 proposal mismatch: received aes256-hmac-md5, configured aes256-hmac-sha256, aes256-hmac-sha1, aes128-hmac-sha256, aes128-hmac-sha1 — add authentication: hmac-md5 or change the peer"
    );
}
