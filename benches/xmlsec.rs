//! Throughput of the XML security core on a realistic eIDAS Response (ten attributes, a signed
//! Assertion, ~8 KB), with RSA-3072 and P-256 keys: C14N, sign, verify, encrypt, decrypt — each
//! including the parse of its input, as a node must parse every message — and the raw aws-lc-rs
//! rate of the private- or public-key operation underneath each.
//!
//! The inputs are written to target/bench-xmlsec/ so that scripts/bench-xmlsec.sh can time
//! python-xmlsec (libxmlsec1 1.3) on the very same files.

use criterion::{Criterion, criterion_group, criterion_main};
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::crypto::{Certificate, PrivateKey, SoftwareSigner};
use eidas_node::xml::{self, Limits};
use eidas_node::xmlsec::c14n::{Options, canonicalize};
use eidas_node::xmlsec::dsig::{VerifyOptions, sign_element, verify_element};
use eidas_node::xmlsec::enc::{EncryptOptions, decrypt_element, encrypt_element};
use eidas_node::xmlsec::ns;
use std::hint::black_box;
use std::path::PathBuf;

const RESPONSE: &str = include_str!("../tests/data/eidas-response.xml");
const RESPONSE_ID: &str = "_response-7d6c1f0b2a9e4e31a8c5";
const ASSERTION_ID: &str = "_assertion-5b1e9c7d3f2a4b68c0d4";

struct Inputs {
    name: &'static str,
    key: PrivateKey,
    cert: Certificate,
    /// Response with a signed Assertion, Response itself unsigned (what `sign` signs).
    to_sign: String,
    /// The same with the Response signed too (what `verify` verifies).
    signed: String,
    /// The signed Response with its Assertion encrypted (what `decrypt` opens).
    encrypted: String,
}

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-xmlsec")
}

fn prepare(kind: KeyKind, name: &'static str) -> Inputs {
    let g = generate(kind, name, "NO", 1_700_000_000, 3650).expect("key");
    let signer = SoftwareSigner::new(
        PrivateKey::from_der(g.key.pkcs8_der()).unwrap(),
        None,
        Some(g.cert.clone()),
    )
    .unwrap();
    let sign = |text: &str, id: &str| {
        let doc = xml::parse(text.as_bytes(), &Limits::default()).unwrap();
        let e = doc.elements_with_id(id).next().unwrap().id();
        sign_element(&doc, e, &signer).unwrap()
    };
    let to_sign = sign(RESPONSE, ASSERTION_ID);
    let signed = sign(&to_sign, RESPONSE_ID);
    let doc = xml::parse(signed.as_bytes(), &Limits::default()).unwrap();
    let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
    let encrypted = encrypt_element(&doc, a, &g.cert, &EncryptOptions::default()).unwrap();
    let dir = out_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key.pem"), g.key.pkcs8_pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), g.cert.to_pem()).unwrap();
    std::fs::write(dir.join("to-sign.xml"), &to_sign).unwrap();
    std::fs::write(dir.join("signed.xml"), &signed).unwrap();
    std::fs::write(dir.join("encrypted.xml"), &encrypted).unwrap();
    Inputs {
        name,
        key: g.key,
        cert: g.cert,
        to_sign,
        signed,
        encrypted,
    }
}

fn bench(c: &mut Criterion) {
    let limits = Limits::message();
    let all = [
        prepare(KeyKind::Rsa3072, "rsa3072"),
        prepare(KeyKind::EcP256, "p256"),
    ];
    eprintln!(
        "signed Response: {} bytes; encrypted: {} bytes",
        all[0].signed.len(),
        all[0].encrypted.len()
    );

    c.bench_function("parse/response", |b| {
        b.iter(|| black_box(xml::parse(all[0].signed.as_bytes(), &limits).unwrap().len()))
    });
    let parsed = xml::parse(all[0].signed.as_bytes(), &limits).unwrap();
    c.bench_function("c14n/exc-c14n-only", |b| {
        b.iter(|| black_box(canonicalize(&parsed, None, None, &Options::exclusive())))
    });
    c.bench_function("c14n/exc-c14n-response", |b| {
        b.iter(|| {
            let doc = xml::parse(all[0].signed.as_bytes(), &limits).unwrap();
            black_box(canonicalize(&doc, None, None, &Options::exclusive()))
        })
    });

    for i in &all {
        let signer = SoftwareSigner::new(
            PrivateKey::from_der(i.key.pkcs8_der()).unwrap(),
            None,
            Some(i.cert.clone()),
        )
        .unwrap();
        let trusted = [i.cert.public_key().clone()];
        c.bench_function(&format!("sign/{}", i.name), |b| {
            b.iter(|| {
                let doc = xml::parse(i.to_sign.as_bytes(), &limits).unwrap();
                let e = doc.elements_with_id(RESPONSE_ID).next().unwrap().id();
                black_box(sign_element(&doc, e, &signer).unwrap())
            })
        });
        c.bench_function(&format!("verify/{}", i.name), |b| {
            b.iter(|| {
                let doc = xml::parse(i.signed.as_bytes(), &limits).unwrap();
                let e = doc.root();
                black_box(
                    verify_element(&doc, e, &trusted, &VerifyOptions::default())
                        .unwrap()
                        .key_index(),
                )
            })
        });
        c.bench_function(&format!("encrypt/{}", i.name), |b| {
            b.iter(|| {
                let doc = xml::parse(i.signed.as_bytes(), &limits).unwrap();
                let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
                black_box(encrypt_element(&doc, a, &i.cert, &EncryptOptions::default()).unwrap())
            })
        });
        let keys = [PrivateKey::from_der(i.key.pkcs8_der()).unwrap()];
        c.bench_function(&format!("decrypt/{}", i.name), |b| {
            b.iter(|| {
                let doc = xml::parse(i.encrypted.as_bytes(), &limits).unwrap();
                let ed = doc
                    .elements()
                    .find(|e| e.is(ns::XENC, "EncryptedData"))
                    .unwrap()
                    .id();
                black_box(decrypt_element(&doc, ed, &keys, &limits).unwrap().1)
            })
        });
    }
    raw(c, &all);
}

/// The private/public-key operation alone, through aws-lc-rs, on 32 bytes.
fn raw(c: &mut Criterion, all: &[Inputs]) {
    use aws_lc_rs::{agreement, rand, rsa, signature};
    let msg = [7u8; 32];
    let rng = rand::SystemRandom::new();
    let rsa_der = all[0].key.pkcs8_der().to_vec();
    let rsa_pair = signature::RsaKeyPair::from_pkcs8(&rsa_der).unwrap();
    let rsa_pub = all[0].cert.public_key().clone();
    let mut sig = vec![0u8; rsa_pair.public_modulus_len()];
    c.bench_function("raw/rsa3072-pss-sign", |b| {
        b.iter(|| {
            rsa_pair
                .sign(&signature::RSA_PSS_SHA256, &rng, &msg, &mut sig)
                .unwrap()
        })
    });
    rsa_pair
        .sign(&signature::RSA_PSS_SHA256, &rng, &msg, &mut sig)
        .unwrap();
    let pss = eidas_node::crypto::alg::SignatureAlgorithm::RsaPss(
        eidas_node::crypto::alg::DigestAlgorithm::Sha256,
    );
    c.bench_function("raw/rsa3072-pss-verify", |b| {
        b.iter(|| rsa_pub.verify(pss, &msg, &sig).unwrap())
    });
    let enc = rsa::OaepPublicEncryptingKey::new(
        rsa::PublicEncryptingKey::from_der(rsa_pub.spki_der()).unwrap(),
    )
    .unwrap();
    let mut ct = vec![0u8; enc.ciphertext_size()];
    c.bench_function("raw/rsa3072-oaep-encrypt", |b| {
        b.iter(|| {
            enc.encrypt(&rsa::OAEP_SHA256_MGF1SHA256, &msg, &mut ct, None)
                .unwrap()
                .len()
        })
    });
    let dec = rsa::OaepPrivateDecryptingKey::new(
        rsa::PrivateDecryptingKey::from_pkcs8(&rsa_der).unwrap(),
    )
    .unwrap();
    let mut pt = vec![0u8; dec.min_output_size()];
    c.bench_function("raw/rsa3072-oaep-decrypt", |b| {
        b.iter(|| {
            dec.decrypt(&rsa::OAEP_SHA256_MGF1SHA256, &ct, &mut pt, None)
                .unwrap()
                .len()
        })
    });

    let ec_der = all[1].key.pkcs8_der().to_vec();
    let ec_pair =
        signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &ec_der)
            .unwrap();
    c.bench_function("raw/p256-ecdsa-sign", |b| {
        b.iter(|| ec_pair.sign(&rng, &msg).unwrap())
    });
    let ec_sig = ec_pair.sign(&rng, &msg).unwrap();
    let ec_pub = all[1].cert.public_key().clone();
    let ecdsa = eidas_node::crypto::alg::SignatureAlgorithm::Ecdsa(
        eidas_node::crypto::alg::DigestAlgorithm::Sha256,
    );
    c.bench_function("raw/p256-ecdsa-verify", |b| {
        b.iter(|| ec_pub.verify(ecdsa, &msg, ec_sig.as_ref()).unwrap())
    });
    c.bench_function("raw/p256-ecdh-ephemeral", |b| {
        b.iter(|| eidas_node::crypto::ecdh_ephemeral(&ec_pub).unwrap())
    });
    let eph = agreement::PrivateKey::generate(&agreement::ECDH_P256).unwrap();
    let eph_pub = eidas_node::crypto::PublicKey::from_ec_point(
        eidas_node::crypto::Curve::P256,
        eph.compute_public_key().unwrap().as_ref(),
    )
    .unwrap();
    c.bench_function("raw/p256-ecdh-static", |b| {
        b.iter(|| all[1].key.ecdh(&eph_pub).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
