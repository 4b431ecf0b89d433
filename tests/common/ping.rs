//! A continuous 20 ms ping through a tunnel, with the numbers a lifecycle test asserts on.

use super::netns::Netns;

/// The outcome of [`continuous`].
pub struct PingRun {
    pub sent: u64,
    pub received: u64,
    /// ping's statistics and the first missing sequence numbers, each with the UTC time of the
    /// echo answered before it (to find it in the gateways' logs).
    pub summary: String,
    /// How long ping ran (its count, not the nominal seconds, ends it).
    pub took: std::time::Duration,
}

impl PingRun {
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// The fewest (child, IKE SA) rekeys the lifecycle tests' lifetimes guarantee during this
    /// run: ours (child 30 s, IKE 60 s) start at 78–83 %, so at most 24.9 s and 49.8 s apart;
    /// charon's (rekey_time 15 s and 30 s, less rand/over time) at most 15 s and 30 s apart,
    /// with one child rekey of slack for its randomisation.
    pub fn rekeys_expected(&self, charon_rekeys: bool) -> (usize, usize) {
        let ran = self.took.as_secs_f64();
        if charon_rekeys {
            (
                ((ran / 15.0) as usize).saturating_sub(1),
                (ran / 30.0) as usize,
            )
        } else {
            ((ran / 24.9) as usize, (ran / 49.8) as usize)
        }
    }
}

/// Pings `dst` every 20 ms for about `secs` seconds from `ns`.
///
/// A fixed count (`-c`) and a generous deadline (`-w`), not a bare deadline: with `-w` alone ping
/// exits at the deadline and counts the echo still in flight as lost.
pub fn continuous(ns: &Netns, dst: &str, secs: u64) -> PingRun {
    let count = secs * 1000 / 24; // ping's 20 ms interval runs at ≈ 24 ms here
    let t0 = std::time::Instant::now();
    let out = ns.exec(&[
        "ping",
        "-D",
        "-n",
        "-i",
        "0.02",
        "-W",
        "2",
        "-c",
        &count.to_string(),
        "-w",
        &(secs + 60).to_string(),
        dst,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut answered = std::collections::BTreeMap::new();
    for l in text.lines() {
        let stamp = l
            .strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .and_then(|t| t.parse::<f64>().ok());
        let seq = l
            .split_whitespace()
            .find_map(|w| w.strip_prefix("icmp_seq="))
            .and_then(|n| n.parse::<u64>().ok());
        if let (Some(t), Some(q), true) = (stamp, seq, l.contains("bytes from")) {
            answered.insert(q, t);
        }
    }
    let stats: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("ping statistics"))
        .collect();
    let line = stats
        .iter()
        .find(|l| l.contains("packets transmitted"))
        .copied()
        .unwrap_or("");
    let num = |key: &str| -> u64 {
        line.split(',')
            .find(|p| p.contains(key))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (sent, received) = (num("transmitted"), num(" received"));
    // ping stops at the `count`-th answer: an echo sent after the last answered one is still in
    // flight then (ping keeps sending while answers are late), not lost.
    let last_answered = answered.keys().next_back().copied().unwrap_or(0);
    let sent = if received >= count {
        sent.min(last_answered)
    } else {
        sent
    };
    let utc = |t: f64| {
        let d = (t as u64) % 86_400;
        format!("{:02}:{:02}:{:02}", d / 3600, d / 60 % 60, d % 60)
    };
    let missing: Vec<String> = (1..=sent)
        .filter(|q| !answered.contains_key(q))
        .take(20)
        .map(|q| match answered.range(..q).next_back() {
            Some((_, t)) => format!("icmp_seq={q} (after {} UTC)", utc(*t)),
            None => format!("icmp_seq={q}"),
        })
        .collect();
    let mut summary = stats.join("\n");
    if !missing.is_empty() {
        summary.push_str(&format!("\nmissing: {}", missing.join(", ")));
    }
    PingRun {
        sent,
        received,
        summary,
        took: t0.elapsed(),
    }
}
