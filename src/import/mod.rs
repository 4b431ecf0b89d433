//! `ikegate import seil|swanctl FILE`: another gateway's configuration into ours.
//!
//! Both readers are hostile-input parsers (a file pasted from anywhere): they refuse what they
//! cannot read with the line number and the fix, never panic, and carry what our configuration
//! can say into a [`Draft`] (tunnels and routes in our terms, with algorithm names already mapped
//! onto ours). Every setting they cannot carry becomes a [`Note`] (line, key, why), which the
//! YAML writer ([`emit`]) prints as a comment, so the operator sees what was left behind.
//! `ikegate check` must pass on what [`emit`] writes: [`Draft::settle`] drops or fixes what our
//! configuration would refuse, each time with a note.

mod draft;
mod emit;
#[doc(hidden)]
pub mod fuzzing;
mod names;
pub mod seil;
mod seil_policy;
pub mod swanctl;
mod swanctl_conn;
#[cfg(test)]
mod tests;

pub use draft::{Dest, Dpd, Draft, Identity, Note, Phase1, Phase2, Route, Tunnel};
pub use emit::emit;

use std::fmt;

/// The largest file either reader accepts (a real configuration is a few kilobytes).
pub const MAX_INPUT: usize = 1 << 20;

/// A file the reader refuses: the 1-based line (0: the whole file) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// 1-based line number; 0 when the error is about the whole file.
    pub line: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl ImportError {
    pub(crate) fn at(line: usize, message: impl Into<String>) -> ImportError {
        ImportError {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ImportError {}

/// Which configuration a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SEIL `key: value` lines (`interface.ipsecN.*`, `route.ipv4.N.*`, `ike.peer.*` …).
    Seil,
    /// strongSwan `swanctl.conf` (`connections { … }`, `secrets { … }`).
    Swanctl,
}

impl Format {
    /// The word of the command line (`ikegate import seil`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Seil => "seil",
            Format::Swanctl => "swanctl",
        }
    }
}

/// Reads `text` as `format` and writes our YAML (with a comment for every setting not carried).
/// `source` names the file in the header comment.
pub fn import(format: Format, text: &str, source: &str) -> Result<String, ImportError> {
    if text.len() > MAX_INPUT {
        return Err(ImportError::at(
            0,
            format!(
                "the file has {} bytes; a configuration this large is not one (the limit is {} \
                 bytes)",
                text.len(),
                MAX_INPUT
            ),
        ));
    }
    let mut draft = match format {
        Format::Seil => seil::read(text)?,
        Format::Swanctl => swanctl::read(text)?,
    };
    draft.settle();
    Ok(emit(&draft, format, source))
}

/// Interface names we give to tunnels that have none of their own (swanctl connections, SEIL
/// `ike.peer` entries): the first `ipsecN` not yet taken.
pub(crate) fn free_name(taken: &[String]) -> String {
    (0..)
        .map(|i| format!("ipsec{i}"))
        .find(|n| !taken.contains(n))
        .unwrap_or_else(|| "ipsec".into())
}
