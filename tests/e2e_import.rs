//! The configurations of the SEIL article (seed 003), imported with `ikegate import`, bring
//! tunnels up against a real strongSwan 5.9 charon (tests/common harness; root only, prints
//! "skipping: …" otherwise).
//!
//! - `ikegate import seil` of the article's minimal SEIL configuration: ikegate plays the SEIL
//!   (10.0.0.1, LAN 192.168.1.0/24) and initiates; charon is the article's strongSwan (10.0.0.2,
//!   `keyexchange=ikev1`, `authby=secret`, `ike=aes256-sha256-modp1536!`, its subnets, PSK
//!   xeeB5gohvaYi, `auto=add`, strongSwan's default ESP proposal).
//! - `ikegate import swanctl` of that strongSwan side (the article's ipsec.conf as swanctl.conf):
//!   ikegate plays the strongSwan (10.0.0.2) and answers; charon plays the SEIL side and
//!   initiates.
//!
//! The imported YAML runs unchanged. The lab already has the article's addresses (outer
//! 10.0.0.1/10.0.0.2, inside hosts 192.168.1.1/192.168.2.1 on `lo`); the only adaptation is in
//! the test: pings are sent from the inside host address (`ping -I`), because the imported
//! route (like SEIL's) names no preferred source and the host has no LAN interface here.

mod common;

use std::path::Path;
use std::time::Duration;

use common::charon::{Charon, CharonConfig};
use common::ikegate::Gateway;
use common::netns::{require_root, swan_lab, Netns};

const PSK: &str = "xeeB5gohvaYi";

fn can_run() -> bool {
    require_root() && common::charon::require_strongswan() && common::require_programs(&["ping"])
}

/// `ikegate import FORMAT tests/data/import/FILE` → the YAML (which `ikegate check` passes).
fn imported(format: &str, file: &str, dir: &Path) -> String {
    let src = format!("{}/tests/data/import/{file}", env!("CARGO_MANIFEST_DIR"));
    let out = dir.join(format!("{file}.yaml"));
    let (code, stdout, stderr) =
        common::ikegate::cli(&["import", format, &src, "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = common::ikegate::cli(&["check", "-c", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    std::fs::read_to_string(&out).unwrap()
}

/// Three pings from `from_host` (an inside address of `ns`) to `to`, all answered.
fn ping_from(ns: &Netns, from_host: &str, to: &str, ctx: impl FnOnce() -> String) {
    let ok = common::poll_opt(Duration::from_secs(10), || {
        let out = ns.exec(&["ping", "-n", "-c", "1", "-W", "1", "-I", from_host, to]);
        out.status.success().then_some(())
    });
    assert!(ok.is_some(), "no answer from {to}\n{}", ctx());
    let out = ns.exec(&["ping", "-n", "-c", "3", "-W", "2", "-I", from_host, to]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 received"), "{text}\n{}", ctx());
}

#[test]
fn seil_import_of_seed003_comes_up_against_strongswan() {
    if !can_run() {
        return;
    }
    let lab = swan_lab("ims", "imw", "import-seil");
    let yaml = imported("seil", "seed003-minimal.seil", lab.dir.path());
    let mut swan =
        CharonConfig::ikev1_psk("10.0.0.2", "10.0.0.1", "192.168.2.0/24", "192.168.1.0/24");
    swan.psk = PSK.into();
    swan.ike_proposals = "aes256-sha256-modp1536".into();
    swan.esp_proposals = "default".into();
    let charon = Charon::start(&lab.swan, swan);
    let mut gw = Gateway::start(&lab.ours, &lab.dir, "seil", &yaml, Some("ipsec0"));
    if !gw.wait_log("ESP SAs installed", 20) {
        charon.fail(&format!(
            "the imported SEIL tunnel did not come up:\n{}",
            gw.log_text()
        ));
    }
    let info = charon.wait_child_installed("net", Duration::from_secs(10));
    let ctx = || {
        format!(
            "--- ikegate ---\n{}\n--- charon ---\n{}",
            gw.log_text(),
            common::tail(&charon.log(), 40)
        )
    };
    ping_from(&lab.ours, "192.168.1.1", "192.168.2.1", ctx);
    ping_from(&lab.swan, "192.168.2.1", "192.168.1.1", ctx);
    println!("charon child SA with the imported SEIL tunnel: {info:?}");
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn swanctl_import_of_seed003_answers_the_seil_side() {
    if !can_run() {
        return;
    }
    // ikegate takes the strongSwan host's place (10.0.0.2, 192.168.2.0/24), charon the SEIL's.
    let lab = swan_lab("imc", "imo", "import-swanctl");
    let (seil_ns, ours_ns) = (&lab.ours, &lab.swan);
    let yaml = imported("swanctl", "seed003-strongswan.swanctl.conf", lab.dir.path());
    assert!(yaml.contains("responder-only: enable"), "{yaml}");
    let mut seil =
        CharonConfig::ikev1_psk("10.0.0.1", "10.0.0.2", "192.168.1.0/24", "192.168.2.0/24");
    seil.psk = PSK.into();
    seil.ike_proposals = "aes256-sha256-modp1536".into();
    seil.esp_proposals = "aes256-sha256".into();
    let charon = Charon::start(seil_ns, seil);
    let mut gw = Gateway::start(ours_ns, &lab.dir, "swanctl", &yaml, Some("ipsec0"));
    charon.initiate_ok("net");
    if !gw.wait_log("ESP SAs installed", 20) {
        charon.fail(&format!(
            "the imported swanctl tunnel did not come up:\n{}",
            gw.log_text()
        ));
    }
    charon.wait_child_installed("net", Duration::from_secs(10));
    let ctx = || {
        format!(
            "--- ikegate ---\n{}\n--- charon ---\n{}",
            gw.log_text(),
            common::tail(&charon.log(), 40)
        )
    };
    ping_from(ours_ns, "192.168.2.1", "192.168.1.1", ctx);
    ping_from(seil_ns, "192.168.1.1", "192.168.2.1", ctx);
    let (code, log) = gw.stop();
    assert_eq!(code, Some(0), "{log}");
}
