//! Untrusted XML, parsed once into a tree that C14N, signature checking and content extraction
//! all read (security invariant 1). The tree keeps element and attribute prefixes, namespace
//! declarations as written, and byte spans into the source, so that canonicalization is exact and
//! a signature or an EncryptedData can be spliced in without re-serializing the rest.
//!
//! Hard limits (bytes, depth, nodes, attributes per element) are checked while parsing; a DOCTYPE
//! is refused outright and no entity beyond the five predefined ones exists. This module does no
//! I/O and never reads the clock.

mod parse;
pub mod write;

pub use parse::{parse, parse_in_context};

use std::ops::Range;

/// The XML namespace, bound to the `xml` prefix in every document.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Limits applied while parsing untrusted input. Every limit has a test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Size of the whole document in bytes.
    pub max_bytes: usize,
    /// Element nesting depth (the document element is depth 1).
    pub max_depth: usize,
    /// Elements, text runs, comments and processing instructions together.
    pub max_nodes: usize,
    /// Attributes plus namespace declarations on one element.
    pub max_attributes: usize,
}

impl Default for Limits {
    /// Generous enough for peers' metadata (a country's metadata with several certificates is
    /// ~100 KB) while bounding what one request can cost.
    fn default() -> Self {
        Limits {
            max_bytes: 4 * 1024 * 1024,
            max_depth: 64,
            max_nodes: 100_000,
            max_attributes: 64,
        }
    }
}

impl Limits {
    /// Limits for one SAML protocol message (AuthnRequest, Response).
    pub fn message() -> Self {
        Limits {
            max_bytes: 512 * 1024,
            max_depth: 48,
            max_nodes: 10_000,
            max_attributes: 32,
        }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum XmlError {
    #[error("document is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("element nesting deeper than the limit of {limit}")]
    TooDeep { limit: usize },
    #[error("more than {limit} nodes")]
    TooManyNodes { limit: usize },
    #[error("more than {limit} attributes on one element")]
    TooManyAttributes { limit: usize },
    #[error("a DOCTYPE is not accepted")]
    Doctype,
    #[error("unknown entity reference &{0};")]
    UnknownEntity(String),
    #[error("invalid character reference &{0};")]
    InvalidCharRef(String),
    #[error("character U+{0:04X} is not allowed in XML")]
    InvalidChar(u32),
    #[error("document is not UTF-8")]
    NotUtf8,
    #[error("unsupported encoding {0:?} (only UTF-8)")]
    UnsupportedEncoding(String),
    #[error("namespace prefix {0:?} is not declared")]
    UnboundPrefix(String),
    #[error("bad namespace declaration: {0}")]
    BadNamespaceDeclaration(String),
    #[error("attribute {0} appears twice")]
    DuplicateAttribute(String),
    #[error("end tag </{found}> does not match <{expected}>")]
    MismatchedEndTag { expected: String, found: String },
    #[error("text outside the document element")]
    TextOutsideRoot,
    #[error("no document element")]
    NoRoot,
    #[error("more than one document element")]
    MultipleRoots,
    #[error("syntax error: {0}")]
    Syntax(String),
}

/// Index of a node in its document's arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    fn index(self) -> usize {
        self.0 as usize
    }
}

/// A namespace declaration as written: `xmlns="uri"` has prefix `None`; `xmlns=""` has an empty uri.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsDecl {
    pub prefix: Option<String>,
    pub uri: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub prefix: Option<String>,
    pub local: String,
    /// Resolved namespace; unprefixed attributes have none.
    pub ns: Option<String>,
    /// The value after entity expansion and attribute-value normalization.
    pub value: String,
}

impl Attribute {
    pub fn qname(&self) -> String {
        qname(self.prefix.as_deref(), &self.local)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub prefix: Option<String>,
    pub local: String,
    /// Resolved namespace; `None` when the element is in no namespace.
    pub ns: Option<String>,
    pub attributes: Vec<Attribute>,
    pub ns_decls: Vec<NsDecl>,
    /// End of the start tag in the source (just after its `>`).
    pub start_tag_end: usize,
    /// Whether it was written as `<x/>`.
    pub self_closing: bool,
}

impl Element {
    pub fn qname(&self) -> String {
        qname(self.prefix.as_deref(), &self.local)
    }
}

fn qname(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_string(),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Element(Element),
    /// Character data (text and CDATA sections, adjacent runs merged), entities expanded.
    Text(String),
    Comment(String),
    ProcessingInstruction {
        target: String,
        data: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
    /// Bytes of the source this node was parsed from (for an element: start tag to end tag).
    pub span: Range<usize>,
}

/// A parsed document: the source text, the node arena and the document element.
#[derive(Clone, Debug)]
pub struct Document {
    source: String,
    nodes: Vec<Node>,
    /// Nodes at document level, in order (comments, PIs and the document element).
    top_level: Vec<NodeId>,
    root: NodeId,
    /// Namespaces in scope around the document element without being declared in the document:
    /// the context of a decrypted fragment (see [`parse_in_context`]). Outermost first.
    context: Vec<NsDecl>,
}

impl Document {
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn root_element(&self) -> ElementRef<'_> {
        ElementRef {
            doc: self,
            id: self.root,
        }
    }

    pub fn top_level(&self) -> &[NodeId] {
        &self.top_level
    }

    pub fn context_namespaces(&self) -> &[NsDecl] {
        &self.context
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The element behind `id`, if `id` is an element.
    pub fn element(&self, id: NodeId) -> Option<ElementRef<'_>> {
        match self.node(id).kind {
            NodeKind::Element(_) => Some(ElementRef { doc: self, id }),
            _ => None,
        }
    }

    /// All element ids in document order.
    pub fn elements(&self) -> impl Iterator<Item = ElementRef<'_>> + '_ {
        self.descendants(self.root)
            .filter_map(move |id| self.element(id))
    }

    /// `id` and all its descendants, in document order.
    pub fn descendants(&self, id: NodeId) -> Descendants<'_> {
        Descendants {
            doc: self,
            stack: vec![id],
        }
    }

    /// Whether `ancestor` is `node` or one of its ancestors.
    pub fn is_ancestor_or_self(&self, ancestor: NodeId, node: NodeId) -> bool {
        let mut cur = Some(node);
        while let Some(c) = cur {
            if c == ancestor {
                return true;
            }
            cur = self.node(c).parent;
        }
        false
    }

    /// Namespaces in scope at element `id`, outermost first; later entries shadow earlier ones.
    /// Includes the document's context namespaces but not the implicit `xml` binding.
    pub fn in_scope_namespaces(&self, id: NodeId) -> Vec<NsDecl> {
        let mut chain = Vec::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            chain.push(c);
            cur = self.node(c).parent;
        }
        let mut out: Vec<NsDecl> = self.context.clone();
        for c in chain.into_iter().rev() {
            if let NodeKind::Element(e) = &self.node(c).kind {
                out.extend(e.ns_decls.iter().cloned());
            }
        }
        out
    }

    /// The namespace URI bound to `prefix` (None = default namespace) at element `id`.
    pub fn lookup_namespace(&self, id: NodeId, prefix: Option<&str>) -> Option<String> {
        if prefix == Some("xml") {
            return Some(XML_NS.to_string());
        }
        self.in_scope_namespaces(id)
            .into_iter()
            .rev()
            .find(|d| d.prefix.as_deref() == prefix)
            .map(|d| d.uri)
            .filter(|u| !u.is_empty())
    }

    /// Elements carrying an ID-typed attribute (`ID`, `Id`, `id` without namespace, or `xml:id`)
    /// with this value.
    pub fn elements_with_id<'a>(&'a self, value: &'a str) -> impl Iterator<Item = ElementRef<'a>> {
        self.elements().filter(move |e| e.id_value() == Some(value))
    }

    /// The first ID value that occurs on more than one element, if any.
    pub fn duplicate_id(&self) -> Option<String> {
        let mut seen = std::collections::HashSet::new();
        for e in self.elements() {
            for a in e.element().attributes.iter().filter(|a| is_id_attribute(a)) {
                if !seen.insert(a.value.as_str()) {
                    return Some(a.value.clone());
                }
            }
        }
        None
    }

    /// Line and column (1-based) of a byte offset, for messages.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let upto = &self.source[..offset.min(self.source.len())];
        let line = upto.matches('\n').count() + 1;
        let col = upto.rfind('\n').map_or(upto.len(), |p| upto.len() - p - 1) + 1;
        (line, col)
    }
}

/// Whether an attribute is one of the ID-typed attributes XML-DSig references may point at.
pub fn is_id_attribute(a: &Attribute) -> bool {
    match (&a.ns, a.local.as_str()) {
        (None, "ID" | "Id" | "id") => true,
        (Some(ns), "id") => ns == XML_NS,
        _ => false,
    }
}

pub struct Descendants<'a> {
    doc: &'a Document,
    stack: Vec<NodeId>,
}

impl Iterator for Descendants<'_> {
    type Item = NodeId;
    fn next(&mut self) -> Option<NodeId> {
        let id = self.stack.pop()?;
        self.stack
            .extend(self.doc.node(id).children.iter().rev().copied());
        Some(id)
    }
}

/// A borrowed element with convenient accessors.
#[derive(Clone, Copy, Debug)]
pub struct ElementRef<'a> {
    doc: &'a Document,
    id: NodeId,
}

impl<'a> ElementRef<'a> {
    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn document(&self) -> &'a Document {
        self.doc
    }

    pub fn element(&self) -> &'a Element {
        match &self.doc.node(self.id).kind {
            NodeKind::Element(e) => e,
            // An ElementRef is only made for element nodes.
            _ => unreachable!("ElementRef on a non-element"),
        }
    }

    pub fn local(&self) -> &'a str {
        &self.element().local
    }

    pub fn ns(&self) -> Option<&'a str> {
        self.element().ns.as_deref()
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns() == Some(ns) && self.local() == local
    }

    /// `{ns}local`, or `local` for an element in no namespace.
    pub fn expanded_name(&self) -> String {
        match self.ns() {
            Some(ns) => format!("{{{ns}}}{}", self.local()),
            None => self.local().to_string(),
        }
    }

    pub fn span(&self) -> Range<usize> {
        self.doc.node(self.id).span.clone()
    }

    /// The value of an attribute in no namespace.
    pub fn attr(&self, local: &str) -> Option<&'a str> {
        self.element()
            .attributes
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&'a str> {
        self.element()
            .attributes
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The value of this element's ID-typed attribute, if it has one.
    pub fn id_value(&self) -> Option<&'a str> {
        self.element()
            .attributes
            .iter()
            .find(|a| is_id_attribute(a))
            .map(|a| a.value.as_str())
    }

    pub fn parent(&self) -> Option<ElementRef<'a>> {
        self.doc
            .node(self.id)
            .parent
            .and_then(|p| self.doc.element(p))
    }

    pub fn child_elements(&self) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        let doc = self.doc;
        doc.node(self.id)
            .children
            .iter()
            .filter_map(move |&c| doc.element(c))
    }

    /// Child elements with this expanded name.
    pub fn children_named(
        &self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        self.child_elements().filter(move |c| c.is(ns, local))
    }

    pub fn first_child_named(&self, ns: &str, local: &str) -> Option<ElementRef<'a>> {
        self.child_elements().find(|c| c.is(ns, local))
    }

    /// The concatenated character data of the direct children.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for &c in &self.doc.node(self.id).children {
            if let NodeKind::Text(t) = &self.doc.node(c).kind {
                s.push_str(t);
            }
        }
        s
    }

    /// Whether any child is a comment or processing instruction (a signed value with a comment in
    /// it is read differently by different libraries; callers refuse such values).
    pub fn has_non_text_children(&self) -> bool {
        self.doc
            .node(self.id)
            .children
            .iter()
            .any(|&c| !matches!(self.doc.node(c).kind, NodeKind::Text(_)))
    }

    pub fn lookup_namespace(&self, prefix: Option<&str>) -> Option<String> {
        self.doc.lookup_namespace(self.id, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Document, XmlError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn keeps_prefixes_declarations_and_spans() {
        let src = r#"<a:r xmlns:a="urn:a" xmlns="urn:d"><e a:x="1">t</e></a:r>"#;
        let d = p(src).unwrap();
        let r = d.root_element();
        assert_eq!(r.element().prefix.as_deref(), Some("a"));
        assert_eq!(r.element().ns_decls.len(), 2);
        let e = r.child_elements().next().unwrap();
        assert_eq!(e.ns(), Some("urn:d"));
        assert_eq!(e.attr_ns("urn:a", "x"), Some("1"));
        assert_eq!(&src[e.span()], r#"<e a:x="1">t</e>"#);
    }

    #[test]
    fn rejects_a_document_over_the_size_limit() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            parse(b"<r>0123456789</r>", &limits),
            Err(XmlError::TooLarge { .. })
        ));
    }

    #[test]
    fn rejects_nesting_over_the_depth_limit() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert!(parse(b"<a><b><c/></b></a>", &limits).is_ok());
        assert_eq!(
            parse(b"<a><b><c><d/></c></b></a>", &limits).err(),
            Some(XmlError::TooDeep { limit: 3 })
        );
    }

    #[test]
    fn rejects_more_nodes_than_the_limit() {
        let limits = Limits {
            max_nodes: 5,
            ..Limits::default()
        };
        let many = format!("<r>{}</r>", "<x/>".repeat(5));
        assert_eq!(
            parse(many.as_bytes(), &limits).err(),
            Some(XmlError::TooManyNodes { limit: 5 })
        );
    }

    #[test]
    fn rejects_more_attributes_than_the_limit() {
        let limits = Limits {
            max_attributes: 2,
            ..Limits::default()
        };
        assert_eq!(
            parse(br#"<r a="1" b="2" xmlns:c="urn:c"/>"#, &limits).err(),
            Some(XmlError::TooManyAttributes { limit: 2 })
        );
    }

    #[test]
    fn rejects_any_doctype_so_no_entity_expansion_or_xxe() {
        let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><r>&lol2;</r>"#;
        assert_eq!(p(billion_laughs).err(), Some(XmlError::Doctype));
        let xxe = r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(p(xxe).err(), Some(XmlError::Doctype));
        assert_eq!(
            p(r#"<!DOCTYPE r SYSTEM "http://example.org/r.dtd"><r/>"#).err(),
            Some(XmlError::Doctype)
        );
    }

    #[test]
    fn expands_only_predefined_entities_and_valid_character_references() {
        let d = p("<r a='&lt;&#65;&#x42;'>&amp;&apos;&quot;&gt;</r>").unwrap();
        assert_eq!(d.root_element().attr("a"), Some("<AB"));
        assert_eq!(d.root_element().text(), "&'\">");
        assert_eq!(
            p("<r>&nbsp;</r>").err(),
            Some(XmlError::UnknownEntity("nbsp".into()))
        );
        assert_eq!(
            p("<r>&#0;</r>").err(),
            Some(XmlError::InvalidCharRef("#0".into()))
        );
        assert_eq!(
            p("<r>&#xD800;</r>").err(),
            Some(XmlError::InvalidCharRef("#xD800".into()))
        );
        assert!(matches!(
            p("<r>\u{1}</r>"),
            Err(XmlError::InvalidChar(1) | XmlError::Syntax(_))
        ));
    }

    #[test]
    fn normalizes_line_ends_and_attribute_whitespace() {
        let d = p("<r a=\"x\r\ny\tz&#10;\">1\r\n2\r3</r>").unwrap();
        assert_eq!(d.root_element().attr("a"), Some("x y z\n"));
        assert_eq!(d.root_element().text(), "1\n2\n3");
    }

    #[test]
    fn rejects_malformed_namespaces_and_names() {
        assert_eq!(p("<p:r/>").err(), Some(XmlError::UnboundPrefix("p".into())));
        assert_eq!(
            p(r#"<r q:a="1"/>"#).err(),
            Some(XmlError::UnboundPrefix("q".into()))
        );
        assert!(matches!(
            p(r#"<r xmlns:p=""/>"#),
            Err(XmlError::BadNamespaceDeclaration(_))
        ));
        assert!(matches!(
            p(r#"<r xmlns:xml="urn:x"/>"#),
            Err(XmlError::BadNamespaceDeclaration(_))
        ));
        assert!(matches!(
            p(r#"<r xmlns:a="urn:x" xmlns:b="urn:x" a:k="1" b:k="2"/>"#),
            Err(XmlError::DuplicateAttribute(_))
        ));
        assert!(matches!(
            p(r#"<r k="1" k="2"/>"#),
            Err(XmlError::DuplicateAttribute(_) | XmlError::Syntax(_))
        ));
    }

    #[test]
    fn rejects_broken_structure() {
        assert!(matches!(
            p("<a></b>"),
            Err(XmlError::MismatchedEndTag { .. })
        ));
        assert!(matches!(
            p("<a/><b/>"),
            Err(XmlError::MultipleRoots | XmlError::Syntax(_))
        ));
        assert!(matches!(
            p("<a/>text"),
            Err(XmlError::TextOutsideRoot | XmlError::Syntax(_))
        ));
        assert_eq!(p("<!-- only a comment -->").err(), Some(XmlError::NoRoot));
        assert!(p("<a>").is_err());
        assert!(p("<a>]]></a>").is_err());
    }

    #[test]
    fn accepts_utf8_only() {
        assert!(p("\u{feff}<r/>").is_ok());
        assert_eq!(
            p(r#"<?xml version="1.0" encoding="ISO-8859-1"?><r/>"#).err(),
            Some(XmlError::UnsupportedEncoding("ISO-8859-1".into()))
        );
        assert_eq!(
            parse(b"<r>\xff</r>", &Limits::default()).err(),
            Some(XmlError::NotUtf8)
        );
        assert!(matches!(
            parse(b"\xff\xfe<\0r\0/\0>\0", &Limits::default()),
            Err(XmlError::UnsupportedEncoding(_))
        ));
    }

    #[test]
    fn parses_a_fragment_in_an_inherited_namespace_context() {
        let ctx = [NsDecl {
            prefix: Some("saml".into()),
            uri: "urn:oasis:names:tc:SAML:2.0:assertion".into(),
        }];
        let d = parse_in_context(b"<saml:Assertion ID=\"a\"/>", &ctx, &Limits::default()).unwrap();
        assert_eq!(
            d.root_element().ns(),
            Some("urn:oasis:names:tc:SAML:2.0:assertion")
        );
        assert!(parse(b"<saml:Assertion/>", &Limits::default()).is_err());
    }

    #[test]
    fn finds_duplicate_ids() {
        let d = p(r#"<r><a ID="x"/><b Id="x"/></r>"#).unwrap();
        assert_eq!(d.duplicate_id(), Some("x".into()));
        assert_eq!(
            p(r#"<r><a ID="x"/><b ID="y"/></r>"#)
                .unwrap()
                .duplicate_id(),
            None
        );
    }
}
