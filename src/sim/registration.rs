//! The QR registration JWT (reference §3), checked the way the Authy app/backend would: HS256
//! signed with the application's API key, `iss` = application name, `exp` in the future,
//! `context.authy_app_id` = application id, `context.custom_user_id` a non-empty string.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use crate::secret::ApiKey;

/// Why a registration token was refused. `reason()` is a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("unsupported algorithm {0} (only HS256)")]
    UnsupportedAlgorithm(String),
    #[error("bad signature (the token must be signed with the application's API key)")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("wrong issuer: iss is {got:?}, expected the application name {expected:?}")]
    WrongIssuer { got: String, expected: String },
    #[error("wrong app id: context.authy_app_id is {got:?}, expected {expected:?}")]
    WrongAppId { got: String, expected: String },
    #[error("context.custom_user_id must be a non-empty string")]
    MissingCustomUserId,
}

impl ScanError {
    pub fn reason(&self) -> &'static str {
        match self {
            ScanError::Malformed(_) => "malformed",
            ScanError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            ScanError::BadSignature => "bad_signature",
            ScanError::Expired => "expired",
            ScanError::WrongIssuer { .. } => "wrong_issuer",
            ScanError::WrongAppId { .. } => "wrong_app_id",
            ScanError::MissingCustomUserId => "missing_custom_user_id",
        }
    }
}

/// Checks a registration JWT; returns its `custom_user_id`.
pub fn check(token: &str, key: &ApiKey, app_name: &str, app_id: &str) -> Result<String, ScanError> {
    let token = token.trim();
    let header = decode_header(token).map_err(|e| ScanError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::HS256 {
        return Err(ScanError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    let data = decode::<Value>(
        token,
        &DecodingKey::from_secret(key.expose().as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => ScanError::BadSignature,
        ErrorKind::ExpiredSignature => ScanError::Expired,
        ErrorKind::MissingRequiredClaim(claim) => {
            ScanError::Malformed(format!("the {claim} claim is missing"))
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            ScanError::Malformed(format!("the {claim} claim is not a number"))
        }
        _ => ScanError::Malformed(e.to_string()),
    })?;
    let claims = data.claims;
    // RFC 7519 §4.1.4: not accepted *on or after* `exp` (jsonwebtoken still accepts the second
    // of `exp` itself).
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp <= chrono::Utc::now().timestamp())
    {
        return Err(ScanError::Expired);
    }
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(app_name) {
        return Err(ScanError::WrongIssuer {
            got: iss.map_or_else(|| "<missing>".to_owned(), str::to_owned),
            expected: app_name.to_owned(),
        });
    }
    let Some(context) = claims.get("context").and_then(Value::as_object) else {
        return Err(ScanError::Malformed("the context claim is missing".into()));
    };
    let got_app_id = match context.get("authy_app_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "<missing>".to_owned(),
    };
    if got_app_id != app_id {
        return Err(ScanError::WrongAppId {
            got: got_app_id,
            expected: app_id.to_owned(),
        });
    }
    match context.get("custom_user_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(ScanError::MissingCustomUserId),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    fn key() -> ApiKey {
        ApiKey::new("EXAMPLEPRODUCTIONAPIKEY000000000").unwrap()
    }

    fn token(claims: &Value, secret: &str, alg: Algorithm) -> String {
        encode(
            &Header::new(alg),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn claims() -> Value {
        json!({"iss":"My Authy App","iat":now(),"exp":now()+300,"context":{"custom_user_id":"42","authy_app_id":"123456"}})
    }

    #[test]
    fn reference_worked_example_has_a_valid_signature_but_is_expired() {
        let t = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNeSBBdXRoeSBBcHAiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTYwMDAwMDMwMCwiY29udGV4dCI6eyJjdXN0b21fdXNlcl9pZCI6IjQyIiwiYXV0aHlfYXBwX2lkIjoiMTIzNDU2In19.eOYUdDBwhcgUfx4JYQaJOScH_DEeqkgLSETw05CGYeA";
        assert_eq!(
            check(t, &key(), "My Authy App", "123456"),
            Err(ScanError::Expired)
        );
        let other = ApiKey::new("another").unwrap();
        assert_eq!(
            check(t, &other, "My Authy App", "123456"),
            Err(ScanError::BadSignature)
        );
    }

    #[test]
    fn accepts_a_good_token() {
        let t = token(&claims(), key().expose(), Algorithm::HS256);
        assert_eq!(check(&t, &key(), "My Authy App", "123456"), Ok("42".into()));
        let mut numeric = claims();
        numeric["context"]["authy_app_id"] = json!(123456);
        let t = token(&numeric, key().expose(), Algorithm::HS256);
        assert_eq!(check(&t, &key(), "My Authy App", "123456"), Ok("42".into()));
    }

    #[test]
    fn rejections() {
        let k = key();
        let good = claims();
        let t = token(&good, "wrong", Algorithm::HS256);
        assert_eq!(
            check(&t, &k, "My Authy App", "123456"),
            Err(ScanError::BadSignature)
        );
        let t = token(&good, k.expose(), Algorithm::HS512);
        assert!(matches!(
            check(&t, &k, "My Authy App", "123456"),
            Err(ScanError::UnsupportedAlgorithm(_))
        ));
        let t = token(&good, k.expose(), Algorithm::HS256);
        assert_eq!(
            check(&t, &k, "Other", "123456").unwrap_err().reason(),
            "wrong_issuer"
        );
        assert_eq!(
            check(&t, &k, "My Authy App", "1").unwrap_err().reason(),
            "wrong_app_id"
        );
        let mut expired = good.clone();
        expired["exp"] = json!(now() - 1);
        let t = token(&expired, k.expose(), Algorithm::HS256);
        assert_eq!(
            check(&t, &k, "My Authy App", "123456"),
            Err(ScanError::Expired)
        );
        // On the second of `exp` itself the token is already expired (RFC 7519 §4.1.4).
        let mut at_exp = good.clone();
        at_exp["exp"] = json!(now());
        let t = token(&at_exp, k.expose(), Algorithm::HS256);
        assert_eq!(
            check(&t, &k, "My Authy App", "123456"),
            Err(ScanError::Expired)
        );
        let mut no_exp = good.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        let t = token(&no_exp, k.expose(), Algorithm::HS256);
        assert_eq!(
            check(&t, &k, "My Authy App", "123456")
                .unwrap_err()
                .reason(),
            "malformed"
        );
        for bad_user in [json!(""), json!(42), json!(null)] {
            let mut c = good.clone();
            c["context"]["custom_user_id"] = bad_user;
            let t = token(&c, k.expose(), Algorithm::HS256);
            assert_eq!(
                check(&t, &k, "My Authy App", "123456"),
                Err(ScanError::MissingCustomUserId)
            );
        }
        let mut no_context = good.clone();
        no_context.as_object_mut().unwrap().remove("context");
        let t = token(&no_context, k.expose(), Algorithm::HS256);
        assert_eq!(
            check(&t, &k, "My Authy App", "123456")
                .unwrap_err()
                .reason(),
            "malformed"
        );
        for garbage in ["", "abc", "a.b.c", "....", "eyJ.eyJ.x"] {
            assert_eq!(
                check(garbage, &k, "My Authy App", "123456")
                    .unwrap_err()
                    .reason(),
                "malformed",
                "{garbage}"
            );
        }
    }
}
