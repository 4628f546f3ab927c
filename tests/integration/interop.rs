//! Interop, both directions, with implementations we did not write: python-xmlsec 1.3.17
//! (libxmlsec1 1.3.9, libxml2 2.14.6, OpenSSL), signxml 5.2.0 (pyca/cryptography) and lxml 6.1.3
//! (libxml2's C14N), all installed at pinned versions by scripts/test.sh.

use crate::common::{
    ASSERTION_ID, Fixture, RESPONSE, RESPONSE_ID, eidas_node, oracle, p256, p384, rsa, stderr, tmp,
};
use eidas_node::crypto::SoftwareSigner;
use eidas_node::crypto::alg::SignatureAlgorithm;
use eidas_node::xml::{self, Document, Limits};
use eidas_node::xmlsec::c14n::{Options, canonicalize};
use eidas_node::xmlsec::dsig::{DsigError, VerifyOptions, sign_element, verify_element};
use eidas_node::xmlsec::enc::{EncryptOptions, decrypt_element, encrypt_element};
use eidas_node::xmlsec::ns;
use std::path::Path;

const PSS256: &str = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";
const PSS384: &str = "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1";
const PSS512: &str = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1";
const ECDSA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const ECDSA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
const ECDSA512: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

fn parse(s: &str) -> Document {
    xml::parse(s.as_bytes(), &Limits::default()).expect("parse")
}

fn p(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn ok(o: std::process::Output, what: &str) -> Vec<u8> {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
    o.stdout
}

fn sign_ours(text: &str, id: &str, f: &Fixture, alg: &str) -> String {
    let alg = SignatureAlgorithm::from_uri(alg, false).unwrap();
    let signer = SoftwareSigner::new(f.key(), Some(alg), Some(f.cert.clone())).unwrap();
    let doc = parse(text);
    let e = doc.elements_with_id(id).next().unwrap().id();
    sign_element(&doc, e, &signer).expect("sign")
}

fn verify_ours(text: &str, id: &str, f: &Fixture, opts: &VerifyOptions) -> Result<(), DsigError> {
    let doc = parse(text);
    let e = doc.elements_with_id(id).next().unwrap().id();
    verify_element(&doc, e, &[f.public()], opts).map(|_| ())
}

#[test]
fn our_signatures_verify_in_libxmlsec1_and_signxml() {
    for (f, alg) in [
        (rsa(), PSS256),
        (rsa(), PSS384),
        (rsa(), PSS512),
        (p256(), ECDSA256),
        (p384(), ECDSA384),
    ] {
        // A signed Assertion inside a signed Response, as a Proxy-Service sends it.
        let both = sign_ours(
            &sign_ours(RESPONSE, ASSERTION_ID, f, alg),
            RESPONSE_ID,
            f,
            alg,
        );
        let file = tmp("ours-signed.xml", &both);
        for id in [ASSERTION_ID, RESPONSE_ID] {
            ok(
                oracle(&[
                    "xmlsec-verify",
                    "--cert",
                    &p(&f.files.cert_pem),
                    "--id",
                    id,
                    &p(&file),
                ]),
                &format!("libxmlsec1 {alg} {id}"),
            );
            ok(
                oracle(&[
                    "signxml-verify",
                    "--cert",
                    &p(&f.files.cert_pem),
                    "--alg",
                    alg,
                    "--id",
                    id,
                    &p(&file),
                ]),
                &format!("signxml {alg} {id}"),
            );
        }
        // And the oracles see a change: the test can fail.
        let bad = tmp("ours-signed-bad.xml", both.replace("Nordmann", "Nordmenn"));
        let o = oracle(&[
            "xmlsec-verify",
            "--cert",
            &p(&f.files.cert_pem),
            "--id",
            ASSERTION_ID,
            &p(&bad),
        ]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "libxmlsec1 must refuse a changed assertion"
        );
    }
}

#[test]
fn libxmlsec1_and_signxml_signatures_verify_in_ours() {
    let input = tmp("theirs-in.xml", RESPONSE);
    for (f, alg) in [
        (rsa(), PSS256),
        (rsa(), PSS512),
        (p256(), ECDSA256),
        (p256(), ECDSA512),
        (p384(), ECDSA384),
        (p384(), ECDSA256),
    ] {
        let out = tmp("theirs-xmlsec.xml", "");
        ok(
            oracle(&[
                "xmlsec-sign",
                "--key",
                &p(&f.files.key_pem),
                "--cert",
                &p(&f.files.cert_pem),
                "--alg",
                alg,
                "--id",
                ASSERTION_ID,
                "--out",
                &p(&out),
                &p(&input),
            ]),
            "xmlsec-sign",
        );
        let signed = std::fs::read_to_string(&out).unwrap();
        verify_ours(&signed, ASSERTION_ID, f, &VerifyOptions::default())
            .unwrap_or_else(|e| panic!("libxmlsec1 {alg}: {e}"));
        let tampered = signed.replace("Nordmann", "Nordmenn");
        assert_ne!(tampered, signed);
        assert_eq!(
            verify_ours(&tampered, ASSERTION_ID, f, &VerifyOptions::default()),
            Err(DsigError::DigestMismatch)
        );

        let out = tmp("theirs-signxml.xml", "");
        ok(
            oracle(&[
                "signxml-sign",
                "--key",
                &p(&f.files.key_pem),
                "--cert",
                &p(&f.files.cert_pem),
                "--alg",
                alg,
                "--id",
                RESPONSE_ID,
                "--out",
                &p(&out),
                &p(&input),
            ]),
            "signxml-sign",
        );
        let signed = std::fs::read_to_string(&out).unwrap();
        verify_ours(&signed, RESPONSE_ID, f, &VerifyOptions::default())
            .unwrap_or_else(|e| panic!("signxml {alg}: {e}"));
    }
}

#[test]
fn rsa_pkcs1_from_a_peer_needs_the_legacy_allowance() {
    let input = tmp("legacy-in.xml", RESPONSE);
    let out = tmp("legacy-out.xml", "");
    let f = rsa();
    ok(
        oracle(&[
            "xmlsec-sign",
            "--key",
            &p(&f.files.key_pem),
            "--cert",
            &p(&f.files.cert_pem),
            "--alg",
            RSA_SHA256,
            "--id",
            ASSERTION_ID,
            "--out",
            &p(&out),
            &p(&input),
        ]),
        "xmlsec-sign rsa-sha256",
    );
    let signed = std::fs::read_to_string(&out).unwrap();
    assert!(matches!(
        verify_ours(&signed, ASSERTION_ID, f, &VerifyOptions::default()),
        Err(DsigError::Algorithm(_))
    ));
    let legacy = VerifyOptions {
        allow_legacy_rsa: true,
        ..VerifyOptions::default()
    };
    verify_ours(&signed, ASSERTION_ID, f, &legacy).expect("verifies under the legacy allowance");
}

fn exc_c14n_of(text: &str, id: &str) -> Vec<u8> {
    let doc = parse(text);
    let e = doc.elements_with_id(id).next().expect("element").id();
    canonicalize(&doc, Some(e), None, &Options::exclusive())
}

#[test]
fn our_encryptions_decrypt_in_libxmlsec1() {
    let original = exc_c14n_of(RESPONSE, ASSERTION_ID);
    for f in [rsa(), p256(), p384()] {
        let doc = parse(RESPONSE);
        let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
        let enc = encrypt_element(&doc, a, &f.cert, &EncryptOptions::default()).unwrap();
        let file = tmp("ours-enc.xml", &enc);
        let out = tmp("ours-enc-dec.xml", "");
        ok(
            oracle(&[
                "xmlsec-decrypt",
                "--key",
                &p(&f.files.key_pem),
                "--out",
                &p(&out),
                &p(&file),
            ]),
            &format!("libxmlsec1 decrypt {}", f.cert.public_key().describe()),
        );
        let back = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            exc_c14n_of(&back, ASSERTION_ID),
            original,
            "{}",
            f.cert.public_key().describe()
        );
    }
}

#[test]
fn libxmlsec1_encryptions_decrypt_in_ours() {
    let input = tmp("enc-in.xml", RESPONSE);
    let original = exc_c14n_of(RESPONSE, ASSERTION_ID);
    for (f, mode, data) in [
        (rsa(), "rsa-oaep-sha256", "aes256-gcm"),
        (rsa(), "rsa-oaep-sha256", "aes128-gcm"),
        (rsa(), "rsa-oaep-mgf1p", "aes256-gcm"),
        (p256(), "ecdh-es", "aes256-gcm"),
        (p384(), "ecdh-es", "aes128-gcm"),
    ] {
        let out = tmp("theirs-enc.xml", "");
        ok(
            oracle(&[
                "xmlsec-encrypt",
                "--cert",
                &p(&f.files.cert_pem),
                "--mode",
                mode,
                "--data",
                data,
                "--id",
                ASSERTION_ID,
                "--out",
                &p(&out),
                &p(&input),
            ]),
            mode,
        );
        let text = std::fs::read_to_string(&out).unwrap();
        let doc = parse(&text);
        let ed = doc
            .elements()
            .find(|e| e.is(ns::XENC, "EncryptedData"))
            .unwrap()
            .id();
        let (plain, _) = decrypt_element(&doc, ed, &[f.key()], &Limits::message())
            .unwrap_or_else(|e| panic!("{mode}/{data}: {e}"));
        let c = canonicalize(&plain, Some(plain.root()), None, &Options::exclusive());
        assert_eq!(c, original, "{mode}/{data}");
    }
}

#[test]
fn an_assertion_signed_then_encrypted_by_libxmlsec1_verifies_after_our_decryption() {
    for (f, alg, mode) in [
        (rsa(), PSS256, "rsa-oaep-sha256"),
        (p256(), ECDSA256, "ecdh-es"),
    ] {
        let input = tmp("se-in.xml", RESPONSE);
        let signed = tmp("se-signed.xml", "");
        ok(
            oracle(&[
                "xmlsec-sign",
                "--key",
                &p(&f.files.key_pem),
                "--cert",
                &p(&f.files.cert_pem),
                "--alg",
                alg,
                "--id",
                ASSERTION_ID,
                "--out",
                &p(&signed),
                &p(&input),
            ]),
            "sign",
        );
        let enc = tmp("se-enc.xml", "");
        ok(
            oracle(&[
                "xmlsec-encrypt",
                "--cert",
                &p(&f.files.cert_pem),
                "--mode",
                mode,
                "--id",
                ASSERTION_ID,
                "--out",
                &p(&enc),
                &p(&signed),
            ]),
            "encrypt",
        );
        let text = std::fs::read_to_string(&enc).unwrap();
        let doc = parse(&text);
        let ed = doc
            .elements()
            .find(|e| e.is(ns::XENC, "EncryptedData"))
            .unwrap()
            .id();
        // The plaintext lacks the namespace declarations it inherited; it is parsed in context.
        let (plain, _) =
            decrypt_element(&doc, ed, &[f.key()], &Limits::message()).expect("decrypt");
        verify_element(
            &plain,
            plain.root(),
            &[f.public()],
            &VerifyOptions::default(),
        )
        .expect("signature after decryption");
    }
}

/// Documents that trip C14N implementations up.
const TRICKY: &[&str] = &[
    // Namespaces declared high and used low; default namespace undeclared and redeclared; a
    // prefix rebound; unused declarations; comments, PIs, CDATA and character references.
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- leading -->\n<?lead pi?>\n<root xmlns=\"urn:default\" xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" xmlns:unused=\"urn:unused\" a:attr=\"1\" attr=\"2\">\n  <a:child b:x=\"&lt;&amp;&quot;&gt;\" y=\"tab&#9;nl&#10;cr&#13;sp\">text &amp; &lt; &gt; &#13; \u{fc}n\u{ef}c\u{f6}d\u{e9} &#x1F600;</a:child>\n  <plain xmlns=\"\">no namespace<inner xmlns=\"urn:other\" ID=\"_sub1\"><deep a:q=\"v\">x</deep><e xmlns=\"\"/><f xmlns=\"urn:other\"/></inner></plain>\n  <![CDATA[ cdata <with> & ]]> stuff ]]&gt;\n  <?pi data  with  spaces ?>\n  <!-- inner -->\n  <b:z xmlns:b=\"urn:b2\" ID=\"_sub2\"><b:y xmlns:a=\"urn:a\">rebound</b:y><a:w/></b:z>\n</root>\n<!-- trailing -->\n",
    // Attributes in several namespaces, where prefix order and URI order disagree.
    "<r xmlns:z=\"urn:a\" xmlns:y=\"urn:b\" xmlns:x=\"urn:c\" y:k=\"1\" z:k=\"2\" k=\"3\" z:a=\"4\" x:b=\"5\" ID=\"_r\"><s z:k=\"6\" k=\"7\" ID=\"_s\"/></r>",
    // Whitespace: CRLF line ends, tabs and newlines inside attribute values, space around text.
    "<r\r\n  a=\"one\r\ntwo\tthree\"\r\n  b='  spaced  '>\r\n\t<s ID=\"_ws\">  x  \r\n  y  </s>\r\n</r>\r\n",
    // xml:* attributes, which inclusive C14N inherits and exclusive does not.
    "<r xml:lang=\"nb\" xml:space=\"preserve\" xmlns:p=\"urn:p\"><p:s ID=\"_x\" xml:lang=\"nn\"><t/></p:s><u ID=\"_y\"><p:v/></u></r>",
];

#[test]
fn our_exclusive_and_inclusive_c14n_equal_libxml2_on_whole_documents() {
    for (i, doc) in TRICKY.iter().enumerate() {
        let input = tmp(&format!("tricky-{i}.xml"), doc);
        let input_s = p(&input);
        let cases: [(&[&str], &[&str]); 4] = [
            (&[], &["--exclusive"]),
            (&["--with-comments"], &["--exclusive", "--with-comments"]),
            (&["--inclusive"], &[]),
            (&["--inclusive", "--with-comments"], &["--with-comments"]),
        ];
        for (ours, theirs) in cases {
            let out = tmp("tricky-lxml.out", "");
            let out_s = p(&out);
            let mut their_args = vec!["c14n"];
            their_args.extend(theirs.iter());
            their_args.extend(["--out", &out_s, &input_s]);
            ok(oracle(&their_args), "lxml c14n");
            let lxml = std::fs::read(&out).unwrap();
            let mut our_args = vec!["xml", "c14n"];
            our_args.extend(ours.iter());
            our_args.push(&input_s);
            let mine = ok(eidas_node(&our_args), "our c14n");
            assert_eq!(
                String::from_utf8_lossy(&mine),
                String::from_utf8_lossy(&lxml),
                "document {i}, {ours:?}"
            );
        }
    }
}

#[test]
fn our_c14n_with_an_inclusive_prefix_list_equals_libxml2() {
    let input = tmp("tricky-prefixes.xml", TRICKY[0]);
    let out = tmp("tricky-prefixes.out", "");
    ok(
        oracle(&[
            "c14n",
            "--exclusive",
            "--prefixes",
            "b unused #default",
            "--out",
            &p(&out),
            &p(&input),
        ]),
        "lxml",
    );
    let mine = ok(
        eidas_node(&[
            "xml",
            "c14n",
            "--inclusive-prefixes",
            "b unused #default",
            &p(&input),
        ]),
        "ours",
    );
    assert_eq!(
        String::from_utf8_lossy(&mine),
        String::from_utf8_lossy(&std::fs::read(&out).unwrap())
    );
}

#[test]
fn our_subtree_c14n_equals_libxmlsec1s_through_its_signatures() {
    // lxml's own subtree C14N adds a spurious xmlns="" (see the vectors' README), so subtrees are
    // compared through signatures libxmlsec1 makes over them: the digest we compute must match.
    let f = p256();
    for (i, id) in [
        (0, "_sub1"),
        (0, "_sub2"),
        (1, "_s"),
        (2, "_ws"),
        (3, "_x"),
        (3, "_y"),
    ] {
        let input = tmp("sub-in.xml", TRICKY[i]);
        let out = tmp("sub-signed.xml", "");
        ok(
            oracle(&[
                "xmlsec-sign",
                "--key",
                &p(&f.files.key_pem),
                "--cert",
                &p(&f.files.cert_pem),
                "--alg",
                ECDSA256,
                "--id",
                id,
                "--out",
                &p(&out),
                &p(&input),
            ]),
            "xmlsec-sign",
        );
        let signed = std::fs::read_to_string(&out).unwrap();
        verify_ours(&signed, id, f, &VerifyOptions::default())
            .unwrap_or_else(|e| panic!("document {i} element {id}: {e}"));
        // And the reverse: our signature over the same subtree verifies in libxmlsec1.
        let ours = sign_ours(TRICKY[i], id, f, ECDSA256);
        let file = tmp("sub-ours.xml", &ours);
        ok(
            oracle(&[
                "xmlsec-verify",
                "--cert",
                &p(&f.files.cert_pem),
                "--id",
                id,
                &p(&file),
            ]),
            &format!("libxmlsec1 verify {id}"),
        );
    }
}

#[test]
fn brainpool_signatures_from_libxmlsec1_verify_in_ours() {
    // German nodes sign with Brainpool keys; we verify them (RustCrypto), never make them.
    let input = tmp("bp-in.xml", RESPONSE);
    for (curve, alg) in [
        ("brainpoolP256r1", ECDSA256),
        ("brainpoolP256r1", ECDSA512),
        ("brainpoolP384r1", ECDSA384),
    ] {
        let key = tmp(&format!("{curve}.key.pem"), "");
        let cert = tmp(&format!("{curve}.cert.pem"), "");
        ok(
            oracle(&[
                "genkey",
                "--curve",
                curve,
                "--out-key",
                &p(&key),
                "--out-cert",
                &p(&cert),
            ]),
            "genkey",
        );
        let out = tmp("bp-signed.xml", "");
        ok(
            oracle(&[
                "xmlsec-sign",
                "--key",
                &p(&key),
                "--cert",
                &p(&cert),
                "--alg",
                alg,
                "--id",
                ASSERTION_ID,
                "--out",
                &p(&out),
                &p(&input),
            ]),
            "xmlsec-sign brainpool",
        );
        let signed = std::fs::read_to_string(&out).unwrap();
        let trusted =
            eidas_node::crypto::Certificate::load(&std::fs::read(&cert).unwrap()).unwrap();
        let doc = parse(&signed);
        let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
        verify_element(
            &doc,
            a,
            &[trusted.public_key().clone()],
            &VerifyOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{curve} {alg}: {e}"));
        let tampered = parse(&signed.replace("Nordmann", "Nordmenn"));
        let a = tampered.elements_with_id(ASSERTION_ID).next().unwrap().id();
        assert_eq!(
            verify_element(
                &tampered,
                a,
                &[trusted.public_key().clone()],
                &VerifyOptions::default()
            )
            .err(),
            Some(DsigError::DigestMismatch)
        );
        // A Brainpool signature value checked with the wrong Brainpool key fails.
        let other = tmp("bp-other.cert.pem", "");
        let other_key = tmp("bp-other.key.pem", "");
        ok(
            oracle(&[
                "genkey",
                "--curve",
                curve,
                "--out-key",
                &p(&other_key),
                "--out-cert",
                &p(&other),
            ]),
            "genkey",
        );
        let wrong = eidas_node::crypto::Certificate::load(&std::fs::read(&other).unwrap()).unwrap();
        let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
        assert_eq!(
            verify_element(
                &doc,
                a,
                &[wrong.public_key().clone()],
                &VerifyOptions::default()
            )
            .err(),
            Some(DsigError::BadSignature)
        );
    }
}
