//! The control API under `/__sim/` (no Authy key; JSON in, JSON out; errors are
//! `{"error": "<what is wrong>"}`). See `src/sim/README.md` for the full list with examples.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::Sim;
use super::authy_api::{json_response, normalize_phone, parse_country_code, valid_email};
use super::callbacks;
use super::faults::{BodyStyle, Endpoint, FaultKind};

use super::registration;
use super::state::{Approval, Registration, now_ms};

/// Largest control body read.
const BODY_LIMIT: usize = 64 * 1024;
/// Longest injectable latency.
const MAX_LATENCY_MS: u64 = 600_000;

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/__sim/users/{authy_id}", get(user_get))
        .route("/__sim/users/{authy_id}/codes", get(user_codes))
        .route("/__sim/users/{authy_id}/devices", post(user_add_device))
        .route("/__sim/approvals", get(approvals_list))
        .route("/__sim/approvals/{uuid}", get(approval_get))
        .route("/__sim/approvals/{uuid}/approve", post(approve))
        .route("/__sim/approvals/{uuid}/deny", post(deny))
        .route("/__sim/registrations/scan", post(registration_scan))
        .route(
            "/__sim/registrations/{custom_user_id}",
            get(registration_get),
        )
        .route(
            "/__sim/registrations/{custom_user_id}/status",
            post(registration_set_status),
        )
        .route(
            "/__sim/faults",
            get(faults_list).post(faults_add).delete(faults_clear),
        )
        .route("/__sim/stats", get(stats_get).delete(stats_reset))
        .route(
            "/__sim/callbacks",
            get(callbacks_get).delete(callbacks_clear),
        )
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(status, &json!({ "error": message.into() }))
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, &body)
}

/// A JSON object body; empty body = `{}`.
async fn body_object(req: Request) -> Result<Map<String, Value>, Response> {
    let bytes: Bytes = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| {
            fail(
                StatusCode::BAD_REQUEST,
                "the body could not be read or is over 64 KiB",
            )
        })?;
    if bytes.trim_ascii().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(fail(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )),
        Err(err) => Err(fail(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {err}"),
        )),
    }
}

fn path_text(path: Result<Path<String>, PathRejection>) -> Option<String> {
    path.ok().map(|Path(s)| s)
}

fn path_id(path: Result<Path<String>, PathRejection>) -> Option<u64> {
    path_text(path).and_then(|s| s.parse::<u64>().ok())
}

fn timestamp(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------------------------
// Users

async fn user_get(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(id) = path_id(path) else {
        return fail(StatusCode::NOT_FOUND, "user not found");
    };
    let body = sim.users.read().get(id).map(|u| {
        json!({
            "authy_id": u.id,
            "email": u.email,
            "cellphone": u.cellphone,
            "country_code": u.country_code,
            "registered": u.registered(),
            "devices": u.devices,
            "device_id": u.device_id,
            "has_verified": u.has_verified,
            "send_install_link": u.send_install_link,
            "created_at": timestamp(u.created_ms),
        })
    });
    body.map_or_else(|| fail(StatusCode::NOT_FOUND, "user not found"), ok)
}

async fn user_codes(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(id) = path_id(path) else {
        return fail(StatusCode::NOT_FOUND, "user not found");
    };
    let Some((code, totp)) = sim.users.read().codes(id, now_ms()) else {
        return fail(StatusCode::NOT_FOUND, "user not found");
    };
    ok(json!({
        "sms_code": code.as_ref().map(|c| c.code.clone()),
        "totp_code": totp,
        "sms_via": code.as_ref().map(|c| c.via.as_str()),
        "sms_action": code.as_ref().and_then(|c| c.action.clone()),
        "sms_action_message": code.as_ref().and_then(|c| c.action_message.clone()),
        "sms_locale": code.as_ref().and_then(|c| c.locale.clone()),
    }))
}

/// `os_type` of a device: 1–32 characters of `[a-z0-9_]`.
fn os_type(body: &Map<String, Value>) -> Result<String, &'static str> {
    match body.get("os_type") {
        None | Some(Value::Null) => Ok("android".to_owned()),
        Some(Value::String(s))
            if (1..=32).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            Ok(s.clone())
        }
        Some(_) => Err(
            "os_type must be 1-32 characters of a-z, 0-9 and _ (e.g. android, iphone, authy_chrome)",
        ),
    }
}

async fn user_add_device(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let Some(id) = path_id(path) else {
        return fail(StatusCode::NOT_FOUND, "user not found");
    };
    let body = match body_object(req).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let os = match os_type(&body) {
        Ok(os) => os,
        Err(message) => return fail(StatusCode::BAD_REQUEST, message),
    };
    let mut users = sim.users.write();
    if !users.add_device(id, &os, now_ms()) {
        return fail(StatusCode::NOT_FOUND, "user not found");
    }
    let devices = users.get(id).map(|u| u.devices.clone()).unwrap_or_default();
    drop(users);
    ok(json!({"authy_id": id, "registered": true, "devices": devices}))
}

// ---------------------------------------------------------------------------------------------
// Approvals

async fn approval_get(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let uuid = path_text(path).unwrap_or_default();
    let Some(approval) = sim.approvals.lock().get(&uuid).cloned() else {
        return fail(StatusCode::NOT_FOUND, "approval request not found");
    };
    ok(approval_view(&approval, now_ms()))
}

/// `GET /__sim/approvals[?authy_id=N]`: every approval request (of one user), oldest first.
async fn approvals_list(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let authy_id = match query.get("authy_id").map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return fail(StatusCode::BAD_REQUEST, "authy_id must be a number"),
    };
    let now = now_ms();
    let mut list: Vec<Approval> = sim
        .approvals
        .lock()
        .values()
        .filter(|a| authy_id.is_none_or(|id| a.authy_id == id))
        .cloned()
        .collect();
    list.sort_by_key(|a| a.created_ms);
    ok(Value::Array(
        list.iter().map(|a| approval_view(a, now)).collect(),
    ))
}

fn approval_view(approval: &Approval, now: i64) -> Value {
    let (status, processed) = approval.status_at(now);
    json!({
        "uuid": approval.uuid,
        "status": status.as_str(),
        "authy_id": approval.authy_id,
        "message": approval.message,
        "details": approval.details,
        "hidden_details": approval.hidden_details,
        "logos": approval.logos,
        "seconds_to_expire": approval.seconds_to_expire,
        "created_at": timestamp(approval.created_ms),
        "expires_at": approval.expires_ms().map(timestamp),
        "processed_at": processed.map(timestamp),
        "notified": approval.notified,
        "polls": approval.polls,
    })
}

async fn approve(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    answer(sim, path, true)
}

async fn deny(State(sim): State<Arc<Sim>>, path: Result<Path<String>, PathRejection>) -> Response {
    answer(sim, path, false)
}

fn answer(sim: Arc<Sim>, path: Result<Path<String>, PathRejection>, approve: bool) -> Response {
    let uuid = path_text(path).unwrap_or_default();
    let now = now_ms();
    let answered = {
        let mut approvals = sim.approvals.lock();
        let Some(approval) = approvals.get_mut(&uuid) else {
            return fail(StatusCode::NOT_FOUND, "approval request not found");
        };
        match approval.answer(approve, now) {
            Ok(()) => approval.clone(),
            Err(status) => {
                return json_response(
                    StatusCode::CONFLICT,
                    &json!({
                        "error": format!("approval request is not pending: it is {}", status.as_str()),
                        "status": status.as_str(),
                    }),
                );
            }
        }
    };
    let (status, _) = answered.status_at(now);
    if let Some(config) = sim.callback.clone() {
        let payload = callbacks::payload(&sim, &answered, status, now);
        tokio::spawn(callbacks::deliver(Arc::clone(&sim), config, payload));
    }
    ok(json!({"uuid": answered.uuid, "status": status.as_str()}))
}

// ---------------------------------------------------------------------------------------------
// Registrations

async fn registration_scan(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let body = match body_object(req).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(token) = body.get("token").and_then(Value::as_str) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "malformed token: the body needs {\"token\": \"<JWT>\"}", "reason": "malformed"}),
        );
    };
    let custom_user_id = match registration::check(token, &sim.api_key, &sim.app.name, &sim.app.id)
    {
        Ok(id) => id,
        Err(err) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": err.to_string(), "reason": err.reason()}),
            );
        }
    };
    let os = match os_type(&body) {
        Ok(os) => os,
        Err(message) => return fail(StatusCode::BAD_REQUEST, message),
    };
    let email = match body.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) if valid_email(e.trim()) => Some(e.trim().to_owned()),
        Some(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "email is not a valid email address",
            );
        }
    };
    let phone = match body.get("cellphone") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => match normalize_phone(p) {
            Some(p) => Some(p),
            None => return fail(StatusCode::BAD_REQUEST, "cellphone must have 4-14 digits"),
        },
        Some(_) => return fail(StatusCode::BAD_REQUEST, "cellphone must be a string"),
    };
    let country_code = match body.get("country_code") {
        None | Some(Value::Null) => 1,
        Some(v) => match parse_country_code(v) {
            Some(cc) => cc,
            None => return fail(StatusCode::BAD_REQUEST, "country_code must be 1-999"),
        },
    };

    let now = now_ms();
    // Lock order: registrations, then users (nowhere else takes both).
    let mut registrations = sim.registrations.lock();
    let existing = registrations
        .get(&custom_user_id)
        .filter(|r| r.status == "completed")
        .and_then(|r| r.authy_id);
    let mut users = sim.users.write();
    let authy_id = match existing {
        // Scanning the same QR again: the registration is already complete.
        Some(id) if users.get(id).is_some() => id,
        _ => users.register_app_user(
            email.as_deref(),
            phone.as_deref().map(|p| (p, country_code)),
            &os,
            now,
        ),
    };
    drop(users);
    registrations.insert(
        custom_user_id.clone(),
        Registration {
            status: "completed".into(),
            authy_id: Some(authy_id),
        },
    );
    drop(registrations);
    ok(json!({"custom_user_id": custom_user_id, "authy_id": authy_id}))
}

async fn registration_get(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let id = path_text(path).unwrap_or_default();
    let registration = sim.registrations.lock().get(&id).cloned();
    let (status, authy_id) =
        registration.map_or(("pending".to_owned(), None), |r| (r.status, r.authy_id));
    ok(json!({"custom_user_id": id, "status": status, "authy_id": authy_id}))
}

async fn registration_set_status(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let Some(id) = path_text(path).filter(|s| !s.is_empty()) else {
        return fail(StatusCode::BAD_REQUEST, "custom_user_id is missing");
    };
    let body = match body_object(req).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(status) = body
        .get("status")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 64)
    else {
        return fail(
            StatusCode::BAD_REQUEST,
            "status must be a non-empty string (e.g. \"denied\", \"expired\", \"pending\")",
        );
    };
    let authy_id = match body.get("authy_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "authy_id must be a positive integer",
                );
            }
        },
    };
    if status == "completed" && authy_id.is_none() {
        return fail(
            StatusCode::BAD_REQUEST,
            "a completed registration needs an authy_id (or use POST /__sim/registrations/scan)",
        );
    }
    sim.registrations.lock().insert(
        id.clone(),
        Registration {
            status: status.to_owned(),
            authy_id,
        },
    );
    ok(json!({"custom_user_id": id, "status": status, "authy_id": authy_id}))
}

// ---------------------------------------------------------------------------------------------
// Faults, stats, callbacks

fn parse_fault(
    body: &Map<String, Value>,
) -> Result<(Option<Endpoint>, FaultKind, Option<u64>), String> {
    let names: Vec<&str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
    let endpoint = match body.get("endpoint").and_then(Value::as_str) {
        Some("*") => None,
        Some(name) => Some(Endpoint::from_name(name).ok_or_else(|| {
            format!(
                "unknown endpoint {name:?}; use \"*\" or one of {}",
                names.join(", ")
            )
        })?),
        None => {
            return Err(format!(
                "endpoint is required: \"*\" or one of {}",
                names.join(", ")
            ));
        }
    };
    let kind = match body.get("kind").and_then(Value::as_str) {
        Some("latency") => {
            let ms = body
                .get("ms")
                .and_then(Value::as_u64)
                .filter(|ms| *ms <= MAX_LATENCY_MS)
                .ok_or_else(|| format!("a latency fault needs \"ms\": 0-{MAX_LATENCY_MS}"))?;
            FaultKind::Latency(Duration::from_millis(ms))
        }
        Some("status") => {
            let status = body
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (400..=599).contains(s))
                .and_then(|s| StatusCode::from_u16(s).ok())
                .ok_or("a status fault needs \"status\": 400-599")?;
            let body_style = match body.get("body").and_then(Value::as_str) {
                Some("json") => BodyStyle::Json,
                Some("html") => BodyStyle::Html,
                None if status.is_server_error() => BodyStyle::Html,
                None => BodyStyle::Json,
                Some(_) => return Err("\"body\" must be \"json\" or \"html\"".into()),
            };
            FaultKind::Status {
                status,
                body: body_style,
            }
        }
        Some("drop") => FaultKind::Drop,
        _ => return Err("kind must be \"latency\", \"status\" or \"drop\"".into()),
    };
    let count = match body.get("count") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n >= 1)
                .ok_or("count must be a positive integer")?,
        ),
    };
    Ok((endpoint, kind, count))
}

async fn faults_add(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let body = match body_object(req).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    match parse_fault(&body) {
        Ok((endpoint, kind, count)) => ok(sim.faults.add(endpoint, kind, count).to_json()),
        Err(message) => fail(StatusCode::BAD_REQUEST, message),
    }
}

async fn faults_list(State(sim): State<Arc<Sim>>) -> Response {
    let faults: Vec<Value> = sim.faults.list().iter().map(|f| f.to_json()).collect();
    ok(json!({ "faults": faults }))
}

async fn faults_clear(State(sim): State<Arc<Sim>>) -> Response {
    let removed = sim.faults.clear();
    ok(json!({ "removed": removed }))
}

async fn stats_get(State(sim): State<Arc<Sim>>) -> Response {
    ok(sim.stats.to_json())
}

async fn stats_reset(State(sim): State<Arc<Sim>>) -> Response {
    sim.stats.reset();
    ok(sim.stats.to_json())
}

async fn callbacks_get(State(sim): State<Arc<Sim>>) -> Response {
    ok(sim.callbacks.to_json())
}

async fn callbacks_clear(State(sim): State<Arc<Sim>>) -> Response {
    sim.callbacks.clear();
    ok(json!({ "callbacks": [] }))
}
