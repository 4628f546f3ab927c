//! Every row of tests/vectors/xmlsec-interop/MANIFEST.tsv (XML-DSig, XML-Enc and C14N vectors
//! from libxmlsec1's and Apache Santuario's suites) through the operator CLI, as an auditor would
//! run it: verify rows accept or refuse as listed, decrypt rows give the listed plaintext (compared
//! through inclusive C14N, as the manifest prescribes) or are refused, c14n rows match byte for byte.

use crate::common::{eidas_node, stderr, tmp};
use std::path::{Path, PathBuf};

struct Row {
    file: String,
    kind: String,
    keys: Vec<String>,
    expected: String,
    reason: String,
}

/// Tab-separated with CSV-style quoting ("" inside quotes).
fn parse_tsv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                '"' if cur.is_empty() && !quoted => quoted = true,
                '"' if quoted => quoted = false,
                '\t' if !quoted => fields.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        fields.push(cur);
        rows.push(fields);
    }
    rows
}

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/xmlsec-interop")
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(base().join("MANIFEST.tsv")).expect("manifest");
    parse_tsv(&text)
        .into_iter()
        .skip(1)
        .map(|f| Row {
            file: f[0].clone(),
            kind: f[1].clone(),
            keys: f[2].split(';').map(str::to_string).collect(),
            expected: f[3].clone(),
            reason: f[4].clone(),
        })
        .collect()
}

fn path(rel: &str) -> String {
    base().join(rel).to_string_lossy().into_owned()
}

fn field<'a>(reason: &'a str, name: &str) -> &'a str {
    let start = reason
        .find(&format!("{name}="))
        .map(|i| i + name.len() + 1)
        .unwrap_or(0);
    let rest = &reason[start..];
    rest[..rest.find(';').unwrap_or(rest.len())].trim()
}

fn check_verify(r: &Row) -> Result<(), String> {
    let o = eidas_node(&[
        "xml",
        "verify",
        "--trusted-key",
        &path(&r.keys[0]),
        "--any-reference",
        &path(&r.file),
    ]);
    let code = o.status.code();
    match (r.expected.as_str(), code) {
        ("accept", Some(0)) => Ok(()),
        // A refusal of the message, or of a key type outside the profile (DSA, Ed25519, ML-DSA, GOST).
        ("reject", Some(1)) => Ok(()),
        _ => Err(format!(
            "expected {}, exit {code:?}: {}",
            r.expected,
            stderr(&o)
        )),
    }
}

fn inclusive_c14n(file: &str) -> Vec<u8> {
    let o = eidas_node(&["xml", "c14n", "--inclusive", file]);
    assert!(o.status.success(), "c14n of {file}: {}", stderr(&o));
    o.stdout
}

fn check_decrypt(r: &Row) -> Result<(), String> {
    let o = eidas_node(&["xml", "decrypt", "--key", &path(&r.keys[0]), &path(&r.file)]);
    if r.expected == "reject" {
        return match o.status.code() {
            Some(1) => Ok(()),
            c => Err(format!("expected a refusal, exit {c:?}")),
        };
    }
    if !o.status.success() {
        return Err(format!("decrypt failed: {}", stderr(&o)));
    }
    let out = tmp(&format!("dec-{}", r.file.replace('/', "_")), &o.stdout);
    let got = inclusive_c14n(&out.to_string_lossy());
    let want = inclusive_c14n(&path(&r.expected));
    if got != want {
        return Err("decrypted document differs from the expected plaintext".into());
    }
    Ok(())
}

fn check_c14n(r: &Row) -> Result<(), String> {
    let alg = field(&r.reason, "alg");
    let alg = alg.split_whitespace().next().unwrap_or(alg);
    let node = field(&r.reason, "node");
    let prefixes = field(&r.reason, "inclusive-prefixes");
    let mut args: Vec<String> = vec!["xml".into(), "c14n".into()];
    if alg.ends_with("#WithComments") {
        args.push("--with-comments".into());
    }
    if prefixes != "-" {
        args.extend(["--inclusive-prefixes".into(), prefixes.to_string()]);
    }
    if let Some(id) = node
        .split("@Id='")
        .nth(1)
        .and_then(|s| s.split('\'').next())
    {
        args.extend(["--element-id".into(), id.to_string()]);
    } else if node.contains("SignedInfo") {
        args.extend([
            "--element".into(),
            "{http://www.w3.org/2000/09/xmldsig#}SignedInfo".into(),
        ]);
    } else if let Some(name) = node.split_whitespace().find(|w| w.starts_with('{')) {
        args.extend(["--element".into(), name.to_string()]);
    } else if node.contains("first element p ") {
        args.extend(["--element".into(), "p".into()]);
    } else {
        return Err(format!("cannot read node selection {node:?}"));
    }
    args.push(path(&r.file));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = eidas_node(&argv);
    let want = std::fs::read(path(&r.expected)).map_err(|e| e.to_string())?;
    if !o.status.success() || o.stdout != want {
        return Err(format!(
            "c14n {argv:?} differs:\n got {}\nwant {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&want)
        ));
    }
    Ok(())
}

#[test]
fn cli_handles_every_xmlsec_interop_vector_as_the_manifest_says() {
    let rows = rows();
    assert_eq!(rows.len(), 48, "manifest rows");
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for r in &rows {
        let res = match r.kind.as_str() {
            "verify" => check_verify(r),
            "decrypt" => check_decrypt(r),
            "c14n" => check_c14n(r),
            k => Err(format!("unknown kind {k}")),
        };
        *counts
            .entry((r.kind.clone(), r.expected == "reject", res.is_ok()))
            .or_insert(0) += 1;
        if let Err(e) = res {
            failures.push(format!("{} ({} {}): {e}", r.file, r.kind, r.expected));
        }
    }
    assert!(
        failures.is_empty(),
        "{} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The manifest's own tally: 6 verify accepts, 20 rejects; 6 decrypts, 7 rejects; 9 c14n.
    assert_eq!(counts.get(&("verify".into(), false, true)), Some(&6));
    assert_eq!(counts.get(&("verify".into(), true, true)), Some(&20));
    assert_eq!(counts.get(&("decrypt".into(), false, true)), Some(&6));
    assert_eq!(counts.get(&("decrypt".into(), true, true)), Some(&7));
    assert_eq!(counts.get(&("c14n".into(), false, true)), Some(&9));
}

#[test]
fn a_bit_flip_in_an_accepted_vector_is_refused() {
    let f = path("dsig/ecc_p256_sha256_exc-c14n.xml");
    let text = std::fs::read_to_string(&f).expect("vector");
    let start = text.find("<SignatureValue>").expect("SignatureValue") + "<SignatureValue>".len();
    let mut bytes = text.into_bytes();
    bytes[start + 5] = if bytes[start + 5] == b'A' { b'B' } else { b'A' };
    let t = tmp("flipped.xml", &bytes);
    let o = eidas_node(&[
        "xml",
        "verify",
        "--trusted-key",
        &path("keys/ms-ecc-p256-pubkey.pem"),
        "--any-reference",
        &t.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn whole_document_references_need_the_any_reference_flag() {
    let o = eidas_node(&[
        "xml",
        "verify",
        "--trusted-key",
        &path("keys/ms-ecc-p256-pubkey.pem"),
        &path("dsig/ecc_p256_sha256_exc-c14n.xml"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("does not point at the signed element"),
        "{}",
        stderr(&o)
    );
}
