//! Running `ikegate` itself in a namespace: write a config, start `ikegate run`, wait until its
//! routes are in, stop it with SIGTERM and read its log (which ends with the final counters).

use super::netns::{BgProcess, Netns};
use super::{poll_opt, TempDir};
use std::path::PathBuf;
use std::time::Duration;

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ikegate")
}

/// A running `ikegate run` inside a namespace.
pub struct Gateway {
    proc_: Option<BgProcess>,
    /// The config file it runs with.
    pub config: PathBuf,
    /// Its stderr.
    pub log: PathBuf,
    label: String,
}

impl Gateway {
    /// Writes `yaml` to `dir/<label>.yaml` and starts the gateway; returns once a route through
    /// `wait_dev` exists (pass `None` to return right after start).
    pub fn start(
        ns: &Netns,
        dir: &TempDir,
        label: &str,
        yaml: &str,
        wait_dev: Option<&str>,
    ) -> Gateway {
        Gateway::start_with(ns, dir, label, yaml, wait_dev, &[])
    }

    /// Like [`Gateway::start`], with extra `run` arguments.
    pub fn start_with(
        ns: &Netns,
        dir: &TempDir,
        label: &str,
        yaml: &str,
        wait_dev: Option<&str>,
        extra: &[&str],
    ) -> Gateway {
        let config = dir.join(&format!("{label}.yaml"));
        std::fs::write(&config, yaml).unwrap();
        let log = dir.join(&format!("{label}.log"));
        let mut cmd = ns.command(bin());
        cmd.arg("run").arg("--config").arg(&config).args(extra);
        cmd.env("RUST_LOG", "info");
        let f = std::fs::File::create(&log).unwrap();
        cmd.stdout(f.try_clone().unwrap()).stderr(f);
        let proc_ = BgProcess::spawn(cmd, &format!("ikegate {label} in {}", ns.name()));
        let mut gw = Gateway {
            proc_: Some(proc_),
            config,
            log,
            label: label.to_string(),
        };
        if let Some(dev) = wait_dev {
            let up = poll_opt(Duration::from_secs(15), || {
                if let Some(st) = gw.proc_.as_mut().and_then(|p| p.try_wait()) {
                    panic!("ikegate {label} exited early ({st}):\n{}", gw.log_text());
                }
                let out = ns.exec(&["ip", "route", "show", "dev", dev]);
                let v6 = ns.exec(&["ip", "-6", "route", "show", "dev", dev]);
                (out.status.success()
                    && (!out.stdout.is_empty()
                        || !String::from_utf8_lossy(&v6.stdout).trim().is_empty()))
                .then_some(())
            });
            if up.is_none() {
                panic!(
                    "ikegate {label}: no route via {dev} after 15 s:\n{}",
                    gw.log_text()
                );
            }
        }
        gw
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, wait (≤ 10 s) and return (exit code, log).
    pub fn stop(&mut self) -> (Option<i32>, String) {
        let code = self
            .proc_
            .take()
            .and_then(|mut p| p.stop(libc::SIGTERM, Duration::from_secs(10)))
            .and_then(|st| st.code());
        (code, self.log_text())
    }

    /// Sends `sig` (e.g. `libc::SIGHUP`) to the gateway.
    pub fn signal(&mut self, sig: i32) {
        if let Some(p) = self.proc_.as_mut() {
            p.signal(sig);
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.proc_.as_mut().is_some_and(|p| p.try_wait().is_none())
    }

    /// Label given at start.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// Runs `ikegate ARGS…` on the host and returns (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(bin())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A counter from the "final counters" block of a stopped gateway's log, e.g.
/// `counter(log, "icv")` reads `icv N`.
pub fn counter(log: &str, name: &str) -> Option<u64> {
    let pos = log.rfind("final counters")?;
    let text = &log[pos..];
    let needle = format!("{name} ");
    text.match_indices(&needle)
        .filter(|(i, _)| *i == 0 || matches!(text.as_bytes()[i - 1], b' ' | b','))
        .filter_map(|(i, _)| {
            text[i + needle.len()..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .next()
}
