//! Shared support for the root-only end-to-end tests: network namespaces,
//! strongSwan charon instances, a NAT box, packet capture and tshark ESP
//! decoding.
//!
//! Every integration test file that needs it says `mod common;`; not every
//! file uses every helper, hence the module-wide `dead_code` allowance.
//!
//! Everything is unique per test (names carry the pid and a counter, files
//! live in a private temporary directory) so tests can run in parallel, and
//! everything is torn down by `Drop`, also when a test panics.
#![allow(dead_code)]

pub mod browser;
pub mod charon;
pub mod freeradius;
pub mod ikegate;
pub mod nat;
pub mod netns;
pub mod ping;
pub mod pki;
pub mod ra;
pub mod tshark;
pub mod vpnc;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call, made of `prefix` (at most 5
/// characters), the pid and a counter, both in base 36, so that it fits in an
/// interface name (15 characters at most).
pub fn unique_name(prefix: &str) -> String {
    assert!(
        prefix.len() <= 5,
        "prefix {prefix:?} too long for a 15-char interface name"
    );
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}{}x{}", base36(std::process::id()), base36(n));
    assert!(name.len() <= 15, "name {name} too long");
    name
}

fn base36(mut v: u32) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if v == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while v > 0 {
        out.push(DIGITS[(v % 36) as usize]);
        v /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// A private temporary directory, removed on drop (kept when the environment
/// variable `IKEGATE_KEEP_TEST_DIRS` is set, for post-mortems).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        sweep_stale();
        let path = std::env::temp_dir().join(format!("{TEMP_PREFIX}{}", unique_name_long(label)));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("IKEGATE_KEEP_TEST_DIRS").is_some() {
            eprintln!("keeping {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Prefix of every harness temporary directory:
/// `ikegate-harness-<label>-<pid>-<n>`.
const TEMP_PREFIX: &str = "ikegate-harness-";

/// Where `Netns::new` records `<netns name>` → owner pid.
pub(crate) const NETNS_REGISTRY: &str = "/run/ikegate-harness-netns";

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Once per process: removes namespaces and temporary directories left by
/// harness runs that were killed before their `Drop`s ran (their owner pid
/// is gone). Processes inside such namespaces already died with their
/// parent (`PR_SET_PDEATHSIG`), but get a SIGKILL to be sure.
pub fn sweep_stale() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(entries) = std::fs::read_dir(NETNS_REGISTRY) {
            for e in entries.flatten() {
                let owner = std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                if owner.is_some_and(pid_alive) {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                netns::delete_netns(&name);
                let _ = std::fs::remove_file(e.path());
            }
        }
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
                    continue;
                };
                let mut parts = rest.rsplit('-');
                let _n = parts.next();
                let pid = parts.next().and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|p| !pid_alive(p)) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    });
}

fn unique_name_long(label: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{label}-{}-{n}", std::process::id())
}

/// Poll `f` every 50 ms until it returns `Some`, or panic with `what()` after
/// `timeout`.
pub fn poll<T>(
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
    what: impl FnOnce() -> String,
) -> T {
    match poll_opt(timeout, &mut f) {
        Some(v) => v,
        None => panic!("timed out after {timeout:?}: {}", what()),
    }
}

/// Poll `f` every 50 ms until it returns `Some`; `None` after `timeout`.
pub fn poll_opt<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `prog` is found on `PATH` (or is an existing absolute path).
pub fn have_program(prog: &str) -> bool {
    if prog.contains('/') {
        return Path::new(prog).exists();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// Prints a skip message and returns false when any of `progs` is missing.
pub fn require_programs(progs: &[&str]) -> bool {
    let missing: Vec<&str> = progs.iter().copied().filter(|p| !have_program(p)).collect();
    if missing.is_empty() {
        true
    } else {
        eprintln!("skipping: missing programs: {}", missing.join(", "));
        false
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Formats a command result for a panic message.
pub fn describe_output(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
