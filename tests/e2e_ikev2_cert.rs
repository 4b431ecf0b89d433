//! IKEv2 certificate authentication against real strongSwan 5.9.8 and 6.1: RSA 2048/3072 (and
//! RSA-PSS signatures from charon), ECDSA P-256/P-384 and Ed25519, both directions, a root CA
//! and an intermediate, certificates made here by `openssl`; pings cross the tunnel. Then the
//! diagnostics against a real peer: an untrusted issuer, an expired certificate, a certificate
//! revoked by a CRL fetched over HTTP, no certificate sent, and with a pinned `peer-file` a
//! signature that does not verify and an identity not in the certificate. Root only; prints "skipping: …"
//! otherwise.

mod common;

use common::charon::{Charon, CharonConfig, PubkeyAuth, Strongswan};
use common::ikegate::Gateway;
use common::netns::{require_root, swan_lab, SwanLab};
use common::pki::{Ca, Issued, KeyType, Leaf, EXPIRED, VALID};
use common::TempDir;
use std::path::Path;
use std::time::Duration;

const OURS: &str = "10.0.0.1";
const SWAN: &str = "10.0.0.2";
const OUR_DN: &str = "C=JP, O=Example, CN=ikegate";
const SWAN_DN: &str = "C=JP, O=Example, CN=swan";

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && common::require_programs(&["ping", "openssl", "python3"])
}

fn lab() -> SwanLab {
    swan_lab("c2o", "c2s", "v2cert")
}

/// The PKI of one test: root → intermediate → both end entities.
struct Pki {
    root: Ca,
    inter: Ca,
    ours: Issued,
    swan: Issued,
}

fn pki(
    dir: &Path,
    ours: KeyType,
    swan: KeyType,
    swan_dates: (&str, &str),
    crl_url: Option<&str>,
) -> Pki {
    let root = Ca::root(
        dir,
        "root",
        "/C=JP/O=Example/CN=Test Root",
        KeyType::Rsa(2048),
    );
    let inter = root.intermediate(
        dir,
        "inter",
        "/C=JP/O=Example/CN=Test Intermediate",
        KeyType::P256,
    );
    let ours = inter.issue(
        dir,
        "ours",
        &Leaf {
            subj: "/C=JP/O=Example/CN=ikegate",
            san: "IP:10.0.0.1",
            key: ours,
            crl_url: None,
            dates: VALID,
        },
    );
    let swan = inter.issue(
        dir,
        "swan",
        &Leaf {
            subj: "/C=JP/O=Example/CN=swan",
            san: "IP:10.0.0.2",
            key: swan,
            crl_url,
            dates: swan_dates,
        },
    );
    Pki {
        root,
        inter,
        ours,
        swan,
    }
}

/// Our configuration: our certificate followed by the intermediate, trusting `trusted`.
const ADMIN: &str = "127.0.0.1:18091";

fn ours_yaml(dir: &Path, p: &Pki, trusted: &Path, responder_only: bool) -> String {
    let chain = dir.join("gw-chain.pem");
    std::fs::write(
        &chain,
        format!("{}{}", p.ours.cert_pem(), p.inter.cert_pem()),
    )
    .unwrap();
    format!(
        "admin:\n  listen: {ADMIN}\n  token-file: {}\ninterfaces:\n  ipsec0:\n    ipv4: {{ source: {OURS}, destination: {SWAN} }}\n    responder-only: {}\n    ike:\n      version: 2\n      certificate:\n        file: {}\n        key-file: {}\n        trusted-ca: [{}]\n      my-identifier: {{ asn1dn: \"{OUR_DN}\" }}\n      peers-identifier: {{ asn1dn: \"{SWAN_DN}\" }}\n      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ local: 192.168.1.0/24, remote: 192.168.2.0/24 }}\nroute:\n  ipv4:\n    - {{ destination: 192.168.2.0/24, gateway: ipsec0, source: 192.168.1.1 }}\n",
        dir.join("admin.token").display(),
        if responder_only { "enable" } else { "disable" },
        chain.display(),
        p.ours.key.display(),
        trusted.display(),
    )
}

fn swan_cfg(sw: Strongswan, p: &Pki, rsa_pss: bool, send_cert: Option<&str>) -> CharonConfig {
    let mut s = CharonConfig::ikev2_psk(sw, SWAN, OURS, "192.168.2.0/24", "192.168.1.0/24");
    s.ike_proposals = "aes256-sha256-modp2048".into();
    s.esp_proposals = "aes256-sha256".into();
    s.encap = sw == Strongswan::Debian59;
    s.remote_id = Some(OUR_DN.into());
    s.pubkey = Some(PubkeyAuth {
        cert_pem: p.swan.cert_pem(),
        key_pem: p.swan.key_pem(),
        ca_pems: vec![p.root.cert_pem(), p.inter.cert_pem()],
        send_cert: send_cert.map(str::to_string),
        rsa_pss,
    });
    s
}

/// One interop case: the tunnel comes up with certificates, pings cross it both ways, and
/// charon's log names the signature scheme it verified ours with (`ours_scheme`) and we see its
/// certificate.
fn interop(
    sw: Strongswan,
    ours_key: KeyType,
    swan_key: KeyType,
    swan_initiates: bool,
    rsa_pss: bool,
    ours_scheme: &str,
) {
    if !can_run() {
        return;
    }
    sw.require();
    let lab = lab();
    let p = pki(lab.dir.path(), ours_key, swan_key, VALID, None);
    let charon = Charon::start(&lab.swan, swan_cfg(sw, &p, rsa_pss, None));
    let yaml = ours_yaml(lab.dir.path(), &p, &p.root.cert, swan_initiates);
    let gw = Gateway::start(&lab.ours, &lab.dir, "ours", &yaml, Some("ipsec0"));
    if swan_initiates {
        charon.initiate_ok("net");
    }
    if !gw.wait_log("ESP SAs installed", 30) {
        charon.fail(&format!("ikegate did not install SAs:\n{}", gw.log_text()));
    }
    charon.wait_child_installed("net", Duration::from_secs(10));
    let ctx = || {
        format!(
            "--- ikegate ---\n{}\n--- charon ---\n{}",
            gw.log_text(),
            common::tail(&charon.log(), 60)
        )
    };
    lab.ours.ping_ok("192.168.2.1", 3, ctx);
    lab.swan.ping_ok("192.168.1.1", 3, ctx);
    api_shows_the_peer_certificate(&lab, &p);
    let log = charon.log();
    let want = format!("authentication of '{OUR_DN}' with {ours_scheme} successful");
    assert!(
        log.contains(&want),
        "charon did not log \"{want}\":\n{}",
        common::tail(&log, 80)
    );
    assert!(
        gw.log_text().contains(&format!("(asn1dn:\"{SWAN_DN}\")")),
        "{}",
        gw.log_text()
    );
    if rsa_pss {
        // charon signed with RSASSA-PSS (RFC 7427) and we verified it.
        let pss = format!("authentication of '{SWAN_DN}' (myself) with RSA_EMSA_PSS");
        assert!(
            log.contains(&pss),
            "no \"{pss}\" in:\n{}",
            common::tail(&log, 80)
        );
    }
}

#[test]
fn sid61_rsa2048_swan_initiates() {
    interop(
        Strongswan::Sid61,
        KeyType::Rsa(2048),
        KeyType::Rsa(2048),
        true,
        false,
        "RSA_EMSA_PKCS1_SHA2_256",
    );
}

#[test]
fn sid61_rsa3072_pss_ours_initiates() {
    interop(
        Strongswan::Sid61,
        KeyType::Rsa(3072),
        KeyType::Rsa(3072),
        false,
        true,
        "RSA_EMSA_PKCS1_SHA2_256",
    );
}

#[test]
fn sid61_p256_ours_initiates() {
    interop(
        Strongswan::Sid61,
        KeyType::P256,
        KeyType::P256,
        false,
        false,
        "ECDSA_WITH_SHA256_DER",
    );
}

#[test]
fn sid61_p384_swan_initiates() {
    interop(
        Strongswan::Sid61,
        KeyType::P384,
        KeyType::P384,
        true,
        false,
        "ECDSA_WITH_SHA384_DER",
    );
}

#[test]
fn sid61_ed25519_ours_initiates() {
    interop(
        Strongswan::Sid61,
        KeyType::Ed25519,
        KeyType::Ed25519,
        false,
        false,
        "ED25519",
    );
}

#[test]
fn deb59_rsa2048_ours_initiates() {
    interop(
        Strongswan::Debian59,
        KeyType::Rsa(2048),
        KeyType::Rsa(2048),
        false,
        false,
        "RSA_EMSA_PKCS1_SHA2_256",
    );
}

#[test]
fn deb59_rsa3072_pss_swan_initiates() {
    interop(
        Strongswan::Debian59,
        KeyType::Rsa(3072),
        KeyType::Rsa(3072),
        true,
        true,
        "RSA_EMSA_PKCS1_SHA2_256",
    );
}

#[test]
fn deb59_p256_swan_initiates() {
    interop(
        Strongswan::Debian59,
        KeyType::P256,
        KeyType::P256,
        true,
        false,
        "ECDSA_WITH_SHA256_DER",
    );
}

#[test]
fn deb59_p384_ours_initiates() {
    interop(
        Strongswan::Debian59,
        KeyType::P384,
        KeyType::P384,
        false,
        false,
        "ECDSA_WITH_SHA384_DER",
    );
}

#[test]
fn deb59_ed25519_swan_initiates() {
    interop(
        Strongswan::Debian59,
        KeyType::Ed25519,
        KeyType::Ed25519,
        true,
        false,
        "ED25519",
    );
}

/// The admin API shows charon's certificate on our IKE SA: subject, issuer, validity and the
/// SHA-256 fingerprint `openssl x509 -fingerprint -sha256` prints.
fn api_shows_the_peer_certificate(lab: &SwanLab, p: &Pki) {
    let token = std::fs::read_to_string(lab.dir.join("admin.token")).unwrap();
    let client = "import sys, urllib.request as u\nr = u.Request(sys.argv[1], headers={'Authorization': 'Bearer ' + sys.argv[2]})\nprint(u.urlopen(r, timeout=10).read().decode())";
    let out = lab.ours.exec(&[
        "python3",
        "-c",
        client,
        &format!("http://{ADMIN}/api/v1/tunnels/ipsec0"),
        token.trim(),
    ]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let sa = v["phase1"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "established")
        .expect("an established IKE SA");
    let c = &sa["peer_certificate"];
    assert_eq!(c["subject"], SWAN_DN, "{sa}");
    assert_eq!(c["issuer"], "C=JP, O=Example, CN=Test Intermediate", "{sa}");
    assert_eq!(c["not_before"], "2020-01-01 00:00:00 UTC", "{sa}");
    assert_eq!(c["not_after"], "2040-01-01 00:00:00 UTC", "{sa}");
    let fp = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&p.swan.cert)
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout);
    let fp = fp.trim().rsplit('=').next().unwrap();
    assert_eq!(c["fingerprint_sha256"], fp, "{sa}");
}

/// We initiate against a charon configured by `swan_cfg`-like arguments and wait for a
/// diagnostic in our log.
fn refused(
    sw: Strongswan,
    p: &Pki,
    lab: &SwanLab,
    trusted: &Path,
    send_cert: Option<&str>,
    expect: &[&str],
) -> String {
    let charon = Charon::start(&lab.swan, swan_cfg(sw, p, false, send_cert));
    let yaml = ours_yaml(lab.dir.path(), p, trusted, false);
    let gw = Gateway::start(&lab.ours, &lab.dir, "ours", &yaml, Some("ipsec0"));
    for e in expect {
        if !gw.wait_log(e, 30) {
            charon.fail(&format!("ikegate never logged \"{e}\":\n{}", gw.log_text()));
        }
    }
    assert!(!gw.log_text().contains("ESP SAs installed"));
    // charon had accepted us: our INFORMATIONAL (AUTHENTICATION_FAILED + Delete) removes its
    // IKE SA at once.
    charon.wait_ike_gone("gw", Duration::from_secs(5));
    let l = charon.log();
    assert!(
        l.contains("[ N(AUTH_FAILED) D ]") && l.contains("received DELETE for IKE_SA"),
        "{}",
        common::tail(&l, 40)
    );
    gw.log_text()
}

#[test]
fn diag_untrusted_issuer_is_named() {
    if !can_run() {
        return;
    }
    let lab = lab();
    let p = pki(lab.dir.path(), KeyType::P256, KeyType::P256, VALID, None);
    let other = Ca::root(
        lab.dir.path(),
        "other",
        "/C=JP/O=Other/CN=Other Root",
        KeyType::P256,
    );
    let log = refused(
        Strongswan::Sid61,
        &p,
        &lab,
        &other.cert,
        None,
        &["issued by \"C=JP, O=Example, CN=Test Root\", which we do not trust; our trusted CAs are: \"C=JP, O=Other, CN=Other Root\""],
    );
    println!("{log}");
}

#[test]
fn diag_expired_certificate_gives_the_date() {
    if !can_run() {
        return;
    }
    let lab = lab();
    let p = pki(lab.dir.path(), KeyType::P256, KeyType::P256, EXPIRED, None);
    refused(
        Strongswan::Debian59,
        &p,
        &lab,
        &p.root.cert,
        None,
        &["certificate \"C=JP, O=Example, CN=swan\" expired on 2021-01-01 00:00:00 UTC"],
    );
}

#[test]
fn diag_no_certificate_sent() {
    if !can_run() {
        return;
    }
    let lab = lab();
    let p = pki(lab.dir.path(), KeyType::P256, KeyType::P256, VALID, None);
    refused(
        Strongswan::Sid61,
        &p,
        &lab,
        &p.root.cert,
        Some("never"),
        &["the peer sent no certificate and none is configured"],
    );
}

/// charon's certificate names a CRL distribution point on an HTTP server in its namespace; the
/// intermediate revoked it. ikegate fetches the CRL, then refuses charon's retransmission.
#[test]
fn diag_revoked_by_a_crl_fetched_over_http() {
    if !can_run() {
        return;
    }
    let lab = lab();
    let url = format!("http://{SWAN}:8080/inter.crl");
    let p = pki(
        lab.dir.path(),
        KeyType::P256,
        KeyType::P256,
        VALID,
        Some(&url),
    );
    let www = lab.dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    p.inter.revoke(&p.swan.cert);
    p.inter.crl(&www.join("inter.crl"));
    let _http = lab.swan.spawn(
        &[
            "python3",
            "-m",
            "http.server",
            "8080",
            "--bind",
            SWAN,
            "--directory",
            www.to_str().unwrap(),
        ],
        Some(&lab.dir.join("http.log")),
    );
    std::thread::sleep(Duration::from_millis(500));
    let log = refused(
        Strongswan::Debian59,
        &p,
        &lab,
        &p.root.cert,
        None,
        &[
            &format!("fetching the CRL {url}"),
            &format!("CRL {url} fetched and cached"),
            "(KeyCompromise) according to the CRL",
        ],
    );
    assert!(
        log.contains("certificate \"C=JP, O=Example, CN=swan\" (serial "),
        "{log}"
    );
}

/// `ikegate check` on real files: a key that is not the certificate's is refused before any
/// packet, an expired own certificate is reported with its date.
#[test]
fn check_catches_a_foreign_key_and_an_expired_own_certificate() {
    if !common::require_programs(&["openssl"]) {
        return;
    }
    let dir = TempDir::new("v2certcheck");
    let p = pki(dir.path(), KeyType::P256, KeyType::P256, VALID, None);
    let good = ours_yaml(dir.path(), &p, &p.root.cert, false);
    let cfg = dir.join("good.yaml");
    std::fs::write(&cfg, &good).unwrap();
    let (code, out, err) = common::ikegate::cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("warning"), "{out}{err}");
    // The key of another certificate.
    let bad = good.replace(p.ours.key.to_str().unwrap(), p.swan.key.to_str().unwrap());
    std::fs::write(&cfg, &bad).unwrap();
    let (code, out, err) = common::ikegate::cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}{err}");
    let text = format!("{out}{err}");
    assert!(
        text.contains(&format!(
            "our private key {} does not belong to our certificate \"{OUR_DN}\"",
            p.swan.key.display()
        )),
        "{text}"
    );
    // Our own certificate expired.
    let old = p.inter.issue(
        dir.path(),
        "old",
        &Leaf {
            subj: "/C=JP/O=Example/CN=ikegate",
            san: "IP:10.0.0.1",
            key: KeyType::P256,
            crl_url: None,
            dates: EXPIRED,
        },
    );
    let expired = good
        .replace(
            dir.join("gw-chain.pem").to_str().unwrap(),
            old.cert.to_str().unwrap(),
        )
        .replace(p.ours.key.to_str().unwrap(), old.key.to_str().unwrap());
    std::fs::write(&cfg, &expired).unwrap();
    let (code, out, err) = common::ikegate::cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains(&format!("warning: interfaces.ipsec0.ike.certificate.file: \"{OUR_DN}\" expired on 2021-01-01 00:00:00 UTC")), "{out}{err}");
    // A key readable by others is refused with the fix.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&old.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, err) = common::ikegate::cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        format!("{out}{err}").contains(&format!("run: chmod 600 {}", old.key.display())),
        "{out}{err}"
    );
}

/// `peer-file` pins a certificate; charon sends none (`send_cert = never`), so its AUTH is
/// checked with the pinned certificate's key and identity.
fn refused_with_pinned(p: &Pki, lab: &SwanLab, pinned: &Issued, expect: &str) {
    let charon = Charon::start(
        &lab.swan,
        swan_cfg(Strongswan::Sid61, p, false, Some("never")),
    );
    let trusted = format!("trusted-ca: [{}]\n", p.root.cert.display());
    let yaml = ours_yaml(lab.dir.path(), p, &p.root.cert, false).replace(
        &trusted,
        &format!("{trusted}        peer-file: {}\n", pinned.cert.display()),
    );
    assert!(yaml.contains("peer-file"), "{yaml}");
    let gw = Gateway::start(&lab.ours, &lab.dir, "ours", &yaml, Some("ipsec0"));
    if !gw.wait_log(expect, 30) {
        charon.fail(&format!(
            "ikegate never logged \"{expect}\":\n{}",
            gw.log_text()
        ));
    }
    let log = gw.log_text();
    assert!(!log.contains("ESP SAs installed"));
    if let Some(line) = log.lines().find(|l| l.contains(expect)) {
        println!("{line}");
    }
}

#[test]
fn diag_signature_does_not_verify_with_the_pinned_certificate() {
    if !can_run() {
        return;
    }
    let lab = lab();
    let p = pki(lab.dir.path(), KeyType::P256, KeyType::P256, VALID, None);
    // Same subject and address, validly issued, but another key than charon's.
    let impostor = p.inter.issue(
        lab.dir.path(),
        "impostor",
        &Leaf {
            subj: "/C=JP/O=Example/CN=swan",
            san: "IP:10.0.0.2",
            key: KeyType::P256,
            crl_url: None,
            dates: VALID,
        },
    );
    refused_with_pinned(
        &p,
        &lab,
        &impostor,
        "signature does not verify with the key of its certificate \"C=JP, O=Example, CN=swan\"",
    );
}

#[test]
fn diag_identity_not_in_the_pinned_certificate() {
    if !can_run() {
        return;
    }
    let lab = lab();
    let p = pki(lab.dir.path(), KeyType::P256, KeyType::P256, VALID, None);
    let other = p.inter.issue(
        lab.dir.path(),
        "other",
        &Leaf {
            subj: "/C=JP/O=Example/CN=other",
            san: "DNS:other.example",
            key: KeyType::P256,
            crl_url: None,
            dates: VALID,
        },
    );
    refused_with_pinned(&p, &lab, &other, "is not in the peer's certificate");
}
