//! A three-namespace topology with a masquerading NAT box:
//!
//! ```text
//!   left 10.0.1.2 ── 10.0.1.1 nat 10.0.2.1 ── 10.0.2.2 right
//!                             (masquerade out of the right-side link)
//! ```
//!
//! `left` routes everything via the NAT box; `right` has no route back to
//! 10.0.1.0/24, so left's traffic must look like it comes from 10.0.2.1.

use super::netns::{veth, Netns, Veth};
use super::{describe_output, have_program};

pub const LEFT_ADDR: &str = "10.0.1.2";
pub const NAT_INSIDE: &str = "10.0.1.1";
pub const NAT_OUTSIDE: &str = "10.0.2.1";
pub const RIGHT_ADDR: &str = "10.0.2.2";

/// True when `nft` is installed; otherwise prints a reason.
pub fn require_nft() -> bool {
    super::require_programs(&["nft"])
}

pub struct NatTopology {
    pub left: Netns,
    pub nat: Netns,
    pub right: Netns,
    /// `a` in `left`, `b` in `nat`.
    pub left_link: Veth,
    /// `a` in `nat`, `b` in `right`.
    pub right_link: Veth,
}

impl NatTopology {
    /// Builds the three namespaces, links, addresses, forwarding and the
    /// masquerade rule (source ports kept when free).
    pub fn new() -> NatTopology {
        let left = Netns::new("nl");
        let nat = Netns::new("nn");
        let right = Netns::new("nr");
        let left_link = veth(
            &left,
            &[&format!("{LEFT_ADDR}/24")],
            &nat,
            &[&format!("{NAT_INSIDE}/24")],
        );
        let right_link = veth(
            &nat,
            &[&format!("{NAT_OUTSIDE}/24")],
            &right,
            &[&format!("{RIGHT_ADDR}/24")],
        );
        left.add_route("default", Some(NAT_INSIDE), None);
        nat.enable_forwarding();
        let topo = NatTopology {
            left,
            nat,
            right,
            left_link,
            right_link,
        };
        topo.nft(&format!(
            "add table ip ikegate; \
             add chain ip ikegate post {{ type nat hook postrouting priority srcnat; policy accept; }}; \
             add rule ip ikegate post oifname \"{}\" masquerade",
            topo.outside_if()
        ));
        topo
    }

    /// The NAT box's interface towards `right`.
    pub fn outside_if(&self) -> &str {
        &self.right_link.a
    }

    /// Runs an nft script (commands separated by `;`) in the NAT box.
    pub fn nft(&self, script: &str) {
        let out = self.nat.exec(&["nft", script]);
        if !out.status.success() {
            panic!("{}", describe_output(&format!("nft {script}"), &out));
        }
    }

    /// Replaces the masquerade rule; `ports` forces the mapped source port
    /// of TCP and UDP flows into that range (`masquerade to :LO-HI`).
    pub fn set_masquerade_ports(&self, ports: Option<(u16, u16)>) {
        let oif = self.outside_if();
        let ranged = match ports {
            Some((lo, hi)) => format!(
                "add rule ip ikegate post oifname \"{oif}\" meta l4proto {{ tcp, udp }} masquerade to :{lo}-{hi}; "
            ),
            None => String::new(),
        };
        self.nft(&format!(
            "flush chain ip ikegate post; {ranged}add rule ip ikegate post oifname \"{oif}\" masquerade"
        ));
    }

    /// Forgets every NAT mapping: `conntrack -F` when the tool is there,
    /// otherwise by removing and re-adding the outside address (masquerade
    /// drops the conntrack entries bound to a removed address).
    pub fn flush_mappings(&self) {
        if have_program("conntrack") {
            let out = self.nat.exec(&["conntrack", "-F"]);
            if out.status.success() {
                return;
            }
        }
        let cidr = format!("{NAT_OUTSIDE}/24");
        self.nat.del_addr(self.outside_if(), &cidr);
        self.nat.add_addr(self.outside_if(), &cidr);
    }

    /// Simulates a NAT rebinding: new mappings come from `ports` (or the
    /// original ports when None) and the existing ones are flushed, so the
    /// next packet from `left` appears from a new source port.
    pub fn rebind(&self, ports: Option<(u16, u16)>) {
        self.set_masquerade_ports(ports);
        self.flush_mappings();
    }

    /// The NAT box's conntrack table (`/proc/net/nf_conntrack`).
    pub fn conntrack(&self) -> String {
        String::from_utf8_lossy(&self.nat.exec(&["cat", "/proc/net/nf_conntrack"]).stdout)
            .into_owned()
    }

    /// The source port `left`'s UDP flow from `sport` to `right:dport` is
    /// mapped to, if a mapping exists.
    pub fn mapped_udp_port(&self, sport: u16, dport: u16) -> Option<u16> {
        let want_orig = format!("src={LEFT_ADDR} dst={RIGHT_ADDR} sport={sport} dport={dport} ");
        for line in self.conntrack().lines() {
            if !line.contains(" udp ") || !line.contains(&want_orig) {
                continue;
            }
            // The reply tuple: src=RIGHT dst=NAT_OUTSIDE sport=dport dport=<mapped>
            let reply = line.split(&want_orig).nth(1)?;
            let dp = reply
                .split_whitespace()
                .filter_map(|t| t.strip_prefix("dport="))
                .next()?;
            return dp.parse().ok();
        }
        None
    }
}

impl Default for NatTopology {
    fn default() -> Self {
        Self::new()
    }
}

/// UDP datagrams of exactly one payload byte 0xFF from `src` in a capture (NAT keepalives).
pub fn keepalives(pcap: &std::path::Path, src: &str) -> usize {
    let out = std::process::Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(pcap)
        .arg(format!(
            "src host {src} and udp dst port 4500 and udp[4:2] = 9 and udp[8] = 0xff"
        ))
        .output()
        .expect("tcpdump -r");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Pings until one gets through (or `secs` pass); returns how long it took.
pub fn heal_time(ns: &Netns, dst: &str, secs: u64) -> Option<std::time::Duration> {
    let t0 = std::time::Instant::now();
    super::poll_opt(std::time::Duration::from_secs(secs), || {
        ns.ping(dst, 1).status.success().then_some(())
    })
    .map(|()| t0.elapsed())
}
