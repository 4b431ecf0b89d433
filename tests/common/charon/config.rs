//! swanctl.conf and strongswan.conf rendering.

use super::Strongswan;

/// swanctl `start_action` of the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAction {
    None,
    Trap,
    Start,
}

/// One swanctl connection with one child, PSK authenticated, plus charon
/// settings. Build with `CharonConfig::ikev1_psk(..)` or `CharonConfig::ikev2_psk(..)` and
/// adjust fields.
#[derive(Clone, Debug)]
pub struct CharonConfig {
    /// Which strongSwan runs it.
    pub strongswan: Strongswan,
    /// Connection (IKE) name, default `gw`.
    pub conn: String,
    /// Child name, default `net`.
    pub child: String,
    /// IKE version: 1 or 2.
    pub version: u8,
    pub local_addrs: String,
    /// `%any` makes a responder-only connection (e.g. behind a NAT box).
    pub remote_addrs: String,
    /// IKE identities; default: the addresses.
    pub local_id: Option<String>,
    pub remote_id: Option<String>,
    pub psk: String,
    /// e.g. `aes256-sha256-modp1536`.
    pub ike_proposals: String,
    /// e.g. `aes256-sha256`, `aes128gcm16`, `aes256-sha256-modp2048` (PFS).
    pub esp_proposals: String,
    pub local_ts: String,
    pub remote_ts: String,
    /// `encap = yes`: force UDP encapsulation (5.9's libipsec encapsulates in UDP anyway).
    pub encap: bool,
    /// 6.1 only: `charon.plugins.kernel-libipsec.raw_esp = yes`, ESP in IP protocol 50 when no
    /// NAT is detected (5.9's libipsec has no such option and always uses UDP 4500).
    pub raw_esp: bool,
    /// IKEv2 `mobike = yes|no` (None: strongSwan's default, yes).
    pub mobike: Option<bool>,
    /// IKE `fragmentation = yes|accept|force|no` (None: strongSwan's default, yes).
    pub fragmentation: Option<String>,
    /// IKEv1 aggressive mode (also sets
    /// `charon.i_dont_care_about_security_and_use_aggressive_mode_psk`).
    pub aggressive: bool,
    /// `dpd_delay` in seconds.
    pub dpd_delay: Option<u32>,
    /// `dpd_timeout` in seconds (IKEv1 only).
    pub dpd_timeout: Option<u32>,
    /// Child `dpd_action`: `clear`, `trap` or `restart`.
    pub dpd_action: Option<String>,
    /// Connection `rekey_time`/`reauth_time`/`over_time` (swanctl time
    /// strings like `30s`, `0` to disable).
    pub ike_rekey_time: Option<String>,
    pub ike_reauth_time: Option<String>,
    pub over_time: Option<String>,
    /// Child `rekey_time`/`life_time`/`rand_time`.
    pub child_rekey_time: Option<String>,
    pub child_life_time: Option<String>,
    pub child_rand_time: Option<String>,
    /// Note: with kernel-libipsec, `Trap` installs the route through
    /// `ipsec0` but traffic never triggers a negotiation (libipsec logs
    /// "could not find an outbound IPsec SA for reqid {1}, dropping packet"
    /// and sends no acquire): use `Start` or `initiate()`.
    pub start_action: StartAction,
    /// Child `close_action`: `none`, `clear`, `trap`, `start`.
    pub close_action: Option<String>,
    pub keyingtries: Option<u32>,
    /// `charon.retransmit_tries` / `retransmit_timeout` (defaults 3 / 1.0 s
    /// so a dead peer fails in ~7 s instead of minutes).
    pub retransmit_tries: u32,
    pub retransmit_timeout: f32,
    /// Log derived ESP keys (`chd` level 4) for `esp_keys()`; default true.
    pub log_keys: bool,
    /// Raw lines added inside the connection, the child, and the
    /// `charon { }` section of strongswan.conf, and at the top level of
    /// swanctl.conf (e.g. more `connections { }` or `secrets { }`).
    pub extra_conn: Vec<String>,
    pub extra_child: Vec<String>,
    pub extra_charon: Vec<String>,
    pub extra_swanctl: Vec<String>,
    /// Plugins loaded (and checked) besides [`Strongswan::plugins`], e.g. `attr unity
    /// xauth-generic` for a remote-access server or client.
    pub extra_plugins: Vec<String>,
    /// More authentication rounds, written after `local`/`remote` (their order is the rounds'
    /// order), e.g. `remote-xauth { auth = xauth }`.
    pub extra_auth: Vec<String>,
    /// Certificate authentication (`auth = pubkey`) instead of the PSK.
    pub pubkey: Option<PubkeyAuth>,
    /// IKEv2 remote-access client logging in with EAP (the gateway authenticated by its
    /// certificate when a CA is given, else by the PSK).
    pub eap: Option<EapClientAuth>,
}

/// A remote-access client's EAP login: `local { auth = <method>, eap_id }` and its secret.
#[derive(Clone, Debug)]
pub struct EapClientAuth {
    /// `eap-mschapv2` or `eap-md5`.
    pub method: String,
    /// The user name (EAP identity).
    pub user: String,
    /// The password.
    pub password: String,
    /// The CA that issued the gateway's certificate (written to x509ca/); `None`: PSK gateway.
    pub gateway_ca_pem: Option<String>,
}

/// `auth = pubkey` on both ends: charon's certificate and key, and the CAs it trusts, as PEM
/// texts written into its `x509/`, `private/` and `x509ca/` directories (swanctl loads them).
#[derive(Clone, Debug, Default)]
pub struct PubkeyAuth {
    /// charon's certificate (x509/local.pem).
    pub cert_pem: String,
    /// Its private key (private/local.pem).
    pub key_pem: String,
    /// Trusted CA certificates (x509ca/ca<i>.pem).
    pub ca_pems: Vec<String>,
    /// The connection's `send_cert` (None: strongSwan's default, ifasked).
    pub send_cert: Option<String>,
    /// `charon.rsa_pss = yes`: RSA signatures as RSASSA-PSS (RFC 7427).
    pub rsa_pss: bool,
}

impl CharonConfig {
    /// IKEv1 main mode, PSK, `aes256-sha256-modp1536` / `aes256-sha256`,
    /// tunnel `local_ts === remote_ts`, no automatic start.
    pub fn ikev1_psk(local: &str, remote: &str, local_ts: &str, remote_ts: &str) -> CharonConfig {
        CharonConfig {
            strongswan: Strongswan::Debian59,
            conn: "gw".into(),
            child: "net".into(),
            version: 1,
            local_addrs: local.into(),
            remote_addrs: remote.into(),
            local_id: None,
            remote_id: None,
            psk: "ikegate-test-psk".into(),
            ike_proposals: "aes256-sha256-modp1536".into(),
            esp_proposals: "aes256-sha256".into(),
            local_ts: local_ts.into(),
            remote_ts: remote_ts.into(),
            encap: true,
            raw_esp: false,
            mobike: None,
            fragmentation: None,
            aggressive: false,
            dpd_delay: None,
            dpd_timeout: None,
            dpd_action: None,
            ike_rekey_time: None,
            ike_reauth_time: None,
            over_time: None,
            child_rekey_time: None,
            child_life_time: None,
            child_rand_time: None,
            start_action: StartAction::None,
            close_action: None,
            keyingtries: None,
            retransmit_tries: 3,
            retransmit_timeout: 1.0,
            log_keys: true,
            extra_conn: Vec::new(),
            extra_child: Vec::new(),
            extra_charon: Vec::new(),
            extra_swanctl: Vec::new(),
            extra_plugins: Vec::new(),
            extra_auth: Vec::new(),
            pubkey: None,
            eap: None,
        }
    }

    /// IKEv2 on `strongswan`, PSK with the addresses as ids, IKE
    /// `aes256gcm16-prfsha384-ecp384`, ESP `aes128-sha256-curve25519` (PFS), no MOBIKE, no
    /// forced encapsulation, and on 6.1 raw ESP; `local_ts`/`remote_ts` may be comma lists
    /// mixing IPv4 and IPv6. No automatic start.
    pub fn ikev2_psk(
        strongswan: Strongswan,
        local: &str,
        remote: &str,
        local_ts: &str,
        remote_ts: &str,
    ) -> CharonConfig {
        CharonConfig {
            strongswan,
            version: 2,
            ike_proposals: "aes256gcm16-prfsha384-ecp384".into(),
            esp_proposals: "aes128-sha256-curve25519".into(),
            encap: false,
            raw_esp: strongswan == Strongswan::Sid61,
            mobike: Some(false),
            ..CharonConfig::ikev1_psk(local, remote, local_ts, remote_ts)
        }
    }

    fn ids(&self) -> (String, String) {
        let local = self
            .local_id
            .clone()
            .unwrap_or_else(|| first_addr(&self.local_addrs));
        let remote = self.remote_id.clone().unwrap_or_else(|| {
            match first_addr(&self.remote_addrs).as_str() {
                "%any" | "%any4" | "%any6" => "%any".into(),
                a => a.into(),
            }
        });
        (local, remote)
    }

    /// The strongswan.conf text for a charon that sees its files in `dir`
    /// ([`Strongswan::charon_dir`]).
    ///
    /// With `log_keys`, `chd` logs at level 4 print the ESP keys; for IKEv2 `ike` at level 4
    /// also prints the IKE SA keys (`Sk_d`, `Sk_ei`, …) and the NAT-D inputs holding both SPIs.
    pub fn strongswan_conf(&self, dir: &str) -> String {
        let d = dir;
        let chd = if self.log_keys { 4 } else { 2 };
        let ike = if self.log_keys && self.version == 2 {
            4
        } else {
            2
        };
        let mut s = String::new();
        s += "# generated by tests/common/charon\n";
        s += "charon {\n";
        // Certificates need the parsers (x509, pem, pkcs1/pkcs8 keys) and constraints checks.
        let mut certs = if self.pubkey.is_some() || self.eap.is_some() {
            " x509 pem pkcs1 pkcs8 pubkey constraints".to_string()
        } else {
            String::new()
        };
        if let Some(e) = &self.eap {
            certs = format!("{certs} eap-identity {}", e.method);
        }
        s += &format!(
            "  load = {}{certs} {}\n",
            self.strongswan.plugins(),
            self.extra_plugins.join(" ")
        );
        if self.pubkey.as_ref().is_some_and(|p| p.rsa_pss) {
            s += "  rsa_pss = yes\n";
        }
        s += "  install_routes = yes\n";
        s += &format!("  retransmit_tries = {}\n", self.retransmit_tries);
        s += &format!("  retransmit_timeout = {}\n", self.retransmit_timeout);
        s += "  retransmit_base = 1.4\n";
        if self.aggressive {
            s += "  i_dont_care_about_security_and_use_aggressive_mode_psk = yes\n";
        }
        s += "  plugins {\n";
        s += &format!("    vici {{\n      socket = unix://{d}/charon.vici\n    }}\n");
        if self.raw_esp && self.strongswan == Strongswan::Sid61 {
            s += "    kernel-libipsec {\n      raw_esp = yes\n    }\n";
        }
        s += "  }\n";
        s += "  filelog {\n    test {\n";
        s += &format!("      path = {d}/charon.log\n");
        s += "      time_format = %T\n      append = yes\n      flush_line = yes\n      ike_name = yes\n";
        s += &format!(
            "      default = 1\n      ike = {ike}\n      cfg = 1\n      net = 1\n      knl = 2\n      chd = {chd}\n      esp = 1\n"
        );
        s += "    }\n  }\n";
        s += "  syslog {\n    daemon {\n      default = -1\n    }\n  }\n";
        for l in &self.extra_charon {
            s += &format!("  {l}\n");
        }
        s += "}\n";
        s += "swanctl {\n  load = random openssl pem pkcs1 pkcs8 x509\n";
        s += &format!("  socket = unix://{d}/charon.vici\n}}\n");
        s
    }

    /// The swanctl.conf text.
    pub fn swanctl_conf(&self) -> String {
        let yn = |b: bool| if b { "yes" } else { "no" };
        let (lid, rid) = self.ids();
        let mut c = String::new();
        c += "# generated by tests/common/charon\nconnections {\n";
        c += &format!("  {} {{\n", self.conn);
        c += &format!("    version = {}\n", self.version);
        c += &format!("    local_addrs = {}\n", self.local_addrs);
        c += &format!("    remote_addrs = {}\n", self.remote_addrs);
        c += &format!("    proposals = {}\n", self.ike_proposals);
        c += &format!("    encap = {}\n", yn(self.encap));
        if self.version == 1 {
            c += &format!("    aggressive = {}\n", yn(self.aggressive));
        }
        if let Some(m) = self.mobike {
            c += &format!("    mobike = {}\n", yn(m));
        }
        if let Some(f) = &self.fragmentation {
            c += &format!("    fragmentation = {f}\n");
        }
        if let Some(v) = self.dpd_delay {
            c += &format!("    dpd_delay = {v}s\n");
        }
        if let Some(v) = self.dpd_timeout {
            c += &format!("    dpd_timeout = {v}s\n");
        }
        for (k, v) in [
            ("rekey_time", &self.ike_rekey_time),
            ("reauth_time", &self.ike_reauth_time),
            ("over_time", &self.over_time),
        ] {
            if let Some(v) = v {
                c += &format!("    {k} = {v}\n");
            }
        }
        if let Some(v) = self.keyingtries {
            c += &format!("    keyingtries = {v}\n");
        }
        for l in &self.extra_conn {
            c += &format!("    {l}\n");
        }
        match (&self.pubkey, &self.eap) {
            (None, Some(e)) => {
                c += &format!(
                    "    local {{\n      auth = {}\n      id = {}\n      eap_id = {}\n    }}\n",
                    e.method, e.user, e.user
                );
                let gw_auth = if e.gateway_ca_pem.is_some() {
                    "pubkey"
                } else {
                    "psk"
                };
                c += &format!(
                    "    remote {{\n      auth = {gw_auth}\n      id = \"{rid}\"\n    }}\n"
                );
            }
            (None, None) => {
                c += &format!("    local {{\n      auth = psk\n      id = {lid}\n    }}\n");
                c += &format!("    remote {{\n      auth = psk\n      id = {rid}\n    }}\n");
            }
            (Some(p), _) => {
                // Without local_id, charon's identity is its certificate's subject.
                c += "    local {\n      auth = pubkey\n      certs = local.pem\n";
                if let Some(id) = &self.local_id {
                    c += &format!("      id = \"{id}\"\n");
                }
                c += "    }\n";
                if let Some(sc) = &p.send_cert {
                    c += &format!("    send_cert = {sc}\n");
                }
                let rid = self.remote_id.clone().unwrap_or_else(|| "%any".into());
                c += &format!("    remote {{\n      auth = pubkey\n      id = \"{rid}\"\n    }}\n");
            }
        }
        for l in &self.extra_auth {
            c += &format!("    {l}\n");
        }
        c += "    children {\n";
        c += &format!("      {} {{\n", self.child);
        c += &format!("        local_ts = {}\n", self.local_ts);
        c += &format!("        remote_ts = {}\n", self.remote_ts);
        c += &format!("        esp_proposals = {}\n", self.esp_proposals);
        c += "        mode = tunnel\n";
        let sa = match self.start_action {
            StartAction::None => "none",
            StartAction::Trap => "trap",
            StartAction::Start => "start",
        };
        c += &format!("        start_action = {sa}\n");
        for (k, v) in [
            ("dpd_action", &self.dpd_action),
            ("close_action", &self.close_action),
            ("rekey_time", &self.child_rekey_time),
            ("life_time", &self.child_life_time),
            ("rand_time", &self.child_rand_time),
        ] {
            if let Some(v) = v {
                c += &format!("        {k} = {v}\n");
            }
        }
        for l in &self.extra_child {
            c += &format!("        {l}\n");
        }
        c += "      }\n    }\n  }\n}\n";
        c += "secrets {\n  ike-test {\n";
        c += &format!("    secret = 0x{}\n", hex::encode(self.psk.as_bytes()));
        c += "  }\n";
        if let Some(e) = &self.eap {
            c += &format!(
                "  eap-user {{\n    id = {}\n    secret = 0x{}\n  }}\n",
                e.user,
                hex::encode(e.password.as_bytes())
            );
        }
        c += "}\n";
        for l in &self.extra_swanctl {
            c += &format!("{l}\n");
        }
        c
    }
}

fn first_addr(addrs: &str) -> String {
    addrs.split(',').next().unwrap_or("").trim().to_string()
}
