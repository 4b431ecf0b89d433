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

    /// Like [`Gateway::start`], with `RUST_LOG=rust_log` (e.g. `trace` for the tests that
    /// search the log for secrets).
    pub fn start_logged(
        ns: &Netns,
        dir: &TempDir,
        label: &str,
        yaml: &str,
        wait_dev: Option<&str>,
        rust_log: &str,
    ) -> Gateway {
        Gateway::launch(
            ns,
            dir,
            label,
            yaml,
            wait_dev,
            &[],
            &[("RUST_LOG", rust_log)],
        )
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
        Gateway::launch(ns, dir, label, yaml, wait_dev, extra, &[])
    }

    /// Writes `yaml` to `LABEL.yaml` and runs the gateway on it with `extra` arguments and
    /// `env` (see [`Gateway::spawn`]).
    fn launch(
        ns: &Netns,
        dir: &TempDir,
        label: &str,
        yaml: &str,
        wait_dev: Option<&str>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Gateway {
        let config = dir.join(&format!("{label}.yaml"));
        std::fs::write(&config, yaml).unwrap();
        let mut argv = vec![bin(), "run", "--config", config.to_str().unwrap()];
        argv.extend_from_slice(extra);
        Gateway::spawn(ns, dir, label, config.clone(), &argv, env, wait_dev)
    }

    /// Starts `argv` in `ns` as the gateway (the binary itself, or a wrapper that ends by
    /// exec'ing `ikegate run`: `setpriv …`, `unshare …`), with `RUST_LOG=info` unless `env`
    /// sets it, its output in `dir/<label>.log`; waits for a route via `wait_dev` like
    /// [`Gateway::start`]. `config` is the file it runs with.
    pub fn spawn(
        ns: &Netns,
        dir: &TempDir,
        label: &str,
        config: PathBuf,
        argv: &[&str],
        env: &[(&str, &str)],
        wait_dev: Option<&str>,
    ) -> Gateway {
        let log = dir.join(&format!("{label}.log"));
        let mut cmd = ns.command(argv[0]);
        cmd.args(&argv[1..]);
        cmd.env("RUST_LOG", "info");
        cmd.envs(env.iter().copied());
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
            gw.wait_route(ns, dev);
        }
        gw
    }

    /// Waits (≤ 15 s) for a route via `dev`; panics with the log if the gateway exits first.
    fn wait_route(&mut self, ns: &Netns, dev: &str) {
        let label = self.label.clone();
        let up = poll_opt(Duration::from_secs(15), || {
            if let Some(st) = self.proc_.as_mut().and_then(|p| p.try_wait()) {
                panic!("ikegate {label} exited early ({st}):\n{}", self.log_text());
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
                self.log_text()
            );
        }
    }

    /// The process id (that of `ikegate` itself when the wrappers exec it).
    pub fn pid(&self) -> Option<u32> {
        self.proc_.as_ref().map(|p| p.pid())
    }

    /// Waits (≤ `secs`) for the process to exit by itself and returns its exit code.
    pub fn wait_exit(&mut self, secs: u64) -> Option<i32> {
        self.proc_
            .as_mut()
            .and_then(|p| p.wait_timeout(Duration::from_secs(secs)))
            .and_then(|st| st.code())
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `secs` seconds for `needle` to appear in the log.
    pub fn wait_log(&self, needle: &str, secs: u64) -> bool {
        super::poll_opt(std::time::Duration::from_secs(secs), || {
            self.log_text().contains(needle).then_some(())
        })
        .is_some()
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

/// Two `ikegate run` negotiating IKE over a veth (10.0.0.1 ⇄ 10.0.0.2, hosts 192.168.1.1 and
/// 192.168.2.1 on `lo`); the left one initiates and serves the admin API. Fields drop in
/// order: gateways first, then the link, the namespaces and the directory.
pub struct AdminPair {
    pub left_gw: Gateway,
    _right_gw: Gateway,
    _link: super::netns::Veth,
    pub left: Netns,
    _right: Netns,
    /// The admin token file (written by the left gateway).
    pub token_file: PathBuf,
    pub dir: TempDir,
}

impl AdminPair {
    /// Starts the pair in namespaces named after `prefix` (`<prefix>l`, `<prefix>r`). The left
    /// gateway gets `admin:` with `listen` plus `admin_extra` (indented YAML lines) and the
    /// tunnels in `left_extra` after its `ipsec0`.
    pub fn start(prefix: &str, listen: &str, admin_extra: &str, left_extra: &str) -> AdminPair {
        let left = Netns::new(&format!("{prefix}l"));
        let right = Netns::new(&format!("{prefix}r"));
        let link = super::netns::veth(&left, &["10.0.0.1/24"], &right, &["10.0.0.2/24"]);
        left.add_lo_addr("192.168.1.1/32");
        right.add_lo_addr("192.168.2.1/32");
        let dir = TempDir::new(prefix);
        let token_file = dir.join("admin.token");
        let admin = format!(
            "admin:\n  listen: {listen}\n  token-file: {}\n{admin_extra}",
            token_file.display()
        );
        let right_gw = Gateway::start(
            &right,
            &dir,
            "right",
            &pair_yaml(
                ("10.0.0.2", "10.0.0.1"),
                ("192.168.2.0/24", "192.168.1.0/24"),
                true,
                "",
                "",
            ),
            Some("ipsec0"),
        );
        let left_gw = Gateway::start(
            &left,
            &dir,
            "left",
            &pair_yaml(
                ("10.0.0.1", "10.0.0.2"),
                ("192.168.1.0/24", "192.168.2.0/24"),
                false,
                &admin,
                left_extra,
            ),
            Some("ipsec0"),
        );
        AdminPair {
            left_gw,
            _right_gw: right_gw,
            _link: link,
            left,
            _right: right,
            token_file,
            dir,
        }
    }

    /// The token the left gateway wrote.
    pub fn token(&self) -> String {
        std::fs::read_to_string(&self.token_file)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}\n{}",
                    self.token_file.display(),
                    self.left_gw.log_text()
                )
            })
            .trim()
            .to_string()
    }
}

/// One IKE tunnel `ipsec0` (outer `src` → `dst`, proxy-ids `local` ⇄ `remote`, phase 2
/// aes128-gcm or aes256 + hmac-sha256, NAT-T off), `head` before `interfaces:`, `tunnels`
/// after `ipsec0`.
fn pair_yaml(
    (src, dst): (&str, &str),
    (local, remote): (&str, &str),
    responder: bool,
    head: &str,
    tunnels: &str,
) -> String {
    format!(
        "{head}interfaces:\n  ipsec0:\n    ipv4: {{ source: {src}, destination: {dst} }}\n    nat-traversal: disable\n    preshared-key: xeeB5gohvaYi\n    responder-only: {}\n    ike:\n      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ local: {local}, remote: {remote} }}\n          encryption: [aes128-gcm, aes256]\n          authentication: [hmac-sha256]\n{tunnels}\
route:\n  ipv4:\n    - {{ destination: {remote}, gateway: ipsec0 }}\n",
        if responder { "enable" } else { "disable" }
    )
}

/// `argv` wrapped to run in a private mount namespace where `/dev/net/tun` is a fresh clone
/// device node of `mode` (made in `dir`), for runs as an unprivileged uid: some hosts (this
/// lab's VM) leave the node 0600 root where udev would make it 0666. The host's node is not
/// touched.
pub fn with_tun_node(dir: &TempDir, mode: u32, argv: &[&str]) -> Vec<String> {
    let node = dir.join(&format!("tun-{mode:o}"));
    if !node.exists() {
        let out = std::process::Command::new("mknod")
            .args(["-m", &format!("{mode:o}")])
            .arg(&node)
            .args(["c", "10", "200"])
            .output()
            .unwrap();
        assert!(out.status.success(), "mknod: {out:?}");
    }
    let mut v: Vec<String> = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &format!(
            "mount --bind '{}' /dev/net/tun && exec \"$@\"",
            node.display()
        ),
        "sh",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(argv.iter().map(|s| s.to_string()));
    v
}

/// One admin API request from inside `ns` (the API listens on its loopback): `method` `path`
/// at `listen` with the token read from `token_file`; the HTTP status and body (an error
/// status's body too).
pub fn api(
    ns: &Netns,
    listen: &str,
    token_file: &std::path::Path,
    method: &str,
    path: &str,
) -> (u16, String) {
    let token = poll_opt(Duration::from_secs(10), || {
        std::fs::read_to_string(token_file).ok()
    })
    .unwrap_or_default();
    let url = format!("http://{listen}{path}");
    let script = "import sys, urllib.request as u, urllib.error as e\n\
r = u.Request(sys.argv[1], method=sys.argv[2], headers={'Authorization': 'Bearer ' + sys.argv[3]})\n\
try:\n    x = u.urlopen(r, timeout=20); print(x.status); print(x.read().decode())\n\
except e.HTTPError as h:\n    print(h.code); print(h.read().decode())";
    let out = ns.exec(&["python3", "-c", script, &url, method, token.trim()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    (status.trim().parse().unwrap_or(0), body.trim().to_string())
}
