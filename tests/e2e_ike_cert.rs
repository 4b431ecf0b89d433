//! IKEv1 Main Mode against a real strongSwan 5.9 charon through IKEv1 fragmentation
//! (strongSwan's `fragmentation = yes`: the FRAGMENTATION vendor ID and fragment payloads), both
//! directions, with a small fragment size on both sides so that the large messages really cross
//! as fragments (tshark and charon's log confirm it): with a pre-shared key, and with RSA 3072
//! certificates from an intermediate CA and asn1dn identities (`auth = pubkey`); an untrusted CA
//! and a wrong identity are refused with the plain-words diagnostic. Root only; prints
//! "skipping: …" otherwise.

mod common;

use common::charon::{Charon, CharonConfig, PubkeyAuth};
use common::ikegate::Gateway;
use common::netns::{require_root, swan_lab, SwanLab};
use common::pki::{Ca, Issued, KeyType, Leaf, VALID};
use common::tshark::{self, Capture};
use common::TempDir;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const OURS: &str = "10.0.0.1";
const SWAN: &str = "10.0.0.2";
const OUR_DN: &str = "C=JP, O=Example, CN=gw1";
const SWAN_DN: &str = "C=JP, O=Example, CN=swan";
const OURS_LAN: &str = "192.168.1.0/24";
const SWAN_LAN: &str = "192.168.2.0/24";
const OURS_HOST: &str = "192.168.1.1";
const SWAN_HOST: &str = "192.168.2.1";
const PSK: &str = "xeeB5gohvaYi";
/// The largest IKE datagram either side sends before fragmenting (the smallest we accept).
const FRAGMENT_SIZE: u32 = 576;

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && tshark::require_capture_tools()
        && common::require_programs(&["ping", "openssl"])
}

fn lab() -> SwanLab {
    swan_lab("co", "cs", "v1cert")
}

/// ikegate's IKEv1 configuration: `auth` is the interface-level authentication line(s) (a
/// pre-shared key, or nothing when `ike_extra` holds a `certificate:` block), `ike_extra`
/// lines go under `ike:` (indented by 6).
fn ours_yaml(auth: &str, responder_only: bool, ike_extra: &str) -> String {
    format!(
        "interfaces:\n  ipsec0:\n    ipv4: {{ source: {OURS}, destination: {SWAN} }}\n    nat-traversal: enable\n{auth}    responder-only: {}\n    ike:\n      version: 1\n      exchange-mode: main\n      fragmentation: enable\n      fragment-size: {FRAGMENT_SIZE}\n{ike_extra}      proposal:\n        phase1:\n          encryption: aes256\n          hash: sha256\n          dh-group: modp4096\n        phase2:\n          proxy-id:\n            ipv4: {{ local: {OURS_LAN}, remote: {SWAN_LAN} }}\n\
route:\n  ipv4:\n    - {{ destination: {SWAN_LAN}, gateway: ipsec0, source: {OURS_HOST} }}\n",
        if responder_only { "enable" } else { "disable" }
    )
}

/// charon's side: IKEv1 Main Mode, `fragmentation = yes`, the same small fragment size
/// (`charon.fragment_size`), MODP-4096 so that messages 3 and 4 exceed it even with a PSK.
fn swan_cfg() -> CharonConfig {
    let mut c = CharonConfig::ikev1_psk(SWAN, OURS, SWAN_LAN, OURS_LAN);
    c.psk = PSK.into();
    c.ike_proposals = "aes256-sha256-modp4096".into();
    c.esp_proposals = "aes256-sha256".into();
    c.fragmentation = Some("yes".into());
    c.extra_charon
        .push(format!("fragment_size = {FRAGMENT_SIZE}"));
    c
}

/// What crossed the wire: IKEv1 fragments per sender, and the largest IKE datagram.
#[derive(Debug, Default)]
struct FragmentCount {
    from_ours: usize,
    from_swan: usize,
    /// Largest UDP payload on ports 500/4500 plus the IP and UDP headers.
    largest_ike_datagram: usize,
}

fn count_fragments(pcap: &std::path::Path) -> FragmentCount {
    let rows = tshark::fields(
        pcap,
        "isakmp.frag.seq",
        &["ip.src", "isakmp.frag.packetid", "isakmp.frag.seq"],
    );
    let mut c = FragmentCount::default();
    for r in &rows {
        match r.first().map(String::as_str) {
            Some(OURS) => c.from_ours += 1,
            Some(SWAN) => c.from_swan += 1,
            _ => {}
        }
    }
    c.largest_ike_datagram = tshark::fields(pcap, "isakmp", &["ip.len"])
        .iter()
        .filter_map(|r| r.first()?.parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    c
}

/// Brings the tunnel up (ikegate initiating, or charon when `swan_initiates`), pings both ways,
/// and checks that fragments crossed in both directions and were reassembled by charon.
/// Returns the fragment counts and charon's log.
fn fragmented_interop(
    swan_initiates: bool,
    charon_cfg: CharonConfig,
    yaml: &str,
) -> (FragmentCount, String) {
    let lab = lab();
    let pcap = lab.dir.join("ike.pcap");
    let cap = Capture::start(
        &lab.ours,
        &lab.link.a,
        &pcap,
        Some("udp port 500 or udp port 4500"),
    );
    let charon = Charon::start(&lab.swan, charon_cfg);
    let started = Instant::now();
    let gw = Gateway::start(&lab.ours, &lab.dir, "ours", yaml, Some("ipsec0"));
    if swan_initiates {
        charon.initiate_ok("net");
    }
    if !gw.wait_log("ESP SAs installed", 30) {
        charon.fail(&format!("ikegate did not install SAs:\n{}", gw.log_text()));
    }
    let took = started.elapsed();
    charon.wait_child_installed("net", Duration::from_secs(10));
    let ctx = || {
        format!(
            "--- ikegate ---\n{}\n--- charon ---\n{}",
            gw.log_text(),
            common::tail(&charon.log(), 60)
        )
    };
    lab.ours.ping_ok(SWAN_HOST, 3, ctx);
    lab.swan.ping_ok(OURS_HOST, 3, ctx);
    let pcap: PathBuf = cap.stop();
    let counts = count_fragments(&pcap);
    let log = charon.log();
    assert!(
        counts.from_ours >= 2 && counts.from_swan >= 2,
        "fragments on the wire: {counts:?}\n{}",
        ctx()
    );
    assert!(
        log.contains("reassembled fragmented IKE message"),
        "charon did not reassemble our fragments:\n{}",
        ctx()
    );
    assert!(log.contains("splitting IKE message"), "{}", ctx());
    assert!(
        counts.largest_ike_datagram <= FRAGMENT_SIZE as usize,
        "an IKE datagram of {} bytes exceeds the fragment size: {counts:?}",
        counts.largest_ike_datagram
    );
    println!(
        "swan_initiates={swan_initiates}: ESP SAs after {:.2} s; IKEv1 fragments: {} from ikegate, {} from charon; largest IKE datagram {} bytes",
        took.as_secs_f64(),
        counts.from_ours,
        counts.from_swan,
        counts.largest_ike_datagram
    );
    drop(gw);
    drop(charon);
    (counts, log)
}

fn psk_line() -> String {
    format!("    preshared-key: {PSK}\n")
}

#[test]
fn psk_ours_initiates_through_fragments() {
    if !can_run() {
        return;
    }
    fragmented_interop(false, swan_cfg(), &ours_yaml(&psk_line(), false, ""));
}

#[test]
fn psk_swan_initiates_through_fragments() {
    if !can_run() {
        return;
    }
    fragmented_interop(true, swan_cfg(), &ours_yaml(&psk_line(), true, ""));
}

/// The test PKI: RSA 3072 root → intermediate → ours ("gw1") and swan ("swan"), and a rogue
/// root that issued another "swan" certificate.
struct Pki {
    root: Ca,
    inter: Ca,
    ours: Issued,
    swan: Issued,
    rogue_root: Ca,
    rogue: Issued,
    /// Our certificate followed by the intermediate (`certificate.file`).
    ours_chain: PathBuf,
}

/// Made once per test process (six RSA 3072 keys take a few seconds).
fn pki() -> &'static Pki {
    static PKI: OnceLock<(TempDir, Pki)> = OnceLock::new();
    let (_, p) = PKI.get_or_init(|| {
        let dir = TempDir::new("v1pki");
        let d = dir.path();
        let started = Instant::now();
        let rsa = KeyType::Rsa(3072);
        let leaf = |subj, san| Leaf {
            subj,
            san,
            key: rsa,
            crl_url: None,
            dates: VALID,
        };
        let root = Ca::root(d, "root", "/C=JP/O=Example/CN=Example Root CA", rsa);
        let inter = root.intermediate(
            d,
            "inter",
            "/C=JP/O=Example/CN=Example Intermediate CA",
            rsa,
        );
        let ours = inter.issue(
            d,
            "ours",
            &leaf("/C=JP/O=Example/CN=gw1", "DNS:gw1.example"),
        );
        let swan = inter.issue(
            d,
            "swan",
            &leaf("/C=JP/O=Example/CN=swan", "DNS:swan.example"),
        );
        let rogue_root = Ca::root(d, "rogue", "/C=JP/O=Rogue/CN=Rogue Root CA", rsa);
        let rogue = rogue_root.issue(
            d,
            "rogue",
            &leaf("/C=JP/O=Example/CN=swan", "DNS:swan.example"),
        );
        let ours_chain = d.join("ours-chain.pem");
        std::fs::write(&ours_chain, ours.cert_pem() + &inter.cert_pem()).unwrap();
        println!(
            "test PKI (six RSA 3072 keys) made in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        (
            dir,
            Pki {
                root,
                inter,
                ours,
                swan,
                rogue_root,
                rogue,
                ours_chain,
            },
        )
    });
    p
}

/// Our `certificate:` block and identities (under `ike:`).
fn ours_cert_block(pki: &Pki, peer_dn: &str) -> String {
    format!(
        "      certificate:\n        file: {}\n        key-file: {}\n        trusted-ca: [ {} ]\n      my-identifier: {{ asn1dn: \"{OUR_DN}\" }}\n      peers-identifier: {{ asn1dn: \"{peer_dn}\" }}\n",
        pki.ours_chain.display(),
        pki.ours.key.display(),
        pki.root.cert.display(),
    )
}

/// charon with certificate `me` (from `pki`), trusting our root and holding the intermediate
/// (which it sends after its own certificate).
fn swan_cert_cfg(pki: &Pki, me: &Issued) -> CharonConfig {
    let mut c = swan_cfg();
    c.remote_id = Some(OUR_DN.into());
    c.pubkey = Some(PubkeyAuth {
        cert_pem: me.cert_pem(),
        key_pem: me.key_pem(),
        ca_pems: vec![pki.root.cert_pem(), pki.inter.cert_pem()],
        send_cert: None,
        rsa_pss: false,
    });
    c
}

/// Certificate messages: charon logs the chain it received and its successful verification.
fn assert_certificates_used(log: &str) {
    for needle in [
        "received end entity cert \"C=JP, O=Example, CN=gw1\"",
        "received issuer cert \"C=JP, O=Example, CN=Example Intermediate CA\"",
        "authentication of 'C=JP, O=Example, CN=gw1' with RSA_EMSA_PKCS1_NULL successful",
    ] {
        assert!(
            log.contains(needle),
            "charon's log lacks {needle:?}:\n{log}"
        );
    }
}

#[test]
fn rsa3072_certificates_ours_initiates_through_fragments() {
    if !can_run() {
        return;
    }
    let pki = pki();
    let yaml = ours_yaml("", false, &ours_cert_block(pki, SWAN_DN));
    let (counts, log) = fragmented_interop(false, swan_cert_cfg(pki, &pki.swan), &yaml);
    assert_certificates_used(&log);
    // Message 5 (ID, two certificates, SIG: about 2.5 KB) alone needs five 576-byte fragments.
    assert!(counts.from_ours >= 5, "{counts:?}");
    assert!(counts.from_swan >= 5, "{counts:?}");
}

#[test]
fn rsa3072_certificates_swan_initiates_through_fragments() {
    if !can_run() {
        return;
    }
    let pki = pki();
    let yaml = ours_yaml("", true, &ours_cert_block(pki, SWAN_DN));
    let (counts, log) = fragmented_interop(true, swan_cert_cfg(pki, &pki.swan), &yaml);
    assert_certificates_used(&log);
    assert!(counts.from_ours >= 5 && counts.from_swan >= 5, "{counts:?}");
}

/// charon initiates with a refused credential; our log must say why in plain words.
fn refused(me: &Issued, peer_dn: &str, expect: &[&str]) {
    let pki = pki();
    let lab = lab();
    let charon = Charon::start(&lab.swan, swan_cert_cfg(pki, me));
    let yaml = ours_yaml("", true, &ours_cert_block(pki, peer_dn));
    let gw = Gateway::start(&lab.ours, &lab.dir, "ours", &yaml, Some("ipsec0"));
    let _ = charon.initiate_timeout("net", 10);
    let ok = gw.wait_log(expect[0], 20);
    let log = gw.log_text();
    assert!(
        ok,
        "ikegate's log lacks {:?}:\n{log}\n--- charon ---\n{}",
        expect[0],
        common::tail(&charon.log(), 40)
    );
    for e in expect {
        assert!(log.contains(e), "ikegate's log lacks {e:?}:\n{log}");
    }
    assert!(!log.contains("ESP SAs installed"), "{log}");
    println!(
        "diagnostic: {}",
        log.lines().find(|l| l.contains(expect[0])).unwrap_or("")
    );
}

#[test]
fn untrusted_ca_is_refused_in_plain_words() {
    if !can_run() {
        return;
    }
    let pki = pki();
    refused(
        &pki.rogue,
        SWAN_DN,
        &["which we do not trust", "Rogue Root CA", "Example Root CA"],
    );
}

#[test]
fn wrong_identity_is_refused_in_plain_words() {
    if !can_run() {
        return;
    }
    let pki = pki();
    refused(
        &pki.swan,
        "C=JP, O=Example, CN=someone-else",
        &[
            "is not in the peer's certificate",
            "CN=someone-else",
            "CN=swan",
        ],
    );
}

#[test]
fn peer_refusing_our_certificate_is_explained() {
    if !can_run() {
        return;
    }
    let pki = pki();
    let lab = lab();
    // charon trusts only the rogue root: it cannot validate our chain.
    let mut cfg = swan_cert_cfg(pki, &pki.swan);
    if let Some(p) = cfg.pubkey.as_mut() {
        p.ca_pems = vec![pki.rogue_root.cert_pem()];
    }
    let charon = Charon::start(&lab.swan, cfg);
    let yaml = ours_yaml("", false, &ours_cert_block(pki, SWAN_DN));
    let gw = Gateway::start(&lab.ours, &lab.dir, "ours", &yaml, Some("ipsec0"));
    let expect = "refused our Main Mode authentication";
    let ok = gw.wait_log(expect, 20);
    let log = gw.log_text();
    assert!(
        ok,
        "ikegate's log lacks {expect:?}:\n{log}\n--- charon ---\n{}",
        common::tail(&charon.log(), 40)
    );
    assert!(
        log.contains("with our certificate \"C=JP, O=Example, CN=gw1\""),
        "{log}"
    );
    println!(
        "diagnostic: {}",
        log.lines().find(|l| l.contains(expect)).unwrap_or("")
    );
}
