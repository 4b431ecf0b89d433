//! A strongSwan 5.9 `charon` running inside a test namespace with userspace
//! ESP (`kernel-libipsec`), its own strongswan.conf/swanctl.conf in a private
//! directory, a private `/run` and its own vici socket.
//!
//! The recipe (see `strongswan_conf`):
//! * `STRONGSWAN_CONF` points charon and swanctl at our strongswan.conf;
//!   `charon.load` is an explicit, minimal plugin list. `kernel-libipsec`
//!   provides the IPsec backend (a TUN device `ipsec0` in the namespace) and
//!   must come before `kernel-netlink`, which is still needed for addresses,
//!   routes and interfaces. IKEv2 also needs `kdf` (5.9.6+: "KDF_PRF with
//!   PRF_HMAC_SHA2_256 not supported" otherwise). No `updown`/`resolve`.
//! * charon's pid file is the compiled-in `/var/run/charon.pid`, so each
//!   charon gets a private tmpfs on `/run` (`unshare -m`), or two charons in
//!   different namespaces would refuse to start.
//! * the vici socket is moved into the private directory
//!   (`charon.plugins.vici.socket`, `swanctl.socket`), so swanctl runs on the
//!   host without entering the namespace.
//! * with `install_routes = yes` (default) charon routes the remote traffic
//!   selector through `ipsec0` in table 220 with `src` = the local address
//!   inside the local traffic selector (put it on `lo`).
//! * kernel-libipsec always uses UDP encapsulation (NAT-T, port 4500): the
//!   log says "faking NAT situation"/"remote host is behind NAT".
//! * Debian's build has no `save-keys` plugin; instead `chd` logs at level 4
//!   print the derived ESP keys and `esp_keys()` parses them.

use super::netns::{BgProcess, Netns};
use super::tshark::EspSa;
use super::{describe_output, poll_opt, tail, TempDir};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Path of the charon binary (Debian: strongswan-charon).
pub const CHARON_BIN: &str = "/usr/lib/ipsec/charon";

/// The plugins each test charon loads (`charon.load`), checked after start.
const CHARON_PLUGINS: &str = "random nonce openssl aes sha1 sha2 md5 hmac gcm gmp kdf \
                              kernel-libipsec kernel-netlink socket-default vici";

/// True when charon (with kernel-libipsec) and swanctl are installed;
/// otherwise prints a skip reason.
pub fn require_strongswan() -> bool {
    let mut missing = Vec::new();
    if !Path::new(CHARON_BIN).exists() {
        missing.push("strongswan-charon (/usr/lib/ipsec/charon)");
    }
    if !Path::new("/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so").exists() {
        missing.push("libcharon-extra-plugins (kernel-libipsec)");
    }
    if !super::have_program("swanctl") {
        missing.push("strongswan-swanctl (swanctl)");
    }
    if missing.is_empty() {
        true
    } else {
        eprintln!("skipping: missing {}", missing.join(", "));
        false
    }
}

/// swanctl `start_action` of the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAction {
    None,
    Trap,
    Start,
}

/// One swanctl connection with one child, PSK authenticated, plus charon
/// settings. Build with `CharonConfig::ikev1_psk(..)` and adjust fields.
#[derive(Clone, Debug)]
pub struct CharonConfig {
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
    /// `encap = yes` (libipsec encapsulates in UDP anyway).
    pub encap: bool,
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
}

impl CharonConfig {
    /// IKEv1 main mode, PSK, `aes256-sha256-modp1536` / `aes256-sha256`,
    /// tunnel `local_ts === remote_ts`, no automatic start.
    pub fn ikev1_psk(local: &str, remote: &str, local_ts: &str, remote_ts: &str) -> CharonConfig {
        CharonConfig {
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

    /// The strongswan.conf text for a charon whose files live in `dir`.
    pub fn strongswan_conf(&self, dir: &Path) -> String {
        let d = dir.display();
        let chd = if self.log_keys { 4 } else { 2 };
        let mut s = String::new();
        s += "# generated by tests/common/charon.rs\n";
        s += "charon {\n";
        s += &format!("  load = {CHARON_PLUGINS}\n");
        s += "  install_routes = yes\n";
        s += &format!("  retransmit_tries = {}\n", self.retransmit_tries);
        s += &format!("  retransmit_timeout = {}\n", self.retransmit_timeout);
        s += "  retransmit_base = 1.4\n";
        if self.aggressive {
            s += "  i_dont_care_about_security_and_use_aggressive_mode_psk = yes\n";
        }
        s += "  plugins {\n";
        s += &format!("    vici {{\n      socket = unix://{d}/charon.vici\n    }}\n");
        s += "  }\n";
        s += "  filelog {\n    test {\n";
        s += &format!("      path = {d}/charon.log\n");
        s += "      time_format = %T\n      append = yes\n      flush_line = yes\n      ike_name = yes\n";
        s += &format!(
            "      default = 1\n      ike = 2\n      cfg = 1\n      net = 1\n      knl = 2\n      chd = {chd}\n      esp = 1\n"
        );
        s += "    }\n  }\n";
        s += "  syslog {\n    daemon {\n      default = -1\n    }\n  }\n";
        for l in &self.extra_charon {
            s += &format!("  {l}\n");
        }
        s += "}\n";
        s += "swanctl {\n  load = random openssl pem pkcs1 x509\n";
        s += &format!("  socket = unix://{d}/charon.vici\n}}\n");
        s
    }

    /// The swanctl.conf text.
    pub fn swanctl_conf(&self) -> String {
        let yn = |b: bool| if b { "yes" } else { "no" };
        let (lid, rid) = self.ids();
        let mut c = String::new();
        c += "# generated by tests/common/charon.rs\nconnections {\n";
        c += &format!("  {} {{\n", self.conn);
        c += &format!("    version = {}\n", self.version);
        c += &format!("    local_addrs = {}\n", self.local_addrs);
        c += &format!("    remote_addrs = {}\n", self.remote_addrs);
        c += &format!("    proposals = {}\n", self.ike_proposals);
        c += &format!("    encap = {}\n", yn(self.encap));
        c += &format!("    aggressive = {}\n", yn(self.aggressive));
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
        c += &format!("    local {{\n      auth = psk\n      id = {lid}\n    }}\n");
        c += &format!("    remote {{\n      auth = psk\n      id = {rid}\n    }}\n");
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
        c += "  }\n}\n";
        for l in &self.extra_swanctl {
            c += &format!("{l}\n");
        }
        c
    }
}

fn first_addr(addrs: &str) -> String {
    addrs.split(',').next().unwrap_or("").trim().to_string()
}

/// A running charon. Killed (and its files removed) on drop; when dropped
/// during a panic, the tail of its log is printed first.
pub struct Charon {
    label: String,
    ns: String,
    dir: TempDir,
    cfg: CharonConfig,
    proc_: Option<BgProcess>,
}

impl Charon {
    /// Writes the configuration, starts charon in `ns`, waits (≤ 10 s) until
    /// its vici socket answers and loads the configuration.
    pub fn start(ns: &Netns, cfg: CharonConfig) -> Charon {
        let dir = TempDir::new(&format!("charon-{}", ns.name()));
        for sub in [
            "x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey", "private",
            "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let mut c = Charon {
            label: ns.name().to_string(),
            ns: ns.name().to_string(),
            dir,
            cfg,
            proc_: None,
        };
        c.write_config();
        c.launch();
        c.load_all();
        c
    }

    fn write_config(&self) {
        std::fs::write(
            self.dir.join("strongswan.conf"),
            self.cfg.strongswan_conf(self.dir.path()),
        )
        .unwrap();
        std::fs::write(self.dir.join("swanctl.conf"), self.cfg.swanctl_conf()).unwrap();
    }

    fn launch(&mut self) {
        let _ = std::fs::remove_file(self.dir.join("charon.vici"));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, "unshare", "-m", "sh", "-c"])
            .arg(format!("mount -t tmpfs tmpfs /run && exec {CHARON_BIN}"))
            .env("STRONGSWAN_CONF", self.dir.join("strongswan.conf"))
            .stdin(Stdio::null());
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("charon.stdout"))
            .unwrap();
        cmd.stdout(out.try_clone().unwrap()).stderr(out);
        self.proc_ = Some(BgProcess::spawn(cmd, &format!("charon in {}", self.ns)));
        let ready = poll_opt(Duration::from_secs(10), || {
            if let Some(st) = self.proc_.as_mut().and_then(|p| p.try_wait()) {
                return Some(Err(format!("charon exited early: {st}")));
            }
            let out = self.swanctl(&["--stats"]);
            out.status.success().then_some(Ok(()))
        });
        match ready {
            Some(Ok(())) => self.check_plugins(),
            Some(Err(e)) => self.fail(&e),
            None => self.fail("vici socket did not answer within 10 s"),
        }
    }

    /// Fails unless every plugin of `charon.load` is loaded: charon skips a missing one
    /// silently, and kernel-libipsec then refuses SAs much later ("unsupported AEAD algorithm").
    fn check_plugins(&self) {
        let out = self.swanctl(&["--stats"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let loaded: Vec<&str> = text
            .lines()
            .find_map(|l| l.strip_prefix("loaded plugins:"))
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let missing: Vec<&str> = CHARON_PLUGINS
            .split_whitespace()
            .filter(|p| !loaded.contains(p))
            .collect();
        if !missing.is_empty() {
            self.fail(&format!(
                "charon did not load the plugins {missing:?} (loaded: {loaded:?}); \
                 install libstrongswan-standard-plugins (openssl, gcm) and \
                 libcharon-extra-plugins (kernel-libipsec): scripts/setup-debian.sh does"
            ));
        }
    }

    /// Panics with `msg`, charon's stdout and the tail of its log.
    pub fn fail(&self, msg: &str) -> ! {
        panic!(
            "[charon {}] {msg}\n--- charon stdout ---\n{}\n--- charon log (tail) ---\n{}",
            self.label,
            std::fs::read_to_string(self.dir.join("charon.stdout")).unwrap_or_default(),
            tail(&self.log(), 60)
        )
    }

    /// The private directory holding strongswan.conf, swanctl.conf,
    /// charon.log and charon.vici.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> &CharonConfig {
        &self.cfg
    }

    pub fn vici_uri(&self) -> String {
        format!("unix://{}/charon.vici", self.dir.path().display())
    }

    /// Runs `swanctl ARGS --uri <our socket>` on the host.
    pub fn swanctl(&self, args: &[&str]) -> Output {
        Command::new("swanctl")
            .args(args)
            .args(["--uri", &self.vici_uri()])
            .env("STRONGSWAN_CONF", self.dir.join("strongswan.conf"))
            .stdin(Stdio::null())
            .output()
            .expect("spawning swanctl")
    }

    fn swanctl_result(&self, args: &[&str]) -> Result<String, String> {
        let out = self.swanctl(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }

    /// `swanctl --load-all`; panics on failure.
    pub fn load_all(&self) {
        let file = self.dir.join("swanctl.conf");
        let out = self.swanctl(&[
            "--load-all",
            "--noprompt",
            "--file",
            &file.to_string_lossy(),
        ]);
        if !out.status.success() {
            self.fail(&describe_output("swanctl --load-all", &out));
        }
    }

    /// Replaces the configuration: rewrites both files and reloads
    /// swanctl.conf (strongswan.conf changes need `restart()`).
    pub fn reconfigure(&mut self, cfg: CharonConfig) {
        self.cfg = cfg;
        self.write_config();
        self.load_all();
    }

    /// `swanctl --initiate --child CHILD` (waits up to 30 s for the result).
    pub fn initiate(&self, child: &str) -> Result<String, String> {
        self.initiate_timeout(child, 30)
    }

    pub fn initiate_timeout(&self, child: &str, secs: u32) -> Result<String, String> {
        self.swanctl_result(&[
            "--initiate",
            "--child",
            child,
            "--timeout",
            &secs.to_string(),
        ])
    }

    /// `initiate`, panicking with the log on failure.
    pub fn initiate_ok(&self, child: &str) -> String {
        self.initiate(child)
            .unwrap_or_else(|e| self.fail(&format!("initiate {child} failed:\n{e}")))
    }

    /// `swanctl --terminate --ike IKE`.
    pub fn terminate(&self, ike: &str) -> Result<String, String> {
        self.swanctl_result(&["--terminate", "--ike", ike, "--timeout", "10"])
    }

    /// `swanctl --terminate --child CHILD`.
    pub fn terminate_child(&self, child: &str) -> Result<String, String> {
        self.swanctl_result(&["--terminate", "--child", child, "--timeout", "10"])
    }

    /// `swanctl --list-sas` output.
    pub fn list_sas(&self) -> String {
        let out = self.swanctl(&["--list-sas"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Child SAs named `child` from `--list-sas`.
    pub fn child_sas(&self, child: &str) -> Vec<ChildSaInfo> {
        parse_child_sas(&self.list_sas(), child)
    }

    /// Whether an IKE SA named `ike` is ESTABLISHED.
    pub fn ike_established(&self, ike: &str) -> bool {
        self.list_sas()
            .lines()
            .any(|l| l.starts_with(&format!("{ike}: #")) && l.contains("ESTABLISHED"))
    }

    /// Polls until a child SA `child` is INSTALLED (e.g. on the responder,
    /// which installs its SAs after the initiator's `initiate` returned).
    pub fn wait_child_installed(&self, child: &str, timeout: Duration) -> ChildSaInfo {
        poll_opt(timeout, || {
            self.child_sas(child)
                .into_iter()
                .find(|c| c.state == "INSTALLED")
        })
        .unwrap_or_else(|| {
            self.fail(&format!(
                "child SA {child} not INSTALLED within {timeout:?}\n--- list-sas ---\n{}",
                self.list_sas()
            ))
        })
    }

    /// Polls until no SA of connection `ike` is left.
    pub fn wait_ike_gone(&self, ike: &str, timeout: Duration) {
        let gone = poll_opt(timeout, || {
            (!self
                .list_sas()
                .lines()
                .any(|l| l.starts_with(&format!("{ike}: #"))))
            .then_some(())
        });
        if gone.is_none() {
            self.fail(&format!("IKE SA {ike} still there after {timeout:?}"));
        }
    }

    /// charon's file log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("charon.log")).unwrap_or_default()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("charon.log")
    }

    /// Polls the log until it contains `needle`; panics with the tail.
    pub fn wait_log(&self, needle: &str, timeout: Duration) {
        if poll_opt(timeout, || self.log().contains(needle).then_some(())).is_none() {
            self.fail(&format!("log line {needle:?} not seen within {timeout:?}"));
        }
    }

    /// The current length of the log, to wait for lines written after it.
    pub fn log_mark(&self) -> usize {
        std::fs::metadata(self.log_path())
            .map(|m| m.len() as usize)
            .unwrap_or(0)
    }

    /// Polls until the log written after `mark` contains `needle`.
    pub fn wait_log_since(&self, mark: usize, needle: &str, timeout: Duration) {
        let found = poll_opt(timeout, || {
            let log = self.log();
            log.get(mark..)
                .is_some_and(|l| l.contains(needle))
                .then_some(())
        });
        if found.is_none() {
            self.fail(&format!(
                "log line {needle:?} not seen (after offset {mark}) within {timeout:?}"
            ));
        }
    }

    /// ESP keys of every child SA installed so far (parsed from the log).
    pub fn esp_keys(&self) -> Vec<EspKey> {
        parse_esp_keys(&self.log())
    }

    /// Wireshark SAs (wildcard addresses) for every child SA so far.
    pub fn esp_sas(&self) -> Vec<EspSa> {
        self.esp_keys().iter().map(EspKey::to_sa).collect()
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc_.as_ref().map(BgProcess::pid)
    }

    pub fn is_running(&mut self) -> bool {
        match self.proc_.as_mut() {
            Some(p) => p.try_wait().is_none(),
            None => false,
        }
    }

    /// SIGKILL charon (its TUN device and routes go with it).
    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc_.take() {
            p.kill();
        }
    }

    /// SIGTERM charon and wait (≤ 5 s) for it to exit cleanly.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc_.take() {
            p.stop(libc::SIGTERM, Duration::from_secs(5));
        }
    }

    /// Kill (if running) and start again with the current configuration;
    /// the log is appended to.
    pub fn restart(&mut self) {
        self.kill9();
        self.write_config();
        self.launch();
        self.load_all();
    }
}

impl Drop for Charon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- charon in {} (dir {}) log tail ---\n{}",
                self.label,
                self.dir.path().display(),
                tail(&self.log(), 40)
            );
        }
        self.kill9();
    }
}

/// One child SA line block of `swanctl --list-sas`.
#[derive(Clone, Debug, Default)]
pub struct ChildSaInfo {
    pub name: String,
    pub unique_id: u32,
    /// INSTALLED, REKEYED, …
    pub state: String,
    /// TUNNEL, TUNNEL-in-UDP, …
    pub mode: String,
    /// e.g. `ESP:AES_CBC-256/HMAC_SHA2_256_128`
    pub proposal: String,
    pub spi_in: u32,
    pub spi_out: u32,
    pub bytes_in: u64,
    pub packets_in: u64,
    pub bytes_out: u64,
    pub packets_out: u64,
}

/// Parses the child SA blocks named `child` out of `swanctl --list-sas`.
pub fn parse_child_sas(list: &str, child: &str) -> Vec<ChildSaInfo> {
    let mut out = Vec::new();
    let mut cur: Option<ChildSaInfo> = None;
    let head = format!("{child}: #");
    for line in list.lines() {
        let t = line.trim();
        if t.starts_with(&head) && line.starts_with("  ") {
            if let Some(c) = cur.take() {
                out.push(c);
            }
            let fields: Vec<&str> = t[head.len()..].split(", ").collect();
            cur = Some(ChildSaInfo {
                name: child.to_string(),
                unique_id: fields.first().and_then(|f| f.parse().ok()).unwrap_or(0),
                state: fields.get(2).unwrap_or(&"").to_string(),
                mode: fields.get(3).unwrap_or(&"").to_string(),
                proposal: fields.get(4).unwrap_or(&"").to_string(),
                ..Default::default()
            });
            continue;
        }
        let Some(c) = cur.as_mut() else { continue };
        let toks: Vec<&str> = t.split_whitespace().collect();
        let num = |i: usize| -> u64 {
            toks.get(i)
                .map(|s| s.trim_end_matches(','))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        };
        let spi = || -> u32 {
            toks.get(1)
                .map(|s| s.trim_end_matches(','))
                .and_then(|s| u32::from_str_radix(s, 16).ok())
                .unwrap_or(0)
        };
        match toks.first() {
            Some(&"in") => {
                c.spi_in = spi();
                c.bytes_in = num(2);
                c.packets_in = num(4);
            }
            Some(&"out") => {
                c.spi_out = spi();
                c.bytes_out = num(2);
                c.packets_out = num(4);
            }
            _ if !line.starts_with("    ") => {
                out.push(cur.take().unwrap());
            }
            _ => {}
        }
    }
    if let Some(c) = cur.take() {
        out.push(c);
    }
    out
}

/// The keys of one ESP SA (one direction of a child SA), from charon's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspKey {
    /// Child name and unique id from "CHILD_SA net{1} established".
    pub child: String,
    pub unique_id: u32,
    pub spi: u32,
    /// Inbound from this charon's point of view.
    pub inbound: bool,
    /// Outer addresses as charon installed the SA (pre-NAT on its side).
    pub src: String,
    pub dst: String,
    /// strongSwan names: `AES_CBC`, `AES_GCM_16`, `3DES_CBC`, `NULL`, …
    pub encr_alg: String,
    /// Including the 4-byte salt for GCM (as RFC 4106 and Wireshark want).
    pub encr_key: Vec<u8>,
    /// `HMAC_SHA2_256_128`, …; None for AEAD.
    pub integ_alg: Option<String>,
    pub integ_key: Vec<u8>,
}

impl EspKey {
    /// A Wireshark `esp_sa` entry matching this SPI from any address.
    pub fn to_sa(&self) -> EspSa {
        EspSa::any(
            self.spi,
            wireshark_encr_name(&self.encr_alg),
            &self.encr_key,
            self.integ_alg
                .as_deref()
                .map(wireshark_auth_name)
                .unwrap_or("NULL"),
            &self.integ_key,
        )
    }
}

/// Wireshark 4.0 `esp_sa` encryption name for a strongSwan algorithm name.
pub fn wireshark_encr_name(alg: &str) -> &'static str {
    match alg {
        "NULL" => "NULL",
        "AES_CBC" => "AES-CBC [RFC3602]",
        "AES_CTR" => "AES-CTR [RFC3686]",
        "3DES_CBC" => "TripleDES-CBC [RFC2451]",
        "DES_CBC" => "DES-CBC [RFC2405]",
        "AES_GCM_8" => "AES-GCM with 8 octet ICV [RFC4106]",
        "AES_GCM_12" => "AES-GCM with 12 octet ICV [RFC4106]",
        "AES_GCM_16" => "AES-GCM with 16 octet ICV [RFC4106]",
        other => panic!("no Wireshark name for encryption algorithm {other}"),
    }
}

/// Wireshark 4.0 `esp_sa` authentication name for a strongSwan name.
pub fn wireshark_auth_name(alg: &str) -> &'static str {
    match alg {
        "HMAC_MD5_96" => "HMAC-MD5-96 [RFC2403]",
        "HMAC_SHA1_96" => "HMAC-SHA-1-96 [RFC2404]",
        "HMAC_SHA2_256_96" => "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
        "HMAC_SHA2_256_128" => "HMAC-SHA-256-128 [RFC4868]",
        "HMAC_SHA2_384_192" => "HMAC-SHA-384-192 [RFC4868]",
        "HMAC_SHA2_512_256" => "HMAC-SHA-512-256 [RFC4868]",
        other => panic!("no Wireshark name for integrity algorithm {other}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum DumpTarget {
    Dh,
    SeedI,
    SeedR,
    EncrI,
    EncrR,
    IntegI,
    IntegR,
}

#[derive(Default)]
struct ThreadState {
    encr_alg: Option<String>,
    integ_alg: Option<String>,
    /// The last "[ENC] parsed … request|response" seen: true = response.
    last_parsed_response: Option<bool>,
    dumps: HashMap<DumpTarget, Vec<u8>>,
    /// Hex dump being collected: target and expected length.
    dump: Option<(DumpTarget, usize)>,
    /// (inbound, spi, src, dst) from "adding inbound/outbound ESP SA".
    sas: Vec<(bool, u32, String, String)>,
    pending_dir: Option<bool>,
}

/// Splits a charon log line `TIME TT[GRP] message` into (thread, group,
/// message).
fn split_log_line(line: &str) -> Option<(u32, &str, &str)> {
    let b = line.as_bytes();
    let mut i = 0;
    while let Some(off) = line[i..].find('[') {
        let p = i + off;
        if p + 5 <= b.len()
            && b[p + 4] == b']'
            && b[p + 1..p + 4].iter().all(|c| c.is_ascii_uppercase())
            && p > 0
            && b[p - 1].is_ascii_digit()
        {
            let mut s = p;
            while s > 0 && b[s - 1].is_ascii_digit() {
                s -= 1;
            }
            let thread = line[s..p].parse().ok()?;
            let group = &line[p + 1..p + 4];
            let mut msg = line[p + 5..].strip_prefix(' ').unwrap_or(&line[p + 5..]);
            // `ike_name = yes` prefixes "<conn|1> " to every line of an IKE_SA.
            if msg.starts_with('<') {
                if let Some(end) = msg.find("> ") {
                    msg = &msg[end + 2..];
                }
            }
            return Some((thread, group, msg));
        }
        i = p + 1;
    }
    None
}

/// Parses the ESP keys of every established child SA out of a charon log
/// written with `chd` at level 4 (see `CharonConfig::log_keys`).
///
/// IKEv1: `initiator SA seed` = [DH secret |] protocol | SPI_r | Ni | Nr,
/// and the "initiator" keys protect the SA with SPI_r. IKEv2: no seed is
/// logged; the "initiator" keys protect initiator→responder traffic and the
/// role is taken from the last message parsed in that thread (a response
/// means we initiated the exchange).
pub fn parse_esp_keys(log: &str) -> Vec<EspKey> {
    let mut threads: HashMap<u32, ThreadState> = HashMap::new();
    let mut out = Vec::new();
    for line in log.lines() {
        let Some((thread, group, msg)) = split_log_line(line) else {
            continue;
        };
        let st = threads.entry(thread).or_default();
        if group == "CHD" {
            if let Some((target, len)) = st.dump {
                let t = msg.trim_start();
                if let Some(colon) = t.find(": ") {
                    if t[..colon].chars().all(|c| c.is_ascii_digit()) {
                        let buf = st.dumps.entry(target).or_default();
                        let want = len.saturating_sub(buf.len()).min(16);
                        for tok in t[colon + 2..].split_whitespace().take(want) {
                            if let Ok(v) = u8::from_str_radix(tok, 16) {
                                buf.push(v);
                            }
                        }
                        if buf.len() >= len {
                            st.dump = None;
                        }
                        continue;
                    }
                }
                st.dump = None;
            }
            let t = msg.trim();
            if let Some(rest) = t.strip_prefix("using ") {
                if let Some(alg) = rest.strip_suffix(" for encryption") {
                    st.encr_alg = Some(alg.to_string());
                    st.integ_alg = None;
                    st.dumps.clear();
                    st.sas.clear();
                } else if let Some(alg) = rest.strip_suffix(" for integrity") {
                    st.integ_alg = Some(alg.to_string());
                }
                continue;
            }
            if let Some((name, rest)) = t.split_once(" => ") {
                let target = match name {
                    "DH secret" => Some(DumpTarget::Dh),
                    "initiator SA seed" => Some(DumpTarget::SeedI),
                    "responder SA seed" => Some(DumpTarget::SeedR),
                    "encryption initiator key" => Some(DumpTarget::EncrI),
                    "encryption responder key" => Some(DumpTarget::EncrR),
                    "integrity initiator key" => Some(DumpTarget::IntegI),
                    "integrity responder key" => Some(DumpTarget::IntegR),
                    _ => None,
                };
                if let Some(target) = target {
                    let len: usize = rest
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    st.dumps.insert(target, Vec::new());
                    if len > 0 {
                        st.dump = Some((target, len));
                    }
                }
                continue;
            }
            if t == "adding inbound ESP SA" {
                st.pending_dir = Some(true);
                continue;
            }
            if t == "adding outbound ESP SA" {
                st.pending_dir = Some(false);
                continue;
            }
            if let (Some(inbound), Some(rest)) = (st.pending_dir, t.strip_prefix("SPI 0x")) {
                // "SPI 0x19e473f4, src 10.0.0.2 dst 10.0.0.1"
                let toks: Vec<&str> = rest.split_whitespace().collect();
                if let (Some(spi), Some(src), Some(dst)) = (
                    toks.first()
                        .and_then(|s| u32::from_str_radix(s.trim_end_matches(','), 16).ok()),
                    toks.get(2),
                    toks.get(4),
                ) {
                    st.sas
                        .push((inbound, spi, src.to_string(), dst.to_string()));
                }
                st.pending_dir = None;
                continue;
            }
        } else if group == "ENC" {
            if let Some(rest) = msg.strip_prefix("parsed ") {
                if rest.contains(" response ") {
                    st.last_parsed_response = Some(true);
                } else if rest.contains(" request ") {
                    st.last_parsed_response = Some(false);
                }
            }
        } else if group == "IKE" {
            // "CHILD_SA net{1} established with SPIs 19e473f4_i 14d36659_o and TS …"
            let Some(p) = msg.find(" established with SPIs ") else {
                continue;
            };
            let Some(head) = msg[..p].strip_prefix("CHILD_SA ") else {
                continue;
            };
            let (child, uid) = match head.split_once('{') {
                Some((c, u)) => (c.to_string(), u.trim_end_matches('}').parse().unwrap_or(0)),
                None => (head.to_string(), 0),
            };
            let toks: Vec<&str> = msg[p..].split_whitespace().collect();
            let spi_of = |suffix: &str| {
                toks.iter()
                    .find_map(|t| t.strip_suffix(suffix))
                    .and_then(|s| u32::from_str_radix(s, 16).ok())
            };
            let (Some(spi_in), Some(spi_out)) = (spi_of("_i"), spi_of("_o")) else {
                continue;
            };
            if let Some(keys) = finish_child(st, &child, uid, spi_in, spi_out) {
                out.extend(keys);
            }
            st.dumps.clear();
            st.sas.clear();
        }
    }
    out
}

fn finish_child(
    st: &ThreadState,
    child: &str,
    uid: u32,
    spi_in: u32,
    spi_out: u32,
) -> Option<[EspKey; 2]> {
    let get = |t: DumpTarget| st.dumps.get(&t).cloned().unwrap_or_default();
    let encr_alg = st.encr_alg.clone()?;
    let (ei, er, ii, ir) = (
        get(DumpTarget::EncrI),
        get(DumpTarget::EncrR),
        get(DumpTarget::IntegI),
        get(DumpTarget::IntegR),
    );
    if ei.is_empty() && ii.is_empty() {
        return None;
    }
    // Which SPI do the "initiator" keys protect?
    let seed = get(DumpTarget::SeedI);
    let spi_for_i = if !seed.is_empty() {
        let off = get(DumpTarget::Dh).len() + 1;
        let b = seed.get(off..off + 4)?;
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    } else if st.last_parsed_response == Some(true) {
        spi_out
    } else {
        spi_in
    };
    let addr = |inbound: bool, spi: u32| {
        st.sas
            .iter()
            .find(|(i, s, _, _)| *i == inbound && *s == spi)
            .map(|(_, _, a, b)| (a.clone(), b.clone()))
            .unwrap_or_default()
    };
    let mk = |inbound: bool, spi: u32| {
        let (encr_key, integ_key) = if spi == spi_for_i {
            (ei.clone(), ii.clone())
        } else {
            (er.clone(), ir.clone())
        };
        let (src, dst) = addr(inbound, spi);
        EspKey {
            child: child.to_string(),
            unique_id: uid,
            spi,
            inbound,
            src,
            dst,
            encr_alg: encr_alg.clone(),
            encr_key,
            integ_alg: st.integ_alg.clone(),
            integ_key,
        }
    };
    Some([mk(true, spi_in), mk(false, spi_out)])
}
