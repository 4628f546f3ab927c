//! eidas-node: Norway's eIDAS node (Proxy-Service and Connector) as a library. The layers follow
//! ARCHITECTURE.md; a layer imports only layers below it. `xml`, `crypto`, `xmlsec`, `saml` and
//! `eidas` do no I/O and never read the clock.
#![deny(unsafe_code)]

pub mod audit;
pub mod clock;
pub mod config;
pub mod conformance;
pub mod connector;
pub mod crypto;
pub mod demo_country;
pub mod demo_proxy_service;
pub mod demo_rp;
pub mod eidas;
pub mod light;
pub mod metadata;
pub mod oidc;
pub mod outbound;
pub mod proxy_service;
pub mod register;
pub mod saml;
pub mod store;
pub mod test_idporten;
pub mod web;
pub mod xml;
pub mod xmlsec;
