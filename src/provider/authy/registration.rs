//! QR registration tokens (reference §3): an HS256 JWT signed with the application's API key,
//! `{"iss": <app name>, "iat": <int>, "exp": <int>, "context": {"custom_user_id": <user id>,
//! "authy_app_id": <app id>}}`, shown as the QR code of `authy://account?token=<JWT>`. The Authy
//! app scans it, and Authy registers the phone under the caller's user id; the status is then
//! read at `registrations/status?custom_user_id=` (see `wire::registration_status`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Serialize;

use crate::domain::UserId;
use crate::secret::ApiKey;

/// What the QR code encodes, before the token (the form every SDK and sample uses).
pub const URI_PREFIX: &str = "authy://account?token=";

/// The Authy application registration tokens name (the console's application name and id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthyApp {
    /// The `iss` claim.
    pub name: String,
    /// `context.authy_app_id`, a string.
    pub id: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    context: Context<'a>,
}

#[derive(Serialize)]
struct Context<'a> {
    custom_user_id: &'a str,
    authy_app_id: &'a str,
}

/// The JOSE header, in the member order the reference's samples (PyJWT) produce, so a token is
/// byte-identical to theirs for the same claims. (jsonwebtoken's own `encode` puts `typ` first.)
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The signed token for `user`, issued at `issued` and valid until `expires` (both truncated to
/// whole seconds, as the claims are integers).
pub fn token(
    key: &ApiKey,
    app: &AuthyApp,
    user: &UserId,
    issued: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = Claims {
        iss: &app.name,
        iat: issued.timestamp(),
        exp: expires.timestamp(),
        context: Context {
            custom_user_id: user.as_str(),
            authy_app_id: &app.id,
        },
    };
    let payload = serde_json::to_vec(&claims).map_err(jsonwebtoken::errors::Error::from)?;
    let message = format!("{}.{}", BASE64URL.encode(HEADER), BASE64URL.encode(payload));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(key.expose().as_bytes()),
        Algorithm::HS256,
    )?;
    Ok(format!("{message}.{signature}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
    use serde_json::{Value, json};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn reproduces_the_reference_worked_example_byte_for_byte() {
        // authy-api.md §3: key, app and times as given there.
        let key = ApiKey::new("EXAMPLEPRODUCTIONAPIKEY000000000").unwrap();
        let app = AuthyApp {
            name: "My Authy App".into(),
            id: "123456".into(),
        };
        let jwt = token(
            &key,
            &app,
            &UserId::parse("42").unwrap(),
            at(1_600_000_000),
            at(1_600_000_300),
        )
        .unwrap();
        assert_eq!(
            jwt,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNeSBBdXRoeSBBcHAiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTYwMDAwMDMwMCwiY29udGV4dCI6eyJjdXN0b21fdXNlcl9pZCI6IjQyIiwiYXV0aHlfYXBwX2lkIjoiMTIzNDU2In19.eOYUdDBwhcgUfx4JYQaJOScH_DEeqkgLSETw05CGYeA"
        );
    }

    #[test]
    fn claims_are_integers_and_strings_and_verify_with_the_key() {
        let key = ApiKey::new("k3y").unwrap();
        let app = AuthyApp {
            name: "Acme".into(),
            id: "77".into(),
        };
        let now = Utc::now();
        let jwt = token(
            &key,
            &app,
            &UserId::parse("user:1@x").unwrap(),
            now,
            now + chrono::TimeDelta::seconds(300),
        )
        .unwrap();
        let header = decode_header(&jwt).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let claims = decode::<Value>(
            &jwt,
            &DecodingKey::from_secret(b"k3y"),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap()
        .claims;
        assert_eq!(
            claims,
            json!({"iss": "Acme", "iat": now.timestamp(), "exp": now.timestamp() + 300,
                   "context": {"custom_user_id": "user:1@x", "authy_app_id": "77"}})
        );
        assert!(
            decode::<Value>(
                &jwt,
                &DecodingKey::from_secret(b"other"),
                &Validation::new(Algorithm::HS256)
            )
            .is_err()
        );
    }
}
