use std::time::Duration;

/// Everything that can go wrong talking to the provider, in domain terms. Messages never carry
/// the API key, a token, or a raw response body (bodies can echo what we sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider rejected our API key (Authy 60001). An operator problem, not the caller's.
    #[error("the provider rejected the configured API key")]
    InvalidApiKey,

    /// The user does not exist at the provider (Authy 60026 / 60016).
    #[error("user not found at the provider")]
    UserNotFound,

    /// The provider rejected user fields (Authy 60027, 60033, 60038, 60078…).
    #[error("the provider rejected the user: {message}")]
    InvalidUser {
        message: String,
        fields: Vec<FieldError>,
    },

    /// No such approval request (Authy 60049).
    #[error("approval request not found at the provider")]
    ApprovalNotFound,

    /// Too many requests (HTTP 429 / Authy 60003).
    #[error("rate limited by the provider")]
    RateLimited { retry_after: Option<Duration> },

    /// The provider could not be reached or failed (timeout, connection, 5xx).
    #[error("provider unavailable: {0}")]
    Unavailable(UpstreamFailure),

    /// Any other error the provider reported, with its code and message.
    #[error("the provider refused the request (HTTP {status}, code {code:?}): {message}")]
    Rejected {
        status: u16,
        code: Option<u32>,
        message: String,
    },

    /// The provider answered something we cannot read (not JSON, or not the expected shape).
    #[error("unreadable provider response (HTTP {status}): {detail}")]
    InvalidResponse { status: u16, detail: String },

    /// The provider client cannot be built from its configuration (unusable base URL, an API key
    /// that cannot be sent as a header, TLS initialisation failure). An operator problem, found
    /// at startup; `detail` never contains the key.
    #[error("the provider client is misconfigured: {detail}")]
    Misconfigured { detail: String },
}

impl ProviderError {
    /// Whether retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::RateLimited { .. })
    }
}

/// A rejected user field, as the provider named it (`cellphone`, `email`, `country_code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub description: String,
}

/// Why the provider was unavailable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamFailure {
    #[error("timed out")]
    Timeout,
    #[error("could not connect")]
    Connect,
    #[error("connection closed before a complete response")]
    ConnectionClosed,
    #[error("HTTP {0}")]
    Status(u16),
}
