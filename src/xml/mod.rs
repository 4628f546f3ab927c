//! Untrusted XML, parsed once into a tree that C14N, signature checking and content extraction
//! all read (security invariant 1). The tree keeps element and attribute prefixes, namespace
//! declarations as written, and byte spans into the source, so that canonicalization is exact and
//! a signature or an EncryptedData can be spliced in without re-serializing the rest.
//!
//! Hard limits (bytes, depth, nodes, attributes per element) are checked while parsing; a DOCTYPE
//! is refused outright and no entity beyond the five predefined ones exists. This module does no
//! I/O and never reads the clock.
//!
//! The tree is flat: nodes, attributes and namespace declarations live in arenas; names and
//! values that need no decoding are spans into the source. Parsing a message costs a handful of
//! allocations, not one per name (see benches/xmlsec.rs).

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

/// A namespace declaration (owned form, for contexts handed between documents): `xmlns="uri"`
/// has prefix `None`; `xmlns=""` has an empty uri.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsDecl {
    pub prefix: Option<String>,
    pub uri: String,
}

/// A string in the document: a span of the source, or a decoded string kept aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Str {
    Src(u32, u32),
    Own(u32),
}

/// Where an element's or attribute's namespace comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NsRef {
    None,
    Xml,
    Decl(u32),
    Context(u32),
}

#[derive(Clone, Debug)]
struct Decl {
    prefix: Option<Str>,
    uri: Str,
}

#[derive(Clone, Debug)]
struct Attr {
    prefix: Option<Str>,
    local: Str,
    ns: NsRef,
    value: Str,
}

#[derive(Clone, Debug)]
struct ElementData {
    prefix: Option<Str>,
    local: Str,
    ns: NsRef,
    attrs: Range<u32>,
    decls: Range<u32>,
    start_tag_end: u32,
    self_closing: bool,
}

#[derive(Clone, Debug)]
enum Kind {
    Element(ElementData),
    Text(Str),
    Comment(Str),
    Pi { target: Str, data: Option<Str> },
}

#[derive(Clone, Debug)]
struct Node {
    kind: Kind,
    parent: Option<NodeId>,
    first_child: Option<NodeId>,
    last_child: Option<NodeId>,
    next_sibling: Option<NodeId>,
    span: (u32, u32),
}

/// What a node is, with its strings borrowed from the document.
#[derive(Clone, Copy, Debug)]
pub enum NodeKind<'a> {
    Element(ElementRef<'a>),
    /// Character data (text and CDATA sections, adjacent runs merged), entities expanded.
    Text(&'a str),
    Comment(&'a str),
    ProcessingInstruction {
        target: &'a str,
        data: Option<&'a str>,
    },
}

/// A parsed document: the source text, the node arena and the document element.
#[derive(Clone, Debug)]
pub struct Document {
    source: String,
    owned: Vec<Box<str>>,
    nodes: Vec<Node>,
    attrs: Vec<Attr>,
    decls: Vec<Decl>,
    /// Nodes at document level, in order (comments, PIs and the document element).
    top_level: Vec<NodeId>,
    root: NodeId,
    /// Namespaces in scope around the document element without being declared in the document:
    /// the context of a decrypted fragment (see [`parse_in_context`]). Outermost first.
    context: Vec<NsDecl>,
}

impl Document {
    fn str(&self, s: Str) -> &str {
        match s {
            Str::Src(a, b) => &self.source[a as usize..b as usize],
            Str::Own(i) => &self.owned[i as usize],
        }
    }

    fn ns_str(&self, n: NsRef) -> Option<&str> {
        match n {
            NsRef::None => None,
            NsRef::Xml => Some(XML_NS),
            NsRef::Decl(i) => Some(self.str(self.decls[i as usize].uri)),
            NsRef::Context(i) => Some(self.context[i as usize].uri.as_str()),
        }
    }

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

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn kind(&self, id: NodeId) -> NodeKind<'_> {
        match &self.nodes[id.index()].kind {
            Kind::Element(_) => NodeKind::Element(ElementRef { doc: self, id }),
            Kind::Text(t) => NodeKind::Text(self.str(*t)),
            Kind::Comment(t) => NodeKind::Comment(self.str(*t)),
            Kind::Pi { target, data } => NodeKind::ProcessingInstruction {
                target: self.str(*target),
                data: data.map(|d| self.str(d)),
            },
        }
    }

    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.nodes[id.index()].parent
    }

    /// Bytes of the source this node was parsed from (for an element: start tag to end tag).
    pub fn span(&self, id: NodeId) -> Range<usize> {
        let (a, b) = self.nodes[id.index()].span;
        a as usize..b as usize
    }

    pub fn children(&self, id: NodeId) -> Children<'_> {
        Children {
            doc: self,
            next: self.nodes[id.index()].first_child,
        }
    }

    /// The element behind `id`, if `id` is an element.
    pub fn element(&self, id: NodeId) -> Option<ElementRef<'_>> {
        match self.nodes[id.index()].kind {
            Kind::Element(_) => Some(ElementRef { doc: self, id }),
            _ => None,
        }
    }

    /// All elements in document order.
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
            cur = self.parent(c);
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
            cur = self.parent(c);
        }
        let mut out: Vec<NsDecl> = self.context.clone();
        for c in chain.into_iter().rev() {
            if let Some(e) = self.element(c) {
                out.extend(e.ns_decls().map(|(p, u)| NsDecl {
                    prefix: p.map(str::to_string),
                    uri: u.to_string(),
                }));
            }
        }
        out
    }

    /// The namespace URI bound to `prefix` (None = default namespace) at element `id`.
    pub fn lookup_namespace(&self, id: NodeId, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML_NS);
        }
        let mut cur = Some(id);
        while let Some(c) = cur {
            if let Some(e) = self.element(c)
                && let Some((_, u)) = e.ns_decls().find(|(p, _)| *p == prefix)
            {
                return (!u.is_empty()).then_some(u);
            }
            cur = self.parent(c);
        }
        self.context
            .iter()
            .rev()
            .find(|d| d.prefix.as_deref() == prefix)
            .map(|d| d.uri.as_str())
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
            for a in e.attributes().filter(AttrRef::is_id) {
                if !seen.insert(a.value()) {
                    return Some(a.value().to_string());
                }
            }
        }
        None
    }

    /// Line and column (1-based) of a byte offset, for messages.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        position(&self.source, offset)
    }
}

pub(crate) fn position(source: &str, offset: usize) -> (usize, usize) {
    let upto = source.get(..offset.min(source.len())).unwrap_or(source);
    let line = upto.matches('\n').count() + 1;
    let col = upto.rfind('\n').map_or(upto.len(), |p| upto.len() - p - 1) + 1;
    (line, col)
}

pub struct Children<'a> {
    doc: &'a Document,
    next: Option<NodeId>,
}

impl Iterator for Children<'_> {
    type Item = NodeId;
    fn next(&mut self) -> Option<NodeId> {
        let id = self.next?;
        self.next = self.doc.nodes[id.index()].next_sibling;
        Some(id)
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
        let mark = self.stack.len();
        self.stack.extend(self.doc.children(id));
        self.stack[mark..].reverse();
        Some(id)
    }
}

/// A borrowed attribute.
#[derive(Clone, Copy, Debug)]
pub struct AttrRef<'a> {
    doc: &'a Document,
    attr: &'a Attr,
}

impl<'a> AttrRef<'a> {
    pub fn prefix(&self) -> Option<&'a str> {
        self.attr.prefix.map(|p| self.doc.str(p))
    }

    pub fn local(&self) -> &'a str {
        self.doc.str(self.attr.local)
    }

    /// Resolved namespace; unprefixed attributes have none.
    pub fn ns(&self) -> Option<&'a str> {
        self.doc.ns_str(self.attr.ns)
    }

    /// The value after entity expansion and attribute-value normalization.
    pub fn value(&self) -> &'a str {
        self.doc.str(self.attr.value)
    }

    pub fn qname(&self) -> String {
        qname(self.prefix(), self.local())
    }

    /// Whether this is one of the ID-typed attributes XML-DSig references may point at.
    pub fn is_id(&self) -> bool {
        match (self.ns(), self.local()) {
            (None, "ID" | "Id" | "id") => true,
            (Some(ns), "id") => ns == XML_NS,
            _ => false,
        }
    }
}

fn qname(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_string(),
    }
}

/// A borrowed element with convenient accessors.
#[derive(Clone, Copy, Debug)]
pub struct ElementRef<'a> {
    doc: &'a Document,
    id: NodeId,
}

impl<'a> ElementRef<'a> {
    fn data(&self) -> &'a ElementData {
        match &self.doc.nodes[self.id.index()].kind {
            Kind::Element(e) => e,
            // An ElementRef is only made for element nodes.
            _ => unreachable!("ElementRef on a non-element"),
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn document(&self) -> &'a Document {
        self.doc
    }

    pub fn prefix(&self) -> Option<&'a str> {
        self.data().prefix.map(|p| self.doc.str(p))
    }

    pub fn local(&self) -> &'a str {
        self.doc.str(self.data().local)
    }

    pub fn ns(&self) -> Option<&'a str> {
        self.doc.ns_str(self.data().ns)
    }

    /// The name as written, `prefix:local` or `local`.
    pub fn qname(&self) -> String {
        qname(self.prefix(), self.local())
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local() == local && self.ns() == Some(ns)
    }

    /// `{ns}local`, or `local` for an element in no namespace.
    pub fn expanded_name(&self) -> String {
        match self.ns() {
            Some(ns) => format!("{{{ns}}}{}", self.local()),
            None => self.local().to_string(),
        }
    }

    pub fn span(&self) -> Range<usize> {
        self.doc.span(self.id)
    }

    /// End of the start tag in the source (just after its `>`).
    pub fn start_tag_end(&self) -> usize {
        self.data().start_tag_end as usize
    }

    /// Whether it was written as `<x/>`.
    pub fn self_closing(&self) -> bool {
        self.data().self_closing
    }

    pub fn attributes(self) -> impl Iterator<Item = AttrRef<'a>> + 'a {
        let doc = self.doc;
        let r = self.data().attrs.clone();
        doc.attrs[r.start as usize..r.end as usize]
            .iter()
            .map(move |attr| AttrRef { doc, attr })
    }

    /// Namespace declarations written on this element: (prefix, uri); `xmlns=""` has uri "".
    pub fn ns_decls(self) -> impl Iterator<Item = (Option<&'a str>, &'a str)> + 'a {
        let doc = self.doc;
        let r = self.data().decls.clone();
        doc.decls[r.start as usize..r.end as usize]
            .iter()
            .map(move |d| (d.prefix.map(|p| doc.str(p)), doc.str(d.uri)))
    }

    /// The value of an attribute in no namespace.
    pub fn attr(&self, local: &str) -> Option<&'a str> {
        self.attributes()
            .find(|a| a.attr.ns == NsRef::None && a.local() == local)
            .map(|a| a.value())
    }

    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&'a str> {
        self.attributes()
            .find(|a| a.local() == local && a.ns() == Some(ns))
            .map(|a| a.value())
    }

    /// The value of this element's ID-typed attribute, if it has one.
    pub fn id_value(&self) -> Option<&'a str> {
        self.attributes().find(AttrRef::is_id).map(|a| a.value())
    }

    pub fn parent(&self) -> Option<ElementRef<'a>> {
        self.doc.parent(self.id).and_then(|p| self.doc.element(p))
    }

    pub fn children(self) -> Children<'a> {
        self.doc.children(self.id)
    }

    pub fn child_elements(self) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        let doc = self.doc;
        doc.children(self.id).filter_map(move |c| doc.element(c))
    }

    /// Child elements with this expanded name.
    pub fn children_named(
        self,
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
        for c in self.children() {
            if let NodeKind::Text(t) = self.doc.kind(c) {
                s.push_str(t);
            }
        }
        s
    }

    pub fn lookup_namespace(&self, prefix: Option<&str>) -> Option<&'a str> {
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
        assert_eq!(r.prefix(), Some("a"));
        assert_eq!(r.ns_decls().count(), 2);
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
    fn rejects_character_references_with_a_sign() {
        assert_eq!(
            p("<r>&#+65;</r>").err(),
            Some(XmlError::InvalidCharRef("#+65".into()))
        );
        assert_eq!(
            p("<r>&#x+41;</r>").err(),
            Some(XmlError::InvalidCharRef("#x+41".into()))
        );
    }

    #[test]
    fn rejects_double_dash_in_comments_and_misplaced_declarations() {
        assert!(matches!(
            p("<r><!-- a -- b --></r>"),
            Err(XmlError::Syntax(_))
        ));
        assert!(matches!(
            p("<r><?xml version=\"1.0\"?></r>"),
            Err(XmlError::Syntax(_))
        ));
        assert!(matches!(p("<r a=\"1\"b=\"2\"/>"), Err(XmlError::Syntax(_))));
        assert!(matches!(p("<r a=\"x<y\"/>"), Err(XmlError::Syntax(_))));
        assert!(matches!(p("<1r/>"), Err(XmlError::Syntax(_))));
        assert!(matches!(
            p("<a:b:c xmlns:a=\"urn:a\"/>"),
            Err(XmlError::Syntax(_))
        ));
    }

    #[test]
    fn keeps_comments_pis_and_cdata_as_written() {
        let d = p("<r><!-- c --><?t  d ?><![CDATA[<&>]]>x</r>").unwrap();
        let kinds: Vec<String> = d
            .root_element()
            .children()
            .map(|c| match d.kind(c) {
                NodeKind::Comment(t) => format!("comment:{t}"),
                NodeKind::ProcessingInstruction { target, data } => format!("pi:{target}:{data:?}"),
                NodeKind::Text(t) => format!("text:{t}"),
                NodeKind::Element(_) => "element".into(),
            })
            .collect();
        assert_eq!(kinds, ["comment: c ", "pi:t:Some(\"d \")", "text:<&>x"]);
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
