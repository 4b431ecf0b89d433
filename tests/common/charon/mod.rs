//! A strongSwan `charon` running inside a test namespace with userspace
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

//!
//! Split by concern: `config` renders strongswan.conf/swanctl.conf, `process`
//! runs charon, `swanctl` drives it and parses `--list-sas`, `keys` scrapes
//! the derived keys from its log.

mod config;
mod ike_keys;
mod keys;
mod process;
mod strongswan;
mod swanctl;

// Not every test file uses every part.
#[allow(unused_imports)]
pub use config::*;
#[allow(unused_imports)]
pub use ike_keys::*;
#[allow(unused_imports)]
pub use keys::*;
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use strongswan::*;
#[allow(unused_imports)]
pub use swanctl::*;

use std::path::Path;

/// Path of the charon binary (Debian: strongswan-charon).
pub const CHARON_BIN: &str = "/usr/lib/ipsec/charon";

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
