//! The contract of `authyd::store::Store`, written once and run against every implementation.
//!
//! Each check is an async function generic over a [`Fixture`] (a fresh, empty database plus the
//! few backend-specific powers a contract test needs: restart, and writing a bad value behind the
//! store's back). `store_contract!` instantiates every check for one backend; a new backend
//! implements `Fixture` and adds one `store_contract!` line at the bottom.

use std::collections::BTreeMap;
use std::path::PathBuf;

use authyd::domain::{
    ApprovalId, ApprovalStatus, ApprovalUuid, AuthyId, CountryCode, KeyName, RegistrationState,
    RequestId, Scope, Scopes, UserId,
};
use authyd::secret::{CallerKey, KeyHash};
use authyd::store::{
    ApprovalRecord, AuditAction, AuditEvent, AuditQuery, CallerKeyRecord, Inserted, NewCallerKey,
    RegistrationChange, RegistrationRecord, Revocation, SqliteStore, Store, StoreError, Transition,
    TransitionOutcome, TransitionSource, UserRecord,
};
use chrono::{DateTime, Duration, Utc};

// ---------------------------------------------------------------------------------------------
// Backends

/// A way to damage a stored approval that the store's own API cannot produce.
#[derive(Debug, Clone, Copy)]
enum Corruption {
    /// `state` holds a word that is not an approval state.
    State,
    /// `details` is not a JSON object of strings.
    Details,
}

/// What the contract needs of a backend besides the `Store` itself.
trait Fixture: Sized {
    type S: Store;
    /// A store on a fresh, empty database.
    async fn new() -> Self;
    fn store(&self) -> &Self::S;
    /// Closes the store and opens a new one on the same database (a process restart).
    async fn restart(&mut self);
    /// Writes a bad value into a stored approval, bypassing the store. The value written is
    /// [`BAD_VALUE`]-based so that tests can check it is not echoed in errors.
    async fn corrupt_approval(&self, id: &ApprovalId, how: Corruption);
}

const BAD_VALUE: &str = "bogus-value-xyzzy";

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("authyd-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct SqliteFixture {
    store: SqliteStore,
    path: PathBuf,
    _dir: TempDir,
}

impl Fixture for SqliteFixture {
    type S = SqliteStore;

    async fn new() -> Self {
        let dir = TempDir::new();
        // A directory that does not exist yet: `open` creates it.
        let path = dir.0.join("data").join("authyd.db");
        let store = SqliteStore::open(&path).await.expect("open sqlite store");
        Self {
            store,
            path,
            _dir: dir,
        }
    }

    fn store(&self) -> &SqliteStore {
        &self.store
    }

    async fn restart(&mut self) {
        self.store.close().await;
        // Reopen through the URL form, as `--database-url` does.
        let url = format!("sqlite://{}", self.path.display());
        self.store = SqliteStore::open_url(&url)
            .await
            .expect("reopen sqlite store");
    }

    async fn corrupt_approval(&self, id: &ApprovalId, how: Corruption) {
        use sqlx::Connection;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
        let options = SqliteConnectOptions::new().filename(&self.path);
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .expect("raw connection");
        // The schema CHECKs the state; a damaged file or a hand edit need not respect that.
        sqlx::query("PRAGMA ignore_check_constraints = ON")
            .execute(&mut conn)
            .await
            .expect("pragma");
        let sql = match how {
            Corruption::State => "UPDATE approvals SET state = ?2 WHERE approval_id = ?1",
            Corruption::Details => "UPDATE approvals SET details = ?2 WHERE approval_id = ?1",
        };
        let value = match how {
            Corruption::State => BAD_VALUE.to_owned(),
            Corruption::Details => format!("{{\"{BAD_VALUE}\": 1"),
        };
        let done = sqlx::query(sql)
            .bind(id.as_str())
            .bind(value)
            .execute(&mut conn)
            .await
            .expect("corrupting update");
        assert_eq!(done.rows_affected(), 1);
        conn.close().await.expect("close raw connection");
    }
}

// ---------------------------------------------------------------------------------------------
// Data helpers

/// A time with whole milliseconds (what the store keeps).
fn t(offset_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_760_000_000_000 + offset_ms).expect("valid time")
}

fn uid(raw: &str) -> UserId {
    UserId::parse(raw).expect("user id")
}

fn rid(raw: &str) -> RequestId {
    RequestId::parse(raw).expect("request id")
}

fn user(id: &str, authy_id: u64) -> UserRecord {
    UserRecord {
        user_id: uid(id),
        authy_id: AuthyId::new(authy_id),
        masked_phone: "XXX-XXX-XX12".into(),
        country_code: CountryCode::new(57).expect("country code"),
        enroll_time: t(0),
    }
}

fn provider_ref() -> ApprovalUuid {
    ApprovalUuid::parse(&uuid::Uuid::new_v4().to_string()).expect("provider ref")
}

fn approval(user_id: &str, request_id: Option<&str>) -> ApprovalRecord {
    ApprovalRecord {
        approval_id: ApprovalId::new(),
        user_id: uid(user_id),
        authy_id: AuthyId::new(1001),
        provider_ref: provider_ref(),
        request_id: request_id.map(rid),
        message: "Log in to Example?".into(),
        details: BTreeMap::from([
            ("ip".to_owned(), "10.0.0.1".to_owned()),
            ("lieu".to_owned(), "Zürich ✓ \"quoted\"".to_owned()),
        ]),
        state: ApprovalStatus::Pending,
        create_time: t(0),
        expire_time: t(120_000),
        update_time: t(0),
    }
}

fn audit(at: DateTime<Utc>, action: AuditAction, user_id: Option<&str>) -> AuditEvent {
    AuditEvent {
        at,
        caller: "svc-billing".into(),
        action,
        user_id: user_id.map(uid),
        subject: None,
        outcome: "ok".into(),
        detail: None,
    }
}

fn created<T: std::fmt::Debug>(inserted: Inserted<T>) -> T {
    match inserted {
        Inserted::Created(t) => t,
        other => panic!("expected Created, got {other:?}"),
    }
}

fn existing<T: std::fmt::Debug>(inserted: Inserted<T>) -> T {
    match inserted {
        Inserted::Existing(t) => t,
        other => panic!("expected Existing, got {other:?}"),
    }
}

fn applied<T: std::fmt::Debug>(outcome: TransitionOutcome<T>) -> T {
    match outcome {
        TransitionOutcome::Applied(r) => r,
        other => panic!("expected Applied, got {other:?}"),
    }
}

fn unchanged<T: std::fmt::Debug>(outcome: TransitionOutcome<T>) -> T {
    match outcome {
        TransitionOutcome::Unchanged(r) => r,
        other => panic!("expected Unchanged, got {other:?}"),
    }
}

fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Corrupt(message)) => {
            assert!(
                !message.contains(BAD_VALUE),
                "the error echoes the stored value: {message}"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The contract

async fn ping_answers<F: Fixture>(fx: F) {
    fx.store().ping().await.expect("ping");
}

async fn users_insert_get_delete<F: Fixture>(fx: F) {
    let s = fx.store();
    let alice = user("alice@example.com", 1001);

    assert_eq!(s.get_user(&alice.user_id).await.unwrap(), None);
    assert_eq!(created(s.insert_user(&alice).await.unwrap()), alice);
    assert_eq!(
        s.get_user(&alice.user_id).await.unwrap(),
        Some(alice.clone())
    );

    // Same user id again, other fields: the stored row comes back and is not overwritten.
    let again = UserRecord {
        authy_id: AuthyId::new(2002),
        masked_phone: "XXX-XXX-XX99".into(),
        enroll_time: t(5_000),
        ..alice.clone()
    };
    assert_eq!(existing(s.insert_user(&again).await.unwrap()), alice);
    assert_eq!(
        s.get_user(&alice.user_id).await.unwrap(),
        Some(alice.clone())
    );

    // Other users are independent.
    let bob = user("bob", 3003);
    assert_eq!(created(s.insert_user(&bob).await.unwrap()), bob);

    assert!(s.delete_user(&alice.user_id).await.unwrap());
    assert_eq!(s.get_user(&alice.user_id).await.unwrap(), None);
    assert!(!s.delete_user(&alice.user_id).await.unwrap());
    assert_eq!(s.get_user(&bob.user_id).await.unwrap(), Some(bob));

    // Enrolling again after a delete creates afresh.
    assert_eq!(created(s.insert_user(&again).await.unwrap()), again);
}

async fn user_fields_round_trip<F: Fixture>(fx: F) {
    let s = fx.store();
    for (i, authy_id) in [0, 1, i64::MAX as u64, u64::MAX].into_iter().enumerate() {
        let mut u = user(&format!("u{i}"), authy_id);
        u.country_code = CountryCode::new(999).unwrap();
        u.masked_phone = "+57-XXX-XXX-XX12".into();
        s.insert_user(&u).await.unwrap();
        assert_eq!(s.get_user(&u.user_id).await.unwrap(), Some(u));
    }
}

async fn concurrent_user_inserts_create_once<F: Fixture>(fx: F) {
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = fx.store().clone();
        tasks.push(tokio::spawn(async move {
            s.insert_user(&user("racer", 5000 + i)).await
        }));
    }
    let mut winners = Vec::new();
    let mut stored = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Inserted::Created(u) => winners.push(u),
            Inserted::Existing(u) => stored.push(u),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one insert creates the user");
    assert!(stored.iter().all(|u| *u == winners[0]));
    assert_eq!(
        fx.store().get_user(&uid("racer")).await.unwrap(),
        Some(winners[0].clone())
    );
}

async fn approval_insert_and_lookups<F: Fixture>(fx: F) {
    let s = fx.store();
    let a = approval("alice", Some("req-1"));
    assert_eq!(created(s.insert_approval(&a).await.unwrap()), a);
    assert_eq!(
        s.get_approval(&a.approval_id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        s.find_approval_by_provider_ref(&a.provider_ref)
            .await
            .unwrap(),
        Some(a.clone())
    );

    assert_eq!(s.get_approval(&ApprovalId::new()).await.unwrap(), None);
    assert_eq!(
        s.find_approval_by_provider_ref(&provider_ref())
            .await
            .unwrap(),
        None
    );

    // Without a request id there is no idempotency: each insert is its own approval.
    let b = approval("alice", None);
    let c = ApprovalRecord {
        details: BTreeMap::new(),
        ..approval("alice", None)
    };
    assert_eq!(created(s.insert_approval(&b).await.unwrap()), b);
    assert_eq!(created(s.insert_approval(&c).await.unwrap()), c);
    assert_eq!(s.get_approval(&b.approval_id).await.unwrap(), Some(b));
    assert_eq!(s.get_approval(&c.approval_id).await.unwrap(), Some(c));
}

async fn approval_idempotent_per_user_and_request_id<F: Fixture>(fx: F) {
    let s = fx.store();
    let first = approval("alice", Some("checkout-42"));
    created(s.insert_approval(&first).await.unwrap());

    assert_eq!(
        s.find_approval_by_request(&uid("alice"), &rid("checkout-42"))
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        s.find_approval_by_request(&uid("bob"), &rid("checkout-42"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_approval_by_request(&uid("alice"), &rid("checkout-43"))
            .await
            .unwrap(),
        None
    );

    // A retry (new ids, even other fields) with the same (user, request id) gets the first back.
    let retry = ApprovalRecord {
        message: "Something else".into(),
        ..approval("alice", Some("checkout-42"))
    };
    assert_eq!(existing(s.insert_approval(&retry).await.unwrap()), first);
    assert_eq!(s.get_approval(&retry.approval_id).await.unwrap(), None);
    assert_eq!(
        s.find_approval_by_provider_ref(&retry.provider_ref)
            .await
            .unwrap(),
        None
    );

    // The same key from another user is another approval.
    let bobs = approval("bob", Some("checkout-42"));
    assert_eq!(created(s.insert_approval(&bobs).await.unwrap()), bobs);
    assert_ne!(bobs.approval_id, first.approval_id);
    assert_eq!(
        s.find_approval_by_request(&uid("bob"), &rid("checkout-42"))
            .await
            .unwrap(),
        Some(bobs)
    );

    // Another key of the same user too.
    let other = approval("alice", Some("checkout-43"));
    assert_eq!(created(s.insert_approval(&other).await.unwrap()), other);
}

async fn concurrent_approval_inserts_with_one_key_create_once<F: Fixture>(fx: F) {
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let s = fx.store().clone();
        tasks.push(tokio::spawn(async move {
            s.insert_approval(&approval("alice", Some("same-key")))
                .await
        }));
    }
    let mut winners = Vec::new();
    let mut stored = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Inserted::Created(a) => winners.push(a),
            Inserted::Existing(a) => stored.push(a),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one insert creates the approval");
    assert!(stored.iter().all(|a| *a == winners[0]));
    assert_eq!(
        fx.store().pending_approvals().await.unwrap(),
        vec![winners[0].clone()]
    );
}

async fn approval_insert_colliding_ids_returns_the_stored_row<F: Fixture>(fx: F) {
    let s = fx.store();
    let a = approval("alice", None);
    created(s.insert_approval(&a).await.unwrap());

    // The same approval id again.
    let same_id = ApprovalRecord {
        approval_id: a.approval_id.clone(),
        ..approval("bob", None)
    };
    assert_eq!(existing(s.insert_approval(&same_id).await.unwrap()), a);

    // The same provider reference under a new approval id.
    let same_ref = ApprovalRecord {
        provider_ref: a.provider_ref.clone(),
        ..approval("bob", Some("k"))
    };
    assert_eq!(existing(s.insert_approval(&same_ref).await.unwrap()), a);
    assert_eq!(s.get_approval(&same_ref.approval_id).await.unwrap(), None);
}

async fn transition_is_a_compare_and_set<F: Fixture>(fx: F) {
    let s = fx.store();
    let a = approval("alice", Some("r"));
    created(s.insert_approval(&a).await.unwrap());

    // Asking for pending changes nothing.
    let same = unchanged(
        s.transition_approval(
            &a.approval_id,
            ApprovalStatus::Pending,
            TransitionSource::Poll,
            t(500),
        )
        .await
        .unwrap(),
    );
    assert_eq!(same, a);

    let after = applied(
        s.transition_approval(
            &a.approval_id,
            ApprovalStatus::Approved,
            TransitionSource::Callback,
            t(1_000),
        )
        .await
        .unwrap(),
    );
    let expected = ApprovalRecord {
        state: ApprovalStatus::Approved,
        update_time: t(1_000),
        ..a.clone()
    };
    assert_eq!(after, expected);
    assert_eq!(
        s.get_approval(&a.approval_id).await.unwrap(),
        Some(expected.clone())
    );

    // Terminal states never change again: the first result is kept.
    for (to, source) in [
        (ApprovalStatus::Approved, TransitionSource::Poll),
        (ApprovalStatus::Denied, TransitionSource::Poll),
        (ApprovalStatus::Expired, TransitionSource::Expiry),
        (ApprovalStatus::Pending, TransitionSource::Read),
    ] {
        let outcome = s
            .transition_approval(&a.approval_id, to, source, t(2_000))
            .await
            .unwrap();
        assert_eq!(unchanged(outcome), expected);
    }
    assert_eq!(
        s.get_approval(&a.approval_id).await.unwrap(),
        Some(expected)
    );

    // Exactly one transition row.
    assert_eq!(
        s.transitions(&a.approval_id).await.unwrap(),
        vec![Transition {
            approval_id: a.approval_id.clone(),
            from: ApprovalStatus::Pending,
            to: ApprovalStatus::Approved,
            source: TransitionSource::Callback,
            at: t(1_000),
        }]
    );

    // Each source and terminal state is recorded as given.
    for (to, source) in [
        (ApprovalStatus::Denied, TransitionSource::Poll),
        (ApprovalStatus::Expired, TransitionSource::Expiry),
        (ApprovalStatus::Approved, TransitionSource::Read),
    ] {
        let b = approval("alice", None);
        created(s.insert_approval(&b).await.unwrap());
        let after = applied(
            s.transition_approval(&b.approval_id, to, source, t(3_000))
                .await
                .unwrap(),
        );
        assert_eq!(after.state, to);
        let recorded = s.transitions(&b.approval_id).await.unwrap();
        assert_eq!(recorded.len(), 1);
        assert_eq!((recorded[0].to, recorded[0].source), (to, source));
    }
}

async fn transition_of_unknown_approval_is_not_found<F: Fixture>(fx: F) {
    let s = fx.store();
    let unknown = ApprovalId::new();
    for to in [ApprovalStatus::Approved, ApprovalStatus::Pending] {
        let outcome = s
            .transition_approval(&unknown, to, TransitionSource::Poll, t(0))
            .await;
        assert_eq!(outcome, Err(StoreError::NotFound));
    }
    assert_eq!(s.transitions(&unknown).await.unwrap(), vec![]);
}

async fn concurrent_transitions_have_one_winner<F: Fixture>(fx: F) {
    let a = approval("alice", None);
    created(fx.store().insert_approval(&a).await.unwrap());

    let mut tasks = Vec::new();
    for i in 0..20_i64 {
        let s = fx.store().clone();
        let id = a.approval_id.clone();
        let (to, source) = if i % 2 == 0 {
            (ApprovalStatus::Approved, TransitionSource::Callback)
        } else {
            (ApprovalStatus::Denied, TransitionSource::Poll)
        };
        tasks.push(tokio::spawn(async move {
            s.transition_approval(&id, to, source, t(1_000 + i)).await
        }));
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            TransitionOutcome::Applied(r) => winners.push(r),
            TransitionOutcome::Unchanged(r) => losers.push(r),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one transition applies");
    let winner = &winners[0];
    assert!(winner.state.is_terminal());
    // A loser is Unchanged only because the state was already terminal: it saw the winner's row.
    assert!(losers.iter().all(|r| r == winner));
    let recorded = fx.store().transitions(&a.approval_id).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].to, winner.state);
    assert_eq!(recorded[0].at, winner.update_time);
    assert_eq!(
        fx.store()
            .get_approval(&a.approval_id)
            .await
            .unwrap()
            .as_ref(),
        Some(winner)
    );
}

async fn pending_approvals_lists_only_pending_oldest_first<F: Fixture>(fx: F) {
    let s = fx.store();
    assert_eq!(s.pending_approvals().await.unwrap(), vec![]);
    let mut all = Vec::new();
    // Inserted out of creation order.
    for offset in [3_000, 1_000, 2_000, 4_000] {
        let a = ApprovalRecord {
            create_time: t(offset),
            update_time: t(offset),
            expire_time: t(offset + 120_000),
            ..approval("alice", None)
        };
        created(s.insert_approval(&a).await.unwrap());
        all.push(a);
    }
    // [3000, 1000, 2000, 4000]: decide the 2000 one, expire the 4000 one.
    applied(
        s.transition_approval(
            &all[2].approval_id,
            ApprovalStatus::Denied,
            TransitionSource::Poll,
            t(5_000),
        )
        .await
        .unwrap(),
    );
    applied(
        s.transition_approval(
            &all[3].approval_id,
            ApprovalStatus::Expired,
            TransitionSource::Expiry,
            t(5_000),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        s.pending_approvals().await.unwrap(),
        vec![all[1].clone(), all[0].clone()]
    );
}

async fn audit_append_and_query<F: Fixture>(fx: F) {
    let s = fx.store();
    assert_eq!(
        s.audit_events(AuditQuery {
            user_id: None,
            limit: 10
        })
        .await
        .unwrap(),
        vec![]
    );
    let full = AuditEvent {
        at: t(0),
        caller: "anonymous".into(),
        action: AuditAction::RequestApproval,
        user_id: Some(uid("alice")),
        subject: Some(ApprovalId::new().to_string()),
        outcome: "ok".into(),
        detail: Some("ttl 120s".into()),
    };
    let events = vec![
        full,
        audit(t(1), AuditAction::Enroll, Some("bob")),
        audit(t(2), AuditAction::VerifyToken, Some("alice")),
        AuditEvent {
            outcome: "unavailable".into(),
            ..audit(t(3), AuditAction::RejectCallback, None)
        },
        audit(t(4), AuditAction::SendSms, Some("alice")),
    ];
    for e in &events {
        s.append_audit(e).await.unwrap();
    }
    let newest_first: Vec<AuditEvent> = events.iter().rev().cloned().collect();

    let everything = s
        .audit_events(AuditQuery {
            user_id: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(everything, newest_first);

    let two = s
        .audit_events(AuditQuery {
            user_id: None,
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(two, newest_first[..2].to_vec());

    let alices = s
        .audit_events(AuditQuery {
            user_id: Some(uid("alice")),
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(
        alices,
        vec![events[4].clone(), events[2].clone(), events[0].clone()]
    );

    let alices_latest = s
        .audit_events(AuditQuery {
            user_id: Some(uid("alice")),
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(alices_latest, vec![events[4].clone()]);

    assert_eq!(
        s.audit_events(AuditQuery {
            user_id: Some(uid("nobody")),
            limit: 100
        })
        .await
        .unwrap(),
        vec![]
    );
    assert_eq!(
        s.audit_events(AuditQuery {
            user_id: None,
            limit: 0
        })
        .await
        .unwrap(),
        vec![]
    );

    // Deleting a user keeps their trail.
    s.insert_user(&user("alice", 1)).await.unwrap();
    s.delete_user(&uid("alice")).await.unwrap();
    assert_eq!(
        s.audit_events(AuditQuery {
            user_id: Some(uid("alice")),
            limit: 100
        })
        .await
        .unwrap()
        .len(),
        3
    );
}

async fn every_audit_action_round_trips<F: Fixture>(fx: F) {
    let s = fx.store();
    for (i, action) in AuditAction::ALL.into_iter().enumerate() {
        s.append_audit(&audit(t(i as i64), action, Some("u")))
            .await
            .unwrap();
    }
    let read: Vec<AuditAction> = s
        .audit_events(AuditQuery {
            user_id: None,
            limit: 100,
        })
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| e.action)
        .collect();
    assert_eq!(read, AuditAction::ALL.to_vec());
}

async fn deleting_a_user_keeps_approvals_and_transitions<F: Fixture>(fx: F) {
    let s = fx.store();
    s.insert_user(&user("alice", 1001)).await.unwrap();
    let a = approval("alice", Some("r"));
    created(s.insert_approval(&a).await.unwrap());
    applied(
        s.transition_approval(
            &a.approval_id,
            ApprovalStatus::Approved,
            TransitionSource::Poll,
            t(1),
        )
        .await
        .unwrap(),
    );
    assert!(s.delete_user(&uid("alice")).await.unwrap());
    let kept = s.get_approval(&a.approval_id).await.unwrap().expect("kept");
    assert_eq!(kept.user_id, uid("alice"));
    assert_eq!(s.transitions(&a.approval_id).await.unwrap().len(), 1);
}

async fn data_survives_a_restart<F: Fixture>(mut fx: F) {
    let alice = user("alice", 1001);
    let decided = approval("alice", Some("r1"));
    let pending = approval("alice", Some("r2"));
    let event = audit(t(9), AuditAction::Enroll, Some("alice"));
    {
        let s = fx.store();
        s.insert_user(&alice).await.unwrap();
        s.insert_approval(&decided).await.unwrap();
        s.insert_approval(&pending).await.unwrap();
        s.transition_approval(
            &decided.approval_id,
            ApprovalStatus::Denied,
            TransitionSource::Callback,
            t(7),
        )
        .await
        .unwrap();
        s.append_audit(&event).await.unwrap();
    }

    fx.restart().await;

    let s = fx.store();
    s.ping().await.unwrap();
    assert_eq!(s.get_user(&alice.user_id).await.unwrap(), Some(alice));
    let decided_now = ApprovalRecord {
        state: ApprovalStatus::Denied,
        update_time: t(7),
        ..decided.clone()
    };
    assert_eq!(
        s.get_approval(&decided.approval_id).await.unwrap(),
        Some(decided_now.clone())
    );
    assert_eq!(s.pending_approvals().await.unwrap(), vec![pending.clone()]);
    assert_eq!(s.transitions(&decided.approval_id).await.unwrap().len(), 1);
    assert_eq!(
        s.audit_events(AuditQuery {
            user_id: None,
            limit: 10
        })
        .await
        .unwrap(),
        vec![event]
    );
    // Idempotency and the CAS hold across the restart.
    let retry = approval("alice", Some("r1"));
    assert_eq!(
        existing(s.insert_approval(&retry).await.unwrap()),
        decided_now
    );
    let outcome = s
        .transition_approval(
            &decided.approval_id,
            ApprovalStatus::Approved,
            TransitionSource::Poll,
            t(8),
        )
        .await
        .unwrap();
    assert_eq!(unchanged(outcome), decided_now);
}

async fn corrupt_rows_are_errors_not_panics<F: Fixture>(fx: F) {
    let bad_state = approval("alice", Some("r1"));
    let bad_details = approval("alice", Some("r2"));
    let fine = approval("alice", Some("r3"));
    for a in [&bad_state, &bad_details, &fine] {
        created(fx.store().insert_approval(a).await.unwrap());
    }
    fx.corrupt_approval(&bad_state.approval_id, Corruption::State)
        .await;
    fx.corrupt_approval(&bad_details.approval_id, Corruption::Details)
        .await;

    let s = fx.store();
    for a in [&bad_state, &bad_details] {
        assert_corrupt(s.get_approval(&a.approval_id).await);
        assert_corrupt(s.find_approval_by_provider_ref(&a.provider_ref).await);
        assert_corrupt(
            s.transition_approval(
                &a.approval_id,
                ApprovalStatus::Approved,
                TransitionSource::Poll,
                t(1),
            )
            .await,
        );
        // An idempotent retry that lands on the damaged row reports it too.
        let retry = ApprovalRecord {
            request_id: a.request_id.clone(),
            ..approval("alice", None)
        };
        assert_corrupt(s.insert_approval(&retry).await);
    }
    // The damaged pending row makes the resume list fail loudly rather than skip it.
    assert_corrupt(s.pending_approvals().await);
    // Healthy rows are unaffected.
    assert_eq!(
        s.get_approval(&fine.approval_id).await.unwrap(),
        Some(fine.clone())
    );
    s.ping().await.unwrap();
}

async fn timestamps_round_trip_at_millisecond_precision<F: Fixture>(fx: F) {
    let s = fx.store();
    // Sub-millisecond parts are dropped (truncated, not rounded); milliseconds are kept.
    let precise = t(0) + Duration::nanoseconds(123_999_999);
    let truncated = t(123);
    assert_ne!(precise, truncated);

    let u = UserRecord {
        enroll_time: precise,
        ..user("alice", 1)
    };
    let stored = created(s.insert_user(&u).await.unwrap());
    assert_eq!(stored.enroll_time, truncated);
    assert_eq!(s.get_user(&u.user_id).await.unwrap(), Some(stored));

    let a = ApprovalRecord {
        create_time: precise,
        update_time: precise,
        expire_time: precise + Duration::seconds(120),
        ..approval("alice", None)
    };
    let stored = created(s.insert_approval(&a).await.unwrap());
    assert_eq!(stored.create_time, truncated);
    assert_eq!(stored.update_time, truncated);
    assert_eq!(stored.expire_time, truncated + Duration::seconds(120));
    assert_eq!(s.get_approval(&a.approval_id).await.unwrap(), Some(stored));

    let at = precise + Duration::seconds(1);
    let after = applied(
        s.transition_approval(
            &a.approval_id,
            ApprovalStatus::Approved,
            TransitionSource::Read,
            at,
        )
        .await
        .unwrap(),
    );
    assert_eq!(after.update_time, truncated + Duration::seconds(1));
    assert_eq!(
        s.transitions(&a.approval_id).await.unwrap()[0].at,
        truncated + Duration::seconds(1)
    );

    s.append_audit(&audit(precise, AuditAction::Enroll, None))
        .await
        .unwrap();
    let read = s
        .audit_events(AuditQuery {
            user_id: None,
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(read[0].at, truncated);

    // Times far from now, including before 1970, keep their milliseconds.
    for ms in [-86_400_000_123, 0, 4_102_444_800_999] {
        let when = DateTime::from_timestamp_millis(ms).unwrap();
        let u = UserRecord {
            enroll_time: when,
            ..user(&format!("t{}", ms.unsigned_abs()), 2)
        };
        s.insert_user(&u).await.unwrap();
        assert_eq!(
            s.get_user(&u.user_id).await.unwrap().map(|u| u.enroll_time),
            Some(when)
        );
    }
}

fn key_name(raw: &str) -> KeyName {
    KeyName::parse(raw).expect("key name")
}

fn new_key(name: &str, scopes: &str) -> (CallerKey, NewCallerKey) {
    let key = CallerKey::generate();
    let new = NewCallerKey {
        name: key_name(name),
        key_hash: key.hash(),
        scopes: Scopes::parse(scopes).expect("scopes"),
        create_time: t(0),
    };
    (key, new)
}

async fn caller_keys_create_find_list<F: Fixture>(fx: F) {
    let s = fx.store();
    assert_eq!(s.list_caller_keys().await.unwrap(), vec![]);
    let (billing_key, billing) = new_key("billing", "verify,enroll");
    let stored = s.create_caller_key(&billing).await.unwrap();
    let expected = CallerKeyRecord {
        name: key_name("billing"),
        scopes: Scopes::new([Scope::Enroll, Scope::Verify]).unwrap(),
        create_time: t(0),
        revoke_time: None,
        last_used_time: None,
    };
    assert_eq!(stored, expected);
    assert!(stored.is_active());

    // Found by the hash of the presented key, and only by it.
    assert_eq!(
        s.find_active_caller_key(&KeyHash::of(billing_key.expose()))
            .await
            .unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        s.find_active_caller_key(&KeyHash::of("authyd_not-a-key"))
            .await
            .unwrap(),
        None
    );

    let (_, admin) = new_key("admin.ops", "admin");
    s.create_caller_key(&admin).await.unwrap();
    let names: Vec<String> = s
        .list_caller_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name.to_string())
        .collect();
    assert_eq!(names, ["admin.ops", "billing"]);
}

async fn caller_key_names_are_unique_and_never_reused<F: Fixture>(fx: F) {
    let s = fx.store();
    let (first_key, first) = new_key("svc", "verify");
    s.create_caller_key(&first).await.unwrap();

    // Same name, another key: refused, and the other key was not stored.
    let (second_key, second) = new_key("svc", "admin");
    assert_eq!(
        s.create_caller_key(&second).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(
        s.find_active_caller_key(&KeyHash::of(second_key.expose()))
            .await
            .unwrap(),
        None
    );
    // The same hash under another name (only a broken generator does that): refused too.
    let same_hash = NewCallerKey {
        name: key_name("svc-2"),
        ..first.clone()
    };
    assert_eq!(
        s.create_caller_key(&same_hash).await,
        Err(StoreError::AlreadyExists)
    );

    // Still refused after revocation.
    s.revoke_caller_key(&key_name("svc"), t(1)).await.unwrap();
    assert_eq!(
        s.create_caller_key(&second).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(s.list_caller_keys().await.unwrap().len(), 1);
    assert_eq!(
        s.find_active_caller_key(&KeyHash::of(first_key.expose()))
            .await
            .unwrap(),
        None
    );
}

async fn caller_key_revocation<F: Fixture>(fx: F) {
    let s = fx.store();
    let (key, new) = new_key("svc", "approve");
    let (other_key, other) = new_key("other", "approve");
    s.create_caller_key(&new).await.unwrap();
    s.create_caller_key(&other).await.unwrap();

    let revoked = match s.revoke_caller_key(&key_name("svc"), t(5_000)).await {
        Ok(Revocation::Revoked(r)) => r,
        other => panic!("expected Revoked, got {other:?}"),
    };
    assert_eq!(revoked.revoke_time, Some(t(5_000)));
    assert!(!revoked.is_active());
    assert_eq!(
        s.find_active_caller_key(&KeyHash::of(key.expose()))
            .await
            .unwrap(),
        None
    );
    // Revoking again keeps the first revocation time.
    match s.revoke_caller_key(&key_name("svc"), t(9_000)).await {
        Ok(Revocation::AlreadyRevoked(r)) => assert_eq!(r, revoked),
        other => panic!("expected AlreadyRevoked, got {other:?}"),
    }
    assert_eq!(
        s.revoke_caller_key(&key_name("nobody"), t(9_000)).await,
        Err(StoreError::NotFound)
    );
    // Listed with its revocation; other keys unaffected.
    let listed = s.list_caller_keys().await.unwrap();
    assert_eq!(listed[1], revoked);
    assert!(listed[0].is_active());
    assert!(
        s.find_active_caller_key(&KeyHash::of(other_key.expose()))
            .await
            .unwrap()
            .is_some()
    );
}

async fn caller_key_last_use_only_moves_forward<F: Fixture>(fx: F) {
    let s = fx.store();
    let (key, new) = new_key("svc", "verify");
    s.create_caller_key(&new).await.unwrap();
    let hash = KeyHash::of(key.expose());
    let last_used = |s: &F::S| {
        let s = s.clone();
        async move {
            s.find_active_caller_key(&hash)
                .await
                .unwrap()
                .and_then(|k| k.last_used_time)
        }
    };
    s.touch_caller_key(&key_name("svc"), t(2_000))
        .await
        .unwrap();
    assert_eq!(last_used(s).await, Some(t(2_000)));
    s.touch_caller_key(&key_name("svc"), t(1_000))
        .await
        .unwrap();
    assert_eq!(last_used(s).await, Some(t(2_000)));
    s.touch_caller_key(&key_name("svc"), t(3_000))
        .await
        .unwrap();
    assert_eq!(last_used(s).await, Some(t(3_000)));
    // Unknown names are ignored.
    s.touch_caller_key(&key_name("nobody"), t(3_000))
        .await
        .unwrap();
}

async fn caller_keys_survive_a_restart<F: Fixture>(mut fx: F) {
    let (key, new) = new_key("svc", "enroll,admin");
    let (_, gone) = new_key("gone", "verify");
    fx.store().create_caller_key(&new).await.unwrap();
    fx.store().create_caller_key(&gone).await.unwrap();
    fx.store()
        .revoke_caller_key(&key_name("gone"), t(1))
        .await
        .unwrap();
    fx.restart().await;
    let s = fx.store();
    let found = s
        .find_active_caller_key(&KeyHash::of(key.expose()))
        .await
        .unwrap()
        .expect("active after restart");
    assert!(found.scopes.grants(Scope::Register));
    assert_eq!(found.create_time, t(0));
    let listed = s.list_caller_keys().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].revoke_time, Some(t(1)));
    assert_eq!(
        s.create_caller_key(&gone).await,
        Err(StoreError::AlreadyExists)
    );
}

async fn concurrent_audit_appends_are_each_stored_once_acknowledged<F: Fixture>(mut fx: F) {
    // Many appends at once (the store may group them into one write): each call returns only
    // once its event is readable, and every event is stored exactly once.
    let s = fx.store().clone();
    let tasks: Vec<_> = (0..40)
        .map(|task| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let mut e = audit(t(i), AuditAction::VerifyToken, Some("alice"));
                    e.detail = Some(format!("task={task} i={i}"));
                    s.append_audit(&e).await.unwrap();
                    let newest = s
                        .audit_events(AuditQuery {
                            user_id: None,
                            limit: AuditQuery::MAX_LIMIT,
                        })
                        .await
                        .unwrap();
                    assert!(
                        newest.iter().any(|n| n.detail == e.detail),
                        "acknowledged but not readable: {:?}",
                        e.detail
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    fx.restart().await;
    let all = fx
        .store()
        .audit_events(AuditQuery {
            user_id: None,
            limit: AuditQuery::MAX_LIMIT,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1000);
    let details: std::collections::HashSet<_> = all.iter().map(|e| e.detail.clone()).collect();
    assert_eq!(details.len(), 1000, "no event stored twice");
}

// ---------------------------------------------------------------------------------------------
// Registrations and callback replays

fn registration(user_id: &str, created_ms: i64, ttl_ms: i64) -> RegistrationRecord {
    RegistrationRecord {
        user_id: uid(user_id),
        state: RegistrationState::Pending,
        authy_id: None,
        failure: None,
        create_time: t(created_ms),
        expire_time: t(created_ms + ttl_ms),
        update_time: t(created_ms),
    }
}

async fn registration_start_get_and_restart_replaces<F: Fixture>(fx: F) {
    let s = fx.store();
    assert_eq!(s.get_registration(&uid("ana")).await.unwrap(), None);
    let first = s
        .start_registration(&registration("ana", 0, 300_000))
        .await
        .unwrap();
    assert_eq!(first, registration("ana", 0, 300_000));
    assert_eq!(s.get_registration(&uid("ana")).await.unwrap(), Some(first));
    // Starting again while pending replaces the token's times.
    let again = s
        .start_registration(&registration("ana", 10_000, 60_000))
        .await
        .unwrap();
    assert_eq!(again.expire_time, t(70_000));
    // Starting again after a failure begins afresh.
    s.transition_registration(
        &uid("ana"),
        &RegistrationChange::Failed {
            status: "rejected".into(),
        },
        t(20_000),
    )
    .await
    .unwrap();
    let fresh = s
        .start_registration(&registration("ana", 30_000, 60_000))
        .await
        .unwrap();
    assert_eq!(fresh, registration("ana", 30_000, 60_000));
    assert_eq!(fresh.failure, None);
}

async fn registration_of_an_enrolled_user_is_refused<F: Fixture>(fx: F) {
    let s = fx.store();
    s.insert_user(&user("ana", 7)).await.unwrap();
    assert_eq!(
        s.start_registration(&registration("ana", 0, 60_000)).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(s.get_registration(&uid("ana")).await.unwrap(), None);
}

async fn registration_completion_enrolls_the_user_atomically<F: Fixture>(fx: F) {
    let s = fx.store();
    s.start_registration(&registration("ana", 0, 60_000))
        .await
        .unwrap();
    let mut enrolled = user("ana", 4242);
    enrolled.enroll_time = t(5_000);
    let done = applied(
        s.transition_registration(
            &uid("ana"),
            &RegistrationChange::Completed(enrolled.clone()),
            t(5_000),
        )
        .await
        .unwrap(),
    );
    assert_eq!(done.state, RegistrationState::Completed);
    assert_eq!(done.authy_id, Some(AuthyId::new(4242)));
    assert_eq!(done.update_time, t(5_000));
    assert_eq!(s.get_user(&uid("ana")).await.unwrap(), Some(enrolled));
    // Terminal is final: a later failure, expiry or second completion changes nothing.
    for change in [
        RegistrationChange::Failed { status: "x".into() },
        RegistrationChange::Expired,
        RegistrationChange::Completed(user("ana", 1)),
    ] {
        let kept = unchanged(
            s.transition_registration(&uid("ana"), &change, t(90_000))
                .await
                .unwrap(),
        );
        assert_eq!(kept, done);
    }
    assert_eq!(
        s.get_user(&uid("ana")).await.unwrap().unwrap().authy_id,
        AuthyId::new(4242)
    );
    // Starting again is refused now that the user is enrolled.
    assert_eq!(
        s.start_registration(&registration("ana", 100_000, 60_000))
            .await,
        Err(StoreError::AlreadyExists)
    );
}

async fn registration_expiry_waits_for_the_stored_deadline<F: Fixture>(fx: F) {
    let s = fx.store();
    s.start_registration(&registration("ana", 0, 60_000))
        .await
        .unwrap();
    // Restarted with a later deadline: an expiry planned for the first deadline does not apply.
    s.start_registration(&registration("ana", 30_000, 60_000))
        .await
        .unwrap();
    let still = unchanged(
        s.transition_registration(&uid("ana"), &RegistrationChange::Expired, t(60_000))
            .await
            .unwrap(),
    );
    assert_eq!(still.state, RegistrationState::Pending);
    let expired = applied(
        s.transition_registration(&uid("ana"), &RegistrationChange::Expired, t(90_000))
            .await
            .unwrap(),
    );
    assert_eq!(expired.state, RegistrationState::Expired);
    assert_eq!(expired.update_time, t(90_000));
    assert_eq!(
        s.transition_registration(&uid("nobody"), &RegistrationChange::Expired, t(0))
            .await,
        Err(StoreError::NotFound)
    );
}

async fn registration_failure_keeps_the_status<F: Fixture>(fx: F) {
    let s = fx.store();
    s.start_registration(&registration("ana", 0, 60_000))
        .await
        .unwrap();
    let failed = applied(
        s.transition_registration(
            &uid("ana"),
            &RegistrationChange::Failed {
                status: "denied_by_user".into(),
            },
            t(1_000),
        )
        .await
        .unwrap(),
    );
    assert_eq!(failed.state, RegistrationState::Failed);
    assert_eq!(failed.failure.as_deref(), Some("denied_by_user"));
    assert_eq!(s.get_user(&uid("ana")).await.unwrap(), None);
}

async fn registrations_survive_a_restart_and_unenroll_forgets_them<F: Fixture>(mut fx: F) {
    let s = fx.store();
    s.start_registration(&registration("b", 2_000, 60_000))
        .await
        .unwrap();
    s.start_registration(&registration("a", 1_000, 60_000))
        .await
        .unwrap();
    s.start_registration(&registration("c", 0, 60_000))
        .await
        .unwrap();
    s.transition_registration(
        &uid("c"),
        &RegistrationChange::Completed(user("c", 3)),
        t(10_000),
    )
    .await
    .unwrap();
    fx.restart().await;
    let s = fx.store();
    let mut states = Vec::new();
    for id in ["a", "b", "c"] {
        let stored = s.get_registration(&uid(id)).await.unwrap().unwrap();
        states.push(stored.state);
    }
    assert_eq!(
        states,
        [
            RegistrationState::Pending,
            RegistrationState::Pending,
            RegistrationState::Completed
        ]
    );
    // Unenrolling forgets the registration too, so the user can register again.
    assert!(s.delete_user(&uid("c")).await.unwrap());
    assert_eq!(s.get_registration(&uid("c")).await.unwrap(), None);
    s.start_registration(&registration("c", 20_000, 60_000))
        .await
        .unwrap();
}

async fn concurrent_registration_transitions_have_one_winner<F: Fixture>(fx: F) {
    let s = fx.store();
    s.start_registration(&registration("ana", 0, 60_000))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8u64)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let change = if i % 2 == 0 {
                    RegistrationChange::Completed(user("ana", 100 + i))
                } else {
                    RegistrationChange::Failed {
                        status: format!("s{i}"),
                    }
                };
                s.transition_registration(&uid("ana"), &change, t(1_000))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let outcome = task.await.unwrap();
        if outcome.is_applied() {
            winners.push(outcome.into_record());
        }
    }
    assert_eq!(winners.len(), 1, "exactly one transition applies");
    let stored = s.get_registration(&uid("ana")).await.unwrap().unwrap();
    assert_eq!(stored, winners[0]);
    let user = s.get_user(&uid("ana")).await.unwrap();
    match stored.state {
        RegistrationState::Completed => {
            assert_eq!(user.unwrap().authy_id, stored.authy_id.unwrap())
        }
        _ => assert_eq!(user, None),
    }
}

async fn callback_replays_are_remembered_within_the_window<F: Fixture>(mut fx: F) {
    let window = std::time::Duration::from_secs(300);
    let a = [0xAB; 32];
    let b = [0x01; 32];
    let s = fx.store();
    assert!(s.remember_callback(&a, t(0), window).await.unwrap());
    assert!(!s.remember_callback(&a, t(1_000), window).await.unwrap());
    assert!(s.remember_callback(&b, t(1_000), window).await.unwrap());
    fx.restart().await;
    let s = fx.store();
    assert!(!s.remember_callback(&a, t(2_000), window).await.unwrap());
    // Past the window the entry is pruned (the nonce check refuses such a callback first).
    assert!(s.remember_callback(&a, t(301_000), window).await.unwrap());
    assert!(!s.remember_callback(&a, t(302_000), window).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Instantiation

macro_rules! store_contract {
    ($module:ident, $fixture:ty) => {
        mod $module {
            use super::Fixture;

            store_contract!(@tests $fixture;
                ping_answers,
                users_insert_get_delete,
                user_fields_round_trip,
                concurrent_user_inserts_create_once,
                approval_insert_and_lookups,
                approval_idempotent_per_user_and_request_id,
                concurrent_approval_inserts_with_one_key_create_once,
                approval_insert_colliding_ids_returns_the_stored_row,
                transition_is_a_compare_and_set,
                transition_of_unknown_approval_is_not_found,
                concurrent_transitions_have_one_winner,
                pending_approvals_lists_only_pending_oldest_first,
                audit_append_and_query,
                every_audit_action_round_trips,
                concurrent_audit_appends_are_each_stored_once_acknowledged,
                deleting_a_user_keeps_approvals_and_transitions,
                data_survives_a_restart,
                corrupt_rows_are_errors_not_panics,
                timestamps_round_trip_at_millisecond_precision,
                caller_keys_create_find_list,
                caller_key_names_are_unique_and_never_reused,
                caller_key_revocation,
                caller_key_last_use_only_moves_forward,
                caller_keys_survive_a_restart,
                registration_start_get_and_restart_replaces,
                registration_of_an_enrolled_user_is_refused,
                registration_completion_enrolls_the_user_atomically,
                registration_expiry_waits_for_the_stored_deadline,
                registration_failure_keeps_the_status,
                registrations_survive_a_restart_and_unenroll_forgets_them,
                concurrent_registration_transitions_have_one_winner,
                callback_replays_are_remembered_within_the_window,
            );
        }
    };
    (@tests $fixture:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(<$fixture as Fixture>::new().await).await;
            }
        )*
    };
}

store_contract!(sqlite, super::SqliteFixture);
