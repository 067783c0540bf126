//! Every RPC and every error row of the design's table, against a real authyd (port 0, sandbox
//! simulator, fresh SQLite database).

mod support;

use std::time::Duration;

use authyd::grpc::pb::sandbox::v1::{AnswerApprovalRequest, GetCodesRequest};
use authyd::grpc::pb::v1::{
    ApprovalState, EnrollRequest, GetApprovalRequest, GetUserRequest, RequestApprovalRequest,
    SendSmsRequest, SendVoiceRequest, UnenrollRequest, VerifyTokenRequest, WatchApprovalRequest,
};
use support::{details, enroll, spawn_app};
use tokio_stream::StreamExt;
use tonic::Code;

fn verify(user: &str, token: &str) -> VerifyTokenRequest {
    VerifyTokenRequest {
        user_id: user.into(),
        token: token.into(),
        action: String::new(),
    }
}

fn approval(user: &str, request_id: &str) -> RequestApprovalRequest {
    RequestApprovalRequest {
        user_id: user.into(),
        message: "Log in to Example?".into(),
        details: [("ip".to_owned(), "10.0.0.1".to_owned())].into(),
        request_id: request_id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn enroll_is_idempotent_and_get_user_is_live() {
    let app = spawn_app().await;
    let first = enroll(&app, "alice").await;
    assert!(first.authy_id > 0);
    // Authy's own mask, from the live status: the last four digits.
    let tail = &first.masked_phone[first.masked_phone.len() - 4..];
    assert!(
        first.masked_phone.starts_with("XXX-XXX-"),
        "{}",
        first.masked_phone
    );
    assert!(
        tail.bytes().all(|b| b.is_ascii_digit()),
        "{}",
        first.masked_phone
    );
    let creates = app.sim_requests("users_new").await;
    // Same user_id again: the stored mapping, no second create at Authy.
    let again = app
        .api
        .clone()
        .enroll(EnrollRequest {
            user_id: "alice".into(),
            email: "other@example.com".into(),
            phone_number: "6502530000".into(),
            country_code: 1,
            send_install_link: false,
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(again.authy_id, first.authy_id);
    assert_eq!(app.sim_requests("users_new").await, creates);

    let got = app
        .api
        .clone()
        .get_user(GetUserRequest {
            user_id: "alice".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(got.authy_id, first.authy_id);
    assert!(!got.registered);
    assert!(got.devices.is_empty());
}

#[tokio::test]
async fn sms_and_voice_codes_verify_and_wrong_codes_do_not() {
    let app = spawn_app().await;
    enroll(&app, "bob").await;
    let mut api = app.api.clone();
    let sent = api
        .send_sms(SendSmsRequest {
            user_id: "bob".into(),
            force: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(sent.sent && !sent.ignored);
    assert!(sent.masked_phone.starts_with("+1-XXX-XXX-XX"));
    let codes = app
        .sandbox()
        .get_codes(GetCodesRequest {
            user_id: "bob".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!codes.sms_code.is_empty());
    let wrong = if codes.sms_code == "1234567" {
        "7654321"
    } else {
        "1234567"
    };
    assert!(
        !api.verify_token(verify("bob", wrong))
            .await
            .unwrap()
            .into_inner()
            .valid
    );
    assert!(
        api.verify_token(verify("bob", &codes.sms_code))
            .await
            .unwrap()
            .into_inner()
            .valid
    );
    // SMS codes are single-use at Authy.
    assert!(
        !api.verify_token(verify("bob", &codes.sms_code))
            .await
            .unwrap()
            .into_inner()
            .valid
    );
    // The app's code works too.
    assert!(
        api.verify_token(verify("bob", &codes.totp_code))
            .await
            .unwrap()
            .into_inner()
            .valid
    );

    let call = api
        .send_voice(SendVoiceRequest {
            user_id: "bob".into(),
            force: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(call.sent);
}

#[tokio::test]
async fn malformed_fields_are_invalid_argument_without_calling_authy() {
    let app = spawn_app().await;
    enroll(&app, "carol").await;
    let before = reqwest::get(format!("{}/__sim/stats", app.sim))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["total"]
        .as_u64()
        .unwrap();
    let mut api = app.api.clone();

    let e = api
        .enroll(EnrollRequest {
            user_id: "bad id".into(),
            email: "not-an-email".into(),
            phone_number: "12".into(),
            country_code: 0,
            send_install_link: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let (reason, fields) = details(&e);
    assert_eq!(reason, "INVALID_ARGUMENT");
    assert_eq!(fields, ["user_id", "email", "phone_number", "country_code"]);

    for token in ["12345", "1234567890123", "12a456"] {
        let e = api.verify_token(verify("carol", token)).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(details(&e).1, ["token"]);
        assert!(
            !e.message().contains(token),
            "the token is echoed: {}",
            e.message()
        );
    }

    let mut big = approval("carol", "");
    big.message = "x".repeat(145);
    big.details = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
    big.ttl = Some(prost_types::Duration {
        seconds: 86_401,
        nanos: 0,
    });
    let e = api.request_approval(big).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(details(&e).1, ["message", "details", "ttl"]);

    let after = reqwest::get(format!("{}/__sim/stats", app.sim))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["total"]
        .as_u64()
        .unwrap();
    assert_eq!(before, after, "Authy was called for a malformed request");
}

#[tokio::test]
async fn unknown_users_and_approvals_are_not_found() {
    let app = spawn_app().await;
    let mut api = app.api.clone();
    let user = |e: tonic::Status| {
        assert_eq!(e.code(), Code::NotFound);
        assert_eq!(details(&e).0, "USER_NOT_FOUND");
    };
    user(
        api.get_user(GetUserRequest {
            user_id: "ghost".into(),
        })
        .await
        .unwrap_err(),
    );
    user(
        api.verify_token(verify("ghost", "123456"))
            .await
            .unwrap_err(),
    );
    user(
        api.request_approval(approval("ghost", ""))
            .await
            .unwrap_err(),
    );
    user(
        api.unenroll(UnenrollRequest {
            user_id: "ghost".into(),
        })
        .await
        .unwrap_err(),
    );
    let id = uuid::Uuid::new_v4().to_string();
    let e = api
        .get_approval(GetApprovalRequest {
            approval_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), details(&e).0.as_str()),
        (Code::NotFound, "APPROVAL_NOT_FOUND")
    );
    let e = api
        .watch_approval(WatchApprovalRequest { approval_id: id })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test]
async fn unenroll_removes_at_authy_and_here() {
    let app = spawn_app().await;
    enroll(&app, "dave").await;
    let mut api = app.api.clone();
    api.unenroll(UnenrollRequest {
        user_id: "dave".into(),
    })
    .await
    .unwrap();
    assert_eq!(app.sim_requests("users_remove").await, 1);
    let e = api
        .get_user(GetUserRequest {
            user_id: "dave".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test]
async fn too_many_wrong_tokens_is_resource_exhausted_with_retry_info() {
    use tonic_types::StatusExt;
    let app = spawn_app().await;
    enroll(&app, "erin").await;
    let mut api = app.api.clone();
    for _ in 0..10 {
        assert!(
            !api.verify_token(verify("erin", "0000001"))
                .await
                .unwrap()
                .into_inner()
                .valid
        );
    }
    let e = api
        .verify_token(verify("erin", "0000001"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert_eq!(details(&e).0, "TOO_MANY_ATTEMPTS");
    let delay = e
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay);
    assert!(delay.is_some_and(|d| d > Duration::ZERO));
}

#[tokio::test]
async fn authy_down_is_unavailable() {
    let app = spawn_app().await;
    enroll(&app, "fay").await;
    app.sim_fault(serde_json::json!({"endpoint": "*", "kind": "status", "status": 503}))
        .await;
    let e = app
        .api
        .clone()
        .verify_token(verify("fay", "1234567"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), details(&e).0.as_str()),
        (Code::Unavailable, "AUTHY_UNAVAILABLE")
    );
    app.sim_clear_faults().await;
    app.sim_fault(serde_json::json!({"endpoint": "*", "kind": "status", "status": 429}))
        .await;
    let e = app
        .api
        .clone()
        .send_sms(SendSmsRequest {
            user_id: "fay".into(),
            force: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
}

#[tokio::test]
async fn a_locked_database_is_unavailable_with_retry_info_and_the_retry_succeeds() {
    // Another process holds SQLite's write lock (a backup tool, an operator's shell): authyd's
    // write waits its busy timeout, then the caller gets UNAVAILABLE STORE_UNAVAILABLE with a
    // RetryInfo, not INTERNAL, and nothing about the database in the message. Once the lock is
    // gone the same call succeeds. Except after a push went out: a retry would send a second
    // one, so a RequestApproval whose approval cannot be stored is INTERNAL.
    use sqlx::Connection as _;
    use tonic_types::StatusExt as _;
    let app = spawn_app().await;
    enroll(&app, "hal").await;
    let db = app.data_dir.join("authyd.sqlite3");
    let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let (mut api, mut api2) = (app.api.clone(), app.api.clone());
    let (enrolled, requested) = tokio::join!(
        api.enroll(support::enroll_request("gus")),
        api2.request_approval(approval("hal", "locked-1")),
    );
    let pushed = requested.unwrap_err();
    assert_eq!(
        (pushed.code(), details(&pushed).0.as_str()),
        (Code::Internal, "INTERNAL"),
        "{pushed:?}"
    );
    let e = enrolled.unwrap_err();
    assert_eq!(
        (e.code(), details(&e).0.as_str()),
        (Code::Unavailable, "STORE_UNAVAILABLE"),
        "{e:?}"
    );
    assert_eq!(
        e.get_error_details()
            .retry_info()
            .expect("RetryInfo")
            .retry_delay,
        Some(Duration::from_secs(1))
    );
    for leak in ["locked", "busy", "sqlite", "authyd.sqlite3"] {
        assert!(
            !e.message().to_lowercase().contains(leak),
            "{}",
            e.message()
        );
    }
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let user = enroll(&app, "gus").await;
    assert_eq!(user.user_id, "gus");
}

#[tokio::test]
async fn request_approval_is_idempotent_per_request_id() {
    let app = spawn_app().await;
    enroll(&app, "gus").await;
    let mut api = app.api.clone();
    let a = support::request_approval(&api, approval("gus", "login-1")).await;
    let b = support::request_approval(&api, approval("gus", "login-1")).await;
    assert_eq!(a.approval_id, b.approval_id);
    assert_eq!(a.state(), ApprovalState::Pending);
    assert_eq!(
        app.sim_requests("approval_create").await,
        1,
        "a retry sent a second push"
    );
    let mut other = approval("gus", "login-1");
    other.message = "Something else?".into();
    let e = api.request_approval(other).await.unwrap_err();
    assert_eq!(
        (e.code(), details(&e).0.as_str()),
        (Code::AlreadyExists, "REQUEST_ID_CONFLICT")
    );
    // Without a key, each request is a new push.
    let c = support::request_approval(&api, approval("gus", "")).await;
    assert_ne!(c.approval_id, a.approval_id);
}

#[tokio::test]
async fn get_approval_reads_authy_now_and_watch_streams_to_the_end() {
    let app = spawn_app().await;
    enroll(&app, "hal").await;
    let mut api = app.api.clone();
    let a = support::request_approval(&api, approval("hal", "")).await;
    let mut watch = api
        .watch_approval(WatchApprovalRequest {
            approval_id: a.approval_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap().approval.unwrap();
    assert_eq!(first.state(), ApprovalState::Pending);
    assert_eq!(
        first.details.get("ip").map(String::as_str),
        Some("10.0.0.1")
    );

    app.sandbox()
        .answer_approval(AnswerApprovalRequest {
            approval_id: a.approval_id.clone(),
            approve: false,
        })
        .await
        .unwrap();
    // A fresh read sees the answer at once, without waiting for the follower.
    let got = api
        .get_approval(GetApprovalRequest {
            approval_id: a.approval_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .approval
        .unwrap();
    assert_eq!(got.state(), ApprovalState::Denied);
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("a state change")
        .unwrap()
        .unwrap()
        .approval
        .unwrap();
    assert_eq!(next.state(), ApprovalState::Denied);
    assert!(
        watch.next().await.is_none(),
        "the stream ends after a terminal state"
    );

    // Answering again is refused; watching a finished approval yields it once and ends.
    let e = app
        .sandbox()
        .answer_approval(AnswerApprovalRequest {
            approval_id: a.approval_id.clone(),
            approve: true,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let mut again = api
        .watch_approval(WatchApprovalRequest {
            approval_id: a.approval_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again
            .next()
            .await
            .unwrap()
            .unwrap()
            .approval
            .unwrap()
            .state(),
        ApprovalState::Denied
    );
    assert!(again.next().await.is_none());
}

#[tokio::test]
async fn healthz_and_metrics_are_served_on_the_http_port() {
    let app = spawn_app().await;
    enroll(&app, "ivy").await;
    let _ = app
        .api
        .clone()
        .verify_token(verify("ivy", "1234567"))
        .await
        .unwrap();
    let health = reqwest::get(format!("http://{}/healthz", app.http_addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.text().await.unwrap().contains("\"serving\""));
    let metrics = reqwest::get(format!("http://{}/metrics", app.http_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "authyd_grpc_requests_total{method=\"VerifyToken\",code=\"OK\"}",
        "authyd_grpc_request_duration_seconds_bucket",
        "authyd_upstream_requests_total{endpoint=\"verify\",outcome=\"4xx\"}",
        "authyd_upstream_request_duration_seconds_bucket",
        "authyd_active_watchers",
        "authyd_pending_approvals_followed",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
}

#[tokio::test]
async fn grpc_health_reports_serving() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    let app = spawn_app().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    for service in ["", "authyd.v1.TwoFactorService"] {
        let status = HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
}

#[tokio::test]
async fn caller_deadlines_are_honoured_while_authy_is_slow() {
    let app = spawn_app().await;
    enroll(&app, "jon").await;
    app.sim_fault(serde_json::json!({"endpoint": "verify", "kind": "latency", "ms": 3000}))
        .await;
    let mut req = tonic::Request::new(verify("jon", "1234567"));
    req.set_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let e = app.api.clone().verify_token(req).await.unwrap_err();
    assert!(
        matches!(e.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{:?}: {}",
        e.code(),
        e.message()
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}
