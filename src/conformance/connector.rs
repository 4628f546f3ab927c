//! Auditing a Connector, black box. The metadata (§7 A, C) always; with `--start` the runner
//! also plays a **test Proxy-Service** the target trusts as a country: it starts a login at the
//! target's relying-party side (a page to walk, e.g. a demo service), picks its own country on
//! the country page, captures the AuthnRequest the Connector sends (G), and answers a good
//! Response (the baseline, which must be accepted) and then each deliberately broken one of §7 H,
//! each to a fresh request, observing that the Connector lets nobody in.

use super::ps::{Answer, Http, absolute, form_action, form_value, forms, result};
use super::{Check, CheckResult, Evidence, Outcome, Report};
use crate::crypto::{Certificate, SoftwareSigner};
use crate::demo_proxy_service::{Carry, DemoProxyService, demo_persons};
use crate::eidas::loa::{Level, LevelOfAssurance};
use crate::saml::{self, AuthnRequest};
use crate::xml::{self, Limits};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::sync::Arc;
use time::OffsetDateTime;

pub struct ConnectorAudit {
    pub metadata_url: String,
    pub trust_anchors: Vec<Certificate>,
    pub tls_roots: Vec<Certificate>,
    pub allow_loopback_http: bool,
    /// Where a login starts, and the test Proxy-Service the target trusts (None: metadata only).
    pub start: Option<Start>,
}

pub struct Start {
    pub url: String,
    pub ps: Arc<DemoProxyService>,
    /// The test Proxy-Service's country, as the target lists it.
    pub country: String,
    /// Its SSO URL (where the captured request goes).
    pub sso: String,
    /// Text on the relying party's page that means "logged in" (besides an OIDC `code`).
    pub success_marker: String,
    /// Signs with rsa-sha256 by a key the test Proxy-Service's metadata lists (H119).
    pub legacy: Option<super::ps::LegacyRsaSigner>,
}

/// A broken Response: which check, and how it is made.
type MutA = Box<dyn FnOnce(&mut saml::Assertion) + Send>;
type MutR = Box<dyn FnOnce(&mut saml::Response) + Send>;
enum Broken {
    /// Answer with this change to the assertion / Response, carried so, assertion signed or not.
    Answer(MutA, MutR, Carry, bool),
    /// The good Response with its signature removed.
    Unsigned,
    /// The good Response signed again by a key its metadata does not list.
    OtherKey,
    /// The good Response signed again with rsa-sha256 (PKCS#1 v1.5) by a key it lists.
    LegacyRsa,
    /// Signature wrapping: an unsigned evil Response (success, same InResponseTo) carrying the
    /// genuine signed one in its Extensions.
    Wrapped,
}

fn cases() -> Vec<(&'static str, Broken)> {
    let none_a = || -> MutA { Box::new(|_| {}) };
    let none_r = || -> MutR { Box::new(|_| {}) };
    let a = |f: MutA| Broken::Answer(f, Box::new(|_| {}), Carry::Encrypted, true);
    let r = |f: MutR| Broken::Answer(Box::new(|_| {}), f, Carry::Encrypted, true);
    vec![
        ("H117", Broken::Unsigned),
        ("H135", Broken::Wrapped),
        ("H118", Broken::OtherKey),
        ("H119", Broken::LegacyRsa),
        (
            "H120",
            Broken::Answer(none_a(), none_r(), Carry::Plaintext, true),
        ),
        (
            "H122",
            Broken::Answer(none_a(), none_r(), Carry::TwoEncrypted, true),
        ),
        (
            "H123",
            r(Box::new(|r| {
                r.in_response_to = Some(format!("_{}", crate::oidc::one_time_value()))
            })),
        ),
        (
            "H124",
            r(Box::new(|r| {
                r.destination = Some("https://elsewhere.example/acs".into())
            })),
        ),
        (
            "H125",
            a(Box::new(|a| {
                if let Some(c) = a.conditions.as_mut() {
                    c.audience_restrictions =
                        vec![vec!["https://another-node.example/metadata".into()]];
                }
            })),
        ),
        (
            "H126",
            a(Box::new(|a| {
                let past =
                    saml::format_instant(OffsetDateTime::now_utc() - time::Duration::hours(2));
                if let Some(c) = a.conditions.as_mut() {
                    c.not_on_or_after = Some(past);
                }
            })),
        ),
        (
            "H127",
            a(Box::new(|a| {
                if let Some(s) = a.subject_confirmations.first_mut() {
                    s.method = Some("urn:oasis:names:tc:SAML:2.0:cm:holder-of-key".into());
                }
            })),
        ),
        (
            "H128",
            r(Box::new(|r| {
                if let Some(i) = r.issuer.as_mut() {
                    i.value = "https://another-proxy-service.example/metadata".into();
                }
            })),
        ),
        (
            "H129",
            a(Box::new(|a| {
                if let Some(s) = a.authn_statements.first_mut() {
                    s.class_refs = vec![Level::Low.notified_uri().into()];
                }
            })),
        ),
        (
            "H130",
            a(Box::new(|a| {
                for at in a.attribute_statements.iter_mut().flatten() {
                    if at.name.ends_with("/PersonIdentifier") {
                        for v in &mut at.values {
                            v.value = format!("ZZ{}", &v.value[2..]);
                        }
                    }
                }
            })),
        ),
        (
            "H132",
            a(Box::new(|a| {
                for s in &mut a.attribute_statements {
                    s.retain(|x| !x.name.ends_with("/DateOfBirth"));
                }
            })),
        ),
    ]
}

fn strip_signature(xml: &str) -> String {
    match (xml.find("<ds:Signature"), xml.find("</ds:Signature>")) {
        (Some(a), Some(b)) if a < b => {
            format!("{}{}", &xml[..a], &xml[b + "</ds:Signature>".len()..])
        }
        _ => xml.to_string(),
    }
}

impl ConnectorAudit {
    pub async fn run(&self, progress: &mut dyn FnMut(&CheckResult)) -> Report {
        let started = saml::format_instant(OffsetDateTime::now_utc());
        let catalogue: Vec<Check> = super::catalogue()
            .into_iter()
            .filter(|c| c.role == "connector" || c.role == "both")
            .collect();
        let mut done: Vec<CheckResult> = Vec::new();
        let http = crate::outbound::client(
            std::time::Duration::from_secs(15),
            self.allow_loopback_http,
            &self.tls_roots,
        );
        let fetched = match &http {
            Ok(c) => super::ps::fetch_metadata(c, &self.metadata_url).await,
            Err(_) => None,
        };
        let mut why = "the target's metadata could not be fetched".to_string();
        if let Some(bytes) = &fetched {
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
            why = "not automated without --start (a login start and a test Proxy-Service)".into();
            if let (Some(start), Ok(c)) = (&self.start, &http) {
                let http = Http { c: c.clone() };
                why = match self
                    .login_checks(&http, start, &catalogue, &mut done, progress)
                    .await
                {
                    Ok(()) => "not automated".into(),
                    Err(e) => format!("not reached: {e}"),
                };
            }
        }
        super::complete(
            "connector",
            &self.metadata_url,
            started,
            &catalogue,
            done,
            &why,
            progress,
        )
    }

    /// Walk from the start URL to the AuthnRequest the Connector sends to our test
    /// Proxy-Service: (the XML, the Redirect query if that binding, the trail).
    async fn walk(
        &self,
        http: &Http,
        s: &Start,
    ) -> Result<(Vec<u8>, Option<String>, String), String> {
        let mut trail = String::new();
        let mut current = s.url.clone();
        let mut next = http.c.get(&current);
        for _ in 0..12 {
            let (ans, shown) = http.send(next).await?;
            trail.push_str(&format!(
                "--> {current}\n{}\n\n",
                shown.lines().take(2).collect::<Vec<_>>().join("\n")
            ));
            match ans {
                Answer::Proceeded(to) => {
                    let to = absolute(&current, &to);
                    if to.starts_with(&s.sso) {
                        let query = to
                            .split_once('?')
                            .map(|x| x.1.to_string())
                            .unwrap_or_default();
                        let value = query
                            .split('&')
                            .find_map(|p| p.strip_prefix("SAMLRequest="))
                            .and_then(crate::xmlsec::redirect::url_decode)
                            .ok_or("a Redirect to the test Proxy-Service without SAMLRequest")?;
                        let raw =
                            saml::binding::inflate_b64(&value, saml::binding::DEFAULT_MAX_INFLATED)
                                .map_err(|e| e.to_string())?;
                        return Ok((raw, Some(query), trail));
                    }
                    current = to.clone();
                    next = http.c.get(&to);
                }
                Answer::Saml { .. } => {
                    return Err("a SAML Response where a request was expected".into());
                }
                Answer::Page { status, body } => {
                    if form_action(&body).is_some_and(|a| a.starts_with(&s.sso))
                        && let Some(v) = form_value(&body, "SAMLRequest")
                    {
                        let raw = STANDARD.decode(v.trim()).map_err(|e| e.to_string())?;
                        return Ok((raw, None, trail));
                    }
                    let fs = forms(&body);
                    let pick = fs
                        .iter()
                        .find_map(|f| {
                            f.buttons
                                .iter()
                                .find(|(_, v)| *v == s.country)
                                .map(|b| (f, Some(b.clone())))
                        })
                        .or_else(|| {
                            fs.iter().find_map(|f| {
                                f.buttons
                                    .iter()
                                    .find(|(_, v)| v == "login" || v == "approve")
                                    .map(|b| (f, Some(b.clone())))
                            })
                        })
                        .or_else(|| {
                            fs.iter()
                                .find(|f| f.method.eq_ignore_ascii_case("post"))
                                .map(|f| (f, None))
                        });
                    let Some((f, button)) = pick else {
                        return Err(format!(
                            "no way on from the page at {current} (HTTP {status})"
                        ));
                    };
                    let mut fields = f.fields.clone();
                    fields.extend(button);
                    let action = absolute(&current, &f.action);
                    current = action.clone();
                    next = if f.method.eq_ignore_ascii_case("post") {
                        http.c.post(&action).form(&fields)
                    } else {
                        http.c.get(format!(
                            "{action}?{}",
                            serde_urlencoded::to_string(&fields).unwrap_or_default()
                        ))
                    };
                }
            }
        }
        Err("no AuthnRequest to the test Proxy-Service within 12 steps".into())
    }

    /// A fresh request from the Connector, as our test Proxy-Service received it.
    async fn fresh_request(
        &self,
        http: &Http,
        s: &Start,
    ) -> Result<(AuthnRequest, Vec<u8>, Option<String>, String), String> {
        let (raw, query, trail) = self.walk(http, s).await?;
        let ticket = s.ps.receive(&raw, query.as_deref())?;
        let req = s.ps.take(&ticket).ok_or("the request was lost")?;
        Ok((req, raw, query, trail))
    }

    /// Post a Response to the Connector's ACS and follow where the browser is sent: was the
    /// person let in (an OIDC `code` on the way, or the success marker on the last page)?
    async fn deliver(
        &self,
        http: &Http,
        s: &Start,
        acs: &str,
        xml: &str,
    ) -> Result<(bool, String), String> {
        let mut trail = String::new();
        let mut next = http
            .c
            .post(acs)
            .form(&[("SAMLResponse", STANDARD.encode(xml))]);
        let mut current = acs.to_string();
        for _ in 0..6 {
            let (ans, shown) = http.send(next).await?;
            trail.push_str(&format!(
                "--> {current}\n{}\n\n",
                shown.lines().take(3).collect::<Vec<_>>().join("\n")
            ));
            match ans {
                Answer::Proceeded(to) => {
                    let to = absolute(&current, &to);
                    let q: Vec<(String, String)> =
                        serde_urlencoded::from_str(to.split_once('?').map(|x| x.1).unwrap_or(""))
                            .unwrap_or_default();
                    if q.iter().any(|(k, _)| k == "code") {
                        return Ok((true, trail));
                    }
                    if q.iter().any(|(k, _)| k == "error") {
                        return Ok((false, trail));
                    }
                    current = to.clone();
                    next = http.c.get(&to);
                }
                Answer::Page { body, .. } => return Ok((body.contains(&s.success_marker), trail)),
                Answer::Saml { .. } => return Ok((false, trail)),
            }
        }
        Ok((false, trail))
    }

    async fn login_checks(
        &self,
        http: &Http,
        s: &Start,
        catalogue: &[Check],
        done: &mut Vec<CheckResult>,
        progress: &mut dyn FnMut(&CheckResult),
    ) -> Result<(), String> {
        let by_id = |id: &str| catalogue.iter().find(|c| c.id == id);
        let mut record = |r: CheckResult, done: &mut Vec<CheckResult>| {
            progress(&r);
            done.push(r);
        };
        // G: the request. A signature or addressing the test Proxy-Service refuses fails G109.
        let (raw, query, trail) = self.walk(http, s).await?;
        let (req, raw, query, trail) = match s.ps.receive(&raw, query.as_deref()) {
            Ok(ticket) => (
                s.ps.take(&ticket).ok_or("the request was lost")?,
                raw,
                query,
                trail,
            ),
            Err(e) => {
                if let Some(c) = by_id("G109") {
                    record(
                        result(
                            c,
                            Outcome::Fail,
                            format!("the request was refused: {e}"),
                            vec![Evidence::new(&trail, String::from_utf8_lossy(&raw))],
                        ),
                        done,
                    );
                }
                return Err(format!("the Connector's request was refused: {e}"));
            }
        };
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let ev = || vec![Evidence::new(&trail, &shown)];
        let g = |id: &str,
                 ok: bool,
                 reason: String,
                 done: &mut Vec<CheckResult>,
                 record: &mut dyn FnMut(CheckResult, &mut Vec<CheckResult>)| {
            if let Some(c) = by_id(id) {
                record(
                    result(
                        c,
                        if ok { Outcome::Pass } else { Outcome::Fail },
                        reason,
                        ev(),
                    ),
                    done,
                );
            }
        };
        let binding = if query.is_some() {
            "HTTP-Redirect"
        } else {
            "HTTP-POST"
        };
        g(
            "G109",
            true,
            format!("signed ({binding}) with an allowed algorithm by a key from its metadata"),
            done,
            &mut record,
        );
        g(
            "G110",
            true,
            "Issuer is its metadata URL; Destination is the test Proxy-Service's SSO URL".into(),
            done,
            &mut record,
        );
        let fa = req.force_authn == Some(true) && req.is_passive == Some(false);
        g(
            "G111",
            fa,
            format!(
                "ForceAuthn {:?}, IsPassive {:?}",
                req.force_authn, req.is_passive
            ),
            done,
            &mut record,
        );
        let ext = req.extensions.as_ref();
        let attrs = ext
            .and_then(|e| e.requested_attributes.clone())
            .unwrap_or_default();
        let mds_ok = crate::eidas::attributes::mds(
            crate::eidas::attributes::PersonType::NaturalPerson,
        )
        .all(|m| {
            attrs.iter().any(|a| {
                a.name == m.name
                    && a.is_required == Some(true)
                    && a.name_format.as_deref() == Some(saml::ATTRNAME_FORMAT_URI)
            })
        });
        // SPType in the request, or in the Connector's metadata — exactly one of the two.
        let in_request = ext.and_then(|e| e.sp_type.as_deref());
        let sp_type_ok = match (in_request, s.ps.connector_sp_type()) {
            (Some(t), None) => t == "public" || t == "private",
            (None, Some(_)) => true,
            _ => false,
        };
        g(
            "G112",
            mds_ok && sp_type_ok,
            format!(
                "SPType {:?}; the MDS required with NameFormat uri: {mds_ok}",
                ext.and_then(|e| e.sp_type.clone())
            ),
            done,
            &mut record,
        );
        let rac = req.requested_authn_context.as_ref();
        let rac_ok = rac.is_some_and(|r| {
            r.comparison.as_deref() == Some("minimum")
                && r.class_refs.len() == 1
                && LevelOfAssurance::parse(&r.class_refs[0]).is_ok_and(|l| l.is_notified())
        });
        g(
            "G113",
            rac_ok,
            format!("RequestedAuthnContext {rac:?}"),
            done,
            &mut record,
        );
        let id = req.id.clone().unwrap_or_default();
        let id_ok = id.len() >= 23 && id.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic());
        g(
            "G116",
            id_ok,
            format!("ID {id:?} ({} characters)", id.len()),
            done,
            &mut record,
        );

        // The baseline: a good Response must let the person in, or nothing below means anything.
        let level = rac
            .and_then(|r| r.class_refs.first())
            .and_then(|c| LevelOfAssurance::parse(c).ok())
            .and_then(|l| l.notified_level())
            .unwrap_or(Level::Substantial)
            .max(Level::Substantial);
        let person = demo_persons().remove(0);
        let (good, acs) = s.ps.answer(&req, &person, level, |_| {})?;
        let (accepted, trail) = self.deliver(http, s, &acs, &good).await?;
        if !accepted {
            return Err(format!(
                "the Connector did not accept a good Response (the baseline): {trail}"
            ));
        }
        if let Some(c) = by_id("H133") {
            let (again, trail) = self.deliver(http, s, &acs, &good).await?;
            record(
                result(
                    c,
                    if again { Outcome::Fail } else { Outcome::Pass },
                    if again {
                        "the same Response let the person in twice".into()
                    } else {
                        "the replayed Response was refused".to_string()
                    },
                    vec![Evidence::new(&good, trail)],
                ),
                done,
            );
        }
        let stranger = {
            let g = crate::crypto::generate::generate(
                crate::crypto::generate::KeyKind::EcP256,
                "conformance stranger Proxy-Service",
                &s.country,
                OffsetDateTime::now_utc().unix_timestamp() - 60,
                2,
            )
            .map_err(|e| e.to_string())?;
            SoftwareSigner::new(g.key, None, Some(g.cert)).map_err(|e| e.to_string())?
        };
        for (id, broken) in cases() {
            let Some(c) = by_id(id) else {
                continue;
            };
            let (req, ..) = match self.fresh_request(http, s).await {
                Ok(x) => x,
                Err(e) => {
                    record(
                        result(c, Outcome::Skip, format!("no request: {e}"), vec![]),
                        done,
                    );
                    continue;
                }
            };
            let made = match broken {
                Broken::Answer(ma, mr, carry, signed) => {
                    s.ps.answer_custom(&req, &person, level, ma, mr, carry, signed)
                }
                Broken::Unsigned => {
                    s.ps.answer(&req, &person, level, |_| {})
                        .map(|(x, a)| (strip_signature(&x), a))
                }
                Broken::Wrapped => s.ps.answer(&req, &person, level, |_| {}).map(|(x, a)| {
                    let inner = x.trim_start_matches(|ch| ch != '<');
                    let evil = format!(
                        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
                         ID=\"_evil{}\" Version=\"2.0\" IssueInstant=\"{}\" InResponseTo=\"{}\" \
                         Destination=\"{a}\"><samlp:Extensions>{inner}</samlp:Extensions>\
                         <samlp:Status><samlp:StatusCode \
                         Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
                         </samlp:Response>",
                        crate::oidc::one_time_value().replace('-', "x"),
                        saml::format_instant(OffsetDateTime::now_utc()),
                        req.id.as_deref().unwrap_or_default(),
                    );
                    (evil, a)
                }),
                Broken::LegacyRsa => match &s.legacy {
                    None => Err("no rsa-sha256 key".to_string()),
                    Some(legacy) => {
                        s.ps.answer(&req, &person, level, |_| {})
                            .and_then(|(x, a)| {
                                let bare = strip_signature(&x);
                                let doc = xml::parse(bare.as_bytes(), &Limits::message())
                                    .map_err(|e| e.to_string())?;
                                crate::xmlsec::dsig::sign_element(&doc, doc.root(), legacy)
                                    .map(|x| (x, a))
                                    .map_err(|e| e.to_string())
                            })
                    }
                },
                Broken::OtherKey => {
                    s.ps.answer(&req, &person, level, |_| {})
                        .and_then(|(x, a)| {
                            let bare = strip_signature(&x);
                            let doc = xml::parse(bare.as_bytes(), &Limits::message())
                                .map_err(|e| e.to_string())?;
                            crate::xmlsec::dsig::sign_element(&doc, doc.root(), &stranger)
                                .map(|x| (x, a))
                                .map_err(|e| e.to_string())
                        })
                }
            };
            let r = match made {
                Err(e) => result(
                    c,
                    Outcome::Skip,
                    format!("could not make the Response: {e}"),
                    vec![],
                ),
                Ok((xml, acs)) => match self.deliver(http, s, &acs, &xml).await {
                    Ok((true, trail)) => result(
                        c,
                        Outcome::Fail,
                        "the broken Response let the person in",
                        vec![Evidence::new(&xml, trail)],
                    ),
                    Ok((false, trail)) => result(
                        c,
                        Outcome::Pass,
                        "refused: nobody was let in",
                        vec![Evidence::new(&xml, trail)],
                    ),
                    Err(e) => result(c, Outcome::Skip, e, vec![]),
                },
            };
            record(r, done);
        }
        Ok(())
    }
}
