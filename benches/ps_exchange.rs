//! The whole Proxy-Service exchange, without the network and without ID-porten: verify a signed
//! AuthnRequest (parse, signature with the Connector's metadata key, every PS rule), then build,
//! sign, encrypt and sign the Response — with RSA-3072 keys on both sides, and with P-256.

use criterion::{Criterion, criterion_group, criterion_main};
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::crypto::{Certificate, PrivateKey, SoftwareSigner};
use eidas_node::eidas::loa::{Level, LevelOfAssurance};
use eidas_node::eidas::rules::{PsRequestContext, check_authn_request};
use eidas_node::light::{Attribute, Authenticated};
use eidas_node::metadata::check::{CheckOptions, check};
use eidas_node::metadata::fetch::PeerMetadata;
use eidas_node::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
use eidas_node::proxy_service::response::{Addressing, success};
use eidas_node::saml::authn_request::{Extensions, RequestedAttribute};
use eidas_node::saml::{self, AuthnRequest, Issuer, NameIdPolicy, RequestedAuthnContext, Trusted};
use eidas_node::xml::{self, Limits};
use eidas_node::xmlsec::dsig::{VerifyOptions, sign_element, verify_element};
use std::hint::black_box;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

const CN: &str = "https://connector.example.se/metadata";
const ACS: &str = "https://connector.example.se/acs";
const SSO: &str = "https://eidas.example.no/ps/sso";

fn key(kind: KeyKind, name: &str) -> (PrivateKey, Certificate) {
    let g = generate(kind, name, "NO", 1_700_000_000, 3650).unwrap();
    (g.key, g.cert)
}

fn signer(k: &(PrivateKey, Certificate)) -> SoftwareSigner {
    SoftwareSigner::new(
        PrivateKey::from_der(k.0.pkcs8_der()).unwrap(),
        None,
        Some(k.1.clone()),
    )
    .unwrap()
}

fn mds() -> Vec<String> {
    eidas_node::eidas::attributes::mds(eidas_node::eidas::attributes::PersonType::NaturalPerson)
        .map(|a| a.name.to_string())
        .collect()
}

struct Case {
    name: &'static str,
    request_xml: String,
    connector: PeerMetadata,
    connector_keys: Vec<eidas_node::crypto::PublicKey>,
    ps_signer: SoftwareSigner,
}

fn case(name: &'static str, kind: KeyKind) -> Case {
    let connector_key = key(kind, "connector");
    let ps_key = key(kind, "proxy-service");
    let now = OffsetDateTime::now_utc();
    let md = OurMetadata {
        role: Role::Connector,
        entity_id: CN.into(),
        node_country: "SE".into(),
        endpoint: ACS.into(),
        signing_certificates: vec![connector_key.1.clone()],
        encryption_certificates: vec![connector_key.1.clone()],
        loas: vec![],
        attributes: vec![],
        sp_type: None,
        requester_id_demanded: false,
        protocol_versions: vec!["1.4".into()],
        application_identifier: "bench".into(),
        organization: Organization {
            name: "x".into(),
            display_name: "x".into(),
            url: "https://x.example".into(),
        },
        contacts: vec![ContactPerson {
            contact_type: "support".into(),
            company: "x".into(),
            given_name: None,
            surname: None,
            email: "x@x.example".into(),
            phone: None,
        }],
        valid_for: Duration::hours(24),
    }
    .to_signed_xml(now, &signer(&connector_key))
    .unwrap();
    let report = check(
        md.as_bytes(),
        &CheckOptions {
            trust_anchors: vec![connector_key.1.clone()],
            at: Some(now),
            fetched_from: None,
        },
    );
    let entity = report.entities.into_iter().next().unwrap();
    let connector = PeerMetadata {
        entity,
        xml: Arc::from(md.as_str()),
        fetched_at: now,
        valid_until: now + Duration::hours(24),
        refresh_at: now + Duration::hours(1),
        stale: false,
        warnings: vec![],
    };
    let request = AuthnRequest {
        id: Some(saml::new_id()),
        version: Some("2.0".into()),
        issue_instant: Some(saml::format_instant(now)),
        destination: Some(SSO.into()),
        force_authn: Some(true),
        is_passive: Some(false),
        issuer: Some(Issuer {
            value: CN.into(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        extensions: Some(Extensions {
            sp_type: Some("public".into()),
            requested_attributes: Some(
                mds()
                    .into_iter()
                    .map(|name| RequestedAttribute {
                        name,
                        name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
                        friendly_name: None,
                        is_required: Some(true),
                        values: vec![],
                    })
                    .collect(),
            ),
        }),
        name_id_policy: Some(NameIdPolicy {
            format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
            allow_create: Some(true),
            sp_name_qualifier: None,
        }),
        requested_authn_context: Some(RequestedAuthnContext {
            comparison: Some("minimum".into()),
            class_refs: vec!["http://eidas.europa.eu/LoA/substantial".into()],
        }),
        ..AuthnRequest::default()
    };
    let doc = xml::parse(request.to_xml().as_bytes(), &Limits::default()).unwrap();
    let request_xml = sign_element(&doc, doc.root(), &signer(&connector_key)).unwrap();
    Case {
        name,
        request_xml,
        connector,
        connector_keys: vec![connector_key.1.public_key().clone()],
        ps_signer: signer(&ps_key),
    }
}

fn exchange(c: &Case, now: OffsetDateTime) -> String {
    let limits = Limits::message();
    let acs = vec![ACS.to_string()];
    let loas = vec!["http://eidas.europa.eu/LoA/high".to_string()];
    let attrs = mds();
    // Verify the request.
    let doc = xml::parse(c.request_xml.as_bytes(), &limits).unwrap();
    let v = verify_element(
        &doc,
        doc.root(),
        &c.connector_keys,
        &VerifyOptions::default(),
    )
    .unwrap();
    let request = AuthnRequest::parse(&Trusted::from_verified(&v)).unwrap();
    let ctx = PsRequestContext {
        now,
        skew: Duration::seconds(60),
        max_age: Duration::minutes(5),
        our_sso_url: SSO,
        connector_entity_id: CN,
        connector_acs_urls: &acs,
        connector_sp_type: None,
        published_loas: &loas,
        supported_attributes: &attrs,
        requester_id_demanded: false,
    };
    assert!(check_authn_request(&request, &ctx).is_empty());
    // Build, sign, encrypt and sign the Response.
    let who = Authenticated {
        person_identifier: "NO/SE/05068907693".into(),
        attributes: mds()
            .into_iter()
            .zip(["NO/SE/05068907693", "Nordmann", "Kari", "1989-06-05"])
            .map(|(name, v)| Attribute {
                name,
                values: vec![v.into()],
            })
            .collect(),
        loa: LevelOfAssurance::Notified(Level::High),
        authn_instant: now,
    };
    let addr = Addressing {
        our_entity_id: "https://eidas.example.no/ps/metadata",
        request: &request,
        connector: &c.connector,
        acs_url: ACS,
    };
    success(&addr, &who, &c.ps_signer, now).unwrap()
}

fn bench(cr: &mut Criterion) {
    for c in [
        case("rsa3072", KeyKind::Rsa3072),
        case("p256", KeyKind::EcP256),
    ] {
        let now = OffsetDateTime::now_utc();
        eprintln!(
            "{}: request {} bytes, response {} bytes",
            c.name,
            c.request_xml.len(),
            exchange(&c, now).len()
        );
        cr.bench_function(&format!("ps-exchange/{}", c.name), |b| {
            b.iter(|| black_box(exchange(&c, now)))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(4))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
