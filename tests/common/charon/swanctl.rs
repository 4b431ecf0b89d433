//! Driving charon with swanctl and parsing its output.

use super::config::CharonConfig;
use super::process::Charon;
use crate::common::{describe_output, poll_opt};
use std::process::{Output, Stdio};
use std::time::Duration;

impl Charon {
    /// Runs `swanctl ARGS --uri <our socket>` on the host.
    pub fn swanctl(&self, args: &[&str]) -> Output {
        self.cfg
            .strongswan
            .swanctl_command(self.dir.path())
            .args(args)
            .args(["--uri", &self.vici_uri()])
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
        let file = format!(
            "{}/swanctl.conf",
            self.cfg.strongswan.charon_dir(self.dir.path())
        );
        let out = self.swanctl(&["--load-all", "--noprompt", "--file", &file]);
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
