use std::fmt;

use super::ParseError;

/// An email address, checked for plausible shape (one `@`, a dotted domain, no spaces, ≤ 254 bytes).
/// Authy does its own, stricter check and answers 60027 with `email: "is invalid"`.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(ParseError::new("must not be empty"));
        }
        if raw.len() > 254 {
            return Err(ParseError::new("must be at most 254 characters"));
        }
        let Some((local, domain)) = raw.split_once('@') else {
            return Err(ParseError::new("must be an email address"));
        };
        let plausible = !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        if !plausible {
            return Err(ParseError::new("must be an email address"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Emails are personal data: Debug shows only the domain.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.split_once('@').map(|(_, d)| d).unwrap_or("");
        write!(f, "Email(…@{domain})")
    }
}

/// A national phone number: the digits a user typed, without the country code. Dashes, dots,
/// spaces and parentheses are accepted and dropped (Authy accepts the same). 4–14 digits remain,
/// so that with a 1–3 digit country code the whole number fits E.164's 15 digits.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let mut digits = String::with_capacity(raw.len());
        for c in raw.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => {
                    return Err(ParseError::new(
                        "may contain only digits, spaces, dashes, dots and parentheses",
                    ));
                }
            }
        }
        if !(4..=14).contains(&digits.len()) {
            return Err(ParseError::new("must have 4 to 14 digits"));
        }
        Ok(Self(digits))
    }

    /// The digits only.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The last two digits behind a mask, the way Authy shows phones (`XXX-XXX-XX12`).
    pub fn masked(&self) -> String {
        let tail = &self.0[self.0.len().saturating_sub(2)..];
        format!("XXX-XXX-XX{tail}")
    }
}

/// Phone numbers are personal data: Debug shows only the mask.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// A telephone country calling code, 1–999 (e.g. 1, 44, 351).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode(u16);

impl CountryCode {
    pub fn new(code: i64) -> Result<Self, ParseError> {
        u16::try_from(code)
            .ok()
            .filter(|c| (1..=999).contains(c))
            .map(Self)
            .ok_or_else(|| ParseError::new("must be a calling code between 1 and 999"))
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        assert!(Email::parse("a@example.com").is_ok());
        assert!(Email::parse(" a.b+c@sub.example.co ").is_ok());
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
            "a@b..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_debug_hides_local_part() {
        let e = Email::parse("secret.person@example.com").unwrap();
        assert_eq!(format!("{e:?}"), "Email(…@example.com)");
    }

    #[test]
    fn phone_keeps_digits_and_masks() {
        let p = PhoneNumber::parse("(300) 300-33.12").unwrap();
        assert_eq!(p.digits(), "3003003312");
        assert_eq!(p.masked(), "XXX-XXX-XX12");
        assert!(!format!("{p:?}").contains("3003"));
        assert!(PhoneNumber::parse("123").is_err());
        assert!(PhoneNumber::parse("123456789012345").is_err());
        assert!(PhoneNumber::parse("+1 555 0100").is_err());
        assert!(PhoneNumber::parse("555-abc").is_err());
    }

    #[test]
    fn country_code_range() {
        assert_eq!(CountryCode::new(57).unwrap().get(), 57);
        assert!(CountryCode::new(0).is_err());
        assert!(CountryCode::new(1000).is_err());
        assert!(CountryCode::new(-1).is_err());
    }
}
