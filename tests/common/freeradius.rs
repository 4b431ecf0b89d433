//! A FreeRADIUS 3.2 server (Debian's `freeradius`) in its own network namespace, from a
//! configuration directory generated per test: one client entry (127.0.0.1 with a secret),
//! a users file, PAP, and EAP with MD5 and MS-CHAPv2 (no TLS, so no certificates). It listens
//! on 127.0.0.1:1812 inside the namespace; [`FreeRadius::socket`] makes a UDP socket there for
//! the client under test.

use super::netns::{in_netns, BgProcess, Netns};
use super::{poll_opt, tail, TempDir};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

/// The RADIUS port the server listens on inside its namespace.
pub const PORT: u16 = 1812;

/// A user in the server's users file.
pub struct User<'a> {
    pub name: &'a str,
    pub password: &'a str,
    /// Sent as Reply-Message in the Access-Accept.
    pub reply_message: &'a str,
}

/// How to start a server.
pub struct Options<'a> {
    /// The shared secret of its one client entry.
    pub secret: &'a str,
    pub users: &'a [User<'a>],
    /// The client entry's address or network (`10.9.0.0/24`).
    pub clients: &'a str,
    /// The EAP method it proposes after the identity (`md5`, `mschapv2`).
    pub default_eap_type: &'a str,
    /// The namespace's name prefix (unique per test file: tests run at once).
    pub ns_prefix: &'a str,
}

/// A running FreeRADIUS; killed, and its namespace deleted, on drop.
pub struct FreeRadius {
    // Field order is drop order: the process before its namespace and directory.
    process: BgProcess,
    ns: Netns,
    dir: TempDir,
    pub secret: String,
}

/// `freeradius -v`'s first line (`radiusd: FreeRADIUS Version 3.2.1, …`).
pub fn version() -> String {
    let out = std::process::Command::new("freeradius")
        .arg("-v")
        .output()
        .expect("running freeradius -v");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

impl FreeRadius {
    /// Starts a server knowing `users`, sharing `secret` with clients from 127.0.0.1. A
    /// rejected login gets `Reply-Message = "Login refused for NAME"`.
    pub fn start(secret: &str, users: &[User<'_>]) -> FreeRadius {
        FreeRadius::start_with(&Options {
            secret,
            users,
            clients: "127.0.0.1",
            default_eap_type: "md5",
            ns_prefix: "frad",
        })
    }

    /// Starts a server as `o` says.
    pub fn start_with(o: &Options<'_>) -> FreeRadius {
        let ns = Netns::new(o.ns_prefix);
        let dir = TempDir::new("freeradius");
        write_config(&dir, o);
        let log = dir.join("radiusd.log");
        let conf = dir.path().display().to_string();
        let process = ns.spawn(&["freeradius", "-X", "-d", &conf], Some(&log));
        let server = FreeRadius {
            process,
            ns,
            dir,
            secret: o.secret.into(),
        };
        let ready = poll_opt(Duration::from_secs(20), || {
            server
                .log()
                .contains("Ready to process requests")
                .then_some(())
        });
        if ready.is_none() {
            panic!(
                "FreeRADIUS did not become ready in 20 s; its log:\n{}",
                tail(&server.log(), 60)
            );
        }
        server
    }

    /// The server's log (`-X` debug output) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("radiusd.log")).unwrap_or_default()
    }

    /// The last lines of the log, for assertion messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log(), 80)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], PORT))
    }

    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// A UDP socket made inside the server's namespace, connected to `to` (nonblocking, ready
    /// for `tokio::net::UdpSocket::from_std`).
    pub fn socket(&self, to: SocketAddr) -> UdpSocket {
        socket_in(self.ns.name(), to)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Stops the server (SIGKILL); its namespace stays.
    pub fn stop(&mut self) {
        self.process.kill();
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// A UDP socket made in namespace `ns` on 127.0.0.1, connected to `to` (setns on a
/// short-lived thread: the namespace sticks to the socket, the test's threads stay where
/// they are).
pub fn socket_in(ns: &str, to: SocketAddr) -> UdpSocket {
    in_netns(ns, move || {
        let s = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP socket");
        s.connect(to).expect("connecting the UDP socket");
        s.set_nonblocking(true).expect("nonblocking");
        s
    })
}

/// A UDP socket bound to `addr` in namespace `ns` that nobody reads: a server that never
/// answers.
pub fn bound_in(ns: &str, addr: SocketAddr) -> UdpSocket {
    in_netns(ns, move || {
        UdpSocket::bind(addr).expect("binding a UDP socket")
    })
}

fn write_config(dir: &TempDir, o: &Options<'_>) {
    let d = dir.path().display().to_string();
    for sub in ["log", "run"] {
        std::fs::create_dir_all(dir.join(sub)).expect("creating the FreeRADIUS directories");
    }
    std::fs::write(dir.join("dictionary"), "").expect("writing dictionary");
    let mut users_file = String::new();
    for u in o.users {
        users_file.push_str(&format!(
            "{} Cleartext-Password := \"{}\"\n\tReply-Message := \"{}\"\n\n",
            u.name, u.password, u.reply_message
        ));
    }
    std::fs::write(dir.join("users"), users_file).expect("writing users");
    let conf = RADIUSD_CONF
        .replace("@DIR@", &d)
        .replace("@SECRET@", o.secret)
        .replace("@CLIENTS@", o.clients)
        .replace("@EAP@", o.default_eap_type);
    std::fs::write(dir.join("radiusd.conf"), conf).expect("writing radiusd.conf");
}

/// A minimal radiusd.conf: one client, PAP and EAP-MD5/MS-CHAPv2 against the users file.
const RADIUSD_CONF: &str = r#"
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
datarootdir = /usr/share
dictdir = /usr/share/freeradius
libdir = /usr/lib/freeradius
raddbdir = @DIR@
confdir = @DIR@
modconfdir = @DIR@
logdir = @DIR@/log
run_dir = @DIR@/run
db_dir = @DIR@
radacctdir = @DIR@/log
pidfile = @DIR@/run/radiusd.pid
name = freeradius
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no

log {
    destination = stdout
    auth = yes
}

security {
    allow_core_dumps = no
    max_attributes = 200
    reject_delay = 0
    status_server = no
}

thread pool {
    start_servers = 2
    max_servers = 4
    min_spare_servers = 1
    max_spare_servers = 3
    max_requests_per_server = 0
}

client gateway {
    ipaddr = @CLIENTS@
    secret = "@SECRET@"
    require_message_authenticator = yes
}

modules {
    pap {
    }
    mschap {
    }
    files {
        filename = @DIR@/users
    }
    eap {
        default_eap_type = @EAP@
        timer_expire = 60
        ignore_unknown_eap_types = no
        max_sessions = 64
        md5 {
        }
        mschapv2 {
        }
    }
}

server default {
    listen {
        type = auth
        ipaddr = *
        port = 1812
    }
    authorize {
        files
        eap {
            ok = return
        }
        pap
    }
    authenticate {
        Auth-Type PAP {
            pap
        }
        Auth-Type MS-CHAP {
            mschap
        }
        eap
    }
    post-auth {
        Post-Auth-Type REJECT {
            update reply {
                Reply-Message := "Login refused for %{User-Name}"
            }
        }
    }
}
"#;
