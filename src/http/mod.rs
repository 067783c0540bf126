//! The HTTP port: `/healthz`, `/metrics` (Prometheus text) and, when configured, the OneTouch
//! callback endpoint (`/authy/callback`, see [`callback`]).

pub mod callback;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// What `/healthz` and gRPC health report. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Health(Arc<HealthInner>);

#[derive(Debug, Default)]
struct HealthInner {
    /// Authy rejected our API key (60001): nothing will work until an operator fixes it.
    upstream_credentials_rejected: AtomicBool,
    /// The store failed its last check.
    store_failing: AtomicBool,
    shutting_down: AtomicBool,
}

impl Health {
    pub fn set_upstream_credentials_rejected(&self, rejected: bool) {
        self.0
            .upstream_credentials_rejected
            .store(rejected, Ordering::Relaxed);
    }
    pub fn set_store_failing(&self, failing: bool) {
        self.0.store_failing.store(failing, Ordering::Relaxed);
    }
    pub fn set_shutting_down(&self) {
        self.0.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Why authyd is not serving, if it is not.
    pub fn problems(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.0.shutting_down.load(Ordering::Relaxed) {
            out.push("shutting down");
        }
        if self.0.upstream_credentials_rejected.load(Ordering::Relaxed) {
            out.push("Authy rejected the configured API key");
        }
        if self.0.store_failing.load(Ordering::Relaxed) {
            out.push("the database is failing");
        }
        out
    }

    pub fn is_serving(&self) -> bool {
        self.problems().is_empty()
    }
}

/// Installs the global Prometheus recorder (once per process) and returns its handle.
/// Durations (`*_seconds`) are histograms with buckets from 1 ms to 30 s.
pub fn install_metrics() -> Result<PrometheusHandle, String> {
    static HANDLE: std::sync::OnceLock<Result<PrometheusHandle, String>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("seconds".to_owned()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0, 30.0,
                    ],
                )
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| e.to_string())
        })
        .clone()
}

/// State of the HTTP router.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: PrometheusHandle,
    pub health: Health,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz(State(state): State<HttpState>) -> impl IntoResponse {
    let problems = state.health.problems();
    let body = serde_json::json!({
        "status": if problems.is_empty() { "serving" } else { "not_serving" },
        "problems": problems,
    });
    let code = if state.health.is_serving() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body))
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
