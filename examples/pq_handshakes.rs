//! Post-quantum IKEv2 cost, printed as numbers (run by `bench/pq_handshakes.sh`):
//! ML-KEM keygen / encaps / decaps times of the crate ikegate uses, and complete IKEv2
//! handshakes per second (IKE_SA_INIT, the IKE_INTERMEDIATE rounds, IKE_AUTH with the first
//! child) between two sans-IO engines in this process, with and without ML-KEM.
//!
//!     cargo run --release --example pq_handshakes -- [HANDSHAKES]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ikegate::crypto::dh::DhGroup;
use ikegate::crypto::mlkem::{encapsulate, KemAlg, KemPrivate};
use ikegate::ike::policy::{IkeVersion, PostQuantum};
use ikegate::ike::v2::Engine;
use ikegate::ike::{Event, IkePolicy, OsRandom, RandomSource};

fn policy(me: &str, peer: &str, rounds: &[KemAlg]) -> IkePolicy {
    let ip = |s: &str| s.parse::<IpAddr>().expect("address");
    let mut p = IkePolicy::seil_defaults(ip(me), ip(peer), b"bench-psk");
    p.version = IkeVersion::V2;
    p.phase1.dh_groups = vec![DhGroup::Curve25519];
    p.phase1.dh_group = DhGroup::Curve25519;
    p.phase1.additional_kes = rounds.iter().map(|k| vec![Some(*k)]).collect();
    p.post_quantum = if rounds.is_empty() {
        PostQuantum::Off
    } else {
        PostQuantum::Required
    };
    p.reinitiate_after = None;
    p.dpd = None;
    p
}

/// One complete handshake between two fresh engines; the datagrams exchanged.
fn handshake(rounds: &[KemAlg]) -> usize {
    let (a_ip, b_ip) = ("10.99.0.1", "10.99.0.2");
    let mut a = Engine::new(policy(a_ip, b_ip, rounds), Box::new(OsRandom));
    let mut b = Engine::new(policy(b_ip, a_ip, rounds), Box::new(OsRandom));
    let now = Instant::now();
    a.initiate(now);
    let (mut up_a, mut up_b, mut datagrams) = (false, false, 0);
    for _ in 0..100 {
        let mut moved = false;
        for a_sends in [true, false] {
            let (src, dst, src_ip, dst_ip) = if a_sends {
                (&mut a, &mut b, a_ip, b_ip)
            } else {
                (&mut b, &mut a, b_ip, a_ip)
            };
            while let Some(t) = src.poll_transmit() {
                moved = true;
                datagrams += 1;
                let local = SocketAddr::new(dst_ip.parse().expect("ip"), 500);
                let remote = SocketAddr::new(src_ip.parse().expect("ip"), t.local_port);
                dst.handle_datagram(now, local, remote, &t.data);
            }
        }
        while let Some(e) = a.poll_event() {
            up_a |= matches!(e, Event::ChildSaUp { .. });
        }
        while let Some(e) = b.poll_event() {
            up_b |= matches!(e, Event::ChildSaUp { .. });
        }
        if !moved {
            break;
        }
    }
    assert!(up_a && up_b, "the handshake did not complete");
    datagrams
}

fn per_op(n: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut rng = OsRandom;
    println!("ML-KEM (RustCrypto ml-kem 0.2, through ikegate::crypto::mlkem), per operation:");
    for alg in KemAlg::ALL {
        let mut seed = [0u8; 96];
        rng.fill(&mut seed);
        let d: [u8; 32] = seed[..32].try_into().expect("32");
        let z: [u8; 32] = seed[32..64].try_into().expect("32");
        let m: [u8; 32] = seed[64..].try_into().expect("32");
        let kg = per_op(2000, || {
            std::hint::black_box(KemPrivate::from_seed(alg, &d, &z));
        });
        let k = KemPrivate::from_seed(alg, &d, &z);
        let (ct, _) = encapsulate(alg, k.public_value(), &m).expect("encaps");
        let enc = per_op(2000, || {
            std::hint::black_box(encapsulate(alg, k.public_value(), &m).expect("encaps"));
        });
        let dec = per_op(2000, || {
            std::hint::black_box(k.decapsulate(&ct).expect("decaps"));
        });
        println!(
            "  {:<10} keygen {:>6.1} µs   encaps {:>6.1} µs   decaps {:>6.1} µs   (key {} B, ciphertext {} B)",
            alg.name(),
            kg.as_secs_f64() * 1e6,
            enc.as_secs_f64() * 1e6,
            dec.as_secs_f64() * 1e6,
            alg.public_len(),
            alg.ciphertext_len()
        );
    }
    println!("IKEv2 handshakes ours ⇄ ours in one process (both ends' work, one core), {n} each:");
    let cases: [(&str, &[KemAlg]); 4] = [
        ("curve25519", &[]),
        ("curve25519 + mlkem768", &[KemAlg::MlKem768]),
        ("curve25519 + mlkem1024", &[KemAlg::MlKem1024]),
        (
            "curve25519 + mlkem768 + mlkem1024",
            &[KemAlg::MlKem768, KemAlg::MlKem1024],
        ),
    ];
    for (name, rounds) in cases {
        let datagrams = handshake(rounds);
        let t = Instant::now();
        for _ in 0..n {
            handshake(rounds);
        }
        let per = t.elapsed() / n;
        println!(
            "  {name:<34} {:>7.0} handshakes/s   {:>6.0} µs each   {datagrams} datagrams",
            1.0 / per.as_secs_f64(),
            per.as_secs_f64() * 1e6
        );
    }
}
