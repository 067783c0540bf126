//! Pure domain types. Raw strings from callers and from the wire become these once, at the edge
//! ("parse, don't validate"); code past the edge never re-checks them.

mod approval;
mod contact;
mod ids;
mod keys;
mod registration;
mod token;

pub use approval::{ApprovalMessage, ApprovalStatus, Details, Logo, LogoResolution};
pub use contact::{CountryCode, Email, PhoneNumber};
pub use ids::{ApprovalId, ApprovalUuid, AuthyId, RequestId, UserId};
pub use keys::{KeyName, Scope, Scopes};
pub use registration::{RegistrationState, RegistrationTtl};
pub use token::{Locale, Token, TokenAction};

/// Why a raw value did not become a domain value. `field` is filled in by the edge that knows
/// which request field it came from; `description` is safe to show to the caller (it never
/// echoes the rejected value, which may be a secret such as a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description}")]
pub struct ParseError {
    /// What is wrong, in words meant for the caller.
    pub description: String,
}

impl ParseError {
    pub(crate) fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
        }
    }
}
