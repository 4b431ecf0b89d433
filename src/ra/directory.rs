//! Where remote-access users are looked up: the [`Directory`] trait, served today by the users
//! file ([`super::users_file::UsersFile`]) and meant to be served by RADIUS behind the same
//! calls. A failed lookup says in words why ([`LoginFailure`]), never with the password.

use std::fmt;

use zeroize::Zeroizing;

use crate::ike::auth::eap::mschapv2::NtHash;

/// A user directory: checks passwords and hands out what each EAP method needs.
pub trait Directory: Send + Sync {
    /// Checks a cleartext password (XAUTH, or EAP-GTC later).
    fn verify_password(&self, user: &str, password: &[u8]) -> Result<(), LoginFailure>;
    /// The NT hash EAP-MSCHAPv2 verifies the NT-Response with.
    fn nt_hash(&self, user: &str) -> Result<NtHash, LoginFailure>;
    /// The cleartext-equivalent secret EAP-MD5 hashes into its challenge.
    fn md5_secret(&self, user: &str) -> Result<Zeroizing<Vec<u8>>, LoginFailure>;
}

/// A credential kind a directory stores per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An argon2id password hash (XAUTH).
    PasswordHash,
    /// The NT hash (EAP-MSCHAPv2).
    NtHash,
    /// The EAP-MD5 cleartext-equivalent.
    Md5Secret,
}

impl Credential {
    /// The login method that needs this credential, as an admin knows it.
    pub fn method(self) -> &'static str {
        match self {
            Credential::PasswordHash => "xauth",
            Credential::NtHash => "eap-mschapv2",
            Credential::Md5Secret => "eap-md5",
        }
    }
}

/// Why a login failed, in words for the log and the API (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginFailure {
    /// No such user in the directory.
    UnknownUser {
        /// The name the client gave.
        user: String,
    },
    /// The user exists; the password (or the response computed from it) is wrong.
    WrongPassword {
        /// The user.
        user: String,
        /// The method that checked it (`eap-mschapv2`, …).
        method: &'static str,
    },
    /// The user exists but the directory holds nothing this method can check.
    MethodNotStored {
        /// The user.
        user: String,
        /// What is missing.
        credential: Credential,
        /// How the admin adds it (e.g. the `ikegate users add … --eap-md5` command).
        fix: String,
    },
    /// The client broke the method's protocol (malformed or unexpected message).
    Protocol {
        /// The user, if known yet.
        user: String,
        /// What was wrong.
        detail: String,
    },
    /// Refused without asking the directory: too many recent failures for this user or
    /// address ([`super::throttle`]).
    Throttled {
        /// The user.
        user: String,
        /// Who is held back, and for how long.
        detail: String,
    },
    /// The RADIUS server answered Access-Reject.
    RadiusReject {
        /// The user asked about.
        user: String,
        /// The server (`HOST:PORT`) as configured.
        server: String,
        /// The server's Reply-Message, made printable.
        reply_message: Option<String>,
    },
    /// The directory could not answer (RADIUS server unreachable, file unreadable, …).
    Unavailable {
        /// What failed.
        detail: String,
    },
}

impl LoginFailure {
    /// The `reason` label of `ikegate_ra_login_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            LoginFailure::UnknownUser { .. } => "unknown_user",
            LoginFailure::WrongPassword { .. } => "wrong_password",
            LoginFailure::MethodNotStored { .. } => "method_not_stored",
            LoginFailure::Protocol { .. } => "protocol",
            LoginFailure::Throttled { .. } => "throttled",
            LoginFailure::RadiusReject { .. } => "radius_reject",
            LoginFailure::Unavailable { .. } => "directory_unavailable",
        }
    }

    /// The user the failure is about, if known.
    pub fn user(&self) -> Option<&str> {
        match self {
            LoginFailure::UnknownUser { user }
            | LoginFailure::WrongPassword { user, .. }
            | LoginFailure::MethodNotStored { user, .. }
            | LoginFailure::Protocol { user, .. }
            | LoginFailure::Throttled { user, .. }
            | LoginFailure::RadiusReject { user, .. } => Some(user),
            LoginFailure::Unavailable { .. } => None,
        }
    }
}

impl fmt::Display for LoginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginFailure::UnknownUser { user } => write!(
                f,
                "unknown user \"{user}\": no such user in the directory (add it with \
                 `ikegate users add FILE {user}`, or check the name the client sends)"
            ),
            LoginFailure::WrongPassword { user, method } => write!(
                f,
                "wrong password for user \"{user}\" ({method}): the client's password differs \
                 from the one stored"
            ),
            LoginFailure::MethodNotStored {
                user,
                credential,
                fix,
            } => write!(
                f,
                "user \"{user}\" has no credential for {}: {fix}",
                credential.method()
            ),
            LoginFailure::Protocol { user, detail } if user.is_empty() => {
                write!(f, "client broke the EAP exchange: {detail}")
            }
            LoginFailure::Protocol { user, detail } => {
                write!(
                    f,
                    "client of user \"{user}\" broke the EAP exchange: {detail}"
                )
            }
            LoginFailure::Throttled { user, detail } => {
                write!(f, "login of user \"{user}\" throttled: {detail}")
            }
            LoginFailure::RadiusReject {
                user,
                server,
                reply_message,
            } => {
                write!(
                    f,
                    "user \"{user}\" rejected by RADIUS server {server} (Access-Reject"
                )?;
                match reply_message {
                    Some(m) => write!(f, ", Reply-Message \"{m}\")"),
                    None => f.write_str(", no Reply-Message)"),
                }
            }
            LoginFailure::Unavailable { detail } => {
                write!(f, "the user directory could not answer: {detail}")
            }
        }
    }
}

impl std::error::Error for LoginFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_in_words() {
        let f = LoginFailure::MethodNotStored {
            user: "bob".into(),
            credential: Credential::Md5Secret,
            fix: "re-add with `ikegate users add users.txt bob --eap-md5`".into(),
        };
        assert_eq!(f.reason(), "method_not_stored");
        assert!(f.to_string().contains("no credential for eap-md5"), "{f}");
        assert!(f.to_string().contains("--eap-md5"), "{f}");
        let w = LoginFailure::WrongPassword {
            user: "bob".into(),
            method: "eap-mschapv2",
        };
        assert_eq!((w.reason(), w.user()), ("wrong_password", Some("bob")));
        assert!(w.to_string().starts_with("wrong password for user \"bob\""));
    }
}
