//! Traffic Selector payloads TSi/TSr (RFC 7296 §3.13): address ranges with protocol and ports;
//! IPv4 and IPv6 selectors may share one payload.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::id::Side;
use super::writer::PayloadRepr;
use super::{be16, put, Error, PayloadType};

/// Most selectors we read from one payload.
pub const MAX_SELECTORS: usize = 32;

open_enum! {
    /// Traffic selector type (RFC 7296 §3.13.1).
    TsType(u8) {
        /// An IPv4 address range.
        TS_IPV4_ADDR_RANGE = 7,
        /// An IPv6 address range.
        TS_IPV6_ADDR_RANGE = 8,
    }
}

/// One address-range selector: IP protocol (0 = any), port range and address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrafficSelector {
    /// IP protocol number, 0 for any.
    pub ip_protocol: u8,
    /// First port (0 for any).
    pub start_port: u16,
    /// Last port (65535 for any).
    pub end_port: u16,
    /// First address; its family decides the selector type.
    pub start: IpAddr,
    /// Last address, of the same family as `start`.
    pub end: IpAddr,
}

impl TrafficSelector {
    /// The selector type its address family calls for.
    pub fn ts_type(&self) -> TsType {
        match self.start {
            IpAddr::V4(_) => TsType::TS_IPV4_ADDR_RANGE,
            IpAddr::V6(_) => TsType::TS_IPV6_ADDR_RANGE,
        }
    }

    fn buffer_len(&self) -> usize {
        match self.start {
            IpAddr::V4(_) => 16,
            IpAddr::V6(_) => 40,
        }
    }

    fn parse(kind: TsType, b: &[u8]) -> Result<TrafficSelector, Error> {
        let (start, end) = match kind {
            TsType::TS_IPV4_ADDR_RANGE => (v4(b, 8)?, v4(b, 12)?),
            TsType::TS_IPV6_ADDR_RANGE => (v6(b, 8)?, v6(b, 24)?),
            _ => return Err(Error::BadValue),
        };
        if b.len() != 8 + 2 * addr_len(&start) {
            return Err(Error::BadLength);
        }
        Ok(TrafficSelector {
            ip_protocol: *b.get(1).ok_or(Error::Truncated)?,
            start_port: be16(b, 4).ok_or(Error::Truncated)?,
            end_port: be16(b, 6).ok_or(Error::Truncated)?,
            start,
            end,
        })
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let len = self.buffer_len();
        put(buf, 0, &[self.ts_type().0, self.ip_protocol])?;
        put(buf, 2, &(len as u16).to_be_bytes())?;
        put(buf, 4, &self.start_port.to_be_bytes())?;
        put(buf, 6, &self.end_port.to_be_bytes())?;
        match (self.start, self.end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => {
                put(buf, 8, &s.octets()).and(put(buf, 12, &e.octets()))?
            }
            (IpAddr::V6(s), IpAddr::V6(e)) => {
                put(buf, 8, &s.octets()).and(put(buf, 24, &e.octets()))?
            }
            _ => return Err(Error::BadValue),
        }
        Ok(len)
    }
}

fn addr_len(a: &IpAddr) -> usize {
    match a {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 16,
    }
}

fn v4(b: &[u8], off: usize) -> Result<IpAddr, Error> {
    let s: [u8; 4] = b
        .get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::BadLength)?;
    Ok(IpAddr::V4(Ipv4Addr::from(s)))
}

fn v6(b: &[u8], off: usize) -> Result<IpAddr, Error> {
    let s: [u8; 16] = b
        .get(off..off + 16)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::BadLength)?;
    Ok(IpAddr::V6(Ipv6Addr::from(s)))
}

/// A TSi or TSr payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TsRepr {
    /// Initiator's (TSi) or responder's (TSr).
    pub side: Side,
    /// The selectors (at least one).
    pub selectors: Vec<TrafficSelector>,
}

impl TsRepr {
    /// Parses a TS body for `side`; the declared count must match the selectors present.
    /// A selector type other than the two address ranges is [`Error::BadValue`].
    pub fn parse(side: Side, body: &[u8]) -> Result<TsRepr, Error> {
        let n = usize::from(*body.first().ok_or(Error::Truncated)?);
        if n == 0 {
            return Err(Error::BadValue);
        }
        if n > MAX_SELECTORS {
            return Err(Error::TooMany);
        }
        let mut rest = body.get(4..).ok_or(Error::Truncated)?;
        let mut selectors = Vec::with_capacity(n);
        for _ in 0..n {
            let kind = TsType(*rest.first().ok_or(Error::Truncated)?);
            let len = usize::from(be16(rest, 2).ok_or(Error::Truncated)?);
            let sel = rest.get(..len).ok_or(Error::BadLength)?;
            selectors.push(TrafficSelector::parse(kind, sel)?);
            rest = rest.get(len..).unwrap_or(&[]);
        }
        if !rest.is_empty() {
            return Err(Error::BadLength);
        }
        Ok(TsRepr { side, selectors })
    }
}

impl PayloadRepr for TsRepr {
    fn kind(&self) -> PayloadType {
        match self.side {
            Side::Initiator => PayloadType::TSI,
            Side::Responder => PayloadType::TSR,
        }
    }

    fn buffer_len(&self) -> usize {
        4 + self
            .selectors
            .iter()
            .map(TrafficSelector::buffer_len)
            .sum::<usize>()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let n = u8::try_from(self.selectors.len()).map_err(|_| Error::TooLong)?;
        if n == 0 || self.selectors.len() > MAX_SELECTORS {
            return Err(Error::BadValue);
        }
        put(buf, 0, &[n, 0, 0, 0])?;
        let mut off = 4;
        for s in &self.selectors {
            off += s.emit(buf.get_mut(off..).ok_or(Error::TooLong)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TSi with 10.0.0.0-10.0.0.255 any protocol/port and 2001:db8::-2001:db8::ffff TCP port 443.
    fn two_families() -> Vec<u8> {
        let mut b = vec![2, 0, 0, 0]; // two selectors
        b.extend_from_slice(&[7, 0, 0, 16, 0, 0, 0xff, 0xff, 10, 0, 0, 0, 10, 0, 0, 255]);
        b.extend_from_slice(&[8, 6, 0, 40, 1, 0xbb, 1, 0xbb]);
        b.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&[
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
        ]);
        b
    }

    #[test]
    fn parses_ipv4_and_ipv6_in_one_payload() {
        let b = two_families();
        let ts = TsRepr::parse(Side::Initiator, &b).unwrap();
        assert_eq!(ts.selectors.len(), 2);
        let s = ts.selectors[0];
        assert_eq!((s.ip_protocol, s.start_port, s.end_port), (0, 0, 65535));
        assert_eq!(
            (s.start, s.end),
            ("10.0.0.0".parse().unwrap(), "10.0.0.255".parse().unwrap())
        );
        let s = ts.selectors[1];
        assert_eq!((s.ip_protocol, s.start_port, s.end_port), (6, 443, 443));
        assert_eq!(
            (s.start, s.end),
            (
                "2001:db8::".parse().unwrap(),
                "2001:db8::ffff".parse().unwrap()
            )
        );
        let mut out = vec![0u8; ts.buffer_len()];
        ts.emit(&mut out).unwrap();
        assert_eq!(out, b);
        assert_eq!(ts.kind(), PayloadType::TSI);
    }

    #[test]
    fn rejects_malformed_selectors() {
        let b = two_families();
        let mut c = b.clone();
        c[0] = 3;
        assert_eq!(TsRepr::parse(Side::Responder, &c), Err(Error::Truncated));
        let mut c = b.clone();
        c[0] = 1;
        assert_eq!(TsRepr::parse(Side::Responder, &c), Err(Error::BadLength));
        let mut c = b.clone();
        c[7] = 17; // IPv4 selector claiming 17 bytes
        assert_eq!(TsRepr::parse(Side::Responder, &c), Err(Error::BadLength));
        let mut c = b.clone();
        c[4] = 9; // unknown selector type
        assert_eq!(TsRepr::parse(Side::Responder, &c), Err(Error::BadValue));
        assert_eq!(
            TsRepr::parse(Side::Responder, &b[..b.len() - 1]),
            Err(Error::BadLength)
        );
        assert_eq!(
            TsRepr::parse(Side::Responder, &[0, 0, 0, 0]),
            Err(Error::BadValue)
        );
        let mixed = TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: 0,
            start: "10.0.0.1".parse().unwrap(),
            end: "::1".parse().unwrap(),
        };
        let ts = TsRepr {
            side: Side::Initiator,
            selectors: vec![mixed],
        };
        assert_eq!(ts.emit(&mut [0u8; 64]), Err(Error::BadValue));
    }
}
