//! Real artefacts from other implementations (tests/vectors/peer-samples: the EC reference node,
//! Germany's middleware, Estonia's RIA, Sweden Connect's aggregate of production
//! Proxy-Services): the auditor tools handle every one as its manifest describes, at a time
//! inside its validity, and nothing crashes.

use crate::common::{eidas_node, stderr, stdout};
use std::path::{Path, PathBuf};

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/peer-samples")
}

/// (file, kind, signature_verifies, validity) for each manifest row.
fn rows() -> Vec<[String; 4]> {
    let text = std::fs::read_to_string(base().join("MANIFEST.tsv")).expect("manifest");
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            [
                f[0].to_string(),
                f[1].to_string(),
                f[9].to_string(),
                f[10].to_string(),
            ]
        })
        .collect()
}

/// An instant just inside the sample's validity: an hour before validUntil, or just after the
/// IssueInstant.
fn at(validity: &str) -> String {
    let pick = |key: &str| {
        validity
            .split(key)
            .nth(1)
            .and_then(|r| r.get(..19))
            .map(|s| s.to_string())
    };
    if let Some(vu) = pick("validUntil=") {
        let t = time::PrimitiveDateTime::parse(
            &vu,
            &time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        )
        .expect("validUntil");
        let t = t.assume_utc() - time::Duration::hours(1);
        return t
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format");
    }
    if let Some(ii) = pick("IssueInstant=") {
        return format!("{ii}Z");
    }
    "2020-01-01T00:00:00Z".into()
}

#[test]
fn metadata_verify_reports_every_metadata_sample_as_its_manifest_says() {
    let mut checked = 0;
    for [file, kind, verifies, validity] in rows() {
        if !kind.starts_with("metadata") {
            continue;
        }
        let path = base().join(&file);
        let when = at(&validity);
        let o = eidas_node(&["metadata", "verify", "--at", &when, &path.to_string_lossy()]);
        let code = o.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{file}: exit {code:?}: {}",
            stderr(&o)
        );
        let out = stdout(&o);
        assert!(out.starts_with("entity "), "{file}: no entity read:\n{out}");
        let top = verifies.split(';').next().unwrap_or("");
        let signature_broken = out.lines().any(|l| l.starts_with("MD-SIGNED [must]"));
        if top.starts_with("EntityDescriptor: yes") {
            // Intact (possibly only under the legacy allowance, or not checkable for a weak key,
            // which the report says separately).
            let legacy_or_weak = out.contains("MD-SIG-KEY") || out.contains("MD-SIG-ALG");
            assert!(
                !signature_broken || legacy_or_weak,
                "{file}: manifest says the signature verifies:\n{out}"
            );
        } else if top.starts_with("EntityDescriptor: no") {
            assert!(
                signature_broken,
                "{file}: manifest says the signature does not verify:\n{out}"
            );
            assert!(
                out.contains("digest does not match"),
                "{file}: the manifest's reason is a changed content:\n{out}"
            );
        } else {
            assert!(
                out.contains("MD-SIGNED [must] the metadata is not signed"),
                "{file}: unsigned:\n{out}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 12, "metadata samples in the manifest");
}

#[test]
fn metadata_verify_trusts_only_the_given_anchor() {
    let md = base().join("ec-eidas-node/metadata-ps-2.5.0-rsapss-sha384.xml");
    let signer = base().join("ec-eidas-node/pki/ec-metadata-signer-561BC0C8.crt.pem");
    let other = base().join("sweden-connect/pki/sc-metadata-signing-sandbox.crt.pem");
    let o = eidas_node(&[
        "metadata",
        "verify",
        "--at",
        "2020-03-20T00:00:00Z",
        "--trust-anchor",
        &signer.to_string_lossy(),
        &md.to_string_lossy(),
    ]);
    assert!(
        stdout(&o).contains("signature: verified with a trust anchor"),
        "{}",
        stdout(&o)
    );
    let o = eidas_node(&[
        "metadata",
        "verify",
        "--at",
        "2020-03-20T00:00:00Z",
        "--trust-anchor",
        &other.to_string_lossy(),
        &md.to_string_lossy(),
    ]);
    assert!(stdout(&o).contains("signature: not verified with a trust anchor"));
    assert!(stdout(&o).contains("MD-SIGNED [must]"), "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(1));
}

fn pki(name: &str) -> String {
    base()
        .join("ec-eidas-node/pki")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn saml_check_reports_every_message_sample_as_its_manifest_says() {
    let text = std::fs::read_to_string(base().join("MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let (file, kind, verifies, validity, decryption) = (f[0], f[1], f[9], f[10], f[11]);
        if !matches!(kind, "authnrequest" | "response" | "error-response") {
            continue;
        }
        let when = at(validity);
        let path = base().join(file);
        let keys = [
            "ec-test-rsa.key.pem",
            "ec-test-ec-nist-p256.key.pem",
            "ec-local-demo-cert-6C4536E0.key.pem",
            "ec-test-ec-brainpoolP256r1.key.pem",
        ];
        let mut args = vec![
            "saml".to_string(),
            "check".into(),
            "--at".into(),
            when.clone(),
        ];
        for k in keys {
            args.extend(["--decrypt-key".into(), pki(k)]);
        }
        args.push(path.to_string_lossy().into_owned());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = eidas_node(&argv);
        let out = stdout(&o);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{file}: exit {:?}: {}",
            o.status.code(),
            stderr(&o)
        );
        let expected_kind = if kind == "authnrequest" {
            "AuthnRequest"
        } else {
            "Response"
        };
        assert!(out.starts_with(expected_kind), "{file}:\n{out}");
        // The signature verdict of the manifest.
        if verifies.contains(": yes") {
            assert!(
                out.contains("signature: ") || out.contains("DSIG-ALG"),
                "{file}: manifest says it verifies:\n{out}"
            );
            assert!(
                !out.contains("DSIG-INTEGRITY") && !out.contains("DSIG-KEY"),
                "{file}: manifest says it verifies:\n{out}"
            );
        } else if verifies.contains(": no: reference digest mismatch") {
            assert!(
                out.contains("DSIG-INTEGRITY [must]") && out.contains("digest does not match"),
                "{file}:\n{out}"
            );
        } else {
            assert!(
                out.contains("DSIG-SIGNED [must]"),
                "{file}: unsigned:\n{out}"
            );
        }
        // Decryption as the manifest says; a Brainpool key agreement is refused with a clear finding.
        if decryption.starts_with("decrypts with") && !decryption.contains("brainpool") {
            assert!(
                out.contains("assertion decrypted with --decrypt-key"),
                "{file}:\n{out}"
            );
            let id = decryption
                .split("Assertion ID=")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .unwrap();
            assert!(
                out.contains(&format!("Assertion {id} ")),
                "{file}: assertion {id}:\n{out}"
            );
        } else if decryption.contains("brainpool") || file.contains("brainpool") {
            assert!(
                out.contains("ENC-ALG [must]") && out.contains("brainpoolP256r1"),
                "{file}:\n{out}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 16, "message samples in the manifest");
}

#[test]
fn saml_check_trusts_only_the_given_key() {
    let req = base().join("ec-eidas-node/authnrequest-connector-rsa-sha512.xml");
    let good = pki("ec-speps-ca-demo-certificate-54C8FC88.crt.pem");
    let wrong = pki("ec-metadata-signer-561BC0C8.crt.pem");
    let o = eidas_node(&[
        "saml",
        "check",
        "--at",
        "2019-11-07T12:18:24Z",
        "--trusted-key",
        &good,
        &req.to_string_lossy(),
    ]);
    assert!(
        stdout(&o).contains("verified with a trusted key"),
        "{}",
        stdout(&o)
    );
    let o = eidas_node(&[
        "saml",
        "check",
        "--at",
        "2019-11-07T12:18:24Z",
        "--trusted-key",
        &wrong,
        &req.to_string_lossy(),
    ]);
    assert!(stdout(&o).contains("DSIG-KEY [must]"), "{}", stdout(&o));
}
