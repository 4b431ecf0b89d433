//! ISAKMP (RFC 2408) with the IPsec DOI (RFC 2407), IKEv1 (RFC 2409) and NAT-T (RFC 3947):
//! zero-copy, bounds-checked views for parsing and `Repr`/builder types for emitting.
//!
//! Every parser here takes bytes straight from the network: lengths are checked before any
//! access, counts are bounded, and unknown registry values parse as open newtypes.

#![deny(missing_docs)]

pub mod cert;
pub mod cfg;
pub mod fragment;
pub mod header;
pub mod id;
pub mod notify;
pub mod payload;
pub mod sa;

pub use cert::{CertEncoding, CertPayload};
pub use fragment::FragmentPayload;
pub use header::{Flags, Header, HeaderRepr, HEADER_LEN};
pub use id::IdPayload;
pub use notify::{DeletePayload, NotifyPayload};
pub use payload::{PayloadChain, Payloads, RawPayload, MAX_PAYLOADS};
pub use sa::{AttrValue, Attribute, AttributeRepr, Proposal, ProposalRepr, SaPayload, SaRepr};
pub use sa::{Transform, TransformRepr};

/// Why a message or payload could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the fixed part of the structure.
    #[error("truncated")]
    Truncated,
    /// A length field disagrees with the bytes available or is below the minimum.
    #[error("length field out of range")]
    BadLength,
    /// More payloads, proposals, transforms or attributes than we accept.
    #[error("too many items")]
    TooMany,
    /// ISAKMP major version other than 1.
    #[error("unsupported ISAKMP version")]
    BadVersion,
    /// A field holds a value that the structure does not allow (e.g. wrong nested type).
    #[error("invalid field value")]
    BadValue,
}

open_enum! {
    /// ISAKMP "Next Payload" type (RFC 2408 §3.1, RFC 3947 §3 for NAT-D/NAT-OA).
    PayloadType(u8) {
        /// End of the chain.
        NONE = 0,
        /// Security Association.
        SA = 1,
        /// Proposal (only inside SA).
        PROPOSAL = 2,
        /// Transform (only inside a proposal).
        TRANSFORM = 3,
        /// Key Exchange.
        KE = 4,
        /// Identification.
        ID = 5,
        /// Certificate.
        CERT = 6,
        /// Certificate Request.
        CERT_REQ = 7,
        /// Hash.
        HASH = 8,
        /// Signature.
        SIG = 9,
        /// Nonce.
        NONCE = 10,
        /// Notification.
        NOTIFY = 11,
        /// Delete.
        DELETE = 12,
        /// Vendor ID.
        VENDOR_ID = 13,
        /// Attribute (mode-config and XAUTH, in the Transaction exchange).
        ATTRIBUTE = 14,
        /// NAT-Discovery (RFC 3947).
        NAT_D = 20,
        /// NAT Original Address (RFC 3947).
        NAT_OA = 21,
        /// NAT-Discovery in draft-ietf-ipsec-nat-t-ike-02/03.
        NAT_D_DRAFT = 130,
        /// NAT Original Address in the drafts.
        NAT_OA_DRAFT = 131,
        /// IKEv1 fragment (Cisco's proprietary fragmentation, as strongSwan and racoon do it).
        FRAGMENT = 132,
    }
}

open_enum! {
    /// ISAKMP exchange type (RFC 2408 §3.1, RFC 2409 §9 for Quick Mode).
    ExchangeType(u8) {
        /// Base exchange.
        BASE = 1,
        /// Identity Protection (IKEv1 Main Mode).
        IDENTITY_PROTECTION = 2,
        /// Authentication Only.
        AUTH_ONLY = 3,
        /// Aggressive.
        AGGRESSIVE = 4,
        /// Informational.
        INFORMATIONAL = 5,
        /// Transaction (mode-config / XAUTH).
        TRANSACTION = 6,
        /// Quick Mode.
        QUICK_MODE = 32,
        /// New Group Mode.
        NEW_GROUP_MODE = 33,
    }
}

open_enum! {
    /// Notify message type (RFC 2408 §3.14.1, RFC 2407 §4.6.3, RFC 3706).
    NotifyType(u16) {
        /// INVALID-PAYLOAD-TYPE.
        INVALID_PAYLOAD_TYPE = 1,
        /// DOI-NOT-SUPPORTED.
        DOI_NOT_SUPPORTED = 2,
        /// SITUATION-NOT-SUPPORTED.
        SITUATION_NOT_SUPPORTED = 3,
        /// INVALID-COOKIE.
        INVALID_COOKIE = 4,
        /// INVALID-MAJOR-VERSION.
        INVALID_MAJOR_VERSION = 5,
        /// INVALID-MINOR-VERSION.
        INVALID_MINOR_VERSION = 6,
        /// INVALID-EXCHANGE-TYPE.
        INVALID_EXCHANGE_TYPE = 7,
        /// INVALID-FLAGS.
        INVALID_FLAGS = 8,
        /// INVALID-MESSAGE-ID.
        INVALID_MESSAGE_ID = 9,
        /// INVALID-PROTOCOL-ID.
        INVALID_PROTOCOL_ID = 10,
        /// INVALID-SPI.
        INVALID_SPI = 11,
        /// INVALID-TRANSFORM-ID.
        INVALID_TRANSFORM_ID = 12,
        /// ATTRIBUTES-NOT-SUPPORTED.
        ATTRIBUTES_NOT_SUPPORTED = 13,
        /// NO-PROPOSAL-CHOSEN.
        NO_PROPOSAL_CHOSEN = 14,
        /// BAD-PROPOSAL-SYNTAX.
        BAD_PROPOSAL_SYNTAX = 15,
        /// PAYLOAD-MALFORMED.
        PAYLOAD_MALFORMED = 16,
        /// INVALID-KEY-INFORMATION.
        INVALID_KEY_INFORMATION = 17,
        /// INVALID-ID-INFORMATION.
        INVALID_ID_INFORMATION = 18,
        /// INVALID-CERT-ENCODING.
        INVALID_CERT_ENCODING = 19,
        /// INVALID-CERTIFICATE.
        INVALID_CERTIFICATE = 20,
        /// CERT-TYPE-UNSUPPORTED.
        CERT_TYPE_UNSUPPORTED = 21,
        /// INVALID-CERT-AUTHORITY.
        INVALID_CERT_AUTHORITY = 22,
        /// INVALID-HASH-INFORMATION.
        INVALID_HASH_INFORMATION = 23,
        /// AUTHENTICATION-FAILED.
        AUTHENTICATION_FAILED = 24,
        /// INVALID-SIGNATURE.
        INVALID_SIGNATURE = 25,
        /// ADDRESS-NOTIFICATION.
        ADDRESS_NOTIFICATION = 26,
        /// NOTIFY-SA-LIFETIME.
        NOTIFY_SA_LIFETIME = 27,
        /// CERTIFICATE-UNAVAILABLE.
        CERTIFICATE_UNAVAILABLE = 28,
        /// UNSUPPORTED-EXCHANGE-TYPE.
        UNSUPPORTED_EXCHANGE_TYPE = 29,
        /// UNEQUAL-PAYLOAD-LENGTHS.
        UNEQUAL_PAYLOAD_LENGTHS = 30,
        /// RESPONDER-LIFETIME (RFC 2407 §4.6.3.1).
        RESPONDER_LIFETIME = 24576,
        /// REPLAY-STATUS (RFC 2407 §4.6.3.2).
        REPLAY_STATUS = 24577,
        /// INITIAL-CONTACT (RFC 2407 §4.6.3.3).
        INITIAL_CONTACT = 24578,
        /// R-U-THERE (RFC 3706).
        R_U_THERE = 36136,
        /// R-U-THERE-ACK (RFC 3706).
        R_U_THERE_ACK = 36137,
    }
}

impl NotifyType {
    /// True for the error range (1–16383) of RFC 2408 §3.14.1.
    pub fn is_error(self) -> bool {
        (1..16384).contains(&self.0)
    }
}

open_enum! {
    /// Protocol ID in proposals, notifications and deletes (RFC 2407 §4.4.1).
    ProtocolId(u8) {
        /// ISAKMP (phase 1).
        ISAKMP = 1,
        /// AH.
        IPSEC_AH = 2,
        /// ESP.
        IPSEC_ESP = 3,
        /// IPComp.
        IPCOMP = 4,
    }
}

open_enum! {
    /// Identification type (RFC 2407 §4.6.2.1).
    IdType(u8) {
        /// A single IPv4 address.
        IPV4_ADDR = 1,
        /// A fully-qualified domain name.
        FQDN = 2,
        /// user@domain.
        USER_FQDN = 3,
        /// IPv4 address and netmask.
        IPV4_ADDR_SUBNET = 4,
        /// A single IPv6 address.
        IPV6_ADDR = 5,
        /// IPv6 address and netmask.
        IPV6_ADDR_SUBNET = 6,
        /// IPv4 address range.
        IPV4_ADDR_RANGE = 7,
        /// IPv6 address range.
        IPV6_ADDR_RANGE = 8,
        /// DER-encoded X.500 distinguished name.
        DER_ASN1_DN = 9,
        /// DER-encoded X.500 general name.
        DER_ASN1_GN = 10,
        /// Opaque key identifier.
        KEY_ID = 11,
    }
}

/// The IPsec Domain of Interpretation number (RFC 2407 §4.2).
pub const DOI_IPSEC: u32 = 1;
/// IPsec DOI situation SIT_IDENTITY_ONLY (RFC 2407 §4.2).
pub const SIT_IDENTITY_ONLY: u32 = 1;

/// Reads a big-endian u16 at `off`, if in bounds.
pub(crate) fn be16(b: &[u8], off: usize) -> Option<u16> {
    match b.get(off..off.checked_add(2)?)? {
        [x, y] => Some(u16::from_be_bytes([*x, *y])),
        _ => None,
    }
}

/// Reads a big-endian u32 at `off`, if in bounds.
pub(crate) fn be32(b: &[u8], off: usize) -> Option<u32> {
    match b.get(off..off.checked_add(4)?)? {
        [a, x, y, z] => Some(u32::from_be_bytes([*a, *x, *y, *z])),
        _ => None,
    }
}
