//! TCP MSS clamping for packets entering or leaving the tunnel (SEIL "tcp mss limit auto"):
//! lowers the MSS option of TCP SYNs so that full-size segments fit the tunnel MTU.

use super::ip::{IpPacket, PROTO_TCP};

/// The largest MSS that fits an MTU for this IP version (IPv4: MTU − 40, IPv6: MTU − 60).
pub fn mss_for_mtu(mtu: u16, ipv6: bool) -> u16 {
    mtu.saturating_sub(if ipv6 { 60 } else { 40 })
}

/// Clamps the MSS option of a TCP SYN in `pkt` (a whole IP packet) to `max_mss`, fixing the
/// TCP checksum incrementally (RFC 1624). Returns true when the packet was changed. Any packet
/// that is not an unfragmented TCP SYN with an MSS option is left as it is.
pub fn clamp(pkt: &mut [u8], max_mss_v4: u16, max_mss_v6: u16) -> bool {
    let (tcp_off, v6) = match IpPacket::new_checked(pkt) {
        Ok(p) if p.protocol() == PROTO_TCP && !p.is_fragment() => {
            (p.header_len(), p.version() == 6)
        }
        _ => return false,
    };
    let max_mss = if v6 { max_mss_v6 } else { max_mss_v4 };
    let Some(tcp) = pkt.get_mut(tcp_off..) else {
        return false;
    };
    if tcp.len() < 20 || tcp[13] & 0x02 == 0 {
        return false;
    }
    let data_off = (tcp[12] >> 4) as usize * 4;
    if data_off < 20 || data_off > tcp.len() {
        return false;
    }
    let mut i = 20;
    while i < data_off {
        match tcp[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&len) = tcp.get(i + 1) else { break };
                let len = len as usize;
                if len < 2 || i + len > data_off {
                    break;
                }
                if kind == 2 && len == 4 {
                    let old = u16::from_be_bytes([tcp[i + 2], tcp[i + 3]]);
                    if old <= max_mss {
                        return false;
                    }
                    tcp[i + 2..i + 4].copy_from_slice(&max_mss.to_be_bytes());
                    let csum = u16::from_be_bytes([tcp[16], tcp[17]]);
                    let new = checksum_adjust(csum, old, max_mss);
                    tcp[16..18].copy_from_slice(&new.to_be_bytes());
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
fn checksum_adjust(hc: u16, old: u16, new: u16) -> u16 {
    let mut sum = (!hc as u32) + (!old as u32 & 0xffff) + new as u32;
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum(data: &[u8]) -> u16 {
        let mut sum = 0u32;
        for c in data.chunks(2) {
            sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    fn tcp_checksum_v4(pkt: &[u8]) -> u16 {
        let tcp = &pkt[20..];
        let mut pseudo = Vec::new();
        pseudo.extend(&pkt[12..20]);
        pseudo.extend([0, 6]);
        pseudo.extend((tcp.len() as u16).to_be_bytes());
        pseudo.extend(tcp);
        checksum(&pseudo)
    }

    fn syn(mss: u16) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 168, 1, 1, 192, 168, 2, 1,
        ];
        let mut tcp = vec![
            0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff,
        ];
        tcp.extend([0, 0, 0, 0, 2, 4]);
        tcp.extend(mss.to_be_bytes());
        p.extend(tcp);
        let c = tcp_checksum_v4(&p);
        p[36..38].copy_from_slice(&c.to_be_bytes());
        assert_eq!(tcp_checksum_v4(&p), 0);
        p
    }

    #[test]
    fn clamps_and_keeps_checksum_valid() {
        let mut p = syn(1460);
        assert!(clamp(&mut p, 1360, 1340));
        assert_eq!(u16::from_be_bytes([p[42], p[43]]), 1360);
        assert_eq!(tcp_checksum_v4(&p), 0, "checksum still verifies");
        let mut small = syn(1200);
        assert!(!clamp(&mut small, 1360, 1340));
        assert_eq!(mss_for_mtu(1400, false), 1360);
        assert_eq!(mss_for_mtu(1400, true), 1340);
    }

    #[test]
    fn ignores_non_syn_and_garbage() {
        let mut p = syn(1460);
        p[33] = 0x10; // ACK only
        assert!(!clamp(&mut p, 1000, 1000));
        let mut p = syn(1460);
        p[40] = 2;
        p[41] = 0; // option length 0 would loop
        assert!(!clamp(&mut p, 1000, 1000));
        for cut in 0..44 {
            let mut p = syn(1460)[..cut].to_vec();
            assert!(!clamp(&mut p, 1000, 1000));
        }
    }
}
