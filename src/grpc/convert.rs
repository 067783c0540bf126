//! The edge: proto requests become domain values here, once ("parse, don't validate"). Every
//! malformed field is reported, not just the first, as `BadRequest` field violations; nothing
//! past this module re-checks a value. Optional proto3 strings are "" when unset.

use std::time::Duration;

use crate::app::registration::{RegistrationStart, RegistrationView, StartRegistration};
use crate::app::twofactor::UserView;
use crate::domain::ApprovalStatus;
use crate::domain::{
    ApprovalId, ApprovalMessage, CountryCode, Details, Email, Locale, ParseError, PhoneNumber,
    RegistrationState, RegistrationTtl, RequestId, Token, TokenAction, UserId,
};
use crate::error::{Error, FieldViolation};
use crate::grpc::pb::v1 as pb;
use crate::provider::{NewApproval, NewUser, SendTokenOptions, TokenDelivery};
use crate::store::ApprovalRecord;

/// Collects field violations while a request is parsed.
#[derive(Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    /// The parsed value, or `None` after recording why not under `field`.
    fn check<T>(&mut self, field: &str, parsed: Result<T, ParseError>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(FieldViolation::new(field, e.description));
                None
            }
        }
    }

    /// An optional string field: "" is absent.
    fn optional<T>(
        &mut self,
        field: &str,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Option<T> {
        if raw.is_empty() {
            None
        } else {
            self.check(field, parse(raw))
        }
    }

    /// `Ok(value)` when nothing was recorded, else every violation.
    fn finish<T>(self, value: Option<T>) -> Result<T, Error> {
        match value {
            Some(v) if self.0.is_empty() => Ok(v),
            _ => Err(Error::InvalidArgument(self.0)),
        }
    }
}

/// The `user_id` of any request.
pub fn user_id(raw: &str) -> Result<UserId, Error> {
    let mut v = Violations::default();
    let id = v.check("user_id", UserId::parse(raw));
    v.finish(id)
}

/// The `approval_id` of GetApproval / WatchApproval.
pub fn approval_id(raw: &str) -> Result<ApprovalId, Error> {
    let mut v = Violations::default();
    let id = v.check("approval_id", ApprovalId::parse(raw));
    v.finish(id)
}

/// A parsed `EnrollRequest`.
#[derive(Debug, Clone)]
pub struct Enroll {
    pub user_id: UserId,
    pub user: NewUser,
}

pub fn enroll(req: &pb::EnrollRequest) -> Result<Enroll, Error> {
    let mut v = Violations::default();
    let user_id = v.check("user_id", UserId::parse(&req.user_id));
    let email = v.check("email", Email::parse(&req.email));
    let phone = v.check("phone_number", PhoneNumber::parse(&req.phone_number));
    let country_code = v.check(
        "country_code",
        CountryCode::new(i64::from(req.country_code)),
    );
    let parsed = match (user_id, email, phone, country_code) {
        (Some(user_id), Some(email), Some(phone), Some(country_code)) => Some(Enroll {
            user_id,
            user: NewUser {
                email,
                phone,
                country_code,
                send_install_link: req.send_install_link,
            },
        }),
        _ => None,
    };
    v.finish(parsed)
}

/// A parsed `SendSmsRequest` / `SendVoiceRequest`.
#[derive(Debug, Clone)]
pub struct SendToken {
    pub user_id: UserId,
    pub options: SendTokenOptions,
}

fn send_token(
    user_id: &str,
    force: bool,
    action: &str,
    action_message: &str,
    locale: &str,
) -> Result<SendToken, Error> {
    let mut v = Violations::default();
    let user_id = v.check("user_id", UserId::parse(user_id));
    let action = v.optional("action", action, TokenAction::parse);
    // Same bounds as an action: 1-255 characters, no control characters.
    let action_message = v.optional("action_message", action_message, |m| {
        TokenAction::parse(m).map(|a| a.as_str().to_owned())
    });
    let locale = v.optional("locale", locale, Locale::parse);
    let parsed = user_id.map(|user_id| SendToken {
        user_id,
        options: SendTokenOptions {
            force,
            action,
            action_message,
            locale,
        },
    });
    v.finish(parsed)
}

pub fn send_sms(req: &pb::SendSmsRequest) -> Result<SendToken, Error> {
    send_token(
        &req.user_id,
        req.force,
        &req.action,
        &req.action_message,
        &req.locale,
    )
}

pub fn send_voice(req: &pb::SendVoiceRequest) -> Result<SendToken, Error> {
    send_token(
        &req.user_id,
        req.force,
        &req.action,
        &req.action_message,
        &req.locale,
    )
}

/// A parsed `VerifyTokenRequest`.
#[derive(Debug, Clone)]
pub struct VerifyToken {
    pub user_id: UserId,
    pub token: Token,
    pub action: Option<TokenAction>,
}

pub fn verify_token(req: &pb::VerifyTokenRequest) -> Result<VerifyToken, Error> {
    let mut v = Violations::default();
    let user_id = v.check("user_id", UserId::parse(&req.user_id));
    let token = v.check("token", Token::parse(&req.token));
    let action = v.optional("action", &req.action, TokenAction::parse);
    let parsed = match (user_id, token) {
        (Some(user_id), Some(token)) => Some(VerifyToken {
            user_id,
            token,
            action,
        }),
        _ => None,
    };
    v.finish(parsed)
}

/// A parsed `RequestApprovalRequest`.
#[derive(Debug, Clone)]
pub struct RequestApproval {
    pub user_id: UserId,
    pub request_id: Option<RequestId>,
    pub approval: NewApproval,
    /// The ttl, defaulted and bounded (also in `approval.ttl`).
    pub ttl: Duration,
}

/// Default time a user has to answer a push (design: 120 s).
pub const DEFAULT_APPROVAL_TTL: Duration = Duration::from_secs(120);
/// Bounds of a push's ttl.
pub const MIN_APPROVAL_TTL: Duration = Duration::from_secs(1);
pub const MAX_APPROVAL_TTL: Duration = Duration::from_secs(24 * 60 * 60);

pub fn request_approval(req: &pb::RequestApprovalRequest) -> Result<RequestApproval, Error> {
    let mut v = Violations::default();
    let user_id = v.check("user_id", UserId::parse(&req.user_id));
    let message = v.check("message", ApprovalMessage::parse(&req.message));
    let details = v.check("details", Details::parse(req.details.clone()));
    let hidden_details = v.check("hidden_details", Details::parse(req.hidden_details.clone()));
    let request_id = v.optional("request_id", &req.request_id, RequestId::parse);
    let ttl = v.check("ttl", ttl(req.ttl.as_ref()));
    let parsed = match (user_id, message, details, hidden_details, ttl) {
        (Some(user_id), Some(message), Some(details), Some(hidden_details), Some(ttl)) => {
            Some(RequestApproval {
                user_id,
                request_id,
                approval: NewApproval {
                    message,
                    details,
                    hidden_details,
                    logos: Vec::new(),
                    ttl: Some(ttl),
                },
                ttl,
            })
        }
        _ => None,
    };
    v.finish(parsed)
}

fn ttl(raw: Option<&prost_types::Duration>) -> Result<Duration, ParseError> {
    let Some(d) = raw else {
        return Ok(DEFAULT_APPROVAL_TTL);
    };
    let out_of_range = || ParseError {
        description: "must be between 1 s and 24 h".to_owned(),
    };
    let ttl = duration(d).ok_or_else(out_of_range)?;
    if ttl < MIN_APPROVAL_TTL || ttl > MAX_APPROVAL_TTL {
        return Err(out_of_range());
    }
    Ok(ttl)
}

/// A well-formed, non-negative proto Duration.
fn duration(d: &prost_types::Duration) -> Option<Duration> {
    if d.nanos < 0 || d.nanos >= 1_000_000_000 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(d.seconds).ok()?,
        u32::try_from(d.nanos).ok()?,
    ))
}

pub fn start_registration(req: &pb::StartRegistrationRequest) -> Result<StartRegistration, Error> {
    let mut v = Violations::default();
    let user_id = v.check("user_id", UserId::parse(&req.user_id));
    let ttl = v.check(
        "ttl",
        match &req.ttl {
            None => Ok(RegistrationTtl::DEFAULT),
            Some(d) => duration(d)
                .ok_or_else(|| ParseError::new("must be between 1 s and 1 h"))
                .and_then(RegistrationTtl::new),
        },
    );
    let parsed = match (user_id, ttl) {
        (Some(user_id), Some(ttl)) => Some(StartRegistration { user_id, ttl }),
        _ => None,
    };
    v.finish(parsed)
}

// ------------------------------------------------------------------------------------------------
// Responses: domain -> proto

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        // `timestamp_subsec_nanos` is < 2e9 (leap seconds); proto wants < 1e9.
        nanos: i32::try_from(t.timestamp_subsec_nanos().min(999_999_999)).unwrap_or(0),
    }
}

pub fn user(view: &UserView) -> pb::User {
    let r = &view.record;
    pb::User {
        user_id: r.user_id.to_string(),
        authy_id: i64::try_from(r.authy_id.get()).unwrap_or(i64::MAX),
        // Authy's own mask from the live status; the stored one (kept instead of the number)
        // only if Authy sent none.
        masked_phone: if view.status.masked_phone.is_empty() {
            r.masked_phone.clone()
        } else {
            view.status.masked_phone.clone()
        },
        country_code: i32::from(r.country_code.get()),
        registered: view.status.registered,
        devices: view.status.devices.clone(),
        enroll_time: Some(timestamp(r.enroll_time)),
    }
}

pub fn approval_state(s: ApprovalStatus) -> pb::ApprovalState {
    match s {
        ApprovalStatus::Pending => pb::ApprovalState::Pending,
        ApprovalStatus::Approved => pb::ApprovalState::Approved,
        ApprovalStatus::Denied => pb::ApprovalState::Denied,
        ApprovalStatus::Expired => pb::ApprovalState::Expired,
    }
}

pub fn approval(r: &ApprovalRecord) -> pb::Approval {
    pb::Approval {
        approval_id: r.approval_id.to_string(),
        user_id: r.user_id.to_string(),
        message: r.message.clone(),
        details: r.details.clone().into_iter().collect(),
        state: approval_state(r.state).into(),
        create_time: Some(timestamp(r.create_time)),
        expire_time: Some(timestamp(r.expire_time)),
        update_time: Some(timestamp(r.update_time)),
    }
}

pub fn registration_started(start: RegistrationStart) -> pb::StartRegistrationResponse {
    pb::StartRegistrationResponse {
        jwt: start.token.jwt,
        uri: start.token.uri,
        qr_svg: start.qr.svg,
        qr_png: start.qr.png,
        expire_time: Some(timestamp(start.record.expire_time)),
    }
}

pub fn registration_state(s: RegistrationState) -> pb::RegistrationState {
    match s {
        RegistrationState::Pending => pb::RegistrationState::Pending,
        RegistrationState::Completed => pb::RegistrationState::Completed,
        RegistrationState::Expired => pb::RegistrationState::Expired,
        RegistrationState::Failed => pb::RegistrationState::Failed,
    }
}

pub fn registration(view: &RegistrationView) -> pb::WatchRegistrationResponse {
    pb::WatchRegistrationResponse {
        state: registration_state(view.record.state).into(),
        user: view.user.as_ref().map(user),
        expire_time: Some(timestamp(view.record.expire_time)),
    }
}

pub fn delivery_sms(d: &TokenDelivery) -> pb::SendSmsResponse {
    pb::SendSmsResponse {
        sent: d.sent,
        ignored: !d.sent,
        masked_phone: d.masked_phone.clone(),
        device: d.device.clone().unwrap_or_default(),
    }
}

pub fn delivery_voice(d: &TokenDelivery) -> pb::SendVoiceResponse {
    pb::SendVoiceResponse {
        sent: d.sent,
        ignored: !d.sent,
        masked_phone: d.masked_phone.clone(),
        device: d.device.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: Error) -> Vec<String> {
        match e {
            Error::InvalidArgument(v) => v.into_iter().map(|v| v.field).collect(),
            other => panic!("not INVALID_ARGUMENT: {other:?}"),
        }
    }

    #[test]
    fn enroll_reports_every_bad_field() {
        let req = pb::EnrollRequest {
            user_id: "bad id".into(),
            email: "nope".into(),
            phone_number: "12".into(),
            country_code: 0,
            send_install_link: false,
        };
        assert_eq!(
            fields(enroll(&req).unwrap_err()),
            ["user_id", "email", "phone_number", "country_code"]
        );
        let ok = pb::EnrollRequest {
            user_id: "alice".into(),
            email: "alice@example.com".into(),
            phone_number: "(650) 253-0000".into(),
            country_code: 1,
            send_install_link: true,
        };
        let e = enroll(&ok).unwrap();
        assert_eq!(e.user.phone.digits(), "6502530000");
        assert!(e.user.send_install_link);
    }

    #[test]
    fn verify_token_shape() {
        let req = |t: &str| pb::VerifyTokenRequest {
            user_id: "u1".into(),
            token: t.into(),
            action: String::new(),
        };
        assert!(verify_token(&req("1234567")).is_ok());
        assert_eq!(fields(verify_token(&req("12345")).unwrap_err()), ["token"]);
        assert_eq!(
            fields(verify_token(&req("12345a7")).unwrap_err()),
            ["token"]
        );
        // The rejected token is never echoed in the description.
        match verify_token(&req("99999999999999")).unwrap_err() {
            Error::InvalidArgument(v) => assert!(!v[0].description.contains("9999")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn send_sms_optional_fields() {
        let mut req = pb::SendSmsRequest {
            user_id: "u1".into(),
            force: true,
            ..Default::default()
        };
        let s = send_sms(&req).unwrap();
        assert!(s.options.force && s.options.action.is_none() && s.options.locale.is_none());
        req.locale = "e".into();
        req.action = "x".repeat(256);
        assert_eq!(fields(send_sms(&req).unwrap_err()), ["action", "locale"]);
    }

    #[test]
    fn approval_limits_and_ttl() {
        let base = pb::RequestApprovalRequest {
            user_id: "u1".into(),
            message: "Log in?".into(),
            ..Default::default()
        };
        let ok = request_approval(&base).unwrap();
        assert_eq!(ok.ttl, DEFAULT_APPROVAL_TTL);
        assert!(ok.request_id.is_none());

        let mut req = base.clone();
        req.message = "m".repeat(145);
        req.details = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
        req.ttl = Some(prost_types::Duration {
            seconds: 0,
            nanos: 0,
        });
        req.request_id = "has space".into();
        assert_eq!(
            fields(request_approval(&req).unwrap_err()),
            ["message", "details", "request_id", "ttl"]
        );

        for (seconds, nanos, good) in [
            (1, 0, true),
            (86_400, 0, true),
            (86_400, 1, false),
            (0, 999_999_999, false),
            (-1, 0, false),
            (5, -1, false),
        ] {
            let mut req = base.clone();
            req.ttl = Some(prost_types::Duration { seconds, nanos });
            assert_eq!(request_approval(&req).is_ok(), good, "{seconds}s {nanos}ns");
        }
    }

    #[test]
    fn ids() {
        assert_eq!(fields(user_id("").unwrap_err()), ["user_id"]);
        assert_eq!(
            fields(approval_id("not-a-uuid").unwrap_err()),
            ["approval_id"]
        );
        assert!(approval_id(ApprovalId::new().as_str()).is_ok());
    }
}
