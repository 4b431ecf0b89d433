//! Seal/open throughput per ESP suite on 64, 512, 1400 and 9000-byte inner packets.
//!
//! `cargo bench --bench esp_seal_open` prints time per packet (ns) and throughput (MB/s of
//! inner packet bytes). Open is measured on a fresh copy of a sealed packet each iteration
//! (open decrypts in place), so it includes one memcpy of the packet — a few percent at most.
//!
//! `selector/…` measures the per-packet choice of the outbound SA in a tunnel's selector table
//! (`cargo bench --bench esp_seal_open -- selector`): 1 SA (the single-row fast path), an IPv4 and
//! an IPv6 proxy-id, and 16 IPv4 proxy-ids with the packet matching the last one.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ikegate::crypto::{EncAlg, EspKeys, IntegAlg};
use ikegate::esp::EspTransform;
use std::time::Duration;
use zeroize::Zeroizing;

const HEADROOM: usize = 64;
const SIZES: [usize; 4] = [64, 512, 1400, 9000];

fn keys(enc: EncAlg, integ: IntegAlg) -> EspKeys {
    EspKeys {
        spi: 0x1234_5678,
        enc,
        enc_key: Zeroizing::new((0..enc.keymat_len()).map(|i| i as u8 ^ 0x5a).collect()),
        integ,
        integ_key: Zeroizing::new((0..integ.key_len()).map(|i| i as u8 ^ 0xa5).collect()),
    }
}

fn suites() -> [(&'static str, EncAlg, IntegAlg); 4] {
    [
        ("aes128-gcm", EncAlg::Aes128Gcm16, IntegAlg::None),
        ("aes256-gcm", EncAlg::Aes256Gcm16, IntegAlg::None),
        ("aes128-cbc+sha1", EncAlg::Aes128Cbc, IntegAlg::HmacSha1_96),
        (
            "aes256-cbc+sha256",
            EncAlg::Aes256Cbc,
            IntegAlg::HmacSha256_128,
        ),
    ]
}

fn seal_open(c: &mut Criterion) {
    for (name, enc, integ) in suites() {
        let t = EspTransform::new(&keys(enc, integ), [7; 16]).expect("valid keys");
        let mut g = c.benchmark_group(format!("seal/{name}"));
        for size in SIZES {
            g.throughput(Throughput::Bytes(size as u64));
            let mut buf = vec![0u8; HEADROOM + size + 64];
            let mut seq = 0u64;
            g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
                b.iter(|| {
                    seq += 1;
                    let r = t.seal(0x1234_5678, seq, &mut buf, HEADROOM..HEADROOM + size, 4);
                    black_box(r.expect("room"))
                })
            });
        }
        g.finish();

        let mut g = c.benchmark_group(format!("open/{name}"));
        for size in SIZES {
            g.throughput(Throughput::Bytes(size as u64));
            let mut buf = vec![0u8; HEADROOM + size + 64];
            let range = t
                .seal(0x1234_5678, 1, &mut buf, HEADROOM..HEADROOM + size, 4)
                .expect("room");
            let pristine = buf[range].to_vec();
            let mut work = pristine.clone();
            g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
                b.iter(|| {
                    work.copy_from_slice(&pristine);
                    black_box(t.open(&mut work).expect("authentic"))
                })
            });
        }
        g.finish();
    }
}

fn selector_lookup(c: &mut Criterion) {
    use ikegate::esp::{Encap, OutboundSa, SelectorTable};
    use ikegate::ike::ProxyId;
    use std::net::IpAddr;
    use std::sync::Arc;
    let sa = |spi: u32, l: &str, r: &str| {
        let mut k = keys(EncAlg::Aes128Gcm16, IntegAlg::None);
        k.spi = spi;
        let sel = ProxyId {
            local: l.parse().expect("subnet"),
            remote: r.parse().expect("subnet"),
        };
        let o = OutboundSa::new(&k, Encap::Raw([192, 0, 2, 1].into()), [0; 16])
            .expect("valid keys")
            .with_selectors(vec![sel]);
        Arc::new(o)
    };
    let ip = |s: &str| -> IpAddr { s.parse().expect("address") };
    let many: Vec<_> = (0..16u32)
        .map(|i| sa(0x100 + i, "192.168.1.0/24", &format!("10.{i}.0.0/16")))
        .collect();
    let cases = [
        (
            "1-sa",
            SelectorTable::new(vec![sa(1, "192.168.1.0/24", "192.168.2.0/24")]),
            ip("192.168.1.5"),
            ip("192.168.2.5"),
        ),
        (
            "v4+v6",
            SelectorTable::new(vec![
                sa(1, "192.168.1.0/24", "192.168.2.0/24"),
                sa(2, "2001:db8:1::/48", "2001:db8:2::/48"),
            ]),
            ip("2001:db8:1::5"),
            ip("2001:db8:2::5"),
        ),
        (
            "16-sa-last",
            SelectorTable::new(many),
            ip("192.168.1.5"),
            ip("10.15.0.1"),
        ),
    ];
    let mut g = c.benchmark_group("selector");
    for (name, table, src, dst) in &cases {
        assert!(table.lookup(*src, *dst).is_some(), "{name}");
        g.bench_function(*name, |b| {
            b.iter(|| {
                black_box(
                    table
                        .lookup(black_box(*src), black_box(*dst))
                        .map(|s| s.spi),
                )
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = seal_open, selector_lookup
}
criterion_main!(benches);
