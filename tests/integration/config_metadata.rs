//! The configuration file and `metadata show`: what an operator publishes passes the auditor's
//! metadata checks with no finding, and a configuration the node must not run with is refused.

use crate::common::{eidas_node, stderr, stdout};
use std::path::Path;

fn setup(dir: &Path) -> std::path::PathBuf {
    for (kind, sub) in [("ec-p256", "signing"), ("rsa-3072", "encryption")] {
        let out = dir.join("keys").join(sub);
        let o = eidas_node(&[
            "keys",
            "generate",
            "--kind",
            kind,
            "--country",
            "NO",
            "--out",
            &out.to_string_lossy(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/eidas-node.example.toml");
    let config = dir.join("eidas-node.toml");
    std::fs::copy(example, &config).unwrap();
    config
}

#[test]
fn published_metadata_for_both_roles_passes_the_metadata_checks() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let cert = dir.path().join("keys/signing/cert.pem");
    for role in ["ps", "connector"] {
        let o = eidas_node(&[
            "metadata",
            "show",
            "--role",
            role,
            "--config",
            &config.to_string_lossy(),
        ]);
        assert!(o.status.success(), "{role}: {}", stderr(&o));
        let md = dir.path().join(format!("{role}.xml"));
        std::fs::write(&md, &o.stdout).unwrap();
        let v = eidas_node(&[
            "metadata",
            "verify",
            "--trust-anchor",
            &cert.to_string_lossy(),
            &md.to_string_lossy(),
        ]);
        assert_eq!(
            v.status.code(),
            Some(0),
            "{role}: {}{}",
            stdout(&v),
            stderr(&v)
        );
        assert!(stdout(&v).contains("signature: verified with a trust anchor"));
        assert!(stdout(&v).contains("no findings"), "{role}: {}", stdout(&v));
        let expected = if role == "ps" {
            "https://eidas.example.no/ps/metadata"
        } else {
            "https://eidas.example.no/connector/metadata"
        };
        assert!(stdout(&v).contains(expected), "{}", stdout(&v));
    }
}

#[test]
fn refuses_configurations_the_node_must_not_run_with() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let good = std::fs::read_to_string(&config).unwrap();
    let cases = [
        (
            good.replace("[metadata]", "[metadata]\ntypo_key = 1"),
            "unknown field",
        ),
        (
            good.replace("https://eidas.example.no", "http://eidas.example.no"),
            "must be https",
        ),
        (
            good.replace("country = \"NO\"", "country = \"no\""),
            "two capital letters",
        ),
        (
            good.replace("valid_for_hours = 24", "valid_for_hours = 1000"),
            "1 to 168",
        ),
        (
            good.replace("keys/signing/cert.pem", "keys/encryption/cert.pem"),
            "does not belong",
        ),
    ];
    for (text, why) in cases {
        std::fs::write(&config, text).unwrap();
        let o = eidas_node(&[
            "metadata",
            "show",
            "--role",
            "ps",
            "--config",
            &config.to_string_lossy(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{why}");
        assert!(
            stderr(&o).contains(why),
            "expected {why:?} in: {}",
            stderr(&o)
        );
    }
    // A key below the eIDAS minimum is refused even though the tools would sign with it.
    let small = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/xmlsec-interop/keys/RSA-2048_SHA256WithRSA-orig.der");
    let k = eidas_node::crypto::PrivateKey::load(&std::fs::read(&small).unwrap()).unwrap();
    let c =
        eidas_node::crypto::generate::self_signed(&k, "small", "NO", 1_700_000_000, 3650).unwrap();
    std::fs::write(dir.path().join("small-key.pem"), k.pkcs8_pem()).unwrap();
    std::fs::write(dir.path().join("small-cert.pem"), c.to_pem()).unwrap();
    std::fs::write(
        &config,
        good.replace("keys/signing/key.pem", "small-key.pem")
            .replace("keys/signing/cert.pem", "small-cert.pem"),
    )
    .unwrap();
    let o = eidas_node(&[
        "metadata",
        "show",
        "--role",
        "ps",
        "--config",
        &config.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("below the eIDAS minimum"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn peers_load_their_trust_anchors_and_bad_peers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    std::fs::create_dir_all(dir.path().join("trust-anchors")).unwrap();
    std::fs::copy(
        dir.path().join("keys/signing/cert.pem"),
        dir.path().join("trust-anchors/SE.pem"),
    )
    .unwrap();
    let base = std::fs::read_to_string(&config).unwrap();
    let peer = |url: &str, role: &str, anchors: &str| {
        format!(
            "{base}\n[[peer]]\ncountry = \"SE\"\nrole = \"{role}\"\nmetadata_url = \"{url}\"\ntrust_anchors = [{anchors}]\n"
        )
    };
    std::fs::write(
        &config,
        peer(
            "https://cn.example.se/metadata",
            "connector",
            "\"trust-anchors/SE.pem\"",
        ),
    )
    .unwrap();
    let c = eidas_node::config::Config::load(&config).expect("valid");
    let peers = c.peers().unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].trust_anchors.len(), 1);
    for (text, why) in [
        (
            peer(
                "http://cn.example.se/metadata",
                "connector",
                "\"trust-anchors/SE.pem\"",
            ),
            "must be https",
        ),
        (
            peer(
                "https://cn.example.se/metadata",
                "broker",
                "\"trust-anchors/SE.pem\"",
            ),
            "role must be",
        ),
        (
            peer("https://cn.example.se/metadata", "connector", ""),
            "at least one trust anchor",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let err = eidas_node::config::Config::load(&config)
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{why}: {err}");
    }
    std::fs::write(
        &config,
        peer(
            "https://cn.example.se/metadata",
            "connector",
            "\"trust-anchors/missing.pem\"",
        ),
    )
    .unwrap();
    let c = eidas_node::config::Config::load(&config).unwrap();
    assert!(c.peers().unwrap_err().to_string().contains("missing.pem"));
}

/// `[idporten]`, `[register]` and the identifier settings: each mistake an operator can make is
/// refused with a message naming the setting, before the node serves anything.
#[test]
fn refuses_bad_idporten_register_and_identifier_settings() {
    use eidas_node::clock::SystemClock;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let example = std::fs::read_to_string(&config).unwrap();
    std::fs::write(dir.path().join("short.key"), "AAEC").unwrap();
    let idp = "[idporten]\nissuer = \"https://test.idporten.no\"\nclient_id = \"c\"\n";
    let cases: Vec<(String, &str)> = vec![
        (idp.to_string(), "private_key_jwt needs client_key"),
        (format!("{idp}client_auth = \"client_secret_basic\"\n"), "needs client_secret_file"),
        (format!("{idp}client_auth = \"magic\"\n"), "client_auth \"magic\""),
        (
            format!("{idp}client_key = \"keys/signing/cert.pem\"\n"),
            "[idporten] client_key",
        ),
        (
            "[idporten]\nissuer = \"http://idporten.example\"\nclient_id = \"c\"\nclient_auth = \"client_secret_post\"\nclient_secret_file = \"short.key\"\nallow_loopback_http = true\n".into(),
            "not loopback",
        ),
        ("[register]\nkind = \"ldap\"\n".into(), "kind \"ldap\""),
        ("[register]\nkind = \"synthetic\"\n".into(), "needs path"),
        ("[register]\nkind = \"folkeregisteret\"\n".into(), "needs client_id"),
        (
            "[register]\nkind = \"folkeregisteret\"\nclient_id = \"x\"\n".into(),
            "needs client_key",
        ),
    ];
    for (snippet, expect) in cases {
        std::fs::write(&config, format!("{example}\n{snippet}")).unwrap();
        let c = eidas_node::config::Config::load(&config).expect("parses");
        let e = match (
            c.idporten_client(Arc::new(SystemClock)),
            c.population_register(),
        ) {
            (Err(e), _) | (_, Err(e)) => e.to_string(),
            _ => panic!("accepted: {snippet}"),
        };
        assert!(e.contains(expect), "{snippet}: {e}");
    }
    for (setting, expect) in [
        ("identifier = \"email\"\n", "identifier \"email\""),
        ("identifier = \"pseudonym\"\n", "needs pseudonym_key_file"),
        (
            "identifier = \"pseudonym\"\npseudonym_key_file = \"short.key\"\n",
            "pseudonym key",
        ),
    ] {
        let text = example.replace("[proxy_service]\n", &format!("[proxy_service]\n{setting}"));
        std::fs::write(&config, text).unwrap();
        let c = eidas_node::config::Config::load(&config).expect("parses");
        let e = c.identifier_mode().unwrap_err().to_string();
        assert!(e.contains(expect), "{setting}: {e}");
    }
    // An unknown key anywhere is refused at load.
    std::fs::write(&config, format!("{example}\n{idp}colour = \"blue\"\n")).unwrap();
    let e = eidas_node::config::Config::load(&config)
        .unwrap_err()
        .to_string();
    assert!(e.contains("colour"), "{e}");
}

/// `[connector]` and `[oidc_provider]`: each mistake is refused with a message naming the
/// setting — at load, or when the node builds the provider and the matcher.
#[test]
fn refuses_bad_connector_and_oidc_provider_settings() {
    use eidas_node::clock::SystemClock;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    let example = std::fs::read_to_string(&config).unwrap();
    std::fs::write(dir.path().join("short-secret"), "too-short").unwrap();
    let client = |extra: &str| {
        format!(
            "[oidc_provider]\n\n[[oidc_provider.client]]\nclient_id = \"rp\"\n\
             redirect_uris = [\"https://rp.example/cb\"]\n{extra}"
        )
    };
    // Refused at load.
    let at_load: Vec<(String, &str)> = vec![
        ("[connector]\nrequest_sp_type = \"both\"\n".into(), "request_sp_type"),
        (
            "[connector]\nmdsl_file = \"mdsl.xml\"\n".into(),
            "needs mdsl_trust_anchors",
        ),
        ("[connector]\nrequester_id = \"no-uri\"\n".into(), "requester_id"),
        ("[connector]\ncountries = [\"SE\"]\n".into(), "no [[peer]] with role proxy_service"),
        ("[oidc_provider]\nsigning_alg = \"HS256\"\n".into(), "signing_alg"),
        ("[oidc_provider]\ndefault_acr = \"idporten-loa-high\"\n".into(), "default_acr"),
        ("[oidc_provider]\ncode_lifetime_seconds = 0\n".into(), "lifetimes"),
        (
            "[oidc_provider]\n\n[[oidc_provider.client]]\nclient_id = \"rp\"\nredirect_uris = []\n".into(),
            "at least one redirect_uri",
        ),
        (
            "[oidc_provider]\n\n[[oidc_provider.client]]\nclient_id = \"rp\"\nredirect_uris = [\"http://rp.example/cb\"]\n".into(),
            "must be https",
        ),
        (
            format!("{}\n[[oidc_provider.client]]\nclient_id = \"rp\"\nredirect_uris = [\"https://rp.example/b\"]\n", client("")),
            "registered twice",
        ),
        (client("attributes = [\"ShoeSize\"]\n"), "not an eIDAS attribute"),
    ];
    for (snippet, expect) in at_load {
        std::fs::write(&config, format!("{example}\n{snippet}")).unwrap();
        let e = eidas_node::config::Config::load(&config)
            .err()
            .unwrap_or_else(|| panic!("accepted: {snippet}"))
            .to_string();
        assert!(e.contains(expect), "{snippet}: {e}");
    }
    // Refused when the provider or the matcher is built.
    let store: Arc<dyn eidas_node::store::Store> =
        Arc::new(eidas_node::store::MemoryStore::new(Arc::new(SystemClock)));
    let at_build: Vec<(String, &str)> = vec![
        (client(""), "private_key_jwt needs public_key"),
        (
            client("public_key = \"keys/signing/key.pem\"\n"),
            "neither a certificate nor a PUBLIC KEY",
        ),
        (
            client("auth = \"client_secret_basic\"\n"),
            "needs client_secret_file",
        ),
        (
            client("auth = \"client_secret_post\"\nclient_secret_file = \"short-secret\"\n"),
            "at least 32 characters",
        ),
        (client("auth = \"mtls\"\n"), "auth \"mtls\""),
        (
            "[oidc_provider]\nsigning_alg = \"PS256\"\n".into(),
            "PS256 cannot be made",
        ),
        (
            "[connector]\nmatching = \"dns\"\n".into(),
            "matching \"dns\"",
        ),
        (
            "[connector]\nmatching = \"file\"\n".into(),
            "needs matching_file",
        ),
        (
            "[connector]\nmatching = \"freg-gateway\"\n".into(),
            "needs matching_url",
        ),
    ];
    for (snippet, expect) in at_build {
        std::fs::write(&config, format!("{example}\n{snippet}")).unwrap();
        let c = eidas_node::config::Config::load(&config).expect("parses");
        let e = match (
            c.oidc_provider(store.clone(), Arc::new(SystemClock)),
            c.identity_matcher(),
        ) {
            (Err(e), _) | (_, Err(e)) => e.to_string(),
            _ => panic!("accepted: {snippet}"),
        };
        assert!(e.contains(expect), "{snippet}: {e}");
    }
}
