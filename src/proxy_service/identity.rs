//! From "ID-porten says this is person `pid` at level X" to the eIDAS attributes a Connector
//! asked for: the PersonIdentifier in the configured mode, and the minimum data set (given
//! names, family name, date of birth) from the ID token when it carries them, otherwise from the
//! population register.
//!
//! The birth date comes from the register's `foedselsdato`, never from the identity number:
//! D-numbers may encode a registration date, and numbers issued from 2032 encode no century
//! (norway.md §4). A person whose register entry has no birth date cannot be given the
//! mandatory DateOfBirth, and the Connector receives `InvalidAttrNameOrValue` with that reason
//! — not an invented date.

use crate::eidas::attributes as attr;
use crate::light::{Attribute, Authenticated, Failure};
use crate::oidc::client::Authenticated as IdPortenLogin;
use crate::register::{IdentifierMode, IdentityNumber, Register};
use time::OffsetDateTime;

/// An attribute the Connector asked for.
#[derive(Clone, Debug)]
pub struct Wanted {
    pub name: String,
    pub required: bool,
}

/// Why no identity can be sent, with the reason for the log and the status message (no personal
/// data in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoIdentity {
    pub failure: Failure,
    pub reason: String,
}

fn fail(failure: Failure, reason: &str) -> NoIdentity {
    NoIdentity {
        failure,
        reason: reason.to_string(),
    }
}

/// What the node supplies for a natural person.
pub const SUPPLIED: [&str; 4] = [
    attr::PERSON_IDENTIFIER,
    attr::CURRENT_GIVEN_NAME,
    attr::CURRENT_FAMILY_NAME,
    attr::DATE_OF_BIRTH,
];

/// Build the identity for the Response.
pub async fn identity(
    login: &IdPortenLogin,
    wanted: &[Wanted],
    receiving_country: &str,
    mode: &IdentifierMode,
    register: &dyn Register,
    accept_synthetic: bool,
    now: OffsetDateTime,
) -> Result<Authenticated, NoIdentity> {
    if let Some(w) = wanted
        .iter()
        .find(|w| w.required && !SUPPLIED.contains(&w.name.as_str()))
    {
        return Err(NoIdentity {
            failure: Failure::AttributeUnavailable,
            reason: format!("required attribute {} cannot be supplied", w.name),
        });
    }
    let pid = login
        .pid
        .as_deref()
        .ok_or_else(|| fail(Failure::AuthnFailed, "the ID token carries no pid"))?;
    let number = IdentityNumber::parse(pid, accept_synthetic).map_err(|e| NoIdentity {
        failure: Failure::AuthnFailed,
        reason: format!("the ID token's pid is not accepted: {e}"),
    })?;
    let pi = mode
        .person_identifier(receiving_country, &number)
        .map_err(|e| NoIdentity {
            failure: Failure::Internal,
            reason: format!("PersonIdentifier: {e}"),
        })?;

    let from_token = match (&login.given_name, &login.family_name, &login.birthdate) {
        (Some(g), Some(f), Some(b)) => parse_date(b).map(|d| (g.clone(), f.clone(), Some(d))),
        _ => None,
    };
    let (given, family, birth) = match from_token {
        Some(x) => x,
        None => {
            let person = register.lookup(&number).await.map_err(|e| NoIdentity {
                failure: Failure::Internal,
                reason: e.to_string(),
            })?;
            let p = person.ok_or_else(|| {
                fail(
                    Failure::AttributeUnavailable,
                    "the population register has no entry for the person",
                )
            })?;
            (p.given_names, p.family_name, p.birth_date)
        }
    };
    let birth = birth.ok_or_else(|| {
        fail(
            Failure::AttributeUnavailable,
            "the population register holds no full birth date for the person; \
             DateOfBirth cannot be supplied",
        )
    })?;
    if given.trim().is_empty() || family.trim().is_empty() {
        return Err(fail(
            Failure::AttributeUnavailable,
            "the population register holds no current name for the person",
        ));
    }
    let date = format!(
        "{:04}-{:02}-{:02}",
        birth.year(),
        u8::from(birth.month()),
        birth.day()
    );
    // The minimum data set always goes, whether asked for or not (eIDAS SAML Attribute Profile
    // §2.2: the MDS is mandatory in every natural-person Response).
    let attributes = vec![
        Attribute {
            name: attr::PERSON_IDENTIFIER.into(),
            values: vec![pi.to_string()],
        },
        Attribute {
            name: attr::CURRENT_FAMILY_NAME.into(),
            values: vec![family],
        },
        Attribute {
            name: attr::CURRENT_GIVEN_NAME.into(),
            values: vec![given],
        },
        Attribute {
            name: attr::DATE_OF_BIRTH.into(),
            values: vec![date],
        },
    ];
    Ok(Authenticated {
        person_identifier: pi.to_string(),
        attributes,
        loa: login.level.clone(),
        authn_instant: now,
    })
}

fn parse_date(s: &str) -> Option<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eidas::loa::{Level, LevelOfAssurance};
    use crate::register::RegisterError;
    use crate::register::SyntheticRegister;

    fn login(pid: &str) -> IdPortenLogin {
        IdPortenLogin {
            pid: Some(pid.into()),
            sub: "s".into(),
            level: LevelOfAssurance::Notified(Level::High),
            acr: "idporten-loa-high".into(),
            given_name: None,
            family_name: None,
            birthdate: None,
            claims: Default::default(),
        }
    }

    fn register() -> SyntheticRegister {
        SyntheticRegister::from_toml_str(include_str!(
            "../register/testdata/synthetic-register.toml"
        ))
        .unwrap()
    }

    fn mds() -> Vec<Wanted> {
        SUPPLIED
            .iter()
            .map(|n| Wanted {
                name: n.to_string(),
                required: true,
            })
            .collect()
    }

    fn value<'a>(a: &'a Authenticated, name: &str) -> &'a str {
        &a.attributes.iter().find(|x| x.name == name).unwrap().values[0]
    }

    async fn run(
        l: &IdPortenLogin,
        wanted: &[Wanted],
        r: &dyn Register,
    ) -> Result<Authenticated, NoIdentity> {
        identity(
            l,
            wanted,
            "SE",
            &IdentifierMode::IdentityNumber,
            r,
            true,
            OffsetDateTime::UNIX_EPOCH,
        )
        .await
    }

    #[tokio::test]
    async fn names_and_birth_date_come_from_the_register_when_the_token_lacks_them() {
        let a = run(&login("01912451204"), &mds(), &register())
            .await
            .unwrap();
        assert_eq!(a.person_identifier, "NO/SE/01912451204");
        assert_eq!(value(&a, attr::CURRENT_GIVEN_NAME), "Blid");
        assert_eq!(value(&a, attr::CURRENT_FAMILY_NAME), "Ærfugl Østmo");
        assert_eq!(value(&a, attr::DATE_OF_BIRTH), "2024-11-01");
        assert_eq!(a.loa, LevelOfAssurance::Notified(Level::High));
    }

    #[tokio::test]
    async fn a_token_with_the_whole_mds_needs_no_register() {
        struct Down;
        impl Register for Down {
            fn lookup<'a>(
                &'a self,
                _: &'a IdentityNumber,
            ) -> crate::register::RegisterFuture<'a, Option<crate::register::Person>> {
                Box::pin(async {
                    Err(RegisterError::Unavailable {
                        reason: "down".into(),
                    })
                })
            }
        }
        let mut l = login("15838512329");
        l.given_name = Some("Token".into());
        l.family_name = Some("Navn".into());
        l.birthdate = Some("1985-03-15".into());
        let a = run(&l, &mds(), &Down).await.unwrap();
        assert_eq!(value(&a, attr::CURRENT_GIVEN_NAME), "Token");
        // Without the names in the token the register is needed, and its failure is ours.
        let e = run(&login("15838512329"), &mds(), &Down).await.unwrap_err();
        assert_eq!(e.failure, Failure::Internal);
        assert!(e.reason.contains("unavailable"), "{}", e.reason);
    }

    #[tokio::test]
    async fn a_person_without_a_birth_date_gets_a_clear_refusal_not_an_invented_date() {
        let e = run(&login("41814061033"), &mds(), &register())
            .await
            .unwrap_err();
        assert_eq!(e.failure, Failure::AttributeUnavailable);
        assert!(e.reason.contains("no full birth date"), "{}", e.reason);
        assert!(
            !e.reason.contains("41814061033"),
            "no personal data in reasons"
        );
    }

    #[tokio::test]
    async fn unknown_people_bad_pids_and_unsuppliable_required_attributes_are_refused() {
        let e = run(&login("23079421936"), &mds(), &register())
            .await
            .unwrap_err();
        assert_eq!(e.failure, Failure::AttributeUnavailable);
        let e = run(&login("12345678901"), &mds(), &register())
            .await
            .unwrap_err();
        assert_eq!(e.failure, Failure::AuthnFailed);
        let mut no_pid = login("x");
        no_pid.pid = None;
        assert_eq!(
            run(&no_pid, &mds(), &register()).await.unwrap_err().failure,
            Failure::AuthnFailed
        );
        let mut w = mds();
        w.push(Wanted {
            name: attr::CURRENT_ADDRESS.into(),
            required: true,
        });
        let e = run(&login("15838512329"), &w, &register())
            .await
            .unwrap_err();
        assert_eq!(e.failure, Failure::AttributeUnavailable);
        // The same address merely wished for is left out, and the MDS is sent.
        w.last_mut().unwrap().required = false;
        let a = run(&login("15838512329"), &w, &register()).await.unwrap();
        assert_eq!(a.attributes.len(), 4);
    }

    #[tokio::test]
    async fn synthetic_numbers_only_when_enabled() {
        let l = login("15838512329");
        let e = identity(
            &l,
            &mds(),
            "SE",
            &IdentifierMode::IdentityNumber,
            &register(),
            false,
            OffsetDateTime::UNIX_EPOCH,
        )
        .await
        .unwrap_err();
        assert_eq!(e.failure, Failure::AuthnFailed);
        assert!(e.reason.contains("synthetic"), "{}", e.reason);
    }
}
