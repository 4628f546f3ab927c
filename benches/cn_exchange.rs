//! The Connector's share of an exchange, through the real code path but without a browser:
//! `connector::start` (build, sign and store the AuthnRequest) and `Receiver::receive` (look up
//! the pending request, verify the Response with the Proxy-Service's verified metadata — served
//! over loopback HTTP once and then cached — decrypt the assertion, verify its signature, every
//! Connector rule, the assertion-ID replay insert), and the claims. The foreign Proxy-Service's
//! work (the demo's, with the same layers) is done outside the timed part. With RSA-3072 keys on
//! both sides, and with P-256.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use eidas_node::clock::{Clock, SystemClock};
use eidas_node::connector::{self, CnSettings, CountryEntry, Outgoing, Receiver};
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::crypto::{Certificate, PrivateKey, Signer, SoftwareSigner};
use eidas_node::demo_proxy_service::{DemoProxyService, demo_persons};
use eidas_node::eidas::loa::Level;
use eidas_node::metadata::fetch::{FetchPolicy, MetadataService, Peer};
use eidas_node::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
use eidas_node::store::{MemoryStore, Store};
use std::hint::black_box;
use std::sync::Arc;

const CN: &str = "https://eidas.example.no/connector/metadata";
const ACS: &str = "https://eidas.example.no/connector/acs";

fn key(kind: KeyKind, name: &str) -> (PrivateKey, Certificate) {
    let g = generate(kind, name, "NO", 1_700_000_000, 3650).unwrap();
    (g.key, g.cert)
}

struct Case {
    settings: CnSettings,
    entry: CountryEntry,
    peers: MetadataService,
    store: Arc<dyn Store>,
    signer: Arc<dyn Signer>,
    decryption_keys: Vec<PrivateKey>,
    ps: Arc<DemoProxyService>,
}

fn case(rt: &tokio::runtime::Runtime, kind: KeyKind) -> Case {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (cn_key, cn_cert) = key(kind, "connector");
    let (enc_key, enc_cert) = key(kind, "connector-encryption");
    let (ps_key, ps_cert) = key(kind, "proxy-service");
    let signer = SoftwareSigner::new(cn_key, None, Some(cn_cert.clone())).unwrap();
    let md = OurMetadata {
        role: Role::Connector,
        entity_id: CN.into(),
        node_country: "NO".into(),
        endpoint: ACS.into(),
        signing_certificates: vec![cn_cert.clone()],
        encryption_certificates: vec![enc_cert],
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
        valid_for: time::Duration::hours(24),
    };
    let cn_md = md.to_signed_xml(clock.now(), &signer).unwrap();
    let cn_cert_for_ps = cn_cert;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}/xe", listener.local_addr().unwrap());
    let ps = Arc::new(
        DemoProxyService::new(
            "XE",
            &base,
            false,
            ps_key,
            ps_cert.clone(),
            &cn_md,
            std::slice::from_ref(&cn_cert_for_ps),
            demo_persons(),
            clock.clone(),
        )
        .unwrap(),
    );
    let app = axum::Router::new().nest("/xe", eidas_node::demo_proxy_service::router(ps.clone()));
    rt.spawn(async move { axum::serve(listener, app).await });
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(clock.clone()));
    let url = format!("{base}/metadata");
    let peers = MetadataService::new(
        vec![Peer {
            url: url.clone(),
            trust_anchors: vec![ps_cert],
        }],
        store.clone(),
        clock,
        FetchPolicy {
            allow_loopback_http: true,
            ..FetchPolicy::default()
        },
        &[],
    )
    .unwrap();
    Case {
        settings: CnSettings {
            our_entity_id: CN.into(),
            our_acs_url: ACS.into(),
            our_country: "NO".into(),
            metadata_sp_type: None,
            request_sp_type: "public".into(),
            requester_id: None,
            protocol_versions: vec!["1.4".into()],
            require_signed_assertion: true,
            skew: time::Duration::seconds(60),
            max_age: time::Duration::minutes(5),
        },
        entry: CountryEntry {
            code: "XE".into(),
            metadata_url: url,
        },
        peers,
        store,
        signer: Arc::new(signer),
        decryption_keys: vec![enc_key],
        ps,
    }
}

impl Case {
    async fn start(&self) -> String {
        let md = connector::availability(
            &self.peers,
            &self.entry,
            Level::High,
            &self.settings,
            &self.signer,
        )
        .await
        .unwrap();
        let out = connector::start(
            &self.settings,
            &self.entry,
            &md,
            Level::High,
            &[],
            serde_json::Value::Null,
            &self.signer,
            self.store.as_ref(),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        let Outgoing::Post { xml, .. } = out else {
            panic!("XE lists POST first")
        };
        xml
    }

    /// What XE answers (not timed).
    fn response_to(&self, request_xml: &str) -> String {
        let ticket = self.ps.receive(request_xml.as_bytes(), None).unwrap();
        let request = self.ps.take(&ticket).unwrap();
        let (xml, _) = self
            .ps
            .answer(&request, &demo_persons()[0], Level::High, |_| {})
            .unwrap();
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(xml)
    }

    async fn receive(&self, b64: &str) -> usize {
        let r = Receiver {
            settings: &self.settings,
            peers: &self.peers,
            store: self.store.as_ref(),
            decryption_keys: &self.decryption_keys,
            now: time::OffsetDateTime::now_utc(),
        };
        let (_, outcome) = r.receive(b64).await.unwrap();
        let connector::Outcome::Authenticated(who) = outcome else {
            panic!("refused")
        };
        connector::claims(&who, None, &[]).len()
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for (name, kind) in [("rsa3072", KeyKind::Rsa3072), ("p256", KeyKind::EcP256)] {
        let case = case(&rt, kind);
        // First contact fetches and verifies XE's metadata; every later one uses the cache.
        let warm = rt.block_on(case.start());
        let warm = case.response_to(&warm);
        rt.block_on(case.receive(&warm));
        c.bench_function(&format!("cn_exchange/{name}/start"), |b| {
            b.iter(|| black_box(rt.block_on(case.start())))
        });
        c.bench_function(&format!("cn_exchange/{name}/receive"), |b| {
            b.iter_batched(
                || {
                    let req = rt.block_on(case.start());
                    case.response_to(&req)
                },
                |resp| black_box(rt.block_on(case.receive(&resp))),
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
