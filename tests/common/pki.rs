//! Certificates made in a test with `openssl` (genpkey, req, ca): a root CA, an intermediate,
//! end entities of every key type, revocations and CRLs.

#![allow(dead_code)] // not every test file uses every part

use std::path::{Path, PathBuf};
use std::process::Command;

/// Key types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Rsa(u32),
    P256,
    P384,
    Ed25519,
}

impl KeyType {
    fn genpkey_args(self) -> Vec<String> {
        match self {
            KeyType::Rsa(bits) => vec![
                "-algorithm".into(),
                "RSA".into(),
                "-pkeyopt".into(),
                format!("rsa_keygen_bits:{bits}"),
            ],
            KeyType::P256 => vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                "ec_paramgen_curve:P-256".into(),
            ],
            KeyType::P384 => vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                "ec_paramgen_curve:P-384".into(),
            ],
            KeyType::Ed25519 => vec!["-algorithm".into(), "ED25519".into()],
        }
    }
}

/// A CA: its certificate and key files and its `openssl ca` database.
#[derive(Clone, Debug)]
pub struct Ca {
    pub cert: PathBuf,
    pub key: PathBuf,
    dir: PathBuf,
}

/// An issued certificate and its key.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Issued {
    pub fn cert_pem(&self) -> String {
        std::fs::read_to_string(&self.cert).unwrap()
    }
    pub fn key_pem(&self) -> String {
        std::fs::read_to_string(&self.key).unwrap()
    }
}

/// What to put in an end-entity certificate.
pub struct Leaf<'a> {
    /// Subject as `openssl -subj` wants it: "/C=JP/O=Example/CN=gw1".
    pub subj: &'a str,
    /// subjectAltName, e.g. "IP:10.0.0.1, DNS:gw1.example".
    pub san: &'a str,
    pub key: KeyType,
    /// crlDistributionPoints URI.
    pub crl_url: Option<&'a str>,
    /// Validity as `openssl ca -startdate/-enddate` (YYYYMMDDHHMMSSZ).
    pub dates: (&'a str, &'a str),
}

pub const VALID: (&str, &str) = ("20200101000000Z", "20400101000000Z");
pub const EXPIRED: (&str, &str) = ("20200101000000Z", "20210101000000Z");

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("running openssl");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl` with the variables our config file names set to harmless defaults.
fn openssl() -> Command {
    let mut c = Command::new("openssl");
    c.env("SAN", "DNS:unused.invalid")
        .env("CRL_URL", "http://unused.invalid/");
    c
}

/// A private key (PKCS#8 PEM) at `path`, mode 600.
pub fn key(path: &Path, kt: KeyType) -> PathBuf {
    run(openssl()
        .arg("genpkey")
        .args(kt.genpkey_args())
        .arg("-out")
        .arg(path));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_path_buf()
}

impl Ca {
    /// A self-signed root CA in `dir/name/`.
    pub fn root(dir: &Path, name: &str, subj: &str, kt: KeyType) -> Ca {
        let ca = Ca::layout(dir, name, kt);
        run(openssl()
            .args([
                "req",
                "-x509",
                "-new",
                "-days",
                "7300",
                "-extensions",
                "ext_ca",
                "-subj",
                subj,
            ])
            .arg("-config")
            .arg(ca.dir.join("ca.cnf"))
            .arg("-key")
            .arg(&ca.key)
            .arg("-out")
            .arg(&ca.cert));
        ca
    }

    /// An intermediate CA issued by this one.
    pub fn intermediate(&self, dir: &Path, name: &str, subj: &str, kt: KeyType) -> Ca {
        let ca = Ca::layout(dir, name, kt);
        let csr = ca.dir.join("ca.csr");
        self.csr(&ca.key, subj, &csr);
        self.sign(&csr, &ca.cert, "ext_ca", VALID, "", None);
        ca
    }

    /// An end-entity certificate (and key) in `dir/name.{pem,key}`.
    pub fn issue(&self, dir: &Path, name: &str, leaf: &Leaf<'_>) -> Issued {
        let k = key(&dir.join(format!("{name}.key")), leaf.key);
        let csr = dir.join(format!("{name}.csr"));
        self.csr(&k, leaf.subj, &csr);
        let cert = dir.join(format!("{name}.pem"));
        let ext = if leaf.crl_url.is_some() {
            "ext_ee_crl"
        } else {
            "ext_ee"
        };
        self.sign(&csr, &cert, ext, leaf.dates, leaf.san, leaf.crl_url);
        Issued { cert, key: k }
    }

    /// Revokes `cert` (keyCompromise) in this CA's database.
    pub fn revoke(&self, cert: &Path) {
        run(self
            .ca_cmd()
            .arg("-revoke")
            .arg(cert)
            .args(["-crl_reason", "keyCompromise"]));
    }

    /// The CRL (DER) of this CA's database at `out`.
    pub fn crl(&self, out: &Path) -> PathBuf {
        let pem = self.dir.join("crl.pem");
        run(self
            .ca_cmd()
            .args(["-gencrl", "-crldays", "30"])
            .arg("-out")
            .arg(&pem));
        run(openssl()
            .args(["crl", "-outform", "DER", "-in"])
            .arg(&pem)
            .arg("-out")
            .arg(out));
        out.to_path_buf()
    }

    pub fn cert_pem(&self) -> String {
        std::fs::read_to_string(&self.cert).unwrap()
    }

    fn layout(dir: &Path, name: &str, kt: KeyType) -> Ca {
        let d = dir.join(name);
        std::fs::create_dir_all(d.join("newcerts")).unwrap();
        std::fs::write(d.join("index.txt"), "").unwrap();
        std::fs::write(d.join("serial"), format!("{:02X}\n", 16 + name.len())).unwrap();
        std::fs::write(d.join("crlnumber"), "01\n").unwrap();
        std::fs::write(d.join("ca.cnf"), ca_cnf(&d)).unwrap();
        let key = key(&d.join("ca.key"), kt);
        Ca {
            cert: d.join("ca.pem"),
            key,
            dir: d,
        }
    }

    fn csr(&self, key: &Path, subj: &str, out: &Path) {
        run(openssl()
            .args(["req", "-new", "-subj", subj])
            .arg("-config")
            .arg(self.dir.join("ca.cnf"))
            .arg("-key")
            .arg(key)
            .arg("-out")
            .arg(out));
    }

    fn sign(
        &self,
        csr: &Path,
        out: &Path,
        ext: &str,
        dates: (&str, &str),
        san: &str,
        crl: Option<&str>,
    ) {
        run(self
            .ca_cmd()
            .args([
                "-batch",
                "-notext",
                "-extensions",
                ext,
                "-startdate",
                dates.0,
                "-enddate",
                dates.1,
            ])
            .arg("-in")
            .arg(csr)
            .arg("-out")
            .arg(out)
            .env(
                "SAN",
                if san.is_empty() {
                    "DNS:unused.invalid"
                } else {
                    san
                },
            )
            .env("CRL_URL", crl.unwrap_or("http://unused.invalid/")));
    }

    fn ca_cmd(&self) -> Command {
        let mut c = openssl();
        c.arg("ca")
            .arg("-config")
            .arg(self.dir.join("ca.cnf"))
            .arg("-cert")
            .arg(&self.cert)
            .arg("-keyfile")
            .arg(&self.key);
        c
    }
}

fn ca_cnf(d: &Path) -> String {
    let d = d.display();
    format!(
        "[ ca ]\ndefault_ca = CA_default\n\
         [ CA_default ]\ndatabase = {d}/index.txt\nnew_certs_dir = {d}/newcerts\nserial = {d}/serial\n\
         crlnumber = {d}/crlnumber\ndefault_md = sha256\npolicy = policy_any\npreserve = yes\n\
         unique_subject = no\ncopy_extensions = none\ndefault_days = 3650\n\
         [ policy_any ]\ncountryName = optional\norganizationName = optional\ncommonName = supplied\n\
         [ req ]\ndistinguished_name = dn\n[ dn ]\n\
         [ ext_ca ]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n\
         [ ext_ee ]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\nsubjectAltName = ${{ENV::SAN}}\n\
         [ ext_ee_crl ]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\nsubjectAltName = ${{ENV::SAN}}\n\
         crlDistributionPoints = URI:${{ENV::CRL_URL}}\n"
    )
}
