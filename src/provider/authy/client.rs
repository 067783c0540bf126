//! The Authy HTTP client: one pooled `reqwest::Client`, the API key in the `X-Authy-API-Key`
//! header of every request, requests built like the official SDKs build them (GET parameters in
//! the query string, POST bodies as JSON), bounded retries, and every answer interpreted by
//! [`wire`](super::wire).
//!
//! Logging: each call is logged under its endpoint name and route *template*
//! (`/protected/json/verify/{token}/{id}`), never its URL — the verify URL contains the token —
//! and never the key. reqwest errors are logged without their URL.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, redirect};
use serde::Serialize;
use serde_json::Value;
use url::Url;

use chrono::{DateTime, Utc};

use super::registration::{self, AuthyApp};
use super::wire::{self, Body, Refusal, Reply};
use crate::domain::{ApprovalUuid, AuthyId, Token, TokenAction, UserId};
use crate::provider::{
    ApprovalSnapshot, NewApproval, NewUser, ProviderError, RegistrationStatus, RegistrationToken,
    SendTokenOptions, TokenCheck, TokenDelivery, TwoFactorProvider, UpstreamFailure, UserStatus,
};
use crate::secret::ApiKey;

/// Largest response body read; Authy's answers are a few hundred bytes.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// How often to try an operation, and how long to wait between tries. GETs are retried on
/// connection failures, timeouts and 5xx; POSTs only when the connection could not be made.
/// 4xx and 429 are never retried here (429 is reported as `RateLimited` with its `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (0 is read as 1).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further one, with jitter.
    pub base_delay: Duration,
    /// Upper bound of any wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// One try, no retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The wait before retry number `retry` (1-based): `base · 2^(retry-1)`, capped at
    /// `max_delay`, then "equal jitter" (a uniform pick in its upper half), and never less than a
    /// `Retry-After` the server gave, within `max_delay`.
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        use rand::Rng;
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max_delay);
        let jittered = exp.mul_f64(rand::rng().random_range(0.5..=1.0));
        match retry_after {
            Some(hint) => jittered.max(hint.min(self.max_delay)),
            None => jittered,
        }
    }
}

/// Where and how to reach Authy.
#[derive(Clone)]
pub struct AuthyConfig {
    /// `https://api.authy.com` by default. A path prefix is kept (`https://proxy/authy/` sends
    /// `/authy/protected/json/…`); a trailing slash does not matter.
    pub base_url: Url,
    pub api_key: ApiKey,
    /// Per request (connect, send, and read the whole answer), per attempt.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// The application QR registration tokens name; without it they cannot be issued.
    pub app: Option<AuthyApp>,
}

impl AuthyConfig {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.authy.com";
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A configuration with the default timeout (5 s) and retry policy.
    pub fn new(base_url: Url, api_key: ApiKey) -> Self {
        Self {
            base_url,
            api_key,
            timeout: Self::DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            app: None,
        }
    }

    /// `https://api.authy.com`.
    pub fn default_base_url() -> Url {
        #[allow(clippy::expect_used)] // a constant, checked by a unit test
        Url::parse(Self::DEFAULT_BASE_URL).expect("the default base URL is valid")
    }
}

impl fmt::Debug for AuthyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthyConfig")
            .field("base_url", &display_url(&self.base_url))
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("app", &self.app)
            .finish()
    }
}

/// The Authy provider. Cheap to clone (one shared connection pool); safe to share between tasks.
#[derive(Clone)]
pub struct AuthyClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    timeout: Duration,
    retry: RetryPolicy,
    /// Scrubbed from any provider text that might echo it; signs registration tokens.
    api_key: ApiKey,
    app: Option<AuthyApp>,
}

impl fmt::Debug for AuthyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthyClient")
            .field("base_url", &display_url(&self.inner.base_url))
            .field("api_key", &self.inner.api_key)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// A URL for Debug output, without a password.
fn display_url(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("redacted"));
    }
    url.to_string()
}

fn misconfigured(detail: impl Into<String>) -> ProviderError {
    ProviderError::Misconfigured {
        detail: detail.into(),
    }
}

impl AuthyClient {
    /// Builds the client (and its connection pool). Fails on an unusable base URL (not http(s),
    /// no host, with a query string), an API key that is not a valid header value, or TLS setup.
    pub fn new(config: AuthyConfig) -> Result<Self, ProviderError> {
        let mut base_url = config.base_url;
        if !matches!(base_url.scheme(), "http" | "https")
            || base_url.host().is_none()
            || base_url.cannot_be_a_base()
        {
            return Err(misconfigured(
                "the Authy base URL must be an http(s) URL with a host",
            ));
        }
        if base_url.query().is_some() {
            return Err(misconfigured(
                "the Authy base URL must not have a query string",
            ));
        }
        base_url.set_fragment(None);

        let mut key = HeaderValue::from_str(config.api_key.expose()).map_err(|_| {
            misconfigured("the Authy API key contains characters not allowed in an HTTP header")
        })?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-authy-api-key", key);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));

        let http = reqwest::Client::builder()
            .user_agent(concat!("authyd/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A redirect would carry the key header to wherever it points: never follow one.
            .redirect(redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|_| misconfigured("could not build the HTTP client (TLS initialisation)"))?;

        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url,
                timeout: config.timeout,
                retry: config.retry,
                api_key: config.api_key,
                app: config.app,
            }),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// `base_url` + path segments (each percent-encoded, never concatenated) + query pairs.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, ProviderError> {
        let mut url = self.inner.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| misconfigured("the Authy base URL cannot take a path"))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends one operation, retrying as the endpoint allows, and returns the final answer
    /// (whatever its status) or the transport failure that ended it.
    async fn send(
        &self,
        ep: Endpoint,
        url: Url,
        body: Option<Bytes>,
    ) -> Result<Reply, ProviderError> {
        let policy = self.inner.retry;
        let attempts = policy.attempts();
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let outcome = self.attempt(ep, &url, body.as_ref()).await;
            record_attempt(ep, &outcome, started.elapsed());
            let elapsed_ms = started.elapsed().as_millis();
            let (retryable, hint) = match &outcome {
                Ok(reply) => {
                    tracing::debug!(
                        endpoint = ep.name(),
                        route = ep.route(),
                        attempt,
                        status = reply.status,
                        elapsed_ms,
                        "Authy answered"
                    );
                    (reply.status >= 500 && ep.idempotent(), reply.retry_after)
                }
                Err(t) => (ep.idempotent() || t.never_sent, None),
            };
            if !retryable || attempt >= attempts {
                return outcome.map_err(|t| {
                    tracing::warn!(
                        endpoint = ep.name(),
                        route = ep.route(),
                        attempt,
                        failure = %t.failure,
                        error = %t.error,
                        elapsed_ms,
                        "Authy request failed"
                    );
                    ProviderError::Unavailable(t.failure)
                });
            }
            let delay = policy.delay(attempt, hint);
            let reason = match &outcome {
                Ok(reply) => format!("HTTP {}", reply.status),
                Err(t) => format!("{} ({})", t.failure, t.error),
            };
            tracing::warn!(
                endpoint = ep.name(),
                route = ep.route(),
                attempt,
                max_attempts = attempts,
                delay_ms = delay.as_millis(),
                reason,
                "retrying Authy request"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One HTTP exchange, body read in full (bounded).
    async fn attempt(
        &self,
        ep: Endpoint,
        url: &Url,
        body: Option<&Bytes>,
    ) -> Result<Reply, Transport> {
        let mut request = self
            .inner
            .http
            .request(ep.method(), url.clone())
            .timeout(self.inner.timeout);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let mut response = request.send().await.map_err(Transport::from)?;
        let status = response.status().as_u16();
        let retry_after = parse_retry_after(response.headers());
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Transport::from)? {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Ok(Reply {
                    status,
                    retry_after,
                    body: Body::NotJson(format!("body larger than {MAX_BODY_BYTES} bytes")),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            retry_after,
            body: wire::parse_body(&bytes),
        })
    }

    /// Decodes a successful answer with `decode`, or maps the refusal.
    fn decode<T>(
        &self,
        reply: &Reply,
        decode: impl FnOnce(&Value) -> Result<T, &'static str>,
    ) -> Result<T, ProviderError> {
        match reply.success_json() {
            Some(v) => decode(v).map_err(|detail| ProviderError::InvalidResponse {
                status: reply.status,
                detail: detail.to_owned(),
            }),
            None => Err(wire::refusal(reply, &[self.inner.api_key.expose()]).into_error()),
        }
    }

    async fn request_token(
        &self,
        ep: Endpoint,
        id: AuthyId,
        options: &SendTokenOptions,
    ) -> Result<TokenDelivery, ProviderError> {
        let id = id.to_string();
        let mut query = Vec::new();
        if options.force {
            query.push(("force", "true"));
        }
        if let Some(action) = &options.action {
            query.push(("action", action.as_str()));
        }
        if let Some(text) = &options.action_message {
            query.push(("action_message", text.as_str()));
        }
        if let Some(locale) = &options.locale {
            query.push(("locale", locale.as_str()));
        }
        let segment = if ep == Endpoint::Call { "call" } else { "sms" };
        let url = self.url(&["protected", "json", segment, &id], &query)?;
        let reply = self.send(ep, url, None).await?;
        self.decode(&reply, wire::token_delivery)
    }
}

fn json_body(value: &impl Serialize) -> Result<Bytes, ProviderError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|_| misconfigured("could not encode a request body"))
}

/// Counts and times one HTTP attempt: `authyd_upstream_requests_total{endpoint, outcome}` (outcome
/// is the HTTP status class, or the transport failure) and
/// `authyd_upstream_request_duration_seconds{endpoint}`.
fn record_attempt(ep: Endpoint, outcome: &Result<Reply, Transport>, elapsed: Duration) {
    let outcome = match outcome {
        Ok(reply) => match reply.status {
            200..=299 => "2xx",
            429 => "429",
            400..=499 => "4xx",
            500..=599 => "5xx",
            _ => "other",
        },
        Err(t) => match t.failure {
            UpstreamFailure::Timeout => "timeout",
            UpstreamFailure::Connect => "connect_error",
            UpstreamFailure::ConnectionClosed => "connection_closed",
            UpstreamFailure::Status(_) => "other",
        },
    };
    metrics::counter!("authyd_upstream_requests_total", "endpoint" => ep.name(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("authyd_upstream_request_duration_seconds", "endpoint" => ep.name())
        .record(elapsed.as_secs_f64());
}

/// `Retry-After` as delay-seconds or an HTTP date.
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let secs = (at.timestamp() - chrono::Utc::now().timestamp()).max(0);
    u64::try_from(secs).ok().map(Duration::from_secs)
}

/// A request that got no (complete) answer.
struct Transport {
    failure: UpstreamFailure,
    /// The connection was never made, so the server cannot have seen the request.
    never_sent: bool,
    /// For logs: reqwest's error without its URL, with its causes.
    error: String,
}

impl From<reqwest::Error> for Transport {
    fn from(e: reqwest::Error) -> Self {
        let failure = if e.is_timeout() {
            UpstreamFailure::Timeout
        } else if e.is_connect() {
            UpstreamFailure::Connect
        } else {
            UpstreamFailure::ConnectionClosed
        };
        let never_sent = e.is_connect();
        let e = e.without_url();
        let mut error = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            error.push_str(": ");
            error.push_str(&cause.to_string());
            source = cause.source();
        }
        Self {
            failure,
            never_sent,
            error,
        }
    }
}

/// The Authy operations authyd uses. Names match the simulator's endpoint names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    UsersNew,
    UsersRemove,
    UsersStatus,
    Sms,
    Call,
    Verify,
    ApprovalCreate,
    ApprovalGet,
    RegistrationStatus,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Self::UsersNew => "users_new",
            Self::UsersRemove => "users_remove",
            Self::UsersStatus => "users_status",
            Self::Sms => "sms",
            Self::Call => "call",
            Self::Verify => "verify",
            Self::ApprovalCreate => "approval_create",
            Self::ApprovalGet => "approval_get",
            Self::RegistrationStatus => "registration_status",
        }
    }

    /// The path as a template: what logs show instead of the URL.
    fn route(self) -> &'static str {
        match self {
            Self::UsersNew => "/protected/json/users/new",
            Self::UsersRemove => "/protected/json/users/{id}/remove",
            Self::UsersStatus => "/protected/json/users/{id}/status",
            Self::Sms => "/protected/json/sms/{id}",
            Self::Call => "/protected/json/call/{id}",
            Self::Verify => "/protected/json/verify/{token}/{id}",
            Self::ApprovalCreate => "/onetouch/json/users/{id}/approval_requests",
            Self::ApprovalGet => "/onetouch/json/approval_requests/{uuid}",
            Self::RegistrationStatus => "/protected/json/registrations/status",
        }
    }

    fn method(self) -> Method {
        match self {
            Self::UsersNew | Self::UsersRemove | Self::ApprovalCreate => Method::POST,
            _ => Method::GET,
        }
    }

    /// GETs may be retried after a failure mid-request. (SMS and call GETs have a side effect:
    /// a retry after a lost answer can send the code twice, which is accepted over failing.)
    /// Safe to send again after a lost or failed answer. SMS and voice requests are GETs with a
    /// side effect (a code is texted or a phone rings): a retry after a timeout or a 5xx could
    /// reach the user twice, so they are treated like POSTs (retried only when the connection was
    /// never made).
    fn idempotent(self) -> bool {
        self.method() == Method::GET && !matches!(self, Self::Sms | Self::Call)
    }
}

impl TwoFactorProvider for AuthyClient {
    async fn create_user(&self, user: &NewUser) -> Result<AuthyId, ProviderError> {
        let url = self.url(&["protected", "json", "users", "new"], &[])?;
        let body = json_body(&wire::NewUserBody::new(user))?;
        let reply = self.send(Endpoint::UsersNew, url, Some(body)).await?;
        self.decode(&reply, wire::created_user)
    }

    async fn remove_user(&self, id: AuthyId) -> Result<(), ProviderError> {
        let id = id.to_string();
        let url = self.url(&["protected", "json", "users", &id, "remove"], &[])?;
        // authy-python posts `{}`; an empty JSON object is valid JSON for a JSON content type.
        let body = Bytes::from_static(b"{}");
        let reply = self.send(Endpoint::UsersRemove, url, Some(body)).await?;
        self.decode(&reply, |_| Ok(()))
    }

    async fn user_status(&self, id: AuthyId) -> Result<UserStatus, ProviderError> {
        let segment = id.to_string();
        let url = self.url(&["protected", "json", "users", &segment, "status"], &[])?;
        let reply = self.send(Endpoint::UsersStatus, url, None).await?;
        self.decode(&reply, |v| wire::user_status(v, id))
    }

    async fn request_sms(
        &self,
        id: AuthyId,
        options: &SendTokenOptions,
    ) -> Result<TokenDelivery, ProviderError> {
        self.request_token(Endpoint::Sms, id, options).await
    }

    async fn request_call(
        &self,
        id: AuthyId,
        options: &SendTokenOptions,
    ) -> Result<TokenDelivery, ProviderError> {
        self.request_token(Endpoint::Call, id, options).await
    }

    async fn verify_token(
        &self,
        id: AuthyId,
        token: &Token,
        action: Option<&TokenAction>,
    ) -> Result<TokenCheck, ProviderError> {
        let id = id.to_string();
        // Always `force=true`: without it Authy answers "valid" for any token of a user who
        // never logged in with Authy (reference §2.7).
        let mut query = vec![("force", "true")];
        if let Some(action) = action {
            query.push(("action", action.as_str()));
        }
        let url = self.url(
            &["protected", "json", "verify", token.expose(), &id],
            &query,
        )?;
        let reply = self.send(Endpoint::Verify, url, None).await?;
        if reply.status == 200
            && let Some(v) = reply.success_json()
        {
            return wire::token_check(v).map_err(|detail| ProviderError::InvalidResponse {
                status: reply.status,
                detail: detail.to_owned(),
            });
        }
        match wire::refusal(&reply, &[self.inner.api_key.expose(), token.expose()]) {
            Refusal::TokenInvalid { .. } => Ok(TokenCheck::Invalid),
            Refusal::Error(e) => Err(e),
        }
    }

    async fn create_approval(
        &self,
        id: AuthyId,
        approval: &NewApproval,
    ) -> Result<ApprovalUuid, ProviderError> {
        let id = id.to_string();
        let url = self.url(
            &["onetouch", "json", "users", &id, "approval_requests"],
            &[],
        )?;
        let body = json_body(&wire::NewApprovalBody::new(approval))?;
        let reply = self.send(Endpoint::ApprovalCreate, url, Some(body)).await?;
        self.decode(&reply, wire::created_approval)
    }

    async fn get_approval(&self, uuid: &ApprovalUuid) -> Result<ApprovalSnapshot, ProviderError> {
        let url = self.url(
            &["onetouch", "json", "approval_requests", uuid.as_str()],
            &[],
        )?;
        let reply = self.send(Endpoint::ApprovalGet, url, None).await?;
        self.decode(&reply, |v| wire::approval_snapshot(v, uuid))
    }

    async fn registration_status(
        &self,
        user: &UserId,
    ) -> Result<RegistrationStatus, ProviderError> {
        let url = self.url(
            &["protected", "json", "registrations", "status"],
            &[("custom_user_id", user.as_str())],
        )?;
        let reply = self.send(Endpoint::RegistrationStatus, url, None).await?;
        self.decode(&reply, wire::registration_status)
    }

    fn registration_token(
        &self,
        user: &UserId,
        issued: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<RegistrationToken, ProviderError> {
        let app = self.inner.app.as_ref().ok_or_else(|| {
            misconfigured("QR registration needs the Authy application name and id")
        })?;
        let jwt = registration::token(&self.inner.api_key, app, user, issued, expires)
            .map_err(|e| misconfigured(format!("could not sign a registration token: {e}")))?;
        let uri = format!("{}{jwt}", registration::URI_PREFIX);
        Ok(RegistrationToken { jwt, uri })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> AuthyClient {
        AuthyClient::new(AuthyConfig::new(
            Url::parse(base).unwrap(),
            ApiKey::new("k").unwrap(),
        ))
        .unwrap()
    }

    #[test]
    fn default_base_url_parses() {
        assert_eq!(
            AuthyConfig::default_base_url().as_str(),
            "https://api.authy.com/"
        );
    }

    #[test]
    fn urls_keep_prefix_and_encode_segments() {
        for base in ["https://h.example/pre/fix", "https://h.example/pre/fix/"] {
            let c = client(base);
            let u = c
                .url(&["protected", "json", "users", "a/b?c", "status"], &[])
                .unwrap();
            assert_eq!(
                u.as_str(),
                "https://h.example/pre/fix/protected/json/users/a%2Fb%3Fc/status"
            );
        }
        let c = client("http://127.0.0.1:9");
        let u = c
            .url(
                &["protected", "json", "registrations", "status"],
                &[("custom_user_id", "a b&c=d")],
            )
            .unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/protected/json/registrations/status?custom_user_id=a+b%26c%3Dd"
        );
        assert!(!c.url(&["x"], &[]).unwrap().as_str().contains('?'));
    }

    #[test]
    fn unusable_configuration_is_refused() {
        let key = || ApiKey::new("k").unwrap();
        for bad in ["ftp://h.example/", "mailto:a@b.c", "https://h.example/?a=b"] {
            let cfg = AuthyConfig::new(Url::parse(bad).unwrap(), key());
            assert!(matches!(
                AuthyClient::new(cfg),
                Err(ProviderError::Misconfigured { .. })
            ));
        }
        let cfg = AuthyConfig::new(
            AuthyConfig::default_base_url(),
            ApiKey::new("bad\nkey").unwrap(),
        );
        match AuthyClient::new(cfg) {
            Err(e @ ProviderError::Misconfigured { .. }) => {
                assert!(!format!("{e} {e:?}").contains("bad\nkey"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for _ in 0..50 {
            let d1 = p.delay(1, None);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&d1));
            let d3 = p.delay(3, None);
            assert!((Duration::from_millis(150)..=Duration::from_millis(300)).contains(&d3));
            assert!(p.delay(40, None) <= Duration::from_millis(300));
            assert_eq!(
                p.delay(1, Some(Duration::from_secs(10))),
                Duration::from_millis(300)
            );
        }
        assert_eq!(RetryPolicy::never().attempts(), 1);
        assert_eq!(
            RetryPolicy {
                max_attempts: 0,
                ..RetryPolicy::default()
            }
            .attempts(),
            1
        );
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h), None);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
    }
}
