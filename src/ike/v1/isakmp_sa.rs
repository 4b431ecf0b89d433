//! An established ISAKMP SA (the result of Main Mode) and the ESP keys derived under it.

use zeroize::Zeroizing;

use crate::crypto::prf::KeymatSeed;
use crate::crypto::EspKeys;
use crate::ike::policy::{Identity, ProxyId};
use crate::ike::proposal::Phase1Proposal;
use crate::ike::proposal::Phase2Proposal;

use super::keys::Phase1Keys;
use super::nat::{NatDetection, NatTMethod};

/// An established ISAKMP SA.
#[derive(Debug)]
pub(crate) struct IsakmpSa {
    pub icookie: [u8; 8],
    pub rcookie: [u8; 8],
    pub keys: Phase1Keys,
    /// The last CBC block of phase 1 (seed of every Quick Mode/Informational IV).
    pub last_block: Vec<u8>,
    pub proposal: Phase1Proposal,
    pub peer_identity: Identity,
    pub nat_t: NatTMethod,
    pub nat: NatDetection,
    pub peer_dpd: bool,
    /// The peer sent INITIAL-CONTACT inside Main Mode message 5 (strongSwan does).
    pub initial_contact: bool,
    /// The certificate the peer authenticated with (signature authentication only).
    pub peer_cert: Option<crate::ike::status::PeerCertificate>,
}

impl IsakmpSa {
    /// The ESP encapsulation mode to propose under this SA.
    pub fn encap_mode(&self) -> u16 {
        use crate::ike::proposal::{ENCAP_TUNNEL, ENCAP_UDP_TUNNEL, ENCAP_UDP_TUNNEL_DRAFT};
        match (self.nat.any(), self.nat_t) {
            (true, NatTMethod::Rfc3947) => ENCAP_UDP_TUNNEL,
            (true, NatTMethod::Draft) => ENCAP_UDP_TUNNEL_DRAFT,
            _ => ENCAP_TUNNEL,
        }
    }

    /// The ISAKMP "SPI" of this SA: both cookies.
    pub fn cookie_pair(&self) -> Vec<u8> {
        [&self.icookie[..], &self.rcookie[..]].concat()
    }
}

/// The result of a Quick Mode: both directions' keys.
#[derive(Debug)]
pub(crate) struct NewChild {
    pub inbound: EspKeys,
    pub outbound: EspKeys,
    pub proposal: Phase2Proposal,
    pub proxy: ProxyId,
}

/// Inputs of the KEYMAT computation of one Quick Mode.
pub(crate) struct ChildSeed<'a> {
    pub gxy: Option<&'a [u8]>,
    pub ni_b: &'a [u8],
    pub nr_b: &'a [u8],
    pub our_spi: u32,
    pub their_spi: u32,
}

/// Derives both ESP directions: KEYMAT per SPI, encryption key first, then integrity key.
pub(crate) fn derive_child(
    sa: &IsakmpSa,
    p: &Phase2Proposal,
    proxy: ProxyId,
    s: &ChildSeed<'_>,
) -> NewChild {
    let one = |spi: u32| {
        let spi_b = spi.to_be_bytes();
        let seed = KeymatSeed {
            gxy_qm: s.gxy,
            protocol: 3,
            spi: &spi_b,
            ni_b: s.ni_b,
            nr_b: s.nr_b,
        };
        let el = p.enc.keymat_len();
        let km = sa.keys.keymat(&seed, el + p.integ.key_len());
        EspKeys {
            spi,
            enc: p.enc,
            enc_key: Zeroizing::new(km.get(..el).unwrap_or(&[]).to_vec()),
            integ: p.integ,
            integ_key: Zeroizing::new(km.get(el..).unwrap_or(&[]).to_vec()),
        }
    };
    NewChild {
        inbound: one(s.our_spi),
        outbound: one(s.their_spi),
        proposal: *p,
        proxy,
    }
}
