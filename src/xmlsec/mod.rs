//! XML security for the eIDAS profile on one parsed tree: exclusive (and, for verification,
//! inclusive) C14N, enveloped XML-DSig, the HTTP-Redirect detached signature, and XML-Enc 1.1.
//! Narrow on purpose (security invariant 4): no XPath, no XSLT, no enveloping signatures, no
//! external references, no keys taken from the message.

pub mod c14n;
pub mod dsig;
pub mod enc;
pub mod redirect;

/// Namespaces this layer reads and writes.
pub mod ns {
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const DSIG11: &str = "http://www.w3.org/2009/xmldsig11#";
    pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
    pub const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const SAML_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
}
