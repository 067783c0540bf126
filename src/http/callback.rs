//! The OneTouch callback endpoint (reference §4): Authy calls it when a user answers a push, as
//! a POST with a JSON body or a GET with the same data in the query string, signed with the API
//! key (`X-Authy-Signature`, `X-Authy-Signature-Nonce`).
//!
//! Checks, in order; the first that fails answers and is audited (`reject_callback`):
//! 1. both headers present (header names match in any case) — else 401;
//! 2. the nonce is a Unix time within [`NONCE_WINDOW`] of now — else 401;
//! 3. a POST body is JSON — else 400;
//! 4. the signature is Authy's for the **configured external URL** (never the Host header, which
//!    proxies rewrite), compared in constant time — else 401;
//! 5. this nonce + signature was not accepted before (kept in the store, so replays are refused
//!    across restarts and replicas) — else 401;
//! 6. the payload is an `approval_request_status` with a uuid and `approved`/`denied` — else 400
//!    (other signed callback kinds are acknowledged and ignored).
//!
//! An accepted callback updates the approval through the use-case (compare-and-set, then
//! broadcast to watchers) and is audited as `receive_callback`; it answers 200 also when the
//! approval was already terminal (e.g. expired) or is not ours, so Authy does not retry it.
//! Rejections are logged at most once per [`LOG_EVERY`], with the number suppressed in between.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodFilter;
use axum::routing::on;
use chrono::Utc;
use parking_lot::Mutex;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use crate::app::twofactor::{CallbackOutcome, TwoFactor, append_audit};
use crate::domain::{ApprovalStatus, ApprovalUuid};
use crate::provider::TwoFactorProvider;
use crate::provider::authy::signature::{self, CallbackMethod, CallbackParams};
use crate::secret::ApiKey;
use crate::store::{AuditAction, AuditEvent, Store};

/// Where the HTTP port serves callbacks.
pub const PATH: &str = "/authy/callback";
/// How far a nonce (a Unix time) may be from now, either way.
pub const NONCE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Largest body accepted (recorded callbacks are about 2 KiB).
const MAX_BODY: usize = 64 * 1024;
/// At most one log line per this period for rejected callbacks.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// The caller name of callback events in the audit trail.
const AUDIT_CALLER: &str = "authy-callback";

/// The callback endpoint's configuration and the core it feeds.
pub struct CallbackEndpoint<P: TwoFactorProvider, S: Store> {
    app: TwoFactor<P, S>,
    /// The callback URL as configured at Authy, without query or fragment: what is signed.
    url: String,
    key: ApiKey,
    log: RejectionLog,
}

impl<P: TwoFactorProvider, S: Store> CallbackEndpoint<P, S> {
    /// `url` is the external URL configured in the Authy console; `key` the Authy API key.
    pub fn new(app: TwoFactor<P, S>, url: &Url, key: ApiKey) -> Self {
        let mut url = url.clone();
        url.set_query(None);
        url.set_fragment(None);
        Self {
            app,
            url: url.to_string(),
            key,
            log: RejectionLog::default(),
        }
    }
}

/// The callback route (GET and POST at [`PATH`]). Serve it with connect info
/// (`into_make_service_with_connect_info::<SocketAddr>`) so rejections record the peer.
pub fn router<P: TwoFactorProvider, S: Store>(endpoint: CallbackEndpoint<P, S>) -> Router {
    Router::new()
        .route(
            PATH,
            on(MethodFilter::GET.or(MethodFilter::POST), handle::<P, S>),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::new(endpoint))
}

/// Why a callback was refused: the audit outcome and the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    MissingSignature,
    BadNonce,
    StaleNonce,
    MalformedBody,
    BadSignature,
    Replayed,
    MalformedPayload,
}

impl Rejection {
    fn reason(self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::BadNonce => "bad_nonce",
            Self::StaleNonce => "stale_nonce",
            Self::MalformedBody => "malformed_body",
            Self::BadSignature => "bad_signature",
            Self::Replayed => "replayed",
            Self::MalformedPayload => "malformed_payload",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::MalformedBody | Self::MalformedPayload => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// What a verified callback asks for.
enum Verified {
    Answered {
        uuid: ApprovalUuid,
        status: ApprovalStatus,
    },
    /// A signed callback of a kind authyd does not act on.
    OtherAction,
}

async fn handle<P: TwoFactorProvider, S: Store>(
    State(endpoint): State<Arc<CallbackEndpoint<P, S>>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = if method == Method::GET {
        CallbackMethod::Get
    } else {
        CallbackMethod::Post
    };
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip().to_string());
    let verified = match endpoint.verify(method, uri.query(), &headers, &body).await {
        Ok(verified) => verified,
        Err(Checked::Rejected(rejection)) => {
            metrics::counter!("authyd_callbacks_total", "outcome" => rejection.reason())
                .increment(1);
            endpoint.log.rejected(rejection, peer.as_deref());
            endpoint
                .audit(
                    AuditAction::RejectCallback,
                    rejection.reason(),
                    None,
                    &method,
                    peer,
                )
                .await;
            return (rejection.status(), "callback refused\n").into_response();
        }
        Err(Checked::StoreFailed) => {
            metrics::counter!("authyd_callbacks_total", "outcome" => "error").increment(1);
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
        }
    };
    let (outcome, subject) = match verified {
        Verified::OtherAction => ("ignored", None),
        Verified::Answered { uuid, status } => {
            match endpoint.app.approval_answered(&uuid, status).await {
                Ok(CallbackOutcome::Applied(r)) => ("applied", Some(r.approval_id.to_string())),
                Ok(CallbackOutcome::Unchanged(r)) => ("unchanged", Some(r.approval_id.to_string())),
                Ok(CallbackOutcome::UnknownApproval) => ("unknown_approval", None),
                Err(error) => {
                    tracing::error!(%error, "OneTouch callback not applied (polling will catch up)");
                    metrics::counter!("authyd_callbacks_total", "outcome" => "error").increment(1);
                    return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
                }
            }
        }
    };
    metrics::counter!("authyd_callbacks_total", "outcome" => outcome).increment(1);
    endpoint
        .audit(
            AuditAction::ReceiveCallback,
            outcome,
            subject,
            &method,
            peer,
        )
        .await;
    (StatusCode::OK, "ok\n").into_response()
}

enum Checked {
    Rejected(Rejection),
    /// The replay guard could not be read: neither accepted nor refused.
    StoreFailed,
}

impl From<Rejection> for Checked {
    fn from(r: Rejection) -> Self {
        Self::Rejected(r)
    }
}

impl<P: TwoFactorProvider, S: Store> CallbackEndpoint<P, S> {
    async fn verify(
        &self,
        method: CallbackMethod,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Verified, Checked> {
        // `HeaderMap` names are case-insensitive: `X-Authy-Signature` and `x-authy-signature`
        // (HTTP/2 through AWS ALB) are the same header.
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(signature), Some(nonce)) = (
            header("x-authy-signature"),
            header("x-authy-signature-nonce"),
        ) else {
            return Err(Rejection::MissingSignature.into());
        };
        let nonce = nonce.trim();
        let sent_at = nonce_time(nonce).ok_or(Rejection::BadNonce)?;
        let now = Utc::now().timestamp();
        let window = i64::try_from(NONCE_WINDOW.as_secs()).unwrap_or(i64::MAX);
        if now.abs_diff(sent_at) > window.unsigned_abs() {
            return Err(Rejection::StaleNonce.into());
        }
        let query = query.unwrap_or("");
        let json;
        let params = match method {
            CallbackMethod::Post => {
                json = serde_json::from_slice::<Value>(body)
                    .ok()
                    .filter(Value::is_object)
                    .ok_or(Rejection::MalformedBody)?;
                CallbackParams::Json(&json)
            }
            CallbackMethod::Get => CallbackParams::Query(query),
        };
        if !signature::verify(&self.key, nonce, method, &self.url, params, signature) {
            return Err(Rejection::BadSignature.into());
        }
        // Kept while the nonce could still pass the freshness check: it was accepted at most
        // one window before now and stays acceptable up to one window after it was sent.
        let digest: [u8; 32] = Sha256::new()
            .chain_update(nonce.as_bytes())
            .chain_update([0])
            .chain_update(signature.trim().as_bytes())
            .finalize()
            .into();
        match self
            .app
            .store()
            .remember_callback(&digest, Utc::now(), 2 * NONCE_WINDOW)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(Rejection::Replayed.into()),
            Err(error) => {
                tracing::error!(%error, "OneTouch callback: replay guard unavailable");
                return Err(Checked::StoreFailed);
            }
        }
        let field = |name: &str| -> Option<String> {
            match params {
                CallbackParams::Json(v) => v.get(name).and_then(Value::as_str).map(str::to_owned),
                CallbackParams::Query(raw) => form_urlencoded::parse(raw.as_bytes())
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned()),
            }
        };
        if field("callback_action").as_deref() != Some("approval_request_status") {
            return Ok(Verified::OtherAction);
        }
        let uuid = field("uuid")
            .and_then(|raw| ApprovalUuid::parse(&raw).ok())
            .ok_or(Rejection::MalformedPayload)?;
        let status = match field("status").as_deref() {
            Some("approved") => ApprovalStatus::Approved,
            Some("denied") => ApprovalStatus::Denied,
            _ => return Err(Rejection::MalformedPayload.into()),
        };
        Ok(Verified::Answered { uuid, status })
    }

    async fn audit(
        &self,
        action: AuditAction,
        outcome: &str,
        subject: Option<String>,
        method: &CallbackMethod,
        peer: Option<String>,
    ) {
        let peer = peer.map_or_else(String::new, |p| format!(" from={p}"));
        append_audit(
            self.app.store(),
            AuditEvent {
                at: Utc::now(),
                caller: AUDIT_CALLER.to_owned(),
                action,
                user_id: None,
                subject,
                outcome: outcome.to_owned(),
                detail: Some(format!("method={method}{peer}")),
            },
        )
        .await;
    }
}

/// The nonce as Unix seconds: Authy sends an integer string; a fractional part (seen in SDK
/// tests) is ignored.
fn nonce_time(nonce: &str) -> Option<i64> {
    let (secs, fraction) = nonce.split_once('.').unwrap_or((nonce, "0"));
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(secs) || !digits(fraction) {
        return None;
    }
    secs.parse().ok()
}

/// Logs rejected callbacks at most once per [`LOG_EVERY`], counting the ones in between, so a
/// flood of forgeries cannot flood the log.
#[derive(Default)]
struct RejectionLog(Mutex<LogState>);

#[derive(Default)]
struct LogState {
    last: Option<Instant>,
    suppressed: u64,
}

impl RejectionLog {
    fn rejected(&self, rejection: Rejection, peer: Option<&str>) {
        let mut state = self.0.lock();
        if state.last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            state.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut state.suppressed);
        state.last = Some(Instant::now());
        drop(state);
        tracing::warn!(
            reason = rejection.reason(),
            peer = peer.unwrap_or("unknown"),
            suppressed_since_last_report = suppressed,
            "OneTouch callback refused"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_unix_seconds() {
        assert_eq!(nonce_time("1512923419"), Some(1_512_923_419));
        assert_eq!(nonce_time("1427849783.886085"), Some(1_427_849_783));
        for bad in [
            "",
            "-1",
            "12a",
            "1.",
            ".5",
            "1e9",
            "99999999999999999999",
            " 1",
        ] {
            assert_eq!(nonce_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn log_is_rate_limited() {
        let log = RejectionLog::default();
        log.rejected(Rejection::BadSignature, None);
        log.rejected(Rejection::BadSignature, None);
        log.rejected(Rejection::StaleNonce, Some("10.0.0.1"));
        let state = log.0.lock();
        assert!(state.last.is_some());
        assert_eq!(state.suppressed, 2);
    }
}
