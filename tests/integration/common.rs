//! Shared fixtures: generated keys (made once per run), the sample eIDAS Response, the CLI
//! binary and the Python interop oracle installed by scripts/test.sh.

use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::crypto::{Certificate, PrivateKey, SoftwareSigner};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const RESPONSE: &str = include_str!("../data/eidas-response.xml");
pub const RESPONSE_ID: &str = "_response-7d6c1f0b2a9e4e31a8c5";
pub const ASSERTION_ID: &str = "_assertion-5b1e9c7d3f2a4b68c0d4";

pub struct KeyFiles {
    pub key_pem: PathBuf,
    pub cert_pem: PathBuf,
}

pub struct Fixture {
    pub key_der: Vec<u8>,
    pub cert: Certificate,
    pub files: KeyFiles,
}

impl Fixture {
    pub fn key(&self) -> PrivateKey {
        PrivateKey::from_der(&self.key_der).expect("fixture key")
    }

    pub fn signer(&self) -> SoftwareSigner {
        SoftwareSigner::new(self.key(), None, Some(self.cert.clone())).expect("signer")
    }

    pub fn public(&self) -> eidas_node::crypto::PublicKey {
        self.cert.public_key().clone()
    }
}

fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn make(kind: KeyKind, name: &str) -> Fixture {
    let g = generate(kind, name, "NO", now() - 3600, 30).expect("generate");
    let key_pem = dir().join(format!("{name}.key.pem"));
    let cert_pem = dir().join(format!("{name}.cert.pem"));
    std::fs::write(&key_pem, g.key.pkcs8_pem()).expect("write key");
    std::fs::write(&cert_pem, g.cert.to_pem()).expect("write cert");
    Fixture {
        key_der: g.key.pkcs8_der().to_vec(),
        cert: g.cert,
        files: KeyFiles { key_pem, cert_pem },
    }
}

macro_rules! fixture {
    ($fn:ident, $kind:expr, $name:literal) => {
        pub fn $fn() -> &'static Fixture {
            static F: OnceLock<Fixture> = OnceLock::new();
            F.get_or_init(|| make($kind, $name))
        }
    };
}

fixture!(rsa, KeyKind::Rsa3072, "rsa3072");
fixture!(rsa_other, KeyKind::Rsa3072, "rsa3072-other");
fixture!(p256, KeyKind::EcP256, "p256");
fixture!(p256_other, KeyKind::EcP256, "p256-other");
fixture!(p384, KeyKind::EcP384, "p384");

pub fn tmp(name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, content).expect("write temp file");
    p
}

pub fn eidas_node(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eidas-node"))
        .args(args)
        .output()
        .expect("run eidas-node")
}

/// The test venv's Python (pinned python-xmlsec, signxml, lxml, pysaml2). scripts/test.sh
/// installs it; without it the interop tests fail rather than silently skip.
pub fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("EIDAS_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    assert!(
        python.exists(),
        "interop peers missing: {} not found; run scripts/test.sh (or scripts/setup-test-env.sh) first",
        python.display()
    );
    python
}

/// A script of tests/interop run with the test venv's Python.
pub fn interop_script(script: &str, args: &[&str]) -> Output {
    Command::new(python())
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/interop")
                .join(script),
        )
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"))
}

/// The Python interop oracle (python-xmlsec / signxml / lxml at pinned versions).
pub fn oracle(args: &[&str]) -> Output {
    interop_script("oracle.py", args)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
