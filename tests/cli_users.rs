//! `ikegate users add|remove` and `ikegate check` on a `remote-access:` block, run as commands.

mod common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};

use common::ikegate::cli;
use common::TempDir;

fn users(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ikegate"))
        .arg("users")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusal (a file of the wrong mode, a missing user) may come before the password is
    // read: the pipe is then closed under us, which is no failure of the test.
    let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn users_add_writes_hashes_0600_and_remove_takes_one_out() {
    let dir = TempDir::new("cli-users");
    let file = dir.join("users");
    let f = file.to_str().unwrap();
    let (code, out, err) = users(&["add", f, "alice"], "clientPass\n");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("user \"alice\" stored (eap-mschapv2 and xauth)"),
        "{out}"
    );
    let (code, _, err) = users(&["add", f, "bob", "--eap-md5"], "s3cret\r\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    // The NT hash of RFC 2759 §9.2's "clientPass"; the password itself only for EAP-MD5.
    assert!(
        text.contains("alice nt=44ebba8d5312b8d611474411f56989ae argon2id=$argon2id$v=19$"),
        "{text}"
    );
    assert!(!text.contains("clientPass"), "{text}");
    assert!(
        text.contains("bob nt=") && text.contains(" eap-md5=733363726574\n"),
        "{text}"
    );

    let (code, _, err) = users(&["add", f, "carol"], "\n");
    assert_eq!(code, 2);
    assert!(err.contains("the password is empty"), "{err}");
    let (code, out, err) = users(&["remove", f, "alice"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("user \"alice\" removed"), "{out}");
    assert!(!std::fs::read_to_string(&file).unwrap().contains("alice"));
    let (code, _, err) = users(&["remove", f, "alice"], "");
    assert_eq!(code, 2);
    assert!(err.contains("no user \"alice\""), "{err}");

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, _, err) = users(&["add", f, "dave"], "pw\n");
    assert_eq!(code, 2);
    assert!(
        err.contains("mode 0640") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn check_validates_remote_access_and_refuses_what_is_not_served() {
    let dir = TempDir::new("cli-ra");
    let users_file = dir.join("users");
    std::fs::write(&users_file, "").unwrap();
    std::fs::set_permissions(&users_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = dir.join("ra.yaml");
    std::fs::write(
        &cfg,
        r#"
interfaces:
  ipsec-ra0:
    ipv4: { source: 10.0.0.1, destination: dynamic }
    preshared-key: "group secret"
    responder-only: enable
    ike: { version: 2 }
    remote-access:
      pool: { ipv4: 10.8.0.0/24 }
      dns: [10.8.0.53]
      split-include: [192.168.1.0/24]
      auth: eap-mschapv2
      users-file: users
      mode-cfg: push
"#,
    )
    .unwrap();
    let (code, out, err) = cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    for want in [
        "interfaces.ipsec-ra0.remote-access.users-file: users file",
        "chmod 600",
        "interfaces.ipsec-ra0.remote-access.auth: with `auth: eap-mschapv2` the gateway proves itself with a certificate",
        "interfaces.ipsec-ra0.remote-access.mode-cfg: mode-cfg is IKEv1's",
    ] {
        assert!(err.contains(want), "want {want:?} in:\n{err}");
    }
}
