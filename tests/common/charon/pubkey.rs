//! Certificates for the IKEv1 tests: a test PKI made with `openssl` (a root CA, an intermediate
//! CA, one end-entity certificate per side, and a second root nobody trusts) and charon's
//! `auth = pubkey` configuration for it (swanctl `local`/`remote` sections with absolute paths,
//! the private key in charon's `private/` directory, and the X.509 plugins).

use super::config::CharonConfig;
use super::process::Charon;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The plugins charon needs for certificates besides the harness's list (`load` is given again
/// in the `charon { }` section: the later line wins).
const CERT_PLUGINS: &str = "x509 pem pkcs1 pkcs8 pubkey constraints revocation";

/// One certificate with its key (PEM files; the key as traditional PKCS#1 "RSA PRIVATE KEY",
/// mode 0600).
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The subject, as openssl and strongSwan print it: `C=JP, O=Example, CN=…`.
    pub dn: String,
}

/// The test PKI: `root` → `intermediate` → {`ours`, `swan`}, and an unrelated `rogue_root` →
/// `rogue` (same subject as `swan`, but from a CA we do not trust).
#[derive(Clone, Debug)]
pub struct TestPki {
    pub dir: PathBuf,
    pub root: Issued,
    pub intermediate: Issued,
    pub ours: Issued,
    pub swan: Issued,
    pub rogue_root: Issued,
    pub rogue: Issued,
    /// `ours.cert` followed by the intermediate (what `certificate.file` holds).
    pub ours_chain: PathBuf,
}

impl TestPki {
    /// Makes the PKI in `dir` with RSA keys of `bits` bits (3072 makes each certificate message
    /// with its intermediate about 3 KB).
    pub fn create(dir: &Path, bits: u32) -> TestPki {
        std::fs::create_dir_all(dir).unwrap();
        let root = self_signed(dir, "root", "C=JP, O=Example, CN=Example Root CA", bits);
        let intermediate = issue(
            dir,
            "intermediate",
            "C=JP, O=Example, CN=Example Intermediate CA",
            &root,
            bits,
            Role::Ca,
        );
        let ours = issue(
            dir,
            "ours",
            "C=JP, O=Example, CN=gw1",
            &intermediate,
            bits,
            Role::EndEntity("gw1.example"),
        );
        let swan = issue(
            dir,
            "swan",
            "C=JP, O=Example, CN=swan",
            &intermediate,
            bits,
            Role::EndEntity("swan.example"),
        );
        let rogue_root = self_signed(dir, "rogue-root", "C=JP, O=Rogue, CN=Rogue Root CA", bits);
        let rogue = issue(
            dir,
            "rogue",
            "C=JP, O=Example, CN=swan",
            &rogue_root,
            bits,
            Role::EndEntity("swan.example"),
        );
        let ours_chain = dir.join("ours-chain.pem");
        let chain = [
            std::fs::read_to_string(&ours.cert).unwrap(),
            std::fs::read_to_string(&intermediate.cert).unwrap(),
        ]
        .concat();
        std::fs::write(&ours_chain, chain).unwrap();
        TestPki {
            dir: dir.to_path_buf(),
            root,
            intermediate,
            ours,
            swan,
            rogue_root,
            rogue,
            ours_chain,
        }
    }
}

enum Role<'a> {
    Ca,
    EndEntity(&'a str),
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("spawning openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `C=JP, O=Example, CN=x` as openssl's `-subj /C=JP/O=Example/CN=x`.
fn subj(dn: &str) -> String {
    dn.split(',').map(|p| format!("/{}", p.trim())).collect()
}

fn new_key(dir: &Path, name: &str, bits: u32) -> PathBuf {
    let pkcs8 = dir.join(format!("{name}.pkcs8.key"));
    let key = dir.join(format!("{name}.key"));
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        &format!("rsa_keygen_bits:{bits}"),
        "-out",
        pkcs8.to_str().unwrap(),
    ]);
    openssl(&[
        "pkey",
        "-in",
        pkcs8.to_str().unwrap(),
        "-traditional",
        "-out",
        key.to_str().unwrap(),
    ]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _ = std::fs::remove_file(pkcs8);
    key
}

fn self_signed(dir: &Path, name: &str, dn: &str, bits: u32) -> Issued {
    let key = new_key(dir, name, bits);
    let cert = dir.join(format!("{name}.pem"));
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
        "-days",
        "3650",
        "-subj",
        &subj(dn),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    Issued {
        cert,
        key,
        dn: dn.into(),
    }
}

fn issue(dir: &Path, name: &str, dn: &str, ca: &Issued, bits: u32, role: Role<'_>) -> Issued {
    let key = new_key(dir, name, bits);
    let csr = dir.join(format!("{name}.csr"));
    let cert = dir.join(format!("{name}.pem"));
    let ext = dir.join(format!("{name}.ext"));
    let ext_text = match role {
        Role::Ca => "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
                     subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
            .to_string(),
        Role::EndEntity(dns) => format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             subjectAltName=DNS:{dns}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        ),
    };
    std::fs::write(&ext, ext_text).unwrap();
    openssl(&[
        "req",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
        "-subj",
        &subj(dn),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        ca.cert.to_str().unwrap(),
        "-CAkey",
        ca.key.to_str().unwrap(),
        "-CAcreateserial",
        "-out",
        cert.to_str().unwrap(),
        "-days",
        "825",
        "-sha256",
        "-extfile",
        ext.to_str().unwrap(),
    ]);
    Issued {
        cert,
        key,
        dn: dn.into(),
    }
}

/// charon's certificate authentication: its own certificate and key, the CA it trusts for the
/// peer, the intermediate it holds (sent after its certificate), and the identities.
#[derive(Clone, Debug)]
pub struct PubkeyAuth {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA the peer's chain must lead to (`remote.cacerts`).
    pub trusted_ca: PathBuf,
    /// Intermediates charon loads as authorities (so it sends them and can build chains).
    pub intermediates: Vec<PathBuf>,
    /// `local.id` / `remote.id` (DNs as strongSwan writes them).
    pub local_id: String,
    pub remote_id: String,
}

impl PubkeyAuth {
    /// charon authenticates as `me`, trusts `pki.root` for the peer, holds the intermediate.
    pub fn new(pki: &TestPki, me: &Issued, peer_dn: &str) -> PubkeyAuth {
        PubkeyAuth {
            cert: me.cert.clone(),
            key: me.key.clone(),
            trusted_ca: pki.root.cert.clone(),
            intermediates: vec![pki.intermediate.cert.clone()],
            local_id: me.dn.clone(),
            remote_id: peer_dn.into(),
        }
    }

    /// The `local { }` and `remote { }` sections of the connection.
    pub fn sections(&self) -> String {
        format!(
            "    local {{\n      auth = pubkey\n      certs = {}\n      id = \"{}\"\n    }}\n    remote {{\n      auth = pubkey\n      cacerts = {}\n      id = \"{}\"\n    }}\n",
            self.cert.display(),
            self.local_id,
            self.trusted_ca.display(),
            self.remote_id
        )
    }

    /// Top-level swanctl.conf additions: the intermediates as authorities (the private key is
    /// loaded from the `private/` directory next to swanctl.conf: [`Charon::load_pubkey`]).
    pub fn swanctl_extra(&self) -> String {
        let mut s = "authorities {\n".to_string();
        for (i, c) in self.intermediates.iter().enumerate() {
            s += &format!("  im{i} {{\n    cacert = {}\n  }}\n", c.display());
        }
        s += "}\n";
        s
    }
}

impl Charon {
    /// Puts the private key of the configured [`PubkeyAuth`] where swanctl loads keys from
    /// (`private/` beside swanctl.conf) and loads the credentials again. Call right after
    /// [`Charon::start`], before any negotiation.
    pub fn load_pubkey(&self) {
        let Some(auth) = &self.cfg.pubkey else {
            return;
        };
        let dest = self.dir.join("private").join("pubkey-test.key");
        std::fs::copy(&auth.key, &dest).unwrap();
        self.load_all();
        let creds = self.swanctl(&["--list-certs"]);
        assert!(
            String::from_utf8_lossy(&creds.stdout).contains("has private key"),
            "charon did not pair its certificate with the key: {}",
            String::from_utf8_lossy(&creds.stdout)
        );
    }
}

impl CharonConfig {
    /// Switches this (IKEv1) configuration to certificate authentication with `auth`: the
    /// connection's local/remote sections, the key and intermediates, the X.509 plugins.
    pub fn with_pubkey(mut self, auth: PubkeyAuth) -> CharonConfig {
        self.extra_charon.push(format!(
            "load = {} {CERT_PLUGINS}",
            self.strongswan.plugins()
        ));
        self.extra_swanctl.push(auth.swanctl_extra());
        self.pubkey = Some(auth);
        self
    }
}
