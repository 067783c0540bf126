//! Caller authentication for the gRPC port: a tower layer in front of every gRPC service
//! (inside gRPC-Web and CORS, so browsers get the same answers), applied only when caller
//! credentials are on (`Settings::caller_auth`).
//!
//! A caller sends its key as `authorization: Bearer <key>` (or `x-api-key: <key>`). Each RPC
//! needs one [`Scope`] ([`required_access`]); `admin` grants them all. Health and reflection are
//! open. No key, or an unknown or revoked one, is UNAUTHENTICATED; a valid key without the scope
//! is PERMISSION_DENIED (both with an `ErrorInfo`, through the one error mapping). An accepted
//! call carries the key's [`Caller`] in its request extensions, so the audit trail names it.
//!
//! Keys never reach a log; a refusal is logged at debug level, with the key's name when known.

use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderMap;
use tower::{Layer, Service};

use crate::app::keys::CallerKeys;
use crate::app::twofactor::Caller;
use crate::domain::Scope;
use crate::error::Error;
use crate::store::Store;

/// What a gRPC path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health checks, reflection).
    Open,
    /// A key with this scope (or `admin`).
    Scoped(Scope),
}

/// The access a gRPC method path (`/package.Service/Method`) requires. Paths not listed need
/// `admin`: a service or method added later is closed until it is given a scope here.
pub fn required_access(path: &str) -> Access {
    let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return Access::Scoped(Scope::Admin);
    };
    match service {
        "grpc.health.v1.Health"
        | "grpc.reflection.v1.ServerReflection"
        | "grpc.reflection.v1alpha.ServerReflection" => Access::Open,
        "authyd.v1.TwoFactorService" => Access::Scoped(match method {
            "Enroll" | "GetUser" | "Unenroll" => Scope::Enroll,
            "SendSms" | "SendVoice" | "VerifyToken" => Scope::Verify,
            "RequestApproval" | "GetApproval" | "WatchApproval" => Scope::Approve,
            "StartRegistration" | "WatchRegistration" => Scope::Register,
            _ => Scope::Admin,
        }),
        _ => Access::Scoped(Scope::Admin),
    }
}

/// The key a caller presented: `authorization: Bearer <key>` (scheme case-insensitive), else
/// `x-api-key: <key>`. `None` when neither is there in a usable form.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, key) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        });
    let api_key = || {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    bearer.or_else(api_key).filter(|k| !k.is_empty())
}

/// Checks one call: the caller to attach, or the refusal.
pub async fn authorize<S: Store>(
    keys: &CallerKeys<S>,
    path: &str,
    headers: &HeaderMap,
) -> Result<Option<Caller>, Error> {
    let needed = match required_access(path) {
        Access::Open => return Ok(None),
        Access::Scoped(scope) => scope,
    };
    let Some(presented) = presented_key(headers) else {
        tracing::debug!(path, "refused a call without caller credentials");
        return Err(Error::Unauthenticated);
    };
    let key = match keys.authenticate(presented).await {
        Ok(key) => key,
        Err(Error::Unauthenticated) => {
            tracing::debug!(path, "refused a call with an unknown or revoked key");
            return Err(Error::Unauthenticated);
        }
        Err(e) => return Err(e),
    };
    if !key.scopes.grants(needed) {
        tracing::debug!(
            path,
            key = %key.name,
            scope = needed.as_str(),
            "refused a call: the key lacks the scope"
        );
        return Err(Error::PermissionDenied {
            scope: needed.as_str(),
        });
    }
    Ok(Some(key.caller()))
}

/// The layer; see the module documentation.
#[derive(Clone)]
pub struct CallerAuthLayer<S: Store> {
    keys: CallerKeys<S>,
}

impl<S: Store> CallerAuthLayer<S> {
    pub fn new(keys: CallerKeys<S>) -> Self {
        Self { keys }
    }
}

impl<Inner, S: Store> Layer<Inner> for CallerAuthLayer<S> {
    type Service = CallerAuth<Inner, S>;

    fn layer(&self, inner: Inner) -> Self::Service {
        CallerAuth {
            inner,
            keys: self.keys.clone(),
        }
    }
}

/// The service [`CallerAuthLayer`] wraps around the gRPC routes.
#[derive(Clone)]
pub struct CallerAuth<Inner, S: Store> {
    inner: Inner,
    keys: CallerKeys<S>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<Inner, S, ReqBody, ResBody> Service<http::Request<ReqBody>> for CallerAuth<Inner, S>
where
    Inner: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    Inner::Future: Send + 'static,
    S: Store,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = Inner::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        // The clone is not ready; the instance `poll_ready` readied serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let keys = self.keys.clone();
        Box::pin(async move {
            match authorize(&keys, req.uri().path(), req.headers()).await {
                Ok(caller) => {
                    if let Some(caller) = caller {
                        req.extensions_mut().insert(caller);
                    }
                    inner.call(req).await
                }
                Err(error) => {
                    metrics::counter!(
                        "authyd_grpc_auth_refusals_total",
                        "reason" => error.reason()
                    )
                    .increment(1);
                    Ok(tonic::Status::from(error).into_http())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_has_its_scope_and_the_rest_is_admin_or_open() {
        let table = [
            ("Enroll", Scope::Enroll),
            ("GetUser", Scope::Enroll),
            ("Unenroll", Scope::Enroll),
            ("SendSms", Scope::Verify),
            ("SendVoice", Scope::Verify),
            ("VerifyToken", Scope::Verify),
            ("RequestApproval", Scope::Approve),
            ("GetApproval", Scope::Approve),
            ("WatchApproval", Scope::Approve),
            ("StartRegistration", Scope::Register),
            ("WatchRegistration", Scope::Register),
            ("SomethingNew", Scope::Admin),
        ];
        for (method, scope) in table {
            assert_eq!(
                required_access(&format!("/authyd.v1.TwoFactorService/{method}")),
                Access::Scoped(scope),
                "{method}"
            );
        }
        for open in [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(required_access(open), Access::Open, "{open}");
        }
        for closed in [
            "/authyd.sandbox.v1.SandboxService/GetCodes",
            "/",
            "",
            "/grpc.health.v1.Health",
            "/grpc.health.v1.HealthX/Check",
        ] {
            assert_eq!(
                required_access(closed),
                Access::Scoped(Scope::Admin),
                "{closed}"
            );
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().unwrap());
        }
        h
    }

    #[test]
    fn keys_come_from_bearer_or_x_api_key() {
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer authyd_abc")])),
            Some("authyd_abc")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer   authyd_abc ")])),
            Some("authyd_abc")
        );
        assert_eq!(
            presented_key(&headers(&[("x-api-key", "authyd_xyz")])),
            Some("authyd_xyz")
        );
        // Bearer wins over x-api-key; other schemes are not keys.
        assert_eq!(
            presented_key(&headers(&[
                ("authorization", "Bearer a"),
                ("x-api-key", "b")
            ])),
            Some("a")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "Basic dXNlcjpwYXNz")])),
            None
        );
        assert_eq!(
            presented_key(&headers(&[
                ("authorization", "Basic dXNlcjpwYXNz"),
                ("x-api-key", "k")
            ])),
            Some("k")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer ")])),
            None
        );
        assert_eq!(presented_key(&headers(&[("x-api-key", " ")])), None);
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }
}
