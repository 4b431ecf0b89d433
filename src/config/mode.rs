//! `mode: tunnel | transport` of an interface (RFC 4303 §3.1): transport mode is host-to-host
//! ESP between the interface's own outer addresses, so its proxy-id is those two hosts.

use yaml_serde::Mapping;

use super::node::{child, Errors, Node};
use super::Keying;
use crate::ike::EspMode;

/// Parses `mode` (default `tunnel`).
pub(super) fn parse_mode(m: &Mapping, n: &Node<'_>, errs: &mut Errors) -> EspMode {
    child(m, n, "mode")
        .and_then(|v| {
            v.choice(
                errs,
                &[
                    ("tunnel", EspMode::Tunnel),
                    ("transport", EspMode::Transport),
                ],
            )
        })
        .unwrap_or_default()
}

/// Applies transport mode to the parsed keying: the proxy-id defaults to the two hosts'
/// addresses, and anything else is an error naming the key and the fix. Tunnel mode changes
/// nothing.
pub(super) fn apply_mode(
    mode: EspMode,
    n: &Node<'_>,
    dynamic_peer: bool,
    keying: Option<&mut Keying>,
    errs: &mut Errors,
) {
    if mode == EspMode::Tunnel {
        return;
    }
    let path = n.child_path("mode");
    if dynamic_peer {
        errs.push(
            &path,
            "transport mode is host-to-host between the configured addresses: give the peer's \
             address as `destination` (not `dynamic`), or use `mode: tunnel`",
        );
        return;
    }
    match keying {
        Some(Keying::Ike(p)) => {
            // Still being built: the only owner, so no copy is made.
            let p = std::sync::Arc::make_mut(p);
            p.phase2.mode = EspMode::Transport;
            let given = n
                .value
                .get("ike")
                .and_then(|v| v.get("proposal"))
                .and_then(|v| v.get("phase2"))
                .and_then(|v| v.get("proxy-id"))
                .is_some();
            if !given {
                p.phase2.proxy_ids = vec![p.transport_proxy_id()];
            }
            if let Err(e) = p.check_transport_proxy_ids() {
                errs.push(&n.child_path("ike.proposal.phase2.proxy-id"), e);
            }
        }
        Some(Keying::Manual { .. }) => errs.push(
            &path,
            "transport mode needs IKE keying (`ike:`); manually keyed SAs are tunnel mode: \
             remove `mode` or replace `manual-sa` with an `ike:` block",
        ),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{parse, weak_settings, Keying};
    use crate::ike::{EspMode, ProxyId};

    fn transport(v6: bool, extra_iface: &str, phase2: &str) -> String {
        let addrs = if v6 {
            "ipv6: { source: \"2001:db8::1\", destination: \"2001:db8::2\" }"
        } else {
            "ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }"
        };
        format!(
            "interfaces:\n  ipsec0:\n    {addrs}\n    mode: transport\n    preshared-key: k\n{extra_iface}    ike:\n      version: 1\n{phase2}"
        )
    }

    fn errors(yaml: &str) -> Vec<String> {
        match parse(yaml, Path::new(".")) {
            Ok(_) => panic!("expected errors for:\n{yaml}"),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn transport_mode_defaults_the_proxy_id_to_the_two_hosts() {
        for v6 in [false, true] {
            let cfg = parse(&transport(v6, "", ""), Path::new(".")).unwrap();
            let i = &cfg.interfaces[0];
            assert_eq!(i.mode, EspMode::Transport);
            let Keying::Ike(p) = &i.keying else {
                panic!("IKE keying")
            };
            assert_eq!(p.phase2.mode, EspMode::Transport);
            let host = ProxyId {
                local: crate::ike::Subnet::host(i.source),
                remote: crate::ike::Subnet::host(i.destination),
            };
            assert_eq!(p.phase2.proxy_ids, vec![host]);
        }
    }

    #[test]
    fn tunnel_stays_the_default_and_existing_files_are_unchanged() {
        let yaml = transport(false, "", "").replace("    mode: transport\n", "");
        let cfg = parse(&yaml, Path::new(".")).unwrap();
        assert_eq!(cfg.interfaces[0].mode, EspMode::Tunnel);
        let Keying::Ike(p) = &cfg.interfaces[0].keying else {
            panic!("IKE keying")
        };
        assert_eq!(p.phase2.proxy_ids, vec![ProxyId::any_v4()]);
    }

    #[test]
    fn the_hosts_own_proxy_id_may_be_written_out() {
        let p2 = "      proposal:\n        phase2:\n          proxy-id: { ipv4: { local: 10.0.0.1/32, remote: 10.0.0.2/32 } }\n";
        assert!(parse(&transport(false, "", p2), Path::new(".")).is_ok());
    }

    #[test]
    fn contradictory_settings_name_the_key_and_the_fix() {
        let p2 = "      proposal:\n        phase2:\n          proxy-id: { ipv4: { local: 192.168.1.0/24, remote: 192.168.2.0/24 } }\n";
        let e = errors(&transport(false, "", p2));
        assert!(
            e.iter().any(
                |m| m.starts_with("interfaces.ipsec0.ike.proposal.phase2.proxy-id:")
                    && m.contains("10.0.0.1/32 ⇄ 10.0.0.2/32")
                    && m.contains("use `mode: tunnel` for subnets")
            ),
            "{e:?}"
        );
        let e = errors("interfaces:\n  ipsec0:\n    ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }\n    mode: transport\n    manual-sa:\n      outbound: { spi: 0x1001, encryption: aes128-gcm, key: \"0x000102030405060708090a0b0c0d0e0f10111213\" }\n      inbound:  { spi: 4098, encryption: aes128-gcm, key: \"0x202122232425262728292a2b2c2d2e2f30313233\" }\n");
        assert!(
            e.iter().any(|m| m.starts_with("interfaces.ipsec0.mode:")
                && m.contains("needs IKE keying")),
            "{e:?}"
        );
        let e = errors(&transport(false, "", "").replace("mode: transport", "mode: sideways"));
        assert!(
            e.iter().any(|m| m.contains("interfaces.ipsec0.mode")),
            "{e:?}"
        );
    }

    #[test]
    fn seed_002_phase2_is_accepted_with_warnings_naming_the_keys() {
        let p2 = "      proposal:\n        phase2:\n          encryption: [aes128, 3des]\n          authentication: [hmac-sha1, hmac-md5]\n          pfs-group: modp768\n";
        let cfg = parse(&transport(false, "", p2), Path::new(".")).unwrap();
        let w = weak_settings(&cfg);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("interfaces.ipsec0.ike.proposal.phase2.pfs-group: modp768"));
        assert!(w[0].contains("use modp2048"), "{w:?}");
        assert!(w[1].starts_with("interfaces.ipsec0.ike.proposal.phase2.authentication: hmac-md5"));
        let plain = parse(&transport(false, "", ""), Path::new(".")).unwrap();
        assert!(weak_settings(&plain).is_empty());
    }

    /// The admin API's proposal PUT keeps the mode and the hosts' proxy-id, and refuses a
    /// proxy-id that contradicts transport mode.
    #[test]
    fn proposal_updates_keep_transport_mode() {
        let cfg = parse(&transport(false, "", ""), Path::new(".")).unwrap();
        let Keying::Ike(p) = &cfg.interfaces[0].keying else {
            panic!("IKE keying")
        };
        let v: yaml_serde::Value = yaml_serde::from_str("phase2: { encryption: aes128 }").unwrap();
        let q = super::super::parse_proposals(&v, p).unwrap();
        assert_eq!(q.phase2.mode, EspMode::Transport);
        assert_eq!(q.phase2.proxy_ids, p.phase2.proxy_ids);
        let bad: yaml_serde::Value = yaml_serde::from_str(
            "phase2: { proxy-id: { ipv4: { local: 192.168.1.0/24, remote: 192.168.2.0/24 } } }",
        )
        .unwrap();
        let e = super::super::parse_proposals(&bad, p).unwrap_err();
        assert!(e[0].to_string().contains("`mode: transport`"), "{e:?}");
    }
}
