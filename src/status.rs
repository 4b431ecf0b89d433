//! `ikegate status`: the tunnel table of a running gateway, read through its admin API.

use std::fmt::Write;
use std::process::ExitCode;

use ikegate::api::model::Tunnel;
use ikegate::config::AdminConfig;

/// Fetches `GET /api/v1/tunnels` and prints it.
pub async fn run(admin: &AdminConfig, json: bool) -> ExitCode {
    let client = match crate::ops::Client::new(admin) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let body = match client.call("GET", "/api/v1/tunnels").await {
        Ok(b) => b,
        Err(code) => return code,
    };
    if json {
        println!("{body}");
        return ExitCode::SUCCESS;
    }
    match serde_json::from_str::<Vec<Tunnel>>(&body) {
        Ok(ts) => {
            print!("{}", table(&ts));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unexpected answer from the admin API: {e}");
            ExitCode::from(1)
        }
    }
}

/// The `swanctl --list-sas`-like text for a list of tunnels.
pub fn table(ts: &[Tunnel]) -> String {
    let mut s = String::new();
    for t in ts {
        let keying = match t.ike_version {
            Some(v) => format!("IKEv{v}"),
            None => t.keying.clone(),
        };
        let _ = writeln!(
            s,
            "{}: {}, {} ⇄ {}, {keying} keys",
            t.name,
            t.state.as_str().to_uppercase(),
            t.local,
            t.remote,
        );
        if let Some(n) = &t.nat {
            let _ = writeln!(
                s,
                "  NAT: {}, NAT-T {}{}",
                if n.detected { "detected" } else { "none" },
                n.nat_t,
                if n.floated { ", UDP 4500" } else { "" }
            );
        }
        for p in &t.phase1 {
            let _ = writeln!(
                s,
                "  ISAKMP {}:{} {} {}, {}{}{}{}",
                p.initiator_cookie,
                p.responder_cookie,
                p.role,
                p.state,
                p.proposal.as_deref().unwrap_or("-"),
                p.key_exchanges
                    .as_deref()
                    .map(|k| if p.post_quantum {
                        format!(" [{k}, post-quantum]")
                    } else {
                        format!(" [{k}, NOT post-quantum]")
                    })
                    .unwrap_or_default(),
                p.age_secs
                    .map(|a| format!(", established {a}s ago"))
                    .unwrap_or_default(),
                p.expires_in_secs
                    .map(|a| format!(", expires in {a}s"))
                    .unwrap_or_default(),
            );
        }
        for c in &t.phase2 {
            let _ = writeln!(
                s,
                "  ESP in {} out {}{}, {} mode, {}, {}{}",
                c.inbound_spi,
                c.outbound_spi,
                if c.current { " (current)" } else { "" },
                c.mode,
                c.proposal,
                selectors_text(c),
                c.expires_in_secs
                    .map(|a| format!(", expires in {a}s"))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                s,
                "    in  {} packets, {} bytes\n    out {} packets, {} bytes",
                c.inbound.packets, c.inbound.bytes, c.outbound.packets, c.outbound.bytes
            );
        }
        let _ = writeln!(
            s,
            "  traffic: out {} packets / {} bytes, in {} packets / {} bytes",
            t.counters.tx.packets, t.counters.tx.bytes, t.counters.rx.packets, t.counters.rx.bytes
        );
        if let Some(e) = &t.last_error {
            let _ = writeln!(s, "  last error: {e}");
        }
    }
    if ts.is_empty() {
        s.push_str("no tunnels configured\n");
    }
    s
}

/// The traffic selectors of a pair, `local ⇄ remote` joined by `, ` (just the proxy-id when the
/// server sent no selectors).
fn selectors_text(c: &ikegate::api::model::Phase2Sa) -> String {
    let one = |p: &ikegate::api::model::ProxyIdPair| format!("{} ⇄ {}", p.local, p.remote);
    if c.selectors.is_empty() {
        one(&c.proxy_ids)
    } else {
        c.selectors.iter().map(one).collect::<Vec<_>>().join(", ")
    }
}
