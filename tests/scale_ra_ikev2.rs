//! Remote access at scale, as root: N IKEv2 clients (1,000, or `IKEGATE_RA_CLIENTS`) of our own
//! (sans-IO client engines driven over real UDP by this test, PSK road warriors asking for a
//! virtual address) log in to one ikegate remote-access interface. The clients share four
//! source addresses (port 500 each; the interface tells them apart by IKE SPI). Prints the
//! time until every client has its child SA and address, and the gateway's resident memory per
//! client (against the same gateway before any client); every client must get its own address
//! within the time limit. Data through each client's SA is not sent (the clients are engines
//! without a data plane): the per-client ping is e2e_ra_ikev2's.
//!
//! Re-run: `cargo test --test scale_ra_ikev2 -- --nocapture` (`IKEGATE_RA_CLIENTS=200` for a
//! quick run, `IKEGATE_RA_RATE=1000` to start 1,000 clients per second instead of 200).

mod common;

use common::ikegate::Gateway;
use common::netns::{require_root, veth, Netns};
use common::TempDir;
use ikegate::ike::policy::RaClientPolicy;
use ikegate::ike::{Event, IkePolicy, IkeVersion, OsRandom, TunnelEngine};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GW: &str = "10.0.0.1";
/// The client namespace's addresses (each a socket on port 500).
const SOURCES: [&str; 4] = ["10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5"];
const LIMIT: Duration = Duration::from_secs(300);

fn clients_wanted() -> usize {
    std::env::var("IKEGATE_RA_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Clients started per second (`IKEGATE_RA_RATE`, default 200).
fn start_rate() -> usize {
    std::env::var("IKEGATE_RA_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(200)
}

fn yaml() -> String {
    format!(
        "interfaces:\n  ipsec-ra0:\n    ipv4: {{ source: {GW}, destination: dynamic }}\n    preshared-key: \"group secret\"\n    responder-only: enable\n    ike:\n      version: 2\n    remote-access:\n      pool: {{ ipv4: 10.8.0.0/21 }}\n      split-include: [192.168.1.0/24]\n      auth: psk\n"
    )
}

fn client(i: usize, source: &str) -> TunnelEngine {
    let gw: IpAddr = GW.parse().unwrap();
    let mut p = IkePolicy::seil_defaults(source.parse().unwrap(), gw, b"group secret");
    p.version = IkeVersion::V2;
    p.my_id = Some(ikegate::ike::Identity::Fqdn(format!("client{i}.example")));
    p.initial_contact = false;
    p.reinitiate_after = None;
    p.dpd = None;
    p.nat_keepalive = None;
    p.ra_client = Some(Arc::new(RaClientPolicy {
        ipv4: true,
        ipv6: false,
        eap: None,
    }));
    TunnelEngine::new(p, Box::new(OsRandom))
}

/// A non-blocking UDP socket bound to `addr` in namespace `ns`.
fn socket_in(ns: &str, addr: SocketAddr) -> UdpSocket {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let s = UdpSocket::bind(addr).unwrap();
        s.set_nonblocking(true).unwrap();
        s
    })
    .join()
    .unwrap()
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The clients and where their datagrams go.
struct Driver {
    engines: Vec<TunnelEngine>,
    socks: Vec<UdpSocket>,
    by_spi: HashMap<[u8; 8], usize>,
    up: Vec<bool>,
    failures: Vec<String>,
}

impl Driver {
    fn sock_of(&self, i: usize) -> usize {
        i % self.socks.len()
    }

    /// Sends what client `i` has to send and records its events.
    fn flush(&mut self, i: usize) {
        let s = self.sock_of(i);
        while let Some(t) = self.engines[i].poll_transmit() {
            if let Some(spi) = t.data.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                self.by_spi.insert(spi, i);
            }
            let _ = self.socks[s].send_to(&t.data, t.remote);
        }
        while let Some(ev) = self.engines[i].poll_event() {
            match ev {
                Event::ChildSaUp { .. } => self.up[i] = true,
                Event::Failed { cause } => self.failures.push(cause.to_string()),
                _ => {}
            }
        }
    }

    /// Reads every waiting datagram; true when there was one.
    fn receive(&mut self, now: Instant) -> bool {
        let mut any = false;
        let mut buf = vec![0u8; 65536];
        for s in 0..self.socks.len() {
            let local = self.socks[s].local_addr().unwrap();
            while let Ok((n, from)) = self.socks[s].recv_from(&mut buf) {
                any = true;
                let spi = buf.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok());
                let Some(&i) = spi.and_then(|spi| self.by_spi.get(&spi)) else {
                    continue;
                };
                self.engines[i].handle_datagram(now, local, from, &buf[..n]);
                self.flush(i);
            }
        }
        any
    }

    fn timers(&mut self, now: Instant) {
        for i in 0..self.engines.len() {
            if self.engines[i].poll_timeout().is_some_and(|t| t <= now) {
                self.engines[i].handle_timeout(now);
                self.flush(i);
            }
        }
    }
}

#[test]
fn a_thousand_ikev2_clients_log_in_to_one_interface() {
    if !require_root() {
        return;
    }
    let n = clients_wanted();
    let gw_ns = Netns::new("rvsg");
    gw_ns.add_lo_addr(&format!("{GW}/32"));
    gw_ns.add_lo_addr("192.168.1.1/32");
    let cl = Netns::new("rvsc");
    let addrs: Vec<String> = SOURCES.iter().map(|a| format!("{a}/24")).collect();
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let _link = veth(&gw_ns, &["10.1.0.1/24"], &cl, &refs);
    cl.add_route(&format!("{GW}/32"), Some("10.1.0.1"), None);
    let dir = TempDir::new("rve-scale");
    let mut gw = Gateway::start(&gw_ns, &dir, "gw", &yaml(), Some("ipsec-ra0"));
    let pid = gw.pid().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let base = rss_kb(pid);
    let socks: Vec<UdpSocket> = SOURCES
        .iter()
        .map(|a| socket_in(cl.name(), SocketAddr::new(a.parse().unwrap(), 500)))
        .collect();
    let mut d = Driver {
        engines: (0..n)
            .map(|i| client(i, SOURCES[i % SOURCES.len()]))
            .collect(),
        socks,
        by_spi: HashMap::new(),
        up: vec![false; n],
        failures: Vec::new(),
    };
    let rate = start_rate();
    let t0 = Instant::now();
    let mut started = 0;
    while d.up.iter().any(|u| !u) && t0.elapsed() < LIMIT {
        let now = Instant::now();
        // Start clients at `rate` per second (a burst of 1,000 IKE_SA_INITs is a flood).
        let due = ((now - t0).as_millis() as usize * rate / 1000 + 1).min(n);
        while started < due {
            d.engines[started].initiate(now);
            d.flush(started);
            started += 1;
        }
        let got = d.receive(now);
        d.timers(now);
        if !got {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let took = t0.elapsed();
    let up = d.up.iter().filter(|u| **u).count();
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss_kb(pid);
    let per_client = rss.saturating_sub(base) as f64 / up.max(1) as f64;
    println!(
        "{up}/{n} IKEv2 remote-access clients up in {:.1} s (started at {rate}/s); gateway RSS \
         {base} kB before, {rss} kB after: {per_client:.1} kB per client",
        took.as_secs_f64()
    );
    let addresses: HashSet<IpAddr> = d
        .engines
        .iter()
        .filter_map(|e| match e {
            TunnelEngine::V2(e) => e.assigned_addresses().first().copied(),
            TunnelEngine::V1(_) => None,
        })
        .collect();
    let (_, log) = gw.stop();
    assert_eq!(
        up,
        n,
        "failures: {:?}\n{}",
        &d.failures[..d.failures.len().min(10)],
        common::tail(&log, 40)
    );
    assert_eq!(addresses.len(), n, "every client its own address");
}
