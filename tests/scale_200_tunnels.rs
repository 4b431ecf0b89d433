//! IKE at scale, as root: N `ipsecN` interfaces on each side (200, or
//! `IKEGATE_SCALE_TUNNELS`, e.g. 2000), ours ⇄ ours, each with its own proxy-ids (tunnel i:
//! 172.(16+i/256).(i%256).0/24 ⇄ 172.(24+i/256).(i%256).0/24), once over IKEv1 and once over
//! IKEv2 (default proposals: IKEv1 modp1536, IKEv2 modp2048 first). The initiator must bring
//! 200 tunnels up within 10 s (IKEv1) or 5 s (IKEv2) of starting (more: 10 minutes), every
//! tunnel must then carry a ping, and the resident memory of both gateways is printed (total and per
//! added tunnel, against the same pair of gateways with one tunnel up; the anonymous part, heap
//! and stacks, beside the RSS) and held to [`BASE_BUDGET_KB`] +
//! [`TUNNEL_BUDGET_KB`] per tunnel. The two tests share addresses, so they take turns.
//!
//! IKE datagrams are demultiplexed by (local, peer) address pair, so every tunnel needs its own
//! address pair: the left gateway uses one outer address (10.10.0.1) and the right one has N
//! (10.10.(1+i/250).(1+i%250) on its veth), one per tunnel. So the left side exercises one
//! transport with N peers and the right side N transports.
//!
//! `IKEGATE_SCALE_WRAP` (e.g. `heaptrack -o /tmp/right`) runs the right gateway under that
//! command prefix, for a heap profile of what each tunnel holds; its RSS is then not checked.
//! `IKEGATE_SCALE_WRAP_LEFT` (e.g. `valgrind --tool=callgrind --callgrind-out-file=/tmp/l.out`)
//! runs the left one (the initiator) under a prefix: the test then ends once every tunnel is
//! up, stopping it with SIGTERM so that the profiler writes its report (instructions per
//! tunnel: divide by N).
//! The RSS is the process's; the kernel's memory for the TUN devices and sockets is not in it.

mod common;

use common::ikegate::Gateway;
use common::netns::{require_root, veth, Netns};
use common::{poll_opt, TempDir};
use std::collections::HashSet;
use std::fmt::Write;
use std::time::{Duration, Instant};

const PSK: &str = "scale-test-psk-0123";
/// Resident memory allowed for a gateway with one tunnel (kB).
const BASE_BUDGET_KB: u64 = 16 * 1024;
/// Resident memory allowed per tunnel beyond that (kB). Measured 2026-12-03 after the ESP SAs
/// kept only their suite's state and the IKE policy was shared: 23 – 26 kB (one address), 28 –
/// 30 kB (one address per tunnel); README, "Where a tunnel's memory goes". Issue 17's goal is 10.
const TUNNEL_BUDGET_KB: u64 = 32;
/// How long a gateway runs before its RSS is read: its heap's free pages (the negotiations'
/// garbage) go back to the OS 2 – 4 s after IKE falls quiet.
const SETTLE: Duration = Duration::from_secs(5);
/// The two tests use the same addresses: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Tunnels per gateway: 200, or `IKEGATE_SCALE_TUNNELS` (1 – 2000).
fn tunnels() -> usize {
    std::env::var("IKEGATE_SCALE_TUNNELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=2000).contains(n))
        .unwrap_or(200)
}

/// The right gateway's outer address of tunnel `i`.
fn right_outer(i: usize) -> String {
    format!("10.10.{}.{}", 1 + i / 250, 1 + i % 250)
}

/// The inner subnet (/24) of tunnel `i` on the left (`side` 16) or right (`side` 24).
fn inner(side: usize, i: usize) -> String {
    format!("172.{}.{}", side + i / 256, i % 256)
}

fn left_yaml(n: usize, version: u8) -> String {
    let mut s = String::from("interfaces:\n");
    let mut routes = String::from("route:\n  ipv4:\n");
    for i in 0..n {
        let (l, r) = (inner(16, i), inner(24, i));
        let _ = write!(
            s,
            "  ipsec{i}:\n    ipv4: {{ source: 10.10.0.1, destination: {} }}\n    \
             nat-traversal: disable\n    preshared-key: {PSK}\n    ike:\n      version: {version}\n      proposal:\n        \
             phase2:\n          proxy-id:\n            ipv4: {{ local: {l}.0/24, remote: \
             {r}.0/24 }}\n",
            right_outer(i)
        );
        let _ = writeln!(
            routes,
            "    - {{ destination: {r}.0/24, gateway: ipsec{i}, source: {l}.1 }}"
        );
    }
    s + &routes
}

fn right_yaml(n: usize, version: u8) -> String {
    let mut s = String::from("interfaces:\n");
    let mut routes = String::from("route:\n  ipv4:\n");
    for i in 0..n {
        let (l, r) = (inner(16, i), inner(24, i));
        let _ = write!(
            s,
            "  ipsec{i}:\n    ipv4: {{ source: {}, destination: 10.10.0.1 }}\n    \
             nat-traversal: disable\n    preshared-key: {PSK}\n    responder-only: enable\n    \
             ike:\n      version: {version}\n      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ \
             local: {r}.0/24, remote: {l}.0/24 }}\n",
            right_outer(i)
        );
        let _ = writeln!(
            routes,
            "    - {{ destination: {l}.0/24, gateway: ipsec{i}, source: {r}.1 }}"
        );
    }
    s + &routes
}

/// The left side reaches the right's N addresses through one next hop (10.10.1.1), as a
/// gateway reaches its peers through a router. On-link, it would need a neighbour entry per
/// peer address, and the kernel's ARP table (shared by every namespace) holds at most
/// `gc_thresh3` = 1,024 entries by default: beyond, packets to new neighbours are dropped
/// ("neighbor table overflow"), which stalled 2,000-tunnel bring-ups in retransmission
/// backoffs and failed their pings.
fn via_one_next_hop(left: &Netns, dev: &str) {
    let out = left.sh(&format!(
        "ip route add 10.10.1.1/32 dev {dev} && \
         ip route add 10.10.0.0/16 via 10.10.1.1 dev {dev} src 10.10.0.1"
    ));
    assert!(out.status.success(), "routes via 10.10.1.1: {out:?}");
}

/// The two namespaces of `n` tunnels (`<prefix>l<version>`, `<prefix>r<version>`), joined by a
/// veth, with every tunnel's outer and inner addresses.
fn sides(prefix: &str, version: u8, n: usize) -> (Netns, Netns, common::netns::Veth) {
    let left = Netns::new(&format!("{prefix}l{version}"));
    let right = Netns::new(&format!("{prefix}r{version}"));
    let link = veth(&left, &["10.10.0.1/32"], &right, &["10.10.1.1/16"]);
    via_one_next_hop(&left, &link.a);
    add_addrs(
        &right,
        (1..n).map(|i| format!("addr add {}/16 dev {}", right_outer(i), link.b)),
    );
    add_addrs(
        &left,
        (0..n).map(|i| format!("addr add {}.1/32 dev lo", inner(16, i))),
    );
    add_addrs(
        &right,
        (0..n).map(|i| format!("addr add {}.1/32 dev lo", inner(24, i))),
    );
    (left, right, link)
}

/// Adds many addresses with one `ip -batch`.
fn add_addrs(ns: &Netns, lines: impl Iterator<Item = String>) {
    let batch: String = lines.map(|l| l + "\n").collect();
    if batch.is_empty() {
        return;
    }
    let out = ns.sh(&format!("ip -batch - <<'EOF'\n{batch}EOF\n"));
    assert!(out.status.success(), "ip -batch: {out:?}");
}

/// The one `ikegate` process in `ns` (under a wrapper or not).
fn ikegate_pid(ns: &Netns) -> i32 {
    let pids: Vec<i32> = ns
        .pids()
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "ikegate")
        })
        .collect();
    assert_eq!(
        pids.len(),
        1,
        "expected one ikegate process in {}",
        ns.name()
    );
    pids[0]
}

/// Resident memory of a gateway, in kB: all of it, and the anonymous part (heap, stacks, the
/// runtime's mappings) apart from the pages of the program and libraries read from their files.
#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: u64,
    anon: u64,
}

impl Memory {
    /// Of the `ikegate` process in `ns`.
    fn of(ns: &Netns) -> Memory {
        let pid = ikegate_pid(ns);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
        };
        Memory {
            rss: field("VmRSS:"),
            anon: field("RssAnon:"),
        }
    }

    /// Left and right gateway with one tunnel between them, up and settled.
    fn baseline(dir: &TempDir, version: u8) -> (Memory, Memory) {
        let (left, right, _link) = sides("pfb", version, 1);
        let limit = Duration::from_secs(30);
        let mut r = start_gateway(
            &right,
            dir,
            "base-r",
            &right_yaml(1, version),
            &[],
            "ipsec0",
            limit,
        );
        let mut l = start_gateway(
            &left,
            dir,
            "base-l",
            &left_yaml(1, version),
            &[],
            "ipsec0",
            limit,
        );
        let up = poll_opt(limit, || {
            (tunnels_up(&l.log_text()).len() == 1).then_some(())
        });
        assert!(
            up.is_some(),
            "baseline tunnel not up:\n{}",
            common::tail(&l.log_text(), 30)
        );
        std::thread::sleep(SETTLE);
        let m = (Memory::of(&left), Memory::of(&right));
        l.stop();
        r.stop();
        m
    }
}

/// CPU seconds (user + system) the `ikegate` process in `ns` has used so far.
fn cpu_s(ns: &Netns) -> f64 {
    let pid = ikegate_pid(ns);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After "pid (comm) ": state is field 0, utime 11, stime 12 (in clock ticks).
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a constant.
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Starts a gateway and waits (up to `limit`) until the route through `dev` is in, i.e. every
/// TUN device and route exists (2,000 of them take longer than `Gateway::start` waits).
fn start_gateway(
    ns: &Netns,
    dir: &TempDir,
    label: &str,
    yaml: &str,
    wrap: &[&str],
    dev: &str,
    limit: Duration,
) -> Gateway {
    let config = dir.join(&format!("{label}.yaml"));
    std::fs::write(&config, yaml).unwrap();
    let mut argv = wrap.to_vec();
    argv.extend([
        common::ikegate::bin(),
        "run",
        "--config",
        config.to_str().unwrap(),
    ]);
    let mut gw = Gateway::spawn(ns, dir, label, config.clone(), &argv, &[], None);
    let up = poll_opt(limit, || {
        let out = ns.exec(&["ip", "route", "show", "dev", dev]);
        (out.status.success() && !out.stdout.is_empty()).then_some(())
    });
    if up.is_none() {
        let (_, log) = gw.stop();
        panic!(
            "{label}: no route via {dev} after {limit:?}:\n{}",
            common::tail(&log, 40)
        );
    }
    gw
}

/// Tunnels named in "ESP SAs installed" log lines.
fn tunnels_up(log: &str) -> HashSet<String> {
    log.lines()
        .filter(|l| l.contains("ESP SAs installed"))
        .filter_map(|l| l.split("tunnel=").nth(1))
        .filter_map(|r| r.split([' ', ':']).next())
        .map(str::to_string)
        .collect()
}

#[test]
fn two_hundred_tunnels_up_within_10s() {
    two_hundred_tunnels(1, Duration::from_secs(10));
}

/// IKEv2 brings 200 tunnels up in 1.9 – 2.2 s on the shared 2-core machine (load 8 – 14),
/// 0.6 s of CPU on each side: initiation pacing (5 half-open from the one left address) makes
/// it 40 waves, each waiting for three modular exponentiations in turn (the responder's key
/// pair and shared secret, then ours), so the wall time follows the machine's load. 5 s.
#[test]
fn two_hundred_ikev2_tunnels_up_within_5s() {
    two_hundred_tunnels(2, Duration::from_secs(5));
}

/// `limit` is for up to 200 tunnels; beyond (2,000: 16 – 35 s, see the README) the test gives
/// 10 minutes and prints the time.
fn two_hundred_tunnels(version: u8, limit: Duration) {
    if !require_root() {
        return;
    }
    let n = tunnels();
    let wrap_var = std::env::var("IKEGATE_SCALE_WRAP").unwrap_or_default();
    let wrap: Vec<&str> = wrap_var.split_whitespace().collect();
    let wrap_left_var = std::env::var("IKEGATE_SCALE_WRAP_LEFT").unwrap_or_default();
    let wrap_left: Vec<&str> = wrap_left_var.split_whitespace().collect();
    let limit = if n <= 200 && wrap_left.is_empty() {
        limit
    } else {
        Duration::from_secs(600)
    };
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("scale");
    // Baseline: the same two gateways with one tunnel, up, so that the per-tunnel figures leave
    // out what any working gateway holds (its code paths paged in, its pools, its runtime).
    let base = Memory::baseline(&dir, version);
    let (left, right, _link) = sides("pfs", version, n);
    let last = format!("ipsec{}", n - 1);
    let setup = Duration::from_secs(15 * n.div_ceil(200) as u64);
    let right_yaml = right_yaml(n, version);
    let mut r = start_gateway(&right, &dir, "right", &right_yaml, &wrap, &last, setup);
    let t0 = Instant::now();
    let mut l = start_gateway(
        &left,
        &dir,
        "left",
        &left_yaml(n, version),
        &wrap_left,
        &last,
        setup,
    );
    let started = t0.elapsed();
    let all_up = poll_opt((limit * 3).min(limit + Duration::from_secs(60)), || {
        (tunnels_up(&l.log_text()).len() == n).then(|| t0.elapsed())
    });
    let up_count = tunnels_up(&l.log_text()).len();
    println!(
        "{n} IKEv{version} tunnels: interfaces and routes in {:.2} s, {up_count} up after {:.2} s",
        started.as_secs_f64(),
        all_up.unwrap_or(t0.elapsed()).as_secs_f64()
    );
    if !wrap_left.is_empty() {
        // SIGTERM: the profiler writes its report as ikegate ends.
        let (code, _) = l.stop();
        println!("left (under {wrap_left_var}) stopped: {code:?}");
        return;
    }
    let (cpu_l, cpu_r) = (cpu_s(&left), cpu_s(&right));
    println!(
        "CPU when all were up: left {cpu_l:.2} s ({:.2} ms per tunnel), right {cpu_r:.2} s \
         ({:.2} ms per tunnel), with starting (machine shared: ±20 %)",
        cpu_l * 1e3 / n as f64,
        cpu_r * 1e3 / n as f64
    );
    let busy = (Memory::of(&left), Memory::of(&right));
    std::thread::sleep(SETTLE);
    let (mem_l, mem_r) = (Memory::of(&left), Memory::of(&right));
    println!(
        "RSS with one tunnel up: left {} kB ({} kB anonymous), right {} kB ({} kB anonymous) \
         (the kernel's TUN and socket memory is not in RSS)",
        base.0.rss, base.0.anon, base.1.rss, base.1.anon
    );
    let sides = [
        ("left (1 outer address)".to_string(), mem_l, busy.0, base.0),
        (format!("right ({n} addresses)"), mem_r, busy.1, base.1),
    ];
    let per_tunnel = |kb: u64, base: u64| kb.saturating_sub(base) as f64 / (n.max(2) - 1) as f64;
    for (side, m, at_up, b) in &sides {
        println!(
            "RSS {side}: {} kB total, {:.1} kB per added tunnel, of which {:.1} kB anonymous \
             ({} kB, {:.1} kB per tunnel, as the last tunnel came up)",
            m.rss,
            per_tunnel(m.rss, b.rss),
            per_tunnel(m.anon, b.anon),
            at_up.rss,
            per_tunnel(at_up.rss, b.rss)
        );
    }
    if !wrap.is_empty() {
        // The profiler reports what is still allocated when ikegate ends: end it now, with
        // every tunnel up, so that the report is what the tunnels hold.
        let pid = ikegate_pid(&right).to_string();
        right.exec(&["kill", "-KILL", &pid]);
        std::thread::sleep(Duration::from_secs(10));
        return;
    }
    let Some(took) = all_up else {
        panic!(
            "only {up_count} of {n} tunnels up\n--- left ---\n{}\n--- right ---\n{}",
            common::tail(&l.log_text(), 40),
            common::tail(&r.log_text(), 40)
        );
    };
    assert!(
        took < limit,
        "all {n} IKEv{version} tunnels up only after {took:?} (limit {limit:?})"
    );
    // Every tunnel carries traffic (all pings in parallel, one each, a few seconds at most).
    let out = left.sh(&format!(
        "for i in $(seq 0 {}); do (ping -c1 -W5 -I 172.$((16 + i / 256)).$((i % 256)).1 \
         172.$((24 + i / 256)).$((i % 256)).1 >/dev/null 2>&1 || echo \"ipsec$i down\") & done; wait",
        n - 1
    ));
    let down = String::from_utf8_lossy(&out.stdout);
    assert!(down.trim().is_empty(), "tunnels without traffic:\n{down}");
    let budget_kb = BASE_BUDGET_KB + TUNNEL_BUDGET_KB * n as u64;
    for (side, m, _, _) in sides {
        let kb = m.rss;
        assert!(
            kb < budget_kb,
            "{side} gateway RSS {kb} kB exceeds {BASE_BUDGET_KB} kB + {TUNNEL_BUDGET_KB} kB × {n} = {budget_kb} kB"
        );
    }
    for gw in [&mut l, &mut r] {
        let t = Instant::now();
        let (code, log) = gw.stop();
        let took = t.elapsed();
        println!("{} stopped in {:.2} s", gw.label(), took.as_secs_f64());
        assert_eq!(code, Some(0), "{}", common::tail(&log, 20));
        // The TUN devices go in one kernel batch; one by one they took ≈ 20 ms each.
        let stop_limit = Duration::from_secs(2) + Duration::from_millis(2) * n as u32;
        assert!(
            took < stop_limit,
            "{} took {took:?} to stop (limit {stop_limit:?})",
            gw.label()
        );
    }
}
