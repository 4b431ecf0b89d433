//! Remote-access clients and the gateway's PKI, shared by the e2e_ra_* tests: strongSwan 5.9
//! as an IKEv1 XAUTH client, strongSwan (5.9 or 6.1) as an IKEv2 EAP or PSK road warrior, the
//! virtual address charon installed, the gateway's certificate.

use super::charon::{Charon, CharonConfig, EapClientAuth, Strongswan};
use super::netns::Netns;
use super::pki::{Ca, KeyType, Leaf, VALID};
use super::poll_opt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The gateway certificate's subject, as strongSwan writes an identity.
pub const GW_DN: &str = "C=JP, O=Example, CN=ikegate";

/// The gateway's PKI: a root and the gateway's certificate.
pub struct RaPki {
    pub root: Ca,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl RaPki {
    /// A root and a certificate for the gateway at `gw_ip` (its IP SAN), subject [`GW_DN`].
    pub fn new(dir: &Path, gw_ip: &str) -> RaPki {
        let root = Ca::root(dir, "root", "/C=JP/O=Example/CN=RA Root", KeyType::P256);
        let san = format!("IP:{gw_ip}");
        let ours = root.issue(
            dir,
            "gw",
            &Leaf {
                subj: "/C=JP/O=Example/CN=ikegate",
                san: &san,
                key: KeyType::P256,
                crl_url: None,
                dates: VALID,
            },
        );
        RaPki {
            root,
            cert: ours.cert,
            key: ours.key,
        }
    }

    /// The `ike.certificate:` block (indented for an interface's `ike:`).
    pub fn yaml(&self) -> String {
        format!(
            "      certificate: {{ file: {}, key-file: {}, trusted-ca: [{}] }}\n",
            self.cert.display(),
            self.key.display(),
            self.root.cert.display()
        )
    }
}

/// An IKEv1 group: the name and pre-shared key the clients use in Aggressive Mode.
pub struct Ikev1Group<'a> {
    /// The gateway's identity (`my-identifier: { fqdn: … }`).
    pub gateway_id: &'a str,
    pub psk: &'a str,
}

/// A strongSwan 5.9 IKEv1 client: Aggressive Mode with the group key, XAUTH as `user`, a
/// virtual address by mode-config pull (`pull = yes`) or push (`pull = no`), `nets` through
/// the tunnel.
pub fn ikev1_xauth_client(
    ns: &Netns,
    gw: &str,
    group: &Ikev1Group<'_>,
    (user, password): (&str, &str),
    pull: bool,
    nets: &str,
) -> Charon {
    let mut c = CharonConfig::ikev1_psk("%any", gw, "dynamic", nets);
    c.aggressive = true;
    c.local_id = Some("keyid:vpngroup".into());
    c.remote_id = Some(group.gateway_id.into());
    c.psk = group.psk.into();
    c.ike_proposals = "aes256-sha1-modp2048".into();
    c.esp_proposals = "aes256-sha1".into();
    c.extra_plugins = ["unity", "xauth-generic"].map(String::from).to_vec();
    c.extra_conn.push("vips = 0.0.0.0".into());
    c.extra_conn
        .push(format!("pull = {}", if pull { "yes" } else { "no" }));
    c.extra_auth.push(format!(
        "local-xauth {{\n      auth = xauth\n      xauth_id = {user}\n    }}"
    ));
    c.extra_swanctl.push(format!(
        "secrets {{\n  xauth-{user} {{\n    id = {user}\n    secret = {password}\n  }}\n}}"
    ));
    Charon::start(ns, c)
}

/// An IKEv2 road warrior at `local` asking `gw` for a virtual address with `nets` through the
/// tunnel, logging in as `user` with `method` (`psk`: the group key `password`, as
/// `user@example.net`); with `pki`, the gateway proves itself by its certificate.
pub fn ikev2_client(
    strongswan: Strongswan,
    (local, gw, nets): (&str, &str, &str),
    method: &str,
    (user, password): (&str, &str),
    pki: Option<&RaPki>,
) -> CharonConfig {
    let mut cfg = CharonConfig::ikev2_psk(strongswan, local, gw, "dynamic", nets);
    cfg.ike_proposals = "aes256-sha256-modp2048-modp1536".into();
    cfg.esp_proposals = "aes256-sha256".into();
    // With a certificate, the gateway's identity is its subject.
    cfg.remote_id = Some(pki.map_or(gw, |_| GW_DN).into());
    cfg.extra_conn.push("vips = 0.0.0.0".into());
    if method == "psk" {
        cfg.local_id = Some(format!("{user}@example.net"));
        cfg.psk = password.into();
    } else {
        cfg.eap = Some(EapClientAuth {
            method: method.into(),
            user: user.into(),
            password: password.into(),
            gateway_ca_pem: pki.map(|p| std::fs::read_to_string(&p.root.cert).unwrap()),
        });
    }
    cfg
}

/// The virtual address charon installed (its log says "installing new virtual IP …").
pub fn virtual_ip(ch: &Charon) -> String {
    let found = poll_opt(Duration::from_secs(10), || {
        let log = ch.log();
        let l = log
            .lines()
            .rev()
            .find_map(|l| l.split("installing new virtual IP ").nth(1))?;
        Some(l.trim().to_string())
    });
    found.unwrap_or_else(|| ch.fail("no virtual IP installed"))
}
