//! `ike.certificate: { file, key-file, trusted-ca, crl, peer-file }` into loaded credentials.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::node::{child, Errors, Node};
use super::resolve;
use crate::ike::auth::{AuthChoice, CertificateFiles};

const CERT_KEYS: &[&str] = &["file", "key-file", "trusted-ca", "crl", "peer-file"];

/// Parses and loads the `certificate:` block (files are read and checked now: a missing file,
/// a key readable by others or a key that does not match the certificate is a config error).
pub(super) fn certificate(n: &Node<'_>, base: &Path, errs: &mut Errors) -> Option<AuthChoice> {
    let m = n.block(errs, CERT_KEYS)?;
    let path = |key: &str, example: &str, errs: &mut Errors| -> Option<PathBuf> {
        match child(m, n, key) {
            Some(x) => x.str(errs, example).map(|s| resolve(base, s)),
            None => {
                n.error(errs, format!("`certificate` needs `{key}: {example}`"));
                None
            }
        }
    };
    let file = path("file", "/etc/ikegate/gw.pem", errs);
    let key_file = path("key-file", "/etc/ikegate/gw.key", errs);
    let paths = |key: &str, example: &str, errs: &mut Errors| -> Vec<PathBuf> {
        let Some(x) = child(m, n, key) else {
            return Vec::new();
        };
        let items = match x.value {
            yaml_serde::Value::String(_) => vec![x],
            _ => x.list(errs),
        };
        items
            .iter()
            .filter_map(|i| i.str(errs, example).map(|s| resolve(base, s)))
            .collect()
    };
    let trusted_ca = paths("trusted-ca", "/etc/ikegate/ca.pem", errs);
    let crl = paths("crl", "/etc/ikegate/ca.crl", errs);
    let peer_file = child(m, n, "peer-file").and_then(|x| {
        x.str(errs, "/etc/ikegate/peer.pem")
            .map(|s| resolve(base, s))
    });
    if trusted_ca.is_empty() && peer_file.is_none() {
        n.error(
            errs,
            "`certificate` needs `trusted-ca: [ca.pem]` (CA files or directories) or `peer-file: peer.pem` \
             to know which peer certificates to accept",
        );
        return None;
    }
    let files = CertificateFiles {
        file: file?,
        key_file: key_file?,
        trusted_ca,
        crl,
        peer_file,
    };
    match files.load() {
        Ok(c) => Some(AuthChoice::Certificate(Arc::new(c))),
        Err(e) => {
            n.error(errs, e.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use crate::config::{parse, Keying};
    use crate::ike::auth::testpki::{cert_pem, key_pair, Spec, TestCa, TestKey};
    use crate::ike::Identity;

    const YAML: &str = r#"
interfaces:
  ipsec0:
    ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }
    ike:
      version: 2
      certificate:
        file: gw.pem
        key-file: gw.key
        trusted-ca: [cas]
        crl: ca.crl
      my-identifier: { asn1dn: "C=JP, O=Example, CN=gw1" }
      peers-identifier: { asn1dn: "C=JP, O=Example, CN=gw2" }
"#;

    fn files(dir: &Path) {
        std::fs::create_dir_all(dir.join("cas")).unwrap();
        let root = TestCa::root("Test Root", TestKey::P256);
        let (ee, key) = root.issue(&Spec::default(), TestKey::P256);
        std::fs::write(dir.join("gw.pem"), cert_pem(&ee)).unwrap();
        std::fs::write(dir.join("cas/root.pem"), cert_pem(&root.der)).unwrap();
        std::fs::write(dir.join("gw.key"), key).unwrap();
        std::fs::write(dir.join("other.key"), key_pair(TestKey::P256).1).unwrap();
        std::fs::write(dir.join("ca.crl"), root.crl(&[], 2030)).unwrap();
        for k in ["gw.key", "other.key"] {
            std::fs::set_permissions(dir.join(k), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    fn errors(yaml: &str, dir: &Path) -> Vec<String> {
        parse(yaml, dir)
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn certificate_block_and_asn1dn_identities() {
        let dir = std::env::temp_dir().join(format!("ikegate-certcfg-{}", std::process::id()));
        files(&dir);
        let cfg = parse(YAML, &dir).unwrap_or_else(|e| panic!("{e:?}"));
        let Keying::Ike(p) = &cfg.interfaces[0].keying else {
            panic!("IKE")
        };
        let creds = p.auth.certificate().expect("certificate auth");
        assert_eq!(creds.trust.anchors.len(), 1);
        assert!(p.psk.is_empty());
        let Some(Identity::Asn1Dn(me)) = &p.my_id else {
            panic!("{:?}", p.my_id)
        };
        assert_eq!(*me, creds.cert.subject);
        assert_eq!(
            p.peer_id.as_ref().unwrap().to_string(),
            "asn1dn:\"C=JP, O=Example, CN=gw2\""
        );
        assert!(cfg.warnings(1_796_169_600).is_empty());
        assert!(
            cfg.warnings(2_300_000_000)[0].starts_with("interfaces.ipsec0.ike.certificate.file: ")
        );

        let e = errors(
            &YAML.replace("    ike:\n", "    preshared-key: k\n    ike:\n"),
            &dir,
        );
        assert!(e[0].contains("remove the pre-shared key"), "{e:?}");
        let e = errors(
            &YAML.replace("key-file: gw.key", "key-file: other.key"),
            &dir,
        );
        assert!(e[0].contains("does not belong to our certificate"), "{e:?}");
        let e = errors(&YAML.replace("        trusted-ca: [cas]\n", ""), &dir);
        assert!(e[0].contains("needs `trusted-ca"), "{e:?}");
        let e = errors(
            &YAML.replace("asn1dn: \"C=JP, O=Example, CN=gw1\"", "fqdn: gw1.example"),
            &dir,
        );
        assert!(
            e[0].contains("my-identifier: fqdn:gw1.example is not in our certificate (subject \"C=JP, O=Example, CN=gw1\")"),
            "{e:?}"
        );
        let e = errors(&YAML.replace("version: 2", "version: 1"), &dir);
        assert!(
            e[0].contains("IKEv1 authenticates with RSA certificates here, and certificate.key-file holds an ECDSA P-256 key"),
            "{e:?}"
        );
        let e = errors(&YAML.replace("CN=gw2", "CN"), &dir);
        assert!(
            e[0].contains(
                "peers-identifier.asn1dn: 'C=JP, O=Example, CN' is not a distinguished name"
            ),
            "{e:?}"
        );
        // Readable by others: refused. (Group-readable passes only when the group is our own,
        // as the file's is here: see `node::check_secret_mode`.)
        std::fs::set_permissions(dir.join("gw.key"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let e = errors(YAML, &dir);
        assert!(e[0].contains("chmod 600"), "{e:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A remote-access interface serving both IKE versions holds the IKEv1 clients' group key
    /// beside the certificate its IKEv2 clients check; without an IKEv1 method the key is refused.
    #[test]
    fn a_remote_access_interface_holds_a_group_key_beside_its_certificate() {
        let dir = std::env::temp_dir().join(format!("ikegate-certcfg-ra-{}", std::process::id()));
        files(&dir);
        std::fs::write(dir.join("users"), "").unwrap();
        std::fs::set_permissions(dir.join("users"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let yaml = |auth: &str| {
            YAML.replace(
                "destination: 10.0.0.2 }",
                "destination: dynamic }\n    preshared-key: group-key",
            )
            .replace(
                "      peers-identifier: { asn1dn: \"C=JP, O=Example, CN=gw2\" }\n",
                "",
            ) + &format!(
                "    remote-access: {{ pool: {{ ipv4: 10.8.0.0/24 }}, auth: {auth}, \
                     users-file: users }}\n"
            )
        };
        let cfg = parse(&yaml("[xauth, eap-mschapv2]"), &dir).unwrap_or_else(|e| panic!("{e:?}"));
        let Keying::Ike(p) = &cfg.interfaces[0].keying else {
            panic!("IKE")
        };
        assert!(p.auth.certificate().is_some());
        assert_eq!(&p.psk[..], b"group-key");
        let e = errors(&yaml("eap-mschapv2"), &dir);
        assert!(
            e[0].contains("that key is the IKEv1 clients' group key"),
            "{e:?}"
        );
        // Not on a site-to-site tunnel.
        let e = errors(
            &YAML.replace("    ike:\n", "    preshared-key: k\n    ike:\n"),
            &dir,
        );
        assert!(e[0].contains("remove the pre-shared key"), "{e:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
