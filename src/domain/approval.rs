use std::collections::BTreeMap;

use super::ParseError;

/// The state of a OneTouch approval request, as Authy reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
    Expired,
}

impl ApprovalStatus {
    /// Authy's wire spelling (`pending`, `approved`, `denied`, `expired`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }

    /// Approved, denied and expired are final: no transition leaves them.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending)
    }
}

/// The message shown on the phone when the push arrives: 1–144 characters (authy-client's limit,
/// the strictest of the SDKs), not blank, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalMessage(String);

impl ApprovalMessage {
    pub const MAX_CHARS: usize = 144;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.trim().is_empty() {
            return Err(ParseError::new("must not be blank"));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::new(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
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

/// Key/value pairs shown (`details`) or stored (`hidden_details`) with an approval request:
/// at most 20 entries, keys 1–20 characters (Authy's documented key limit), values ≤ 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Details(BTreeMap<String, String>);

impl Details {
    pub const MAX_ENTRIES: usize = 20;
    pub const MAX_KEY_CHARS: usize = 20;
    pub const MAX_VALUE_CHARS: usize = 200;

    pub fn parse<I, K, V>(entries: I) -> Result<Self, ParseError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = BTreeMap::new();
        for (k, v) in entries {
            let (k, v) = (k.into(), v.into());
            if k.is_empty() || k.chars().count() > Self::MAX_KEY_CHARS {
                return Err(ParseError::new(format!(
                    "keys must be 1 to {} characters",
                    Self::MAX_KEY_CHARS
                )));
            }
            if v.chars().count() > Self::MAX_VALUE_CHARS {
                return Err(ParseError::new(format!(
                    "values must be at most {} characters",
                    Self::MAX_VALUE_CHARS
                )));
            }
            if k.chars().chain(v.chars()).any(char::is_control) {
                return Err(ParseError::new("must not contain control characters"));
            }
            map.insert(k, v);
            if map.len() > Self::MAX_ENTRIES {
                return Err(ParseError::new(format!(
                    "must have at most {} entries",
                    Self::MAX_ENTRIES
                )));
            }
        }
        Ok(Self(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Resolution of an override logo on the push screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoResolution {
    Default,
    Low,
    Med,
    High,
}

impl LogoResolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Low => "low",
            Self::Med => "med",
            Self::High => "high",
        }
    }
}

/// An override logo: resolution and an http(s) URL of at most 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub res: LogoResolution,
    url: String,
}

impl Logo {
    pub fn parse(res: LogoResolution, url: &str) -> Result<Self, ParseError> {
        let ok = url.len() <= 500
            && (url.starts_with("https://") || url.starts_with("http://"))
            && url::Url::parse(url).is_ok();
        if !ok {
            return Err(ParseError::new(
                "logo url must be an http(s) URL of at most 500 characters",
            ));
        }
        Ok(Self {
            res,
            url: url.to_owned(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trip_and_terminality() {
        for s in [
            ApprovalStatus::Pending,
            ApprovalStatus::Approved,
            ApprovalStatus::Denied,
            ApprovalStatus::Expired,
        ] {
            assert_eq!(ApprovalStatus::parse(s.as_str()), Some(s));
        }
        assert!(!ApprovalStatus::Pending.is_terminal());
        assert!(ApprovalStatus::Denied.is_terminal());
        assert_eq!(ApprovalStatus::parse("PENDING"), None);
    }

    #[test]
    fn message_limits() {
        assert!(ApprovalMessage::parse("Log in to Example?").is_ok());
        assert!(ApprovalMessage::parse(&"é".repeat(144)).is_ok());
        assert!(ApprovalMessage::parse(&"é".repeat(145)).is_err());
        assert!(ApprovalMessage::parse("   ").is_err());
        assert!(ApprovalMessage::parse("a\u{0}b").is_err());
    }

    #[test]
    fn details_limits() {
        assert!(Details::parse([("ip", "10.0.0.1"), ("ünïcode", "✓")]).is_ok());
        assert!(Details::parse([("", "x")]).is_err());
        assert!(Details::parse([("k".repeat(21), "x".to_owned())]).is_err());
        assert!(Details::parse([("k", "v".repeat(201))]).is_err());
        let many: Vec<(String, String)> = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(Details::parse(many).is_err());
    }

    #[test]
    fn logo_urls() {
        assert!(Logo::parse(LogoResolution::Low, "https://example.com/l.png").is_ok());
        assert!(Logo::parse(LogoResolution::Low, "javascript:alert(1)").is_err());
        let long = format!("https://example.com/{}", "a".repeat(500));
        assert!(Logo::parse(LogoResolution::Low, &long).is_err());
    }
}
