//! QR registration against a real authyd: the token and QR code StartRegistration returns (the
//! PNG decoded, the JWT verified with the key), WatchRegistration through pending to completed,
//! expired and failed, one follower for many watchers, restarts, the sandbox control, and the
//! user being enrolled afterwards.

mod support;

use std::time::{Duration, Instant};

use authyd::grpc::pb::sandbox::v1::CompleteRegistrationRequest;
use authyd::grpc::pb::v1::two_factor_service_client::TwoFactorServiceClient;
use authyd::grpc::pb::v1::{
    GetUserRequest, RegistrationState, RequestApprovalRequest, StartRegistrationRequest,
    StartRegistrationResponse, UnenrollRequest, WatchRegistrationRequest,
    WatchRegistrationResponse,
};
use authyd::secret::ApiKey;
use authyd::sim::{self, SimConfig, SimHandle};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use support::{TestApp, details, fresh_dir, spawn_app, spawn_app_against, spawn_app_against_with};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

const KEY: &str = "registration-test-key";

async fn external_sim() -> SimHandle {
    sim::start(
        SimConfig::new(ApiKey::new(KEY).expect("key")),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("sim")
}

fn start_request(user_id: &str, ttl_secs: Option<i64>) -> StartRegistrationRequest {
    StartRegistrationRequest {
        user_id: user_id.into(),
        ttl: ttl_secs.map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
    }
}

async fn start(app: &TestApp, user_id: &str, ttl_secs: Option<i64>) -> StartRegistrationResponse {
    app.api
        .clone()
        .start_registration(start_request(user_id, ttl_secs))
        .await
        .expect("start registration")
        .into_inner()
}

type Watch = tonic::Streaming<WatchRegistrationResponse>;

async fn watch(api: &TwoFactorServiceClient<Channel>, user_id: &str) -> Watch {
    api.clone()
        .watch_registration(WatchRegistrationRequest {
            user_id: user_id.into(),
        })
        .await
        .expect("watch registration")
        .into_inner()
}

async fn next(stream: &mut Watch) -> WatchRegistrationResponse {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a message in time")
        .expect("the stream has a message")
        .expect("not an error")
}

/// The stream ended with OK.
async fn ends(stream: &mut Watch) {
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the stream ends");
    assert!(end.is_none(), "ended with OK, got {end:?}");
}

/// What the Authy app does after scanning: the JWT goes to Authy (`/__sim/registrations/scan`).
async fn scan(sim: &str, jwt: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{sim}/__sim/registrations/scan"))
        .json(&json!({ "token": jwt }))
        .send()
        .await
        .expect("scan")
}

fn decode_qr_png(png: &[u8]) -> String {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("a PNG")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the PNG");
    grids[0].decode().expect("decodes").1
}

#[tokio::test]
async fn start_registration_returns_a_signed_token_and_its_qr_code() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-token")).await;
    let before = chrono::Utc::now();
    let r = start(&app, "ada:1@example", Some(300)).await;

    assert_eq!(r.uri, format!("authy://account?token={}", r.jwt));
    assert_eq!(
        decode_qr_png(&r.qr_png),
        r.uri,
        "the PNG encodes exactly the URI"
    );
    assert!(r.qr_svg.starts_with("<?xml") && r.qr_svg.trim_end().ends_with("</svg>"));

    let header = jsonwebtoken::decode_header(&r.jwt).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let claims = jsonwebtoken::decode::<Value>(
        &r.jwt,
        &DecodingKey::from_secret(KEY.as_bytes()),
        &Validation::new(Algorithm::HS256),
    )
    .expect("signed with the Authy API key")
    .claims;
    let iat = claims["iat"].as_i64().expect("integer iat");
    let exp = claims["exp"].as_i64().expect("integer exp");
    assert!(iat >= before.timestamp() && iat <= chrono::Utc::now().timestamp());
    // `iat` rounds down and `exp` up: the code lives at least the ttl asked for.
    assert!((300..=301).contains(&(exp - iat)), "{}", exp - iat);
    assert!(exp * 1000 >= before.timestamp_millis() + 300_000);
    assert_eq!(
        claims["iss"], "authyd-sim",
        "iss is the configured app name"
    );
    assert_eq!(
        claims["context"],
        json!({"custom_user_id": "ada:1@example", "authy_app_id": "100000"})
    );
    assert_eq!(r.expire_time.unwrap().seconds, exp);
    // A wrong key does not verify it.
    assert!(
        jsonwebtoken::decode::<Value>(
            &r.jwt,
            &DecodingKey::from_secret(b"another key"),
            &Validation::new(Algorithm::HS256),
        )
        .is_err()
    );
    // The default ttl is 5 minutes.
    let d = start(&app, "ada-default", None).await;
    let claims = jsonwebtoken::decode::<Value>(
        &d.jwt,
        &DecodingKey::from_secret(KEY.as_bytes()),
        &Validation::new(Algorithm::HS256),
    )
    .unwrap()
    .claims;
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!((300..=301).contains(&lifetime), "{lifetime}");
}

#[tokio::test]
async fn scanning_completes_the_registration_and_enrolls_the_user() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-complete")).await;
    let r = start(&app, "grace", Some(120)).await;
    let mut stream = watch(&app.api, "grace").await;
    let first = next(&mut stream).await;
    assert_eq!(first.state(), RegistrationState::Pending);
    assert_eq!(first.user, None);
    assert_eq!(first.expire_time, r.expire_time);

    let scanned = scan(&app.sim, &r.jwt).await;
    assert_eq!(scanned.status(), 200);
    let done = next(&mut stream).await;
    assert_eq!(done.state(), RegistrationState::Completed);
    let user = done.user.expect("the enrolled user");
    assert_eq!(user.user_id, "grace");
    assert!(user.authy_id > 0);
    assert!(user.registered, "the Authy app is registered");
    assert!(!user.devices.is_empty());
    ends(&mut stream).await;

    // The user is enrolled: GetUser, and OneTouch pushes work.
    let got = app
        .api
        .clone()
        .get_user(GetUserRequest {
            user_id: "grace".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(got.authy_id, user.authy_id);
    let approval = support::request_approval(
        &app.api,
        RequestApprovalRequest {
            user_id: "grace".into(),
            message: "Log in?".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(!approval.approval_id.is_empty());

    // Watching afterwards gives the completed registration alone; starting again is refused.
    let mut again = watch(&app.api, "grace").await;
    let msg = next(&mut again).await;
    assert_eq!(msg.state(), RegistrationState::Completed);
    assert_eq!(msg.user.unwrap().authy_id, user.authy_id);
    ends(&mut again).await;
    let refused = app
        .api
        .clone()
        .start_registration(start_request("grace", None))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(details(&refused).0, "USER_ALREADY_ENROLLED");

    // Unenrolling forgets the registration; the user can register again.
    app.api
        .clone()
        .unenroll(UnenrollRequest {
            user_id: "grace".into(),
        })
        .await
        .unwrap();
    let gone = app
        .api
        .clone()
        .watch_registration(WatchRegistrationRequest {
            user_id: "grace".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(details(&gone).0, "REGISTRATION_NOT_FOUND");
    start(&app, "grace", Some(60)).await;
}

#[tokio::test]
async fn sandbox_complete_registration_is_seen_at_once() {
    let dir = fresh_dir("reg-sandbox");
    let mut settings = support::settings(&dir, authyd::config::Upstream::Sandbox);
    // Far longer than the test: COMPLETED must come from the sandbox's refresh, not a poll.
    settings.poll_interval = Duration::from_secs(120);
    let app = support::start(settings, dir).await;
    let mut sandbox = app.sandbox();

    let missing = sandbox
        .complete_registration(CompleteRegistrationRequest {
            user_id: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(details(&missing).0, "REGISTRATION_NOT_FOUND");

    start(&app, "hopper", Some(120)).await;
    let mut stream = watch(&app.api, "hopper").await;
    assert_eq!(next(&mut stream).await.state(), RegistrationState::Pending);
    let started = Instant::now();
    sandbox
        .complete_registration(CompleteRegistrationRequest {
            user_id: "hopper".into(),
        })
        .await
        .expect("complete");
    let done = next(&mut stream).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(done.state(), RegistrationState::Completed);
    assert!(done.user.unwrap().registered);
    ends(&mut stream).await;

    let twice = sandbox
        .complete_registration(CompleteRegistrationRequest {
            user_id: "hopper".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert_eq!(details(&twice).0, "REGISTRATION_NOT_PENDING");
}

#[tokio::test]
async fn registration_expires_locally_while_authy_fails() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-expire")).await;
    let asked = chrono::Utc::now();
    let r = start(&app, "lin", Some(2)).await;
    let expire_ms = r.expire_time.unwrap().seconds * 1000;
    assert!(
        expire_ms >= asked.timestamp_millis() + 2_000,
        "lives at least the 2 s asked for"
    );
    app.sim_fault(json!({"endpoint": "registration_status", "kind": "status", "status": 503}))
        .await;
    let mut stream = watch(&app.api, "lin").await;
    assert_eq!(next(&mut stream).await.state(), RegistrationState::Pending);
    let expired = next(&mut stream).await;
    assert_eq!(expired.state(), RegistrationState::Expired);
    assert_eq!(expired.expire_time, r.expire_time);
    assert!(chrono::Utc::now().timestamp() >= r.expire_time.unwrap().seconds);
    ends(&mut stream).await;
    assert!(app.sim_requests("registration_status").await > 0);
    // An expired token no longer scans at Authy; a new registration can be started.
    app.sim_clear_faults().await;
    assert_eq!(scan(&app.sim, &r.jwt).await.status(), 400);
    start(&app, "lin", Some(60)).await;
    let mut stream = watch(&app.api, "lin").await;
    assert_eq!(next(&mut stream).await.state(), RegistrationState::Pending);
}

#[tokio::test]
async fn another_authy_status_ends_the_registration_as_failed() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-failed")).await;
    start(&app, "mae", Some(120)).await;
    let mut stream = watch(&app.api, "mae").await;
    assert_eq!(next(&mut stream).await.state(), RegistrationState::Pending);
    let r = reqwest::Client::new()
        .post(format!("{}/__sim/registrations/mae/status", app.sim))
        .json(&json!({"status": "rejected"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let failed = next(&mut stream).await;
    assert_eq!(failed.state(), RegistrationState::Failed);
    assert_eq!(failed.user, None);
    ends(&mut stream).await;
    let not_enrolled = app
        .api
        .clone()
        .get_user(GetUserRequest {
            user_id: "mae".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_enrolled.code(), Code::NotFound);
}

#[tokio::test]
async fn many_watchers_share_one_follower() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-fanout")).await;
    let r = start(&app, "ken", Some(120)).await;
    let mut streams = Vec::new();
    for _ in 0..50 {
        let mut s = watch(&app.api, "ken").await;
        assert_eq!(next(&mut s).await.state(), RegistrationState::Pending);
        streams.push(s);
    }
    let polls_before = app.sim_requests("registration_status").await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let polls = app.sim_requests("registration_status").await - polls_before;
    // Poll interval 200 ms ± 10 %: about 5 reads in a second for all 50 watchers together (one
    // follower); 50 followers would make about 250.
    assert!(
        (1..=8).contains(&polls),
        "{polls} registration reads in 1 s"
    );

    assert_eq!(scan(&app.sim, &r.jwt).await.status(), 200);
    for mut s in streams {
        let done = next(&mut s).await;
        assert_eq!(done.state(), RegistrationState::Completed);
        ends(&mut s).await;
    }
}

#[tokio::test]
async fn starting_again_moves_the_expiry_for_every_watcher() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-restart-token")).await;
    let first = start(&app, "ida", Some(3)).await;
    let mut stream = watch(&app.api, "ida").await;
    assert_eq!(next(&mut stream).await.expire_time, first.expire_time);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = start(&app, "ida", Some(600)).await;
    assert!(second.expire_time.unwrap().seconds > first.expire_time.unwrap().seconds);
    let moved = next(&mut stream).await;
    assert_eq!(moved.state(), RegistrationState::Pending);
    assert_eq!(moved.expire_time, second.expire_time);
    // The first deadline passes without expiring the registration.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(scan(&app.sim, &second.jwt).await.status(), 200);
    assert_eq!(
        next(&mut stream).await.state(),
        RegistrationState::Completed
    );
}

#[tokio::test]
async fn a_scan_nobody_watched_completes_when_the_user_is_next_named() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-unwatched")).await;
    let r = start(&app, "joan", Some(120)).await;
    assert_eq!(scan(&app.sim, &r.jwt).await.status(), 200);
    let user = app
        .api
        .clone()
        .get_user(GetUserRequest {
            user_id: "joan".into(),
        })
        .await
        .expect("the scan completed the registration")
        .into_inner()
        .user
        .unwrap();
    assert!(user.registered);
}

#[tokio::test]
async fn a_pending_registration_survives_a_restart_and_reports_the_scan_made_meanwhile() {
    let sim = external_sim().await;
    let dir = fresh_dir("reg-restart");
    let first = spawn_app_against(&sim.base_url(), KEY, dir.clone()).await;
    let r = start(&first, "kay", Some(120)).await;
    first.stop().await.expect("graceful stop");
    // While authyd is down, the user scans.
    assert_eq!(scan(&sim.base_url(), &r.jwt).await.status(), 200);

    let second = spawn_app_against(&sim.base_url(), KEY, dir).await;
    let mut stream = watch(&second.api, "kay").await;
    let mut states = vec![next(&mut stream).await.state()];
    if states[0] == RegistrationState::Pending {
        states.push(next(&mut stream).await.state());
    }
    assert_eq!(states.last(), Some(&RegistrationState::Completed));
    ends(&mut stream).await;
}

#[tokio::test]
async fn malformed_requests_are_refused_without_calling_authy() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-invalid")).await;
    let cases: [(StartRegistrationRequest, &[&str]); 5] = [
        (start_request("", None), &["user_id"]),
        (start_request("ok", Some(0)), &["ttl"]),
        (start_request("ok", Some(3601)), &["ttl"]),
        (
            StartRegistrationRequest {
                user_id: "bad id!".into(),
                ttl: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 500_000_000,
                }),
            },
            &["user_id", "ttl"],
        ),
        (start_request("ok", Some(-5)), &["ttl"]),
    ];
    for (req, fields) in cases {
        let e = app.api.clone().start_registration(req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        let (reason, got) = details(&e);
        assert_eq!(reason, "INVALID_ARGUMENT");
        assert_eq!(got, fields);
    }
    let unknown = app
        .api
        .clone()
        .watch_registration(WatchRegistrationRequest {
            user_id: "never-started".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(details(&unknown).0, "REGISTRATION_NOT_FOUND");
    let bad = app
        .api
        .clone()
        .watch_registration(WatchRegistrationRequest {
            user_id: "no spaces".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(details(&bad).1, ["user_id"]);
    assert_eq!(app.sim_requests("registration_status").await, 0);
}

#[tokio::test]
async fn registration_needs_the_register_scope() {
    use authyd::store::{NewCallerKey, Store};
    let sim = external_sim().await;
    let dir = fresh_dir("reg-scope");
    let app = spawn_app_against_with(&sim.base_url(), KEY, dir.clone(), |s| {
        s.caller_auth = true;
    })
    .await;
    let store = authyd::store::SqliteStore::open(&dir.join("authyd.sqlite3"))
        .await
        .unwrap();
    let mut keys = Vec::new();
    for (name, scopes) in [("verifier", "verify"), ("registrar", "register")] {
        let key = authyd::secret::CallerKey::generate();
        store
            .create_caller_key(&NewCallerKey {
                name: authyd::domain::KeyName::parse(name).unwrap(),
                key_hash: authyd::secret::KeyHash::of(key.expose()),
                scopes: authyd::domain::Scopes::parse(scopes).unwrap(),
                create_time: chrono::Utc::now(),
            })
            .await
            .unwrap();
        keys.push(key);
    }
    let call = |key: &authyd::secret::CallerKey| {
        let mut req = tonic::Request::new(start_request("pat", Some(60)));
        req.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", key.expose()).parse().unwrap(),
        );
        let mut api = app.api.clone();
        async move { api.start_registration(req).await }
    };
    let denied = call(&keys[0]).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    call(&keys[1])
        .await
        .expect("the register scope may start a registration");
}

#[tokio::test]
async fn shutdown_ends_registration_watches_with_unavailable() {
    let app = spawn_app().await;
    start(&app, "zed", Some(120)).await;
    let mut stream = watch(&app.api, "zed").await;
    assert_eq!(next(&mut stream).await.state(), RegistrationState::Pending);
    let stopping = tokio::spawn(app.stop());
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the stream ends");
    match end {
        Some(Err(status)) => assert_eq!(status.code(), Code::Unavailable),
        other => panic!("expected UNAVAILABLE, got {other:?}"),
    }
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn enroll_waits_for_a_pending_registration_and_then_returns_its_user() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-enroll")).await;
    let r = start(&app, "ivy", Some(120)).await;
    let refused = app
        .api
        .clone()
        .enroll(support::enroll_request("ivy"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(details(&refused).0, "REGISTRATION_PENDING");
    // Scanned while nobody watched: Enroll finds the registered user instead of making another.
    assert_eq!(scan(&app.sim, &r.jwt).await.status(), 200);
    let user = app
        .api
        .clone()
        .enroll(support::enroll_request("ivy"))
        .await
        .expect("enroll after the scan")
        .into_inner()
        .user
        .unwrap();
    assert!(user.registered);
    assert_eq!(
        app.sim_requests("users_new").await,
        0,
        "no second Authy user"
    );
}

#[tokio::test]
async fn a_scan_made_while_authyd_was_down_wins_over_expiry_at_restart() {
    let sim = external_sim().await;
    let dir = fresh_dir("reg-restart-late");
    let first = spawn_app_against(&sim.base_url(), KEY, dir.clone()).await;
    let r = start(&first, "lou", Some(2)).await;
    first.stop().await.expect("graceful stop");
    assert_eq!(scan(&sim.base_url(), &r.jwt).await.status(), 200);
    // Back only after the token's expiry.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let second = spawn_app_against(&sim.base_url(), KEY, dir).await;
    let mut stream = watch(&second.api, "lou").await;
    let mut last = next(&mut stream).await;
    if last.state() == RegistrationState::Pending {
        last = next(&mut stream).await;
    }
    assert_eq!(last.state(), RegistrationState::Completed);
    assert!(last.user.is_some());
}

#[tokio::test]
async fn after_unenroll_a_new_registration_waits_for_a_new_scan() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-again")).await;
    let r = start(&app, "max", Some(120)).await;
    assert_eq!(scan(&app.sim, &r.jwt).await.status(), 200);
    let mut stream = watch(&app.api, "max").await;
    let mut done = next(&mut stream).await;
    if done.state() == RegistrationState::Pending {
        done = next(&mut stream).await;
    }
    let old_id = done.user.unwrap().authy_id;
    app.api
        .clone()
        .unenroll(UnenrollRequest {
            user_id: "max".into(),
        })
        .await
        .unwrap();
    // Authy still answers "completed" (with the removed user) for this user id.
    let r = start(&app, "max", Some(120)).await;
    let mut stream = watch(&app.api, "max").await;
    assert_eq!(next(&mut stream).await.state(), RegistrationState::Pending);
    let early = tokio::time::timeout(Duration::from_millis(800), stream.next()).await;
    assert!(
        early.is_err(),
        "nothing happens before the new scan: {early:?}"
    );
    assert_eq!(scan(&app.sim, &r.jwt).await.status(), 200);
    let done = next(&mut stream).await;
    assert_eq!(done.state(), RegistrationState::Completed);
    assert_ne!(done.user.unwrap().authy_id, old_id);
}

#[tokio::test]
async fn a_completed_registration_is_shown_while_authy_is_unreachable() {
    let sim = external_sim().await;
    let app = spawn_app_against(&sim.base_url(), KEY, fresh_dir("reg-offline")).await;
    let r = start(&app, "nia", Some(120)).await;
    assert_eq!(scan(&app.sim, &r.jwt).await.status(), 200);
    let mut stream = watch(&app.api, "nia").await;
    let mut done = next(&mut stream).await;
    if done.state() == RegistrationState::Pending {
        done = next(&mut stream).await;
    }
    let online = done.user.expect("user");
    app.sim_fault(json!({"endpoint": "users_status", "kind": "status", "status": 503}))
        .await;
    let mut again = watch(&app.api, "nia").await;
    let msg = next(&mut again).await;
    assert_eq!(msg.state(), RegistrationState::Completed);
    let offline = msg.user.expect("the stored user, though Authy is down");
    assert_eq!(offline.authy_id, online.authy_id);
    assert_eq!(offline.masked_phone, online.masked_phone);
    assert!(offline.registered);
    assert!(offline.devices.is_empty(), "no live device list");
    ends(&mut again).await;
}
