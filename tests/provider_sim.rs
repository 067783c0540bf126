//! authyd's Authy client against the simulator: every flow authyd uses, and every injected fault.
//!
//! Each test starts its own simulator on a free loopback port through the in-process API
//! (`authyd::sim::{start, SimConfig, SimHandle}`) and drives the simulator's control API
//! (`/__sim/…`) over HTTP only; no other simulator type is used. What the client sees is only
//! what an Authy server would send it.

use std::time::{Duration, Instant};

use authyd::domain::{
    ApprovalMessage, ApprovalStatus, ApprovalUuid, AuthyId, CountryCode, Details, Email,
    PhoneNumber, Token, TokenAction, UserId,
};
use authyd::provider::authy::{AuthyClient, AuthyConfig, RetryPolicy};
use authyd::provider::{
    NewApproval, NewUser, ProviderError, RegistrationStatus, SendTokenOptions, TokenCheck,
    TwoFactorProvider, UpstreamFailure,
};
use authyd::secret::ApiKey;
use authyd::sim::{SimConfig, SimHandle, start};
use serde_json::{Value, json};

const KEY: &str = "sim-test-api-key-0123456789abcdef";

struct Sim {
    handle: SimHandle,
    base: String,
    http: reqwest::Client,
}

impl Sim {
    async fn start() -> Self {
        let config = SimConfig::new(ApiKey::new(KEY).unwrap());
        let handle = start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("simulator starts");
        let base = handle.base_url().to_string();
        let base = base.trim_end_matches('/').to_owned();
        Self {
            handle,
            base,
            http: reqwest::Client::new(),
        }
    }

    async fn stop(self) {
        self.handle.shutdown().await;
    }

    /// A client with a short timeout and fast retries (3 attempts).
    fn client(&self) -> AuthyClient {
        self.client_with(KEY, Duration::from_secs(2))
    }

    fn client_with(&self, key: &str, timeout: Duration) -> AuthyClient {
        let mut config = AuthyConfig::new(self.base.parse().unwrap(), ApiKey::new(key).unwrap());
        config.timeout = timeout;
        config.retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        };
        AuthyClient::new(config).unwrap()
    }

    /// A control-API (or raw Authy) request, with the API key header; returns status and JSON
    /// body (Null when not JSON).
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Authy-API-Key", KEY);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("simulator reachable");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "control call {path} answered {status}: {value}"
        );
        value
    }

    async fn codes(&self, id: AuthyId) -> (Option<String>, Option<String>) {
        let v = self
            .control(
                reqwest::Method::GET,
                &format!("/__sim/users/{id}/codes"),
                None,
            )
            .await;
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        (text(&v["sms_code"]), text(&v["totp_code"]))
    }

    async fn fault(&self, fault: Value) {
        self.control(reqwest::Method::POST, "/__sim/faults", Some(fault))
            .await;
    }

    async fn clear_faults(&self) {
        self.control(reqwest::Method::DELETE, "/__sim/faults", None)
            .await;
    }

    async fn requests(&self, endpoint: &str) -> u64 {
        let v = self
            .control(reqwest::Method::GET, "/__sim/stats", None)
            .await;
        v["requests"][endpoint].as_u64().unwrap_or(0)
    }

    /// The app's name and id, as Authy's `app/details` reports them (used to sign QR JWTs).
    async fn app(&self) -> (String, String) {
        let (status, v) = self
            .call(reqwest::Method::GET, "/protected/json/app/details", None)
            .await;
        assert_eq!(status, 200, "{v}");
        let id = match &v["app"]["app_id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        (v["app"]["name"].as_str().unwrap().to_owned(), id)
    }
}

fn user(phone: &str) -> NewUser {
    NewUser {
        email: Email::parse("someone@example.com").unwrap(),
        phone: PhoneNumber::parse(phone).unwrap(),
        country_code: CountryCode::new(1).unwrap(),
        send_install_link: false,
    }
}

fn approval(ttl: Option<Duration>) -> NewApproval {
    NewApproval {
        message: ApprovalMessage::parse("Log in to Example?").unwrap(),
        details: Details::parse([("Username", "alice"), ("Location", "Lisbon")]).unwrap(),
        hidden_details: Details::parse([("ip", "10.0.0.1")]).unwrap(),
        logos: vec![],
        ttl,
    }
}

fn token(t: &str) -> Token {
    Token::parse(t).unwrap()
}

/// A well-formed token that cannot be either code: longer than both.
fn wrong_token(codes: &[&str]) -> Token {
    let len = codes
        .iter()
        .map(|c| c.len())
        .max()
        .unwrap_or(6)
        .clamp(5, 11)
        + 1;
    token(&"1".repeat(len))
}

fn force() -> SendTokenOptions {
    SendTokenOptions {
        force: true,
        ..Default::default()
    }
}

// ------------------------------------------------------------------------------------------------
// Users
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_user_is_idempotent_per_phone_and_status_reads_back() {
    let sim = Sim::start().await;
    let c = sim.client();
    let a = c.create_user(&user("555-010-0001")).await.unwrap();
    let again = c.create_user(&user("(555) 010 0001")).await.unwrap();
    let b = c.create_user(&user("555-010-0002")).await.unwrap();
    assert_eq!(a, again, "same phone, same Authy id");
    assert_ne!(a, b);

    let status = c.user_status(a).await.unwrap();
    assert_eq!(status.authy_id, a);
    assert_eq!(status.country_code, Some(1));
    assert!(
        status.masked_phone.ends_with("01"),
        "{}",
        status.masked_phone
    );
    assert!(!status.registered);
    sim.stop().await;
}

/// authyd's domain types reject exactly what the simulator rejects, so authyd's client can never
/// send an invalid user. To still check that the client reads the simulator's rejection, the
/// rejection is obtained from the simulator by a raw request and replayed to the client.
#[tokio::test]
async fn invalid_user_fields_are_typed() {
    assert!(Email::parse("not-an-email").is_err());
    assert!(PhoneNumber::parse("12").is_err());

    let sim = Sim::start().await;
    let (status, body) = sim
        .call(
            reqwest::Method::POST,
            "/protected/json/users/new",
            Some(
                json!({"user": {"email": "not-an-email", "cellphone": "12", "country_code": "1"}}),
            ),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    sim.stop().await;

    let replay = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/protected/json/users/new"))
        .respond_with(
            wiremock::ResponseTemplate::new(status)
                .set_body_raw(body.to_string(), "application/json"),
        )
        .mount(&replay)
        .await;
    let c = AuthyClient::new(AuthyConfig::new(
        replay.uri().parse().unwrap(),
        ApiKey::new(KEY).unwrap(),
    ))
    .unwrap();
    match c.create_user(&user("555-010-0003")).await {
        Err(ProviderError::InvalidUser { fields, .. }) => {
            let mut names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            names.sort_unstable();
            assert_eq!(names, ["cellphone", "email"], "{fields:?}");
            assert!(fields.iter().all(|f| f.description.contains("is invalid")));
        }
        other => panic!("expected InvalidUser, got {other:?}"),
    }
}

#[tokio::test]
async fn remove_user_then_not_found() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0004")).await.unwrap();
    assert_eq!(c.remove_user(id).await, Ok(()));
    assert_eq!(c.user_status(id).await, Err(ProviderError::UserNotFound));
    assert_eq!(
        c.request_sms(id, &force()).await,
        Err(ProviderError::UserNotFound)
    );
    assert_eq!(c.remove_user(id).await, Err(ProviderError::UserNotFound));
    sim.stop().await;
}

#[tokio::test]
async fn wrong_api_key_is_invalid_api_key() {
    let sim = Sim::start().await;
    let id = sim
        .client()
        .create_user(&user("555-010-0005"))
        .await
        .unwrap();
    let c = sim.client_with("not-the-key", Duration::from_secs(2));
    assert_eq!(c.user_status(id).await, Err(ProviderError::InvalidApiKey));
    assert_eq!(
        c.verify_token(id, &token("1234567"), None).await,
        Err(ProviderError::InvalidApiKey)
    );
    assert_eq!(
        c.create_user(&user("555-010-0006")).await,
        Err(ProviderError::InvalidApiKey)
    );
    sim.stop().await;
}

// ------------------------------------------------------------------------------------------------
// Tokens
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn sms_then_verify_wrong_code_and_totp() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0007")).await.unwrap();

    // A user who never verified: without force the simulator (like Authy) would say "valid" to
    // anything. The client always forces, so a wrong token is Invalid from the start.
    let (_, totp) = sim.codes(id).await;
    let totp = totp.expect("the app has a TOTP code");
    assert_eq!(
        c.verify_token(id, &wrong_token(&[&totp]), None).await,
        Ok(TokenCheck::Invalid)
    );

    let delivery = c.request_sms(id, &force()).await.unwrap();
    assert!(delivery.sent);
    assert!(delivery.masked_phone.ends_with("07"), "{delivery:?}");
    let (sms, totp) = sim.codes(id).await;
    let sms = sms.expect("an SMS code was issued");
    let totp = totp.unwrap();

    let wrong = wrong_token(&[&sms, &totp]);
    assert_eq!(
        c.verify_token(id, &wrong, None).await,
        Ok(TokenCheck::Invalid)
    );
    assert_eq!(
        c.verify_token(id, &token(&sms), None).await,
        Ok(TokenCheck::Valid)
    );
    let (_, totp) = sim.codes(id).await;
    assert_eq!(
        c.verify_token(id, &token(&totp.unwrap()), None).await,
        Ok(TokenCheck::Valid)
    );
    sim.stop().await;
}

#[tokio::test]
async fn action_bound_code_needs_the_same_action() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0008")).await.unwrap();
    let login = TokenAction::parse("login").unwrap();
    let pay = TokenAction::parse("pay").unwrap();
    let options = SendTokenOptions {
        force: true,
        action: Some(login.clone()),
        action_message: Some("Log in to Example".into()),
        locale: None,
    };
    assert!(c.request_sms(id, &options).await.unwrap().sent);
    let sms = token(&sim.codes(id).await.0.unwrap());
    assert_eq!(
        c.verify_token(id, &sms, Some(&pay)).await,
        Ok(TokenCheck::Invalid)
    );
    assert_eq!(
        c.verify_token(id, &sms, None).await,
        Ok(TokenCheck::Invalid)
    );
    assert_eq!(
        c.verify_token(id, &sms, Some(&login)).await,
        Ok(TokenCheck::Valid)
    );
    sim.stop().await;
}

#[tokio::test]
async fn voice_call_code_verifies() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0009")).await.unwrap();
    let delivery = c.request_call(id, &force()).await.unwrap();
    assert!(delivery.sent);
    assert!(delivery.masked_phone.ends_with("09"), "{delivery:?}");
    let code = sim.codes(id).await.0.expect("a voice code was issued");
    assert_eq!(
        c.verify_token(id, &token(&code), None).await,
        Ok(TokenCheck::Valid)
    );
    sim.stop().await;
}

// ------------------------------------------------------------------------------------------------
// OneTouch approvals
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn approval_pending_then_approved() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0010")).await.unwrap();
    let uuid = c
        .create_approval(id, &approval(Some(Duration::from_secs(120))))
        .await
        .unwrap();
    let snap = c.get_approval(&uuid).await.unwrap();
    assert_eq!(snap.uuid, uuid);
    assert_eq!(snap.status, ApprovalStatus::Pending);
    assert_eq!(snap.authy_id, Some(id));
    assert_eq!(snap.processed_at, None);
    assert_eq!(snap.seconds_to_expire, Some(120));
    assert!(snap.created_at.is_some());

    sim.control(
        reqwest::Method::POST,
        &format!("/__sim/approvals/{uuid}/approve"),
        None,
    )
    .await;
    let snap = c.get_approval(&uuid).await.unwrap();
    assert_eq!(snap.status, ApprovalStatus::Approved);
    assert!(snap.processed_at.is_some());
    sim.stop().await;
}

#[tokio::test]
async fn approval_denied() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0011")).await.unwrap();
    let uuid = c.create_approval(id, &approval(None)).await.unwrap();
    sim.control(
        reqwest::Method::POST,
        &format!("/__sim/approvals/{uuid}/deny"),
        None,
    )
    .await;
    assert_eq!(
        c.get_approval(&uuid).await.map(|s| s.status),
        Ok(ApprovalStatus::Denied)
    );
    sim.stop().await;
}

#[tokio::test]
async fn approval_with_short_ttl_expires() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0012")).await.unwrap();
    // 300 ms is sent as 1 s (rounded up, at least 1).
    let uuid = c
        .create_approval(id, &approval(Some(Duration::from_millis(300))))
        .await
        .unwrap();
    let first = c.get_approval(&uuid).await.unwrap();
    assert_eq!(first.seconds_to_expire, Some(1));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let snap = c.get_approval(&uuid).await.unwrap();
        if snap.status == ApprovalStatus::Expired {
            break;
        }
        assert_eq!(snap.status, ApprovalStatus::Pending);
        assert!(Instant::now() < deadline, "approval never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sim.stop().await;
}

#[tokio::test]
async fn unknown_approval_and_unknown_user() {
    let sim = Sim::start().await;
    let c = sim.client();
    let unknown = ApprovalUuid::parse("3f05a350-4b2c-0136-f779-12c0c2bf9eaa").unwrap();
    assert_eq!(
        c.get_approval(&unknown).await,
        Err(ProviderError::ApprovalNotFound)
    );
    assert_eq!(
        c.create_approval(AuthyId::new(1), &approval(None)).await,
        Err(ProviderError::UserNotFound)
    );
    sim.stop().await;
}

// ------------------------------------------------------------------------------------------------
// QR registration
// ------------------------------------------------------------------------------------------------

fn registration_jwt(app_name: &str, app_id: &str, custom_user_id: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": app_name,
        "iat": now,
        "exp": now + 300,
        "context": {"custom_user_id": custom_user_id, "authy_app_id": app_id},
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn registration_pending_scanned_completed_then_other() {
    let sim = Sim::start().await;
    let c = sim.client();
    let me = UserId::parse("tenant:42@example.com").unwrap();
    assert_eq!(
        c.registration_status(&me).await,
        Ok(RegistrationStatus::Pending)
    );

    let (app_name, app_id) = sim.app().await;
    let scanned = sim
        .control(
            reqwest::Method::POST,
            "/__sim/registrations/scan",
            Some(json!({"token": registration_jwt(&app_name, &app_id, me.as_str())})),
        )
        .await;
    let authy_id = match c.registration_status(&me).await {
        Ok(RegistrationStatus::Completed { authy_id }) => authy_id,
        other => panic!("expected Completed, got {other:?}"),
    };
    assert_eq!(Some(authy_id.get()), scanned["authy_id"].as_u64());

    // The scanned user has the app: an unforced SMS is ignored because of the device.
    let status = c.user_status(authy_id).await.unwrap();
    assert!(
        status.registered && !status.devices.is_empty(),
        "{status:?}"
    );
    let delivery = c
        .request_sms(authy_id, &SendTokenOptions::default())
        .await
        .unwrap();
    assert!(!delivery.sent && delivery.device.is_some(), "{delivery:?}");

    sim.control(
        reqwest::Method::POST,
        &format!("/__sim/registrations/{}/status", me.as_str()),
        Some(json!({"status": "denied"})),
    )
    .await;
    assert_eq!(
        c.registration_status(&me).await,
        Ok(RegistrationStatus::Other("denied".into()))
    );
    sim.stop().await;
}

// ------------------------------------------------------------------------------------------------
// Faults
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn latency_beyond_the_timeout_is_unavailable_timeout() {
    let sim = Sim::start().await;
    let id = sim
        .client()
        .create_user(&user("555-010-0013"))
        .await
        .unwrap();
    sim.fault(json!({"endpoint": "users_status", "kind": "latency", "ms": 1500}))
        .await;
    let c = sim.client_with(KEY, Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(
        c.user_status(id).await,
        Err(ProviderError::Unavailable(UpstreamFailure::Timeout))
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
    sim.clear_faults().await;
    assert!(c.user_status(id).await.is_ok());
    sim.stop().await;
}

#[tokio::test]
async fn get_503_twice_is_retried_and_succeeds() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0014")).await.unwrap();
    let before = sim.requests("users_status").await;
    sim.fault(json!({"endpoint": "users_status", "kind": "status", "status": 503, "count": 2}))
        .await;
    assert!(c.user_status(id).await.is_ok());
    assert_eq!(sim.requests("users_status").await - before, 3);
    sim.stop().await;
}

#[tokio::test]
async fn post_503_is_unavailable_after_exactly_one_request() {
    let sim = Sim::start().await;
    let c = sim.client();
    sim.fault(json!({"endpoint": "users_new", "kind": "status", "status": 503}))
        .await;
    assert_eq!(
        c.create_user(&user("555-010-0015")).await,
        Err(ProviderError::Unavailable(UpstreamFailure::Status(503)))
    );
    assert_eq!(sim.requests("users_new").await, 1);
    sim.stop().await;
}

#[tokio::test]
async fn status_429_is_rate_limited_and_not_retried() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0016")).await.unwrap();
    let before = sim.requests("verify").await;
    sim.fault(json!({"endpoint": "*", "kind": "status", "status": 429, "count": 1}))
        .await;
    assert!(matches!(
        c.verify_token(id, &token("1234567"), None).await,
        Err(ProviderError::RateLimited { .. })
    ));
    assert_eq!(sim.requests("verify").await - before, 1);
    sim.stop().await;
}

fn dropped<T>(r: &Result<T, ProviderError>) -> bool {
    matches!(
        r,
        Err(ProviderError::Unavailable(
            UpstreamFailure::ConnectionClosed | UpstreamFailure::Connect
        ))
    )
}

#[tokio::test]
async fn dropped_connections_are_unavailable_and_retried_for_gets() {
    let sim = Sim::start().await;
    let c = sim.client();
    let id = c.create_user(&user("555-010-0017")).await.unwrap();

    // Persistent drops: a GET is tried max_attempts (3) times, then Unavailable.
    sim.fault(json!({"endpoint": "users_status", "kind": "drop"}))
        .await;
    let before = sim.requests("users_status").await;
    let r = c.user_status(id).await;
    assert!(dropped(&r), "{r:?}");
    assert_eq!(sim.requests("users_status").await - before, 3);
    sim.clear_faults().await;

    // One drop: the GET's retry succeeds.
    sim.fault(json!({"endpoint": "users_status", "kind": "drop", "count": 1}))
        .await;
    assert!(c.user_status(id).await.is_ok());
    sim.clear_faults().await;

    // A POST whose connection dropped may have been processed: not retried.
    sim.fault(json!({"endpoint": "approval_create", "kind": "drop"}))
        .await;
    let before = sim.requests("approval_create").await;
    let r = c.create_approval(id, &approval(None)).await;
    assert!(dropped(&r), "{r:?}");
    assert_eq!(sim.requests("approval_create").await - before, 1);
    sim.stop().await;
}
