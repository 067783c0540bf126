//! QR registrations (design flow 5). `StartRegistration` issues a registration token (signed by
//! the provider) and its QR code and stores the user's registration as pending; the registration
//! [`Hub`](crate::app::hub::Hub) follows the provider's registration status with one follower per
//! watched pending registration, exactly as approvals are followed. When the user scans the code,
//! the follower stores the provider's id of the user — enrolling them — in the same transaction
//! that completes the registration, then broadcasts it.
//!
//! A scan that nobody watched is not lost: the first call that names the user (GetUser,
//! SendSms, …) finds the pending registration and reads its status once.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::app::hub::{Follow, WatchStream};
use crate::app::qr::{self, QrImages};
use crate::app::twofactor::{Caller, TwoFactor, UserView, append_audit, note_upstream};
use crate::domain::{AuthyId, CountryCode, RegistrationState, RegistrationTtl, UserId};
use crate::error::Error;
use crate::http::Health;
use crate::provider::{
    ProviderError, RegistrationStatus, RegistrationToken, TwoFactorProvider, UserStatus,
};
use crate::store::{
    AuditAction, AuditEvent, RegistrationChange, RegistrationRecord, Store, StoreError,
    TransitionOutcome, UserRecord,
};

/// A parsed `StartRegistrationRequest`.
#[derive(Debug, Clone)]
pub struct StartRegistration {
    pub user_id: UserId,
    pub ttl: RegistrationTtl,
}

/// What StartRegistration hands back: the stored registration, the token and its QR code.
#[derive(Debug, Clone)]
pub struct RegistrationStart {
    pub record: RegistrationRecord,
    pub token: RegistrationToken,
    pub qr: QrImages,
}

/// A registration as watchers see it: the stored row, and the enrolled user once completed.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationView {
    pub record: RegistrationRecord,
    pub user: Option<UserView>,
}

impl RegistrationView {
    fn pending(record: RegistrationRecord) -> Self {
        Self { record, user: None }
    }
}

impl<P: TwoFactorProvider, S: Store> TwoFactor<P, S> {
    /// Issues a registration token for a user who is not enrolled, and stores the registration
    /// as pending (replacing an earlier one: its watchers see the new expiry).
    pub async fn start_registration(
        &self,
        caller: &Caller,
        cmd: StartRegistration,
    ) -> Result<RegistrationStart, Error> {
        let result = self.start_registration_inner(&cmd).await;
        self.audit(
            caller,
            AuditAction::StartRegistration,
            Some(&cmd.user_id),
            None,
            &result,
        )
        .await;
        result
    }

    async fn start_registration_inner(
        &self,
        cmd: &StartRegistration,
    ) -> Result<RegistrationStart, Error> {
        // Whole seconds: the token's `iat`/`exp` are integers, and `expire_time` is its `exp`.
        // `iat` rounds down (never in the future) and `exp` up, so the code lives at least `ttl`.
        let now = Utc::now();
        let issued = whole_seconds(now);
        let ttl = TimeDelta::from_std(cmd.ttl.get()).unwrap_or(TimeDelta::MAX);
        let expires = seconds_up(now.checked_add_signed(ttl).unwrap_or(now));
        let token = self.token(&cmd.user_id, issued, expires)?;
        let qr = qr::render(&token.uri).map_err(|e| Error::Internal {
            detail: e.to_string(),
        })?;
        let record = self
            .store()
            .start_registration(&RegistrationRecord {
                user_id: cmd.user_id.clone(),
                state: RegistrationState::Pending,
                authy_id: None,
                failure: None,
                create_time: issued,
                expire_time: expires,
                update_time: issued,
            })
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists => Error::UserAlreadyEnrolled,
                other => Error::from(other),
            })?;
        self.registrations()
            .publish(&cmd.user_id, RegistrationView::pending(record.clone()));
        Ok(RegistrationStart { record, token, qr })
    }

    /// The user's registration now, then each change, ending after a terminal state.
    pub async fn watch_registration(
        &self,
        user_id: &UserId,
    ) -> Result<WatchStream<RegistrationFollower<P, S>>, Error> {
        let record = self.registration(user_id).await?;
        let view = self.registration_follower().view(record).await?;
        Ok(self.registrations().watch(user_id.clone(), view))
    }

    /// A fresh read of the user's registration, shared with its follower and published to its
    /// watchers (the sandbox calls it right after its simulated phone scanned the code).
    pub async fn refresh_registration(&self, user_id: &UserId) -> Result<RegistrationView, Error> {
        let record = self.registration(user_id).await?;
        let view = self.registration_follower().view(record).await?;
        self.registrations()
            .refresh_now(user_id.clone(), view)
            .await
            .map_err(Error::from)
    }

    /// The token of the user's pending registration as StartRegistration issued it (same
    /// claims, so the same token): what the sandbox's simulated phone scans.
    pub async fn pending_registration_token(
        &self,
        user_id: &UserId,
    ) -> Result<RegistrationToken, Error> {
        let record = self.registration(user_id).await?;
        if record.state != RegistrationState::Pending || record.expire_time <= Utc::now() {
            return Err(Error::RegistrationNotPending);
        }
        self.token(user_id, record.create_time, record.expire_time)
    }

    /// For a user who is not enrolled: if a registration is pending, read its status once (a
    /// scan nobody watched completes here, a registration past its deadline expires). The
    /// registration after that read; `None` if none was pending.
    pub(crate) async fn settle_pending_registration(
        &self,
        user_id: &UserId,
    ) -> Result<Option<RegistrationView>, Error> {
        let Some(record) = self.store().get_registration(user_id).await? else {
            return Ok(None);
        };
        if record.state != RegistrationState::Pending {
            return Ok(None);
        }
        self.registrations()
            .refresh_now(user_id.clone(), RegistrationView::pending(record))
            .await
            .map(Some)
            .map_err(Error::from)
    }

    async fn registration(&self, user_id: &UserId) -> Result<RegistrationRecord, Error> {
        self.store()
            .get_registration(user_id)
            .await?
            .ok_or(Error::RegistrationNotFound)
    }

    fn token(
        &self,
        user_id: &UserId,
        issued: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<RegistrationToken, Error> {
        self.provider()
            .registration_token(user_id, issued, expires)
            .map_err(Error::from)
    }
}

/// `t` rounded down to the second.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// `t` rounded up to the second.
fn seconds_up(t: DateTime<Utc>) -> DateTime<Utc> {
    let down = whole_seconds(t);
    if down == t {
        t
    } else {
        down + TimeDelta::seconds(1)
    }
}

/// Follows one pending registration at the provider: the hub's view of registrations.
pub struct RegistrationFollower<P: TwoFactorProvider, S: Store> {
    provider: Arc<P>,
    store: S,
    health: Health,
}

impl<P: TwoFactorProvider, S: Store> RegistrationFollower<P, S> {
    pub(crate) fn new(provider: Arc<P>, store: S, health: Health) -> Self {
        Self {
            provider,
            store,
            health,
        }
    }

    fn upstream(&self, e: ProviderError) -> Error {
        note_upstream(&self.health, &e);
        Error::from(e)
    }

    /// The view of a stored registration: a completed one comes with its user and the user's
    /// live status (one provider read).
    pub(crate) async fn view(&self, record: RegistrationRecord) -> Result<RegistrationView, Error> {
        self.view_with(record, None).await
    }

    /// [`view`](Self::view), with the user's status when the caller has just read it. When Authy
    /// cannot be reached, a completed registration still shows its user: the stored fields, the
    /// app registered (the scan proves it), no device list.
    async fn view_with(
        &self,
        record: RegistrationRecord,
        known: Option<UserStatus>,
    ) -> Result<RegistrationView, Error> {
        if record.state != RegistrationState::Completed {
            return Ok(RegistrationView::pending(record));
        }
        let Some(user) = self.store.get_user(&record.user_id).await? else {
            return Ok(RegistrationView::pending(record));
        };
        let status = match known {
            Some(status) => status,
            None => match self.provider.user_status(user.authy_id).await {
                Ok(status) => status,
                Err(e) if e.is_transient() => {
                    note_upstream(&self.health, &e);
                    UserStatus {
                        authy_id: user.authy_id,
                        confirmed: true,
                        registered: true,
                        country_code: Some(user.country_code.get()),
                        masked_phone: user.masked_phone.clone(),
                        devices: Vec::new(),
                    }
                }
                Err(e) => return Err(self.upstream(e)),
            },
        };
        Ok(RegistrationView {
            record,
            user: Some(UserView {
                record: user,
                status,
            }),
        })
    }

    /// What watchers get when the registration row is gone (the user was unenrolled while it
    /// was pending): FAILED, so their streams end. Not stored: there is no row to store it in.
    fn removed(item: &RegistrationView) -> RegistrationView {
        RegistrationView::pending(RegistrationRecord {
            state: RegistrationState::Failed,
            failure: Some("removed".to_owned()),
            update_time: Utc::now(),
            ..item.record.clone()
        })
    }

    /// Authy reports the registration completed under `authy_id`: enroll the user (unless a
    /// different Authy user was enrolled for this id meanwhile) and complete it.
    async fn complete(
        &self,
        item: &RegistrationView,
        authy_id: AuthyId,
        source: &str,
    ) -> Result<RegistrationView, Error> {
        let user_id = &item.record.user_id;
        let now = Utc::now();
        if let Some(enrolled) = self.store.get_user(user_id).await?
            && enrolled.authy_id != authy_id
        {
            let change = RegistrationChange::Failed {
                status: "enrolled_otherwise".to_owned(),
            };
            return self.transition(item, change, now, source).await;
        }
        let status = match self.provider.user_status(authy_id).await {
            Ok(status) => status,
            // A "completed" left over from a user removed at Authy (Unenroll): the new code has
            // not been scanned yet.
            Err(ProviderError::UserNotFound) => return self.stored(item).await,
            Err(e) => return Err(self.upstream(e)),
        };
        let country_code = status
            .country_code
            .and_then(|c| CountryCode::new(i64::from(c)).ok())
            .ok_or(Error::UpstreamProtocol)?;
        let user = UserRecord {
            user_id: user_id.clone(),
            authy_id,
            masked_phone: status.masked_phone.clone(),
            country_code,
            enroll_time: now,
        };
        let change = RegistrationChange::Completed(user);
        self.transition_with(item, change, now, source, Some(status))
            .await
    }

    /// The registration as stored now (another path may have moved it).
    async fn stored(&self, item: &RegistrationView) -> Result<RegistrationView, Error> {
        match self.store.get_registration(&item.record.user_id).await? {
            Some(record) => self.view(record).await,
            None => Ok(Self::removed(item)),
        }
    }

    /// Persists a change (compare-and-set), audits it when applied, returns the view as stored.
    async fn transition(
        &self,
        item: &RegistrationView,
        change: RegistrationChange,
        at: DateTime<Utc>,
        source: &str,
    ) -> Result<RegistrationView, Error> {
        self.transition_with(item, change, at, source, None).await
    }

    /// [`transition`](Self::transition); `known` is the user's status just read, reused for the
    /// view of a completion this call applied.
    async fn transition_with(
        &self,
        item: &RegistrationView,
        change: RegistrationChange,
        at: DateTime<Utc>,
        source: &str,
        known: Option<UserStatus>,
    ) -> Result<RegistrationView, Error> {
        let user_id = &item.record.user_id;
        let outcome = match self
            .store
            .transition_registration(user_id, &change, at)
            .await
        {
            Ok(outcome) => outcome,
            // Unenrolled while being followed: nothing left to follow.
            Err(StoreError::NotFound) => return Ok(Self::removed(item)),
            Err(other) => return Err(Error::from(other)),
        };
        let TransitionOutcome::Applied(record) = outcome else {
            return self.view(outcome.into_record()).await;
        };
        let detail = match &change {
            RegistrationChange::Failed { status } => format!("source={source} status={status}"),
            _ => format!("source={source}"),
        };
        append_audit(
            &self.store,
            AuditEvent {
                at,
                caller: Caller::system().name,
                action: AuditAction::RegistrationTransition,
                user_id: Some(user_id.clone()),
                subject: None,
                outcome: record.state.as_str().to_owned(),
                detail: Some(detail),
            },
        )
        .await;
        self.view_with(record, known).await
    }
}

impl<P: TwoFactorProvider, S: Store> Follow for RegistrationFollower<P, S> {
    type Key = UserId;
    type Item = RegistrationView;
    type Error = Error;

    fn is_terminal(item: &RegistrationView) -> bool {
        item.record.state.is_terminal()
    }

    fn deadline(item: &RegistrationView) -> Option<DateTime<Utc>> {
        Some(item.record.expire_time)
    }

    async fn refresh(&self, item: &RegistrationView) -> Result<RegistrationView, Error> {
        metrics::counter!("authyd_registration_polls_total").increment(1);
        let user_id = &item.record.user_id;
        let status = self
            .provider
            .registration_status(user_id)
            .await
            .map_err(|e| self.upstream(e))?;
        match status {
            // Nothing new upstream; the stored row may have moved (started again).
            RegistrationStatus::Pending => self.stored(item).await,
            RegistrationStatus::Completed { authy_id } => {
                self.complete(item, authy_id, "poll").await
            }
            RegistrationStatus::Other(status) => {
                let change = RegistrationChange::Failed { status };
                self.transition(item, change, Utc::now(), "poll").await
            }
        }
    }

    /// One last look at Authy first: a scan made before the deadline that no poll saw yet
    /// (authyd was down, or backing off) completes rather than expires. If Authy cannot be
    /// asked, the registration expires all the same.
    async fn expire(&self, item: &RegistrationView) -> Result<RegistrationView, Error> {
        match self
            .provider
            .registration_status(&item.record.user_id)
            .await
        {
            Ok(RegistrationStatus::Completed { authy_id }) => {
                return self.complete(item, authy_id, "expiry").await;
            }
            Ok(_) => {}
            Err(e) => {
                note_upstream(&self.health, &e);
            }
        }
        // Never before the deadline the follower planned for (clocks may differ by a hair).
        let at = Utc::now().max(item.record.expire_time);
        self.transition(item, RegistrationChange::Expired, at, "expiry")
            .await
    }
}
