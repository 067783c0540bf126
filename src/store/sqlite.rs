//! [`Store`] on an embedded SQLite file (WAL journal, a small pool of connections).

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite};
use tokio::sync::{mpsc, oneshot};

use super::{
    ApprovalRecord, AuditEvent, AuditQuery, CallerKeyRecord, Inserted, NewCallerKey,
    RegistrationChange, RegistrationRecord, Revocation, Store, StoreError, Transition,
    TransitionOutcome, TransitionSource, UserRecord,
};
use crate::domain::{
    ApprovalId, ApprovalStatus, ApprovalUuid, AuthyId, CountryCode, KeyName, RegistrationState,
    RequestId, Scopes, UserId,
};
use crate::secret::KeyHash;

/// The columns of an approval row (what `approval_from_row` reads).
macro_rules! approval_columns {
    () => {
        "approval_id, user_id, authy_id, provider_ref, request_id, message, details, state, \
         create_time, expire_time, update_time"
    };
}

/// The columns of a registration row (what `registration_from_row` reads).
macro_rules! registration_columns {
    () => {
        "user_id, state, authy_id, failure, create_time, expire_time, update_time"
    };
}

/// The columns of a caller key row (what `caller_key_from_row` reads; never the hash).
macro_rules! caller_key_columns {
    () => {
        "name, scopes, create_time, revoke_time, last_used_time"
    };
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations");

/// Connections in the pool of a file database, the audit writer's own included. SQLite writes
/// one at a time; the extra connections serve reads concurrently with a write (WAL).
const MAX_CONNECTIONS: u32 = 5;
/// How long a statement waits for another connection's write lock before failing as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an operation waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts of an insert-or-select before giving up (only a concurrent delete of the row that
/// blocked the insert makes a second attempt necessary).
const INSERT_ATTEMPTS: usize = 3;

/// Most audit events one INSERT appends.
const AUDIT_BATCH: usize = 256;
/// Audit events waiting for the writer before `append_audit` callers wait for room.
const AUDIT_QUEUE: usize = 4096;

/// An audit event on its way to the writer, with where to report the outcome.
type PendingAudit = (AuditEvent, oneshot::Sender<Result<(), StoreError>>);

/// The store on an SQLite database. Cloning shares the pool and the audit writer.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// To the audit writer task: group commit of audit events (see `append_audit`).
    audit: mpsc::Sender<PendingAudit>,
}

impl SqliteStore {
    /// Opens (creating it and its directory if missing) the database file at `path` and brings
    /// its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        create_parent_dir(path)?;
        let options = SqliteConnectOptions::new().filename(path);
        Self::connect(options, false).await
    }

    /// Opens a database named by an `sqlite:` URL (`sqlite://path/to/file.db`,
    /// `sqlite:///abs/path.db?mode=rwc`, `sqlite::memory:`), creating the file and its directory
    /// if missing, and brings its schema up to date. An in-memory database lives as long as the
    /// store (it is held on one connection).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        // sqlx reads anything after an optional `sqlite:` as a file name, so another scheme's
        // URL would become a file path. The URL itself is not echoed: it may hold a password.
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Unavailable(
                "database url is not an sqlite: url".into(),
            ));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid sqlite database url: {e}")))?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_parent_dir(options.get_filename())?;
        }
        Self::connect(options, in_memory).await
    }

    async fn connect(options: SqliteConnectOptions, in_memory: bool) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal)
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            });
        let pool = if in_memory {
            // Each connection to `:memory:` is its own database unless the cache is shared, and
            // the database vanishes with its last connection: keep exactly one, forever.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS)
        }
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // An embedded database has no connection to lose: the default ping on every acquire only
        // costs two worker-thread round trips per statement.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|e| db_error("opening the database", e))?;
        MIGRATOR.run(&pool).await.map_err(migrate_error)?;
        let (audit, queue) = mpsc::channel(AUDIT_QUEUE);
        tokio::spawn(audit_writer(pool.clone(), in_memory, queue));
        Ok(Self { pool, audit })
    }

    /// Closes every connection (checkpointing the WAL); later calls fail as unavailable.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn select_user(&self, user_id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, authy_id, masked_phone, country_code, enroll_time \
             FROM users WHERE user_id = ?1",
        )
        .bind(user_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("reading a user", e))?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn select_approval(
        &self,
        sql: &'static str,
        key: &str,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("reading an approval", e))?;
        row.as_ref().map(approval_from_row).transpose()
    }
}

impl Store for SqliteStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<Inserted<UserRecord>, StoreError> {
        for _ in 0..INSERT_ATTEMPTS {
            let created = sqlx::query(
                "INSERT INTO users (user_id, authy_id, masked_phone, country_code, enroll_time) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (user_id) DO NOTHING \
                 RETURNING user_id, authy_id, masked_phone, country_code, enroll_time",
            )
            .bind(user.user_id.as_str())
            .bind(authy_id_to_sql(user.authy_id))
            .bind(user.masked_phone.as_str())
            .bind(i64::from(user.country_code.get()))
            .bind(millis(user.enroll_time))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("storing a user", e))?;
            if let Some(row) = created {
                return user_from_row(&row).map(Inserted::Created);
            }
            if let Some(existing) = self.select_user(&user.user_id).await? {
                return Ok(Inserted::Existing(existing));
            }
            // The row that blocked the insert was deleted in between: try again.
        }
        Err(StoreError::Unavailable(format!(
            "user {}: insert kept conflicting with concurrent deletes",
            user.user_id
        )))
    }

    async fn get_user(&self, user_id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.select_user(user_id).await
    }

    async fn delete_user(&self, user_id: &UserId) -> Result<bool, StoreError> {
        let failed = |e| db_error("deleting a user", e);
        let mut tx = self.pool.begin().await.map_err(failed)?;
        let done = sqlx::query("DELETE FROM users WHERE user_id = ?1")
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        sqlx::query("DELETE FROM registrations WHERE user_id = ?1")
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_approval(
        &self,
        approval: &ApprovalRecord,
    ) -> Result<Inserted<ApprovalRecord>, StoreError> {
        let details = serde_json::to_string(&approval.details).map_err(|_| {
            StoreError::Failed(format!(
                "approval {}: details could not be encoded",
                approval.approval_id
            ))
        })?;
        let created = sqlx::query(concat!(
            "INSERT INTO approvals (approval_id, user_id, authy_id, provider_ref, request_id, \
                 message, details, state, create_time, expire_time, update_time) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT DO NOTHING ",
            "RETURNING ",
            approval_columns!()
        ))
        .bind(approval.approval_id.as_str())
        .bind(approval.user_id.as_str())
        .bind(authy_id_to_sql(approval.authy_id))
        .bind(approval.provider_ref.as_str())
        .bind(approval.request_id.as_ref().map(RequestId::as_str))
        .bind(approval.message.as_str())
        .bind(details)
        .bind(approval.state.as_str())
        .bind(millis(approval.create_time))
        .bind(millis(approval.expire_time))
        .bind(millis(approval.update_time))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("storing an approval", e))?;
        if let Some(row) = created {
            return approval_from_row(&row).map(Inserted::Created);
        }
        // Some unique key collided. Approvals are never deleted, so the row that blocked the
        // insert is still there: the same idempotency key first, then the same ids.
        let existing = sqlx::query(concat!(
            "SELECT ",
            approval_columns!(),
            " FROM approvals \
             WHERE (user_id = ?1 AND request_id = ?2) OR approval_id = ?3 OR provider_ref = ?4 \
             ORDER BY CASE \
                 WHEN user_id = ?1 AND request_id = ?2 THEN 0 \
                 WHEN approval_id = ?3 THEN 1 \
                 ELSE 2 END \
             LIMIT 1"
        ))
        .bind(approval.user_id.as_str())
        .bind(approval.request_id.as_ref().map(RequestId::as_str))
        .bind(approval.approval_id.as_str())
        .bind(approval.provider_ref.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("reading an approval", e))?;
        match existing {
            Some(row) => approval_from_row(&row).map(Inserted::Existing),
            // Approvals are never deleted: a retry would meet the same state.
            None => Err(StoreError::Failed(format!(
                "approval {}: insert conflicted with a row that is gone",
                approval.approval_id
            ))),
        }
    }

    async fn get_approval(
        &self,
        approval_id: &ApprovalId,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        self.select_approval(
            concat!(
                "SELECT ",
                approval_columns!(),
                " FROM approvals WHERE approval_id = ?1"
            ),
            approval_id.as_str(),
        )
        .await
    }

    async fn find_approval_by_provider_ref(
        &self,
        provider_ref: &ApprovalUuid,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        self.select_approval(
            concat!(
                "SELECT ",
                approval_columns!(),
                " FROM approvals WHERE provider_ref = ?1"
            ),
            provider_ref.as_str(),
        )
        .await
    }

    async fn find_approval_by_request(
        &self,
        user_id: &UserId,
        request_id: &RequestId,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            approval_columns!(),
            " FROM approvals WHERE user_id = ?1 AND request_id = ?2"
        ))
        .bind(user_id.as_str())
        .bind(request_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("reading an approval", e))?;
        row.as_ref().map(approval_from_row).transpose()
    }

    async fn transition_approval(
        &self,
        approval_id: &ApprovalId,
        to: ApprovalStatus,
        source: TransitionSource,
        at: DateTime<Utc>,
    ) -> Result<TransitionOutcome, StoreError> {
        let failed = |e: sqlx::Error| db_error("changing an approval's state", e);
        if to == ApprovalStatus::Pending {
            return match self.get_approval(approval_id).await? {
                Some(current) => Ok(TransitionOutcome::Unchanged(current)),
                None => Err(StoreError::NotFound),
            };
        }
        // The UPDATE is the transaction's first statement, so the transaction takes the write
        // lock at once (waiting up to the busy timeout) and never has to upgrade a read snapshot.
        let mut tx = self.pool.begin().await.map_err(failed)?;
        let updated = sqlx::query(concat!(
            "UPDATE approvals SET state = ?1, update_time = ?2 \
             WHERE approval_id = ?3 AND state = 'pending' ",
            "RETURNING ",
            approval_columns!()
        ))
        .bind(to.as_str())
        .bind(millis(at))
        .bind(approval_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed)?;
        let Some(row) = updated else {
            let select = concat!(
                "SELECT ",
                approval_columns!(),
                " FROM approvals WHERE approval_id = ?1"
            );
            return unchanged(tx, select, approval_id.as_str(), approval_from_row).await;
        };
        // Parsed before commit: a row that does not read back is not changed (dropping the
        // transaction rolls it back).
        let record = approval_from_row(&row)?;
        sqlx::query(
            "INSERT INTO approval_transitions (approval_id, from_state, to_state, source, at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(approval_id.as_str())
        .bind(ApprovalStatus::Pending.as_str())
        .bind(to.as_str())
        .bind(source.as_str())
        .bind(millis(at))
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(TransitionOutcome::Applied(record))
    }

    async fn transitions(&self, approval_id: &ApprovalId) -> Result<Vec<Transition>, StoreError> {
        let rows = sqlx::query(
            "SELECT approval_id, from_state, to_state, source, at \
             FROM approval_transitions WHERE approval_id = ?1 ORDER BY seq",
        )
        .bind(approval_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("reading approval transitions", e))?;
        rows.iter().map(transition_from_row).collect()
    }

    async fn pending_approvals(&self) -> Result<Vec<ApprovalRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            approval_columns!(),
            " FROM approvals WHERE state = 'pending' ORDER BY create_time, approval_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("reading pending approvals", e))?;
        rows.iter().map(approval_from_row).collect()
    }

    /// Group commit: the event joins the writer's queue and this call returns once the batch
    /// holding it is committed (or failed). Events that arrive while a batch is being written
    /// form the next one, so under load one INSERT appends many events, in arrival order.
    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let stopped = || StoreError::Unavailable("the audit writer has stopped".to_owned());
        let (done, outcome) = oneshot::channel();
        self.audit
            .send((event.clone(), done))
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    async fn audit_events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = i64::from(query.limit.min(AuditQuery::MAX_LIMIT));
        let rows = match &query.user_id {
            Some(user_id) => {
                sqlx::query(
                    "SELECT seq, at, caller, action, user_id, subject, outcome, detail \
                     FROM audit_events WHERE user_id = ?1 ORDER BY seq DESC LIMIT ?2",
                )
                .bind(user_id.as_str())
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(
                    "SELECT seq, at, caller, action, user_id, subject, outcome, detail \
                     FROM audit_events ORDER BY seq DESC LIMIT ?1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(|e| db_error("reading audit events", e))?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn create_caller_key(&self, key: &NewCallerKey) -> Result<CallerKeyRecord, StoreError> {
        let created = sqlx::query(concat!(
            "INSERT INTO caller_keys (name, key_hash, scopes, create_time) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT DO NOTHING ",
            "RETURNING ",
            caller_key_columns!()
        ))
        .bind(key.name.as_str())
        .bind(key.key_hash.to_hex())
        .bind(key.scopes.to_string())
        .bind(millis(key.create_time))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("storing a caller key", e))?;
        match created {
            Some(row) => caller_key_from_row(&row),
            None => Err(StoreError::AlreadyExists),
        }
    }

    async fn find_active_caller_key(
        &self,
        key_hash: &KeyHash,
    ) -> Result<Option<CallerKeyRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            caller_key_columns!(),
            " FROM caller_keys WHERE key_hash = ?1 AND revoke_time IS NULL"
        ))
        .bind(key_hash.to_hex())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("reading a caller key", e))?;
        row.as_ref().map(caller_key_from_row).transpose()
    }

    async fn list_caller_keys(&self) -> Result<Vec<CallerKeyRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            caller_key_columns!(),
            " FROM caller_keys ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("reading caller keys", e))?;
        rows.iter().map(caller_key_from_row).collect()
    }

    async fn revoke_caller_key(
        &self,
        name: &KeyName,
        at: DateTime<Utc>,
    ) -> Result<Revocation, StoreError> {
        let revoked = sqlx::query(concat!(
            "UPDATE caller_keys SET revoke_time = ?2 \
             WHERE name = ?1 AND revoke_time IS NULL ",
            "RETURNING ",
            caller_key_columns!()
        ))
        .bind(name.as_str())
        .bind(millis(at))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("revoking a caller key", e))?;
        if let Some(row) = revoked {
            return caller_key_from_row(&row).map(Revocation::Revoked);
        }
        // Keys are never deleted and never un-revoked: a row that is there now was revoked.
        let current = sqlx::query(concat!(
            "SELECT ",
            caller_key_columns!(),
            " FROM caller_keys WHERE name = ?1"
        ))
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("reading a caller key", e))?;
        match current {
            Some(row) => caller_key_from_row(&row).map(Revocation::AlreadyRevoked),
            None => Err(StoreError::NotFound),
        }
    }

    async fn touch_caller_key(&self, name: &KeyName, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE caller_keys SET last_used_time = ?2 \
             WHERE name = ?1 AND (last_used_time IS NULL OR last_used_time < ?2)",
        )
        .bind(name.as_str())
        .bind(millis(at))
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("recording a caller key's use", e))?;
        Ok(())
    }

    async fn start_registration(
        &self,
        registration: &RegistrationRecord,
    ) -> Result<RegistrationRecord, StoreError> {
        let failed = |e| db_error("starting a registration", e);
        // The write comes first, so the transaction holds the write lock before it looks at
        // `users`: an enroll cannot slip in between the check and the write.
        let mut tx = self.pool.begin().await.map_err(failed)?;
        let row = sqlx::query(concat!(
            "INSERT INTO registrations (user_id, state, authy_id, failure, create_time, \
             expire_time, update_time) VALUES (?1, 'pending', NULL, NULL, ?2, ?3, ?2) \
             ON CONFLICT (user_id) DO UPDATE SET state = 'pending', authy_id = NULL, \
             failure = NULL, create_time = excluded.create_time, \
             expire_time = excluded.expire_time, update_time = excluded.update_time \
             RETURNING ",
            registration_columns!()
        ))
        .bind(registration.user_id.as_str())
        .bind(millis(registration.create_time))
        .bind(millis(registration.expire_time))
        .fetch_one(&mut *tx)
        .await
        .map_err(failed)?;
        let enrolled = sqlx::query("SELECT 1 FROM users WHERE user_id = ?1")
            .bind(registration.user_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?;
        if enrolled.is_some() {
            tx.rollback().await.map_err(failed)?;
            return Err(StoreError::AlreadyExists);
        }
        let record = registration_from_row(&row)?;
        tx.commit().await.map_err(failed)?;
        Ok(record)
    }

    async fn get_registration(
        &self,
        user_id: &UserId,
    ) -> Result<Option<RegistrationRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            registration_columns!(),
            " FROM registrations WHERE user_id = ?1"
        ))
        .bind(user_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("reading a registration", e))?;
        row.as_ref().map(registration_from_row).transpose()
    }

    async fn transition_registration(
        &self,
        user_id: &UserId,
        change: &RegistrationChange,
        at: DateTime<Utc>,
    ) -> Result<TransitionOutcome<RegistrationRecord>, StoreError> {
        let failed = |e| db_error("changing a registration's state", e);
        let (state, authy_id, failure) = match change {
            RegistrationChange::Completed(user) => (
                RegistrationState::Completed,
                Some(authy_id_to_sql(user.authy_id)),
                None,
            ),
            RegistrationChange::Failed { status } => {
                (RegistrationState::Failed, None, Some(status.as_str()))
            }
            RegistrationChange::Expired => (RegistrationState::Expired, None, None),
        };
        let expiry_only = matches!(change, RegistrationChange::Expired);
        let mut tx = self.pool.begin().await.map_err(failed)?;
        let updated = sqlx::query(concat!(
            "UPDATE registrations SET state = ?1, authy_id = ?2, failure = ?3, update_time = ?4 \
             WHERE user_id = ?5 AND state = 'pending' AND (?6 = 0 OR expire_time <= ?4) \
             RETURNING ",
            registration_columns!()
        ))
        .bind(state.as_str())
        .bind(authy_id)
        .bind(failure)
        .bind(millis(at))
        .bind(user_id.as_str())
        .bind(i64::from(expiry_only))
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed)?;
        let Some(row) = updated else {
            let select = concat!(
                "SELECT ",
                registration_columns!(),
                " FROM registrations WHERE user_id = ?1"
            );
            return unchanged(tx, select, user_id.as_str(), registration_from_row).await;
        };
        let record = registration_from_row(&row)?;
        if let RegistrationChange::Completed(user) = change {
            sqlx::query(
                "INSERT INTO users (user_id, authy_id, masked_phone, country_code, enroll_time) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(user.user_id.as_str())
            .bind(authy_id_to_sql(user.authy_id))
            .bind(user.masked_phone.as_str())
            .bind(i64::from(user.country_code.get()))
            .bind(millis(user.enroll_time))
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)?;
        Ok(TransitionOutcome::Applied(record))
    }

    async fn remember_callback(
        &self,
        digest: &[u8; 32],
        at: DateTime<Utc>,
        window: Duration,
    ) -> Result<bool, StoreError> {
        let failed = |e| db_error("recording a callback", e);
        let horizon =
            millis(at).saturating_sub(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let mut tx = self.pool.begin().await.map_err(failed)?;
        sqlx::query("DELETE FROM callback_replays WHERE seen_time < ?1")
            .bind(horizon)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        let inserted = sqlx::query(
            "INSERT INTO callback_replays (digest, seen_time) VALUES (?1, ?2) \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(hex)
        .bind(millis(at))
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("pinging the database", e))?;
        Ok(())
    }
}

/// The end of a compare-and-set that did not apply: the row as stored (`select` by `key`, read in
/// the same transaction), `Unchanged`; the transaction is rolled back. No row: `NotFound`.
async fn unchanged<T>(
    mut tx: sqlx::Transaction<'_, sqlx::Sqlite>,
    select: &'static str,
    key: &str,
    parse: fn(&SqliteRow) -> Result<T, StoreError>,
) -> Result<TransitionOutcome<T>, StoreError> {
    let failed = |e| db_error("reading a row after a compare-and-set", e);
    let current = sqlx::query(select)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed)?;
    tx.rollback().await.map_err(failed)?;
    match current {
        Some(row) => parse(&row).map(TransitionOutcome::Unchanged),
        None => Err(StoreError::NotFound),
    }
}

/// Appends queued audit events, a batch per INSERT, until every store handle is gone or the
/// pool is closed (then events still queued fail as unavailable).
///
/// A file database's writer keeps one connection of the pool for itself. SQLite empties a
/// connection's page cache whenever another connection has written, so a writer that took any
/// connection would re-read the audit table's pages from the file for most batches; with its
/// own connection, and nothing else writing on the hot path (a verification writes only its
/// audit event), its pages stay cached. An in-memory database has a single connection, which
/// the writer borrows per batch.
async fn audit_writer(pool: SqlitePool, in_memory: bool, mut queue: mpsc::Receiver<PendingAudit>) {
    let closed = pool.close_event();
    tokio::pin!(closed);
    let mut own: Option<PoolConnection<Sqlite>> = None;
    let mut batch = Vec::with_capacity(AUDIT_BATCH);
    loop {
        tokio::select! {
            biased;
            () = &mut closed => break,
            n = queue.recv_many(&mut batch, AUDIT_BATCH) => if n == 0 { break },
        }
        let acquired = if in_memory || own.is_some() {
            Ok(())
        } else {
            pool.acquire()
                .await
                .map(|conn| own = Some(conn))
                .map_err(|e| db_error("appending audit events", e))
        };
        let outcome = match (acquired, own.as_mut()) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(conn)) => insert_audit_batch(&mut **conn, &batch).await,
            (Ok(()), None) => insert_audit_batch(&pool, &batch).await,
        };
        if outcome.is_err()
            && let Some(mut conn) = own.take()
        {
            // Whatever went wrong, the next batch starts on a fresh connection.
            conn.close_on_drop();
        }
        for (_, done) in batch.drain(..) {
            // The caller may have gone (cancelled); the event is written all the same.
            let _ = done.send(outcome.clone());
        }
    }
    // `own` goes back to the pool here, which closes it if the pool is closing.
}

/// One statement whatever the batch size (so it is prepared once per connection): the events
/// travel as one JSON array, unpacked by `json_each` in array order.
async fn insert_audit_batch<'e>(
    db: impl sqlx::SqliteExecutor<'e>,
    batch: &[PendingAudit],
) -> Result<(), StoreError> {
    let rows: Vec<_> = batch
        .iter()
        .map(|(event, _)| {
            (
                millis(event.at),
                &event.caller,
                event.action.as_str(),
                event.user_id.as_ref().map(UserId::as_str),
                &event.subject,
                &event.outcome,
                &event.detail,
            )
        })
        .collect();
    let rows = serde_json::to_string(&rows)
        .map_err(|e| StoreError::Failed(format!("encoding audit events: {e}")))?;
    sqlx::query(
        // json_extract rather than `->>`: the same for these scalars, and in every SQLite a
        // distribution may link instead of the bundled one (`->>` needs 3.38).
        "INSERT INTO audit_events (at, caller, action, user_id, subject, outcome, detail) \
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
                json_extract(value, '$[2]'), json_extract(value, '$[3]'), \
                json_extract(value, '$[4]'), json_extract(value, '$[5]'), \
                json_extract(value, '$[6]') \
         FROM json_each(?1) ORDER BY key",
    )
    .bind(rows)
    .execute(db)
    .await
    .map_err(|e| db_error("appending audit events", e))?;
    Ok(())
}

fn create_parent_dir(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Unavailable(format!("creating the database directory: {e}"))),
        _ => Ok(()),
    }
}

/// Maps a driver error. Only the driver's own words go into the message (SQLite's messages name
/// tables, columns and constraints, never bound values).
fn db_error(context: &str, e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::ColumnDecode { index, .. } => {
            StoreError::Corrupt(format!("{context}: column {index} does not decode"))
        }
        sqlx::Error::ColumnNotFound(column) => {
            StoreError::Corrupt(format!("{context}: column {column} is missing"))
        }
        sqlx::Error::Decode(_) => {
            StoreError::Corrupt(format!("{context}: a value does not decode"))
        }
        sqlx::Error::Database(db) => {
            let message = format!("{context}: {}", db.message());
            if db.code().as_deref().is_some_and(transient_sqlite_code) {
                StoreError::Unavailable(message)
            } else {
                StoreError::Failed(message)
            }
        }
        // No connection free in time, the pool closing (shutdown), an I/O error, a connection's
        // worker thread gone: a retry may find things better.
        e @ (sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed) => StoreError::Unavailable(format!("{context}: {e}")),
        // What sqlx itself could not do with our statement or values, and anything it may add
        // later: retrying repeats it.
        other => StoreError::Failed(format!("{context}: {other}")),
    }
}

/// Whether an SQLite (extended) result code names a condition that may pass by itself: the
/// database busy or locked by another connection, memory short, an I/O error, a full disk, no
/// file descriptor free to open a file, a WAL recovery or lock another connection holds.
/// Anything else repeats on retry until someone intervenes: constraints, misuse, schema errors,
/// a database opened read-only or moved away, a path that is a directory.
fn transient_sqlite_code(code: &str) -> bool {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const NOMEM: i32 = 7;
    const READONLY_RECOVERY: i32 = 8 | (1 << 8);
    const READONLY_CANTLOCK: i32 = 8 | (2 << 8);
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    /// Plain CANTOPEN (out of file descriptors); its subcodes name a bad path.
    const CANTOPEN: i32 = 14;
    const PROTOCOL: i32 = 15;
    code.parse::<i32>().is_ok_and(|extended| {
        matches!(
            extended & 0xff,
            BUSY | LOCKED | NOMEM | IOERR | FULL | PROTOCOL
        ) || matches!(extended, READONLY_RECOVERY | READONLY_CANTLOCK | CANTOPEN)
    })
}

fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError as M;
    match e {
        // The database was written by a different build of authyd: not something a retry fixes.
        M::VersionMissing(_) | M::VersionMismatch(_) | M::Dirty(_) => {
            StoreError::Corrupt(format!("database schema: {e}"))
        }
        M::Execute(inner) | M::ExecuteMigration(inner, _) => {
            db_error("migrating the database", inner)
        }
        other => StoreError::Unavailable(format!("migrating the database: {other}")),
    }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Authy ids are u64 in the domain and INTEGER (i64) in SQL: the bits are kept as they are, so
/// every id round-trips (ids beyond i64::MAX, which Authy does not hand out, read as negative in
/// SQL).
fn authy_id_to_sql(id: AuthyId) -> i64 {
    i64::from_ne_bytes(id.get().to_ne_bytes())
}

fn authy_id_from_sql(raw: i64) -> AuthyId {
    AuthyId::new(u64::from_ne_bytes(raw.to_ne_bytes()))
}

/// Reads the columns of one row, naming the row (by id only) when a value is unreadable.
struct Fields<'r> {
    row: &'r SqliteRow,
    what: String,
}

impl<'r> Fields<'r> {
    fn corrupt(&self, column: &str, why: &str) -> StoreError {
        StoreError::Corrupt(format!("{}: {column} {why}", self.what))
    }

    fn get<T>(&self, column: &str) -> Result<T, StoreError>
    where
        T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        self.row
            .try_get(column)
            .map_err(|_| self.corrupt(column, "does not decode"))
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        let ms: i64 = self.get(column)?;
        DateTime::from_timestamp_millis(ms).ok_or_else(|| self.corrupt(column, "is out of range"))
    }

    fn user_id(&self, column: &str) -> Result<UserId, StoreError> {
        UserId::parse(&self.get::<String>(column)?)
            .map_err(|_| self.corrupt(column, "is not a valid user id"))
    }

    fn state(&self, column: &str) -> Result<ApprovalStatus, StoreError> {
        ApprovalStatus::parse(&self.get::<String>(column)?)
            .ok_or_else(|| self.corrupt(column, "is not an approval state"))
    }
}

fn user_from_row(row: &SqliteRow) -> Result<UserRecord, StoreError> {
    let raw_id: String = row
        .try_get("user_id")
        .map_err(|_| StoreError::Corrupt("users row: user_id does not decode".into()))?;
    let user_id = UserId::parse(&raw_id)
        .map_err(|_| StoreError::Corrupt("users row: user_id is not a valid user id".into()))?;
    let f = Fields {
        row,
        what: format!("user {user_id}"),
    };
    Ok(UserRecord {
        authy_id: authy_id_from_sql(f.get("authy_id")?),
        masked_phone: f.get("masked_phone")?,
        country_code: CountryCode::new(f.get("country_code")?)
            .map_err(|_| f.corrupt("country_code", "is not a calling code"))?,
        enroll_time: f.time("enroll_time")?,
        user_id,
    })
}

fn approval_id_of(row: &SqliteRow, table: &str) -> Result<ApprovalId, StoreError> {
    let raw: String = row
        .try_get("approval_id")
        .map_err(|_| StoreError::Corrupt(format!("{table} row: approval_id does not decode")))?;
    ApprovalId::parse(&raw)
        .map_err(|_| StoreError::Corrupt(format!("{table} row: approval_id is not an approval id")))
}

fn approval_from_row(row: &SqliteRow) -> Result<ApprovalRecord, StoreError> {
    let approval_id = approval_id_of(row, "approvals")?;
    let f = Fields {
        row,
        what: format!("approval {approval_id}"),
    };
    let provider_ref = ApprovalUuid::parse(&f.get::<String>("provider_ref")?)
        .map_err(|_| f.corrupt("provider_ref", "is not a provider approval id"))?;
    let request_id = f
        .get::<Option<String>>("request_id")?
        .map(|raw| RequestId::parse(&raw))
        .transpose()
        .map_err(|_| f.corrupt("request_id", "is not a request id"))?;
    let details: BTreeMap<String, String> = serde_json::from_str(&f.get::<String>("details")?)
        .map_err(|_| f.corrupt("details", "is not a JSON object of strings"))?;
    Ok(ApprovalRecord {
        user_id: f.user_id("user_id")?,
        authy_id: authy_id_from_sql(f.get("authy_id")?),
        provider_ref,
        request_id,
        message: f.get("message")?,
        details,
        state: f.state("state")?,
        create_time: f.time("create_time")?,
        expire_time: f.time("expire_time")?,
        update_time: f.time("update_time")?,
        approval_id,
    })
}

fn transition_from_row(row: &SqliteRow) -> Result<Transition, StoreError> {
    let approval_id = approval_id_of(row, "approval_transitions")?;
    let f = Fields {
        row,
        what: format!("transition of approval {approval_id}"),
    };
    Ok(Transition {
        from: f.state("from_state")?,
        to: f.state("to_state")?,
        source: TransitionSource::parse(&f.get::<String>("source")?)
            .ok_or_else(|| f.corrupt("source", "is not a transition source"))?,
        at: f.time("at")?,
        approval_id,
    })
}

fn audit_from_row(row: &SqliteRow) -> Result<AuditEvent, StoreError> {
    let seq: i64 = row
        .try_get("seq")
        .map_err(|_| StoreError::Corrupt("audit_events row: seq does not decode".into()))?;
    let f = Fields {
        row,
        what: format!("audit event {seq}"),
    };
    Ok(AuditEvent {
        at: f.time("at")?,
        caller: f.get("caller")?,
        action: super::AuditAction::parse(&f.get::<String>("action")?)
            .ok_or_else(|| f.corrupt("action", "is not an audit action"))?,
        user_id: f
            .get::<Option<String>>("user_id")?
            .map(|raw| UserId::parse(&raw))
            .transpose()
            .map_err(|_| f.corrupt("user_id", "is not a valid user id"))?,
        subject: f.get("subject")?,
        outcome: f.get("outcome")?,
        detail: f.get("detail")?,
    })
}

fn registration_from_row(row: &SqliteRow) -> Result<RegistrationRecord, StoreError> {
    let raw: String = row
        .try_get("user_id")
        .map_err(|_| StoreError::Corrupt("registrations row: user_id does not decode".into()))?;
    let user_id = UserId::parse(&raw).map_err(|_| {
        StoreError::Corrupt("registrations row: user_id is not a valid user id".into())
    })?;
    let f = Fields {
        row,
        what: format!("registration of {user_id}"),
    };
    Ok(RegistrationRecord {
        state: RegistrationState::parse(&f.get::<String>("state")?)
            .ok_or_else(|| f.corrupt("state", "is not a registration state"))?,
        authy_id: f.get::<Option<i64>>("authy_id")?.map(authy_id_from_sql),
        failure: f.get("failure")?,
        create_time: f.time("create_time")?,
        expire_time: f.time("expire_time")?,
        update_time: f.time("update_time")?,
        user_id,
    })
}

fn caller_key_from_row(row: &SqliteRow) -> Result<CallerKeyRecord, StoreError> {
    let raw: String = row
        .try_get("name")
        .map_err(|_| StoreError::Corrupt("caller_keys row: name does not decode".into()))?;
    let name = KeyName::parse(&raw)
        .map_err(|_| StoreError::Corrupt("caller_keys row: name is not a key name".into()))?;
    let f = Fields {
        row,
        what: format!("caller key {name}"),
    };
    let optional_time = |column: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        f.get::<Option<i64>>(column)?
            .map(|ms| {
                DateTime::from_timestamp_millis(ms)
                    .ok_or_else(|| f.corrupt(column, "is out of range"))
            })
            .transpose()
    };
    Ok(CallerKeyRecord {
        scopes: Scopes::parse(&f.get::<String>("scopes")?)
            .map_err(|_| f.corrupt("scopes", "is not a list of scopes"))?,
        create_time: f.time("create_time")?,
        revoke_time: optional_time("revoke_time")?,
        last_used_time: optional_time("last_used_time")?,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authy_ids_round_trip_through_i64() {
        for id in [0, 1, 1_234_567, i64::MAX as u64, u64::MAX] {
            assert_eq!(
                authy_id_from_sql(authy_id_to_sql(AuthyId::new(id))),
                AuthyId::new(id)
            );
        }
        assert_eq!(authy_id_to_sql(AuthyId::new(42)), 42);
    }

    #[test]
    fn only_conditions_that_may_pass_are_transient() {
        // BUSY, BUSY_RECOVERY (5 | 1 << 8), LOCKED, IOERR_WRITE (10 | 3 << 8), FULL, CANTOPEN,
        // READONLY_RECOVERY.
        for code in ["5", "261", "6", "778", "13", "14", "264"] {
            assert!(transient_sqlite_code(code), "{code}");
        }
        // CONSTRAINT, CONSTRAINT_UNIQUE, ERROR, MISUSE, READONLY (opened read-only),
        // READONLY_DBMOVED, CANTOPEN_ISDIR, not a number.
        for code in ["19", "2067", "1", "21", "8", "1032", "526", "", "busy"] {
            assert!(!transient_sqlite_code(code), "{code}");
        }
    }

    #[tokio::test]
    async fn a_refused_statement_is_a_failure_not_unavailability() {
        // A trigger's RAISE(ABORT) (here: the audit trail refusing an UPDATE) repeats on retry.
        let store = SqliteStore::open_url("sqlite::memory:").await.unwrap();
        store.append_audit(&event(1, None)).await.unwrap();
        let e = sqlx::query("UPDATE audit_events SET outcome = 'x'")
            .execute(&store.pool)
            .await
            .unwrap_err();
        assert!(
            matches!(db_error("testing", e), StoreError::Failed(m) if m.contains("append-only"))
        );
    }

    /// A directory removed on drop.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("authyd-sqlite-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn pragma(store: &SqliteStore, name: &'static str) -> String {
        let row = sqlx::query(name).fetch_one(&store.pool).await.unwrap();
        match row.try_get::<String, _>(0) {
            Ok(text) => text,
            Err(_) => row.try_get::<i64, _>(0).unwrap().to_string(),
        }
    }

    #[tokio::test]
    async fn file_database_settings() {
        let dir = TempDir::new();
        let path = dir.0.join("a").join("b").join("authyd.db");
        let store = SqliteStore::open(&path).await.unwrap();
        assert!(path.exists());
        assert_eq!(pragma(&store, "PRAGMA journal_mode").await, "wal");
        assert_eq!(pragma(&store, "PRAGMA foreign_keys").await, "1");
        assert_eq!(pragma(&store, "PRAGMA synchronous").await, "1"); // NORMAL
        assert_eq!(pragma(&store, "PRAGMA busy_timeout").await, "5000");
        store.close().await;
    }

    #[tokio::test]
    async fn history_tables_are_append_only() {
        let store = SqliteStore::open_url("sqlite::memory:").await.unwrap();
        let id = ApprovalId::new();
        let orphan_transition = "INSERT INTO approval_transitions \
             (approval_id, from_state, to_state, source, at) \
             VALUES (?1, 'pending', 'approved', 'poll', 0)";
        // A transition of an approval that does not exist violates the foreign key.
        let orphan = sqlx::query(orphan_transition)
            .bind(id.as_str())
            .execute(&store.pool)
            .await;
        assert!(orphan.is_err());

        for sql in [
            "INSERT INTO approvals (approval_id, user_id, authy_id, provider_ref, message, \
                 details, state, create_time, expire_time, update_time) \
             VALUES (?1, 'u', 1, 'ref', 'm', '{}', 'pending', 0, 0, 0)",
            orphan_transition,
            "INSERT INTO audit_events (at, caller, action, outcome) \
             VALUES (0, 'c', 'enroll', 'ok')",
        ] {
            sqlx::query(sql)
                .bind(id.as_str())
                .execute(&store.pool)
                .await
                .unwrap();
        }
        for sql in [
            "UPDATE audit_events SET outcome = 'x'",
            "DELETE FROM audit_events",
            "UPDATE approval_transitions SET source = 'x'",
            "DELETE FROM approval_transitions",
        ] {
            let refused = sqlx::query(sql).execute(&store.pool).await;
            assert!(refused.is_err(), "{sql}");
        }
    }

    #[tokio::test]
    async fn caller_keys_are_never_deleted_or_unrevoked_and_hold_no_plaintext() {
        let store = SqliteStore::open_url("sqlite::memory:").await.unwrap();
        let key = crate::secret::CallerKey::generate();
        store
            .create_caller_key(&NewCallerKey {
                name: KeyName::parse("svc").unwrap(),
                key_hash: key.hash(),
                scopes: Scopes::parse("verify").unwrap(),
                create_time: Utc::now(),
            })
            .await
            .unwrap();
        let row = sqlx::query("SELECT * FROM caller_keys")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let stored_hash: String = row.try_get("key_hash").unwrap();
        assert_eq!(stored_hash, key.hash().to_hex());
        let dump: String =
            sqlx::query_scalar("SELECT group_concat(name || scopes || key_hash) FROM caller_keys")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert!(!dump.contains(&key.expose()[7..]), "plaintext stored");

        store
            .revoke_caller_key(&KeyName::parse("svc").unwrap(), Utc::now())
            .await
            .unwrap();
        for sql in [
            "UPDATE caller_keys SET revoke_time = NULL",
            "DELETE FROM caller_keys",
        ] {
            let refused = sqlx::query(sql).execute(&store.pool).await;
            assert!(refused.is_err(), "{sql}");
        }
    }

    #[tokio::test]
    async fn other_schemes_are_refused_without_echoing_the_url() {
        let err = SqliteStore::open_url("postgres://u:secret@127.0.0.1/db")
            .await
            .unwrap_err();
        assert!(matches!(&err, StoreError::Unavailable(m) if !m.contains("secret")));
    }

    #[tokio::test]
    async fn audit_appends_on_a_closed_store_fail_instead_of_hanging() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.0.join("a.db")).await.unwrap();
        store.close().await;
        let event = AuditEvent {
            at: Utc::now(),
            caller: "c".into(),
            action: super::super::AuditAction::Enroll,
            user_id: None,
            subject: None,
            outcome: "ok".into(),
            detail: None,
        };
        let appended = tokio::time::timeout(Duration::from_secs(5), store.append_audit(&event))
            .await
            .expect("answers instead of hanging");
        assert!(
            matches!(appended, Err(StoreError::Unavailable(_))),
            "{appended:?}"
        );
    }

    fn event(i: usize, detail: Option<String>) -> AuditEvent {
        AuditEvent {
            at: DateTime::from_timestamp_millis(1_700_000_000_000 + i as i64).unwrap(),
            caller: format!("caller \"{i}\""),
            action: super::super::AuditAction::VerifyToken,
            user_id: (!i.is_multiple_of(3)).then(|| UserId::parse(&format!("user-{i}")).unwrap()),
            subject: i.is_multiple_of(2).then(|| format!("s\\{i}")),
            outcome: "valid".into(),
            detail,
        }
    }

    #[tokio::test]
    async fn batched_audit_events_are_stored_exactly() {
        // Appends from many tasks at once are written as multi-event batches (one JSON array
        // per statement): every text survives the trip (quotes, backslashes, control
        // characters, non-ASCII, NULLs).
        for url in [None, Some("sqlite::memory:")] {
            let dir = TempDir::new();
            let store = match url {
                None => SqliteStore::open(&dir.0.join("a.db")).await.unwrap(),
                Some(url) => SqliteStore::open_url(url).await.unwrap(),
            };
            let tricky = [
                "",
                "\"quoted\" \\ back\\slash",
                "tab\tnew\nline\u{1}",
                "ünï 🔑 コード",
            ];
            let tasks: Vec<_> = (0..200)
                .map(|i: usize| {
                    let store = store.clone();
                    let detail = (!i.is_multiple_of(5))
                        .then(|| format!("{} #{i}", tricky[i % tricky.len()]));
                    tokio::spawn(async move {
                        let e = event(i, detail);
                        store.append_audit(&e).await.unwrap();
                        e
                    })
                })
                .collect();
            let mut sent = Vec::new();
            for task in tasks {
                sent.push(task.await.unwrap());
            }
            let stored = store
                .audit_events(AuditQuery {
                    user_id: None,
                    limit: AuditQuery::MAX_LIMIT,
                })
                .await
                .unwrap();
            assert_eq!(stored.len(), sent.len());
            for e in &sent {
                assert!(stored.contains(e), "{e:?} not stored as sent");
            }
            store.close().await;
        }
    }

    #[tokio::test]
    async fn a_batch_is_appended_in_its_order() {
        let store = SqliteStore::open_url("sqlite::memory:").await.unwrap();
        let batch: Vec<PendingAudit> = (0..50)
            .map(|i| (event(i, Some(format!("#{i}"))), oneshot::channel().0))
            .collect();
        insert_audit_batch(&store.pool, &batch).await.unwrap();
        let details: Vec<String> =
            sqlx::query_scalar("SELECT detail FROM audit_events ORDER BY seq")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let expected: Vec<String> = (0..50).map(|i| format!("#{i}")).collect();
        assert_eq!(details, expected);
    }

    #[tokio::test]
    async fn closing_completes_while_the_audit_writer_holds_its_connection() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.0.join("a.db")).await.unwrap();
        // The first append makes the writer take its own connection.
        store.append_audit(&event(1, None)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), store.close())
            .await
            .expect("close does not wait forever for the writer's connection");
        let late =
            tokio::time::timeout(Duration::from_secs(5), store.append_audit(&event(2, None)))
                .await
                .expect("answers instead of hanging");
        assert!(matches!(late, Err(StoreError::Unavailable(_))), "{late:?}");
    }

    #[tokio::test]
    async fn in_memory_database_is_one_database() {
        let store = SqliteStore::open_url("sqlite::memory:").await;
        let Ok(store) = store else {
            panic!("open failed: {store:?}");
        };
        let user = UserRecord {
            user_id: UserId::parse("mem").unwrap(),
            authy_id: AuthyId::new(7),
            masked_phone: "XXX-XXX-XX12".into(),
            country_code: CountryCode::new(1).unwrap(),
            enroll_time: Utc::now(),
        };
        assert!(store.insert_user(&user).await.unwrap().is_created());
        // Several reads at once would each take a connection of a multi-connection pool.
        let (a, b) = tokio::join!(store.get_user(&user.user_id), store.get_user(&user.user_id));
        assert!(a.unwrap().is_some() && b.unwrap().is_some());
        store.ping().await.unwrap();
    }
}
