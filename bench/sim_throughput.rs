//! How much load the Authy simulator takes on this machine, next to a bare axum server doing
//! nothing (the floor of the HTTP stack), measured side by side in one run with the same client.
//!
//!     cargo bench --bench sim_throughput                # defaults: 2000 concurrent, 40000 requests
//!     cargo bench --bench sim_throughput -- 5000 100000
//!
//! Prints, per workload: requests/s, p50/p99/max latency, errors, and the simulator's throughput
//! as a share of the baseline's. Client and servers share the machine's cores, so absolute figures
//! are a lower bound; the ratio is the point.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authyd::secret::ApiKey;
use authyd::sim::{SimConfig, start};
use serde_json::Value;
use tokio::sync::Semaphore;

const API_KEY: &str = "bench-api-key";

struct Figures {
    label: String,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Figures {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let idx = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[idx] as f64 / 1000.0
    }
    fn print(&self) {
        println!(
            "{:<34} {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   errors {}",
            self.label,
            self.rps(),
            self.pct(0.50),
            self.pct(0.99),
            self.pct(1.0),
            self.errors
        );
    }
}

/// Sends `total` GETs to the URLs produced by `url_for(i)`, at most `concurrency` at once.
async fn drive(
    label: &str,
    http: &reqwest::Client,
    concurrency: usize,
    total: usize,
    url_for: impl Fn(usize) -> String,
    ok: fn(u16) -> bool,
) -> Figures {
    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let permit = gate.clone().acquire_owned().await;
        let request = http.get(url_for(i)).header("X-Authy-API-Key", API_KEY);
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let t = Instant::now();
            let result = match request.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    r.bytes().await.map(|_| status).ok()
                }
                Err(_) => None,
            };
            (t.elapsed(), result)
        }));
    }
    let mut latencies_us = Vec::with_capacity(total);
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok((elapsed, Some(status))) if ok(status) => {
                latencies_us.push(elapsed.as_micros() as u64)
            }
            _ => errors += 1,
        }
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Figures {
        label: label.to_owned(),
        requests: total,
        errors,
        elapsed,
        latencies_us,
    }
}

async fn baseline_server() -> SocketAddr {
    let app = axum::Router::new().route(
        "/{*rest}",
        axum::routing::get(|| async { axum::Json(serde_json::json!({"success": true})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind baseline");
    let addr = listener.local_addr().expect("baseline addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let concurrency = args.first().copied().unwrap_or(2000);
    let total = args.get(1).copied().unwrap_or(40_000);

    let sim = start(
        SimConfig::new(ApiKey::new(API_KEY).expect("key")),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("start simulator");
    let base = sim.base_url();
    let baseline = format!("http://{}", baseline_server().await);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // 100 users, one pending approval each (as in the WatchApproval benchmark).
    let mut users = Vec::new();
    let mut approvals = Vec::new();
    for i in 0..100 {
        let body = serde_json::json!({"user": {"email": format!("u{i}@example.com"), "cellphone": format!("555{:07}", i), "country_code": "1"}});
        let v: Value = http
            .post(format!("{base}/protected/json/users/new"))
            .header("X-Authy-API-Key", API_KEY)
            .json(&body)
            .send()
            .await
            .expect("create user")
            .json()
            .await
            .expect("user json");
        let id = v["user"]["id"].as_u64().expect("user id");
        let v: Value = http
            .post(format!("{base}/onetouch/json/users/{id}/approval_requests"))
            .header("X-Authy-API-Key", API_KEY)
            .json(&serde_json::json!({"message": "Log in?", "seconds_to_expire": 3600}))
            .send()
            .await
            .expect("create approval")
            .json()
            .await
            .expect("approval json");
        users.push(id);
        approvals.push(
            v["approval_request"]["uuid"]
                .as_str()
                .expect("uuid")
                .to_owned(),
        );
    }

    println!(
        "simulator load on {} cores: {concurrency} concurrent requests, {total} per workload\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let ok200 = |s: u16| s == 200;
    let ok_verify = |s: u16| s == 200 || s == 401;
    // Warm up connections so all workloads start from the same pool.
    let _ = drive(
        "warm-up",
        &http,
        concurrency,
        concurrency,
        |_| format!("{baseline}/x"),
        ok200,
    )
    .await;

    let floor = drive(
        "baseline: bare axum JSON",
        &http,
        concurrency,
        total,
        |_| format!("{baseline}/onetouch/json/approval_requests/x"),
        ok200,
    )
    .await;
    floor.print();
    let polls = drive(
        "sim: GET approval_requests/{uuid}",
        &http,
        concurrency,
        total,
        |i| {
            format!(
                "{base}/onetouch/json/approval_requests/{}",
                approvals[i % approvals.len()]
            )
        },
        ok200,
    )
    .await;
    polls.print();
    let verifies = drive(
        "sim: GET verify/{token}/{id}",
        &http,
        concurrency,
        total,
        |i| {
            format!(
                "{base}/protected/json/verify/{:07}/{}?force=true",
                i % 10_000_000,
                users[i % users.len()]
            )
        },
        ok_verify,
    )
    .await;
    verifies.print();

    println!();
    println!(
        "sim / baseline throughput: approval polls {:.0} %, verifies {:.0} %",
        100.0 * polls.rps() / floor.rps(),
        100.0 * verifies.rps() / floor.rps()
    );
    sim.shutdown().await;
}
