//! A small schema walker over a YAML tree: every accessor records errors (with the key path and
//! what to write instead) rather than stopping at the first, so `ikegate check` lists them all.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use yaml_serde::{Mapping, Value};
use zeroize::Zeroizing;

/// One configuration error: where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `interfaces.ipsec0.manual-sa.outbound.key`.
    pub path: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", &self.path, self.message)
        }
    }
}

/// Collects errors while walking the tree.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<ConfigError>);

impl Errors {
    /// Records an error at `path`.
    pub fn push(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ConfigError {
            path: path.to_string(),
            message: message.into(),
        });
    }
}

/// A value in the tree with its path.
#[derive(Clone)]
pub struct Node<'a> {
    /// The YAML value.
    pub value: &'a Value,
    path: String,
}

/// Joins a path and a key.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("\"{s}\""),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a block of keys".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `choices` to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'c>(word: &str, choices: &[&'c str]) -> Option<&'c str> {
    choices
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl<'a> Node<'a> {
    /// The root of a document.
    pub fn root(value: &'a Value) -> Node<'a> {
        Node {
            value,
            path: String::new(),
        }
    }

    /// Dotted path of this value.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Treats this value as a block with the given keys; unknown keys are reported (with a
    /// suggestion). Returns the mapping, or `None` (with an error) if it is not a block.
    pub fn block(&self, errs: &mut Errors, allowed: &[&str]) -> Option<&'a Mapping> {
        let Value::Mapping(m) = self.value else {
            errs.push(
                &self.path,
                format!("expected a block of keys, got {}", describe(self.value)),
            );
            return None;
        };
        for k in m.keys() {
            match k.as_str() {
                Some(k) if allowed.contains(&k) => {}
                Some(k) => {
                    let hint = match did_you_mean(k, allowed) {
                        Some(s) => format!("; did you mean `{s}`?"),
                        None => format!("; known keys here: {}", allowed.join(", ")),
                    };
                    errs.push(&join(&self.path, k), format!("unknown key `{k}`{hint}"));
                }
                None => errs.push(&self.path, format!("key {} is not a name", describe(k))),
            }
        }
        Some(m)
    }

    /// Formats the path of a child key (owned, since children outlive this borrow).
    pub fn child_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Reports an error at this value's path.
    pub fn error(&self, errs: &mut Errors, message: impl Into<String>) {
        errs.push(&self.path, message);
    }

    /// A string value.
    pub fn str(&self, errs: &mut Errors, example: &str) -> Option<&'a str> {
        match self.value {
            Value::String(s) => Some(s),
            v => {
                errs.push(
                    &self.path,
                    format!("expected text, got {}; write e.g. `{example}`", describe(v)),
                );
                None
            }
        }
    }

    /// An unsigned integer in `min..=max` (decimal, or a 0x… string/number).
    pub fn uint(&self, errs: &mut Errors, min: u64, max: u64, example: &str) -> Option<u64> {
        let n = match self.value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => parse_uint(s),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                errs.push(
                    &self.path,
                    format!(
                        "{n} is out of range; use a value from {min} to {max}, e.g. `{example}`"
                    ),
                );
                None
            }
            None => {
                errs.push(
                    &self.path,
                    format!(
                        "expected a whole number, got {}; write e.g. `{example}`",
                        describe(self.value)
                    ),
                );
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub fn choice<T: Copy>(&self, errs: &mut Errors, choices: &[(&str, T)]) -> Option<T> {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let word = match self.value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            v => {
                errs.push(
                    &self.path,
                    format!("expected one of {}, got {}", names.join(" | "), describe(v)),
                );
                return None;
            }
        };
        if let Some((_, t)) = choices.iter().find(|(n, _)| *n == word) {
            return Some(*t);
        }
        let hint = did_you_mean(&word, &names)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        errs.push(
            &self.path,
            format!("\"{word}\" is not one of {}{hint}", names.join(" | ")),
        );
        None
    }

    /// An IP address.
    pub fn ip(&self, errs: &mut Errors, example: &str) -> Option<IpAddr> {
        let s = self.str(errs, example)?;
        match s.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                errs.push(
                    &self.path,
                    format!("\"{s}\" is not an IP address; write e.g. `{example}`"),
                );
                None
            }
        }
    }

    /// A list of values.
    pub fn list(&self, errs: &mut Errors) -> Vec<Node<'a>> {
        match self.value {
            Value::Sequence(s) => s
                .iter()
                .enumerate()
                .map(|(i, v)| Node {
                    value: v,
                    path: format!("{}[{i}]", self.path),
                })
                .collect(),
            v => {
                errs.push(
                    &self.path,
                    format!(
                        "expected a list (`- …` lines or `[a, b]`), got {}",
                        describe(v)
                    ),
                );
                vec![]
            }
        }
    }
}

/// The child `key` of a block, as a node.
pub fn child<'a>(m: &'a Mapping, parent: &Node<'_>, key: &str) -> Option<Node<'a>> {
    m.get(key).map(|v| Node {
        value: v,
        path: join(&parent.path, key),
    })
}

/// The entries of a block whose keys are names (e.g. interface names), as (name, node).
pub fn entries<'a>(m: &'a Mapping, parent: &Node<'_>) -> Vec<(String, Node<'a>)> {
    m.iter()
        .filter_map(|(k, v)| {
            let name = k.as_str()?.to_string();
            let path = join(&parent.path, &name);
            Some((name, Node { value: v, path }))
        })
        .collect()
}

/// Parses decimal or 0x-prefixed hexadecimal.
pub fn parse_uint(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses a hex key (`0x…`, or bare hex; `:` separators allowed).
pub fn parse_hex_key(s: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let t = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let t: String = t.chars().filter(|c| *c != ':').collect();
    if t.len() % 2 != 0 {
        return Err(format!(
            "a hex key needs an even number of digits, got {}",
            t.len()
        ));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(t.len() / 2));
    for i in (0..t.len()).step_by(2) {
        let byte = t
            .get(i..i + 2)
            .and_then(|p| u8::from_str_radix(p, 16).ok())
            .ok_or_else(|| "a hex key may only contain 0-9 and a-f (after `0x`)".to_string())?;
        out.push(byte);
    }
    Ok(out)
}

/// Reads a secret from a file, refusing a trailing newline (the racoon trap: the key then
/// silently differs from the peer's).
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    check_secret_mode(path)?;
    let data = Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
    );
    if data.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    if data.ends_with(b"\n") || data.ends_with(b"\r") {
        return Err(format!(
            "{} ends in a newline, which would become part of the key; write it without one \
             (printf '%s' KEY > {0}) or remove it (truncate -s -1 {0})",
            path.display()
        ));
    }
    Ok(data)
}

/// Refuses a secret file (pre-shared key, private key, users file) that users other than its
/// owner can read: any bit for others, or a group bit unless the file's group is our own
/// effective group (a Kubernetes Secret mounted with `fsGroup`, a systemd credential), so the
/// group holds only us. The error says the command that fixes it.
pub fn check_secret_mode(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mode = meta.mode() & 0o777;
    let group_is_ours = meta.gid() == nix::unistd::getegid().as_raw();
    if mode & 0o007 != 0 || (mode & 0o070 != 0 && !group_is_ours) {
        return Err(format!(
            "{} holds a secret but other users can read it (mode {mode:o}); run: chmod 600 {0}",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("destinaton", &["source", "destination"]),
            Some("destination")
        );
        assert_eq!(did_you_mean("zzzz", &["source", "destination"]), None);
        assert_eq!(
            did_you_mean("forse", &["disable", "enable", "force"]),
            Some("force")
        );
    }

    #[test]
    fn hex_keys() {
        assert_eq!(&*parse_hex_key("0x0102ff").unwrap(), &[1, 2, 255]);
        assert_eq!(&*parse_hex_key("01:02").unwrap(), &[1, 2]);
        assert!(parse_hex_key("0x123").is_err());
        assert!(parse_hex_key("0xzz").is_err());
        assert_eq!(parse_uint("0x1001"), Some(0x1001));
        assert_eq!(parse_uint("4097"), Some(4097));
    }

    #[test]
    fn secret_file_with_newline_is_refused() {
        let dir = std::env::temp_dir().join(format!("ikegate-secret-{}", std::process::id()));
        std::fs::write(&dir, b"xeeB5gohvaYi\n").unwrap();
        set_mode(&dir, 0o600);
        let e = read_secret_file(&dir).unwrap_err();
        assert!(e.contains("ends in a newline"), "{e}");
        std::fs::write(&dir, b"xeeB5gohvaYi").unwrap();
        assert_eq!(&*read_secret_file(&dir).unwrap(), b"xeeB5gohvaYi");
        std::fs::remove_file(&dir).unwrap();
    }

    fn set_mode(p: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn secret_file_readable_by_others_is_refused_with_the_fix() {
        let p = std::env::temp_dir().join(format!("ikegate-secret-mode-{}", std::process::id()));
        std::fs::write(&p, b"xeeB5gohvaYi").unwrap();
        set_mode(&p, 0o644);
        let e = read_secret_file(&p).unwrap_err();
        assert!(e.contains("other users can read it (mode 644)"), "{e}");
        assert!(
            e.ends_with(&format!("run: chmod 600 {}", p.display())),
            "{e}"
        );
        set_mode(&p, 0o604);
        assert!(read_secret_file(&p).is_err());
        // Group-readable passes only when the group is our own (fsGroup, systemd credentials):
        // the test runs with the file in its creator's group, which is ours.
        set_mode(&p, 0o640);
        assert!(check_secret_mode(&p).is_ok());
        set_mode(&p, 0o400);
        assert_eq!(&*read_secret_file(&p).unwrap(), b"xeeB5gohvaYi");
        std::fs::remove_file(&p).unwrap();
    }
}
