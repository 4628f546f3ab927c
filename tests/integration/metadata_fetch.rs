//! Peers' metadata over real local HTTPS (axum-server on rustls, a certificate for localhost):
//! fetch, verify against the trust anchor, cache, refresh after a key rotation, serve the last
//! good copy while the peer is down (with back-off), expire, survive a restart through the store,
//! rate-limit re-fetches for unknown keys, and refuse what must be refused. Time is a ManualClock.

use crate::common::{p256, p256_other, rsa};
use eidas_node::clock::{Clock, ManualClock};
use eidas_node::crypto::{Certificate, SoftwareSigner};
use eidas_node::metadata::fetch::{FetchError, FetchPolicy, MetadataService, Peer};
use eidas_node::metadata::mdsl;
use eidas_node::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
use eidas_node::store::{MemoryStore, Store};
use eidas_node::xml::{self, Limits};
use eidas_node::xmlsec::dsig::sign_element;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

#[derive(Default)]
pub struct Served {
    body: Vec<u8>,
    status: u16,
    hits: usize,
}

pub struct Server {
    base: String,
    state: Arc<Mutex<Served>>,
    pub tls_root: Certificate,
}

impl Server {
    pub fn serve(&self, body: impl Into<Vec<u8>>) {
        let mut s = self.state.lock().unwrap();
        s.body = body.into();
        s.status = 200;
    }

    pub fn fail(&self, status: u16) {
        self.state.lock().unwrap().status = status;
    }

    pub fn url(&self) -> String {
        format!("{}/md", self.base)
    }
}

pub async fn start_server() -> Server {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let tls_root = Certificate::from_der(cert.der()).unwrap();
    let config = axum_server::tls_rustls::RustlsConfig::from_der(
        vec![cert.der().to_vec()],
        key.serialize_der(),
    )
    .await
    .unwrap();
    let state = Arc::new(Mutex::new(Served {
        status: 404,
        ..Served::default()
    }));
    let shared = state.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::get(move || {
            let shared = shared.clone();
            async move {
                let mut s = shared.lock().unwrap();
                s.hits += 1;
                (
                    axum::http::StatusCode::from_u16(s.status).unwrap(),
                    s.body.clone(),
                )
            }
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, config)
            .unwrap()
            .serve(app.into_make_service())
            .await
            .unwrap();
    });
    Server {
        base: format!("https://localhost:{port}"),
        state,
        tls_root,
    }
}

fn metadata(
    entity_id: &str,
    published_cert: &Certificate,
    signer: &SoftwareSigner,
    now: OffsetDateTime,
) -> String {
    OurMetadata {
        role: Role::Connector,
        entity_id: entity_id.into(),
        node_country: "SE".into(),
        endpoint: "https://cn.example.se/acs".into(),
        signing_certificates: vec![published_cert.clone()],
        encryption_certificates: vec![rsa().cert.clone()],
        loas: vec![],
        attributes: vec![],
        sp_type: None,
        requester_id_demanded: false,
        protocol_versions: vec!["1.4".into()],
        application_identifier: "test".into(),
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
    .to_signed_xml(now, signer)
    .unwrap()
}

struct Setup {
    server: Server,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    anchor: Certificate,
}

async fn setup() -> Setup {
    let server = start_server().await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(clock.clone()));
    Setup {
        server,
        clock,
        store,
        anchor: p256().cert.clone(),
    }
}

fn policy() -> FetchPolicy {
    FetchPolicy {
        min_refresh: Duration::minutes(1),
        max_refresh: Duration::minutes(10),
        backoff_start: Duration::minutes(2),
        backoff_max: Duration::minutes(30),
        max_bytes: 1024 * 1024,
        ..FetchPolicy::default()
    }
}

fn service(s: &Setup, anchors: Vec<Certificate>, policy: FetchPolicy) -> MetadataService {
    MetadataService::new(
        vec![Peer {
            url: s.server.url(),
            trust_anchors: anchors,
        }],
        s.store.clone(),
        s.clock.clone(),
        policy,
        std::slice::from_ref(&s.server.tls_root),
    )
    .unwrap()
}

fn signing_cert(md: &eidas_node::metadata::fetch::PeerMetadata) -> Certificate {
    md.entity.sp.as_ref().unwrap().key_descriptors[0].certificates[0]
        .clone()
        .unwrap()
}

#[tokio::test]
async fn fetches_caches_refreshes_after_rotation_serves_stale_and_expires() {
    let s = setup().await;
    let svc = service(&s, vec![s.anchor.clone()], policy());
    let url = s.server.url();
    // The peer publishes signing key X1, signed with its trusted metadata key.
    s.server
        .serve(metadata(&url, &rsa().cert, &p256().signer(), s.clock.now()));
    let md = svc.get(&url).await.expect("first fetch");
    assert_eq!(signing_cert(&md), rsa().cert);
    assert!(!md.stale);
    svc.get(&url).await.unwrap();
    assert_eq!(svc.fetch_count(), 1, "served from the cache while fresh");

    // Key rotation: after the refresh interval the new key is picked up.
    s.server.serve(metadata(
        &url,
        &p256_other().cert,
        &p256().signer(),
        s.clock.now(),
    ));
    s.clock.advance(Duration::minutes(11));
    let md = svc.get(&url).await.unwrap();
    assert_eq!(signing_cert(&md), p256_other().cert);
    assert_eq!(svc.fetch_count(), 2);

    // The peer goes down: the last good copy, marked stale, while it is valid.
    s.server.fail(503);
    s.clock.advance(Duration::minutes(11));
    let md = svc.get(&url).await.unwrap();
    assert!(md.stale);
    assert_eq!(signing_cert(&md), p256_other().cert);
    assert_eq!(svc.fetch_count(), 3);
    // Back-off: no new attempt right away.
    svc.get(&url).await.unwrap();
    assert_eq!(svc.fetch_count(), 3, "backing off after a failure");

    // Past validUntil there is nothing to serve.
    s.clock.advance(Duration::hours(25));
    assert!(matches!(
        svc.get(&url).await,
        Err(FetchError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn refuses_metadata_signed_by_an_untrusted_key() {
    let s = setup().await;
    let url = s.server.url();
    s.server.serve(metadata(
        &url,
        &rsa().cert,
        &p256_other().signer(),
        s.clock.now(),
    ));
    let svc = service(&s, vec![s.anchor.clone()], policy());
    let err = svc.refresh(&url).await.unwrap_err();
    assert!(
        matches!(&err, FetchError::Refused { findings, .. } if findings.iter().any(|f| f.id == "MD-SIGNED")),
        "{err}"
    );
    assert!(svc.get(&url).await.is_err(), "nothing usable");
}

#[tokio::test]
async fn refuses_expired_metadata_and_metadata_for_another_url() {
    let s = setup().await;
    let url = s.server.url();
    s.server.serve(metadata(
        &url,
        &rsa().cert,
        &p256().signer(),
        s.clock.now() - Duration::hours(25),
    ));
    let svc = service(&s, vec![s.anchor.clone()], policy());
    let err = svc.refresh(&url).await.unwrap_err();
    assert!(err.to_string().contains("MD-VALIDUNTIL"), "{err}");
    s.server.serve(metadata(
        "https://elsewhere.example/md",
        &rsa().cert,
        &p256().signer(),
        s.clock.now(),
    ));
    let err = svc.refresh(&url).await.unwrap_err();
    assert!(err.to_string().contains("MD-ENTITYID"), "{err}");
}

#[tokio::test]
async fn a_restart_starts_from_the_stored_copy_while_the_peer_is_down() {
    let s = setup().await;
    let url = s.server.url();
    s.server
        .serve(metadata(&url, &rsa().cert, &p256().signer(), s.clock.now()));
    service(&s, vec![s.anchor.clone()], policy())
        .get(&url)
        .await
        .unwrap();
    s.server.fail(500);
    let restarted = service(&s, vec![s.anchor.clone()], policy());
    let md = restarted.get(&url).await.expect("from the store");
    assert_eq!(signing_cert(&md), rsa().cert);
    assert_eq!(restarted.fetch_count(), 0);
}

#[tokio::test]
async fn unknown_key_refetches_are_rate_limited() {
    let s = setup().await;
    let url = s.server.url();
    s.server
        .serve(metadata(&url, &rsa().cert, &p256().signer(), s.clock.now()));
    let svc = service(&s, vec![s.anchor.clone()], policy());
    svc.get(&url).await.unwrap();
    svc.on_unknown_key(&url).await.unwrap();
    svc.on_unknown_key(&url).await.unwrap();
    assert_eq!(svc.fetch_count(), 2, "one extra fetch per interval");
    s.clock.advance(Duration::minutes(2));
    svc.on_unknown_key(&url).await.unwrap();
    assert_eq!(svc.fetch_count(), 3);
}

#[tokio::test]
async fn refuses_plain_http_and_oversized_metadata() {
    let s = setup().await;
    let http = s
        .server
        .url()
        .replace("https://localhost", "http://127.0.0.1");
    let svc = MetadataService::new(
        vec![Peer {
            url: http.clone(),
            trust_anchors: vec![s.anchor.clone()],
        }],
        s.store.clone(),
        s.clock.clone(),
        policy(),
        &[],
    )
    .unwrap();
    assert!(matches!(
        svc.refresh(&http).await,
        Err(FetchError::NotHttps(_))
    ));
    assert_eq!(svc.fetch_count(), 0);
    s.server.serve(vec![b' '; 2 * 1024 * 1024]);
    let svc = service(&s, vec![s.anchor.clone()], policy());
    assert!(matches!(
        svc.refresh(&s.server.url()).await,
        Err(FetchError::TooLarge { .. })
    ));
}

fn service_list(
    location: &str,
    cert: &Certificate,
    next_update: OffsetDateTime,
    signer: &SoftwareSigner,
) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let xml = format!(
        "<ser:MetadataServiceList xmlns:ser=\"http://eidas.europa.eu/metadata/servicelist\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ID=\"_mdsl\" Version=\"1.0\" IssueDate=\"{}\" NextUpdate=\"{}\"><ser:SchemeInformation><ser:IssuerName>Test</ser:IssuerName><ser:SchemeIdentifier>urn:test:mdsl</ser:SchemeIdentifier><ser:SchemeTerritory>SE</ser:SchemeTerritory></ser:SchemeInformation><ser:MetadataList Territory=\"SE\"><ser:MetadataLocation Location=\"{location}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo><ser:Endpoint EndpointType=\"http://eidas.europa.eu/metadata/ept/Connector\" EntityID=\"{location}\"/></ser:MetadataLocation></ser:MetadataList></ser:MetadataServiceList>",
        eidas_node::saml::format_instant(OffsetDateTime::now_utc()),
        eidas_node::saml::format_instant(next_update),
    );
    let doc = xml::parse(xml.as_bytes(), &Limits::default()).unwrap();
    sign_element(&doc, doc.root(), signer).unwrap()
}

#[tokio::test]
async fn a_verified_service_list_yields_peers_whose_metadata_then_verifies() {
    let s = setup().await;
    let url = s.server.url();
    let now = s.clock.now();
    // The list (signed with the federation's anchor, rsa) names the peer and its metadata key.
    let list = service_list(&url, &p256().cert, now + Duration::days(7), &rsa().signer());
    let parsed = mdsl::parse_verified(list.as_bytes(), &[rsa().cert.clone()], now).unwrap();
    assert_eq!(parsed.territory.as_deref(), Some("SE"));
    let peers = parsed.peers();
    assert_eq!(peers.len(), 1);
    s.server
        .serve(metadata(&url, &rsa().cert, &p256().signer(), now));
    let svc = MetadataService::new(
        peers,
        s.store.clone(),
        s.clock.clone(),
        policy(),
        std::slice::from_ref(&s.server.tls_root),
    )
    .unwrap();
    svc.get(&url)
        .await
        .expect("metadata verified with the certificate the list names");
    // A list signed by someone else, or past NextUpdate, is not used.
    let forged = service_list(
        &url,
        &p256_other().cert,
        now + Duration::days(7),
        &p256_other().signer(),
    );
    assert!(matches!(
        mdsl::parse_verified(forged.as_bytes(), &[rsa().cert.clone()], now),
        Err(mdsl::MdslError::Signature(_))
    ));
    let old = service_list(&url, &p256().cert, now - Duration::days(1), &rsa().signer());
    assert!(matches!(
        mdsl::parse_verified(old.as_bytes(), &[rsa().cert.clone()], now),
        Err(mdsl::MdslError::Expired(_))
    ));
}

#[tokio::test]
async fn the_background_refresher_refreshes_due_peers_and_backs_off_on_failure() {
    let s = setup().await;
    let url = s.server.url();
    s.server
        .serve(metadata(&url, &rsa().cert, &p256().signer(), s.clock.now()));
    let svc = Arc::new(service(&s, vec![s.anchor.clone()], policy()));
    assert_eq!(svc.refresh_due().await, (1, 0), "never fetched: due");
    assert_eq!(svc.refresh_due().await, (0, 0), "fresh: not due");
    s.clock.advance(Duration::minutes(11));
    s.server.fail(500);
    assert_eq!(svc.refresh_due().await, (0, 1), "due, peer down");
    assert_eq!(svc.refresh_due().await, (0, 0), "backing off");
    s.clock.advance(Duration::minutes(3));
    s.server.serve(metadata(
        &url,
        &p256_other().cert,
        &p256().signer(),
        s.clock.now(),
    ));
    // The spawned task does the same on its own.
    let task = svc
        .clone()
        .spawn_refresher(std::time::Duration::from_millis(20));
    for _ in 0..100 {
        if svc.fetch_count() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    task.abort();
    assert_eq!(
        signing_cert(&svc.get(&url).await.unwrap()),
        p256_other().cert
    );
}
