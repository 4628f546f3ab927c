//! Canonical XML over our parsed tree: exclusive C14N 1.0 (what we sign with and what SAML peers
//! use), with or without comments and with an InclusiveNamespaces PrefixList, and inclusive
//! C14N 1.0 (needed only to verify peers whose references carry no C14N transform, or whose
//! SignedInfo is canonicalized inclusively). Either of a whole document or of one element subtree,
//! optionally leaving one element out (the enveloped signature).

use crate::xml::{Document, NodeId, NodeKind, XML_NS};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Exclusive,
    Inclusive,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub method: Method,
    pub with_comments: bool,
    /// Exclusive C14N's InclusiveNamespaces PrefixList; `#default` names the default namespace.
    pub inclusive_prefixes: Vec<String>,
}

impl Options {
    pub fn exclusive() -> Self {
        Options {
            method: Method::Exclusive,
            with_comments: false,
            inclusive_prefixes: Vec::new(),
        }
    }

    pub fn inclusive() -> Self {
        Options {
            method: Method::Inclusive,
            with_comments: false,
            inclusive_prefixes: Vec::new(),
        }
    }
}

pub mod uri {
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
    pub const C14N_10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
    pub const C14N_10_WITH_COMMENTS: &str =
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
}

/// Canonicalize the document (`apex` None) or the subtree at `apex`, leaving out `exclude` and
/// its descendants.
pub fn canonicalize(
    doc: &Document,
    apex: Option<NodeId>,
    exclude: Option<NodeId>,
    opts: &Options,
) -> Vec<u8> {
    let mut c = Canon {
        doc,
        opts,
        exclude,
        out: Vec::with_capacity(doc.source().len()),
        scope: Vec::with_capacity(16),
        rendered: Vec::with_capacity(16),
        inclusive_default: opts.inclusive_prefixes.iter().any(|p| p == "#default"),
        attrs: Vec::with_capacity(16),
        candidates: Vec::with_capacity(8),
        to_render: Vec::with_capacity(8),
    };
    for d in doc.context_namespaces() {
        c.scope.push((d.prefix.as_deref(), d.uri.as_str()));
    }
    match apex {
        None => {
            let root = doc.root();
            let mut after_root = false;
            for &n in doc.top_level() {
                if n == root {
                    c.element(n, true);
                    after_root = true;
                    continue;
                }
                let mut piece = Vec::new();
                std::mem::swap(&mut piece, &mut c.out);
                let wrote = c.leaf(n);
                std::mem::swap(&mut piece, &mut c.out);
                if wrote {
                    if after_root {
                        c.out.push(b'\n');
                        c.out.extend(piece);
                    } else {
                        c.out.extend(piece);
                        c.out.push(b'\n');
                    }
                }
            }
        }
        Some(apex) => {
            // Namespaces declared by the apex's ancestors are in scope for it.
            let mut chain = Vec::new();
            let mut cur = doc.parent(apex);
            while let Some(p) = cur {
                chain.push(p);
                cur = doc.parent(p);
            }
            for p in chain.into_iter().rev() {
                if let Some(e) = doc.element(p) {
                    c.scope.extend(e.ns_decls());
                }
            }
            match doc.kind(apex) {
                NodeKind::Element(_) => c.element(apex, true),
                _ => {
                    c.leaf(apex);
                }
            }
        }
    }
    c.out
}

type Binding<'a> = (Option<&'a str>, &'a str);

/// (namespace URI, local name, prefix, value)
type AttrItem<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

struct Canon<'a> {
    doc: &'a Document,
    opts: &'a Options,
    exclude: Option<NodeId>,
    out: Vec<u8>,
    /// Namespace bindings in scope, outermost first.
    scope: Vec<Binding<'a>>,
    /// Namespace declarations rendered by output ancestors, outermost first.
    rendered: Vec<Binding<'a>>,
    inclusive_default: bool,
    /// Scratch for one element's attributes, candidate prefixes and declarations (reused:
    /// each is done with before the element's children are visited).
    attrs: Vec<AttrItem<'a>>,
    candidates: Vec<Option<&'a str>>,
    to_render: Vec<Binding<'a>>,
}

fn lookup<'a>(list: &[Binding<'a>], prefix: Option<&str>) -> Option<&'a str> {
    list.iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, u)| *u)
}

impl<'a> Canon<'a> {
    /// Write a comment, PI or text node; false if nothing was written.
    fn leaf(&mut self, id: NodeId) -> bool {
        match self.doc.kind(id) {
            NodeKind::Text(t) => {
                escape_text(&mut self.out, t);
                true
            }
            NodeKind::Comment(t) => {
                if self.opts.with_comments {
                    self.out.extend_from_slice(b"<!--");
                    self.out.extend_from_slice(t.as_bytes());
                    self.out.extend_from_slice(b"-->");
                    true
                } else {
                    false
                }
            }
            NodeKind::ProcessingInstruction { target, data } => {
                self.out.extend_from_slice(b"<?");
                self.out.extend_from_slice(target.as_bytes());
                if let Some(d) = data.filter(|d| !d.is_empty()) {
                    self.out.push(b' ');
                    self.out.extend_from_slice(d.as_bytes());
                }
                self.out.extend_from_slice(b"?>");
                true
            }
            NodeKind::Element(_) => false,
        }
    }

    fn element(&mut self, id: NodeId, is_top: bool) {
        let doc = self.doc;
        let Some(e) = doc.element(id) else {
            return;
        };
        let scope_mark = self.scope.len();
        self.scope.extend(e.ns_decls());

        // Which namespace prefixes are candidates for rendering on this element.
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        let add = |p: Option<&'a str>, c: &mut Vec<Option<&'a str>>| {
            if p != Some("xml") && !c.contains(&p) {
                c.push(p);
            }
        };
        match self.opts.method {
            Method::Exclusive => {
                add(e.prefix(), &mut candidates);
                for a in e.attributes() {
                    if let Some(p) = a.prefix() {
                        add(Some(p), &mut candidates);
                    }
                }
                if self.inclusive_default {
                    add(None, &mut candidates);
                }
                for p in &self.opts.inclusive_prefixes {
                    if p != "#default"
                        && let Some((q, _)) = self
                            .scope
                            .iter()
                            .rev()
                            .find(|(q, _)| *q == Some(p.as_str()))
                    {
                        add(*q, &mut candidates);
                    }
                }
            }
            Method::Inclusive => {
                if is_top {
                    for (p, _) in self.scope.iter().rev() {
                        add(*p, &mut candidates);
                    }
                } else {
                    for (p, _) in e.ns_decls() {
                        add(p, &mut candidates);
                    }
                }
            }
        }
        let mut to_render = std::mem::take(&mut self.to_render);
        to_render.clear();
        for &p in &candidates {
            let uri = lookup(&self.scope, p).unwrap_or("");
            let shown = lookup(&self.rendered, p);
            let render = match p {
                None => uri != shown.unwrap_or(""),
                Some(_) => !uri.is_empty() && shown != Some(uri),
            };
            if render {
                to_render.push((p, uri));
            }
        }
        // By prefix; the default namespace (no prefix) first.
        to_render.sort_by(|a, b| a.0.cmp(&b.0));

        self.out.push(b'<');
        write_qname(&mut self.out, e.prefix(), e.local());
        for (p, uri) in &to_render {
            match p {
                None => self.out.extend_from_slice(b" xmlns=\""),
                Some(p) => {
                    self.out.extend_from_slice(b" xmlns:");
                    self.out.extend_from_slice(p.as_bytes());
                    self.out.extend_from_slice(b"=\"");
                }
            }
            escape_attr(&mut self.out, uri);
            self.out.push(b'"');
        }

        // Attributes in (namespace URI, local name) order; inclusive C14N of a subtree also
        // carries the xml:* attributes the apex inherits.
        let mut attrs = std::mem::take(&mut self.attrs);
        attrs.clear();
        attrs.extend(
            e.attributes()
                .map(|a| (a.ns().unwrap_or(""), a.local(), a.prefix(), a.value())),
        );
        if is_top && self.opts.method == Method::Inclusive {
            let mut cur = e.parent();
            while let Some(pe) = cur {
                for a in pe.attributes() {
                    if a.ns() == Some(XML_NS)
                        && !attrs.iter().any(|x| x.0 == XML_NS && x.1 == a.local())
                    {
                        attrs.push((XML_NS, a.local(), Some("xml"), a.value()));
                    }
                }
                cur = pe.parent();
            }
        }
        if attrs.len() > 1 {
            attrs.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(b.1)));
        }
        for (_, local, prefix, value) in attrs.iter() {
            self.out.push(b' ');
            write_qname(&mut self.out, *prefix, local);
            self.out.extend_from_slice(b"=\"");
            escape_attr(&mut self.out, value);
            self.out.push(b'"');
        }
        self.attrs = attrs;
        self.out.push(b'>');

        let rendered_mark = self.rendered.len();
        self.rendered.extend_from_slice(&to_render);
        self.candidates = candidates;
        self.to_render = to_render;
        for child in doc.children(id) {
            if Some(child) == self.exclude {
                continue;
            }
            match doc.kind(child) {
                NodeKind::Element(_) => self.element(child, false),
                _ => {
                    self.leaf(child);
                }
            }
        }
        self.rendered.truncate(rendered_mark);
        self.scope.truncate(scope_mark);

        self.out.extend_from_slice(b"</");
        write_qname(&mut self.out, e.prefix(), e.local());
        self.out.push(b'>');
    }
}

fn write_qname(out: &mut Vec<u8>, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.extend_from_slice(p.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(local.as_bytes());
}

/// Whether any byte is one of `set`, in a pass the compiler vectorizes.
fn contains_any(bytes: &[u8], set: &[u8]) -> bool {
    bytes
        .chunks(64)
        .any(|c| c.iter().fold(false, |acc, b| acc | set.contains(b)))
}

fn escape_text(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !contains_any(bytes, b"&<>\r") {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#xD;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

pub(crate) fn escape_attr(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !contains_any(bytes, b"&<\"\t\n\r") {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'"' => b"&quot;",
            b'\t' => b"&#x9;",
            b'\n' => b"&#xA;",
            b'\r' => b"&#xD;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, parse};

    fn exc(xml: &str) -> String {
        let d = parse(xml.as_bytes(), &Limits::default()).unwrap();
        String::from_utf8(canonicalize(&d, None, None, &Options::exclusive())).unwrap()
    }

    fn exc_subtree(xml: &str, id: &str, opts: &Options) -> String {
        let d = parse(xml.as_bytes(), &Limits::default()).unwrap();
        let e = d.elements_with_id(id).next().unwrap().id();
        String::from_utf8(canonicalize(&d, Some(e), None, opts)).unwrap()
    }

    #[test]
    fn renders_namespaces_where_visibly_used_and_sorts_attributes() {
        let got = exc(
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c" z="1" b:y="2" a:x="3"><c:k/></a:r>"#,
        );
        assert_eq!(
            got,
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" z="1" a:x="3" b:y="2"><c:k xmlns:c="urn:c"></c:k></a:r>"#
        );
    }

    #[test]
    fn subtree_declares_inherited_namespaces_it_uses() {
        let xml = r#"<r xmlns="urn:d" xmlns:s="urn:s"><s:e ID="x"><s:f/><g/></s:e></r>"#;
        assert_eq!(
            exc_subtree(xml, "x", &Options::exclusive()),
            r#"<s:e xmlns:s="urn:s" ID="x"><s:f></s:f><g xmlns="urn:d"></g></s:e>"#
        );
    }

    #[test]
    fn inclusive_subtree_carries_all_namespaces_and_xml_attributes() {
        let xml = r#"<r xmlns="urn:d" xmlns:s="urn:s" xml:lang="nb"><s:e ID="x"/></r>"#;
        assert_eq!(
            exc_subtree(xml, "x", &Options::inclusive()),
            r#"<s:e xmlns="urn:d" xmlns:s="urn:s" ID="x" xml:lang="nb"></s:e>"#
        );
    }

    #[test]
    fn undeclares_default_namespace_only_when_an_output_ancestor_set_one() {
        assert_eq!(
            exc(r#"<r xmlns="urn:d"><e xmlns=""><f/></e></r>"#),
            r#"<r xmlns="urn:d"><e xmlns=""><f></f></e></r>"#
        );
        assert_eq!(exc(r#"<r><e xmlns=""/></r>"#), r#"<r><e></e></r>"#);
    }

    #[test]
    fn escapes_text_and_attributes_and_normalizes_whitespace() {
        let got = exc("<r a=\"x&#9;y\ny&#13;\" b='\"'>&lt;&amp;&gt;&#13;\r\n<![CDATA[<c>]]></r>");
        assert_eq!(
            got,
            "<r a=\"x&#x9;y y&#xD;\" b=\"&quot;\">&lt;&amp;&gt;&#xD;\n&lt;c&gt;</r>"
        );
    }

    #[test]
    fn document_level_comments_and_pis_get_newlines() {
        let xml = "<?xml version=\"1.0\"?>\n<!--a-->\n<?p d?>\n<r><!--in--></r>\n<!--z-->\n";
        let d = parse(xml.as_bytes(), &Limits::default()).unwrap();
        let mut o = Options::exclusive();
        assert_eq!(
            String::from_utf8(canonicalize(&d, None, None, &o)).unwrap(),
            "<?p d?>\n<r></r>"
        );
        o.with_comments = true;
        assert_eq!(
            String::from_utf8(canonicalize(&d, None, None, &o)).unwrap(),
            "<!--a-->\n<?p d?>\n<r><!--in--></r>\n<!--z-->"
        );
    }

    #[test]
    fn inclusive_prefix_list_renders_listed_namespaces() {
        let xml = r#"<r xmlns:p="urn:p" xmlns="urn:d"><e ID="x" xmlns:q="urn:q"/></r>"#;
        let mut o = Options::exclusive();
        o.inclusive_prefixes = vec!["p".into(), "q".into()];
        assert_eq!(
            exc_subtree(xml, "x", &o),
            r#"<e xmlns="urn:d" xmlns:p="urn:p" xmlns:q="urn:q" ID="x"></e>"#
        );
    }
}
