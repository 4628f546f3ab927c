//! The eIDAS SAML Attribute Profile (eidas.md §2): the registry of natural-person, legal-person
//! and representative attributes, and the codecs for their values — DateOfBirth, Gender, country
//! codes, identifiers, the base64 CurrentAddress fragment and LatinScript pairs.
//!
//! Attributes are looked up by Name URI, never by FriendlyName (several FriendlyNames differ from
//! their Name). Values here are personal data: no error carries a value, because errors reach
//! logs. No I/O, no clock.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::{Date, Month};

use super::person_identifier::{PersonIdentifier, PersonIdentifierError, is_country_code};
use crate::xml::{self, Limits, NodeKind, NsDecl, XmlError};

/// Namespace of natural-person attribute names and value types.
pub const NATURAL_PERSON_NS: &str = "http://eidas.europa.eu/attributes/naturalperson";
/// Namespace of legal-person attribute names and value types.
pub const LEGAL_PERSON_NS: &str = "http://eidas.europa.eu/attributes/legalperson";
/// Namespace of the natural-person representative's attributes.
pub const REPRESENTATIVE_NATURAL_PERSON_NS: &str =
    "http://eidas.europa.eu/attributes/naturalperson/representative";
/// Namespace of the legal-person representative's attributes.
pub const REPRESENTATIVE_LEGAL_PERSON_NS: &str =
    "http://eidas.europa.eu/attributes/legalperson/representative";
/// The eIDAS SAML extensions (SPType, RequestedAttributes, NodeCountry).
pub const SAML_EXTENSIONS_NS: &str = "http://eidas.europa.eu/saml-extensions";
/// The one `NameFormat` eIDAS attributes use.
pub const NAME_FORMAT_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
/// Local name of the `LatinScript` attribute on an AttributeValue, in the person-type namespace.
pub const LATIN_SCRIPT: &str = "LatinScript";

/// Name of the natural person's PersonIdentifier (MDS).
pub const PERSON_IDENTIFIER: &str =
    "http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier";
/// Name of the natural person's current family name (MDS).
pub const CURRENT_FAMILY_NAME: &str =
    "http://eidas.europa.eu/attributes/naturalperson/CurrentFamilyName";
/// Name of the natural person's current given name (MDS).
pub const CURRENT_GIVEN_NAME: &str =
    "http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName";
/// Name of the natural person's date of birth (MDS).
pub const DATE_OF_BIRTH: &str = "http://eidas.europa.eu/attributes/naturalperson/DateOfBirth";
/// Name of the natural person's current address.
pub const CURRENT_ADDRESS: &str = "http://eidas.europa.eu/attributes/naturalperson/CurrentAddress";
/// Name of the LegalPersonIdentifier (MDS).
pub const LEGAL_PERSON_IDENTIFIER: &str =
    "http://eidas.europa.eu/attributes/legalperson/LegalPersonIdentifier";
/// Name of the legal name (MDS).
pub const LEGAL_NAME: &str = "http://eidas.europa.eu/attributes/legalperson/LegalName";
/// Name of the natural-person representative's PersonIdentifier.
pub const REPRESENTATIVE_PERSON_IDENTIFIER: &str =
    "http://eidas.europa.eu/attributes/naturalperson/representative/PersonIdentifier";
/// Name of the legal-person representative's LegalPersonIdentifier.
pub const REPRESENTATIVE_LEGAL_PERSON_IDENTIFIER: &str =
    "http://eidas.europa.eu/attributes/legalperson/representative/LegalPersonIdentifier";

/// Whose data an attribute describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PersonType {
    NaturalPerson,
    LegalPerson,
    RepresentativeNaturalPerson,
    RepresentativeLegalPerson,
}

impl PersonType {
    /// All four.
    pub const ALL: [PersonType; 4] = [
        PersonType::NaturalPerson,
        PersonType::LegalPerson,
        PersonType::RepresentativeNaturalPerson,
        PersonType::RepresentativeLegalPerson,
    ];

    /// The namespace of this person type's attribute names and value types.
    pub const fn namespace(self) -> &'static str {
        match self {
            PersonType::NaturalPerson => NATURAL_PERSON_NS,
            PersonType::LegalPerson => LEGAL_PERSON_NS,
            PersonType::RepresentativeNaturalPerson => REPRESENTATIVE_NATURAL_PERSON_NS,
            PersonType::RepresentativeLegalPerson => REPRESENTATIVE_LEGAL_PERSON_NS,
        }
    }

    /// The prefix the EC node binds to [`Self::namespace`]; prefixes are not normative, but the
    /// CurrentAddress fragment is written with this one (see [`Address::encode`]).
    pub const fn prefix(self) -> &'static str {
        match self {
            PersonType::NaturalPerson => "eidas-natural",
            PersonType::LegalPerson => "eidas-legal",
            PersonType::RepresentativeNaturalPerson => "eidas-natural-representative",
            PersonType::RepresentativeLegalPerson => "eidas-legal-representative",
        }
    }

    /// Every attribute of this person type, in registry order.
    pub fn attributes(self) -> &'static [AttributeDefinition] {
        match self {
            PersonType::NaturalPerson => &NATURAL_PERSON,
            PersonType::LegalPerson => &LEGAL_PERSON,
            PersonType::RepresentativeNaturalPerson => &REPRESENTATIVE_NATURAL_PERSON,
            PersonType::RepresentativeLegalPerson => &REPRESENTATIVE_LEGAL_PERSON,
        }
    }
}

/// What an attribute value looks like, and so how it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// Free text (xsd:string), not empty.
    String,
    /// `CC/CC/id` ([`PersonIdentifier`]).
    Identifier,
    /// xsd:date written `YYYY-MM-DD`, no time zone.
    Date,
    /// `Male`, `Female` or `Unspecified`.
    Gender,
    /// `[A-Z][A-Z]` (ISO 3166-1 alpha-2).
    CountryCode,
    /// Base64 of the address XML fragment ([`Address`]).
    Address,
    /// An e-mail address, `local@domain`.
    Email,
    /// E.164: `+` and up to 15 digits.
    Phone,
}

/// One attribute of the eIDAS Attribute Profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttributeDefinition {
    /// The full Name URI; the only key attributes are matched on.
    pub name: &'static str,
    /// The FriendlyName to write (informative only).
    pub friendly_name: &'static str,
    pub person_type: PersonType,
    /// Local name of the `xsi:type`, e.g. `PersonIdentifierType`.
    pub xsi_type: &'static str,
    /// Namespace of the `xsi:type`.
    pub type_namespace: &'static str,
    /// Part of the minimum data set (for representatives: mandatory within their set).
    pub mandatory: bool,
    /// Non-Latin values must come with a Latin transliteration (`LatinScript`).
    pub transliteration: bool,
    pub value_kind: ValueKind,
}

/// Builds the array of one person type's attributes from a table: Name local part, FriendlyName
/// (after the prefix `$fp`), MDS, transliteration, value kind. The `xsi:type` is the local part
/// with `Type` appended, in the person-type namespace.
macro_rules! person_attributes {
    ($pt:ident, $ns:literal, $fp:literal;
     $($local:literal $friendly:literal $mds:literal $translit:literal $kind:ident;)*) => {
        [$(
            AttributeDefinition {
                name: concat!($ns, "/", $local),
                friendly_name: concat!($fp, $friendly),
                person_type: PersonType::$pt,
                xsi_type: concat!($local, "Type"),
                type_namespace: $ns,
                mandatory: $mds,
                transliteration: $translit,
                value_kind: ValueKind::$kind,
            },
        )*]
    };
}

/// Natural-person attributes (eidas.md §2.2), for the person or (with the representative
/// namespace and FriendlyName prefix) for a representative (§2.4).
macro_rules! natural_person_attributes {
    ($pt:ident, $ns:literal, $fp:literal) => {
        person_attributes! { $pt, $ns, $fp;
            // Name                FriendlyName          MDS    translit. value
            "PersonIdentifier"     "PersonIdentifier"    true   false     Identifier;
            "CurrentFamilyName"    "FamilyName"          true   true      String;
            "CurrentGivenName"     "FirstName"           true   true      String;
            "DateOfBirth"          "DateOfBirth"         true   false     Date;
            "BirthName"            "BirthName"           false  true      String;
            "PlaceOfBirth"         "PlaceOfBirth"        false  false     String;
            "CurrentAddress"       "CurrentAddress"      false  false     Address;
            "Gender"               "Gender"              false  false     Gender;
            "PhoneNumber"          "PhoneNumber"         false  false     Phone;
            "Nationality"          "Nationality"         false  false     CountryCode;
            "CountryOfBirth"       "CountryOfBirth"      false  false     CountryCode;
            "TownOfBirth"          "TownOfBirth"         false  false     String;
            "CountryOfResidence"   "CountryOfResidence"  false  false     CountryCode;
            "EmailAddress"         "EmailAddress"        false  false     Email;
        }
    };
}

/// Legal-person attributes (eidas.md §2.3), for the legal person or a representative (§2.4).
/// Two FriendlyNames differ from the Name: LegalPersonAddress → LegalAddress and
/// VATRegistrationNumber → VATRegistration.
macro_rules! legal_person_attributes {
    ($pt:ident, $ns:literal, $fp:literal) => {
        person_attributes! { $pt, $ns, $fp;
            // Name                    FriendlyName              MDS    translit. value
            "LegalPersonIdentifier"    "LegalPersonIdentifier"   true   false     Identifier;
            "LegalName"                "LegalName"               true   true      String;
            "LegalPersonAddress"       "LegalAddress"            false  false     Address;
            "VATRegistrationNumber"    "VATRegistration"         false  false     String;
            "TaxReference"             "TaxReference"            false  false     String;
            "D-2012-17-EUIdentifier"   "D-2012-17-EUIdentifier"  false  false     String;
            "LEI"                      "LEI"                     false  false     String;
            "EORI"                     "EORI"                    false  false     String;
            "SEED"                     "SEED"                    false  false     String;
            "SIC"                      "SIC"                     false  false     String;
            "LegalPhoneNumber"         "LegalPhoneNumber"        false  false     Phone;
            "LegalEmailAddress"        "LegalEmailAddress"       false  false     Email;
        }
    };
}

static NATURAL_PERSON: [AttributeDefinition; 14] = natural_person_attributes!(
    NaturalPerson,
    "http://eidas.europa.eu/attributes/naturalperson",
    ""
);
static LEGAL_PERSON: [AttributeDefinition; 12] = legal_person_attributes!(
    LegalPerson,
    "http://eidas.europa.eu/attributes/legalperson",
    ""
);
static REPRESENTATIVE_NATURAL_PERSON: [AttributeDefinition; 14] = natural_person_attributes!(
    RepresentativeNaturalPerson,
    "http://eidas.europa.eu/attributes/naturalperson/representative",
    "Representative"
);
static REPRESENTATIVE_LEGAL_PERSON: [AttributeDefinition; 12] = legal_person_attributes!(
    RepresentativeLegalPerson,
    "http://eidas.europa.eu/attributes/legalperson/representative",
    "Representative"
);

/// Every attribute of the profile: natural, legal, representative natural, representative legal.
pub fn all() -> impl Iterator<Item = &'static AttributeDefinition> {
    PersonType::ALL.into_iter().flat_map(PersonType::attributes)
}

/// The attribute with this Name URI (exact, case-sensitive match).
pub fn by_name(name: &str) -> Option<&'static AttributeDefinition> {
    all().find(|a| a.name == name)
}

/// The attribute a pre-1.4 EC node meant by an erroneous Name it sent (`…/LegalAddress`,
/// `…/VATRegistration`, legal person and representative). Not valid eIDAS names: a caller that
/// accepts them reports a finding.
pub fn by_legacy_name(name: &str) -> Option<&'static AttributeDefinition> {
    let (ns, local) = name.rsplit_once('/')?;
    let corrected = match local {
        "LegalAddress" => "LegalPersonAddress",
        "VATRegistration" => "VATRegistrationNumber",
        _ => return None,
    };
    [LEGAL_PERSON_NS, REPRESENTATIVE_LEGAL_PERSON_NS]
        .contains(&ns)
        .then(|| all().find(|a| a.type_namespace == ns && a.local_name() == corrected))
        .flatten()
}

/// The minimum data set of a person type (for representatives, the attributes mandatory within
/// their set).
pub fn mds(person_type: PersonType) -> impl Iterator<Item = &'static AttributeDefinition> {
    person_type.attributes().iter().filter(|a| a.mandatory)
}

impl AttributeDefinition {
    /// The Name without its namespace, e.g. `CurrentGivenName`.
    pub fn local_name(&self) -> &'static str {
        let name: &'static str = self.name;
        name.rsplit_once('/').map_or(name, |(_, local)| local)
    }

    /// Checks one value against this attribute's [`ValueKind`]. `context` is the namespace
    /// context of the AttributeValue element (used only for an address fragment, whose prefixes
    /// are bound there). `Ok(Some(deviation))`: accepted only because `strictness` is lenient.
    pub fn check_value(
        &self,
        value: &str,
        context: &[NsDecl],
        strictness: Strictness,
    ) -> Result<Option<&'static str>, AttributeValueError> {
        match self.value_kind {
            ValueKind::String => {
                if value.trim().is_empty() {
                    return Err(AttributeValueError::EmptyValue);
                }
            }
            ValueKind::Identifier => {
                PersonIdentifier::parse(value)?;
            }
            ValueKind::Date => {
                parse_date_of_birth(value)?;
            }
            ValueKind::Gender => {
                return match strictness {
                    Strictness::Strict => Gender::parse(value).map(|_| None),
                    Strictness::Lenient => Gender::parse_lenient(value).map(|g| g.deviation),
                };
            }
            ValueKind::CountryCode => {
                if !is_country_code(value) {
                    return Err(AttributeValueError::InvalidCountryCode);
                }
            }
            ValueKind::Address => {
                Address::decode(value, self.person_type, context)?;
            }
            ValueKind::Email => check_email(value)?,
            ValueKind::Phone => check_phone(value)?,
        }
        Ok(None)
    }

    /// The LatinScript rules over all values of one attribute (eidas.md §2.1): only
    /// transliterated attributes may carry `LatinScript="false"`; of those, at most one non-Latin
    /// and one Latin value; and a non-Latin value needs its Latin twin.
    pub fn check_transliteration(
        &self,
        values: &[AttributeValue],
    ) -> Result<(), AttributeValueError> {
        let non_latin = values.iter().filter(|v| !v.latin_script).count();
        let latin = values.len() - non_latin;
        if !self.transliteration {
            return if non_latin > 0 {
                Err(AttributeValueError::LatinScriptOnNonTransliteratedAttribute)
            } else {
                Ok(())
            };
        }
        if non_latin > 1 {
            return Err(AttributeValueError::SeveralNonLatinValues);
        }
        if latin > 1 {
            return Err(AttributeValueError::SeveralLatinValues);
        }
        if non_latin == 1 && latin == 0 {
            return Err(AttributeValueError::NonLatinValueWithoutLatinTwin);
        }
        Ok(())
    }
}

/// One `saml2:AttributeValue`: its text and its `LatinScript` flag (absent = true).
#[derive(Clone, PartialEq, Eq)]
pub struct AttributeValue {
    pub value: String,
    pub latin_script: bool,
}

impl AttributeValue {
    /// A value in Latin script (no `LatinScript` attribute needed).
    pub fn latin(value: impl Into<String>) -> Self {
        AttributeValue {
            value: value.into(),
            latin_script: true,
        }
    }

    /// The original non-Latin value of a transliterated attribute (`LatinScript="false"`).
    pub fn non_latin(value: impl Into<String>) -> Self {
        AttributeValue {
            value: value.into(),
            latin_script: false,
        }
    }
}

/// Hides the value: it is personal data and Debug output ends up in logs.
impl std::fmt::Debug for AttributeValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttributeValue")
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("latin_script", &self.latin_script)
            .finish()
    }
}

/// Reads the `LatinScript` attribute (xsd:boolean, default true).
pub fn parse_latin_script(attribute: Option<&str>) -> Result<bool, AttributeValueError> {
    match attribute.map(trim_xml) {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(AttributeValueError::InvalidLatinScriptFlag),
    }
}

/// How tolerant a check is of deviations seen in peers' messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strictness {
    /// Exactly what the profile says.
    Strict,
    /// Also known, harmless deviations (each reported).
    Lenient,
}

/// A value read from a peer, with the deviation that had to be tolerated to read it, if any
/// (for the caller to report as a finding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tolerated<T> {
    pub value: T,
    pub deviation: Option<&'static str>,
}

/// A refused attribute value. Never carries the value: it is personal data.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AttributeValueError {
    #[error("attribute value is empty")]
    EmptyValue,
    #[error("date is not a valid xsd:date written YYYY-MM-DD without time zone: {0}")]
    InvalidDate(&'static str),
    #[error("gender is not one of Male, Female, Unspecified")]
    InvalidGender,
    #[error("country code is not two upper-case letters [A-Z][A-Z]")]
    InvalidCountryCode,
    #[error("identifier is not of the form CC/CC/id: {0}")]
    InvalidIdentifier(#[from] PersonIdentifierError),
    #[error("address is not base64 of the eIDAS address elements: {0}")]
    InvalidAddress(#[from] AddressError),
    #[error("e-mail address is not of the form local@domain")]
    InvalidEmail,
    #[error("phone number is not in E.164 form (+ followed by 1 to 15 digits)")]
    InvalidPhoneNumber,
    #[error("LatinScript is not an xsd:boolean")]
    InvalidLatinScriptFlag,
    #[error("LatinScript=\"false\" on an attribute that has no transliteration")]
    LatinScriptOnNonTransliteratedAttribute,
    #[error("more than one value with LatinScript=\"false\"")]
    SeveralNonLatinValues,
    #[error("more than one Latin-script value of a transliterated attribute")]
    SeveralLatinValues,
    #[error("a non-Latin value (LatinScript=\"false\") comes without its Latin transliteration")]
    NonLatinValueWithoutLatinTwin,
}

/// XML whitespace (for types whose schema whiteSpace facet is `collapse`).
fn trim_xml(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// Reads a DateOfBirth: `YYYY-MM-DD`, a real calendar date, no time zone. Surrounding XML
/// whitespace is ignored, as xsd:date collapses it.
pub fn parse_date_of_birth(value: &str) -> Result<Date, AttributeValueError> {
    const FORM: &str = "expected YYYY-MM-DD";
    let Ok(&[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1]) =
        <&[u8; 10]>::try_from(trim_xml(value).as_bytes())
    else {
        return Err(AttributeValueError::InvalidDate(FORM));
    };
    let digits = [y0, y1, y2, y3, m0, m1, d0, d1];
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(AttributeValueError::InvalidDate(FORM));
    }
    let n = |ds: &[u8]| {
        ds.iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
    };
    let (year, month, day) = (n(&[y0, y1, y2, y3]), n(&[m0, m1]), n(&[d0, d1]));
    const NO_SUCH_DATE: &str = "no such calendar date";
    if year == 0 {
        return Err(AttributeValueError::InvalidDate(NO_SUCH_DATE));
    }
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or(AttributeValueError::InvalidDate(NO_SUCH_DATE))?;
    let day = u8::try_from(day).map_err(|_| AttributeValueError::InvalidDate(NO_SUCH_DATE))?;
    Date::from_calendar_date(i32::from(year), month, day)
        .map_err(|_| AttributeValueError::InvalidDate(NO_SUCH_DATE))
}

/// Writes a DateOfBirth as `YYYY-MM-DD`.
pub fn format_date_of_birth(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The Gender attribute's values (AP ≥ 1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gender {
    Male,
    Female,
    Unspecified,
}

impl Gender {
    /// Reads `Male`, `Female` or `Unspecified`, exactly.
    pub fn parse(value: &str) -> Result<Self, AttributeValueError> {
        match value {
            "Male" => Ok(Gender::Male),
            "Female" => Ok(Gender::Female),
            "Unspecified" => Ok(Gender::Unspecified),
            _ => Err(AttributeValueError::InvalidGender),
        }
    }

    /// Also reads Attribute Profile 1.0's `Not Specified` as [`Gender::Unspecified`], reporting it.
    pub fn parse_lenient(value: &str) -> Result<Tolerated<Self>, AttributeValueError> {
        if value == "Not Specified" {
            return Ok(Tolerated {
                value: Gender::Unspecified,
                deviation: Some(
                    "Gender \"Not Specified\" (Attribute Profile 1.0) read as \"Unspecified\"",
                ),
            });
        }
        Gender::parse(value).map(|value| Tolerated {
            value,
            deviation: None,
        })
    }

    /// The value to write.
    pub const fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "Male",
            Gender::Female => "Female",
            Gender::Unspecified => "Unspecified",
        }
    }
}

/// `local@domain`, no whitespace, one `@`, at most 254 bytes (RFC 5321 path limit).
fn check_email(value: &str) -> Result<(), AttributeValueError> {
    let ok = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(value.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(AttributeValueError::InvalidEmail)
    }
}

/// E.164 with its international prefix: `+` and 1 to 15 digits, nothing else.
fn check_phone(value: &str) -> Result<(), AttributeValueError> {
    match value.strip_prefix('+') {
        Some(digits)
            if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(())
        }
        _ => Err(AttributeValueError::InvalidPhoneNumber),
    }
}

/// The address elements of eidas.md §2.1, in schema order.
const ADDRESS_ELEMENTS: [&str; 9] = [
    "PoBox",
    "LocatorDesignator",
    "LocatorName",
    "CvaddressArea",
    "Thoroughfare",
    "PostName",
    "AdminunitFirstline",
    "AdminunitSecondline",
    "PostCode",
];

/// Elements the EC node's address codec also knows (`AddressID` first, `FullCvaddress` last) but
/// the Attribute Profile schema does not; skipped on reading.
const EC_ONLY_ADDRESS_ELEMENTS: [&str; 2] = ["AddressID", "FullCvaddress"];

/// Bound on the base64 text of one address (invariant 6: every length is bounded).
pub const MAX_ADDRESS_BASE64_LEN: usize = 8 * 1024;

/// Name of the element the fragment is wrapped in for parsing; outside any namespace.
const FRAGMENT_WRAPPER: &str = "eidas-address-fragment";

/// A refused CurrentAddress / LegalPersonAddress value.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AddressError {
    #[error("address is {len} base64 characters, over the limit of {limit}")]
    TooLong { len: usize, limit: usize },
    #[error("address is not valid base64")]
    NotBase64,
    #[error("address XML is not UTF-8")]
    NotUtf8,
    #[error("address is not well-formed XML: {0}")]
    NotXml(XmlError),
    #[error("address has text outside its elements")]
    TextOutsideElements,
    #[error("address has an unknown element {0}")]
    UnknownElement(String),
    #[error("address element {element} is in namespace {namespace}, not the attribute's")]
    WrongNamespace { element: String, namespace: String },
    #[error("address element {0} appears twice")]
    DuplicateElement(&'static str),
    #[error("address element {0} contains elements, not text")]
    NestedElement(&'static str),
}

/// A structured address (CurrentAddress, LegalPersonAddress and the representatives' variants),
/// the simplified ISA Core Vocabulary CvAddress of the Attribute Profile.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub po_box: Option<String>,
    pub locator_designator: Option<String>,
    pub locator_name: Option<String>,
    pub cv_address_area: Option<String>,
    pub thoroughfare: Option<String>,
    pub post_name: Option<String>,
    pub admin_unit_first_line: Option<String>,
    pub admin_unit_second_line: Option<String>,
    pub post_code: Option<String>,
}

/// Shows which parts are present, not what they say (personal data).
impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let present: Vec<&str> = self
            .fields()
            .into_iter()
            .filter(|(_, v)| v.is_some())
            .map(|(name, _)| name)
            .collect();
        f.debug_struct("Address")
            .field("present", &present)
            .finish()
    }
}

impl Address {
    /// The parts present, keyed by their element names (`Thoroughfare`, `PostCode`, …): how the
    /// Connector hands an address to a relying party.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (name, v) in self.fields() {
            if let Some(v) = v {
                m.insert(name.to_string(), serde_json::Value::String(v.clone()));
            }
        }
        serde_json::Value::Object(m)
    }

    /// The fields with their element names, in schema order.
    fn fields(&self) -> [(&'static str, &Option<String>); 9] {
        [
            ("PoBox", &self.po_box),
            ("LocatorDesignator", &self.locator_designator),
            ("LocatorName", &self.locator_name),
            ("CvaddressArea", &self.cv_address_area),
            ("Thoroughfare", &self.thoroughfare),
            ("PostName", &self.post_name),
            ("AdminunitFirstline", &self.admin_unit_first_line),
            ("AdminunitSecondline", &self.admin_unit_second_line),
            ("PostCode", &self.post_code),
        ]
    }

    fn field_mut(&mut self, element: &str) -> Option<&mut Option<String>> {
        Some(match element {
            "PoBox" => &mut self.po_box,
            "LocatorDesignator" => &mut self.locator_designator,
            "LocatorName" => &mut self.locator_name,
            "CvaddressArea" => &mut self.cv_address_area,
            "Thoroughfare" => &mut self.thoroughfare,
            "PostName" => &mut self.post_name,
            "AdminunitFirstline" => &mut self.admin_unit_first_line,
            "AdminunitSecondline" => &mut self.admin_unit_second_line,
            "PostCode" => &mut self.post_code,
            _ => return None,
        })
    }

    /// Whether no part is present.
    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, v)| v.is_none())
    }

    /// The XML fragment: one `<prefix:Element>value</prefix:Element>` line per present part, in
    /// schema order. Blank parts are left out, as the EC node does.
    ///
    /// The prefix is not declared in the fragment: it is the one the enclosing AttributeValue
    /// binds to the person-type namespace, as the EC node and Sweden Connect write it. A
    /// declaration on each element would be cleaner XML, but the EC node reads the fragment with
    /// the regex `<(.+:)?Tag>(.+)</\1?Tag>`, which does not match a start tag with attributes, nor
    /// a value spanning lines — so line breaks in values are written as `&#10;`.
    pub fn to_xml(&self, prefix: &str) -> String {
        let mut out = String::new();
        for (element, value) in self.fields() {
            if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                let escaped = xml::write::text(v).replace('\n', "&#10;");
                out.push_str(&format!(
                    "<{prefix}:{element}>{escaped}</{prefix}:{element}>\n"
                ));
            }
        }
        out
    }

    /// The attribute value: base64 of [`Self::to_xml`] with the EC node's prefix for the person
    /// type ([`PersonType::prefix`]). The AttributeValue must bind that prefix to
    /// [`PersonType::namespace`] (it does anyway, for its `xsi:type`).
    pub fn encode(&self, person_type: PersonType) -> String {
        self.encode_with_prefix(person_type.prefix())
    }

    /// As [`Self::encode`], with the prefix the AttributeValue binds.
    pub fn encode_with_prefix(&self, prefix: &str) -> String {
        STANDARD.encode(self.to_xml(prefix))
    }

    /// Reads an address attribute value. `context` is the namespace context of the AttributeValue
    /// element (outermost first), where the fragment's prefixes are bound; the EC node's and
    /// common prefixes (`eidas-natural`, `eidas-legal`, …, and `eidas` for this person type) are
    /// bound underneath it, because peers also write prefixes that nothing declares.
    ///
    /// Elements may be in the person-type namespace or in none; any order is read; blank
    /// elements count as absent. A prefix the context binds elsewhere keeps that binding (so
    /// `eidas:PoBox` is refused where `eidas` means the SAML extensions namespace). Whitespace around and inside the base64 text (line-wrapped
    /// encoders) and around the elements is ignored.
    pub fn decode(
        value: &str,
        person_type: PersonType,
        context: &[NsDecl],
    ) -> Result<Address, AddressError> {
        let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if compact.len() > MAX_ADDRESS_BASE64_LEN {
            return Err(AddressError::TooLong {
                len: compact.len(),
                limit: MAX_ADDRESS_BASE64_LEN,
            });
        }
        let bytes = STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| AddressError::NotBase64)?;
        let fragment = String::from_utf8(bytes).map_err(|_| AddressError::NotUtf8)?;
        let fragment = strip_xml_declaration(fragment.trim());
        // xmlns="" keeps unprefixed elements out of any default namespace of the context.
        let wrapped = format!("<{FRAGMENT_WRAPPER} xmlns=\"\">{fragment}</{FRAGMENT_WRAPPER}>");

        let mut namespaces: Vec<NsDecl> = PersonType::ALL
            .iter()
            .map(|pt| (pt.prefix(), pt.namespace()))
            .chain([
                ("eidasnp", NATURAL_PERSON_NS),
                ("eidaslp", LEGAL_PERSON_NS),
                ("eidas", person_type.namespace()),
            ])
            .map(|(prefix, uri)| NsDecl {
                prefix: Some(prefix.to_string()),
                uri: uri.to_string(),
            })
            .collect();
        namespaces.extend_from_slice(context);
        let limits = Limits {
            max_bytes: MAX_ADDRESS_BASE64_LEN + 128,
            max_depth: 3,
            max_nodes: 64,
            max_attributes: 16,
        };
        let doc = xml::parse_in_context(wrapped.as_bytes(), &namespaces, &limits)
            .map_err(AddressError::NotXml)?;

        let mut address = Address::default();
        let mut seen = [false; ADDRESS_ELEMENTS.len()];
        for child in doc.root_element().children() {
            let element = match doc.kind(child) {
                NodeKind::Text(t) if t.trim().is_empty() => continue,
                NodeKind::Text(_) => return Err(AddressError::TextOutsideElements),
                NodeKind::Comment(_) | NodeKind::ProcessingInstruction { .. } => continue,
                NodeKind::Element(e) => e,
            };
            let local = element.local();
            match element.ns() {
                None => {}
                Some(ns) if ns == person_type.namespace() => {}
                Some(ns) => {
                    return Err(AddressError::WrongNamespace {
                        element: local.to_string(),
                        namespace: ns.to_string(),
                    });
                }
            }
            if EC_ONLY_ADDRESS_ELEMENTS.contains(&local) {
                continue;
            }
            let Some(index) = ADDRESS_ELEMENTS.iter().position(|e| *e == local) else {
                return Err(AddressError::UnknownElement(local.to_string()));
            };
            let name = ADDRESS_ELEMENTS.get(index).copied().unwrap_or_default();
            match seen.get_mut(index) {
                Some(s) if !*s => *s = true,
                _ => return Err(AddressError::DuplicateElement(name)),
            }
            if element.child_elements().next().is_some() {
                return Err(AddressError::NestedElement(name));
            }
            let text = element.text();
            if let Some(field) = address.field_mut(local)
                && !text.trim().is_empty()
            {
                *field = Some(text);
            }
        }
        Ok(address)
    }
}

/// Drops a leading `<?xml …?>` declaration, which would be misplaced inside the wrapper.
fn strip_xml_declaration(s: &str) -> &str {
    if s.starts_with("<?xml")
        && s.get(5..6)
            .is_some_and(|c| c.chars().all(char::is_whitespace))
        && let Some(end) = s.find("?>")
    {
        return s.get(end + 2..).unwrap_or_default().trim_start();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str) -> &'static AttributeDefinition {
        by_name(name).unwrap()
    }

    fn check(name: &str, value: &str) -> Result<Option<&'static str>, AttributeValueError> {
        def(name).check_value(value, &[], Strictness::Strict)
    }

    fn full_address() -> Address {
        Address {
            po_box: Some("1234".into()),
            locator_designator: Some("28".into()),
            locator_name: Some("DIGIT building".into()),
            cv_address_area: Some("Etterbeek".into()),
            thoroughfare: Some("Rue Belliard".into()),
            post_name: Some("ETTERBEEK CHASSE".into()),
            admin_unit_first_line: Some("BE".into()),
            admin_unit_second_line: Some("ETTERBEEK".into()),
            post_code: Some("1040".into()),
        }
    }

    /// The CurrentAddress of an EC eIDAS-Node 2.9 Response (peer sample
    /// response-keytransport-rsa-oaep11-aes256gcm-signed-ecdsa-sha512-edited.xml, decrypted):
    /// `eidas-natural:` elements, one per line, the prefix bound only on the AttributeValue.
    const EC_NODE_ADDRESS: &str = "PGVpZGFzLW5hdHVyYWw6UG9Cb3g+MTIzNDwvZWlkYXMtbmF0dXJhbDpQb0JveD4KPGVpZGFzLW5hdHVyYWw6TG9jYXRvckRlc2lnbmF0b3I+Mjg8L2VpZGFzLW5hdHVyYWw6TG9jYXRvckRlc2lnbmF0b3I+CjxlaWRhcy1uYXR1cmFsOkxvY2F0b3JOYW1lPkRJR0lUIGJ1aWxkaW5nPC9laWRhcy1uYXR1cmFsOkxvY2F0b3JOYW1lPgo8ZWlkYXMtbmF0dXJhbDpDdmFkZHJlc3NBcmVhPkV0dGVyYmVlazwvZWlkYXMtbmF0dXJhbDpDdmFkZHJlc3NBcmVhPgo8ZWlkYXMtbmF0dXJhbDpUaG9yb3VnaGZhcmU+UnVlIEJlbGxpYXJkPC9laWRhcy1uYXR1cmFsOlRob3JvdWdoZmFyZT4KPGVpZGFzLW5hdHVyYWw6UG9zdE5hbWU+RVRURVJCRUVLIENIQVNTRTwvZWlkYXMtbmF0dXJhbDpQb3N0TmFtZT4KPGVpZGFzLW5hdHVyYWw6QWRtaW51bml0Rmlyc3RsaW5lPkJFPC9laWRhcy1uYXR1cmFsOkFkbWludW5pdEZpcnN0bGluZT4KPGVpZGFzLW5hdHVyYWw6QWRtaW51bml0U2Vjb25kbGluZT5FVFRFUkJFRUs8L2VpZGFzLW5hdHVyYWw6QWRtaW51bml0U2Vjb25kbGluZT4KPGVpZGFzLW5hdHVyYWw6UG9zdENvZGU+MTA0MDwvZWlkYXMtbmF0dXJhbDpQb3N0Q29kZT4K";

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    // --- registry ---

    #[test]
    fn registry_has_every_attribute_of_the_profile() {
        assert_eq!(PersonType::NaturalPerson.attributes().len(), 14);
        assert_eq!(PersonType::LegalPerson.attributes().len(), 12);
        assert_eq!(
            PersonType::RepresentativeNaturalPerson.attributes().len(),
            14
        );
        assert_eq!(PersonType::RepresentativeLegalPerson.attributes().len(), 12);
        assert_eq!(all().count(), 52);
        let mut names: Vec<&str> = all().map(|a| a.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 52, "Name URIs are unique");
    }

    #[test]
    fn names_and_types_live_in_the_person_type_namespace() {
        for a in all() {
            let ns = a.person_type.namespace();
            assert_eq!(a.name, format!("{ns}/{}", a.local_name()));
            assert_eq!(a.type_namespace, ns);
            assert_eq!(a.xsi_type, format!("{}Type", a.local_name()));
        }
    }

    #[test]
    fn lookup_is_by_name_uri_never_by_friendly_name() {
        let a = def("http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName");
        assert_eq!(a.friendly_name, "FirstName");
        assert_eq!(a.xsi_type, "CurrentGivenNameType");
        assert!(by_name("FirstName").is_none());
        assert!(by_name("CurrentGivenName").is_none());
        assert!(
            by_name("http://eidas.europa.eu/attributes/naturalperson/currentgivenname").is_none()
        );
        assert_eq!(def(CURRENT_FAMILY_NAME).friendly_name, "FamilyName");
    }

    #[test]
    fn legal_friendly_names_differ_from_their_names() {
        let address = def("http://eidas.europa.eu/attributes/legalperson/LegalPersonAddress");
        assert_eq!(address.friendly_name, "LegalAddress");
        assert_eq!(address.xsi_type, "LegalPersonAddressType");
        assert_eq!(address.value_kind, ValueKind::Address);
        let vat = def("http://eidas.europa.eu/attributes/legalperson/VATRegistrationNumber");
        assert_eq!(vat.friendly_name, "VATRegistration");
        assert_eq!(vat.xsi_type, "VATRegistrationNumberType");
        assert!(by_name("http://eidas.europa.eu/attributes/legalperson/LegalAddress").is_none());
        assert!(by_name("http://eidas.europa.eu/attributes/legalperson/VATRegistration").is_none());
    }

    #[test]
    fn representative_friendly_names_are_prefixed() {
        assert_eq!(
            def(REPRESENTATIVE_PERSON_IDENTIFIER).friendly_name,
            "RepresentativePersonIdentifier"
        );
        assert_eq!(
            def("http://eidas.europa.eu/attributes/naturalperson/representative/CurrentGivenName")
                .friendly_name,
            "RepresentativeFirstName"
        );
        assert_eq!(
            def("http://eidas.europa.eu/attributes/legalperson/representative/LegalPersonAddress")
                .friendly_name,
            "RepresentativeLegalAddress"
        );
        assert_eq!(
            def(
                "http://eidas.europa.eu/attributes/legalperson/representative/VATRegistrationNumber"
            )
            .friendly_name,
            "RepresentativeVATRegistration"
        );
        assert_eq!(
            def(REPRESENTATIVE_LEGAL_PERSON_IDENTIFIER).person_type,
            PersonType::RepresentativeLegalPerson
        );
        assert_eq!(
            def(REPRESENTATIVE_PERSON_IDENTIFIER).type_namespace,
            "http://eidas.europa.eu/attributes/naturalperson/representative"
        );
    }

    #[test]
    fn legacy_legal_names_map_to_the_corrected_attribute() {
        assert_eq!(
            by_legacy_name("http://eidas.europa.eu/attributes/legalperson/LegalAddress")
                .map(|a| a.name),
            Some("http://eidas.europa.eu/attributes/legalperson/LegalPersonAddress")
        );
        assert_eq!(
            by_legacy_name(
                "http://eidas.europa.eu/attributes/legalperson/representative/VATRegistration"
            )
            .map(|a| a.name),
            Some(
                "http://eidas.europa.eu/attributes/legalperson/representative/VATRegistrationNumber"
            )
        );
        assert!(
            by_legacy_name("http://eidas.europa.eu/attributes/naturalperson/LegalAddress")
                .is_none()
        );
        assert!(by_legacy_name(LEGAL_NAME).is_none());
    }

    #[test]
    fn minimum_data_sets_are_as_the_profile_says() {
        let names = |pt| mds(pt).map(|a| a.name).collect::<Vec<_>>();
        assert_eq!(
            names(PersonType::NaturalPerson),
            [
                PERSON_IDENTIFIER,
                CURRENT_FAMILY_NAME,
                CURRENT_GIVEN_NAME,
                DATE_OF_BIRTH
            ]
        );
        assert_eq!(
            names(PersonType::LegalPerson),
            [LEGAL_PERSON_IDENTIFIER, LEGAL_NAME]
        );
        assert_eq!(mds(PersonType::RepresentativeNaturalPerson).count(), 4);
        assert_eq!(mds(PersonType::RepresentativeLegalPerson).count(), 2);
    }

    #[test]
    fn transliterated_attributes_are_the_names() {
        let translit: Vec<&str> = all()
            .filter(|a| {
                a.person_type == PersonType::NaturalPerson
                    || a.person_type == PersonType::LegalPerson
            })
            .filter(|a| a.transliteration)
            .map(|a| a.friendly_name)
            .collect();
        assert_eq!(
            translit,
            ["FamilyName", "FirstName", "BirthName", "LegalName"]
        );
    }

    #[test]
    fn name_constants_are_in_the_registry() {
        for n in [
            PERSON_IDENTIFIER,
            CURRENT_FAMILY_NAME,
            CURRENT_GIVEN_NAME,
            DATE_OF_BIRTH,
            CURRENT_ADDRESS,
            LEGAL_PERSON_IDENTIFIER,
            LEGAL_NAME,
            REPRESENTATIVE_PERSON_IDENTIFIER,
            REPRESENTATIVE_LEGAL_PERSON_IDENTIFIER,
        ] {
            assert!(by_name(n).is_some(), "{n}");
        }
    }

    // --- value codecs ---

    #[test]
    fn date_of_birth_is_yyyy_mm_dd() {
        let d = parse_date_of_birth("1965-01-01").unwrap();
        assert_eq!(format_date_of_birth(d), "1965-01-01");
        assert_eq!(
            format_date_of_birth(parse_date_of_birth("0987-12-31").unwrap()),
            "0987-12-31"
        );
        for bad in [
            "1965-1-01",
            "65-01-01",
            "19650101",
            "1965/01/01",
            "01-01-1965",
            "1965-01-01Z",
            "1965-01-01+01:00",
            "1965-01-01T00:00:00",
            "-1965-01-01",
            "1965-0a-01",
            "",
        ] {
            assert_eq!(
                parse_date_of_birth(bad),
                Err(AttributeValueError::InvalidDate("expected YYYY-MM-DD")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn date_of_birth_must_be_a_calendar_date() {
        for bad in [
            "1965-02-30",
            "2023-02-29",
            "1965-13-01",
            "1965-00-10",
            "1965-01-00",
            "0000-01-01",
        ] {
            assert_eq!(
                parse_date_of_birth(bad),
                Err(AttributeValueError::InvalidDate("no such calendar date")),
                "{bad:?}"
            );
        }
        assert!(parse_date_of_birth("2024-02-29").is_ok());
        assert_eq!(
            check(DATE_OF_BIRTH, "1965-02-30").map(|_| ()),
            Err(AttributeValueError::InvalidDate("no such calendar date"))
        );
    }

    #[test]
    fn date_of_birth_whitespace_is_collapsed_as_xsd_date() {
        assert!(parse_date_of_birth("\n   1965-01-01\n").is_ok());
        assert!(parse_date_of_birth("1965- 01-01").is_err());
    }

    #[test]
    fn gender_is_male_female_or_unspecified() {
        for g in [Gender::Male, Gender::Female, Gender::Unspecified] {
            assert_eq!(Gender::parse(g.as_str()), Ok(g));
        }
        for bad in ["male", "M", "Other", "Not Specified", ""] {
            assert_eq!(
                Gender::parse(bad),
                Err(AttributeValueError::InvalidGender),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn gender_not_specified_is_read_only_leniently_and_reported() {
        let gender = def("http://eidas.europa.eu/attributes/naturalperson/Gender");
        assert_eq!(
            gender.check_value("Not Specified", &[], Strictness::Strict),
            Err(AttributeValueError::InvalidGender)
        );
        let lenient = Gender::parse_lenient("Not Specified").unwrap();
        assert_eq!(lenient.value, Gender::Unspecified);
        assert!(lenient.deviation.is_some());
        assert!(
            gender
                .check_value("Not Specified", &[], Strictness::Lenient)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            gender.check_value("Female", &[], Strictness::Lenient),
            Ok(None)
        );
        assert_eq!(
            Gender::parse_lenient("Other"),
            Err(AttributeValueError::InvalidGender)
        );
    }

    #[test]
    fn country_codes_are_two_uppercase_letters() {
        for name in ["Nationality", "CountryOfBirth", "CountryOfResidence"] {
            let n = format!("http://eidas.europa.eu/attributes/naturalperson/{name}");
            assert_eq!(check(&n, "NO"), Ok(None));
            for bad in ["no", "NOR", "N", "", " NO"] {
                assert_eq!(
                    check(&n, bad),
                    Err(AttributeValueError::InvalidCountryCode),
                    "{bad:?}"
                );
            }
        }
    }

    #[test]
    fn identifiers_must_be_cc_cc_id() {
        assert_eq!(check(PERSON_IDENTIFIER, "NO/SE/123"), Ok(None));
        assert_eq!(
            check(LEGAL_PERSON_IDENTIFIER, "CA/CA/125457487Company"),
            Ok(None)
        );
        assert!(matches!(
            check(PERSON_IDENTIFIER, "123"),
            Err(AttributeValueError::InvalidIdentifier(_))
        ));
        assert!(matches!(
            check(REPRESENTATIVE_LEGAL_PERSON_IDENTIFIER, "NO/SE/"),
            Err(AttributeValueError::InvalidIdentifier(
                PersonIdentifierError::MissingId
            ))
        ));
    }

    #[test]
    fn string_values_must_not_be_empty() {
        assert_eq!(check(CURRENT_FAMILY_NAME, "Ødegård"), Ok(None));
        assert_eq!(
            check(CURRENT_FAMILY_NAME, " \n"),
            Err(AttributeValueError::EmptyValue)
        );
        assert_eq!(check(LEGAL_NAME, ""), Err(AttributeValueError::EmptyValue));
    }

    #[test]
    fn email_must_be_local_at_domain() {
        let n = "http://eidas.europa.eu/attributes/naturalperson/EmailAddress";
        assert_eq!(check(n, "john.doe@mail.com"), Ok(None));
        for bad in [
            "john.doe",
            "@mail.com",
            "john@",
            "a@b@c",
            "john doe@mail.com",
            "",
        ] {
            assert_eq!(
                check(n, bad),
                Err(AttributeValueError::InvalidEmail),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(
            check(
                "http://eidas.europa.eu/attributes/legalperson/LegalEmailAddress",
                &long
            ),
            Err(AttributeValueError::InvalidEmail)
        );
    }

    #[test]
    fn phone_number_must_be_e164() {
        let n = "http://eidas.europa.eu/attributes/naturalperson/PhoneNumber";
        assert_eq!(check(n, "+34912739000"), Ok(None));
        assert_eq!(check(n, "+4722334455"), Ok(None));
        for bad in [
            "4722334455",
            "+47 22 33 44 55",
            "+",
            "+1234567890123456",
            "+47-22",
            "00 47 22",
        ] {
            assert_eq!(
                check(n, bad),
                Err(AttributeValueError::InvalidPhoneNumber),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn latin_script_flag_is_an_xsd_boolean_defaulting_to_true() {
        assert_eq!(parse_latin_script(None), Ok(true));
        assert_eq!(parse_latin_script(Some("true")), Ok(true));
        assert_eq!(parse_latin_script(Some(" 1 ")), Ok(true));
        assert_eq!(parse_latin_script(Some("false")), Ok(false));
        assert_eq!(parse_latin_script(Some("0")), Ok(false));
        assert_eq!(
            parse_latin_script(Some("False")),
            Err(AttributeValueError::InvalidLatinScriptFlag)
        );
    }

    // --- LatinScript pairs ---

    #[test]
    fn transliterated_attribute_takes_one_latin_and_one_non_latin_value() {
        let birth_name = def("http://eidas.europa.eu/attributes/naturalperson/BirthName");
        assert_eq!(
            birth_name.check_transliteration(&[
                AttributeValue::latin("Onases"),
                AttributeValue::non_latin("Ωνάσης")
            ]),
            Ok(())
        );
        assert_eq!(
            birth_name.check_transliteration(&[AttributeValue::latin("Onases")]),
            Ok(())
        );
    }

    #[test]
    fn two_non_latin_values_are_refused() {
        assert_eq!(
            def(CURRENT_FAMILY_NAME).check_transliteration(&[
                AttributeValue::latin("Onases"),
                AttributeValue::non_latin("Ωνάσης"),
                AttributeValue::non_latin("Ωνάσης"),
            ]),
            Err(AttributeValueError::SeveralNonLatinValues)
        );
    }

    #[test]
    fn two_latin_values_of_a_transliterated_attribute_are_refused() {
        assert_eq!(
            def(CURRENT_GIVEN_NAME).check_transliteration(&[
                AttributeValue::latin("Ola"),
                AttributeValue::latin("Kari"),
            ]),
            Err(AttributeValueError::SeveralLatinValues)
        );
    }

    #[test]
    fn non_latin_value_without_its_latin_twin_is_reported() {
        assert_eq!(
            def(LEGAL_NAME).check_transliteration(&[AttributeValue::non_latin("Ωνάσης")]),
            Err(AttributeValueError::NonLatinValueWithoutLatinTwin)
        );
    }

    #[test]
    fn latin_script_false_on_a_non_transliterated_attribute_is_refused() {
        assert_eq!(
            def(PERSON_IDENTIFIER).check_transliteration(&[AttributeValue::non_latin("NO/SE/1")]),
            Err(AttributeValueError::LatinScriptOnNonTransliteratedAttribute)
        );
        assert_eq!(
            def("http://eidas.europa.eu/attributes/naturalperson/Nationality")
                .check_transliteration(&[AttributeValue::latin("NO"), AttributeValue::latin("SE")]),
            Ok(()),
            "non-transliterated attributes may be multi-valued"
        );
    }

    #[test]
    fn attribute_values_hide_personal_data_in_debug_output() {
        let shown = format!("{:?}", AttributeValue::latin("Kari Nordmann"));
        assert!(!shown.contains("Nordmann"), "{shown}");
        let shown = format!("{:?}", full_address());
        assert!(
            !shown.contains("Belliard") && shown.contains("Thoroughfare"),
            "{shown}"
        );
    }

    // --- CurrentAddress ---

    #[test]
    fn address_round_trips_and_keeps_order() {
        let a = full_address();
        let encoded = a.encode(PersonType::NaturalPerson);
        let xml = String::from_utf8(STANDARD.decode(&encoded).unwrap()).unwrap();
        let positions: Vec<usize> = ADDRESS_ELEMENTS
            .iter()
            .map(|e| xml.find(&format!("<eidas-natural:{e}>")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{xml}");
        assert_eq!(
            Address::decode(&encoded, PersonType::NaturalPerson, &[]),
            Ok(a)
        );
    }

    #[test]
    fn address_is_written_like_the_ec_node() {
        // Byte-for-byte what the EC node produced for the same address.
        assert_eq!(
            full_address().encode(PersonType::NaturalPerson),
            EC_NODE_ADDRESS
        );
        let partial = Address {
            thoroughfare: Some("Storgata".into()),
            post_code: Some("0155".into()),
            ..Address::default()
        };
        assert_eq!(
            partial.to_xml("eidas-legal"),
            "<eidas-legal:Thoroughfare>Storgata</eidas-legal:Thoroughfare>\n<eidas-legal:PostCode>0155</eidas-legal:PostCode>\n"
        );
    }

    #[test]
    fn address_values_are_escaped_and_kept_on_one_line() {
        let a = Address {
            locator_name: Some("A & B <C>".into()),
            thoroughfare: Some("line one\nline two".into()),
            ..Address::default()
        };
        let xml = a.to_xml("eidas");
        assert!(xml.contains("A &amp; B &lt;C&gt;"), "{xml}");
        assert_eq!(xml.lines().count(), 2, "{xml}");
        assert_eq!(
            Address::decode(
                &a.encode(PersonType::NaturalPerson),
                PersonType::NaturalPerson,
                &[]
            ),
            Ok(a)
        );
    }

    #[test]
    fn blank_address_parts_are_left_out() {
        let a = Address {
            po_box: Some("  ".into()),
            post_name: Some("OSLO".into()),
            ..Address::default()
        };
        assert_eq!(a.to_xml("p"), "<p:PostName>OSLO</p:PostName>\n");
        assert!(Address::default().is_empty());
        assert_eq!(Address::default().encode(PersonType::NaturalPerson), "");
        assert_eq!(
            Address::decode("", PersonType::NaturalPerson, &[]),
            Ok(Address::default())
        );
    }

    #[test]
    fn ec_node_address_is_read_in_its_attribute_value_context() {
        let context = [NsDecl {
            prefix: Some("eidas-natural".into()),
            uri: NATURAL_PERSON_NS.into(),
        }];
        assert_eq!(
            Address::decode(EC_NODE_ADDRESS, PersonType::NaturalPerson, &context),
            Ok(full_address())
        );
        assert_eq!(
            Address::decode(EC_NODE_ADDRESS, PersonType::NaturalPerson, &[]),
            Ok(full_address()),
            "the EC prefix is bound by default"
        );
    }

    #[test]
    fn address_prefix_is_resolved_through_the_context() {
        let encoded = full_address().encode_with_prefix("ns3");
        assert!(matches!(
            Address::decode(&encoded, PersonType::NaturalPerson, &[]),
            Err(AddressError::NotXml(XmlError::UnboundPrefix(_)))
        ));
        let context = [NsDecl {
            prefix: Some("ns3".into()),
            uri: NATURAL_PERSON_NS.into(),
        }];
        assert_eq!(
            Address::decode(&encoded, PersonType::NaturalPerson, &context),
            Ok(full_address())
        );
    }

    #[test]
    fn address_tolerates_whitespace_declarations_and_line_wrapped_base64() {
        let xml = "\n  <?xml version=\"1.0\" encoding=\"UTF-8\"?>\n  <eidas:LocatorDesignator xmlns:eidas=\"http://eidas.europa.eu/attributes/legalperson\">22</eidas:LocatorDesignator>\n\t<eidas:Thoroughfare>Arcacia Avenue</eidas:Thoroughfare> <PostCode>SW1A 1AA</PostCode>\n";
        let encoded = b64(xml);
        let wrapped: String = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
        let a = Address::decode(&format!("  {wrapped}\n"), PersonType::LegalPerson, &[]).unwrap();
        assert_eq!(a.locator_designator.as_deref(), Some("22"));
        assert_eq!(a.thoroughfare.as_deref(), Some("Arcacia Avenue"));
        assert_eq!(a.post_code.as_deref(), Some("SW1A 1AA"));
    }

    #[test]
    fn address_elements_must_be_in_the_person_type_namespace() {
        let xml = "<x:PoBox xmlns:x=\"http://eidas.europa.eu/attributes/legalperson\">1</x:PoBox>";
        assert!(matches!(
            Address::decode(&b64(xml), PersonType::NaturalPerson, &[]),
            Err(AddressError::WrongNamespace { .. })
        ));
        let in_context_default = [NsDecl {
            prefix: None,
            uri: "urn:oasis:names:tc:SAML:2.0:assertion".into(),
        }];
        assert!(
            Address::decode(
                &b64("<PoBox>1</PoBox>"),
                PersonType::NaturalPerson,
                &in_context_default
            )
            .is_ok(),
            "unprefixed elements do not inherit the SAML default namespace"
        );
    }

    #[test]
    fn address_with_an_unknown_element_is_refused() {
        assert_eq!(
            Address::decode(
                &b64("<eidas:Street>x</eidas:Street>"),
                PersonType::NaturalPerson,
                &[]
            ),
            Err(AddressError::UnknownElement("Street".into()))
        );
        assert_eq!(
            Address::decode(
                &b64(
                    "<eidas:AddressID>7</eidas:AddressID><eidas:PostCode>1</eidas:PostCode><eidas:FullCvaddress>x</eidas:FullCvaddress>"
                ),
                PersonType::NaturalPerson,
                &[]
            ),
            Ok(Address {
                post_code: Some("1".into()),
                ..Address::default()
            }),
            "the EC node's own extra elements are skipped"
        );
    }

    #[test]
    fn address_with_a_repeated_element_is_refused() {
        assert_eq!(
            Address::decode(
                &b64("<eidas:PostCode>1</eidas:PostCode><eidas:PostCode>2</eidas:PostCode>"),
                PersonType::NaturalPerson,
                &[]
            ),
            Err(AddressError::DuplicateElement("PostCode"))
        );
    }

    #[test]
    fn address_elements_hold_text_only() {
        assert_eq!(
            Address::decode(
                &b64("<eidas:PostCode><eidas:PoBox>1</eidas:PoBox></eidas:PostCode>"),
                PersonType::NaturalPerson,
                &[]
            ),
            Err(AddressError::NestedElement("PostCode"))
        );
        assert_eq!(
            Address::decode(
                &b64("Oslo <eidas:PostCode>1</eidas:PostCode>"),
                PersonType::NaturalPerson,
                &[]
            ),
            Err(AddressError::TextOutsideElements)
        );
    }

    #[test]
    fn address_that_is_not_base64_utf8_xml_is_refused() {
        assert_eq!(
            Address::decode("not base64!", PersonType::NaturalPerson, &[]),
            Err(AddressError::NotBase64)
        );
        assert_eq!(
            Address::decode(
                &STANDARD.encode([0xff, 0xfe]),
                PersonType::NaturalPerson,
                &[]
            ),
            Err(AddressError::NotUtf8)
        );
        assert!(matches!(
            Address::decode(
                &b64("<eidas:PostCode>1</eidas:PoBox>"),
                PersonType::NaturalPerson,
                &[]
            ),
            Err(AddressError::NotXml(_))
        ));
        assert!(
            matches!(
                Address::decode(
                    &b64("</eidas-address-fragment><x/><eidas-address-fragment>"),
                    PersonType::NaturalPerson,
                    &[]
                ),
                Err(AddressError::NotXml(_))
            ),
            "the fragment cannot break out of its wrapper"
        );
        assert!(matches!(
            Address::decode(
                &b64("<!DOCTYPE x [<!ENTITY e \"e\">]><eidas:PostCode>&e;</eidas:PostCode>"),
                PersonType::NaturalPerson,
                &[]
            ),
            Err(AddressError::NotXml(_))
        ));
    }

    #[test]
    fn address_longer_than_the_limit_is_refused() {
        let long = b64(&"<eidas:PostCode>1</eidas:PostCode>".repeat(300));
        assert!(long.len() > MAX_ADDRESS_BASE64_LEN);
        assert!(matches!(
            Address::decode(&long, PersonType::NaturalPerson, &[]),
            Err(AddressError::TooLong { .. })
        ));
    }

    #[test]
    fn address_attribute_values_are_checked_through_the_registry() {
        let current = def(CURRENT_ADDRESS);
        let encoded = full_address().encode(PersonType::NaturalPerson);
        assert_eq!(
            current.check_value(&encoded, &[], Strictness::Strict),
            Ok(None)
        );
        assert!(matches!(
            current.check_value("%%%", &[], Strictness::Strict),
            Err(AttributeValueError::InvalidAddress(AddressError::NotBase64))
        ));
        let legal = def("http://eidas.europa.eu/attributes/legalperson/LegalPersonAddress");
        assert!(
            matches!(
                legal.check_value(&encoded, &[], Strictness::Strict),
                Err(AttributeValueError::InvalidAddress(
                    AddressError::WrongNamespace { .. }
                ))
            ),
            "an eidas-natural fragment in a legal-person attribute"
        );
        assert_eq!(
            legal.check_value(
                &full_address().encode(PersonType::LegalPerson),
                &[],
                Strictness::Strict
            ),
            Ok(None)
        );
    }
}
