//! The parser: xmlparser's tokenizer (a pull tokenizer without DTD processing) turned into our
//! tree, with namespace resolution, entity expansion, line-end and attribute-value normalization
//! as XML 1.0 defines them, and the limits checked as tokens arrive.

use super::{Document, Element, Limits, Node, NodeId, NodeKind, NsDecl, XML_NS, XmlError};
use crate::xml::Attribute;
use xmlparser::{ElementEnd, Token, Tokenizer};

/// Parse a whole document.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Document, XmlError> {
    parse_in_context(input, &[], limits)
}

/// Parse a document whose document element sits in a namespace context that the text does not
/// declare — a decrypted element, which libxmlsec1 and others encrypt without the namespace
/// declarations it inherits. `context` is outermost first.
pub fn parse_in_context(
    input: &[u8],
    context: &[NsDecl],
    limits: &Limits,
) -> Result<Document, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    if input.starts_with(&[0xFE, 0xFF]) || input.starts_with(&[0xFF, 0xFE]) {
        return Err(XmlError::UnsupportedEncoding("UTF-16".into()));
    }
    let input = input.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    Builder::new(text, context, limits).run()
}

struct Pending {
    prefix: Option<String>,
    local: String,
    start: usize,
    raw_attrs: Vec<(Option<String>, String, String)>,
}

struct Builder<'a> {
    text: &'a str,
    limits: &'a Limits,
    nodes: Vec<Node>,
    top_level: Vec<NodeId>,
    root: Option<NodeId>,
    open: Vec<NodeId>,
    /// Namespace bindings in scope: (prefix, uri); `scope_marks` holds the length per open element.
    scope: Vec<(Option<String>, String)>,
    scope_marks: Vec<usize>,
    pending: Option<Pending>,
    context: Vec<NsDecl>,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str, context: &[NsDecl], limits: &'a Limits) -> Self {
        let mut scope = vec![(Some("xml".to_string()), XML_NS.to_string())];
        scope.extend(context.iter().map(|d| (d.prefix.clone(), d.uri.clone())));
        Builder {
            text,
            limits,
            nodes: Vec::new(),
            top_level: Vec::new(),
            root: None,
            open: Vec::new(),
            scope,
            scope_marks: Vec::new(),
            pending: None,
            context: context.to_vec(),
        }
    }

    fn run(mut self) -> Result<Document, XmlError> {
        for token in Tokenizer::from(self.text) {
            let token = token.map_err(|e| XmlError::Syntax(e.to_string()))?;
            self.token(token)?;
        }
        if self.pending.is_some() || !self.open.is_empty() {
            return Err(XmlError::Syntax("unexpected end of document".into()));
        }
        let root = self.root.ok_or(XmlError::NoRoot)?;
        Ok(Document {
            source: self.text.to_string(),
            nodes: self.nodes,
            top_level: self.top_level,
            root,
            context: self.context,
        })
    }

    fn token(&mut self, token: Token<'a>) -> Result<(), XmlError> {
        match token {
            Token::Declaration { encoding, .. } => {
                if let Some(enc) = encoding {
                    let e = enc.as_str();
                    if !e.eq_ignore_ascii_case("utf-8") && !e.eq_ignore_ascii_case("utf8") {
                        return Err(XmlError::UnsupportedEncoding(e.to_string()));
                    }
                }
            }
            Token::DtdStart { .. }
            | Token::EmptyDtd { .. }
            | Token::EntityDeclaration { .. }
            | Token::DtdEnd { .. } => return Err(XmlError::Doctype),
            Token::ProcessingInstruction {
                target,
                content,
                span,
            } => {
                let kind = NodeKind::ProcessingInstruction {
                    target: target.as_str().to_string(),
                    data: content.map(|c| normalize_line_ends(c.as_str())),
                };
                self.add_leaf(kind, span.start()..span.end())?;
            }
            Token::Comment { text, span } => {
                let t = normalize_line_ends(text.as_str());
                check_chars(&t)?;
                self.add_leaf(NodeKind::Comment(t), span.start()..span.end())?;
            }
            Token::ElementStart {
                prefix,
                local,
                span,
            } => {
                if self.open.len() + 1 > self.limits.max_depth {
                    return Err(XmlError::TooDeep {
                        limit: self.limits.max_depth,
                    });
                }
                self.pending = Some(Pending {
                    prefix: non_empty(prefix.as_str()),
                    local: local.as_str().to_string(),
                    start: span.start(),
                    raw_attrs: Vec::new(),
                });
            }
            Token::Attribute {
                prefix,
                local,
                value,
                ..
            } => {
                let p = self
                    .pending
                    .as_mut()
                    .ok_or_else(|| XmlError::Syntax("attribute outside a start tag".into()))?;
                if p.raw_attrs.len() >= self.limits.max_attributes {
                    return Err(XmlError::TooManyAttributes {
                        limit: self.limits.max_attributes,
                    });
                }
                let v = unescape(value.as_str(), true)?;
                p.raw_attrs
                    .push((non_empty(prefix.as_str()), local.as_str().to_string(), v));
            }
            Token::ElementEnd { end, span } => match end {
                ElementEnd::Open => self.finish_start(span.end(), false)?,
                ElementEnd::Empty => {
                    self.finish_start(span.end(), true)?;
                    self.close(span.end())?;
                }
                ElementEnd::Close(prefix, local) => {
                    let id = *self
                        .open
                        .last()
                        .ok_or_else(|| XmlError::Syntax("end tag without start tag".into()))?;
                    if let NodeKind::Element(e) = &self.nodes[id.index()].kind {
                        let found = match non_empty(prefix.as_str()) {
                            Some(p) => format!("{p}:{}", local.as_str()),
                            None => local.as_str().to_string(),
                        };
                        if found != e.qname() {
                            return Err(XmlError::MismatchedEndTag {
                                expected: e.qname(),
                                found,
                            });
                        }
                    }
                    self.close(span.end())?;
                }
            },
            Token::Text { text } => {
                let raw = text.as_str();
                if self.open.is_empty() {
                    if raw.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) {
                        return Ok(());
                    }
                    return Err(XmlError::TextOutsideRoot);
                }
                if raw.contains("]]>") {
                    return Err(XmlError::Syntax("']]>' in character data".into()));
                }
                let t = unescape(raw, false)?;
                self.add_text(t, text.start()..text.end())?;
            }
            Token::Cdata { text, span } => {
                if self.open.is_empty() {
                    return Err(XmlError::TextOutsideRoot);
                }
                let t = normalize_line_ends(text.as_str());
                check_chars(&t)?;
                self.add_text(t, span.start()..span.end())?;
            }
        }
        Ok(())
    }

    fn alloc(&mut self, node: Node) -> Result<NodeId, XmlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(XmlError::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(node);
        Ok(id)
    }

    fn attach(&mut self, id: NodeId) {
        match self.open.last() {
            Some(&parent) => self.nodes[parent.index()].children.push(id),
            None => self.top_level.push(id),
        }
    }

    fn add_leaf(&mut self, kind: NodeKind, span: std::ops::Range<usize>) -> Result<(), XmlError> {
        let parent = self.open.last().copied();
        let id = self.alloc(Node {
            kind,
            parent,
            children: Vec::new(),
            span,
        })?;
        self.attach(id);
        Ok(())
    }

    fn add_text(&mut self, t: String, span: std::ops::Range<usize>) -> Result<(), XmlError> {
        if let Some(&parent) = self.open.last()
            && let Some(&last) = self.nodes[parent.index()].children.last()
            && let NodeKind::Text(prev) = &mut self.nodes[last.index()].kind
        {
            prev.push_str(&t);
            self.nodes[last.index()].span.end = span.end;
            return Ok(());
        }
        self.add_leaf(NodeKind::Text(t), span)
    }

    fn lookup(&self, prefix: Option<&str>) -> Option<&str> {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, u)| u.as_str())
    }

    fn finish_start(&mut self, start_tag_end: usize, self_closing: bool) -> Result<(), XmlError> {
        let p = self
            .pending
            .take()
            .ok_or_else(|| XmlError::Syntax("tag end without a start tag".into()))?;
        if self.open.is_empty() && self.root.is_some() {
            return Err(XmlError::MultipleRoots);
        }
        self.scope_marks.push(self.scope.len());
        let mut ns_decls = Vec::new();
        let mut plain = Vec::new();
        for (prefix, local, value) in p.raw_attrs {
            match (prefix.as_deref(), local.as_str()) {
                (None, "xmlns") => ns_decls.push(NsDecl {
                    prefix: None,
                    uri: value,
                }),
                (Some("xmlns"), name) => {
                    check_prefix_binding(name, &value)?;
                    ns_decls.push(NsDecl {
                        prefix: Some(name.to_string()),
                        uri: value,
                    });
                }
                _ => plain.push((prefix, local, value)),
            }
        }
        for (i, d) in ns_decls.iter().enumerate() {
            if ns_decls[..i].iter().any(|o| o.prefix == d.prefix) {
                return Err(XmlError::DuplicateAttribute(match &d.prefix {
                    Some(p) => format!("xmlns:{p}"),
                    None => "xmlns".into(),
                }));
            }
            self.scope.push((d.prefix.clone(), d.uri.clone()));
        }
        let ns = match self.lookup(p.prefix.as_deref()) {
            Some(u) if !u.is_empty() => Some(u.to_string()),
            _ if p.prefix.is_some() => {
                return Err(XmlError::UnboundPrefix(p.prefix.unwrap_or_default()));
            }
            _ => None,
        };
        let mut attributes: Vec<Attribute> = Vec::with_capacity(plain.len());
        for (prefix, local, value) in plain {
            let ans = match prefix.as_deref() {
                None => None,
                Some(pfx) => match self.lookup(Some(pfx)) {
                    Some(u) if !u.is_empty() => Some(u.to_string()),
                    _ => return Err(XmlError::UnboundPrefix(pfx.to_string())),
                },
            };
            if attributes.iter().any(|a| a.ns == ans && a.local == local) {
                let q = match &prefix {
                    Some(p) => format!("{p}:{local}"),
                    None => local.clone(),
                };
                return Err(XmlError::DuplicateAttribute(q));
            }
            attributes.push(Attribute {
                prefix,
                local,
                ns: ans,
                value,
            });
        }
        let parent = self.open.last().copied();
        let id = self.alloc(Node {
            kind: NodeKind::Element(Element {
                prefix: p.prefix,
                local: p.local,
                ns,
                attributes,
                ns_decls,
                start_tag_end,
                self_closing,
            }),
            parent,
            children: Vec::new(),
            span: p.start..start_tag_end,
        })?;
        self.attach(id);
        if parent.is_none() {
            self.root = Some(id);
        }
        self.open.push(id);
        Ok(())
    }

    fn close(&mut self, end: usize) -> Result<(), XmlError> {
        let id = self
            .open
            .pop()
            .ok_or_else(|| XmlError::Syntax("end tag without start tag".into()))?;
        self.nodes[id.index()].span.end = end;
        if let Some(mark) = self.scope_marks.pop() {
            self.scope.truncate(mark);
        }
        Ok(())
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn check_prefix_binding(prefix: &str, uri: &str) -> Result<(), XmlError> {
    if uri.is_empty() {
        return Err(XmlError::BadNamespaceDeclaration(format!(
            "prefix {prefix:?} bound to the empty string"
        )));
    }
    if prefix == "xmlns" {
        return Err(XmlError::BadNamespaceDeclaration("the xmlns prefix".into()));
    }
    if (prefix == "xml") != (uri == XML_NS) {
        return Err(XmlError::BadNamespaceDeclaration(format!(
            "prefix {prefix:?} and the XML namespace"
        )));
    }
    Ok(())
}

fn is_xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

fn check_chars(s: &str) -> Result<(), XmlError> {
    match s.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(XmlError::InvalidChar(c as u32)),
        None => Ok(()),
    }
}

/// XML 1.0 §2.11: CR LF and lone CR become LF.
fn normalize_line_ends(s: &str) -> String {
    if !s.contains('\r') {
        return s.to_string();
    }
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Expand references and normalize line ends; in attribute values also turn literal whitespace
/// into spaces (XML 1.0 §3.3.3, CDATA-typed attributes). Characters from references are kept as is.
fn unescape(raw: &str, attribute: bool) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while let Some(c) = raw[i..].chars().next() {
        i += c.len_utf8();
        match c {
            '&' => {
                let rest = &raw[i..];
                let end = rest
                    .find(';')
                    .ok_or_else(|| XmlError::Syntax("unterminated reference".into()))?;
                out.push(resolve_reference(&rest[..end])?);
                i += end + 1;
            }
            '<' if attribute => return Err(XmlError::Syntax("'<' in an attribute value".into())),
            '\r' => {
                if raw[i..].starts_with('\n') {
                    i += 1;
                }
                out.push(if attribute { ' ' } else { '\n' });
            }
            '\n' | '\t' if attribute => out.push(' '),
            c if !is_xml_char(c) => return Err(XmlError::InvalidChar(c as u32)),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn resolve_reference(name: &str) -> Result<char, XmlError> {
    let code = if let Some(hex) = name.strip_prefix("#x") {
        u32::from_str_radix(hex, 16).ok()
    } else if let Some(dec) = name.strip_prefix('#') {
        dec.parse::<u32>().ok()
    } else {
        return match name {
            "lt" => Ok('<'),
            "gt" => Ok('>'),
            "amp" => Ok('&'),
            "apos" => Ok('\''),
            "quot" => Ok('"'),
            _ => Err(XmlError::UnknownEntity(name.to_string())),
        };
    };
    code.and_then(char::from_u32)
        .filter(|&c| is_xml_char(c))
        .ok_or_else(|| XmlError::InvalidCharRef(name.to_string()))
}
