//! Fuzz harness for the RADIUS codec and client, shared by the cargo-fuzz target
//! `radius_response` and by the `cargo test` replay below. Not an API: `#[doc(hidden)] pub` for
//! the fuzz crate only.
//!
//! A client with a fixed secret has two requests outstanding (PAP and EAP). The input is a
//! server's answer: delivered as is, then with the header fixed up for the EAP request (its
//! identifier, the Length, a correct Message-Authenticator where the input put one and a
//! correct Response Authenticator) so that the fuzzer reaches the attribute decoding (EAP
//! reassembly, State, Reply-Message, MS-MPPE key decryption) behind the authenticator checks.

use std::time::{Duration, Instant};

use crate::ike::SeededRandom;

use super::client::{AccessRequest, Client, ClientConfig, Credential, Reply};
use super::crypto::{message_authenticator, response_authenticator, SecretBytes};
use super::wire::{AttributeType, Code, Packet, PacketBuilder, HEADER_LEN, MAX_PACKET_LEN};

const SECRET: &str = "fuzz-secret";

/// Builds the server's answer to `request` (the server side, for tests and this harness):
/// `code`, the attributes `fill` pushes, a Message-Authenticator when `sign`, and the Response
/// Authenticator.
pub fn answer(
    request: &[u8],
    code: Code,
    sign: bool,
    secret: &SecretBytes,
    fill: impl FnOnce(&mut PacketBuilder, &[u8; 16]),
) -> Vec<u8> {
    let Ok(req) = Packet::new_checked(request) else {
        return Vec::new();
    };
    let ra = req.authenticator();
    let mut b = PacketBuilder::new(code, req.identifier(), ra);
    fill(&mut b, &ra);
    if sign {
        let _ = b.push(AttributeType::MESSAGE_AUTHENTICATOR, &[0; 16]);
    }
    let mut out = b.emit();
    if sign {
        let off = out.len() - 16;
        let mac = message_authenticator(&out, off, &ra, secret);
        out[off..].copy_from_slice(&mac);
    }
    let auth = response_authenticator(&out, &ra, secret);
    out[4..HEADER_LEN].copy_from_slice(&auth);
    out
}

/// Makes `data` a correctly authenticated answer to `request`: the identifier and Length of
/// the request's answer, Message-Authenticator values recomputed, Response Authenticator set.
pub fn fix_up(data: &[u8], request: &[u8], secret: &SecretBytes) -> Option<Vec<u8>> {
    let req = Packet::new_checked(request).ok()?;
    let ra = req.authenticator();
    let mut out = data.get(..data.len().min(MAX_PACKET_LEN))?.to_vec();
    if out.len() < HEADER_LEN {
        return None;
    }
    out[1] = req.identifier();
    let len = out.len() as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
    let offsets: Vec<usize> = Packet::new_checked(&out[..])
        .ok()?
        .attributes()
        .filter(|a| a.kind == AttributeType::MESSAGE_AUTHENTICATOR && a.value.len() == 16)
        .map(|a| a.value_offset)
        .collect();
    if let Some(&off) = offsets.first() {
        let mac = message_authenticator(&out, off, &ra, secret);
        out[off..off + 16].copy_from_slice(&mac);
    }
    let auth = response_authenticator(&out, &ra, secret);
    out[4..HEADER_LEN].copy_from_slice(&auth);
    Some(out)
}

/// A client with a PAP and an EAP request outstanding (deterministic: `SeededRandom(7)`), and
/// the EAP request's datagram.
fn outstanding(now: Instant) -> (Client, Vec<u8>) {
    let secret = SecretBytes::from(SECRET);
    let mut client = Client::new(ClientConfig::new("192.0.2.1:1812", secret));
    let mut rng = SeededRandom::new(7);
    let pap = AccessRequest {
        user: "alice".into(),
        credential: Credential::Password(SecretBytes::from("pw")),
        calling_station_id: None,
    };
    let eap = AccessRequest {
        user: "alice".into(),
        credential: Credential::Eap {
            message: vec![2, 1, 0, 10, 1, b'a', b'l', b'i', b'c', b'e'],
            state: None,
        },
        calling_station_id: Some("198.51.100.7[4500]".into()),
    };
    let Ok((_, _)) = client.start(now, &pap, &mut rng) else {
        panic!("a PAP request encodes");
    };
    let Ok((_, eap_request)) = client.start(now, &eap, &mut rng) else {
        panic!("an EAP request encodes");
    };
    (client, eap_request)
}

/// One server answer against a client with a PAP and an EAP request outstanding.
pub fn radius_response(data: &[u8]) {
    let secret = SecretBytes::from(SECRET);
    let now = Instant::now();
    let (mut client, eap_request) = outstanding(now);
    let _ = client.handle_datagram(data);
    if let Some(fixed) = fix_up(data, &eap_request, &secret) {
        if let Ok((_, Ok(reply))) = client.handle_datagram(&fixed) {
            check_reply(&reply);
        }
    }
    // Whatever happened, the remaining requests time out in bounded steps.
    let mut t = now;
    for _ in 0..8 {
        t += Duration::from_secs(10);
        let _ = client.poll(t);
    }
    assert_eq!(client.outstanding(), 0, "requests outlive their retries");
}

fn check_reply(reply: &Reply) {
    let eap = match reply {
        Reply::Accept(a) => &a.eap,
        Reply::Reject(r) => &r.eap,
        Reply::Challenge(c) => &c.eap,
    };
    if let Some(e) = eap {
        let len = e
            .get(2..4)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
        assert_eq!(len, Some(e.len()), "reassembled EAP length");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::random::{random_bytes, RandomSource};

    fn seeds() -> Vec<Vec<u8>> {
        crate::ike::v2::fuzzing::tests::seeds("radius_response")
    }

    fn decode_seed(name: &str) -> Reply {
        let path = format!(
            "{}/fuzz/seeds/radius_response/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let seed = std::fs::read(path).expect("seed");
        let (mut client, req) = outstanding(Instant::now());
        let fixed = fix_up(&seed, &req, &SecretBytes::from(SECRET)).expect("fix-up");
        match client.handle_datagram(&fixed) {
            Ok((_, Ok(reply))) => reply,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// The committed seeds reach the decoding behind the authenticator checks: MPPE keys
    /// encrypted for the harness's (deterministic) EAP request, fragmented EAP, State.
    #[test]
    fn seeds_reach_the_attribute_decoding() {
        let Reply::Accept(a) = decode_seed("accept-mppe-keys") else {
            panic!("not an Accept");
        };
        let msk = a.msk.expect("the seed's MPPE keys decrypt");
        assert_eq!(msk.expose(), &[[0x22u8; 16], [0x11; 16]].concat()[..]);
        let Reply::Challenge(c) = decode_seed("challenge-eap-fragments") else {
            panic!("not a Challenge");
        };
        assert_eq!(c.eap.map(|e| e.len()), Some(300));
        assert!(c.state.is_some());
        let Reply::Reject(r) = decode_seed("reject-reply-message") else {
            panic!("not a Reject");
        };
        assert_eq!(r.reply_message.as_deref(), Some("Bad password"));
    }

    /// Prints the accept seed (run by hand when the harness's requests change).
    #[test]
    #[ignore]
    fn print_accept_seed() {
        use super::super::crypto::encrypt_mppe_key;
        use super::super::eap::push_eap_message;
        use super::super::wire::VENDOR_MICROSOFT;
        let secret = SecretBytes::from(SECRET);
        let (_, req) = outstanding(Instant::now());
        let a = answer(&req, Code::ACCESS_ACCEPT, true, &secret, |b, ra| {
            push_eap_message(b, &[3, 1, 0, 4]).unwrap();
            let send = encrypt_mppe_key(&[0x11; 16], [0x80, 1], ra, &secret);
            let recv = encrypt_mppe_key(&[0x22; 16], [0x80, 2], ra, &secret);
            b.push_vendor(VENDOR_MICROSOFT, 16, &send).unwrap();
            b.push_vendor(VENDOR_MICROSOFT, 17, &recv).unwrap();
            b.push(AttributeType::REPLY_MESSAGE, b"Welcome").unwrap();
        });
        println!("{}", hex::encode(a));
    }

    #[test]
    fn survives_seeds_and_random_answers() {
        let seeds = seeds();
        assert!(seeds.len() >= 3, "fuzz/seeds/radius_response is missing");
        for s in seeds {
            radius_response(&s);
        }
        let mut rng = SeededRandom::new(21);
        for _ in 0..3000 {
            let mut l = [0u8; 2];
            rng.fill(&mut l);
            let mut d = random_bytes(&mut rng, usize::from(u16::from_be_bytes(l)) % 700);
            if d.len() >= HEADER_LEN && l[0] & 1 == 0 {
                d[0] = [2, 3, 11][usize::from(l[1]) % 3];
            }
            radius_response(&d);
        }
    }
}
