//! The `ikegate` command: run a gateway, check a configuration, export keys, run the demo.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod demo;
mod ops;
mod status;
mod users;

/// Userspace IPsec gateway on route-based TUN interfaces.
#[derive(Parser)]
#[command(name = "ikegate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway in the foreground until SIGINT/SIGTERM.
    Run {
        /// Configuration file (YAML).
        #[arg(long, short)]
        config: PathBuf,
        /// Append the keys of every negotiated ESP SA to FILE in Wireshark's esp_sa format
        /// (explicit key export, for decrypting captures; the file is created mode 0600).
        #[arg(long, value_name = "FILE")]
        wireshark_keylog: Option<PathBuf>,
    },
    /// Validate a configuration file and list every error.
    Check {
        /// Configuration file (YAML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the SA keys of a configuration for Wireshark (explicit, opt-in key export).
    Keys {
        /// Configuration file (YAML).
        #[arg(long, short)]
        config: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "wireshark-esp")]
        format: KeyFormat,
    },
    /// Print the tunnel table of a running gateway through its admin API (like
    /// `swanctl --list-sas`).
    Status {
        #[command(flatten)]
        admin: ops::AdminArgs,
    },
    /// IKE and child SAs of a running gateway (`sa list`, like `swanctl --list-sas`).
    Sa {
        #[command(subcommand)]
        command: SaCommand,
    },
    /// Bring a tunnel up now, through the admin API (like `swanctl --initiate`).
    Initiate {
        /// Tunnel (interface) name.
        name: String,
        #[command(flatten)]
        admin: ops::AdminArgs,
    },
    /// Negotiate new SAs for a tunnel now, make-before-break, through the admin API.
    Rekey {
        /// Tunnel (interface) name.
        name: String,
        #[command(flatten)]
        admin: ops::AdminArgs,
    },
    /// Delete a tunnel's SAs and stop initiating it until `initiate` (like `swanctl
    /// --terminate`).
    Terminate {
        /// Tunnel (interface) name.
        name: String,
        #[command(flatten)]
        admin: ops::AdminArgs,
    },
    /// Follow the live events of a running gateway (SA up/down, rekeys, DPD, failures).
    Events {
        #[command(flatten)]
        admin: ops::AdminArgs,
    },
    /// Print a tunnel's decoded negotiation transcript (the last IKE exchanges, decrypted).
    Transcript {
        /// Tunnel (interface) name.
        name: String,
        #[command(flatten)]
        admin: ops::AdminArgs,
    },
    /// Convert a SEIL or strongSwan (swanctl.conf) configuration into ikegate's YAML, with a
    /// comment for every setting that cannot be carried.
    Import {
        /// What FILE holds.
        #[arg(value_enum)]
        format: ImportFormat,
        /// The configuration to read.
        file: PathBuf,
        /// Write the YAML to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Build two network namespaces, run two gateways, ping across the tunnel (needs root).
    Demo {
        /// Exit after the pings instead of waiting for Ctrl-C.
        #[arg(long)]
        once: bool,
        /// IKE version of the demo tunnel: 2 (Curve25519 + AES-GCM, the default) or 1 (IKEv1
        /// Main Mode with SEIL's default proposal).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
        ike: u8,
    },
    /// Manage a remote-access users file (`remote-access.users-file`).
    Users {
        #[command(subcommand)]
        action: users::UsersAction,
    },
}

#[derive(Subcommand)]
enum SaCommand {
    /// List the IKE and child SAs of every tunnel.
    List {
        #[command(flatten)]
        admin: ops::AdminArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyFormat {
    /// Wireshark's `esp_sa` table lines.
    WiresharkEsp,
}

#[derive(Clone, Copy, ValueEnum)]
enum ImportFormat {
    /// SEIL `key: value` lines (`interface.ipsecN.*`, `route.ipv4.N.*`, `ike.peer.*` …).
    Seil,
    /// strongSwan swanctl.conf (`connections` and `secrets`).
    Swanctl,
}

/// `ikegate import`: reads, converts, checks the result like `ikegate check`, writes it.
fn import(
    format: ImportFormat,
    file: &std::path::Path,
    output: Option<&std::path::Path>,
) -> ExitCode {
    use ikegate::import::Format;
    let format = match format {
        ImportFormat::Seil => Format::Seil,
        ImportFormat::Swanctl => Format::Swanctl,
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let yaml = match ikegate::import::import(format, &text, &file.display().to_string()) {
        Ok(y) => y,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let base = output
        .and_then(std::path::Path::parent)
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    if let Err(errs) = ikegate::config::parse(&yaml, &base) {
        eprintln!(
            "{}: the imported configuration does not pass `ikegate check` ({} error(s)); please \
             report this with the file:",
            file.display(),
            errs.len()
        );
        for e in &errs {
            eprintln!("  {e}");
        }
        return ExitCode::from(1);
    }
    match output {
        Some(o) => match write_private(o, &yaml) {
            Ok(()) => {
                eprintln!("wrote {}", o.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", o.display());
                ExitCode::from(1)
            }
        },
        None => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
    }
}

/// Writes a file that holds pre-shared keys: mode 0600 from the start.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

fn load(config: &std::path::Path) -> Result<ikegate::config::Config, ExitCode> {
    ikegate::config::load(config).map_err(|errs| {
        eprintln!("{}: {} error(s):", config.display(), errs.len());
        for e in &errs {
            eprintln!("  {e}");
        }
        ExitCode::from(2)
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match load(&config) {
            Ok(c) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                for w in c.warnings(now) {
                    eprintln!("warning: {w}");
                }
                println!("config OK: {} interface(s)", c.interfaces.len());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Keys {
            config,
            format: KeyFormat::WiresharkEsp,
        } => match load(&config) {
            Ok(c) => {
                print!("{}", ikegate::keys::wireshark_esp(&c));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Run {
            config,
            wireshark_keylog,
        } => {
            let cfg = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            if let Err(e) = ikegate::daemon::privileges::check(&cfg) {
                eprintln!("ikegate: {e}");
                return ExitCode::from(1);
            }
            init_logging();
            for w in ikegate::config::weak_settings(&cfg) {
                tracing::warn!("{w}");
            }
            let opts = ikegate::daemon::Options { wireshark_keylog };
            runtime().block_on(run(cfg, opts, config))
        }
        Command::Status { admin } => match admin.resolve() {
            Ok(a) => runtime().block_on(status::run(&a, admin.json)),
            Err(code) => code,
        },
        Command::Sa {
            command: SaCommand::List { admin },
        } => runtime().block_on(ops::sa_list(&admin)),
        Command::Initiate { name, admin } => {
            runtime().block_on(ops::control("initiate", &name, &admin))
        }
        Command::Rekey { name, admin } => runtime().block_on(ops::control("rekey", &name, &admin)),
        Command::Terminate { name, admin } => {
            runtime().block_on(ops::control("terminate", &name, &admin))
        }
        Command::Events { admin } => runtime().block_on(ops::events(&admin)),
        Command::Transcript { name, admin } => runtime().block_on(ops::transcript(&name, &admin)),
        Command::Users { action } => users::run(action),
        Command::Import {
            format,
            file,
            output,
        } => import(format, &file, output.as_deref()),
        Command::Demo { once, ike } => {
            init_logging();
            runtime().block_on(demo::run(once, ike))
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime")
}

async fn run(
    cfg: ikegate::config::Config,
    opts: ikegate::daemon::Options,
    path: std::path::PathBuf,
) -> ExitCode {
    use tokio::signal::unix::{signal, SignalKind};
    let mut gw = match ikegate::daemon::Gateway::start(&cfg, &opts).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("ikegate: {e}");
            return ExitCode::from(1);
        }
    };
    let api_state = std::sync::Arc::new(gw.admin_state());
    let admin = match &cfg.admin {
        Some(a) => match ikegate::api::start(a, api_state.clone()).await {
            Ok(s) => {
                if s.token_generated {
                    eprintln!(
                        "ikegate: admin API token written to {}",
                        s.token_file.display()
                    );
                }
                Some(s)
            }
            Err(e) => {
                eprintln!("ikegate: {e}");
                gw.shutdown().await;
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    tracing::info!(
        "running with {} interface(s); SIGINT/SIGTERM to stop, SIGHUP to reload {}",
        cfg.interfaces.len(),
        path.display()
    );
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("ikegate: cannot install signal handlers");
        return ExitCode::from(1);
    };
    let device_lost = gw.device_lost_signal();
    let mut code = ExitCode::SUCCESS;
    loop {
        tokio::select! {
            _ = device_lost.notified() => {
                eprintln!(
                    "ikegate: TUN device(s) {} deleted under us; stopping (exit status 1) so \
                     that the service manager starts ikegate again with new devices",
                    gw.lost_devices().join(", ")
                );
                code = ExitCode::from(1);
                break;
            }
            _ = int.recv() => break,
            _ = term.recv() => break,
            _ = hup.recv() => match ikegate::config::load(&path) {
                Ok(new) => {
                    for line in gw.reload(&new).await {
                        tracing::info!("reload: {line}");
                    }
                    api_state.sync_policies(gw.running_policies()).await;
                    if new.admin != cfg.admin {
                        tracing::warn!("reload: the admin: block changed; it applies at the next restart");
                    }
                }
                Err(errs) => {
                    tracing::warn!(
                        "reload: {} has {} error(s), keeping the running configuration",
                        path.display(),
                        errs.len()
                    );
                    for e in &errs {
                        tracing::warn!("reload:   {e}");
                    }
                }
            },
        }
    }
    if let Some(a) = admin {
        a.stop();
    }
    let status = gw.status_text();
    gw.shutdown().await;
    eprint!("ikegate stopped; final counters:\n{status}");
    code
}
