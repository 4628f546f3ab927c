//! The Proxy-Service's answer (eidas.md §1.4, §7 F): an assertion with a bearer confirmation,
//! audience, the LoA actually reached and only the requested attributes the node can supply;
//! signed, then encrypted to the Connector's encryption certificate from its verified metadata
//! (ECDH-ES for EC keys, RSA-OAEP for RSA keys, honouring its EncryptionMethod list); the Response
//! signed. Failures become signed error Responses with the right status.

use crate::crypto::alg::{ContentEncryption, DigestAlgorithm, KeyWrap};
use crate::crypto::{Certificate, KeyPolicy, PublicKey, Signer};
use crate::eidas::attributes;
use crate::eidas::nameid;
use crate::light::{self, Failure};
use crate::metadata::fetch::PeerMetadata;
use crate::saml::response::{
    AttributeValue, AuthnStatement, Conditions, NameId, SubjectConfirmation,
};
use crate::saml::{self, Assertion, Attribute, AuthnRequest, Issuer, Response, Status, status};
use crate::xml::{self, Limits};
use crate::xmlsec::dsig::{DsigError, sign_element};
use crate::xmlsec::enc::{EncError, EncryptOptions, KeyTransport, encrypted_data_for};
use time::{Duration, OffsetDateTime};

/// How long an assertion may be used (EC default 300 s).
pub const ASSERTION_LIFETIME: Duration = Duration::minutes(5);

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the Connector's metadata has no usable encryption certificate")]
    NoEncryptionCertificate,
    #[error("signing: {0}")]
    Signing(#[from] DsigError),
    #[error("encrypting: {0}")]
    Encryption(#[from] EncError),
}

/// What the Response is for.
pub struct Addressing<'a> {
    pub our_entity_id: &'a str,
    pub request: &'a AuthnRequest,
    pub connector: &'a PeerMetadata,
    pub acs_url: &'a str,
}

/// The Connector's encryption certificate and the algorithms to use with it.
pub fn encryption_choice(
    md: &PeerMetadata,
    now: OffsetDateTime,
) -> Option<(Certificate, EncryptOptions)> {
    let sp = md.entity.sp.as_ref()?;
    for kd in sp.key_descriptors.iter().filter(|k| k.for_encryption()) {
        for cert in kd.certificates.iter().filter_map(|c| c.as_ref().ok()) {
            if cert.check_validity(now.unix_timestamp()).is_err()
                || cert.public_key().check_policy(&KeyPolicy::EIDAS).is_err()
            {
                continue;
            }
            let offered = |uri: &str| {
                kd.encryption_methods.is_empty() || kd.encryption_methods.iter().any(|m| m == uri)
            };
            let content = [
                ContentEncryption::Aes256Gcm,
                ContentEncryption::Aes192Gcm,
                ContentEncryption::Aes128Gcm,
            ]
            .into_iter()
            .find(|c| offered(c.uri()))?;
            let transport = match cert.public_key() {
                PublicKey::Rsa { .. } => KeyTransport::RsaOaepSha256,
                PublicKey::Ec { curve, .. } => {
                    if matches!(
                        curve,
                        crate::crypto::Curve::BrainpoolP256r1
                            | crate::crypto::Curve::BrainpoolP384r1
                    ) {
                        continue;
                    }
                    let wrap = if offered(KeyWrap::Aes256.uri()) || !offered(KeyWrap::Aes128.uri())
                    {
                        KeyWrap::Aes256
                    } else {
                        KeyWrap::Aes128
                    };
                    KeyTransport::EcdhEs {
                        kdf: DigestAlgorithm::Sha256,
                        wrap,
                    }
                }
            };
            return Some((
                cert.clone(),
                EncryptOptions {
                    content,
                    transport: Some(transport),
                },
            ));
        }
    }
    None
}

/// Sign the document element of `xml_text` (enveloped).
pub fn sign_root(xml_text: &str, signer: &dyn Signer) -> Result<String, BuildError> {
    let doc = xml::parse(xml_text.as_bytes(), &Limits::message())
        .map_err(|e| DsigError::Malformed(e.to_string()))?;
    Ok(sign_element(&doc, doc.root(), signer)?)
}

/// A Response without its assertion, addressed to the request.
pub fn response_shell(a: &Addressing<'_>, now: OffsetDateTime, st: Status) -> Response {
    Response {
        id: Some(saml::new_id()),
        version: Some("2.0".into()),
        issue_instant: Some(saml::format_instant(now)),
        in_response_to: a.request.id.clone(),
        destination: Some(a.acs_url.to_string()),
        consent: None,
        issuer: Some(Issuer {
            value: a.our_entity_id.to_string(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        status: Some(st),
        assertions: vec![],
        encrypted_assertions: vec![],
    }
}

/// The assertion for an authenticated person.
pub fn assertion(a: &Addressing<'_>, who: &light::Authenticated, now: OffsetDateTime) -> Assertion {
    let requested_format = a
        .request
        .name_id_policy
        .as_ref()
        .and_then(|p| p.format.as_deref())
        .and_then(|f| nameid::NameIdFormat::parse(f).ok());
    let (format, value) = match requested_format {
        Some(nameid::NameIdFormat::Transient) => (nameid::TRANSIENT, saml::new_id()),
        Some(nameid::NameIdFormat::Unspecified) => {
            (nameid::UNSPECIFIED, who.person_identifier.clone())
        }
        _ => (nameid::PERSISTENT, who.person_identifier.clone()),
    };
    let until = saml::format_instant(now + ASSERTION_LIFETIME);
    let requested: Vec<&str> = a
        .request
        .extensions
        .iter()
        .flat_map(|x| x.requested_attributes.iter().flatten())
        .map(|r| r.name.as_str())
        .collect();
    let mut attributes_out = Vec::new();
    for at in who
        .attributes
        .iter()
        .filter(|at| requested.contains(&at.name.as_str()))
    {
        let Some(def) = attributes::by_name(&at.name) else {
            continue;
        };
        attributes_out.push(Attribute {
            name: def.name.to_string(),
            name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
            friendly_name: Some(def.friendly_name.to_string()),
            values: at
                .values
                .iter()
                .map(|v| AttributeValue {
                    value: v.clone(),
                    xsi_type: Some((
                        Some(def.type_namespace.to_string()),
                        def.xsi_type.to_string(),
                    )),
                    latin_script: None,
                })
                .collect(),
        });
    }
    Assertion {
        id: Some(saml::new_id()),
        version: Some("2.0".into()),
        issue_instant: Some(saml::format_instant(now)),
        issuer: Some(Issuer {
            value: a.our_entity_id.to_string(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        signed: false,
        name_id: Some(NameId {
            value,
            format: Some(format.to_string()),
            name_qualifier: None,
            sp_name_qualifier: None,
        }),
        has_subject: true,
        subject_confirmations: vec![SubjectConfirmation {
            method: Some(saml::CM_BEARER.into()),
            in_response_to: a.request.id.clone(),
            recipient: Some(a.acs_url.to_string()),
            not_on_or_after: Some(until.clone()),
            not_before: None,
            address: None,
            has_data: true,
        }],
        conditions: Some(Conditions {
            not_before: Some(saml::format_instant(now)),
            not_on_or_after: Some(until),
            audience_restrictions: vec![vec![a.connector.entity.entity_id.clone()]],
            one_time_use: false,
        }),
        conditions_count: 1,
        authn_statements: vec![AuthnStatement {
            authn_instant: Some(saml::format_instant(who.authn_instant)),
            class_refs: vec![who.loa.as_uri().to_string()],
        }],
        attribute_statements: vec![attributes_out],
        how: None,
    }
}

/// A success Response: assertion signed, then encrypted, Response signed.
pub fn success(
    a: &Addressing<'_>,
    who: &light::Authenticated,
    signer: &dyn Signer,
    now: OffsetDateTime,
) -> Result<String, BuildError> {
    success_with(a, &assertion(a, who, now), signer, now)
}

/// A success Response around this assertion (the demo's foreign Proxy-Service and the tests
/// build variations of [`assertion`] with it).
pub fn success_with(
    a: &Addressing<'_>,
    assertion: &Assertion,
    signer: &dyn Signer,
    now: OffsetDateTime,
) -> Result<String, BuildError> {
    let (cert, opts) =
        encryption_choice(a.connector, now).ok_or(BuildError::NoEncryptionCertificate)?;
    let signed_assertion = sign_root(&assertion.to_xml(), signer)?;
    let encrypted = encrypted_data_for(&signed_assertion, &cert, &opts)?;
    let shell = response_shell(
        a,
        now,
        Status {
            code: Some(status::SUCCESS.into()),
            sub_code: None,
            message: None,
        },
    );
    let xml_text = shell.to_xml(Some(&format!(
        "<saml2:EncryptedAssertion>{encrypted}</saml2:EncryptedAssertion>"
    )));
    sign_root(&xml_text, signer)
}

/// The SAML status for a failure.
pub fn failure_status(f: Failure) -> (&'static str, &'static str, &'static str) {
    match f {
        Failure::Cancelled => (
            status::RESPONDER,
            status::REQUEST_DENIED,
            "The person cancelled the login.",
        ),
        Failure::AuthnFailed => (
            status::RESPONDER,
            status::AUTHN_FAILED,
            "The authentication failed.",
        ),
        Failure::LoaNotMet => (
            status::RESPONDER,
            status::NO_AUTHN_CONTEXT,
            "The level of assurance asked for was not reached.",
        ),
        Failure::AttributeUnavailable => (
            status::RESPONDER,
            status::INVALID_ATTR_NAME_OR_VALUE,
            "A required attribute is not available.",
        ),
        Failure::Internal => (
            status::RESPONDER,
            status::AUTHN_FAILED,
            "The Proxy-Service could not complete the login.",
        ),
    }
}

/// A signed error Response addressed by plain facts (a refusal knows no more than these).
#[allow(clippy::too_many_arguments)]
pub fn error_to(
    our_entity_id: &str,
    in_response_to: Option<&str>,
    acs_url: &str,
    code: &str,
    sub_code: Option<&str>,
    message: &str,
    signer: &dyn Signer,
    now: OffsetDateTime,
) -> Result<String, BuildError> {
    let shell = Response {
        id: Some(saml::new_id()),
        version: Some("2.0".into()),
        issue_instant: Some(saml::format_instant(now)),
        in_response_to: in_response_to.map(str::to_string),
        destination: Some(acs_url.to_string()),
        consent: None,
        issuer: Some(Issuer {
            value: our_entity_id.to_string(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        status: Some(Status {
            code: Some(code.to_string()),
            sub_code: sub_code.map(str::to_string),
            message: Some(message.to_string()),
        }),
        assertions: vec![],
        encrypted_assertions: vec![],
    };
    sign_root(&shell.to_xml(None), signer)
}

/// A signed error Response with this status and no assertion. The message says what happened in
/// general terms only; details stay in our logs.
pub fn error(
    a: &Addressing<'_>,
    code: &str,
    sub_code: Option<&str>,
    message: &str,
    signer: &dyn Signer,
    now: OffsetDateTime,
) -> Result<String, BuildError> {
    let shell = response_shell(
        a,
        now,
        Status {
            code: Some(code.to_string()),
            sub_code: sub_code.map(str::to_string),
            message: Some(message.to_string()),
        },
    );
    sign_root(&shell.to_xml(None), signer)
}
