//! XML Encryption 1.1 for the eIDAS profile: encrypt an element for a recipient certificate, and
//! decrypt an `xenc:EncryptedData` with our own private keys.
//!
//! Content: AES-128/192/256-GCM only (CBC and 3DES refused: padding oracles). Key transport:
//! RSA-OAEP (`xmlenc11#rsa-oaep` with any digest/MGF1 pair, `rsa-oaep-mgf1p`), or key agreement
//! ECDH-ES + ConcatKDF + AES key wrap 128/256 with the originator's ephemeral key in the message.
//! rsa-1_5 is refused. With several own keys (rollover) each fitting key is tried rather than
//! trusting the recipient hint. Failures after the key step all read the same (no oracle).

use super::dsig::decode_b64;
use super::ns;
use crate::crypto::alg::{
    self, ContentEncryption, DigestAlgorithm, KeyWrap, Mgf1, OaepDigest, OaepParams,
};
use crate::crypto::{Certificate, CryptoError, Curve, PrivateKey, PublicKey, ecdh_ephemeral};
use crate::xml::{self, Document, ElementRef, Limits, NodeId, XmlError};
use aws_lc_rs::aead;
use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap as _};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
pub const TYPE_CONTENT: &str = "http://www.w3.org/2001/04/xmlenc#Content";
pub const TYPE_ENCRYPTED_KEY: &str = "http://www.w3.org/2001/04/xmlenc#EncryptedKey";

/// ConcatKDF parameters we write: AlgorithmID, PartyUInfo and PartyVInfo each one zero octet
/// (hex `00` padding-bits prefix, then `00`). The EC reference node writes exactly this, and
/// libxmlsec1 1.3 accepts it (it refuses all-empty values).
const KDF_PARAM: &str = "0000";

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EncError {
    #[error("not an xenc:EncryptedData element")]
    NotEncryptedData,
    #[error("malformed encrypted data: {0}")]
    Malformed(String),
    #[error("{0}")]
    Algorithm(CryptoError),
    #[error("no EncryptedKey for the content key")]
    NoEncryptedKey,
    #[error("the ECDH-ES originator key is not in the message")]
    OriginatorKeyMissing,
    #[error("direct key agreement without key wrap is not supported")]
    DirectKeyAgreement,
    #[error("CipherReference (external ciphertext) is not accepted")]
    CipherReference,
    #[error("none of our keys decrypts the content key")]
    NoKeyDecrypts,
    #[error("the content does not decrypt (authentication tag mismatch)")]
    ContentDecryption,
    #[error("bad base64 in {0}")]
    Base64(&'static str),
    #[error("decrypted content is not well-formed XML in its context: {0}")]
    Plaintext(XmlError),
    #[error("encryption failed: {0}")]
    Encryption(CryptoError),
}

/// How to transport the content key to a recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTransport {
    /// RSA-OAEP, `xmlenc11#rsa-oaep` with SHA-256 and MGF1-SHA-256.
    RsaOaepSha256,
    /// ECDH-ES with an ephemeral key, ConcatKDF with this digest, then AES key wrap.
    EcdhEs { kdf: DigestAlgorithm, wrap: KeyWrap },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptOptions {
    pub content: ContentEncryption,
    /// None: chosen from the recipient's key (RSA → OAEP, EC → ECDH-ES/kw-aes256).
    pub transport: Option<KeyTransport>,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            content: ContentEncryption::Aes256Gcm,
            transport: None,
        }
    }
}

/// Plaintext octets of an EncryptedData, and which of our keys opened it.
#[derive(Debug)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    pub data_type: Option<String>,
    pub key_index: usize,
}

fn xenc_child<'d>(e: ElementRef<'d>, local: &str) -> Option<ElementRef<'d>> {
    e.first_child_named(ns::XENC, local)
}

fn method_uri<'d>(e: ElementRef<'d>) -> Result<&'d str, EncError> {
    xenc_child(e, "EncryptionMethod")
        .and_then(|m| m.attr("Algorithm"))
        .ok_or_else(|| EncError::Malformed(format!("{} without EncryptionMethod", e.local())))
}

fn cipher_value(e: ElementRef<'_>) -> Result<Vec<u8>, EncError> {
    let cd = xenc_child(e, "CipherData")
        .ok_or_else(|| EncError::Malformed(format!("{} without CipherData", e.local())))?;
    if xenc_child(cd, "CipherReference").is_some() {
        return Err(EncError::CipherReference);
    }
    let cv = xenc_child(cd, "CipherValue")
        .ok_or_else(|| EncError::Malformed("CipherData without CipherValue".into()))?;
    decode_b64(&cv.text(), "CipherValue").map_err(|_| EncError::Base64("CipherValue"))
}

/// Decrypt the EncryptedData at `id` with our keys; returns the plaintext octets.
pub fn decrypt(doc: &Document, id: NodeId, keys: &[PrivateKey]) -> Result<Decrypted, EncError> {
    let ed = doc
        .element(id)
        .filter(|e| e.is(ns::XENC, "EncryptedData"))
        .ok_or(EncError::NotEncryptedData)?;
    let content = ContentEncryption::from_uri(method_uri(ed)?).map_err(EncError::Algorithm)?;
    let ciphertext = cipher_value(ed)?;
    let encrypted_keys = find_encrypted_keys(doc, ed)?;
    if encrypted_keys.is_empty() {
        return Err(EncError::NoEncryptedKey);
    }
    // Each EncryptedKey is checked against the allow-list before any key is tried; when none
    // opens, the refusal names a forbidden algorithm or a malformed structure if there was one.
    let mut last_err = EncError::NoKeyDecrypts;
    for ek in encrypted_keys {
        match unwrap_content_key(ek, content.key_len(), keys) {
            Ok((cek, key_index)) => {
                let plaintext = gcm_open(content, &cek, &ciphertext)?;
                return Ok(Decrypted {
                    plaintext,
                    data_type: ed.attr("Type").map(str::to_string),
                    key_index,
                });
            }
            Err(
                e @ (EncError::Algorithm(_)
                | EncError::OriginatorKeyMissing
                | EncError::Malformed(_)),
            ) => last_err = e,
            Err(_) => {}
        }
    }
    Err(last_err)
}

/// EncryptedKeys for an EncryptedData: inline in its KeyInfo, referenced by a same-document
/// RetrievalMethod, or siblings in the enclosing element (SAML's EncryptedAssertion).
fn find_encrypted_keys<'d>(
    doc: &'d Document,
    ed: ElementRef<'d>,
) -> Result<Vec<ElementRef<'d>>, EncError> {
    let mut out = Vec::new();
    if let Some(ki) = ed.first_child_named(ns::DSIG, "KeyInfo") {
        for c in ki.child_elements() {
            if c.is(ns::XENC, "EncryptedKey") {
                out.push(c);
            } else if c.is(ns::XENC, "AgreementMethod") {
                return Err(EncError::DirectKeyAgreement);
            } else if c.is(ns::DSIG, "RetrievalMethod") {
                let uri = c.attr("URI").unwrap_or_default();
                let target = uri
                    .strip_prefix('#')
                    .filter(|_| c.attr("Type").is_none_or(|t| t == TYPE_ENCRYPTED_KEY))
                    .ok_or_else(|| EncError::Malformed(format!("RetrievalMethod URI {uri:?}")))?;
                let mut found = doc.elements_with_id(target);
                match (found.next(), found.next()) {
                    (Some(k), None) if k.is(ns::XENC, "EncryptedKey") => out.push(k),
                    _ => {
                        return Err(EncError::Malformed(format!(
                            "RetrievalMethod target {uri:?}"
                        )));
                    }
                }
            }
        }
    }
    if out.is_empty()
        && let Some(parent) = ed.parent()
    {
        out.extend(parent.children_named(ns::XENC, "EncryptedKey"));
    }
    Ok(out)
}

fn oaep_params(method: ElementRef<'_>, xmlenc11: bool) -> Result<OaepParams, EncError> {
    let digest = match method.first_child_named(ns::DSIG, "DigestMethod") {
        Some(d) => OaepDigest::from_uri(d.attr("Algorithm").unwrap_or_default())
            .map_err(EncError::Algorithm)?,
        None => OaepDigest::Sha1,
    };
    let mgf = match method.first_child_named(ns::XENC11, "MGF") {
        Some(m) if xmlenc11 => {
            Mgf1::from_uri(m.attr("Algorithm").unwrap_or_default()).map_err(EncError::Algorithm)?
        }
        Some(_) => {
            return Err(EncError::Malformed(
                "MGF in rsa-oaep-mgf1p (MGF1 is SHA-1 there)".into(),
            ));
        }
        None => Mgf1::Sha1,
    };
    let label = match method.first_child_named(ns::XENC, "OAEPparams") {
        Some(p) => {
            Some(decode_b64(&p.text(), "OAEPparams").map_err(|_| EncError::Base64("OAEPparams"))?)
        }
        None => None,
    };
    Ok(OaepParams { digest, mgf, label })
}

fn unwrap_content_key(
    ek: ElementRef<'_>,
    cek_len: usize,
    keys: &[PrivateKey],
) -> Result<(Vec<u8>, usize), EncError> {
    let uri = method_uri(ek)?;
    let method = xenc_child(ek, "EncryptionMethod")
        .ok_or_else(|| EncError::Malformed("EncryptionMethod".into()))?;
    let wrapped = cipher_value(ek)?;
    match uri {
        alg::uri::RSA_OAEP | alg::uri::RSA_OAEP_MGF1P => {
            let params = oaep_params(method, uri == alg::uri::RSA_OAEP)?;
            for (i, k) in keys.iter().enumerate() {
                if let PrivateKey::Rsa { .. } = k
                    && let Ok(cek) = k.decrypt_oaep(&params, &wrapped)
                    && cek.len() == cek_len
                {
                    return Ok((cek, i));
                }
            }
            Err(EncError::NoKeyDecrypts)
        }
        _ => {
            let wrap = KeyWrap::from_uri(uri).map_err(EncError::Algorithm)?;
            let agreement = ek
                .first_child_named(ns::DSIG, "KeyInfo")
                .and_then(|ki| ki.first_child_named(ns::XENC, "AgreementMethod"))
                .ok_or_else(|| EncError::Malformed("key wrap without AgreementMethod".into()))?;
            let am = parse_agreement(agreement)?;
            if let PublicKey::Ec { curve, .. } = &am.originator
                && matches!(curve, Curve::BrainpoolP256r1 | Curve::BrainpoolP384r1)
            {
                return Err(EncError::Algorithm(CryptoError::UnsupportedKey(format!(
                    "ECDH-ES on {}: our own keys are on NIST curves, so we cannot be the recipient",
                    curve.name()
                ))));
            }
            for (i, k) in keys.iter().enumerate() {
                let PrivateKey::Ec { curve, .. } = k else {
                    continue;
                };
                let PublicKey::Ec { curve: oc, .. } = &am.originator else {
                    continue;
                };
                if curve != oc {
                    continue;
                }
                let Ok(z) = k.ecdh(&am.originator) else {
                    continue;
                };
                let Ok(kek) = concat_kdf(am.kdf, &z, &am.other_info, wrap.key_len()) else {
                    continue;
                };
                if let Ok(cek) = aes_unwrap(wrap, &kek, &wrapped)
                    && cek.len() == cek_len
                {
                    return Ok((cek, i));
                }
            }
            Err(EncError::NoKeyDecrypts)
        }
    }
}

struct Agreement {
    kdf: DigestAlgorithm,
    other_info: Vec<u8>,
    originator: PublicKey,
}

fn parse_agreement(am: ElementRef<'_>) -> Result<Agreement, EncError> {
    let a = am.attr("Algorithm").unwrap_or_default();
    if a != alg::uri::ECDH_ES {
        return Err(EncError::Algorithm(alg::refuse(a)));
    }
    let kdm = am
        .first_child_named(ns::XENC11, "KeyDerivationMethod")
        .ok_or_else(|| EncError::Malformed("AgreementMethod without KeyDerivationMethod".into()))?;
    let k = kdm.attr("Algorithm").unwrap_or_default();
    if k != alg::uri::CONCAT_KDF {
        return Err(EncError::Algorithm(alg::refuse(k)));
    }
    let params = kdm
        .first_child_named(ns::XENC11, "ConcatKDFParams")
        .ok_or_else(|| EncError::Malformed("ConcatKDF without ConcatKDFParams".into()))?;
    let kdf = DigestAlgorithm::from_uri(
        params
            .first_child_named(ns::DSIG, "DigestMethod")
            .and_then(|d| d.attr("Algorithm"))
            .unwrap_or_default(),
    )
    .map_err(EncError::Algorithm)?;
    let mut other_info = Vec::new();
    for name in [
        "AlgorithmID",
        "PartyUInfo",
        "PartyVInfo",
        "SuppPubInfo",
        "SuppPrivInfo",
    ] {
        other_info.extend(kdf_bitstring(params.attr(name).unwrap_or_default(), name)?);
    }
    let oki = am
        .first_child_named(ns::XENC, "OriginatorKeyInfo")
        .ok_or(EncError::OriginatorKeyMissing)?;
    Ok(Agreement {
        kdf,
        other_info,
        originator: originator_key(oki)?,
    })
}

/// A ConcatKDF parameter: hexBinary whose first octet counts padding bits (we take byte-aligned
/// values only); empty means absent.
fn kdf_bitstring(hex: &str, name: &str) -> Result<Vec<u8>, EncError> {
    let hex = hex.trim();
    if hex.is_empty() {
        return Ok(Vec::new());
    }
    let bytes = decode_hex(hex).ok_or_else(|| EncError::Malformed(format!("{name} is not hex")))?;
    match bytes.split_first() {
        Some((0, rest)) => Ok(rest.to_vec()),
        _ => Err(EncError::Malformed(format!("{name} is not byte-aligned"))),
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// The originator's public key: `ds:KeyValue/dsig11:ECKeyValue`, `dsig11:DEREncodedKeyValue` or
/// an X.509 certificate. A KeyName alone names a key we cannot know, so it is refused.
fn originator_key(oki: ElementRef<'_>) -> Result<PublicKey, EncError> {
    let bad = |what: &str| EncError::Malformed(format!("originator {what}"));
    for c in oki.child_elements() {
        if c.is(ns::DSIG, "KeyValue") {
            if let Some(ec) = c.first_child_named(ns::DSIG11, "ECKeyValue") {
                let curve_uri = ec
                    .first_child_named(ns::DSIG11, "NamedCurve")
                    .and_then(|n| n.attr("URI"))
                    .ok_or_else(|| bad("ECKeyValue without NamedCurve"))?;
                let curve = curve_uri
                    .strip_prefix("urn:oid:")
                    .and_then(Curve::from_oid)
                    .ok_or_else(|| {
                        EncError::Algorithm(CryptoError::UnsupportedKey(format!(
                            "curve {curve_uri}"
                        )))
                    })?;
                let point = ec
                    .first_child_named(ns::DSIG11, "PublicKey")
                    .map(|p| p.text())
                    .ok_or_else(|| bad("ECKeyValue without PublicKey"))?;
                let point =
                    decode_b64(&point, "PublicKey").map_err(|_| EncError::Base64("PublicKey"))?;
                return PublicKey::from_ec_point(curve, &point).map_err(EncError::Algorithm);
            }
        } else if c.is(ns::DSIG11, "DEREncodedKeyValue") {
            let der = decode_b64(&c.text(), "DEREncodedKeyValue")
                .map_err(|_| EncError::Base64("DEREncodedKeyValue"))?;
            return PublicKey::from_spki_der(&der).map_err(EncError::Algorithm);
        } else if c.is(ns::DSIG, "X509Data")
            && let Some(cert) = c.first_child_named(ns::DSIG, "X509Certificate")
        {
            let der = decode_b64(&cert.text(), "X509Certificate")
                .map_err(|_| EncError::Base64("X509Certificate"))?;
            return Certificate::from_der(&der)
                .map(|c| c.public_key().clone())
                .map_err(EncError::Algorithm);
        }
    }
    Err(EncError::OriginatorKeyMissing)
}

fn concat_kdf(
    d: DigestAlgorithm,
    z: &[u8],
    other_info: &[u8],
    len: usize,
) -> Result<Vec<u8>, EncError> {
    use aws_lc_rs::kdf::{SskdfDigestAlgorithmId, get_sskdf_digest_algorithm, sskdf_digest};
    let id = match d {
        DigestAlgorithm::Sha256 => SskdfDigestAlgorithmId::Sha256,
        DigestAlgorithm::Sha384 => SskdfDigestAlgorithmId::Sha384,
        DigestAlgorithm::Sha512 => SskdfDigestAlgorithmId::Sha512,
    };
    let alg =
        get_sskdf_digest_algorithm(id).ok_or(EncError::Algorithm(CryptoError::KeyAgreement))?;
    let mut out = vec![0u8; len];
    sskdf_digest(alg, z, other_info, &mut out)
        .map_err(|_| EncError::Algorithm(CryptoError::KeyAgreement))?;
    Ok(out)
}

fn aes_unwrap(w: KeyWrap, kek: &[u8], wrapped: &[u8]) -> Result<Vec<u8>, EncError> {
    let cipher = match w {
        KeyWrap::Aes128 => &AES_128,
        KeyWrap::Aes256 => &AES_256,
    };
    let kek = AesKek::new(cipher, kek).map_err(|_| EncError::NoKeyDecrypts)?;
    let mut out = vec![0u8; wrapped.len()];
    let n = kek
        .unwrap(wrapped, &mut out)
        .map_err(|_| EncError::NoKeyDecrypts)?
        .len();
    out.truncate(n);
    Ok(out)
}

fn aes_wrap(w: KeyWrap, kek: &[u8], key: &[u8]) -> Result<Vec<u8>, EncError> {
    let cipher = match w {
        KeyWrap::Aes128 => &AES_128,
        KeyWrap::Aes256 => &AES_256,
    };
    let kek =
        AesKek::new(cipher, kek).map_err(|_| EncError::Encryption(CryptoError::Encryption))?;
    let mut out = vec![0u8; key.len() + 16];
    let n = kek
        .wrap(key, &mut out)
        .map_err(|_| EncError::Encryption(CryptoError::Encryption))?
        .len();
    out.truncate(n);
    Ok(out)
}

fn gcm_alg(c: ContentEncryption) -> &'static aead::Algorithm {
    match c {
        ContentEncryption::Aes128Gcm => &aead::AES_128_GCM,
        ContentEncryption::Aes192Gcm => &aead::AES_192_GCM,
        ContentEncryption::Aes256Gcm => &aead::AES_256_GCM,
    }
}

/// CipherValue for GCM is IV (96 bits) ‖ ciphertext ‖ tag (128 bits).
fn gcm_open(c: ContentEncryption, key: &[u8], data: &[u8]) -> Result<Vec<u8>, EncError> {
    if data.len() < 12 + 16 {
        return Err(EncError::ContentDecryption);
    }
    let (iv, rest) = data.split_at(12);
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(gcm_alg(c), key).map_err(|_| EncError::ContentDecryption)?,
    );
    let nonce =
        aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| EncError::ContentDecryption)?;
    let mut buf = rest.to_vec();
    let n = key
        .open_in_place(nonce, aead::Aad::empty(), &mut buf)
        .map_err(|_| EncError::ContentDecryption)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

fn gcm_seal(c: ContentEncryption, key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, EncError> {
    let err = |_| EncError::Encryption(CryptoError::Encryption);
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(gcm_alg(c), key).map_err(err)?);
    let mut iv = [0u8; 12];
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| EncError::Encryption(CryptoError::Rng))?;
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(iv),
        aead::Aad::empty(),
        &mut buf,
    )
    .map_err(err)?;
    let mut out = Vec::with_capacity(12 + buf.len());
    out.extend_from_slice(&iv);
    out.extend(buf);
    Ok(out)
}

/// Decrypt the EncryptedData at `id` and parse the plaintext element in the namespace context
/// where the EncryptedData sits (encrypters such as libxmlsec1 leave out inherited declarations).
pub fn decrypt_element(
    doc: &Document,
    id: NodeId,
    keys: &[PrivateKey],
    limits: &Limits,
) -> Result<(Document, usize), EncError> {
    let d = decrypt(doc, id, keys)?;
    let context = doc.in_scope_namespaces(id);
    let parsed =
        xml::parse_in_context(&d.plaintext, &context, limits).map_err(EncError::Plaintext)?;
    Ok((parsed, d.key_index))
}

/// Decrypt the EncryptedData at `id` and return the whole document text with the plaintext in
/// its place (what `xmlsec1 --decrypt` prints); the result is re-parsed to make sure it is
/// well-formed.
pub fn decrypt_in_place(
    doc: &Document,
    id: NodeId,
    keys: &[PrivateKey],
    limits: &Limits,
) -> Result<String, EncError> {
    let d = decrypt(doc, id, keys)?;
    let plaintext =
        std::str::from_utf8(&d.plaintext).map_err(|_| EncError::Plaintext(XmlError::NotUtf8))?;
    let src = doc.source();
    let span = doc.span(id);
    let out = format!("{}{}{}", &src[..span.start], plaintext, &src[span.end..]);
    xml::parse(out.as_bytes(), limits).map_err(EncError::Plaintext)?;
    Ok(out)
}

/// The element's source text, made self-contained: namespace declarations it inherits are
/// written onto its start tag, so any decrypter can parse it on its own.
fn self_contained(doc: &Document, element: ElementRef<'_>) -> String {
    let src = doc.source();
    let span = element.span();
    let own: Vec<Option<&str>> = element.ns_decls().map(|(p, _)| p).collect();
    let mut inherited: Vec<xml::NsDecl> = Vec::new();
    if let Some(parent) = element.parent() {
        for d in doc.in_scope_namespaces(parent.id()).into_iter().rev() {
            if inherited.iter().any(|x| x.prefix == d.prefix) || own.contains(&d.prefix.as_deref())
            {
                continue;
            }
            inherited.push(d);
        }
    } else {
        inherited.extend(
            doc.context_namespaces()
                .iter()
                .filter(|d| !own.contains(&d.prefix.as_deref()))
                .cloned(),
        );
    }
    let name_end = span.start + 1 + element.qname().len();
    let mut out = String::with_capacity(span.len() + 256);
    out.push_str(&src[span.start..name_end]);
    for d in inherited.iter().filter(|d| !d.uri.is_empty()) {
        match &d.prefix {
            Some(p) => out.push_str(&format!(" xmlns:{p}=\"{}\"", xml::write::attr(&d.uri))),
            None => out.push_str(&format!(" xmlns=\"{}\"", xml::write::attr(&d.uri))),
        }
    }
    out.push_str(&src[name_end..span.end]);
    out
}

/// Encrypt `element` for the holder of `recipient`; returns the whole document text with the
/// element replaced by an `xenc:EncryptedData` (Type Element).
pub fn encrypt_element(
    doc: &Document,
    element: NodeId,
    recipient: &Certificate,
    opts: &EncryptOptions,
) -> Result<String, EncError> {
    let target = doc
        .element(element)
        .ok_or_else(|| EncError::Malformed("not an element".into()))?;
    let encrypted = encrypted_data_for(&self_contained(doc, target), recipient, opts)?;
    let src = doc.source();
    let span = target.span();
    Ok(format!(
        "{}{}{}",
        &src[..span.start],
        encrypted,
        &src[span.end..]
    ))
}

/// An `xenc:EncryptedData` (Type Element) holding `plaintext`, for the holder of `recipient`.
pub fn encrypted_data_for(
    plaintext: &str,
    recipient: &Certificate,
    opts: &EncryptOptions,
) -> Result<String, EncError> {
    let key = recipient.public_key();
    let transport = match (opts.transport, key) {
        (Some(t), _) => t,
        (None, PublicKey::Rsa { .. }) => KeyTransport::RsaOaepSha256,
        (None, PublicKey::Ec { .. }) => KeyTransport::EcdhEs {
            kdf: DigestAlgorithm::Sha256,
            wrap: KeyWrap::Aes256,
        },
    };
    let mut cek = vec![0u8; opts.content.key_len()];
    aws_lc_rs::rand::fill(&mut cek).map_err(|_| EncError::Encryption(CryptoError::Rng))?;
    let content = gcm_seal(opts.content, &cek, plaintext.as_bytes())?;
    let cert_b64 = STANDARD.encode(recipient.der());
    let encrypted_key = match (transport, key) {
        (KeyTransport::RsaOaepSha256, PublicKey::Rsa { spki, .. }) => {
            let wrapped =
                crate::crypto::oaep::encrypt_sha256(spki, &cek).map_err(EncError::Encryption)?;
            format!(
                "<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm=\"{oaep}\"><ds:DigestMethod Algorithm=\"{sha256}\"/><xenc11:MGF xmlns:xenc11=\"{xenc11}\" Algorithm=\"{mgf}\"/></xenc:EncryptionMethod><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>",
                oaep = alg::uri::RSA_OAEP,
                sha256 = alg::uri::SHA256,
                xenc11 = ns::XENC11,
                mgf = alg::uri::MGF1_SHA256,
                value = STANDARD.encode(wrapped),
            )
        }
        (KeyTransport::EcdhEs { kdf, wrap }, PublicKey::Ec { curve, .. }) => {
            let (eph_point, z) = ecdh_ephemeral(key).map_err(EncError::Encryption)?;
            let other_info = [KDF_PARAM, KDF_PARAM, KDF_PARAM]
                .iter()
                .map(|p| kdf_bitstring(p, "param"))
                .collect::<Result<Vec<_>, _>>()?
                .concat();
            let kek = concat_kdf(kdf, &z, &other_info, wrap.key_len())?;
            let wrapped = aes_wrap(wrap, &kek, &cek)?;
            format!(
                "<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm=\"{kw}\"/><ds:KeyInfo><xenc:AgreementMethod Algorithm=\"{ecdh}\"><xenc11:KeyDerivationMethod xmlns:xenc11=\"{xenc11}\" Algorithm=\"{ckdf}\"><xenc11:ConcatKDFParams AlgorithmID=\"{p}\" PartyUInfo=\"{p}\" PartyVInfo=\"{p}\"><ds:DigestMethod Algorithm=\"{kdf_uri}\"/></xenc11:ConcatKDFParams></xenc11:KeyDerivationMethod><xenc:OriginatorKeyInfo><ds:KeyValue><dsig11:ECKeyValue xmlns:dsig11=\"{dsig11}\"><dsig11:NamedCurve URI=\"urn:oid:{oid}\"/><dsig11:PublicKey>{eph}</dsig11:PublicKey></dsig11:ECKeyValue></ds:KeyValue></xenc:OriginatorKeyInfo><xenc:RecipientKeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></xenc:RecipientKeyInfo></xenc:AgreementMethod></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>",
                kw = wrap.uri(),
                ecdh = alg::uri::ECDH_ES,
                xenc11 = ns::XENC11,
                ckdf = alg::uri::CONCAT_KDF,
                p = KDF_PARAM,
                kdf_uri = kdf.uri(),
                dsig11 = ns::DSIG11,
                oid = curve.oid(),
                eph = STANDARD.encode(eph_point),
                value = STANDARD.encode(wrapped),
            )
        }
        _ => {
            return Err(EncError::Encryption(CryptoError::KeyAlgorithmMismatch {
                key: key.describe(),
                algorithm: format!("{transport:?}"),
            }));
        }
    };
    Ok(format!(
        "<xenc:EncryptedData xmlns:xenc=\"{xenc}\" Type=\"{ty}\"><xenc:EncryptionMethod Algorithm=\"{calg}\"/><ds:KeyInfo xmlns:ds=\"{dsig}\">{encrypted_key}</ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>",
        xenc = ns::XENC,
        ty = TYPE_ELEMENT,
        calg = opts.content.uri(),
        dsig = ns::DSIG,
        value = STANDARD.encode(content),
    ))
}
