//! IKEv2 message protection: encrypted messages (SK, RFC 7296 §3.14) and their fragments (SKF,
//! RFC 7383), decryption and reassembly, and the NAT detection hashes (§2.23).

use std::net::SocketAddr;

use zeroize::Zeroizing;

use crate::crypto::ikev2::{open, sk_body_len, IkeSaKeys, SkKey};
use crate::crypto::prf::HashAlg;
use crate::wire::ikev2::{
    Error, HeaderRepr, MessageWriter, PayloadRepr, PayloadType, Payloads, HEADER_LEN,
};

/// Most fragments of one message we reassemble (RFC 7383 leaves the bound to us).
pub(crate) const MAX_FRAGMENTS: u16 = 64;

/// Serializes inner payloads as a chain: (type of the first, the chain's bytes).
pub(crate) fn inner_chain(payloads: &[&dyn PayloadRepr]) -> Result<(PayloadType, Vec<u8>), Error> {
    let mut buf = Vec::new();
    let dummy = HeaderRepr {
        ispi: [0; 8],
        rspi: [0; 8],
        next_payload: PayloadType::NO_NEXT,
        minor_version: 0,
        exchange: crate::wire::ikev2::ExchangeType::INFORMATIONAL,
        flags: Default::default(),
        message_id: 0,
    };
    let mut w = MessageWriter::new(&mut buf, &dummy)?;
    for p in payloads {
        w.payload(*p)?;
    }
    w.finish_plain();
    let first = PayloadType(*buf.get(16).ok_or(Error::Truncated)?);
    Ok((first, buf.split_off(HEADER_LEN)))
}

/// A message in the clear (IKE_SA_INIT).
pub(crate) fn plain(header: &HeaderRepr, payloads: &[&dyn PayloadRepr]) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf, header)?;
    for p in payloads {
        w.payload(*p)?;
    }
    w.finish_plain();
    Ok(buf)
}

/// What sealing needs besides the payloads.
pub(crate) struct Seal<'a> {
    pub keys: &'a IkeSaKeys,
    /// We are the original initiator of the IKE SA (SK_ei/SK_ai protect what we send).
    pub original_initiator: bool,
    /// Fresh IV bytes, one per datagram (the cipher's IV length each).
    pub ivs: &'a mut dyn FnMut(usize) -> Vec<u8>,
    /// Largest plaintext chunk per SKF fragment when fragmenting; `None` = never fragment.
    pub fragment_chunk: Option<usize>,
}

/// Encrypts `payloads` into one SK message, or into SKF fragments when the whole message would
/// exceed the fragment chunk. Returns the datagrams in order.
pub(crate) fn encrypted(
    header: &HeaderRepr,
    payloads: &[&dyn PayloadRepr],
    s: &mut Seal<'_>,
) -> Result<Vec<Vec<u8>>, Error> {
    let (first, chain) = inner_chain(payloads)?;
    let key = s.keys.sk_key(s.original_initiator);
    match s.fragment_chunk {
        Some(chunk) if chain.len() > chunk && chunk > 0 => {
            fragments(header, first, &chain, chunk, &key, s.ivs)
        }
        _ => Ok(vec![sealed(
            header,
            first,
            None,
            &chain,
            &key,
            &(s.ivs)(key.cipher.iv_len()),
        )?]),
    }
}

fn fragments(
    header: &HeaderRepr,
    first: PayloadType,
    chain: &[u8],
    chunk: usize,
    key: &SkKey<'_>,
    ivs: &mut dyn FnMut(usize) -> Vec<u8>,
) -> Result<Vec<Vec<u8>>, Error> {
    let parts: Vec<&[u8]> = chain.chunks(chunk).collect();
    let total = u16::try_from(parts.len()).map_err(|_| Error::TooLong)?;
    if total > MAX_FRAGMENTS {
        return Err(Error::TooLong);
    }
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let n = i as u16 + 1;
        let inner = if n == 1 { first } else { PayloadType::NO_NEXT };
        let iv = ivs(key.cipher.iv_len());
        out.push(sealed(header, inner, Some((n, total)), part, key, &iv)?);
    }
    Ok(out)
}

/// One datagram: `header`, then an SK payload (`fragment` `None`) or SKF fragment
/// `(number, total)` holding `plaintext` (an inner chain starting with `first`) sealed with
/// `key` and `iv`.
pub(crate) fn sealed(
    header: &HeaderRepr,
    first: PayloadType,
    fragment: Option<(u16, u16)>,
    plaintext: &[u8],
    key: &SkKey<'_>,
    iv: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    let w = MessageWriter::new(&mut buf, header)?;
    let body_len = sk_body_len(key.cipher, key.integ, plaintext.len());
    let slot = match fragment {
        Some((number, total)) => w.skf(first, number, total, body_len)?,
        None => w.sk(first, body_len)?,
    };
    fill(&mut buf, slot, key, iv, plaintext)?;
    Ok(buf)
}

fn fill(
    buf: &mut [u8],
    slot: crate::wire::ikev2::SkSlot,
    key: &SkKey<'_>,
    iv: &[u8],
    plaintext: &[u8],
) -> Result<(), Error> {
    let aad = buf.get(slot.aad.clone()).ok_or(Error::Truncated)?.to_vec();
    let body = crate::crypto::ikev2::seal(key, &aad, iv, plaintext).map_err(|_| Error::BadValue)?;
    let dst = buf.get_mut(slot.body).ok_or(Error::Truncated)?;
    if dst.len() != body.len() {
        return Err(Error::BadLength);
    }
    dst.copy_from_slice(&body);
    Ok(())
}

/// The protected part of a received message.
pub(crate) enum Protected<'a> {
    /// An SK payload: its first inner type, AAD and body.
    Sk {
        first: PayloadType,
        aad: &'a [u8],
        body: &'a [u8],
    },
    /// An SKF fragment.
    Fragment {
        first: PayloadType,
        number: u16,
        total: u16,
        aad: &'a [u8],
        body: &'a [u8],
    },
}

/// Finds the SK or SKF payload of `msg` (whole message, header included). Unknown non-critical
/// payloads before it are skipped; none may follow it.
pub(crate) fn protected(msg: &[u8], first: PayloadType) -> Result<Option<Protected<'_>>, Error> {
    let body = msg.get(HEADER_LEN..).ok_or(Error::Truncated)?;
    for raw in Payloads::new(body, first) {
        let raw = raw?;
        let off = (raw.body.as_ptr() as usize).wrapping_sub(msg.as_ptr() as usize);
        if raw.kind == PayloadType::SK {
            let aad = msg.get(..off).ok_or(Error::Truncated)?;
            return Ok(Some(Protected::Sk {
                first: raw.next,
                aad,
                body: raw.body,
            }));
        }
        if raw.kind == PayloadType::SKF {
            let f = crate::wire::ikev2::SkfRepr::parse(raw.body)?;
            let aad = msg.get(..off + 4).ok_or(Error::Truncated)?;
            return Ok(Some(Protected::Fragment {
                first: raw.next,
                number: f.fragment_number,
                total: f.total_fragments,
                aad,
                body: f.encrypted,
            }));
        }
    }
    Ok(None)
}

/// Decrypts an SK or SKF body sent by the original initiator (`from_initiator`) or responder.
pub(crate) fn decrypt(
    keys: &IkeSaKeys,
    from_initiator: bool,
    aad: &[u8],
    body: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    open(&keys.sk_key(from_initiator), aad, body).ok()
}

/// Fragments of one message being collected (RFC 7383 §2.6).
pub(crate) struct Reassembly {
    pub message_id: u32,
    pub first: PayloadType,
    parts: Vec<Option<Zeroizing<Vec<u8>>>>,
}

impl Default for Reassembly {
    fn default() -> Self {
        Reassembly {
            message_id: 0,
            first: PayloadType::NO_NEXT,
            parts: Vec::new(),
        }
    }
}

impl Reassembly {
    /// Adds decrypted fragment `number` of `total` of message `mid`; returns the first inner
    /// payload type and the whole plaintext once every fragment is in. A fragment of another
    /// message ID or another total starts over; duplicates are ignored.
    pub fn add(
        &mut self,
        mid: u32,
        number: u16,
        total: u16,
        first: PayloadType,
        plain: Zeroizing<Vec<u8>>,
    ) -> Option<(PayloadType, Zeroizing<Vec<u8>>)> {
        if total == 0 || total > MAX_FRAGMENTS || number == 0 || number > total {
            return None;
        }
        if self.message_id != mid || self.parts.len() != usize::from(total) {
            self.message_id = mid;
            self.parts = vec![None; usize::from(total)];
            self.first = PayloadType::NO_NEXT;
        }
        if number == 1 {
            self.first = first;
        }
        let slot = self.parts.get_mut(usize::from(number - 1))?;
        if slot.is_none() {
            *slot = Some(plain);
        }
        if self.parts.iter().any(Option::is_none) {
            return None;
        }
        let mut whole = Zeroizing::new(Vec::new());
        for p in self.parts.drain(..).flatten() {
            whole.extend_from_slice(&p);
        }
        Some((self.first, whole))
    }
}

/// NAT_DETECTION_*_IP data (§2.23): SHA-1(SPIi | SPIr | IP | port).
pub(crate) fn nat_hash(spi_i: &[u8; 8], spi_r: &[u8; 8], addr: SocketAddr) -> Vec<u8> {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(a) => a.octets().to_vec(),
        std::net::IpAddr::V6(a) => a.octets().to_vec(),
    };
    HashAlg::Sha1.hash(&[spi_i, spi_r, &ip, &addr.port().to_be_bytes()])
}
