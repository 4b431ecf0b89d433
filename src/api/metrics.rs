//! Prometheus text exposition of the tunnel snapshots. Every configured tunnel appears, also
//! when it is down (`ikegate_tunnel_up 0`), so alerts can fire on it.

use std::fmt::Write;

use super::model::{Global, Tunnel, TunnelState};

/// Escapes a label value (backslash, double quote, newline).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: u64) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        if l.is_empty() {
            let _ = writeln!(self.out, "{name} {v}");
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {v}", l.join(","));
        }
    }
}

/// Renders the metrics text for the given snapshots.
pub fn render(tunnels: &[Tunnel], global: &Global) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    f.head(
        "ikegate_tunnel_up",
        "gauge",
        "1 when the tunnel has an outbound ESP SA installed, 0 otherwise (configured tunnels that are down included).",
    );
    for t in tunnels {
        f.sample(
            "ikegate_tunnel_up",
            &[("tunnel", &t.name)],
            u64::from(t.state == TunnelState::Up),
        );
    }
    f.head(
        "ikegate_tunnel_post_quantum",
        "gauge",
        "1 when the tunnel's newest IKE SA has an ML-KEM key exchange (RFC 9370), 0 when it is not post-quantum protected or there is none; `key_exchanges` names the chain.",
    );
    for t in tunnels {
        let sa = t.phase1.iter().rev().find(|p| p.age_secs.is_some());
        let chain = sa.and_then(|p| p.key_exchanges.as_deref()).unwrap_or("");
        f.sample(
            "ikegate_tunnel_post_quantum",
            &[("tunnel", &t.name), ("key_exchanges", chain)],
            u64::from(sa.is_some_and(|p| p.post_quantum)),
        );
    }
    f.head(
        "ikegate_tunnel_state",
        "gauge",
        "1 for the tunnel's current state (down, connecting, up).",
    );
    for t in tunnels {
        for s in [TunnelState::Down, TunnelState::Connecting, TunnelState::Up] {
            f.sample(
                "ikegate_tunnel_state",
                &[("tunnel", &t.name), ("state", s.as_str())],
                u64::from(t.state == s),
            );
        }
    }
    f.head(
        "ikegate_tunnel_packets_total",
        "counter",
        "Inner packets through the tunnel (out: sealed and sent, in: opened and delivered).",
    );
    for t in tunnels {
        f.sample(
            "ikegate_tunnel_packets_total",
            &[("tunnel", &t.name), ("direction", "out")],
            t.counters.tx.packets,
        );
        f.sample(
            "ikegate_tunnel_packets_total",
            &[("tunnel", &t.name), ("direction", "in")],
            t.counters.rx.packets,
        );
    }
    f.head(
        "ikegate_tunnel_bytes_total",
        "counter",
        "Inner bytes through the tunnel.",
    );
    for t in tunnels {
        f.sample(
            "ikegate_tunnel_bytes_total",
            &[("tunnel", &t.name), ("direction", "out")],
            t.counters.tx.bytes,
        );
        f.sample(
            "ikegate_tunnel_bytes_total",
            &[("tunnel", &t.name), ("direction", "in")],
            t.counters.rx.bytes,
        );
    }
    f.head(
        "ikegate_tunnel_drops_total",
        "counter",
        "Packets dropped, by direction and reason.",
    );
    for t in tunnels {
        for (reason, v) in &t.counters.rx_drops {
            f.sample(
                "ikegate_tunnel_drops_total",
                &[("tunnel", &t.name), ("direction", "in"), ("reason", reason)],
                *v,
            );
        }
        for (reason, v) in [
            ("no_sa", t.counters.tx_no_sa),
            ("policy", t.counters.tx_policy),
            ("malformed", t.counters.tx_malformed),
        ] {
            f.sample(
                "ikegate_tunnel_drops_total",
                &[
                    ("tunnel", &t.name),
                    ("direction", "out"),
                    ("reason", reason),
                ],
                v,
            );
        }
    }
    f.head(
        "ikegate_tunnel_io_errors_total",
        "counter",
        "Socket send and TUN write errors.",
    );
    for t in tunnels {
        f.sample(
            "ikegate_tunnel_io_errors_total",
            &[("tunnel", &t.name)],
            t.counters.io_errors,
        );
    }
    f.head(
        "ikegate_tunnel_rekeys_total",
        "counter",
        "ESP SA pairs that replaced an earlier pair.",
    );
    for t in tunnels {
        f.sample(
            "ikegate_tunnel_rekeys_total",
            &[("tunnel", &t.name)],
            t.ike.as_ref().map(|i| i.rekeys).unwrap_or(0),
        );
    }
    f.head(
        "ikegate_dpd_failures_total",
        "counter",
        "Times the peer was declared dead by dead peer detection.",
    );
    for t in tunnels {
        f.sample(
            "ikegate_dpd_failures_total",
            &[("tunnel", &t.name)],
            t.dpd.failures,
        );
    }
    f.head(
        "ikegate_ike_negotiations_total",
        "counter",
        "IKE negotiations by phase and result.",
    );
    for t in tunnels {
        let Some(i) = &t.ike else { continue };
        for (phase, result, v) in [
            ("1", "success", i.phase1_established),
            ("2", "success", i.phase2_established),
            ("any", "failure", i.failures),
        ] {
            f.sample(
                "ikegate_ike_negotiations_total",
                &[("tunnel", &t.name), ("phase", phase), ("result", result)],
                v,
            );
        }
    }
    f.head(
        "ikegate_ike_messages_total",
        "counter",
        "IKE messages by direction (retransmissions included).",
    );
    for t in tunnels {
        let Some(i) = &t.ike else { continue };
        for (dir, v) in [
            ("in", i.received),
            ("out", i.sent),
            ("retransmit", i.retransmits),
            ("dropped", i.dropped),
        ] {
            f.sample(
                "ikegate_ike_messages_total",
                &[("tunnel", &t.name), ("direction", dir)],
                v,
            );
        }
    }
    f.head(
        "ikegate_esp_sas",
        "gauge",
        "Established ESP SA pairs of the tunnel.",
    );
    for t in tunnels {
        f.sample(
            "ikegate_esp_sas",
            &[("tunnel", &t.name)],
            t.phase2.len() as u64,
        );
    }
    for (name, help, v) in [
        (
            "ikegate_esp_unknown_spi_total",
            "ESP packets for SPIs this gateway does not have.",
            global.unknown_spi,
        ),
        (
            "ikegate_malformed_datagrams_total",
            "Datagrams too short to carry ESP.",
            global.malformed,
        ),
        (
            "ikegate_nat_keepalives_total",
            "NAT keepalives received.",
            global.keepalives,
        ),
        (
            "ikegate_ike_datagrams_total",
            "IKE datagrams received on all sockets.",
            global.ike_messages,
        ),
        (
            "ikegate_ike_queue_full_total",
            "IKE datagrams dropped because their tunnel's IKE task queue was full.",
            global.ike_queue_full,
        ),
        (
            "ikegate_ike_unknown_peer_total",
            "IKE datagrams from addresses no tunnel has as its peer.",
            global.ike_unknown_peer,
        ),
        (
            "ikegate_ike_cookies_sent_total",
            "IKE_SA_INIT requests answered with a COOKIE by the receive loop (queue half full).",
            global.ike_cookies_sent,
        ),
        (
            "ikegate_ike_first_messages_shed_total",
            "New negotiations' first messages dropped because their tunnel's IKE queue was half full.",
            global.ike_first_messages_shed,
        ),
    ] {
        f.head(name, "counter", help);
        f.sample(name, &[], v);
    }
    out
}

/// Renders the remote-access families: clients and negotiations per interface, pool usage per
/// prefix, login failures by reason. Nothing when no interface serves remote access.
pub fn render_remote_access(ra: &[super::model::RemoteAccess]) -> String {
    let mut out = String::new();
    if ra.is_empty() {
        return out;
    }
    let mut f = Family { out: &mut out };
    f.head(
        "ikegate_ra_clients",
        "gauge",
        "Remote-access clients connected (logged in, holding an address).",
    );
    for r in ra {
        f.sample(
            "ikegate_ra_clients",
            &[("interface", &r.name)],
            r.clients.len() as u64,
        );
    }
    f.head(
        "ikegate_ra_negotiating",
        "gauge",
        "Remote-access IKE negotiations under way (clients not logged in yet).",
    );
    for r in ra {
        f.sample(
            "ikegate_ra_negotiating",
            &[("interface", &r.name)],
            r.negotiating,
        );
    }
    for (name, help, pick) in [
        (
            "ikegate_ra_pool_size",
            "Addresses the pool can hand out.",
            0,
        ),
        (
            "ikegate_ra_pool_active",
            "Pool addresses held by connected clients.",
            1,
        ),
        (
            "ikegate_ra_pool_reserved",
            "Pool addresses released but kept for their user's reconnect.",
            2,
        ),
    ] {
        f.head(name, "gauge", help);
        for r in ra {
            for p in &r.pool {
                let v = [p.size, p.active, p.reserved][pick];
                f.sample(
                    name,
                    &[("interface", &r.name), ("prefix", &p.prefix)],
                    u64::from(v),
                );
            }
        }
    }
    f.head(
        "ikegate_ra_login_failures_total",
        "counter",
        "Failed remote-access logins, by reason.",
    );
    for r in ra {
        for (reason, n) in &r.login_failures {
            f.sample(
                "ikegate_ra_login_failures_total",
                &[("interface", &r.name), ("reason", reason)],
                *n,
            );
        }
    }
    out
}
