//! The auditor's conformance suite: the catalogue (`conformance/checks.toml`, every check of
//! eidas.md §7), a report of what was run against a node — pass, fail or skip with the reason and
//! the evidence (what was sent, what came back) — and its forms: JSON, JUnit XML for CI systems,
//! one self-contained HTML page an auditor can hand over, and a live view in the terminal.
//! The runners are `ps` (a Proxy-Service audited by a test Connector).

pub mod connector;
pub mod ps;

use crate::xml::write::{attr, text};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// One check of the catalogue.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub clause: String,
    pub role: String,
    pub severity: String,
    /// `auto` or `manual`.
    pub run: String,
    pub how: String,
}

#[derive(Deserialize)]
struct Catalogue {
    check: Vec<Check>,
}

/// The catalogue, as shipped in the binary.
pub fn catalogue() -> Vec<Check> {
    toml::from_str::<Catalogue>(include_str!("../../conformance/checks.toml"))
        .map(|c| c.check)
        .unwrap_or_default()
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        }
    }
}

/// One exchange with the node under audit.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Evidence {
    pub sent: String,
    pub received: String,
}

/// Longest text kept as evidence (per side).
const MAX_EVIDENCE: usize = 16 * 1024;

/// Control characters from the target (NUL, ESC …) would make the JUnit file invalid XML and
/// could drive the terminal: they become U+FFFD; line breaks and tabs stay.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

fn clip(s: &str) -> String {
    let s = &printable(s);
    if s.len() <= MAX_EVIDENCE {
        return s.to_string();
    }
    let mut end = MAX_EVIDENCE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes more]", &s[..end], s.len() - end)
}

impl Evidence {
    pub fn new(sent: impl AsRef<str>, received: impl AsRef<str>) -> Self {
        Evidence {
            sent: clip(sent.as_ref()),
            received: clip(received.as_ref()),
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub clause: String,
    pub severity: String,
    pub outcome: Outcome,
    /// Why it passed, failed or was skipped, in a sentence.
    pub reason: String,
    pub evidence: Vec<Evidence>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Report {
    pub tool: String,
    /// `ps` or `connector`.
    pub role: String,
    pub target: String,
    pub started: String,
    pub finished: String,
    pub results: Vec<CheckResult>,
}

impl Report {
    pub fn count(&self, o: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == o).count()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// JUnit XML: one testsuite, a testcase per check; fail → `<failure>`, skip → `<skipped>`.
    pub fn to_junit(&self) -> String {
        let mut o = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"eidas-conformance-{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" timestamp=\"{}\">\n",
            attr(&self.role),
            self.results.len(),
            self.count(Outcome::Fail),
            self.count(Outcome::Skip),
            attr(&self.started)
        );
        for r in &self.results {
            o.push_str(&format!(
                "<testcase classname=\"eidas.{}\" name=\"{} {}\">",
                attr(&self.role),
                attr(&r.id),
                attr(&r.title)
            ));
            match r.outcome {
                Outcome::Pass => {}
                Outcome::Fail => o.push_str(&format!(
                    "<failure message=\"{}\">{}</failure>",
                    attr(&r.reason),
                    text(
                        &r.evidence
                            .iter()
                            .map(|e| format!("sent:\n{}\nreceived:\n{}", e.sent, e.received))
                            .collect::<Vec<_>>()
                            .join("\n\n")
                    )
                )),
                Outcome::Skip => o.push_str(&format!("<skipped message=\"{}\"/>", attr(&r.reason))),
            }
            o.push_str("</testcase>\n");
        }
        o.push_str("</testsuite></testsuites>\n");
        o
    }

    /// One self-contained page: the summary, then each check with its clause, the reason and
    /// the evidence. No script, no external resource.
    pub fn to_html(&self) -> String {
        let mut rows = String::new();
        for r in &self.results {
            let evidence: String = r
                .evidence
                .iter()
                .map(|e| {
                    format!(
                        "<details><summary>evidence</summary><h4>sent</h4><pre>{}</pre><h4>received</h4><pre>{}</pre></details>",
                        text(&e.sent),
                        text(&e.received)
                    )
                })
                .collect();
            rows.push_str(&format!(
                "<tr class=\"{o}\" id=\"{id}\"><td><code>{id}</code></td><td><span class=\"badge {o}\">{o}</span></td><td>{title}<br><small>{clause} · {sev}</small></td><td>{reason}{evidence}</td></tr>\n",
                o = r.outcome.as_str(),
                id = attr(&r.id),
                title = text(&r.title),
                clause = text(&r.clause),
                sev = text(&r.severity),
                reason = text(&r.reason),
            ));
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>eIDAS conformance report — {target}</title><style>\
body{{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1b1b1b;background:#f4f5f7}}\
main{{max-width:72rem;margin:1.5rem auto;padding:1.5rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}}\
h1{{font-size:1.5rem;margin:0 0 .5rem}}table{{border-collapse:collapse;width:100%}}\
table{{table-layout:fixed}}td{{border-bottom:1px solid #e1e3e6;padding:.45rem .4rem;vertical-align:top;overflow-wrap:anywhere}}\
td:nth-child(1){{width:4rem}}td:nth-child(2){{width:4.5rem}}td:nth-child(3){{width:38%}}\
.summary{{display:flex;gap:1rem;margin:1rem 0}}.summary div{{padding:.6rem 1rem;border-radius:.4rem;background:#f0f1f3}}\
.badge{{display:inline-block;min-width:3rem;text-align:center;border-radius:.3rem;padding:.1rem .4rem;font-weight:600}}\
.badge.pass{{background:#d7f0dd;color:#115c24}}.badge.fail{{background:#f8d7da;color:#842029}}.badge.skip{{background:#e9ecef;color:#41464b}}\
pre{{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:.5rem;font-size:12px;max-height:20rem;overflow:auto}}\
small{{color:#555}}</style></head><body><main>\
<h1>eIDAS conformance report</h1>\
<p>Target ({role}): <code>{target}</code><br>Run by {tool}, {started} – {finished}</p>\
<div class=\"summary\"><div><strong>{pass}</strong> passed</div><div><strong>{fail}</strong> failed</div><div><strong>{skip}</strong> skipped</div><div><strong>{total}</strong> checks</div></div>\
<table><tbody>\n{rows}</tbody></table></main></body></html>\n",
            target = text(&self.target),
            role = text(&self.role),
            tool = text(&self.tool),
            started = text(&self.started),
            finished = text(&self.finished),
            pass = self.count(Outcome::Pass),
            fail = self.count(Outcome::Fail),
            skip = self.count(Outcome::Skip),
            total = self.results.len(),
        )
    }
}

/// A report of `role` on `target`: every check of `catalogue` not in `done` becomes a skip —
/// manual checks with their instructions, automated ones with `why` — in catalogue order.
pub(crate) fn complete(
    role: &str,
    target: &str,
    started: String,
    catalogue: &[Check],
    mut done: Vec<CheckResult>,
    why: &str,
    progress: &mut dyn FnMut(&CheckResult),
) -> Report {
    for c in catalogue {
        if done.iter().any(|r| r.id == c.id) {
            continue;
        }
        let reason = if c.run == "manual" {
            format!("manual: {}", c.how)
        } else {
            why.to_string()
        };
        let r = CheckResult {
            id: c.id.clone(),
            title: c.title.clone(),
            clause: c.clause.clone(),
            severity: c.severity.clone(),
            outcome: Outcome::Skip,
            reason: printable(&reason),
            evidence: vec![],
        };
        progress(&r);
        done.push(r);
    }
    done.sort_by(|a, b| a.id.cmp(&b.id));
    Report {
        tool: format!("eidas-node {} conformance", env!("CARGO_PKG_VERSION")),
        role: role.into(),
        target: target.into(),
        started,
        finished: crate::saml::format_instant(time::OffsetDateTime::now_utc()),
        results: done,
    }
}

/// Live progress: a bar on stderr while checks run, then one line per check on stdout.
pub struct Terminal {
    total: usize,
    done: usize,
    bar: bool,
}

impl Terminal {
    pub fn new(total: usize, bar: bool) -> Self {
        Terminal {
            total,
            done: 0,
            bar,
        }
    }

    pub fn step(&mut self, label: &str) {
        if self.bar {
            let width = 30;
            let filled = (self.done * width)
                .checked_div(self.total)
                .unwrap_or(width)
                .min(width);
            let mut err = std::io::stderr();
            let _ = write!(
                err,
                "\r[{}{}] {}/{} {:<40.40}",
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.done,
                self.total,
                label
            );
            let _ = err.flush();
        }
    }

    pub fn finish(&mut self, r: &CheckResult) {
        self.done += 1;
        if self.bar {
            let _ = write!(std::io::stderr(), "\r{:80}\r", "");
        }
        println!(
            "{:<4} {} {} — {}",
            r.outcome.as_str(),
            r.id,
            r.title,
            r.reason
        );
        self.step("");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_every_check_of_the_list_once_with_its_fields() {
        let c = catalogue();
        assert_eq!(c.len(), 147, "eidas.md §7 has 147 checks");
        let mut ids: Vec<&str> = c.iter().map(|x| x.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 147);
        for (n, x) in c.iter().enumerate() {
            assert_eq!(x.id[1..].parse::<usize>().unwrap(), n + 1, "{}", x.id);
            assert!(
                ["ps", "connector", "both"].contains(&x.role.as_str()),
                "{}",
                x.id
            );
            assert!(
                ["must", "should"].contains(&x.severity.as_str()),
                "{}",
                x.id
            );
            assert!(["auto", "manual"].contains(&x.run.as_str()), "{}", x.id);
            assert!(
                !x.title.is_empty() && !x.how.is_empty(),
                "{}: title and how",
                x.id
            );
        }
    }

    #[test]
    fn the_report_forms_escape_what_came_from_the_target() {
        let r = Report {
            tool: "t".into(),
            role: "ps".into(),
            target: "https://x/<md>".into(),
            started: "s".into(),
            finished: "f".into(),
            results: vec![CheckResult {
                id: "E039".into(),
                title: "Unsigned".into(),
                clause: "MF".into(),
                severity: "must".into(),
                outcome: Outcome::Fail,
                reason: "accepted <script>".into(),
                evidence: vec![Evidence::new("<a/>", "</pre><script>alert(1)</script>")],
            }],
        };
        let html = r.to_html();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        let junit = r.to_junit();
        assert!(junit.contains("failures=\"1\"") && !junit.contains("<script>"));
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            printable("a\u{0}b\u{1b}[2Jc\nd"),
            "a\u{FFFD}b\u{FFFD}[2Jc\nd"
        );
        assert!(!Evidence::new("\u{0}", "\u{1b}").received.contains('\u{1b}'));
        assert_eq!(json["results"][0]["outcome"], "fail");
    }
}
