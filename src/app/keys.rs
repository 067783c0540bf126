//! Caller credentials: creating, listing and revoking caller keys (`authyd keys`), and
//! authenticating the key a gRPC caller presents (`grpc::auth`).
//!
//! A key is generated here ([`CallerKey::generate`]), shown once, and stored only as its
//! SHA-256. A presented key is hashed and looked up by hash, so no comparison ever runs on key
//! material. Successful lookups are cached for [`KEY_CACHE_TTL`]: a key revoked by `authyd keys
//! revoke` (another process) stops working on a running server within that time. Unknown keys
//! are never cached (a flood of made-up keys costs one indexed read each, and no memory).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::app::twofactor::Caller;
use crate::domain::{KeyName, Scopes};
use crate::error::Error;
use crate::secret::{CallerKey, KeyHash};
use crate::store::{
    AuditAction, AuditEvent, CallerKeyRecord, NewCallerKey, Revocation, Store, StoreError,
};

/// How long a successful key lookup is reused: the longest a revoked key keeps working.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);
/// How often a key's `last_used_time` is written at most (per key and server).
pub const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60);
/// Entries kept before expired ones are swept out of the cache. Only valid keys are cached, so
/// the cache holds at most one entry per active key anyway.
const CACHE_SWEEP_AT: usize = 1024;
/// Longest header value looked up; a generated key is [`CallerKey::LEN`] characters.
const MAX_PRESENTED_LEN: usize = 256;

/// A key just created: shown once, then dropped.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: CallerKey,
    pub record: CallerKeyRecord,
}

/// Why `authyd keys create|revoke|list` failed. Messages name keys, never key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyAdminError {
    #[error(
        "a key named `{0}` already exists (names are never reused, even after revocation); \
         choose another name"
    )]
    NameTaken(KeyName),
    #[error("no key named `{0}`")]
    NotFound(KeyName),
    #[error("database: {0}")]
    Store(StoreError),
}

/// The caller behind an accepted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub name: KeyName,
    pub scopes: Scopes,
}

impl Authenticated {
    /// The caller as the use-cases and the audit trail know it.
    pub fn caller(&self) -> Caller {
        Caller {
            name: self.name.to_string(),
        }
    }
}

#[derive(Clone)]
struct Cached {
    fetched: Instant,
    key: Authenticated,
}

/// Caller keys over a store. Cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct CallerKeys<S: Store> {
    store: S,
    cache: Arc<Mutex<HashMap<KeyHash, Cached>>>,
    /// When each key's use was last written (by this process).
    touched: Arc<Mutex<HashMap<KeyName, Instant>>>,
}

impl<S: Store> CallerKeys<S> {
    pub fn new(store: S) -> Self {
        Self {
            store,
            cache: Arc::default(),
            touched: Arc::default(),
        }
    }

    /// Generates and stores a new key. The returned key is the only copy of the plaintext.
    pub async fn create(
        &self,
        actor: &Caller,
        name: KeyName,
        scopes: Scopes,
    ) -> Result<CreatedKey, KeyAdminError> {
        let key = CallerKey::generate();
        let new = NewCallerKey {
            name: name.clone(),
            key_hash: key.hash(),
            scopes: scopes.clone(),
            create_time: Utc::now(),
        };
        let result = self.store.create_caller_key(&new).await;
        let (outcome, result) = match result {
            Ok(record) => ("ok", Ok(CreatedKey { key, record })),
            Err(StoreError::AlreadyExists) => (
                "already_exists",
                Err(KeyAdminError::NameTaken(name.clone())),
            ),
            Err(e) => ("internal", Err(KeyAdminError::Store(e))),
        };
        self.audit(
            actor,
            AuditAction::CreateKey,
            &name,
            outcome,
            Some(format!("scopes {scopes}")),
        )
        .await;
        result
    }

    /// Every key, revoked ones included, by name.
    pub async fn list(&self) -> Result<Vec<CallerKeyRecord>, KeyAdminError> {
        self.store
            .list_caller_keys()
            .await
            .map_err(KeyAdminError::Store)
    }

    /// Revokes a key (a no-op for a revoked one). Servers stop accepting it within
    /// [`KEY_CACHE_TTL`].
    pub async fn revoke(
        &self,
        actor: &Caller,
        name: &KeyName,
    ) -> Result<Revocation, KeyAdminError> {
        let result = self.store.revoke_caller_key(name, Utc::now()).await;
        let (outcome, result) = match result {
            Ok(r @ Revocation::Revoked(_)) => ("ok", Ok(r)),
            Ok(r @ Revocation::AlreadyRevoked(_)) => ("already_revoked", Ok(r)),
            Err(StoreError::NotFound) => ("not_found", Err(KeyAdminError::NotFound(name.clone()))),
            Err(e) => ("internal", Err(KeyAdminError::Store(e))),
        };
        self.audit(actor, AuditAction::RevokeKey, name, outcome, None)
            .await;
        // This process's cache forgets the key at once; other processes within the TTL.
        self.cache.lock().retain(|_, c| &c.key.name != name);
        result
    }

    /// The caller behind a presented key: [`Error::Unauthenticated`] for a malformed, unknown
    /// or revoked key, [`Error::StoreUnavailable`] or [`Error::Internal`] when the store cannot
    /// answer.
    pub async fn authenticate(&self, presented: &str) -> Result<Authenticated, Error> {
        if presented.is_empty() || presented.len() > MAX_PRESENTED_LEN {
            return Err(Error::Unauthenticated);
        }
        let hash = KeyHash::of(presented);
        let now = Instant::now();
        if let Some(hit) = self.cache.lock().get(&hash)
            && now.duration_since(hit.fetched) < KEY_CACHE_TTL
        {
            return Ok(hit.key.clone());
        }
        let Some(record) = self.store.find_active_caller_key(&hash).await? else {
            self.cache.lock().remove(&hash);
            return Err(Error::Unauthenticated);
        };
        let key = Authenticated {
            name: record.name.clone(),
            scopes: record.scopes.clone(),
        };
        {
            let mut cache = self.cache.lock();
            if cache.len() >= CACHE_SWEEP_AT {
                cache.retain(|_, c| now.duration_since(c.fetched) < KEY_CACHE_TTL);
            }
            cache.insert(
                hash,
                Cached {
                    fetched: now,
                    key: key.clone(),
                },
            );
        }
        self.record_use(&record.name, now);
        Ok(key)
    }

    /// Writes `last_used_time` in the background, at most once per
    /// [`LAST_USED_RESOLUTION`] per key: the request does not wait for a write.
    fn record_use(&self, name: &KeyName, now: Instant) {
        {
            let mut touched = self.touched.lock();
            if touched
                .get(name)
                .is_some_and(|t| now.duration_since(*t) < LAST_USED_RESOLUTION)
            {
                return;
            }
            touched.insert(name.clone(), now);
        }
        let store = self.store.clone();
        let name = name.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_caller_key(&name, Utc::now()).await {
                tracing::debug!(key = %name, error = %e, "could not record a caller key's use");
            }
        });
    }

    async fn audit(
        &self,
        actor: &Caller,
        action: AuditAction,
        name: &KeyName,
        outcome: &str,
        detail: Option<String>,
    ) {
        let event = AuditEvent {
            at: Utc::now(),
            caller: actor.name.clone(),
            action,
            user_id: None,
            subject: Some(name.to_string()),
            outcome: outcome.to_owned(),
            detail,
        };
        if let Err(e) = self.store.append_audit(&event).await {
            metrics::counter!("authyd_audit_failures_total").increment(1);
            tracing::error!(action = action.as_str(), error = %e, "audit event not recorded");
        }
    }
}

/// The actor the audit trail records for `authyd keys` run from a shell: `cli:$USER`, or `cli`.
pub fn cli_actor() -> Caller {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty() && KeyName::parse(u).is_ok());
    Caller {
        name: match user {
            Some(user) => format!("cli:{user}"),
            None => "cli".to_owned(),
        },
    }
}

/// One line per key for `authyd keys list`: name, scopes, status, create and last-use times.
pub fn format_list(keys: &[CallerKeyRecord]) -> String {
    let time = |t: Option<DateTime<Utc>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
    };
    let rows: Vec<[String; 5]> = keys
        .iter()
        .map(|k| {
            [
                k.name.to_string(),
                k.scopes.to_string(),
                match k.revoke_time {
                    None => "active".to_owned(),
                    Some(t) => format!("revoked {}", time(Some(t))),
                },
                time(Some(k.create_time)),
                time(k.last_used_time),
            ]
        })
        .collect();
    let header = ["NAME", "SCOPES", "STATUS", "CREATED", "LAST USED"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scope;
    use crate::store::{AuditQuery, SqliteStore};

    async fn keys() -> CallerKeys<SqliteStore> {
        CallerKeys::new(SqliteStore::open_url("sqlite::memory:").await.unwrap())
    }

    fn name(raw: &str) -> KeyName {
        KeyName::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn create_authenticate_revoke() {
        let keys = keys().await;
        let actor = Caller {
            name: "cli:ops".into(),
        };
        let created = keys
            .create(&actor, name("billing"), Scopes::parse("verify").unwrap())
            .await
            .unwrap();
        let who = keys.authenticate(created.key.expose()).await.unwrap();
        assert_eq!(who.name, name("billing"));
        assert!(who.scopes.grants(Scope::Verify));
        assert_eq!(who.caller().name, "billing");

        for bad in ["", "authyd_nope", &"x".repeat(10_000)] {
            assert_eq!(keys.authenticate(bad).await, Err(Error::Unauthenticated));
        }

        let again = keys
            .create(&actor, name("billing"), Scopes::parse("admin").unwrap())
            .await;
        assert!(matches!(again, Err(KeyAdminError::NameTaken(_))));

        assert!(matches!(
            keys.revoke(&actor, &name("billing")).await,
            Ok(Revocation::Revoked(_))
        ));
        // Revoked in this process: the cache forgets it at once.
        assert_eq!(
            keys.authenticate(created.key.expose()).await,
            Err(Error::Unauthenticated)
        );
        assert!(matches!(
            keys.revoke(&actor, &name("billing")).await,
            Ok(Revocation::AlreadyRevoked(_))
        ));
        assert!(matches!(
            keys.revoke(&actor, &name("nobody")).await,
            Err(KeyAdminError::NotFound(_))
        ));

        let trail = keys
            .store
            .audit_events(AuditQuery {
                user_id: None,
                limit: 10,
            })
            .await
            .unwrap();
        let seen: Vec<(&str, &str, Option<&str>)> = trail
            .iter()
            .rev()
            .map(|e| (e.action.as_str(), e.outcome.as_str(), e.subject.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("create_key", "ok", Some("billing")),
                ("create_key", "already_exists", Some("billing")),
                ("revoke_key", "ok", Some("billing")),
                ("revoke_key", "already_revoked", Some("billing")),
                ("revoke_key", "not_found", Some("nobody")),
            ]
        );
        assert!(trail.iter().all(|e| e.caller == "cli:ops"));
        let key = created.key.expose();
        assert!(
            trail
                .iter()
                .all(|e| !format!("{e:?}").contains(&key[10..30]))
        );
    }

    #[tokio::test]
    async fn revocation_elsewhere_is_seen_within_the_ttl() {
        let keys = keys().await;
        let created = keys
            .create(&cli_actor(), name("svc"), Scopes::parse("admin").unwrap())
            .await
            .unwrap();
        keys.authenticate(created.key.expose()).await.unwrap();
        // Another process revokes it: this one's cache does not know.
        keys.store
            .revoke_caller_key(&name("svc"), Utc::now())
            .await
            .unwrap();
        let started = Instant::now();
        while keys.authenticate(created.key.expose()).await.is_ok() {
            assert!(started.elapsed() < KEY_CACHE_TTL + Duration::from_secs(1));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn use_is_recorded() {
        let keys = keys().await;
        let created = keys
            .create(&cli_actor(), name("svc"), Scopes::parse("enroll").unwrap())
            .await
            .unwrap();
        assert_eq!(created.record.last_used_time, None);
        keys.authenticate(created.key.expose()).await.unwrap();
        let started = Instant::now();
        loop {
            let listed = keys.list().await.unwrap();
            if listed[0].last_used_time.is_some() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "never recorded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[test]
    fn list_is_a_table() {
        let t = DateTime::from_timestamp_millis(1_760_000_000_000).unwrap();
        let rows = [
            CallerKeyRecord {
                name: name("a"),
                scopes: Scopes::parse("enroll,verify").unwrap(),
                create_time: t,
                revoke_time: None,
                last_used_time: None,
            },
            CallerKeyRecord {
                name: name("longer-name"),
                scopes: Scopes::parse("admin").unwrap(),
                create_time: t,
                revoke_time: Some(t),
                last_used_time: Some(t),
            },
        ];
        let out = format_list(&rows);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("NAME         SCOPES"), "{out}");
        assert!(
            lines[1].starts_with("a            enroll,verify  active"),
            "{out}"
        );
        assert!(lines[2].contains("revoked 2025-10-09T08:53:20Z"), "{out}");
        assert_eq!(format_list(&[]).lines().count(), 1);
    }
}
