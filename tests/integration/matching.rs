//! Identity matching against a stand-in for Folkeregisteret's eIDAS search gateway, served over
//! real HTTP: the query Digdir's connector sends (foreign id, birth date YYYYMMDD, ISO alpha-3
//! country), a match, each kind of "no match", and a gateway that fails or is too slow.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use eidas_node::connector::matching::{FregGateway, IdentityMatcher, MatchError, MatchQuery};
use std::collections::HashMap;
use std::time::Duration;
use time::macros::date;

async fn gateway(Query(q): Query<HashMap<String, String>>) -> axum::response::Response {
    // The query as Digdir's connector sends it; anything else is a test failure (418).
    let (Some(id), Some(dob), Some(land)) = (
        q.get("utenlandskPersonIdentifikasjon"),
        q.get("foedselsdato"),
        q.get("landkode"),
    ) else {
        return StatusCode::IM_A_TEAPOT.into_response();
    };
    if dob != "19900412" || land != "SWE" {
        return StatusCode::IM_A_TEAPOT.into_response();
    }
    match id.as_str() {
        "match" => (StatusCode::OK, "15838512329").into_response(),
        "quoted" => (StatusCode::OK, "\"15838512329\"\n").into_response(),
        "none-204" => StatusCode::NO_CONTENT.into_response(),
        "none-404" => StatusCode::NOT_FOUND.into_response(),
        "bad-format" => (
            StatusCode::BAD_REQUEST,
            r#"{"kode":"FREG-001","melding":"UtenlandskPersonidentifikasjon er ikke på gyldig format"}"#,
        )
            .into_response(),
        "other-400" => (StatusCode::BAD_REQUEST, "something else").into_response(),
        "broken" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "not-a-number" => (StatusCode::OK, "12345").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            (StatusCode::OK, "15838512329").into_response()
        }
        _ => StatusCode::IM_A_TEAPOT.into_response(),
    }
}

fn q(id: &str) -> MatchQuery {
    MatchQuery {
        person_identifier: format!("SE/NO/{id}"),
        country: "SE".into(),
        date_of_birth: Some(date!(1990 - 04 - 12)),
    }
}

#[tokio::test]
async fn the_gateway_is_asked_as_digdir_asks_it_and_each_answer_is_read_right() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let app = axum::Router::new().route("/eidas/entydig", axum::routing::get(gateway));
    tokio::spawn(async move { axum::serve(l, app).await });
    let g = FregGateway::new(&url, Duration::from_secs(1), true, &[], true).unwrap();
    for id in ["match", "quoted"] {
        let n = g.find(&q(id)).await.unwrap().expect(id);
        assert_eq!(n.as_str(), "15838512329");
    }
    for id in ["none-204", "none-404", "bad-format"] {
        assert_eq!(g.find(&q(id)).await.unwrap(), None, "{id}: no match");
    }
    for id in ["other-400", "broken", "slow"] {
        assert!(
            matches!(g.find(&q(id)).await, Err(MatchError::Unavailable(_))),
            "{id}: the matcher failed"
        );
    }
    assert!(matches!(
        g.find(&q("not-a-number")).await,
        Err(MatchError::Invalid(_))
    ));
    // A synthetic number where only real ones are accepted is not used.
    let strict = FregGateway::new(&url, Duration::from_secs(1), true, &[], false).unwrap();
    assert!(matches!(
        strict.find(&q("match")).await,
        Err(MatchError::Invalid(_))
    ));
    // Without a birth date, or for a country with no alpha-3 code, nothing is asked.
    let mut no_dob = q("match");
    no_dob.date_of_birth = None;
    assert_eq!(g.find(&no_dob).await.unwrap(), None);
    let mut unknown = q("match");
    unknown.country = "QQ".into();
    assert_eq!(g.find(&unknown).await.unwrap(), None);
    // Plain http to anything but loopback is refused when the client is made for production.
    assert!(
        FregGateway::new(
            "http://freg.example",
            Duration::from_secs(1),
            false,
            &[],
            false
        )
        .unwrap()
        .find(&q("match"))
        .await
        .is_err()
    );
}
