//! The parser: one pass over the bytes, building the tree directly. It reads the XML 1.0 subset
//! a SAML node needs — declaration, elements, attributes, character data, CDATA, comments and
//! processing instructions — and refuses a DOCTYPE, so no entity beyond the five predefined ones
//! and no external resource can exist. It applies XML 1.0's line-end and attribute-value
//! normalization, checks names and characters, resolves namespaces (XML Namespaces 1.0) and
//! enforces the limits as it goes.

use super::{
    Attr, Decl, Document, ElementData, Kind, Limits, Node, NodeId, NsDecl, NsRef, Str, XmlError,
};

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
    if text.len() > u32::MAX as usize {
        return Err(XmlError::TooLarge {
            size: text.len(),
            limit: u32::MAX as usize,
        });
    }
    Parser::new(text, context, limits).run()
}

/// Byte offsets (start, end) in the source.
type Span = (u32, u32);

/// A qualified name as written: prefix and local part.
type QName = (Option<Span>, Span);

#[derive(Clone, Copy)]
struct RawAttr {
    prefix: Option<(u32, u32)>,
    local: (u32, u32),
    value: Str,
}

#[derive(Clone, Copy)]
struct Binding<'a> {
    prefix: Option<&'a str>,
    ns: NsRef,
    empty: bool,
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    owned: Vec<Box<str>>,
    nodes: Vec<Node>,
    attrs: Vec<Attr>,
    decls: Vec<Decl>,
    top_level: Vec<NodeId>,
    root: Option<NodeId>,
    open: Vec<NodeId>,
    scope: Vec<Binding<'a>>,
    scope_marks: Vec<usize>,
    raw_attrs: Vec<RawAttr>,
    context: &'a [NsDecl],
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

fn is_name_start(c: char) -> bool {
    matches!(c as u32,
        0x41..=0x5A | 0x5F | 0x61..=0x7A | 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x2FF
        | 0x370..=0x37D | 0x37F..=0x1FFF | 0x200C..=0x200D | 0x2070..=0x218F
        | 0x2C00..=0x2FEF | 0x3001..=0xD7FF | 0xF900..=0xFDCF | 0xFDF0..=0xFFFD
        | 0x10000..=0xEFFFF)
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c as u32, 0x2D | 0x2E | 0x30..=0x39 | 0xB7 | 0x300..=0x36F | 0x203F..=0x2040)
}

/// True when the text needs no work: no reference, no line end to normalize, no whitespace to
/// turn into spaces (attributes), no `]` that could start `]]>` (text), no character outside
/// XML's Char production. Most of a SAML message (base64 above all) takes this path.
fn is_plain(bytes: &[u8], attribute: bool) -> bool {
    // A branch-free pass the compiler vectorizes; only text that trips it gets the exact check.
    let special = |b: u8| (b < 0x20) | (b == b'&') | (b == b'<') | (b == b']') | (b == 0xEF);
    let mut any = false;
    for chunk in bytes.chunks(64) {
        any |= chunk.iter().fold(false, |acc, &b| acc | special(b));
        if any {
            break;
        }
    }
    !any || is_plain_exact(bytes, attribute)
}

fn is_plain_exact(bytes: &[u8], attribute: bool) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'&' | b'\r' | b'<' => return false,
            b']' if !attribute => return false,
            b'\n' | b'\t' if attribute => return false,
            b'\n' | b'\t' => {}
            0..=0x1f => return false,
            // U+FFFE and U+FFFF (EF BF BE, EF BF BF) are not XML characters.
            0xEF if bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) =>
            {
                return false;
            }
            _ => {}
        }
        i += 1;
    }
    true
}

/// ASCII name characters: 1 = may start a name, 2 = may continue one.
const NAME_ASCII: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b.is_ascii_alphabetic() || b == b'_' {
            t[c] = 3;
        } else if b.is_ascii_digit() || b == b'-' || b == b'.' {
            t[c] = 2;
        }
        c += 1;
    }
    t
};

fn check_chars(s: &str) -> Result<(), XmlError> {
    match s.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(XmlError::InvalidChar(c as u32)),
        None => Ok(()),
    }
}

/// Expand references and normalize line ends; in attribute values also turn literal whitespace
/// into spaces (XML 1.0 §3.3.3, CDATA-typed attributes). Characters from references stay as
/// they are.
fn unescape(raw: &str, attribute: bool) -> Result<String, XmlError> {
    if !attribute && raw.contains("]]>") {
        return Err(XmlError::Syntax("']]>' in character data".into()));
    }
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
            '<' => return Err(XmlError::Syntax("'<' in an attribute value".into())),
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
    // Only digits: Rust's integer parsers would also take a leading '+', which XML does not.
    let code = if let Some(hex) = name.strip_prefix("#x") {
        (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(hex, 16).ok())
            .flatten()
    } else if let Some(dec) = name.strip_prefix('#') {
        (!dec.is_empty() && dec.bytes().all(|b| b.is_ascii_digit()))
            .then(|| dec.parse::<u32>().ok())
            .flatten()
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

impl<'a> Parser<'a> {
    fn new(s: &'a str, context: &'a [NsDecl], limits: &'a Limits) -> Self {
        let mut scope = vec![Binding {
            prefix: Some("xml"),
            ns: NsRef::Xml,
            empty: false,
        }];
        for (i, d) in context.iter().enumerate() {
            scope.push(Binding {
                prefix: d.prefix.as_deref(),
                ns: NsRef::Context(i as u32),
                empty: d.uri.is_empty(),
            });
        }
        Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
            limits,
            owned: Vec::new(),
            nodes: Vec::with_capacity(s.len() / 24),
            attrs: Vec::with_capacity(s.len() / 48),
            decls: Vec::new(),
            top_level: Vec::new(),
            root: None,
            open: Vec::with_capacity(16),
            scope,
            scope_marks: Vec::with_capacity(16),
            raw_attrs: Vec::with_capacity(16),
            context,
        }
    }

    fn syntax(&self, what: &str) -> XmlError {
        let (line, col) = super::position(self.s, self.pos);
        XmlError::Syntax(format!("{what} at {line}:{col}"))
    }

    fn starts_with(&self, lit: &[u8]) -> bool {
        self.b[self.pos..].starts_with(lit)
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.pos < self.b.len() && is_ws(self.b[self.pos]) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn find(&self, lit: &[u8]) -> Option<usize> {
        memchr::memmem::find(&self.b[self.pos..], lit).map(|i| self.pos + i)
    }

    /// Text that takes no references (comments, PIs, CDATA): line ends normalized, characters
    /// checked.
    fn literal(&mut self, start: usize, end: usize) -> Result<Str, XmlError> {
        let raw = &self.s[start..end];
        if raw.bytes().any(|b| b == b'\r') {
            let t = raw.replace("\r\n", "\n").replace('\r', "\n");
            check_chars(&t)?;
            return Ok(self.own(t));
        }
        if !is_plain(raw.as_bytes(), false) {
            check_chars(raw)?;
        }
        Ok(Str::Src(start as u32, end as u32))
    }

    fn own(&mut self, s: String) -> Str {
        self.owned.push(s.into_boxed_str());
        Str::Own((self.owned.len() - 1) as u32)
    }

    fn decoded(&mut self, start: usize, end: usize, attribute: bool) -> Result<Str, XmlError> {
        let raw = &self.s[start..end];
        if is_plain(raw.as_bytes(), attribute) {
            return Ok(Str::Src(start as u32, end as u32));
        }
        let t = unescape(raw, attribute)?;
        Ok(self.own(t))
    }

    fn text_of(&self, s: Str) -> &str {
        match s {
            Str::Src(a, b) => &self.s[a as usize..b as usize],
            Str::Own(i) => &self.owned[i as usize],
        }
    }

    /// A QName at the current position: (prefix span, local span).
    fn qname(&mut self) -> Result<QName, XmlError> {
        let start = self.pos;
        let mut colon: Option<usize> = None;
        let mut first = true;
        while self.pos < self.b.len() {
            let b = self.b[self.pos];
            if b == b':' {
                if colon.is_some() || first {
                    return Err(self.syntax("bad qualified name"));
                }
                colon = Some(self.pos);
                first = true;
                self.pos += 1;
                continue;
            }
            let (ok, len) = if b < 0x80 {
                let class = NAME_ASCII[b as usize];
                (if first { class & 1 != 0 } else { class != 0 }, 1)
            } else {
                let c = self.s[self.pos..].chars().next().unwrap_or('\0');
                (
                    if first {
                        is_name_start(c)
                    } else {
                        is_name_char(c)
                    },
                    c.len_utf8(),
                )
            };
            if !ok {
                break;
            }
            first = false;
            self.pos += len;
        }
        if first {
            return Err(self.syntax("expected a name"));
        }
        let end = self.pos as u32;
        Ok(match colon {
            Some(c) => (Some((start as u32, c as u32)), (c as u32 + 1, end)),
            None => (None, (start as u32, end)),
        })
    }

    fn run(mut self) -> Result<Document, XmlError> {
        if self.starts_with(b"<?xml") && self.b.get(5).is_some_and(|&c| is_ws(c)) {
            self.declaration()?;
        }
        while self.pos < self.b.len() {
            if self.b[self.pos] != b'<' {
                self.text()?;
                continue;
            }
            match self.b.get(self.pos + 1) {
                Some(b'?') => self.pi()?,
                Some(b'!') => {
                    if self.starts_with(b"<!--") {
                        self.comment()?;
                    } else if self.starts_with(b"<![CDATA[") {
                        self.cdata()?;
                    } else if self.starts_with(b"<!DOCTYPE") {
                        return Err(XmlError::Doctype);
                    } else {
                        return Err(self.syntax("unknown markup"));
                    }
                }
                Some(b'/') => self.end_tag()?,
                _ => self.start_tag()?,
            }
        }
        if !self.open.is_empty() {
            return Err(self.syntax("unexpected end of document"));
        }
        let root = self.root.ok_or(XmlError::NoRoot)?;
        Ok(Document {
            source: self.s.to_string(),
            owned: self.owned,
            nodes: self.nodes,
            attrs: self.attrs,
            decls: self.decls,
            top_level: self.top_level,
            root,
            context: self.context.to_vec(),
        })
    }

    fn declaration(&mut self) -> Result<(), XmlError> {
        let end = self
            .find(b"?>")
            .ok_or_else(|| self.syntax("unterminated XML declaration"))?;
        let body = &self.s[self.pos + 5..end];
        let mut version = false;
        let mut rest = body.trim_start();
        while !rest.is_empty() {
            let eq = rest
                .find('=')
                .ok_or_else(|| self.syntax("bad XML declaration"))?;
            let name = rest[..eq].trim();
            let after = rest[eq + 1..].trim_start();
            let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
            let quote = quote.ok_or_else(|| self.syntax("bad XML declaration"))?;
            let close = after[1..]
                .find(quote)
                .ok_or_else(|| self.syntax("bad XML declaration"))?;
            let value = &after[1..1 + close];
            match name {
                "version" if value.starts_with("1.") => version = true,
                "encoding" => {
                    if !value.eq_ignore_ascii_case("utf-8") && !value.eq_ignore_ascii_case("utf8") {
                        return Err(XmlError::UnsupportedEncoding(value.to_string()));
                    }
                }
                "standalone" => {}
                _ => return Err(self.syntax("bad XML declaration")),
            }
            rest = after[close + 2..].trim_start();
        }
        if !version {
            return Err(self.syntax("XML declaration without version"));
        }
        self.pos = end + 2;
        Ok(())
    }

    fn text(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        let end = memchr::memchr(b'<', &self.b[start..]).map_or(self.b.len(), |i| start + i);
        self.pos = end;
        if self.open.is_empty() {
            if self.b[start..end].iter().all(|&c| is_ws(c)) {
                return Ok(());
            }
            return Err(XmlError::TextOutsideRoot);
        }
        let t = self.decoded(start, end, false)?;
        self.add_text(t, start, end)
    }

    fn comment(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        self.pos += 4;
        let dd = self
            .find(b"--")
            .ok_or_else(|| self.syntax("unterminated comment"))?;
        if self.b.get(dd + 2) != Some(&b'>') {
            self.pos = dd;
            return Err(self.syntax("'--' inside a comment"));
        }
        let t = self.literal(start + 4, dd)?;
        self.pos = dd + 3;
        self.add_leaf(Kind::Comment(t), start, self.pos)
    }

    fn cdata(&mut self) -> Result<(), XmlError> {
        if self.open.is_empty() {
            return Err(XmlError::TextOutsideRoot);
        }
        let start = self.pos;
        self.pos += 9;
        let end = self
            .find(b"]]>")
            .ok_or_else(|| self.syntax("unterminated CDATA section"))?;
        let t = self.literal(start + 9, end)?;
        self.pos = end + 3;
        self.add_text(t, start, self.pos)
    }

    fn pi(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        self.pos += 2;
        let (prefix, local) = self.qname()?;
        if prefix.is_some() {
            return Err(self.syntax("a processing instruction target has no colon"));
        }
        let target = Str::Src(local.0, local.1);
        if self.text_of(target).eq_ignore_ascii_case("xml") {
            return Err(self.syntax("XML declaration not at the start"));
        }
        let data = if self.starts_with(b"?>") {
            None
        } else {
            if !self.skip_ws() {
                return Err(self.syntax("bad processing instruction"));
            }
            let end = self
                .find(b"?>")
                .ok_or_else(|| self.syntax("unterminated processing instruction"))?;
            let d = self.literal(self.pos, end)?;
            self.pos = end;
            Some(d)
        };
        self.pos += 2;
        self.add_leaf(Kind::Pi { target, data }, start, self.pos)
    }

    fn start_tag(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        if self.open.len() + 1 > self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        if self.open.is_empty() && self.root.is_some() {
            return Err(XmlError::MultipleRoots);
        }
        self.pos += 1;
        let (prefix, local) = self.qname()?;
        self.raw_attrs.clear();
        let self_closing = loop {
            let had_ws = self.skip_ws();
            match self.b.get(self.pos) {
                Some(b'>') => {
                    self.pos += 1;
                    break false;
                }
                Some(b'/') if self.b.get(self.pos + 1) == Some(&b'>') => {
                    self.pos += 2;
                    break true;
                }
                Some(_) if had_ws => self.attribute()?,
                Some(_) => return Err(self.syntax("expected whitespace, '>' or '/>'")),
                None => return Err(self.syntax("unterminated start tag")),
            }
        };
        self.finish_start(start, prefix, local, self_closing)
    }

    fn attribute(&mut self) -> Result<(), XmlError> {
        if self.raw_attrs.len() >= self.limits.max_attributes {
            return Err(XmlError::TooManyAttributes {
                limit: self.limits.max_attributes,
            });
        }
        let (prefix, local) = self.qname()?;
        self.skip_ws();
        if self.b.get(self.pos) != Some(&b'=') {
            return Err(self.syntax("expected '='"));
        }
        self.pos += 1;
        self.skip_ws();
        let quote = match self.b.get(self.pos) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Err(self.syntax("expected a quoted value")),
        };
        let vstart = self.pos + 1;
        let vend = memchr::memchr(quote, &self.b[vstart..])
            .map(|i| vstart + i)
            .ok_or_else(|| self.syntax("unterminated attribute value"))?;
        if memchr::memchr(b'<', &self.b[vstart..vend]).is_some() {
            return Err(self.syntax("'<' in an attribute value"));
        }
        let value = self.decoded(vstart, vend, true)?;
        self.pos = vend + 1;
        self.raw_attrs.push(RawAttr {
            prefix,
            local,
            value,
        });
        Ok(())
    }

    fn lookup(&self, prefix: Option<&str>) -> Option<Binding<'a>> {
        self.scope
            .iter()
            .rev()
            .find(|b| b.prefix == prefix)
            .copied()
    }

    fn span_str(&self, (a, b): (u32, u32)) -> &'a str {
        &self.s[a as usize..b as usize]
    }

    fn finish_start(
        &mut self,
        start: usize,
        prefix: Option<(u32, u32)>,
        local: (u32, u32),
        self_closing: bool,
    ) -> Result<(), XmlError> {
        let start_tag_end = self.pos;
        self.scope_marks.push(self.scope.len());
        let decl_start = self.decls.len();
        let raw = std::mem::take(&mut self.raw_attrs);
        // Namespace declarations first: they are in scope for the element and its attributes.
        for a in &raw {
            let p = a.prefix.map(|p| self.span_str(p));
            let l = self.span_str(a.local);
            let decl_prefix = match (p, l) {
                (None, "xmlns") => None,
                (Some("xmlns"), name) => Some(name),
                _ => continue,
            };
            let uri = self.text_of(a.value);
            if let Some(name) = decl_prefix {
                check_prefix_binding(name, uri)?;
            }
            let dup = self.decls[decl_start..]
                .iter()
                .any(|d| d.prefix.map(|s| self.text_of(s)) == decl_prefix);
            if dup {
                return Err(XmlError::DuplicateAttribute(match decl_prefix {
                    Some(p) => format!("xmlns:{p}"),
                    None => "xmlns".into(),
                }));
            }
            let empty = uri.is_empty();
            self.decls.push(Decl {
                prefix: decl_prefix.map(|_| {
                    let (a0, a1) = a.local;
                    Str::Src(a0, a1)
                }),
                uri: a.value,
            });
            self.scope.push(Binding {
                prefix: decl_prefix,
                ns: NsRef::Decl((self.decls.len() - 1) as u32),
                empty,
            });
        }
        let decl_end = self.decls.len();
        let p = prefix.map(|p| self.span_str(p));
        let ns = match (self.lookup(p), p) {
            (Some(b), _) if !b.empty => b.ns,
            (_, Some(pfx)) => return Err(XmlError::UnboundPrefix(pfx.to_string())),
            (_, None) => NsRef::None,
        };
        let attr_start = self.attrs.len();
        for a in &raw {
            let ap = a.prefix.map(|p| self.span_str(p));
            let al = self.span_str(a.local);
            if ap == Some("xmlns") || (ap.is_none() && al == "xmlns") {
                continue;
            }
            let ans = match ap {
                None => NsRef::None,
                Some(pfx) => match self.lookup(Some(pfx)) {
                    Some(b) if !b.empty => b.ns,
                    _ => return Err(XmlError::UnboundPrefix(pfx.to_string())),
                },
            };
            let ans_str = self.ns_text(ans);
            let dup = self.attrs[attr_start..]
                .iter()
                .any(|o| self.text_of(o.local) == al && self.ns_text(o.ns) == ans_str);
            if dup {
                return Err(XmlError::DuplicateAttribute(match ap {
                    Some(p) => format!("{p}:{al}"),
                    None => al.to_string(),
                }));
            }
            self.attrs.push(Attr {
                prefix: a.prefix.map(|(x, y)| Str::Src(x, y)),
                local: Str::Src(a.local.0, a.local.1),
                ns: ans,
                value: a.value,
            });
        }
        self.raw_attrs = raw;
        let parent = self.open.last().copied();
        let id = self.alloc(
            Kind::Element(ElementData {
                prefix: prefix.map(|(x, y)| Str::Src(x, y)),
                local: Str::Src(local.0, local.1),
                ns,
                attrs: attr_start as u32..self.attrs.len() as u32,
                decls: decl_start as u32..decl_end as u32,
                start_tag_end: start_tag_end as u32,
                self_closing,
            }),
            parent,
            start,
            start_tag_end,
        )?;
        if parent.is_none() {
            self.root = Some(id);
        }
        self.open.push(id);
        if self_closing {
            self.close(start_tag_end);
        }
        Ok(())
    }

    fn ns_text(&self, n: NsRef) -> Option<&str> {
        match n {
            NsRef::None => None,
            NsRef::Xml => Some(super::XML_NS),
            NsRef::Decl(i) => Some(self.text_of(self.decls[i as usize].uri)),
            NsRef::Context(i) => Some(self.context[i as usize].uri.as_str()),
        }
    }

    fn end_tag(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        self.pos += 2;
        let name_start = self.pos;
        self.qname()?;
        let found = &self.s[name_start..self.pos];
        self.skip_ws();
        if self.b.get(self.pos) != Some(&b'>') {
            return Err(self.syntax("expected '>'"));
        }
        self.pos += 1;
        let Some(&id) = self.open.last() else {
            self.pos = start;
            return Err(self.syntax("end tag without a start tag"));
        };
        let node = &self.nodes[id.0 as usize];
        let (expected, display) = match &node.kind {
            Kind::Element(ElementData {
                local: Str::Src(_, local_end),
                ..
            }) => {
                let e = &self.s[node.span.0 as usize + 1..*local_end as usize];
                (e, e)
            }
            _ => ("", ""),
        };
        if expected != found {
            return Err(XmlError::MismatchedEndTag {
                expected: display.to_string(),
                found: found.to_string(),
            });
        }
        self.close(self.pos);
        Ok(())
    }

    fn close(&mut self, end: usize) {
        if let Some(id) = self.open.pop() {
            self.nodes[id.0 as usize].span.1 = end as u32;
        }
        if let Some(mark) = self.scope_marks.pop() {
            self.scope.truncate(mark);
        }
    }

    fn alloc(
        &mut self,
        kind: Kind,
        parent: Option<NodeId>,
        start: usize,
        end: usize,
    ) -> Result<NodeId, XmlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(XmlError::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node {
            kind,
            parent,
            first_child: None,
            last_child: None,
            next_sibling: None,
            span: (start as u32, end as u32),
        });
        match parent {
            Some(p) => {
                let pi = p.0 as usize;
                match self.nodes[pi].last_child {
                    Some(l) => self.nodes[l.0 as usize].next_sibling = Some(id),
                    None => self.nodes[pi].first_child = Some(id),
                }
                self.nodes[pi].last_child = Some(id);
            }
            None => self.top_level.push(id),
        }
        Ok(id)
    }

    fn add_leaf(&mut self, kind: Kind, start: usize, end: usize) -> Result<(), XmlError> {
        let parent = self.open.last().copied();
        self.alloc(kind, parent, start, end).map(|_| ())
    }

    /// Adjacent character data (text next to CDATA) becomes one text node.
    fn add_text(&mut self, t: Str, start: usize, end: usize) -> Result<(), XmlError> {
        if let Some(&parent) = self.open.last()
            && let Some(last) = self.nodes[parent.0 as usize].last_child
            && let Kind::Text(prev) = self.nodes[last.0 as usize].kind
        {
            let merged = format!("{}{}", self.text_of(prev), self.text_of(t));
            let m = self.own(merged);
            let node = &mut self.nodes[last.0 as usize];
            node.kind = Kind::Text(m);
            node.span.1 = end as u32;
            return Ok(());
        }
        self.add_leaf(Kind::Text(t), start, end)
    }
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
    if (prefix == "xml") != (uri == super::XML_NS) {
        return Err(XmlError::BadNamespaceDeclaration(format!(
            "prefix {prefix:?} and the XML namespace"
        )));
    }
    Ok(())
}
