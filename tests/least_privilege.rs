//! Least privilege, as root: the gateway runs as an unprivileged uid holding only
//! CAP_NET_ADMIN, CAP_NET_RAW and CAP_NET_BIND_SERVICE and brings a tunnel up against strongSwan
//! 5.9 (and pings through it), started two ways:
//!
//! - the systemd way: `setpriv` with exactly those three as inheritable, ambient and bounding
//!   capabilities (what `deploy/systemd/ikegate.service` asks of systemd);
//! - the container way: the runtime stage of the `Dockerfile` replayed step for step: its `USER`,
//!   the binary at `/usr/local/bin/ikegate` with the file capabilities its `setcap` gives, the
//!   entrypoint script it copies (`ikegate check` then `ikegate run`), the configuration at
//!   `/etc/ikegate/config.yaml`, the state directory `/var/lib/ikegate`, Docker's default
//!   capability bounding set plus `--cap-add NET_ADMIN`, and its `HEALTHCHECK` command. The paths
//!   are bind mounts in a private mount namespace (the host's `/etc/ikegate` and
//!   `/var/lib/ikegate` are created empty when missing, as mount points).
//!
//! A start without one of the capabilities fails with an error naming it.

mod common;

use common::charon::{Charon, CharonConfig};
use common::ikegate::Gateway;
use common::netns::{require_root, swan_lab, Netns, SwanLab};
use common::TempDir;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PSK: &str = "Ohk3shaeCh1aeb6u";
/// The three capabilities, in `setpriv` spelling.
const CAPS: &str = "+net_admin,+net_raw,+net_bind_service";
/// Their bits in `CapEff` (10, 12, 13).
const CAP_MASK: u64 = (1 << 10) | (1 << 12) | (1 << 13);
/// Docker's default bounding set (moby `oci/caps/defaults.go`) plus `--cap-add NET_ADMIN`.
const DOCKER_BOUNDING: &str = "-all,+chown,+dac_override,+fsetid,+fowner,+mknod,+net_raw,+setgid,\
+setuid,+setfcap,+setpcap,+net_bind_service,+sys_chroot,+kill,+audit_write,+net_admin";

fn can_run() -> bool {
    require_root()
        && common::charon::require_strongswan()
        && common::require_programs(&["setpriv", "unshare", "setcap", "curl", "ping"])
}

/// The runtime stage of the Dockerfile, as far as this test replays it.
struct RuntimeStage {
    uid: u32,
    gid: u32,
    entrypoint: Vec<String>,
    healthcheck: Vec<String>,
    setcap: String,
}

/// Reads `USER uid:gid`, `ENTRYPOINT [...]`, `HEALTHCHECK … CMD [...]` and the `setcap` of the
/// last stage of the Dockerfile.
fn runtime_stage() -> RuntimeStage {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile"))
        .expect("Dockerfile");
    let joined = text.replace("\\\n", " ");
    let stage = joined.rsplit("\nFROM ").next().unwrap();
    let line = |kw: &str| {
        stage
            .lines()
            .find(|l| l.starts_with(kw))
            .unwrap_or_else(|| panic!("no {kw} in the Dockerfile's runtime stage"))
            .to_string()
    };
    let user = line("USER ");
    let (uid, gid) = user[5..].trim().split_once(':').expect("USER uid:gid");
    let json = |l: &str| -> Vec<String> {
        let start = l.find('[').expect("exec form [...]");
        serde_json::from_str(&l[start..]).expect("a JSON array")
    };
    let hc = line("HEALTHCHECK ");
    let setcap = stage
        .split("RUN setcap ")
        .nth(1)
        .expect("RUN setcap in the runtime stage")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    RuntimeStage {
        uid: uid.parse().expect("numeric uid"),
        gid: gid.parse().expect("numeric gid"),
        entrypoint: json(&line("ENTRYPOINT ")),
        healthcheck: json(&hc[hc.find(" CMD ").expect("HEALTHCHECK CMD")..]),
        setcap,
    }
}

/// ikegate's side (IKEv1, PSK from `psk_file`), with an `admin:` block listening on
/// 127.0.0.1:8080 with `token_file` when given.
fn ours_yaml(psk_file: &Path, token_file: Option<&Path>) -> String {
    let admin = token_file.map_or(String::new(), |t| {
        format!(
            "admin:\n  listen: 127.0.0.1:8080\n  token-file: {}\n",
            t.display()
        )
    });
    format!(
        "{admin}interfaces:\n  ipsec0:\n    ipv4: {{ source: 10.0.0.1, destination: 10.0.0.2 }}\n    nat-traversal: enable\n    preshared-key-file: {}\n    ike:\n      version: 1\n      proposal:\n        phase2:\n          proxy-id:\n            ipv4: {{ local: 192.168.1.0/24, remote: 192.168.2.0/24 }}\n\
route:\n  ipv4:\n    - {{ destination: 192.168.2.0/24, gateway: ipsec0, source: 192.168.1.1 }}\n",
        psk_file.display()
    )
}

fn chown(p: &Path, uid: u32, gid: u32, mode: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A file of `text` owned by `uid:gid` with `mode`.
fn owned_file(p: &Path, text: &str, uid: u32, gid: u32, mode: u32) {
    std::fs::write(p, text).unwrap();
    chown(p, uid, gid, mode);
}

/// `(uid, CapEff)` of a running process.
fn creds(pid: u32) -> (u32, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("{k} in {status}"))
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    (
        field("Uid:").parse().unwrap(),
        u64::from_str_radix(&field("CapEff:"), 16).unwrap(),
    )
}

/// The unprivileged gateway is up: its uid and capabilities are the expected ones, charon
/// installed the child SA, and pings cross the tunnel both ways.
fn assert_tunnel(lab: &SwanLab, charon: &Charon, gw: &mut Gateway, uid: u32) {
    if !gw.wait_log("ESP SAs installed", 20) {
        charon.fail(&format!("ikegate did not install SAs:\n{}", gw.log_text()));
    }
    let (run_uid, eff) = creds(gw.pid().unwrap());
    assert_eq!(run_uid, uid, "{}", gw.log_text());
    assert_eq!(
        eff, CAP_MASK,
        "CapEff {eff:#x}: exactly net_admin, net_raw and net_bind_service"
    );
    charon.wait_child_installed("net", Duration::from_secs(10));
    let ctx = || format!("--- ikegate ---\n{}", gw.log_text());
    lab.ours.ping_ok("192.168.2.1", 3, ctx);
    lab.swan.ping_ok("192.168.1.1", 3, String::new);
}

fn charon(lab: &SwanLab) -> Charon {
    let mut c = CharonConfig::ikev1_psk("10.0.0.2", "10.0.0.1", "192.168.2.0/24", "192.168.1.0/24");
    c.psk = PSK.into();
    Charon::start(&lab.swan, c)
}

/// A directory `uid` owns (mode 0700), for the token file.
fn state_dir(dir: &TempDir, uid: u32, gid: u32) -> PathBuf {
    let d = dir.join("state");
    std::fs::create_dir_all(&d).unwrap();
    chown(&d, uid, gid, 0o700);
    d
}

#[test]
fn setpriv_ambient_capabilities_bring_a_tunnel_up_against_strongswan() {
    if !can_run() {
        return;
    }
    let stage = runtime_stage();
    let (uid, gid) = (stage.uid, stage.gid);
    let lab = swan_lab("lpo", "lps", "lpriv");
    let charon = charon(&lab);
    let state = state_dir(&lab.dir, uid, gid);
    let psk = lab.dir.join("ipsec0.psk");
    owned_file(&psk, PSK, uid, gid, 0o600);
    let config = lab.dir.join("ours.yaml");
    let token = state.join("admin.token");
    owned_file(&config, &ours_yaml(&psk, Some(&token)), 0, 0, 0o644);
    let (reuid, regid) = (format!("--reuid={uid}"), format!("--regid={gid}"));
    let caps = format!("-all,{CAPS}");
    let (inh, amb, bnd) = (
        format!("--inh-caps={caps}"),
        format!("--ambient-caps={caps}"),
        format!("--bounding-set={caps}"),
    );
    let argv = [
        "setpriv",
        &reuid,
        &regid,
        "--clear-groups",
        &inh,
        &amb,
        &bnd,
        "--",
        common::ikegate::bin(),
        "run",
        "--config",
        config.to_str().unwrap(),
    ];
    let argv = common::ikegate::with_tun_node(&lab.dir, 0o666, &argv);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut gw = Gateway::spawn(
        &lab.ours,
        &lab.dir,
        "ours",
        config.clone(),
        &argv,
        &[],
        Some("ipsec0"),
    );
    assert_tunnel(&lab, &charon, &mut gw, uid);
    // The token was generated by the unprivileged user, mode 0600.
    let meta = std::fs::metadata(&token).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), uid);
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
    charon.wait_ike_gone("gw", Duration::from_secs(10));
}

/// Runs `ikegate run` as `uid` with `caps` (setpriv spelling) and returns (exit code, log).
/// `/dev/net/tun` is a node of `tun_mode` for it.
fn run_with_caps(
    ns: &Netns,
    dir: &TempDir,
    config: &Path,
    uid: u32,
    caps: &str,
    tun_mode: u32,
) -> (i32, String) {
    let (reuid, regid) = (format!("--reuid={uid}"), format!("--regid={uid}"));
    let (inh, amb, bnd) = (
        format!("--inh-caps={caps}"),
        format!("--ambient-caps={caps}"),
        format!("--bounding-set={caps}"),
    );
    let argv = common::ikegate::with_tun_node(
        dir,
        tun_mode,
        &[
            "setpriv",
            &reuid,
            &regid,
            "--clear-groups",
            &inh,
            &amb,
            &bnd,
            "--",
            common::ikegate::bin(),
            "run",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let out = ns.command(&argv[0]).args(&argv[1..]).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_capability_is_named_at_start() {
    if !require_root() || !common::require_programs(&["setpriv"]) {
        return;
    }
    let ns = Netns::new("lpm");
    ns.add_lo_addr("10.0.0.1/32");
    let dir = TempDir::new("lpmiss");
    let uid = runtime_stage().uid;
    let config = dir.join("c.yaml");
    let psk = dir.join("ipsec0.psk");
    owned_file(&psk, PSK, uid, uid, 0o600);
    let yaml = ours_yaml(&psk, None);
    owned_file(&config, &yaml, 0, 0, 0o644);
    for (caps, missing) in [
        ("-all,+net_admin,+net_bind_service", "CAP_NET_RAW"),
        ("-all,+net_raw,+net_bind_service", "CAP_NET_ADMIN"),
        ("-all,+net_admin,+net_raw", "CAP_NET_BIND_SERVICE"),
    ] {
        let (code, err) = run_with_caps(&ns, &dir, &config, uid, caps, 0o666);
        assert_eq!(code, 1, "{caps}: {err}");
        assert!(
            err.starts_with(&format!("ikegate: missing capability: {missing} (to ")),
            "{caps}: {err}"
        );
        assert_eq!(err.matches("missing capability").count(), 1, "{err}");
        assert!(err.contains("AmbientCapabilities="), "{err}");
    }
    // No capability at all: all three named in one message.
    let (code, err) = run_with_caps(&ns, &dir, &config, uid, "-all", 0o666);
    assert_eq!(code, 1, "{err}");
    for c in ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"] {
        assert!(err.contains(&format!("{c} (to ")), "{err}");
    }
    // Every capability, but a TUN clone device only root may open: named, with the fix.
    let all = format!("-all,{CAPS}");
    let (code, err) = run_with_caps(&ns, &dir, &config, uid, &all, 0o600);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("ikegate: cannot open /dev/net/tun (Permission denied"),
        "{err}"
    );
    assert!(err.contains("chmod 0666 /dev/net/tun"), "{err}");
}

/// The mount points the container's paths are bound onto.
fn host_mount_point(p: &str) {
    if !Path::new(p).exists() {
        std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("creating {p}: {e}"));
    }
}

#[test]
fn dockerfile_runtime_stage_replayed_brings_a_tunnel_up_against_strongswan() {
    if !can_run() {
        return;
    }
    let stage = runtime_stage();
    let (uid, gid) = (stage.uid, stage.gid);
    let lab = swan_lab("lpc", "lpd", "lpdock");
    let charon = charon(&lab);
    // The image's tree: /usr/local/bin (binary with file capabilities + entrypoint),
    // /etc/ikegate (config, read-only to the user), /var/lib/ikegate (the user's state).
    let bin = lab.dir.join("usr-local-bin");
    let etc = lab.dir.join("etc-ikegate");
    let var = lab.dir.join("var-lib-ikegate");
    for d in [&bin, &etc, &var] {
        std::fs::create_dir_all(d).unwrap();
    }
    chown(&var, uid, gid, 0o700);
    let ikegate = bin.join("ikegate");
    std::fs::copy(common::ikegate::bin(), &ikegate).unwrap();
    chown(&ikegate, 0, 0, 0o755);
    let setcap = std::process::Command::new("setcap")
        .arg(&stage.setcap)
        .arg(&ikegate)
        .output()
        .unwrap();
    assert!(setcap.status.success(), "{setcap:?}");
    let entry = Path::new(&stage.entrypoint[0]);
    assert_eq!(entry.parent(), Some(Path::new("/usr/local/bin")));
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/docker/entrypoint.sh"),
        bin.join(entry.file_name().unwrap()),
    )
    .unwrap();
    let psk = etc.join("ipsec0.psk");
    owned_file(&psk, PSK, uid, gid, 0o400);
    let config = etc.join("config.yaml");
    let yaml = ours_yaml(
        Path::new("/etc/ikegate/ipsec0.psk"),
        Some(Path::new("/var/lib/ikegate/admin.token")),
    );
    host_mount_point("/etc/ikegate");
    host_mount_point("/var/lib/ikegate");
    // `docker run --device /dev/net/tun` on a host whose node is udev's 0666.
    let tun = common::ikegate::with_tun_node(&lab.dir, 0o666, &[]);
    let mounts = format!(
        "mount --bind '{}' /usr/local/bin && mount --bind '{}' /etc/ikegate && \
         mount --bind '{}' /var/lib/ikegate && mount --bind '{}' /dev/net/tun",
        bin.display(),
        etc.display(),
        var.display(),
        lab.dir.join("tun-666").display()
    );
    drop(tun);
    let container = |script: &str| {
        vec![
            "unshare".to_string(),
            "--mount".into(),
            "--propagation".into(),
            "private".into(),
            "sh".into(),
            "-c".into(),
            format!(
                "{mounts} && exec setpriv --reuid={uid} --regid={gid} --clear-groups \
                 --inh-caps=-all --bounding-set={DOCKER_BOUNDING} -- {script}"
            ),
        ]
    };
    // `ikegate check` runs before the gateway: a broken configuration stops it with exit 2.
    owned_file(&config, "interfaces: 3\n", 0, 0, 0o644);
    let broken = container(&stage.entrypoint.join(" "));
    let out = lab
        .ours
        .command(&broken[0])
        .args(&broken[1..])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/etc/ikegate/config.yaml: "), "{err}");
    assert!(!err.contains("running with"), "{err}");

    owned_file(&config, &yaml, 0, 0, 0o644);
    let argv = container(&stage.entrypoint.join(" "));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut gw = Gateway::spawn(
        &lab.ours,
        &lab.dir,
        "container",
        config.clone(),
        &argv,
        &[],
        Some("ipsec0"),
    );
    assert!(
        gw.log_text().contains("config OK: 1 interface(s)"),
        "{}",
        gw.log_text()
    );
    assert_tunnel(&lab, &charon, &mut gw, uid);
    // The HEALTHCHECK command, run the way Docker runs it (inside the container: same
    // network namespace, same user).
    let health = container(&stage.healthcheck.join(" "));
    let out = lab
        .ours
        .command(&health[0])
        .args(&health[1..])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "HEALTHCHECK failed: {out:?}\n{}",
        gw.log_text()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"status\""),
        "{out:?}"
    );
    assert!(var.join("admin.token").exists());
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
}
