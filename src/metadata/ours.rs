//! Our own metadata, for both roles (eidas.md §4.2–4.3): entityID = its own URL, every eIDAS
//! extension, `validUntil`, several signing and encryption certificates at once for key
//! rollover, and an enveloped signature.

use super::{entity_attribute, ns};
use crate::crypto::alg::{self, ContentEncryption, DigestAlgorithm, KeyWrap, SignatureAlgorithm};
use crate::crypto::{Certificate, PublicKey, Signer};
use crate::saml::{ATTRNAME_FORMAT_URI, binding_uri, format_instant, new_id, ns as saml_ns};
use crate::xml::write::{attr, text};
use crate::xml::{self, Limits};
use crate::xmlsec::dsig::{DsigError, sign_element};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    ProxyService,
    Connector,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub name: String,
    pub display_name: String,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactPerson {
    /// `support` or `technical`.
    pub contact_type: String,
    pub company: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub email: String,
    pub phone: Option<String>,
}

/// What our metadata says. Built from the configuration.
#[derive(Clone, Debug)]
pub struct OurMetadata {
    pub role: Role,
    /// The URL the metadata is published at.
    pub entity_id: String,
    /// ISO 3166-1 alpha-2, `NO`.
    pub node_country: String,
    /// Proxy-Service: the SSO endpoint (POST and Redirect); Connector: the ACS (POST).
    pub endpoint: String,
    pub signing_certificates: Vec<Certificate>,
    /// Connector only: certificates Proxy-Services encrypt assertions to.
    pub encryption_certificates: Vec<Certificate>,
    /// Proxy-Service: LoAs it can deliver.
    pub loas: Vec<String>,
    /// Proxy-Service: attribute Name URIs it can supply.
    pub attributes: Vec<String>,
    /// Connector: SPType, only when every relying party behind it has the same type.
    pub sp_type: Option<String>,
    /// Proxy-Service: Connectors must send a RequesterID.
    pub requester_id_demanded: bool,
    pub protocol_versions: Vec<String>,
    pub application_identifier: String,
    pub organization: Organization,
    pub contacts: Vec<ContactPerson>,
    pub valid_for: time::Duration,
}

const NAMEID_FORMATS: [&str; 3] = [
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
];

fn key_info(c: &Certificate) -> String {
    format!(
        "<ds:KeyInfo xmlns:ds=\"{}\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
        crate::xmlsec::ns::DSIG,
        STANDARD.encode(c.der())
    )
}

fn entity_attr(o: &mut String, name: &str, values: &[String]) {
    o.push_str(&format!(
        "<saml2:Attribute Name=\"{}\" NameFormat=\"{}\">",
        attr(name),
        ATTRNAME_FORMAT_URI
    ));
    for v in values {
        o.push_str(&format!(
            "<saml2:AttributeValue xsi:type=\"xs:string\">{}</saml2:AttributeValue>",
            text(v)
        ));
    }
    o.push_str("</saml2:Attribute>");
}

impl OurMetadata {
    /// The unsigned EntityDescriptor with this `id`, valid from `now` for `valid_for`.
    pub fn to_xml(&self, id: &str, now: OffsetDateTime) -> String {
        let mut o = String::with_capacity(8192);
        o.push_str(&format!(
            "<md:EntityDescriptor xmlns:md=\"{md}\" xmlns:saml2=\"{a}\" xmlns:eidas=\"{e}\" xmlns:xs=\"{xs}\" xmlns:xsi=\"{xsi}\" ID=\"{id}\" entityID=\"{eid}\" validUntil=\"{vu}\">",
            md = ns::MD,
            a = saml_ns::ASSERTION,
            e = saml_ns::EIDAS,
            xs = saml_ns::XS,
            xsi = saml_ns::XSI,
            id = attr(id),
            eid = attr(&self.entity_id),
            vu = format_instant(now + self.valid_for),
        ));
        o.push_str("<md:Extensions>");
        o.push_str(&format!(
            "<mdattr:EntityAttributes xmlns:mdattr=\"{}\">",
            ns::MDATTR
        ));
        entity_attr(
            &mut o,
            entity_attribute::PROTOCOL_VERSION,
            &self.protocol_versions,
        );
        entity_attr(
            &mut o,
            entity_attribute::APPLICATION_IDENTIFIER,
            std::slice::from_ref(&self.application_identifier),
        );
        if self.role == Role::ProxyService {
            entity_attr(
                &mut o,
                entity_attribute::ASSURANCE_CERTIFICATION,
                &self.loas,
            );
            if self.requester_id_demanded {
                entity_attr(
                    &mut o,
                    entity_attribute::ENTITY_CATEGORY,
                    &[entity_attribute::REQUESTER_ID_DEMANDED.to_string()],
                );
            }
        }
        o.push_str("</mdattr:EntityAttributes>");
        if let (Role::Connector, Some(t)) = (self.role, &self.sp_type) {
            o.push_str(&format!("<eidas:SPType>{}</eidas:SPType>", text(t)));
        }
        for d in [
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ] {
            o.push_str(&format!(
                "<alg:DigestMethod xmlns:alg=\"{}\" Algorithm=\"{}\"/>",
                ns::ALG,
                d.uri()
            ));
        }
        for s in self.signing_algorithms() {
            o.push_str(&format!(
                "<alg:SigningMethod xmlns:alg=\"{}\" Algorithm=\"{}\"/>",
                ns::ALG,
                s.uri()
            ));
        }
        o.push_str("</md:Extensions>");

        let (descriptor, flags) = match self.role {
            Role::ProxyService => (
                "IDPSSODescriptor",
                " WantAuthnRequestsSigned=\"true\"".to_string(),
            ),
            Role::Connector => (
                "SPSSODescriptor",
                " AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\"".to_string(),
            ),
        };
        o.push_str(&format!(
            "<md:{descriptor}{flags} protocolSupportEnumeration=\"{}\">",
            saml_ns::PROTOCOL
        ));
        o.push_str(&format!(
            "<md:Extensions><eidas:NodeCountry>{}</eidas:NodeCountry></md:Extensions>",
            text(&self.node_country)
        ));
        for c in &self.signing_certificates {
            o.push_str(&format!(
                "<md:KeyDescriptor use=\"signing\">{}</md:KeyDescriptor>",
                key_info(c)
            ));
        }
        if self.role == Role::Connector {
            for c in &self.encryption_certificates {
                o.push_str(&format!(
                    "<md:KeyDescriptor use=\"encryption\">{}",
                    key_info(c)
                ));
                for m in encryption_methods(c.public_key()) {
                    o.push_str(&format!("<md:EncryptionMethod Algorithm=\"{m}\"/>"));
                }
                o.push_str("</md:KeyDescriptor>");
            }
        }
        for f in NAMEID_FORMATS {
            o.push_str(&format!("<md:NameIDFormat>{f}</md:NameIDFormat>"));
        }
        match self.role {
            Role::ProxyService => {
                for b in [binding_uri::HTTP_POST, binding_uri::HTTP_REDIRECT] {
                    o.push_str(&format!(
                        "<md:SingleSignOnService Binding=\"{b}\" Location=\"{}\"/>",
                        attr(&self.endpoint)
                    ));
                }
                for a in &self.attributes {
                    o.push_str(&format!(
                        "<saml2:Attribute Name=\"{}\" NameFormat=\"{}\"/>",
                        attr(a),
                        ATTRNAME_FORMAT_URI
                    ));
                }
            }
            Role::Connector => o.push_str(&format!(
                "<md:AssertionConsumerService Binding=\"{}\" Location=\"{}\" index=\"0\" isDefault=\"true\"/>",
                binding_uri::HTTP_POST,
                attr(&self.endpoint)
            )),
        }
        o.push_str(&format!("</md:{descriptor}>"));
        let org = &self.organization;
        o.push_str(&format!(
            "<md:Organization><md:OrganizationName xml:lang=\"en\">{}</md:OrganizationName><md:OrganizationDisplayName xml:lang=\"en\">{}</md:OrganizationDisplayName><md:OrganizationURL xml:lang=\"en\">{}</md:OrganizationURL></md:Organization>",
            text(&org.name),
            text(&org.display_name),
            text(&org.url)
        ));
        for c in &self.contacts {
            o.push_str(&format!(
                "<md:ContactPerson contactType=\"{}\"><md:Company>{}</md:Company>",
                attr(&c.contact_type),
                text(&c.company)
            ));
            if let Some(g) = &c.given_name {
                o.push_str(&format!("<md:GivenName>{}</md:GivenName>", text(g)));
            }
            if let Some(s) = &c.surname {
                o.push_str(&format!("<md:SurName>{}</md:SurName>", text(s)));
            }
            o.push_str(&format!(
                "<md:EmailAddress>{}</md:EmailAddress>",
                text(&c.email)
            ));
            if let Some(p) = &c.phone {
                o.push_str(&format!(
                    "<md:TelephoneNumber>{}</md:TelephoneNumber>",
                    text(p)
                ));
            }
            o.push_str("</md:ContactPerson>");
        }
        o.push_str("</md:EntityDescriptor>");
        o
    }

    /// The signature algorithms we announce: those our signing keys can make (we sign with the
    /// first), all of them eIDAS allow-listed.
    /// The signature algorithms we accept from peers (`alg:SigningMethod` says what a node
    /// supports, and peers choose from it): every eIDAS one, whatever our own key is — we verify
    /// ECDSA and RSA-PSS alike. Our own key's algorithms come first.
    fn signing_algorithms(&self) -> Vec<SignatureAlgorithm> {
        let rsa_first = self
            .signing_certificates
            .first()
            .is_some_and(|c| matches!(c.public_key(), PublicKey::Rsa { .. }));
        let digests = [
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ];
        let ec = digests.map(SignatureAlgorithm::Ecdsa);
        let pss = digests.map(SignatureAlgorithm::RsaPss);
        if rsa_first {
            pss.into_iter().chain(ec).collect()
        } else {
            ec.into_iter().chain(pss).collect()
        }
    }

    /// Signed metadata, valid from `now`.
    pub fn to_signed_xml(
        &self,
        now: OffsetDateTime,
        signer: &dyn Signer,
    ) -> Result<String, DsigError> {
        let id = new_id();
        let unsigned = self.to_xml(&id, now);
        let doc = xml::parse(unsigned.as_bytes(), &Limits::default())
            .map_err(|e| DsigError::Malformed(e.to_string()))?;
        let root = doc.root();
        sign_element(&doc, root, signer)
    }
}

/// What we accept for a certificate: AES-GCM content, and the key transport that fits its key.
pub fn encryption_methods(key: &PublicKey) -> Vec<&'static str> {
    let mut v = vec![
        ContentEncryption::Aes256Gcm.uri(),
        ContentEncryption::Aes192Gcm.uri(),
        ContentEncryption::Aes128Gcm.uri(),
    ];
    match key {
        PublicKey::Rsa { .. } => v.push(alg::uri::RSA_OAEP),
        PublicKey::Ec { .. } => {
            v.push(alg::uri::ECDH_ES);
            v.push(KeyWrap::Aes256.uri());
            v.push(KeyWrap::Aes128.uri());
        }
    }
    v
}
