//! The command line: `check` and `keys` on the shipped example and on a broken file.

mod common;

use common::ikegate::cli;
use common::TempDir;

fn example() -> String {
    format!("{}/config.example.yaml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_accepts_the_example() {
    let (code, out, err) = cli(&["check", "--config", &example()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "config OK: 4 interface(s)");
}

#[test]
fn check_lists_every_error_and_exits_2() {
    let dir = TempDir::new("cli");
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        "interfaces:\n  ipsec0:\n    ipv4: { source: 10.0.0.1, destination: nowhere }\n    mtu: 10\n    manual-sa:\n      outbound: { spi: 0x1001, encryption: aes128-gcm, key: \"0x00\" }\n      inbound: { spi: 0x1002, encryption: aes128-gcm, key: \"0x000102030405060708090a0b0c0d0e0f10111213\" }\nroutes: []\n",
    )
    .unwrap();
    let (code, out, err) = cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("4 error(s)"), "{err}");
    assert!(
        err.contains("interfaces.ipsec0.ipv4.destination: \"nowhere\" is not an IP address"),
        "{err}"
    );
    assert!(
        err.contains("interfaces.ipsec0.mtu: 10 is out of range; use a value from 576 to 9000"),
        "{err}"
    );
    assert!(
        err.contains("interfaces.ipsec0.manual-sa.outbound: aes128-gcm needs a 20-byte key"),
        "{err}"
    );
    assert!(
        err.contains("routes: unknown key `routes`; did you mean `route`?"),
        "{err}"
    );
}

#[test]
fn keys_exports_wireshark_esp_sa_lines() {
    let (code, out, err) = cli(&["keys", "--config", &example(), "--format", "wireshark-esp"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(
        lines[0],
        "\"IPv4\",\"10.0.0.1\",\"10.0.0.4\",\"0x00001001\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x000102030405060708090a0b0c0d0e0f10111213\",\"NULL\",\"\""
    );
    assert!(
        lines[3]
            .starts_with("\"IPv4\",\"10.0.0.3\",\"10.0.0.1\",\"0x00004004\",\"AES-CBC [RFC3602]\""),
        "{out}"
    );
}

#[test]
fn check_accepts_an_ikev2_tunnel_and_explains_its_mistakes() {
    let dir = TempDir::new("cli-ikev2");
    let good = dir.join("v2.yaml");
    let v2 = "interfaces:\n  ipsec0:\n    ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }\n    preshared-key: xeeB5gohvaYi\n    ike:\n      version: 2\n      fragment-size: 1400\n      proposal:\n        phase1:\n          encryption: [aes256-gcm, aes256]\n          hash: sha256\n          dh-group: [ecp256, modp2048]\n";
    std::fs::write(&good, v2).unwrap();
    let (code, out, err) = cli(&["check", "--config", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "config OK: 1 interface(s)");

    let bad = dir.join("bad.yaml");
    let text = v2
        .replace(
            "      fragment-size: 1400\n",
            "      exchange-mode: aggressive\n",
        )
        .replace("[aes256-gcm, aes256]", "[aes256-gcm, 3des]")
        .replace("          hash: sha256\n", "");
    std::fs::write(&bad, &text).unwrap();
    let (code, out, err) = cli(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("3 error(s)"), "{err}");
    for needle in [
        "interfaces.ipsec0.ike.exchange-mode: IKEv2 has no Aggressive Mode",
        "interfaces.ipsec0.ike.proposal.phase1.encryption[1]: 3des is not offered for IKEv2",
        "interfaces.ipsec0.ike.proposal.phase1.prf: missing: aes256-gcm in phase1.encryption (AEAD) has no hash to take the PRF from; add e.g. `prf: [sha256]`",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }

    // The same AEAD on an IKEv1 tunnel names the version as the fix.
    let v1 = dir.join("v1.yaml");
    std::fs::write(
        &v1,
        v2.replace("version: 2", "version: 1")
            .replace("      fragment-size: 1400\n", "")
            .replace("dh-group: [ecp256, modp2048]", "dh-group: ecp256"),
    )
    .unwrap();
    let (code, out, err) = cli(&["check", "--config", v1.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(
            "interfaces.ipsec0.ike.proposal.phase1.encryption[0]: aes256-gcm in phase1.encryption needs `ike.version: 2`"
        ),
        "{err}"
    );
}

/// Seed 002's phase 2 (racoon sainfo: pfs modp768, rijndael/3des, hmac_sha1/md5) in transport
/// mode: accepted, with a warning for each weak algorithm that names its key.
#[test]
fn check_warns_about_seed_002_weak_phase2() {
    let dir = TempDir::new("cli-weak");
    let path = dir.join("seed002.yaml");
    std::fs::write(
        &path,
        "interfaces:\n  ipsec0:\n    ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }\n    mode: transport\n    preshared-key: xeeB5gohvaYi\n    ike:\n      proposal:\n        phase2:\n          encryption: [aes128, 3des]\n          authentication: [hmac-sha1, hmac-md5]\n          pfs-group: modp768\n",
    )
    .unwrap();
    let (code, out, err) = cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "config OK: 1 interface(s)");
    assert!(
        err.contains("warning: interfaces.ipsec0.ike.proposal.phase2.pfs-group: modp768 (group 1, a 768-bit MODP group) is weak"),
        "{err}"
    );
    assert!(
        err.contains(
            "warning: interfaces.ipsec0.ike.proposal.phase2.authentication: hmac-md5 is weak"
        ),
        "{err}"
    );
}

/// `ikegate import`: seed 003's SEIL configuration to stdout (with the comments), to a private
/// file with `-o` that `ikegate check` accepts, and a broken file refused with its line.
#[test]
fn import_writes_checked_yaml_and_refuses_with_the_line() {
    let data = |f: &str| format!("{}/tests/data/import/{f}", env!("CARGO_MANIFEST_DIR"));
    let (code, out, err) = cli(&["import", "seil", &data("seed003-minimal.seil")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("preshared-key: \"xeeB5gohvaYi\""), "{out}");
    assert!(out.contains("# Not carried"), "{out}");
    let dir = TempDir::new("cli-import");
    let yaml = dir.join("imported.yaml");
    let (code, _, err) = cli(&[
        "import",
        "swanctl",
        &data("seed003-strongswan.swanctl.conf"),
        "-o",
        yaml.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&yaml).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the file holds the pre-shared key");
    let (code, out, err) = cli(&["check", "--config", yaml.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let bad = dir.join("bad.conf");
    std::fs::write(&bad, "connections {\n  gw {\n    version = 1\n").unwrap();
    let (code, out, err) = cli(&["import", "swanctl", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("line 2: this section is never closed"),
        "{err}"
    );
    assert!(out.is_empty());
}
