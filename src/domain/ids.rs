use std::fmt;

use super::ParseError;

/// Authy's id of a user (an integer on the wire, sometimes sent as a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuthyId(u64);

impl AuthyId {
    pub fn new(id: u64) -> Self {
        Self(id)
    }
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for AuthyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The caller's own stable id of a user: 1–128 characters of `[A-Za-z0-9._:@-]`.
/// It is also the `custom_user_id` of QR registrations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() {
            return Err(ParseError::new("must not be empty"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ParseError::new(format!(
                "must be at most {} characters",
                Self::MAX_LEN
            )));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'))
        {
            return Err(ParseError::new(
                "may contain only letters, digits and . _ : @ -",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Authy's id of a OneTouch approval request (a time-based UUID in practice; Authy answers
/// 60049 for anything else, so only the character set and length are checked here).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApprovalUuid(String);

impl ApprovalUuid {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > 64 {
            return Err(ParseError::new("must be 1-64 characters"));
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ParseError::new("may contain only letters, digits and -"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApprovalUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// authyd's own id of an approval request: a random (v4) UUID in canonical form, lower-case and
/// hyphenated. Callers see only this id, never the provider's ([`ApprovalUuid`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApprovalId(String);

impl ApprovalId {
    /// A fresh random id.
    #[allow(
        clippy::new_without_default,
        reason = "a random id is not a default value"
    )]
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Accepts a UUID in canonical form only (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower-case
    /// hex), so that one approval has exactly one spelling. The version is not checked: ids
    /// authyd makes are v4, but any canonical UUID names an approval equally well.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let canonical = raw.len() == 36
            && uuid::Uuid::try_parse(raw).is_ok_and(|u| u.hyphenated().to_string() == raw);
        if !canonical {
            return Err(ParseError::new(
                "must be a UUID in lower-case hyphenated form",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A caller's idempotency key for a request (e.g. `RequestApproval.request_id`): the same rules
/// as [`UserId`], 1–128 characters of `[A-Za-z0-9._:@-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(String);

impl RequestId {
    pub const MAX_LEN: usize = UserId::MAX_LEN;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        UserId::parse(raw).map(|id| Self(id.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_bounds_and_charset() {
        assert!(UserId::parse("alice@example.com").is_ok());
        assert!(UserId::parse("tenant:42-x_y.z").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("has space").is_err());
        assert!(UserId::parse("ünï").is_err());
        assert!(UserId::parse(&"a".repeat(128)).is_ok());
        assert!(UserId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn approval_uuid_charset() {
        assert!(ApprovalUuid::parse("dda2c400-bc43-0135-d7be-1285ca17e122").is_ok());
        assert!(ApprovalUuid::parse("../etc").is_err());
        assert!(ApprovalUuid::parse("").is_err());
    }

    #[test]
    fn approval_id_is_a_canonical_uuid() {
        let id = ApprovalId::new();
        assert_eq!(ApprovalId::parse(id.as_str()), Ok(id.clone()));
        assert_ne!(ApprovalId::new(), id);
        assert_eq!(
            uuid::Uuid::parse_str(id.as_str()).map(|u| u.get_version_num()),
            Ok(4)
        );
        assert!(ApprovalId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").is_ok());
        for bad in [
            "",
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "0f8fad5bd9cb469fa16570867728950e",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
            " 0f8fad5b-d9cb-469f-a165-70867728950e",
            "0f8fad5b-d9cb-469f-a165-70867728950g",
            "0f8fad5b-d9cb-469f-a165-70867728950",
        ] {
            assert!(ApprovalId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_id_rules_are_user_id_rules() {
        assert!(RequestId::parse("req:2024-01-01@svc_a.b").is_ok());
        assert_eq!(
            RequestId::parse("k-1").map(|r| r.as_str().to_owned()),
            Ok("k-1".to_owned())
        );
        assert!(RequestId::parse("").is_err());
        assert!(RequestId::parse("a b").is_err());
        assert!(RequestId::parse("ünï").is_err());
        assert!(RequestId::parse(&"r".repeat(128)).is_ok());
        assert!(RequestId::parse(&"r".repeat(129)).is_err());
    }
}
