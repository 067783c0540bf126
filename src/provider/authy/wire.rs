//! Authy's JSON shapes and tolerant parsing (reference §1.5, §2), and the one function that turns an
//! Authy refusal (HTTP status + error envelope) into a [`ProviderError`].
//!
//! Everything here is private to the Authy provider. Parsing is deliberately lenient, because the
//! real API is inconsistent (reference §8): `success` is a bool or the string `"true"`,
//! `error_code` a string (or, defensively, a number), ids an integer or a numeric string,
//! timestamps may be null. Unknown fields are ignored; a field of an unexpected type reads as
//! absent. Only a body that is not JSON at all, or a success body that lacks what the caller
//! needs, is an [`ProviderError::InvalidResponse`] — and its detail never quotes the body.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::domain::{ApprovalStatus, ApprovalUuid, AuthyId};
use crate::provider::{
    ApprovalSnapshot, FieldError, NewApproval, NewUser, ProviderError, RegistrationStatus,
    TokenCheck, TokenDelivery, UpstreamFailure, UserStatus,
};

// ------------------------------------------------------------------------------------------------
// Request bodies (JSON, as authy-python / authy-java / authy-client send them)
// ------------------------------------------------------------------------------------------------

/// `POST /protected/json/users/new`:
/// `{"user":{"email","cellphone","country_code"},"send_install_link_via_sms":bool}`.
#[derive(Debug, Serialize)]
pub(super) struct NewUserBody<'a> {
    user: NewUserFields<'a>,
    send_install_link_via_sms: bool,
}

#[derive(Debug, Serialize)]
struct NewUserFields<'a> {
    email: &'a str,
    cellphone: &'a str,
    /// A string, like authy-java's recorded request and the docs' parameter type.
    country_code: String,
}

impl<'a> NewUserBody<'a> {
    pub(super) fn new(user: &'a NewUser) -> Self {
        Self {
            user: NewUserFields {
                email: user.email.as_str(),
                cellphone: user.phone.digits(),
                country_code: user.country_code.to_string(),
            },
            send_install_link_via_sms: user.send_install_link,
        }
    }
}

/// `POST /onetouch/json/users/{id}/approval_requests`:
/// `{"message","details":{…},"hidden_details":{…},"logos":[{"res","url"}],"seconds_to_expire":N}`.
#[derive(Debug, Serialize)]
pub(super) struct NewApprovalBody<'a> {
    message: &'a str,
    details: Map<String, Value>,
    hidden_details: Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logos: Vec<LogoBody<'a>>,
    /// Absent = Authy's default (86400 s). Never 0 (which would mean "never expires").
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds_to_expire: Option<u64>,
}

#[derive(Debug, Serialize)]
struct LogoBody<'a> {
    res: &'static str,
    url: &'a str,
}

impl<'a> NewApprovalBody<'a> {
    pub(super) fn new(approval: &'a NewApproval) -> Self {
        let map = |d: &crate::domain::Details| {
            d.iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                .collect::<Map<_, _>>()
        };
        Self {
            message: approval.message.as_str(),
            details: map(&approval.details),
            hidden_details: map(&approval.hidden_details),
            logos: approval
                .logos
                .iter()
                .map(|l| LogoBody {
                    res: l.res.as_str(),
                    url: l.url(),
                })
                .collect(),
            seconds_to_expire: approval.ttl.map(ttl_seconds),
        }
    }
}

/// A ttl in whole seconds, rounded up, at least 1 (Authy reads 0 as "never expires").
pub(super) fn ttl_seconds(ttl: Duration) -> u64 {
    let whole = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0));
    whole.max(1)
}

// ------------------------------------------------------------------------------------------------
// Responses
// ------------------------------------------------------------------------------------------------

/// A response body: JSON, or a reason why not (no body text in it).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Body {
    Json(Value),
    NotJson(String),
}

/// Reads a body as JSON, whatever the Content-Type says (Authy mixes html and json).
pub(super) fn parse_body(bytes: &[u8]) -> Body {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Body::NotJson("empty body".to_owned());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => Body::Json(v),
        // Only the category and position: serde_json's syntax errors do not quote input, but
        // spelling the detail out here guarantees it.
        Err(e) => Body::NotJson(format!(
            "body is not JSON ({:?} error at line {} column {}, {} bytes)",
            e.classify(),
            e.line(),
            e.column(),
            bytes.len()
        )),
    }
}

/// One HTTP answer from Authy, fully read.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reply {
    pub(super) status: u16,
    /// `Retry-After`, when present and readable.
    pub(super) retry_after: Option<Duration>,
    pub(super) body: Body,
}

impl Reply {
    /// The JSON of a successful answer: HTTP 2xx, JSON, and not `"success": false`.
    pub(super) fn success_json(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(v) if (200..300).contains(&self.status) => {
                (envelope(v).success != Some(false)).then_some(v)
            }
            _ => None,
        }
    }
}

/// The fields every Authy answer may carry (reference §1.5).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Envelope {
    #[serde(deserialize_with = "lenient_bool")]
    success: Option<bool>,
    #[serde(deserialize_with = "lenient_string")]
    message: Option<String>,
    #[serde(deserialize_with = "lenient_u32")]
    error_code: Option<u32>,
    #[serde(deserialize_with = "lenient")]
    errors: Option<Map<String, Value>>,
    #[serde(deserialize_with = "lenient_string")]
    token: Option<String>,
}

fn envelope(v: &Value) -> Envelope {
    Envelope::deserialize(v).unwrap_or_default()
}

/// Deserializes `T` from a success body; a body of the wrong overall shape becomes `detail`
/// (serde's own message could quote the body, so it is dropped).
fn shape<T: DeserializeOwned>(v: &Value) -> Result<T, &'static str> {
    T::deserialize(v).map_err(|_| "success body is not a JSON object")
}

// --- create user --------------------------------------------------------------------------------

#[derive(Deserialize)]
struct CreatedUser {
    #[serde(default, deserialize_with = "lenient")]
    user: Option<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(default, deserialize_with = "lenient_u64")]
    id: Option<u64>,
}

pub(super) fn created_user(v: &Value) -> Result<AuthyId, &'static str> {
    shape::<CreatedUser>(v)?
        .user
        .and_then(|u| u.id)
        .map(AuthyId::new)
        .ok_or("missing or unreadable `user.id`")
}

// --- user status --------------------------------------------------------------------------------

#[derive(Deserialize)]
struct StatusBody {
    #[serde(default, deserialize_with = "lenient")]
    status: Option<StatusFields>,
}

#[derive(Deserialize)]
#[serde(default)]
#[derive(Default)]
struct StatusFields {
    #[serde(deserialize_with = "lenient_u64")]
    authy_id: Option<u64>,
    #[serde(deserialize_with = "lenient_bool")]
    confirmed: Option<bool>,
    #[serde(deserialize_with = "lenient_bool")]
    registered: Option<bool>,
    #[serde(deserialize_with = "lenient_u64")]
    country_code: Option<u64>,
    #[serde(deserialize_with = "lenient_string")]
    phone_number: Option<String>,
    #[serde(deserialize_with = "lenient")]
    devices: Option<Vec<Value>>,
}

/// `requested` fills in a missing `authy_id`.
pub(super) fn user_status(v: &Value, requested: AuthyId) -> Result<UserStatus, &'static str> {
    let s = shape::<StatusBody>(v)?
        .status
        .ok_or("missing or unreadable `status`")?;
    Ok(UserStatus {
        authy_id: s.authy_id.map_or(requested, AuthyId::new),
        confirmed: s.confirmed.unwrap_or(false),
        registered: s.registered.unwrap_or(false),
        country_code: s.country_code.and_then(|c| u16::try_from(c).ok()),
        masked_phone: s.phone_number.unwrap_or_default(),
        devices: s
            .devices
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| match d {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
    })
}

// --- SMS / voice call ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeliveryBody {
    #[serde(deserialize_with = "lenient_string")]
    cellphone: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    device: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    ignored: Option<bool>,
}

pub(super) fn token_delivery(v: &Value) -> Result<TokenDelivery, &'static str> {
    let d = shape::<DeliveryBody>(v)?;
    let ignored = d.ignored.unwrap_or(false);
    Ok(TokenDelivery {
        sent: !ignored,
        masked_phone: d.cellphone.unwrap_or_default(),
        device: d.device.filter(|_| ignored),
    })
}

// --- verify -------------------------------------------------------------------------------------

/// Like every SDK: valid only if `token` is exactly `"is valid"` (the caller also requires 200).
pub(super) fn token_check(v: &Value) -> Result<TokenCheck, &'static str> {
    match envelope(v).token.as_deref() {
        Some("is valid") => Ok(TokenCheck::Valid),
        Some(_) => Ok(TokenCheck::Invalid),
        None => Err("missing `token` in a verify answer"),
    }
}

// --- approval requests --------------------------------------------------------------------------

#[derive(Deserialize)]
struct ApprovalBody {
    #[serde(default, deserialize_with = "lenient")]
    approval_request: Option<ApprovalFields>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApprovalFields {
    #[serde(deserialize_with = "lenient_string")]
    uuid: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    status: Option<String>,
    #[serde(rename = "_authy_id", deserialize_with = "lenient_u64")]
    authy_id: Option<u64>,
    #[serde(deserialize_with = "lenient_time")]
    created_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient_time")]
    updated_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient_time")]
    processed_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient_u64")]
    seconds_to_expire: Option<u64>,
}

pub(super) fn created_approval(v: &Value) -> Result<ApprovalUuid, &'static str> {
    shape::<ApprovalBody>(v)?
        .approval_request
        .and_then(|a| a.uuid)
        .and_then(|u| ApprovalUuid::parse(&u).ok())
        .ok_or("missing or unreadable `approval_request.uuid`")
}

/// `requested` stands in for a missing or unreadable `uuid`.
pub(super) fn approval_snapshot(
    v: &Value,
    requested: &ApprovalUuid,
) -> Result<ApprovalSnapshot, &'static str> {
    let a = shape::<ApprovalBody>(v)?
        .approval_request
        .ok_or("missing or unreadable `approval_request`")?;
    let status = a
        .status
        .as_deref()
        .and_then(ApprovalStatus::parse)
        .ok_or("missing or unknown `approval_request.status`")?;
    Ok(ApprovalSnapshot {
        uuid: a
            .uuid
            .and_then(|u| ApprovalUuid::parse(&u).ok())
            .unwrap_or_else(|| requested.clone()),
        status,
        authy_id: a.authy_id.map(AuthyId::new),
        created_at: a.created_at,
        updated_at: a.updated_at,
        processed_at: a.processed_at,
        seconds_to_expire: a.seconds_to_expire,
    })
}

// --- registration status ------------------------------------------------------------------------

#[derive(Deserialize)]
struct RegistrationBody {
    #[serde(default, deserialize_with = "lenient")]
    registration: Option<RegistrationFields>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegistrationFields {
    #[serde(deserialize_with = "lenient_string")]
    status: Option<String>,
    #[serde(deserialize_with = "lenient_u64")]
    authy_id: Option<u64>,
}

pub(super) fn registration_status(v: &Value) -> Result<RegistrationStatus, &'static str> {
    let r = shape::<RegistrationBody>(v)?
        .registration
        .ok_or("missing or unreadable `registration`")?;
    match r.status.as_deref() {
        Some("pending") => Ok(RegistrationStatus::Pending),
        Some("completed") => r
            .authy_id
            .map(|id| RegistrationStatus::Completed {
                authy_id: AuthyId::new(id),
            })
            .ok_or("completed registration without `authy_id`"),
        Some(other) => Ok(RegistrationStatus::Other(other.to_owned())),
        None => Err("missing `registration.status`"),
    }
}

// ------------------------------------------------------------------------------------------------
// Refusals: the one mapping from (status, envelope) to an error
// ------------------------------------------------------------------------------------------------

/// What an unsuccessful answer means.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Refusal {
    /// The token was wrong (60020, or the older `{"errors":{"token":"is invalid"}}`). An outcome
    /// for `verify`; for any other endpoint the caller turns it into [`Refusal::into_error`].
    TokenInvalid {
        status: u16,
        message: String,
    },
    Error(ProviderError),
}

impl Refusal {
    pub(super) fn into_error(self) -> ProviderError {
        match self {
            Self::TokenInvalid { status, message } => ProviderError::Rejected {
                status,
                code: Some(CODE_TOKEN_INVALID),
                message,
            },
            Self::Error(e) => e,
        }
    }
}

const CODE_API_KEY_INVALID: u32 = 60001;
const CODE_DOS_PROTECTION: u32 = 60003;
const CODE_USER_DOES_NOT_EXIST: u32 = 60016;
const CODE_REUSED_TOKEN: u32 = 60019;
const CODE_TOKEN_INVALID: u32 = 60020;
const CODE_USER_NOT_FOUND: u32 = 60026;
const CODE_USER_NOT_VALID: u32 = 60027;
const CODE_USER_INCORRECT_PARAMS: u32 = 60030;
const CODE_INVALID_PHONE_NUMBER: u32 = 60033;
const CODE_INVALID_EMAIL: u32 = 60038;
const CODE_APPROVAL_NOT_FOUND: u32 = 60049;
const CODE_COUNTRY_CODE_INVALID: u32 = 60078;

/// The user fields Authy validates on create (reference §2.1); a code-less 4xx naming one of
/// them is a user validation error too.
const USER_FIELDS: [&str; 3] = ["email", "cellphone", "country_code"];

/// Longest provider message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// THE mapping of an unsuccessful Authy answer to a typed refusal. Every endpoint goes through
/// it. Precedence: HTTP 429; known error codes; code-less bodies of older API versions; 5xx;
/// unreadable bodies; anything else is `Rejected`. Provider messages are cleaned of `secrets`
/// (the API key, a token) in case Authy ever echoes them, stripped of control characters and
/// shortened.
pub(super) fn refusal(reply: &Reply, secrets: &[&str]) -> Refusal {
    let status = reply.status;
    let rate_limited = ProviderError::RateLimited {
        retry_after: reply.retry_after,
    };
    if status == 429 {
        return Refusal::Error(rate_limited);
    }
    let env = match &reply.body {
        Body::Json(v) => envelope(v),
        Body::NotJson(detail) => {
            return Refusal::Error(if status >= 500 {
                // An HTML 502/503 page is the provider being down, not a format problem.
                ProviderError::Unavailable(UpstreamFailure::Status(status))
            } else {
                ProviderError::InvalidResponse {
                    status,
                    detail: detail.clone(),
                }
            });
        }
    };
    let errors = env.errors.unwrap_or_default();
    // The message is at top level; some bodies have it only inside `errors`.
    let message = env
        .message
        .as_deref()
        .or_else(|| errors.get("message").and_then(Value::as_str))
        .map(|m| clean(m, secrets))
        .filter(|m| !m.is_empty());
    let is_4xx = (400..500).contains(&status);

    let error = match env.error_code {
        Some(CODE_DOS_PROTECTION) => rate_limited,
        Some(CODE_API_KEY_INVALID) => ProviderError::InvalidApiKey,
        Some(CODE_USER_NOT_FOUND | CODE_USER_DOES_NOT_EXIST) => ProviderError::UserNotFound,
        Some(
            CODE_USER_NOT_VALID
            | CODE_USER_INCORRECT_PARAMS
            | CODE_INVALID_PHONE_NUMBER
            | CODE_INVALID_EMAIL
            | CODE_COUNTRY_CODE_INVALID,
        ) => invalid_user(message, &errors, reply, secrets),
        Some(CODE_APPROVAL_NOT_FOUND) => ProviderError::ApprovalNotFound,
        Some(CODE_TOKEN_INVALID | CODE_REUSED_TOKEN) => {
            return Refusal::TokenInvalid {
                status,
                message: message.unwrap_or_else(|| "Token is invalid".to_owned()),
            };
        }
        // Older answers (≤ 2015, and authy-client's verify mock) carry no `error_code`.
        None if status < 500 && says_token_invalid(&env.token, &errors) => {
            return Refusal::TokenInvalid {
                status,
                message: message.unwrap_or_else(|| "Token is invalid".to_owned()),
            };
        }
        None if status == 401 && starts_with(&message, "Invalid API key") => {
            ProviderError::InvalidApiKey
        }
        None if status == 404
            && (starts_with(&message, "User not found")
                || starts_with(&message, "User doesn't exist")) =>
        {
            ProviderError::UserNotFound
        }
        None if is_4xx && USER_FIELDS.iter().any(|f| errors.contains_key(*f)) => {
            invalid_user(message, &errors, reply, secrets)
        }
        _ if status >= 500 => ProviderError::Unavailable(UpstreamFailure::Status(status)),
        code => ProviderError::Rejected {
            status,
            code,
            message: message.unwrap_or_else(|| format!("HTTP {status} without a message")),
        },
    };
    Refusal::Error(error)
}

fn starts_with(message: &Option<String>, prefix: &str) -> bool {
    message.as_deref().is_some_and(|m| m.starts_with(prefix))
}

fn says_token_invalid(token: &Option<String>, errors: &Map<String, Value>) -> bool {
    token.as_deref() == Some("is invalid")
        || errors.get("token").and_then(Value::as_str) == Some("is invalid")
}

/// `InvalidUser` with one field error per key of `errors` other than `message` (falling back to
/// the same keys at top level, where Authy repeats them).
fn invalid_user(
    message: Option<String>,
    errors: &Map<String, Value>,
    reply: &Reply,
    secrets: &[&str],
) -> ProviderError {
    let field_errors = |map: &Map<String, Value>, only_user_fields: bool| {
        map.iter()
            .filter(|(k, _)| k.as_str() != "message")
            .filter(|(k, _)| !only_user_fields || USER_FIELDS.contains(&k.as_str()))
            .filter_map(|(k, v)| {
                describe(v).map(|d| FieldError {
                    field: clean(k, secrets),
                    description: clean(&d, secrets),
                })
            })
            .collect::<Vec<_>>()
    };
    let mut fields = field_errors(errors, false);
    if fields.is_empty()
        && let Body::Json(Value::Object(top)) = &reply.body
    {
        fields = field_errors(top, true);
    }
    ProviderError::InvalidUser {
        message: message.unwrap_or_else(|| "User was not valid".to_owned()),
        fields,
    }
}

/// A field error's text: a string, or strings joined (Rails sometimes sends arrays).
fn describe(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        _ => None,
    }
}

/// Provider text made safe to keep: secrets replaced, control characters dropped, length capped.
pub(super) fn clean(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(secret) {
            out = out.replace(secret, "<redacted>");
        }
    }
    let mut out: String = out.chars().filter(|c| !c.is_control()).collect();
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
    }
    out.trim().to_owned()
}

// ------------------------------------------------------------------------------------------------
// Lenient field deserializers: a value of an unexpected type reads as absent
// ------------------------------------------------------------------------------------------------

/// Any `T`, or `None` when the value does not fit.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// `true`/`false`, or the strings `"true"`/`"false"` (verify success sends `"success":"true"`).
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// A non-negative integer, or a string of one (`_authy_id: "1635"`, `error_code: "60020"`).
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(as_u64(&Value::deserialize(d)?))
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(as_u64(&Value::deserialize(d)?).and_then(|n| u32::try_from(n).ok()))
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` (or any RFC 3339 time); null or anything unparsable is `None`.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => parse_time(&s),
        _ => None,
    })
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ")
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            retry_after: None,
            body: parse_body(body.as_bytes()),
        }
    }

    fn error(status: u16, body: &str) -> ProviderError {
        refusal(&reply(status, body), &[]).into_error()
    }

    /// Recorded fixture `id`: (status, body), read from the shared fixture file at test time.
    fn fixture(id: &str) -> (u16, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/authy/recorded_responses.json");
        let text = std::fs::read_to_string(path).unwrap();
        let all: Value = serde_json::from_str(&text).unwrap();
        let r = all["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap();
        (
            u16::try_from(r["status"].as_u64().unwrap()).unwrap(),
            r["body"].as_str().unwrap().to_owned(),
        )
    }

    /// R13–R15 are answers of endpoints authyd never calls (phone verification, phone info), so
    /// no client method can receive them; the mapping they would go through is this function,
    /// shared by every endpoint, and it must still type them.
    #[test]
    fn unused_endpoint_fixtures_map_to_typed_errors() {
        let (s, b) = fixture("R13");
        assert_eq!(
            error(s, &b),
            ProviderError::Rejected {
                status: 401,
                code: Some(60022),
                message: "Verification code is incorrect".into()
            }
        );
        let (s, b) = fixture("R14");
        assert_eq!(
            error(s, &b),
            ProviderError::Rejected {
                status: 404,
                code: Some(60023),
                message: "No pending verifications for 201-555-0123 found.".into()
            }
        );
        let (s, b) = fixture("R15");
        assert_eq!(
            error(s, &b),
            ProviderError::Unavailable(UpstreamFailure::Status(500))
        );
    }

    #[test]
    fn every_error_fixture_is_typed() {
        let (s, b) = fixture("R2");
        assert!(matches!(
            refusal(&reply(s, &b), &[]),
            Refusal::TokenInvalid { status: 401, .. }
        ));
        let (s, b) = fixture("R4");
        assert_eq!(
            error(s, &b),
            ProviderError::InvalidUser {
                message: "User was not valid".into(),
                fields: vec![FieldError {
                    field: "cellphone".into(),
                    description: "is invalid".into()
                }]
            }
        );
        let (s, b) = fixture("R5");
        assert_eq!(error(s, &b), ProviderError::UserNotFound);
        let (s, b) = fixture("R10");
        assert_eq!(error(s, &b), ProviderError::ApprovalNotFound);
        let (s, b) = fixture("R11");
        assert_eq!(error(s, &b), ProviderError::InvalidApiKey);
        let (s, b) = fixture("INVALID_JSON");
        assert!(matches!(
            error(s, &b),
            ProviderError::InvalidResponse { status: 401, detail } if !detail.contains("Token")
        ));
    }

    #[test]
    fn older_code_less_bodies() {
        assert!(matches!(
            refusal(
                &reply(200, r#"{"token":"is invalid","success":"false"}"#),
                &[]
            ),
            Refusal::TokenInvalid { status: 200, .. }
        ));
        assert!(matches!(
            refusal(
                &reply(401, r#"{"errors":{"token":"is invalid"},"success":false}"#),
                &[]
            ),
            Refusal::TokenInvalid { .. }
        ));
        assert_eq!(
            error(
                401,
                r#"{"message":"Invalid API key.","success":false,"errors":{"message":"Invalid API key."}}"#
            ),
            ProviderError::InvalidApiKey
        );
        assert_eq!(
            error(404, r#"{"errors":{"message":"User doesn't exist"}}"#),
            ProviderError::UserNotFound
        );
        assert_eq!(
            error(404, "{}"),
            ProviderError::Rejected {
                status: 404,
                code: None,
                message: "HTTP 404 without a message".into()
            }
        );
        assert_eq!(
            error(404, r#"{"message":"User doesn't exist.","success":false}"#),
            ProviderError::UserNotFound
        );
        assert!(matches!(
            error(400, r#"{"message":"User was not valid.","errors":{"email":["is invalid","can't be blank"]}}"#),
            ProviderError::InvalidUser { fields, .. } if fields == vec![FieldError { field: "email".into(), description: "is invalid; can't be blank".into() }]
        ));
    }

    #[test]
    fn status_precedence() {
        assert_eq!(
            error(429, "<html>slow down</html>"),
            ProviderError::RateLimited { retry_after: None }
        );
        assert_eq!(
            error(400, r#"{"error_code":60003,"message":"DoS protection"}"#),
            ProviderError::RateLimited { retry_after: None }
        );
        assert_eq!(
            error(502, "<html><body>Bad Gateway</body></html>"),
            ProviderError::Unavailable(UpstreamFailure::Status(502))
        );
        assert!(matches!(
            error(200, "<html>oops</html>"),
            ProviderError::InvalidResponse { status: 200, detail } if !detail.contains("oops")
        ));
        assert_eq!(
            error(403, r#"{"message":"Forbidden","error_code":"60002"}"#),
            ProviderError::Rejected {
                status: 403,
                code: Some(60002),
                message: "Forbidden".into()
            }
        );
    }

    #[test]
    fn messages_are_cleaned_of_secrets() {
        let e = refusal(
            &reply(
                400,
                r#"{"message":"bad key sekrit-key for token 1234567\u0007","error_code":"60002"}"#,
            ),
            &["sekrit-key", "1234567"],
        )
        .into_error();
        let shown = format!("{e} {e:?}");
        assert!(
            !shown.contains("sekrit-key") && !shown.contains("1234567"),
            "{shown}"
        );
        assert!(!shown.contains('\u{7}'));
        let long = clean(&"x".repeat(1000), &[]);
        assert!(long.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn lenient_values() {
        let v = json!({"success":"true","token":"is valid"});
        assert_eq!(envelope(&v).success, Some(true));
        assert_eq!(token_check(&v), Ok(TokenCheck::Valid));
        assert_eq!(
            envelope(&json!({"error_code": 60026})).error_code,
            Some(60026)
        );
        assert_eq!(
            envelope(&json!({"error_code": "60026"})).error_code,
            Some(60026)
        );
        assert_eq!(envelope(&json!({"success": [1]})).success, None);
        assert_eq!(
            created_user(&json!({"user":{"id":"1000"}})),
            Ok(AuthyId::new(1000))
        );
        assert!(created_user(&json!({"user":{"id":"x"}})).is_err());
        assert!(created_user(&json!([1, 2])).is_err());
        let uuid = ApprovalUuid::parse("abc-1").unwrap();
        let snap = approval_snapshot(
            &json!({"approval_request":{"status":"pending","_authy_id":"1635","processed_at":null,
                "created_at":"not a time","updated_at":"2017-02-13T11:11:58Z","extra":{"x":1}}}),
            &uuid,
        )
        .unwrap();
        assert_eq!(snap.uuid, uuid);
        assert_eq!(snap.authy_id, Some(AuthyId::new(1635)));
        assert_eq!(snap.processed_at, None);
        assert_eq!(snap.created_at, None);
        assert_eq!(
            snap.updated_at.map(|t| t.to_rfc3339()),
            Some("2017-02-13T11:11:58+00:00".into())
        );
        assert!(approval_snapshot(&json!({"approval_request":{"status":"weird"}}), &uuid).is_err());
    }

    #[test]
    fn registration_shapes() {
        assert_eq!(
            registration_status(&json!({"registration":{"status":"pending"},"success":true})),
            Ok(RegistrationStatus::Pending)
        );
        assert_eq!(
            registration_status(&json!({"registration":{"status":"completed","authy_id":"42"}})),
            Ok(RegistrationStatus::Completed {
                authy_id: AuthyId::new(42)
            })
        );
        assert!(registration_status(&json!({"registration":{"status":"completed"}})).is_err());
        assert_eq!(
            registration_status(&json!({"registration":{"status":"denied"}})),
            Ok(RegistrationStatus::Other("denied".into()))
        );
    }

    #[test]
    fn ttl_rounding() {
        assert_eq!(ttl_seconds(Duration::ZERO), 1);
        assert_eq!(ttl_seconds(Duration::from_millis(1)), 1);
        assert_eq!(ttl_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(ttl_seconds(Duration::from_secs(120)), 120);
    }

    #[test]
    fn not_json_detail_does_not_quote_the_body() {
        match parse_body(b"<html>secret-ish page</html>") {
            Body::NotJson(d) => assert!(!d.contains("secret"), "{d}"),
            Body::Json(_) => panic!("parsed HTML as JSON"),
        }
        assert_eq!(parse_body(b"  "), Body::NotJson("empty body".into()));
    }
}
