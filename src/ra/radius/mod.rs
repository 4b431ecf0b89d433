//! RADIUS as the user directory (RFC 2865), with EAP pass-through (RFC 3579) and the MPPE keys
//! of RFC 2548 that carry the EAP MSK back to the gateway.
//!
//! - [`wire`]: packet and attribute views, the emitter.
//! - [`crypto`]: authenticators, User-Password hiding, Message-Authenticator, MPPE keys.
//! - [`eap`]: EAP-Message fragmentation and reassembly.
//! - [`client`]: the sans-IO client (identifiers, retransmission, matching, timeouts).
//! - [`logins`]: the remote-access interface's user directory ([`RadiusLogins`], sans-IO).
//! - [`udp`]: a thin tokio wrapper (`authenticate_pap`, `eap_round`) for tools and tests.
//! - [`secret_file`]: the shared secret from a file only its owner can read.

pub mod client;
pub mod crypto;
pub mod eap;
#[doc(hidden)]
pub mod fuzzing;
pub mod logins;
pub mod udp;
pub mod wire;

pub use client::{ClientConfig, RadiusError, State};
pub use crypto::SecretBytes;
pub use logins::RadiusLogins;
pub use udp::{EapRound, PapOutcome, RadiusClient};

use std::path::Path;

/// Why a `secret-file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("radius.secret-file: cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("radius.secret-file: {path} is readable by group or others (mode {mode:o}); run: chmod 600 {path}")]
    Permissions { path: String, mode: u32 },
    #[error("radius.secret-file: {path} is empty; put the shared secret of the server's client entry in it")]
    Empty { path: String },
}

/// Reads the RADIUS shared secret from `path`: the whole file less one trailing newline,
/// refused when group or others may read it.
pub fn secret_file(path: &Path) -> Result<SecretBytes, SecretFileError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display().to_string();
    let read_err = |e: std::io::Error| SecretFileError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let mode = std::fs::metadata(path)
        .map_err(read_err)?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretFileError::Permissions { path: shown, mode });
    }
    let mut bytes = std::fs::read(path).map_err(read_err)?;
    let end = bytes
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    bytes[end..].iter_mut().for_each(|b| *b = 0);
    bytes.truncate(end);
    if bytes.is_empty() {
        return Err(SecretFileError::Empty { path: shown });
    }
    Ok(SecretBytes::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secret_file_modes_and_newline() {
        let dir =
            std::env::temp_dir().join(format!("ikegate-radius-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("secret");
        std::fs::write(&p, "s3cret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = secret_file(&p).unwrap_err().to_string();
        assert!(e.contains(&format!("chmod 600 {}", p.display())), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(secret_file(&p).unwrap().expose(), b"s3cret");
        std::fs::write(&p, "\n").unwrap();
        assert!(secret_file(&p)
            .unwrap_err()
            .to_string()
            .contains("is empty"));
        let e = secret_file(&dir.join("missing")).unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
