//! Known answers for prf+ and the IKEv2 derivations. The expected values were computed
//! independently at development time with Python's `hmac` / `hashlib` (one-off script, kept here
//! as the recipe):
//!
//! ```text
//! prf  = lambda h, k, d: hmac.new(k, d, h).digest()
//! def prfp(h, k, s, n):                  # RFC 7296 §2.13
//!     out, t, i = b"", b"", 1
//!     while len(out) < n: t = prf(h, k, t + s + bytes([i])); out += t; i += 1
//!     return out[:n]
//! ni, nr, gir = bytes(range(32)), bytes(range(32, 64)), b"\xab" * 32
//! spii, spir = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")
//! prfplus    = prfp(sha256, bytes(range(32)), b"seed", 100)
//! skeyseed   = prf(h, ni + nr, gir); km = prfp(h, skeyseed, ni + nr + spii + spir, total)
//!              # split d, ai, ar, ei, er, pi, pr
//! rekey      = prf(sha256, sk_d, b"\xcd" * 32 + ni + nr)
//! child_gcm  = prfp(sha384, sk_d_gcm, ni + nr, 72)
//! child_cbc  = prfp(sha256, sk_d_cbc, b"\xcd" * 32 + ni + nr, 96)
//! signed     = b"IKE_SA_INIT request bytes" + nr + prf(sha256, sk_pi, 01000000c0000201)
//! auth       = prf(sha256, prf(sha256, b"secret", b"Key Pad for IKEv2"), signed)
//! ```

use super::*;

const NI: [u8; 32] = {
    let mut a = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        a[i] = i as u8;
        i += 1;
    }
    a
};

fn nr() -> Vec<u8> {
    (32u8..64).collect()
}

const SPI_I: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const SPI_R: [u8; 8] = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18];

fn cbc_suite() -> IkeSaSuite {
    IkeSaSuite {
        cipher: Ikev2Cipher::Aes128Cbc,
        integ: IntegAlg::HmacSha256_128,
        prf: HashAlg::Sha256,
    }
}

fn gcm_suite() -> IkeSaSuite {
    IkeSaSuite {
        cipher: Ikev2Cipher::Aes256Gcm16,
        integ: IntegAlg::None,
        prf: HashAlg::Sha384,
    }
}

fn derive(suite: IkeSaSuite) -> (Zeroizing<Vec<u8>>, IkeSaKeys) {
    let ss = skeyseed(suite.prf, &NI, &nr(), &[0xab; 32]);
    let keys = IkeSaKeys::derive(suite, &ss, &NI, &nr(), &SPI_I, &SPI_R).unwrap();
    (ss, keys)
}

fn joined(k: &IkeSaKeys) -> String {
    [
        &k.sk_d, &k.sk_ai, &k.sk_ar, &k.sk_ei, &k.sk_er, &k.sk_pi, &k.sk_pr,
    ]
    .iter()
    .map(|v| hex::encode(v.as_slice()))
    .collect::<Vec<_>>()
    .join(" ")
}

#[test]
fn prf_plus_known_answer() {
    let out = prf_plus(HashAlg::Sha256, &NI, &[b"se", b"ed"], 100).unwrap();
    assert_eq!(
        hex::encode(out.as_slice()),
        concat!(
            "4fae78f37a588390e442a412cb463634d9dce644473eb1ea3b773f8b675f7a94",
            "06dc2d03dec3ba780e2a7dd6e0a052dd964a23269299ac540144a0d72e865d8e",
            "d03d2fdecaaaa847cf048a4653eb8b4479cf7b48edbfed413da1e50617270341",
            "410cddfb"
        )
    );
    // 255 blocks is the limit.
    assert!(prf_plus(HashAlg::Sha1, b"k", &[], 255 * 20).is_ok());
    assert!(matches!(
        prf_plus(HashAlg::Sha1, b"k", &[], 255 * 20 + 1),
        Err(KeyError::TooLong { .. })
    ));
}

#[test]
fn ike_sa_keys_cbc_sha256() {
    let (ss, k) = derive(cbc_suite());
    assert_eq!(
        hex::encode(ss.as_slice()),
        "866cd9304a02948f204b6df5a4a5b268dd526ee59b70f6871ac296bb34c54288"
    );
    assert_eq!(
        joined(&k),
        concat!(
            "0ac7a218f1307610ad0e8350afb596c37c5136618b4f64b13ed6611446b8366e ",
            "4cbe6722b13c519707c926b033f2d9e2b0bf06280302526b55c56a732a8233ab ",
            "086cc2b6788e9dd763dd98b716fce6feacd56a47e704f2560e856d9d4f73c93a ",
            "e343e206125000f9356b64ad0cceedf6 194f9bbff623f758907ba9e7961484cc ",
            "88d0c195c086c3e3a8212c21498a17000b749273679269ab3c9f6746aabb802b ",
            "ee69f7161e8a3400d05d422cf66ae8578712adfdc9335de98d2e44958cb842a7"
        )
    );
}

#[test]
fn ike_sa_keys_aead_have_no_integrity_keys_and_carry_the_salt() {
    let (ss, k) = derive(gcm_suite());
    assert_eq!(
        hex::encode(ss.as_slice()),
        "67d90dcb621f97a4ba2eb5c6ad660db8b3b43580d4c145101f9d49338336540b\
         0258997ab6f14cdb2e0de5d7cc8abd31"
    );
    assert_eq!(
        joined(&k),
        concat!(
            "b6aefe33f706f360fbacf2e64b8c8acacf46105a0641db04b23d87f4c8395293",
            "2766b69eb2e70d4bb21b621292f666fb   ",
            "66230f2f8ea27f800d9791635562370cb6a727d3e7f0e5a83d09dcf062201d1cc94f23f3 ",
            "c15d57cf9e80ee19e5a7b249a10ef112fb90ea4a2deb210348294a540a3c8000d7f5d81f ",
            "9d43ab9d36d7b82e2b2693b209ab82b3cf2670ff7709485357d2295d9015a5c0",
            "4c764c262cf92e7d603b81f90aedc00c ",
            "5bed2654457bb1eab2e25d988dccdcfb9f90fdbd5cae152504eeae660e68a946",
            "c7c2ea7d0f25fe0a3d7f37eb36f6a382"
        )
    );
    assert_eq!(k.sk_ei.len(), 36);
}

#[test]
fn bad_suites_are_refused() {
    let mut s = gcm_suite();
    s.integ = IntegAlg::HmacSha1_96;
    assert!(matches!(
        IkeSaKeys::derive(s, b"x", &NI, &NI, &SPI_I, &SPI_R),
        Err(KeyError::BadSuite { .. })
    ));
    let mut s = cbc_suite();
    s.integ = IntegAlg::None;
    assert!(s.validate().is_err());
}

#[test]
fn rekey_skeyseed_uses_old_sk_d() {
    let (_, k) = derive(cbc_suite());
    let ss = rekey_skeyseed(HashAlg::Sha256, &k.sk_d, &[0xcd; 32], &NI, &nr(), &[]);
    assert_eq!(
        hex::encode(ss.as_slice()),
        "f5811124d405df2410e939aa08f880dddc75d60339502590a4db98d542d8d6b9"
    );
}

#[test]
fn child_sa_keys_split_initiator_to_responder_first() {
    let (_, k) = derive(gcm_suite());
    let (i2r, r2i) = child_sa_keys(
        HashAlg::Sha384,
        &k.sk_d,
        None,
        (&NI, &nr()),
        (EncAlg::Aes256Gcm16, IntegAlg::None),
        (0xc0de_0001, 0xc0de_0002),
        &[],
    )
    .unwrap();
    let km = "6dd8bf2f4045295d166feb0edd7fc3ed9ac2bba428e443b567eb7723b2f2f082f633e7e0\
              accfb2f530bc3ff25e54565f8b49b61ed5002fd57272e622e065f6cad80725994731ec4a";
    assert_eq!(hex::encode(i2r.enc_key.as_slice()), &km[..72]);
    assert_eq!(hex::encode(r2i.enc_key.as_slice()), &km[72..]);
    assert_eq!((i2r.spi, r2i.spi), (0xc0de_0002, 0xc0de_0001));
    assert!(i2r.validate().is_ok() && r2i.validate().is_ok());

    let (_, k) = derive(cbc_suite());
    let (i2r, r2i) = child_sa_keys(
        HashAlg::Sha256,
        &k.sk_d,
        Some(&[0xcd; 32]),
        (&NI, &nr()),
        (EncAlg::Aes128Cbc, IntegAlg::HmacSha256_128),
        (1, 2),
        &[],
    )
    .unwrap();
    let km = concat!(
        "bf7963761504894420c3c8fbffdcad1b02dfe791a02f2da8bcf14968e703670f",
        "cbb9a0c6591524ace4c5a27e5ce8515223e5c0fd42fded75be8ef56548c8dcac",
        "70848bd8558ebd6637ab13423eb580446cae4927eb659bcf4948e25b46159025"
    );
    let got = [&i2r.enc_key, &i2r.integ_key, &r2i.enc_key, &r2i.integ_key]
        .iter()
        .map(|v| hex::encode(v.as_slice()))
        .collect::<String>();
    assert_eq!(got, km);
    assert_eq!(i2r.enc_key.len(), 16);
    assert_eq!(i2r.integ_key.len(), 32);
}

#[test]
fn psk_auth_over_signed_octets() {
    let (_, k) = derive(cbc_suite());
    let id_body = hex::decode("01000000c0000201").unwrap();
    let so = signed_octets(
        HashAlg::Sha256,
        b"IKE_SA_INIT request bytes",
        &nr(),
        &k.sk_pi,
        &id_body,
        &[],
    );
    // RFC 9242: IntAuth is appended as is.
    let with = signed_octets(
        HashAlg::Sha256,
        b"IKE_SA_INIT request bytes",
        &nr(),
        &k.sk_pi,
        &id_body,
        b"IntAuth",
    );
    assert_eq!(with, [&so[..], b"IntAuth"].concat());
    assert_eq!(
        hex::encode(&so),
        concat!(
            "494b455f53415f494e49542072657175657374206279746573202122232425262728292a2b2c2d2e2f",
            "303132333435363738393a3b3c3d3e3febfa8f1882814493a3d7030bda5b5b185f90f067ab31fcd5df",
            "987e5bbad3ea4d"
        )
    );
    let auth = psk_auth(HashAlg::Sha256, b"secret", &so);
    assert_eq!(
        hex::encode(auth.as_slice()),
        "8c4cd7b776371609bc844e37987fa93ed06da002dd6f2b45ba50708e9f80a554"
    );
    assert!(verify_psk_auth(HashAlg::Sha256, b"secret", &so, &auth));
    assert!(!verify_psk_auth(HashAlg::Sha256, b"secret\n", &so, &auth));
    assert!(!verify_psk_auth(
        HashAlg::Sha256,
        b"secret",
        &so,
        &auth[..31]
    ));
}

#[test]
fn debug_is_redacted() {
    let (_, k) = derive(cbc_suite());
    let s = format!("{k:?}");
    assert!(s.contains("<redacted>"), "{s}");
    assert!(!s.contains(&hex::encode(&k.sk_d[..4])), "{s}");
}
