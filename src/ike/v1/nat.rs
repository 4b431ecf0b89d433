//! NAT traversal for IKEv1 (RFC 3947 and draft-ietf-ipsec-nat-t-ike-02/03): vendor IDs, NAT-D
//! hashes and detection, and the RFC 3706 DPD vendor ID.

use std::net::{IpAddr, SocketAddr};

use crate::crypto::prf::HashAlg;
use crate::ike::policy::NatTraversal;
use crate::wire::isakmp::PayloadType;

/// Vendor ID announcing RFC 3947 NAT-T: MD5("RFC 3947").
pub(crate) const VID_NAT_T_RFC3947: [u8; 16] = hex16("4a131c81070358455c5728f20e95452f");
/// Vendor ID of draft-ietf-ipsec-nat-t-ike-02 with the trailing newline.
pub(crate) const VID_NAT_T_DRAFT02N: [u8; 16] = hex16("90cb80913ebb696e086381b5ec427b1f");
/// Vendor ID of draft-ietf-ipsec-nat-t-ike-02 without the newline.
pub(crate) const VID_NAT_T_DRAFT02: [u8; 16] = hex16("cd60464335df21f87cfdb2fc68b6a448");
/// Vendor ID of draft-ietf-ipsec-nat-t-ike-03.
pub(crate) const VID_NAT_T_DRAFT03: [u8; 16] = hex16("7d9419a65310ca6f2c179d9215529d56");
/// Vendor ID announcing RFC 3706 Dead Peer Detection.
pub(crate) const VID_DPD: [u8; 16] = hex16("afcad71368a1f1c96b8696fc77570100");

const fn hex16(s: &str) -> [u8; 16] {
    let b = s.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = (nib(b[2 * i]) << 4) | nib(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nib(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

/// Which NAT-T dialect both sides speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NatTMethod {
    /// No NAT-T.
    None,
    /// RFC 3947 (NAT-D payload 20, encapsulation mode 3).
    Rfc3947,
    /// The drafts (NAT-D payload 130, encapsulation mode 61443).
    Draft,
}

impl NatTMethod {
    /// The NAT-D payload type of this dialect.
    pub fn nat_d_type(self) -> PayloadType {
        match self {
            NatTMethod::Draft => PayloadType::NAT_D_DRAFT,
            _ => PayloadType::NAT_D,
        }
    }
}

/// What the peer announced in its vendor IDs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PeerVendorIds {
    pub nat_t_rfc: bool,
    pub nat_t_draft: bool,
    pub dpd: bool,
    /// Phase-1 fragmentation (the FRAGMENTATION vendor ID with the IKE capability).
    pub fragmentation: bool,
}

impl PeerVendorIds {
    /// Records one vendor ID payload.
    pub fn add(&mut self, vid: &[u8]) {
        if vid == VID_NAT_T_RFC3947 {
            self.nat_t_rfc = true;
        } else if vid == VID_NAT_T_DRAFT02N || vid == VID_NAT_T_DRAFT02 || vid == VID_NAT_T_DRAFT03
        {
            self.nat_t_draft = true;
        } else if vid.get(..16) == Some(&VID_DPD[..]) {
            self.dpd = true;
        } else if super::fragment::announces_fragmentation(vid) {
            self.fragmentation = true;
        }
    }

    /// The dialect to use given our setting.
    pub fn method(&self, ours: NatTraversal) -> NatTMethod {
        match ours {
            NatTraversal::Disable => NatTMethod::None,
            _ if self.nat_t_rfc => NatTMethod::Rfc3947,
            _ if self.nat_t_draft => NatTMethod::Draft,
            _ => NatTMethod::None,
        }
    }
}

/// The vendor IDs we send in Main Mode message 1 (initiator): DPD, RFC 3947, draft-02\n.
pub(crate) fn initiator_vids(nat: NatTraversal) -> Vec<&'static [u8]> {
    let mut v: Vec<&'static [u8]> = vec![&VID_DPD];
    if nat != NatTraversal::Disable {
        v.push(&VID_NAT_T_RFC3947);
        v.push(&VID_NAT_T_DRAFT02N);
    }
    v
}

/// The vendor IDs we answer with in message 2: DPD and the NAT-T dialect we picked.
pub(crate) fn responder_vids(method: NatTMethod) -> Vec<&'static [u8]> {
    let mut v: Vec<&'static [u8]> = vec![&VID_DPD];
    match method {
        NatTMethod::Rfc3947 => v.push(&VID_NAT_T_RFC3947),
        NatTMethod::Draft => v.push(&VID_NAT_T_DRAFT02N),
        NatTMethod::None => {}
    }
    v
}

/// NAT-D hash: HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash.
pub(crate) fn nat_d_hash(
    hash: HashAlg,
    cky_i: &[u8; 8],
    cky_r: &[u8; 8],
    addr: SocketAddr,
) -> Vec<u8> {
    let ip: Vec<u8> = match addr.ip() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    hash.hash(&[cky_i, cky_r, &ip, &addr.port().to_be_bytes()])
}

/// The outcome of NAT detection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NatDetection {
    /// We are behind a NAT (or pretend to be, with `Force`).
    pub local_behind: bool,
    /// The peer is behind a NAT (or pretends to be).
    pub peer_behind: bool,
}

impl NatDetection {
    /// True when either side is behind a NAT.
    pub fn any(&self) -> bool {
        self.local_behind || self.peer_behind
    }
}

/// Compares the peer's NAT-D payloads (first: our address as it sent to; rest: its own
/// addresses) with the addresses we see.
pub(crate) fn detect(
    hash: HashAlg,
    cky_i: &[u8; 8],
    cky_r: &[u8; 8],
    received: &[&[u8]],
    local: SocketAddr,
    remote: SocketAddr,
) -> NatDetection {
    let ours = nat_d_hash(hash, cky_i, cky_r, local);
    let theirs = nat_d_hash(hash, cky_i, cky_r, remote);
    let (first, rest) = match received.split_first() {
        Some((f, r)) => (Some(*f), r),
        None => (None, &[][..]),
    };
    NatDetection {
        local_behind: first != Some(ours.as_slice()),
        peer_behind: !rest.contains(&theirs.as_slice()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_ids_are_the_known_md5s() {
        // MD5("RFC 3947") and MD5("draft-ietf-ipsec-nat-t-ike-02\n"), as Python's hashlib says.
        assert_eq!(
            HashAlg::Md5.hash(&[b"RFC 3947"]),
            VID_NAT_T_RFC3947.to_vec()
        );
        assert_eq!(
            HashAlg::Md5.hash(&[b"draft-ietf-ipsec-nat-t-ike-02\n"]),
            VID_NAT_T_DRAFT02N.to_vec()
        );
        assert_eq!(
            HashAlg::Md5.hash(&[b"draft-ietf-ipsec-nat-t-ike-02"]),
            VID_NAT_T_DRAFT02.to_vec()
        );
        assert_eq!(
            HashAlg::Md5.hash(&[b"draft-ietf-ipsec-nat-t-ike-03"]),
            VID_NAT_T_DRAFT03.to_vec()
        );
        let mut p = PeerVendorIds::default();
        p.add(&VID_NAT_T_DRAFT02N);
        assert_eq!(p.method(NatTraversal::Enable), NatTMethod::Draft);
        p.add(&VID_NAT_T_RFC3947);
        assert_eq!(p.method(NatTraversal::Enable), NatTMethod::Rfc3947);
        assert_eq!(p.method(NatTraversal::Disable), NatTMethod::None);
    }

    #[test]
    fn detection() {
        let (ci, cr) = ([1u8; 8], [2u8; 8]);
        let a: SocketAddr = "10.0.0.1:500".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:500".parse().unwrap();
        let h = HashAlg::Sha1;
        // b sends [hash(a), hash(b)]; a checks with local=a, remote=b
        let sent = [nat_d_hash(h, &ci, &cr, a), nat_d_hash(h, &ci, &cr, b)];
        let r: Vec<&[u8]> = sent.iter().map(|v| v.as_slice()).collect();
        assert_eq!(detect(h, &ci, &cr, &r, a, b), NatDetection::default());
        // b's source was rewritten by a NAT
        let nat: SocketAddr = "192.0.2.7:31000".parse().unwrap();
        let d = detect(h, &ci, &cr, &r, a, nat);
        assert!(d.peer_behind && !d.local_behind);
        // python: hashlib.sha1(bytes([1])*8 + bytes([2])*8 + bytes([10,0,0,1]) + (500).to_bytes(2,'big'))
        assert_eq!(
            hex::encode(&sent[0]),
            include_str!("testdata/natd.hex").trim()
        );
    }
}
