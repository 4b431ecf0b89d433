//! Running charon in a namespace: start, stop, restart, logs.

use super::config::CharonConfig;
use super::ike_keys::{parse_ike_keys, IkeKeys};
use super::keys::{parse_esp_keys, EspKey};
use crate::common::netns::{BgProcess, Netns};
use crate::common::tshark::EspSa;
use crate::common::{poll_opt, tail, TempDir};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A running charon. Killed (and its files removed) on drop; when dropped
/// during a panic, the tail of its log is printed first.
pub struct Charon {
    pub(super) label: String,
    pub(super) ns: String,
    pub(super) dir: TempDir,
    pub(super) cfg: CharonConfig,
    pub(super) proc_: Option<BgProcess>,
}

impl Charon {
    /// Writes the configuration, starts charon in `ns`, waits (≤ 10 s) until
    /// its vici socket answers and loads the configuration.
    ///
    /// For [`super::Strongswan::Sid61`] the test fails when the chroot is missing, and the
    /// version is printed once per test.
    pub fn start(ns: &Netns, cfg: CharonConfig) -> Charon {
        cfg.strongswan.require();
        assert!(
            cfg.version == 2 || cfg.strongswan.has_ikev1(),
            "{:?} is built without IKEv1: use CharonConfig::ikev2_psk or Strongswan::Debian59",
            cfg.strongswan
        );
        cfg.strongswan.announce();
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

    pub(super) fn write_config(&self) {
        std::fs::write(
            self.dir.join("strongswan.conf"),
            self.cfg
                .strongswan_conf(&self.cfg.strongswan.charon_dir(self.dir.path())),
        )
        .unwrap();
        std::fs::write(self.dir.join("swanctl.conf"), self.cfg.swanctl_conf()).unwrap();
        if let Some(ca) = self
            .cfg
            .eap
            .as_ref()
            .and_then(|e| e.gateway_ca_pem.as_ref())
        {
            std::fs::write(self.dir.join("x509ca/gateway-ca.pem"), ca).unwrap();
        }
        if let Some(p) = &self.cfg.pubkey {
            std::fs::write(self.dir.join("x509/local.pem"), &p.cert_pem).unwrap();
            std::fs::write(self.dir.join("private/local.pem"), &p.key_pem).unwrap();
            for (i, ca) in p.ca_pems.iter().enumerate() {
                std::fs::write(self.dir.join(&format!("x509ca/ca{i}.pem")), ca).unwrap();
            }
        }
    }

    fn launch(&mut self) {
        let _ = std::fs::remove_file(self.dir.join("charon.vici"));
        let mut cmd = self
            .cfg
            .strongswan
            .charon_command(&self.ns, self.dir.path());
        cmd.stdin(Stdio::null());
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
        let wanted = self.cfg.strongswan.plugins().split_whitespace();
        let missing: Vec<&str> = wanted
            .chain(self.cfg.extra_plugins.iter().map(String::as_str))
            .filter(|p| !loaded.contains(p))
            .collect();
        if !missing.is_empty() {
            self.fail(&format!(
                "{:?} charon did not load the plugins {missing:?} (loaded: {loaded:?}); \
                 install libstrongswan-standard-plugins (openssl, gcm) and \
                 libcharon-extra-plugins (kernel-libipsec), libcharon-extauth-plugins \
                 (xauth-generic, eap-mschapv2): scripts/setup-debian.sh does \
                 (for 6.1: scripts/strongswan-sid.sh)",
                self.cfg.strongswan
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
        format!(
            "unix://{}/charon.vici",
            self.cfg.strongswan.charon_dir(self.dir.path())
        )
    }
}

impl Charon {
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

    /// IKEv2 IKE SA keys and SPIs so far (parsed from the log; needs `log_keys`).
    pub fn ike_keys(&self) -> Vec<IkeKeys> {
        parse_ike_keys(&self.log())
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
