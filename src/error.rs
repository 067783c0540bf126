//! The one error vocabulary of authyd's use-cases. Every failure a caller can see is a variant
//! here; `grpc::status` maps each to a `tonic::Status` in one place (design.md, "Errors").
//! Messages are written for callers: they never carry a secret, a token or an upstream body.

use std::time::Duration;

use crate::provider::ProviderError;

/// A rejected request field, reported as a `BadRequest` field violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, e.g. `phone_number` or `details[ip]`.
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Everything that can go wrong serving a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Malformed request fields; the upstream was not called.
    #[error("invalid request: {}", summary(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// Authy rejected the user's fields (60027, 60033, …).
    #[error("Authy rejected the user: {}", summary(.0))]
    UserRejected(Vec<FieldViolation>),
    /// The user is not enrolled here.
    #[error("user not enrolled")]
    UserNotFound,
    /// No such approval.
    #[error("approval not found")]
    ApprovalNotFound,
    /// The approval was already answered or expired (sandbox controls).
    #[error("the approval is no longer pending")]
    ApprovalNotPending,
    /// No QR registration was started for the user (or the user was unenrolled since).
    #[error("no registration started for this user")]
    RegistrationNotFound,
    /// The user's registration already completed, expired or failed (sandbox controls).
    #[error("the registration is no longer pending")]
    RegistrationNotPending,
    /// Enroll of a user whose QR registration is pending: the scan would make a second Authy
    /// user. Wait for the registration to end (or expire).
    #[error("a QR registration of this user is pending")]
    RegistrationPending,
    /// A QR registration was asked for a user who is enrolled already.
    #[error("the user is already enrolled")]
    UserAlreadyEnrolled,
    /// The idempotency key was already used for a different request.
    #[error("request_id was already used for a different request")]
    RequestIdConflict,
    /// A local limit (failed verifications, SMS sends) was reached.
    #[error("too many attempts")]
    TooManyAttempts { retry_after: Duration },
    /// Authy is down, timed out, failed or rate-limited us.
    #[error("Authy is unavailable")]
    UpstreamUnavailable { retry_after: Option<Duration> },
    /// Authy rejected authyd's API key: an operator problem.
    #[error("authyd's Authy credentials were rejected")]
    UpstreamCredentials,
    /// Authy answered something unexpected (an error code authyd does not handle, an unreadable
    /// body).
    #[error("unexpected answer from Authy")]
    UpstreamProtocol,
    /// The caller presented no valid credentials.
    #[error("missing or invalid caller credentials")]
    Unauthenticated,
    /// The caller's key lacks the scope this call needs.
    #[error("the caller's key lacks the `{scope}` scope")]
    PermissionDenied { scope: &'static str },
    /// The server is shutting down; retry on another connection.
    #[error("authyd is shutting down")]
    ShuttingDown,
    /// authyd's database cannot be used right now (busy, locked, I/O error, disk full, pool
    /// exhausted); retrying later may succeed. The detail goes to the log, not to the caller.
    #[error("authyd's database is unavailable")]
    StoreUnavailable { detail: String },
    /// A failure inside authyd (storage). The detail goes to the log, not to the caller.
    #[error("internal error")]
    Internal { detail: String },
}

impl Error {
    /// The stable UPPER_SNAKE reason of the `ErrorInfo` detail (domain `authyd`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) => "INVALID_ARGUMENT",
            Self::UserRejected(_) => "USER_REJECTED_BY_AUTHY",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::ApprovalNotFound => "APPROVAL_NOT_FOUND",
            Self::ApprovalNotPending => "APPROVAL_NOT_PENDING",
            Self::RegistrationNotFound => "REGISTRATION_NOT_FOUND",
            Self::RegistrationNotPending => "REGISTRATION_NOT_PENDING",
            Self::UserAlreadyEnrolled => "USER_ALREADY_ENROLLED",
            Self::RegistrationPending => "REGISTRATION_PENDING",
            Self::RequestIdConflict => "REQUEST_ID_CONFLICT",
            Self::TooManyAttempts { .. } => "TOO_MANY_ATTEMPTS",
            Self::UpstreamUnavailable { .. } => "AUTHY_UNAVAILABLE",
            Self::UpstreamCredentials => "AUTHY_CREDENTIALS_REJECTED",
            Self::UpstreamProtocol => "AUTHY_PROTOCOL_ERROR",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::PermissionDenied { .. } => "PERMISSION_DENIED",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::StoreUnavailable { .. } => "STORE_UNAVAILABLE",
            Self::Internal { .. } => "INTERNAL",
        }
    }

    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description)])
    }
}

/// `field: description; …` (descriptions never echo the rejected values).
fn summary(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::InvalidApiKey => Self::UpstreamCredentials,
            ProviderError::UserNotFound => Self::UserNotFound,
            ProviderError::InvalidUser { fields, message } => {
                let mut violations: Vec<FieldViolation> = fields
                    .into_iter()
                    .map(|f| FieldViolation::new(caller_field(&f.field), f.description))
                    .collect();
                if violations.is_empty() {
                    violations.push(FieldViolation::new("user", message));
                }
                Self::UserRejected(violations)
            }
            ProviderError::ApprovalNotFound => Self::ApprovalNotFound,
            ProviderError::RateLimited { retry_after } => Self::UpstreamUnavailable { retry_after },
            ProviderError::Unavailable(_) => Self::UpstreamUnavailable { retry_after: None },
            ProviderError::Rejected { .. } | ProviderError::InvalidResponse { .. } => {
                Self::UpstreamProtocol
            }
            ProviderError::Misconfigured { .. } => Self::UpstreamCredentials,
        }
    }
}

/// Authy's user field names, as the caller's request names them.
fn caller_field(authy_field: &str) -> String {
    match authy_field {
        "cellphone" => "phone_number".to_owned(),
        other => other.to_owned(),
    }
}
