//! Just enough IPv4/IPv6 parsing for a tunnel: version, addresses, lengths, protocol — through
//! bounds-checked views that cannot panic after `new_checked`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of ESP.
pub const PROTO_ESP: u8 = 50;
/// IP protocol number of IPv4-in-IP (ESP next header for an inner IPv4 packet).
pub const PROTO_IPIP: u8 = 4;
/// IP protocol number of IPv6-in-IP (ESP next header for an inner IPv6 packet).
pub const PROTO_IPV6: u8 = 41;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// "No next header": an ESP dummy packet (RFC 4303 §2.6).
pub const PROTO_NONE: u8 = 59;

/// A parsed view of an IPv4 or IPv6 packet whose header and total length were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    buf: &'a [u8],
    header_len: usize,
}

/// Why a buffer is not a sane IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpError {
    /// Shorter than a header, or than the header's own length fields say.
    Truncated,
    /// Version is neither 4 nor 6.
    BadVersion,
    /// IPv4 IHL below 5, or a length field inconsistent with the buffer.
    BadLength,
}

impl<'a> IpPacket<'a> {
    /// Checks that `buf` holds exactly one well-formed IP packet (total length == buffer length).
    pub fn new_checked(buf: &'a [u8]) -> Result<IpPacket<'a>, IpError> {
        let first = *buf.first().ok_or(IpError::Truncated)?;
        match first >> 4 {
            4 => {
                if buf.len() < 20 {
                    return Err(IpError::Truncated);
                }
                let ihl = (first & 0x0f) as usize * 4;
                let total = u16::from_be_bytes([buf[2], buf[3]]) as usize;
                if ihl < 20 || total < ihl || total != buf.len() {
                    return Err(IpError::BadLength);
                }
                Ok(IpPacket {
                    buf,
                    header_len: ihl,
                })
            }
            6 => {
                if buf.len() < 40 {
                    return Err(IpError::Truncated);
                }
                let payload = u16::from_be_bytes([buf[4], buf[5]]) as usize;
                if payload + 40 != buf.len() {
                    return Err(IpError::BadLength);
                }
                Ok(IpPacket {
                    buf,
                    header_len: 40,
                })
            }
            _ => Err(IpError::BadVersion),
        }
    }

    /// Like [`new_checked`](Self::new_checked) but allows trailing bytes after the packet
    /// (raw sockets may hand us more); returns the view trimmed to the IP total length.
    pub fn new_prefix(buf: &'a [u8]) -> Result<IpPacket<'a>, IpError> {
        let first = *buf.first().ok_or(IpError::Truncated)?;
        let total = match first >> 4 {
            4 if buf.len() >= 20 => u16::from_be_bytes([buf[2], buf[3]]) as usize,
            6 if buf.len() >= 40 => u16::from_be_bytes([buf[4], buf[5]]) as usize + 40,
            4 | 6 => return Err(IpError::Truncated),
            _ => return Err(IpError::BadVersion),
        };
        let b = buf.get(..total).ok_or(IpError::Truncated)?;
        IpPacket::new_checked(b)
    }

    /// 4 or 6.
    pub fn version(&self) -> u8 {
        self.buf[0] >> 4
    }

    /// The ESP next-header value that carries this packet in tunnel mode.
    pub fn tunnel_next_header(&self) -> u8 {
        if self.version() == 4 {
            PROTO_IPIP
        } else {
            PROTO_IPV6
        }
    }

    /// Header length (IPv4 IHL × 4, or 40 for IPv6 — extension headers are payload here).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Transport protocol (IPv4 protocol field / IPv6 next header).
    pub fn protocol(&self) -> u8 {
        if self.version() == 4 {
            self.buf[9]
        } else {
            self.buf[6]
        }
    }

    /// Source address.
    pub fn src(&self) -> IpAddr {
        if self.version() == 4 {
            IpAddr::V4(Ipv4Addr::new(
                self.buf[12],
                self.buf[13],
                self.buf[14],
                self.buf[15],
            ))
        } else {
            let mut a = [0u8; 16];
            a.copy_from_slice(&self.buf[8..24]);
            IpAddr::V6(Ipv6Addr::from(a))
        }
    }

    /// Destination address.
    pub fn dst(&self) -> IpAddr {
        if self.version() == 4 {
            IpAddr::V4(Ipv4Addr::new(
                self.buf[16],
                self.buf[17],
                self.buf[18],
                self.buf[19],
            ))
        } else {
            let mut a = [0u8; 16];
            a.copy_from_slice(&self.buf[24..40]);
            IpAddr::V6(Ipv6Addr::from(a))
        }
    }

    /// IPv4 "more fragments" or a non-zero fragment offset.
    pub fn is_fragment(&self) -> bool {
        self.version() == 4 && (u16::from_be_bytes([self.buf[6], self.buf[7]]) & 0x3fff) != 0
    }

    /// Everything after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..]
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ICMP echo request 192.168.1.1 → 192.168.2.1 (as `ping` sends it, 28 bytes).
    pub(crate) const V4_ICMP: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 192, 168, 1, 1,
        192, 168, 2, 1, 0x08, 0x00, 0xf7, 0xff, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn parses_ipv4() {
        let p = IpPacket::new_checked(&V4_ICMP).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.protocol(), 1);
        assert_eq!(p.src(), IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(p.dst(), IpAddr::V4(Ipv4Addr::new(192, 168, 2, 1)));
        assert_eq!(p.tunnel_next_header(), PROTO_IPIP);
        assert!(!p.is_fragment());
    }

    #[test]
    fn parses_ipv6() {
        let mut b = vec![0u8; 48];
        b[0] = 0x60;
        b[5] = 8;
        b[6] = 58;
        b[8] = 0xfd;
        b[24] = 0xfd;
        b[39] = 2;
        let p = IpPacket::new_checked(&b).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.protocol(), 58);
        assert_eq!(p.dst(), "fd00::2".parse::<IpAddr>().unwrap());
        assert_eq!(p.tunnel_next_header(), PROTO_IPV6);
    }

    #[test]
    fn rejects_lies() {
        assert_eq!(IpPacket::new_checked(&[]), Err(IpError::Truncated));
        assert_eq!(
            IpPacket::new_checked(&V4_ICMP[..27]),
            Err(IpError::BadLength)
        );
        let mut b = V4_ICMP;
        b[0] = 0x44;
        assert_eq!(IpPacket::new_checked(&b), Err(IpError::BadLength));
        b[0] = 0x55;
        assert_eq!(IpPacket::new_checked(&b), Err(IpError::BadVersion));
        let mut long = V4_ICMP.to_vec();
        long.extend([0; 5]);
        assert!(IpPacket::new_checked(&long).is_err());
        assert_eq!(IpPacket::new_prefix(&long).unwrap().as_bytes().len(), 28);
        for cut in 0..28 {
            assert!(IpPacket::new_prefix(&V4_ICMP[..cut]).is_err());
        }
    }
}
