//! `vpnc` 0.5.3 (Debian 12), the IKEv1 remote-access client of issue 13: Aggressive Mode with a
//! group name (KEY_ID) and group PSK, XAUTH with a user name and password, mode-config *pull*
//! (REQUEST/REPLY) and Cisco Unity split-include, then Quick Mode; ESP entirely in userspace on
//! its own TUN device (no kernel IPsec), UDP-encapsulated with `force-natt`.
//!
//! vpnc runs in the test's namespace with a configuration file in a private directory. Its
//! `Script` is ours: it records the environment vpnc hands it (`INTERNAL_IP4_ADDRESS`,
//! `INTERNAL_IP4_DNS`, `CISCO_SPLIT_INC_*`, …) in `env.<reason>` and configures the TUN device
//! with `ip` (the address, and a route per split-include subnet), so the test reads what the
//! server assigned and can ping through the tunnel.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use super::netns::{BgProcess, Netns};
use super::{poll_opt, unique_name, TempDir};

/// The vpnc binary (Debian package `vpnc`).
pub const VPNC_BIN: &str = "/usr/sbin/vpnc";

/// What vpnc is told.
#[derive(Debug, Clone)]
pub struct VpncConfig {
    /// The gateway's address.
    pub gateway: String,
    /// IPSec ID: the group name, sent as a KEY_ID identity in Aggressive Mode.
    pub group: String,
    /// IPSec secret: the group pre-shared key.
    pub group_psk: String,
    /// XAUTH user name.
    pub user: String,
    /// XAUTH password.
    pub password: String,
    /// `natt`, `none`, `force-natt` (default: ESP in UDP even without a NAT).
    pub natt_mode: String,
    /// IKE DH group (`dh2` default, `dh14`, …).
    pub dh: String,
    /// PFS group for Quick Mode (`server` default, `nopfs`, `dh2`, …).
    pub pfs: String,
}

impl VpncConfig {
    /// A client of `gateway` in group `group` (PSK `group_psk`) as `user`/`password`.
    pub fn new(gateway: &str, group: &str, group_psk: &str, user: &str, password: &str) -> Self {
        VpncConfig {
            gateway: gateway.into(),
            group: group.into(),
            group_psk: group_psk.into(),
            user: user.into(),
            password: password.into(),
            natt_mode: "force-natt".into(),
            dh: "dh2".into(),
            pfs: "server".into(),
        }
    }

    fn file(&self, dir: &Path, ifname: &str) -> String {
        format!(
            "IPSec gateway {}\nIPSec ID {}\nIPSec secret {}\nXauth username {}\n\
             Xauth password {}\nNAT Traversal Mode {}\nIKE DH Group {}\n\
             Perfect Forward Secrecy {}\nLocal Port 0\nNo Detach\nNoninteractive\n\
             Script {}/script.sh\nInterface name {ifname}\nInterface mode tun\n\
             DPD idle timeout (our side) 0\nPidfile {}/vpnc.pid\n",
            self.gateway,
            self.group,
            self.group_psk,
            self.user,
            self.password,
            self.natt_mode,
            self.dh,
            self.pfs,
            dir.display(),
            dir.display(),
        )
    }
}

/// The script vpnc runs on connect and disconnect (see the module comment). `$1` is the
/// directory it writes `env.<reason>` into.
const SCRIPT: &str = r#"#!/bin/sh
dir=$(dirname "$0")
env | grep -E '^(reason|TUNDEV|VPNGATEWAY|INTERNAL_IP4|INTERNAL_IP6|CISCO_)' | sort > "$dir/env.$reason.tmp"
mv "$dir/env.$reason.tmp" "$dir/env.$reason"
case "$reason" in
  connect)
    ip link set dev "$TUNDEV" up mtu 1300
    ip addr add "$INTERNAL_IP4_ADDRESS/32" dev "$TUNDEV"
    i=0
    while [ "$i" -lt "${CISCO_SPLIT_INC:-0}" ]; do
      eval addr=\$CISCO_SPLIT_INC_${i}_ADDR
      eval len=\$CISCO_SPLIT_INC_${i}_MASKLEN
      ip route replace "$addr/$len" dev "$TUNDEV" src "$INTERNAL_IP4_ADDRESS"
      i=$((i+1))
    done ;;
esac
exit 0
"#;

/// What the gateway gave the client (from vpnc's script environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpncLease {
    /// INTERNAL_IP4_ADDRESS.
    pub address: Ipv4Addr,
    /// INTERNAL_IP4_NETMASK, when sent.
    pub netmask: Option<Ipv4Addr>,
    /// INTERNAL_IP4_DNS (space-separated in vpnc's environment).
    pub dns: Vec<Ipv4Addr>,
    /// Cisco Unity split-include subnets as `addr/len`.
    pub split_include: Vec<String>,
    /// The TUN device vpnc created.
    pub tundev: String,
}

/// A running vpnc.
pub struct Vpnc {
    dir: TempDir,
    proc_: BgProcess,
    /// The TUN device name given to vpnc.
    pub ifname: String,
}

impl Vpnc {
    /// Starts vpnc in `ns`.
    pub fn start(ns: &Netns, cfg: &VpncConfig) -> Vpnc {
        assert!(
            Path::new(VPNC_BIN).exists(),
            "{VPNC_BIN} missing: scripts/setup-debian.sh installs the Debian package vpnc"
        );
        let dir = TempDir::new(&format!("vpnc-{}", ns.name()));
        let ifname = unique_name("vpnc");
        std::fs::write(dir.join("vpnc.conf"), cfg.file(dir.path(), &ifname)).unwrap();
        let script = dir.join("script.sh");
        std::fs::write(&script, SCRIPT).unwrap();
        std::process::Command::new("chmod")
            .args(["755", script.to_str().unwrap()])
            .status()
            .unwrap();
        let conf = dir.join("vpnc.conf");
        let log = dir.join("vpnc.log");
        let proc_ = ns.spawn(
            &[VPNC_BIN, "--debug", "1", conf.to_str().unwrap()],
            Some(&log),
        );
        Vpnc { dir, proc_, ifname }
    }

    /// vpnc's output.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("vpnc.log")).unwrap_or_default()
    }

    /// Waits until vpnc ran its connect script; the lease, or an error with vpnc's log.
    pub fn wait_connected(&mut self, timeout: Duration) -> Result<VpncLease, String> {
        let env = self.dir.join("env.connect");
        let got = poll_opt(timeout, || {
            if let Some(status) = self.proc_.try_wait() {
                return Some(Err(format!("vpnc exited ({status})")));
            }
            std::fs::read_to_string(&env).ok().map(Ok)
        });
        match got {
            Some(Ok(text)) => parse_env(&text).map_err(|e| format!("{e}\n{text}")),
            Some(Err(e)) => Err(format!("{e}; its log:\n{}", self.log())),
            None => Err(format!(
                "vpnc did not connect within {timeout:?}; its log:\n{}",
                self.log()
            )),
        }
    }

    /// Waits for vpnc to exit by itself (e.g. after the gateway refused it); its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.proc_.wait_timeout(timeout)
    }

    /// Stops vpnc the way a user does (SIGTERM: it sends Deletes and runs its disconnect
    /// script); true when it exited within 5 s.
    pub fn disconnect(&mut self) -> bool {
        self.proc_.stop(15, Duration::from_secs(5)).is_some()
    }

    /// Kills vpnc without letting it say goodbye (the gateway must notice by DPD).
    pub fn kill(&mut self) {
        self.proc_.kill();
    }
}

fn parse_env(text: &str) -> Result<VpncLease, String> {
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(str::to_string)
    };
    let addr = |v: String| v.parse::<Ipv4Addr>().map_err(|e| format!("{v}: {e}"));
    let address = addr(get("INTERNAL_IP4_ADDRESS").ok_or("no INTERNAL_IP4_ADDRESS")?)?;
    let netmask = get("INTERNAL_IP4_NETMASK").map(addr).transpose()?;
    let dns = get("INTERNAL_IP4_DNS")
        .unwrap_or_default()
        .split_whitespace()
        .map(|s| addr(s.to_string()))
        .collect::<Result<_, _>>()?;
    let n: usize = get("CISCO_SPLIT_INC")
        .map(|v| v.parse().map_err(|e| format!("CISCO_SPLIT_INC={v}: {e}")))
        .transpose()?
        .unwrap_or(0);
    let split_include = (0..n)
        .map(|i| {
            let a = get(&format!("CISCO_SPLIT_INC_{i}_ADDR")).unwrap_or_default();
            let l = get(&format!("CISCO_SPLIT_INC_{i}_MASKLEN")).unwrap_or_default();
            format!("{a}/{l}")
        })
        .collect();
    Ok(VpncLease {
        address,
        netmask,
        dns,
        split_include,
        tundev: get("TUNDEV").unwrap_or_default(),
    })
}
