//! Writes a settled [`Draft`] as our YAML, with every note as a comment: the file-wide ones in
//! the header, a tunnel's own above it. Strings from the source file are written as JSON strings
//! (valid YAML double-quoted scalars), and comment text has its control characters replaced, so
//! no input can add keys or break a comment.

use std::fmt::Write;

use super::draft::{Dest, Dpd, Draft, Note, Tunnel};
use super::Format;

/// Our YAML for `draft` (read from `source`, a `format` file).
pub fn emit(draft: &Draft, format: Format, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported by `ikegate import {}` from {}.",
        format.name(),
        comment_text(source)
    );
    let _ = writeln!(
        out,
        "# Check it with `ikegate check --config FILE`; the comments say what was not carried."
    );
    if !draft.notes.is_empty() {
        out.push_str("#\n# Not carried (or changed on the way):\n");
        for n in &draft.notes {
            note(&mut out, "", n);
        }
    }
    out.push_str("\ninterfaces:");
    if draft.tunnels.is_empty() {
        // Still YAML; `ikegate check` then says what is missing.
        out.push_str(" {}\n");
    } else {
        out.push('\n');
    }
    for t in &draft.tunnels {
        tunnel(&mut out, t);
    }
    routes(&mut out, draft);
    out
}

/// A comment line (or lines) for one note.
fn note(out: &mut String, indent: &str, n: &Note) {
    let at = if n.line == 0 {
        String::new()
    } else {
        format!("line {}: ", n.line)
    };
    let _ = writeln!(
        out,
        "{indent}#   {at}{}: {}",
        comment_text(&n.key),
        comment_text(&n.why)
    );
}

/// Text safe inside a `#` comment: one line, no control characters, at most 300 characters.
fn comment_text(s: &str) -> String {
    s.chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A YAML scalar for a string from the source file.
/// Every control character (DEL too, which JSON leaves raw and YAML refuses) is escaped.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || c == '\u{feff}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(v: &[&str]) -> String {
    format!("[{}]", v.join(", "))
}

fn tunnel(out: &mut String, t: &Tunnel) {
    let _ = writeln!(out, "  # {}", comment_text(&t.origin));
    for n in &t.notes {
        note(out, "  ", n);
    }
    let _ = writeln!(out, "  {}:", t.name);
    let (Some(src), Some(dst)) = (t.source, t.destination) else {
        return;
    };
    let fam = if src.is_ipv4() { "ipv4" } else { "ipv6" };
    let dst = match dst {
        Dest::Addr(a) => quoted(&a.to_string()),
        Dest::Dynamic => "dynamic".into(),
    };
    let _ = writeln!(
        out,
        "    {fam}: {{ source: {}, destination: {dst} }}",
        quoted(&src.to_string())
    );
    if let Some(n) = t.nat_traversal {
        let _ = writeln!(out, "    nat-traversal: {n}");
    }
    if let Some(m) = t.mtu {
        let _ = writeln!(out, "    mtu: {m}");
    }
    if let Some(m) = &t.tcp_mss {
        let _ = writeln!(out, "    tcp-mss: {}", quoted(m));
    }
    if t.transport {
        out.push_str("    mode: transport\n");
    }
    if let Some(k) = &t.psk {
        let _ = writeln!(out, "    preshared-key: {}", quoted(k));
    }
    if let Some(r) = t.responder_only {
        let _ = writeln!(
            out,
            "    responder-only: {}",
            if r { "enable" } else { "disable" }
        );
    }
    out.push_str("    ike:\n");
    let _ = writeln!(out, "      version: {}", t.version.unwrap_or(1));
    if let Some(m) = t.exchange_mode {
        let _ = writeln!(out, "      exchange-mode: {m}");
    }
    for (k, id) in [
        ("my-identifier", &t.my_id),
        ("peers-identifier", &t.peer_id),
    ] {
        if let Some(id) = id {
            let _ = writeln!(out, "      {k}: {{ {}: {} }}", id.kind, quoted(&id.value));
        }
    }
    match t.dpd {
        Some(Dpd::Disable) => out.push_str("      dpd: disable\n"),
        Some(Dpd::On {
            interval: None,
            retries: None,
        }) => out.push_str("      dpd: enable\n"),
        Some(Dpd::On { interval, retries }) => {
            let mut parts = Vec::new();
            if let Some(i) = interval {
                parts.push(format!("interval: {i}"));
            }
            if let Some(r) = retries {
                parts.push(format!("retries: {r}"));
            }
            let _ = writeln!(out, "      dpd: {{ {} }}", parts.join(", "));
        }
        None => {}
    }
    match t.nat_keepalive {
        Some(0) => out.push_str("      nat-keepalive: disable\n"),
        Some(s) => {
            let _ = writeln!(out, "      nat-keepalive: {s}");
        }
        None => {}
    }
    if let Some(f) = t.fragmentation {
        let _ = writeln!(
            out,
            "      fragmentation: {}",
            if f { "enable" } else { "disable" }
        );
    }
    proposal(out, t);
}

fn proposal(out: &mut String, t: &Tunnel) {
    let mut p1 = String::new();
    let a = &t.phase1;
    if let Some(l) = a.lifetime {
        let _ = writeln!(p1, "          lifetime: {l}");
    }
    for (k, v) in [
        ("encryption", &a.encryption),
        ("hash", &a.hash),
        ("prf", &a.prf),
    ] {
        if !v.is_empty() {
            let _ = writeln!(p1, "          {k}: {}", list(v));
        }
    }
    match a.dh_group.as_slice() {
        [] => {}
        [one] => {
            let _ = writeln!(p1, "          dh-group: {one}");
        }
        many => {
            let _ = writeln!(p1, "          dh-group: {}", list(many));
        }
    }
    if !a.additional_kes.is_empty() {
        let _ = writeln!(
            p1,
            "          additional-key-exchanges: {}",
            list(&a.additional_kes)
        );
    }
    let mut p2 = String::new();
    let b = &t.phase2;
    if !b.proxy_ids.is_empty() && !t.transport {
        p2.push_str("          proxy-id:\n");
        for (l, r) in &b.proxy_ids {
            let fam = if l.addr().is_ipv4() { "ipv4" } else { "ipv6" };
            let _ = writeln!(
                p2,
                "            {fam}: {{ local: {}, remote: {} }}",
                quoted(&l.to_string()),
                quoted(&r.to_string())
            );
        }
    }
    for (k, v) in [
        ("encryption", &b.encryption),
        ("authentication", &b.authentication),
    ] {
        if !v.is_empty() {
            let _ = writeln!(p2, "          {k}: {}", list(v));
        }
    }
    if let Some(g) = b.pfs_group {
        let _ = writeln!(p2, "          pfs-group: {g}");
    }
    if !b.additional_kes.is_empty() {
        let _ = writeln!(
            p2,
            "          additional-key-exchanges: {}",
            list(&b.additional_kes)
        );
    }
    if let Some(l) = b.lifetime_of_time {
        let _ = writeln!(p2, "          lifetime-of-time: {l}");
    }
    if let Some(l) = b.lifetime_of_byte {
        let _ = writeln!(p2, "          lifetime-of-byte: {l}");
    }
    if p1.is_empty() && p2.is_empty() {
        return;
    }
    out.push_str("      proposal:\n");
    if !p1.is_empty() {
        out.push_str("        phase1:\n");
        out.push_str(&p1);
    }
    if !p2.is_empty() {
        out.push_str("        phase2:\n");
        out.push_str(&p2);
    }
}

fn routes(out: &mut String, draft: &Draft) {
    if draft.routes.is_empty() {
        return;
    }
    out.push_str("\nroute:\n");
    for fam in ["ipv4", "ipv6"] {
        let v: Vec<_> = draft
            .routes
            .iter()
            .filter(|r| r.destination.addr().is_ipv4() == (fam == "ipv4"))
            .collect();
        if v.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {fam}:");
        for r in v {
            let _ = writeln!(
                out,
                "    - {{ destination: {}, gateway: {} }}",
                quoted(&r.destination.to_string()),
                r.gateway
            );
        }
    }
}
