//! The use-cases of `TwoFactorService`: the only code that touches both the store and the
//! provider. Each use-case takes parsed domain values (from `grpc::convert`), returns records or
//! an [`Error`], and appends one audit event.
//!
//! Approvals are followed through the approval [`Hub`]: one follower per pending approval, however
//! many watchers; a transition is written to the store (compare-and-set) before it is broadcast.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::app::hub::{Follow, Hub, HubClosed, HubConfig, RefreshError, WatchStream};
use crate::app::limits::{Limits, LimitsConfig};
use crate::app::registration::RegistrationFollower;
use crate::domain::{ApprovalId, ApprovalStatus, ApprovalUuid, RegistrationState, UserId};
use crate::error::Error;
use crate::grpc::convert::{Enroll, RequestApproval, SendToken, VerifyToken};
use crate::http::Health;
use crate::provider::{ProviderError, TokenCheck, TokenDelivery, TwoFactorProvider, UserStatus};
use crate::store::{
    ApprovalRecord, AuditAction, AuditEvent, Inserted, Store, StoreError, TransitionOutcome,
    TransitionSource, UserRecord,
};

/// What a verified approval callback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The approval moved to the callback's state; as stored.
    Applied(ApprovalRecord),
    /// The approval was terminal already (answered, or expired first); as stored.
    Unchanged(ApprovalRecord),
    /// The callback came after the approval's `expire_time`: the approval expired instead, as
    /// a poll at that moment would have recorded; as stored.
    TooLate(ApprovalRecord),
    /// No approval of ours has this provider id.
    UnknownApproval,
}

/// Who is calling, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
}

impl Caller {
    /// A caller in a deployment without caller credentials (sandbox, or explicitly insecure).
    pub fn anonymous() -> Self {
        Self {
            name: "anonymous".to_owned(),
        }
    }

    pub(crate) fn system() -> Self {
        Self {
            name: "authyd".to_owned(),
        }
    }
}

/// An enrolled user with their live status at the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct UserView {
    pub record: UserRecord,
    pub status: UserStatus,
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            // A row that vanished between two reads of one request.
            StoreError::NotFound => Error::Internal {
                detail: "a stored row disappeared".to_owned(),
            },
            StoreError::Unavailable(_) => Error::StoreUnavailable {
                detail: e.to_string(),
            },
            other => Error::Internal {
                detail: other.to_string(),
            },
        }
    }
}

/// The service core. Cheap to clone.
pub struct TwoFactor<P: TwoFactorProvider, S: Store> {
    inner: Arc<Inner<P, S>>,
}

impl<P: TwoFactorProvider, S: Store> Clone for TwoFactor<P, S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<P: TwoFactorProvider, S: Store> {
    provider: Arc<P>,
    store: S,
    approvals: Hub<ApprovalFollower<P, S>>,
    registrations: Hub<RegistrationFollower<P, S>>,
    limits: Limits,
    health: Health,
    users: UserCache,
}

/// How long a user's stored mapping is reused without reading the store. An unenroll through
/// another replica is seen here within this time; through this one, at once.
pub const USER_CACHE_TTL: Duration = Duration::from_secs(2);

/// Positive lookups of users, for [`USER_CACHE_TTL`].
#[derive(Default)]
struct UserCache(Mutex<HashMap<UserId, (UserRecord, Instant)>>);

impl UserCache {
    /// Entries kept before expired ones are swept out.
    const SWEEP_AT: usize = 10_000;

    fn get(&self, user_id: &UserId) -> Option<UserRecord> {
        let map = self.0.lock();
        let (record, at) = map.get(user_id)?;
        (at.elapsed() < USER_CACHE_TTL).then(|| record.clone())
    }

    fn put(&self, record: &UserRecord) {
        let mut map = self.0.lock();
        if map.len() >= Self::SWEEP_AT {
            map.retain(|_, (_, at)| at.elapsed() < USER_CACHE_TTL);
        }
        map.insert(record.user_id.clone(), (record.clone(), Instant::now()));
    }

    fn forget(&self, user_id: &UserId) {
        self.0.lock().remove(user_id);
    }
}

impl<P: TwoFactorProvider, S: Store> TwoFactor<P, S> {
    pub fn new(
        provider: P,
        store: S,
        hub: HubConfig,
        limits: LimitsConfig,
        health: Health,
    ) -> Self {
        let provider = Arc::new(provider);
        let approval_follower = ApprovalFollower {
            provider: Arc::clone(&provider),
            store: store.clone(),
            health: health.clone(),
        };
        let registration_follower =
            RegistrationFollower::new(Arc::clone(&provider), store.clone(), health.clone());
        Self {
            inner: Arc::new(Inner {
                provider,
                store,
                approvals: Hub::new(Arc::new(approval_follower), hub.clone()),
                registrations: Hub::new(Arc::new(registration_follower), hub),
                limits: Limits::new(limits),
                health,
                users: UserCache::default(),
            }),
        }
    }

    /// The store (for the sandbox controls and callbacks).
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The approval hub (metrics, shutdown).
    pub fn approvals(&self) -> &Hub<ApprovalFollower<P, S>> {
        &self.inner.approvals
    }

    /// The registration hub (metrics, shutdown).
    pub fn registrations(&self) -> &Hub<RegistrationFollower<P, S>> {
        &self.inner.registrations
    }

    pub(crate) fn registration_follower(&self) -> &RegistrationFollower<P, S> {
        self.inner.registrations.source()
    }

    pub(crate) fn provider(&self) -> &P {
        &self.inner.provider
    }

    /// Ends every watch stream (with UNAVAILABLE) and stops every follower.
    pub fn shutdown(&self) {
        self.inner.approvals.shutdown();
        self.inner.registrations.shutdown();
    }

    pub async fn enroll(&self, caller: &Caller, cmd: Enroll) -> Result<UserView, Error> {
        let result = self.enroll_inner(&cmd).await;
        self.audit(
            caller,
            AuditAction::Enroll,
            Some(&cmd.user_id),
            None,
            &result,
        )
        .await;
        result
    }

    async fn enroll_inner(&self, cmd: &Enroll) -> Result<UserView, Error> {
        let stored = match self.inner.store.get_user(&cmd.user_id).await? {
            Some(existing) => Some(existing),
            // A pending QR registration: if it completed, that is the user; if it is still
            // pending, enrolling now would make a second Authy user for the same id.
            None => match self.settle_pending_registration(&cmd.user_id).await? {
                Some(view) if view.user.is_some() => view.user.map(|u| u.record),
                Some(view) if view.record.state == RegistrationState::Pending => {
                    return Err(Error::RegistrationPending);
                }
                _ => None,
            },
        };
        let record = match stored {
            Some(existing) => existing,
            None => {
                let authy_id = self.upstream(self.inner.provider.create_user(&cmd.user).await)?;
                let record = UserRecord {
                    user_id: cmd.user_id.clone(),
                    authy_id,
                    masked_phone: cmd.user.phone.masked(),
                    country_code: cmd.user.country_code,
                    enroll_time: Utc::now(),
                };
                self.inner.store.insert_user(&record).await?.into_inner()
            }
        };
        let status = self.upstream(self.inner.provider.user_status(record.authy_id).await)?;
        Ok(UserView { record, status })
    }

    pub async fn get_user(&self, user_id: &UserId) -> Result<UserView, Error> {
        let record = self.user(user_id).await?;
        let status = self.upstream(self.inner.provider.user_status(record.authy_id).await)?;
        Ok(UserView { record, status })
    }

    pub async fn unenroll(&self, caller: &Caller, user_id: &UserId) -> Result<(), Error> {
        let result = async {
            let record = self.user(user_id).await?;
            match self.inner.provider.remove_user(record.authy_id).await {
                // Already gone at Authy: forgetting it here is all that is left to do.
                Ok(()) | Err(ProviderError::UserNotFound) => {}
                Err(e) => return Err(self.upstream_error(e)),
            }
            self.inner.store.delete_user(user_id).await?;
            self.inner.users.forget(user_id);
            Ok(())
        }
        .await;
        self.audit(caller, AuditAction::Unenroll, Some(user_id), None, &result)
            .await;
        result
    }

    /// Sends a code by SMS (`voice = false`) or voice call.
    pub async fn send_token(
        &self,
        caller: &Caller,
        cmd: SendToken,
        voice: bool,
    ) -> Result<TokenDelivery, Error> {
        let action = if voice {
            AuditAction::SendVoice
        } else {
            AuditAction::SendSms
        };
        let result = async {
            let record = self.user(&cmd.user_id).await?;
            let sends = &self.inner.limits.sends;
            sends
                .check(&cmd.user_id)
                .map_err(|retry_after| Error::TooManyAttempts { retry_after })?;
            let delivery = if voice {
                self.inner
                    .provider
                    .request_call(record.authy_id, &cmd.options)
                    .await
            } else {
                self.inner
                    .provider
                    .request_sms(record.authy_id, &cmd.options)
                    .await
            };
            let delivery = self.upstream(delivery)?;
            if delivery.sent {
                sends.record(&cmd.user_id);
            }
            Ok::<_, Error>(delivery)
        }
        .await;
        let outcome = match &result {
            Ok(d) if d.sent => Ok("sent"),
            Ok(_) => Ok("ignored"),
            Err(e) => Err(e.clone()),
        };
        self.audit_outcome(caller, action, Some(&cmd.user_id), None, outcome)
            .await;
        result
    }

    pub async fn verify_token(
        &self,
        caller: &Caller,
        cmd: VerifyToken,
    ) -> Result<TokenCheck, Error> {
        let result = async {
            let record = self.user(&cmd.user_id).await?;
            let failures = &self.inner.limits.failed_verifications;
            failures
                .check(&cmd.user_id)
                .map_err(|retry_after| Error::TooManyAttempts { retry_after })?;
            let check = self.upstream(
                self.inner
                    .provider
                    .verify_token(record.authy_id, &cmd.token, cmd.action.as_ref())
                    .await,
            )?;
            match check {
                TokenCheck::Valid => failures.clear(&cmd.user_id),
                TokenCheck::Invalid => failures.record(&cmd.user_id),
            }
            Ok::<_, Error>(check)
        }
        .await;
        let outcome = match &result {
            Ok(TokenCheck::Valid) => Ok("valid"),
            Ok(TokenCheck::Invalid) => Ok("invalid"),
            Err(e) => Err(e.clone()),
        };
        self.audit_outcome(
            caller,
            AuditAction::VerifyToken,
            Some(&cmd.user_id),
            None,
            outcome,
        )
        .await;
        result
    }

    pub async fn request_approval(
        &self,
        caller: &Caller,
        cmd: RequestApproval,
    ) -> Result<ApprovalRecord, Error> {
        let result = self.request_approval_inner(&cmd).await;
        let subject = result.as_ref().ok().map(|a| a.approval_id.to_string());
        self.audit(
            caller,
            AuditAction::RequestApproval,
            Some(&cmd.user_id),
            subject,
            &result,
        )
        .await;
        result
    }

    async fn request_approval_inner(&self, cmd: &RequestApproval) -> Result<ApprovalRecord, Error> {
        let user = self.user(&cmd.user_id).await?;
        let details: BTreeMap<String, String> = cmd
            .approval
            .details
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let same_request = |a: &ApprovalRecord| {
            a.message == cmd.approval.message.as_str()
                && a.details == details
                && a.expire_time - a.create_time == ttl_delta(cmd)
        };
        if let Some(request_id) = &cmd.request_id
            && let Some(existing) = self
                .inner
                .store
                .find_approval_by_request(&cmd.user_id, request_id)
                .await?
        {
            return if same_request(&existing) {
                Ok(existing)
            } else {
                Err(Error::RequestIdConflict)
            };
        }
        let provider_ref = self.upstream(
            self.inner
                .provider
                .create_approval(user.authy_id, &cmd.approval)
                .await,
        )?;
        let now = Utc::now();
        let record = ApprovalRecord {
            approval_id: ApprovalId::new(),
            user_id: cmd.user_id.clone(),
            authy_id: user.authy_id,
            provider_ref,
            request_id: cmd.request_id.clone(),
            message: cmd.approval.message.as_str().to_owned(),
            details: details.clone(),
            state: ApprovalStatus::Pending,
            create_time: now,
            expire_time: now + ttl_delta(cmd),
            update_time: now,
        };
        // The push is out: a retry would send a second one, so a store that cannot take the
        // approval now is INTERNAL here, not UNAVAILABLE.
        let inserted = self
            .inner
            .store
            .insert_approval(&record)
            .await
            .map_err(|e| Error::Internal {
                detail: format!(
                    "approval {} was sent to Authy ({}) but could not be stored: {e}",
                    record.approval_id, record.provider_ref
                ),
            })?;
        match inserted {
            Inserted::Created(r) => Ok(r),
            // A concurrent request with the same key won the insert.
            Inserted::Existing(r) if r.request_id.is_some() && same_request(&r) => Ok(r),
            Inserted::Existing(_) => Err(Error::RequestIdConflict),
        }
    }

    /// The approval as the provider reports it now: pending approvals get a fresh read, shared
    /// with the follower and any concurrent reader; past `expire_time` it expires locally.
    pub async fn get_approval(&self, approval_id: &ApprovalId) -> Result<ApprovalRecord, Error> {
        let record = self.approval(approval_id).await?;
        self.inner
            .approvals
            .refresh_now(approval_id.clone(), record)
            .await
            .map_err(Error::from)
    }

    /// The approval now, then each change, ending after a terminal state; `Err(HubClosed)` if the
    /// server shuts down first.
    pub async fn watch_approval(
        &self,
        approval_id: &ApprovalId,
    ) -> Result<WatchStream<ApprovalFollower<P, S>>, Error> {
        let record = self.approval(approval_id).await?;
        Ok(self.inner.approvals.watch(approval_id.clone(), record))
    }

    /// A verified provider callback: the approval with this provider id was answered. The
    /// change is persisted (compare-and-set, so a poll that got there first wins and nothing
    /// conflicting is written), then delivered to every watcher.
    pub async fn approval_answered(
        &self,
        provider_ref: &ApprovalUuid,
        status: ApprovalStatus,
    ) -> Result<CallbackOutcome, Error> {
        let Some(record) = self
            .inner
            .store
            .find_approval_by_provider_ref(provider_ref)
            .await?
        else {
            return Ok(CallbackOutcome::UnknownApproval);
        };
        let now = Utc::now();
        let too_late = now >= record.expire_time;
        let (to, source) = if too_late {
            (ApprovalStatus::Expired, TransitionSource::Expiry)
        } else {
            (status, TransitionSource::Callback)
        };
        let outcome = self
            .inner
            .approvals
            .source()
            .transition(&record, to, source, now)
            .await?;
        let applied = outcome.is_applied();
        let stored = outcome.into_record();
        let approval_id = stored.approval_id.clone();
        self.inner.approvals.publish(&approval_id, stored.clone());
        Ok(match (applied, too_late) {
            (true, false) => CallbackOutcome::Applied(stored),
            (true, true) => CallbackOutcome::TooLate(stored),
            (false, _) => CallbackOutcome::Unchanged(stored),
        })
    }

    /// The stored user, through a short-lived cache (most calls name a user, and the mapping
    /// only changes on enroll, unenroll and QR registration).
    async fn user(&self, user_id: &UserId) -> Result<UserRecord, Error> {
        if let Some(hit) = self.inner.users.get(user_id) {
            return Ok(hit);
        }
        let record = match self.inner.store.get_user(user_id).await? {
            Some(record) => record,
            // Not enrolled; a registration nobody watched may have completed (an upstream error
            // here is reported as such: the user may exist).
            None => self
                .settle_pending_registration(user_id)
                .await?
                .and_then(|view| view.user)
                .map(|user| user.record)
                .ok_or(Error::UserNotFound)?,
        };
        self.inner.users.put(&record);
        Ok(record)
    }

    async fn approval(&self, approval_id: &ApprovalId) -> Result<ApprovalRecord, Error> {
        self.inner
            .store
            .get_approval(approval_id)
            .await?
            .ok_or(Error::ApprovalNotFound)
    }

    fn upstream<T>(&self, result: Result<T, ProviderError>) -> Result<T, Error> {
        result.map_err(|e| self.upstream_error(e))
    }

    /// Maps a provider error, flagging health when Authy rejects our key.
    fn upstream_error(&self, e: ProviderError) -> Error {
        note_upstream(&self.inner.health, &e);
        Error::from(e)
    }

    pub(crate) async fn audit<T>(
        &self,
        caller: &Caller,
        action: AuditAction,
        user_id: Option<&UserId>,
        subject: Option<String>,
        result: &Result<T, Error>,
    ) {
        let outcome = match result {
            Ok(_) => Ok("ok"),
            Err(e) => Err(e.clone()),
        };
        self.audit_outcome(caller, action, user_id, subject, outcome)
            .await;
    }

    async fn audit_outcome(
        &self,
        caller: &Caller,
        action: AuditAction,
        user_id: Option<&UserId>,
        subject: Option<String>,
        outcome: Result<&'static str, Error>,
    ) {
        let outcome = match outcome {
            Ok(o) => o.to_owned(),
            Err(e) => e.reason().to_ascii_lowercase(),
        };
        append_audit(
            &self.inner.store,
            AuditEvent {
                at: Utc::now(),
                caller: caller.name.clone(),
                action,
                user_id: user_id.cloned(),
                subject,
                outcome,
                detail: None,
            },
        )
        .await;
    }
}

fn ttl_delta(cmd: &RequestApproval) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(cmd.ttl).unwrap_or(chrono::TimeDelta::MAX)
}

pub(crate) fn note_upstream(health: &Health, e: &ProviderError) {
    if matches!(e, ProviderError::InvalidApiKey) {
        tracing::error!("Authy rejected the configured API key (60001): reporting NOT_SERVING");
        health.set_upstream_credentials_rejected(true);
    }
}

/// Audit failures do not fail the request (the 2FA step already happened at Authy); they are
/// logged at error level and counted, so an operator sees a gap in the trail.
pub(crate) async fn append_audit<S: Store>(store: &S, event: AuditEvent) {
    if let Err(e) = store.append_audit(&event).await {
        metrics::counter!("authyd_audit_failures_total").increment(1);
        tracing::error!(action = event.action.as_str(), error = %e, "audit event not recorded");
    }
}

/// Follows one pending approval at the provider: the hub's view of approvals.
pub struct ApprovalFollower<P: TwoFactorProvider, S: Store> {
    provider: Arc<P>,
    store: S,
    health: Health,
}

impl<P: TwoFactorProvider, S: Store> ApprovalFollower<P, S> {
    /// Persists a transition (compare-and-set); an applied transition is audited.
    async fn transition(
        &self,
        item: &ApprovalRecord,
        to: ApprovalStatus,
        source: TransitionSource,
        at: DateTime<Utc>,
    ) -> Result<TransitionOutcome, Error> {
        let outcome = self
            .store
            .transition_approval(&item.approval_id, to, source, at)
            .await?;
        if let TransitionOutcome::Applied(record) = &outcome {
            append_audit(
                &self.store,
                AuditEvent {
                    at,
                    caller: Caller::system().name,
                    action: AuditAction::ApprovalTransition,
                    user_id: Some(record.user_id.clone()),
                    subject: Some(record.approval_id.to_string()),
                    outcome: to.as_str().to_owned(),
                    detail: Some(format!("source={}", source.as_str())),
                },
            )
            .await;
        }
        Ok(outcome)
    }
}

impl<P: TwoFactorProvider, S: Store> Follow for ApprovalFollower<P, S> {
    type Key = ApprovalId;
    type Item = ApprovalRecord;
    type Error = Error;

    fn is_terminal(item: &ApprovalRecord) -> bool {
        item.state.is_terminal()
    }

    fn deadline(item: &ApprovalRecord) -> Option<DateTime<Utc>> {
        Some(item.expire_time)
    }

    async fn refresh(&self, item: &ApprovalRecord) -> Result<ApprovalRecord, Error> {
        metrics::counter!("authyd_approval_polls_total").increment(1);
        let snapshot = match self.provider.get_approval(&item.provider_ref).await {
            Ok(s) => s,
            Err(e) => {
                note_upstream(&self.health, &e);
                return Err(Error::from(e));
            }
        };
        if snapshot.status == ApprovalStatus::Pending {
            // Nothing new upstream; another path (a callback) may still have moved it.
            return Ok(self
                .store
                .get_approval(&item.approval_id)
                .await?
                .unwrap_or_else(|| item.clone()));
        }
        let at = snapshot.processed_at.unwrap_or_else(Utc::now);
        self.transition(item, snapshot.status, TransitionSource::Poll, at)
            .await
            .map(TransitionOutcome::into_record)
    }

    async fn expire(&self, item: &ApprovalRecord) -> Result<ApprovalRecord, Error> {
        self.transition(
            item,
            ApprovalStatus::Expired,
            TransitionSource::Expiry,
            Utc::now(),
        )
        .await
        .map(TransitionOutcome::into_record)
    }
}

/// A fresh read that failed: the follower's error, or UNAVAILABLE if the read was aborted.
impl From<RefreshError<Error>> for Error {
    fn from(e: RefreshError<Error>) -> Self {
        match e {
            RefreshError::Upstream(e) => (*e).clone(),
            RefreshError::Aborted => Error::UpstreamUnavailable { retry_after: None },
        }
    }
}

/// A closed hub (server shutting down) ends watch streams with UNAVAILABLE.
impl From<HubClosed> for Error {
    fn from(_: HubClosed) -> Self {
        Error::ShuttingDown
    }
}
