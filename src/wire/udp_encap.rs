//! Demultiplexing of datagrams on UDP port 4500 (RFC 3948 §2): NAT keepalive, IKE behind the
//! non-ESP marker, or ESP.

/// The four zero bytes that prefix IKE messages on port 4500.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// The one-byte NAT-keepalive payload (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: [u8; 1] = [0xff];

/// What a datagram received on port 4500 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encapsulated<'a> {
    /// A NAT keepalive; nothing to do.
    Keepalive,
    /// An IKE message (marker removed).
    Ike(&'a [u8]),
    /// An ESP packet starting at its SPI.
    Esp(&'a [u8]),
    /// Too short to be any of them.
    Malformed,
}

/// Classifies a datagram received on port 4500.
pub fn classify(d: &[u8]) -> Encapsulated<'_> {
    match d {
        [0xff] => Encapsulated::Keepalive,
        [0, 0, 0, 0, rest @ ..] => Encapsulated::Ike(rest),
        // SPI (non-zero by the match above) + sequence number at least.
        _ if d.len() >= 8 => Encapsulated::Esp(d),
        _ => Encapsulated::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux() {
        assert_eq!(classify(&[0xff]), Encapsulated::Keepalive);
        assert_eq!(classify(&[0, 0, 0, 0, 1, 2]), Encapsulated::Ike(&[1, 2]));
        let esp = [0, 0, 0x10, 0x01, 0, 0, 0, 1, 9];
        assert_eq!(classify(&esp), Encapsulated::Esp(&esp));
        assert_eq!(classify(&[]), Encapsulated::Malformed);
        assert_eq!(classify(&[1, 2, 3]), Encapsulated::Malformed);
        assert_eq!(classify(&[0xfe]), Encapsulated::Malformed);
    }
}
