//! `ikegate demo`: two network namespaces joined by a veth pair, a gateway in each, pings across
//! the ESP tunnel, counters, and commands to look around. Cleans up on exit.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const LEFT: &str = "ikegate-demo-left";
const RIGHT: &str = "ikegate-demo-right";
/// Where the left gateway's admin API listens, inside its namespace.
const ADMIN_IN_NS: &str = "127.0.0.1:8080";

/// Namespaces, gateway processes and files of the demo; removed on drop (also on panic).
struct Lab {
    dir: PathBuf,
    children: Vec<(String, Child)>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        for (_, c) in &mut self.children {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [LEFT, RIGHT] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", args[0]))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("no OS randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The `ike:` block of the demo: IKEv2 with Curve25519 and AES-GCM, or IKEv1 Main Mode with
/// SEIL's default phase-1 proposal.
fn ike_block(version: u8) -> &'static str {
    if version == 1 {
        "    ike:\n      version: 1\n      exchange-mode: main\n      proposal:\n"
    } else {
        "    ike:\n      version: 2\n      proposal:\n        phase1: { encryption: aes128-gcm, prf: sha256, dh-group: curve25519 }\n"
    }
}

/// A gateway's configuration with a pre-shared key (see [`ike_block`]); the right side only
/// responds.
#[allow(clippy::too_many_arguments)]
fn config(
    src: &str,
    dst: &str,
    local_lan: &str,
    remote_lan: &str,
    psk: &str,
    responder: bool,
    admin: &str,
    version: u8,
) -> String {
    let responder = if responder { "enable" } else { "disable" };
    let ike = ike_block(version);
    format!(
        "# written by `ikegate demo`\n{admin}\
interfaces:\n  ipsec0:\n    ipv4: {{ source: {src}, destination: {dst} }}\n    nat-traversal: disable\n    preshared-key: {psk}\n    responder-only: {responder}\n{ike}        phase2:\n          proxy-id:\n            ipv4: {{ local: {local_lan}, remote: {remote_lan} }}\n          encryption: [aes128-gcm, aes256]\n          authentication: [hmac-sha256]\n\
route:\n  ipv4:\n    - {{ destination: {remote_lan}, gateway: ipsec0 }}\n"
    )
}

fn setup(dir: &Path, version: u8) -> Result<(), String> {
    for ns in [LEFT, RIGHT] {
        let _ = Command::new("ip")
            .args(["netns", "del", ns])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", ns])?;
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
    }
    sh(&[
        "ip",
        "link",
        "add",
        "ikg-demo-l",
        "netns",
        LEFT,
        "type",
        "veth",
        "peer",
        "name",
        "ikg-demo-r",
        "netns",
        RIGHT,
    ])?;
    for (ns, dev, outer, lan) in [
        (LEFT, "ikg-demo-l", "10.0.0.1/24", "192.168.1.1/32"),
        (RIGHT, "ikg-demo-r", "10.0.0.2/24", "192.168.2.1/32"),
    ] {
        sh(&["ip", "-n", ns, "addr", "add", outer, "dev", dev])?;
        sh(&["ip", "-n", ns, "link", "set", dev, "up"])?;
        sh(&["ip", "-n", ns, "addr", "add", lan, "dev", "lo"])?;
    }
    let psk = random_hex(12);
    let (l, r) = ("192.168.1.0/24", "192.168.2.0/24");
    let write =
        |name: &str, text: String| std::fs::write(dir.join(name), text).map_err(|e| e.to_string());
    let admin = format!(
        "admin:\n  listen: {ADMIN_IN_NS}\n  token-file: {}\n",
        dir.join("admin.token").display()
    );
    write(
        "left.yaml",
        config("10.0.0.1", "10.0.0.2", l, r, &psk, false, &admin, version),
    )?;
    write(
        "right.yaml",
        config("10.0.0.2", "10.0.0.1", r, l, &psk, true, "", version),
    )?;
    Ok(())
}

fn start_gateway(lab: &mut Lab, ns: &str, cfg: &Path, extra: &[&str]) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let log =
        std::fs::File::create(lab.dir.join(format!("{ns}.log"))).map_err(|e| e.to_string())?;
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(&exe)
        .arg("run")
        .arg("--config")
        .arg(cfg)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start the gateway: {e}"))?;
    lab.children.push((ns.to_string(), child));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(r) = sh(&["ip", "-n", ns, "route", "show", "dev", "ipsec0"]) {
            if !r.trim().is_empty() {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "the gateway in {ns} did not come up; its log:\n{}",
        std::fs::read_to_string(lab.dir.join(format!("{ns}.log"))).unwrap_or_default()
    ))
}

/// Runs the demo. `once`: exit after the pings instead of waiting for Ctrl-C.
/// `ike`: the IKE version of the tunnel (1 or 2).
pub async fn run(once: bool, ike: u8) -> ExitCode {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("ikegate demo builds network namespaces and TUN devices: run it as root (sudo ikegate demo)");
        return ExitCode::from(1);
    }
    let dir = std::env::temp_dir().join(format!("ikegate-demo-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    let mut lab = Lab {
        dir: dir.clone(),
        children: vec![],
    };
    match demo(&mut lab, once, ike).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::from(1)
        }
    }
}

async fn demo(lab: &mut Lab, once: bool, version: u8) -> Result<(), String> {
    println!("== ikegate demo ==");
    println!("1. two network namespaces, {LEFT} (10.0.0.1, LAN 192.168.1.1) and {RIGHT} (10.0.0.2, LAN 192.168.2.1), joined by a veth pair");
    let dir = lab.dir.clone();
    setup(&dir, version)?;
    if version == 1 {
        println!("2. a gateway in each: IKEv1 Main Mode + Quick Mode with a fresh random pre-shared key,");
        println!("   SEIL's default phase-1 proposal, ESP tunnel mode over raw IP protocol 50:");
    } else {
        println!("2. a gateway in each: IKEv2 (IKE_SA_INIT + IKE_AUTH) with a fresh random pre-shared key,");
        println!(
            "   Curve25519 + AES-128-GCM for the IKE SA, ESP tunnel mode over raw IP protocol 50"
        );
        println!("   (`ikegate demo --ike 1` shows IKEv1 instead):");
    }
    println!("   {}   (initiator)", dir.join("left.yaml").display());
    println!("   {}  (responder-only)", dir.join("right.yaml").display());
    let keylog = dir.join("esp_sa.keys");
    start_gateway(lab, RIGHT, &dir.join("right.yaml"), &[])?;
    start_gateway(
        lab,
        LEFT,
        &dir.join("left.yaml"),
        &["--wireshark-keylog", &keylog.display().to_string()],
    )?;
    let log = dir.join(format!("{LEFT}.log"));
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut negotiated = String::new();
    while Instant::now() < deadline {
        negotiated = std::fs::read_to_string(&log).unwrap_or_default();
        if negotiated.contains("ESP SAs installed") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !negotiated.contains("ESP SAs installed") {
        return Err(format!(
            "IKE did not complete within 15 s; the initiator's log:\n{negotiated}"
        ));
    }
    for l in negotiated.lines().filter(|l| {
        l.contains("phase 1 up") || l.contains("IKEv2 SA up") || l.contains("ESP SAs installed")
    }) {
        let text = l
            .split_once("ikegate::daemon::ike: ")
            .map(|(_, t)| t)
            .unwrap_or(l);
        println!("   [{LEFT}] {text}");
    }
    println!("3. ping 192.168.1.1 → 192.168.2.1 through ipsec0, and back:");
    let mut ok = true;
    for (ns, src, dst) in [
        (LEFT, "192.168.1.1", "192.168.2.1"),
        (RIGHT, "192.168.2.1", "192.168.1.1"),
    ] {
        match sh(&[
            "ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", src, dst,
        ]) {
            Ok(out) => {
                for l in out
                    .lines()
                    .filter(|l| l.contains("bytes from") || l.contains("packet loss"))
                {
                    println!("   [{ns}] {l}");
                }
            }
            Err(e) => {
                ok = false;
                println!("   [{ns}] {e}");
            }
        }
    }
    let panel = match admin_forward(&dir).await {
        Ok(url) => Some(url),
        Err(e) => {
            println!("   (the admin panel is not reachable from the host: {e})");
            None
        }
    };
    println!("4. look around (in another shell, while the demo runs):");
    if let Some((url, token)) = &panel {
        println!("   web panel and API of {LEFT}: {url}   (token: {token})");
        println!(
            "   {} status --address {} --token-file {}",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or("ikegate".into()),
            url.trim_start_matches("http://").trim_end_matches('/'),
            dir.join("admin.token").display()
        );
        println!("   curl -H 'Authorization: Bearer {token}' {url}metrics");
    }
    println!("   ip netns exec {LEFT} ip route show dev ipsec0");
    println!("   ip netns exec {LEFT} ip -s link show ipsec0");
    println!("   ip netns exec {LEFT} tcpdump -ni ikg-demo-l esp");
    println!("   ip netns exec {LEFT} ping -I 192.168.1.1 192.168.2.1");
    println!(
        "   cat {}   # the negotiated ESP keys in Wireshark's esp_sa format",
        keylog.display()
    );
    println!(
        "   {} check --config {}",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or("ikegate".into()),
        dir.join("left.yaml").display()
    );
    if !once && ok {
        println!("the tunnel stays up until you press Ctrl-C");
        let _ = tokio::signal::ctrl_c().await;
    }
    println!("5. stopping the gateways; their final counters:");
    let children = std::mem::take(&mut lab.children);
    for (ns, mut c) in children {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = c.wait();
        let log = std::fs::read_to_string(dir.join(format!("{ns}.log"))).unwrap_or_default();
        if let Some(pos) = log.find("ikegate stopped") {
            for l in log[pos..].lines() {
                println!("   [{ns}] {l}");
            }
        }
    }
    println!("6. namespaces removed");
    if ok {
        Ok(())
    } else {
        Err("pings did not cross the tunnel (see above)".into())
    }
}

/// Makes the left gateway's admin API (listening on loopback inside its namespace) reachable
/// on the host's loopback: a small TCP relay whose outgoing connections are opened inside the
/// namespace. Returns the URL and the token.
async fn admin_forward(dir: &Path) -> Result<(String, String), String> {
    let token_file = dir.join("admin.token");
    let deadline = Instant::now() + Duration::from_secs(5);
    let token = loop {
        match std::fs::read_to_string(&token_file) {
            Ok(t) if !t.trim().is_empty() => break t.trim().to_string(),
            _ if Instant::now() > deadline => {
                return Err(format!("{} was not written", token_file.display()))
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:8080").await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen on the host's loopback: {e}"))?,
    };
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let target: std::net::SocketAddr = ADMIN_IN_NS.parse().map_err(|e| format!("{e}"))?;
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(Ok(std_stream)) =
                    tokio::task::spawn_blocking(move || connect_in_netns(LEFT, target)).await
                else {
                    return;
                };
                if std_stream.set_nonblocking(true).is_err() {
                    return;
                }
                if let Ok(mut upstream) = tokio::net::TcpStream::from_std(std_stream) {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    Ok((format!("http://{local}/"), token))
}

/// Connects to `addr` from inside network namespace `ns` (on a short-lived thread, so only that
/// thread changes namespace; the socket stays in it).
fn connect_in_netns(ns: &str, addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path)?;
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(std::io::Error::from)?;
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
    })
    .join()
    .map_err(|_| std::io::Error::other("the namespace thread panicked"))?
}
