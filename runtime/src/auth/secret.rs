//! Hashes, constant-time comparison, OS randomness and hex: the few operations on
//! secrets, in one place.

use rand::TryRng;
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// A SHA-256 digest.
pub(crate) type Digest = [u8; 32];

/// The SHA-256 digest of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// Whether two digests are equal, in time independent of where they differ.
pub(crate) fn same(a: &Digest, b: &Digest) -> Choice {
    a.ct_eq(b)
}

/// `N` bytes from the operating system's generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| format!("the operating system gave no random bytes: {e}"))?;
    Ok(bytes)
}

/// The characters of a token id.
const ID_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A random id of `len` lowercase letters and digits, uniformly drawn.
pub(crate) fn random_id(len: usize) -> Result<String, String> {
    let mut id = String::with_capacity(len);
    while id.len() < len {
        for byte in random_bytes::<32>()? {
            // 252 = 7 × 36: larger bytes would favour the first letters.
            if byte < 252 && id.len() < len {
                id.push(char::from(ID_ALPHABET[usize::from(byte % 36)]));
            }
        }
    }
    Ok(id)
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// A digest from 64 hex digits.
pub(crate) fn digest_from_hex(text: &str) -> Option<Digest> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        out[i] = (high * 16 + low) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let digest = sha256(b"abc");
        assert_eq!(
            hex(&digest),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(digest_from_hex(&hex(&digest)), Some(digest));
        assert_eq!(digest_from_hex("zz"), None);
        assert_eq!(digest_from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn ids_are_lowercase_alphanumerics_and_differ() {
        let a = random_id(10).unwrap();
        let b = random_id(10).unwrap();
        assert_eq!(a.len(), 10);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(a, b);
        assert!(bool::from(same(&sha256(b"x"), &sha256(b"x"))));
        assert!(!bool::from(same(&sha256(b"x"), &sha256(b"y"))));
    }
}
