//! The Linux capabilities a configuration needs, checked before anything is opened so that an
//! unprivileged start fails with one sentence naming the missing capability and how to grant
//! it, instead of an `EPERM` from whichever socket happened to be opened first.
//!
//! - `CAP_NET_ADMIN`: create the TUN devices, add their routes, set `SO_MARK` on sockets;
//! - `CAP_NET_RAW`: the raw ESP (IP protocol 50) socket of any source address that has a tunnel
//!   with `nat-traversal` other than `force`;
//! - `CAP_NET_BIND_SERVICE`: bind UDP 500 and 4500 (unless `net.ipv4.ip_unprivileged_port_start`
//!   is at most 500).

use std::path::Path;

use crate::config::{Config, NatTraversal};

/// A Linux capability ikegate may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Its number (`linux/capability.h`).
    pub bit: u32,
    /// `CAP_NET_ADMIN`, …
    pub name: &'static str,
    /// The name `setpriv`/`capsh`/Docker use: `net_admin`, …
    pub short: &'static str,
    /// What ikegate uses it for.
    pub purpose: &'static str,
}

/// TUN devices, routes and socket marks.
pub const CAP_NET_ADMIN: Capability = Capability {
    bit: 12,
    name: "CAP_NET_ADMIN",
    short: "net_admin",
    purpose: "create TUN devices and their routes",
};
/// Raw ESP sockets.
pub const CAP_NET_RAW: Capability = Capability {
    bit: 13,
    name: "CAP_NET_RAW",
    short: "net_raw",
    purpose: "open the raw ESP (IP protocol 50) socket used unless `nat-traversal: force`",
};
/// Ports 500 and 4500.
pub const CAP_NET_BIND_SERVICE: Capability = Capability {
    bit: 10,
    name: "CAP_NET_BIND_SERVICE",
    short: "net_bind_service",
    purpose: "bind UDP ports 500 and 4500",
};

/// The capabilities `cfg` needs, given the lowest port an unprivileged process may bind.
pub fn needed(cfg: &Config, unprivileged_port_start: u16) -> Vec<Capability> {
    let mut out = Vec::new();
    if cfg.interfaces.is_empty() {
        return out;
    }
    out.push(CAP_NET_ADMIN);
    if cfg
        .interfaces
        .iter()
        .any(|i| i.nat_traversal != NatTraversal::Force)
    {
        out.push(CAP_NET_RAW);
    }
    if unprivileged_port_start > 500 {
        out.push(CAP_NET_BIND_SERVICE);
    }
    out
}

/// The capabilities of `needed` that the effective set `cap_eff` (the bit mask of
/// `/proc/self/status`'s `CapEff`) lacks.
pub fn missing(needed: &[Capability], cap_eff: u64) -> Vec<Capability> {
    needed
        .iter()
        .copied()
        .filter(|c| cap_eff & (1u64 << c.bit) == 0)
        .collect()
}

/// The effective capability mask from the text of `/proc/self/status`.
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// Checks this process against what `cfg` needs; the error names each missing capability,
/// what it is for, and the ways to grant it.
pub fn check(cfg: &Config) -> Result<(), String> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        // Without /proc we cannot tell; the opens themselves will fail with EPERM if need be.
        return Ok(());
    };
    let Some(eff) = parse_cap_eff(&status) else {
        return Ok(());
    };
    let port_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024);
    let lacking = missing(&needed(cfg, port_start), eff);
    if !lacking.is_empty() {
        return Err(explain(&lacking));
    }
    if cfg.interfaces.is_empty() {
        return Ok(());
    }
    tun_device_access(Path::new(TUN_DEVICE))
}

/// The clone device every TUN interface is opened through.
pub const TUN_DEVICE: &str = "/dev/net/tun";

/// CAP_NET_ADMIN is not enough: the process must also be allowed to open the TUN clone device
/// (mode 0666 is udev's default; some minimal systems leave it 0600 root).
pub fn tun_device_access(dev: &Path) -> Result<(), String> {
    match std::fs::OpenOptions::new().read(true).write(true).open(dev) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            use std::os::unix::fs::MetadataExt;
            let mode = std::fs::metadata(dev)
                .map(|m| m.mode() & 0o777)
                .unwrap_or(0);
            Err(format!(
                "cannot open {} ({e}; mode {mode:o}) as uid {}: every TUN device is created \
                 through it. Make it usable by this user: `chmod 0666 {0}` (udev's default, \
                 harmless: creating a device still needs CAP_NET_ADMIN), or a udev rule \
                 `KERNEL==\"tun\", MODE=\"0666\"`",
                dev.display(),
                nix::unistd::geteuid()
            ))
        }
        // Missing or another error: the TUN open itself reports it with the interface name.
        Err(_) => Ok(()),
    }
}

/// The error text for missing capabilities.
pub fn explain(lacking: &[Capability]) -> String {
    let list: Vec<String> = lacking
        .iter()
        .map(|c| format!("{} (to {})", c.name, c.purpose))
        .collect();
    let names: Vec<&str> = lacking.iter().map(|c| c.name).collect();
    let short: Vec<String> = lacking.iter().map(|c| format!("+{}", c.short)).collect();
    let docker: Vec<String> = lacking
        .iter()
        .map(|c| format!("--cap-add {}", c.name.trim_start_matches("CAP_")))
        .collect();
    format!(
        "missing capability: {}. Run as root, or grant {} to this user: systemd \
         `AmbientCapabilities={}` (see deploy/systemd/ikegate.service), `setpriv --inh-caps={1} \
         --ambient-caps={1} …`, `setcap cap_net_admin,cap_net_raw,cap_net_bind_service+ep` on \
         the binary, or `docker run {}`",
        list.join(", "),
        short.join(","),
        names.join(" "),
        docker.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(nat: &str) -> Config {
        let y = format!(
            "interfaces:\n  ipsec0:\n    ipv4: {{ source: 10.0.0.1, destination: 10.0.0.2 }}\n    \
             nat-traversal: {nat}\n    preshared-key: abcdefgh12345678\n    ike:\n      \
             version: 2\n"
        );
        crate::config::parse(&y, std::path::Path::new("/")).unwrap_or_else(|e| {
            panic!(
                "{}",
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
    }

    #[test]
    fn raw_esp_needs_net_raw_unless_nat_traversal_is_forced() {
        let names = |c: &Config, p| needed(c, p).iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(
            names(&cfg("enable"), 1024),
            ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"]
        );
        assert_eq!(
            names(&cfg("force"), 1024),
            ["CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"]
        );
        assert_eq!(names(&cfg("force"), 0), ["CAP_NET_ADMIN"]);
    }

    #[test]
    fn the_error_names_each_missing_capability_and_the_fix() {
        let status = "Name:\tikegate\nCapEff:\t0000000000001000\nCapBnd:\t000001ffffffffff\n";
        let eff = parse_cap_eff(status).unwrap();
        assert_eq!(eff, 1 << 12);
        let lacking = missing(&needed(&cfg("enable"), 1024), eff);
        let text = explain(&lacking);
        assert!(text.starts_with("missing capability: CAP_NET_RAW (to open the raw ESP"));
        assert!(text.contains("CAP_NET_BIND_SERVICE (to bind UDP ports 500 and 4500)"));
        assert!(!text.contains("CAP_NET_ADMIN (to"), "{text}");
        assert!(text.contains("AmbientCapabilities=CAP_NET_RAW CAP_NET_BIND_SERVICE"));
        assert!(text.contains("--ambient-caps=+net_raw,+net_bind_service"));
        assert!(text.contains("--cap-add NET_RAW --cap-add NET_BIND_SERVICE"));
        assert!(missing(&needed(&cfg("enable"), 1024), u64::MAX).is_empty());
    }
}
