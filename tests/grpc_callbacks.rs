//! OneTouch callbacks against a real authyd: the simulator's signed callbacks (POST and GET)
//! reaching watchers without polling, and hand-made callbacks that are forged, stale, replayed,
//! signed for another URL, malformed, for an unknown approval, or for one already expired.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use authyd::config::{CallbackUrl, Upstream};
use authyd::grpc::pb::sandbox::v1::AnswerApprovalRequest;
use authyd::grpc::pb::v1::two_factor_service_client::TwoFactorServiceClient;
use authyd::grpc::pb::v1::{
    ApprovalState, GetApprovalRequest, RequestApprovalRequest, WatchApprovalRequest,
    WatchApprovalResponse,
};
use authyd::provider::authy::signature::{self, CallbackMethod, CallbackParams};
use authyd::secret::ApiKey;
use authyd::sim::{self, CallbackConfig, SimConfig, SimHandle};
use authyd::store::{AuditAction, AuditQuery, SqliteStore, Store, TransitionSource};
use serde_json::{Value, json};
use support::{TestApp, enroll, fresh_dir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const KEY: &str = "callback-test-key";

/// A port that was free a moment ago (authyd binds it next: the callback URL must be known
/// before the simulator that calls it starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Setup {
    app: TestApp,
    _sim: SimHandle,
    /// The URL configured at "Authy" (what callbacks are signed for).
    url: String,
    store: SqliteStore,
}

/// authyd with callbacks configured at `configured_url` (default: its real address), against an
/// external simulator that sends callbacks (with `method`) when `sim_calls_back`. Polling is
/// slowed to 60 s, so anything faster came by callback.
async fn setup(
    method: CallbackMethod,
    configured_url: Option<&str>,
    sim_calls_back: bool,
) -> Setup {
    setup_polling(
        method,
        configured_url,
        sim_calls_back,
        Duration::from_secs(60),
    )
    .await
}

async fn setup_polling(
    method: CallbackMethod,
    configured_url: Option<&str>,
    sim_calls_back: bool,
    poll_interval: Duration,
) -> Setup {
    let port = free_port();
    let real = format!("http://127.0.0.1:{port}/authy/callback");
    let url = configured_url.unwrap_or(&real).to_owned();
    let mut config = SimConfig::new(ApiKey::new(KEY).unwrap());
    if sim_calls_back {
        config.callback = Some(CallbackConfig {
            url: real.parse().unwrap(),
            method,
        });
    }
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = fresh_dir("callbacks");
    let callback_url = CallbackUrl::parse(&url).unwrap();
    let app = support::spawn_app_against_with(&sim.base_url(), KEY, dir.clone(), |s| {
        s.http_addr = SocketAddr::from(([127, 0, 0, 1], port));
        s.callback = Some(callback_url);
        s.poll_interval = poll_interval;
    })
    .await;
    let store = SqliteStore::open(&dir.join("authyd.sqlite3"))
        .await
        .unwrap();
    Setup {
        app,
        _sim: sim,
        url,
        store,
    }
}

fn push(user: &str, ttl_secs: i64) -> RequestApprovalRequest {
    RequestApprovalRequest {
        user_id: user.into(),
        message: "Sign in to Example?".into(),
        details: [("ip".to_owned(), "10.0.0.7".to_owned())].into(),
        ttl: Some(prost_types::Duration {
            seconds: ttl_secs,
            nanos: 0,
        }),
        ..Default::default()
    }
}

type Watch = tonic::Streaming<WatchApprovalResponse>;

async fn watch(api: &TwoFactorServiceClient<Channel>, approval_id: &str) -> Watch {
    api.clone()
        .watch_approval(WatchApprovalRequest {
            approval_id: approval_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn next_state(stream: &mut Watch, within: Duration) -> ApprovalState {
    tokio::time::timeout(within, stream.next())
        .await
        .expect("a message in time")
        .expect("a message")
        .expect("not an error")
        .approval
        .unwrap()
        .state()
}

/// The approval's state as `GetApproval` reports it now.
async fn approval_state(app: &TestApp, approval_id: &str) -> ApprovalState {
    app.api
        .clone()
        .get_approval(GetApprovalRequest {
            approval_id: approval_id.into(),
        })
        .await
        .expect("get approval")
        .into_inner()
        .approval
        .expect("approval")
        .state()
}

/// The simulator's uuid of the only approval it holds for this test.
async fn sim_uuid(sim: &str) -> String {
    let list: Value = reqwest::get(format!("{sim}/__sim/approvals"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list[0]["uuid"].as_str().expect("one approval").to_owned()
}

async fn sim_answer(sim: &str, uuid: &str, verb: &str) {
    let r = reqwest::Client::new()
        .post(format!("{sim}/__sim/approvals/{uuid}/{verb}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// A callback body shaped like Authy's (reference §4.2), nested objects and arrays included.
fn payload(uuid: &str, status: &str) -> Value {
    json!({
        "authy_id": 688611,
        "device_uuid": "2102943",
        "callback_action": "approval_request_status",
        "uuid": uuid,
        "status": status,
        "approval_request": {
            "transaction": {
                "details": {"ip": "10.0.0.7", "location": "California, USA"},
                "device_details": {},
                "hidden_details": {},
                "message": "Sign in to Example?",
                "reason": "",
                "requester_details": null,
                "status": status,
                "uuid": uuid,
                "created_at_time": 1512940211,
                "encrypted": false,
                "flagged": false
            },
            "expiration_timestamp": 1513026611,
            "logos": [{"res": "default", "url": "https://example.com/a b.png"}],
            "app_id": "582380eb7e1caa03317ec08c"
        },
        "signature": "jTLeK9tH+UAh/JRexj==",
        "device": {"os_type": "android", "enabled_unlock_methods": ["pin", "fingerprint"]}
    })
}

fn now_nonce() -> String {
    chrono::Utc::now().timestamp().to_string()
}

/// POSTs a JSON callback signed with `key` for `signed_url`; the HTTP status.
async fn post_callback(
    app: &TestApp,
    body: &Value,
    key: &str,
    signed_url: &str,
    nonce: &str,
) -> (u16, String) {
    let sig = signature::sign(
        &ApiKey::new(key).unwrap(),
        nonce,
        CallbackMethod::Post,
        signed_url,
        CallbackParams::Json(body),
    );
    let raw = serde_json::to_vec(body).unwrap();
    raw_request(
        app,
        "POST",
        "",
        &raw,
        &[
            ("X-Authy-Signature", &sig),
            ("X-Authy-Signature-Nonce", nonce),
            ("Content-Type", "application/json"),
        ],
    )
    .await
}

/// One HTTP/1.1 request written by hand (header names exactly as given) to authyd's callback
/// path; the status code and the signature it carried.
async fn raw_request(
    app: &TestApp,
    method: &str,
    query: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(app.http_addr).await.unwrap();
    let mut head = format!(
        "{method} /authy/callback{query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        app.http_addr,
        body.len()
    );
    let mut signature = String::new();
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
        if k.eq_ignore_ascii_case("x-authy-signature") {
            signature = (*v).to_owned();
        }
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, signature)
}

async fn audit_outcomes(store: &SqliteStore, action: AuditAction) -> Vec<String> {
    let mut out: Vec<String> = store
        .audit_events(AuditQuery {
            user_id: None,
            limit: 1000,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.outcome)
        .collect();
    out.reverse(); // oldest first
    out
}

async fn transitions(store: &SqliteStore, approval_id: &str) -> Vec<(TransitionSource, String)> {
    let id = authyd::domain::ApprovalId::parse(approval_id).unwrap();
    store
        .transitions(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.source, t.to.as_str().to_owned()))
        .collect()
}

async fn simulator_callback_reaches_watchers(method: CallbackMethod) {
    let s = setup(method, None, true).await;
    enroll(&s.app, "ana").await;
    let a = support::request_approval(&s.app.api, push("ana", 300)).await;
    let mut stream = watch(&s.app.api, &a.approval_id).await;
    assert_eq!(
        next_state(&mut stream, Duration::from_secs(5)).await,
        ApprovalState::Pending
    );
    let uuid = sim_uuid(&s.app.sim).await;
    let answered = Instant::now();
    sim_answer(&s.app.sim, &uuid, "approve").await;
    // Polling is at 60 s: only the callback can bring this in time.
    assert_eq!(
        next_state(&mut stream, Duration::from_secs(5)).await,
        ApprovalState::Approved
    );
    assert!(answered.elapsed() < Duration::from_secs(2));
    assert!(stream.next().await.is_none(), "ends with OK after APPROVED");
    assert_eq!(
        transitions(&s.store, &a.approval_id).await,
        [(TransitionSource::Callback, "approved".to_owned())]
    );
    // The callback is audited once its answer is recorded, a moment after watchers have it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut audited = Vec::new();
    while audited.is_empty() && Instant::now() < deadline {
        audited = audit_outcomes(&s.store, AuditAction::ReceiveCallback).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(audited, ["applied"]);
}

#[tokio::test]
async fn a_simulator_post_callback_reaches_watchers_without_polling() {
    simulator_callback_reaches_watchers(CallbackMethod::Post).await;
}

#[tokio::test]
async fn a_simulator_get_callback_reaches_watchers_without_polling() {
    simulator_callback_reaches_watchers(CallbackMethod::Get).await;
}

#[tokio::test]
async fn sandbox_answers_arrive_by_callback() {
    let dir = fresh_dir("cb-sandbox");
    let mut settings = support::settings(&dir, Upstream::Sandbox);
    settings.poll_interval = Duration::from_secs(60);
    let app = support::start(settings, dir).await;
    enroll(&app, "bo").await;
    let a = support::request_approval(&app.api, push("bo", 300)).await;
    let mut stream = watch(&app.api, &a.approval_id).await;
    assert_eq!(
        next_state(&mut stream, Duration::from_secs(5)).await,
        ApprovalState::Pending
    );
    app.sandbox()
        .answer_approval(AnswerApprovalRequest {
            approval_id: a.approval_id.clone(),
            approve: false,
        })
        .await
        .unwrap();
    assert_eq!(
        next_state(&mut stream, Duration::from_secs(3)).await,
        ApprovalState::Denied
    );
}

#[tokio::test]
async fn forged_stale_replayed_misurled_and_malformed_callbacks_are_refused() {
    // Configured at Authy as an external URL behind a proxy: requests reach 127.0.0.1 with
    // another Host, yet must be checked against this URL.
    let external = "https://auth.example.com/authy/callback";
    let s = setup(CallbackMethod::Post, Some(external), false).await;
    enroll(&s.app, "cy").await;
    let a = support::request_approval(&s.app.api, push("cy", 300)).await;
    let uuid = sim_uuid(&s.app.sim).await;
    let mut stream = watch(&s.app.api, &a.approval_id).await;
    assert_eq!(
        next_state(&mut stream, Duration::from_secs(5)).await,
        ApprovalState::Pending
    );
    let body = payload(&uuid, "approved");
    let local = format!("http://{}/authy/callback", s.app.http_addr);
    let stale = (chrono::Utc::now().timestamp() - 301).to_string();
    let future = (chrono::Utc::now().timestamp() + 301).to_string();

    // Each refused; the approval stays pending.
    assert_eq!(
        post_callback(&s.app, &body, "not-the-key", external, &now_nonce())
            .await
            .0,
        401
    );
    assert_eq!(
        post_callback(&s.app, &body, KEY, &local, &now_nonce())
            .await
            .0,
        401,
        "signed for the Host the request came to"
    );
    assert_eq!(
        post_callback(
            &s.app,
            &body,
            KEY,
            "https://auth.example.com/other",
            &now_nonce()
        )
        .await
        .0,
        401
    );
    assert_eq!(
        post_callback(&s.app, &body, KEY, external, &stale).await.0,
        401
    );
    assert_eq!(
        post_callback(&s.app, &body, KEY, external, &future).await.0,
        401
    );
    assert_eq!(
        post_callback(&s.app, &body, KEY, external, "yesterday")
            .await
            .0,
        401
    );
    let unsigned = raw_request(
        &s.app,
        "POST",
        "",
        &serde_json::to_vec(&body).unwrap(),
        &[("Content-Type", "application/json")],
    )
    .await;
    assert_eq!(unsigned.0, 401);
    // A body changed after signing.
    let nonce = now_nonce();
    let sig = signature::sign(
        &ApiKey::new(KEY).unwrap(),
        &nonce,
        CallbackMethod::Post,
        external,
        CallbackParams::Json(&body),
    );
    let tampered = serde_json::to_vec(&payload(&uuid, "denied")).unwrap();
    let (status, _) = raw_request(
        &s.app,
        "POST",
        "",
        &tampered,
        &[
            ("X-Authy-Signature", &sig),
            ("X-Authy-Signature-Nonce", &nonce),
        ],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = raw_request(
        &s.app,
        "POST",
        "",
        b"{not json",
        &[
            ("X-Authy-Signature", &sig),
            ("X-Authy-Signature-Nonce", &nonce),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        approval_state(&s.app, &a.approval_id).await,
        ApprovalState::Pending
    );

    // The genuine one, with header names in unusual case (HTTP/2 proxies lower-case them).
    let nonce = now_nonce();
    let sig = signature::sign(
        &ApiKey::new(KEY).unwrap(),
        &nonce,
        CallbackMethod::Post,
        external,
        CallbackParams::Json(&body),
    );
    let raw = serde_json::to_vec(&body).unwrap();
    let headers = [
        ("x-AUTHY-signature", sig.as_str()),
        ("X-AUTHY-SIGNATURE-NONCE", nonce.as_str()),
        ("content-type", "application/json"),
    ];
    assert_eq!(raw_request(&s.app, "POST", "", &raw, &headers).await.0, 200);
    assert_eq!(
        next_state(&mut stream, Duration::from_secs(2)).await,
        ApprovalState::Approved
    );
    // The same request again is a replay.
    assert_eq!(raw_request(&s.app, "POST", "", &raw, &headers).await.0, 401);
    // Signed, but not something authyd can act on.
    let mut odd = body.clone();
    odd["status"] = json!("maybe");
    assert_eq!(
        post_callback(&s.app, &odd, KEY, external, &now_nonce())
            .await
            .0,
        400
    );

    // Refusals are audited once per reason per 10 s (they come from the open internet), and
    // every one is counted.
    assert_eq!(
        audit_outcomes(&s.store, AuditAction::RejectCallback).await,
        [
            "bad_signature",
            "stale_nonce",
            "bad_nonce",
            "missing_signature",
            "malformed_body",
            "replayed",
            "malformed_payload",
        ]
    );
    let metrics = reqwest::get(format!("http://{}/metrics", s.app.http_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (reason, at_least) in [("bad_signature", 4), ("stale_nonce", 2), ("applied", 1)] {
        let counted: u64 = metrics
            .lines()
            .find(|l| l.starts_with(&format!("authyd_callbacks_total{{outcome=\"{reason}\"}}")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0);
        assert!(counted >= at_least, "{reason}: {counted} counted");
    }
    assert_eq!(
        transitions(&s.store, &a.approval_id).await,
        [(TransitionSource::Callback, "approved".to_owned())]
    );
}

#[tokio::test]
async fn get_callbacks_are_verified_from_the_query_string() {
    let s = setup(CallbackMethod::Get, None, false).await;
    enroll(&s.app, "di").await;
    let a = support::request_approval(&s.app.api, push("di", 300)).await;
    let uuid = sim_uuid(&s.app.sim).await;
    let query = signature::to_query(&payload(&uuid, "denied"));
    let nonce = now_nonce();
    let sign = |key: &str| {
        signature::sign(
            &ApiKey::new(key).unwrap(),
            &nonce,
            CallbackMethod::Get,
            &s.url,
            CallbackParams::Query(&query),
        )
    };
    let forged = sign("forged");
    let q = format!("?{query}");
    let (status, _) = raw_request(
        &s.app,
        "GET",
        &q,
        b"",
        &[
            ("X-Authy-Signature", &forged),
            ("X-Authy-Signature-Nonce", &nonce),
        ],
    )
    .await;
    assert_eq!(status, 401);
    let genuine = sign(KEY);
    let (status, _) = raw_request(
        &s.app,
        "GET",
        &q,
        b"",
        &[
            ("x-authy-signature", &genuine),
            ("x-authy-signature-nonce", &nonce),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        approval_state(&s.app, &a.approval_id).await,
        ApprovalState::Denied
    );
}

#[tokio::test]
async fn a_callback_for_an_expired_approval_or_an_unknown_one_changes_nothing() {
    let s = setup_polling(
        CallbackMethod::Post,
        None,
        false,
        Duration::from_millis(200),
    )
    .await;
    enroll(&s.app, "ed").await;
    let a = support::request_approval(&s.app.api, push("ed", 1)).await;
    let uuid = sim_uuid(&s.app.sim).await;
    let mut stream = watch(&s.app.api, &a.approval_id).await;
    assert_eq!(
        next_state(&mut stream, Duration::from_secs(5)).await,
        ApprovalState::Pending
    );
    assert_eq!(
        next_state(&mut stream, Duration::from_secs(5)).await,
        ApprovalState::Expired
    );

    let (status, _) = post_callback(
        &s.app,
        &payload(&uuid, "approved"),
        KEY,
        &s.url,
        &now_nonce(),
    )
    .await;
    assert_eq!(status, 200, "acknowledged, so Authy does not retry");
    let other = uuid::Uuid::new_v4().to_string();
    let (status, _) = post_callback(
        &s.app,
        &payload(&other, "approved"),
        KEY,
        &s.url,
        &now_nonce(),
    )
    .await;
    assert_eq!(status, 200);

    assert_eq!(
        approval_state(&s.app, &a.approval_id).await,
        ApprovalState::Expired
    );
    assert_eq!(
        audit_outcomes(&s.store, AuditAction::ReceiveCallback).await,
        ["unchanged", "unknown_approval"]
    );
    assert_eq!(
        transitions(&s.store, &a.approval_id).await,
        [(TransitionSource::Expiry, "expired".to_owned())]
    );
}

#[tokio::test]
async fn polling_and_a_conflicting_callback_record_one_transition() {
    // Authy says approved (seen by polling every 50 ms) while a signed callback says denied:
    // whichever is written first wins, and it is the only transition and the only terminal
    // state any watcher sees.
    let s = setup_polling(CallbackMethod::Post, None, false, Duration::from_millis(50)).await;
    enroll(&s.app, "fi").await;
    for round in 0..5 {
        let a = support::request_approval(&s.app.api, push("fi", 300)).await;
        let list: Value = reqwest::get(format!("{}/__sim/approvals", s.app.sim))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let uuid = list
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["status"] == "pending")
            .and_then(|x| x["uuid"].as_str())
            .unwrap()
            .to_owned();
        let mut watchers = Vec::new();
        for _ in 0..3 {
            let mut w = watch(&s.app.api, &a.approval_id).await;
            assert_eq!(
                next_state(&mut w, Duration::from_secs(5)).await,
                ApprovalState::Pending
            );
            watchers.push(w);
        }
        let denied = payload(&uuid, "denied");
        let nonce = now_nonce();
        let (_, (status, _)) = tokio::join!(
            sim_answer(&s.app.sim, &uuid, "approve"),
            post_callback(&s.app, &denied, KEY, &s.url, &nonce)
        );
        assert_eq!(status, 200);
        let recorded = transitions(&s.store, &a.approval_id).await;
        let mut finals = Vec::new();
        for mut w in watchers {
            finals.push(next_state(&mut w, Duration::from_secs(5)).await);
            assert!(w.next().await.is_none());
        }
        // Give the poller a chance to write a second, conflicting transition.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let recorded_later = transitions(&s.store, &a.approval_id).await;
        assert_eq!(recorded_later.len(), 1, "round {round}: {recorded_later:?}");
        assert_eq!(recorded, recorded_later);
        let stored = if recorded[0].1 == "approved" {
            ApprovalState::Approved
        } else {
            ApprovalState::Denied
        };
        assert!(
            finals.iter().all(|f| *f == stored),
            "round {round}: {finals:?}"
        );
    }
}

#[tokio::test]
async fn hostile_get_queries_and_other_methods_are_refused_without_harm() {
    let s = setup(CallbackMethod::Get, None, false).await;
    enroll(&s.app, "gi").await;
    let a = support::request_approval(&s.app.api, push("gi", 300)).await;
    let uuid = sim_uuid(&s.app.sim).await;
    let nonce = now_nonce();
    let sign = |query: &str| {
        signature::sign(
            &ApiKey::new(KEY).unwrap(),
            &nonce,
            CallbackMethod::Get,
            &s.url,
            CallbackParams::Query(query),
        )
    };
    // Thousands of nested brackets: once enough to overflow a recursive parser's stack.
    let deep = format!("a{}=1", "[b]".repeat(4_000));
    let (status, _) = raw_request(
        &s.app,
        "GET",
        &format!("?{deep}"),
        b"",
        &[
            ("X-Authy-Signature", "x"),
            ("X-Authy-Signature-Nonce", &nonce),
        ],
    )
    .await;
    assert_eq!(
        status, 401,
        "parsed (nesting capped) and refused for its signature"
    );
    let long = format!("a{}=1", "[b]".repeat(6_000));
    let (status, _) = raw_request(
        &s.app,
        "GET",
        &format!("?{long}"),
        b"",
        &[
            ("X-Authy-Signature", "x"),
            ("X-Authy-Signature-Nonce", &nonce),
        ],
    )
    .await;
    assert_eq!(status, 400, "longer than any callback");
    let deep = format!("a{}=1", "[]".repeat(2_000));
    let sig = sign(&deep);
    let (status, _) = raw_request(
        &s.app,
        "GET",
        &format!("?{deep}"),
        b"",
        &[
            ("X-Authy-Signature", &sig),
            ("X-Authy-Signature-Nonce", &nonce),
        ],
    )
    .await;
    assert_eq!(
        status, 200,
        "signed by the key, but not an answer: acknowledged and ignored"
    );
    // A genuine GET callback for another approval, with a second uuid/status put in front: the
    // signature covers the last value of a repeated key, so it is refused outright.
    let genuine = signature::to_query(&payload(&uuid::Uuid::new_v4().to_string(), "denied"));
    let spliced = format!("uuid={uuid}&status=approved&{genuine}");
    let sig = sign(&genuine);
    let (status, _) = raw_request(
        &s.app,
        "GET",
        &format!("?{spliced}"),
        b"",
        &[
            ("X-Authy-Signature", &sig),
            ("X-Authy-Signature-Nonce", &nonce),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = raw_request(&s.app, "HEAD", "", b"", &[]).await;
    assert_eq!(status, 405);
    let (status, _) = raw_request(&s.app, "PUT", "", b"{}", &[]).await;
    assert_eq!(status, 405);
    // Still serving, and the approval untouched.
    assert_eq!(
        approval_state(&s.app, &a.approval_id).await,
        ApprovalState::Pending
    );
}

#[tokio::test]
async fn a_callback_after_the_deadline_expires_the_approval_instead() {
    // Nobody watches, so nothing expired it locally yet; the callback arrives after expire_time.
    let s = setup(CallbackMethod::Post, None, false).await;
    enroll(&s.app, "hu").await;
    let a = support::request_approval(&s.app.api, push("hu", 1)).await;
    let uuid = sim_uuid(&s.app.sim).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (status, _) = post_callback(
        &s.app,
        &payload(&uuid, "approved"),
        KEY,
        &s.url,
        &now_nonce(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        transitions(&s.store, &a.approval_id).await,
        [(TransitionSource::Expiry, "expired".to_owned())]
    );
    assert_eq!(
        audit_outcomes(&s.store, AuditAction::ReceiveCallback).await,
        ["too_late"]
    );
}
