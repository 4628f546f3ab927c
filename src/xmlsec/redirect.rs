//! The SAML HTTP-Redirect binding's detached signature: `SigAlg` and `Signature` over the exact
//! octets `SAMLRequest=…&RelayState=…&SigAlg=…` as they appear in the URL (SAML Bindings §3.4.4.1).
//! ECDSA values are accepted both as r‖s and as DER (OpenSAML sends DER); we send DER by default
//! because that is what OpenSAML-based nodes verify, r‖s when a peer is configured for it.

use super::dsig::DsigError;
use crate::crypto::alg::SignatureAlgorithm;
use crate::crypto::{PublicKey, Signer, der};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Percent-encode everything but RFC 3986's unreserved characters.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decode `application/x-www-form-urlencoded` text (`+` is a space).
pub fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcdsaEncoding {
    Der,
    Fixed,
}

/// Build a signed Redirect query string. `param` is `SAMLRequest` or `SAMLResponse`; `value` is
/// the base64 of the DEFLATEd message (not yet URL-encoded).
pub fn signed_query(
    param: &str,
    value: &str,
    relay_state: Option<&str>,
    signer: &dyn Signer,
    ecdsa: EcdsaEncoding,
) -> Result<String, DsigError> {
    let mut q = format!("{param}={}", url_encode(value));
    if let Some(rs) = relay_state {
        q.push_str("&RelayState=");
        q.push_str(&url_encode(rs));
    }
    q.push_str("&SigAlg=");
    q.push_str(&url_encode(signer.algorithm().uri()));
    let mut sig = signer.sign(q.as_bytes()).map_err(DsigError::Signing)?;
    if matches!(signer.algorithm(), SignatureAlgorithm::Ecdsa(_)) && ecdsa == EcdsaEncoding::Der {
        sig = der::ecdsa_fixed_to_der(&sig);
    }
    q.push_str("&Signature=");
    q.push_str(&url_encode(&STANDARD.encode(sig)));
    Ok(q)
}

/// What a verified Redirect query carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectVerified {
    /// `SAMLRequest` or `SAMLResponse`.
    pub param: String,
    /// The base64 DEFLATEd message, URL-decoded.
    pub value: String,
    pub relay_state: Option<String>,
    pub algorithm: SignatureAlgorithm,
    pub key_index: usize,
}

/// Verify a Redirect query string (everything after `?`) with the trusted keys.
pub fn verify_query(
    raw: &str,
    trusted: &[PublicKey],
    allow_legacy: bool,
) -> Result<RedirectVerified, DsigError> {
    let mut message: Option<(&str, &str)> = None;
    let mut relay: Option<&str> = None;
    let mut sig_alg: Option<&str> = None;
    let mut signature: Option<&str> = None;
    for part in raw.split('&') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let slot = match k {
            "SAMLRequest" | "SAMLResponse" => {
                if message.is_some() {
                    return Err(DsigError::Malformed(
                        "two SAML messages in the query".into(),
                    ));
                }
                message = Some((k, v));
                continue;
            }
            "RelayState" => &mut relay,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(v).is_some() {
            return Err(DsigError::Malformed(format!("{k} appears twice")));
        }
    }
    let (param, value) =
        message.ok_or_else(|| DsigError::Malformed("no SAMLRequest or SAMLResponse".into()))?;
    let sig_alg_raw = sig_alg.ok_or(DsigError::NoSignature)?;
    let signature = signature.ok_or(DsigError::NoSignature)?;
    let alg_uri =
        url_decode(sig_alg_raw).ok_or_else(|| DsigError::Malformed("SigAlg encoding".into()))?;
    let algorithm =
        SignatureAlgorithm::from_uri(&alg_uri, allow_legacy).map_err(DsigError::Algorithm)?;
    let sig_b64 = url_decode(signature).ok_or(DsigError::Base64("Signature"))?;
    let sig = super::dsig::decode_b64(&sig_b64, "Signature")?;

    // The signed octets are the parameters exactly as received, in this order.
    let mut signed = format!("{param}={value}");
    if let Some(r) = relay {
        signed.push_str("&RelayState=");
        signed.push_str(r);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(sig_alg_raw);

    let usable: Vec<(usize, &PublicKey)> = trusted
        .iter()
        .enumerate()
        .filter(|(_, k)| matches!(k, PublicKey::Rsa { .. }) == algorithm.is_rsa())
        .collect();
    if usable.is_empty() {
        return Err(DsigError::NoUsableKey(alg_uri));
    }
    let key_index = usable
        .iter()
        .find(|(_, k)| {
            k.verify_detached(algorithm, signed.as_bytes(), &sig)
                .is_ok()
        })
        .map(|(i, _)| *i)
        .ok_or(DsigError::BadSignature)?;
    Ok(RedirectVerified {
        param: param.to_string(),
        value: url_decode(value).ok_or_else(|| DsigError::Malformed("message encoding".into()))?,
        relay_state: match relay {
            Some(r) => Some(
                url_decode(r).ok_or_else(|| DsigError::Malformed("RelayState encoding".into()))?,
            ),
            None => None,
        },
        algorithm,
        key_index,
    })
}
