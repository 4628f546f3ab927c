//! A file-backed synthetic population register for the demo and the tests: a TOML file of
//! `[[person]]` entries, each an identity number, names and an optional birth date.
//!
//! It stands in for Folkeregisteret behind the same [`Register`] port, so the flows cannot tell
//! the two apart. Loading is strict, because a typo in a fixture should fail the load rather than
//! quietly turn into a person without a birth date: every identity number is validated (synthetic
//! numbers allowed), duplicates and unknown keys are refused. It must not hold real persons' data
//! in a repository, although it cannot tell a real number from a made-up one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::Date;
use time::macros::format_description;

use super::{IdentityNumber, IdentityNumberError, Person, Register, RegisterFuture};

/// Why a synthetic register file was refused. Entries are named by their position (1-based, in
/// file order), never by their identity number.
#[derive(Debug, thiserror::Error)]
pub enum SyntheticRegisterError {
    #[error("cannot read synthetic register {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("synthetic register is not valid TOML for [[person]] entries: {0}")]
    Syntax(#[from] toml::de::Error),
    #[error("synthetic register person #{entry}: identity number refused: {source}")]
    IdentityNumber {
        entry: usize,
        #[source]
        source: IdentityNumberError,
    },
    #[error("synthetic register person #{entry} has the same identity number as person #{first}")]
    Duplicate { entry: usize, first: usize },
    #[error("synthetic register person #{entry}: birth_date is not a date in YYYY-MM-DD form")]
    BirthDate { entry: usize },
    #[error("synthetic register person #{entry}: {field} is empty")]
    EmptyName { entry: usize, field: &'static str },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    person: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    given_names: String,
    family_name: String,
    /// Absent for a person whose register entry has no full birth date (norway.md §3).
    birth_date: Option<String>,
}

/// Persons held in memory, in file order, with an index by identity number.
#[derive(Default)]
pub struct SyntheticRegister {
    persons: Vec<(IdentityNumber, Person)>,
    index: HashMap<IdentityNumber, usize>,
}

impl SyntheticRegister {
    /// Reads and validates a register file. A file read at start-up, so plain blocking I/O.
    pub fn load(path: &Path) -> Result<Self, SyntheticRegisterError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| SyntheticRegisterError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        Self::from_toml_str(&text)
    }

    /// Parses and validates register text:
    ///
    /// ```toml
    /// [[person]]
    /// id = "15838512329"
    /// given_names = "Vakker Rask"
    /// family_name = "Blomst"
    /// birth_date = "1985-03-15"   # absent when the register has no full birth date
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Self, SyntheticRegisterError> {
        let file: File = toml::from_str(text)?;
        let mut register = SyntheticRegister::default();
        for (i, entry) in file.person.into_iter().enumerate() {
            let position = i + 1;
            let number = IdentityNumber::parse(&entry.id, true).map_err(|source| {
                SyntheticRegisterError::IdentityNumber {
                    entry: position,
                    source,
                }
            })?;
            if let Some(&first) = register.index.get(&number) {
                return Err(SyntheticRegisterError::Duplicate {
                    entry: position,
                    first: first + 1,
                });
            }
            for (field, value) in [
                ("given_names", &entry.given_names),
                ("family_name", &entry.family_name),
            ] {
                if value.trim().is_empty() {
                    return Err(SyntheticRegisterError::EmptyName {
                        entry: position,
                        field,
                    });
                }
            }
            let birth_date = entry
                .birth_date
                .as_deref()
                .map(|s| {
                    Date::parse(s, format_description!("[year]-[month]-[day]"))
                        .map_err(|_| SyntheticRegisterError::BirthDate { entry: position })
                })
                .transpose()?;
            register
                .index
                .insert(number.clone(), register.persons.len());
            register.persons.push((
                number,
                Person {
                    given_names: entry.given_names,
                    family_name: entry.family_name,
                    birth_date,
                },
            ));
        }
        Ok(register)
    }

    /// Every person, in file order: for a test login page that lets one pick a person.
    pub fn persons(&self) -> impl Iterator<Item = (&IdentityNumber, &Person)> {
        self.persons.iter().map(|(n, p)| (n, p))
    }

    pub fn len(&self) -> usize {
        self.persons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }

    /// The person with this number, synchronously (the [`Register`] impl wraps this).
    pub fn get(&self, number: &IdentityNumber) -> Option<&Person> {
        let &i = self.index.get(number)?;
        self.persons.get(i).map(|(_, p)| p)
    }
}

impl Register for SyntheticRegister {
    fn lookup<'a>(&'a self, number: &'a IdentityNumber) -> RegisterFuture<'a, Option<Person>> {
        Box::pin(async move { Ok(self.get(number).cloned()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{Kind, RegisterError};
    use std::task::{Context, Poll, Waker};
    use time::macros::date;

    const TESTDATA: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/register/testdata/synthetic-register.toml"
    );

    /// The synthetic register's futures are ready at once; poll once instead of starting a
    /// runtime.
    fn ready<T>(fut: RegisterFuture<'_, T>) -> Result<T, RegisterError> {
        let mut fut = fut;
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => r,
            Poll::Pending => panic!("synthetic register lookup did not complete at once"),
        }
    }

    fn number(s: &str) -> IdentityNumber {
        IdentityNumber::parse(s, true).unwrap()
    }

    fn load_testdata() -> SyntheticRegister {
        SyntheticRegister::load(Path::new(TESTDATA)).unwrap()
    }

    #[test]
    fn testdata_register_loads_every_person() {
        let r = load_testdata();
        assert_eq!(r.len(), 5);
        assert!(r.persons().all(|(n, _)| n.is_synthetic()));
    }

    #[test]
    fn lookup_finds_name_and_birth_date() {
        let r = load_testdata();
        let p = ready(r.lookup(&number("15838512329"))).unwrap().unwrap();
        assert_eq!(p.given_names, "Vakker Rask");
        assert_eq!(p.family_name, "Blomst");
        assert_eq!(p.birth_date, Some(date!(1985 - 03 - 15)));
    }

    #[test]
    fn lookup_keeps_norwegian_letters() {
        let r = load_testdata();
        let p = ready(r.lookup(&number("01912451204"))).unwrap().unwrap();
        assert_eq!(p.given_names, "Blid");
        assert_eq!(p.family_name, "Ærfugl Østmo");
    }

    #[test]
    fn lookup_reports_missing_birth_date_as_none() {
        let r = load_testdata();
        let n = number("41814061033");
        assert_eq!(n.kind(), Kind::DNummer);
        let p = ready(r.lookup(&n)).unwrap().unwrap();
        assert_eq!(p.birth_date, None);
    }

    #[test]
    fn lookup_of_unknown_person_is_none_not_an_error() {
        let r = load_testdata();
        assert_eq!(ready(r.lookup(&number("41814065640"))), Ok(None));
    }

    #[test]
    fn testdata_birth_dates_agree_with_the_numbers_where_they_can_be_read() {
        for (n, p) in load_testdata().persons() {
            if let Some(derived) = n.derived_birth_date() {
                assert_eq!(p.birth_date, Some(derived), "{n:?}");
            }
        }
    }

    #[test]
    fn refuses_invalid_identity_number_naming_the_entry() {
        let text = r#"
            [[person]]
            id = "15838512329"
            given_names = "A"
            family_name = "B"
            [[person]]
            id = "15838512328"
            given_names = "C"
            family_name = "D"
        "#;
        let e = SyntheticRegister::from_toml_str(text).err().unwrap();
        assert!(matches!(
            e,
            SyntheticRegisterError::IdentityNumber {
                entry: 2,
                source: IdentityNumberError::CheckDigit2
            }
        ));
        assert!(!e.to_string().contains("15838512328"), "{e}");
    }

    #[test]
    fn refuses_h_nummer_even_in_a_synthetic_register() {
        let text = r#"
            [[person]]
            id = "15438512346"
            given_names = "A"
            family_name = "B"
        "#;
        assert!(matches!(
            SyntheticRegister::from_toml_str(text),
            Err(SyntheticRegisterError::IdentityNumber {
                entry: 1,
                source: IdentityNumberError::HNummer
            })
        ));
    }

    #[test]
    fn refuses_duplicate_identity_numbers() {
        let text = r#"
            [[person]]
            id = "23906398699"
            given_names = "A"
            family_name = "B"
            [[person]]
            id = "15838512329"
            given_names = "C"
            family_name = "D"
            [[person]]
            id = "23906398699"
            given_names = "E"
            family_name = "F"
        "#;
        assert!(matches!(
            SyntheticRegister::from_toml_str(text),
            Err(SyntheticRegisterError::Duplicate { entry: 3, first: 1 })
        ));
    }

    #[test]
    fn refuses_birth_date_not_in_yyyy_mm_dd_form() {
        for bad in [
            "1963-10-32",
            "23.10.1963",
            "1963-1-23",
            "1963-10-23T00:00:00",
            "",
        ] {
            let text = format!(
                "[[person]]\nid = \"23906398699\"\ngiven_names = \"A\"\nfamily_name = \"B\"\nbirth_date = \"{bad}\"\n"
            );
            assert!(
                matches!(
                    SyntheticRegister::from_toml_str(&text),
                    Err(SyntheticRegisterError::BirthDate { entry: 1 })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_unknown_keys_so_a_misspelt_birth_date_is_not_silently_absent() {
        let text = r#"
            [[person]]
            id = "23906398699"
            given_names = "A"
            family_name = "B"
            birthdate = "1963-10-23"
        "#;
        assert!(matches!(
            SyntheticRegister::from_toml_str(text),
            Err(SyntheticRegisterError::Syntax(_))
        ));
    }

    #[test]
    fn refuses_missing_names_and_empty_names() {
        let missing = "[[person]]\nid = \"23906398699\"\ngiven_names = \"A\"\n";
        assert!(matches!(
            SyntheticRegister::from_toml_str(missing),
            Err(SyntheticRegisterError::Syntax(_))
        ));
        let empty = "[[person]]\nid = \"23906398699\"\ngiven_names = \" \"\nfamily_name = \"B\"\n";
        assert!(matches!(
            SyntheticRegister::from_toml_str(empty),
            Err(SyntheticRegisterError::EmptyName {
                entry: 1,
                field: "given_names"
            })
        ));
    }

    #[test]
    fn empty_file_is_an_empty_register() {
        let r = SyntheticRegister::from_toml_str("").unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = SyntheticRegister::load(Path::new("/nonexistent/register.toml"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/register.toml"), "{e}");
    }
}
