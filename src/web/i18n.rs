//! The languages of the pages a person sees: bokmål, nynorsk, English and Northern Sámi, as
//! ID-porten offers them (`ui_locales` nb, nn, en, se). Texts are Fluent resources in `i18n/`,
//! compiled into the binary; a missing message is a test failure, not a blank on a page.

use axum::http::{HeaderMap, header};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Nb,
    Nn,
    En,
    Se,
}

pub const ALL: [Lang; 4] = [Lang::Nb, Lang::Nn, Lang::En, Lang::Se];

const SOURCES: [(Lang, &str); 4] = [
    (Lang::Nb, include_str!("../../i18n/nb.ftl")),
    (Lang::Nn, include_str!("../../i18n/nn.ftl")),
    (Lang::En, include_str!("../../i18n/en.ftl")),
    (Lang::Se, include_str!("../../i18n/se.ftl")),
];

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nb => "nb",
            Lang::Nn => "nn",
            Lang::En => "en",
            Lang::Se => "se",
        }
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        match tag
            .trim()
            .to_ascii_lowercase()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
        {
            "nb" | "no" => Some(Lang::Nb),
            "nn" => Some(Lang::Nn),
            "en" => Some(Lang::En),
            "se" => Some(Lang::Se),
            _ => None,
        }
    }

    fn from_accept_language(headers: &HeaderMap) -> Option<Lang> {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .find_map(|t| Self::from_tag(t.split(';').next().unwrap_or("")))
            })
    }

    /// The first language of `Accept-Language` we have (`no` counts as bokmål); bokmål when
    /// none fits, since the people on these pages hold a Norwegian eID.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        Self::from_accept_language(headers).unwrap_or(Lang::Nb)
    }

    /// For the Connector's pages: the relying party's `ui_locales` first, then
    /// `Accept-Language`; English when neither fits, since these people come from abroad.
    pub fn for_visitor(ui_locales: Option<&str>, headers: &HeaderMap) -> Lang {
        ui_locales
            .and_then(|u| u.split(' ').find_map(Self::from_tag))
            .or_else(|| Self::from_accept_language(headers))
            .unwrap_or(Lang::En)
    }
}

fn bundles() -> &'static [FluentBundle<FluentResource>; 4] {
    static B: OnceLock<[FluentBundle<FluentResource>; 4]> = OnceLock::new();
    B.get_or_init(|| {
        SOURCES.map(|(lang, src)| {
            let res = FluentResource::try_new(src.to_string()).unwrap_or_else(|(r, _)| r);
            let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
            let mut b = FluentBundle::new_concurrent(vec![id]);
            // No bidi isolation marks: the texts are all left-to-right.
            b.set_use_isolating(false);
            let _ = b.add_resource(res);
            b
        })
    })
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    &bundles()[ALL.iter().position(|l| *l == lang).unwrap_or(0)]
}

/// The text of `id` in `lang` with `args`; the message id itself when it is missing (a test
/// makes sure none is).
pub fn t(lang: Lang, id: &str, args: &[(&str, &str)]) -> String {
    let b = bundle(lang);
    let Some(pattern) = b.get_message(id).and_then(|m| m.value()) else {
        return id.to_string();
    };
    let mut fa = FluentArgs::new();
    for (k, v) in args {
        fa.set(*k, v.to_string());
    }
    let mut errors = Vec::new();
    b.format_pattern(pattern, Some(&fa), &mut errors)
        .into_owned()
}

/// Whether `lang` has message `id`.
pub fn has(lang: Lang, id: &str) -> bool {
    bundle(lang).get_message(id).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(src: &str) -> Vec<String> {
        src.lines()
            .filter(|l| !l.starts_with('#') && l.contains(" = "))
            .map(|l| l.split(" = ").next().unwrap().trim().to_string())
            .collect()
    }

    #[test]
    fn every_language_has_every_message_and_every_resource_parses() {
        let english = ids(SOURCES[2].1);
        assert!(english.len() >= 15);
        for (lang, src) in SOURCES {
            assert!(FluentResource::try_new(src.to_string()).is_ok(), "{lang:?}");
            let mut got = ids(src);
            let mut want = english.clone();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{lang:?} has other messages than en");
            for id in &english {
                assert!(has(lang, id), "{lang:?} {id}");
            }
        }
    }

    #[test]
    fn arguments_are_filled_in_and_languages_differ() {
        assert_eq!(
            t(Lang::En, "consent-intro", &[("country", "SE")]),
            "A service in SE asks for these details about you, to log you in:"
        );
        assert!(t(Lang::Nb, "consent-intro", &[("country", "SE")]).starts_with("En tjeneste i SE"));
        assert!(t(Lang::Nn, "consent-intro", &[("country", "SE")]).starts_with("Ei teneste i SE"));
        assert_ne!(
            t(Lang::Se, "consent-send", &[]),
            t(Lang::En, "consent-send", &[])
        );
        assert_eq!(t(Lang::En, "no-such-message", &[]), "no-such-message");
    }

    #[test]
    fn the_language_comes_from_accept_language_with_bokmal_as_default() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_LANGUAGE, v.parse().unwrap());
            m
        };
        assert_eq!(Lang::from_headers(&h("nn-NO,en;q=0.5")), Lang::Nn);
        assert_eq!(Lang::from_headers(&h("de-DE, en-GB;q=0.8")), Lang::En);
        assert_eq!(Lang::from_headers(&h("no")), Lang::Nb);
        assert_eq!(Lang::from_headers(&h("se")), Lang::Se);
        assert_eq!(Lang::from_headers(&h("fr")), Lang::Nb);
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Nb);
    }

    #[test]
    fn a_visitor_gets_ui_locales_then_accept_language_then_english() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, "nn-NO".parse().unwrap());
        assert_eq!(Lang::for_visitor(Some("de se"), &h), Lang::Se);
        assert_eq!(Lang::for_visitor(Some("de"), &h), Lang::Nn);
        assert_eq!(Lang::for_visitor(None, &HeaderMap::new()), Lang::En);
    }
}
