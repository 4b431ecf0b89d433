//! Interop driver: runs one ikegate IKE engine on real UDP sockets (ports 500 and 4500) and
//! prints its events, for testing against strongSwan in a network namespace. A dev tool, not
//! the daemon: blocking std sockets, a 10 ms poll loop, keys printed on request.
//!
//! ```text
//! ike_interop --local 10.77.0.1 --remote 10.77.0.2 --psk secret --initiate \
//!     --enc aes256 --hash sha256 --dh modp1536 --esp-enc aes256 --esp-auth hmac-sha256 \
//!     --local-ts 192.168.1.0/24 --remote-ts 192.168.2.0/24 --seconds 20 --print-keys
//! ```
//! See `examples/ike_interop.sh` for the namespace and charon setup.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use clap::Parser;
use ikegate::crypto::dh::DhGroup;
use ikegate::crypto::ike_cipher::IkeCipher;
use ikegate::crypto::prf::HashAlg;
use ikegate::crypto::{EncAlg, EspKeys, IntegAlg};
use ikegate::ike::{Engine, Event, IkePolicy, NatTraversal, OsRandom, ProxyId};

#[derive(Parser, Debug)]
#[command(
    about = "Run the ikegate IKEv1 engine against a real peer",
    args_override_self = true
)]
struct Args {
    /// Our address (the sockets bind 0.0.0.0).
    #[arg(long)]
    local: IpAddr,
    /// The peer's address.
    #[arg(long)]
    remote: IpAddr,
    /// Pre-shared key.
    #[arg(long)]
    psk: String,
    /// Start Main Mode ourselves.
    #[arg(long)]
    initiate: bool,
    /// Never initiate.
    #[arg(long)]
    responder_only: bool,
    /// Phase-1 encryption list (aes128, aes192, aes256, 3des); default SEIL's.
    #[arg(long, value_delimiter = ',')]
    enc: Vec<String>,
    /// Phase-1 hash list (md5, sha1, sha256, sha384, sha512).
    #[arg(long, value_delimiter = ',')]
    hash: Vec<String>,
    /// Phase-1 DH group (modp768 … modp4096).
    #[arg(long)]
    dh: Option<String>,
    /// ESP encryption list (aes128, aes256, 3des, aes128-gcm, aes256-gcm …).
    #[arg(long, value_delimiter = ',')]
    esp_enc: Vec<String>,
    /// ESP integrity list (hmac-sha1, hmac-sha256 …).
    #[arg(long, value_delimiter = ',')]
    esp_auth: Vec<String>,
    /// PFS group for Quick Mode.
    #[arg(long)]
    pfs: Option<String>,
    /// Local proxy-id.
    #[arg(long, default_value = "0.0.0.0/0")]
    local_ts: String,
    /// Remote proxy-id.
    #[arg(long, default_value = "0.0.0.0/0")]
    remote_ts: String,
    /// NAT traversal: disable, enable, force.
    #[arg(long, default_value = "enable")]
    nat: String,
    /// Phase-2 lifetime in seconds.
    #[arg(long)]
    p2_lifetime: Option<u32>,
    /// Run this long, then exit.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Call shutdown (Delete payloads) this many seconds after start.
    #[arg(long)]
    shutdown_after: Option<u64>,
    /// Exit as soon as this many ESP SA pairs are up (0 = never).
    #[arg(long, default_value_t = 0)]
    exit_after_children: usize,
    /// Print ESP keys (hex) in ChildSaUp.
    #[arg(long)]
    print_keys: bool,
    /// charon's log (with `chd = 4`): at exit, compare the last ESP keys it derived with ours.
    #[arg(long)]
    charon_log: Option<std::path::PathBuf>,
}

/// The last "<what> key => N bytes" hex dump in a charon log (chd = 4).
fn charon_key(log: &str, what: &str) -> Option<Vec<u8>> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains(&format!("{what} key =>")))?;
    let mut out = Vec::new();
    for l in lines.iter().skip(start + 1) {
        // "hh:mm:ss 11[CHD]    0: 70 88 1B ...  p.....I6"
        let Some((_, rest)) = l.split_once("[CHD]") else {
            break;
        };
        let Some((off, bytes)) = rest.split_once(": ") else {
            break;
        };
        if off.trim().parse::<usize>().is_err() {
            break;
        }
        for h in bytes.split_whitespace().take(16) {
            match u8::from_str_radix(h, 16) {
                Ok(b) if h.len() == 2 => out.push(b),
                _ => break,
            }
        }
    }
    Some(out)
}

fn check_keys(path: &std::path::Path, inbound: &EspKeys, outbound: &EspKeys) {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let get = |w| charon_key(&log, w).unwrap_or_default();
    let (ei, er, ii, ir) = (
        get("encryption initiator"),
        get("encryption responder"),
        get("integrity initiator"),
        get("integrity responder"),
    );
    let ours = |k: &EspKeys| (k.enc_key.to_vec(), k.integ_key.to_vec());
    let (i_dir, r_dir) = ((ei.clone(), ii.clone()), (er.clone(), ir.clone()));
    let same = (ours(outbound) == i_dir && ours(inbound) == r_dir)
        || (ours(inbound) == i_dir && ours(outbound) == r_dir);
    if same && !ei.is_empty() {
        println!(
            "KEYCHECK ok: charon derived the same ESP keys (enc {} + {} bytes, integ {} + {} bytes)",
            ei.len(),
            er.len(),
            ii.len(),
            ir.len()
        );
    } else {
        println!(
            "KEYCHECK MISMATCH: charon enc_i={} enc_r={} integ_i={} integ_r={}",
            hex(&ei),
            hex(&er),
            hex(&ii),
            hex(&ir)
        );
    }
}

fn list<T>(v: &[String], f: impl Fn(&str) -> Option<T>, what: &str) -> Vec<T> {
    v.iter()
        .map(|s| f(s).unwrap_or_else(|| panic!("unknown {what} '{s}'")))
        .collect()
}

fn policy(a: &Args) -> IkePolicy {
    let mut p = IkePolicy::seil_defaults(a.local, a.remote, a.psk.as_bytes());
    p.responder_only = a.responder_only;
    p.reinitiate_after = None;
    if !a.enc.is_empty() {
        p.phase1.encryption = list(&a.enc, IkeCipher::from_name, "encryption");
    }
    if !a.hash.is_empty() {
        p.phase1.hash = list(&a.hash, HashAlg::from_name, "hash");
    }
    if let Some(g) = &a.dh {
        p.phase1.dh_group = DhGroup::from_name(g).expect("unknown dh group");
    }
    if !a.esp_enc.is_empty() {
        p.phase2.encryption = list(&a.esp_enc, EncAlg::from_config_name, "esp encryption");
    }
    if !a.esp_auth.is_empty() {
        p.phase2.authentication = list(
            &a.esp_auth,
            IntegAlg::from_config_name,
            "esp authentication",
        );
    }
    p.phase2.pfs_group = a
        .pfs
        .as_deref()
        .map(|g| DhGroup::from_name(g).expect("unknown pfs group"));
    if let Some(l) = a.p2_lifetime {
        p.phase2.lifetime_secs = l;
    }
    p.phase2.proxy_ids = vec![ProxyId {
        local: a.local_ts.parse().expect("local-ts"),
        remote: a.remote_ts.parse().expect("remote-ts"),
    }];
    p.nat_traversal = match a.nat.as_str() {
        "disable" => NatTraversal::Disable,
        "force" => NatTraversal::Force,
        _ => NatTraversal::Enable,
    };
    p
}

fn keys(k: &EspKeys) -> String {
    format!(
        "spi=0x{:08x} enc={:?} key=0x{} integ={:?} key=0x{}",
        k.spi,
        k.enc,
        hex(&k.enc_key),
        k.integ,
        hex(&k.integ_key)
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ikegate=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let pol = policy(&args);
    let s500 = UdpSocket::bind("0.0.0.0:500").expect("bind udp/500");
    let s4500 = UdpSocket::bind("0.0.0.0:4500").expect("bind udp/4500");
    s500.set_nonblocking(true).expect("nonblocking");
    s4500.set_nonblocking(true).expect("nonblocking");
    let mut engine = Engine::new(pol, Box::new(OsRandom));
    let start = Instant::now();
    if args.initiate {
        engine.initiate(start);
    }
    let mut shut = false;
    let mut children = 0usize;
    let mut buf = vec![0u8; 65536];
    let mut last_keys: Option<(EspKeys, EspKeys)> = None;
    loop {
        let now = Instant::now();
        while let Some(t) = engine.poll_transmit() {
            let r = if t.local_port == 4500 {
                let mut d = vec![0u8; 4];
                d.extend_from_slice(&t.data);
                s4500.send_to(&d, t.remote)
            } else {
                s500.send_to(&t.data, t.remote)
            };
            if let Err(e) = r {
                eprintln!("send to {} failed: {e}", t.remote);
            }
        }
        while let Some(ev) = engine.poll_event() {
            match &ev {
                Event::ChildSaUp {
                    inbound,
                    outbound,
                    udp_encap,
                    selectors,
                    lifetime,
                    lifetime_bytes,
                    ..
                } => {
                    children += 1;
                    last_keys = Some((inbound.clone(), outbound.clone()));
                    println!(
                        "EVENT ChildSaUp selectors={selectors:?} udp_encap={udp_encap:?} lifetime={lifetime:?} bytes={lifetime_bytes}"
                    );
                    if args.print_keys {
                        println!("  inbound  {}", keys(inbound));
                        println!("  outbound {}", keys(outbound));
                    } else {
                        println!("  inbound {inbound:?}\n  outbound {outbound:?}");
                    }
                }
                Event::Failed { cause } => println!("EVENT Failed: {cause}"),
                other => println!("EVENT {other:?}"),
            }
        }
        if args.exit_after_children > 0 && children >= args.exit_after_children {
            break;
        }
        if let Some(after) = args.shutdown_after {
            if !shut && now.duration_since(start) >= Duration::from_secs(after) {
                shut = true;
                engine.shutdown(now);
                continue;
            }
        }
        if now.duration_since(start) >= Duration::from_secs(args.seconds) {
            break;
        }
        let mut got = false;
        for (sock, port) in [(&s500, 500u16), (&s4500, 4500u16)] {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    got = true;
                    let data = buf.get(..n).unwrap_or(&[]);
                    let local = SocketAddr::new(args.local, port);
                    if port == 4500 {
                        match data {
                            [0xff] => continue, // NAT-T keepalive
                            [0, 0, 0, 0, rest @ ..] => {
                                engine.handle_datagram(now, local, from, rest)
                            }
                            _ => println!(
                                "ESP packet from {from} ({n} bytes) — not handled by this driver"
                            ),
                        }
                    } else {
                        engine.handle_datagram(now, local, from, data);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => eprintln!("recv: {e}"),
            }
        }
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
        if !got {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    if let (Some(path), Some((i, o))) = (&args.charon_log, &last_keys) {
        std::thread::sleep(Duration::from_millis(300));
        check_keys(path, i, o);
    }
    let st = engine.status();
    println!(
        "STATUS phase1={:?}",
        st.phase1
            .iter()
            .map(|p| (p.state, p.proposal.clone()))
            .collect::<Vec<_>>()
    );
    println!(
        "STATUS children={:?}",
        st.children
            .iter()
            .map(|c| (
                format!("{:08x}/{:08x}", c.inbound_spi, c.outbound_spi),
                c.proposal.clone()
            ))
            .collect::<Vec<_>>()
    );
    println!("STATUS last_error={:?}", st.last_error);
    println!("STATUS stats={:?}", st.stats);
}
