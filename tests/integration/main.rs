//! Integration tests, one binary (one link step for CI): the operator CLI against external test
//! vectors, the classic attacks on XML signatures, and interop with independent implementations.

mod attacks;
mod cli;
mod cn_e2e;
mod common;
mod config_metadata;
mod conformance;
mod encryption;
mod folkeregisteret;
mod interop;
mod matching;
mod metadata_fetch;
mod oidc;
mod oidc_provider;
mod openid_client;
mod peer_samples;
mod proxy_service;
mod ps_e2e;
mod ps_http;
mod pysaml2;
mod pysaml2_ps;
mod redirect;
mod refusals;
mod saml_check;
mod schema;
mod vectors;
mod web;
