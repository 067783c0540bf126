//! The Authy simulator: a stateful stand-in for `api.authy.com` that speaks Authy's exact wire
//! format (reference `authy-api.md`), plus a control API under `/__sim/` to read codes, answer
//! approvals, complete QR registrations, inject faults and read request counts.
//!
//! Run it alone with `authyd sim` ([`run_cli`]) or in-process with [`start`]. It shares test
//! fixtures with the Authy client in `provider/`, never its types. See `src/sim/README.md`.
//!
//! Modules: `server` (accept loop, counting, faults), `authy_api` (Authy endpoints), `control`
//! (`/__sim/`), `params` (query/form/JSON parameters with Rack brackets), `state` (users, codes,
//! approvals, registrations), `faults`, `callbacks` (signed OneTouch callbacks), `registration`
//! (QR JWT), `totp` (app codes).

mod authy_api;
mod callbacks;
mod control;
mod faults;
mod params;
mod registration;
mod server;
mod state;
mod totp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::provider::authy::signature::CallbackMethod;
use crate::secret::ApiKey;

use callbacks::CallbackLog;
use faults::{Faults, Stats};
use state::{Approval, Registration, Users};

/// Default application name.
pub const DEFAULT_APP_NAME: &str = "authyd-sim";
/// Default application id.
pub const DEFAULT_APP_ID: &str = "100000";

/// What the simulator pretends to be.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The one API key it accepts (also the HMAC key of callbacks and registration JWTs).
    pub api_key: ApiKey,
    /// The Authy application name (`iss` of registration JWTs, `_app_name` of approvals).
    pub app_name: String,
    /// The Authy application id (`context.authy_app_id` of registration JWTs).
    pub app_id: String,
    /// Where OneTouch callbacks go, if anywhere.
    pub callback: Option<CallbackConfig>,
}

impl SimConfig {
    /// App name `authyd-sim`, app id `100000`, no callback.
    pub fn new(api_key: ApiKey) -> Self {
        Self {
            api_key,
            app_name: DEFAULT_APP_NAME.to_owned(),
            app_id: DEFAULT_APP_ID.to_owned(),
            callback: None,
        }
    }
}

/// The OneTouch callback destination (the Authy console's "callback URL" and method).
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    pub url: url::Url,
    pub method: CallbackMethod,
}

/// The application identity shown in Authy's bodies.
#[derive(Debug)]
struct App {
    name: String,
    id: String,
    /// 24-hex `app_id` of approval requests (derived from the id, stable across runs).
    hex_id: String,
    /// `_app_serial_id` / `customer_uuid`: the id if numeric.
    serial_id: u64,
}

impl App {
    fn new(name: String, id: String) -> Self {
        let digest = Sha256::digest(id.as_bytes());
        let hex_id = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let serial_id = id.parse().unwrap_or(100_000);
        Self {
            name,
            id,
            hex_id,
            serial_id,
        }
    }
}

/// Everything the simulator's handlers share.
struct Sim {
    api_key: ApiKey,
    app: App,
    callback: Option<CallbackConfig>,
    users: RwLock<Users>,
    approvals: Mutex<HashMap<String, Approval>>,
    registrations: Mutex<HashMap<String, Registration>>,
    stats: Stats,
    faults: Faults,
    callbacks: CallbackLog,
    /// Only when a callback is configured.
    http: Option<reqwest::Client>,
    uuid_node: [u8; 6],
}

impl Sim {
    fn new(config: SimConfig) -> Self {
        let http = match &config.callback {
            Some(_) => match callbacks::http_client() {
                Ok(client) => Some(client),
                Err(err) => {
                    tracing::warn!(error = %err, "sim: no HTTP client for callbacks");
                    None
                }
            },
            None => None,
        };
        let mut uuid_node: [u8; 6] = rand::random();
        uuid_node[0] |= 0x01; // multicast bit: a random node id, not a MAC (RFC 9562 §6.10)
        Self {
            api_key: config.api_key,
            app: App::new(config.app_name, config.app_id),
            callback: config.callback,
            users: RwLock::new(Users::new(Users::random_first_id())),
            approvals: Mutex::new(HashMap::new()),
            registrations: Mutex::new(HashMap::new()),
            stats: Stats::default(),
            faults: Faults::default(),
            callbacks: CallbackLog::default(),
            http,
            uuid_node,
        }
    }

    /// A lower-case time-based (v1) UUID, like Authy's approval request ids.
    fn new_uuid(&self) -> String {
        uuid::Uuid::now_v1(&self.uuid_node).to_string()
    }
}

/// A running simulator. Dropping the handle leaves the server running (until the runtime stops);
/// call [`SimHandle::shutdown`] to stop it.
pub struct SimHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

impl SimHandle {
    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash); an unspecified bind address is shown as
    /// loopback.
    pub fn base_url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            match self.addr {
                SocketAddr::V4(_) => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                SocketAddr::V6(_) => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            }
        } else {
            self.addr.ip()
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Stops accepting, lets open requests finish (at most 5 s), and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds `addr` (port 0 picks a free port) and serves the simulator in the background.
pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let sim = Arc::new(Sim::new(config));
    let router = authy_api::router(Arc::clone(&sim));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(server::serve(listener, router, sim, stopped));
    Ok(SimHandle { addr, stop, task })
}

/// Command-line arguments of `authyd sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is logged as
    /// `sim listening on ADDR`).
    #[arg(long, env = "AUTHYD_SIM_ADDR", default_value = "127.0.0.1:18080")]
    pub addr: SocketAddr,
    /// The one Authy API key the simulator accepts (required).
    #[arg(long, env = "AUTHYD_SIM_API_KEY", hide_env_values = true, value_parser = parse_api_key)]
    pub api_key: Option<ApiKey>,
    /// Authy application name (the `iss` of registration JWTs).
    #[arg(long, env = "AUTHYD_SIM_APP_NAME", default_value = DEFAULT_APP_NAME)]
    pub app_name: String,
    /// Authy application id (the `context.authy_app_id` of registration JWTs).
    #[arg(long, env = "AUTHYD_SIM_APP_ID", default_value = DEFAULT_APP_ID)]
    pub app_id: String,
    /// URL that receives signed OneTouch callbacks when approvals are answered.
    #[arg(long, env = "AUTHYD_SIM_CALLBACK_URL")]
    pub callback_url: Option<url::Url>,
    /// HTTP method of callbacks: POST (JSON body) or GET (query string).
    #[arg(long, env = "AUTHYD_SIM_CALLBACK_METHOD", default_value = "POST")]
    pub callback_method: CallbackMethod,
}

fn parse_api_key(raw: &str) -> Result<ApiKey, String> {
    ApiKey::new(raw).map_err(|e| e.to_string())
}

/// Runs the simulator until Ctrl-C / SIGTERM.
pub async fn run_cli(args: SimArgs) -> anyhow::Result<()> {
    let api_key = args.api_key.context(
        "the simulator needs an API key: pass --api-key or set AUTHYD_SIM_API_KEY \
         (it is the only key the simulator accepts)",
    )?;
    let callback = args.callback_url.map(|url| CallbackConfig {
        url,
        method: args.callback_method,
    });
    if let Some(cb) = &callback
        && !matches!(cb.url.scheme(), "http" | "https")
    {
        anyhow::bail!("--callback-url must be an http or https URL");
    }
    let config = SimConfig {
        api_key,
        app_name: args.app_name,
        app_id: args.app_id,
        callback,
    };
    let handle = start(config, args.addr)
        .await
        .with_context(|| format!("could not listen on {}", args.addr))?;
    tracing::info!("sim listening on {}", handle.addr());
    wait_for_signal().await?;
    tracing::info!("sim shutting down");
    handle.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")
}
