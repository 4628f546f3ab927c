//! The few DER encodings we build or take apart by hand: ECDSA r‖s ↔ DER, an EC
//! SubjectPublicKeyInfo from a named curve and a point, and PKCS#1 → PKCS#8 for RSA keys.

fn len_bytes(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        let mut v = vec![0x80 | bytes.len() as u8];
        v.extend(bytes);
        v
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(len_bytes(content.len()));
    v.extend_from_slice(content);
    v
}

fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut body = Vec::new();
    if arcs.len() >= 2 {
        let mut first = vec![arcs[0] * 40 + arcs[1]];
        first.extend_from_slice(&arcs[2..]);
        for arc in first {
            let mut chunk = vec![(arc & 0x7f) as u8];
            let mut a = arc >> 7;
            while a > 0 {
                chunk.push(0x80 | (a & 0x7f) as u8);
                a >>= 7;
            }
            chunk.reverse();
            body.extend(chunk);
        }
    }
    tlv(0x06, &body)
}

fn uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        &bytes[first..]
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(0x02, &content)
}

/// r‖s (each `n` bytes) → DER `SEQUENCE { INTEGER r, INTEGER s }`.
pub fn ecdsa_fixed_to_der(rs: &[u8]) -> Vec<u8> {
    let (r, s) = rs.split_at(rs.len() / 2);
    let mut body = uint(r);
    body.extend(uint(s));
    tlv(0x30, &body)
}

fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// DER ECDSA signature → r‖s with each half `n` bytes; None if it is not such a DER value.
pub fn ecdsa_der_to_fixed(der: &[u8], n: usize) -> Option<Vec<u8>> {
    let (tag, seq, rest) = read_tlv(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (tr, r, seq) = read_tlv(seq)?;
    let (ts, s, seq) = read_tlv(seq)?;
    if tr != 2 || ts != 2 || !seq.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(2 * n);
    for x in [r, s] {
        let first = x.iter().position(|&b| b != 0).unwrap_or(x.len());
        let x = &x[first..];
        if x.len() > n {
            return None;
        }
        out.extend(std::iter::repeat_n(0, n - x.len()));
        out.extend_from_slice(x);
    }
    Some(out)
}

/// SubjectPublicKeyInfo for an EC point on a named curve.
pub fn ec_spki(curve_oid: &str, point: &[u8]) -> Vec<u8> {
    let mut alg = oid("1.2.840.10045.2.1");
    alg.extend(oid(curve_oid));
    let mut bits = vec![0u8];
    bits.extend_from_slice(point);
    let mut body = tlv(0x30, &alg);
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

/// Wrap an RSAPrivateKey (PKCS#1) in a PKCS#8 PrivateKeyInfo.
pub fn rsa_pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    let mut alg = oid("1.2.840.113549.1.1.1");
    alg.extend([0x05, 0x00]);
    let mut body = tlv(0x02, &[0]);
    body.extend(tlv(0x30, &alg));
    body.extend(tlv(0x04, pkcs1));
    tlv(0x30, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_encodings_round_trip() {
        let mut rs = vec![0u8; 64];
        rs[0] = 0x80; // r needs a leading zero in DER
        rs[40] = 0x01; // s has leading zeros to drop
        let der = ecdsa_fixed_to_der(&rs);
        assert_eq!(ecdsa_der_to_fixed(&der, 32).unwrap(), rs);
    }

    #[test]
    fn oid_encoding_matches_der() {
        assert_eq!(
            oid("1.2.840.10045.3.1.7"),
            vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
        );
    }
}
