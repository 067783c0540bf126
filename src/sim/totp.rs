//! The Authy app's codes: RFC 6238 TOTP with SHA-1, 7 digits and a 20-second step (what the Authy
//! app shows), one random secret per user, accepting the previous and next step too.

use totp_rs::{Algorithm, Builder, Totp};

/// Digits of an Authy app code.
pub const DIGITS: u8 = 7;
/// Seconds per step.
pub const STEP: u64 = 20;

/// A user's app-code generator. Cheap to clone (the secret is 20 bytes).
#[derive(Clone)]
pub struct AppCodes(Totp);

impl std::fmt::Debug for AppCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppCodes(<secret>)")
    }
}

impl AppCodes {
    /// A generator with a fresh random 160-bit secret.
    pub fn random() -> Self {
        let secret: [u8; 20] = rand::random();
        Self::from_secret(secret.to_vec())
    }

    fn from_secret(secret: Vec<u8>) -> Self {
        // A 20-byte secret, 7 digits and a non-zero step always pass the builder's checks; the
        // non-compliant builder is used so there is no error path to handle.
        Self(
            Builder::new()
                .with_algorithm(Algorithm::SHA1)
                .with_digits(DIGITS)
                .with_step_duration(STEP)
                .with_skew(1)
                .with_secret(secret)
                .build_noncompliant(),
        )
    }

    /// The code shown at `unix_secs`.
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.0.generate(unix_secs).to_string()
    }

    /// Whether `token` is the code of the step of `unix_secs` or of one step either side.
    pub fn check(&self, token: &str, unix_secs: u64) -> bool {
        token.len() == DIGITS as usize && self.0.check(token, unix_secs).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector_truncated_to_seven_digits() {
        // RFC 6238 appendix B (SHA-1, secret "12345678901234567890"): counter 1 gives 94287082 with
        // 8 digits, so 4287082 with 7. With a 20-second step, counter 1 is t = 20..39 s.
        let codes = AppCodes::from_secret(b"12345678901234567890".to_vec());
        assert_eq!(codes.code_at(20), "4287082"); // last 7 digits of 94287082
    }

    #[test]
    fn codes_are_seven_digits_and_checked_with_skew() {
        let codes = AppCodes::random();
        let t = 1_700_000_000;
        let code = codes.code_at(t);
        assert_eq!(code.len(), 7);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert!(codes.check(&code, t));
        assert!(codes.check(&code, t + STEP));
        assert!(codes.check(&code, t - STEP));
        let far = t + 5 * STEP;
        assert!(!codes.check(&code, far) || codes.code_at(far) == code);
        assert!(!codes.check("123456", t));
        assert!(!codes.check("12345678", t));
        assert!(!codes.check("abcdefg", t));
    }
}
