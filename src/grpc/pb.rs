//! Code generated from `proto/` by `build.rs` (tonic-prost-build), never edited by hand, and the
//! hand-written Debug of the messages that carry a credential (build.rs skips deriving theirs).

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// `authyd.v1`: the public API.
pub mod v1 {
    tonic::include_proto!("authyd.v1");
}

/// Debug for the messages that carry a credential or personal data (`SECRET_BEARING` in
/// build.rs): those fields print as their length only, so a `{:?}` in a log line cannot leak
/// them.
mod redacted {
    use std::fmt;

    use super::v1::{EnrollRequest, StartRegistrationResponse, VerifyTokenRequest};

    /// A secret's length, not its text.
    struct Redacted(usize);

    impl fmt::Debug for Redacted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "<redacted, {} bytes>", self.0)
        }
    }

    impl fmt::Debug for EnrollRequest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("EnrollRequest")
                .field("user_id", &self.user_id)
                .field("email", &Redacted(self.email.len()))
                .field("phone_number", &Redacted(self.phone_number.len()))
                .field("country_code", &self.country_code)
                .field("send_install_link", &self.send_install_link)
                .finish()
        }
    }

    impl fmt::Debug for VerifyTokenRequest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("VerifyTokenRequest")
                .field("user_id", &self.user_id)
                .field("token", &Redacted(self.token.len()))
                .field("action", &self.action)
                .finish()
        }
    }

    impl fmt::Debug for StartRegistrationResponse {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("StartRegistrationResponse")
                .field("jwt", &Redacted(self.jwt.len()))
                .field("uri", &Redacted(self.uri.len()))
                .field("qr_svg", &Redacted(self.qr_svg.len()))
                .field("qr_png", &Redacted(self.qr_png.len()))
                .field("expire_time", &self.expire_time)
                .finish()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn secrets_do_not_reach_debug_output() {
            let verify = VerifyTokenRequest {
                user_id: "alice".into(),
                token: "0246813579".into(),
                action: "login".into(),
            };
            let shown = format!("{verify:?}");
            assert!(!shown.contains("0246813579"), "{shown}");
            assert!(shown.contains("alice") && shown.contains("<redacted, 10 bytes>"));

            let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhcHAifQ.c2lnbmF0dXJl";
            let started = StartRegistrationResponse {
                jwt: jwt.into(),
                uri: format!("authy://account?token={jwt}"),
                qr_svg: format!("<svg><!-- {jwt} --></svg>"),
                qr_png: jwt.as_bytes().to_vec(),
                expire_time: None,
            };
            let shown = format!("{started:?}");
            assert!(!shown.contains("eyJ"), "{shown}");
            assert!(!shown.contains("c2lnbmF0dXJl"), "{shown}");

            let enroll = EnrollRequest {
                user_id: "bob".into(),
                email: "bob@example.com".into(),
                phone_number: "555-123-4567".into(),
                country_code: 1,
                send_install_link: false,
            };
            let shown = format!("{enroll:?}");
            assert!(
                !shown.contains("example.com") && !shown.contains("4567"),
                "{shown}"
            );
            assert!(
                shown.contains("bob") && shown.contains("country_code: 1"),
                "{shown}"
            );
        }
    }
}

/// `authyd.sandbox.v1`: sandbox controls.
pub mod sandbox {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("authyd.sandbox.v1");
    }
}

/// The encoded descriptor set of the public API (`authyd.v1`) and its imports, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/authyd_descriptor.bin"));

/// The encoded descriptor set of the sandbox controls, registered only in sandbox mode.
pub const SANDBOX_FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/authyd_sandbox_descriptor.bin"));
