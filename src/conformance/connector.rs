//! Auditing a Connector: its metadata (§7 A and C), black box. The checks of its requests (G)
//! and of its handling of broken Responses (H) need the Connector to send a request to a test
//! Proxy-Service, which needs a login started at the relying-party side of that node; they are
//! in the catalogue as manual checks with instructions, and the report lists them as such.

use super::{Check, Outcome, Report};
use crate::crypto::Certificate;
use crate::saml;
use time::OffsetDateTime;

pub struct ConnectorAudit {
    pub metadata_url: String,
    pub trust_anchors: Vec<Certificate>,
    pub tls_roots: Vec<Certificate>,
    pub allow_loopback_http: bool,
}

impl ConnectorAudit {
    pub async fn run(&self, progress: &mut dyn FnMut(&super::CheckResult)) -> Report {
        let started = saml::format_instant(OffsetDateTime::now_utc());
        let catalogue: Vec<Check> = super::catalogue()
            .into_iter()
            .filter(|c| c.role == "connector" || c.role == "both")
            .collect();
        let mut done = Vec::new();
        let fetched = match crate::outbound::client(
            std::time::Duration::from_secs(15),
            self.allow_loopback_http,
            &self.tls_roots,
        ) {
            Ok(c) => match c.get(&self.metadata_url).send().await {
                Ok(r) => crate::outbound::read_limited(r, 4 * 1024 * 1024).await.ok(),
                Err(_) => None,
            },
            Err(_) => None,
        };
        let why = match &fetched {
            Some(bytes) => {
                let (results, _) = super::ps::metadata_results(
                    &catalogue,
                    &self.metadata_url,
                    bytes,
                    &self.trust_anchors,
                    'C',
                );
                for r in results {
                    progress(&r);
                    done.push(r);
                }
                "not automated for a Connector"
            }
            None => "the target's metadata could not be fetched",
        };
        for c in &catalogue {
            if done.iter().any(|r: &super::CheckResult| r.id == c.id) {
                continue;
            }
            let reason = if c.run == "manual" {
                format!("manual: {}", c.how)
            } else {
                why.to_string()
            };
            let r = super::CheckResult {
                id: c.id.clone(),
                title: c.title.clone(),
                clause: c.clause.clone(),
                severity: c.severity.clone(),
                outcome: Outcome::Skip,
                reason,
                evidence: vec![],
            };
            progress(&r);
            done.push(r);
        }
        done.sort_by(|a, b| a.id.cmp(&b.id));
        Report {
            tool: format!("eidas-node {} conformance", env!("CARGO_PKG_VERSION")),
            role: "connector".into(),
            target: self.metadata_url.clone(),
            started,
            finished: saml::format_instant(OffsetDateTime::now_utc()),
            results: done,
        }
    }
}
