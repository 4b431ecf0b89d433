//! strongSwan `swanctl.conf` into a [`Draft`]: the settings syntax (sections in braces,
//! `key = value`, `#` comments, double-quoted strings) parsed into a tree, then `connections`
//! ([`super::swanctl_conn`]) and `secrets` read from it. Everything else becomes a note.

use zeroize::Zeroizing;

use super::draft::{Draft, Note};
use super::seil::shown;
use super::{swanctl_conn, ImportError};

/// Deepest nesting accepted (swanctl.conf needs 4: connections.gw.children.net).
const MAX_DEPTH: usize = 16;
/// Most settings and sections in one file.
const MAX_ITEMS: usize = 50_000;

/// A `name { … }` section.
#[derive(Debug, Clone, Default)]
pub(super) struct Section {
    /// Its name (`gw`).
    pub name: String,
    /// Its path from the top (`connections.gw`), for notes.
    pub path: String,
    /// Line of the name.
    pub line: usize,
    /// Settings and subsections, in file order.
    pub items: Vec<Item>,
}

/// A setting or a subsection.
#[derive(Debug, Clone)]
pub(super) enum Item {
    /// `key = value`.
    Value {
        /// The key.
        key: String,
        /// The value (quotes removed).
        value: String,
        /// Its line.
        line: usize,
    },
    /// A subsection.
    Section(Section),
}

impl Section {
    /// The value of `key`, with its line.
    pub fn value(&self, key: &str) -> Option<(&str, usize)> {
        self.items.iter().find_map(|i| match i {
            Item::Value {
                key: k,
                value,
                line,
            } if k == key => Some((value.as_str(), *line)),
            _ => None,
        })
    }

    /// The subsection `name`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections().find(|s| s.name == name)
    }

    /// Every subsection.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.items.iter().filter_map(|i| match i {
            Item::Section(s) => Some(s),
            Item::Value { .. } => None,
        })
    }
}

/// Reads a swanctl.conf.
pub fn read(text: &str) -> Result<Draft, ImportError> {
    let root = parse(text)?;
    let mut draft = Draft::default();
    let secrets = root
        .section("secrets")
        .map(|s| ike_secrets(s, &mut draft.notes))
        .unwrap_or_default();
    for item in &root.items {
        match item {
            Item::Section(s) if s.name == "connections" => {
                for c in s.sections() {
                    swanctl_conn::connection(c, &secrets, &mut draft)?;
                }
                for i in &s.items {
                    if let Item::Value { key, line, .. } = i {
                        draft.notes.push(Note::new(
                            *line,
                            format!("connections.{key}"),
                            "not carried: expected a connection section",
                        ));
                    }
                }
            }
            Item::Section(s) if s.name == "secrets" => {}
            Item::Section(s) => draft.notes.push(Note::new(
                s.line,
                s.name.clone(),
                "not carried: ikegate imports `connections` and their `secrets` (no pools, \
                 authorities or certificates)",
            )),
            Item::Value { key, line, .. } => draft.notes.push(Note::new(
                *line,
                key.clone(),
                "not carried: not part of `connections` or `secrets`",
            )),
        }
    }
    if draft.tunnels.is_empty() && root.section("connections").is_none() {
        return Err(ImportError::at(
            0,
            "no `connections { … }` section: this is not a swanctl.conf (an ipsec.conf has \
             `conn NAME` blocks; convert it to swanctl.conf first)",
        ));
    }
    Ok(draft)
}

/// A pre-shared key from `secrets.ike*` and the identities it is for.
#[derive(Debug, Clone)]
pub(super) struct IkeSecret {
    /// `id`, `id-…` values (empty: any identity).
    pub ids: Vec<String>,
    /// The key.
    pub secret: Zeroizing<String>,
}

fn ike_secrets(s: &Section, notes: &mut Vec<Note>) -> Vec<IkeSecret> {
    let mut out = Vec::new();
    for sec in s.sections() {
        if !sec.name.starts_with("ike") {
            notes.push(Note::new(
                sec.line,
                format!("secrets.{}", sec.name),
                "not carried: ikegate imports IKE pre-shared keys only (no EAP, XAuth or \
                 private keys)",
            ));
            continue;
        }
        let mut ids = Vec::new();
        let mut secret = None;
        for i in &sec.items {
            let Item::Value { key, value, line } = i else {
                continue;
            };
            if key == "id" || key.starts_with("id-") || key.starts_with("id_") {
                ids.push(value.clone());
            } else if key == "secret" {
                match secret_text(value) {
                    Ok(s) => secret = Some(s),
                    Err(why) => notes.push(Note::new(
                        *line,
                        format!("secrets.{}.secret", sec.name),
                        format!("not carried: {why}"),
                    )),
                }
            } else {
                notes.push(Note::new(
                    *line,
                    format!("secrets.{}.{key}", sec.name),
                    "not carried: unknown in an ike secret",
                ));
            }
        }
        if let Some(secret) = secret {
            out.push(IkeSecret { ids, secret });
        }
    }
    out
}

/// A secret as text: as written, or decoded from `0x…` hex / `0s…` base64 when that is text.
fn secret_text(v: &str) -> Result<Zeroizing<String>, &'static str> {
    let bytes = if let Some(h) = v.strip_prefix("0x") {
        hex(h).ok_or("the 0x… secret is not hex")?
    } else if let Some(b) = v.strip_prefix("0s") {
        base64(b).ok_or("the 0s… secret is not base64")?
    } else {
        return Ok(Zeroizing::new(v.to_string()));
    };
    let bytes = Zeroizing::new(bytes);
    match std::str::from_utf8(&bytes) {
        Ok(s) if !s.is_empty() && !s.chars().any(char::is_control) => {
            Ok(Zeroizing::new(s.to_string()))
        }
        _ => Err(
            "the key is binary; write its bytes to a file and use `preshared-key-file` (no \
             trailing newline)",
        ),
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn base64(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let s = s.trim_end_matches('=');
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A duration as strongSwan and SEIL write it: seconds, or a number with `s`, `m`, `h`, `d`.
pub fn duration(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mul) = match v.char_indices().last()? {
        (i, 's') => (&v[..i], 1),
        (i, 'm') => (&v[..i], 60),
        (i, 'h') => (&v[..i], 3600),
        (i, 'd') => (&v[..i], 86_400),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mul)
}

/// Parses the settings syntax into a root section.
pub(super) fn parse(text: &str) -> Result<Section, ImportError> {
    let mut stack: Vec<Section> = vec![Section::default()];
    let mut items = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let no = i + 1;
        let mut rest = raw.trim();
        while !rest.is_empty() && !rest.starts_with('#') {
            items += 1;
            if items > MAX_ITEMS {
                return Err(ImportError::at(no, "too many settings for a swanctl.conf"));
            }
            rest = statement(rest, no, &mut stack)?.trim_start();
        }
    }
    if stack.len() > 1 {
        let open = stack.last().map_or(0, |s| s.line);
        return Err(ImportError::at(
            open,
            "this section is never closed: a `}` is missing",
        ));
    }
    Ok(stack.pop().unwrap_or_default())
}

/// One statement at the start of `s` (`name {`, `}`, `key = value`); returns what follows it.
fn statement<'a>(s: &'a str, no: usize, stack: &mut Vec<Section>) -> Result<&'a str, ImportError> {
    if let Some(rest) = s.strip_prefix('}') {
        if stack.len() < 2 {
            return Err(ImportError::at(no, "`}` closes no section"));
        }
        if let Some(done) = stack.pop() {
            if let Some(parent) = stack.last_mut() {
                parent.items.push(Item::Section(done));
            }
        }
        return Ok(rest);
    }
    let end = s.find(['=', '{', '}', '#']).unwrap_or(s.len());
    let name = s[..end].trim();
    let after = &s[end..];
    if name.starts_with("include ") || name == "include" {
        if let Some(top) = stack.last_mut() {
            top.items.push(Item::Value {
                key: "include".into(),
                value: name.trim_start_matches("include").trim().into(),
                line: no,
            });
        }
        return Ok(after);
    }
    if name.contains(':') {
        return Err(ImportError::at(
            no,
            format!(
                "\"{}\": sections that inherit another (`name : template`) are not read; write \
                 the template's settings into the section",
                shown(name)
            ),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.%".contains(c))
    {
        return Err(ImportError::at(
            no,
            format!(
                "\"{}\" is not a setting name (expected `name {{`, `key = value` or `}}`)",
                shown(s)
            ),
        ));
    }
    if let Some(rest) = after.strip_prefix('{') {
        if stack.len() > MAX_DEPTH {
            return Err(ImportError::at(no, "sections nested too deeply"));
        }
        let parent = stack.last().map(|p| p.path.clone()).unwrap_or_default();
        let path = if parent.is_empty() {
            name.to_string()
        } else {
            format!("{parent}.{name}")
        };
        stack.push(Section {
            name: name.to_string(),
            path,
            line: no,
            items: Vec::new(),
        });
        return Ok(rest);
    }
    let Some(v) = after.strip_prefix('=') else {
        return Err(ImportError::at(
            no,
            format!("{name}: expected `= value` or `{{` after the name"),
        ));
    };
    let (value, rest) = value(v.trim_start(), no)?;
    if let Some(top) = stack.last_mut() {
        top.items.push(Item::Value {
            key: name.to_string(),
            value,
            line: no,
        });
    }
    Ok(rest)
}

/// A value: a double-quoted string, or text up to a `#` comment or a `}` on the same line.
fn value(v: &str, no: usize) -> Result<(String, &str), ImportError> {
    let Some(q) = v.strip_prefix('"') else {
        let end = v.find(['#', '}']).unwrap_or(v.len());
        return Ok((v[..end].trim().to_string(), &v[end..]));
    };
    let mut out = String::new();
    let mut chars = q.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &q[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, c)) => out.push(c),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(ImportError::at(
        no,
        "a quoted value is not closed on its line (close the `\"`)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_secrets() {
        assert_eq!(duration("4h"), Some(14_400));
        assert_eq!(duration("28800"), Some(28_800));
        assert_eq!(duration("1d"), Some(86_400));
        assert_eq!(duration("x"), None);
        assert_eq!(duration("99999999999999999999d"), None);
        assert_eq!(&*secret_text("0x78656542").unwrap(), "xeeB");
        assert_eq!(&*secret_text("0seGVlQjVnb2h2YVlp").unwrap(), "xeeB5gohvaYi");
        assert!(secret_text("0x00ff").is_err());
        assert!(secret_text("0xabc").is_err());
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = parse("connections {\n  gw {\n    version = 1\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("connections {\n}\n}\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("a {\n  b = \"open\n}\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("a {\n  what is this\n}\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse("connections {\n  gw : base {\n  }\n}\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let deep = "a {\n".repeat(40);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn one_line_sections_and_comments() {
        let r = parse("c { local { auth = psk } # x\n  v = \"a # b\" }\n").unwrap();
        let c = r.section("c").unwrap();
        assert_eq!(c.section("local").unwrap().value("auth"), Some(("psk", 1)));
        assert_eq!(c.value("v"), Some(("a # b", 2)));
    }
}
