//! The upstream boundary. Everything authyd asks of a second-factor provider is a method of
//! [`TwoFactorProvider`], in domain terms; nothing outside this module sees a provider's wire
//! format. Authy ([`authy::AuthyClient`]) is the first implementation.

pub mod authy;
mod error;

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::{
    ApprovalMessage, ApprovalStatus, ApprovalUuid, AuthyId, CountryCode, Details, Email, Locale,
    Logo, PhoneNumber, Token, TokenAction, UserId,
};

pub use error::{FieldError, ProviderError, UpstreamFailure};

/// A user to register at the provider.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub phone: PhoneNumber,
    pub country_code: CountryCode,
    /// Ask the provider to text the user a link to install the app.
    pub send_install_link: bool,
}

/// What the provider knows of a user right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStatus {
    pub authy_id: AuthyId,
    /// The user confirmed their phone number.
    pub confirmed: bool,
    /// The user has the app registered (OneTouch and app codes work).
    pub registered: bool,
    pub country_code: Option<u16>,
    /// The phone as the provider masks it, e.g. `XXX-XXX-9302`.
    pub masked_phone: String,
    /// Device kinds, e.g. `android`, `iphone`, `authy_chrome`.
    pub devices: Vec<String>,
}

/// Options of an SMS or voice-call token request.
#[derive(Debug, Clone, Default)]
pub struct SendTokenOptions {
    /// Send even when the user has the app (otherwise the provider may ignore the request).
    pub force: bool,
    /// Bind the code to an action; verification must name the same action.
    pub action: Option<TokenAction>,
    /// Text of the action shown in the message.
    pub action_message: Option<String>,
    pub locale: Option<Locale>,
}

/// Outcome of an SMS or voice-call token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDelivery {
    /// False when the provider ignored the request because the user has the app (no `force`).
    pub sent: bool,
    /// The phone the code went to, masked (e.g. `+57-XXX-XXX-XX12`).
    pub masked_phone: String,
    /// The device that made the provider ignore the request, when it did.
    pub device: Option<String>,
}

/// Outcome of verifying a token. A wrong token is an outcome, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Valid,
    Invalid,
}

/// A OneTouch push to create.
#[derive(Debug, Clone)]
pub struct NewApproval {
    pub message: ApprovalMessage,
    pub details: Details,
    pub hidden_details: Details,
    pub logos: Vec<Logo>,
    /// How long the user has to answer; `None` leaves it to the provider's default.
    pub ttl: Option<Duration>,
}

/// A OneTouch approval request as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalSnapshot {
    pub uuid: ApprovalUuid,
    pub status: ApprovalStatus,
    pub authy_id: Option<AuthyId>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// When the user answered (or the request expired); `None` while pending.
    pub processed_at: Option<DateTime<Utc>>,
    /// Lifetime given at creation; zero means it never expires.
    pub seconds_to_expire: Option<u64>,
}

/// State of a QR registration, looked up by the caller's user id (`custom_user_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationStatus {
    /// Not scanned yet.
    Pending,
    /// Scanned: the user now exists at the provider under this id.
    Completed { authy_id: AuthyId },
    /// Any other status the provider reports (treated as a failure by callers).
    Other(String),
}

/// A QR registration token and the URI its QR code shows. The token lets whoever scans it
/// register a phone for the user until it expires: it goes to that user only, never to logs.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrationToken {
    pub jwt: String,
    pub uri: String,
}

impl std::fmt::Debug for RegistrationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistrationToken(redacted)")
    }
}

/// One method per upstream operation authyd uses. Implementations are cheap to clone and safe to
/// share between tasks; each call is independent and carries its own timeout.
pub trait TwoFactorProvider: Send + Sync + 'static {
    fn create_user(
        &self,
        user: &NewUser,
    ) -> impl Future<Output = Result<AuthyId, ProviderError>> + Send;

    fn remove_user(&self, id: AuthyId) -> impl Future<Output = Result<(), ProviderError>> + Send;

    fn user_status(
        &self,
        id: AuthyId,
    ) -> impl Future<Output = Result<UserStatus, ProviderError>> + Send;

    fn request_sms(
        &self,
        id: AuthyId,
        options: &SendTokenOptions,
    ) -> impl Future<Output = Result<TokenDelivery, ProviderError>> + Send;

    fn request_call(
        &self,
        id: AuthyId,
        options: &SendTokenOptions,
    ) -> impl Future<Output = Result<TokenDelivery, ProviderError>> + Send;

    fn verify_token(
        &self,
        id: AuthyId,
        token: &Token,
        action: Option<&TokenAction>,
    ) -> impl Future<Output = Result<TokenCheck, ProviderError>> + Send;

    fn create_approval(
        &self,
        id: AuthyId,
        approval: &NewApproval,
    ) -> impl Future<Output = Result<ApprovalUuid, ProviderError>> + Send;

    fn get_approval(
        &self,
        uuid: &ApprovalUuid,
    ) -> impl Future<Output = Result<ApprovalSnapshot, ProviderError>> + Send;

    fn registration_status(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<RegistrationStatus, ProviderError>> + Send;

    /// A QR registration token for `user`, valid from `issued` until `expires` (whole seconds).
    /// Local: nothing is sent upstream until the user's phone scans it.
    fn registration_token(
        &self,
        user: &UserId,
        issued: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<RegistrationToken, ProviderError>;
}
