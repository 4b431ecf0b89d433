//! Configuration parsing: the example file, and errors that name the key and the fix.

use super::*;

fn errors(yaml: &str) -> Vec<String> {
    match parse(yaml, Path::new(".")) {
        Ok(_) => panic!("expected errors for:\n{yaml}"),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

const GOOD: &str = r#"
interfaces:
  ipsec0:
    ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }
    manual-sa:
      outbound: { spi: 0x1001, encryption: aes128-gcm, key: "0x000102030405060708090a0b0c0d0e0f10111213" }
      inbound:  { spi: 4098, encryption: aes128-gcm, key: "0x202122232425262728292a2b2c2d2e2f30313233" }
route:
  ipv4:
    - { destination: 192.168.2.0/24, gateway: ipsec0 }
"#;

#[test]
fn example_file_is_valid() {
    let text = include_str!("../../config.example.yaml");
    let cfg = parse(text, Path::new(".")).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(cfg.interfaces.len(), 4);
    assert_eq!(cfg.routes.len(), 5);
    assert!(matches!(cfg.interfaces[0].keying, Keying::Ike(_)));
    assert_eq!(cfg.interfaces[2].nat_traversal, NatTraversal::Force);
}

#[test]
fn minimal_config_and_defaults() {
    let cfg = parse(GOOD, Path::new(".")).unwrap();
    let i = &cfg.interfaces[0];
    assert_eq!(i.name, "ipsec0");
    assert_eq!(i.nat_traversal, NatTraversal::Enable);
    assert_eq!(i.mtu, Mtu::Auto);
    assert_eq!(i.tcp_mss, TcpMss::Auto);
    let Keying::Manual { outbound, inbound } = &i.keying else {
        panic!("manual keys expected");
    };
    assert_eq!(outbound.spi, 0x1001);
    assert_eq!(inbound.spi, 4098);
    assert_eq!(outbound.enc_key.len(), 20);
    assert_eq!(
        cfg.routes[0].destination,
        parse_prefix("192.168.2.0/24").unwrap()
    );
}

#[test]
fn every_error_is_reported_with_its_path() {
    let e = errors(
        r#"
interfaces:
  ipsec0:
    ipv4: { source: 10.0.0.1, destinaton: 10.0.0.2 }
    nat-traversal: forse
    mtu: huge
    manual-sa:
      outbound: { spi: 7, encryption: aes128-gcm, key: "0x0001" }
      inbound:  { spi: 0x2002, encryption: aes512, key: "0x00" }
route:
  ipv4:
    - { destination: 192.168.2.1/24, gateway: ipsec1 }
"#,
    );
    let all = e.join("\n");
    for needle in [
        "interfaces.ipsec0.ipv4.destinaton: unknown key `destinaton`; did you mean `destination`?",
        "interfaces.ipsec0.ipv4.destination: missing",
        "interfaces.ipsec0.nat-traversal: \"forse\" is not one of disable | enable | force (did you mean `force`?)",
        "interfaces.ipsec0.mtu: expected a whole number",
        "interfaces.ipsec0.manual-sa.outbound.spi: 7 is out of range",
        "interfaces.ipsec0.manual-sa.outbound: aes128-gcm needs a 20-byte key including the 4-byte salt (40 hex digits), got 2 bytes",
        "interfaces.ipsec0.manual-sa.inbound.encryption: \"aes512\" is not one of",
        "route.ipv4[0].destination: 192.168.2.1/24 has host bits set; the network is 192.168.2.0/24",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn unknown_gateway_and_duplicate_spi() {
    let yaml = GOOD
        .replace("gateway: ipsec0", "gateway: ipsek0")
        .replace("spi: 4098", "spi: 0x1002");
    let yaml = format!(
        "{yaml}\n",
    )
    .replace(
        "route:",
        "  ipsec1:\n    ipv4: { source: 10.0.0.1, destination: 10.0.0.3 }\n    manual-sa:\n      outbound: { spi: 0x3003, encryption: aes128-gcm, key: \"0x000102030405060708090a0b0c0d0e0f10111213\" }\n      inbound:  { spi: 0x1002, encryption: aes128-gcm, key: \"0x202122232425262728292a2b2c2d2e2f30313233\" }\nroute:",
    );
    let all = errors(&yaml).join("\n");
    assert!(
        all.contains(
            "route.ipv4[0].gateway: no interface named \"ipsek0\"; did you mean `ipsec0`?"
        ),
        "{all}"
    );
    assert!(
        all.contains("SPI 0x1002 is already the inbound SPI of ipsec0"),
        "{all}"
    );
}

#[test]
fn cbc_needs_authentication_and_gcm_refuses_it() {
    let yaml = GOOD.replace(
        r#"outbound: { spi: 0x1001, encryption: aes128-gcm, key: "0x000102030405060708090a0b0c0d0e0f10111213" }"#,
        r#"outbound: { spi: 0x1001, encryption: aes128, key: "0x000102030405060708090a0b0c0d0e0f" }"#,
    );
    let all = errors(&yaml).join("\n");
    assert!(
        all.contains("aes128 needs an authentication algorithm"),
        "{all}"
    );
    let yaml = GOOD.replace(
        r#"key: "0x202122232425262728292a2b2c2d2e2f30313233" }"#,
        r#"key: "0x202122232425262728292a2b2c2d2e2f30313233", authentication: hmac-sha1, authentication-key: "0x0000000000000000000000000000000000000000" }"#,
    );
    let all = errors(&yaml).join("\n");
    assert!(
        all.contains("AEAD cipher and carries its own integrity"),
        "{all}"
    );
}

#[test]
fn key_file_with_trailing_newline_is_an_error() {
    let dir = std::env::temp_dir().join(format!("ikegate-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_secret(
        &dir.join("out.key"),
        "0x000102030405060708090a0b0c0d0e0f10111213\n",
    );
    let yaml = GOOD.replace(
        r#"key: "0x000102030405060708090a0b0c0d0e0f10111213" }"#,
        "key-file: out.key }",
    );
    let e = parse(&yaml, &dir).unwrap_err();
    let all: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert!(
        all[0].starts_with("interfaces.ipsec0.manual-sa.outbound.key-file: ")
            && all[0].contains("ends in a newline"),
        "{all:?}"
    );
    write_secret(
        &dir.join("out.key"),
        "0x000102030405060708090a0b0c0d0e0f10111213",
    );
    assert!(parse(&yaml, &dir).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn garbage_never_panics() {
    for text in [
        "",
        "[]",
        "interfaces: 3",
        "interfaces: {}",
        "route: {ipv4: 5}",
        ":::",
        "interfaces: { a: [1,2] }",
        "\u{0}",
    ] {
        assert!(parse(text, Path::new(".")).is_err(), "{text:?}");
    }
}

#[test]
fn prefixes() {
    let p = parse_prefix("192.168.2.0/24").unwrap();
    assert!(p.contains("192.168.2.77".parse().unwrap()));
    assert!(!p.contains("192.168.3.1".parse().unwrap()));
    assert!(!p.contains("::1".parse().unwrap()));
    assert_eq!(parse_prefix("0.0.0.0/0").unwrap().prefix(), 0);
    assert!(parse_prefix("10.0.0.0/33").is_err());
    assert!(parse_prefix("10.0.0.1/8")
        .unwrap_err()
        .contains("host bits"));
    assert!(parse_prefix("2001:db8::/32")
        .unwrap()
        .contains("2001:db8::5".parse().unwrap()));
}

const IKE: &str = r#"
interfaces:
  ipsec0:
    ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }
    preshared-key: xeeB5gohvaYi
    ike:
      version: 1
      exchange-mode: main
"#;

#[test]
fn ike_defaults_are_seils() {
    let cfg = parse(IKE, Path::new(".")).unwrap_or_else(|e| panic!("{e:?}"));
    let Keying::Ike(p) = &cfg.interfaces[0].keying else {
        panic!("IKE keying expected");
    };
    let names: Vec<String> = p
        .phase1
        .encryption
        .iter()
        .flat_map(|e| {
            p.phase1
                .hash
                .iter()
                .map(move |h| format!("{}-{}", e.name(), h.name()))
        })
        .collect();
    assert_eq!(
        names,
        [
            "aes256-sha256",
            "aes256-sha1",
            "aes128-sha256",
            "aes128-sha1",
            "3des-sha256",
            "3des-sha1"
        ]
    );
    assert_eq!(p.phase1.dh_group.name(), "modp1536");
    assert_eq!(p.phase1.lifetime_secs, 86400);
    assert_eq!(&*p.psk, b"xeeB5gohvaYi");
    assert!(!p.responder_only);
    assert_eq!(p.phase2.proxy_ids[0].to_string(), "0.0.0.0/0 ⇄ 0.0.0.0/0");
}

#[test]
fn ike_full_block() {
    let yaml = IKE.replace(
        "      exchange-mode: main\n",
        "      exchange-mode: main\n      my-identifier: { fqdn: gw1.example.com }\n      peers-identifier: { address: 10.0.0.2 }\n      proposal:\n        phase1:\n          lifetime: 3600\n          encryption: [aes128]\n          hash: sha1\n          dh-group: modp1024\n        phase2:\n          proxy-id:\n            ipv4: { local: 192.168.1.0/24, remote: 192.168.2.0/24 }\n          encryption: [aes128-gcm, 3des]\n          authentication: [hmac-sha1]\n          pfs-group: modp2048\n          lifetime-of-time: 600\n          lifetime-of-byte: 1000000\n",
    ) + "    responder-only: enable\n";
    let yaml = yaml.replace("    responder-only: enable\n", "").replace(
        "    preshared-key: xeeB5gohvaYi\n",
        "    preshared-key: xeeB5gohvaYi\n    responder-only: enable\n",
    );
    let cfg = parse(&yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e:?}"));
    let Keying::Ike(p) = &cfg.interfaces[0].keying else {
        panic!("IKE keying expected");
    };
    assert!(p.responder_only);
    assert_eq!(
        p.my_id.as_ref().unwrap().to_string(),
        "fqdn:gw1.example.com"
    );
    assert_eq!(p.phase1.lifetime_secs, 3600);
    assert_eq!(p.phase1.dh_group.name(), "modp1024");
    assert_eq!(
        p.phase2.encryption,
        vec![EncAlg::Aes128Gcm16, EncAlg::TripleDesCbc]
    );
    assert_eq!(p.phase2.pfs_group.unwrap().name(), "modp2048");
    assert_eq!(p.phase2.lifetime_bytes, 1_000_000);
    assert_eq!(
        p.phase2.proxy_ids[0].to_string(),
        "192.168.1.0/24 ⇄ 192.168.2.0/24"
    );
}

#[test]
fn ike_errors_name_the_key() {
    let all = errors(&IKE.replace("version: 1", "version: 3").replace(
        "      exchange-mode: main\n",
        "      exchange-mode: main\n      proposal:\n        phase1:\n          hash: [sha256, sha3]\n          dh-group: modp1537\n",
    ))
    .join("\n");
    assert!(
        all.contains(
            "interfaces.ipsec0.ike.version: 3 is not an IKE version: write `version: 1` (IKEv1, \
             the default) or `version: 2` (IKEv2)"
        ),
        "{all}"
    );
    assert!(
        all.contains("interfaces.ipsec0.ike.proposal.phase1.hash[1]: \"sha3\" is not one of"),
        "{all}"
    );
    assert!(
        all.contains("interfaces.ipsec0.ike.proposal.phase1.dh-group: \"modp1537\" is not one of"),
        "{all}"
    );
    let all = errors(&IKE.replace("    preshared-key: xeeB5gohvaYi\n", "")).join("\n");
    assert!(
        all.contains("interfaces.ipsec0: IKE needs a pre-shared key"),
        "{all}"
    );
    let both = IKE.replace(
        "    ike:\n",
        "    manual-sa:\n      outbound: { spi: 0x1001, encryption: aes128-gcm, key: \"0x000102030405060708090a0b0c0d0e0f10111213\" }\n      inbound:  { spi: 0x1002, encryption: aes128-gcm, key: \"0x000102030405060708090a0b0c0d0e0f10111213\" }\n    ike:\n",
    );
    let all = errors(&both).join("\n");
    assert!(
        all.contains("interfaces.ipsec0.manual-sa: `manual-sa` and `ike` are mutually exclusive"),
        "{all}"
    );
}

#[test]
fn psk_file_with_trailing_newline_is_an_error() {
    let dir = std::env::temp_dir().join(format!("ikegate-psk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_secret(&dir.join("psk"), "xeeB5gohvaYi\n");
    let yaml = IKE.replace("preshared-key: xeeB5gohvaYi", "preshared-key-file: psk");
    let all: Vec<String> = parse(&yaml, &dir)
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(
        all[0].starts_with("interfaces.ipsec0.preshared-key-file: "),
        "{all:?}"
    );
    assert!(all[0].contains("ends in a newline"), "{all:?}");
    write_secret(&dir.join("psk"), "xeeB5gohvaYi");
    let cfg = parse(&yaml, &dir).unwrap();
    let Keying::Ike(p) = &cfg.interfaces[0].keying else {
        panic!()
    };
    assert_eq!(&*p.psk, b"xeeB5gohvaYi");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn admin_block_defaults_and_values() {
    let cfg = parse(GOOD, Path::new(".")).unwrap();
    assert!(cfg.admin.is_none());
    let text = format!(
        "{GOOD}admin:\n  listen: 0.0.0.0:8443\n  token-file: admin.token\n  tls: {{ certificate: c.pem, private-key: k.pem }}\n  allow-key-export: true\n"
    );
    let a = parse(&text, Path::new("/etc/ikegate"))
        .unwrap()
        .admin
        .unwrap();
    assert_eq!(a.listen, "0.0.0.0:8443".parse().unwrap());
    assert_eq!(a.token_file, Path::new("/etc/ikegate/admin.token"));
    let tls = a.tls.clone().unwrap();
    assert_eq!(tls.certificate, Path::new("/etc/ikegate/c.pem"));
    assert_eq!(tls.private_key, Path::new("/etc/ikegate/k.pem"));
    assert!(a.allow_key_export);
    assert!(a.uses_tls());
    let a = parse(&format!("{GOOD}admin: {{}}\n"), Path::new("."))
        .unwrap()
        .admin
        .unwrap();
    assert_eq!(a.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(a.token_file, Path::new(admin::DEFAULT_TOKEN_FILE));
    assert!(!a.allow_key_export);
    assert!(!a.uses_tls());
    assert!(a.tls_files().is_none());
    // A non-loopback listen without files gets a generated pair next to the token file.
    let a = parse(
        &format!("{GOOD}admin: {{ listen: \"[::]:8443\", token-file: /x/t }}\n"),
        Path::new("."),
    )
    .unwrap()
    .admin
    .unwrap();
    assert!(a.uses_tls());
    assert_eq!(
        a.tls_files().unwrap().certificate,
        Path::new("/x/t.cert.pem")
    );
}

#[test]
fn admin_block_errors_name_the_key() {
    let e = errors(&format!(
        "{GOOD}admin:\n  listen: localhost\n  tls: {{ certificate: c.pem }}\n  allow-key-export: maybe\n  tokenfile: x\n"
    ));
    let all = e.join("\n");
    assert!(
        all.contains("admin.listen: \"localhost\" is not an address with a port"),
        "{all}"
    );
    assert!(all.contains("admin.tls.private-key: missing"), "{all}");
    assert!(
        all.contains("admin.allow-key-export: \"maybe\" is not one of"),
        "{all}"
    );
    assert!(
        all.contains("admin.tokenfile: unknown key `tokenfile`; did you mean `token-file`?"),
        "{all}"
    );
}

#[test]
fn proposal_and_proxy_id_values_parse_like_the_file() {
    let cfg = parse(include_str!("../../config.example.yaml"), Path::new(".")).unwrap();
    let Keying::Ike(cur) = &cfg.interfaces[0].keying else {
        panic!("IKE expected");
    };
    let v: yaml_serde::Value = yaml_serde::from_str(
        "{ phase1: { encryption: aes128, hash: sha1, dh-group: modp2048 }, phase2: { encryption: aes128-gcm } }",
    )
    .unwrap();
    let p = parse_proposals(&v, cur).unwrap();
    assert_eq!(p.phase1.encryption.len(), 1);
    assert_eq!(p.phase2.encryption, vec![EncAlg::Aes128Gcm16]);
    assert_eq!(p.phase2.proxy_ids, cur.phase2.proxy_ids, "proxy-ids kept");
    assert_eq!(p.psk, cur.psk);
    let bad: yaml_serde::Value =
        yaml_serde::from_str("{ phase1: { hash: sha3 }, phase3: {} }").unwrap();
    let e: Vec<String> = parse_proposals(&bad, cur)
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(e.iter().any(|e| e.starts_with("phase1.hash")), "{e:?}");
    assert!(
        e.iter().any(|e| e.starts_with("phase3: unknown key")),
        "{e:?}"
    );
    let v: yaml_serde::Value =
        yaml_serde::from_str("{ ipv4: { local: 10.1.0.0/16, remote: 10.2.0.0/16 } }").unwrap();
    let ids = parse_proxy_ids(&v).unwrap();
    assert_eq!(ids[0].local.to_string(), "10.1.0.0/16");
    let bad: yaml_serde::Value = yaml_serde::from_str("{ ipv4: { local: 10.1.0.1/16 } }").unwrap();
    let e: Vec<String> = parse_proxy_ids(&bad)
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(
        e.iter()
            .any(|e| e.starts_with("ipv4.local: 10.1.0.1/16 has host bits")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|e| e.starts_with("ipv4.remote: missing")),
        "{e:?}"
    );
}

#[test]
fn ecp_groups_and_chacha20_poly1305_are_configurable() {
    let cfg = parse(include_str!("../../config.example.yaml"), Path::new(".")).unwrap();
    let Keying::Ike(cur) = &cfg.interfaces[0].keying else {
        panic!("IKE expected");
    };
    let v: yaml_serde::Value = yaml_serde::from_str(
        "{ phase1: { encryption: aes256, hash: sha384, dh-group: ecp384 }, \
           phase2: { encryption: chacha20-poly1305, pfs-group: ecp256 } }",
    )
    .unwrap();
    let p = parse_proposals(&v, cur).unwrap();
    assert_eq!(p.phase1.dh_group, crate::crypto::dh::DhGroup::Ecp384);
    assert_eq!(p.phase2.encryption, vec![EncAlg::ChaCha20Poly1305]);
    assert_eq!(p.phase2.pfs_group, Some(crate::crypto::dh::DhGroup::Ecp256));
}

fn ike_policy(yaml: &str) -> crate::ike::IkePolicy {
    let cfg = parse(yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e:?}"));
    match &cfg.interfaces[0].keying {
        Keying::Ike(p) => (**p).clone(),
        _ => panic!("IKE keying expected"),
    }
}

#[test]
fn ike_dpd_and_nat_keepalive() {
    use std::time::Duration;
    let p = ike_policy(IKE);
    let d = p.dpd.expect("DPD on by default");
    assert_eq!((d.interval, d.retries), (Duration::from_secs(20), 5));
    assert_eq!(p.nat_keepalive, Some(Duration::from_secs(20)));
    let p = ike_policy(&IKE.replace(
        "      exchange-mode: main\n",
        "      exchange-mode: main\n      dpd: { interval: 10, retries: 3 }\n      nat-keepalive: 5\n",
    ));
    let d = p.dpd.unwrap();
    assert_eq!((d.interval, d.retries), (Duration::from_secs(10), 3));
    assert_eq!(p.nat_keepalive, Some(Duration::from_secs(5)));
    let p = ike_policy(&IKE.replace(
        "      exchange-mode: main\n",
        "      exchange-mode: main\n      dpd: disable\n      nat-keepalive: disable\n",
    ));
    assert!(p.dpd.is_none());
    assert!(p.nat_keepalive.is_none());
    let all = errors(&IKE.replace(
        "      exchange-mode: main\n",
        "      exchange-mode: main\n      dpd: { interval: 0, retry: 3 }\n",
    ))
    .join("\n");
    assert!(all.contains("interfaces.ipsec0.ike.dpd"), "{all}");
    assert!(all.contains("retry"), "{all}");
    let all = errors(&IKE.replace(
        "      exchange-mode: main\n",
        "      exchange-mode: main\n      dpd: sometimes\n",
    ))
    .join("\n");
    assert!(all.contains("dpd: disable"), "{all}");
}

#[test]
fn ike_aggressive_mode() {
    let p = ike_policy(IKE);
    assert_eq!(p.exchange_mode, crate::ike::ExchangeMode::Main);
    assert!(p.aggressive_encrypt_third);
    let p = ike_policy(&IKE.replace(
        "      exchange-mode: main\n",
        "      exchange-mode: aggressive\n      aggressive-mode-third-message: clear\n      my-identifier: { fqdn: branch.example.com }\n",
    ));
    assert_eq!(p.exchange_mode, crate::ike::ExchangeMode::Aggressive);
    assert!(!p.aggressive_encrypt_third);
    let all = errors(&IKE.replace(
        "      exchange-mode: main\n",
        "      exchange-mode: aggressive\n      aggressive-mode-third-message: plain\n",
    ))
    .join("\n");
    assert!(
        all.contains("interfaces.ipsec0.ike.aggressive-mode-third-message"),
        "{all}"
    );
}

#[test]
fn dynamic_destination_is_a_road_warrior_responder() {
    let good = IKE
        .replace("destination: 10.0.0.2", "destination: dynamic")
        .replace(
            "      exchange-mode: main\n",
            "      exchange-mode: aggressive\n      peers-identifier: { fqdn: alice.example.net }\n",
        )
        .replace("    ike:\n", "    responder-only: enable\n    ike:\n");
    let cfg = parse(&good, Path::new(".")).unwrap_or_else(|e| panic!("{e:?}"));
    let i = &cfg.interfaces[0];
    assert!(i.dynamic_peer);
    assert!(i.destination.is_unspecified());
    // Each missing piece is named with its key.
    let all = errors(&IKE.replace("destination: 10.0.0.2", "destination: dynamic")).join("\n");
    for key in [
        "interfaces.ipsec0.responder-only",
        "interfaces.ipsec0.ike.exchange-mode",
        "interfaces.ipsec0.ike.peers-identifier",
    ] {
        assert!(all.contains(key), "{key} missing in:\n{all}");
    }
    let all = errors(&good.replace(
        "peers-identifier: { fqdn: alice.example.net }",
        "peers-identifier: { address: 10.0.0.9 }",
    ))
    .join("\n");
    assert!(all.contains("fqdn, user-fqdn or key-id"), "{all}");
    let all = errors(&GOOD.replace("destination: 10.0.0.2", "destination: dynamic")).join("\n");
    assert!(all.contains("needs IKE keying"), "{all}");
}

// ---------------------------------------------------------------------------------------------
// IKEv2 (`ike.version: 2`)

/// [`IKE`] as an IKEv2 tunnel, with `extra` lines under `ike:` (indented six spaces).
fn ikev2(extra: &str) -> String {
    IKE.replace("version: 1", "version: 2")
        .replace("      exchange-mode: main\n", extra)
}

/// [`IKE`] (or [`ikev2`]) with a `proposal:` block whose `phase1:` holds `phase1` lines (indented
/// ten spaces).
fn with_phase1(base: &str, phase1: &str) -> String {
    format!("{base}      proposal:\n        phase1:\n{phase1}")
}

fn assert_has(all: &[String], needle: &str) {
    assert!(
        all.iter().any(|e| e.contains(needle)),
        "missing {needle:?} in:\n{}",
        all.join("\n")
    );
}

#[test]
fn ikev2_defaults() {
    use crate::crypto::dh::DhGroup::*;
    use crate::crypto::ikev2::transform::Ikev2Cipher;
    use crate::crypto::prf::HashAlg;
    let p = ike_policy(&ikev2(""));
    assert_eq!(p.version, crate::ike::IkeVersion::V2);
    assert_eq!(
        p.phase1.ikev2_encryption,
        [Ikev2Cipher::Aes256Cbc, Ikev2Cipher::Aes128Cbc]
    );
    assert_eq!(p.phase1.hash, [HashAlg::Sha256, HashAlg::Sha1]);
    assert_eq!(p.phase1.prf, p.phase1.hash, "prf from hash");
    assert_eq!(p.phase1.dh_groups, [Modp2048, Ecp256, Curve25519, Modp1536]);
    assert_eq!(p.phase1.dh_group, Modp2048);
    assert_eq!(p.phase1.lifetime_secs, 86400);
    assert!(p.fragmentation);
    assert_eq!(p.fragment_size, 1280);
    assert_eq!(p.exchange_mode, crate::ike::ExchangeMode::Main);
    // Phase 2 as for IKEv1.
    let v1 = ike_policy(IKE);
    assert_eq!(p.phase2, v1.phase2);
    // IKEv1 stays the default, with one group, and fragmentation announced as strongSwan does.
    let p = ike_policy(&IKE.replace("      version: 1\n", ""));
    assert_eq!(p.version, crate::ike::IkeVersion::V1);
    assert_eq!(p.phase1.dh_groups, [Modp1536]);
    assert!(p.phase1.prf.is_empty());
    assert!(p.fragmentation);
    assert_eq!(p.fragment_size, 1280);
    // A phase-1 block that sets only the lifetime keeps the IKEv2 defaults for the rest.
    let p = ike_policy(&with_phase1(&ikev2(""), "          lifetime: 3600\n"));
    assert_eq!(p.phase1.lifetime_secs, 3600);
    assert_eq!(p.phase1.dh_groups.len(), 4);
    // `version` may be quoted, or spelled ikev2.
    for v in ["\"2\"", "ikev2"] {
        let p = ike_policy(&IKE.replace("version: 1", &format!("version: {v}")));
        assert_eq!(p.version, crate::ike::IkeVersion::V2, "{v}");
    }
}

#[test]
fn ikev2_aead_prf_and_group_lists() {
    use crate::crypto::dh::DhGroup::*;
    use crate::crypto::ikev2::transform::Ikev2Cipher;
    use crate::crypto::prf::HashAlg;
    // AEAD only: no integrity, the PRF is given.
    let p = ike_policy(&with_phase1(
        &ikev2(""),
        "          encryption: [aes256-gcm, chacha20-poly1305, aes128-gcm]\n          prf: [sha384, sha256]\n          dh-group: [curve25519, ecp384, modp3072]\n",
    ));
    assert_eq!(
        p.phase1.ikev2_encryption,
        [
            Ikev2Cipher::Aes256Gcm16,
            Ikev2Cipher::ChaCha20Poly1305,
            Ikev2Cipher::Aes128Gcm16
        ]
    );
    assert!(p.phase1.hash.is_empty());
    assert!(p.phase1.encryption.is_empty(), "no CBC cipher");
    assert_eq!(p.phase1.prf, [HashAlg::Sha384, HashAlg::Sha256]);
    assert_eq!(p.phase1.ikev2_prfs(), [HashAlg::Sha384, HashAlg::Sha256]);
    assert_eq!(p.phase1.dh_groups, [Curve25519, Ecp384, Modp3072]);
    assert_eq!(p.phase1.dh_group, Curve25519);
    // AEAD and CBC: the hash is the CBC ciphers' integrity, the PRF defaults from it.
    let p = ike_policy(&with_phase1(
        &ikev2(""),
        "          encryption: [aes128-gcm, aes256, aes192]\n          hash: sha512\n          dh-group: ecp256\n",
    ));
    assert_eq!(
        p.phase1.ikev2_encryption,
        [
            Ikev2Cipher::Aes128Gcm16,
            Ikev2Cipher::Aes256Cbc,
            Ikev2Cipher::Aes192Cbc
        ]
    );
    assert_eq!(
        p.phase1.encryption,
        [
            crate::crypto::ike_cipher::IkeCipher::Aes256Cbc,
            crate::crypto::ike_cipher::IkeCipher::Aes192Cbc
        ]
    );
    assert_eq!(p.phase1.hash, [HashAlg::Sha512]);
    assert_eq!(p.phase1.prf, [HashAlg::Sha512]);
    assert_eq!(p.phase1.dh_groups, [Ecp256]);
    assert_eq!(p.phase1.dh_group, Ecp256);
    // CBC names map to the IKEv2 CBC ciphers; prf may differ from hash.
    let p = ike_policy(&with_phase1(
        &ikev2(""),
        "          encryption: aes128\n          hash: [sha1]\n          prf: sha256\n",
    ));
    assert_eq!(p.phase1.ikev2_encryption, [Ikev2Cipher::Aes128Cbc]);
    assert_eq!(p.phase1.hash, [HashAlg::Sha1]);
    assert_eq!(p.phase1.prf, [HashAlg::Sha256]);
    // IKEv1 takes a one-element list of groups as well as one group.
    let p = ike_policy(&with_phase1(IKE, "          dh-group: [ecp256]\n"));
    assert_eq!((p.phase1.dh_group, p.phase1.dh_groups.len()), (Ecp256, 1));
    // Phase 2 takes chacha20-poly1305 and the new groups as PFS on both versions.
    let p = ike_policy(&format!(
        "{}      proposal:\n        phase2:\n          encryption: [chacha20-poly1305, aes256-gcm]\n          pfs-group: curve25519\n",
        ikev2("")
    ));
    assert_eq!(
        p.phase2.encryption,
        [EncAlg::ChaCha20Poly1305, EncAlg::Aes256Gcm16]
    );
    assert_eq!(p.phase2.pfs_group, Some(Curve25519));
}

#[test]
fn ikev2_fragmentation() {
    let p = ike_policy(&ikev2(
        "      fragmentation: enable\n      fragment-size: 1400\n",
    ));
    assert!(p.fragmentation);
    assert_eq!(p.fragment_size, 1400);
    let p = ike_policy(&ikev2("      fragmentation: disable\n"));
    assert!(!p.fragmentation);
    for ok in ["576", "9000", "\"0x500\""] {
        let p = ike_policy(&ikev2(&format!("      fragment-size: {ok}\n")));
        assert!((576..=9000).contains(&p.fragment_size), "{ok}");
    }
    for bad in ["575", "9001", "0", "-1", "big", "[1280]"] {
        let all = errors(&ikev2(&format!("      fragment-size: {bad}\n")));
        assert_has(
            &all,
            "interfaces.ipsec0.ike.fragment-size: fragment-size is the largest IKE datagram \
             (IP packet, in bytes) sent before fragmenting: use 576 to 9000",
        );
        assert_has(&all, "e.g. `fragment-size: 1280`");
    }
    let all = errors(&ikev2("      fragmentation: sometimes\n"));
    assert_has(
        &all,
        "interfaces.ipsec0.ike.fragmentation: \"sometimes\" is not one of enable | disable",
    );
    let all = errors(&ikev2(
        "      fragmentation: disable\n      fragment-size: 1400\n",
    ));
    assert_has(
        &all,
        "interfaces.ipsec0.ike.fragment-size: `fragment-size` has no effect with \
         `fragmentation: disable`: remove one of them",
    );
    // IKEv1 (strongSwan's proprietary fragments): the same keys, the same checks.
    let v1 = |extra: &str| {
        IKE.replace(
            "      exchange-mode: main\n",
            &format!("      exchange-mode: main\n{extra}"),
        )
    };
    let p = ike_policy(&v1("      fragmentation: disable\n"));
    assert!(!p.fragmentation);
    let p = ike_policy(&v1(
        "      fragmentation: enable\n      fragment-size: 576\n",
    ));
    assert_eq!((p.fragmentation, p.fragment_size), (true, 576));
    let all = errors(&v1("      fragment-size: 100\n"));
    assert_has(
        &all,
        "interfaces.ipsec0.ike.fragment-size: fragment-size is the largest IKE datagram",
    );
}

#[test]
fn ikev2_errors_name_the_key_and_the_fix() {
    let p1 = "interfaces.ipsec0.ike.proposal.phase1";
    // AEAD on an IKEv1 tunnel.
    let all = errors(&with_phase1(
        IKE,
        "          encryption: [aes256, aes128-gcm]\n",
    ));
    assert_has(
        &all,
        &format!(
            "{p1}.encryption[1]: aes128-gcm in phase1.encryption needs `ike.version: 2`: IKEv1 \
             has no AEAD cipher for phase 1; set `version: 2` under `ike:`"
        ),
    );
    let all = errors(&with_phase1(
        IKE,
        "          encryption: chacha20-poly1305\n",
    ));
    assert_has(
        &all,
        &format!("{p1}.encryption: chacha20-poly1305 in phase1.encryption needs `ike.version: 2`"),
    );
    // 3des is not offered for IKEv2.
    let all = errors(&with_phase1(
        &ikev2(""),
        "          encryption: [aes256, 3des]\n",
    ));
    assert_has(
        &all,
        &format!("{p1}.encryption[1]: 3des is not offered for IKEv2"),
    );
    assert_has(
        &all,
        "use aes256 or aes128 instead, or set `ike.version: 1`",
    );
    // An unknown name gets the usual suggestion, with the AEAD names among the choices.
    let all = errors(&with_phase1(
        &ikev2(""),
        "          encryption: aes256-gmc\n",
    ));
    assert_has(
        &all,
        &format!("{p1}.encryption: \"aes256-gmc\" is not one of aes128 | aes192 | aes256 | 3des | aes128-gcm | aes256-gcm | chacha20-poly1305 (did you mean `aes256-gcm`?)"),
    );
    // `hash` with an AEAD-only list.
    let all = errors(&with_phase1(
        &ikev2(""),
        "          encryption: [aes256-gcm, chacha20-poly1305]\n          hash: sha256\n          prf: sha256\n",
    ));
    assert_has(
        &all,
        &format!(
            "{p1}.hash: `hash` is the integrity algorithm of the CBC ciphers, and \
             phase1.encryption has only AEAD ciphers (aes256-gcm, chacha20-poly1305), which \
             carry their own: remove `hash`"
        ),
    );
    // AEAD without hash or prf.
    for enc in ["aes128-gcm", "[aes128-gcm, aes256]"] {
        let all = errors(&with_phase1(
            &ikev2(""),
            &format!("          encryption: {enc}\n"),
        ));
        assert_has(
            &all,
            &format!(
                "{p1}.prf: missing: aes128-gcm in phase1.encryption (AEAD) has no hash to take \
                 the PRF from; add e.g. `prf: [sha256]`"
            ),
        );
    }
    // prf values, and prf on IKEv1.
    let all = errors(&with_phase1(
        &ikev2(""),
        "          encryption: aes128-gcm\n          prf: [sha256, md5]\n",
    ));
    assert_has(
        &all,
        &format!("{p1}.prf[1]: \"md5\" is not one of sha1 | sha256 | sha384 | sha512"),
    );
    let all = errors(&with_phase1(IKE, "          prf: sha256\n"));
    assert_has(
        &all,
        &format!(
            "{p1}.prf: `prf` is an IKEv2 setting (IKEv1 uses the HMAC of phase1.hash as its \
             PRF): remove it, or set `ike.version: 2`"
        ),
    );
    // md5 is not offered for IKEv2.
    let all = errors(&with_phase1(&ikev2(""), "          hash: [sha1, md5]\n"));
    assert_has(
        &all,
        &format!("{p1}.hash[1]: md5 is not offered for IKEv2 (RFC 8247"),
    );
    assert_has(&all, "use sha256 or sha1");
    // Several groups on IKEv1.
    let all = errors(&with_phase1(
        IKE,
        "          dh-group: [modp2048, ecp256]\n",
    ));
    assert_has(
        &all,
        &format!(
            "{p1}.dh-group: IKEv1 proposes one Diffie-Hellman group: give one (e.g. \
             `dh-group: modp2048`), or set `ike.version: 2` to offer several"
        ),
    );
    let all = errors(&with_phase1(
        &ikev2(""),
        "          dh-group: [modp2048, modp9999]\n",
    ));
    assert_has(
        &all,
        &format!("{p1}.dh-group[1]: \"modp9999\" is not one of"),
    );
    // `dh-groups` belongs to the admin API's JSON, not to the file.
    let all = errors(&with_phase1(
        &ikev2(""),
        "          dh-groups: [modp2048]\n",
    ));
    assert_has(
        &all,
        &format!("{p1}.dh-groups: unknown key `dh-groups`; did you mean `dh-group`?"),
    );
    // No Aggressive Mode in IKEv2.
    let all = errors(&ikev2(
        "      exchange-mode: aggressive\n      aggressive-mode-third-message: clear\n",
    ));
    assert_has(
        &all,
        "interfaces.ipsec0.ike.exchange-mode: IKEv2 has no Aggressive Mode (IKE_SA_INIT and \
         IKE_AUTH always protect the identities): remove `exchange-mode`, or set `version: 1`",
    );
    assert_has(
        &all,
        "interfaces.ipsec0.ike.aggressive-mode-third-message: only IKEv1 Aggressive Mode has a \
         third message; IKEv2 has no Aggressive Mode: remove `aggressive-mode-third-message`",
    );
    // `exchange-mode: main` is harmless.
    assert_eq!(
        ike_policy(&ikev2("      exchange-mode: main\n")).exchange_mode,
        crate::ike::ExchangeMode::Main
    );
    // Unknown versions.
    for (v, shown) in [
        ("3", "3"),
        ("two", "\"two\""),
        ("1.5", "1.5"),
        ("\"\"", "\"\""),
    ] {
        let all = errors(&IKE.replace("version: 1", &format!("version: {v}")));
        assert_has(
            &all,
            &format!(
                "interfaces.ipsec0.ike.version: {shown} is not an IKE version: write \
                 `version: 1` (IKEv1, the default) or `version: 2` (IKEv2)"
            ),
        );
    }
    let all = errors(&IKE.replace("version: 1", "version: [2]"));
    assert_has(
        &all,
        "interfaces.ipsec0.ike.version: this value is not an IKE version",
    );
}

#[test]
fn ikev2_dynamic_destination_is_not_supported_yet() {
    let yaml = ikev2("      peers-identifier: { fqdn: alice.example.net }\n")
        .replace("destination: 10.0.0.2", "destination: dynamic")
        .replace("    ike:\n", "    responder-only: enable\n    ike:\n");
    let all = errors(&yaml);
    assert_has(
        &all,
        "interfaces.ipsec0.ipv4.destination: `destination: dynamic` is not supported for IKEv2 \
         yet (the IKEv2 responder cannot yet choose a tunnel by the identity in IKE_AUTH): give \
         the peer's address, or use `ike.version: 1` with `exchange-mode: aggressive`",
    );
    // Only that: the IKEv1 road-warrior advice (aggressive mode …) would contradict it.
    assert_eq!(all.len(), 1, "{all:?}");
}

#[test]
fn ikev2_every_error_at_once() {
    let yaml = with_phase1(
        &ikev2("      exchange-mode: aggressive\n      fragment-size: 100000\n"),
        "          encryption: [3des, aes128-gcm]\n          dh-group: [ecp256, modp1]\n",
    );
    let all = errors(&yaml);
    for key in [
        "interfaces.ipsec0.ike.exchange-mode: ",
        "interfaces.ipsec0.ike.fragment-size: ",
        "interfaces.ipsec0.ike.proposal.phase1.encryption[0]: 3des",
        "interfaces.ipsec0.ike.proposal.phase1.dh-group[1]: ",
    ] {
        assert_has(&all, key);
    }
}

#[test]
fn proposals_are_read_for_the_tunnels_version() {
    use crate::crypto::dh::DhGroup::*;
    use crate::crypto::ikev2::transform::Ikev2Cipher;
    use crate::crypto::prf::HashAlg;
    let yaml = |s: &str| -> yaml_serde::Value { yaml_serde::from_str(s).unwrap() };
    let errs = |r: Result<crate::ike::IkePolicy, Vec<ConfigError>>| -> Vec<String> {
        r.unwrap_err().iter().map(|e| e.to_string()).collect()
    };
    let v2 = ike_policy(&ikev2(""));
    let v1 = ike_policy(IKE);
    // IKEv2 names and keys are accepted for an IKEv2 tunnel …
    let body = yaml(
        "{ phase1: { encryption: [aes256-gcm], prf: [sha256], dh-group: [ecp384, curve25519] } }",
    );
    let p = parse_proposals(&body, &v2).unwrap();
    assert_eq!(p.version, crate::ike::IkeVersion::V2);
    assert_eq!(p.phase1.ikev2_encryption, [Ikev2Cipher::Aes256Gcm16]);
    assert!(p.phase1.hash.is_empty());
    assert_eq!(p.phase1.prf, [HashAlg::Sha256]);
    assert_eq!(p.phase1.dh_groups, [Ecp384, Curve25519]);
    assert_eq!(p.phase1.dh_group, Ecp384);
    // … and refused, with the fix, for an IKEv1 one.
    let e = errs(parse_proposals(&body, &v1));
    assert_has(
        &e,
        "phase1.encryption[0]: aes256-gcm in phase1.encryption needs `ike.version: 2`",
    );
    assert_has(&e, "phase1.prf: `prf` is an IKEv2 setting");
    assert_has(
        &e,
        "phase1.dh-group: IKEv1 proposes one Diffie-Hellman group",
    );
    // Keys left out take the IKEv2 defaults.
    let p = parse_proposals(&yaml("{}"), &v2).unwrap();
    assert_eq!(p.phase1, v2.phase1);
    let e = errs(parse_proposals(
        &yaml("{ phase1: { encryption: chacha20-poly1305 } }"),
        &v2,
    ));
    assert_has(
        &e,
        "phase1.prf: missing: chacha20-poly1305 in phase1.encryption (AEAD)",
    );
    let e = errs(parse_proposals(
        &yaml("{ phase1: { encryption: 3des } }"),
        &v2,
    ));
    assert_has(&e, "phase1.encryption: 3des is not offered for IKEv2");
    // What GET shows (empty hash for an AEAD-only list, empty prf on IKEv1, dh-groups) can be
    // sent back.
    let p = parse_proposals(
        &yaml("{ phase1: { encryption: [aes128-gcm], hash: [], prf: [sha512], dh-group: ecp256, dh-groups: [ecp256, modp2048] } }"),
        &v2,
    )
    .unwrap();
    assert_eq!(p.phase1.dh_groups, [Ecp256, Modp2048]);
    assert_eq!(p.phase1.prf, [HashAlg::Sha512]);
    let p = parse_proposals(
        &yaml("{ phase1: { encryption: [aes256], hash: [sha1], prf: [], dh-group: modp1536, dh-groups: [modp1536] } }"),
        &v1,
    )
    .unwrap();
    assert_eq!(p.phase1.dh_groups, [Modp1536]);
    assert!(p.phase1.prf.is_empty());
    // `dh-group` edited, `dh-groups` echoed from GET: the edit wins.
    let p = parse_proposals(
        &yaml("{ phase1: { dh-group: modp2048, dh-groups: [modp1536] } }"),
        &v1,
    )
    .unwrap();
    assert_eq!(p.phase1.dh_group, Modp2048);
    let p = parse_proposals(
        &yaml(
            "{ phase1: { dh-group: ecp384, dh-groups: [modp2048, ecp256, curve25519, modp1536] } }",
        ),
        &v2,
    )
    .unwrap();
    assert_eq!(p.phase1.dh_groups, [Ecp384]);
    // `dh-groups` edited, `dh-group` echoed: the edit wins.
    let p = parse_proposals(
        &yaml("{ phase1: { dh-group: modp2048, dh-groups: [curve25519, ecp256] } }"),
        &v2,
    )
    .unwrap();
    assert_eq!(p.phase1.dh_groups, [Curve25519, Ecp256]);
    assert_eq!(p.phase1.dh_group, Curve25519);
    // Both edited and disagreeing: say so.
    let e = errs(parse_proposals(
        &yaml("{ phase1: { dh-group: ecp384, dh-groups: [curve25519, ecp256] } }"),
        &v2,
    ));
    assert_has(
        &e,
        "phase1.dh-group: disagrees with phase1.dh-groups (ecp384 vs curve25519, ecp256): \
         `dh-group` is the first of `dh-groups`; send only one of the two keys",
    );
}

#[test]
fn commented_ikev2_example_is_valid() {
    // The IKEv2 tunnel in config.example.yaml is commented out (so that `ikegate run` of the
    // example does not dial a peer that is not there); uncommented, it must stay valid.
    let text = include_str!("../../config.example.yaml");
    let start = text
        .find("  # ipsec4:")
        .expect("the commented IKEv2 example");
    let block: String = text[start..]
        .lines()
        .take_while(|l| l.starts_with("  #"))
        .map(|l| {
            let l = l
                .strip_prefix("  # ")
                .or_else(|| l.strip_prefix("  #"))
                .unwrap_or(l);
            format!("  {l}\n")
        })
        .collect();
    let yaml = format!("interfaces:\n{block}");
    let cfg = parse(&yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
    let Keying::Ike(p) = &cfg.interfaces[0].keying else {
        panic!("IKE expected");
    };
    assert_eq!(cfg.interfaces[0].name, "ipsec4");
    assert_eq!(p.version, crate::ike::IkeVersion::V2);
}

#[test]
fn ikev2_garbage_is_an_error_never_a_panic() {
    let odd = [
        "~",
        "[]",
        "{}",
        "[[]]",
        "[{}]",
        "-1",
        "1e9",
        "0x",
        "\"\"",
        "[~]",
        "{a: 1}",
        "18446744073709551616",
    ];
    for v in odd {
        for (key, base) in [
            ("version", IKE.replace("      version: 1\n", "")),
            ("fragmentation", ikev2("")),
            ("fragment-size", ikev2("")),
        ] {
            let yaml = format!("{base}      {key}: {v}\n");
            assert!(parse(&yaml, Path::new(".")).is_err(), "{key}: {v}");
        }
        for key in ["encryption", "hash", "prf", "dh-group", "lifetime"] {
            for base in [ikev2(""), IKE.to_string()] {
                let yaml = with_phase1(&base, &format!("          {key}: {v}\n"));
                // `prf: []` and (IKEv2, AEAD-only) `hash: []` mean "not given": fine either way.
                let _ = parse(&yaml, Path::new("."));
            }
            let body: yaml_serde::Value =
                yaml_serde::from_str(&format!("{{ phase1: {{ {key}: {v}, dh-groups: {v} }} }}"))
                    .unwrap_or(yaml_serde::Value::Null);
            for cur in [ike_policy(&ikev2("")), ike_policy(IKE)] {
                let _ = parse_proposals(&body, &cur);
            }
        }
    }
}

#[path = "pq_tests.rs"]
mod pq;

#[test]
fn initiation_pacing_key() {
    let cfg = parse(GOOD, Path::new(".")).unwrap();
    assert_eq!(cfg.initiation.max_half_open_per_source, Some(5));
    assert_eq!(
        cfg.initiation.slot_reuse_delay,
        std::time::Duration::from_millis(25)
    );
    let text = format!("initiation:\n  slot-reuse-delay-ms: 0\n{GOOD}");
    let cfg = parse(&text, Path::new(".")).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(cfg.initiation.slot_reuse_delay.is_zero());
    let e = errors(&format!("initiation:\n  slot-reuse-delay-ms: 5000\n{GOOD}"));
    assert!(
        e.iter()
            .any(|l| l.contains("initiation.slot-reuse-delay-ms") && l.contains("from 0 to 1000")),
        "{e:?}"
    );
    for (value, want) in [("12", Some(12)), ("unlimited", None)] {
        let text = format!("initiation:\n  max-half-open-per-source: {value}\n{GOOD}");
        let cfg = parse(&text, Path::new(".")).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(cfg.initiation.max_half_open_per_source, want);
    }
    let e = errors(&format!(
        "initiation:\n  max-half-open-per-source: 0\n{GOOD}"
    ));
    assert!(
        e.iter()
            .any(|l| l.contains("initiation.max-half-open-per-source")
                && l.contains("from 1 to 100000")
                && l.contains("`unlimited`")),
        "{e:?}"
    );
    let e = errors(&format!("initiation:\n  max-half-open: 5\n{GOOD}"));
    assert!(
        e.iter()
            .any(|l| l.contains("initiation.max-half-open")
                && l.contains("max-half-open-per-source")),
        "{e:?}"
    );
}

/// Writes a secret file with mode 0600 (ikegate refuses key files others can read).
fn write_secret(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
