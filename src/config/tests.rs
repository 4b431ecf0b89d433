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
    std::fs::write(
        dir.join("out.key"),
        "0x000102030405060708090a0b0c0d0e0f10111213\n",
    )
    .unwrap();
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
    std::fs::write(
        dir.join("out.key"),
        "0x000102030405060708090a0b0c0d0e0f10111213",
    )
    .unwrap();
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
    std::fs::write(dir.join("psk"), "xeeB5gohvaYi\n").unwrap();
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
    std::fs::write(dir.join("psk"), "xeeB5gohvaYi").unwrap();
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
