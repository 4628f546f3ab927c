//! Peers' metadata: fetched over HTTPS from configured URLs (plain HTTP refused; loopback HTTP
//! only when a test configures it), its signature verified against the peer's trust anchors,
//! `validUntil` and `cacheDuration` honoured, cached in the store (so a restart starts from the
//! last good copy), refreshed in the background with back-off, the last good copy served while
//! the peer is down and it is still valid, and re-fetched — rate limited — when a message arrives
//! signed by a key the cached copy does not list.

use super::EntityDescriptor;
use super::check::{CheckOptions, Finding, Severity, check};
use crate::clock::Clock;
use crate::crypto::Certificate;
use crate::saml::parse_instant;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// A peer whose metadata we use, and what we trust its signature with.
#[derive(Clone, Debug)]
pub struct Peer {
    pub url: String,
    pub trust_anchors: Vec<Certificate>,
}

#[derive(Clone, Debug)]
pub struct FetchPolicy {
    pub timeout: std::time::Duration,
    pub max_bytes: usize,
    /// Allow `http://127.0.0.1…`/`http://localhost…` (tests and the demo only).
    pub allow_loopback_http: bool,
    /// Bounds on how long a fetched copy is used before refreshing.
    pub min_refresh: Duration,
    pub max_refresh: Duration,
    /// At most one fetch per peer in this interval when messages name an unknown key.
    pub unknown_key_interval: Duration,
    pub backoff_start: Duration,
    pub backoff_max: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            timeout: std::time::Duration::from_secs(10),
            max_bytes: 4 * 1024 * 1024,
            allow_loopback_http: false,
            min_refresh: Duration::minutes(5),
            max_refresh: Duration::hours(6),
            unknown_key_interval: Duration::minutes(1),
            backoff_start: Duration::seconds(5),
            backoff_max: Duration::hours(1),
        }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    #[error("{0} is not a configured peer")]
    UnknownPeer(String),
    #[error("refused URL {0}: metadata is fetched over HTTPS only")]
    NotHttps(String),
    #[error("fetching {url}: {message}")]
    Transport { url: String, message: String },
    #[error("fetching {url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("metadata from {url} is over {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("metadata from {url} refused: {}", .findings.iter().map(|f| format!("{} {}", f.id, f.message)).collect::<Vec<_>>().join("; "))]
    Refused { url: String, findings: Vec<Finding> },
    #[error("no valid metadata for {url} (last error: {last})")]
    Unavailable { url: String, last: String },
}

/// A peer's metadata as verified.
#[derive(Clone, Debug)]
pub struct PeerMetadata {
    pub entity: EntityDescriptor,
    pub xml: Arc<str>,
    pub fetched_at: OffsetDateTime,
    pub valid_until: OffsetDateTime,
    pub refresh_at: OffsetDateTime,
    /// Served past its refresh time because the peer could not be reached.
    pub stale: bool,
    /// Findings that did not block use (reported to the operator).
    pub warnings: Vec<Finding>,
}

#[derive(Default)]
struct Entry {
    current: Option<PeerMetadata>,
    failures: u32,
    next_attempt: Option<OffsetDateTime>,
    last_unknown_key_fetch: Option<OffsetDateTime>,
    last_error: Option<String>,
}

/// Findings that make metadata unusable; others are warnings.
const BLOCKING: [&str; 8] = [
    "MD-XML",
    "MD-STRUCTURE",
    "MD-SIGNED",
    "MD-SIG-ALG",
    "MD-SIG-KEY",
    "MD-VALIDUNTIL",
    "MD-ENTITYID",
    "MD-ROLE",
];

pub struct MetadataService {
    client: reqwest::Client,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: FetchPolicy,
    peers: HashMap<String, Peer>,
    entries: Mutex<HashMap<String, Entry>>,
    fetches: std::sync::atomic::AtomicUsize,
}

fn store_key(url: &str) -> String {
    format!("metadata:{url}")
}

/// xs:duration as SAML writes cacheDuration (`P1D`, `PT6H`, `PT30M`, `P0DT1H30M`); None if
/// it uses years or months (ambiguous lengths) or is malformed.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim().strip_prefix('P')?;
    let (days, time) = match s.split_once('T') {
        Some((d, t)) => (d, t),
        None => (s, ""),
    };
    let mut total = Duration::ZERO;
    let mut num = String::new();
    for c in days.chars() {
        match c {
            '0'..='9' => num.push(c),
            'D' => total += Duration::days(num.parse().ok()?),
            'W' => total += Duration::weeks(num.parse().ok()?),
            _ => return None,
        }
        if !c.is_ascii_digit() {
            num.clear();
        }
    }
    if !num.is_empty() {
        return None;
    }
    for c in time.chars() {
        match c {
            '0'..='9' | '.' => num.push(c),
            'H' => total += Duration::hours(num.parse().ok()?),
            'M' => total += Duration::minutes(num.parse().ok()?),
            'S' => total += Duration::seconds_f64(num.parse().ok()?),
            _ => return None,
        }
        if !(c.is_ascii_digit() || c == '.') {
            num.clear();
        }
    }
    (num.is_empty() && total > Duration::ZERO).then_some(total)
}

/// Download metadata once (the auditor's `metadata verify URL`): HTTPS only, no redirects, the
/// policy's timeout and size limit; `roots` as for [`MetadataService::new`].
pub async fn download_once(
    url: &str,
    policy: &FetchPolicy,
    roots: &[Certificate],
) -> Result<Vec<u8>, FetchError> {
    let svc = MetadataService::new(
        Vec::new(),
        Arc::new(crate::store::MemoryStore::new(Arc::new(
            crate::clock::SystemClock,
        ))),
        Arc::new(crate::clock::SystemClock),
        policy.clone(),
        roots,
    )?;
    svc.download(url).await
}

impl MetadataService {
    /// `roots`: TLS roots to trust instead of the platform's (tests, private PKI); empty for
    /// the platform's verifier.
    pub fn new(
        peers: Vec<Peer>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: FetchPolicy,
        roots: &[Certificate],
    ) -> Result<Self, FetchError> {
        let client = crate::outbound::client(policy.timeout, policy.allow_loopback_http, roots)
            .map_err(|message| FetchError::Transport {
                url: String::new(),
                message,
            })?;
        Ok(MetadataService {
            client,
            store,
            clock,
            policy,
            peers: peers.into_iter().map(|p| (p.url.clone(), p)).collect(),
            entries: Mutex::new(HashMap::new()),
            fetches: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// How many HTTP fetches were made (operations metrics; tests).
    pub fn fetch_count(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn url_allowed(&self, url: &str) -> bool {
        url.starts_with("https://")
            || (self.policy.allow_loopback_http && crate::outbound::is_loopback_http(url))
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        if !self.url_allowed(url) {
            return Err(FetchError::NotHttps(url.to_string()));
        }
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let transport = |e: reqwest::Error| FetchError::Transport {
            url: url.to_string(),
            message: e.to_string(),
        };
        let resp = self.client.get(url).send().await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: resp.status().as_u16(),
            });
        }
        crate::outbound::read_limited(resp, self.policy.max_bytes)
            .await
            .map_err(|e| match e {
                crate::outbound::ReadError::Transport(e) => transport(e),
                crate::outbound::ReadError::TooLarge { limit } => FetchError::TooLarge {
                    url: url.to_string(),
                    limit,
                },
            })
    }

    /// Verify metadata bytes for `peer` at `now`.
    fn verify(
        &self,
        peer: &Peer,
        bytes: &[u8],
        now: OffsetDateTime,
    ) -> Result<PeerMetadata, FetchError> {
        let report = check(
            bytes,
            &CheckOptions {
                trust_anchors: peer.trust_anchors.clone(),
                at: Some(now),
                fetched_from: Some(peer.url.clone()),
            },
        );
        let (blocking, warnings): (Vec<Finding>, Vec<Finding>) =
            report.findings.into_iter().partition(|f| {
                f.severity == Severity::Must
                    && BLOCKING.contains(&f.id)
                    // With loopback http allowed (tests, the demo), a loopback peer's plain-http
                    // entityID is reported, not blocking; its URL was already allowed.
                    && !(self.policy.allow_loopback_http
                        && f.id == "MD-ENTITYID"
                        && f.message.ends_with("is not an HTTPS URL")
                        && crate::outbound::is_loopback_http(&peer.url))
            });
        if !blocking.is_empty() || !report.trusted || report.entities.len() != 1 {
            let mut findings = blocking;
            if findings.is_empty() {
                findings.push(Finding {
                    id: "MD-SIGNED",
                    severity: Severity::Must,
                    message: "not verified with a trust anchor".into(),
                });
            }
            return Err(FetchError::Refused {
                url: peer.url.clone(),
                findings,
            });
        }
        let entity = report
            .entities
            .into_iter()
            .next()
            .ok_or_else(|| FetchError::Unavailable {
                url: peer.url.clone(),
                last: "no entity".into(),
            })?;
        let valid_until = entity
            .valid_until
            .as_deref()
            .and_then(|v| parse_instant("validUntil", v).ok())
            .ok_or_else(|| FetchError::Unavailable {
                url: peer.url.clone(),
                last: "no validUntil".into(),
            })?;
        let lifetime = valid_until - now;
        let wanted = entity
            .cache_duration
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(lifetime / 2);
        let refresh_in = wanted
            .clamp(self.policy.min_refresh, self.policy.max_refresh)
            .min(lifetime);
        Ok(PeerMetadata {
            entity,
            xml: Arc::from(String::from_utf8_lossy(bytes).as_ref()),
            fetched_at: now,
            valid_until,
            refresh_at: now + refresh_in,
            stale: false,
            warnings,
        })
    }

    /// Fetch now, verify, and keep it (memory and store). On failure, remember it for back-off.
    pub async fn refresh(&self, url: &str) -> Result<PeerMetadata, FetchError> {
        let peer = self
            .peers
            .get(url)
            .ok_or_else(|| FetchError::UnknownPeer(url.to_string()))?
            .clone();
        let now = self.clock.now();
        let outcome = match self.download(url).await {
            Ok(bytes) => self.verify(&peer, &bytes, now),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(md) => {
                let ttl = (md.valid_until - now).unsigned_abs();
                // The store copy lets a restart begin from the last good metadata; losing it
                // only costs a fetch.
                let _ = self
                    .store
                    .put(&store_key(url), md.xml.as_bytes(), ttl)
                    .await;
                let mut entries = self.entries();
                let e = entries.entry(url.to_string()).or_default();
                e.current = Some(md.clone());
                e.failures = 0;
                e.next_attempt = None;
                e.last_error = None;
                Ok(md)
            }
            Err(err) => {
                let mut entries = self.entries();
                let e = entries.entry(url.to_string()).or_default();
                e.failures = e.failures.saturating_add(1);
                let backoff = self.policy.backoff_start * 2f64.powi(e.failures.min(20) as i32 - 1);
                e.next_attempt = Some(now + backoff.min(self.policy.backoff_max));
                e.last_error = Some(err.to_string());
                Err(err)
            }
        }
    }

    /// The peer's current metadata: the cached copy while it is fresh, else a fetch; when the
    /// peer cannot be reached, the last good copy while it is still valid (marked stale).
    pub async fn get(&self, url: &str) -> Result<PeerMetadata, FetchError> {
        let now = self.clock.now();
        let (cached, backing_off) = {
            let entries = self.entries();
            let e = entries.get(url);
            (
                e.and_then(|e| e.current.clone()),
                e.and_then(|e| e.next_attempt).is_some_and(|t| t > now),
            )
        };
        let cached = match cached {
            Some(c) => Some(c),
            None => self.load_stored(url, now).await,
        };
        if let Some(c) = &cached
            && c.refresh_at > now
            && c.valid_until > now
        {
            return Ok(c.clone());
        }
        let fetched = if backing_off {
            Err(FetchError::Unavailable {
                url: url.to_string(),
                last: "backing off after failed fetches".into(),
            })
        } else {
            self.refresh(url).await
        };
        match (fetched, cached) {
            (Ok(md), _) => Ok(md),
            (Err(_), Some(c)) if c.valid_until > now => Ok(PeerMetadata { stale: true, ..c }),
            (Err(e), _) => Err(FetchError::Unavailable {
                url: url.to_string(),
                last: e.to_string(),
            }),
        }
    }

    /// After a restart: the copy the store kept, verified again.
    async fn load_stored(&self, url: &str, now: OffsetDateTime) -> Option<PeerMetadata> {
        let peer = self.peers.get(url)?;
        let bytes = self.store.get(&store_key(url)).await.ok()??;
        let md = self.verify(peer, &bytes, now).ok()?;
        self.entries().entry(url.to_string()).or_default().current = Some(md.clone());
        Some(md)
    }

    /// A message from this peer is signed by a key its metadata does not list: fetch again,
    /// at most once per `unknown_key_interval`.
    pub async fn on_unknown_key(&self, url: &str) -> Result<PeerMetadata, FetchError> {
        let now = self.clock.now();
        let recent = {
            let mut entries = self.entries();
            let e = entries.entry(url.to_string()).or_default();
            let recent = e
                .last_unknown_key_fetch
                .is_some_and(|t| now - t < self.policy.unknown_key_interval);
            if !recent {
                e.last_unknown_key_fetch = Some(now);
            }
            recent
        };
        if recent {
            return self.get(url).await;
        }
        match self.refresh(url).await {
            Ok(md) => Ok(md),
            Err(_) => self.get(url).await,
        }
    }

    /// Refresh every peer whose copy is due, respecting back-off. Returns (refreshed, failed).
    pub async fn refresh_due(&self) -> (usize, usize) {
        let now = self.clock.now();
        let due: Vec<String> = {
            let entries = self.entries();
            self.peers
                .keys()
                .filter(|url| match entries.get(*url) {
                    None => true,
                    Some(e) => {
                        e.next_attempt.is_none_or(|t| t <= now)
                            && e.current.as_ref().is_none_or(|c| c.refresh_at <= now)
                    }
                })
                .cloned()
                .collect()
        };
        let (mut ok, mut failed) = (0, 0);
        for url in due {
            match self.refresh(&url).await {
                Ok(_) => ok += 1,
                Err(_) => failed += 1,
            }
        }
        (ok, failed)
    }

    /// A background task refreshing due peers every `every`.
    pub fn spawn_refresher(
        self: Arc<Self>,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                self.refresh_due().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use time::Duration;

    #[test]
    fn cache_durations_parse_and_odd_ones_are_refused() {
        assert_eq!(parse_duration("PT6H"), Some(Duration::hours(6)));
        assert_eq!(parse_duration("P1D"), Some(Duration::days(1)));
        assert_eq!(parse_duration("P0DT1H30M"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("PT1.5S"), Some(Duration::milliseconds(1500)));
        assert_eq!(parse_duration("P1M"), None);
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("6 hours"), None);
    }
}
