//! `remote-access:` on an interface: many clients on one tunnel interface, each with a virtual
//! address from `pool`, authenticated by `auth` against `users-file` or `radius`.
//!
//! ```yaml
//! remote-access:
//!   pool: { ipv4: 10.8.0.0/24, ipv6: fd00:8::/112 }
//!   dns: [10.8.0.53]
//!   split-include: [192.168.1.0/24]
//!   auth: eap-mschapv2          # xauth | eap-mschapv2 | eap-md5 | psk, or a list:
//!                               # [xauth, eap-mschapv2] serves IKEv1 and IKEv2 clients at once
//!   users-file: users.txt       # or radius: { server: 192.0.2.10:1812, secret-file: radius.key }
//!   mode-cfg: auto              # IKEv1 only: auto | push | pull
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::node::{child, Errors, Node};
use super::{parse_prefix, resolve, Subnet};

/// How remote-access clients log in (`auth:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaAuth {
    /// IKEv1 XAUTH (generic user name and password) after a group PSK or certificate.
    Xauth,
    /// EAP-MSCHAPv2 in IKEv2, the gateway proving itself with its certificate.
    EapMschapv2,
    /// EAP-MD5 in IKEv2 (tests and old clients; the users file needs `--eap-md5`).
    EapMd5,
    /// The interface's pre-shared key alone (road warriors without user names).
    Psk,
}

impl RaAuth {
    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            RaAuth::Xauth => "xauth",
            RaAuth::EapMschapv2 => "eap-mschapv2",
            RaAuth::EapMd5 => "eap-md5",
            RaAuth::Psk => "psk",
        }
    }

    fn needs_users(self) -> bool {
        !matches!(self, RaAuth::Psk)
    }

    fn is_eap(self) -> bool {
        matches!(self, RaAuth::EapMschapv2 | RaAuth::EapMd5)
    }

    const CHOICES: [(&'static str, RaAuth); 4] = [
        ("xauth", RaAuth::Xauth),
        ("eap-mschapv2", RaAuth::EapMschapv2),
        ("eap-md5", RaAuth::EapMd5),
        ("psk", RaAuth::Psk),
    ];
}

/// IKEv1 mode-cfg style (`mode-cfg:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeCfg {
    /// Whatever the client starts (a REQUEST: pull; nothing: push).
    Auto,
    /// Gateway sends SET, client ACKs (YAMAHA RTX style).
    Push,
    /// Client sends REQUEST, gateway REPLYs (vpnc, racoon).
    Pull,
}

/// Where the users come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSource {
    /// `users-file:` (see `ikegate users add`).
    File(PathBuf),
    /// `radius:`.
    Radius {
        /// `server:` as HOST:PORT.
        server: String,
        /// `secret-file:`.
        secret_file: PathBuf,
        /// `nas-identifier:` (default: the interface's name).
        nas_identifier: Option<String>,
        /// `timeout:` seconds before the first retransmission (doubled after each; default 2).
        timeout: std::time::Duration,
        /// `retries:` retransmissions of one Access-Request before the server counts as
        /// unavailable (default 2).
        retries: u32,
    },
}

/// A validated `remote-access:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAccessConfig {
    /// `pool.ipv4`.
    pub pool_ipv4: Option<Subnet>,
    /// `pool.ipv6`.
    pub pool_ipv6: Option<Subnet>,
    /// `dns:` servers handed to clients.
    pub dns: Vec<IpAddr>,
    /// `split-include:` networks the clients route into the tunnel (empty: everything).
    pub split_include: Vec<Subnet>,
    /// `auth:`, one method or a list (at most one per IKE version; see
    /// [`RemoteAccessConfig::auth_for`]).
    pub auth: Vec<RaAuth>,
    /// `users-file:` or `radius:` (`None` with `auth: psk`).
    pub users: Option<UserSource>,
    /// `mode-cfg:` (`None` when not given).
    pub mode_cfg: Option<ModeCfg>,
}

const KEYS: &[&str] = &[
    "pool",
    "dns",
    "split-include",
    "auth",
    "users-file",
    "radius",
    "mode-cfg",
];

/// Parses `remote-access:`; every error names its key and the fix.
pub(super) fn parse(n: &Node<'_>, base: &Path, errs: &mut Errors) -> Option<RemoteAccessConfig> {
    let m = n.block(errs, KEYS)?;
    let (pool_ipv4, pool_ipv6) = match child(m, n, "pool") {
        Some(p) => pool(&p, errs)?,
        None => {
            n.error(
                errs,
                "missing `pool`: the clients' virtual addresses, e.g. \
                 `pool: { ipv4: 10.8.0.0/24 }`",
            );
            return None;
        }
    };
    let dns = child(m, n, "dns")
        .map(|d| {
            d.list(errs)
                .iter()
                .filter_map(|a| a.ip(errs, "10.8.0.53"))
                .collect()
        })
        .unwrap_or_default();
    let split_include = child(m, n, "split-include")
        .map(|d| {
            d.list(errs)
                .iter()
                .filter_map(|s| prefix(s, None, "192.168.1.0/24", errs))
                .collect()
        })
        .unwrap_or_default();
    let auth = match child(m, n, "auth") {
        Some(a) => auth_methods(&a, errs)?,
        None => {
            n.error(
                errs,
                "missing `auth`: how clients log in, one of xauth, eap-mschapv2, eap-md5, psk",
            );
            return None;
        }
    };
    let users = users(m, n, &auth, base, errs);
    let mode_cfg = child(m, n, "mode-cfg").and_then(|v| {
        v.choice(
            errs,
            &[
                ("auto", ModeCfg::Auto),
                ("push", ModeCfg::Push),
                ("pull", ModeCfg::Pull),
            ],
        )
    });
    Some(RemoteAccessConfig {
        pool_ipv4,
        pool_ipv6,
        dns,
        split_include,
        auth,
        users,
        mode_cfg,
    })
}

/// `auth:` as one method or a list of them: IKEv1 clients use `xauth` or `psk`, IKEv2 clients
/// an EAP method or `psk`, so a list holds at most one EAP method, and `psk` beside both an
/// IKEv1 and an IKEv2 method would serve nobody.
fn auth_methods(a: &Node<'_>, errs: &mut Errors) -> Option<Vec<RaAuth>> {
    let items = match a.value {
        yaml_serde::Value::Sequence(_) => a.list(errs),
        _ => vec![a.clone()],
    };
    let before = errs.0.len();
    let methods: Vec<RaAuth> = items
        .iter()
        .filter_map(|i| i.choice(errs, &RaAuth::CHOICES))
        .collect();
    if errs.0.len() > before {
        return None;
    }
    let count = |f: fn(&RaAuth) -> bool| methods.iter().filter(|m| f(m)).count();
    let problem = if methods.is_empty() {
        Some("lists no method: write e.g. `auth: [xauth, eap-mschapv2]`".to_string())
    } else if count(|m| m.is_eap()) > 1 {
        Some(
            "lists two EAP methods: IKEv2 clients are asked for one, keep `eap-mschapv2` \
             (Windows, macOS, iOS, Android) or `eap-md5`"
                .into(),
        )
    } else if methods
        .iter()
        .enumerate()
        .any(|(i, m)| methods[..i].contains(m))
    {
        Some("lists a method twice".into())
    } else if methods.contains(&RaAuth::Psk)
        && count(|m| m.is_eap()) + count(|m| *m == RaAuth::Xauth) == 2
    {
        Some(
            "`psk` beside `xauth` and an EAP method serves nobody: IKEv1 clients use xauth, \
             IKEv2 clients EAP; remove `psk`"
                .into(),
        )
    } else {
        None
    };
    if let Some(p) = problem {
        a.error(errs, format!("`auth` {p}"));
        return None;
    }
    Some(methods)
}

impl RemoteAccessConfig {
    /// How clients of IKE version `version` log in, or `None` when `auth` serves no client of
    /// that version. `ike_version` is the `ike:` block's version, which a lone `auth: psk`
    /// serves.
    pub fn auth_for(
        &self,
        version: crate::ike::IkeVersion,
        ike_version: crate::ike::IkeVersion,
    ) -> Option<RaAuth> {
        use crate::ike::IkeVersion;
        let own = self.auth.iter().copied().find(|m| match version {
            IkeVersion::V1 => *m == RaAuth::Xauth,
            IkeVersion::V2 => m.is_eap(),
        });
        let psk = self.auth.contains(&RaAuth::Psk);
        let other_served = self.auth.iter().any(|m| match version {
            IkeVersion::V1 => m.is_eap(),
            IkeVersion::V2 => *m == RaAuth::Xauth,
        });
        own.or_else(|| (psk && (other_served || version == ike_version)).then_some(RaAuth::Psk))
    }

    /// The EAP method IKEv2 clients are asked for, if any.
    pub fn eap_method(&self) -> Option<crate::ike::auth::eap::EapMethod> {
        use crate::ike::auth::eap::EapMethod;
        self.auth.iter().find_map(|m| match m {
            RaAuth::EapMschapv2 => Some(EapMethod::MsChapV2),
            RaAuth::EapMd5 => Some(EapMethod::Md5),
            _ => None,
        })
    }

    /// The `auth` value as written (`xauth` or `[xauth, eap-mschapv2]`).
    pub fn auth_names(&self) -> String {
        let names: Vec<_> = self.auth.iter().map(|m| m.name()).collect();
        match names.as_slice() {
            [one] => one.to_string(),
            _ => format!("[{}]", names.join(", ")),
        }
    }
}

/// What this build does not serve yet, refused rather than ignored: `(key, message)` pairs.
pub(super) fn unserved(
    ra: &RemoteAccessConfig,
    version: crate::ike::IkeVersion,
) -> Vec<(&'static str, String)> {
    use crate::ike::IkeVersion;
    let mut out = Vec::new();
    let v1 = ra.auth_for(IkeVersion::V1, version);
    let v2 = ra.auth_for(IkeVersion::V2, version);
    let ike_name = |v: IkeVersion| if v == IkeVersion::V1 { "1" } else { "2" };
    if (version == IkeVersion::V1 && v1.is_none()) || (version == IkeVersion::V2 && v2.is_none()) {
        let (other, hint) = if version == IkeVersion::V1 {
            ("2", "`auth: [xauth, eap-mschapv2]` to serve both")
        } else {
            ("1", "`auth: [xauth, eap-mschapv2]` to serve both")
        };
        out.push((
            "auth",
            format!(
                "`auth: {}` serves no IKEv{} client, but `ike.version` is {}: set `ike.version: \
                 {other}`, or write {hint}",
                ra.auth_names(),
                ike_name(version),
                ike_name(version),
            ),
        ));
    }
    if ra.mode_cfg.is_some() && v1.is_none() {
        out.push((
            "mode-cfg",
            "mode-cfg is IKEv1's; IKEv2 clients get their address from the configuration \
             payload: remove `mode-cfg`"
                .into(),
        ));
    }
    out
}

fn pool(p: &Node<'_>, errs: &mut Errors) -> Option<(Option<Subnet>, Option<Subnet>)> {
    let pm = p.block(errs, &["ipv4", "ipv6"])?;
    let v4 = child(pm, p, "ipv4").and_then(|v| prefix(&v, Some(false), "10.8.0.0/24", errs));
    let v6 = child(pm, p, "ipv6").and_then(|v| prefix(&v, Some(true), "fd00:8::/112", errs));
    if v4.is_some_and(|s| s.prefix() > 30) {
        errs.push(
            &p.child_path("ipv4"),
            "an IPv4 pool needs at least two addresses: use a prefix of /30 or shorter, e.g. /24",
        );
    }
    if v6.is_some_and(|s| s.prefix() > 126) {
        errs.push(
            &p.child_path("ipv6"),
            "an IPv6 pool needs at least two addresses: use a prefix of /126 or shorter",
        );
    }
    if !pm.contains_key("ipv4") && !pm.contains_key("ipv6") {
        p.error(
            errs,
            "give `ipv4:`, `ipv6:` or both, e.g. `pool: { ipv4: 10.8.0.0/24 }`",
        );
    }
    Some((v4, v6))
}

/// A prefix; `v6` says which family it must be (`None`: either).
fn prefix(v: &Node<'_>, v6: Option<bool>, example: &str, errs: &mut Errors) -> Option<Subnet> {
    let s = v.str(errs, example)?;
    match parse_prefix(s) {
        Ok(p) if v6.is_none_or(|w| p.addr().is_ipv6() == w) => Some(p),
        Ok(_) => {
            v.error(
                errs,
                format!("{s} is of the other address family; e.g. `{example}`"),
            );
            None
        }
        Err(e) => {
            v.error(errs, format!("{e}; write e.g. `{example}`"));
            None
        }
    }
}

fn users(
    m: &yaml_serde::Mapping,
    n: &Node<'_>,
    auth: &[RaAuth],
    base: &Path,
    errs: &mut Errors,
) -> Option<UserSource> {
    let file = child(m, n, "users-file");
    let radius = child(m, n, "radius");
    let src = match (file, radius) {
        (Some(_), Some(r)) => {
            r.error(errs, "give `users-file` or `radius`, not both");
            return None;
        }
        (Some(f), None) => {
            let path = resolve(base, f.str(errs, "/etc/ikegate/users")?);
            if let Err(e) = crate::ra::users_file::UsersFile::load(&path) {
                f.error(errs, e);
            }
            UserSource::File(path)
        }
        (None, Some(r)) => radius_block(&r, base, errs)?,
        (None, None) => {
            if let Some(a) = auth.iter().find(|a| a.needs_users()) {
                n.error(
                    errs,
                    format!(
                        "`auth: {}` needs users: add `users-file: /etc/ikegate/users` (create \
                         it with `ikegate users add`) or `radius: {{ server: HOST:1812, \
                         secret-file: … }}`",
                        a.name()
                    ),
                );
            }
            return None;
        }
    };
    if !auth.iter().any(|a| a.needs_users()) {
        n.error(
            errs,
            "`auth: psk` logs clients in by the pre-shared key alone: remove `users-file` / \
             `radius`, or choose `auth: eap-mschapv2`",
        );
    }
    Some(src)
}

/// The keys of `radius:`.
const RADIUS_KEYS: &[&str] = &[
    "server",
    "secret-file",
    "nas-identifier",
    "timeout",
    "retries",
];

fn radius_block(r: &Node<'_>, base: &Path, errs: &mut Errors) -> Option<UserSource> {
    let rm = r.block(errs, RADIUS_KEYS)?;
    let server = match child(rm, r, "server") {
        Some(s) => radius_server(&s, errs),
        None => {
            r.error(errs, "missing `server`, e.g. `server: 192.0.2.10:1812`");
            None
        }
    };
    let secret_file = match child(rm, r, "secret-file") {
        Some(f) => {
            let path = resolve(base, f.str(errs, "/etc/ikegate/radius.secret")?);
            if let Err(e) = crate::ra::radius::secret_file(&path) {
                // The error names the key itself; the path before it already does.
                let text = e.to_string();
                f.error(errs, text.trim_start_matches("radius.secret-file: "));
            }
            Some(path)
        }
        None => {
            r.error(
                errs,
                "missing `secret-file`: the file (mode 0600) holding the shared secret of the \
                 server's client entry for this gateway",
            );
            None
        }
    };
    let nas_identifier = match child(rm, r, "nas-identifier") {
        Some(n) => Some(n.str(errs, "ikegate-tokyo")?.to_string()),
        None => None,
    };
    let timeout = match child(rm, r, "timeout") {
        Some(t) => std::time::Duration::from_secs(t.uint(errs, 1, 60, "timeout: 2")?),
        None => std::time::Duration::from_secs(2),
    };
    let retries = match child(rm, r, "retries") {
        Some(n) => n.uint(errs, 0, 10, "retries: 2")? as u32,
        None => 2,
    };
    Some(UserSource::Radius {
        server: server?,
        secret_file: secret_file?,
        nas_identifier,
        timeout,
        retries,
    })
}

/// `radius.server`: HOST:PORT (an IP address, `[v6]:port`, or a name resolved at start).
fn radius_server(s: &Node<'_>, errs: &mut Errors) -> Option<String> {
    let text = s.str(errs, "192.0.2.10:1812")?;
    let parsed = text
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.port() > 0);
    let host_port = text.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && !h.contains(':') && p.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if !parsed && !host_port {
        s.error(
            errs,
            format!(
                "\"{text}\" is not HOST:PORT; write e.g. `server: 192.0.2.10:1812` (an IPv6 \
                 address in brackets: `[2001:db8::10]:1812`)"
            ),
        );
        return None;
    }
    Some(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::IkeVersion;

    fn block(yaml: &str) -> (Option<RemoteAccessConfig>, Vec<String>) {
        let v: yaml_serde::Value = yaml_serde::from_str(yaml).unwrap();
        let mut errs = Errors::default();
        let root = Node::root(&v);
        let ra = parse(&root, Path::new("."), &mut errs);
        (ra, errs.0.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn every_key_parses() {
        let (ra, errs) = block(
            "{ pool: { ipv4: 10.8.0.0/24, ipv6: 'fd00:8::/112' }, dns: [10.8.0.53, '2001:db8::53'], \
             split-include: [192.168.1.0/24, '2001:db8:1::/48'], auth: psk, mode-cfg: push }",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let ra = ra.unwrap();
        assert_eq!(ra.pool_ipv4, Some("10.8.0.0/24".parse().unwrap()));
        assert_eq!(ra.pool_ipv6, Some("fd00:8::/112".parse().unwrap()));
        assert_eq!(ra.dns.len(), 2);
        assert_eq!(ra.split_include.len(), 2);
        assert_eq!(
            (ra.auth.clone(), ra.users.clone(), ra.mode_cfg),
            (vec![RaAuth::Psk], None, Some(ModeCfg::Push))
        );
        let refused: Vec<_> = unserved(&ra, IkeVersion::V2)
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(refused, ["mode-cfg"], "IKEv2 PSK road warriors are served");
        let key = secret_file(0o600);
        let (ra, errs) = block(&format!(
            "{{ pool: {{ ipv4: 10.8.0.0/24 }}, auth: xauth, radius: {{ server: 'radius.example:1812', \
             secret-file: {}, nas-identifier: gw-tokyo, timeout: 1, retries: 4 }} }}",
            key.display()
        ));
        assert!(errs.is_empty(), "{errs:?}");
        let ra = ra.unwrap();
        assert_eq!(
            ra.users,
            Some(UserSource::Radius {
                server: "radius.example:1812".into(),
                secret_file: key.clone(),
                nas_identifier: Some("gw-tokyo".into()),
                timeout: std::time::Duration::from_secs(1),
                retries: 4,
            })
        );
        let keys: Vec<_> = unserved(&ra, IkeVersion::V2)
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(keys, ["auth"], "RADIUS is served");
        assert!(
            unserved(&ra, IkeVersion::V1).is_empty(),
            "IKEv1 XAUTH from RADIUS is served"
        );
        std::fs::remove_file(key).unwrap();
    }

    /// A RADIUS secret file of `mode` in the temporary directory.
    fn secret_file(mode: u32) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = std::env::temp_dir().join(format!(
            "ikegate-ra-radius-{}-{mode:o}.key",
            std::process::id()
        ));
        std::fs::write(&p, "s3cret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// `ikegate check` reads the secret file: readable by others, or missing, names the key
    /// and the fix.
    #[test]
    fn the_radius_secret_file_is_checked() {
        let loose = secret_file(0o644);
        let yaml = |path: &str| {
            format!(
                "{{ pool: {{ ipv4: 10.8.0.0/24 }}, auth: xauth, radius: {{ server: '[2001:db8::1]:1812', \
                 secret-file: {path} }} }}"
            )
        };
        let (_, errs) = block(&yaml(&loose.display().to_string()));
        let want = format!("chmod 600 {}", loose.display());
        assert!(
            errs.iter()
                .any(|e| e.contains("radius.secret-file") && e.contains(&want)),
            "{errs:?}"
        );
        std::fs::remove_file(&loose).unwrap();
        let (_, errs) = block(&yaml("/nonexistent/radius.key"));
        assert!(
            errs.iter()
                .any(|e| e.contains("cannot read /nonexistent/radius.key")),
            "{errs:?}"
        );
        let (_, errs) = block(
            "{ pool: { ipv4: 10.8.0.0/24 }, auth: xauth, radius: { server: 'a:1', secret-file: /x, timeout: 0 } }",
        );
        assert!(
            errs.iter().any(|e| e.contains("radius.timeout")),
            "{errs:?}"
        );
    }

    #[test]
    fn auth_lists_serve_both_ike_versions() {
        use crate::ike::auth::eap::EapMethod;
        let (v1, v2) = (IkeVersion::V1, IkeVersion::V2);
        let ra = |auth: &str| {
            let (ra, errs) = block(&format!(
                "{{ pool: {{ ipv4: 10.8.0.0/24 }}, auth: {auth}, users-file: /dev/null }}"
            ));
            (ra, errs)
        };
        let both = ra("[xauth, eap-mschapv2]").0.unwrap();
        assert_eq!(both.auth_names(), "[xauth, eap-mschapv2]");
        assert_eq!(both.auth_for(v1, v2), Some(RaAuth::Xauth));
        assert_eq!(both.auth_for(v2, v1), Some(RaAuth::EapMschapv2));
        assert_eq!(both.eap_method(), Some(EapMethod::MsChapV2));
        // psk beside one method serves the other version.
        let mixed = ra("[eap-md5, psk]").0.unwrap();
        assert_eq!(mixed.auth_for(v1, v2), Some(RaAuth::Psk));
        assert_eq!(mixed.auth_for(v2, v2), Some(RaAuth::EapMd5));
        // The single form keeps meaning what it meant.
        let single = ra("eap-mschapv2").0.unwrap();
        assert_eq!(single.auth, [RaAuth::EapMschapv2]);
        assert_eq!(single.auth_for(v1, v2), None);
        let (psk, _) = block("{ pool: { ipv4: 10.8.0.0/24 }, auth: [psk] }");
        let psk = psk.unwrap();
        assert_eq!(
            (psk.auth_for(v1, v2), psk.auth_for(v2, v2)),
            (None, Some(RaAuth::Psk))
        );
        assert!(unserved(&single, v2).is_empty(), "IKEv2 EAP is served");
        assert!(unserved(&single, v1)[0]
            .1
            .contains("serves no IKEv1 client, but `ike.version` is 1"));
        for (auth, want) in [
            ("[]", "lists no method"),
            ("[eap-md5, eap-mschapv2]", "lists two EAP methods"),
            ("[xauth, xauth]", "lists a method twice"),
            ("[xauth, psk, eap-md5]", "serves nobody"),
            ("[xauth, chap]", "auth[1]"),
        ] {
            let (_, errs) = ra(auth);
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "{auth}: want {want:?} in {errs:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        for (yaml, want) in [
            ("{ auth: psk }", "missing `pool`"),
            ("{ pool: {}, auth: psk }", "give `ipv4:`, `ipv6:` or both"),
            (
                "{ pool: { ipv4: 10.8.0.1/24 }, auth: psk }",
                "pool.ipv4: 10.8.0.1/24 has host bits set",
            ),
            (
                "{ pool: { ipv4: 'fd00::/64' }, auth: psk }",
                "pool.ipv4: fd00::/64 is of the other address family",
            ),
            (
                "{ pool: { ipv4: 10.8.0.0/31 }, auth: psk }",
                "pool.ipv4: an IPv4 pool needs at least two",
            ),
            ("{ pool: { ipv4: 10.8.0.0/24 } }", "missing `auth`"),
            ("{ pool: { ipv4: 10.8.0.0/24 }, auth: chap }", "auth"),
            (
                "{ pool: { ipv4: 10.8.0.0/24 }, auth: eap-mschapv2 }",
                "needs users: add `users-file",
            ),
            (
                "{ pool: { ipv4: 10.8.0.0/24 }, auth: eap-md5, users-file: /nonexistent/users }",
                "users-file: cannot read users file /nonexistent/users",
            ),
            (
                "{ pool: { ipv4: 10.8.0.0/24 }, auth: xauth, radius: { server: radius.example } }",
                "radius.server: \"radius.example\" is not HOST:PORT",
            ),
            (
                "{ pool: { ipv4: 10.8.0.0/24 }, auth: xauth, radius: { server: '2001:db8::1:1812' } }",
                "in brackets",
            ),
            (
                "{ pool: { ipv4: 10.8.0.0/24 }, auth: xauth, radius: { server: 'a:1' } }",
                "missing `secret-file`",
            ),
            (
                "{ pool: { ipv4: 10.8.0.0/24 }, auth: psk, mode-cfg: both }",
                "mode-cfg",
            ),
            (
                "{ pool: { ipv4: 10.8.0.0/24 }, auth: psk, dns: [nope] }",
                "dns[0]",
            ),
            (
                "{ pool: { ipv4: 10.8.0.0/24 }, auth: psk, split-include: [10.0.0.0/33] }",
                "split-include[0]",
            ),
            (
                "{ pool: { ipv4: 10.8.0.0/24 }, auth: psk, pools: {} }",
                "pools",
            ),
        ] {
            let (_, errs) = block(yaml);
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "{yaml}: want {want:?} in {errs:?}"
            );
        }
    }

    #[test]
    fn interface_level_checks() {
        let errs = match crate::config::parse(
            r#"
interfaces:
  ipsec-ra0:
    ipv4: { source: 10.0.0.1, destination: 10.0.0.2 }
    preshared-key: "group secret"
    ike: { version: 2 }
    remote-access: { pool: { ipv4: 10.8.0.0/24 }, auth: eap-md5, users-file: /nonexistent }
"#,
            Path::new("."),
        ) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        };
        let want = [
            "write `destination: dynamic`",
            "remote-access.auth: with `auth: eap-md5` the gateway proves itself with a certificate",
        ];
        for w in want {
            assert!(errs.iter().any(|e| e.contains(w)), "want {w:?} in {errs:?}");
        }
    }
}
