//! Identification payload (RFC 2408 §3.8, IPsec DOI layout RFC 2407 §4.6.2).

use super::{be16, IdType, WireError};

/// A parsed ID payload body: type, protocol, port and identification data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdPayload<'a> {
    /// Identification type.
    pub id_type: IdType,
    /// IP protocol (0 = any; SEIL puts 17 in phase 1).
    pub protocol: u8,
    /// Port (0 = any).
    pub port: u16,
    /// Identification data (address, address+mask, name, key id ...).
    pub data: &'a [u8],
}

impl<'a> IdPayload<'a> {
    /// Parses the body (after the generic header).
    pub fn parse(body: &'a [u8]) -> Result<IdPayload<'a>, WireError> {
        let (t, p) = match body.get(..2) {
            Some([t, p]) => (*t, *p),
            _ => return Err(WireError::Truncated),
        };
        let port = be16(body, 2).ok_or(WireError::Truncated)?;
        Ok(IdPayload {
            id_type: IdType(t),
            protocol: p,
            port,
            data: body.get(4..).unwrap_or(&[]),
        })
    }

    /// Encodes a body.
    pub fn emit(id_type: IdType, protocol: u8, port: u16, data: &[u8]) -> Vec<u8> {
        let mut v = vec![id_type.0, protocol];
        v.extend_from_slice(&port.to_be_bytes());
        v.extend_from_slice(data);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SEIL's phase-1 ID (seed 003, #982): ID_IPV4_ADDR, UDP, port 0, 10.0.0.1.
    #[test]
    fn seil_phase1_id() {
        let b = hex::decode("011100000a000001").unwrap();
        let id = IdPayload::parse(&b).unwrap();
        assert_eq!(id.id_type, IdType::IPV4_ADDR);
        assert_eq!(id.protocol, 17);
        assert_eq!(id.port, 0);
        assert_eq!(id.data, &[10, 0, 0, 1]);
        assert_eq!(IdPayload::emit(IdType::IPV4_ADDR, 17, 0, &[10, 0, 0, 1]), b);
    }

    /// Quick Mode proxy-id (seed 003, #985): ID_IPV4_ADDR_SUBNET 192.168.1.0/255.255.255.0.
    #[test]
    fn seil_proxy_id() {
        let b = hex::decode("04000000c0a80100ffffff00").unwrap();
        let id = IdPayload::parse(&b).unwrap();
        assert_eq!(id.id_type, IdType::IPV4_ADDR_SUBNET);
        assert_eq!(id.data.len(), 8);
        assert!(IdPayload::parse(&b[..3]).is_err());
    }
}
