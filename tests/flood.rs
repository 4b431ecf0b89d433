//! The responder under a flood: first messages (IKEv2 IKE_SA_INIT, IKEv1 Main Mode message 1)
//! and mutated datagrams from many source ports, sent with `sendmmsg` by a thread of this test
//! inside the peer's namespace, at UDP 500 and 4500 of a gateway with three tunnels:
//!
//! - `ipsec0`, IKEv2 to strongSwan 5.9.8 (10.0.0.2), established before the flood: a 10 ms ping
//!   runs through it for the whole flood and must lose nothing;
//! - `ipsec1`, IKEv2 to a second strongSwan connection (10.0.0.4), which initiates during the
//!   flood (the flood's IKE_SA_INITs from 10.0.0.4 fill the half-open slots, so it goes through
//!   the COOKIE) and must come up;
//! - `ipsec2`, IKEv1 to 10.0.0.5, where only the flood's Main Mode message 1s come from
//!   (half-open cap and per-source rate limit).
//!
//! It prints datagrams sent, the gateway's peak resident memory and CPU, the ping's loss and
//! the new peer's setup time, and fails when memory passes [`RSS_BOUND_MIB`], CPU passes
//! [`CPU_BOUND_CORES`], a ping is lost or the new tunnel does not come up. The CI form floods
//! for 20 s; `IKEGATE_FLOOD_SECS=300` runs the long form. Root only; prints "skipping: …"
//! otherwise.

mod common;

use common::charon::{Charon, CharonConfig, Strongswan};
use common::ikegate::Gateway;
use common::netns::{require_root, swan_lab};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const OURS: &str = "10.0.0.1";
const SWAN: &str = "10.0.0.2";
const NEW_PEER: &str = "10.0.0.4";
const V1_PEER: &str = "10.0.0.5";
const STRANGER: &str = "10.0.0.9";
const PSK: &str = "xeeB5gohvaYi";
/// The gateway's resident memory must stay under this during the flood.
const RSS_BOUND_MIB: u64 = 128;
/// ... and its CPU use under this many cores on average (the machine has two).
const CPU_BOUND_CORES: f64 = 1.5;
/// Source ports per flooding address.
const PORTS: usize = 64;

fn can_run() -> bool {
    require_root() && common::charon::require_strongswan() && common::require_programs(&["ping"])
}

fn ours_yaml() -> String {
    let tunnel = |name: &str, peer: &str, version: u8, ours: &str, theirs: &str| {
        format!(
            "  {name}:\n    ipv4: {{ source: {OURS}, destination: {peer} }}\n    preshared-key: {PSK}\n    responder-only: enable\n    ike:\n      version: {version}\n      proposal:\n        phase1: {{ encryption: aes128, hash: sha256, dh-group: curve25519 }}\n        phase2:\n          proxy-id:\n            ipv4: {{ local: {ours}, remote: {theirs} }}\n          encryption: aes128\n          authentication: hmac-sha256\n"
        )
    };
    format!(
        "interfaces:\n{}{}{}route:\n  ipv4:\n    - {{ destination: 192.168.2.0/24, gateway: ipsec0, source: 192.168.1.1 }}\n    - {{ destination: 192.168.4.0/24, gateway: ipsec1, source: 192.168.3.1 }}\n",
        tunnel("ipsec0", SWAN, 2, "192.168.1.0/24", "192.168.2.0/24"),
        tunnel("ipsec1", NEW_PEER, 2, "192.168.3.0/24", "192.168.4.0/24"),
        tunnel("ipsec2", V1_PEER, 1, "192.168.5.0/24", "192.168.6.0/24"),
    )
}

fn swan_cfg() -> CharonConfig {
    let mut c = CharonConfig::ikev2_psk(
        Strongswan::Debian59,
        SWAN,
        OURS,
        "192.168.2.0/24",
        "192.168.1.0/24",
    );
    c.psk = PSK.into();
    c.ike_proposals = "aes128-sha256-curve25519".into();
    c.esp_proposals = "aes128-sha256".into();
    // 5.9's kernel-libipsec only does ESP in UDP: it must fake a NAT to get there.
    c.encap = true;
    // The flood saturates this machine: the gateway gets about one core, and the kernel drops
    // 30-45 % of what reaches its UDP 500 socket for want of a reader (the test prints how
    // many), a new peer's messages among them. Measured 2026-12-04: up to 5 sends of one
    // request were lost in a row. Eight retransmissions (nine sends, about 50 s with the
    // harness's 1 s timeout and base 1.4) leave a message lost every time with a chance of
    // 0.45^9 ≈ 0.08 %; strongSwan's own defaults (5 retransmissions from a 4 s timeout) give
    // it nearly three minutes.
    c.retransmit_tries = 8;
    // The new peer: a second connection from another address, started during the flood.
    c.extra_swanctl.push(format!(
        "connections {{\n  gw2 {{\n    version = 2\n    local_addrs = {NEW_PEER}\n    remote_addrs = {OURS}\n    proposals = aes128-sha256-curve25519\n    encap = yes\n    mobike = no\n    local {{\n      auth = psk\n      id = {NEW_PEER}\n    }}\n    remote {{\n      auth = psk\n      id = {OURS}\n    }}\n    children {{\n      net2 {{\n        local_ts = 192.168.4.0/24\n        remote_ts = 192.168.3.0/24\n        esp_proposals = aes128-sha256\n        mode = tunnel\n        start_action = none\n      }}\n    }}\n  }}\n}}"
    ));
    c
}

/// What the flood sends, one kind after the other.
fn ike_sa_init(rng: &mut u64) -> Vec<u8> {
    let p = |nxt: u8, body: &[u8]| -> Vec<u8> {
        let mut v = vec![nxt, 0];
        v.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    };
    let tr = |last: bool, typ: u8, id: u16, attr: &[u8]| -> Vec<u8> {
        let mut v = vec![if last { 0 } else { 3 }, 0];
        v.extend_from_slice(&((8 + attr.len()) as u16).to_be_bytes());
        v.extend_from_slice(&[typ, 0]);
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(attr);
        v
    };
    let mut trs = tr(false, 1, 12, &[0x80, 0x0e, 0, 128]);
    trs.extend(tr(false, 2, 5, &[]));
    trs.extend(tr(false, 3, 12, &[]));
    trs.extend(tr(true, 4, 31, &[]));
    let mut prop = vec![0, 0];
    prop.extend_from_slice(&((8 + trs.len()) as u16).to_be_bytes());
    prop.extend_from_slice(&[1, 1, 0, 4]);
    prop.extend(trs);
    let mut ke = vec![0, 31, 0, 0];
    ke.extend(random(rng, 32));
    let mut body = p(34, &prop);
    body.extend(p(40, &ke));
    body.extend(p(0, &random(rng, 32)));
    let mut m = random(rng, 8);
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&[33, 0x20, 34, 0x08, 0, 0, 0, 0]);
    m.extend_from_slice(&((28 + body.len()) as u32).to_be_bytes());
    m.extend(body);
    m
}

/// IKEv1 Main Mode message 1 with an AES/SHA-256/Curve25519 PSK transform.
fn main_mode_1(rng: &mut u64) -> Vec<u8> {
    let attrs: Vec<u8> = [
        (1u16, 7u16),
        (14, 128),
        (2, 4),
        (3, 1),
        (4, 31),
        (11, 1),
        (12, 28800),
    ]
    .iter()
    .flat_map(|(t, v)| {
        let mut a = (0x8000 | t).to_be_bytes().to_vec();
        a.extend_from_slice(&v.to_be_bytes());
        a
    })
    .collect();
    let payload = |nxt: u8, body: &[u8]| -> Vec<u8> {
        let mut v = vec![nxt, 0];
        v.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    };
    let transform = payload(0, &[&[1, 1, 0, 0][..], &attrs].concat());
    let proposal = payload(0, &[&[1, 1, 0, 1][..], &transform].concat());
    let sa = payload(0, &[&[0, 0, 0, 1, 0, 0, 0, 1][..], &proposal].concat());
    let mut m = random(rng, 8);
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&[1, 0x10, 2, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&((28 + sa.len()) as u32).to_be_bytes());
    m.extend(sa);
    m
}

fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

fn random(rng: &mut u64, n: usize) -> Vec<u8> {
    (0..n).map(|_| next(rng) as u8).collect()
}

/// A genuine first message with some bytes flipped, cut short or grown.
fn mutated(rng: &mut u64, mut m: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + next(rng) % 4 {
        let at = (next(rng) as usize) % m.len();
        m[at] ^= next(rng) as u8 | 1;
    }
    match next(rng) % 3 {
        0 => m.truncate((next(rng) as usize) % m.len()),
        1 => {
            let n = (next(rng) % 64) as usize;
            m.extend(random(rng, n));
        }
        _ => {}
    }
    m
}

/// Sockets of one flooding address, and what it sends.
struct Source {
    sockets: Vec<std::net::UdpSocket>,
    kind: fn(&mut u64) -> Vec<u8>,
}

/// Floods from inside `netns` until `stop`; returns the datagrams sent.
fn flood(netns: String, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let f = std::fs::File::open(format!("/var/run/netns/{netns}")).expect("netns file");
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
    let bind = |ip: &str| -> Vec<std::net::UdpSocket> {
        (0..PORTS)
            .map(|_| {
                let s = std::net::UdpSocket::bind((ip, 0)).expect("bind");
                s.set_nonblocking(true).unwrap();
                s
            })
            .collect()
    };
    let sources = [
        Source {
            sockets: bind(SWAN),
            kind: ike_sa_init,
        },
        Source {
            sockets: bind(NEW_PEER),
            kind: ike_sa_init,
        },
        Source {
            sockets: bind(V1_PEER),
            kind: main_mode_1,
        },
        Source {
            sockets: bind(STRANGER),
            kind: main_mode_1,
        },
    ];
    let ours: std::net::Ipv4Addr = OURS.parse().unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let src = &sources[round % sources.len()];
        let sock = &src.sockets[(round / sources.len()) % PORTS];
        round += 1;
        // 64 datagrams: genuine first messages and mutated ones, to 500 and to 4500 (with and
        // without the non-ESP marker).
        let mut msgs: Vec<(Vec<u8>, u16)> = Vec::with_capacity(64);
        for i in 0..64 {
            let m = (src.kind)(&mut rng);
            msgs.push(match i % 4 {
                0 | 1 => (m, 500),
                2 => (mutated(&mut rng, m), 500),
                _ => {
                    let mut e = if next(&mut rng) & 1 == 0 {
                        vec![0; 4]
                    } else {
                        Vec::new()
                    };
                    e.extend(mutated(&mut rng, m));
                    (e, 4500)
                }
            });
        }
        sent.fetch_add(sendmmsg(sock, ours, &msgs), Ordering::Relaxed);
    }
}

/// One `sendmmsg(2)` call for the batch; returns how many went out.
fn sendmmsg(sock: &std::net::UdpSocket, to: std::net::Ipv4Addr, msgs: &[(Vec<u8>, u16)]) -> u64 {
    let addrs: Vec<libc::sockaddr_in> = msgs
        .iter()
        .map(|(_, port)| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(to).to_be(),
            },
            sin_zero: [0; 8],
        })
        .collect();
    let mut iovs: Vec<libc::iovec> = msgs
        .iter()
        .map(|(m, _)| libc::iovec {
            iov_base: m.as_ptr() as *mut libc::c_void,
            iov_len: m.len(),
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = (0..msgs.len())
        .map(|i| {
            // SAFETY: an all-zero msghdr is valid; the pointers set below outlive the call.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_name = &addrs[i] as *const _ as *mut libc::c_void;
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
            h.msg_hdr.msg_iov = &mut iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    // SAFETY: `hdrs` points at `addrs` and `iovs`, which live until after the call.
    let n = unsafe { libc::sendmmsg(sock.as_raw_fd(), hdrs.as_mut_ptr(), hdrs.len() as u32, 0) };
    if n < 0 {
        // A full send buffer: yield a moment.
        std::thread::sleep(Duration::from_micros(200));
        return 0;
    }
    n as u64
}

/// (resident memory in KiB, CPU ticks user + system) of a process.
fn proc_usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 12th, stime 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (rss, ticks(11) + ticks(12))
}

/// `Udp: InErrors` of the namespace (datagrams dropped at full receive buffers, mostly).
fn udp_receive_errors(ns: &common::netns::Netns) -> i64 {
    let snmp = ns.run(&["cat", "/proc/net/snmp"]);
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "InErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Packets dropped at the full per-CPU input backlog (second column of softnet_stat), all CPUs.
fn backlog_drops() -> i64 {
    std::fs::read_to_string("/proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| i64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
        .sum()
}

#[test]
fn responder_keeps_its_tunnels_under_a_flood() {
    if !can_run() {
        return;
    }
    Strongswan::Debian59.require();
    let secs: u64 = std::env::var("IKEGATE_FLOOD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let lab = swan_lab("flo", "fls", "flood");
    for a in [NEW_PEER, V1_PEER, STRANGER] {
        lab.swan.add_addr(&lab.link.b, &format!("{a}/24"));
    }
    lab.swan.add_lo_addr("192.168.4.1/32");
    lab.ours.add_lo_addr("192.168.3.1/32");
    let mut gw = Gateway::start(&lab.ours, &lab.dir, "ours", &ours_yaml(), Some("ipsec0"));
    let charon = Charon::start(&lab.swan, swan_cfg());
    charon.initiate_ok("net");
    let log = gw.log.clone();
    let ctx = || {
        format!(
            "--- ikegate ---\n{}\n--- charon ---\n{}",
            common::tail(&std::fs::read_to_string(&log).unwrap_or_default(), 80),
            common::tail(&charon.log(), 60)
        )
    };
    lab.ours
        .wait_ping("192.168.2.1", Duration::from_secs(20), ctx);
    let pid = gw.pid().expect("gateway pid");
    let (rss_before, ticks_before) = proc_usage(pid);
    let (udp_before, backlog_before) = (udp_receive_errors(&lab.ours), backlog_drops());

    // The flood, the 10 ms ping through ipsec0, and the new peer's IKE SA, all at once.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooder = {
        let (ns, stop, sent) = (lab.swan.name().to_string(), stop.clone(), sent.clone());
        std::thread::spawn(move || flood(ns, stop, sent))
    };
    let t0 = Instant::now();
    let count = (secs * 100).to_string();
    let ping = {
        let mut c = lab.ours.command("ping");
        c.args([
            "-i",
            "0.01",
            "-c",
            &count,
            "-W",
            "1",
            "-q",
            "-I",
            "192.168.1.1",
            "192.168.2.1",
        ]);
        c.stdout(std::process::Stdio::piped());
        c.spawn().expect("ping")
    };
    std::thread::sleep(Duration::from_secs(secs.min(5)));
    let new_peer_started = Instant::now();
    let new_peer = charon.initiate_timeout("net2", 60);
    let new_peer_secs = new_peer_started.elapsed().as_secs_f64();
    // The flood lasts as long as the ping (at least `secs`: on a loaded machine ping's 10 ms
    // slips), so that every probe crosses the tunnel during it.
    let mut ping = ping;
    let mut rss_peak = rss_before;
    while t0.elapsed() < Duration::from_secs(secs) || ping.try_wait().ok().flatten().is_none() {
        rss_peak = rss_peak.max(proc_usage(pid).0);
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    flooder.join().expect("flooder");
    let elapsed = t0.elapsed().as_secs_f64();
    let (rss_after, ticks_after) = proc_usage(pid);
    let udp_dropped = udp_receive_errors(&lab.ours) - udp_before;
    let backlog_dropped = backlog_drops() - backlog_before;
    rss_peak = rss_peak.max(rss_after);
    let out = ping.wait_with_output().expect("ping output");
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    let hz = 100.0; // USER_HZ on Linux
    let cpu = (ticks_after - ticks_before) as f64 / hz / elapsed;
    let datagrams = sent.load(Ordering::Relaxed);
    println!(
        "flood: {datagrams} datagrams in {elapsed:.1} s ({:.0}/s) from {} source ports",
        datagrams as f64 / elapsed,
        4 * PORTS
    );
    println!(
        "gateway: resident memory {} KiB before, {} KiB peak (bound {} MiB); CPU {cpu:.2} cores \
         on average (bound {CPU_BOUND_CORES})",
        rss_before, rss_peak, RSS_BOUND_MIB
    );
    println!(
        "ping through ipsec0 every 10 ms: {}",
        summary.trim().replace('\n', "; ")
    );
    println!(
        "dropped by the kernel, unread: {udp_dropped} at the gateway's full UDP receive \
         buffers, {backlog_dropped} at the full input backlog (every namespace)"
    );
    println!(
        "new peer (strongSwan 5.9.8, {NEW_PEER}) during the flood: {} in {new_peer_secs:.1} s",
        if new_peer.is_ok() { "up" } else { "FAILED" }
    );
    // Where the new peer's time went: its packets and retransmissions, as charon saw them.
    let charon_log = charon.log();
    let exchanges: Vec<&str> = charon_log
        .lines()
        .filter(|l| l.contains("<gw2|") && (l.contains("[NET]") || l.contains("retransmit")))
        .collect();
    println!(
        "the new peer's packets:\n{}",
        common::tail(&exchanges.join("\n"), 24)
    );
    assert!(gw.running(), "the gateway died:\n{}", ctx());
    if new_peer.is_ok() {
        charon.wait_child_installed("net2", Duration::from_secs(5));
    }
    // The counters first: they tell which door dropped what when an assertion below fails.
    let (code, log) = gw.stop();
    let counters: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("global:") || l.contains("drops:") || l.trim_start().starts_with("ike:")
        })
        .collect();
    println!(
        "gateway counters at exit:\n{}",
        common::tail(&counters.join("\n"), 20)
    );
    assert!(
        datagrams >= 25_000 * secs,
        "the flood was too weak to show anything: {datagrams}"
    );
    assert!(
        rss_peak < RSS_BOUND_MIB * 1024,
        "resident memory {rss_peak} KiB"
    );
    assert!(cpu < CPU_BOUND_CORES, "CPU {cpu:.2} cores");
    assert!(
        summary.contains(&format!("{count} packets transmitted, {count} received")),
        "the established tunnel lost pings: {summary}\n{}",
        ctx()
    );
    if let Err(e) = new_peer {
        let ours = format!("{NEW_PEER}:500");
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&ours)).collect();
        panic!(
            "the new peer's tunnel did not come up during the flood: {e}\n\
             --- ikegate's lines about {ours} ---\n{}\n{}",
            common::tail(&lines.join("\n"), 30),
            ctx()
        );
    }
    assert_eq!(code, Some(0), "{log}");
}
