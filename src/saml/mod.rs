//! SAML 2.0 messages and bindings.
