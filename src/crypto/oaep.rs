//! RSA-OAEP decryption of a transported content key. The matching-digest combinations go through
//! aws-lc-rs's safe API. OAEP with one digest and MGF1 with another (SHA-256 + MGF1-SHA1 is what
//! eIDAS peers following crypto spec ≤1.3 send with rsa-oaep-mgf1p) is not exposed there, so it
//! goes through the one `unsafe` helper below, over aws-lc-sys, the library aws-lc-rs already
//! builds (rust-deps.md §3.3). No second crypto library.

use super::CryptoError;
use super::alg::{Mgf1, OaepDigest, OaepParams};
use aws_lc_rs::rsa::{self, OaepPrivateDecryptingKey, PrivateDecryptingKey};

pub fn decrypt(
    key: &PrivateDecryptingKey,
    pkcs8: &[u8],
    params: &OaepParams,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let matching = match (params.digest, params.mgf) {
        (OaepDigest::Sha1, Mgf1::Sha1) => Some(&rsa::OAEP_SHA1_MGF1SHA1),
        (OaepDigest::Sha256, Mgf1::Sha256) => Some(&rsa::OAEP_SHA256_MGF1SHA256),
        (OaepDigest::Sha384, Mgf1::Sha384) => Some(&rsa::OAEP_SHA384_MGF1SHA384),
        (OaepDigest::Sha512, Mgf1::Sha512) => Some(&rsa::OAEP_SHA512_MGF1SHA512),
        _ => None,
    };
    match matching {
        Some(alg) => {
            let key =
                OaepPrivateDecryptingKey::new(key.clone()).map_err(|_| CryptoError::Decryption)?;
            let mut out = vec![0u8; key.min_output_size()];
            let n = key
                .decrypt(alg, ciphertext, &mut out, params.label.as_deref())
                .map_err(|_| CryptoError::Decryption)?
                .len();
            out.truncate(n);
            Ok(out)
        }
        None => mixed::decrypt(pkcs8, params, ciphertext),
    }
}

#[allow(unsafe_code)]
mod mixed {
    use super::*;
    use aws_lc_sys as ffi;

    fn md(d: OaepDigest) -> *const ffi::EVP_MD {
        // SAFETY: these return pointers to static digest descriptions.
        unsafe {
            match d {
                OaepDigest::Sha1 => ffi::EVP_sha1(),
                OaepDigest::Sha256 => ffi::EVP_sha256(),
                OaepDigest::Sha384 => ffi::EVP_sha384(),
                OaepDigest::Sha512 => ffi::EVP_sha512(),
            }
        }
    }

    fn mgf_md(m: Mgf1) -> *const ffi::EVP_MD {
        md(match m {
            Mgf1::Sha1 => OaepDigest::Sha1,
            Mgf1::Sha256 => OaepDigest::Sha256,
            Mgf1::Sha384 => OaepDigest::Sha384,
            Mgf1::Sha512 => OaepDigest::Sha512,
        })
    }

    /// Frees what it owns on every path.
    struct Guard {
        pkey: *mut ffi::EVP_PKEY,
        ctx: *mut ffi::EVP_PKEY_CTX,
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            // SAFETY: both are null or owned by this guard, freed once.
            unsafe {
                if !self.ctx.is_null() {
                    ffi::EVP_PKEY_CTX_free(self.ctx);
                }
                if !self.pkey.is_null() {
                    ffi::EVP_PKEY_free(self.pkey);
                }
            }
        }
    }

    pub fn decrypt(
        pkcs8: &[u8],
        params: &OaepParams,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let bad_key = || CryptoError::BadKey("RSA private key".into());
        let len = std::os::raw::c_long::try_from(pkcs8.len()).map_err(|_| bad_key())?;
        let mut g = Guard {
            pkey: std::ptr::null_mut(),
            ctx: std::ptr::null_mut(),
        };
        // SAFETY: every pointer passed is valid for the stated length; ownership of the key and
        // the context stays with `g`; the label copy is handed to (and freed by) the context.
        unsafe {
            let mut p = pkcs8.as_ptr();
            g.pkey = ffi::d2i_AutoPrivateKey(std::ptr::null_mut(), &mut p, len);
            if g.pkey.is_null() {
                return Err(bad_key());
            }
            g.ctx = ffi::EVP_PKEY_CTX_new(g.pkey, std::ptr::null_mut());
            if g.ctx.is_null()
                || ffi::EVP_PKEY_decrypt_init(g.ctx) != 1
                || ffi::EVP_PKEY_CTX_set_rsa_padding(g.ctx, ffi::RSA_PKCS1_OAEP_PADDING) != 1
                || ffi::EVP_PKEY_CTX_set_rsa_oaep_md(g.ctx, md(params.digest)) != 1
                || ffi::EVP_PKEY_CTX_set_rsa_mgf1_md(g.ctx, mgf_md(params.mgf)) != 1
            {
                return Err(CryptoError::Decryption);
            }
            if let Some(label) = params.label.as_deref().filter(|l| !l.is_empty()) {
                let copy = ffi::OPENSSL_malloc(label.len()) as *mut u8;
                if copy.is_null() {
                    return Err(CryptoError::Decryption);
                }
                std::ptr::copy_nonoverlapping(label.as_ptr(), copy, label.len());
                if ffi::EVP_PKEY_CTX_set0_rsa_oaep_label(g.ctx, copy, label.len()) != 1 {
                    ffi::OPENSSL_free(copy as *mut std::os::raw::c_void);
                    return Err(CryptoError::Decryption);
                }
            }
            let mut out_len: usize = 0;
            if ffi::EVP_PKEY_decrypt(
                g.ctx,
                std::ptr::null_mut(),
                &mut out_len,
                ciphertext.as_ptr(),
                ciphertext.len(),
            ) != 1
            {
                return Err(CryptoError::Decryption);
            }
            let mut out = vec![0u8; out_len];
            if ffi::EVP_PKEY_decrypt(
                g.ctx,
                out.as_mut_ptr(),
                &mut out_len,
                ciphertext.as_ptr(),
                ciphertext.len(),
            ) != 1
            {
                return Err(CryptoError::Decryption);
            }
            out.truncate(out_len);
            Ok(out)
        }
    }
}

/// RSA-OAEP encryption for a recipient: SHA-256 with MGF1-SHA-256 (`xmlenc11#rsa-oaep`).
pub fn encrypt_sha256(spki: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = rsa::PublicEncryptingKey::from_der(spki)
        .map_err(|_| CryptoError::BadKey("RSA public key".into()))?;
    let key = rsa::OaepPublicEncryptingKey::new(key).map_err(|_| CryptoError::Encryption)?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(&rsa::OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None)
        .map_err(|_| CryptoError::Encryption)?
        .len();
    out.truncate(n);
    Ok(out)
}
