//! authyd's Authy client against recorded Authy answers.
//!
//! Each recorded response of `tests/fixtures/authy/recorded_responses.json` (loaded at test time)
//! is served by a local wiremock server that only answers the recorded request line (method,
//! path, exact query pairs) carrying the right `X-Authy-API-Key`; the corresponding client method
//! must return the right typed result.
//!
//! R13–R15 are answers of endpoints authyd never calls (phone verification and phone info). No
//! client method can ask for them, and adding a public "raw GET" to the client just for tests
//! would widen the production API, so they are checked where the mapping lives: the unit test
//! `provider::authy::wire::tests::unused_endpoint_fixtures_map_to_typed_errors` feeds them (read
//! from the same fixture file) through `wire::refusal`, the one function every endpoint's
//! refusals go through. The same mapping is exercised end-to-end here by R2, R4, R5, R10, R11 and
//! INVALID_JSON.
//!
//! Beyond the recordings: rate limiting, retries, timeouts, dropped connections, lenient
//! parsing, request shapes, and the API key never showing in errors, Debug output or logs.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authyd::domain::{
    ApprovalMessage, ApprovalStatus, ApprovalUuid, AuthyId, CountryCode, Details, Email, Locale,
    Logo, LogoResolution, PhoneNumber, Token, TokenAction, UserId,
};
use authyd::provider::authy::{AuthyClient, AuthyConfig, RetryPolicy};
use authyd::provider::{
    FieldError, NewApproval, NewUser, ProviderError, RegistrationStatus, SendTokenOptions,
    TokenCheck, TokenDelivery, TwoFactorProvider, UpstreamFailure, UserStatus,
};
use authyd::secret::ApiKey;
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "test_api_key";

// ------------------------------------------------------------------------------------------------
// Fixtures and helpers
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
struct Fixture {
    id: String,
    method: String,
    path: String,
    query: String,
    status: u16,
    body: String,
}

#[derive(Deserialize)]
struct FixtureFile {
    responses: Vec<Fixture>,
}

fn fixture(id: &str) -> Fixture {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/authy/recorded_responses.json");
    let text = std::fs::read_to_string(&file).expect("fixture file readable");
    let all: FixtureFile = serde_json::from_str(&text).expect("fixture file is JSON");
    all.responses
        .into_iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("fixture {id} missing"))
}

fn sorted_pairs(query: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    pairs.sort();
    pairs
}

/// Matches a recorded request line: method, path and exactly the recorded query pairs (in any
/// order; no extra parameters, and no query at all when none was recorded).
struct RecordedRequest {
    method: String,
    path: String,
    query: Vec<(String, String)>,
}

impl Match for RecordedRequest {
    fn matches(&self, request: &Request) -> bool {
        request.method.as_str() == self.method
            && request.url.path() == self.path
            && sorted_pairs(request.url.query().unwrap_or("")) == self.query
    }
}

/// Serves `fx` once, to a request with the recorded request line and the key `key`.
async fn serve(server: &MockServer, fx: &Fixture, key: &str) {
    Mock::given(RecordedRequest {
        method: fx.method.clone(),
        path: fx.path.clone(),
        query: sorted_pairs(&fx.query),
    })
    .and(header("x-authy-api-key", key))
    .respond_with(
        ResponseTemplate::new(fx.status).set_body_raw(fx.body.clone(), "application/json"),
    )
    .named(fx.id.clone())
    .expect(1)
    .mount(server)
    .await;
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

fn client_for(base: &str, key: &str) -> AuthyClient {
    let mut config = AuthyConfig::new(base.parse().unwrap(), ApiKey::new(key).unwrap());
    config.retry = fast_retry();
    AuthyClient::new(config).unwrap()
}

fn client(server: &MockServer) -> AuthyClient {
    client_for(&server.uri(), KEY)
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn token(t: &str) -> Token {
    Token::parse(t).unwrap()
}

fn new_user() -> NewUser {
    NewUser {
        email: Email::parse("test@example.com").unwrap(),
        phone: PhoneNumber::parse("3003003333").unwrap(),
        country_code: CountryCode::new(57).unwrap(),
        send_install_link: false,
    }
}

fn new_approval() -> NewApproval {
    NewApproval {
        message: ApprovalMessage::parse("Authorize OneTouch Unit Test").unwrap(),
        details: Details::parse([("location", "California,USA"), ("username", "User")]).unwrap(),
        hidden_details: Details::parse([("ip_address", "10.10.3.203")]).unwrap(),
        logos: vec![
            Logo::parse(LogoResolution::Default, "http://image.co").unwrap(),
            Logo::parse(LogoResolution::Low, "http://image.low").unwrap(),
        ],
        ttl: Some(Duration::from_millis(1200)),
    }
}

fn uuid(s: &str) -> ApprovalUuid {
    ApprovalUuid::parse(s).unwrap()
}

fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

// ------------------------------------------------------------------------------------------------
// R1–R12 and INVALID_JSON
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn r1_verify_valid_with_string_success() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R1"), KEY).await;
    let check = client(&server)
        .verify_token(AuthyId::new(123456), &token("123456"), None)
        .await;
    assert_eq!(check, Ok(TokenCheck::Valid));
}

#[tokio::test]
async fn r2_verify_invalid_is_an_outcome() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R2"), KEY).await;
    let check = client(&server)
        .verify_token(AuthyId::new(123456), &token("123456"), None)
        .await;
    assert_eq!(check, Ok(TokenCheck::Invalid));
}

#[tokio::test]
async fn r3_create_user_sends_sdk_json_body() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R3"), KEY).await;
    let id = client(&server).create_user(&new_user()).await;
    assert_eq!(id, Ok(AuthyId::new(1000)));

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let content_type = reqs[0].headers.get("content-type").unwrap();
    assert_eq!(content_type, "application/json");
    let body: Value = reqs[0].body_json().unwrap();
    // The user object is exactly what authy-java's recorded test asserts.
    assert_eq!(
        body,
        json!({
            "user": {"country_code": "57", "cellphone": "3003003333", "email": "test@example.com"},
            "send_install_link_via_sms": false
        })
    );
}

#[tokio::test]
async fn r4_create_user_invalid_phone() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R4"), KEY).await;
    let err = client(&server).create_user(&new_user()).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::InvalidUser {
            message: "User was not valid".into(),
            fields: vec![FieldError {
                field: "cellphone".into(),
                description: "is invalid".into()
            }],
        }
    );
}

#[tokio::test]
async fn r5_sms_user_not_found() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R5"), KEY).await;
    let options = SendTokenOptions {
        force: true,
        ..Default::default()
    };
    let err = client(&server)
        .request_sms(AuthyId::new(0), &options)
        .await
        .unwrap_err();
    assert_eq!(err, ProviderError::UserNotFound);
}

#[tokio::test]
async fn r6_sms_without_force_is_ignored_and_sends_no_query() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R6"), KEY).await;
    let delivery = client(&server)
        .request_sms(AuthyId::new(30144611), &SendTokenOptions::default())
        .await;
    assert_eq!(
        delivery,
        Ok(TokenDelivery {
            sent: false,
            masked_phone: "+57-XXX-XXX-XX12".into(),
            device: Some("android".into()),
        })
    );
    assert_eq!(requests(&server).await[0].url.query(), None);
}

#[tokio::test]
async fn r7_user_status() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R7"), KEY).await;
    let status = client(&server).user_status(AuthyId::new(30144611)).await;
    assert_eq!(
        status,
        Ok(UserStatus {
            authy_id: AuthyId::new(2),
            confirmed: true,
            registered: true,
            country_code: Some(1),
            masked_phone: "XXX-XXX-9302".into(),
            devices: vec!["authy_chrome".into(), "android".into()],
        })
    );
}

#[tokio::test]
async fn r8_create_approval_request() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R8"), KEY).await;
    let created = client(&server)
        .create_approval(AuthyId::new(30144611), &new_approval())
        .await;
    assert_eq!(created, Ok(uuid("dda2c400-bc43-0135-d7be-1285ca17e122")));

    let body: Value = requests(&server).await[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({
            "message": "Authorize OneTouch Unit Test",
            "details": {"location": "California,USA", "username": "User"},
            "hidden_details": {"ip_address": "10.10.3.203"},
            "logos": [{"res": "default", "url": "http://image.co"}, {"res": "low", "url": "http://image.low"}],
            "seconds_to_expire": 2
        })
    );
}

#[tokio::test]
async fn r9_get_expired_approval_request() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R9"), KEY).await;
    let id = uuid("8d031630-d15b-0134-b0a8-0a77bbe8093e");
    let snap = client(&server).get_approval(&id).await.unwrap();
    assert_eq!(snap.uuid, id);
    assert_eq!(snap.status, ApprovalStatus::Expired);
    assert_eq!(snap.authy_id, Some(AuthyId::new(28894864)));
    let at = |d, h, m, s| Utc.with_ymd_and_hms(2017, 2, d, h, m, s).single();
    assert_eq!(snap.created_at, at(10, 1, 9, 52));
    assert_eq!(snap.updated_at, at(13, 11, 11, 58));
    assert_eq!(snap.processed_at, at(13, 11, 11, 58));
    assert_eq!(snap.seconds_to_expire, Some(86400));
}

#[tokio::test]
async fn r10_approval_not_found() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R10"), KEY).await;
    let err = client(&server)
        .get_approval(&uuid("3f05a350-4b2c-0136-f779-12c0c2bf9easd"))
        .await
        .unwrap_err();
    assert_eq!(err, ProviderError::ApprovalNotFound);
}

#[tokio::test]
async fn r11_invalid_api_key() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R11"), "invalid_api_key").await;
    let err = client_for(&server.uri(), "invalid_api_key")
        .verify_token(AuthyId::new(81547), &token("123456"), None)
        .await
        .unwrap_err();
    assert_eq!(err, ProviderError::InvalidApiKey);
    assert!(!err.is_transient());
}

#[tokio::test]
async fn r12_detailed_user_status() {
    let server = MockServer::start().await;
    serve(&server, &fixture("R12"), KEY).await;
    let status = client(&server).user_status(AuthyId::new(290907)).await;
    assert_eq!(
        status,
        Ok(UserStatus {
            authy_id: AuthyId::new(290907),
            confirmed: true,
            registered: false,
            country_code: Some(1),
            masked_phone: "XXX-XXX-1118".into(),
            devices: vec![],
        })
    );
}

#[tokio::test]
async fn invalid_json_is_an_invalid_response_without_the_body() {
    let server = MockServer::start().await;
    let fx = fixture("INVALID_JSON");
    serve(&server, &fx, KEY).await;
    let err = client(&server)
        .verify_token(AuthyId::new(123456), &token("123456"), None)
        .await
        .unwrap_err();
    match &err {
        ProviderError::InvalidResponse { status, detail } => {
            assert_eq!(*status, 401);
            for fragment in ["Token is invalid", "is invalid", "60019", "message"] {
                assert!(
                    !detail.contains(fragment),
                    "detail quotes the body: {detail}"
                );
            }
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
    // A 4xx is never retried, even on a GET.
    assert_eq!(requests(&server).await.len(), 1);
}

// ------------------------------------------------------------------------------------------------
// Rate limiting, retries, timeouts, dropped connections
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limited_with_and_without_retry_after_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/protected/json/users/1/status"))
        .respond_with(
            json_response(
                429,
                json!({"message":"DoS protection","success":false,"error_code":"60003"}),
            )
            .insert_header("Retry-After", "7"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/protected/json/users/2/status"))
        .respond_with(ResponseTemplate::new(429).set_body_string("Too Many Requests"))
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(
        c.user_status(AuthyId::new(1)).await,
        Err(ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        })
    );
    let err = c.user_status(AuthyId::new(2)).await.unwrap_err();
    assert_eq!(err, ProviderError::RateLimited { retry_after: None });
    assert!(err.is_transient());
    assert_eq!(requests(&server).await.len(), 2, "429 must not be retried");
}

#[tokio::test]
async fn get_503_html_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/protected/json/users/30144611/status"))
        .respond_with(ResponseTemplate::new(503).set_body_raw(
            "<html><body><h1>503 Service Unavailable</h1></body></html>",
            "text/html",
        ))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    let fx = fixture("R7");
    Mock::given(method("GET"))
        .and(path("/protected/json/users/30144611/status"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fx.body))
        .mount(&server)
        .await;
    let status = client(&server).user_status(AuthyId::new(30144611)).await;
    assert_eq!(status.map(|s| s.masked_phone), Ok("XXX-XXX-9302".into()));
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn get_5xx_exhausts_the_retry_policy() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(502).set_body_raw("<html>Bad Gateway</html>", "text/html"),
        )
        .mount(&server)
        .await;
    let err = client(&server)
        .get_approval(&uuid("dda2c400-bc43-0135-d7be-1285ca17e122"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable(UpstreamFailure::Status(502))
    );
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn post_500_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c.create_user(&new_user()).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable(UpstreamFailure::Status(500))
    );
    assert_eq!(requests(&server).await.len(), 1);
    let err = c
        .create_approval(AuthyId::new(1), &new_approval())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable(UpstreamFailure::Status(500))
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn sms_and_call_are_not_retried_after_a_5xx_answer() {
    // GETs, but not idempotent: a retry after a lost answer could text or call the user twice.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
        .mount(&server)
        .await;
    let c = client(&server);
    let options = authyd::provider::SendTokenOptions {
        force: true,
        ..Default::default()
    };
    let err = c.request_sms(AuthyId::new(1), &options).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable(UpstreamFailure::Status(503))
    );
    assert_eq!(requests(&server).await.len(), 1);
    let err = c.request_call(AuthyId::new(1), &options).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable(UpstreamFailure::Status(503))
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn timeout_is_unavailable_quickly() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let mut config = AuthyConfig::new(server.uri().parse().unwrap(), ApiKey::new(KEY).unwrap());
    config.timeout = Duration::from_millis(100);
    config.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    let c = AuthyClient::new(config).unwrap();
    let started = Instant::now();
    let err = c.user_status(AuthyId::new(1)).await.unwrap_err();
    assert_eq!(err, ProviderError::Unavailable(UpstreamFailure::Timeout));
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 2, "a GET timeout is retried");
}

/// A TCP server that reads a request and closes the connection without answering.
async fn dropping_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                drop(socket);
            });
        }
    });
    (format!("http://{addr}"), accepted)
}

#[tokio::test]
async fn dropped_connection_is_retried_for_gets_only() {
    let (base, accepted) = dropping_server().await;
    let c = client_for(&base, KEY);
    let err = c.user_status(AuthyId::new(1)).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable(UpstreamFailure::ConnectionClosed)
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 3);

    let err = c.create_user(&new_user()).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Unavailable(UpstreamFailure::ConnectionClosed)
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        4,
        "a POST the server may have seen is not retried"
    );
}

#[tokio::test]
async fn connection_refused_is_unavailable_connect() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client_for(&format!("http://{addr}"), KEY);
    assert_eq!(
        c.user_status(AuthyId::new(1)).await,
        Err(ProviderError::Unavailable(UpstreamFailure::Connect))
    );
    // A POST that never left may be retried; it still ends as Connect.
    assert_eq!(
        c.create_user(&new_user()).await,
        Err(ProviderError::Unavailable(UpstreamFailure::Connect))
    );
}

// ------------------------------------------------------------------------------------------------
// Lenient parsing
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn success_as_string_or_bool() {
    let server = MockServer::start().await;
    Mock::given(path("/protected/json/users/1/status"))
        .respond_with(json_response(
            200,
            json!({"status":{"authy_id":"1","confirmed":"true","registered":false,"country_code":"44",
                   "phone_number":"XXX-XXX-0001","devices":["iphone", 3]},"success":"true"}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/protected/json/verify/1234567/1"))
        .respond_with(json_response(
            200,
            json!({"message":"Token is valid.","token":"is valid","success":true}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/protected/json/verify/7654321/1"))
        .respond_with(json_response(
            200,
            json!({"message":"Token is valid.","token":"is valid","success":"false"}),
        ))
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(
        c.user_status(AuthyId::new(1)).await,
        Ok(UserStatus {
            authy_id: AuthyId::new(1),
            confirmed: true,
            registered: false,
            country_code: Some(44),
            masked_phone: "XXX-XXX-0001".into(),
            devices: vec!["iphone".into()],
        })
    );
    assert_eq!(
        c.verify_token(AuthyId::new(1), &token("1234567"), None)
            .await,
        Ok(TokenCheck::Valid)
    );
    // `"success":"false"` is a refusal whatever `token` says: never Valid.
    assert_ne!(
        c.verify_token(AuthyId::new(1), &token("7654321"), None)
            .await,
        Ok(TokenCheck::Valid)
    );
}

#[tokio::test]
async fn approval_with_string_authy_id_and_null_processed_at() {
    let server = MockServer::start().await;
    Mock::given(path("/onetouch/json/approval_requests/abc-123"))
        .respond_with(json_response(
            200,
            json!({"approval_request":{"_authy_id":"1635","status":"pending","processed_at":null,
                   "created_at":"garbage","uuid":"abc-123","seconds_to_expire":"120","new_field":[1]},
                   "success":true}),
        ))
        .mount(&server)
        .await;
    let snap = client(&server)
        .get_approval(&uuid("abc-123"))
        .await
        .unwrap();
    assert_eq!(snap.status, ApprovalStatus::Pending);
    assert_eq!(snap.authy_id, Some(AuthyId::new(1635)));
    assert_eq!(snap.processed_at, None);
    assert_eq!(snap.created_at, None, "an unparsable timestamp is None");
    assert_eq!(snap.seconds_to_expire, Some(120));
}

#[tokio::test]
async fn error_code_as_number_and_older_token_body() {
    let server = MockServer::start().await;
    Mock::given(path("/protected/json/users/5/status"))
        .respond_with(json_response(
            404,
            json!({"message":"User not found.","success":false,"error_code":60026}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/protected/json/verify/111111/5"))
        .respond_with(json_response(
            401,
            json!({"errors":{"token":"is invalid"},"success":false}),
        ))
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(
        c.user_status(AuthyId::new(5)).await,
        Err(ProviderError::UserNotFound)
    );
    assert_eq!(
        c.verify_token(AuthyId::new(5), &token("111111"), None)
            .await,
        Ok(TokenCheck::Invalid)
    );
}

#[tokio::test]
async fn html_200_and_missing_fields_are_invalid_responses() {
    let server = MockServer::start().await;
    Mock::given(path("/protected/json/users/new"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>hello</html>", "text/html"))
        .mount(&server)
        .await;
    Mock::given(path("/protected/json/users/9/status"))
        .respond_with(json_response(
            200,
            json!({"success":true,"message":"User status."}),
        ))
        .mount(&server)
        .await;
    let c = client(&server);
    assert!(matches!(
        c.create_user(&new_user()).await,
        Err(ProviderError::InvalidResponse { status: 200, ref detail }) if !detail.contains("hello")
    ));
    assert!(matches!(
        c.user_status(AuthyId::new(9)).await,
        Err(ProviderError::InvalidResponse { status: 200, .. })
    ));
}

// ------------------------------------------------------------------------------------------------
// Request shapes
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_request_carries_key_user_agent_and_keeps_the_path_prefix() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/authy/prefix/protected/json/users/1/status"))
        .and(header("x-authy-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("R7").body))
        .expect(2)
        .mount(&server)
        .await;
    for base in ["/authy/prefix", "/authy/prefix/"] {
        let c = client_for(&format!("{}{base}", server.uri()), KEY);
        assert!(c.user_status(AuthyId::new(1)).await.is_ok());
    }
    for r in requests(&server).await {
        let ua = r.headers.get("user-agent").unwrap().to_str().unwrap();
        assert_eq!(ua, format!("authyd/{}", env!("CARGO_PKG_VERSION")));
    }
}

#[tokio::test]
async fn sms_and_call_query_parameters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(
            200,
            json!({"success":true,"message":"SMS token was sent","cellphone":"+1-XXX-XXX-XX12"}),
        ))
        .mount(&server)
        .await;
    let c = client(&server);
    let options = SendTokenOptions {
        force: true,
        action: Some(TokenAction::parse("login & pay?").unwrap()),
        action_message: Some("Log in to Example".into()),
        locale: Some(Locale::parse("es").unwrap()),
    };
    let sent = c.request_sms(AuthyId::new(42), &options).await.unwrap();
    assert!(sent.sent && sent.device.is_none());
    c.request_call(AuthyId::new(42), &options).await.unwrap();
    c.request_call(AuthyId::new(42), &SendTokenOptions::default())
        .await
        .unwrap();
    let reqs = requests(&server).await;
    let expected = sorted_pairs(
        "force=true&action=login+%26+pay%3F&action_message=Log+in+to+Example&locale=es",
    );
    assert_eq!(reqs[0].url.path(), "/protected/json/sms/42");
    assert_eq!(sorted_pairs(reqs[0].url.query().unwrap()), expected);
    assert_eq!(reqs[1].url.path(), "/protected/json/call/42");
    assert_eq!(sorted_pairs(reqs[1].url.query().unwrap()), expected);
    assert_eq!(reqs[2].url.query(), None, "force=false is not sent");
}

#[tokio::test]
async fn verify_always_forces_and_binds_the_action() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("R1").body))
        .mount(&server)
        .await;
    let c = client(&server);
    let action = TokenAction::parse("login").unwrap();
    c.verify_token(AuthyId::new(7), &token("0123456"), Some(&action))
        .await
        .unwrap();
    let r = &requests(&server).await[0];
    assert_eq!(r.url.path(), "/protected/json/verify/0123456/7");
    assert_eq!(
        sorted_pairs(r.url.query().unwrap()),
        sorted_pairs("force=true&action=login")
    );
}

#[tokio::test]
async fn remove_user_and_registration_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/protected/json/users/42/remove"))
        .respond_with(json_response(
            200,
            json!({"message":"User removed from application","success":true}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/protected/json/registrations/status"))
        .respond_with(json_response(
            200,
            json!({"registration":{"status":"completed","authy_id":4242},"success":true}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(c.remove_user(AuthyId::new(42)).await, Ok(()));
    let user = UserId::parse("alice@example.com").unwrap();
    assert_eq!(
        c.registration_status(&user).await,
        Ok(RegistrationStatus::Completed {
            authy_id: AuthyId::new(4242)
        })
    );
    let reqs = requests(&server).await;
    assert_eq!(reqs[0].body_json::<Value>().unwrap(), json!({}));
    assert_eq!(
        reqs[1].url.query(),
        Some("custom_user_id=alice%40example.com")
    );
}

// ------------------------------------------------------------------------------------------------
// The API key (and a verify token) never leave through errors, Debug output or logs
// ------------------------------------------------------------------------------------------------

const SECRET_KEY: &str = "SeCrEtKeY0123456789abcdef";
const SECRET_TOKEN: &str = "98765432";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Names every variant; a new variant fails to compile here until the test covers it.
fn variant(e: &ProviderError) -> &'static str {
    match e {
        ProviderError::InvalidApiKey => "InvalidApiKey",
        ProviderError::UserNotFound => "UserNotFound",
        ProviderError::InvalidUser { .. } => "InvalidUser",
        ProviderError::ApprovalNotFound => "ApprovalNotFound",
        ProviderError::RateLimited { .. } => "RateLimited",
        ProviderError::Unavailable(_) => "Unavailable",
        ProviderError::Rejected { .. } => "Rejected",
        ProviderError::InvalidResponse { .. } => "InvalidResponse",
        ProviderError::Misconfigured { .. } => "Misconfigured",
    }
}

#[tokio::test]
async fn api_key_never_in_errors_debug_or_logs() {
    // A process-wide subscriber, installed once: a thread-local `set_default` races with the
    // callsite-interest cache while the other tests of this binary log in parallel. Other tests'
    // lines land in the same buffer, which only makes the "no secret" checks stricter.
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    let logs = LOGS
        .get_or_init(|| {
            let logs = Captured::default();
            let sink = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || sink.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in this test binary");
            logs
        })
        .clone();

    let server = MockServer::start().await;
    let echo = |code: &str, status: u16| {
        // Bodies that echo the key and the token back, to prove they are scrubbed.
        json_response(
            status,
            json!({"message": format!("bad {SECRET_KEY} {SECRET_TOKEN}"), "success": false,
                   "errors": {"message": "x", "email": format!("is invalid {SECRET_KEY}")},
                   "error_code": code}),
        )
    };
    let at = |p: &str, r: ResponseTemplate| Mock::given(path(p.to_owned())).respond_with(r);
    at("/protected/json/users/1/status", echo("60001", 401))
        .mount(&server)
        .await;
    at("/protected/json/users/2/status", echo("60026", 404))
        .mount(&server)
        .await;
    at("/protected/json/users/new", echo("60027", 400))
        .mount(&server)
        .await;
    at("/onetouch/json/approval_requests/a-1", echo("60049", 404))
        .mount(&server)
        .await;
    at("/protected/json/users/3/status", echo("60003", 429))
        .mount(&server)
        .await;
    at(
        "/protected/json/users/4/status",
        ResponseTemplate::new(503).set_body_string(format!("<html>{SECRET_KEY}</html>")),
    )
    .mount(&server)
    .await;
    at(
        &format!("/protected/json/verify/{SECRET_TOKEN}/5"),
        echo("60002", 403),
    )
    .mount(&server)
    .await;
    at(
        &format!("/protected/json/verify/{SECRET_TOKEN}/6"),
        ResponseTemplate::new(401).set_body_string(format!("oops {SECRET_KEY} {SECRET_TOKEN}")),
    )
    .mount(&server)
    .await;
    at(
        &format!("/protected/json/verify/{SECRET_TOKEN}/7"),
        ResponseTemplate::new(503).set_body_string("down"),
    )
    .mount(&server)
    .await;

    let mut config = AuthyConfig::new(
        server.uri().parse().unwrap(),
        ApiKey::new(SECRET_KEY).unwrap(),
    );
    config.retry = fast_retry();
    let shown_config = format!("{config:?}");
    let c = AuthyClient::new(config).unwrap();
    let t = token(SECRET_TOKEN);
    let mut errors = vec![
        c.user_status(AuthyId::new(1)).await.unwrap_err(),
        c.user_status(AuthyId::new(2)).await.unwrap_err(),
        c.create_user(&new_user()).await.unwrap_err(),
        c.get_approval(&uuid("a-1")).await.unwrap_err(),
        c.user_status(AuthyId::new(3)).await.unwrap_err(),
        c.user_status(AuthyId::new(4)).await.unwrap_err(),
        c.verify_token(AuthyId::new(5), &t, None).await.unwrap_err(),
        c.verify_token(AuthyId::new(6), &t, None).await.unwrap_err(),
        c.verify_token(AuthyId::new(7), &t, None).await.unwrap_err(),
    ];
    let mut bad = AuthyConfig::new(
        server.uri().parse().unwrap(),
        ApiKey::new(format!("{SECRET_KEY}\n")).unwrap(),
    );
    bad.retry = fast_retry();
    errors.push(AuthyClient::new(bad).unwrap_err());

    let mut kinds: Vec<&str> = errors.iter().map(variant).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "ApprovalNotFound",
            "InvalidApiKey",
            "InvalidResponse",
            "InvalidUser",
            "Misconfigured",
            "RateLimited",
            "Rejected",
            "Unavailable",
            "UserNotFound"
        ],
        "every variant is produced: {errors:?}"
    );

    let mut shown = format!("{c:?}\n{shown_config}\n");
    for e in &errors {
        writeln!(shown, "{e}\n{e:?}").ok();
    }
    assert!(!shown.contains(SECRET_KEY), "{shown}");
    // The token was only sent by the verify calls: their errors must not carry it back.
    for e in &errors[6..9] {
        let shown = format!("{e}\n{e:?}");
        assert!(!shown.contains(SECRET_TOKEN), "{shown}");
    }

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrying Authy request")
            && logs.contains("/protected/json/verify/{token}/{id}"),
        "retries are logged with the route template: {logs}"
    );
    assert!(!logs.contains(SECRET_KEY), "{logs}");
    assert!(!logs.contains(SECRET_TOKEN), "{logs}");
}
