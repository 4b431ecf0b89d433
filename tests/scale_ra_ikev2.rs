//! Remote access at scale, as root: N IKEv2 clients (1,000, or `IKEGATE_RA_CLIENTS`) of our own
//! (sans-IO client engines driven over real UDP by this test, PSK road warriors asking for a
//! virtual address) log in to one ikegate remote-access interface. The clients share four
//! source addresses (port 500 each; the interface tells them apart by IKE SPI). Prints the
//! time until every client has its child SA and address, and the gateway's resident memory per
//! client (against the same gateway before any client); every client must get its own address
//! within the time limit. Then every client pings the gateway's inner host 192.168.1.1 through
//! its own child SA: the test seals an ICMP echo from the client's virtual address with the
//! client's outbound ESP keys, sends it as raw ESP (no NAT here, so that is what was
//! negotiated), and opens the gateway's reply with the client's inbound keys; every client must
//! get its reply.
//!
//! Re-run: `cargo test --test scale_ra_ikev2 -- --nocapture` (`IKEGATE_RA_CLIENTS=200` for a
//! quick run, `IKEGATE_RA_RATE=1000` to start 1,000 clients per second instead of 200).

mod common;

use common::ikegate::Gateway;
use common::netns::{in_netns, require_root, veth, Netns};
use common::TempDir;
use ikegate::esp::sa::{Encap, InboundSa, OutboundSa};
use ikegate::ike::policy::RaClientPolicy;
use ikegate::ike::{Event, IkePolicy, IkeVersion, OsRandom, TunnelEngine};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GW: &str = "10.0.0.1";
/// The client namespace's addresses (each a socket on port 500).
const SOURCES: [&str; 4] = ["10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5"];
const LIMIT: Duration = Duration::from_secs(300);
/// The host behind the gateway (on its `lo`, inside the split-include network).
const INNER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

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
    in_netns(ns, move || {
        let s = UdpSocket::bind(addr).unwrap();
        s.set_nonblocking(true).unwrap();
        s
    })
}

/// A non-blocking raw ESP (IP protocol 50) socket bound to `addr` in namespace `ns`.
fn raw_esp_in(ns: &str, addr: Ipv4Addr) -> socket2::Socket {
    use socket2::{Domain, Protocol, Socket, Type};
    in_netns(ns, move || {
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(50))).unwrap();
        s.bind(&SocketAddr::new(addr.into(), 0).into()).unwrap();
        s.set_nonblocking(true).unwrap();
        s
    })
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
    /// Each client's child SA pair, as the test's data plane: (inbound, outbound).
    esp: Vec<Option<(InboundSa, OutboundSa)>>,
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
                Event::ChildSaUp {
                    inbound,
                    outbound,
                    udp_encap,
                    ..
                } => {
                    self.up[i] = true;
                    if let Some(nat) = udp_encap {
                        self.failures.push(format!(
                            "client {i}: UDP-encapsulated ESP ({nat}) without a NAT"
                        ));
                    }
                    let gw = Encap::Raw(GW.parse().unwrap());
                    let pair = InboundSa::new(&inbound, 0)
                        .and_then(|r| Ok((r, OutboundSa::new(&outbound, gw, [i as u8; 16])?)));
                    match pair {
                        Ok(pair) => self.esp[i] = Some(pair),
                        Err(e) => self.failures.push(format!("client {i}: ESP keys: {e}")),
                    }
                }
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

/// The ICMP echo request (IPv4, 32 bytes of data) from `vip` to [`INNER`] with identifier `id`.
fn echo_request(vip: Ipv4Addr, id: u16) -> Vec<u8> {
    use ikegate::wire::outer_frame::ipv4_header_checksum as checksum;
    let mut p = vec![0u8; 20 + 8 + 32];
    let len = p.len() as u16;
    p[0] = 0x45;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p[8] = 64;
    p[9] = 1;
    p[12..16].copy_from_slice(&vip.octets());
    p[16..20].copy_from_slice(&INNER.octets());
    let c = checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[20] = 8;
    p[24..26].copy_from_slice(&id.to_be_bytes());
    p[26..28].copy_from_slice(&1u16.to_be_bytes());
    p[28..].fill(0xa5);
    let c = checksum(&p[20..]);
    p[22..24].copy_from_slice(&c.to_be_bytes());
    p
}

/// Seals client `i`'s echo request and sends it as raw ESP to the gateway.
fn send_ping(d: &Driver, raw: &[socket2::Socket], i: usize, vip: Ipv4Addr) {
    let Some((_, out)) = &d.esp[i] else { return };
    let inner = echo_request(vip, i as u16);
    let mut buf = vec![0u8; 64 + inner.len() + 64];
    buf[64..64 + inner.len()].copy_from_slice(&inner);
    if let Some(Ok(esp)) = out.seal(&mut buf, 64..64 + inner.len(), 4) {
        let gw: SocketAddr = SocketAddr::new(GW.parse().unwrap(), 0);
        let _ = raw[d.sock_of(i)].send_to(&buf[esp], &gw.into());
    }
}

/// Opens one raw ESP datagram (IPv4 header first) with the inbound SA of its SPI; the client
/// whose echo reply it is, when it is one.
fn echo_reply(
    d: &Driver,
    by_spi: &HashMap<u32, usize>,
    vips: &[Ipv4Addr],
    dgram: &mut [u8],
) -> Option<usize> {
    let ihl = usize::from(dgram.first()? & 0x0f) * 4;
    let esp = dgram.get_mut(ihl..)?;
    let spi = u32::from_be_bytes(esp.get(..4)?.try_into().ok()?);
    let &i = by_spi.get(&spi)?;
    let (sa, _) = d.esp[i].as_ref()?;
    let opened = sa.open(esp).ok()?;
    let p = esp.get(opened.payload)?;
    let id = u16::from_be_bytes(p.get(24..26)?.try_into().ok()?);
    let ok = p.get(9) == Some(&1)
        && p.get(12..16) == Some(&INNER.octets()[..])
        && p.get(16..20) == Some(&vips[i].octets()[..])
        && p.get(20) == Some(&0)
        && usize::from(id) == i;
    ok.then_some(i)
}

/// Every client pings [`INNER`] through its own SA (up to three tries each, 50 in flight at a
/// time); how many got their reply, and how long that took.
fn ping_every_client(ns: &str, d: &Driver, vips: &[Ipv4Addr]) -> (usize, Duration) {
    let raw: Vec<socket2::Socket> = SOURCES
        .iter()
        .map(|a| raw_esp_in(ns, a.parse().unwrap()))
        .collect();
    let by_spi: HashMap<u32, usize> = (0..vips.len())
        .filter_map(|i| d.esp[i].as_ref().map(|(r, _)| (r.spi, i)))
        .collect();
    let t0 = Instant::now();
    let mut answered = vec![false; vips.len()];
    let mut buf = vec![0u8; 65536];
    for _try in 0..3 {
        let mut pending: Vec<usize> = (0..vips.len()).filter(|i| !answered[*i]).collect();
        let mut last = Instant::now();
        while !pending.is_empty() || last.elapsed() < Duration::from_secs(2) {
            for i in pending.drain(..pending.len().min(50)) {
                send_ping(d, &raw, i, vips[i]);
                last = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(2));
            for r in &raw {
                while let Ok(n) = std::io::Read::read(&mut &*r, &mut buf) {
                    if let Some(i) = echo_reply(d, &by_spi, vips, &mut buf[..n]) {
                        answered[i] = true;
                    }
                }
            }
            if answered.iter().all(|a| *a) {
                return (vips.len(), t0.elapsed());
            }
        }
    }
    (answered.iter().filter(|a| **a).count(), t0.elapsed())
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
        esp: (0..n).map(|_| None).collect(),
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
    let vips: Vec<Ipv4Addr> = d
        .engines
        .iter()
        .map(|e| match e {
            TunnelEngine::V2(e) => match e.assigned_addresses().first() {
                Some(IpAddr::V4(a)) => *a,
                _ => Ipv4Addr::UNSPECIFIED,
            },
            TunnelEngine::V1(_) => Ipv4Addr::UNSPECIFIED,
        })
        .collect();
    let addresses: HashSet<Ipv4Addr> = vips.iter().copied().collect();
    let (pinged, ping_took) = ping_every_client(cl.name(), &d, &vips);
    println!(
        "{pinged}/{n} clients got the echo reply of 192.168.1.1 through their own SA in {:.1} s",
        ping_took.as_secs_f64()
    );
    let (_, log) = gw.stop();
    assert_eq!(
        up,
        n,
        "failures: {:?}\n{}",
        &d.failures[..d.failures.len().min(10)],
        common::tail(&log, 40)
    );
    assert_eq!(addresses.len(), n, "every client its own address");
    assert!(
        d.failures.is_empty(),
        "{:?}",
        &d.failures[..d.failures.len().min(10)]
    );
    assert_eq!(pinged, n, "every client's ping answered through its own SA");
}
