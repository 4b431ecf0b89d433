//! The type-data of the EAP methods we serve, as bounds-checked views with emitters:
//! EAP-MD5 (RFC 3748 §5.4, the CHAP layout of RFC 1994 §4.1) and EAP-MSCHAPv2
//! (draft-kamath-pppext-eap-mschapv2 §2, the MS-CHAP-V2 packets of RFC 2759 §4-§6).
//!
//! Every parser reads bytes a client sent: lengths are checked before use and nothing panics.

use super::mschapv2::{CHALLENGE_LEN, NT_RESPONSE_LEN};

/// EAP method types (RFC 3748 §5, IANA "Method Types").
pub mod method {
    /// Identity.
    pub const IDENTITY: u8 = 1;
    /// Nak (response only): the peer wants another method.
    pub const NAK: u8 = 3;
    /// MD5-Challenge.
    pub const MD5: u8 = 4;
    /// EAP-MSCHAPv2.
    pub const MSCHAPV2: u8 = 26;
}

/// Why EAP type-data could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EapDataError {
    /// Fewer octets than the fixed part.
    #[error("truncated")]
    Truncated,
    /// A length field disagrees with the octets present.
    #[error("length field out of range")]
    BadLength,
    /// An op-code or value size the method does not define.
    #[error("invalid field value")]
    BadValue,
}

/// A CHAP-style value (EAP-MD5 challenge or response): Value-Size, Value, Name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Md5Value<'a> {
    /// The challenge (request) or the MD5 digest (response).
    pub value: &'a [u8],
    /// The optional name after the value.
    pub name: &'a [u8],
}

impl<'a> Md5Value<'a> {
    /// Parses EAP-MD5 type-data.
    pub fn parse(data: &'a [u8]) -> Result<Md5Value<'a>, EapDataError> {
        let (&size, rest) = data.split_first().ok_or(EapDataError::Truncated)?;
        if size == 0 {
            return Err(EapDataError::BadValue);
        }
        let value = rest
            .get(..usize::from(size))
            .ok_or(EapDataError::BadLength)?;
        let name = rest.get(usize::from(size)..).unwrap_or(&[]);
        Ok(Md5Value { value, name })
    }

    /// The type-data octets.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + self.value.len() + self.name.len());
        v.push(u8::try_from(self.value.len()).unwrap_or(u8::MAX));
        v.extend_from_slice(&self.value[..self.value.len().min(255)]);
        v.extend_from_slice(self.name);
        v
    }
}

/// MS-CHAPv2 op-codes (draft-kamath-pppext-eap-mschapv2 §2).
pub mod opcode {
    /// Challenge (server → peer).
    pub const CHALLENGE: u8 = 1;
    /// Response (peer → server).
    pub const RESPONSE: u8 = 2;
    /// Success (request: the authenticator response; response: acknowledgement).
    pub const SUCCESS: u8 = 3;
    /// Failure (request: the error text; response: acknowledgement).
    pub const FAILURE: u8 = 4;
    /// Change-Password (not served).
    pub const CHANGE_PASSWORD: u8 = 7;
}

/// The Response packet a peer sends (RFC 2759 §4, draft-kamath §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MschapResponse<'a> {
    /// MS-CHAPv2-ID, echoing the challenge's.
    pub id: u8,
    /// Peer-Challenge.
    pub peer_challenge: [u8; CHALLENGE_LEN],
    /// NT-Response.
    pub nt_response: [u8; NT_RESPONSE_LEN],
    /// The user name the peer hashed into the challenge.
    pub name: &'a [u8],
}

/// An EAP-MSCHAPv2 packet a peer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MschapPeerPacket<'a> {
    /// Response to our Challenge.
    Response(MschapResponse<'a>),
    /// Acknowledges our Success-Request.
    SuccessAck,
    /// Acknowledges our Failure-Request.
    FailureAck,
}

/// Value-Size of a Response: Peer-Challenge, 8 reserved octets, NT-Response, Flags.
const RESPONSE_VALUE_LEN: usize = CHALLENGE_LEN + 8 + NT_RESPONSE_LEN + 1;

impl<'a> MschapPeerPacket<'a> {
    /// Parses the type-data of an EAP-Response/MSCHAPv2.
    pub fn parse(data: &'a [u8]) -> Result<MschapPeerPacket<'a>, EapDataError> {
        let (&op, _) = data.split_first().ok_or(EapDataError::Truncated)?;
        match op {
            opcode::SUCCESS => Ok(MschapPeerPacket::SuccessAck),
            opcode::FAILURE => Ok(MschapPeerPacket::FailureAck),
            opcode::RESPONSE => parse_response(data).map(MschapPeerPacket::Response),
            _ => Err(EapDataError::BadValue),
        }
    }
}

fn parse_response(data: &[u8]) -> Result<MschapResponse<'_>, EapDataError> {
    // OpCode, MS-CHAPv2-ID, MS-Length (2), Value-Size, Value, Name
    let header = data.get(..5).ok_or(EapDataError::Truncated)?;
    let ms_length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if ms_length != data.len() {
        return Err(EapDataError::BadLength);
    }
    if usize::from(header[4]) != RESPONSE_VALUE_LEN {
        return Err(EapDataError::BadValue);
    }
    let value = data
        .get(5..5 + RESPONSE_VALUE_LEN)
        .ok_or(EapDataError::Truncated)?;
    let mut peer_challenge = [0u8; CHALLENGE_LEN];
    peer_challenge.copy_from_slice(&value[..CHALLENGE_LEN]);
    let mut nt_response = [0u8; NT_RESPONSE_LEN];
    nt_response.copy_from_slice(&value[CHALLENGE_LEN + 8..CHALLENGE_LEN + 8 + NT_RESPONSE_LEN]);
    Ok(MschapResponse {
        id: header[1],
        peer_challenge,
        nt_response,
        name: data.get(5 + RESPONSE_VALUE_LEN..).unwrap_or(&[]),
    })
}

/// Type-data of our Challenge request: the authenticator challenge and our name.
pub fn mschap_challenge(id: u8, challenge: &[u8; CHALLENGE_LEN], name: &[u8]) -> Vec<u8> {
    let name = &name[..name.len().min(255)];
    let len = 5 + CHALLENGE_LEN + name.len();
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&[opcode::CHALLENGE, id]);
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.push(CHALLENGE_LEN as u8);
    v.extend_from_slice(challenge);
    v.extend_from_slice(name);
    v
}

/// Type-data of a Success or Failure request carrying a message (`S=… M=…` or `E=… R=0 …`).
pub fn mschap_message(op: u8, id: u8, message: &str) -> Vec<u8> {
    let text = &message.as_bytes()[..message.len().min(1000)];
    let len = 4 + text.len();
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&[op, id]);
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.extend_from_slice(text);
    v
}

/// An EAP-MSCHAPv2 request as a client reads it (tests and the fuzz harness play the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MschapRequest<'a> {
    /// Op-code.
    pub op: u8,
    /// MS-CHAPv2-ID.
    pub id: u8,
    /// The challenge (Challenge only; empty otherwise).
    pub value: &'a [u8],
    /// Our name (Challenge) or the message text (Success, Failure).
    pub text: &'a [u8],
}

/// Parses the type-data of a request we sent.
pub fn parse_request(data: &[u8]) -> Result<MschapRequest<'_>, EapDataError> {
    let header = data.get(..4).ok_or(EapDataError::Truncated)?;
    let ms_length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if ms_length != data.len() {
        return Err(EapDataError::BadLength);
    }
    let (op, id) = (header[0], header[1]);
    if op != opcode::CHALLENGE {
        return Ok(MschapRequest {
            op,
            id,
            value: &[],
            text: &data[4..],
        });
    }
    let size = usize::from(*data.get(4).ok_or(EapDataError::Truncated)?);
    let value = data.get(5..5 + size).ok_or(EapDataError::BadLength)?;
    Ok(MschapRequest {
        op,
        id,
        value,
        text: &data[5 + size..],
    })
}

/// Type-data of a peer's Response (for tests and the fuzz harness, which play the client).
pub fn mschap_response(r: &MschapResponse<'_>) -> Vec<u8> {
    let len = 5 + RESPONSE_VALUE_LEN + r.name.len();
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&[opcode::RESPONSE, r.id]);
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.push(RESPONSE_VALUE_LEN as u8);
    v.extend_from_slice(&r.peer_challenge);
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&r.nt_response);
    v.push(0);
    v.extend_from_slice(r.name);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_value_by_hand() {
        let b = [3, 1, 2, 3, b'g', b'w'];
        let v = Md5Value::parse(&b).unwrap();
        assert_eq!((v.value, v.name), (&[1, 2, 3][..], &b"gw"[..]));
        assert_eq!(v.to_vec(), b);
        assert_eq!(Md5Value::parse(&b[..3]), Err(EapDataError::BadLength));
        assert_eq!(Md5Value::parse(&[]), Err(EapDataError::Truncated));
        assert_eq!(Md5Value::parse(&[0]), Err(EapDataError::BadValue));
    }

    #[test]
    fn mschap_response_round_trip_and_refusals() {
        let r = MschapResponse {
            id: 9,
            peer_challenge: [7; 16],
            nt_response: [5; 24],
            name: b"alice",
        };
        let b = mschap_response(&r);
        assert_eq!(b.len(), 59);
        assert_eq!(
            MschapPeerPacket::parse(&b),
            Ok(MschapPeerPacket::Response(r))
        );
        let mut short = b.clone();
        short.pop();
        assert_eq!(
            MschapPeerPacket::parse(&short),
            Err(EapDataError::BadLength)
        );
        let mut bad_size = b.clone();
        bad_size[4] = 48;
        assert_eq!(
            MschapPeerPacket::parse(&bad_size),
            Err(EapDataError::BadValue)
        );
        assert_eq!(
            MschapPeerPacket::parse(&[3]),
            Ok(MschapPeerPacket::SuccessAck)
        );
        assert_eq!(
            MschapPeerPacket::parse(&[7, 1]),
            Err(EapDataError::BadValue)
        );
        assert_eq!(
            MschapPeerPacket::parse(&[2, 1, 0]),
            Err(EapDataError::Truncated)
        );
    }

    #[test]
    fn challenge_request_by_hand() {
        let c = mschap_challenge(4, &[0xaa; 16], b"gw");
        assert_eq!(&c[..5], &[1, 4, 0, 23, 16]);
        let r = parse_request(&c).unwrap();
        assert_eq!(
            (r.op, r.id, r.value, r.text),
            (1, 4, &[0xaa; 16][..], &b"gw"[..])
        );
        let m = mschap_message(opcode::FAILURE, 4, "E=691 R=0");
        assert_eq!(&m[..4], &[4, 4, 0, 13]);
        assert_eq!(parse_request(&m).unwrap().text, b"E=691 R=0");
    }
}
