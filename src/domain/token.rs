use std::fmt;

use super::ParseError;

/// A one-time code typed by a user: 6–12 ASCII digits (Authy's SMS/voice codes and app TOTP codes).
/// A token is a secret while it is valid: Debug does not show it and there is no Display.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let raw = raw.trim();
        if !(6..=12).contains(&raw.len()) || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new("must be 6 to 12 digits"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The digits, for the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A custom action bound to an SMS/voice code (Authy `action`, 1–255 characters); the same action
/// must be given when the code is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAction(String);

impl TokenAction {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.chars().count() > 255 {
            return Err(ParseError::new("must be 1 to 255 characters"));
        }
        if raw.chars().any(char::is_control) {
            return Err(ParseError::new("must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message locale such as `es` or `zh-cn` (Authy falls back to English for unknown ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale(String);

impl Locale {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let ok = (2..=10).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
            && raw.as_bytes()[0].is_ascii_alphabetic();
        if !ok {
            return Err(ParseError::new("must be a locale such as en, es or zh-cn"));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_6_to_12_digits() {
        assert!(Token::parse("123456").is_ok());
        assert!(Token::parse("123456789012").is_ok());
        assert!(Token::parse("12345").is_err());
        assert!(Token::parse("1234567890123").is_err());
        assert!(Token::parse("12345a").is_err());
        assert!(
            Token::parse("١٢٣٤٥٦").is_err(),
            "non-ASCII digits are not digits here"
        );
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::parse("7654321").unwrap();
        assert!(!format!("{t:?}").contains("7654321"));
    }

    #[test]
    fn locale_and_action() {
        assert!(Locale::parse("zh-cn").is_ok());
        assert!(Locale::parse("e").is_err());
        assert!(Locale::parse("-es").is_err());
        assert!(TokenAction::parse("login").is_ok());
        assert!(TokenAction::parse("").is_err());
        assert!(TokenAction::parse(&"x".repeat(256)).is_err());
    }
}
