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
