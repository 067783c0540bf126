//! Caller credentials against a real authyd with caller authentication on (an external
//! simulator as "Authy", so not the sandbox): missing, unknown and revoked keys, scopes, admin,
//! open health and reflection, gRPC-Web through the layer, the caller's name in the audit trail,
//! and `authyd keys create|list|revoke` run as the binary against a running server's database.

mod support;

use std::process::Output;
use std::time::{Duration, Instant};

use authyd::app::keys::{CallerKeys, KEY_CACHE_TTL};
use authyd::app::twofactor::Caller;
use authyd::domain::{KeyName, Scopes};
use authyd::grpc::pb::v1::{
    GetUserRequest, GetUserResponse, RequestApprovalRequest, SendSmsRequest, VerifyTokenRequest,
    WatchApprovalRequest,
};
use authyd::secret::ApiKey;
use authyd::sim::{self, SimConfig, SimHandle};
use authyd::store::{AuditAction, AuditQuery, SqliteStore, Store};
use prost::Message;
use support::{TestApp, details, enroll_request, fresh_dir, spawn_app_against_with};
use tonic::{Code, Request};

const UPSTREAM_KEY: &str = "auth-tests-key";

/// authyd requiring caller keys, in front of its own simulator (kept alive by the caller).
async fn spawn_with_auth() -> (TestApp, SimHandle) {
    let sim = sim::start(
        SimConfig::new(ApiKey::new(UPSTREAM_KEY).expect("key")),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("sim");
    let app = spawn_app_against_with(&sim.base_url(), UPSTREAM_KEY, fresh_dir("auth"), |s| {
        s.caller_auth = true;
        s.cors_origins = vec!["https://app.example".into()];
    })
    .await;
    (app, sim)
}

/// The app's database, as `authyd keys` opens it (another pool, as another process would).
async fn keys_of(app: &TestApp) -> CallerKeys<SqliteStore> {
    let store = SqliteStore::open(&app.data_dir.join("authyd.sqlite3"))
        .await
        .expect("open the app's database");
    CallerKeys::new(store)
}

async fn create_key(app: &TestApp, name: &str, scopes: &str) -> String {
    let created = keys_of(app)
        .await
        .create(
            &Caller {
                name: "test-operator".into(),
            },
            KeyName::parse(name).expect("name"),
            Scopes::parse(scopes).expect("scopes"),
        )
        .await
        .expect("create key");
    created.key.expose().to_owned()
}

fn bearer<T>(message: T, key: &str) -> Request<T> {
    let mut req = Request::new(message);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {key}").parse().expect("metadata"),
    );
    req
}

fn sms(user_id: &str) -> SendSmsRequest {
    SendSmsRequest {
        user_id: user_id.into(),
        force: true,
        ..Default::default()
    }
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code) -> String {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    let (reason, _) = details(&status);
    let expected = match code {
        Code::Unauthenticated => "UNAUTHENTICATED",
        Code::PermissionDenied => "PERMISSION_DENIED",
        other => panic!("not an auth code: {other:?}"),
    };
    assert_eq!(reason, expected);
    status.message().to_owned()
}

#[tokio::test]
async fn calls_without_a_valid_key_are_unauthenticated_before_reaching_authy() {
    let (app, _sim) = spawn_with_auth().await;
    let mut api = app.api.clone();
    let _real = create_key(&app, "real", "admin").await;

    // No key at all.
    let message = assert_refused(
        api.enroll(enroll_request("alice")).await,
        Code::Unauthenticated,
    );
    assert!(message.contains("credentials"), "{message}");
    // Made-up keys, in both header forms, and other authorization schemes.
    let fake = "authyd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_refused(
        api.enroll(bearer(enroll_request("alice"), fake)).await,
        Code::Unauthenticated,
    );
    let mut req = Request::new(enroll_request("alice"));
    req.metadata_mut()
        .insert("x-api-key", "not-a-key".parse().unwrap());
    assert_refused(api.enroll(req).await, Code::Unauthenticated);
    let mut req = Request::new(enroll_request("alice"));
    req.metadata_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    assert_refused(api.enroll(req).await, Code::Unauthenticated);
    // Every kind of call, streams included.
    assert_refused(
        api.get_user(GetUserRequest {
            user_id: "alice".into(),
        })
        .await,
        Code::Unauthenticated,
    );
    assert_refused(
        api.watch_approval(WatchApprovalRequest {
            approval_id: uuid::Uuid::new_v4().to_string(),
        })
        .await,
        Code::Unauthenticated,
    );
    // Authy never heard of any of it.
    assert_eq!(app.sim_requests("users_new").await, 0);
}

#[tokio::test]
async fn scopes_are_enforced_and_admin_grants_everything() {
    let (app, _sim) = spawn_with_auth().await;
    let mut api = app.api.clone();
    let verify = create_key(&app, "verifier", "verify").await;
    let enroll = create_key(&app, "enroller", "enroll").await;
    let admin = create_key(&app, "root", "admin").await;

    // A verify key cannot enroll: PERMISSION_DENIED, naming the missing scope.
    let message = assert_refused(
        api.enroll(bearer(enroll_request("bob"), &verify)).await,
        Code::PermissionDenied,
    );
    assert!(message.contains("enroll"), "{message}");
    assert_eq!(app.sim_requests("users_new").await, 0);

    // The right scope: OK (here as x-api-key).
    let mut req = Request::new(enroll_request("bob"));
    req.metadata_mut()
        .insert("x-api-key", enroll.parse().unwrap());
    let user = api.enroll(req).await.expect("enroll key enrolls");
    assert!(user.into_inner().user.unwrap().authy_id > 0);
    api.get_user(bearer(
        GetUserRequest {
            user_id: "bob".into(),
        },
        &enroll,
    ))
    .await
    .expect("enroll scope covers GetUser");

    // verify covers SendSms and VerifyToken, not approvals; enroll does not cover SendSms.
    let sent = api
        .send_sms(bearer(sms("bob"), &verify))
        .await
        .expect("verify key sends SMS")
        .into_inner();
    assert!(sent.sent);
    assert_refused(
        api.send_sms(bearer(sms("bob"), &enroll)).await,
        Code::PermissionDenied,
    );
    let approval = RequestApprovalRequest {
        user_id: "bob".into(),
        message: "Log in?".into(),
        ..Default::default()
    };
    assert_refused(
        api.request_approval(bearer(approval.clone(), &verify))
            .await,
        Code::PermissionDenied,
    );

    // admin: everything.
    api.enroll(bearer(enroll_request("carol"), &admin))
        .await
        .expect("admin enrolls");
    api.send_sms(bearer(sms("carol"), &admin))
        .await
        .expect("admin sends SMS");
    api.request_approval(bearer(approval, &admin))
        .await
        .expect("admin requests approvals");
    let check = api
        .verify_token(bearer(
            VerifyTokenRequest {
                user_id: "carol".into(),
                token: "0000000".into(),
                action: String::new(),
            },
            &admin,
        ))
        .await
        .expect("admin verifies");
    assert!(!check.into_inner().valid);
}

#[tokio::test]
async fn a_revoked_key_stops_working_within_seconds() {
    let (app, _sim) = spawn_with_auth().await;
    let mut api = app.api.clone();
    let key = create_key(&app, "short-lived", "enroll").await;
    api.enroll(bearer(enroll_request("dan"), &key))
        .await
        .expect("works before revocation");

    // Revoked through another handle on the database, as `authyd keys revoke` does.
    keys_of(&app)
        .await
        .revoke(
            &Caller {
                name: "test-operator".into(),
            },
            &KeyName::parse("short-lived").unwrap(),
        )
        .await
        .expect("revoke");
    let revoked_at = Instant::now();
    let get = || {
        bearer(
            GetUserRequest {
                user_id: "dan".into(),
            },
            &key,
        )
    };
    loop {
        match api.get_user(get()).await {
            Ok(_) => {
                assert!(
                    revoked_at.elapsed() < KEY_CACHE_TTL + Duration::from_secs(2),
                    "the revoked key still works"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => {
                assert_refused(Err::<(), _>(status), Code::Unauthenticated);
                break;
            }
        }
    }
    // And stays refused.
    assert_refused(api.get_user(get()).await, Code::Unauthenticated);
}

#[tokio::test]
async fn health_and_reflection_stay_open() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1;

    let (app, _sim) = spawn_with_auth().await;
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
            .expect("health needs no key")
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
    }
    let mut reflection = v1::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1::ServerReflectionRequest {
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
        ..Default::default()
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection needs no key")
        .into_inner();
    assert!(answers.message().await.unwrap().is_some());
}

#[tokio::test]
async fn the_audit_trail_names_the_caller() {
    let (app, _sim) = spawn_with_auth().await;
    let key = create_key(&app, "billing-svc", "enroll,verify").await;
    let mut api = app.api.clone();
    api.enroll(bearer(enroll_request("erin"), &key))
        .await
        .unwrap();
    api.send_sms(bearer(sms("erin"), &key)).await.unwrap();

    let store = SqliteStore::open(&app.data_dir.join("authyd.sqlite3"))
        .await
        .unwrap();
    let events = store
        .audit_events(AuditQuery {
            user_id: None,
            limit: 100,
        })
        .await
        .unwrap();
    let erins: Vec<(AuditAction, &str)> = events
        .iter()
        .filter(|e| e.user_id.as_ref().is_some_and(|u| u.as_str() == "erin"))
        .map(|e| (e.action, e.caller.as_str()))
        .collect();
    assert_eq!(
        erins,
        [
            (AuditAction::SendSms, "billing-svc"),
            (AuditAction::Enroll, "billing-svc")
        ]
    );
    let created = events
        .iter()
        .find(|e| e.action == AuditAction::CreateKey)
        .expect("key creation audited");
    assert_eq!(created.caller, "test-operator");
    assert_eq!(created.subject.as_deref(), Some("billing-svc"));
    // The key itself is nowhere in the trail.
    assert!(events.iter().all(|e| !format!("{e:?}").contains(&key[7..])));
}

/// One gRPC-Web call over HTTP/1.1, as a browser makes it; returns the response.
async fn grpc_web(
    addr: std::net::SocketAddr,
    path: &str,
    message: &impl Message,
    key: Option<&str>,
) -> reqwest::Response {
    let payload = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&payload);
    let mut req = reqwest::Client::builder()
        .http1_only()
        .build()
        .unwrap()
        .post(format!("http://{addr}{path}"))
        .header("origin", "https://app.example")
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1");
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    req.body(body).send().await.unwrap()
}

#[tokio::test]
async fn grpc_web_and_cors_preflights_go_through_the_auth_layer() {
    let (app, _sim) = spawn_with_auth().await;
    let key = create_key(&app, "browser", "enroll").await;
    app.api
        .clone()
        .enroll(bearer(enroll_request("web"), &key))
        .await
        .unwrap();
    let path = "/authyd.v1.TwoFactorService/GetUser";
    let get = GetUserRequest {
        user_id: "web".into(),
    };

    // A preflight carries no credentials: CORS answers it before keys are looked at.
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{}{path}", app.grpc_addr),
        )
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-grpc-web,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://app.example")
    );

    // Without a key: a gRPC-Web UNAUTHENTICATED (16), with CORS headers so the page can read it.
    let refused = grpc_web(app.grpc_addr, path, &get, None).await;
    assert_eq!(refused.status(), 200);
    assert_eq!(
        refused
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap()),
        Some("16")
    );
    assert!(
        refused
            .headers()
            .contains_key("access-control-allow-origin")
    );

    // With the key: the answer.
    let ok = grpc_web(app.grpc_addr, path, &get, Some(&key)).await;
    assert_eq!(ok.status(), 200);
    let bytes = ok.bytes().await.unwrap();
    assert_eq!(bytes[0], 0, "first frame is data");
    let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    let reply = GetUserResponse::decode(&bytes[5..5 + len]).unwrap();
    assert_eq!(reply.user.unwrap().user_id, "web");
}

// ---------------------------------------------------------------------------------------------
// The `authyd keys` command line

/// Runs `authyd keys <args> --data-dir <dir>`.
async fn keys_cli(dir: &std::path::Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_authyd"))
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("AUTHYD_DATABASE_URL")
        .env_remove("RUST_BACKTRACE")
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run authyd keys")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn keys_cli_create_list_revoke_against_a_running_server() {
    let (app, _sim) = spawn_with_auth().await;
    let dir = app.data_dir.clone();
    let mut api = app.api.clone();

    // create: the key alone on the last line of stdout; it works at once on the running server.
    let out = keys_cli(
        &dir,
        &["create", "--name", "ci-bot", "--scopes", "enroll,verify"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let key = stdout.lines().last().expect("a last line").to_owned();
    assert!(key.starts_with("authyd_") && key.len() == 50, "{stdout:?}");
    assert!(!text(&out.stderr).contains(&key), "key echoed on stderr");
    api.enroll(bearer(enroll_request("fay"), &key))
        .await
        .expect("a CLI-made key works");

    // The same name again: refused, clearly.
    let out = keys_cli(&dir, &["create", "--name", "ci-bot", "--scopes", "admin"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("authyd_"), "a key was shown");
    // Bad flags are refused before anything is stored.
    let out = keys_cli(&dir, &["create", "--name", "x y", "--scopes", "verify"]).await;
    assert!(!out.status.success());
    let out = keys_cli(&dir, &["create", "--name", "x", "--scopes", "root"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("valid scopes are"));

    // list: names, scopes, status; never keys or hashes.
    let out = keys_cli(&dir, &["list"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let row = listing
        .lines()
        .find(|l| l.starts_with("ci-bot "))
        .unwrap_or_else(|| panic!("ci-bot not listed: {listing}"));
    assert!(
        row.contains("enroll,verify") && row.contains("active"),
        "{row}"
    );
    assert!(!listing.contains(&key[7..]), "the key is listed");
    assert_eq!(listing.lines().count(), 2, "{listing}");

    // revoke: the server refuses the key within seconds; list shows it revoked.
    let out = keys_cli(&dir, &["revoke", "--name", "ci-bot"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let revoked_at = Instant::now();
    let get = || {
        bearer(
            GetUserRequest {
                user_id: "fay".into(),
            },
            &key,
        )
    };
    while api.get_user(get()).await.is_ok() {
        assert!(
            revoked_at.elapsed() < KEY_CACHE_TTL + Duration::from_secs(2),
            "the revoked key still works"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_refused(api.get_user(get()).await, Code::Unauthenticated);
    let out = keys_cli(&dir, &["list"]).await;
    let listing = text(&out.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("ci-bot ") && l.contains("revoked")),
        "{listing}"
    );
    let out = keys_cli(&dir, &["revoke", "--name", "nobody"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no key named `nobody`"),
        "{}",
        text(&out.stderr)
    );

    // Both commands are in the audit trail.
    let store = SqliteStore::open(&dir.join("authyd.sqlite3"))
        .await
        .unwrap();
    let events = store
        .audit_events(AuditQuery {
            user_id: None,
            limit: 100,
        })
        .await
        .unwrap();
    let key_events: Vec<(AuditAction, &str)> = events
        .iter()
        .filter(|e| e.subject.as_deref() == Some("ci-bot"))
        .map(|e| (e.action, e.outcome.as_str()))
        .collect();
    assert_eq!(
        key_events,
        [
            (AuditAction::RevokeKey, "ok"),
            (AuditAction::CreateKey, "already_exists"),
            (AuditAction::CreateKey, "ok"),
        ]
    );
    assert!(
        events
            .iter()
            .filter(|e| e.subject.as_deref() == Some("ci-bot"))
            .all(|e| e.caller.starts_with("cli"))
    );
}
