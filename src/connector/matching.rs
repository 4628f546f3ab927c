//! Identity matching (norway.md §2): a foreign person's eIDAS identifier, birth date and country
//! → their Norwegian fødselsnummer or D-nummer, when Folkeregisteret knows them by that
//! identifier. No match is not an error: the relying party then gets no `pid`.
//!
//! Two implementations: [`FregGateway`], which asks a gateway in front of Folkeregisteret the
//! way Digdir's connector does (`GET /eidas/entydig?utenlandskPersonIdentifikasjon=…&
//! foedselsdato=YYYYMMDD&landkode=<alpha-3>`; 200 with the number, 204/404 or a FREG-001 400 for
//! no match), and [`FileMatcher`], a TOML table for the demo and tests.

use crate::crypto::Certificate;
use crate::register::IdentityNumber;
use serde::Deserialize;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;
use time::Date;

/// What is known of the foreign person.
#[derive(Clone, PartialEq, Eq)]
pub struct MatchQuery {
    /// The whole PersonIdentifier, `XX/NO/…`.
    pub person_identifier: String,
    /// The issuing country (alpha-2, as in the PersonIdentifier).
    pub country: String,
    pub date_of_birth: Option<Date>,
}

impl std::fmt::Debug for MatchQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchQuery")
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

impl MatchQuery {
    /// The identifier's third part: what the foreign country calls the person.
    pub fn foreign_id(&self) -> &str {
        self.person_identifier
            .splitn(3, '/')
            .nth(2)
            .unwrap_or_default()
    }
}

/// The matcher itself failed (as opposed to "no match"). Texts carry no personal data.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MatchError {
    #[error("identity matching unavailable: {0}")]
    Unavailable(String),
    #[error("identity matching answered something unusable: {0}")]
    Invalid(String),
}

pub type MatchFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<IdentityNumber>, MatchError>> + Send + 'a>>;

/// Finds the Norwegian identity number of a foreign person, if there is exactly one.
pub trait IdentityMatcher: Send + Sync {
    fn find<'a>(&'a self, q: &'a MatchQuery) -> MatchFuture<'a>;
}

/// The `pid` for a person the foreign node vouched for: their identifier, birth date and
/// country asked of `m`. No match, or a matcher that is down (logged), is no `pid`: the login
/// goes on without it.
pub async fn pid_for(
    m: &dyn IdentityMatcher,
    who: &super::Identity,
    correlation: &str,
) -> Option<IdentityNumber> {
    let q = MatchQuery {
        person_identifier: who.person_identifier.clone(),
        country: who.citizen_country.clone(),
        date_of_birth: who
            .value(crate::eidas::attributes::DATE_OF_BIRTH)
            .and_then(|d| crate::eidas::attributes::parse_date_of_birth(d).ok()),
    };
    match m.find(&q).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(correlation, error = %e, "identity matching failed; no pid");
            None
        }
    }
}

/// ISO 3166-1 alpha-3 for the alpha-2 codes eIDAS nodes use (EL is Greece, as in eIDAS; XE
/// and the demo's codes map to themselves with an X).
pub fn alpha3(alpha2: &str) -> Option<&'static str> {
    const TABLE: [(&str, &str); 36] = [
        ("AT", "AUT"),
        ("BE", "BEL"),
        ("BG", "BGR"),
        ("CY", "CYP"),
        ("CZ", "CZE"),
        ("DE", "DEU"),
        ("DK", "DNK"),
        ("EE", "EST"),
        ("EL", "GRC"),
        ("GR", "GRC"),
        ("ES", "ESP"),
        ("FI", "FIN"),
        ("FR", "FRA"),
        ("HR", "HRV"),
        ("HU", "HUN"),
        ("IE", "IRL"),
        ("IS", "ISL"),
        ("IT", "ITA"),
        ("LI", "LIE"),
        ("LT", "LTU"),
        ("LU", "LUX"),
        ("LV", "LVA"),
        ("MT", "MLT"),
        ("NL", "NLD"),
        ("NO", "NOR"),
        ("PL", "POL"),
        ("PT", "PRT"),
        ("RO", "ROU"),
        ("SE", "SWE"),
        ("SI", "SVN"),
        ("SK", "SVK"),
        ("CH", "CHE"),
        ("GB", "GBR"),
        ("UK", "GBR"),
        ("EU", "EUE"),
        ("XE", "XXE"),
    ];
    TABLE.iter().find(|(a, _)| *a == alpha2).map(|(_, b)| *b)
}

/// One row of a matching file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    person_identifier: String,
    /// `YYYY-MM-DD`.
    date_of_birth: Option<String>,
    identity_number: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "match", default)]
    rows: Vec<Row>,
}

/// A table of known foreign persons (TOML, `[[match]]` rows with `person_identifier`,
/// `date_of_birth` and `identity_number`), for the demo and tests.
pub struct FileMatcher {
    rows: Vec<(String, Option<Date>, IdentityNumber)>,
}

impl FileMatcher {
    pub fn load(path: &Path, accept_synthetic: bool) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text, accept_synthetic).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str, accept_synthetic: bool) -> Result<Self, String> {
        let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        for r in f.rows {
            let n = IdentityNumber::parse(&r.identity_number, accept_synthetic)
                .map_err(|e| format!("row {}: {e}", r.person_identifier))?;
            let dob = match &r.date_of_birth {
                Some(d) => Some(
                    crate::eidas::attributes::parse_date_of_birth(d)
                        .map_err(|e| format!("row {}: {e}", r.person_identifier))?,
                ),
                None => None,
            };
            rows.push((r.person_identifier, dob, n));
        }
        Ok(FileMatcher { rows })
    }
}

impl IdentityMatcher for FileMatcher {
    fn find<'a>(&'a self, q: &'a MatchQuery) -> MatchFuture<'a> {
        Box::pin(async move {
            // Exactly one row, and its birth date (when it has one) agrees.
            let hits: Vec<_> = self
                .rows
                .iter()
                .filter(|(pi, dob, _)| {
                    *pi == q.person_identifier && (dob.is_none() || *dob == q.date_of_birth)
                })
                .collect();
            Ok(match hits.as_slice() {
                [one] => Some(one.2.clone()),
                _ => None,
            })
        })
    }
}

/// The gateway in front of Folkeregisteret's eIDAS search.
pub struct FregGateway {
    url: String,
    http: reqwest::Client,
    accept_synthetic: bool,
}

impl FregGateway {
    pub fn new(
        url: &str,
        timeout: Duration,
        allow_loopback_http: bool,
        roots: &[Certificate],
        accept_synthetic: bool,
    ) -> Result<Self, String> {
        Ok(FregGateway {
            url: url.trim_end_matches('/').to_string(),
            http: crate::outbound::client(timeout, allow_loopback_http, roots)?,
            accept_synthetic,
        })
    }

    async fn ask(&self, q: &MatchQuery) -> Result<Option<IdentityNumber>, MatchError> {
        let (Some(dob), Some(land)) = (q.date_of_birth, alpha3(&q.country)) else {
            // Without a birth date or a known country the search cannot be unambiguous.
            return Ok(None);
        };
        let id = q.foreign_id();
        if id.is_empty() {
            return Ok(None);
        }
        let dob = format!(
            "{:04}{:02}{:02}",
            dob.year(),
            u8::from(dob.month()),
            dob.day()
        );
        let r = self
            .http
            .get(format!(
                "{}/eidas/entydig?{}",
                self.url,
                serde_urlencoded::to_string([
                    ("utenlandskPersonIdentifikasjon", id),
                    ("foedselsdato", dob.as_str()),
                    ("landkode", land),
                ])
                .unwrap_or_default()
            ))
            .send()
            .await
            .map_err(|e| {
                MatchError::Unavailable(if e.is_timeout() {
                    "timed out".into()
                } else if e.is_connect() {
                    "connection failed".into()
                } else {
                    e.without_url().to_string()
                })
            })?;
        let status = r.status();
        let body = crate::outbound::read_limited(r, 4096)
            .await
            .map_err(|e| MatchError::Invalid(format!("{e:?}")))?;
        let text = String::from_utf8_lossy(&body);
        match status.as_u16() {
            200 => {
                let n = text.trim().trim_matches('"');
                IdentityNumber::parse(n, self.accept_synthetic)
                    .map(Some)
                    .map_err(|e| MatchError::Invalid(format!("not an identity number: {e}")))
            }
            204 | 404 => Ok(None),
            400 if text.contains("FREG-001") => Ok(None),
            s => Err(MatchError::Unavailable(format!("HTTP {s}"))),
        }
    }
}

impl IdentityMatcher for FregGateway {
    fn find<'a>(&'a self, q: &'a MatchQuery) -> MatchFuture<'a> {
        Box::pin(self.ask(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const FILE: &str = r#"
[[match]]
person_identifier = "XE/NO/XE-1001"
date_of_birth = "1990-04-12"
identity_number = "15838512329"
"#;

    fn q(pi: &str, dob: Option<Date>) -> MatchQuery {
        MatchQuery {
            person_identifier: pi.into(),
            country: "XE".into(),
            date_of_birth: dob,
        }
    }

    #[test]
    fn a_file_row_matches_only_with_the_same_identifier_and_birth_date() {
        let m = FileMatcher::parse(FILE, true).unwrap();
        let hit = crate::store::block_on(m.find(&q("XE/NO/XE-1001", Some(date!(1990 - 04 - 12)))));
        assert_eq!(hit.unwrap().unwrap().as_str(), "15838512329");
        let wrong_day =
            crate::store::block_on(m.find(&q("XE/NO/XE-1001", Some(date!(1990 - 04 - 13)))));
        assert_eq!(wrong_day.unwrap(), None);
        let other =
            crate::store::block_on(m.find(&q("XE/NO/XE-1002", Some(date!(1990 - 04 - 12)))));
        assert_eq!(other.unwrap(), None);
    }

    #[test]
    fn a_file_with_a_bad_number_or_a_synthetic_one_where_not_allowed_is_refused() {
        assert!(
            FileMatcher::parse(FILE, false).is_err(),
            "synthetic refused"
        );
        let bad = FILE.replace("15838512329", "15838512328");
        assert!(FileMatcher::parse(&bad, true).is_err());
    }

    #[test]
    fn two_rows_for_one_person_are_no_match() {
        let twice = format!("{FILE}{}", FILE.replace("15838512329", "23906398699"));
        let m = FileMatcher::parse(&twice, true).unwrap();
        let hit = crate::store::block_on(m.find(&q("XE/NO/XE-1001", Some(date!(1990 - 04 - 12)))));
        assert_eq!(hit.unwrap(), None, "ambiguous: no pid");
    }

    struct Down;
    impl IdentityMatcher for Down {
        fn find<'a>(&'a self, _: &'a MatchQuery) -> MatchFuture<'a> {
            Box::pin(async { Err(MatchError::Unavailable("down".into())) })
        }
    }

    #[test]
    fn a_matcher_that_is_down_gives_no_pid_and_the_login_goes_on() {
        let who = crate::connector::Identity {
            person_identifier: "XE/NO/XE-1001".into(),
            citizen_country: "XE".into(),
            loa: crate::eidas::loa::Level::High,
            attributes: vec![],
            authn_instant: time::OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(crate::store::block_on(pid_for(&Down, &who, "c")), None);
        let m = FileMatcher::parse(FILE, true).unwrap();
        // No birth date sent: the row with one does not match.
        assert_eq!(crate::store::block_on(pid_for(&m, &who, "c")), None);
    }

    #[test]
    fn the_foreign_id_is_the_third_part_and_may_contain_slashes() {
        assert_eq!(q("XE/NO/a/b", None).foreign_id(), "a/b");
        assert_eq!(q("XE/NO", None).foreign_id(), "");
    }

    #[test]
    fn alpha3_knows_greece_as_el() {
        assert_eq!(alpha3("EL"), Some("GRC"));
        assert_eq!(alpha3("SE"), Some("SWE"));
        assert_eq!(alpha3("QQ"), None);
    }
}
