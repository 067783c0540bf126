//! Shared by the authyd benchmarks: the `authyd` binary run as a separate process against a
//! simulator the bench starts (so its memory and CPU are its own), `/proc` readings, percentiles.
#![allow(dead_code)] // each bench uses its own subset

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authyd::grpc::pb::v1::EnrollRequest;
use authyd::grpc::pb::v1::two_factor_service_client::TwoFactorServiceClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};

pub const API_KEY: &str = "bench-api-key";

/// The `authyd` executable: `AUTHYD_BENCH_EXE` if set (to measure another build), else the one
/// Cargo built from this tree for the bench. Cargo builds a package's binaries before its
/// benchmarks and names them in `CARGO_BIN_EXE_<name>` at compile time (it does so for
/// integration tests and benchmarks), so with `cargo bench` this is `target/release/authyd`
/// built with the bench profile from the same sources. If that variable is ever missing, fall
/// back to `target/release/authyd`.
pub fn authyd_exe() -> PathBuf {
    let exe = if let Some(path) = std::env::var_os("AUTHYD_BENCH_EXE") {
        PathBuf::from(path)
    } else {
        match option_env!("CARGO_BIN_EXE_authyd") {
            Some(path) => PathBuf::from(path),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/authyd"),
        }
    };
    assert!(
        exe.is_file(),
        "{} is missing: run `cargo build --release` first",
        exe.display()
    );
    exe
}

/// A child process of the bench (`authyd serve` or `authyd sim`), killed on drop.
pub struct Process {
    child: Child,
    pub pid: u32,
    /// The address from its `… listening on ADDR` log line.
    pub addr: SocketAddr,
    /// Log lines at WARN or ERROR since start.
    warnings: Arc<AtomicUsize>,
    /// The first few of them, for the report.
    first_warnings: Arc<parking_lot::Mutex<Vec<String>>>,
}

impl Process {
    /// Runs `authyd --log-format json <args>` and waits (≤ 30 s) for its `<marker> ADDR` line.
    async fn spawn(args: &[&std::ffi::OsStr], marker: &str) -> Self {
        let mut all: Vec<&std::ffi::OsStr> = vec!["--log-format".as_ref(), "json".as_ref()];
        all.extend_from_slice(args);
        Self::spawn_program(&authyd_exe(), &all, marker).await
    }

    /// Runs `exe <args>` and waits (≤ 30 s) for its `<marker> ADDR` line on stderr.
    pub async fn spawn_program(exe: &Path, args: &[&std::ffi::OsStr], marker: &str) -> Self {
        let mut child = Command::new(exe)
            .args(args)
            .env("AUTHYD_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        let pid = child.id().expect("child pid");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let line = lines
                    .next_line()
                    .await
                    .expect("child stderr")
                    .unwrap_or_else(|| panic!("{} exited before `{marker}`", exe.display()));
                if let Some(rest) = line.split(marker).nth(1) {
                    let addr: String = rest
                        .trim_start()
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    return addr.parse::<SocketAddr>().expect("listening address");
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no `{marker}` line within 30 s"));
        // Keep draining its log (a full pipe would block the process), counting warnings.
        let warnings = Arc::new(AtomicUsize::new(0));
        let first_warnings = Arc::new(parking_lot::Mutex::new(Vec::new()));
        {
            let warnings = Arc::clone(&warnings);
            let first = Arc::clone(&first_warnings);
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.contains("\"WARN\"") || line.contains("\"ERROR\"") {
                        warnings.fetch_add(1, Ordering::Relaxed);
                        let mut first = first.lock();
                        if first.len() < 5 {
                            first.push(line);
                        }
                    }
                }
            });
        }
        Self {
            child,
            pid,
            addr,
            warnings,
            first_warnings,
        }
    }

    /// Its resident set size now, from `/proc/<pid>/status` (VmRSS, KiB).
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid, "VmRSS:")
    }

    /// Its CPU time so far (user + system), from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(&format!("/proc/{}/stat", self.pid))
    }

    pub fn print_warnings(&self, name: &str) {
        let n = self.warnings.load(Ordering::Relaxed);
        if n > 0 {
            println!("{name} logged {n} WARN/ERROR lines; first ones:");
            for line in self.first_warnings.lock().iter() {
                println!("  {line}");
            }
        }
    }

    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// One HTTP/2 connection to the gRPC server at `addr`.
pub async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// `authyd sim` as a separate process on a loopback port picked by the OS, accepting [`API_KEY`].
pub struct Sim {
    pub process: Process,
    pub url: String,
}

impl Sim {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// With more `authyd sim` flags (e.g. `--callback-url`).
    pub async fn spawn_with(extra: &[&std::ffi::OsStr]) -> Self {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "sim".as_ref(),
            "--addr".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--api-key".as_ref(),
            API_KEY.as_ref(),
        ];
        args.extend_from_slice(extra);
        let process = Process::spawn(&args, "sim listening on ").await;
        let url = format!("http://{}", process.addr);
        Self { process, url }
    }

    pub async fn stop(mut self) {
        self.process.stop().await;
    }
}

/// `authyd serve` as a separate process on loopback ports picked by the OS, against the simulator
/// at `sim_url` (as if it were Authy), with a fresh SQLite database and no caller credentials.
pub struct Server {
    pub process: Process,
    pub grpc_addr: SocketAddr,
    pub data_dir: PathBuf,
}

impl Server {
    pub async fn spawn(sim_url: &str, poll_interval: &str) -> Self {
        Self::spawn_with(sim_url, poll_interval, "127.0.0.1:0", &[]).await
    }

    /// With the HTTP port at `http_addr` and more `authyd serve` flags (e.g. `--callback-url`).
    pub async fn spawn_with(
        sim_url: &str,
        poll_interval: &str,
        http_addr: &str,
        extra: &[&std::ffi::OsStr],
    ) -> Self {
        let data_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/tmp")
            .join(format!("bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data_dir).expect("bench data dir");
        let args: Vec<&std::ffi::OsStr> = vec![
            "serve".as_ref(),
            "--grpc-addr".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--http-addr".as_ref(),
            http_addr.as_ref(),
            "--data-dir".as_ref(),
            data_dir.as_os_str(),
            "--authy-url".as_ref(),
            sim_url.as_ref(),
            "--authy-api-key".as_ref(),
            API_KEY.as_ref(),
            "--authy-app-name".as_ref(),
            "authyd-sim".as_ref(),
            "--authy-app-id".as_ref(),
            "100000".as_ref(),
            "--poll-interval".as_ref(),
            poll_interval.as_ref(),
            // Loopback benchmark: no caller credentials.
            "--insecure-no-caller-auth".as_ref(),
        ];
        let mut args = args;
        args.extend_from_slice(extra);
        let process = Process::spawn(&args, "grpc listening on ").await;
        let grpc_addr = process.addr;
        Self {
            process,
            grpc_addr,
            data_dir,
        }
    }

    /// One HTTP/2 connection to its gRPC port.
    pub async fn channel(&self) -> Channel {
        channel(self.grpc_addr).await
    }

    pub fn pid(&self) -> u32 {
        self.process.pid
    }

    pub fn rss_kib(&self) -> u64 {
        self.process.rss_kib()
    }

    pub fn cpu_time(&self) -> Duration {
        self.process.cpu_time()
    }

    pub async fn stop(mut self) {
        self.process.stop().await;
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A loopback port that was free a moment ago (for a server whose address another process must
/// know before it starts, such as authyd's callback endpoint).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("status field")
}

/// utime + stime of a `/proc/…/stat` file (clock ticks at the usual 100 Hz).
pub fn cpu_time(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).expect("/proc stat");
    // Fields after the command name (which may contain spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Enrolls `user_id` through authyd with a phone derived from `n`; returns its Authy id.
pub async fn enroll(api: &mut TwoFactorServiceClient<Channel>, user_id: &str, n: usize) -> i64 {
    api.enroll(EnrollRequest {
        user_id: user_id.into(),
        email: format!("{user_id}@example.com"),
        phone_number: format!("650{:07}", 1_000_000 + n),
        country_code: 1,
        send_install_link: false,
    })
    .await
    .expect("enroll")
    .into_inner()
    .user
    .expect("user")
    .authy_id
}

/// The value at quantile `q` (0..=1) of sorted `values`, or NaN.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx]
}

pub fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

/// `/proc/loadavg`'s 1, 5 and 15 minute load averages (other work on the machine skews figures).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = proc_status_meminfo_gib();
    format!("{cores} cores ({cpu}), {mem_gib:.0} GiB RAM")
}

fn proc_status_meminfo_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0)
}
