//! Network namespaces, veth pairs, addresses, routes and background
//! processes for the end-to-end tests.

use super::{describe_output, have_program, poll_opt, unique_name, NETNS_REGISTRY};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// Whether the effective uid is 0.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Capability bits we need: CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21).
fn has_caps() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return true;
    };
    let Some(hex) = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
    else {
        return true;
    };
    let caps = u64::from_str_radix(hex, 16).unwrap_or(u64::MAX);
    caps & (1 << 12) != 0 && caps & (1 << 21) != 0
}

/// Runs `f` on a short-lived thread that enters namespace `ns`, and returns what it made (a
/// socket made there stays in that namespace; the test's own threads stay where they are).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {path}: {e}"));
        f()
    })
    .join()
    .expect("the setns thread")
}

/// True when the tests that build namespaces can run here; otherwise prints
/// `skipping: needs root (…)` and returns false.
pub fn require_root() -> bool {
    if !is_root() {
        eprintln!("skipping: needs root (network namespaces, veth pairs, TUN devices)");
        return false;
    }
    if !has_caps() {
        eprintln!("skipping: needs root with CAP_NET_ADMIN and CAP_SYS_ADMIN (network namespaces)");
        return false;
    }
    if !have_program("ip") {
        eprintln!("skipping: needs root and iproute2's `ip` (not found)");
        return false;
    }
    true
}

/// Runs a command on the host (outside any test namespace); panics on failure.
pub fn host_run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawning {args:?}: {e}"));
    if !out.status.success() {
        panic!("{}", describe_output(&format!("{args:?}"), &out));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with a unique name, deleted (after killing every
/// process inside) on drop. `lo` is up.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `<prefix><pid>x<n>`; `prefix` is at most 5 characters.
    pub fn new(prefix: &str) -> Netns {
        super::sweep_stale();
        let name = unique_name(prefix);
        // A stale namespace of the same name can only come from a dead run
        // with a recycled pid: remove it.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::create_dir_all(NETNS_REGISTRY);
        let _ = std::fs::write(
            Path::new(NETNS_REGISTRY).join(&name),
            std::process::id().to_string(),
        );
        host_run(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.run(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Command` that runs `prog` inside the namespace
    /// (`ip netns exec NAME prog`), for callers that need to set more.
    pub fn command(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, prog]);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `args` inside the namespace and returns its output, whatever
    /// the exit status.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.command(args[0])
            .args(&args[1..])
            .output()
            .unwrap_or_else(|e| panic!("spawning {args:?} in {}: {e}", self.name))
    }

    /// Runs `args` inside the namespace; panics (with its output) unless it
    /// succeeds. Returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.exec(args);
        if !out.status.success() {
            panic!(
                "{}",
                describe_output(&format!("[{}] {args:?}", self.name), &out)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a `sh -c` script inside the namespace.
    pub fn sh(&self, script: &str) -> Output {
        self.exec(&["sh", "-c", script])
    }

    /// Starts `args` in the background inside the namespace, stdout and
    /// stderr appended to `log` (or discarded). Killed when the handle drops.
    pub fn spawn(&self, args: &[&str], log: Option<&Path>) -> BgProcess {
        let mut cmd = self.command(args[0]);
        cmd.args(&args[1..]);
        match log {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
                cmd.stdout(f.try_clone().unwrap()).stderr(f);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        BgProcess::spawn(cmd, &format!("[{}] {args:?}", self.name))
    }

    /// Adds an address (`10.0.0.1/24`, `fd00::1/64`) to `dev`; IPv6
    /// addresses get `nodad` so they are usable at once.
    pub fn add_addr(&self, dev: &str, cidr: &str) {
        if cidr.contains(':') {
            self.run(&["ip", "-6", "addr", "add", cidr, "dev", dev, "nodad"]);
        } else {
            self.run(&["ip", "addr", "add", cidr, "dev", dev]);
        }
    }

    /// Removes an address from `dev`.
    pub fn del_addr(&self, dev: &str, cidr: &str) {
        self.run(&["ip", "addr", "del", cidr, "dev", dev]);
    }

    /// Adds an address to `lo` (there are no `dummy` links here).
    pub fn add_lo_addr(&self, cidr: &str) {
        self.add_addr("lo", cidr);
    }

    /// `ip route add DST [via VIA] [dev DEV]` (`-6` chosen from `dst`).
    pub fn add_route(&self, dst: &str, via: Option<&str>, dev: Option<&str>) {
        let mut args = vec!["ip"];
        if dst.contains(':') || via.is_some_and(|v| v.contains(':')) {
            args.push("-6");
        }
        args.extend(["route", "add", dst]);
        if let Some(v) = via {
            args.extend(["via", v]);
        }
        if let Some(d) = dev {
            args.extend(["dev", d]);
        }
        self.run(&args);
    }

    /// Writes a sysctl inside the namespace, e.g.
    /// `sysctl("net.ipv4.ip_forward", "1")`.
    pub fn sysctl(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let out = self.sh(&format!("echo '{value}' > '{path}'"));
        if !out.status.success() {
            panic!(
                "{}",
                describe_output(&format!("sysctl {key}={value}"), &out)
            );
        }
    }

    /// IPv4 and IPv6 forwarding on.
    pub fn enable_forwarding(&self) {
        self.sysctl("net.ipv4.ip_forward", "1");
        self.sysctl("net.ipv6.conf.all.forwarding", "1");
    }

    /// Sets `dev` up.
    pub fn link_up(&self, dev: &str) {
        self.run(&["ip", "link", "set", dev, "up"]);
    }

    /// `ping -c COUNT -i 0.2 -W 2 DST` (`ping` handles IPv6 too); the output.
    pub fn ping(&self, dst: &str, count: u32) -> Output {
        let count = count.to_string();
        self.exec(&["ping", "-n", "-c", &count, "-i", "0.2", "-W", "2", dst])
    }

    /// Pings `dst` and panics (with ping's output and `context()`) unless
    /// every echo is answered.
    pub fn ping_ok(&self, dst: &str, count: u32, context: impl FnOnce() -> String) {
        let out = self.ping(dst, count);
        let text = String::from_utf8_lossy(&out.stdout);
        let all = text.contains(&format!("{count} received"));
        if !out.status.success() || !all {
            panic!(
                "{}\n{}",
                describe_output(&format!("[{}] ping {dst}", self.name), &out),
                context()
            );
        }
    }

    /// Polls (≤ `timeout`) with single pings until one is answered: the
    /// point where a freshly installed tunnel carries traffic. Panics with
    /// the last ping's output and `context()` if none is.
    pub fn wait_ping(&self, dst: &str, timeout: Duration, context: impl FnOnce() -> String) {
        let mut last = None;
        let ok = poll_opt(timeout, || {
            let out = self.exec(&["ping", "-n", "-c", "1", "-W", "1", dst]);
            let answered = out.status.success();
            last = Some(out);
            answered.then_some(())
        });
        if ok.is_none() {
            let out = last.expect("poll_opt runs at least once");
            panic!(
                "{}\n{}",
                describe_output(
                    &format!("[{}] ping {dst} (for {timeout:?})", self.name),
                    &out
                ),
                context()
            );
        }
    }

    /// Polls (≤ `timeout`) until something listens on UDP `port` in the
    /// namespace (`ss -ulnH`), e.g. a gateway's IKE socket.
    pub fn wait_udp_listening(&self, port: u16, timeout: Duration) {
        let suffix = format!(":{port}");
        let ok = poll_opt(timeout, || {
            let out = self.exec(&["ss", "-ulnH"]);
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| {
                    l.split_whitespace()
                        .nth(3)
                        .is_some_and(|local| local.ends_with(&suffix))
                })
                .then_some(())
        });
        if ok.is_none() {
            panic!(
                "[{}] nothing listening on UDP {port} after {timeout:?}:\n{}",
                self.name,
                String::from_utf8_lossy(&self.exec(&["ss", "-ulnp"]).stdout)
            );
        }
    }

    /// Polls (≤ `timeout`) until link `dev` exists in the namespace (e.g. a
    /// TUN device created by the process under test).
    pub fn wait_link(&self, dev: &str, timeout: Duration) {
        let ok = poll_opt(timeout, || {
            self.exec(&["ip", "link", "show", "dev", dev])
                .status
                .success()
                .then_some(())
        });
        if ok.is_none() {
            panic!(
                "[{}] link {dev} did not appear within {timeout:?}:\n{}",
                self.name,
                String::from_utf8_lossy(&self.exec(&["ip", "link"]).stdout)
            );
        }
    }

    /// Pids of every process in the namespace.
    pub fn pids(&self) -> Vec<i32> {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .stderr(Stdio::null())
            .output();
        match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// SIGKILLs every process in the namespace and waits (≤ 3 s) for them.
    pub fn kill_all(&self) {
        for pid in self.pids() {
            // SAFETY: plain kill(2) on a pid inside our own test namespace.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        poll_opt(Duration::from_secs(3), || {
            self.pids().is_empty().then_some(())
        });
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        delete_netns(&self.name);
        let _ = std::fs::remove_file(Path::new(NETNS_REGISTRY).join(&self.name));
    }
}

/// Kills every process in namespace `name` and deletes it.
pub fn delete_netns(name: &str) {
    let pids = |name: &str| -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", name])
            .stderr(Stdio::null())
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    for pid in pids(name) {
        // SAFETY: plain kill(2) on a pid inside a test namespace of ours.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    poll_opt(Duration::from_secs(3), || {
        pids(name).is_empty().then_some(())
    });
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stderr(Stdio::null())
        .status();
}

/// The two ends of a veth pair.
#[derive(Debug, Clone)]
pub struct Veth {
    /// Interface name in the first namespace.
    pub a: String,
    /// Interface name in the second namespace.
    pub b: String,
}

/// Creates a veth pair between `a` and `b`, assigns the addresses (CIDR,
/// IPv4 or IPv6) and sets both ends up.
pub fn veth(a: &Netns, a_addrs: &[&str], b: &Netns, b_addrs: &[&str]) -> Veth {
    let an = unique_name("va");
    let bn = unique_name("vb");
    host_run(&[
        "ip",
        "link",
        "add",
        &an,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        &bn,
        "netns",
        b.name(),
    ]);
    for addr in a_addrs {
        a.add_addr(&an, addr);
    }
    for addr in b_addrs {
        b.add_addr(&bn, addr);
    }
    a.link_up(&an);
    b.link_up(&bn);
    Veth { a: an, b: bn }
}

/// A background process, SIGKILLed and reaped on drop.
pub struct BgProcess {
    child: Option<Child>,
    label: String,
}

impl BgProcess {
    /// Spawns `cmd` (already fully set up).
    ///
    /// The child gets `PR_SET_PDEATHSIG = SIGKILL`, so it dies with the
    /// spawning thread even if the test process is killed before `Drop`
    /// runs (keep handles in the test's own thread).
    pub fn spawn(mut cmd: Command, label: &str) -> BgProcess {
        // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {label}: {e}"));
        BgProcess {
            child: Some(child),
            label: label.to_string(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Sends `sig` (e.g. `libc::SIGTERM`) if the process is still ours.
    pub fn signal(&mut self, sig: i32) {
        if let Some(c) = self.child.as_mut() {
            if c.try_wait().ok().flatten().is_none() {
                // SAFETY: the child is not reaped yet, so the pid is still ours.
                unsafe {
                    libc::kill(c.id() as i32, sig);
                }
            }
        }
    }

    /// The exit status if the process has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits up to `timeout` for the process to end.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        poll_opt(timeout, || self.try_wait())
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `sig`, waits up to `timeout`, then SIGKILLs; returns the status
    /// if it ended by itself.
    pub fn stop(&mut self, sig: i32, timeout: Duration) -> Option<ExitStatus> {
        self.signal(sig);
        let st = self.wait_timeout(timeout);
        self.kill();
        st
    }
}

impl Drop for BgProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The two-host lab of the strongSwan tests: `ours` 10.0.0.1/24 ⇄ `swan` 10.0.0.2/24 on a veth,
/// each with an inside address on `lo` (192.168.1.1 / fd00:1::1 and 192.168.2.1 / fd00:2::1), and
/// a private directory.
pub struct SwanLab {
    pub ours: Netns,
    pub swan: Netns,
    pub link: Veth,
    pub dir: super::TempDir,
}

/// A [`SwanLab`] with namespaces named after `ours`/`swan` and a directory after `dir`.
pub fn swan_lab(ours: &str, swan: &str, dir: &str) -> SwanLab {
    let o = Netns::new(ours);
    let s = Netns::new(swan);
    let link = veth(&o, &["10.0.0.1/24"], &s, &["10.0.0.2/24"]);
    o.add_lo_addr("192.168.1.1/32");
    o.add_lo_addr("fd00:1::1/128");
    s.add_lo_addr("192.168.2.1/32");
    s.add_lo_addr("fd00:2::1/128");
    SwanLab {
        ours: o,
        swan: s,
        link,
        dir: super::TempDir::new(dir),
    }
}
