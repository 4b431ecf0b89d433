//! Seal/open throughput per ESP suite on 64, 512, 1400 and 9000-byte inner packets.
//!
//! `cargo bench --bench esp_seal_open` prints time per packet (ns) and throughput (MB/s of
//! inner packet bytes). Open is measured on a fresh copy of a sealed packet each iteration
//! (open decrypts in place), so it includes one memcpy of the packet — a few percent at most.

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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = seal_open
}
criterion_main!(benches);
