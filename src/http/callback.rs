//! The OneTouch callback endpoint (reference §4): Authy calls it when a user answers a push, as
//! a POST with a JSON body or a GET with the same data in the query string, signed with the API
//! key (`X-Authy-Signature`, `X-Authy-Signature-Nonce`).
//!
//! Checks, in order; the first that fails answers and is counted, logged and audited
//! (`reject_callback`, see "Refusals" below):
//! 1. GET or POST — else 405;
//! 2. both headers present (header names match in any case) — else 401;
//! 3. the nonce is a Unix time within [`NONCE_WINDOW`] of now — else 401;
//! 4. a POST body is a JSON object; a GET query is at most [`MAX_QUERY`] bytes and names no
//!    top-level field twice — else 400. The fields acted on are read from the very payload the
//!    signature covers (a repeated key could otherwise be signed with one value and read with
//!    another);
//! 5. the signature is Authy's for the **configured external URL** (never the Host header, which
//!    proxies rewrite), compared in constant time — else 401;
//! 6. the payload is an `approval_request_status` with a uuid and `approved`/`denied` — else 400
//!    (other signed callback kinds are acknowledged and ignored);
//! 7. this nonce + signature was not accepted before (kept in the store, so replays are refused
//!    across restarts and replicas) — else 401. It is recorded only after the callback was
//!    applied, so a callback that failed (503) can be delivered again; a replay of one that was
//!    applied changes nothing anyway (the approval is terminal).
//!
//! An accepted callback updates the approval through the use-case (compare-and-set, then
//! broadcast to watchers) and is audited as `receive_callback`; it answers 200 also when the
//! approval was already terminal, had passed its `expire_time` (it expires instead), or is not
//! ours, so Authy does not retry it.
//!
//! Refusals come from the open internet, so they must not fill the disk or the log: each is
//! counted (`authyd_callbacks_total{outcome=<reason>}`), but per reason at most one per
//! [`REPORT_EVERY`] is logged and audited, with the number refused since the previous report.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::Utc;
use parking_lot::Mutex;
use serde_json::Value;
use sha2::{Digest, Sha256};

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
/// Largest GET query accepted (the same payload as a query is about 3 KiB).
pub const MAX_QUERY: usize = 16 * 1024;
/// Per refusal reason, at most one log line and one audit event per this period.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);
/// The caller name of callback events in the audit trail.
const AUDIT_CALLER: &str = "authy-callback";

/// The callback endpoint's configuration and the core it feeds.
pub struct CallbackEndpoint<P: TwoFactorProvider, S: Store> {
    app: TwoFactor<P, S>,
    /// The callback URL as configured at Authy, without query or fragment: what is signed.
    url: String,
    key: ApiKey,
    reports: RefusalReports,
}

impl<P: TwoFactorProvider, S: Store> CallbackEndpoint<P, S> {
    /// `url` is the external URL exactly as configured in the Authy console; `key` the Authy API
    /// key.
    pub fn new(app: TwoFactor<P, S>, url: &str, key: ApiKey) -> Self {
        let url = url.split(['?', '#']).next().unwrap_or(url).to_owned();
        Self {
            app,
            url,
            key,
            reports: RefusalReports::default(),
        }
    }
}

/// The callback route (any method at [`PATH`]; only GET and POST are accepted). Serve it with
/// connect info (`into_make_service_with_connect_info::<SocketAddr>`) so refusals record the peer.
pub fn router<P: TwoFactorProvider, S: Store>(endpoint: CallbackEndpoint<P, S>) -> Router {
    Router::new()
        .route(PATH, any(handle::<P, S>))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::new(endpoint))
}

/// Why a callback was refused: the audit outcome and the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Refusal {
    WrongMethod,
    MissingSignature,
    BadNonce,
    StaleNonce,
    MalformedBody,
    MalformedQuery,
    BadSignature,
    MalformedPayload,
    Replayed,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Self::WrongMethod => "wrong_method",
            Self::MissingSignature => "missing_signature",
            Self::BadNonce => "bad_nonce",
            Self::StaleNonce => "stale_nonce",
            Self::MalformedBody => "malformed_body",
            Self::MalformedQuery => "malformed_query",
            Self::BadSignature => "bad_signature",
            Self::MalformedPayload => "malformed_payload",
            Self::Replayed => "replayed",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::WrongMethod => StatusCode::METHOD_NOT_ALLOWED,
            Self::MalformedBody | Self::MalformedQuery | Self::MalformedPayload => {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// A callback whose signature checked out.
struct Verified {
    /// SHA-256 of nonce and signature: the replay guard's key.
    digest: [u8; 32],
    action: Action,
}

/// What a verified callback asks for.
enum Action {
    Answered {
        uuid: ApprovalUuid,
        status: ApprovalStatus,
    },
    /// A signed callback of a kind authyd does not act on.
    Other,
}

async fn handle<P: TwoFactorProvider, S: Store>(
    State(endpoint): State<Arc<CallbackEndpoint<P, S>>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip().to_string());
    let method = match method {
        Method::GET => CallbackMethod::Get,
        Method::POST => CallbackMethod::Post,
        _ => return endpoint.refuse(Refusal::WrongMethod, None, peer).await,
    };
    let verified = match endpoint.verify(method, uri.query(), &headers, &body) {
        Ok(verified) => verified,
        Err(refusal) => return endpoint.refuse(refusal, Some(method), peer).await,
    };
    let (outcome, subject) = match verified.action {
        Action::Other => ("ignored", None),
        Action::Answered { uuid, status } => {
            match endpoint.app.approval_answered(&uuid, status).await {
                Ok(CallbackOutcome::Applied(r)) => ("applied", Some(r.approval_id.to_string())),
                Ok(CallbackOutcome::Unchanged(r)) => ("unchanged", Some(r.approval_id.to_string())),
                Ok(CallbackOutcome::TooLate(r)) => ("too_late", Some(r.approval_id.to_string())),
                Ok(CallbackOutcome::UnknownApproval) => ("unknown_approval", None),
                Err(error) => {
                    tracing::error!(%error, "OneTouch callback not applied (polling will catch up)");
                    return unavailable();
                }
            }
        }
    };
    match endpoint
        .app
        .store()
        .remember_callback(&verified.digest, Utc::now(), 2 * NONCE_WINDOW)
        .await
    {
        Ok(true) => {}
        Ok(false) => return endpoint.refuse(Refusal::Replayed, Some(method), peer).await,
        Err(error) => {
            tracing::error!(%error, "OneTouch callback: replay guard unavailable");
            return unavailable();
        }
    }
    metrics::counter!("authyd_callbacks_total", "outcome" => outcome).increment(1);
    endpoint
        .audit(
            AuditAction::ReceiveCallback,
            outcome,
            subject,
            format!("method={method}{}", from(peer.as_deref())),
        )
        .await;
    (StatusCode::OK, "ok\n").into_response()
}

fn unavailable() -> Response {
    metrics::counter!("authyd_callbacks_total", "outcome" => "error").increment(1);
    (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response()
}

fn from(peer: Option<&str>) -> String {
    peer.map_or_else(String::new, |p| format!(" from={p}"))
}

impl<P: TwoFactorProvider, S: Store> CallbackEndpoint<P, S> {
    /// Counts a refusal; logs and audits it unless this reason was reported within
    /// [`REPORT_EVERY`]; answers it.
    async fn refuse(
        &self,
        refusal: Refusal,
        method: Option<CallbackMethod>,
        peer: Option<String>,
    ) -> Response {
        metrics::counter!("authyd_callbacks_total", "outcome" => refusal.reason()).increment(1);
        if let Some(suppressed) = self.reports.admit(refusal) {
            let method = method.map_or("other", CallbackMethod::as_str);
            tracing::warn!(
                reason = refusal.reason(),
                method,
                peer = peer.as_deref().unwrap_or("unknown"),
                refused_since_last_report = suppressed,
                "OneTouch callback refused"
            );
            self.audit(
                AuditAction::RejectCallback,
                refusal.reason(),
                None,
                format!(
                    "method={method}{} refused_since_last_report={suppressed}",
                    from(peer.as_deref())
                ),
            )
            .await;
        }
        (refusal.status(), "callback refused\n").into_response()
    }

    fn verify(
        &self,
        method: CallbackMethod,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Verified, Refusal> {
        // `HeaderMap` names are case-insensitive: `X-Authy-Signature` and `x-authy-signature`
        // (HTTP/2 through AWS ALB) are the same header.
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(signature), Some(nonce)) = (
            header("x-authy-signature"),
            header("x-authy-signature-nonce"),
        ) else {
            return Err(Refusal::MissingSignature);
        };
        let nonce = nonce.trim();
        let sent_at = nonce_time(nonce).ok_or(Refusal::BadNonce)?;
        let now = Utc::now().timestamp();
        if now.abs_diff(sent_at) > NONCE_WINDOW.as_secs() {
            return Err(Refusal::StaleNonce);
        }
        let payload = match method {
            CallbackMethod::Post => serde_json::from_slice::<Value>(body)
                .ok()
                .filter(Value::is_object)
                .ok_or(Refusal::MalformedBody)?,
            CallbackMethod::Get => {
                let query = query.unwrap_or("");
                if query.len() > MAX_QUERY || repeats_a_field(query) {
                    return Err(Refusal::MalformedQuery);
                }
                signature::query_params(query)
            }
        };
        // The GET payload, nested back, signs exactly as its raw query (`to_query` is canonical).
        let params = CallbackParams::Json(&payload);
        if !signature::verify(&self.key, nonce, method, &self.url, params, signature) {
            return Err(Refusal::BadSignature);
        }
        let digest: [u8; 32] = Sha256::new()
            .chain_update(nonce.as_bytes())
            .chain_update([0])
            .chain_update(signature.trim().as_bytes())
            .finalize()
            .into();
        let field = |name: &str| payload.get(name).and_then(Value::as_str);
        if field("callback_action") != Some("approval_request_status") {
            return Ok(Verified {
                digest,
                action: Action::Other,
            });
        }
        let uuid = field("uuid")
            .and_then(|raw| ApprovalUuid::parse(raw).ok())
            .ok_or(Refusal::MalformedPayload)?;
        let status = match field("status") {
            Some("approved") => ApprovalStatus::Approved,
            Some("denied") => ApprovalStatus::Denied,
            _ => return Err(Refusal::MalformedPayload),
        };
        Ok(Verified {
            digest,
            action: Action::Answered { uuid, status },
        })
    }

    async fn audit(
        &self,
        action: AuditAction,
        outcome: &str,
        subject: Option<String>,
        detail: String,
    ) {
        append_audit(
            self.app.store(),
            AuditEvent {
                at: Utc::now(),
                caller: AUDIT_CALLER.to_owned(),
                action,
                user_id: None,
                subject,
                outcome: outcome.to_owned(),
                detail: Some(detail),
            },
        )
        .await;
    }
}

/// Whether a query names a top-level field (a key without brackets) more than once.
fn repeats_a_field(query: &str) -> bool {
    let mut seen = std::collections::HashSet::new();
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| !k.contains('['))
        .any(|(k, _)| !seen.insert(k))
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

/// Per refusal reason: when it was last reported, and how many were refused since.
#[derive(Default)]
struct RefusalReports(Mutex<HashMap<Refusal, (Instant, u64)>>);

impl RefusalReports {
    /// `Some(refused since the last report)` when this refusal is to be reported now.
    fn admit(&self, refusal: Refusal) -> Option<u64> {
        let mut reports = self.0.lock();
        let now = Instant::now();
        match reports.get_mut(&refusal) {
            Some((last, suppressed)) if now.duration_since(*last) < REPORT_EVERY => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                *last = now;
                Some(std::mem::take(suppressed))
            }
            None => {
                reports.insert(refusal, (now, 0));
                Some(0)
            }
        }
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
    fn refusals_are_reported_once_per_reason_and_period() {
        let reports = RefusalReports::default();
        assert_eq!(reports.admit(Refusal::BadSignature), Some(0));
        assert_eq!(reports.admit(Refusal::BadSignature), None);
        assert_eq!(reports.admit(Refusal::BadSignature), None);
        assert_eq!(reports.admit(Refusal::StaleNonce), Some(0));
        // A period later the next one is reported, with the count in between.
        if let Some((last, _)) = reports.0.lock().get_mut(&Refusal::BadSignature) {
            *last -= REPORT_EVERY;
        }
        assert_eq!(reports.admit(Refusal::BadSignature), Some(2));
        assert_eq!(reports.admit(Refusal::BadSignature), None);
    }

    #[test]
    fn repeated_top_level_fields_are_spotted() {
        assert!(repeats_a_field("uuid=a&status=approved&uuid=b"));
        assert!(repeats_a_field("status=approved&st%61tus=denied"));
        assert!(!repeats_a_field(
            "uuid=a&logos[][res]=x&logos[][res]=y&a[b]=1&a[b]=2"
        ));
    }
}
