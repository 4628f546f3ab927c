//! The auditor's checks on a peer's (or our own) metadata, eidas.md §7 A–C. Each finding has the
//! rule id of `conformance/rules.toml`, a severity and a message. An auditor's tool reads
//! documents it does not trust in order to report on them; nothing here hands the content to the
//! node's flows (they use `EntityDescriptor::parse` on a verified element).

use super::{EntityDescriptor, RoleDescriptor};
use crate::crypto::alg::{DigestAlgorithm, SignatureAlgorithm};
use crate::crypto::{Certificate, KeyPolicy, PublicKey};
use crate::saml::{binding_uri, parse_instant};
use crate::xml::{self, Document, Limits};
use crate::xmlsec::dsig::{self, DsigError, VerifyOptions};
use crate::xmlsec::ns as xns;
use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// A MUST of the specifications, or a security baseline.
    Must,
    /// A SHOULD, or what interoperability with the EC reference node expects.
    Should,
    /// Information for the auditor.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Must => "must",
            Severity::Should => "should",
            Severity::Info => "info",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Certificates trusted for the metadata signature. Empty: the signature is checked with the
    /// certificate the document carries, and that is reported as not trusted.
    pub trust_anchors: Vec<Certificate>,
    /// The instant to judge validity at.
    pub at: Option<OffsetDateTime>,
    /// The URL the document was fetched from (entityID must equal it).
    pub fetched_from: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub entities: Vec<EntityDescriptor>,
    pub findings: Vec<Finding>,
    /// Whether the document's signature verified with a trust anchor.
    pub trusted: bool,
}

impl Report {
    fn add(&mut self, id: &'static str, severity: Severity, message: impl Into<String>) {
        self.findings.push(Finding {
            id,
            severity,
            message: message.into(),
        });
    }

    /// Whether any MUST finding was raised.
    pub fn has_must(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Must)
    }
}

const NOTIFIED_LOAS: [&str; 3] = [
    "http://eidas.europa.eu/LoA/low",
    "http://eidas.europa.eu/LoA/substantial",
    "http://eidas.europa.eu/LoA/high",
];

/// Check a metadata document (an EntityDescriptor, or an EntitiesDescriptor aggregate).
pub fn check(bytes: &[u8], opts: &CheckOptions) -> Report {
    let mut r = Report::default();
    let doc = match xml::parse(bytes, &Limits::default()) {
        Ok(d) => d,
        Err(e) => {
            r.add("MD-XML", Severity::Must, format!("not acceptable XML: {e}"));
            return r;
        }
    };
    let at = opts.at.unwrap_or_else(OffsetDateTime::now_utc);
    let root = doc.root_element();
    check_signature(&doc, &mut r, opts, at);
    if root.is(super::ns::MD, "EntitiesDescriptor") {
        if let Some(vu) = root.attr("validUntil") {
            check_valid_until(&mut r, vu, at);
        }
        for e in root.children_named(super::ns::MD, "EntityDescriptor") {
            match EntityDescriptor::read(e) {
                Ok(d) => {
                    check_entity(&mut r, &d, opts, at, false);
                    r.entities.push(d);
                }
                Err(err) => r.add("MD-STRUCTURE", Severity::Must, err.to_string()),
            }
        }
    } else {
        match EntityDescriptor::read(root) {
            Ok(d) => {
                check_entity(&mut r, &d, opts, at, true);
                r.entities.push(d);
            }
            Err(err) => r.add("MD-STRUCTURE", Severity::Must, err.to_string()),
        }
    }
    r
}

fn embedded_certificate(doc: &Document) -> Option<Certificate> {
    let root = doc.root_element();
    let sig = root.first_child_named(xns::DSIG, "Signature")?;
    let text = sig
        .first_child_named(xns::DSIG, "KeyInfo")?
        .first_child_named(xns::DSIG, "X509Data")?
        .first_child_named(xns::DSIG, "X509Certificate")?
        .text();
    let der = dsig::decode_b64(&text, "X509Certificate").ok()?;
    Certificate::from_der(&der).ok()
}

fn check_signature(doc: &Document, r: &mut Report, opts: &CheckOptions, at: OffsetDateTime) {
    let root = doc.root();
    if doc
        .root_element()
        .first_child_named(xns::DSIG, "Signature")
        .is_none()
    {
        r.add("MD-SIGNED", Severity::Must, "the metadata is not signed");
        return;
    }
    let strict = VerifyOptions {
        allow_legacy_rsa: false,
        allow_whole_document: true,
    };
    let (keys, anchored): (Vec<PublicKey>, bool) = if opts.trust_anchors.is_empty() {
        match embedded_certificate(doc) {
            Some(c) => (vec![c.public_key().clone()], false),
            None => {
                r.add(
                    "MD-SIGNED",
                    Severity::Must,
                    "signed, but no trust anchor was given and the signature carries no certificate to check it with",
                );
                return;
            }
        }
    } else {
        (
            opts.trust_anchors
                .iter()
                .map(|c| c.public_key().clone())
                .collect(),
            true,
        )
    };
    for key in &keys {
        if let Err(e) = key.check_policy(&KeyPolicy::EIDAS) {
            r.add(
                "MD-SIG-KEY",
                Severity::Must,
                format!("metadata signing key: {e}"),
            );
        }
    }
    let outcome = dsig::verify_element(doc, root, &keys, &strict);
    let outcome = match outcome {
        Err(DsigError::Algorithm(e)) => {
            r.add(
                "MD-SIG-ALG",
                Severity::Must,
                format!("signature algorithm outside the eIDAS profile: {e}"),
            );
            let legacy = VerifyOptions {
                allow_legacy_rsa: true,
                ..strict
            };
            dsig::verify_element(doc, root, &keys, &legacy).map(|v| v.key_index())
        }
        other => other.map(|v| v.key_index()),
    };
    match outcome {
        Ok(i) => {
            if anchored {
                r.trusted = true;
                if let Some(c) = opts.trust_anchors.get(i)
                    && c.check_validity(at.unix_timestamp()).is_err()
                {
                    r.add("MD-SIG-ANCHOR-VALIDITY", Severity::Should, format!(
                        "the trust anchor that verified the signature ({}) is outside its validity period",
                        c.subject()
                    ));
                }
            } else {
                r.add(
                    "MD-SIG-TRUST",
                    Severity::Info,
                    "the signature is intact with the certificate it carries; no trust anchor was given, so the metadata is not trusted",
                );
            }
        }
        Err(DsigError::BadSignature)
            if keys
                .iter()
                .all(|k| matches!(k, PublicKey::Rsa { bits, .. } if *bits < 2048)) =>
        {
            r.add(
                "MD-SIGNED",
                Severity::Must,
                "the signature is not checked: RSA keys under 2048 bits are refused outright",
            )
        }
        Err(e) => r.add(
            "MD-SIGNED",
            Severity::Must,
            format!("the metadata signature does not verify: {e}"),
        ),
    }
}

fn check_valid_until(r: &mut Report, vu: &str, at: OffsetDateTime) {
    match parse_instant("validUntil", vu) {
        Ok(t) if t <= at => r.add(
            "MD-VALIDUNTIL",
            Severity::Must,
            format!("expired: validUntil {vu}"),
        ),
        Ok(t) if t - at > time::Duration::days(7) => r.add(
            "MD-VALIDUNTIL",
            Severity::Should,
            format!("validUntil {vu} is more than 7 days ahead (EC default: 24 h)"),
        ),
        Ok(_) => {}
        Err(e) => r.add("MD-VALIDUNTIL", Severity::Must, e.to_string()),
    }
}

fn check_entity(
    r: &mut Report,
    d: &EntityDescriptor,
    opts: &CheckOptions,
    at: OffsetDateTime,
    top: bool,
) {
    let who = if top {
        String::new()
    } else {
        format!("{}: ", d.entity_id)
    };
    if !d.entity_id.starts_with("https://") {
        r.add(
            "MD-ENTITYID",
            Severity::Must,
            format!("{who}entityID {:?} is not an HTTPS URL", d.entity_id),
        );
    }
    if let Some(url) = &opts.fetched_from
        && top
        && url != &d.entity_id
    {
        r.add(
            "MD-ENTITYID",
            Severity::Must,
            format!(
                "entityID {:?} differs from the URL it was fetched from ({url})",
                d.entity_id
            ),
        );
    }
    match &d.valid_until {
        Some(vu) => check_valid_until(r, vu, at),
        None if top => r.add("MD-VALIDUNTIL", Severity::Must, "no validUntil"),
        None => {}
    }
    if d.digest_methods.is_empty() {
        r.add(
            "MD-ALG-DIGEST",
            Severity::Should,
            format!("{who}no alg:DigestMethod announced"),
        );
    }
    for m in &d.digest_methods {
        if DigestAlgorithm::from_uri(m).is_err() {
            r.add(
                "MD-ALG-DIGEST",
                Severity::Must,
                format!("{who}announces digest {m}, outside the eIDAS profile"),
            );
        }
    }
    if d.signing_methods.is_empty() {
        r.add(
            "MD-ALG-SIGNING",
            Severity::Should,
            format!("{who}no alg:SigningMethod announced"),
        );
    }
    for m in &d.signing_methods {
        if SignatureAlgorithm::from_uri(m, false).is_err() {
            r.add(
                "MD-ALG-SIGNING",
                Severity::Must,
                format!("{who}announces signature algorithm {m}, outside the eIDAS profile"),
            );
        }
    }
    match d.entity_attribute(super::entity_attribute::PROTOCOL_VERSION) {
        None => r.add(
            "MD-PROTOCOL-VERSION",
            Severity::Should,
            format!("{who}no protocol-version entity attribute"),
        ),
        Some(v) if !v.iter().any(|x| x == "1.4") => r.add(
            "MD-PROTOCOL-VERSION",
            Severity::Should,
            format!("{who}protocol-version {v:?} does not include 1.4"),
        ),
        _ => {}
    }
    match d.entity_attribute(super::entity_attribute::APPLICATION_IDENTIFIER) {
        Some(v) if v.iter().any(|x| !x.is_empty()) => {}
        _ => r.add(
            "MD-APPLICATION-ID",
            Severity::Should,
            format!("{who}no application-identifier entity attribute"),
        ),
    }
    if top {
        if d.organization_name.is_none() {
            r.add("MD-ORGANIZATION", Severity::Should, "no md:Organization");
        }
        for t in ["support", "technical"] {
            if !d.contacts.iter().any(|c| c.contact_type == t) {
                r.add(
                    "MD-CONTACT",
                    Severity::Should,
                    format!("no {t} md:ContactPerson"),
                );
            }
        }
    }
    if d.idp_count == 0 && d.sp_count == 0 {
        r.add(
            "MD-ROLE",
            Severity::Must,
            format!("{who}neither IDPSSODescriptor nor SPSSODescriptor"),
        );
    }
    if d.idp_count > 1 || d.sp_count > 1 {
        r.add(
            "MD-ROLE",
            Severity::Must,
            format!("{who}more than one descriptor of a role"),
        );
    }
    if let Some(idp) = &d.idp {
        check_role_common(r, idp, &who, at);
        check_ps(r, d, idp, &who);
    }
    if let Some(sp) = &d.sp {
        check_role_common(r, sp, &who, at);
        check_connector(r, d, sp, &who);
    }
}

fn check_role_common(r: &mut Report, role: &RoleDescriptor, who: &str, at: OffsetDateTime) {
    if !role
        .protocol_support
        .split_whitespace()
        .any(|p| p == crate::saml::ns::PROTOCOL)
    {
        r.add(
            "MD-ROLE",
            Severity::Must,
            format!("{who}protocolSupportEnumeration lacks SAML 2.0"),
        );
    }
    match role.node_country.as_deref() {
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) => {}
        Some(c) => r.add(
            "MD-NODECOUNTRY",
            Severity::Must,
            format!("{who}NodeCountry {c:?} is not [A-Z][A-Z]"),
        ),
        None => r.add(
            "MD-NODECOUNTRY",
            Severity::Should,
            format!("{who}no eidas:NodeCountry"),
        ),
    }
    for kd in &role.key_descriptors {
        for c in &kd.certificates {
            match c {
                Err(e) => r.add(
                    "MD-CERT",
                    Severity::Must,
                    format!("{who}unreadable certificate: {e}"),
                ),
                Ok(c) => {
                    if c.check_validity(at.unix_timestamp()).is_err() {
                        r.add(
                            "MD-CERT-VALIDITY",
                            Severity::Must,
                            format!(
                                "{who}{} certificate {} is outside its validity period",
                                kd.usage.as_deref().unwrap_or("signing/encryption"),
                                c.subject()
                            ),
                        );
                    }
                    if let Err(e) = c.public_key().check_policy(&KeyPolicy::EIDAS) {
                        r.add(
                            "MD-CERT-KEY",
                            Severity::Must,
                            format!("{who}{}: {e}", c.subject()),
                        );
                    }
                }
            }
        }
    }
    let formats = ["persistent", "transient"];
    for f in formats {
        if !role
            .name_id_formats
            .iter()
            .any(|n| n.ends_with(&format!("nameid-format:{f}")))
        {
            r.add(
                "MD-NAMEID-FORMATS",
                Severity::Should,
                format!("{who}NameIDFormat {f} not listed"),
            );
        }
    }
    if !role
        .name_id_formats
        .iter()
        .any(|n| n == "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
    {
        r.add(
            "MD-NAMEID-FORMATS",
            Severity::Should,
            format!("{who}NameIDFormat unspecified not listed"),
        );
    }
}

fn check_ps(r: &mut Report, d: &EntityDescriptor, idp: &RoleDescriptor, who: &str) {
    if idp.requests_signed != Some(true) {
        r.add(
            "PS-MD-WANT-SIGNED",
            Severity::Must,
            format!("{who}WantAuthnRequestsSigned is not true"),
        );
    }
    for b in [binding_uri::HTTP_POST, binding_uri::HTTP_REDIRECT] {
        match idp.endpoints.iter().find(|e| e.binding == b) {
            None => r.add(
                "PS-MD-SSO",
                Severity::Must,
                format!("{who}no SingleSignOnService for {b}"),
            ),
            Some(e) if !e.location.starts_with("https://") => r.add(
                "PS-MD-SSO",
                Severity::Must,
                format!("{who}SingleSignOnService {} is not HTTPS", e.location),
            ),
            _ => {}
        }
    }
    let loas = d.published_loas();
    if loas.is_empty() {
        r.add(
            "PS-MD-LOA",
            Severity::Must,
            format!("{who}no assurance-certification (published LoAs)"),
        );
    }
    for l in &loas {
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("http://eidas.europa.eu/loa/") && !NOTIFIED_LOAS.contains(&l.as_str())
        {
            r.add(
                "PS-MD-LOA",
                Severity::Must,
                format!("{who}LoA {l:?} is not a valid eIDAS URI"),
            );
        }
    }
    let has = |name: &str| idp.attributes.iter().any(|a| a == name);
    if !crate::eidas::rules::covers_an_mds(has) {
        r.add(
            "PS-MD-MDS",
            Severity::Must,
            format!(
                "{who}the supported attributes do not include the minimum data set of a person type"
            ),
        );
    }
    let signing: Vec<&Certificate> = idp
        .key_descriptors
        .iter()
        .filter(|k| k.for_signing())
        .flat_map(|k| k.certificates.iter().filter_map(|c| c.as_ref().ok()))
        .collect();
    if signing.is_empty() {
        r.add(
            "PS-MD-SIGNING-KEY",
            Severity::Must,
            format!("{who}no signing certificate"),
        );
    }
    if let Some(country) = &idp.node_country {
        for c in signing {
            if c.subject_country().is_some_and(|cc| cc != country) {
                r.add(
                    "PS-MD-SIGNING-KEY",
                    Severity::Should,
                    format!(
                        "{who}signing certificate {} is for country {:?}, NodeCountry is {country}",
                        c.subject(),
                        c.subject_country().unwrap_or_default()
                    ),
                );
            }
        }
    }
}

fn check_connector(r: &mut Report, d: &EntityDescriptor, sp: &RoleDescriptor, who: &str) {
    if sp.requests_signed != Some(true) {
        r.add(
            "CN-MD-SIGNED-FLAGS",
            Severity::Must,
            format!("{who}AuthnRequestsSigned is not true"),
        );
    }
    if sp.want_assertions_signed != Some(true) {
        r.add(
            "CN-MD-SIGNED-FLAGS",
            Severity::Should,
            format!("{who}WantAssertionsSigned is not true"),
        );
    }
    match sp
        .endpoints
        .iter()
        .find(|e| e.binding == binding_uri::HTTP_POST)
    {
        None => r.add(
            "CN-MD-ACS",
            Severity::Must,
            format!("{who}no AssertionConsumerService with HTTP-POST"),
        ),
        Some(e) if !e.location.starts_with("https://") => r.add(
            "CN-MD-ACS",
            Severity::Must,
            format!("{who}AssertionConsumerService {} is not HTTPS", e.location),
        ),
        _ => {}
    }
    let enc: Vec<_> = sp
        .key_descriptors
        .iter()
        .filter(|k| k.for_encryption())
        .collect();
    if enc.is_empty() {
        r.add(
            "CN-MD-ENCRYPTION-KEY",
            Severity::Must,
            format!("{who}no encryption certificate"),
        );
    }
    for kd in enc {
        for m in &kd.encryption_methods {
            let allowed = crate::crypto::alg::ContentEncryption::from_uri(m).is_ok()
                || crate::crypto::alg::KeyWrap::from_uri(m).is_ok()
                || m == crate::crypto::alg::uri::RSA_OAEP
                || m == crate::crypto::alg::uri::ECDH_ES;
            if m == crate::crypto::alg::uri::RSA_OAEP_MGF1P {
                r.add(
                    "CN-MD-ENCRYPTION-METHODS",
                    Severity::Should,
                    format!("{who}announces rsa-oaep-mgf1p, removed by crypto requirements 1.4"),
                );
            } else if !allowed {
                r.add(
                    "CN-MD-ENCRYPTION-METHODS",
                    Severity::Must,
                    format!("{who}announces encryption method {m}, outside the eIDAS profile"),
                );
            }
        }
    }
    if let Some(t) = d.sp_type()
        && t != "public"
        && t != "private"
    {
        r.add(
            "CN-MD-SPTYPE",
            Severity::Must,
            format!("{who}SPType {t:?} is neither public nor private"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SoftwareSigner;
    use crate::crypto::generate::{KeyKind, generate};
    use crate::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};

    fn ours(role: Role) -> (OurMetadata, SoftwareSigner, Certificate) {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let sig = generate(
            KeyKind::EcP256,
            "eidas-node test signing",
            "NO",
            now - 60,
            30,
        )
        .unwrap();
        let enc = generate(
            KeyKind::Rsa3072,
            "eidas-node test encryption",
            "NO",
            now - 60,
            30,
        )
        .unwrap();
        let cert = sig.cert.clone();
        let md = OurMetadata {
            role,
            entity_id: "https://eidas.example.no/ps/metadata".into(),
            node_country: "NO".into(),
            endpoint: "https://eidas.example.no/ps/sso".into(),
            signing_certificates: vec![sig.cert.clone()],
            encryption_certificates: vec![enc.cert],
            loas: vec![
                "http://eidas.europa.eu/LoA/substantial".into(),
                "http://eidas.europa.eu/LoA/high".into(),
            ],
            attributes: crate::eidas::attributes::mds(
                crate::eidas::attributes::PersonType::NaturalPerson,
            )
            .map(|a| a.name.to_string())
            .collect(),
            sp_type: None,
            requester_id_demanded: false,
            protocol_versions: vec!["1.4".into(), "1.3".into(), "1.2".into()],
            application_identifier: "NO-eidas-node:0.1.0".into(),
            organization: Organization {
                name: "Digitaliseringsdirektoratet".into(),
                display_name: "Digdir".into(),
                url: "https://www.digdir.no".into(),
            },
            contacts: ["support", "technical"]
                .iter()
                .map(|t| ContactPerson {
                    contact_type: t.to_string(),
                    company: "Digdir".into(),
                    given_name: None,
                    surname: None,
                    email: "servicedesk@digdir.no".into(),
                    phone: None,
                })
                .collect(),
            valid_for: time::Duration::hours(24),
        };
        let signer = SoftwareSigner::new(sig.key, None, Some(sig.cert)).unwrap();
        (md, signer, cert)
    }

    fn opts(cert: &Certificate, entity_id: &str) -> CheckOptions {
        CheckOptions {
            trust_anchors: vec![cert.clone()],
            at: None,
            fetched_from: Some(entity_id.into()),
        }
    }

    fn ids(r: &Report) -> Vec<&'static str> {
        r.findings.iter().map(|f| f.id).collect()
    }

    #[test]
    fn our_metadata_for_both_roles_has_no_findings() {
        for role in [Role::ProxyService, Role::Connector] {
            let (mut md, signer, cert) = ours(role);
            if role == Role::Connector {
                md.entity_id = "https://eidas.example.no/connector/metadata".into();
                md.endpoint = "https://eidas.example.no/connector/acs".into();
            }
            let xml = md
                .to_signed_xml(OffsetDateTime::now_utc(), &signer)
                .unwrap();
            let r = check(xml.as_bytes(), &opts(&cert, &md.entity_id));
            assert!(r.findings.is_empty(), "{role:?}: {:?}", r.findings);
            assert!(r.trusted);
            let e = &r.entities[0];
            assert_eq!(e.entity_id, md.entity_id);
            match role {
                Role::ProxyService => assert_eq!(e.published_loas(), md.loas),
                Role::Connector => assert!(
                    e.sp.as_ref()
                        .unwrap()
                        .key_descriptors
                        .iter()
                        .any(|k| k.usage.as_deref() == Some("encryption"))
                ),
            }
        }
    }

    #[test]
    fn broken_copies_raise_the_right_findings() {
        let (md, signer, cert) = ours(Role::ProxyService);
        let good = md
            .to_signed_xml(OffsetDateTime::now_utc(), &signer)
            .unwrap();
        // Changed after signing.
        let tampered = good.replace(
            "Digdir</md:OrganizationDisplayName>",
            "Evil</md:OrganizationDisplayName>",
        );
        assert_eq!(
            ids(&check(tampered.as_bytes(), &opts(&cert, &md.entity_id))),
            ["MD-SIGNED"]
        );
        // Signed by someone else.
        let (_, other_signer, _) = ours(Role::ProxyService);
        let foreign = md
            .to_signed_xml(OffsetDateTime::now_utc(), &other_signer)
            .unwrap();
        let r = check(foreign.as_bytes(), &opts(&cert, &md.entity_id));
        assert_eq!(ids(&r), ["MD-SIGNED"]);
        assert!(!r.trusted);
        // Expired.
        let later = CheckOptions {
            at: Some(OffsetDateTime::now_utc() + time::Duration::days(2)),
            ..opts(&cert, &md.entity_id)
        };
        assert_eq!(ids(&check(good.as_bytes(), &later)), ["MD-VALIDUNTIL"]);
        // Fetched from another URL than its entityID.
        let elsewhere = CheckOptions {
            fetched_from: Some("https://other.example/md".into()),
            ..opts(&cert, &md.entity_id)
        };
        assert_eq!(ids(&check(good.as_bytes(), &elsewhere)), ["MD-ENTITYID"]);
        // Profile breaches in the content (signed as they are, so only the content is at fault).
        let mut weak = md.clone();
        weak.loas = vec!["http://eidas.europa.eu/LoA/NotNotified/high".into()];
        weak.attributes.truncate(2);
        weak.endpoint = "http://eidas.example.no/ps/sso".into();
        let xml = weak
            .to_signed_xml(OffsetDateTime::now_utc(), &signer)
            .unwrap();
        let mut got = ids(&check(xml.as_bytes(), &opts(&cert, &md.entity_id)));
        got.sort();
        got.dedup();
        assert_eq!(got, ["PS-MD-LOA", "PS-MD-MDS", "PS-MD-SSO"]);
        // Unsigned.
        let unsigned = md.to_xml("_x", OffsetDateTime::now_utc());
        assert_eq!(
            ids(&check(unsigned.as_bytes(), &opts(&cert, &md.entity_id))),
            ["MD-SIGNED"]
        );
    }
}

#[cfg(test)]
mod catalogue {
    #[test]
    fn every_finding_id_is_in_the_conformance_catalogue() {
        let catalogue = include_str!("../../conformance/rules.toml");
        let source = include_str!("check.rs");
        let mut found = 0;
        for piece in source.split('"') {
            let is_id = (piece.starts_with("MD-")
                || piece.starts_with("PS-MD-")
                || piece.starts_with("CN-MD-"))
                && piece.len() > 6
                && !piece.ends_with('-')
                && piece.bytes().all(|b| b.is_ascii_uppercase() || b == b'-');
            if is_id {
                found += 1;
                assert!(
                    catalogue.contains(&format!("id = \"{piece}\"")),
                    "{piece} is not in conformance/rules.toml"
                );
            }
        }
        assert!(found > 20);
    }
}
