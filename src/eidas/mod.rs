//! The eIDAS profile (eidas.md §1.2, §2, §5): the attribute registry and its value codecs,
//! Levels of Assurance, SPType, PersonIdentifier and NameID formats — pure data and pure functions
//! over values the `saml` layer has extracted from a verified message. No I/O, no clock, and no
//! XML beyond the base64 address fragment. The rules applied to whole AuthnRequests and
//! Responses, each with its conformance id, build on these types.

pub mod attributes;
pub mod loa;
pub mod nameid;
pub mod person_identifier;
pub mod rules;
pub mod sp_type;
