//! `ikegate users add|remove FILE NAME`: the remote-access users file.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use ikegate::ra::users_file::{AddOptions, UsersFile};
use zeroize::Zeroizing;

/// What to do with the users file.
#[derive(Subcommand)]
pub enum UsersAction {
    /// Add a user (or replace its password): reads the password from standard input (one line)
    /// and stores its NT hash (EAP-MSCHAPv2) and an argon2id hash (XAUTH). Creates FILE, mode
    /// 0600.
    Add {
        /// The users file.
        file: PathBuf,
        /// The user name (what the client sends as its EAP identity or XAUTH user).
        name: String,
        /// Also store the password itself (hex), which EAP-MD5 needs: anyone who reads the
        /// file can then log in as this user. For tests and old clients only.
        #[arg(long)]
        eap_md5: bool,
    },
    /// Remove a user.
    Remove {
        /// The users file.
        file: PathBuf,
        /// The user name.
        name: String,
    },
}

/// Runs one `ikegate users` command.
pub fn run(action: UsersAction) -> ExitCode {
    match action {
        UsersAction::Add {
            file,
            name,
            eap_md5,
        } => report(add(&file, &name, AddOptions { eap_md5 })),
        UsersAction::Remove { file, name } => report(remove(&file, &name)),
    }
}

fn report(r: Result<String, String>) -> ExitCode {
    match r {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ikegate users: {e}");
            ExitCode::from(2)
        }
    }
}

fn add(file: &std::path::Path, name: &str, options: AddOptions) -> Result<String, String> {
    let mut users = UsersFile::load_or_empty(file)?;
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']);
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for the salt: {e}"))?;
    users.add(name, password, &salt, options)?;
    users.save(file)?;
    Ok(format!(
        "{}: user \"{name}\" stored ({})",
        file.display(),
        if options.eap_md5 {
            "eap-mschapv2, xauth and eap-md5"
        } else {
            "eap-mschapv2 and xauth"
        }
    ))
}

fn remove(file: &std::path::Path, name: &str) -> Result<String, String> {
    let mut users = UsersFile::load(file)?;
    if !users.remove(name) {
        return Err(format!("{}: no user \"{name}\"", file.display()));
    }
    users.save(file)?;
    Ok(format!("{}: user \"{name}\" removed", file.display()))
}
