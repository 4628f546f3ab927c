//! PEM armour: read every block in a file (text before, between and after blocks is ignored, as
//! in `openssl x509 -text` output), and write one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub struct Block {
    pub label: String,
    pub der: Vec<u8>,
}

/// All PEM blocks in `input`, or None when it holds none (then it is probably DER).
pub fn parse(input: &[u8]) -> Option<Vec<Block>> {
    let text = std::str::from_utf8(input).ok()?;
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after.find("-----")?;
        let label = after[..label_end].to_string();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start.find(&end_marker)?;
        let b64: String = body_start[..body_end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD.decode(b64.as_bytes()).ok()?;
        blocks.push(Block { label, der });
        rest = &body_start[body_end + end_marker.len()..];
    }
    (!blocks.is_empty()).then_some(blocks)
}

pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
