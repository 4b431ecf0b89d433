//! Packet capture (`tcpdump -w` inside a namespace) and independent ESP
//! decoding with tshark 4.0 given the SA keys.
//!
//! tshark recipe (4.0): `-o esp.enable_encryption_decode:TRUE
//! -o esp.enable_authentication_check:TRUE -o 'uat:esp_sa:"IPv4","*","*",
//! "0x<spi>","<encr>","0x<key>","<auth>","0x<key>"'` (one `-o uat:esp_sa:`
//! per SA; addresses may be `*`; the protocol column must match the outer
//! IP version, so wildcard SAs are given for both IPv4 and IPv6).
//! UDP port 4500 is dissected as `udpencap` by default, so NAT-T ESP needs
//! nothing more. Fields: `esp.spi`, `esp.sequence`, `esp.icv_good`,
//! `esp.icv_bad`; the decrypted payload shows in `frame.protocols` after
//! `esp` (e.g. `eth:ethertype:ip:udp:udpencap:esp:ip:icmp:data`).

use super::netns::{BgProcess, Netns};
use super::{describe_output, poll_opt, TempDir};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Wireshark 4.0 `esp_sa` encryption algorithm names.
pub const ENCR_NULL: &str = "NULL";
pub const ENCR_AES_CBC: &str = "AES-CBC [RFC3602]";
pub const ENCR_3DES_CBC: &str = "TripleDES-CBC [RFC2451]";
pub const ENCR_AES_GCM_16: &str = "AES-GCM with 16 octet ICV [RFC4106]";
/// Wireshark 4.0 `esp_sa` authentication algorithm names.
pub const AUTH_NULL: &str = "NULL";
pub const AUTH_HMAC_MD5_96: &str = "HMAC-MD5-96 [RFC2403]";
pub const AUTH_HMAC_SHA1_96: &str = "HMAC-SHA-1-96 [RFC2404]";
pub const AUTH_HMAC_SHA256_128: &str = "HMAC-SHA-256-128 [RFC4868]";
pub const AUTH_HMAC_SHA384_192: &str = "HMAC-SHA-384-192 [RFC4868]";
pub const AUTH_HMAC_SHA512_256: &str = "HMAC-SHA-512-256 [RFC4868]";

/// True when tshark and tcpdump are installed; otherwise prints a reason.
pub fn require_capture_tools() -> bool {
    super::require_programs(&["tshark", "tcpdump"])
}

/// One entry of Wireshark's `esp_sa` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspSa {
    /// Outer source/destination address or `*`.
    pub src: String,
    pub dst: String,
    pub spi: u32,
    /// One of the `ENCR_*` names (Wireshark's spelling).
    pub encr: String,
    /// For AES-GCM: key followed by the 4-byte salt.
    pub encr_key: Vec<u8>,
    /// One of the `AUTH_*` names; `NULL` for AEAD.
    pub auth: String,
    pub auth_key: Vec<u8>,
}

impl EspSa {
    /// An SA matching `spi` between any addresses.
    pub fn any(spi: u32, encr: &str, encr_key: &[u8], auth: &str, auth_key: &[u8]) -> EspSa {
        EspSa {
            src: "*".into(),
            dst: "*".into(),
            spi,
            encr: encr.into(),
            encr_key: encr_key.to_vec(),
            auth: auth.into(),
            auth_key: auth_key.to_vec(),
        }
    }

    /// Every SA of a `--wireshark-keylog` file (`esp_sa` lines).
    pub fn from_keylog(path: &Path) -> Vec<EspSa> {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            .lines()
            .filter_map(EspSa::from_uat_line)
            .collect()
    }

    /// Parses one line of Wireshark's `esp_sa` table as `ikegate keys --format wireshark-esp`
    /// prints it: `"IPv4","src","dst","0xSPI","encr","0xkey","auth","0xkey"`.
    pub fn from_uat_line(line: &str) -> Option<EspSa> {
        let f: Vec<&str> = line
            .trim()
            .split(',')
            .map(|c| c.trim_matches('"'))
            .collect();
        if f.len() != 8 {
            return None;
        }
        let key = |s: &str| hex::decode(s.trim_start_matches("0x")).ok();
        Some(EspSa {
            src: f[1].into(),
            dst: f[2].into(),
            spi: u32::from_str_radix(f[3].trim_start_matches("0x"), 16).ok()?,
            encr: f[4].into(),
            encr_key: key(f[5])?,
            auth: f[6].into(),
            auth_key: key(f[7])?,
        })
    }

    /// The UAT record(s): one per IP version that the addresses allow.
    pub fn uat_records(&self) -> Vec<String> {
        let key = |k: &[u8]| {
            if k.is_empty() {
                String::new()
            } else {
                format!("0x{}", hex::encode(k))
            }
        };
        let v6 = self.src.contains(':') || self.dst.contains(':');
        let v4 = self.src.contains('.') || self.dst.contains('.');
        let protos: &[&str] = match (v4, v6) {
            (true, _) => &["IPv4"],
            (false, true) => &["IPv6"],
            (false, false) => &["IPv4", "IPv6"],
        };
        protos
            .iter()
            .map(|p| {
                format!(
                    "\"{p}\",\"{}\",\"{}\",\"0x{:08x}\",\"{}\",\"{}\",\"{}\",\"{}\"",
                    self.src,
                    self.dst,
                    self.spi,
                    self.encr,
                    key(&self.encr_key),
                    self.auth,
                    key(&self.auth_key)
                )
            })
            .collect()
    }
}

/// What tshark made of one ESP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspFrame {
    pub frame: u32,
    /// Outer addresses.
    pub src: String,
    pub dst: String,
    /// UDP ports when the ESP is UDP-encapsulated (NAT-T).
    pub udp_ports: Option<(u16, u16)>,
    pub spi: u32,
    pub seq: u32,
    /// `esp.icv_good` / `esp.icv_bad` (None when not checked, e.g. no SA).
    pub icv_good: Option<bool>,
    pub icv_bad: Option<bool>,
    /// Protocols dissected inside the ESP payload, e.g. `["ip", "icmp", "data"]`.
    pub inner: Vec<String>,
}

impl EspFrame {
    /// Whether the payload was decrypted into an IP packet.
    pub fn decrypted(&self) -> bool {
        matches!(
            self.inner.first().map(String::as_str),
            Some("ip") | Some("ipv6")
        )
    }

    /// The first protocol above the inner IP header (`icmp`, `icmpv6`,
    /// `tcp`, `udp`, …).
    pub fn inner_l4(&self) -> Option<&str> {
        if !self.decrypted() {
            return None;
        }
        self.inner
            .iter()
            .skip(1)
            .map(String::as_str)
            .find(|p| !p.starts_with("ipv6.") && *p != "ipv6" && *p != "ip")
    }

    /// A one-line summary for failure messages.
    pub fn summary(&self) -> String {
        format!(
            "#{} {}->{} udp={:?} spi=0x{:08x} seq={} icv_good={:?} icv_bad={:?} inner={}",
            self.frame,
            self.src,
            self.dst,
            self.udp_ports,
            self.spi,
            self.seq,
            self.icv_good,
            self.icv_bad,
            self.inner.join(":")
        )
    }
}

fn tshark_cmd(cfg: &TempDir) -> Command {
    let mut c = Command::new("tshark");
    // A private, empty configuration: no personal preferences or profiles.
    c.env("WIRESHARK_CONFIG_DIR", cfg.path())
        .env("XDG_CONFIG_HOME", cfg.path())
        .stdin(Stdio::null());
    c
}

/// Decodes every ESP packet of `pcap` with the given SAs.
pub fn decode_esp(pcap: &Path, sas: &[EspSa]) -> Vec<EspFrame> {
    let cfg = TempDir::new("tshark");
    let mut cmd = tshark_cmd(&cfg);
    cmd.arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-o", "esp.enable_encryption_decode:TRUE"])
        .args(["-o", "esp.enable_authentication_check:TRUE"]);
    for sa in sas {
        for rec in sa.uat_records() {
            cmd.arg("-o").arg(format!("uat:esp_sa:{rec}"));
        }
    }
    cmd.args([
        "-Y",
        "esp",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=f",
    ]);
    for f in [
        "frame.number",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "udp.srcport",
        "udp.dstport",
        "esp.spi",
        "esp.sequence",
        "esp.icv_good",
        "esp.icv_bad",
        "frame.protocols",
    ] {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("spawning tshark");
    if !out.status.success() {
        panic!("{}", describe_output("tshark ESP decode", &out));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_frame_line(l).unwrap_or_else(|| panic!("unparsable tshark line {l:?}")))
        .collect()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "True" | "TRUE" | "true" => Some(true),
        "0" | "False" | "FALSE" | "false" => Some(false),
        _ => None,
    }
}

fn parse_frame_line(line: &str) -> Option<EspFrame> {
    let f: Vec<&str> = line.split('|').collect();
    if f.len() < 12 {
        return None;
    }
    let parse_u32 = |s: &str| {
        let s = s.trim();
        match s.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => s.parse().ok(),
        }
    };
    // The outer header is the first of ip/ipv6 in frame.protocols; ip.src may be the inner one
    // (IPv4 inside an IPv6 outer packet).
    let outer_v6 = f[11].split(':').find(|p| *p == "ip" || *p == "ipv6") == Some("ipv6");
    let (src, dst) = if !outer_v6 {
        (f[1], f[2])
    } else {
        (f[3], f[4])
    };
    let udp_ports = match (f[5].parse().ok(), f[6].parse().ok()) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let protos: Vec<&str> = f[11].split(':').collect();
    let inner = match protos.iter().position(|p| *p == "esp") {
        Some(i) => protos[i + 1..].iter().map(|s| s.to_string()).collect(),
        None => Vec::new(),
    };
    Some(EspFrame {
        frame: parse_u32(f[0])?,
        src: src.to_string(),
        dst: dst.to_string(),
        udp_ports,
        spi: parse_u32(f[7])?,
        seq: parse_u32(f[8]).unwrap_or(0),
        icv_good: parse_bool(f[9]),
        icv_bad: parse_bool(f[10]),
        inner,
    })
}

/// Panics unless `frames` is non-empty and every frame decrypted with a
/// good ICV into an inner protocol among `inner_l4` (e.g. `["icmp"]`).
pub fn assert_all_decrypted(frames: &[EspFrame], inner_l4: &[&str]) {
    let table = || {
        frames
            .iter()
            .map(EspFrame::summary)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!frames.is_empty(), "no ESP frames in the capture");
    for fr in frames {
        let ok = fr.icv_good == Some(true)
            && fr.icv_bad != Some(true)
            && fr.inner_l4().is_some_and(|p| inner_l4.contains(&p));
        assert!(
            ok,
            "ESP frame not decoded as expected ({inner_l4:?} with a good ICV): {}\nall frames:\n{}",
            fr.summary(),
            table()
        );
    }
}

/// Transport mode (RFC 4303 §3.1.1): every frame decrypted with a good ICV, its payload starting
/// directly with one of `inner_l4` (no inner IP header), between the outer addresses `hosts`.
pub fn assert_all_transport(frames: &[EspFrame], inner_l4: &[&str], hosts: (&str, &str)) {
    assert!(!frames.is_empty(), "no ESP frames in the capture");
    for fr in frames {
        let first = fr.inner.first().map(String::as_str).unwrap_or("");
        let pair = (fr.src.as_str(), fr.dst.as_str());
        let ok = fr.icv_good == Some(true)
            && fr.icv_bad != Some(true)
            && inner_l4.contains(&first)
            && (pair == hosts || pair == (hosts.1, hosts.0));
        assert!(
            ok,
            "ESP frame not transport mode ({inner_l4:?} right after ESP, good ICV, between \
             {hosts:?}): {}\nall frames:\n{}",
            fr.summary(),
            frames_table(frames)
        );
    }
}

/// Runs a display filter over `pcap` and returns tshark's one-line
/// summaries (one per matching frame).
pub fn filter_lines(pcap: &Path, display_filter: &str) -> Vec<String> {
    let cfg = TempDir::new("tshark");
    let out = tshark_cmd(&cfg)
        .arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", display_filter])
        .output()
        .expect("spawning tshark");
    if !out.status.success() {
        panic!("{}", describe_output("tshark filter", &out));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Values of `fields` for every frame matching `display_filter`.
pub fn fields(pcap: &Path, display_filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    fields_with(pcap, &[], display_filter, fields)
}

/// `fields` with extra tshark preferences (`-o NAME:VALUE` each), e.g. an
/// `uat:ikev2_decryption_table:…` record.
pub fn fields_with(
    pcap: &Path,
    prefs: &[String],
    display_filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    fields_in_profile(pcap, &[], prefs, display_filter, fields)
}

/// `fields_with`, tshark's private configuration directory first holding `files` (name,
/// content), e.g. an `ikev2_decryption_table` or `esp_sa` UAT file as Wireshark reads it.
pub fn fields_in_profile(
    pcap: &Path,
    files: &[(&str, String)],
    prefs: &[String],
    display_filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    let cfg = TempDir::new("tshark");
    for (name, text) in files {
        std::fs::write(cfg.join(name), text).unwrap();
    }
    let mut cmd = tshark_cmd(&cfg);
    for p in prefs {
        cmd.arg("-o").arg(p);
    }
    cmd.arg("-n").arg("-r").arg(pcap).args([
        "-Y",
        display_filter,
        "-T",
        "fields",
        "-E",
        "separator=|",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("spawning tshark");
    if !out.status.success() {
        panic!("{}", describe_output("tshark fields", &out));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// A running `tcpdump -w` inside a namespace.
pub struct Capture {
    proc_: BgProcess,
    path: PathBuf,
    log: PathBuf,
}

impl Capture {
    /// Starts capturing on `iface` in `ns` into `path` (optional BPF
    /// `filter`) and returns once tcpdump says it is listening.
    pub fn start(ns: &Netns, iface: &str, path: &Path, filter: Option<&str>) -> Capture {
        let log = path.with_extension("tcpdump.log");
        let _ = std::fs::remove_file(&log);
        let mut cmd = ns.command("tcpdump");
        cmd.args([
            "-n",
            "-i",
            iface,
            "-s",
            "0",
            "-U",
            "--immediate-mode",
            "-Z",
            "root",
            "-w",
        ])
        .arg(path);
        if let Some(f) = filter {
            cmd.args(f.split_whitespace());
        }
        let f = std::fs::File::create(&log).unwrap();
        cmd.stdout(f.try_clone().unwrap()).stderr(f);
        let mut proc_ = BgProcess::spawn(cmd, &format!("tcpdump -i {iface} in {}", ns.name()));
        let ready = poll_opt(Duration::from_secs(10), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("listening on") {
                return Some(Ok(()));
            }
            proc_
                .try_wait()
                .map(|st| Err(format!("tcpdump exited ({st}): {text}")))
        });
        match ready {
            Some(Ok(())) => {}
            Some(Err(e)) => panic!("{e}"),
            None => panic!(
                "tcpdump not listening after 10 s: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        }
        Capture {
            proc_,
            path: path.to_path_buf(),
            log,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the capture file has not grown for 200 ms (≤ 3 s), so
    /// packets still on their way to tcpdump are written, then stops tcpdump
    /// (SIGINT, so it flushes) and returns the pcap path.
    pub fn stop(mut self) -> PathBuf {
        let size = || std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let mut last = size();
        let mut stable = 0;
        poll_opt(Duration::from_secs(3), || {
            let now = size();
            stable = if now == last { stable + 1 } else { 0 };
            last = now;
            (stable >= 4).then_some(())
        });
        self.proc_.stop(libc::SIGINT, Duration::from_secs(5));
        self.path.clone()
    }

    /// tcpdump's own messages (e.g. "N packets captured" after `stop`).
    pub fn tcpdump_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Rewrites a pcap (Ethernet link type) so every IPv4 UDP-encapsulated ESP
/// packet (UDP 4500, non-zero first word) becomes raw ESP (IP protocol 50):
/// lets the raw-ESP decoding path be checked with NAT-T captures.
pub fn pcap_strip_udp_encap(input: &Path, output: &Path) -> usize {
    let data = std::fs::read(input).unwrap();
    assert!(data.len() >= 24, "short pcap");
    let le = match &data[0..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        m => panic!("not a pcap file (magic {m:02x?})"),
    };
    let rd32 = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let wr32 = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
    assert_eq!(
        rd32(&data[20..24]) & 0xffff,
        1,
        "link type must be Ethernet"
    );
    let mut out = data[..24].to_vec();
    let mut pos = 24;
    let mut converted = 0;
    while pos + 16 <= data.len() {
        let incl = rd32(&data[pos + 8..pos + 12]) as usize;
        let orig = rd32(&data[pos + 12..pos + 16]) as usize;
        let pkt = &data[pos + 16..pos + 16 + incl];
        let mut rec_hdr = data[pos..pos + 16].to_vec();
        pos += 16 + incl;
        let Some((ihl, ip_end)) = esp_in_udp_bounds(pkt) else {
            out.extend_from_slice(&rec_hdr);
            out.extend_from_slice(pkt);
            continue;
        };
        let mut ip = pkt[14..14 + ihl].to_vec();
        let payload = &pkt[14 + ihl + 8..ip_end];
        let total = (ihl + payload.len()) as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[9] = 50;
        ip[10] = 0;
        ip[11] = 0;
        let mut sum: u32 = 0;
        for w in ip.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        let mut new_pkt = pkt[..14].to_vec();
        new_pkt.extend_from_slice(&ip);
        new_pkt.extend_from_slice(payload);
        rec_hdr[8..12].copy_from_slice(&wr32(new_pkt.len() as u32));
        rec_hdr[12..16].copy_from_slice(&wr32(orig.saturating_sub(8) as u32));
        out.extend_from_slice(&rec_hdr);
        out.extend_from_slice(&new_pkt);
        converted += 1;
    }
    std::fs::write(output, out).unwrap();
    converted
}

/// For an Ethernet frame holding IPv4/UDP with port 4500 and an ESP payload
/// (not a keepalive, no non-ESP marker): (IP header length, end of the IP
/// packet in the frame).
fn esp_in_udp_bounds(pkt: &[u8]) -> Option<(usize, usize)> {
    if pkt.len() < 14 + 20 || pkt[12..14] != [0x08, 0x00] || pkt[14] >> 4 != 4 || pkt[14 + 9] != 17
    {
        return None;
    }
    let ihl = (pkt[14] & 0x0f) as usize * 4;
    let total = u16::from_be_bytes([pkt[16], pkt[17]]) as usize;
    let ip_end = 14 + total;
    if ip_end > pkt.len() || total < ihl + 8 + 8 {
        return None;
    }
    let udp = &pkt[14 + ihl..ip_end];
    let port4500 = udp[0..2] == [0x11, 0x94] || udp[2..4] == [0x11, 0x94];
    (port4500 && udp[8..12] != [0, 0, 0, 0]).then_some((ihl, ip_end))
}

/// Formats frames as a table (for messages).
pub fn frames_table(frames: &[EspFrame]) -> String {
    let mut s = String::new();
    for f in frames {
        let _ = writeln!(s, "{}", f.summary());
    }
    s
}

/// Asserts that tshark decrypts both IKE_AUTH messages of `pcap` with one
/// `ikev2_decryption_table` line (the keys we exported): it must read their AUTH payloads as
/// method 2 (shared key MIC). `what` names the case in the failure message.
#[allow(dead_code)]
pub fn assert_ike_auth_decrypted(pcap: &Path, table_line: &str, what: &str) {
    let auth = fields_in_profile(
        pcap,
        &[("ikev2_decryption_table", format!("{table_line}\n"))],
        &[],
        "isakmp.exchangetype == 35",
        &["isakmp.auth.method"],
    );
    assert!(
        auth.len() >= 2 && auth.iter().all(|f| f[0] == "2"),
        "IKE_AUTH not decrypted {what}: {auth:?}"
    );
}
