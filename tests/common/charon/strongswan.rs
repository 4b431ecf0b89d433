//! Which strongSwan build a test charon runs, and how to start charon and swanctl of it.
//!
//! * [`Strongswan::Debian59`]: Debian 12's 5.9.8 on the host (IKEv1 and IKEv2). Its
//!   kernel-libipsec always encapsulates ESP in UDP ("faking NAT situation").
//! * [`Strongswan::Sid61`]: Debian sid's 6.1 in the chroot `scripts/strongswan-sid.sh` builds at
//!   [`SID_ROOT`]: IKEv2 only (built without IKEv1), OpenSSL 3 (ECP, Curve25519, ChaCha20,
//!   ML-KEM), and kernel-libipsec can send raw ESP (`raw_esp = yes`).
//!
//! A 6.1 charon runs in the test's namespace in a private mount namespace (`unshare -m`, whose
//! mounts are private): proc is mounted, a tmpfs covers the chroot's `/run` (pid file, so
//! parallel charons never meet), the test's private directory is bound at [`SID_DIR`] (log and
//! vici socket), `/dev/net/tun` and the generated strongswan.conf/swanctl.conf are bound over
//! the chroot's own, then `chroot` execs charon. swanctl runs the same way in a mount namespace
//! of its own and reaches charon's socket through the bound directory.

use std::cell::Cell;
use std::path::Path;
use std::process::Command;

/// Where `scripts/strongswan-sid.sh` builds the sid chroot.
pub const SID_ROOT: &str = "/var/cache/ikegate/strongswan-sid";
/// The stamp the script writes last; a chroot without it is incomplete.
pub const SID_STAMP: &str = "/var/cache/ikegate/strongswan-sid/.ikegate-complete-2";
/// Where a 6.1 charon sees the test's private directory (inside the tmpfs on `/run`).
pub const SID_DIR: &str = "/run/ikegate";

/// A strongSwan build the harness can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strongswan {
    /// Debian 12's strongSwan 5.9.8 on the host.
    #[default]
    Debian59,
    /// Debian sid's strongSwan 6.1 in the chroot at [`SID_ROOT`].
    Sid61,
}

impl Strongswan {
    /// The plugins a test charon of this build loads (`charon.load`), checked after start.
    pub fn plugins(self) -> &'static str {
        match self {
            Strongswan::Debian59 => {
                "random nonce openssl aes sha1 sha2 md5 hmac gcm gmp kdf \
                 kernel-libipsec kernel-netlink socket-default vici"
            }
            // 6.1's openssl plugin does ECP, X25519, ChaCha20-Poly1305 and ML-KEM; the
            // curve25519/chapoly plugins are its own fallbacks and keep the list explicit.
            Strongswan::Sid61 => {
                "random nonce openssl aes sha1 sha2 md5 hmac gcm gmp kdf curve25519 chapoly \
                 kernel-libipsec kernel-netlink socket-default vici"
            }
        }
    }

    /// Whether this build speaks IKEv1.
    pub fn has_ikev1(self) -> bool {
        self == Strongswan::Debian59
    }

    /// The directory holding the test's files as charon and swanctl of this build see it.
    pub fn charon_dir(self, host_dir: &Path) -> String {
        match self {
            Strongswan::Debian59 => host_dir.display().to_string(),
            Strongswan::Sid61 => SID_DIR.to_string(),
        }
    }

    /// Panics (the test fails) when this build is not installed: a missing chroot is a
    /// setup step not done, never a reason to skip silently.
    pub fn require(self) {
        if self == Strongswan::Sid61 && !Path::new(SID_STAMP).exists() {
            panic!(
                "strongSwan 6.1 chroot missing or incomplete ({SID_STAMP} not found): \
                 run scripts/strongswan-sid.sh as root (scripts/setup-debian.sh runs it)"
            );
        }
    }

    /// `charon --version` of this build, e.g. `strongSwan 6.1.0`.
    pub fn version(self) -> String {
        let out = match self {
            Strongswan::Debian59 => Command::new(super::CHARON_BIN).arg("--version").output(),
            Strongswan::Sid61 => Command::new("chroot")
                .args([SID_ROOT, super::CHARON_BIN, "--version"])
                .output(),
        }
        .expect("running charon --version");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// Prints the 6.1 version once per test (libtest runs each test on its own thread).
    pub fn announce(self) {
        thread_local!(static DONE: Cell<bool> = const { Cell::new(false) });
        if self == Strongswan::Sid61 && !DONE.with(|d| d.replace(true)) {
            eprintln!(
                "strongSwan under test: {} (chroot {SID_ROOT})",
                self.version()
            );
        }
    }

    /// The command starting charon in namespace `ns` with its files in `host_dir`.
    pub fn charon_command(self, ns: &str, host_dir: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "unshare", "-m", "sh", "-c"]);
        match self {
            Strongswan::Debian59 => {
                cmd.arg(format!(
                    "mount -t tmpfs tmpfs /run && exec {}",
                    super::CHARON_BIN
                ))
                .env("STRONGSWAN_CONF", host_dir.join("strongswan.conf"));
            }
            Strongswan::Sid61 => {
                cmd.arg(format!(
                    "set -e; {} mount -t proc proc {SID_ROOT}/proc; \
                     mount --bind /dev/net/tun {SID_ROOT}/dev/net/tun; \
                     exec chroot {SID_ROOT} {}",
                    sid_mounts(host_dir),
                    super::CHARON_BIN
                ))
                .env_remove("STRONGSWAN_CONF");
            }
        }
        cmd
    }

    /// A swanctl command (arguments still to add) for the charon whose files are in `host_dir`.
    pub fn swanctl_command(self, host_dir: &Path) -> Command {
        match self {
            Strongswan::Debian59 => {
                let mut cmd = Command::new("swanctl");
                cmd.env("STRONGSWAN_CONF", host_dir.join("strongswan.conf"));
                cmd
            }
            Strongswan::Sid61 => {
                // `sh -c SCRIPT swanctl ARGS…`: "$@" are the arguments added by the caller.
                let mut cmd = Command::new("unshare");
                cmd.args(["-m", "sh", "-c"])
                    .arg(format!(
                        "set -e; {} exec chroot {SID_ROOT} swanctl \"$@\"",
                        sid_mounts(host_dir)
                    ))
                    .arg("swanctl")
                    .env_remove("STRONGSWAN_CONF");
                cmd
            }
        }
    }
}

/// Shell commands (each ending in `;`) that, inside a fresh private mount namespace, give the
/// chroot a private `/run` with the test's directory at [`SID_DIR`] and the test's config files
/// in place of its own.
fn sid_mounts(host_dir: &Path) -> String {
    let d = host_dir.display();
    format!(
        "mount -t tmpfs tmpfs {SID_ROOT}/run; mkdir {SID_ROOT}{SID_DIR}; \
         mount --bind {d} {SID_ROOT}{SID_DIR}; \
         mount --bind {d}/strongswan.conf {SID_ROOT}/etc/strongswan.conf; \
         mount --bind {d}/swanctl.conf {SID_ROOT}/etc/swanctl/swanctl.conf;"
    )
}
