//! `spawn_app()`: a real authyd on port 0 with the simulator and a fresh database, as a test
//! would run it, plus clients for its gRPC services and the simulator's control API.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use authyd::config::{Database, Settings, Upstream};
use authyd::grpc::pb::sandbox::v1::sandbox_service_client::SandboxServiceClient;
use authyd::grpc::pb::v1::two_factor_service_client::TwoFactorServiceClient;
use authyd::secret::ApiKey;
use authyd::startup::Application;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub struct TestApp {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub api: TwoFactorServiceClient<Channel>,
    /// Present in sandbox mode.
    pub sandbox: Option<SandboxServiceClient<Channel>>,
    /// The simulator's base URL (the in-process sandbox's, or the external one).
    pub sim: String,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), authyd::startup::StartupError>>>,
}

/// A fresh directory under the target dir, removed by nobody (cheap, and useful after failures).
pub fn fresh_dir(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn settings(data_dir: &std::path::Path, upstream: Upstream) -> Settings {
    Settings {
        grpc_addr: "127.0.0.1:0".parse().expect("addr"),
        http_addr: "127.0.0.1:0".parse().expect("addr"),
        database: Database::SqliteFile(data_dir.join("authyd.sqlite3")),
        reset_database: false,
        upstream,
        poll_interval: Duration::from_millis(200),
        authy_timeout: Duration::from_secs(2),
        callback: None,
        caller_auth: false,
        cors_origins: Vec::new(),
    }
}

/// authyd in sandbox mode (its own simulator).
pub async fn spawn_app() -> TestApp {
    let dir = fresh_dir("authyd");
    start(settings(&dir, Upstream::Sandbox), dir).await
}

/// authyd against an external simulator (or anything at `url`) with this key.
pub async fn spawn_app_against(url: &str, key: &str, data_dir: PathBuf) -> TestApp {
    spawn_app_against_with(url, key, data_dir, |_| {}).await
}

/// [`spawn_app_against`] with the settings adjusted first (e.g. `caller_auth = true`).
pub async fn spawn_app_against_with(
    url: &str,
    key: &str,
    data_dir: PathBuf,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let upstream = Upstream::Authy {
        url: url.parse().expect("url"),
        api_key: ApiKey::new(key).expect("key"),
        app_name: "authyd-sim".into(),
        app_id: "100000".into(),
    };
    let mut settings = settings(&data_dir, upstream);
    adjust(&mut settings);
    let mut app = start(settings, data_dir).await;
    app.sim = url.to_owned();
    app
}

pub async fn start(settings: Settings, data_dir: PathBuf) -> TestApp {
    let app = Application::build(settings).await.expect("build authyd");
    let grpc_addr = app.grpc_addr();
    let http_addr = app.http_addr();
    let sim = app.sim_base_url().unwrap_or_default();
    let sandbox_mode = app.sim_base_url().is_some();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{grpc_addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    TestApp {
        grpc_addr,
        http_addr,
        api: TwoFactorServiceClient::new(channel.clone()),
        sandbox: sandbox_mode.then(|| SandboxServiceClient::new(channel)),
        sim,
        data_dir,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    /// Graceful shutdown; returns what `run_until_stopped` returned.
    pub async fn stop(mut self) -> Result<(), authyd::startup::StartupError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("server task"),
            None => Ok(()),
        }
    }

    pub fn sandbox(&self) -> SandboxServiceClient<Channel> {
        self.sandbox.clone().expect("sandbox mode")
    }

    /// `GET {sim}/__sim/stats` → requests per endpoint name.
    pub async fn sim_requests(&self, endpoint: &str) -> u64 {
        let v: serde_json::Value = reqwest::get(format!("{}/__sim/stats", self.sim))
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json");
        v["requests"][endpoint].as_u64().unwrap_or(0)
    }

    /// `POST {sim}/__sim/faults`.
    pub async fn sim_fault(&self, fault: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/__sim/faults", self.sim))
            .json(&fault)
            .send()
            .await
            .expect("fault");
        assert!(r.status().is_success(), "fault rejected: {}", r.status());
    }

    pub async fn sim_clear_faults(&self) {
        reqwest::Client::new()
            .delete(format!("{}/__sim/faults", self.sim))
            .send()
            .await
            .expect("clear faults");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// An `EnrollRequest` for `user_id` with a unique, valid US phone.
pub fn enroll_request(user_id: &str) -> authyd::grpc::pb::v1::EnrollRequest {
    let n = u64::from(uuid::Uuid::new_v4().as_u128() as u32) % 9_000_000 + 1_000_000;
    authyd::grpc::pb::v1::EnrollRequest {
        user_id: user_id.into(),
        email: format!("{user_id}@example.com"),
        phone_number: format!("650{n}"),
        country_code: 1,
        send_install_link: false,
    }
}

/// Enrolls `user_id` with a unique valid phone.
pub async fn enroll(app: &TestApp, user_id: &str) -> authyd::grpc::pb::v1::User {
    app.api
        .clone()
        .enroll(enroll_request(user_id))
        .await
        .expect("enroll")
        .into_inner()
        .user
        .expect("user")
}

/// `RequestApproval`, expected to succeed: the approval.
pub async fn request_approval(
    api: &TwoFactorServiceClient<Channel>,
    req: authyd::grpc::pb::v1::RequestApprovalRequest,
) -> authyd::grpc::pb::v1::Approval {
    api.clone()
        .request_approval(req)
        .await
        .expect("request approval")
        .into_inner()
        .approval
        .expect("approval")
}

/// The `ErrorInfo` reason and the field names of `BadRequest` violations of a status.
pub fn details(status: &tonic::Status) -> (String, Vec<String>) {
    use tonic_types::StatusExt;
    let d = status.get_error_details();
    let info = d.error_info().expect("every error has ErrorInfo");
    assert_eq!(info.domain, "authyd");
    let fields = d
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    (info.reason.clone(), fields)
}

/// The authyd binary, started by a test, listening.
pub struct Binary {
    pub child: tokio::process::Child,
    pub grpc_addr: String,
    /// The stderr lines up to the listening line.
    pub log: Vec<String>,
    /// The rest of stderr; read it, or call [`Binary::drain`] so the child never blocks on it.
    pub lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
}

/// `authyd ARGS…` (ports 0), waiting for its `grpc listening on ADDR` line.
pub async fn spawn_binary(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Binary {
    use tokio::io::AsyncBufReadExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_authyd"));
    command
        .args([
            "serve",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("AUTHYD_AUTHY_API_KEY")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn authyd");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut log = Vec::new();
    let grpc_addr = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.expect("read stderr") {
            log.push(line.clone());
            if let Some(rest) = line.split("grpc listening on ").nth(1) {
                return rest.trim().to_owned();
            }
        }
        panic!("authyd exited before listening: {log:?}");
    })
    .await
    .expect("authyd listens");
    Binary {
        child,
        grpc_addr,
        log,
        lines,
    }
}

impl Binary {
    /// Keeps reading stderr in the background; returns the child.
    pub fn drain(self) -> tokio::process::Child {
        let mut lines = self.lines;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child
    }
}
