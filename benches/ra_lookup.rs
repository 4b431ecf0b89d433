//! The remote-access outbound lookup per packet, by number of connected clients: the data
//! plane's client table (`daemon::dataplane::RaRoutes`, indexed by pool offset) as the TUN loop
//! uses it — one `view()` per batch, then per packet the header check and
//! `dataplane::outbound_sa` by destination address.
//!
//! `cargo bench --bench ra_lookup` prints, for 1, 10, 100, 1,000 and 10,000 clients on a /16
//! pool, the median ns per lookup of 7 runs over 4,096 packets to random clients.
//! `bench/ra_lookup.sh` adds instructions per lookup, counted by callgrind (stable under the
//! noise of a shared machine): it runs this binary with `RA_LOOKUP_CLIENTS=N` (that size only,
//! `RA_LOOKUP_ROUNDS` passes over the packets) and collects only inside [`lookups`].

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikegate::crypto::{EncAlg, EspKeys, IntegAlg};
use ikegate::daemon::dataplane::{outbound_sa, RaRoutes};
use ikegate::esp::{Encap, OutboundSa, SelectorTable};
use ikegate::ike::Subnet;
use ikegate::ra::routes::ClientView;
use ikegate::ra::AddressPool;
use ikegate::wire::ip::IpPacket;
use zeroize::Zeroizing;

const CLIENTS: [usize; 5] = [1, 10, 100, 1_000, 10_000];
const PACKETS: usize = 4096;
const POOL: &str = "10.8.0.0/16";

fn main() {
    if let Ok(n) = std::env::var("RA_LOOKUP_CLIENTS") {
        let n: usize = n.parse().expect("RA_LOOKUP_CLIENTS: a number");
        let rounds = std::env::var("RA_LOOKUP_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(100);
        let lab = Lab::new(n);
        let found = lookups(&lab.table.view(), &lab.packets, rounds);
        println!("clients {n}: {} lookups, {found} found", rounds * PACKETS);
        return;
    }
    // `cargo test --benches` runs this binary with `--bench`-less arguments: keep it short.
    let quick = !std::env::args().any(|a| a == "--bench");
    println!("| clients | ns per lookup (median of 7) |");
    println!("|---:|---:|");
    for n in CLIENTS {
        let lab = Lab::new(n);
        let rounds = if quick { 1 } else { 500 };
        let mut samples: Vec<Duration> = (0..7)
            .map(|_| {
                let view = lab.table.view();
                let t = Instant::now();
                let found = lookups(&view, &lab.packets, rounds);
                let elapsed = t.elapsed();
                assert_eq!(found, rounds * PACKETS, "every packet has its client");
                elapsed
            })
            .collect();
        samples.sort();
        let ns = samples[3].as_nanos() as f64 / (rounds * PACKETS) as f64;
        println!("| {n} | {ns:.2} |");
    }
}

/// `rounds` passes over `packets`: each packet's header checked and its outbound SA chosen, as
/// the TUN loop does. Returns how many found their client.
#[inline(never)]
fn lookups(view: &ClientView<'_, OutboundSa>, packets: &[[u8; 28]], rounds: usize) -> usize {
    let selectors = SelectorTable::new(Vec::new());
    let mut found = 0;
    for _ in 0..rounds {
        for p in packets {
            let Ok(ip) = IpPacket::new_checked(black_box(&p[..])) else {
                continue;
            };
            if outbound_sa(&selectors, Some(view), ip.src(), ip.dst()).is_some() {
                found += 1;
            }
        }
    }
    black_box(found)
}

/// A client table with `n` clients (offsets spread over the pool) and packets to them in a
/// shuffled order.
struct Lab {
    table: RaRoutes,
    packets: Vec<[u8; 28]>,
}

impl Lab {
    fn new(n: usize) -> Lab {
        let pool: Subnet = POOL.parse().unwrap();
        let size = AddressPool::new(Some(pool), None, Duration::from_secs(60)).size();
        let table = RaRoutes::new(Some(pool), None, size);
        // Clients at offsets spread over the pool, as leases come and go.
        let stride = (size as usize / n).max(1);
        let offsets: Vec<u32> = (0..n).map(|i| (i * stride) as u32).collect();
        for (i, &o) in offsets.iter().enumerate() {
            table.insert(o, Arc::new(outbound(i as u32)));
        }
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let packets = (0..PACKETS)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let o = offsets[(rng % n as u64) as usize];
                icmp_to(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 8, 0, 1)) + o))
            })
            .collect();
        Lab { table, packets }
    }
}

/// A client's outbound SA (AES-128-GCM, raw ESP).
fn outbound(i: u32) -> OutboundSa {
    let keys = EspKeys {
        spi: 0x1000 + i,
        enc: EncAlg::Aes128Gcm16,
        enc_key: Zeroizing::new(vec![i as u8; EncAlg::Aes128Gcm16.keymat_len()]),
        integ: IntegAlg::None,
        integ_key: Zeroizing::new(Vec::new()),
    };
    let peer = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    OutboundSa::new(&keys, Encap::Raw(peer), [7; 16]).expect("valid keys")
}

/// An IPv4 header and an ICMP echo header from the gateway's host to `dst`.
fn icmp_to(dst: Ipv4Addr) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&28u16.to_be_bytes());
    p[8] = 64;
    p[9] = 1;
    p[12..16].copy_from_slice(&[10, 8, 255, 1]);
    p[16..20].copy_from_slice(&dst.octets());
    p[20] = 8;
    p
}
