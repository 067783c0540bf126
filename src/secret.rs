//! Secrets that must never reach a log line, an error message or a response.
//!
//! [`ApiKey`] wraps the Authy API key. Its `Debug` prints a fixed placeholder and it has no `Display`,
//! so a struct that derives `Debug` and holds one can be logged safely. The only way to the bytes is
//! [`ApiKey::expose`], which is called where the key is put on the wire (the `X-Authy-API-Key`
//! header), used as an HMAC key, or compared.
//!
//! [`CallerKey`] is a caller credential in plaintext, held only between its generation and the
//! one time it is shown (`authyd keys create`). What is stored and looked up is its [`KeyHash`].

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The Authy application's API key (also the HMAC key of OneTouch callbacks and QR JWTs).
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key. Empty or whitespace-only keys are rejected: they can only be a mistake.
    pub fn new(key: impl Into<String>) -> Result<Self, EmptyApiKey> {
        let key: String = key.into();
        if key.trim().is_empty() {
            return Err(EmptyApiKey);
        }
        Ok(Self(SecretString::from(key)))
    }

    /// The key itself. Call only where it goes on the wire or into a MAC, never into a message.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Constant-time comparison with a key presented by a peer (the simulator uses this).
    pub fn matches(&self, presented: &str) -> bool {
        self.expose().as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// The API key given was empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Authy API key must not be empty")]
pub struct EmptyApiKey;

/// A caller key in plaintext: `authyd_` followed by 32 random bytes (CSPRNG) in unpadded
/// base64url, 50 characters in all. It exists only to be shown once; authyd stores its
/// [`KeyHash`]. `Debug` is redacted and there is no `Display`.
pub struct CallerKey(SecretString);

impl CallerKey {
    /// Every generated key starts with this, so that leaked keys are easy to recognise (secret
    /// scanners) and other tokens are refused without a lookup.
    pub const PREFIX: &'static str = "authyd_";
    /// Length of a generated key.
    pub const LEN: usize = Self::PREFIX.len() + 43;

    /// A fresh key from the thread-local CSPRNG (ChaCha, seeded from the OS).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Self(SecretString::from(format!("{}{encoded}", Self::PREFIX)))
    }

    /// The key itself: call only to show it to the operator, once.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash::of(self.expose())
    }
}

impl std::fmt::Debug for CallerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallerKey(<redacted>)")
    }
}

/// The SHA-256 of a caller key: what the database keeps and what a presented key is looked up
/// by. Keys are 256-bit random values, so a fast unsalted hash is enough (no dictionary to
/// guess from), and looking up by hash means no comparison ever runs on the key itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The hash of a key as presented by a caller (or as generated).
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Lower-case hex, 64 characters (the stored form).
    pub fn to_hex(&self) -> String {
        use std::fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    /// Reads the stored form back.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = self.to_hex();
        write!(f, "KeyHash({}…)", hex.get(..8).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::new("s3cr3t-key-value").unwrap();
        let shown = format!("{key:?} {:?}", Some(key.clone()));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn matches_is_exact() {
        let key = ApiKey::new("abc").unwrap();
        assert!(key.matches("abc"));
        assert!(!key.matches("abcd"));
        assert!(!key.matches("ab"));
        assert!(!key.matches(""));
    }

    #[test]
    fn empty_key_is_rejected() {
        assert_eq!(ApiKey::new("  ").unwrap_err(), EmptyApiKey);
    }

    #[test]
    fn caller_keys_are_random_prefixed_and_redacted() {
        let a = CallerKey::generate();
        let b = CallerKey::generate();
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
        for key in [&a, &b] {
            let k = key.expose();
            assert_eq!(k.len(), CallerKey::LEN);
            assert!(k.starts_with(CallerKey::PREFIX));
            assert!(
                k[CallerKey::PREFIX.len()..]
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
                "{k}"
            );
            assert_eq!(key.hash(), KeyHash::of(k));
        }
        let shown = format!("{a:?} {:?}", a.hash());
        assert!(!shown.contains(&a.expose()[7..15]), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn key_hash_is_sha256_and_round_trips_as_hex() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        let h = KeyHash::of("abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(KeyHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(KeyHash::from_hex(&h.to_hex().to_uppercase()), Some(h));
        assert_eq!(KeyHash::from_hex("abc"), None);
        assert_eq!(KeyHash::from_hex(&"g".repeat(64)), None);
        assert_eq!(KeyHash::from_hex(&"+a".repeat(32)), None);
        assert_eq!(KeyHash::from_hex(&"é".repeat(32)), None);
    }
}
