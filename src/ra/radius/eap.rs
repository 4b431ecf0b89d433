//! EAP over RADIUS (RFC 3579 §3.1): an EAP packet is split over consecutive EAP-Message
//! attributes of at most 253 bytes and joined again on receipt.

use super::wire::{AttributeType, Packet, PacketBuilder, WireError, MAX_ATTRIBUTE_VALUE};

/// Why the EAP-Message attributes of a packet do not make one EAP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EapError {
    #[error("EAP-Message attributes hold {0} bytes, fewer than an EAP header (4)")]
    Truncated(usize),
    #[error("EAP-Message attributes hold {received} bytes but the EAP header says {length}")]
    LengthMismatch { length: usize, received: usize },
    #[error("EAP-Message attributes are not consecutive")]
    NotConsecutive,
}

/// Appends `eap` as EAP-Message attributes (253-byte pieces, in order).
pub fn push_eap_message(b: &mut PacketBuilder, eap: &[u8]) -> Result<(), WireError> {
    if eap.is_empty() {
        // An empty EAP-Message is EAP-Start (RFC 3579 §2.1).
        b.push(AttributeType::EAP_MESSAGE, &[])?;
        return Ok(());
    }
    for piece in eap.chunks(MAX_ATTRIBUTE_VALUE) {
        b.push(AttributeType::EAP_MESSAGE, piece)?;
    }
    Ok(())
}

/// The EAP packet carried by `packet`'s EAP-Message attributes, `Ok(None)` when there are none.
/// The pieces must be consecutive and add up to the EAP Length field.
pub fn eap_message<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Option<Vec<u8>>, EapError> {
    let mut out: Option<Vec<u8>> = None;
    let mut ended = false;
    for a in packet.attributes() {
        if a.kind != AttributeType::EAP_MESSAGE {
            if out.is_some() {
                ended = true;
            }
            continue;
        }
        if ended {
            return Err(EapError::NotConsecutive);
        }
        out.get_or_insert_with(Vec::new).extend_from_slice(a.value);
    }
    let Some(eap) = out else {
        return Ok(None);
    };
    let Some(len) = eap.get(2..4) else {
        return Err(EapError::Truncated(eap.len()));
    };
    let length = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if length != eap.len() {
        return Err(EapError::LengthMismatch {
            length,
            received: eap.len(),
        });
    }
    Ok(Some(eap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ra::radius::wire::Code;

    fn eap_of_len(n: usize) -> Vec<u8> {
        let mut e = vec![2, 1, (n >> 8) as u8, n as u8];
        e.extend((4..n).map(|i| i as u8));
        e
    }

    #[test]
    fn fragments_and_reassembles() {
        for n in [4, 253, 254, 600, 1020] {
            let eap = eap_of_len(n);
            let mut b = PacketBuilder::new(Code::ACCESS_REQUEST, 1, [0; 16]);
            b.push(AttributeType::USER_NAME, b"u").unwrap();
            push_eap_message(&mut b, &eap).unwrap();
            b.push(AttributeType::MESSAGE_AUTHENTICATOR, &[0; 16])
                .unwrap();
            let bytes = b.emit();
            let p = Packet::new_checked(&bytes[..]).unwrap();
            let pieces = p
                .attributes()
                .filter(|a| a.kind == AttributeType::EAP_MESSAGE)
                .count();
            assert_eq!(pieces, n.div_ceil(253));
            assert_eq!(eap_message(&p).unwrap(), Some(eap));
        }
    }

    #[test]
    fn rejects_split_or_short_pieces() {
        let eap = eap_of_len(300);
        let mut b = PacketBuilder::new(Code::ACCESS_CHALLENGE, 1, [0; 16]);
        b.push(AttributeType::EAP_MESSAGE, &eap[..253]).unwrap();
        b.push(AttributeType::STATE, b"s").unwrap();
        b.push(AttributeType::EAP_MESSAGE, &eap[253..]).unwrap();
        let bytes = b.emit();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(eap_message(&p), Err(EapError::NotConsecutive));

        let mut b = PacketBuilder::new(Code::ACCESS_CHALLENGE, 1, [0; 16]);
        b.push(AttributeType::EAP_MESSAGE, &eap[..253]).unwrap();
        let bytes = b.emit();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            eap_message(&p),
            Err(EapError::LengthMismatch {
                length: 300,
                received: 253
            })
        );
        let mut b = PacketBuilder::new(Code::ACCESS_CHALLENGE, 1, [0; 16]);
        b.push(AttributeType::EAP_MESSAGE, &[1, 2]).unwrap();
        let bytes = b.emit();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(eap_message(&p), Err(EapError::Truncated(2)));
    }
}
