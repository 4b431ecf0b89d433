//! IKEv2 (RFC 7296) messages: zero-copy, bounds-checked views for parsing and `Repr` types that
//! emit into a caller buffer. IKE fragmentation (RFC 7383) adds the SKF payload.
//!
//! Every parser takes bytes straight from the network: lengths are checked before any access,
//! counts are bounded, unknown registry values parse as open newtypes, and nothing panics. The
//! registries are IKEv2's own and stay apart from IKEv1's in [`super::isakmp`].

#![deny(missing_docs)]

pub mod cert;
pub mod cp;
pub mod eap;
pub mod header;
pub mod id;
pub mod message;
pub mod notify;
pub mod opaque;
pub mod payload;
pub mod sa;
pub mod skf;
pub mod ts;
pub mod writer;

pub use cert::{CertEncoding, CertRepr};
pub use cp::{CfgType, CpAttribute, CpAttributeType, CpRepr};
pub use eap::{EapCode, EapRepr};
pub use header::{Flags, Header, HeaderRepr, HEADER_LEN};
pub use id::{AuthMethod, AuthRepr, IdRepr, IdType, Side};
pub use message::Payload;
pub use notify::{DeleteRepr, NotifyRepr, NotifyType};
pub use opaque::{KeRepr, NonceRepr, VendorIdRepr};
pub use payload::{Payloads, RawPayload, GENERIC_HEADER_LEN, MAX_PAYLOADS};
pub use sa::{ProposalRepr, ProtocolId, SaPayload, SaRepr, TransformRepr, TransformType};
pub use skf::SkfRepr;
pub use ts::{TrafficSelector, TsRepr, TsType};
pub use writer::{MessageWriter, PayloadRepr, SkSlot};

/// Why an IKEv2 message or payload could not be parsed or emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer bytes than the fixed part of the structure.
    #[error("truncated")]
    Truncated,
    /// A length field disagrees with the bytes available or is below its minimum.
    #[error("length field out of range")]
    BadLength,
    /// More payloads, proposals, transforms, attributes or selectors than we accept.
    #[error("too many items")]
    TooMany,
    /// IKE major version other than 2 (the engine answers INVALID_MAJOR_VERSION).
    #[error("unsupported IKE major version {0}")]
    BadVersion(u8),
    /// A field holds a value that the structure does not allow.
    #[error("invalid field value")]
    BadValue,
    /// A payload of a type we do not know carries the critical bit (the engine answers
    /// UNSUPPORTED_CRITICAL_PAYLOAD with this type as notification data).
    #[error("unsupported critical payload {0}")]
    UnsupportedCritical(PayloadType),
    /// On emit: the value does not fit its length field or the caller's buffer.
    #[error("does not fit")]
    TooLong,
}

open_enum! {
    /// IKEv2 exchange type (RFC 7296 §3.1, RFC 9242, RFC 9370).
    ExchangeType(u8) {
        /// IKE_SA_INIT.
        IKE_SA_INIT = 34,
        /// IKE_AUTH.
        IKE_AUTH = 35,
        /// CREATE_CHILD_SA.
        CREATE_CHILD_SA = 36,
        /// INFORMATIONAL.
        INFORMATIONAL = 37,
        /// IKE_INTERMEDIATE (RFC 9242).
        IKE_INTERMEDIATE = 43,
        /// IKE_FOLLOWUP_KE (RFC 9370).
        IKE_FOLLOWUP_KE = 44,
    }
}

open_enum! {
    /// IKEv2 payload type, the value of a Next Payload field (RFC 7296 §3.2, RFC 7383).
    PayloadType(u8) {
        /// No Next Payload: end of the chain.
        NO_NEXT = 0,
        /// Security Association.
        SA = 33,
        /// Key Exchange.
        KE = 34,
        /// Identification - Initiator.
        IDI = 35,
        /// Identification - Responder.
        IDR = 36,
        /// Certificate.
        CERT = 37,
        /// Certificate Request.
        CERTREQ = 38,
        /// Authentication.
        AUTH = 39,
        /// Nonce.
        NONCE = 40,
        /// Notify.
        N = 41,
        /// Delete.
        D = 42,
        /// Vendor ID.
        V = 43,
        /// Traffic Selector - Initiator.
        TSI = 44,
        /// Traffic Selector - Responder.
        TSR = 45,
        /// Encrypted and Authenticated.
        SK = 46,
        /// Configuration.
        CP = 47,
        /// Extensible Authentication.
        EAP = 48,
        /// Encrypted and Authenticated Fragment (RFC 7383).
        SKF = 53,
    }
}

impl PayloadType {
    /// True for a payload type this module knows how to parse (including NO_NEXT).
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }

    /// True for SK and SKF, whose Next Payload names the first payload inside the encryption.
    pub fn is_encrypted(self) -> bool {
        self == PayloadType::SK || self == PayloadType::SKF
    }
}

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

/// Copies `src` into `dst` at `off`, refusing what does not fit.
pub(crate) fn put(dst: &mut [u8], off: usize, src: &[u8]) -> Result<(), Error> {
    let end = off.checked_add(src.len()).ok_or(Error::TooLong)?;
    dst.get_mut(off..end)
        .ok_or(Error::TooLong)?
        .copy_from_slice(src);
    Ok(())
}

#[cfg(test)]
mod proptests;
