//! THE mapping from [`Error`] to `tonic::Status` (design.md, "Errors"). Every status carries an
//! `ErrorInfo` with domain `authyd` and the error's stable reason; INVALID_ARGUMENT carries
//! `BadRequest` field violations; retryable errors carry `RetryInfo` where a delay is known.

use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::Error;

/// The `ErrorInfo` domain of every authyd error.
pub const ERROR_DOMAIN: &str = "authyd";

/// The `RetryInfo` delay of STORE_UNAVAILABLE: a busy or locked database usually frees within
/// seconds (a statement already waited the busy timeout before failing).
pub const STORE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::InvalidArgument(_) | Error::UserRejected(_) => Code::InvalidArgument,
            Error::UserNotFound | Error::ApprovalNotFound | Error::RegistrationNotFound => {
                Code::NotFound
            }
            Error::RequestIdConflict => Code::AlreadyExists,
            Error::ApprovalNotPending
            | Error::RegistrationNotPending
            | Error::RegistrationPending
            | Error::UserAlreadyEnrolled => Code::FailedPrecondition,
            Error::TooManyAttempts { .. } => Code::ResourceExhausted,
            Error::UpstreamUnavailable { .. }
            | Error::StoreUnavailable { .. }
            | Error::ShuttingDown => Code::Unavailable,
            Error::UpstreamCredentials | Error::UpstreamProtocol | Error::Internal { .. } => {
                Code::Internal
            }
            Error::Unauthenticated => Code::Unauthenticated,
            Error::PermissionDenied { .. } => Code::PermissionDenied,
        };
        // The caller sees "internal error"; the operator needs the cause (never secret: store
        // and setup errors name ids at most).
        match &error {
            Error::Internal { detail } => {
                tracing::error!(%detail, "request failed with an internal error");
            }
            Error::StoreUnavailable { detail } => {
                tracing::warn!(%detail, "request failed: the database is unavailable");
            }
            _ => {}
        }
        let mut details = ErrorDetails::new();
        details.set_error_info(error.reason(), ERROR_DOMAIN, []);
        match &error {
            Error::InvalidArgument(violations) | Error::UserRejected(violations) => {
                for v in violations {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
            }
            Error::TooManyAttempts { retry_after } => {
                details.set_retry_info(Some(*retry_after));
            }
            Error::UpstreamUnavailable {
                retry_after: Some(delay),
            } => {
                details.set_retry_info(Some(*delay));
            }
            Error::StoreUnavailable { .. } => {
                details.set_retry_info(Some(STORE_RETRY_AFTER));
            }
            _ => {}
        }
        tonic::Status::with_error_details(code, error.to_string(), details)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::FieldViolation;
    use crate::provider::{FieldError, ProviderError, UpstreamFailure};

    fn decode(error: Error) -> (Code, String, ErrorDetails) {
        let status = tonic::Status::from(error);
        let details = status.get_error_details();
        (status.code(), status.message().to_owned(), details)
    }

    #[test]
    fn every_status_has_error_info_in_the_authyd_domain() {
        let all = [
            Error::invalid("token", "must be 6 to 12 digits"),
            Error::UserRejected(vec![FieldViolation::new("email", "is invalid")]),
            Error::UserNotFound,
            Error::ApprovalNotFound,
            Error::RequestIdConflict,
            Error::ApprovalNotPending,
            Error::RegistrationNotFound,
            Error::RegistrationNotPending,
            Error::RegistrationPending,
            Error::UserAlreadyEnrolled,
            Error::TooManyAttempts {
                retry_after: Duration::from_secs(30),
            },
            Error::UpstreamUnavailable { retry_after: None },
            Error::UpstreamCredentials,
            Error::UpstreamProtocol,
            Error::Unauthenticated,
            Error::PermissionDenied { scope: "verify" },
            Error::ShuttingDown,
            Error::StoreUnavailable {
                detail: "disk on fire at /var/lib/x".into(),
            },
            Error::Internal {
                detail: "disk on fire at /var/lib/x".into(),
            },
        ];
        for e in all {
            let reason = e.reason();
            let (_, message, details) = decode(e);
            let info = details.error_info().expect("ErrorInfo");
            assert_eq!(info.domain, ERROR_DOMAIN);
            assert_eq!(info.reason, reason);
            assert!(
                reason.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{reason}"
            );
            assert!(
                !message.contains("disk on fire"),
                "internal detail leaked: {message}"
            );
        }
    }

    #[test]
    fn design_table_codes() {
        let (code, _, d) = decode(Error::invalid("phone_number", "must have 4 to 14 digits"));
        assert_eq!(code, Code::InvalidArgument);
        let v = &d.bad_request().expect("BadRequest").field_violations[0];
        assert_eq!(
            (v.field.as_str(), v.description.as_str()),
            ("phone_number", "must have 4 to 14 digits")
        );

        assert_eq!(decode(Error::UserNotFound).0, Code::NotFound);
        // The database busy or locked: worth a retry, and said so.
        let (code, _, d) = decode(Error::StoreUnavailable {
            detail: "database is locked".into(),
        });
        assert_eq!(code, Code::Unavailable);
        assert_eq!(
            d.retry_info().expect("RetryInfo").retry_delay,
            Some(STORE_RETRY_AFTER)
        );
        assert_eq!(decode(Error::ApprovalNotFound).0, Code::NotFound);
        let (code, _, d) = decode(Error::TooManyAttempts {
            retry_after: Duration::from_secs(60),
        });
        assert_eq!(code, Code::ResourceExhausted);
        assert_eq!(
            d.retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(60))
        );
        let (code, _, d) = decode(Error::UpstreamUnavailable {
            retry_after: Some(Duration::from_secs(2)),
        });
        assert_eq!(code, Code::Unavailable);
        assert_eq!(
            d.retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(2))
        );
        assert_eq!(decode(Error::UpstreamCredentials).0, Code::Internal);
        assert_eq!(decode(Error::Unauthenticated).0, Code::Unauthenticated);
        assert_eq!(
            decode(Error::PermissionDenied { scope: "admin" }).0,
            Code::PermissionDenied
        );
    }

    #[test]
    fn provider_errors_map_per_the_design_table() {
        let rejected = Error::from(ProviderError::InvalidUser {
            message: "User was not valid".into(),
            fields: vec![FieldError {
                field: "cellphone".into(),
                description: "is invalid".into(),
            }],
        });
        let (code, _, d) = decode(rejected);
        assert_eq!(code, Code::InvalidArgument);
        let v = &d.bad_request().expect("BadRequest").field_violations[0];
        assert_eq!(
            (v.field.as_str(), v.description.as_str()),
            ("phone_number", "is invalid")
        );

        assert_eq!(
            Error::from(ProviderError::InvalidApiKey),
            Error::UpstreamCredentials
        );
        assert_eq!(
            Error::from(ProviderError::UserNotFound),
            Error::UserNotFound
        );
        assert_eq!(
            Error::from(ProviderError::ApprovalNotFound),
            Error::ApprovalNotFound
        );
        assert_eq!(
            Error::from(ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(5))
            }),
            Error::UpstreamUnavailable {
                retry_after: Some(Duration::from_secs(5))
            }
        );
        assert_eq!(
            Error::from(ProviderError::Unavailable(UpstreamFailure::Timeout)),
            Error::UpstreamUnavailable { retry_after: None }
        );
        assert_eq!(
            Error::from(ProviderError::Rejected {
                status: 400,
                code: Some(60002),
                message: "x".into()
            }),
            Error::UpstreamProtocol
        );
    }
}
