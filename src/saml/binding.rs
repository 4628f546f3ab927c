//! The SAML HTTP-POST and HTTP-Redirect bindings (SAML Bindings §3.5, §3.4): the auto-submitting
//! form, and DEFLATE + base64 + URL encoding with a hard limit on the inflated size (a deflate
//! bomb stops at the limit, it is never inflated in full).

use super::SamlError;
use crate::crypto::Signer;
use crate::xml::write::attr;
use crate::xmlsec::redirect::{self, EcdsaEncoding};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::io::Read;

/// RelayState is opaque and at most 80 bytes (SAML Bindings §3.4.3, §3.5.3).
pub const MAX_RELAY_STATE: usize = 80;

/// Default bound on a DEFLATEd message once inflated.
pub const DEFAULT_MAX_INFLATED: usize = 128 * 1024;

/// An HTML page that posts `param` (SAMLRequest or SAMLResponse) to `action`: it submits itself
/// where JavaScript runs, and shows a button where it does not. `nonce` is the CSP nonce for the
/// inline script.
pub fn post_form(
    action: &str,
    param: &str,
    message_xml: &str,
    relay_state: Option<&str>,
    nonce: &str,
) -> String {
    let value = STANDARD.encode(message_xml.as_bytes());
    let relay = relay_state
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                attr(r)
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Continue</title></head>\
<body><form id=\"saml\" method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"{param}\" value=\"{value}\">{relay}\
<noscript><p>Your browser does not run JavaScript. Press the button to continue.</p></noscript>\
<button type=\"submit\">Continue</button></form>\
<script nonce=\"{nonce}\">document.getElementById('saml').submit();</script></body></html>\n",
        action = attr(action),
        param = attr(param),
        nonce = attr(nonce),
    )
}

/// Decode an HTTP-POST binding value: base64 (whitespace tolerated) of the XML message.
pub fn decode_post(value: &str, max_bytes: usize) -> Result<Vec<u8>, SamlError> {
    let clean: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if clean.len() / 4 * 3 > max_bytes + 3 {
        return Err(SamlError::Binding(format!(
            "message over {max_bytes} bytes"
        )));
    }
    STANDARD
        .decode(clean.as_bytes())
        .map_err(|_| SamlError::Binding("not base64".into()))
}

/// DEFLATE (raw, RFC 1951) and base64 a message for the Redirect binding.
pub fn deflate_b64(message_xml: &str) -> String {
    use flate2::Compression;
    use flate2::write::DeflateEncoder;
    use std::io::Write;
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(message_xml.as_bytes());
    STANDARD.encode(e.finish().unwrap_or_default())
}

/// Reverse of [`deflate_b64`], refusing anything that inflates beyond `max_inflated` bytes.
pub fn inflate_b64(value: &str, max_inflated: usize) -> Result<Vec<u8>, SamlError> {
    let clean: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let raw = STANDARD
        .decode(clean.as_bytes())
        .map_err(|_| SamlError::Binding("not base64".into()))?;
    let mut out = Vec::new();
    let mut d = flate2::read::DeflateDecoder::new(&raw[..]).take(max_inflated as u64 + 1);
    d.read_to_end(&mut out)
        .map_err(|_| SamlError::Binding("not DEFLATE data".into()))?;
    if out.len() > max_inflated {
        return Err(SamlError::Binding(format!(
            "message inflates to more than {max_inflated} bytes"
        )));
    }
    Ok(out)
}

/// A signed Redirect-binding URL: `endpoint?SAMLRequest=…&RelayState=…&SigAlg=…&Signature=…`.
pub fn redirect_url(
    endpoint: &str,
    param: &str,
    message_xml: &str,
    relay_state: Option<&str>,
    signer: &dyn Signer,
    ecdsa: EcdsaEncoding,
) -> Result<String, SamlError> {
    if relay_state.is_some_and(|r| r.len() > MAX_RELAY_STATE) {
        return Err(SamlError::Binding("RelayState over 80 bytes".into()));
    }
    let q = redirect::signed_query(param, &deflate_b64(message_xml), relay_state, signer, ecdsa)
        .map_err(|e| SamlError::Binding(e.to_string()))?;
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{sep}{q}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_round_trips() {
        let xml = "<samlp:AuthnRequest ID=\"_1\"/>".repeat(20);
        assert_eq!(
            inflate_b64(&deflate_b64(&xml), 10_000).unwrap(),
            xml.as_bytes()
        );
    }

    #[test]
    fn a_deflate_bomb_stops_at_the_inflate_limit() {
        let bomb = " ".repeat(50 * 1024 * 1024);
        let small = deflate_b64(&bomb);
        assert!(
            small.len() < 200 * 1024,
            "50 MiB of spaces compresses to {} bytes",
            small.len()
        );
        let err = inflate_b64(&small, DEFAULT_MAX_INFLATED).unwrap_err();
        assert!(matches!(err, SamlError::Binding(m) if m.contains("inflates to more than")));
    }

    #[test]
    fn refuses_garbage_and_oversized_post_values() {
        assert!(inflate_b64("%%%", 100).is_err());
        assert!(inflate_b64(&STANDARD.encode(b"not deflate at all, just text"), 100).is_err());
        assert!(decode_post("@@@", 100).is_err());
        assert!(decode_post(&STANDARD.encode(vec![b'x'; 200]), 100).is_err());
        assert_eq!(
            decode_post(&STANDARD.encode(b"<x/>"), 100).unwrap(),
            b"<x/>"
        );
    }

    #[test]
    fn post_form_escapes_and_works_without_javascript() {
        let page = post_form(
            "https://cn.example/acs?a=1&b=\"2\"",
            "SAMLResponse",
            "<r/>",
            Some("rs<1>"),
            "n0nce",
        );
        assert!(page.contains("action=\"https://cn.example/acs?a=1&amp;b=&quot;2&quot;\""));
        assert!(page.contains("value=\"rs&lt;1>\""));
        assert!(page.contains("<button type=\"submit\">"));
        assert!(page.contains("<script nonce=\"n0nce\">"));
        assert!(page.contains(&STANDARD.encode(b"<r/>")));
    }
}
