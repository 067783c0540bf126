//! Caller credentials: the name of a caller's key and what it may do.

use std::fmt;

use super::ParseError;

/// The name of a caller key, chosen by the operator (e.g. `billing-svc`): 1–64 characters of
/// `[A-Za-z0-9._-]`. It is what the audit trail records as the caller, and it is never reused:
/// a revoked key keeps its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(ParseError::new(format!(
                "must be 1 to {} characters",
                Self::MAX_LEN
            )));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(ParseError::new(
                "may contain only letters, digits and . _ -",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a caller key allows. Each RPC needs one scope; [`Scope::Admin`] grants every scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Enroll, GetUser, Unenroll.
    Enroll,
    /// SendSms, SendVoice, VerifyToken.
    Verify,
    /// RequestApproval, GetApproval, WatchApproval.
    Approve,
    /// StartRegistration, WatchRegistration.
    Register,
    /// Everything.
    Admin,
}

impl Scope {
    pub const ALL: [Self; 5] = [
        Self::Enroll,
        Self::Verify,
        Self::Approve,
        Self::Register,
        Self::Admin,
    ];

    /// The scope's name on the command line and in the database (part of the stored format).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enroll => "enroll",
            Self::Verify => "verify",
            Self::Approve => "approve",
            Self::Register => "register",
            Self::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                ParseError::new(format!(
                    "unknown scope; valid scopes are {}",
                    Self::ALL.map(Self::as_str).join(", ")
                ))
            })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The non-empty set of scopes of a key. Written comma-separated in a fixed order
/// (`enroll,verify,approve,register,admin`), whatever order it was given in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// A set of the given scopes (duplicates ignored); `None` when empty.
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Option<Self> {
        let mut all: Vec<Scope> = scopes.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        (!all.is_empty()).then_some(Self(all))
    }

    /// Parses `enroll,verify` (spaces around names allowed, duplicates ignored, at least one).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let scopes = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(scopes).ok_or_else(|| {
            ParseError::new(format!(
                "must name at least one scope of {}",
                Scope::ALL.map(Scope::as_str).join(", ")
            ))
        })
    }

    /// Whether a key with these scopes may do what `needed` allows (`admin` allows everything).
    pub fn grants(&self, needed: Scope) -> bool {
        self.0.iter().any(|&s| s == needed || s == Scope::Admin)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_name_bounds_and_charset() {
        assert!(KeyName::parse("billing-svc_2.prod").is_ok());
        assert!(KeyName::parse(&"k".repeat(64)).is_ok());
        for bad in ["", "has space", "a:b", "a@b", "ünï", "a/b"] {
            assert!(KeyName::parse(bad).is_err(), "{bad}");
        }
        assert!(KeyName::parse(&"k".repeat(65)).is_err());
    }

    #[test]
    fn scopes_parse_in_any_order_and_print_canonically() {
        let s = Scopes::parse("admin, verify,enroll,verify").unwrap();
        assert_eq!(s.to_string(), "enroll,verify,admin");
        assert_eq!(Scopes::parse(&s.to_string()), Ok(s));
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
        }
        let err = Scopes::parse("verify,root").unwrap_err();
        assert!(err.description.contains("enroll, verify"), "{err}");
        assert!(!err.description.contains("root"));
        assert!(Scopes::parse("").is_err());
        assert!(Scopes::parse(" , ").is_err());
        assert!(Scopes::parse("Verify").is_err());
    }

    #[test]
    fn admin_grants_everything_and_others_only_themselves() {
        let admin = Scopes::parse("admin").unwrap();
        assert!(Scope::ALL.into_iter().all(|s| admin.grants(s)));
        let verify = Scopes::parse("verify").unwrap();
        assert!(verify.grants(Scope::Verify));
        assert!(!verify.grants(Scope::Enroll));
        assert!(!verify.grants(Scope::Admin));
        let two = Scopes::parse("enroll,approve").unwrap();
        assert!(two.grants(Scope::Enroll) && two.grants(Scope::Approve));
        assert!(!two.grants(Scope::Register));
    }
}
