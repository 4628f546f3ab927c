//! The Proxy-Service receiving AuthnRequests from a foreign Connector whose signed metadata a
//! real local HTTPS server publishes: what is accepted, and where each refusal goes — nowhere for
//! an unauthenticated requester, a SAML error to the metadata's ACS for an authenticated one.

use crate::common::{p256, p256_other, rsa};
use crate::metadata_fetch::{Server, start_server};
use eidas_node::clock::{Clock, ManualClock};
use eidas_node::crypto::SoftwareSigner;
use eidas_node::metadata::fetch::{FetchPolicy, MetadataService, Peer};
use eidas_node::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
use eidas_node::proxy_service::{Incoming, PsSettings, Refusal, receive};
use eidas_node::saml::authn_request::{Extensions, RequestedAttribute};
use eidas_node::saml::binding::redirect_url;
use eidas_node::saml::{self, AuthnRequest, Issuer, NameIdPolicy, RequestedAuthnContext, status};
use eidas_node::store::{MemoryStore, Store};
use eidas_node::xml::{self, Limits};
use eidas_node::xmlsec::dsig::sign_element;
use eidas_node::xmlsec::redirect::EcdsaEncoding;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const ACS: &str = "https://connector.example.se/acs";
pub const SSO: &str = "https://eidas.example.no/ps/sso";

struct World {
    server: Server,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    peers: MetadataService,
    settings: PsSettings,
}

/// The foreign Connector: metadata signed with its metadata key (p256), announcing its request
/// signing key (rsa) and its ACS, served over local HTTPS.
pub async fn connector_peer(now: OffsetDateTime) -> Server {
    let server = start_server().await;
    let md = OurMetadata {
        role: Role::Connector,
        entity_id: server.url(),
        node_country: "SE".into(),
        endpoint: ACS.into(),
        signing_certificates: vec![rsa().cert.clone()],
        encryption_certificates: vec![rsa().cert.clone()],
        loas: vec![],
        attributes: vec![],
        sp_type: None,
        requester_id_demanded: false,
        protocol_versions: vec!["1.4".into()],
        application_identifier: "se-connector".into(),
        organization: Organization {
            name: "SE".into(),
            display_name: "SE".into(),
            url: "https://se.example".into(),
        },
        contacts: vec![ContactPerson {
            contact_type: "support".into(),
            company: "SE".into(),
            given_name: None,
            surname: None,
            email: "x@se.example".into(),
            phone: None,
        }],
        valid_for: Duration::hours(24),
    };
    server.serve(md.to_signed_xml(now, &p256().signer()).unwrap());
    server
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let server = connector_peer(clock.now()).await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(clock.clone()));
    let peers = MetadataService::new(
        vec![Peer {
            url: server.url(),
            trust_anchors: vec![p256().cert.clone()],
        }],
        store.clone(),
        clock.clone(),
        FetchPolicy::default(),
        std::slice::from_ref(&server.tls_root),
    )
    .unwrap();
    let settings = PsSettings {
        our_sso_url: SSO.into(),
        published_loas: vec![
            "http://eidas.europa.eu/LoA/substantial".into(),
            "http://eidas.europa.eu/LoA/high".into(),
        ],
        supported_attributes: eidas_node::eidas::attributes::mds(
            eidas_node::eidas::attributes::PersonType::NaturalPerson,
        )
        .map(|a| a.name.to_string())
        .collect(),
        requester_id_demanded: false,
        skew: Duration::seconds(60),
        max_age: Duration::minutes(5),
    };
    World {
        server,
        clock,
        store,
        peers,
        settings,
    }
}

pub fn request_for(issuer: &str, now: OffsetDateTime, id: &str) -> AuthnRequest {
    AuthnRequest {
        id: Some(id.into()),
        version: Some("2.0".into()),
        issue_instant: Some(saml::format_instant(now)),
        destination: Some(SSO.into()),
        force_authn: Some(true),
        is_passive: Some(false),
        issuer: Some(Issuer {
            value: issuer.into(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        extensions: Some(Extensions {
            sp_type: Some("public".into()),
            requested_attributes: Some(
                eidas_node::eidas::attributes::mds(
                    eidas_node::eidas::attributes::PersonType::NaturalPerson,
                )
                .map(|a| RequestedAttribute {
                    name: a.name.to_string(),
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
    }
}

fn request(w: &World, id: &str) -> AuthnRequest {
    request_for(&w.server.url(), w.clock.now(), id)
}

pub fn post(r: &AuthnRequest, signer: Option<&SoftwareSigner>, relay: Option<&str>) -> Incoming {
    use base64::Engine;
    let xml = r.to_xml();
    let xml = match signer {
        Some(s) => {
            let doc = xml::parse(xml.as_bytes(), &Limits::default()).unwrap();
            sign_element(&doc, doc.root(), s).unwrap()
        }
        None => xml,
    };
    Incoming::Post {
        saml_request: base64::engine::general_purpose::STANDARD.encode(xml),
        relay_state: relay.map(str::to_string),
    }
}

async fn receive_in(
    w: &World,
    incoming: Incoming,
) -> Result<eidas_node::proxy_service::Accepted, Refusal> {
    receive(
        incoming,
        &w.peers,
        &[w.server.url()],
        w.store.as_ref(),
        w.clock.now(),
        &w.settings,
    )
    .await
}

#[tokio::test]
async fn accepts_signed_requests_by_post_and_redirect_and_answers_to_the_metadata_acs() {
    let w = world().await;
    let a = receive_in(
        &w,
        post(&request(&w, "_post-1"), Some(&rsa().signer()), Some("rs-1")),
    )
    .await
    .expect("POST accepted");
    assert_eq!(a.acs_url, ACS);
    assert_eq!(a.relay_state.as_deref(), Some("rs-1"));
    assert_eq!(a.binding, saml::binding_uri::HTTP_POST);
    let url = redirect_url(
        SSO,
        "SAMLRequest",
        &request(&w, "_redirect-1").to_xml(),
        Some("rs-2"),
        &rsa().signer(),
        EcdsaEncoding::Der,
    )
    .unwrap();
    let query = url.split_once('?').unwrap().1.to_string();
    let a = receive_in(&w, Incoming::Redirect { query })
        .await
        .expect("Redirect accepted");
    assert_eq!(a.relay_state.as_deref(), Some("rs-2"));
    assert_eq!(a.request.id.as_deref(), Some("_redirect-1"));
}

#[tokio::test]
async fn refuses_a_replayed_request_with_a_saml_error() {
    let w = world().await;
    let r = request(&w, "_once");
    receive_in(&w, post(&r, Some(&rsa().signer()), None))
        .await
        .expect("first");
    match receive_in(&w, post(&r, Some(&rsa().signer()), None)).await {
        Err(Refusal::Saml(s)) => {
            assert_eq!(s.rule, "REPLAY-AUTHN-REQUEST");
            assert_eq!(
                (s.status, s.sub_status),
                (status::REQUESTER, Some(status::REQUEST_DENIED))
            );
            assert_eq!(s.acs_url, ACS);
            assert_eq!(s.in_response_to.as_deref(), Some("_once"));
        }
        other => panic!("expected a SAML refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn refuses_unauthenticated_requests_locally_and_sends_nothing() {
    let w = world().await;
    let unsigned = receive_in(&w, post(&request(&w, "_u"), None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &unsigned,
            Refusal::Local {
                rule: "DSIG-SIGNED",
                ..
            }
        ),
        "{unsigned:?}"
    );
    // Signed by a key the Connector's metadata does not list: one re-fetch, then refused.
    let before = w.peers.fetch_count();
    let wrong = receive_in(
        &w,
        post(&request(&w, "_w"), Some(&p256_other().signer()), None),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &wrong,
            Refusal::Local {
                rule: "DSIG-KEY",
                ..
            }
        ),
        "{wrong:?}"
    );
    assert_eq!(
        w.peers.fetch_count(),
        before + 1,
        "one re-fetch for the unknown key"
    );
    // An issuer that is not a configured Connector.
    let mut stranger = request(&w, "_s");
    stranger.issuer.as_mut().unwrap().value = "https://stranger.example/metadata".into();
    let e = receive_in(&w, post(&stranger, Some(&rsa().signer()), None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Refusal::Local {
                rule: "PS-REQ-ISSUER",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_rule_breach_goes_back_as_a_saml_error_to_the_metadata_acs_never_the_requested_one() {
    let w = world().await;
    let mut r = request(&w, "_bad");
    r.force_authn = Some(false);
    r.assertion_consumer_service_url = Some("https://attacker.example/acs".into());
    match receive_in(&w, post(&r, Some(&rsa().signer()), Some("keep-me"))).await {
        Err(Refusal::Saml(s)) => {
            assert_eq!(
                s.rule, "PS-REQ-FORCEAUTHN",
                "the first broken rule is reported"
            );
            assert_eq!(s.acs_url, ACS);
            assert_eq!(s.relay_state.as_deref(), Some("keep-me"));
            assert_eq!(s.status, status::REQUESTER);
        }
        other => panic!("expected a SAML refusal, got {other:?}"),
    }
    let mut late = request(&w, "_late");
    late.issue_instant = Some(saml::format_instant(w.clock.now() - Duration::minutes(30)));
    let e = receive_in(&w, post(&late, Some(&rsa().signer()), None))
        .await
        .unwrap_err();
    assert_eq!(e.rule(), "PS-REQ-ISSUE-INSTANT");
}

#[tokio::test]
async fn refuses_oversized_bombs_and_long_relay_states_locally() {
    let w = world().await;
    let big = Incoming::Post {
        saml_request: "A".repeat(200 * 1024),
        relay_state: None,
    };
    assert_eq!(receive_in(&w, big).await.unwrap_err().rule(), "BIND-POST");
    let bomb = eidas_node::saml::binding::deflate_b64(&" ".repeat(10 * 1024 * 1024));
    let q = format!(
        "SAMLRequest={}&SigAlg=x&Signature=y",
        eidas_node::xmlsec::redirect::url_encode(&bomb)
    );
    assert_eq!(
        receive_in(&w, Incoming::Redirect { query: q })
            .await
            .unwrap_err()
            .rule(),
        "BIND-REDIRECT"
    );
    let long = post(
        &request(&w, "_rs"),
        Some(&rsa().signer()),
        Some(&"x".repeat(81)),
    );
    assert_eq!(
        receive_in(&w, long).await.unwrap_err().rule(),
        "BIND-RELAYSTATE"
    );
    let doctype = Incoming::Post {
        saml_request: {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .encode("<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>")
        },
        relay_state: None,
    };
    assert_eq!(
        receive_in(&w, doctype).await.unwrap_err().rule(),
        "XML-LIMITS"
    );
}

pub mod answer {
    use super::*;
    use eidas_node::eidas::loa::{Level, LevelOfAssurance, RequestedAuthnContext as Rac};
    use eidas_node::eidas::rules::{CnResponseContext, check_response};
    use eidas_node::light::{Attribute, Authenticated, Failure};
    use eidas_node::proxy_service::response::{
        Addressing, encryption_choice, error, failure_status, success,
    };
    use eidas_node::saml::{Assertion, Response, Trusted};
    use eidas_node::xmlsec::dsig::{VerifyOptions, verify_element};
    use eidas_node::xmlsec::enc::decrypt_element;

    const PS: &str = "https://eidas.example.no/ps/metadata";

    fn person(now: OffsetDateTime) -> Authenticated {
        let np = |n: &str| format!("http://eidas.europa.eu/attributes/naturalperson/{n}");
        Authenticated {
            person_identifier: "NO/SE/05068907693".into(),
            attributes: vec![
                Attribute {
                    name: np("PersonIdentifier"),
                    values: vec!["NO/SE/05068907693".into()],
                },
                Attribute {
                    name: np("CurrentFamilyName"),
                    values: vec!["Nordmann".into()],
                },
                Attribute {
                    name: np("CurrentGivenName"),
                    values: vec!["Kari Ågot".into()],
                },
                Attribute {
                    name: np("DateOfBirth"),
                    values: vec!["1989-06-05".into()],
                },
                Attribute {
                    name: np("PlaceOfBirth"),
                    values: vec!["Tromsø".into()],
                },
            ],
            loa: LevelOfAssurance::Notified(Level::High),
            authn_instant: now - Duration::seconds(5),
        }
    }

    /// What the receiving Connector does with our Response.
    pub fn as_the_connector_sees_it(
        xml_text: &str,
        now: OffsetDateTime,
        request_id: &str,
        connector_id: &str,
    ) -> (Response, Option<Assertion>, Vec<&'static str>) {
        let doc = xml::parse(xml_text.as_bytes(), &Limits::message()).unwrap();
        let v = verify_element(
            &doc,
            doc.root(),
            &[p256().public()],
            &VerifyOptions::default(),
        )
        .expect("Response signature");
        let t = Trusted::from_verified(&v);
        let resp = Response::parse(&t).unwrap();
        let mut assertion = None;
        if let Some(&ed) = resp.encrypted_assertions.first() {
            let (plain, _) = decrypt_element(&doc, ed, &[rsa().key()], &Limits::message())
                .expect("decrypts with the Connector's key");
            let av = verify_element(
                &plain,
                plain.root(),
                &[p256().public()],
                &VerifyOptions::default(),
            )
            .expect("assertion signature");
            assertion = Some(Assertion::parse(&Trusted::from_verified(&av)).unwrap());
        }
        let requested = Rac::minimum(Level::Substantial);
        // What our Proxy-Service's metadata publishes.
        let published = vec![
            "http://eidas.europa.eu/LoA/substantial".to_string(),
            "http://eidas.europa.eu/LoA/high".to_string(),
        ];
        let required: Vec<String> = eidas_node::eidas::attributes::mds(
            eidas_node::eidas::attributes::PersonType::NaturalPerson,
        )
        .map(|a| a.name.to_string())
        .collect();
        let ctx = CnResponseContext {
            now,
            skew: Duration::seconds(60),
            max_age: Duration::minutes(5),
            our_acs_url: ACS,
            our_entity_id: connector_id,
            proxy_service_entity_id: PS,
            proxy_service_node_country: Some("NO"),
            published_loas: &published,
            request_id,
            requested: &requested,
            citizen_country: "NO",
            our_country: "SE",
            required_attributes: &required,
            require_signed_assertion: true,
            request_issued: None,
        };
        let rules = check_response(&resp, assertion.as_ref(), &ctx)
            .into_iter()
            .map(|v| v.rule.id())
            .collect();
        (resp, assertion, rules)
    }

    #[tokio::test]
    async fn a_success_response_passes_every_connector_rule_and_carries_only_what_was_asked() {
        let w = world().await;
        let a = receive_in(&w, post(&request(&w, "_ok"), Some(&rsa().signer()), None))
            .await
            .unwrap();
        let now = w.clock.now();
        let addr = Addressing {
            our_entity_id: PS,
            request: &a.request,
            connector: &a.connector,
            acs_url: &a.acs_url,
        };
        let xml_text = success(&addr, &person(now), &p256().signer(), now).unwrap();
        assert!(!xml_text.contains("Nordmann"), "the assertion is encrypted");
        let (resp, assertion, rules) =
            as_the_connector_sees_it(&xml_text, now, "_ok", &w.server.url());
        assert_eq!(rules, Vec::<&str>::new());
        assert_eq!(resp.destination.as_deref(), Some(ACS));
        let a = assertion.unwrap();
        let names: Vec<&str> = a.attribute_statements[0]
            .iter()
            .map(|x| x.friendly_name.as_deref().unwrap())
            .collect();
        assert_eq!(
            names,
            ["PersonIdentifier", "FamilyName", "FirstName", "DateOfBirth"],
            "PlaceOfBirth was not asked for"
        );
        assert_eq!(a.name_id.as_ref().unwrap().value, "NO/SE/05068907693");
        assert_eq!(
            a.authn_statements[0].class_refs,
            ["http://eidas.europa.eu/LoA/high"]
        );
        // xsi:type from the registry.
        let t = a.attribute_statements[0][0].values[0]
            .xsi_type
            .clone()
            .unwrap();
        assert_eq!(
            t,
            (
                Some("http://eidas.europa.eu/attributes/naturalperson".into()),
                "PersonIdentifierType".into()
            )
        );
    }

    #[tokio::test]
    async fn transient_name_ids_differ_between_logins() {
        let w = world().await;
        let mut ids = Vec::new();
        for id in ["_t1", "_t2"] {
            let mut r = request(&w, id);
            r.name_id_policy.as_mut().unwrap().format =
                Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient".into());
            let a = receive_in(&w, post(&r, Some(&rsa().signer()), None))
                .await
                .unwrap();
            let now = w.clock.now();
            let addr = Addressing {
                our_entity_id: PS,
                request: &a.request,
                connector: &a.connector,
                acs_url: &a.acs_url,
            };
            let xml_text = success(&addr, &person(now), &p256().signer(), now).unwrap();
            let (_, assertion, rules) =
                as_the_connector_sees_it(&xml_text, now, id, &w.server.url());
            assert_eq!(rules, Vec::<&str>::new());
            let n = assertion.unwrap().name_id.unwrap();
            assert_eq!(
                n.format.as_deref(),
                Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient")
            );
            ids.push(n.value);
        }
        assert_ne!(ids[0], ids[1]);
        assert!(
            !ids[0].contains("05068907693"),
            "a transient NameID does not reveal the person"
        );
    }

    #[tokio::test]
    async fn error_responses_are_signed_carry_the_status_and_no_assertion() {
        let w = world().await;
        let a = receive_in(&w, post(&request(&w, "_err"), Some(&rsa().signer()), None))
            .await
            .unwrap();
        let now = w.clock.now();
        let addr = Addressing {
            our_entity_id: PS,
            request: &a.request,
            connector: &a.connector,
            acs_url: &a.acs_url,
        };
        for f in [
            Failure::Cancelled,
            Failure::AuthnFailed,
            Failure::LoaNotMet,
            Failure::AttributeUnavailable,
        ] {
            let (code, sub, message) = failure_status(f);
            let xml_text = error(&addr, code, Some(sub), message, &p256().signer(), now).unwrap();
            let (resp, assertion, rules) =
                as_the_connector_sees_it(&xml_text, now, "_err", &w.server.url());
            assert!(
                assertion.is_none()
                    && resp.encrypted_assertions.is_empty()
                    && resp.assertions.is_empty()
            );
            assert_eq!(rules, Vec::<&str>::new(), "{f:?}");
            let st = resp.status.unwrap();
            assert_eq!(
                (st.code.as_deref(), st.sub_code.as_deref()),
                (Some(code), Some(sub))
            );
        }
        assert_eq!(failure_status(Failure::Cancelled).1, status::REQUEST_DENIED);
    }

    #[tokio::test]
    async fn encryption_follows_the_connectors_encryption_methods() {
        let w = world().await;
        let md = w.peers.get(&w.server.url()).await.unwrap();
        let (cert, opts) = encryption_choice(&md, w.clock.now()).unwrap();
        assert_eq!(cert, rsa().cert);
        assert_eq!(
            opts.content,
            eidas_node::crypto::alg::ContentEncryption::Aes256Gcm
        );
        // A Connector that offers only AES-128-GCM and kw-aes128 on an EC key.
        let mut narrow = md.clone();
        let kd = &mut narrow.entity.sp.as_mut().unwrap().key_descriptors;
        kd.retain(|k| k.usage.as_deref() != Some("encryption"));
        kd.push(eidas_node::metadata::KeyDescriptor {
            usage: Some("encryption".into()),
            certificates: vec![Ok(p256_other().cert.clone())],
            encryption_methods: vec![
                "http://www.w3.org/2009/xmlenc11#aes128-gcm".into(),
                "http://www.w3.org/2009/xmlenc11#ECDH-ES".into(),
                "http://www.w3.org/2001/04/xmlenc#kw-aes128".into(),
            ],
        });
        let (cert, opts) = encryption_choice(&narrow, w.clock.now()).unwrap();
        assert_eq!(cert, p256_other().cert);
        assert_eq!(
            opts.content,
            eidas_node::crypto::alg::ContentEncryption::Aes128Gcm
        );
        assert!(matches!(
            opts.transport,
            Some(eidas_node::xmlsec::enc::KeyTransport::EcdhEs {
                wrap: eidas_node::crypto::alg::KeyWrap::Aes128,
                ..
            })
        ));
        // Only CBC offered: nothing we may use.
        let kd = &mut narrow.entity.sp.as_mut().unwrap().key_descriptors;
        kd.last_mut().unwrap().encryption_methods =
            vec!["http://www.w3.org/2001/04/xmlenc#aes256-cbc".into()];
        assert!(encryption_choice(&narrow, w.clock.now()).is_none());
    }
}
