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

const ACS: &str = "https://connector.example.se/acs";
const SSO: &str = "https://eidas.example.no/ps/sso";

struct World {
    server: Server,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    peers: MetadataService,
    settings: PsSettings,
}

/// The foreign Connector: metadata signed with its metadata key (p256), announcing its request
/// signing key (rsa) and its ACS.
async fn world() -> World {
    let server = start_server().await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
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
    server.serve(md.to_signed_xml(clock.now(), &p256().signer()).unwrap());
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

fn request(w: &World, id: &str) -> AuthnRequest {
    AuthnRequest {
        id: Some(id.into()),
        version: Some("2.0".into()),
        issue_instant: Some(saml::format_instant(w.clock.now())),
        destination: Some(SSO.into()),
        force_authn: Some(true),
        is_passive: Some(false),
        issuer: Some(Issuer {
            value: w.server.url(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        extensions: Some(Extensions {
            sp_type: Some("public".into()),
            requested_attributes: Some(
                w.settings
                    .supported_attributes
                    .iter()
                    .map(|n| RequestedAttribute {
                        name: n.clone(),
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

fn post(r: &AuthnRequest, signer: Option<&SoftwareSigner>, relay: Option<&str>) -> Incoming {
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
