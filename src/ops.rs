//! The swanctl-like commands, all through the admin API of a running gateway: `ikegate sa list`,
//! `ikegate initiate|rekey|terminate NAME`, `ikegate events` (follows the live event stream)
//! and `ikegate transcript NAME` (the decoded negotiation ladder). Each prints words, or with
//! `--json` the API's JSON.

use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ikegate::api::client::Endpoint;
use ikegate::api::model::Tunnel;
use ikegate::config::AdminConfig;
use ikegate::daemon::events::GatewayEvent;
use ikegate::ike::transcript::{Direction, Exchange, Message, Node};

/// How to reach the admin API (shared by every command that talks to a running gateway).
#[derive(clap::Args, Clone, Debug)]
pub struct AdminArgs {
    /// Configuration file of the running gateway (its `admin:` block says where the API
    /// listens and where the token is).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Admin API address (overrides the configuration; default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR:PORT")]
    pub address: Option<std::net::SocketAddr>,
    /// Token file (overrides the configuration; default /etc/ikegate/admin.token).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Print the API's JSON instead of words.
    #[arg(long)]
    pub json: bool,
}

impl AdminArgs {
    /// The `admin:` block to use: the configuration's, or the defaults, with the overrides.
    pub fn resolve(&self) -> Result<AdminConfig, ExitCode> {
        let mut admin = match &self.config {
            Some(c) => match ikegate::config::load(c) {
                Ok(cfg) => match cfg.admin {
                    Some(a) => a,
                    None => {
                        eprintln!(
                            "{}: no `admin:` block, so the gateway runs no admin API; add \
                             `admin: {{ listen: 127.0.0.1:8080 }}` and restart it",
                            c.display()
                        );
                        return Err(ExitCode::from(2));
                    }
                },
                Err(errs) => {
                    eprintln!("{}: {} error(s):", c.display(), errs.len());
                    for e in &errs {
                        eprintln!("  {e}");
                    }
                    return Err(ExitCode::from(2));
                }
            },
            None => AdminConfig {
                listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
                token_file: ikegate::config::admin::DEFAULT_TOKEN_FILE.into(),
                tls: None,
                allow_key_export: false,
            },
        };
        if let Some(a) = self.address {
            admin.listen = a;
        }
        if let Some(t) = &self.token_file {
            admin.token_file = t.clone();
        }
        Ok(admin)
    }
}

/// An admin API endpoint with its token.
pub struct Client {
    ep: Endpoint,
    token: String,
}

impl Client {
    /// Reads the token and sets up the endpoint (TLS trusting the admin certificate).
    pub fn new(admin: &AdminConfig) -> Result<Client, ExitCode> {
        let token = match std::fs::read_to_string(&admin.token_file) {
            Ok(t) => t.trim().to_string(),
            Err(e) => {
                eprintln!(
                    "cannot read the admin token {}: {e} (run as root, or pass --token-file)",
                    admin.token_file.display()
                );
                return Err(ExitCode::from(1));
            }
        };
        let ep = Endpoint::from_config(admin).map_err(|e| {
            eprintln!("{e}");
            ExitCode::from(1)
        })?;
        Ok(Client { ep, token })
    }

    /// A request whose answer must be 200; the body on success.
    pub async fn call(&self, method: &str, path: &str) -> Result<String, ExitCode> {
        match self.ep.request(method, path, Some(&self.token), None).await {
            Ok((200, body)) => Ok(body),
            Ok((code, body)) => {
                let detail = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(String::from))
                    .unwrap_or(body);
                eprintln!("the admin API answered {code}: {detail}");
                Err(ExitCode::from(1))
            }
            Err(e) => {
                eprintln!("{e} (is `ikegate run` running with an `admin:` block?)");
                Err(ExitCode::from(1))
            }
        }
    }
}

fn tunnel_path(name: &str, tail: &str) -> String {
    let enc: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect();
    format!("/api/v1/tunnels/{enc}/{tail}")
}

fn finish(r: Result<(), ExitCode>) -> ExitCode {
    r.err().unwrap_or(ExitCode::SUCCESS)
}

/// `ikegate sa list`.
pub async fn sa_list(args: &AdminArgs) -> ExitCode {
    finish(
        async {
            let c = Client::new(&args.resolve()?)?;
            let body = c.call("GET", "/api/v1/tunnels").await?;
            let ts: Vec<Tunnel> = serde_json::from_str(&body).map_err(|e| {
                eprintln!("unexpected answer from the admin API: {e}");
                ExitCode::from(1)
            })?;
            if args.json {
                println!("{}", sa_json(&ts));
            } else {
                print!("{}", sa_text(&ts));
            }
            Ok(())
        }
        .await,
    )
}

/// IKE and child SAs per tunnel, as JSON.
fn sa_json(ts: &[Tunnel]) -> serde_json::Value {
    serde_json::Value::Array(
        ts.iter()
            .map(|t| {
                serde_json::json!({
                    "tunnel": t.name,
                    "state": t.state.as_str(),
                    "ike_version": t.ike_version,
                    "local": t.local,
                    "remote": t.remote,
                    "ike_sas": t.phase1,
                    "child_sas": t.phase2,
                })
            })
            .collect(),
    )
}

/// IKE and child SAs per tunnel in words, like `swanctl --list-sas`.
pub fn sa_text(ts: &[Tunnel]) -> String {
    let mut s = String::new();
    for t in ts {
        let version = t
            .ike_version
            .map_or(t.keying.clone(), |v| format!("IKEv{v}"));
        let _ = writeln!(
            s,
            "{}: {}, {version}, {} ⇄ {}",
            t.name,
            t.state.as_str().to_uppercase(),
            t.local,
            t.remote
        );
        for p in &t.phase1 {
            let _ = writeln!(
                s,
                "  IKE SA {} ({}), SPIs {}:{}, {}, peer {}{}{}{}",
                p.state,
                p.role,
                p.initiator_cookie,
                p.responder_cookie,
                p.proposal.as_deref().unwrap_or("no proposal yet"),
                p.peer,
                p.peer_identity
                    .as_deref()
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default(),
                p.age_secs
                    .map(|a| format!(", {a}s old"))
                    .unwrap_or_default(),
                p.expires_in_secs
                    .map(|e| format!(", expires in {e}s"))
                    .unwrap_or_default(),
            );
        }
        for c in &t.phase2 {
            let sel = c
                .selectors
                .iter()
                .map(|p| format!("{} === {}", p.local, p.remote))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                s,
                "  CHILD SA{} in {} out {}, {}, {} mode, {sel}",
                if c.current { " (current)" } else { "" },
                c.inbound_spi,
                c.outbound_spi,
                c.proposal,
                c.mode,
            );
            let _ = writeln!(
                s,
                "    in {} packets / {} bytes, out {} packets / {} bytes{}{}",
                c.inbound.packets,
                c.inbound.bytes,
                c.outbound.packets,
                c.outbound.bytes,
                c.age_secs
                    .map(|a| format!(", {a}s old"))
                    .unwrap_or_default(),
                c.expires_in_secs
                    .map(|e| format!(", expires in {e}s"))
                    .unwrap_or_default(),
            );
        }
        if t.phase1.is_empty() && t.phase2.is_empty() {
            let _ = writeln!(s, "  no SAs");
        }
        if let Some(e) = &t.last_error {
            let _ = writeln!(s, "  last error: {e}");
        }
    }
    s
}

/// `ikegate initiate|rekey|terminate NAME`.
pub async fn control(verb: &str, name: &str, args: &AdminArgs) -> ExitCode {
    finish(
        async {
            let c = Client::new(&args.resolve()?)?;
            let body = c.call("POST", &tunnel_path(name, verb)).await?;
            if args.json {
                println!("{body}");
            } else {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                println!(
                    "{name}: {}",
                    v.get("result").and_then(|r| r.as_str()).unwrap_or(&body)
                );
            }
            Ok(())
        }
        .await,
    )
}

/// `ikegate transcript NAME`.
pub async fn transcript(name: &str, args: &AdminArgs) -> ExitCode {
    finish(
        async {
            let c = Client::new(&args.resolve()?)?;
            let body = c.call("GET", &tunnel_path(name, "transcript")).await?;
            if args.json {
                println!("{body}");
                return Ok(());
            }
            let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
                eprintln!("unexpected answer from the admin API: {e}");
                ExitCode::from(1)
            })?;
            let exchanges: Vec<Exchange> = v
                .get("exchanges")
                .cloned()
                .and_then(|e| serde_json::from_value(e).ok())
                .unwrap_or_default();
            print!("{}", ladder(name, &exchanges));
            Ok(())
        }
        .await,
    )
}

/// The transcript as a ladder: our side on the left, the peer's on the right, each message's
/// payload tree under its arrow, each exchange's outcome and diagnostic after it.
pub fn ladder(name: &str, exchanges: &[Exchange]) -> String {
    let mut s = String::new();
    if exchanges.is_empty() {
        let _ = writeln!(s, "{name}: no IKE exchange recorded yet");
        return s;
    }
    let _ = writeln!(
        s,
        "{name}: the last {} IKE exchange(s), oldest first",
        exchanges.len()
    );
    for e in exchanges {
        let _ = writeln!(
            s,
            "\n#{} IKEv{} {} (message ID {}, SPI {}), initiated by {}: {}",
            e.id,
            e.version,
            e.exchange,
            e.message_id,
            e.initiator_spi,
            e.initiated_by,
            e.outcome.to_uppercase()
        );
        for m in &e.messages {
            message_lines(&mut s, m);
        }
        if let Some(d) = &e.diagnostic {
            let _ = writeln!(s, "  diagnostic: {d}");
        }
    }
    s
}

fn message_lines(s: &mut String, m: &Message) {
    let arrow = match m.direction {
        Direction::Out => "us ─────────▶ peer",
        Direction::In => "us ◀───────── peer",
    };
    let kind = match m.response {
        Some(true) => " response",
        Some(false) => " request",
        None => "",
    };
    let extra = if m.datagrams > 1 {
        format!(", {} datagrams", m.datagrams)
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "  {}  {arrow}  {}{kind} ({} bytes{}{extra})",
        clock(m.time_unix_ms),
        m.exchange,
        m.length,
        if m.encrypted { ", encrypted" } else { "" },
    );
    for p in &m.payloads {
        node_lines(s, p, 3);
    }
    if let Some(n) = &m.note {
        let _ = writeln!(s, "      ({n})");
    }
}

fn node_lines(s: &mut String, n: &Node, depth: usize) {
    let _ = writeln!(s, "{}{}: {}", "  ".repeat(depth), n.name, n.text);
    for c in &n.children {
        node_lines(s, c, depth + 1);
    }
}

/// HH:MM:SS.mmm UTC of a Unix time in milliseconds.
fn clock(ms: u64) -> String {
    let secs = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        ms % 1000
    )
}

/// `ikegate events`: follows the live event stream until interrupted.
pub async fn events(args: &AdminArgs) -> ExitCode {
    finish(
        async {
            let c = Client::new(&args.resolve()?)?;
            let mut event = String::new();
            let r =
                c.ep.follow_lines("/api/v1/events", Some(&c.token), |line| {
                    if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim().to_string();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        print_event(&event, d.trim(), args.json);
                        event.clear();
                    }
                    true
                })
                .await;
            r.map_err(|e| {
                eprintln!("event stream: {e}");
                ExitCode::from(1)
            })
        }
        .await,
    )
}

fn print_event(event: &str, data: &str, json: bool) {
    match event {
        "ready" if json => {}
        "ready" => eprintln!("following events (Ctrl-C to stop)"),
        "lagged" => eprintln!("lost events (this terminal read too slowly): {data}"),
        _ if json => println!("{data}"),
        _ => match serde_json::from_str::<GatewayEvent>(data) {
            Ok(e) => {
                println!(
                    "{}  {:<8} {:<14} {}",
                    clock(e.time_unix_ms),
                    e.tunnel,
                    e.kind,
                    e.message
                );
                if let Some(d) = e.diagnostic {
                    println!("{:>26}{d}", "");
                }
            }
            Err(_) => println!("{data}"),
        },
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}
