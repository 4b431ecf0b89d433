//! keygen / encaps / decaps per operation of RustCrypto ml-kem and aws-lc-rs (README crate table).
use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{EncodedSizeUser, KemCore, MlKem1024, MlKem512, MlKem768};
use std::time::Instant;

const N: u32 = 2000;

fn time<F: FnMut()>(mut f: F) -> f64 {
    for _ in 0..50 {
        f();
    }
    let t = Instant::now();
    for _ in 0..N {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / N as f64
}

fn rustcrypto<K: KemCore>(name: &str) {
    let mut rng = rand_core::OsRng;
    let kg = time(|| {
        let _ = K::generate(&mut rng);
    });
    let (dk, ek) = K::generate(&mut rng);
    let (ct, _) = ek.encapsulate(&mut rng).unwrap();
    let enc = time(|| {
        let _ = ek.encapsulate(&mut rng).unwrap();
    });
    let dec = time(|| {
        let _ = dk.decapsulate(&ct).unwrap();
    });
    println!("ml-kem 0.2     {name:<11} keygen {kg:7.1} µs  encaps {enc:7.1} µs  decaps {dec:7.1} µs  (ek {} B)", ek.as_bytes().len());
}

fn awslc(name: &str, alg: &'static aws_lc_rs::kem::Algorithm<aws_lc_rs::kem::AlgorithmId>) {
    use aws_lc_rs::kem::DecapsulationKey;
    let kg = time(|| {
        let _ = DecapsulationKey::generate(alg).unwrap();
    });
    let dk = DecapsulationKey::generate(alg).unwrap();
    let ek = dk.encapsulation_key().unwrap();
    let (ct, _) = ek.encapsulate().unwrap();
    let enc = time(|| {
        let _ = ek.encapsulate().unwrap();
    });
    let dec = time(|| {
        let _ = dk.decapsulate(ct.as_ref().into()).unwrap();
    });
    println!(
        "aws-lc-rs 1.19 {name:<11} keygen {kg:7.1} µs  encaps {enc:7.1} µs  decaps {dec:7.1} µs"
    );
}

fn main() {
    rustcrypto::<MlKem512>("ML-KEM-512");
    rustcrypto::<MlKem768>("ML-KEM-768");
    rustcrypto::<MlKem1024>("ML-KEM-1024");
    awslc("ML-KEM-512", &aws_lc_rs::kem::ML_KEM_512);
    awslc("ML-KEM-768", &aws_lc_rs::kem::ML_KEM_768);
    awslc("ML-KEM-1024", &aws_lc_rs::kem::ML_KEM_1024);
}
