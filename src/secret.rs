//! Secrets that must never reach a log line, an error message or a response.
//!
//! [`ApiKey`] wraps the Authy API key. Its `Debug` prints a fixed placeholder and it has no `Display`,
//! so a struct that derives `Debug` and holds one can be logged safely. The only way to the bytes is
//! [`ApiKey::expose`], which is called where the key is put on the wire (the `X-Authy-API-Key`
//! header), used as an HMAC key, or compared.

use secrecy::{ExposeSecret, SecretString};
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
}
