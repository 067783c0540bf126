//! The composition root: settings → store → provider (Authy, or the in-process simulator in
//! sandbox mode) → use-cases → gRPC and HTTP listeners. Nothing else wires components together.
//!
//! Shutdown order matters: the watch hub closes first (open `WatchApproval` streams end with
//! UNAVAILABLE so clients reconnect elsewhere), then both servers drain in-flight calls, then the
//! simulator stops.

use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tower_http::cors::{AllowOrigin, CorsLayer};
use url::Url;

use crate::app::hub::HubConfig;
use crate::app::keys::CallerKeys;
use crate::app::limits::LimitsConfig;
use crate::app::twofactor::TwoFactor;
use crate::config::{CallbackUrl, Database, Settings, Upstream};
use crate::grpc::auth::CallerAuthLayer;
use crate::grpc::pb;
use crate::grpc::pb::sandbox::v1::sandbox_service_server::SandboxServiceServer;
use crate::grpc::pb::v1::two_factor_service_server::TwoFactorServiceServer;
use crate::grpc::sandbox::SandboxGrpc;
use crate::grpc::two_factor::TwoFactorGrpc;
use crate::http::callback::{self, CallbackEndpoint};
use crate::http::{self, Health, HttpState};
use crate::provider::ProviderError;
use crate::provider::authy::{AuthyApp, AuthyClient, AuthyConfig};
use crate::secret::ApiKey;
use crate::sim::{self, CallbackConfig, CallbackMethod, SimConfig, SimHandle};
use crate::store::{SqliteStore, Store, StoreError};

/// Why authyd could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("Authy client: {0}")]
    Provider(#[from] ProviderError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("sandbox simulator: {0}")]
    Sandbox(std::io::Error),
    #[error("{0}")]
    Setup(String),
    #[error("server: {0}")]
    Serve(String),
}

/// A built, bound, not yet running authyd.
pub struct Application {
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    app: TwoFactor<AuthyClient, SqliteStore>,
    store: SqliteStore,
    health: Health,
    http_state: HttpState,
    sim: Option<SimHandle>,
    cors_origins: Vec<String>,
    /// Present when callers must present keys.
    caller_keys: Option<CallerKeys<SqliteStore>>,
    /// Present when OneTouch callbacks are served.
    callbacks: Option<CallbackEndpoint<AuthyClient, SqliteStore>>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let metrics = http::install_metrics().map_err(StartupError::Setup)?;
        if let (Database::SqliteFile(path), true) = (&settings.database, settings.reset_database) {
            remove_sqlite_files(path)?;
        }
        let store = open_store(&settings.database).await?;

        // Bound first: the sandbox simulator is told where to send its callbacks.
        let grpc_listener = bind(settings.grpc_addr).await?;
        let http_listener = bind(settings.http_addr).await?;
        let grpc_addr = local_addr(&grpc_listener, settings.grpc_addr)?;
        let http_addr = local_addr(&http_listener, settings.http_addr)?;
        let callback_url = match (&settings.callback, &settings.upstream) {
            (Some(url), _) => Some(url.clone()),
            // The sandbox's simulator calls back on loopback, as Authy would call the console's URL.
            (None, Upstream::Sandbox) => Some(
                CallbackUrl::parse(&format!("http://{http_addr}{}", callback::PATH))
                    .map_err(|e| StartupError::Setup(format!("callback URL: {e}")))?,
            ),
            (None, Upstream::Authy { .. }) => None,
        };

        let (provider, sim, key) = match &settings.upstream {
            Upstream::Authy {
                url,
                api_key,
                app_name,
                app_id,
            } => {
                let mut config = AuthyConfig::new(url.clone(), api_key.clone());
                config.timeout = settings.authy_timeout;
                config.app = Some(AuthyApp {
                    name: app_name.clone(),
                    id: app_id.clone(),
                });
                (AuthyClient::new(config)?, None, api_key.clone())
            }
            Upstream::Sandbox => {
                let key = ApiKey::new(uuid::Uuid::new_v4().simple().to_string())
                    .map_err(|e| StartupError::Setup(e.to_string()))?;
                let mut sim_config = SimConfig::new(key.clone());
                sim_config.callback = callback_url.as_ref().map(|url| CallbackConfig {
                    url: url.url().clone(),
                    method: CallbackMethod::Post,
                });
                let app = AuthyApp {
                    name: sim_config.app_name.clone(),
                    id: sim_config.app_id.clone(),
                };
                let sim = sim::start(sim_config, SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .map_err(StartupError::Sandbox)?;
                let base = Url::parse(&sim.base_url())
                    .map_err(|e| StartupError::Setup(format!("simulator URL: {e}")))?;
                let mut config = AuthyConfig::new(base, key.clone());
                config.timeout = settings.authy_timeout;
                config.app = Some(app);
                tracing::warn!(
                    sim = %sim.base_url(),
                    "SANDBOX MODE: no Authy API key configured; authyd talks to its built-in Authy \
                     simulator, not to Authy. No SMS is sent and no phone is involved: read codes, \
                     answer approvals and scan registration QR codes with \
                     authyd.sandbox.v1.SandboxService. The sandbox \
                     starts empty each time (simulator and sandbox database). Set \
                     AUTHYD_AUTHY_API_KEY to use the real Authy."
                );
                (AuthyClient::new(config)?, Some(sim), key)
            }
        };
        if !settings.is_sandbox() && !settings.caller_auth {
            tracing::warn!(
                "INSECURE: caller credentials are disabled (--insecure-no-caller-auth): anyone who \
                 can reach the gRPC port can enroll, verify and approve"
            );
        }
        let caller_keys = settings.caller_auth.then(|| CallerKeys::new(store.clone()));
        if caller_keys.is_some() {
            tracing::info!(
                "caller credentials required: callers send `authorization: Bearer <key>` (keys \
                 from `authyd keys create`)"
            );
        }

        let health = Health::default();
        let hub = HubConfig {
            poll_interval: settings.poll_interval,
            ..HubConfig::default()
        };
        let app = TwoFactor::new(
            provider,
            store.clone(),
            hub,
            LimitsConfig::default(),
            health.clone(),
        );

        let callbacks = match &callback_url {
            Some(url) => {
                tracing::info!(
                    url = url.as_str(),
                    "OneTouch callbacks: served at {} on the HTTP port, verified against this URL",
                    callback::PATH
                );
                Some(CallbackEndpoint::new(app.clone(), url.as_str(), key))
            }
            None => {
                tracing::info!(
                    "OneTouch callbacks off (no --callback-url): approvals are followed by polling"
                );
                None
            }
        };
        tracing::info!("grpc listening on {grpc_addr}");
        tracing::info!("http listening on {http_addr}");

        Ok(Self {
            grpc_listener,
            http_listener,
            grpc_addr,
            http_addr,
            app,
            store,
            health: health.clone(),
            http_state: HttpState { metrics, health },
            sim,
            cors_origins: settings.cors_origins,
            caller_keys,
            callbacks,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The built-in simulator's base URL (sandbox mode only).
    pub fn sim_base_url(&self) -> Option<String> {
        self.sim.as_ref().map(SimHandle::base_url)
    }

    /// Serves until `stop` completes, then shuts down gracefully.
    pub async fn run_until_stopped(
        self,
        stop: impl Future<Output = ()> + Send,
    ) -> Result<(), StartupError> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<TwoFactorServiceServer<TwoFactorGrpc<AuthyClient, SqliteStore>>>()
            .await;
        let sandboxed = self.sim.is_some();
        let reflection = |b: tonic_reflection::server::Builder<'static>| {
            let b = if sandboxed {
                b.register_encoded_file_descriptor_set(pb::SANDBOX_FILE_DESCRIPTOR_SET)
            } else {
                b
            };
            b.register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                // google.rpc.ErrorInfo / BadRequest / RetryInfo, so grpcurl and other
                // reflection clients can decode error details.
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_v1 = reflection(tonic_reflection::server::Builder::configure())
            .build_v1()
            .map_err(|e| StartupError::Setup(format!("reflection: {e}")))?;
        let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure())
            .build_v1alpha()
            .map_err(|e| StartupError::Setup(format!("reflection: {e}")))?;
        let sandbox = self.sim.as_ref().map(|sim| {
            SandboxServiceServer::new(SandboxGrpc::new(self.app.clone(), sim.base_url()))
        });

        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };

        let grpc = Server::builder()
            .accept_http1(true)
            .layer(cors(&self.cors_origins))
            .layer(tonic_web::GrpcWebLayer::new())
            // Innermost: gRPC-Web calls are translated, and CORS answered, before keys are read.
            .layer(tower::util::option_layer(
                self.caller_keys.clone().map(CallerAuthLayer::new),
            ))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(TwoFactorServiceServer::new(TwoFactorGrpc::new(
                self.app.clone(),
            )))
            .add_optional_service(sandbox)
            .serve_with_incoming_shutdown(
                // No Nagle delay: a watcher's small message must not wait for the previous
                // segment's ACK (up to 40 ms of delayed ACK on the client side).
                TcpListenerStream::new(self.grpc_listener).map(|accepted| {
                    if let Ok(stream) = &accepted {
                        let _ = stream.set_nodelay(true);
                    }
                    accepted
                }),
                stopped(stop_rx.clone()),
            );
        let grpc = tokio::spawn(grpc);
        let mut router = http::router(self.http_state);
        if let Some(endpoint) = self.callbacks {
            router = router.merge(callback::router(endpoint));
        }
        let http_listener = self.http_listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let http = axum::serve(
            http_listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped(stop_rx.clone()))
        .into_future();
        let http = tokio::spawn(http);
        let approvals = self.app.approvals().clone();
        let registrations = self.app.registrations().clone();
        let gauges = move || {
            metrics::gauge!("authyd_active_watchers", "kind" => "approval")
                .set(approvals.watchers() as f64);
            metrics::gauge!("authyd_active_watchers", "kind" => "registration")
                .set(registrations.watchers() as f64);
            metrics::gauge!("authyd_pending_approvals_followed").set(approvals.followers() as f64);
            metrics::gauge!("authyd_pending_registrations_followed")
                .set(registrations.followers() as f64);
        };
        let watchdog = tokio::spawn(watch_health(
            self.store.clone(),
            self.health.clone(),
            health_reporter,
            stop_rx,
            gauges,
        ));

        stop.await;
        tracing::info!("shutting down: closing watch streams, draining calls");
        self.health.set_shutting_down();
        self.app.shutdown();
        let _ = stop_tx.send(true);
        let grpc = grpc.await;
        let http = http.await;
        let _ = watchdog.await;
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
        match grpc {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(StartupError::Serve(format!("grpc: {e}"))),
            Err(e) => return Err(StartupError::Serve(format!("grpc task: {e}"))),
        }
        match http {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(StartupError::Serve(format!("http: {e}"))),
            Err(e) => return Err(StartupError::Serve(format!("http task: {e}"))),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Deletes an SQLite database and its WAL files, if present.
fn remove_sqlite_files(path: &std::path::Path) -> Result<(), StartupError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StartupError::Setup(format!(
                    "cannot reset the sandbox database {}: {e}",
                    std::path::Path::new(&file).display()
                )));
            }
        }
    }
    Ok(())
}

/// Opens (and migrates) the database `authyd serve` and `authyd keys` share.
pub async fn open_store(database: &Database) -> Result<SqliteStore, StoreError> {
    match database {
        Database::SqliteFile(path) => SqliteStore::open(path).await,
        Database::Url(url) => SqliteStore::open_url(url.as_str()).await,
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartupError> {
    listener
        .local_addr()
        .map_err(|source| StartupError::Bind { addr, source })
}

/// gRPC-Web CORS for the configured origins (none: browsers from other origins are refused).
fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::mirror_request()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| axum::http::HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([axum::http::Method::POST, axum::http::Method::OPTIONS])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            axum::http::HeaderName::from_static("grpc-status"),
            axum::http::HeaderName::from_static("grpc-message"),
            axum::http::HeaderName::from_static("grpc-status-details-bin"),
        ])
        .max_age(Duration::from_secs(24 * 60 * 60))
}

/// Keeps gRPC health and `/healthz` in step with the store and Authy, and refreshes the gauges
/// (`authyd_active_watchers` by kind, `authyd_pending_approvals_followed`,
/// `authyd_pending_registrations_followed`) every 2 s.
async fn watch_health(
    store: SqliteStore,
    health: Health,
    reporter: tonic_health::server::HealthReporter,
    mut stop: watch::Receiver<bool>,
    gauges: impl Fn() + Send,
) {
    let service = "authyd.v1.TwoFactorService";
    let mut serving = true;
    loop {
        gauges();
        health.set_store_failing(store.ping().await.is_err());
        let now_serving = health.is_serving();
        if now_serving != serving {
            serving = now_serving;
            let status = if serving {
                tonic_health::ServingStatus::Serving
            } else {
                tracing::warn!(problems = ?health.problems(), "reporting NOT_SERVING");
                tonic_health::ServingStatus::NotServing
            };
            reporter.set_service_status(service, status).await;
            reporter.set_service_status("", status).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    reporter
        .set_service_status(service, tonic_health::ServingStatus::NotServing)
        .await;
}
