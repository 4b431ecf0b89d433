//! What the remote-access end-to-end tests share: users written with `ikegate users add`, the
//! gateway's certificate for IKEv2 EAP, strongSwan clients (IKEv1 XAUTH with mode-config pull
//! or push; IKEv2 EAP with a virtual IP) and the virtual address a client installed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::charon::{Charon, CharonConfig, EapClientAuth, Strongswan};
use super::netns::{veth, Netns, Veth};
use super::pki::{Ca, KeyType, Leaf, VALID};
use super::{poll_opt, TempDir};

/// The subject of the gateway's certificate ([`gateway_pki`]): its IKEv2 identity.
pub const GW_DN: &str = "C=JP, O=Example, CN=ikegate";

/// A remote-access lab: the gateway namespace `{tag}g` (the gateway's address and the host
/// behind it on `lo`, forwarding on, since client to client goes in and out of the RA
/// interface) and `n` client namespaces `{tag}{i}`, client i on its own veth with
/// `{net}{i}.0.2/24`, the gateway `{net}{i}.0.1/24` on its side and a route to the gateway.
pub struct RaLab {
    pub gw: Netns,
    pub clients: Vec<Netns>,
    pub links: Vec<Veth>,
    pub dir: TempDir,
}

impl RaLab {
    /// `net` is the first two octets of the client links, e.g. `"10.4"`.
    pub fn new(tag: &str, net: &str, n: usize, gw_ip: &str, host: &str) -> RaLab {
        let gw = Netns::new(&format!("{tag}g"));
        gw.add_lo_addr(&format!("{gw_ip}/32"));
        gw.add_lo_addr(&format!("{host}/32"));
        gw.enable_forwarding();
        let mut clients = Vec::new();
        let mut links = Vec::new();
        for i in 0..n {
            let ns = Netns::new(&format!("{tag}{i}"));
            let (ours, theirs) = (format!("{net}{i}.0.1"), format!("{net}{i}.0.2"));
            links.push(veth(
                &gw,
                &[&format!("{ours}/24")],
                &ns,
                &[&format!("{theirs}/24")],
            ));
            ns.add_route(&format!("{gw_ip}/32"), Some(&ours), None);
            clients.push(ns);
        }
        RaLab {
            gw,
            clients,
            links,
            dir: TempDir::new(&format!("{tag}-lab")),
        }
    }
}

/// `ikegate users add FILE NAME [extra…]` with `password` on standard input (`extra`:
/// e.g. `--eap-md5`).
pub fn add_user(file: &Path, name: &str, password: &str, extra: &[&str]) {
    let mut args = vec!["users", "add", file.to_str().unwrap(), name];
    args.extend_from_slice(extra);
    let mut child = Command::new(super::ikegate::bin())
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// The gateway's PKI: a root and the gateway's certificate (subject [`GW_DN`], IP SAN = its
/// IKE address).
pub struct GatewayPki {
    pub root: Ca,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl GatewayPki {
    /// Root and gateway certificate in `dir`, the gateway's IKE address `gw_ip`.
    pub fn new(dir: &Path, gw_ip: &str) -> GatewayPki {
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
        GatewayPki {
            root,
            cert: ours.cert,
            key: ours.key,
        }
    }

    /// The interface's `ike.certificate:` line (six spaces deep).
    pub fn yaml(&self) -> String {
        format!(
            "      certificate: {{ file: {}, key-file: {}, trusted-ca: [{}] }}\n",
            self.cert.display(),
            self.key.display(),
            self.root.cert.display()
        )
    }

    /// The root, as a client trusts it.
    pub fn root_pem(&self) -> String {
        std::fs::read_to_string(&self.root.cert).unwrap()
    }
}

/// A strongSwan 5.9 IKEv1 client at `local` (`%any` for any): the group key `group_psk` as
/// `keyid:vpngroup` (Aggressive Mode, or Main Mode when `aggressive` is false), XAUTH as
/// `user`, a virtual address by mode-config pull (`pull`) or push, `remote_ts` through the
/// tunnel; the gateway is `gw` with identity `gw_id`.
#[allow(clippy::too_many_arguments)]
pub fn xauth_client(
    local: &str,
    gw: &str,
    gw_id: &str,
    group_psk: &str,
    remote_ts: &str,
    (user, password): (&str, &str),
    pull: bool,
    aggressive: bool,
) -> CharonConfig {
    let mut c = CharonConfig::ikev1_psk(local, gw, "dynamic", remote_ts);
    c.aggressive = aggressive;
    c.local_id = Some("keyid:vpngroup".into());
    c.remote_id = Some(gw_id.into());
    c.psk = group_psk.into();
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
    c
}

/// A strongSwan IKEv2 client at `local` logging in to `gw` with EAP `method` as `user`,
/// checking the gateway's certificate from `pki` (identity [`GW_DN`]), asking for a virtual
/// address (`vips = 0.0.0.0`), `remote_ts` through the tunnel.
pub fn eap_client(
    strongswan: Strongswan,
    local: &str,
    gw: &str,
    remote_ts: &str,
    method: &str,
    (user, password): (&str, &str),
    pki: &GatewayPki,
) -> CharonConfig {
    let mut cfg = CharonConfig::ikev2_psk(strongswan, local, gw, "dynamic", remote_ts);
    cfg.ike_proposals = "aes256-sha256-modp2048-modp1536".into();
    cfg.esp_proposals = "aes256-sha256".into();
    cfg.remote_id = Some(GW_DN.into());
    cfg.extra_conn.push("vips = 0.0.0.0".into());
    cfg.eap = Some(EapClientAuth {
        method: method.into(),
        user: user.into(),
        password: password.into(),
        gateway_ca_pem: Some(pki.root_pem()),
    });
    cfg
}

/// The virtual addresses charon installed, newest last (its log says "installing new virtual
/// IP …"); waits up to 10 s for `n` of them.
pub fn virtual_ips(ch: &Charon, n: usize) -> Vec<String> {
    let found = poll_opt(Duration::from_secs(10), || {
        let log = ch.log();
        let ips: Vec<String> = log
            .lines()
            .filter_map(|l| l.split("installing new virtual IP ").nth(1))
            .map(|ip| ip.trim().to_string())
            .collect();
        (ips.len() >= n).then_some(ips)
    });
    found.unwrap_or_else(|| ch.fail(&format!("fewer than {n} virtual IPs installed")))
}

/// The last virtual address charon installed.
pub fn virtual_ip(ch: &Charon) -> String {
    virtual_ips(ch, 1).pop().unwrap()
}
