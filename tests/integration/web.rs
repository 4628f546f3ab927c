//! The HTTP edge as a browser or a peer meets it: `eidas-node demo` started for real on a free
//! loopback port, its metadata and health endpoints fetched over HTTP, security headers present.

use crate::common::{eidas_node, stdout, tmp};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the demo and return it with its base URL (read from its banner).
fn start_demo(dir: &std::path::Path) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eidas-node"))
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start demo");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let first = lines.next().expect("banner").expect("banner line");
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("base URL in the banner")
        .to_string();
    // Keep reading the rest of the banner so the pipe never fills.
    std::thread::spawn(move || for _ in lines {});
    (Running(child), base)
}

#[tokio::test]
async fn the_demo_publishes_signed_metadata_for_both_roles_and_answers_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (_demo, base) = start_demo(dir.path());
    let client = reqwest::Client::new();
    for (path, descriptor) in [
        ("/ps/metadata", "IDPSSODescriptor"),
        ("/connector/metadata", "SPSSODescriptor"),
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/samlmetadata+xml");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        let body = r.text().await.unwrap();
        assert!(body.contains(descriptor) && body.contains(&format!("entityID=\"{base}{path}\"")));
        // It verifies with the demo's signing certificate; the only finding is the plain-HTTP
        // entityID a loopback demo must have.
        let file = tmp(&format!("demo{}.xml", path.replace('/', "-")), &body);
        let anchor = dir.path().join("keys/signing/cert.pem");
        let o = eidas_node(&[
            "metadata",
            "verify",
            "--trust-anchor",
            &anchor.to_string_lossy(),
            &file.to_string_lossy(),
        ]);
        let out = stdout(&o);
        assert!(
            out.contains("signature: verified with a trust anchor"),
            "{out}"
        );
        let ids: Vec<&str> = out
            .lines()
            .filter(|l| l.contains(" ["))
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert!(
            ids.iter()
                .all(|i| *i == "MD-ENTITYID" || i.ends_with("-SSO") || i.ends_with("-ACS")),
            "{out}"
        );
    }
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok\n"
    );
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ready\n"
    );
    assert_eq!(
        client
            .get(format!("{base}/nothing-here"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn the_demo_keeps_its_keys_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let (_demo, _) = start_demo(dir.path());
        std::fs::read(dir.path().join("keys/signing/key.pem")).unwrap()
    };
    let (_demo, base) = start_demo(dir.path());
    assert_eq!(
        std::fs::read(dir.path().join("keys/signing/key.pem")).unwrap(),
        first
    );
    let r = reqwest::get(format!("{base}/ps/metadata")).await.unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn the_demo_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_eidas-node"))
        .args(["demo", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("loopback only"));
}

fn input<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + name.len()
        + 15;
    html[at..].split('"').next().unwrap()
}

fn action(html: &str) -> &str {
    let at = html.find("action=\"").expect("a form") + 8;
    html[at..].split('"').next().unwrap()
}

/// What a person does in the browser: XE's service → our Proxy-Service → the test ID-porten →
/// our consent page → back at XE, which shows what it decrypted. Every hop over real HTTP to
/// the running demo.
#[tokio::test]
async fn the_demo_lets_a_person_log_in_to_the_xe_service_with_a_norwegian_test_eid() {
    let dir = tempfile::tempdir().unwrap();
    let (_demo, base) = start_demo(dir.path());
    let b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (binding, loa, pid) in [
        ("post", "substantial", "15838512329"),
        ("redirect", "high", "01912451204"),
    ] {
        let start = b.get(format!("{base}/xe")).send().await.unwrap();
        assert_eq!(start.status(), 200);
        let html = start.text().await.unwrap();
        assert!(html.contains("Log in with a Norwegian eID"));
        let r = b
            .post(action(&html))
            .form(&[("loa", loa), ("binding", binding)])
            .send()
            .await
            .unwrap();
        let to_node = if binding == "post" {
            let html = r.text().await.unwrap();
            assert_eq!(action(&html), format!("{base}/ps/sso"));
            b.post(action(&html))
                .form(&[("SAMLRequest", input(&html, "SAMLRequest"))])
                .send()
                .await
                .unwrap()
        } else {
            assert_eq!(r.status(), 303);
            let loc = r.headers()["location"].to_str().unwrap().to_string();
            assert!(
                loc.starts_with(&format!("{base}/ps/sso?SAMLRequest=")),
                "{loc}"
            );
            b.get(loc).send().await.unwrap()
        };
        assert_eq!(to_node.status(), 303, "{:?}", to_node.text().await);
        let idp = to_node.headers()["location"].to_str().unwrap().to_string();
        assert!(
            idp.starts_with(&format!("{base}/test-idporten/authorize?")),
            "{idp}"
        );
        let html = b.get(&idp).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Not ID-porten") && html.contains(pid));
        let back = b
            .post(action(&html))
            .form(&[
                ("request_uri", input(&html, "request_uri")),
                ("pid", pid),
                ("acr", &format!("idporten-loa-{loa}")),
                ("action", "login"),
            ])
            .send()
            .await
            .unwrap();
        let callback = back.headers()["location"].to_str().unwrap().to_string();
        assert!(callback.starts_with(&format!("{base}/ps/callback?")));
        let consent = b.get(&callback).send().await.unwrap().text().await.unwrap();
        assert!(
            consent.contains("Sende opplysningene dine?")
                && consent.contains("Tjenesten «XE demo service» i XE"),
            "{consent}"
        );
        let to_xe = b
            .post(format!("{base}{}", action(&consent)))
            .form(&[("flow", input(&consent, "flow")), ("action", "approve")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(action(&to_xe), format!("{base}/xe/acs"));
        let shown = b
            .post(action(&to_xe))
            .form(&[("SAMLResponse", input(&to_xe, "SAMLResponse"))])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(shown.contains("Logged in"), "{shown}");
        assert!(shown.contains("Every Connector rule holds"), "{shown}");
        assert!(shown.contains(&format!("NO/XE/{pid}")), "{shown}");
        assert!(
            shown.contains(&format!("http://eidas.europa.eu/LoA/{loa}")),
            "{shown}"
        );
    }
}

/// The reverse flow in the running demo: the demo Norwegian service → our OpenID provider → the
/// country page → XE's Proxy-Service and its test person → back at the service, which shows the
/// claims of the ID token it validated (matched to a synthetic Norwegian number). Then once
/// more, cancelling at XE.
#[tokio::test]
async fn the_demo_lets_a_european_log_in_to_the_norwegian_service() {
    let dir = tempfile::tempdir().unwrap();
    let (_demo, base) = start_demo(dir.path());
    let b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (loa, action_at_xe) in [("high", "login"), ("substantial", "cancel")] {
        let html = b
            .get(format!("{base}/rp"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("Log in with a European eID"), "{html}");
        let r = b
            .post(action(&html))
            .form(&[("loa", loa)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let authorize = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            authorize.starts_with(&format!("{base}/oidc/authorize?")),
            "{authorize}"
        );
        let r = b.get(&authorize).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let countries = r.headers()["location"].to_str().unwrap().to_string();
        let page = b
            .get(format!("{base}{countries}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Choose the country of your eID") && page.contains("XE (demo country)"),
            "{page}"
        );
        assert!(page.contains("action=\"/connector/select\""));
        let to_xe = b
            .post(format!("{base}/connector/select"))
            .form(&[("session", input(&page, "session")), ("country", "XE")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(action(&to_xe), format!("{base}/xe/ps/sso"));
        let login = b
            .post(action(&to_xe))
            .form(&[("SAMLRequest", input(&to_xe, "SAMLRequest"))])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(login.contains("Demo country XE"), "{login}");
        let back = b
            .post(action(&login))
            .form(&[
                ("ticket", input(&login, "ticket")),
                ("person", "0"),
                ("level", loa),
                ("action", action_at_xe),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(action(&back), format!("{base}/connector/acs"));
        let r = b
            .post(action(&back))
            .form(&[("SAMLResponse", input(&back, "SAMLResponse"))])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let callback = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            callback.starts_with(&format!("{base}/rp/callback?")),
            "{callback}"
        );
        let shown = b.get(&callback).send().await.unwrap().text().await.unwrap();
        if action_at_xe == "login" {
            assert!(shown.contains("Logged in"), "{shown}");
            for claim in [
                "XE/NO/XE-1001",
                "eidas-loa-high",
                "Javier",
                "García López",
                "1990-04-12",
                "15838512329",
                "Xeville",
            ] {
                assert!(shown.contains(claim), "{claim} in {shown}");
            }
        } else {
            assert!(
                shown.contains("Not logged in") && shown.contains("access_denied"),
                "{shown}"
            );
        }
    }
}

#[test]
fn the_demo_refuses_trust_options_it_cannot_write_safely() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("c.pem");
    std::fs::write(&cert, "x").unwrap();
    let c = cert.display();
    for (spec, why) in [
        ("XC".to_string(), "give COUNTRY,METADATA_URL,CERT_PEM"),
        (
            format!("xc,http://127.0.0.1:1/metadata,{c}"),
            "two-letter country code",
        ),
        (
            format!("XC,http://127.0.0.1:1/m\"eta,{c}"),
            "not a metadata URL",
        ),
        (
            format!("XC,ftp://example/metadata,{c}"),
            "not a metadata URL",
        ),
        (
            "XC,http://127.0.0.1:1/metadata,/no/such.pem".to_string(),
            "cannot read",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_eidas-node"))
            .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("demo"))
            .args(["--trust-connector", &spec])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{spec}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(why),
            "{spec}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
