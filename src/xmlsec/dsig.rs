//! Enveloped XML-DSig for the SAML profile, signing and verifying.
//!
//! Verification is asked about one element — the one the caller will consume — and succeeds only
//! if that element carries exactly one `ds:Signature` child whose single Reference points at the
//! element's own ID, with the narrow transforms of the profile, allow-listed algorithms, a digest
//! over exactly that element and a signature by one of the keys the caller trusts (never a key the
//! message carries). It returns a [`Verified`] handle to that element and nothing else
//! (security invariants 2–5).

use super::c14n::{self, Method, Options, canonicalize};
use super::ns;
use crate::crypto::alg::{DigestAlgorithm, SignatureAlgorithm};
use crate::crypto::{CryptoError, PublicKey, Signer};
use crate::xml::{Document, ElementRef, NodeId, NodeKind};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Why a signature was refused. Each variant is a rule an auditor can look up.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DsigError {
    #[error("the element is not signed (no ds:Signature child)")]
    NoSignature,
    #[error("the element carries more than one ds:Signature")]
    MultipleSignatures,
    #[error("malformed ds:Signature: {0}")]
    Malformed(String),
    #[error(
        "ds:Object inside a signature is not accepted (enveloping signatures are outside the profile)"
    )]
    ObjectNotAllowed,
    #[error("SignedInfo must have exactly one Reference, it has {0}")]
    ReferenceCount(usize),
    #[error("the Reference URI {uri:?} does not point at the signed element")]
    ReferenceNotToSignedElement { uri: String },
    #[error(
        "transforms {0} are outside the profile (enveloped-signature, then exc-c14n or C14N 1.0, or enveloped-signature alone)"
    )]
    DisallowedTransforms(String),
    #[error("canonicalization {0} is not accepted for SignedInfo")]
    DisallowedCanonicalization(String),
    #[error("{0}")]
    Algorithm(CryptoError),
    #[error("ID {0:?} occurs more than once in the document")]
    DuplicateId(String),
    #[error("the signed element has no ID attribute")]
    NoId,
    #[error("the element is already signed")]
    AlreadySigned,
    #[error("digest does not match: the signed content was changed")]
    DigestMismatch,
    #[error("signature value does not verify with any trusted key")]
    BadSignature,
    #[error("no trusted key fits the signature algorithm {0}")]
    NoUsableKey(String),
    #[error("a comment or processing instruction splits signed character data")]
    CommentInSignedText,
    #[error("bad base64 in {0}")]
    Base64(&'static str),
    #[error("signing failed: {0}")]
    Signing(CryptoError),
}

impl DsigError {
    /// The conformance catalogue id of the rule this refusal enforces.
    pub fn rule_id(&self) -> &'static str {
        match self {
            DsigError::NoSignature => "DSIG-SIGNED",
            DsigError::Algorithm(_) | DsigError::DisallowedCanonicalization(_) => "DSIG-ALG",
            DsigError::DigestMismatch | DsigError::Base64(_) | DsigError::Malformed(_) => {
                "DSIG-INTEGRITY"
            }
            DsigError::BadSignature | DsigError::NoUsableKey(_) => "DSIG-KEY",
            DsigError::CommentInSignedText => "DSIG-COMMENT",
            DsigError::MultipleSignatures
            | DsigError::ObjectNotAllowed
            | DsigError::ReferenceCount(_)
            | DsigError::ReferenceNotToSignedElement { .. }
            | DsigError::DisallowedTransforms(_)
            | DsigError::DuplicateId(_)
            | DsigError::NoId
            | DsigError::AlreadySigned
            | DsigError::Signing(_) => "DSIG-WRAPPING",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Accept RSA PKCS#1 v1.5 (`rsa-sha256` …): only for a peer configured for it.
    pub allow_legacy_rsa: bool,
    /// Accept `URI=""` when the signed element is the document element (generic test vectors).
    pub allow_whole_document: bool,
}

/// A signature that verified, and the element it covers.
#[derive(Clone, Copy, Debug)]
pub struct Verified<'d> {
    doc: &'d Document,
    element: NodeId,
    signature: NodeId,
    algorithm: SignatureAlgorithm,
    digest: DigestAlgorithm,
    key_index: usize,
}

impl<'d> Verified<'d> {
    /// The signed element.
    pub fn element(&self) -> ElementRef<'d> {
        self.doc
            .element(self.element)
            .expect("Verified always holds an element")
    }

    /// The `ds:Signature` element (not part of the signed content).
    pub fn signature_node(&self) -> NodeId {
        self.signature
    }

    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        self.digest
    }

    /// Index into the trusted keys of the key that verified.
    pub fn key_index(&self) -> usize {
        self.key_index
    }

    /// Whether `id` is inside the signed content (and not in the signature itself).
    pub fn covers(&self, id: NodeId) -> bool {
        self.doc.is_ancestor_or_self(self.element, id)
            && !self.doc.is_ancestor_or_self(self.signature, id)
    }
}

struct ParsedSignature<'d> {
    signed_info: ElementRef<'d>,
    signed_info_c14n: Options,
    algorithm: SignatureAlgorithm,
    reference_c14n: Options,
    whole_document: bool,
    digest: DigestAlgorithm,
    digest_value: Vec<u8>,
    signature_value: Vec<u8>,
}

fn dsig_children<'d>(e: ElementRef<'d>) -> Result<Vec<ElementRef<'d>>, DsigError> {
    let v: Vec<_> = e.child_elements().collect();
    if let Some(foreign) = v.iter().find(|c| c.ns() != Some(ns::DSIG)) {
        return Err(DsigError::Malformed(format!(
            "unexpected {} in {}",
            foreign.expanded_name(),
            e.local()
        )));
    }
    Ok(v)
}

fn algorithm_attr<'d>(e: ElementRef<'d>) -> Result<&'d str, DsigError> {
    e.attr("Algorithm")
        .ok_or_else(|| DsigError::Malformed(format!("{} without Algorithm", e.local())))
}

pub(crate) fn decode_b64(text: &str, what: &'static str) -> Result<Vec<u8>, DsigError> {
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(clean.as_bytes())
        .map_err(|_| DsigError::Base64(what))
}

fn prefix_list(method_el: ElementRef<'_>) -> Result<Vec<String>, DsigError> {
    let mut prefixes = Vec::new();
    for c in method_el.child_elements() {
        if c.is(ns::EXC_C14N, "InclusiveNamespaces") {
            prefixes.extend(
                c.attr("PrefixList")
                    .unwrap_or("")
                    .split_ascii_whitespace()
                    .map(str::to_string),
            );
        } else {
            return Err(DsigError::Malformed(format!(
                "unexpected {} in {}",
                c.expanded_name(),
                method_el.local()
            )));
        }
    }
    Ok(prefixes)
}

fn parse_signature<'d>(
    sig: ElementRef<'d>,
    target: ElementRef<'d>,
    opts: &VerifyOptions,
) -> Result<ParsedSignature<'d>, DsigError> {
    let kids = dsig_children(sig)?;
    if kids.iter().any(|k| k.local() == "Object") {
        return Err(DsigError::ObjectNotAllowed);
    }
    let (signed_info, signature_value) = match kids.as_slice() {
        [si, sv, rest @ ..]
            if si.local() == "SignedInfo"
                && sv.local() == "SignatureValue"
                && rest.iter().all(|r| r.local() == "KeyInfo")
                && rest.len() <= 1 =>
        {
            (*si, *sv)
        }
        _ => {
            return Err(DsigError::Malformed(
                "expected SignedInfo, SignatureValue and an optional KeyInfo".into(),
            ));
        }
    };
    let si_kids = dsig_children(signed_info)?;
    let refs: Vec<_> = si_kids
        .iter()
        .filter(|k| k.local() == "Reference")
        .collect();
    if refs.len() != 1 {
        return Err(DsigError::ReferenceCount(refs.len()));
    }
    let (c14n_el, method_el, reference) = match si_kids.as_slice() {
        [c, m, r] if c.local() == "CanonicalizationMethod" && m.local() == "SignatureMethod" => {
            (*c, *m, *r)
        }
        _ => {
            return Err(DsigError::Malformed(
                "SignedInfo must hold CanonicalizationMethod, SignatureMethod, Reference".into(),
            ));
        }
    };
    let c14n_uri = algorithm_attr(c14n_el)?;
    let signed_info_c14n = match c14n_uri {
        c14n::uri::EXC_C14N => Options {
            method: Method::Exclusive,
            with_comments: false,
            inclusive_prefixes: prefix_list(c14n_el)?,
        },
        c14n::uri::C14N_10 if c14n_el.child_elements().next().is_none() => Options::inclusive(),
        other => return Err(DsigError::DisallowedCanonicalization(other.to_string())),
    };
    if method_el.child_elements().next().is_some() {
        return Err(DsigError::Malformed("parameters in SignatureMethod".into()));
    }
    let algorithm = SignatureAlgorithm::from_uri(algorithm_attr(method_el)?, opts.allow_legacy_rsa)
        .map_err(DsigError::Algorithm)?;

    // The Reference must point at the element we were asked about, by its own ID.
    let uri = reference.attr("URI").unwrap_or_default();
    let whole_document = if uri.is_empty() && reference.attr("URI").is_some() {
        if !(opts.allow_whole_document && target.id() == target.document().root()) {
            return Err(DsigError::ReferenceNotToSignedElement { uri: uri.into() });
        }
        true
    } else {
        match (uri.strip_prefix('#'), target.id_value()) {
            (Some(frag), Some(id)) if frag == id => false,
            _ => return Err(DsigError::ReferenceNotToSignedElement { uri: uri.into() }),
        }
    };
    let r_kids = dsig_children(reference)?;
    let (transforms, digest_method, digest_value) = match r_kids.as_slice() {
        [t, m, v]
            if t.local() == "Transforms"
                && m.local() == "DigestMethod"
                && v.local() == "DigestValue" =>
        {
            (*t, *m, *v)
        }
        [m, _] if m.local() == "DigestMethod" => {
            return Err(DsigError::DisallowedTransforms("(none)".into()));
        }
        _ => {
            return Err(DsigError::Malformed(
                "Reference must hold Transforms, DigestMethod, DigestValue".into(),
            ));
        }
    };
    let ts = dsig_children(transforms)?;
    let uris: Vec<&str> = ts
        .iter()
        .map(|t| {
            if t.local() == "Transform" {
                algorithm_attr(*t)
            } else {
                Err(DsigError::Malformed("non-Transform in Transforms".into()))
            }
        })
        .collect::<Result<_, _>>()?;
    let disallowed = || DsigError::DisallowedTransforms(uris.join(", "));
    let reference_c14n = match uris.as_slice() {
        [ENVELOPED, c14n::uri::EXC_C14N] => Options {
            method: Method::Exclusive,
            with_comments: false,
            inclusive_prefixes: prefix_list(ts[1])?,
        },
        [ENVELOPED, c14n::uri::C14N_10] | [ENVELOPED] => Options::inclusive(),
        _ => return Err(disallowed()),
    };
    if ts[0].child_elements().next().is_some()
        || (reference_c14n.method == Method::Inclusive
            && ts
                .get(1)
                .is_some_and(|t| t.child_elements().next().is_some()))
    {
        return Err(disallowed());
    }
    if digest_method.child_elements().next().is_some() {
        return Err(DsigError::Malformed("parameters in DigestMethod".into()));
    }
    let digest =
        DigestAlgorithm::from_uri(algorithm_attr(digest_method)?).map_err(DsigError::Algorithm)?;
    Ok(ParsedSignature {
        signed_info,
        signed_info_c14n,
        algorithm,
        reference_c14n,
        whole_document,
        digest,
        digest_value: decode_b64(&digest_value.text(), "DigestValue")?,
        signature_value: decode_b64(&signature_value.text(), "SignatureValue")?,
    })
}

/// Verify the enveloped signature of `element` with the trusted keys only.
pub fn verify_element<'d>(
    doc: &'d Document,
    element: NodeId,
    trusted: &[PublicKey],
    opts: &VerifyOptions,
) -> Result<Verified<'d>, DsigError> {
    let target = doc
        .element(element)
        .ok_or_else(|| DsigError::Malformed("not an element".into()))?;
    // Duplicated IDs first: with them, "the element with this ID" is ambiguous whatever we are
    // asked about (the signature-wrapping precondition).
    if let Some(dup) = doc.duplicate_id() {
        return Err(DsigError::DuplicateId(dup));
    }
    let mut sigs = target.children_named(ns::DSIG, "Signature");
    let sig = sigs.next().ok_or(DsigError::NoSignature)?;
    if sigs.next().is_some() {
        return Err(DsigError::MultipleSignatures);
    }
    let p = parse_signature(sig, target, opts)?;

    // Refuse before any cryptography when no trusted key could fit the algorithm.
    let usable: Vec<(usize, &PublicKey)> = trusted
        .iter()
        .enumerate()
        .filter(|(_, k)| matches!(k, PublicKey::Rsa { .. }) == p.algorithm.is_rsa())
        .collect();
    if usable.is_empty() {
        return Err(DsigError::NoUsableKey(p.algorithm.uri().to_string()));
    }

    let apex = if p.whole_document {
        None
    } else {
        Some(element)
    };
    let content = canonicalize(doc, apex, Some(sig.id()), &p.reference_c14n);
    if p.digest.digest(&content) != p.digest_value {
        return Err(DsigError::DigestMismatch);
    }
    let signed_info = canonicalize(doc, Some(p.signed_info.id()), None, &p.signed_info_c14n);
    let key_index = usable
        .iter()
        .find(|(_, k)| {
            k.verify(p.algorithm, &signed_info, &p.signature_value)
                .is_ok()
        })
        .map(|(i, _)| *i)
        .ok_or(DsigError::BadSignature)?;
    check_no_split_text(doc, element, sig.id())?;
    Ok(Verified {
        doc,
        element,
        signature: sig.id(),
        algorithm: p.algorithm,
        digest: p.digest,
        key_index,
    })
}

/// Comments and PIs are not signed (the reference drops them); one that splits character data
/// lets a reader that stops at the first text node see something else than what was signed
/// (the 2018 comment-truncation attacks on SAML). Refuse such content outright.
fn check_no_split_text(doc: &Document, element: NodeId, sig: NodeId) -> Result<(), DsigError> {
    for id in doc.descendants(element) {
        if doc.is_ancestor_or_self(sig, id) {
            continue;
        }
        if doc.element(id).is_none() {
            continue;
        }
        let kids = || doc.children(id).map(|c| doc.kind(c));
        let has_text = kids().any(|k| matches!(k, NodeKind::Text(t) if !t.trim().is_empty()));
        let has_other = kids().any(|k| {
            matches!(
                k,
                NodeKind::Comment(_) | NodeKind::ProcessingInstruction { .. }
            )
        });
        if has_text && has_other {
            return Err(DsigError::CommentInSignedText);
        }
    }
    Ok(())
}

/// Find the one element that carries a direct `ds:Signature` child: the document element if it
/// is signed, else the only signed element. Used by the operator tools.
pub fn find_signed_element(doc: &Document) -> Result<NodeId, DsigError> {
    let root = doc.root_element();
    if root.first_child_named(ns::DSIG, "Signature").is_some() {
        return Ok(root.id());
    }
    let signed: Vec<_> = doc
        .elements()
        .filter(|e| e.first_child_named(ns::DSIG, "Signature").is_some())
        .collect();
    match signed.as_slice() {
        [one] => Ok(one.id()),
        [] => Err(DsigError::NoSignature),
        _ => Err(DsigError::Malformed(
            "several signed elements; name one with its ID".into(),
        )),
    }
}

/// Sign `element` (which must have an ID) with an enveloped signature: exclusive C14N, the
/// signer's algorithm, its hash as the reference digest, and the signer's certificate in KeyInfo.
/// Returns the whole document text with the signature placed where SAML's schemas put it —
/// right after the element's `saml:Issuer` child, else as its first child — and every other byte
/// unchanged.
pub fn sign_element(
    doc: &Document,
    element: NodeId,
    signer: &dyn Signer,
) -> Result<String, DsigError> {
    let target = doc
        .element(element)
        .ok_or_else(|| DsigError::Malformed("not an element".into()))?;
    let id = target.id_value().ok_or(DsigError::NoId)?;
    if target.first_child_named(ns::DSIG, "Signature").is_some() {
        return Err(DsigError::AlreadySigned);
    }
    if let Some(dup) = doc.duplicate_id() {
        return Err(DsigError::DuplicateId(dup));
    }
    let alg = signer.algorithm();
    let digest_alg = alg.digest();
    let content = canonicalize(doc, Some(element), None, &Options::exclusive());
    let digest = STANDARD.encode(digest_alg.digest(&content));
    let signed_info = signed_info_c14n(alg, digest_alg, id, &digest);
    let value = signer
        .sign(signed_info.as_bytes())
        .map_err(DsigError::Signing)?;
    let mut sig = String::with_capacity(signed_info.len() + 2048);
    sig.push_str("<ds:Signature xmlns:ds=\"");
    sig.push_str(ns::DSIG);
    sig.push_str("\">");
    sig.push_str(&signed_info);
    sig.push_str("<ds:SignatureValue>");
    sig.push_str(&STANDARD.encode(value));
    sig.push_str("</ds:SignatureValue>");
    if let Some(cert) = signer.certificate() {
        sig.push_str("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
        sig.push_str(&STANDARD.encode(cert.der()));
        sig.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo>");
    }
    sig.push_str("</ds:Signature>");
    Ok(insert_first_after_issuer(doc, target, &sig))
}

/// Insert `fragment` into `target` after its leading `saml:Issuer`, else as its first child.
pub(crate) fn insert_first_after_issuer(
    doc: &Document,
    target: ElementRef<'_>,
    fragment: &str,
) -> String {
    let src = doc.source();
    let issuer = target
        .child_elements()
        .next()
        .filter(|c| c.is(ns::SAML_ASSERTION, "Issuer"));
    let mut out = String::with_capacity(src.len() + fragment.len() + 64);
    if let Some(issuer) = issuer {
        let at = issuer.span().end;
        out.push_str(&src[..at]);
        out.push_str(fragment);
        out.push_str(&src[at..]);
    } else if target.self_closing() {
        let end = target.start_tag_end();
        out.push_str(&src[..end - 2]);
        out.push('>');
        out.push_str(fragment);
        out.push_str("</");
        out.push_str(&target.qname());
        out.push('>');
        out.push_str(&src[end..]);
    } else {
        let at = target.start_tag_end();
        out.push_str(&src[..at]);
        out.push_str(fragment);
        out.push_str(&src[at..]);
    }
    out
}

/// SignedInfo exactly as exclusive C14N renders it in place (the `ds` namespace rendered on it,
/// as it is visibly used and not rendered by an output ancestor of the subtree).
fn signed_info_c14n(
    alg: SignatureAlgorithm,
    digest: DigestAlgorithm,
    id: &str,
    digest_b64: &str,
) -> String {
    let mut id_escaped = Vec::new();
    c14n::escape_attr(&mut id_escaped, id);
    let id_escaped = String::from_utf8(id_escaped).unwrap_or_default();
    format!(
        "<ds:SignedInfo xmlns:ds=\"{dsig}\"><ds:CanonicalizationMethod Algorithm=\"{exc}\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"{alg}\"></ds:SignatureMethod><ds:Reference URI=\"#{id_escaped}\"><ds:Transforms><ds:Transform Algorithm=\"{env}\"></ds:Transform><ds:Transform Algorithm=\"{exc}\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{dig}\"></ds:DigestMethod><ds:DigestValue>{digest_b64}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        dsig = ns::DSIG,
        exc = c14n::uri::EXC_C14N,
        alg = alg.uri(),
        env = ENVELOPED,
        dig = digest.uri(),
    )
}
