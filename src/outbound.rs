//! Outbound HTTP, shared by every client the node has (peers' metadata, ID-porten, Maskinporten,
//! Folkeregisteret): one way to build the client (timeouts, no redirects, HTTPS only unless
//! loopback http is allowed, optional private TLS roots) and one bounded body reader, so no
//! answer is read into memory past its limit, chunked or not.

use crate::crypto::Certificate;
use std::time::Duration;

/// A client with `timeout` for connect and whole request, redirects refused, HTTPS only unless
/// `allow_loopback_http`; `roots` replace the platform's TLS roots when not empty.
pub fn client(
    timeout: Duration,
    allow_loopback_http: bool,
    roots: &[Certificate],
) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .https_only(!allow_loopback_http);
    if !roots.is_empty() {
        let certs: Result<Vec<_>, _> = roots
            .iter()
            .map(|c| reqwest::Certificate::from_der(c.der()))
            .collect();
        b = b.tls_certs_only(certs.map_err(|e| format!("TLS roots: {e}"))?);
    }
    b.build().map_err(|e| format!("HTTP client: {e}"))
}

#[derive(Debug)]
pub enum ReadError {
    Transport(reqwest::Error),
    /// The body passed `limit` bytes; reading stopped there.
    TooLarge {
        limit: usize,
    },
}

/// The body, refused as soon as it passes `limit` bytes (a declared Content-Length over the
/// limit is refused before reading).
pub async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether `url` is plain `http://` to this machine: the host exactly `127.0.0.1`, `localhost`
/// or `[::1]` (not a name that merely starts so, and no userinfo before it).
pub fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod loopback_tests {
    use super::is_loopback_http;

    #[test]
    fn only_this_machine_counts_as_loopback() {
        for yes in [
            "http://127.0.0.1:8080/cb",
            "http://localhost/x",
            "http://[::1]:9/",
            "http://127.0.0.1",
        ] {
            assert!(is_loopback_http(yes), "{yes}");
        }
        for no in [
            "https://127.0.0.1/",
            "http://127.0.0.1.evil.example/cb",
            "http://localhost.evil.example/",
            "http://127.0.0.1:80@evil.example/",
            "http://evil.example/?127.0.0.1",
        ] {
            assert!(!is_loopback_http(no), "{no}");
        }
    }
}
