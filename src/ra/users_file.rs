//! The users file: one remote-access user per line with the hashes each login method needs,
//! written by `ikegate users add` and read by the daemon through [`Directory`].
//!
//! ```text
//! # ikegate users file (mode 0600): NAME FIELD=VALUE …, written by `ikegate users add`
//! alice nt=44ebba8d5312b8d611474411f56989ae argon2id=$argon2id$v=19$m=19456,t=2,p=1$…
//! bob nt=… argon2id=… eap-md5=636c69656e7450617373
//! ```
//!
//! `nt` is the NT hash (MD4 of the UTF-16LE password) that EAP-MSCHAPv2 verifies with;
//! `argon2id` a PHC string for XAUTH; `eap-md5` the password itself in hex, written only when
//! asked (`--eap-md5`), because EAP-MD5 needs a cleartext-equivalent secret.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use zeroize::Zeroizing;

use super::directory::{Credential, Directory, LoginFailure};
use crate::ike::auth::eap::mschapv2::{nt_password_hash, NtHash};

/// Longest user name we store (an EAP identity such as `user@example.com` fits).
pub const MAX_NAME_LEN: usize = 253;

/// The parsed users file.
#[derive(Default, Clone)]
pub struct UsersFile {
    path: Option<PathBuf>,
    users: BTreeMap<String, Entry>,
}

#[derive(Clone, Default)]
struct Entry {
    nt: Option<NtHash>,
    argon2id: Option<String>,
    md5: Option<Zeroizing<Vec<u8>>>,
}

/// What `ikegate users add` stores besides the NT hash and the argon2id hash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// Also store the cleartext-equivalent EAP-MD5 secret.
    pub eap_md5: bool,
}

impl fmt::Debug for UsersFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsersFile")
            .field("path", &self.path)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("hashes", &"<redacted>")
            .finish()
    }
}

impl UsersFile {
    /// Reads the file at `path`, refusing one that group or others can open.
    pub fn load(path: &Path) -> Result<UsersFile, String> {
        check_private(path)?;
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read users file {}: {e}", path.display()))?,
        );
        let mut f = UsersFile::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        f.path = Some(path.to_path_buf());
        Ok(f)
    }

    /// Reads `path` for `ikegate users add/remove`: a missing file is an empty one.
    pub fn load_or_empty(path: &Path) -> Result<UsersFile, String> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UsersFile {
                path: Some(path.to_path_buf()),
                ..UsersFile::default()
            }),
            _ => UsersFile::load(path),
        }
    }

    /// Parses the text of a users file; errors name the line.
    pub fn parse(text: &str) -> Result<UsersFile, String> {
        let mut users = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_ascii_whitespace();
            let name = fields.next().unwrap_or_default();
            let entry = parse_fields(fields).map_err(|e| format!("line {}: {e}", n + 1))?;
            if users.insert(name.to_string(), entry).is_some() {
                return Err(format!(
                    "line {}: user \"{name}\" appears twice; remove one line",
                    n + 1
                ));
            }
        }
        Ok(UsersFile { path: None, users })
    }

    /// The file's text, as `ikegate users add` writes it.
    pub fn render(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::from(
            "# ikegate users file (mode 0600): NAME FIELD=VALUE ..., written by `ikegate users add`\n",
        ));
        for (name, e) in &self.users {
            s.push_str(name);
            if let Some(nt) = &e.nt {
                s.push_str(" nt=");
                s.push_str(&hex(&nt[..]));
            }
            if let Some(a) = &e.argon2id {
                s.push_str(" argon2id=");
                s.push_str(a);
            }
            if let Some(m) = &e.md5 {
                s.push_str(" eap-md5=");
                s.push_str(&hex(m));
            }
            s.push('\n');
        }
        s
    }

    /// Adds or replaces `name` with the hashes of `password`; `salt` (16 random octets) seeds
    /// the argon2id hash.
    pub fn add(
        &mut self,
        name: &str,
        password: &str,
        salt: &[u8; 16],
        options: AddOptions,
    ) -> Result<(), String> {
        check_name(name)?;
        if password.is_empty() {
            return Err("the password is empty; type one on standard input".into());
        }
        let salt = SaltString::encode_b64(salt).map_err(|e| format!("salt: {e}"))?;
        let argon2id = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| format!("argon2id: {e}"))?
            .to_string();
        let md5 = options
            .eap_md5
            .then(|| Zeroizing::new(password.as_bytes().to_vec()));
        let entry = Entry {
            nt: Some(nt_password_hash(password)),
            argon2id: Some(argon2id),
            md5,
        };
        self.users.insert(name.to_string(), entry);
        Ok(())
    }

    /// Removes `name`; false when it was not there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.users.remove(name).is_some()
    }

    /// The user names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// Writes the file to `path` atomically (a temporary file renamed over it), mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(self.render().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write users file {}: {e}", path.display())
        })
    }

    fn entry(&self, user: &str) -> Result<&Entry, LoginFailure> {
        self.users
            .get(user)
            .ok_or_else(|| LoginFailure::UnknownUser {
                user: user.to_string(),
            })
    }

    fn missing(&self, user: &str, credential: Credential) -> LoginFailure {
        let file = self
            .path
            .as_deref()
            .map_or_else(|| "FILE".to_string(), |p| p.display().to_string());
        let flag = if credential == Credential::Md5Secret {
            " --eap-md5"
        } else {
            ""
        };
        LoginFailure::MethodNotStored {
            user: user.to_string(),
            credential,
            fix: format!("re-add the user with `ikegate users add {file} {user}{flag}`"),
        }
    }
}

impl Directory for UsersFile {
    fn verify_password(&self, user: &str, password: &[u8]) -> Result<(), LoginFailure> {
        let e = self.entry(user)?;
        let phc = e
            .argon2id
            .as_deref()
            .ok_or_else(|| self.missing(user, Credential::PasswordHash))?;
        let parsed =
            PasswordHash::new(phc).map_err(|_| self.missing(user, Credential::PasswordHash))?;
        Argon2::default()
            .verify_password(password, &parsed)
            .map_err(|_| LoginFailure::WrongPassword {
                user: user.to_string(),
                method: "xauth",
            })
    }

    fn nt_hash(&self, user: &str) -> Result<NtHash, LoginFailure> {
        let e = self.entry(user)?;
        e.nt.clone()
            .ok_or_else(|| self.missing(user, Credential::NtHash))
    }

    fn md5_secret(&self, user: &str) -> Result<Zeroizing<Vec<u8>>, LoginFailure> {
        let e = self.entry(user)?;
        e.md5
            .clone()
            .ok_or_else(|| self.missing(user, Credential::Md5Secret))
    }
}

/// Refuses a users file that group or others may open, with the fix.
pub fn check_private(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read users file {}: {e}", path.display()))?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "users file {} is open to group or others (mode {mode:04o}); it holds password \
             hashes: run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "a user name has 1 to {MAX_NAME_LEN} octets (got {})",
            name.len()
        ));
    }
    if name.starts_with('#') || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "\"{}\" cannot be a user name: no spaces, control characters or leading '#'",
            name.escape_debug()
        ));
    }
    Ok(())
}

fn parse_fields<'a>(fields: impl Iterator<Item = &'a str>) -> Result<Entry, String> {
    let mut e = Entry::default();
    for f in fields {
        // A field without '=' may be a password typed by hand: never echo it.
        let (key, value) = f.split_once('=').ok_or(
            "a field is not FIELD=VALUE (not shown: it may be a password); write the user with \
             `ikegate users add`",
        )?;
        match key {
            "nt" => {
                let b = unhex(value).filter(|b| b.len() == 16).ok_or(
                    "nt= must be 32 hex digits (the NT hash); re-add the user with `ikegate users add`",
                )?;
                let mut h = Zeroizing::new([0u8; 16]);
                h.copy_from_slice(&b);
                e.nt = Some(h);
            }
            "argon2id" => {
                PasswordHash::new(value).map_err(|err| {
                    format!("argon2id= is not a PHC string ({err}); re-add the user")
                })?;
                e.argon2id = Some(value.to_string());
            }
            "eap-md5" => {
                e.md5 = Some(unhex(value).ok_or("eap-md5= must be hex")?);
            }
            _ => {
                return Err(format!(
                    "unknown field \"{key}\"; the fields are nt, argon2id and eap-md5"
                ))
            }
        }
    }
    Ok(e)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    if s.len() % 2 != 0 || s.is_empty() {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(s.len() / 2));
    for i in (0..s.len()).step_by(2) {
        out.push(u8::from_str_radix(s.get(i..i + 2)?, 16).ok()?);
    }
    Some(out)
}

/// Fuzz harness for the users-file parser (target `users_file` in `fuzz/`), replayed by
/// `cargo test` like the others. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    use super::UsersFile;

    /// Any text: refused with a reason naming the line, or parsed into users whose rendering
    /// parses back to the same users.
    pub fn users_file(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        match UsersFile::parse(text) {
            Err(e) => assert!(e.starts_with("line "), "an error without its line: {e}"),
            Ok(users) => {
                let rendered = users.render();
                let again = UsersFile::parse(&rendered)
                    .unwrap_or_else(|e| panic!("our own rendering does not parse: {e}"));
                assert_eq!(*again.render(), *rendered, "rendering is not stable");
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use crate::ike::v2::fuzzing::tests::{random_inputs, seeds};

        #[test]
        fn users_file_survives_seeds_and_random_inputs() {
            let seeds = seeds("users_file");
            assert!(!seeds.is_empty(), "fuzz/seeds/users_file is empty");
            for s in seeds {
                super::users_file(&s);
            }
            for s in random_inputs(43, 500, 300) {
                super::users_file(&s);
            }
        }

        /// The fuzzer starts from a file that parses, so it reaches the rendering round trip.
        #[test]
        fn the_two_users_seed_parses() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fuzz/seeds/users_file/two_users"
            );
            let text = std::fs::read_to_string(path).expect("seed");
            let users = super::UsersFile::parse(&text).expect("the two_users seed parses");
            assert_eq!(users.names().collect::<Vec<_>>(), ["alice", "bob"]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn add_render_parse_lookup() {
        let mut f = UsersFile::default();
        f.add("alice", "clientPass", &[1; 16], AddOptions::default())
            .unwrap();
        f.add("bob", "s3cret", &[2; 16], AddOptions { eap_md5: true })
            .unwrap();
        let text = f.render();
        assert!(text.contains("alice nt=44ebba8d5312b8d611474411f56989ae argon2id=$argon2id$"));
        assert!(text.contains(" eap-md5=733363726574\n"), "{}", &*text);
        assert!(!text.contains("clientPass"));
        let g = UsersFile::parse(&text).unwrap();
        assert_eq!(g.names().collect::<Vec<_>>(), ["alice", "bob"]);
        assert_eq!(g.nt_hash("alice").unwrap(), nt_password_hash("clientPass"));
        assert!(g.verify_password("alice", b"clientPass").is_ok());
        assert_eq!(
            g.verify_password("alice", b"clientpass"),
            Err(LoginFailure::WrongPassword {
                user: "alice".into(),
                method: "xauth"
            })
        );
        assert_eq!(&**g.md5_secret("bob").unwrap(), b"s3cret");
        let e = g.md5_secret("alice").unwrap_err();
        assert_eq!(e.reason(), "method_not_stored");
        assert!(e.to_string().contains("--eap-md5"), "{e}");
        assert_eq!(
            g.nt_hash("carol").unwrap_err(),
            LoginFailure::UnknownUser {
                user: "carol".into()
            }
        );
        assert!(!format!("{g:?}").contains("44ebba"));
    }

    #[test]
    fn hostile_files_are_refused_by_line() {
        for (text, want) in [
            ("alice nt=00", "line 1: nt= must be 32 hex digits"),
            ("\n\nalice pw=x", "line 3: unknown field \"pw\""),
            (
                "alice argon2id=nope",
                "line 1: argon2id= is not a PHC string",
            ),
            ("a\na", "line 2: user \"a\" appears twice"),
            ("a s3cret", "line 1: a field is not FIELD=VALUE"),
        ] {
            let e = UsersFile::parse(text).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
            assert!(!e.contains("s3cret"), "a hand-typed password echoed: {e}");
        }
        let mut f = UsersFile::default();
        assert!(f.add("a b", "x", &[0; 16], AddOptions::default()).is_err());
        assert!(f.add("#a", "x", &[0; 16], AddOptions::default()).is_err());
        assert!(f.add("a", "", &[0; 16], AddOptions::default()).is_err());
    }

    #[test]
    fn file_is_written_0600_and_open_modes_are_refused() {
        let dir = std::env::temp_dir().join(format!("ikegate-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users");
        let mut f = UsersFile::load_or_empty(&path).unwrap();
        f.add("alice", "pw", &[3; 16], AddOptions::default())
            .unwrap();
        f.save(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let mut g = UsersFile::load(&path).unwrap();
        assert!(g.remove("alice"));
        assert!(!g.remove("alice"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = UsersFile::load(&path).unwrap_err();
        assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
