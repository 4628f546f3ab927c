//! Interop with pysaml2 7.5.5 as an independent eIDAS Connector
//! (tests/interop/pysaml2_connector.py; its XML crypto runs through tests/interop/xmlsec1-shim on
//! the libxmlsec1 1.3.9 of the python-xmlsec wheel): pysaml2 loads our signed Proxy-Service
//! metadata and builds AuthnRequests from it that our rules accept, and it accepts the Responses
//! our layers build (and refuses tampered ones).

use crate::common::{Fixture, eidas_node, p256, p256_other, rsa, stderr, stdout};
use eidas_node::crypto::{Certificate, PrivateKey, SoftwareSigner};
use eidas_node::saml::{
    self, Assertion, Attribute, AttributeValue, AuthnStatement, Conditions, Issuer, NameId,
    Response, Status, SubjectConfirmation,
};
use eidas_node::xml::{self, Limits};
use eidas_node::xmlsec::dsig::sign_element;
use eidas_node::xmlsec::enc::{EncryptOptions, encrypted_data_for};
use std::path::{Path, PathBuf};
use std::process::Output;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ECDSA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const PSS256: &str = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";
const SP_ENTITY: &str = "https://connector.pysaml2.example.de/metadata";
const SP_ACS: &str = "https://connector.pysaml2.example.de/acs/post";
const PS_ENTITY: &str = "https://eidas.example.no/ps/metadata";
const NATURAL: &str = "http://eidas.europa.eu/attributes/naturalperson";
const LOA_HIGH: &str = "http://eidas.europa.eu/LoA/high";
const PERSON_ID: &str = "NO/DE/05068907693";

fn p(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// tests/interop/pysaml2_connector.py with the test venv (scripts/setup-test-env.sh).
pub fn connector(args: &[&str]) -> Output {
    crate::common::interop_script("pysaml2_connector.py", args)
}

/// A node configuration (docs/eidas-node.example.toml, fresh keys) and its signed Proxy-Service
/// metadata, as config_metadata.rs makes them.
struct Node {
    dir: tempfile::TempDir,
    metadata: PathBuf,
    /// SignatureMethod of everything this node signs (its key's eIDAS default).
    sig_alg: &'static str,
}

impl Node {
    /// `signing`: the `keys generate --kind` of the node's signing key (ec-p256 or rsa-3072).
    fn new(signing: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        for (kind, sub) in [(signing, "signing"), ("rsa-3072", "encryption")] {
            let o = eidas_node(&[
                "keys",
                "generate",
                "--kind",
                kind,
                "--country",
                "NO",
                "--out",
                &p(&dir.path().join("keys").join(sub)),
            ]);
            assert!(o.status.success(), "keys generate: {}", stderr(&o));
        }
        let config = dir.path().join("eidas-node.toml");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/eidas-node.example.toml"),
            &config,
        )
        .unwrap();
        let o = eidas_node(&["metadata", "show", "--role", "ps", "--config", &p(&config)]);
        assert!(o.status.success(), "metadata show: {}", stderr(&o));
        let metadata = dir.path().join("ps-metadata.xml");
        std::fs::write(&metadata, &o.stdout).unwrap();
        let sig_alg = if signing.starts_with("rsa") {
            PSS256
        } else {
            ECDSA256
        };
        Node {
            dir,
            metadata,
            sig_alg,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn signing_cert(&self) -> PathBuf {
        self.path("keys/signing/cert.pem")
    }

    fn signer(&self) -> SoftwareSigner {
        let key = PrivateKey::load(&std::fs::read(self.path("keys/signing/key.pem")).unwrap())
            .expect("PS signing key");
        let cert = Certificate::load(&std::fs::read(self.signing_cert()).unwrap())
            .expect("PS signing cert");
        SoftwareSigner::new(key, None, Some(cert)).expect("PS signer")
    }

    /// The HTTP-POST SingleSignOnService Location in our metadata.
    fn sso_post_url(&self) -> String {
        let text = std::fs::read_to_string(&self.metadata).unwrap();
        let doc = xml::parse(text.as_bytes(), &Limits::default()).unwrap();
        doc.elements()
            .find(|e| {
                e.is(saml::ns::METADATA, "SingleSignOnService")
                    && e.attr("Binding") == Some(saml::binding_uri::HTTP_POST)
            })
            .and_then(|e| e.attr("Location").map(str::to_string))
            .expect("an HTTP-POST SingleSignOnService in our metadata")
    }

    /// pysaml2 builds and signs an AuthnRequest from our metadata; returns (request ID, XML).
    fn pysaml2_request(&self, sp: &Fixture, alg: &str, name: &str) -> (String, String) {
        let out = self.path(name);
        let o = connector(&[
            "make-request",
            "--metadata",
            &p(&self.metadata),
            "--metadata-cert",
            &p(&self.signing_cert()),
            "--key",
            &p(&sp.files.key_pem),
            "--cert",
            &p(&sp.files.cert_pem),
            "--alg",
            alg,
            "--entity-id",
            SP_ENTITY,
            "--acs",
            SP_ACS,
            "--out",
            &p(&out),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "pysaml2 make-request ({alg}): {}",
            stderr(&o)
        );
        let id = json_str(&stdout(&o), "id").expect("request id in make-request's output");
        (id, std::fs::read_to_string(&out).unwrap())
    }
}

/// The string value of `"key": "..."` in flat JSON printed by the Python peer (no escapes in the
/// values we read).
pub fn json_str(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\": \""))? + key.len() + 5;
    let end = json[start..].find('"')?;
    Some(json[start..start + end].to_string())
}

fn root_attr(xml_text: &str, name: &str) -> Option<String> {
    let doc = xml::parse(xml_text.as_bytes(), &Limits::default()).unwrap();
    let root = doc.element(doc.root()).unwrap();
    root.attr(name).map(str::to_string)
}

fn instant(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap()
}

#[test]
fn pysaml2_builds_an_eidas_request_from_our_metadata_that_our_rules_accept() {
    let node = Node::new("ec-p256");
    let sso = node.sso_post_url();
    for (sp, alg) in [(p256(), ECDSA256), (rsa(), PSS256)] {
        let (id, request) = node.pysaml2_request(sp, alg, "pysaml2-request.xml");
        // pysaml2 found the Proxy-Service and its SSO endpoint in our metadata.
        assert_eq!(
            root_attr(&request, "Destination").as_deref(),
            Some(sso.as_str()),
            "{request}"
        );
        assert_eq!(root_attr(&request, "ID").as_deref(), Some(id.as_str()));
        let issued = root_attr(&request, "IssueInstant").expect("IssueInstant");
        let at = (OffsetDateTime::parse(&issued, &Rfc3339).expect("IssueInstant is RFC 3339")
            + time::Duration::seconds(1))
        .format(&Rfc3339)
        .unwrap();
        let file = node.path("pysaml2-request.xml");
        let o = eidas_node(&[
            "saml",
            "check",
            "--role",
            "ps",
            "--trusted-key",
            &p(&sp.files.cert_pem),
            "--at",
            &at,
            &p(&file),
        ]);
        let out = stdout(&o);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{alg}:\n{out}{}\n{request}",
            stderr(&o)
        );
        assert!(out.contains("no findings"), "{alg}:\n{out}");
        assert!(
            out.contains(&format!(
                "AuthnRequest signature: {alg} (verified with a trusted key)"
            )),
            "{alg}:\n{out}"
        );
        assert!(out.contains("SPType public"), "{out}");
    }

    // pysaml2 checks the metadata signature (--metadata-cert): a changed copy is refused.
    let text = std::fs::read_to_string(&node.metadata).unwrap();
    let forged = text.replace(
        &format!("Location=\"{sso}\""),
        "Location=\"https://evil.example/sso\"",
    );
    assert_ne!(forged, text);
    let forged_file = node.path("ps-metadata-forged.xml");
    std::fs::write(&forged_file, forged).unwrap();
    let o = connector(&[
        "make-request",
        "--metadata",
        &p(&forged_file),
        "--metadata-cert",
        &p(&node.signing_cert()),
        "--key",
        &p(&p256().files.key_pem),
        "--cert",
        &p(&p256().files.cert_pem),
        "--alg",
        ECDSA256,
        "--entity-id",
        SP_ENTITY,
        "--acs",
        SP_ACS,
        "--out",
        &p(&node.path("never.xml")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("metadata signature does not verify"),
        "{}",
        stderr(&o)
    );
}

/// A success Response as our Proxy-Service layers build it: the assertion (four MDS attributes,
/// LoA high) signed by `assertion_signer`, encrypted to `sp_cert`, inside a Response signed with
/// the Proxy-Service key.
fn our_response(
    node: &Node,
    request_id: &str,
    assertion_signer: &SoftwareSigner,
    sp_cert: &Certificate,
) -> String {
    let now = OffsetDateTime::now_utc();
    let later = instant(now + time::Duration::minutes(5));
    let issuer = Some(Issuer {
        value: PS_ENTITY.into(),
        format: Some(saml::NAMEID_ENTITY.into()),
    });
    let attr = |name: &str, ty: &str, value: &str| Attribute {
        name: format!("{NATURAL}/{name}"),
        name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
        friendly_name: Some(name.into()),
        values: vec![AttributeValue {
            value: value.into(),
            xsi_type: Some((Some(NATURAL.into()), ty.into())),
            latin_script: None,
        }],
    };
    let assertion_id = format!("_a{}", now.unix_timestamp_nanos());
    let assertion = Assertion {
        id: Some(assertion_id),
        version: Some("2.0".into()),
        issue_instant: Some(instant(now)),
        issuer: issuer.clone(),
        name_id: Some(NameId {
            value: PERSON_ID.into(),
            format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
            name_qualifier: Some(PS_ENTITY.into()),
            sp_name_qualifier: Some(SP_ENTITY.into()),
        }),
        subject_confirmations: vec![SubjectConfirmation {
            method: Some("urn:oasis:names:tc:SAML:2.0:cm:bearer".into()),
            in_response_to: Some(request_id.into()),
            recipient: Some(SP_ACS.into()),
            not_on_or_after: Some(later.clone()),
            has_data: true,
            ..SubjectConfirmation::default()
        }],
        conditions: Some(Conditions {
            not_before: Some(instant(now)),
            not_on_or_after: Some(later),
            audience_restrictions: vec![vec![SP_ENTITY.into()]],
            one_time_use: false,
        }),
        authn_statements: vec![AuthnStatement {
            authn_instant: Some(instant(now)),
            class_refs: vec![LOA_HIGH.into()],
        }],
        attribute_statements: vec![vec![
            attr("PersonIdentifier", "PersonIdentifierType", PERSON_ID),
            attr("CurrentFamilyName", "CurrentFamilyNameType", "Nordmann"),
            attr("CurrentGivenName", "CurrentGivenNameType", "Kari Ågot"),
            attr("DateOfBirth", "DateOfBirthType", "1989-06-05"),
        ]],
        ..Assertion::default()
    }
    .to_xml();
    let doc = xml::parse(assertion.as_bytes(), &Limits::default()).unwrap();
    let signed = sign_element(&doc, doc.root(), assertion_signer).expect("sign assertion");
    let ed = encrypted_data_for(&signed, sp_cert, &EncryptOptions::default()).expect("encrypt");
    let response = Response {
        id: Some(format!("_r{}", now.unix_timestamp_nanos())),
        version: Some("2.0".into()),
        issue_instant: Some(instant(now)),
        in_response_to: Some(request_id.into()),
        destination: Some(SP_ACS.into()),
        consent: Some("urn:oasis:names:tc:SAML:2.0:consent:obtained".into()),
        issuer,
        status: Some(Status {
            code: Some(saml::status::SUCCESS.into()),
            ..Status::default()
        }),
        ..Response::default()
    }
    .to_xml(Some(&format!(
        "<saml2:EncryptedAssertion>{ed}</saml2:EncryptedAssertion>"
    )));
    let doc = xml::parse(response.as_bytes(), &Limits::default()).unwrap();
    sign_element(&doc, doc.root(), &node.signer()).expect("sign response")
}

/// pysaml2's SP parses `response` as the answer to `request_id`. `fix_xsi_type`: with the
/// workaround for pysaml2 issue #921 (see pysaml2_connector.py), without which stock pysaml2
/// 7.5.5 refuses every signed assertion that carries eIDAS-typed attribute values.
fn read_response(
    node: &Node,
    sp: &Fixture,
    request_id: &str,
    response: &str,
    fix_xsi_type: bool,
) -> Output {
    let file = node.path("our-response.xml");
    std::fs::write(&file, response).unwrap();
    let (metadata, cert, key, sp_cert, file) = (
        p(&node.metadata),
        p(&node.signing_cert()),
        p(&sp.files.key_pem),
        p(&sp.files.cert_pem),
        p(&file),
    );
    let mut args = vec![
        "read-response",
        "--metadata",
        &metadata,
        "--metadata-cert",
        &cert,
        "--key",
        &key,
        "--cert",
        &sp_cert,
        "--response",
        &file,
        "--request-id",
        request_id,
        "--entity-id",
        SP_ENTITY,
        "--acs",
        SP_ACS,
    ];
    if fix_xsi_type {
        args.push("--fix-xsi-type");
    }
    connector(&args)
}

#[test]
fn pysaml2_accepts_a_response_our_layers_build() {
    // Our node signs with ECDSA P-256 (metadata, Response, assertion) or with RSASSA-PSS
    // (RSA-3072). RSA SP: RSA-OAEP (xmlenc11, SHA-256/MGF1-SHA-256) key transport; EC SP:
    // ECDH-ES + ConcatKDF + kw-aes256, which pysaml2 decrypts through the shim with ds:KeyValue
    // enabled. The refusals are checked on the ECDSA node.
    let ec_node = Node::new("ec-p256");
    let rsa_node = Node::new("rsa-3072");
    for (node, sp, alg, transport, refusals) in [
        (&ec_node, rsa(), PSS256, "xmlenc11#rsa-oaep", true),
        (&ec_node, p256(), ECDSA256, "xmlenc11#ECDH-ES", true),
        (&rsa_node, rsa(), PSS256, "xmlenc11#rsa-oaep", false),
    ] {
        let (request_id, _) = node.pysaml2_request(sp, alg, "pysaml2-request.xml");
        let response = our_response(node, &request_id, &node.signer(), &sp.cert);
        assert!(response.contains(transport), "{response}");
        assert!(
            response.contains(&format!("SignatureMethod Algorithm=\"{}\"", node.sig_alg)),
            "{response}"
        );

        // Our own Connector rules find nothing wrong with it either.
        let file = node.path("our-response-check.xml");
        std::fs::write(&file, &response).unwrap();
        let o = eidas_node(&[
            "saml",
            "check",
            "--role",
            "connector",
            "--trusted-key",
            &p(&node.signing_cert()),
            "--decrypt-key",
            &p(&sp.files.key_pem),
            &p(&file),
        ]);
        assert_eq!(o.status.code(), Some(0), "{transport}: {}", stdout(&o));
        assert!(stdout(&o).contains("no findings"), "{}", stdout(&o));

        if refusals {
            // Stock pysaml2 7.5.5 refuses it: before checking the assertion signature it
            // schema-validates its own ElementTree re-serialisation of the assertion, which has
            // lost the namespace binding of the xsi:type prefix (pysaml2 issue #921, open
            // upstream). eIDAS attribute values are typed this way by every node, so this is a
            // pysaml2 gap, not ours; --fix-xsi-type works around it for the checks below.
            let o = read_response(node, sp, &request_id, &response, false);
            assert_eq!(
                o.status.code(),
                Some(1),
                "stock pysaml2 accepted eIDAS-typed attribute values (#921 fixed? then \
                 --fix-xsi-type can go): {}",
                stdout(&o)
            );
            assert!(
                stderr(&o).contains("Invalid document format")
                    && stderr(&o).contains("PersonIdentifierType")
                    && stderr(&o).contains("not found"),
                "{}",
                stderr(&o)
            );
        }

        let o = read_response(node, sp, &request_id, &response, true);
        let out = stdout(&o);
        assert_eq!(
            o.status.code(),
            Some(0),
            "pysaml2 refused our Response ({transport}): {}",
            stderr(&o)
        );
        assert!(
            out.contains(&format!("\"PersonIdentifier\": [\"{PERSON_ID}\"]")),
            "{transport}: {out}"
        );
        assert!(out.contains("\"FamilyName\": [\"Nordmann\"]"), "{out}");
        assert!(out.contains("\"DateOfBirth\": [\"1989-06-05\"]"), "{out}");
        assert!(out.contains(&format!("\"loa\": [\"{LOA_HIGH}\"]")), "{out}");
        assert!(
            out.contains(&format!("\"in_response_to\": \"{request_id}\"")),
            "{out}"
        );
        assert!(out.contains("\"assertion_signed\": true"), "{out}");
        assert!(out.contains("\"response_signed\": true"), "{out}");

        if !refusals {
            continue;
        }
        // Tampered after signing: the Response signature no longer verifies.
        let tampered = response.replace("consent:obtained", "consent:prior");
        assert_ne!(tampered, response);
        let o = read_response(node, sp, &request_id, &tampered, true);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{transport}: tampered Response accepted: {}",
            stdout(&o)
        );
        assert!(stderr(&o).contains("SignatureError"), "{}", stderr(&o));

        // An assertion signed by a key that is not in our metadata, in a correctly signed
        // Response: pysaml2 checks the assertion signature too.
        let foreign = our_response(node, &request_id, &p256_other().signer(), &sp.cert);
        let o = read_response(node, sp, &request_id, &foreign, true);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{transport}: foreign assertion signature accepted: {}",
            stdout(&o)
        );
        assert!(stderr(&o).contains("SignatureError"), "{}", stderr(&o));

        // An answer to another request is refused.
        let o = read_response(node, sp, "id-not-outstanding", &response, true);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{transport}: unsolicited Response accepted: {}",
            stdout(&o)
        );
        assert!(stderr(&o).contains("Unsolicited"), "{}", stderr(&o));
    }
}
