//! Persistence. Everything authyd keeps — the caller's users and their Authy ids, approval
//! requests and their state changes, and the audit trail — goes through the [`Store`] trait, in
//! domain terms; SQL stays in the implementations. [`SqliteStore`] (an embedded file, the default)
//! is the first implementation; a PostgreSQL store for scale-out implements the same trait and runs
//! the same contract suite (`tests/store_contract.rs`).
//!
//! Conventions every implementation keeps:
//! - Times are stored as integer unix milliseconds: a stored time reads back truncated to the
//!   millisecond, and the records returned by inserts are the stored (truncated) rows.
//! - No raw phone number or email is ever stored; a user keeps only the masked phone.
//! - Approval transitions and audit events are append-only: nothing updates or deletes them, and
//!   deleting a user keeps both (and the user's approvals).
//! - A stored value that no longer parses into a domain type is [`StoreError::Corrupt`], never a
//!   panic, and no error message carries row contents beyond ids.
//! - Caller keys are stored as their SHA-256 ([`KeyHash`]), never in plaintext; they are revoked,
//!   never deleted, and a revoked key never becomes active again.

mod sqlite;

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};

use crate::domain::{
    ApprovalId, ApprovalStatus, ApprovalUuid, AuthyId, CountryCode, KeyName, RegistrationState,
    RequestId, Scopes, UserId,
};
use crate::secret::KeyHash;

pub use sqlite::SqliteStore;

/// A user enrolled through authyd: the caller's id mapped to the provider's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: UserId,
    pub authy_id: AuthyId,
    /// The phone as shown to people (e.g. `XXX-XXX-XX12`); the number itself is never stored.
    pub masked_phone: String,
    pub country_code: CountryCode,
    pub enroll_time: DateTime<Utc>,
}

/// A OneTouch approval request created through authyd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRecord {
    /// authyd's id, the one callers see.
    pub approval_id: ApprovalId,
    pub user_id: UserId,
    pub authy_id: AuthyId,
    /// The provider's id of the request (Authy's uuid); unique.
    pub provider_ref: ApprovalUuid,
    /// The caller's idempotency key; unique per `user_id` when present.
    pub request_id: Option<RequestId>,
    pub message: String,
    /// The details shown with the push (hidden details are not stored).
    pub details: BTreeMap<String, String>,
    pub state: ApprovalStatus,
    pub create_time: DateTime<Utc>,
    pub expire_time: DateTime<Utc>,
    /// When `state` last changed (the create time until then).
    pub update_time: DateTime<Utc>,
}

/// Outcome of an idempotent insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted<T> {
    /// The row was new and is now stored, as returned.
    Created(T),
    /// A row with the same key was already stored; it is returned unchanged and the new one was
    /// not written. Callers that must tell a retry from a conflicting reuse of the key compare
    /// fields.
    Existing(T),
}

impl<T> Inserted<T> {
    /// The stored row, new or not.
    pub fn into_inner(self) -> T {
        match self {
            Self::Created(t) | Self::Existing(t) => t,
        }
    }

    pub fn is_created(&self) -> bool {
        matches!(self, Self::Created(_))
    }
}

/// What made an approval change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransitionSource {
    /// The follower polling the provider.
    Poll,
    /// A signed callback from the provider.
    Callback,
    /// authyd's own clock passed `expire_time`.
    Expiry,
    /// A fresh read from the provider made for a `GetApproval`.
    Read,
}

impl TransitionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Poll => "poll",
            Self::Callback => "callback",
            Self::Expiry => "expiry",
            Self::Read => "read",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "poll" => Some(Self::Poll),
            "callback" => Some(Self::Callback),
            "expiry" => Some(Self::Expiry),
            "read" => Some(Self::Read),
            _ => None,
        }
    }
}

/// One recorded state change of an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub approval_id: ApprovalId,
    pub from: ApprovalStatus,
    pub to: ApprovalStatus,
    pub source: TransitionSource,
    pub at: DateTime<Utc>,
}

/// Outcome of [`Store::transition_approval`] and [`Store::transition_registration`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionOutcome<T = ApprovalRecord> {
    /// This call moved the item out of pending; the row after the change.
    Applied(T),
    /// Nothing changed (the item was already terminal, or the change did not apply); the
    /// stored row.
    Unchanged(T),
}

impl<T> TransitionOutcome<T> {
    /// The item as stored after the call.
    pub fn record(&self) -> &T {
        match self {
            Self::Applied(r) | Self::Unchanged(r) => r,
        }
    }

    pub fn into_record(self) -> T {
        match self {
            Self::Applied(r) | Self::Unchanged(r) => r,
        }
    }

    pub fn is_applied(&self) -> bool {
        matches!(self, Self::Applied(_))
    }
}

/// The latest QR registration of one of the caller's users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRecord {
    pub user_id: UserId,
    pub state: RegistrationState,
    /// The provider's id of the user, once completed.
    pub authy_id: Option<AuthyId>,
    /// The status the provider reported, when failed.
    pub failure: Option<String>,
    pub create_time: DateTime<Utc>,
    /// When the registration token expires.
    pub expire_time: DateTime<Utc>,
    /// When `state` last changed (the create time until then).
    pub update_time: DateTime<Utc>,
}

/// A change of a pending registration ([`Store::transition_registration`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationChange {
    /// The user scanned the code: the registration completes with the user's provider id, and
    /// the user is stored (unless enrolled already) in the same transaction.
    Completed(UserRecord),
    /// The provider reported this status instead of pending or completed.
    Failed { status: String },
    /// The token expired: applies only when the stored `expire_time` has passed at `at` (a
    /// registration started again in the meantime has a later one).
    Expired,
}

/// What an audit event records. Stored as its snake_case name ([`AuditAction::as_str`]); names
/// are part of the stored format, so variants may be added but never renamed or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Enroll,
    Unenroll,
    SendSms,
    SendVoice,
    VerifyToken,
    RequestApproval,
    ApprovalTransition,
    StartRegistration,
    /// A registration completed, expired or failed (`outcome` is the new state).
    RegistrationTransition,
    /// A provider callback that failed verification (signature, nonce, replay, shape).
    RejectCallback,
    /// A verified provider callback (`outcome`: applied, unchanged, unknown_approval).
    ReceiveCallback,
    CreateKey,
    RevokeKey,
}

impl AuditAction {
    pub const ALL: [Self; 13] = [
        Self::Enroll,
        Self::Unenroll,
        Self::SendSms,
        Self::SendVoice,
        Self::VerifyToken,
        Self::RequestApproval,
        Self::ApprovalTransition,
        Self::StartRegistration,
        Self::RegistrationTransition,
        Self::RejectCallback,
        Self::ReceiveCallback,
        Self::CreateKey,
        Self::RevokeKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enroll => "enroll",
            Self::Unenroll => "unenroll",
            Self::SendSms => "send_sms",
            Self::SendVoice => "send_voice",
            Self::VerifyToken => "verify_token",
            Self::RequestApproval => "request_approval",
            Self::ApprovalTransition => "approval_transition",
            Self::StartRegistration => "start_registration",
            Self::RegistrationTransition => "registration_transition",
            Self::RejectCallback => "reject_callback",
            Self::ReceiveCallback => "receive_callback",
            Self::CreateKey => "create_key",
            Self::RevokeKey => "revoke_key",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// One entry of the audit trail.
///
/// **Never put a secret in an audit event**: no token, code, API key, JWT, raw phone number or
/// email in `subject`, `outcome` or `detail`. The trail is kept forever and read by operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    /// The authenticated caller's name (`anonymous` when caller authentication is off).
    pub caller: String,
    pub action: AuditAction,
    pub user_id: Option<UserId>,
    /// What the action was about besides the user, e.g. an approval id.
    pub subject: Option<String>,
    /// A short stable word: `ok`, `invalid`, `not_found`, `unavailable`, …
    pub outcome: String,
    /// Free text for operators. Callers must not put secrets here (see above).
    pub detail: Option<String>,
}

/// Which audit events to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only the events of this user; all events when `None`.
    pub user_id: Option<UserId>,
    /// At most this many (newest first); capped at [`AuditQuery::MAX_LIMIT`].
    pub limit: u32,
}

impl AuditQuery {
    pub const MAX_LIMIT: u32 = 10_000;
}

/// A caller key to store (`authyd keys create`): its hash, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallerKey {
    pub name: KeyName,
    pub key_hash: KeyHash,
    pub scopes: Scopes,
    pub create_time: DateTime<Utc>,
}

/// A stored caller key as the rest of authyd sees it: everything but the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerKeyRecord {
    pub name: KeyName,
    pub scopes: Scopes,
    pub create_time: DateTime<Utc>,
    /// When it was revoked; `None` while it is active.
    pub revoke_time: Option<DateTime<Utc>>,
    /// When it was last seen on a request (approximate: refreshed at most about once a minute);
    /// `None` until first used.
    pub last_used_time: Option<DateTime<Utc>>,
}

impl CallerKeyRecord {
    pub fn is_active(&self) -> bool {
        self.revoke_time.is_none()
    }
}

/// Outcome of [`Store::revoke_caller_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// This call revoked the key; the row after the change.
    Revoked(CallerKeyRecord),
    /// The key was already revoked; the stored row, unchanged (its first revoke time is kept).
    AlreadyRevoked(CallerKeyRecord),
}

impl Revocation {
    pub fn record(&self) -> &CallerKeyRecord {
        match self {
            Self::Revoked(r) | Self::AlreadyRevoked(r) => r,
        }
    }
}

/// Why a store operation failed. Messages carry ids at most, never row contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The row the operation is about does not exist.
    #[error("not found")]
    NotFound,
    /// A row with the same unique name already exists (caller keys).
    #[error("already exists")]
    AlreadyExists,
    /// The database cannot be reached or used right now (pool exhausted or closed, I/O error,
    /// database locked or busy, disk full, …); retrying later may succeed. Callers see
    /// UNAVAILABLE.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The database refused the operation for a reason a retry does not fix: a constraint the
    /// code did not expect, a statement it cannot run, a value that cannot be encoded. A bug or
    /// a schema problem; callers see INTERNAL.
    #[error("store failure: {0}")]
    Failed(String),
    /// A stored value no longer parses into its domain type, or the schema is not one this
    /// build understands. Retrying does not help.
    #[error("store corrupt: {0}")]
    Corrupt(String),
}

/// The persistence boundary. Implementations are cheap to clone (a handle to a shared pool) and
/// safe to share between tasks.
pub trait Store: Clone + Send + Sync + 'static {
    /// Stores a user, or returns the stored one if `user_id` is already enrolled (race-safe: of
    /// concurrent inserts of one id exactly one is `Created`).
    fn insert_user(
        &self,
        user: &UserRecord,
    ) -> impl Future<Output = Result<Inserted<UserRecord>, StoreError>> + Send;

    fn get_user(
        &self,
        user_id: &UserId,
    ) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;

    /// Forgets a user and their registration; true if there was a user. The user's approvals,
    /// transitions and audit events stay.
    fn delete_user(
        &self,
        user_id: &UserId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores an approval. When `request_id` is set and the same user already has an approval
    /// with that key, that approval is returned as `Existing` and nothing is written. An insert
    /// that collides on `approval_id` or `provider_ref` instead also returns the colliding row as
    /// `Existing` (callers compare fields to spot such a reuse).
    fn insert_approval(
        &self,
        approval: &ApprovalRecord,
    ) -> impl Future<Output = Result<Inserted<ApprovalRecord>, StoreError>> + Send;

    fn get_approval(
        &self,
        approval_id: &ApprovalId,
    ) -> impl Future<Output = Result<Option<ApprovalRecord>, StoreError>> + Send;

    fn find_approval_by_provider_ref(
        &self,
        provider_ref: &ApprovalUuid,
    ) -> impl Future<Output = Result<Option<ApprovalRecord>, StoreError>> + Send;

    /// The approval a user created with an idempotency key, if any: lets a retried request be
    /// answered before anything is sent to the provider (a second push to the phone).
    fn find_approval_by_request(
        &self,
        user_id: &UserId,
        request_id: &RequestId,
    ) -> impl Future<Output = Result<Option<ApprovalRecord>, StoreError>> + Send;

    /// Compare-and-set of an approval's state: applies only when the stored state is pending and
    /// `to` is not, setting `state` and `update_time = at` and appending one [`Transition`] in
    /// the same transaction. Otherwise nothing is written and the stored row comes back as
    /// `Unchanged`: a terminal state never changes again, so of a callback and a poll racing
    /// to the same approval the first writer wins. Unknown id: [`StoreError::NotFound`].
    fn transition_approval(
        &self,
        approval_id: &ApprovalId,
        to: ApprovalStatus,
        source: TransitionSource,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<TransitionOutcome, StoreError>> + Send;

    /// The recorded transitions of an approval, oldest first (empty for an unknown id).
    fn transitions(
        &self,
        approval_id: &ApprovalId,
    ) -> impl Future<Output = Result<Vec<Transition>, StoreError>> + Send;

    /// Every approval still pending, oldest first (to resume following them after a restart).
    fn pending_approvals(
        &self,
    ) -> impl Future<Output = Result<Vec<ApprovalRecord>, StoreError>> + Send;

    /// Appends to the audit trail. See [`AuditEvent`]: never pass secrets.
    fn append_audit(
        &self,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Audit events, most recently appended first.
    fn audit_events(
        &self,
        query: AuditQuery,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, StoreError>> + Send;

    /// Stores a new caller key. A name that is already taken — by an active or a revoked key —
    /// is [`StoreError::AlreadyExists`] and nothing is written (so is a hash already stored,
    /// which only a broken generator can produce).
    fn create_caller_key(
        &self,
        key: &NewCallerKey,
    ) -> impl Future<Output = Result<CallerKeyRecord, StoreError>> + Send;

    /// The active (not revoked) key with this hash, if any.
    fn find_active_caller_key(
        &self,
        key_hash: &KeyHash,
    ) -> impl Future<Output = Result<Option<CallerKeyRecord>, StoreError>> + Send;

    /// Every caller key, revoked ones included, by name.
    fn list_caller_keys(
        &self,
    ) -> impl Future<Output = Result<Vec<CallerKeyRecord>, StoreError>> + Send;

    /// Revokes a key at `at`. Revoking a revoked key changes nothing
    /// ([`Revocation::AlreadyRevoked`]); an unknown name is [`StoreError::NotFound`].
    fn revoke_caller_key(
        &self,
        name: &KeyName,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Revocation, StoreError>> + Send;

    /// Records that a key was used at `at` (`last_used_time` only ever moves forward). Unknown
    /// names are ignored.
    fn touch_caller_key(
        &self,
        name: &KeyName,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Starts a QR registration: stores `registration` (pending) as the user's latest,
    /// replacing any earlier one. A user already enrolled is [`StoreError::AlreadyExists`] and
    /// nothing is written (checked in the same transaction as the write).
    fn start_registration(
        &self,
        registration: &RegistrationRecord,
    ) -> impl Future<Output = Result<RegistrationRecord, StoreError>> + Send;

    fn get_registration(
        &self,
        user_id: &UserId,
    ) -> impl Future<Output = Result<Option<RegistrationRecord>, StoreError>> + Send;

    /// Compare-and-set out of pending, like [`Store::transition_approval`]: applies only while
    /// the stored registration is pending (and, for `Expired`, past its `expire_time` at `at`);
    /// otherwise the stored row comes back `Unchanged`. Unknown user: [`StoreError::NotFound`].
    fn transition_registration(
        &self,
        user_id: &UserId,
        change: &RegistrationChange,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<TransitionOutcome<RegistrationRecord>, StoreError>> + Send;

    /// Remembers an accepted callback by a digest of its nonce and signature: true the first
    /// time, false for a replay. Entries older than `at - window` are forgotten (a callback
    /// that old is refused for its stale nonce before it gets here).
    fn remember_callback(
        &self,
        digest: &[u8; 32],
        at: DateTime<Utc>,
        window: std::time::Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Checks that the database answers (for health checks).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
