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
