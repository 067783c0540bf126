//! The Authy endpoints (reference §2), in Authy's exact wire shapes: compact JSON, keys in the
//! recorded order, `error_code` as a string, `"success":"true"` (a string) on verify success.
//!
//! ## The verify quirk
//! Authy answers 200 "Token is valid." for *any* well-formed token when `force` is not `true` and
//! the user has never verified a token successfully ("to prevent users from being locked out until
//! they log in once", reference §2.7). The simulator does the same; send `force=true` (as the
//! python/ruby/java SDKs do by default) to have every token checked. Malformed tokens (not 6–12
//! digits) are always invalid.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::params::{self, ParamError};
use super::state::{
    self, Approval, CodeOptions, CodeRequest, DEFAULT_APPROVAL_TTL_SECS, DeviceSnapshot,
    Verification, Via, now_ms, secs,
};
use super::{Sim, control};

/// The `Content-Type` of every JSON answer.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// Largest request body read.
const BODY_LIMIT: usize = 1024 * 1024;
/// Longest approval message accepted (python/ruby/java SDKs cut or reject at 200).
const MAX_MESSAGE_CHARS: usize = 4096;

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/protected/json/users/new", post(users_new))
        .route("/protected/json/users/{id}/remove", post(users_remove))
        .route("/protected/json/users/{id}/delete", post(users_remove))
        .route("/protected/json/users/delete/{id}", post(users_remove))
        .route("/protected/json/users/{id}/status", get(users_status))
        .route("/protected/json/sms/{id}", get(sms))
        .route("/protected/json/call/{id}", get(call))
        .route("/protected/json/verify/{token}/{id}", get(verify))
        .route(
            "/onetouch/json/users/{id}/approval_requests",
            post(approval_create),
        )
        .route("/onetouch/json/approval_requests/{uuid}", get(approval_get))
        .route(
            "/protected/json/registrations/status",
            get(registration_status),
        )
        .route("/protected/json/app/details", get(app_details))
        .merge(control::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sim)
}

// ---------------------------------------------------------------------------------------------
// Bodies

/// A compact JSON response.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = match serde_json::to_vec(body) {
        Ok(bytes) => bytes,
        Err(_) => br#"{"message":"An error occurred","success":false,"errors":{"message":"An error occurred"},"error_code":"60000"}"#.to_vec(),
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    response
}

/// Authy's usual error envelope (key order of the recorded 60026 body).
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({
            "message": message,
            "success": false,
            "errors": {"message": message},
            "error_code": code,
        }),
    )
}

/// 401 / 60001 (key order of the recorded body R11).
pub fn invalid_api_key() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        &json!({
            "error_code": "60001",
            "message": "Invalid API key",
            "errors": {"message": "Invalid API key"},
            "success": false,
        }),
    )
}

fn user_not_found() -> Response {
    error(StatusCode::NOT_FOUND, "60026", "User not found.")
}

/// 400 / 60004 for a missing or unusable parameter.
fn invalid_parameter(name: &str, problem: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "60004",
        &format!("Invalid parameter: {name} - {problem}"),
    )
}

fn invalid_request(detail: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "60002",
        &format!("Invalid request: {detail}"),
    )
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "60000", "Resource not found")
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "60000",
        "Method not allowed",
    )
}

fn timestamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------------------------
// Request reading

/// An authenticated Authy request's parameters (query, form and JSON merged; `api_key` removed).
pub struct Params(pub Map<String, Value>);

impl Params {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    fn flag(&self, name: &str) -> bool {
        params::truthy(self.get(name))
    }

    fn text(&self, name: &str) -> Option<String> {
        params::text(self.get(name))
    }
}

impl FromRequest<Arc<Sim>> for Params {
    type Rejection = Response;

    async fn from_request(req: Request, sim: &Arc<Sim>) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        // Header first (current SDKs): checked before anything is parsed.
        let header_key = parts.headers.get("x-authy-api-key");
        if let Some(value) = header_key
            && !value.to_str().is_ok_and(|key| sim.api_key.matches(key))
        {
            return Err(invalid_api_key());
        }
        let query = params::parse_query(parts.uri.query().unwrap_or("")).map_err(param_error)?;
        let bytes: Bytes = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|_| invalid_request("the request body could not be read or is too large"))?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let body = params::parse_body(content_type, &bytes).map_err(param_error)?;
        // Without the header: the query string, then the body (legacy SDKs).
        if header_key.is_none()
            && !key_param(&query)
                .or_else(|| key_param(&body))
                .is_some_and(|key| sim.api_key.matches(&key))
        {
            return Err(invalid_api_key());
        }
        let mut merged = params::merge(query, body);
        merged.remove("api_key");
        Ok(Params(merged))
    }
}

fn key_param(map: &Map<String, Value>) -> Option<String> {
    match map.get("api_key") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn param_error(err: ParamError) -> Response {
    match err {
        ParamError::InvalidJson => invalid_request("the body is not valid JSON"),
        other => invalid_request(&other.to_string()),
    }
}

/// An Authy id from the path; `None` (→ 60026) for anything that is not a number.
fn authy_id(path: Result<Path<String>, PathRejection>) -> Option<u64> {
    let Path(raw) = path.ok()?;
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Users

/// Field errors of user creation, in the order email, cellphone, country_code.
struct UserFields {
    email: Result<String, &'static str>,
    cellphone: Result<String, &'static str>,
    country_code: Result<u16, &'static str>,
}

const BLANK: &str = "is invalid and can't be blank";
const INVALID: &str = "is invalid";

fn read_user_fields(params: &Params) -> UserFields {
    let user = params.get("user").and_then(Value::as_object);
    let field = |name: &str| user.and_then(|u| u.get(name));
    UserFields {
        email: match params::text(field("email")) {
            None => Err(BLANK),
            Some(e) if valid_email(&e) => Ok(e),
            Some(_) => Err(INVALID),
        },
        cellphone: match params::text(field("cellphone")) {
            None => Err(BLANK),
            Some(p) => normalize_phone(&p).ok_or(INVALID),
        },
        country_code: match field("country_code") {
            None | Some(Value::Null) => Err(BLANK),
            Some(v) => parse_country_code(v).ok_or(INVALID),
        },
    }
}

/// A plausible email: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// Digits of a phone number given with dashes, periods, spaces or parentheses: 4–14 digits.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | ' ' | '(' | ')'))
        .collect();
    ((4..=14).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// A calling code 1–999, as a number or a string (optionally with `+`).
pub fn parse_country_code(value: &Value) -> Option<u16> {
    let n = match value {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => {
            let s = s.trim();
            let s = s.strip_prefix('+').unwrap_or(s);
            if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()?
        }
        _ => return None,
    };
    u16::try_from(n).ok().filter(|n| (1..=999).contains(n))
}

async fn users_new(State(sim): State<Arc<Sim>>, params: Params) -> Response {
    let fields = read_user_fields(&params);
    let (email, cellphone, country_code) = match fields {
        UserFields {
            email: Ok(e),
            cellphone: Ok(p),
            country_code: Ok(c),
        } => (e, p, c),
        UserFields {
            email,
            cellphone,
            country_code,
        } => {
            let failures = [
                ("email", email.err()),
                ("cellphone", cellphone.err()),
                ("country_code", country_code.err()),
            ];
            let mut errors = Map::new();
            for (name, problem) in failures {
                if let Some(problem) = problem {
                    errors.insert(name.into(), json!(problem));
                }
            }
            let mut body = Map::new();
            body.insert("message".into(), json!("User was not valid"));
            body.insert("success".into(), json!(false));
            let top_level = errors.clone();
            errors.insert("message".into(), json!("User was not valid"));
            body.insert("errors".into(), Value::Object(errors));
            body.extend(top_level);
            body.insert("error_code".into(), json!("60027"));
            return json_response(StatusCode::BAD_REQUEST, &Value::Object(body));
        }
    };
    // authy-php nests the flag inside `user`; accept both places.
    let send_install_link = params.flag("send_install_link_via_sms")
        || params::truthy(
            params
                .get("user")
                .and_then(|u| u.get("send_install_link_via_sms")),
        );
    let id = sim.users.write().upsert(
        &email,
        &cellphone,
        country_code,
        send_install_link,
        now_ms(),
    );
    json_response(
        StatusCode::OK,
        &json!({"message": "User created successfully.", "user": {"id": id}, "success": true}),
    )
}

async fn users_remove(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
    _params: Params,
) -> Response {
    let Some(id) = authy_id(path) else {
        return user_not_found();
    };
    if !sim.users.write().remove(id) {
        return user_not_found();
    }
    json_response(
        StatusCode::OK,
        &json!({"message": "User removed from application", "success": true}),
    )
}

async fn users_status(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
    _params: Params,
) -> Response {
    let Some(id) = authy_id(path) else {
        return user_not_found();
    };
    let users = sim.users.read();
    let Some(user) = users.get(id) else {
        drop(users);
        return user_not_found();
    };
    let last_sync = user.app_registered_ms.map_or(0, secs);
    let os_type = user.devices.last().map_or("unknown", String::as_str);
    let body = json!({
        "status": {
            "authy_id": user.id,
            "confirmed": true,
            "registered": user.registered(),
            "country_code": user.country_code,
            "phone_number": user.masked_phone(),
            "email": user.email,
            "devices": user.devices,
            "has_hard_token": false,
            "account_disabled": false,
            "detailed_devices": [{
                "device_type": "authy",
                "os_type": os_type,
                "registration_device_id": null,
                "registration_method": null,
                "device_id": user.device_id,
                "last_sync_date": last_sync,
                "creation_date": secs(user.created_ms),
            }],
            "deleted_devices": [],
        },
        "message": "User status.",
        "success": true,
    });
    drop(users);
    json_response(StatusCode::OK, &body)
}

// ---------------------------------------------------------------------------------------------
// SMS, call, verify

async fn sms(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    send_code(&sim, path, &params, Via::Sms)
}

async fn call(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    send_code(&sim, path, &params, Via::Call)
}

fn send_code(
    sim: &Sim,
    path: Result<Path<String>, PathRejection>,
    params: &Params,
    via: Via,
) -> Response {
    let Some(id) = authy_id(path) else {
        return user_not_found();
    };
    let options = CodeOptions {
        action: params.text("action"),
        action_message: params.text("action_message"),
        locale: params.text("locale"),
    };
    let outcome = sim
        .users
        .write()
        .request_code(id, via, params.flag("force"), options, now_ms());
    let body = match (outcome, via) {
        (None, _) => return user_not_found(),
        (Some(CodeRequest::Ignored { cellphone, device }), Via::Sms) => json!({
            "message": "Ignored: SMS is not needed for smartphones. Pass force=true if you want to actually send it anyway.",
            "cellphone": cellphone,
            "device": device,
            "ignored": true,
            "success": true,
        }),
        (Some(CodeRequest::Ignored { cellphone, device }), Via::Call) => json!({
            "message": "Call ignored. User is using  App Tokens and this call is not necessary. Pass force=true if you still want to call users that are using the App.",
            "cellphone": cellphone,
            "device": device,
            "ignored": true,
            "success": true,
        }),
        (Some(CodeRequest::Sent { cellphone }), Via::Sms) => json!({
            "success": true,
            "message": "SMS token was sent",
            "cellphone": cellphone,
        }),
        (Some(CodeRequest::Sent { cellphone }), Via::Call) => json!({
            "cellphone": cellphone,
            "message": "Call started...",
            "success": true,
        }),
    };
    json_response(StatusCode::OK, &body)
}

async fn verify(
    State(sim): State<Arc<Sim>>,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Params,
) -> Response {
    let (token, id) = match path {
        Ok(Path(pair)) => pair,
        // A segment that is not UTF-8 once decoded: the token can only be invalid, but the user
        // may still be unknown (→ 404 first), so read the id from the raw path.
        Err(_) => {
            let id = uri.path().rsplit('/').next().unwrap_or_default().to_owned();
            (String::new(), id)
        }
    };
    let Some(id) = authy_id(Ok(Path(id))) else {
        return user_not_found();
    };
    let action = params.text("action");
    let now = now_ms();
    let outcome = state::verify(
        &sim.users,
        id,
        &token,
        action.as_deref(),
        params.flag("force"),
        now,
    );
    let device = match outcome {
        None => return user_not_found(),
        Some(Verification::Invalid) => {
            return json_response(
                StatusCode::UNAUTHORIZED,
                &json!({
                    "message": "Token is invalid",
                    "token": "is invalid",
                    "success": false,
                    "errors": {"message": "Token is invalid"},
                    "error_code": "60020",
                }),
            );
        }
        Some(Verification::ValidApp {
            device_id,
            os_type,
            registered_ms,
        }) => json!({
            "id": device_id,
            "os_type": os_type,
            "registration_date": secs(registered_ms),
            "registration_method": null,
            "registration_country": null,
            "registration_region": null,
            "registration_city": null,
            "country": null,
            "region": null,
            "city": null,
            "ip": null,
            "last_account_recovery_at": secs(registered_ms),
            "last_sync_date": secs(now),
        }),
        Some(Verification::ValidCode | Verification::ValidUnforced) => {
            let created = sim.users.read().get(id).map_or(now, |u| u.created_ms);
            json!({
                "id": null,
                "os_type": "sms",
                "registration_date": secs(created),
                "registration_method": null,
                "registration_country": null,
                "registration_region": null,
                "registration_city": null,
                "country": null,
                "region": null,
                "city": null,
                "ip": null,
                "last_account_recovery_at": secs(created),
                "last_sync_date": null,
            })
        }
    };
    json_response(
        StatusCode::OK,
        &json!({
            "message": "Token is valid.",
            "token": "is valid",
            "success": "true",
            "device": device,
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// OneTouch

/// A parameter that cannot be used: its name and what is wrong (→ 400 / 60004).
type BadParam = (&'static str, &'static str);

/// A details hash: an object, or nothing (null, `""`, `[]`, absent). Arrays with elements (from
/// `details[0]=…`) become hashes keyed by index.
fn details_param(params: &Params, name: &'static str) -> Result<Map<String, Value>, BadParam> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Map::new()),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect()),
        Some(_) => Err((name, "Must be a hash")),
    }
}

/// Logos: an array of `{res, url}` objects (or one such object), or nothing.
fn logos_param(params: &Params) -> Result<Option<Vec<Value>>, BadParam> {
    match params.get("logos") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::Array(items)) if items.is_empty() => Ok(None),
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => Ok(Some(items.clone())),
        Some(Value::Object(map)) if map.is_empty() => Ok(None),
        Some(Value::Object(map)) if map.contains_key("res") || map.contains_key("url") => {
            Ok(Some(vec![Value::Object(map.clone())]))
        }
        Some(_) => Err(("logos", "Must be an array of hashes with res and url")),
    }
}

fn seconds_to_expire_param(params: &Params) -> Result<u64, BadParam> {
    const INVALID: BadParam = ("seconds_to_expire", "Must be a non-negative integer");
    match params.get("seconds_to_expire") {
        None | Some(Value::Null) => Ok(DEFAULT_APPROVAL_TTL_SECS),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(DEFAULT_APPROVAL_TTL_SECS),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 4e9)
                    .map(|f| f as u64)
            })
            .ok_or(INVALID),
        Some(Value::String(s)) => s.trim().parse::<u64>().map_err(|_| INVALID),
        Some(_) => Err(INVALID),
    }
}

/// The parameters of a new approval request.
struct ApprovalParams {
    message: String,
    details: Map<String, Value>,
    hidden_details: Map<String, Value>,
    logos: Option<Vec<Value>>,
    seconds_to_expire: u64,
}

fn approval_params(params: &Params) -> Result<ApprovalParams, BadParam> {
    let message = match params.get("message") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(("message", "Parameter is required")),
    };
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(("message", "Is too long"));
    }
    Ok(ApprovalParams {
        message,
        details: details_param(params, "details")?,
        hidden_details: details_param(params, "hidden_details")?,
        logos: logos_param(params)?,
        seconds_to_expire: seconds_to_expire_param(params)?,
    })
}

async fn approval_create(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    let Some(id) = authy_id(path) else {
        return user_not_found();
    };
    let ApprovalParams {
        message,
        details,
        hidden_details,
        logos,
        seconds_to_expire,
    } = match approval_params(&params) {
        Ok(p) => p,
        Err((name, problem)) => return invalid_parameter(name, problem),
    };

    let now = now_ms();
    let Some((user_hex_id, user_email, device, notified)) = sim.users.read().get(id).map(|u| {
        (
            u.hex_id.clone(),
            u.email.clone(),
            DeviceSnapshot {
                id: u.device_id,
                os_type: u.app_os().to_owned(),
                registered_ms: u.app_registered_ms.unwrap_or(u.created_ms),
            },
            u.registered(),
        )
    }) else {
        return user_not_found();
    };
    let mut approval = Approval {
        uuid: String::new(),
        hex_id: state::object_id(now),
        authy_id: id,
        user_hex_id,
        user_email,
        message,
        details,
        hidden_details,
        logos,
        seconds_to_expire,
        created_ms: now,
        answer: state::Answer::Pending,
        answered_ms: None,
        notified,
        device,
        polls: 0,
    };
    let uuid = {
        let mut approvals = sim.approvals.lock();
        let mut uuid = sim.new_uuid();
        while approvals.contains_key(&uuid) {
            uuid = sim.new_uuid();
        }
        approval.uuid.clone_from(&uuid);
        approvals.insert(uuid.clone(), approval);
        uuid
    };
    json_response(
        StatusCode::OK,
        &json!({"approval_request": {"uuid": uuid}, "success": true}),
    )
}

/// The approval request object of Authy's GET answer (key order of the recorded body R9).
pub fn approval_json(sim: &Sim, approval: &Approval, now: i64) -> Value {
    let (status, processed) = approval.status_at(now);
    let updated = processed.unwrap_or(approval.created_ms);
    json!({
        "_app_name": sim.app.name,
        "_app_serial_id": sim.app.serial_id,
        "_authy_id": approval.authy_id,
        "_id": approval.hex_id,
        "_user_email": approval.user_email,
        "app_id": sim.app.hex_id,
        "created_at": timestamp(approval.created_ms),
        "notified": approval.notified,
        "processed_at": processed.map(timestamp),
        "seconds_to_expire": approval.seconds_to_expire,
        "status": status.as_str(),
        "updated_at": timestamp(updated),
        "user_id": approval.user_hex_id,
        "uuid": approval.uuid,
    })
}

async fn approval_get(
    State(sim): State<Arc<Sim>>,
    path: Result<Path<String>, PathRejection>,
    _params: Params,
) -> Response {
    let uuid = path.map(|Path(u)| u).unwrap_or_default();
    let now = now_ms();
    let found = {
        let mut approvals = sim.approvals.lock();
        approvals.get_mut(&uuid).map(|a| {
            a.polls += 1;
            a.clone()
        })
    };
    match found {
        Some(approval) => json_response(
            StatusCode::OK,
            &json!({"approval_request": approval_json(&sim, &approval, now), "success": true}),
        ),
        None => json_response(
            StatusCode::NOT_FOUND,
            &json!({
                "message": format!("Approval request not found: {}", printable(&uuid)),
                "success": false,
                "errors": {},
                "error_code": "60049",
            }),
        ),
    }
}

/// A path value safe to echo (bounded, printable).
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(100).collect()
}

// ---------------------------------------------------------------------------------------------
// Registrations, app

async fn registration_status(State(sim): State<Arc<Sim>>, params: Params) -> Response {
    let Some(custom_user_id) = params.text("custom_user_id") else {
        return invalid_parameter("custom_user_id", "Parameter is required");
    };
    let registration = sim.registrations.lock().get(&custom_user_id).cloned();
    let body = match registration {
        Some(state::Registration {
            status,
            authy_id: Some(authy_id),
        }) => json!({"registration": {"status": status, "authy_id": authy_id}, "success": true}),
        Some(state::Registration {
            status,
            authy_id: None,
        }) => json!({"registration": {"status": status}, "success": true}),
        None => json!({"registration": {"status": "pending"}, "success": true}),
    };
    json_response(StatusCode::OK, &body)
}

async fn app_details(State(sim): State<Arc<Sim>>, _params: Params) -> Response {
    let app_id = match sim.app.id.parse::<u64>() {
        Ok(n) => json!(n),
        Err(_) => json!(sim.app.id),
    };
    json_response(
        StatusCode::OK,
        &json!({
            "app": {
                "app_id": app_id,
                "name": sim.app.name,
                "plan": "pay_as_you_go",
                "sms_enabled": true,
                "phone_calls_enabled": true,
                "onetouch_enabled": true,
            },
            "message": "Application information.",
            "success": true,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b.", "a b@c.co", "a@@b.co", "a@b..co",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(
            normalize_phone("300-300-3333").as_deref(),
            Some("3003003333")
        );
        assert_eq!(
            normalize_phone("(300) 300.3333").as_deref(),
            Some("3003003333")
        );
        assert_eq!(normalize_phone("1234").as_deref(), Some("1234"));
        assert_eq!(normalize_phone("123"), None);
        assert_eq!(normalize_phone("123456789012345"), None);
        assert_eq!(normalize_phone("+13003003333"), None);
        assert_eq!(normalize_phone("300-300-abcd"), None);
    }

    #[test]
    fn country_codes() {
        assert_eq!(parse_country_code(&json!(57)), Some(57));
        assert_eq!(parse_country_code(&json!("57")), Some(57));
        assert_eq!(parse_country_code(&json!("+1")), Some(1));
        assert_eq!(parse_country_code(&json!(999)), Some(999));
        for bad in [
            json!(0),
            json!(1000),
            json!(-1),
            json!(1.5),
            json!("abc"),
            json!(""),
            json!("1000"),
            json!(true),
            json!([1]),
        ] {
            assert_eq!(parse_country_code(&bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_are_utc_seconds() {
        assert_eq!(timestamp(1_486_688_992_123), "2017-02-10T01:09:52Z");
    }
}
