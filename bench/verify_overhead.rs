//! What authyd adds to a token verification: `VerifyToken` through authyd next to the same check
//! sent straight to the Authy simulator, side by side in one run, at the same concurrency.
//!
//!     cargo bench --bench verify_overhead                 # concurrency 1 and 64; 2000 / 20000 calls
//!     cargo bench --bench verify_overhead -- 128 40000    # the loaded level: concurrency, calls
//!
//! Processes on loopback: this bench (the clients), the Authy simulator (`authyd sim`),
//! authyd (`target/release/authyd serve`, built by Cargo before the bench) pointed at it, and the
//! bare pass-through below.
//! Both sides verify the users' real TOTP codes (read from `/__sim/users/{id}/codes` and refreshed
//! every 5 s), so every answer is `valid=true` and authyd's local limit on failed verifications
//! never interferes; 100 users are enrolled through authyd first.
//!
//! - direct: `GET /protected/json/verify/{token}/{authy_id}?force=true` with `X-Authy-API-Key`
//!   (reqwest, one pooled connection per concurrent request, as authyd's own client does);
//! - authyd: `authyd.v1.TwoFactorService/VerifyToken` (tonic, a few HTTP/2 channels), which reads
//!   the user, checks the local limit, makes that same GET, and appends an audit event;
//! - bare: the same gRPC call to a bare pass-through ([`bare_proxy`], this bench's executable run
//!   as a fourth process with `--bare-proxy SIM_URL`) that only forwards it with reqwest: the
//!   floor under authyd, the price of one gRPC hop and one HTTP call on these cores.
//!
//! Two levels: concurrency 1 (the latency authyd adds when idle) and a loaded level (throughput),
//! each run in [`ROUNDS`] rounds with the sides interleaved; the summary reports medians.
//! A third run, for information, repeats the loaded level with the simulator answering verifies
//! after [`UPSTREAM_LATENCY_MS`] (a latency fault), as a real Authy a network away would: then
//! both sides wait on the upstream instead of competing for the cores, which shows what authyd
//! adds in production rather than what it costs next to a zero-latency upstream.
//! Client, simulator and authyd share the machine's cores, so absolute figures are a lower bound;
//! the side-by-side ratio is the point. Also prints CPU time per call of each process (from
//! `/proc/<pid>/stat`) and the load average (other work on the machine skews the figures).

#[path = "support/mod.rs"]
mod support;

/// The allocator authyd uses (src/main.rs), so that the clients of both sides and the bare
/// pass-through, which runs from this executable, are not penalised against authyd.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/bare_proxy.rs"]
mod bare_proxy;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use authyd::grpc::pb::v1::VerifyTokenRequest;
use authyd::grpc::pb::v1::two_factor_service_client::TwoFactorServiceClient;
use parking_lot::RwLock;
use serde_json::Value;
use support::{Server, Sim, quantile, verdict};
use tonic::transport::Channel;

const USERS: usize = 100;
/// Rounds per level; the summary reports medians.
const ROUNDS: usize = 3;
/// Upstream latency of the informational third run.
const UPSTREAM_LATENCY_MS: u64 = 20;
const CODE_REFRESH: Duration = Duration::from_secs(5);
/// Upper bound of one measured workload, whatever the request count.
const WORKLOAD_CAP: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Figures {
    calls: usize,
    valid: usize,
    invalid: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    /// Sorted, milliseconds.
    latencies_ms: Vec<f64>,
    /// CPU time of each process during the run.
    authyd_cpu: Duration,
    bare_cpu: Duration,
    sim_cpu: Duration,
    client_cpu: Duration,
    /// Which process stood between client and simulator.
    proxy: Proxy,
}

/// What stood between the client and the simulator in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Proxy {
    /// Nothing: the client called the simulator.
    #[default]
    None,
    /// The bare pass-through ([`bare_proxy`]).
    Bare,
    Authyd,
}

impl Figures {
    fn rps(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
    fn p(&self, q: f64) -> f64 {
        quantile(&self.latencies_ms, q)
    }
    fn cpu_us_per_call(cpu: Duration, calls: usize) -> f64 {
        cpu.as_secs_f64() * 1e6 / calls.max(1) as f64
    }
    /// CPU time per call of the process in the middle (authyd or the bare pass-through).
    fn proxy_cpu_us(&self) -> f64 {
        let cpu = match self.proxy {
            Proxy::None => Duration::ZERO,
            Proxy::Bare => self.bare_cpu,
            Proxy::Authyd => self.authyd_cpu,
        };
        Self::cpu_us_per_call(cpu, self.calls)
    }
    fn print(&self) {
        let label = match self.proxy {
            Proxy::None => "direct",
            Proxy::Bare => "bare",
            Proxy::Authyd => "authyd",
        };
        println!(
            "{label:<8} {:>9.0} calls/s  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.2} ms  \
             valid {:>6} invalid {:>3} errors {:>3}  CPU µs/call: client {:>4.0} proxy {:>4.0} sim {:>4.0}",
            self.rps(),
            self.p(0.5),
            self.p(0.99),
            self.p(1.0),
            self.valid,
            self.invalid,
            self.errors,
            Self::cpu_us_per_call(self.client_cpu, self.calls),
            self.proxy_cpu_us(),
            Self::cpu_us_per_call(self.sim_cpu, self.calls),
        );
        if let Some(e) = &self.first_error {
            println!("         first error: {e}");
        }
    }
}

/// Rounds of a side at one level, summarised by medians.
#[derive(Default)]
struct Rounds(Vec<Figures>);

impl Rounds {
    fn median(&self, figure: impl Fn(&Figures) -> f64) -> f64 {
        let mut values: Vec<f64> = self.0.iter().map(figure).collect();
        values.sort_by(f64::total_cmp);
        quantile(&values, 0.5)
    }
    fn rps(&self) -> f64 {
        self.median(Figures::rps)
    }
    fn p(&self, q: f64) -> f64 {
        self.median(|f| f.p(q))
    }
    fn proxy_cpu_us(&self) -> f64 {
        self.median(Figures::proxy_cpu_us)
    }
    /// The median over rounds of `figure(self's round i, other's round i)`.
    fn paired(&self, other: &Rounds, figure: impl Fn(&Figures, &Figures) -> f64) -> f64 {
        let mut values: Vec<f64> = self
            .0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| figure(a, b))
            .collect();
        values.sort_by(f64::total_cmp);
        quantile(&values, 0.5)
    }
    fn errors(&self) -> usize {
        self.0.iter().map(|f| f.errors).sum()
    }
}

/// One call's outcome: `Ok(valid)` or an error text.
type Outcome = Result<bool, String>;

/// Runs `total` calls of `call(i)` from `concurrency` closed-loop workers.
async fn drive<F, Fut>(
    procs: &Procs,
    proxy: Proxy,
    concurrency: usize,
    total: usize,
    call: F,
) -> Figures
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let authyd_cpu = procs.server.cpu_time();
    let bare_cpu = procs.bare.cpu_time();
    let sim_cpu = procs.sim.process.cpu_time();
    let client_cpu = support::cpu_time("/proc/self/stat");
    let started = Instant::now();
    let deadline = started + WORKLOAD_CAP;
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let call = Arc::clone(&call);
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let mut f = Figures::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                let outcome = call(worker, i).await;
                f.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
                f.calls += 1;
                match outcome {
                    Ok(true) => f.valid += 1,
                    Ok(false) => f.invalid += 1,
                    Err(e) => {
                        f.errors += 1;
                        f.first_error.get_or_insert(e);
                    }
                }
            }
            f
        }));
    }
    let mut all = Figures {
        proxy,
        ..Figures::default()
    };
    for w in workers {
        let f = w.await.expect("worker");
        all.calls += f.calls;
        all.valid += f.valid;
        all.invalid += f.invalid;
        all.errors += f.errors;
        if all.first_error.is_none() {
            all.first_error = f.first_error;
        }
        all.latencies_ms.extend(f.latencies_ms);
    }
    all.elapsed = started.elapsed();
    all.authyd_cpu = procs.server.cpu_time().saturating_sub(authyd_cpu);
    all.bare_cpu = procs.bare.cpu_time().saturating_sub(bare_cpu);
    all.sim_cpu = procs.sim.process.cpu_time().saturating_sub(sim_cpu);
    all.client_cpu = support::cpu_time("/proc/self/stat").saturating_sub(client_cpu);
    all.latencies_ms.sort_by(f64::total_cmp);
    all
}

struct Procs {
    sim: Sim,
    server: Server,
    bare: support::Process,
}

struct Setup {
    sim_url: String,
    user_ids: Vec<String>,
    authy_ids: Vec<i64>,
    codes: Arc<RwLock<Vec<String>>>,
}

async fn direct(
    setup: &Arc<Setup>,
    http: &reqwest::Client,
    procs: &Procs,
    concurrency: usize,
    total: usize,
) -> Figures {
    let setup = Arc::clone(setup);
    let http = http.clone();
    drive(procs, Proxy::None, concurrency, total, move |_, i| {
        let u = i % USERS;
        let url = format!(
            "{}/protected/json/verify/{}/{}?force=true",
            setup.sim_url,
            setup.codes.read()[u],
            setup.authy_ids[u]
        );
        let request = http.get(url).header("X-Authy-API-Key", support::API_KEY);
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            response.bytes().await.map_err(|e| e.to_string())?;
            match status {
                200 => Ok(true),
                401 => Ok(false),
                other => Err(format!("HTTP {other}")),
            }
        }
    })
    .await
}

/// `VerifyToken` calls through authyd, or through the bare pass-through (which is addressed by
/// Authy id rather than by user id).
async fn through(
    setup: &Arc<Setup>,
    proxy: Proxy,
    clients: &[TwoFactorServiceClient<Channel>],
    procs: &Procs,
    concurrency: usize,
    total: usize,
) -> Figures {
    let setup = Arc::clone(setup);
    let clients = clients.to_vec();
    drive(procs, proxy, concurrency, total, move |worker, i| {
        let u = i % USERS;
        let mut client = clients[worker % clients.len()].clone();
        let user_id = if proxy == Proxy::Bare {
            setup.authy_ids[u].to_string()
        } else {
            setup.user_ids[u].clone()
        };
        let request = VerifyTokenRequest {
            user_id,
            token: setup.codes.read()[u].clone(),
            action: String::new(),
        };
        async move {
            client
                .verify_token(request)
                .await
                .map(|r| r.into_inner().valid)
                .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
        }
    })
    .await
}

async fn fetch_codes(http: &reqwest::Client, sim_url: &str, authy_ids: &[i64]) -> Vec<String> {
    let mut codes = Vec::with_capacity(authy_ids.len());
    for id in authy_ids {
        let v: Value = http
            .get(format!("{sim_url}/__sim/users/{id}/codes"))
            .send()
            .await
            .expect("codes")
            .json()
            .await
            .expect("codes json");
        codes.push(v["totp_code"].as_str().expect("totp_code").to_owned());
    }
    codes
}

#[tokio::main]
async fn main() {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("--bare-proxy") {
        let sim_url = argv.next().expect("--bare-proxy SIM_URL");
        bare_proxy::serve(sim_url, support::API_KEY).await;
        return;
    }
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let loaded = args.first().copied().unwrap_or(64).max(1);
    let loaded_total = args.get(1).copied().unwrap_or(20_000).max(1);
    let idle_total = 2_000;

    let sim = Sim::spawn().await;
    let sim_url = sim.url.clone();
    let server = Server::spawn(&sim_url, "1s").await;
    println!("VerifyToken overhead on {}", support::machine());
    println!(
        "authyd: {} serve (pid {}), simulator: authyd sim (pid {}) at {sim_url}; load average {}\n",
        support::authyd_exe().display(),
        server.pid(),
        sim.process.pid,
        support::loadavg()
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut api = TwoFactorServiceClient::new(server.channel().await);
    let mut user_ids = Vec::with_capacity(USERS);
    let mut authy_ids = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let user_id = format!("verify-{i}");
        authy_ids.push(support::enroll(&mut api, &user_id, i).await);
        user_ids.push(user_id);
    }
    let codes = Arc::new(RwLock::new(fetch_codes(&http, &sim_url, &authy_ids).await));
    let setup = Arc::new(Setup {
        sim_url: sim_url.clone(),
        user_ids,
        authy_ids,
        codes,
    });
    let refresher = {
        let setup = Arc::clone(&setup);
        let http = http.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CODE_REFRESH).await;
                let fresh = fetch_codes(&http, &setup.sim_url, &setup.authy_ids).await;
                *setup.codes.write() = fresh;
            }
        })
    };
    let bare = support::Process::spawn_program(
        &std::env::current_exe().expect("bench executable"),
        &["--bare-proxy".as_ref(), sim_url.as_ref()],
        bare_proxy::MARKER,
    )
    .await;
    let procs = Procs { sim, server, bare };
    let mut clients = Vec::new();
    let mut bare_clients = Vec::new();
    for _ in 0..4 {
        clients.push(TwoFactorServiceClient::new(procs.server.channel().await));
        bare_clients.push(TwoFactorServiceClient::new(
            support::channel(procs.bare.addr).await,
        ));
    }

    // Warm-up: connections, caches, the database pages of every user.
    let _ = direct(&setup, &http, &procs, loaded, 2_000).await;
    let _ = through(&setup, Proxy::Bare, &bare_clients, &procs, loaded, 2_000).await;
    let _ = through(&setup, Proxy::Authyd, &clients, &procs, loaded, 2_000).await;

    // Each level runs ROUNDS times, the three sides interleaved (direct, bare, authyd, direct,
    // …), so a slow spell of the machine hits every side; the summary takes each figure's median.
    let mut results = Vec::new();
    for (concurrency, total) in [(1, idle_total), (loaded, loaded_total)] {
        println!("concurrency {concurrency}, {total} calls per side, {ROUNDS} rounds:");
        let (mut d, mut b, mut a) = (Rounds::default(), Rounds::default(), Rounds::default());
        for r in 0..ROUNDS {
            // Each round starts with another side, so what one side leaves behind (authyd's
            // WAL checkpoint, say) does not always land on the same next side.
            for side in 0..3 {
                match (r + side) % 3 {
                    0 => {
                        let round = direct(&setup, &http, &procs, concurrency, total).await;
                        round.print();
                        d.0.push(round);
                    }
                    1 => {
                        let round = through(
                            &setup,
                            Proxy::Bare,
                            &bare_clients,
                            &procs,
                            concurrency,
                            total,
                        )
                        .await;
                        round.print();
                        b.0.push(round);
                    }
                    _ => {
                        let round =
                            through(&setup, Proxy::Authyd, &clients, &procs, concurrency, total)
                                .await;
                        round.print();
                        a.0.push(round);
                    }
                }
            }
        }
        println!();
        results.push((concurrency, d, b, a));
    }
    let fault = http
        .post(format!("{sim_url}/__sim/faults"))
        .json(&serde_json::json!({"endpoint": "verify", "kind": "latency", "ms": UPSTREAM_LATENCY_MS}))
        .send()
        .await
        .expect("latency fault");
    assert!(
        fault.status().is_success(),
        "the simulator refused the fault"
    );
    let far_total = loaded_total.min(loaded * 100);
    println!(
        "concurrency {loaded}, {far_total} calls per side, the simulator answering verifies after \
         {UPSTREAM_LATENCY_MS} ms (information):"
    );
    let far_direct = direct(&setup, &http, &procs, loaded, far_total).await;
    far_direct.print();
    let far_authyd = through(&setup, Proxy::Authyd, &clients, &procs, loaded, far_total).await;
    far_authyd.print();
    println!();
    refresher.abort();
    procs.server.process.print_warnings("authyd");
    procs.sim.process.print_warnings("sim");
    println!("load average at the end: {}\n", support::loadavg());

    println!(
        "{:<62} {:>12} {:>10} {:>6}",
        "figure", "measured", "target", ""
    );
    let row = |name: String, measured: String, target: &str, pass: Option<bool>| {
        println!(
            "{name:<62} {measured:>12} {target:>10} {:>6}",
            pass.map_or("-", verdict)
        );
    };
    for (concurrency, d, b, a) in &results {
        let c = *concurrency;
        let idle = c == 1;
        // Paired per round (the rounds of one index ran back to back), then the median.
        let added_p50 = a.paired(d, |a, d| a.p(0.5) - d.p(0.5));
        let added_p99 = a.paired(d, |a, d| a.p(0.99) - d.p(0.99));
        let ratio = a.paired(d, |a, d| 100.0 * a.rps() / d.rps());
        let clean = d.errors() == 0 && b.errors() == 0 && a.errors() == 0;
        row(
            format!(
                "c={c}: p50 added by authyd ({:.3} vs {:.3} ms)",
                a.p(0.5),
                d.p(0.5)
            ),
            format!("{added_p50:.3} ms"),
            "< 1 ms",
            Some(clean && added_p50 < 1.0),
        );
        row(
            format!(
                "c={c}: p99 added by authyd ({:.3} vs {:.3} ms)",
                a.p(0.99),
                d.p(0.99)
            ),
            format!("{added_p99:.3} ms"),
            "(info)",
            None,
        );
        row(
            format!(
                "c={c}: throughput kept ({:.0} vs {:.0} calls/s)",
                a.rps(),
                d.rps()
            ),
            format!("{ratio:.1} %"),
            // One caller's throughput is 1 / its latency: the row above, restated.
            if idle { "(info)" } else { ">= 50 %" },
            (!idle).then_some(clean && ratio >= 50.0),
        );
        row(
            format!(
                "c={c}:   the bare pass-through keeps ({:.0} calls/s)",
                b.rps()
            ),
            format!("{:.1} %", b.paired(d, |b, d| 100.0 * b.rps() / d.rps())),
            "(floor)",
            None,
        );
        row(
            format!("c={c}:   authyd keeps of the bare pass-through"),
            format!("{:.1} %", a.paired(b, |a, b| 100.0 * a.rps() / b.rps())),
            "(info)",
            None,
        );
        row(
            format!("c={c}:   CPU per call, authyd vs the bare pass-through"),
            format!("{:.0} / {:.0} µs", a.proxy_cpu_us(), b.proxy_cpu_us()),
            "(info)",
            None,
        );
    }

    let (d, a) = (&far_direct, &far_authyd);
    row(
        format!(
            "c={loaded}, Authy {UPSTREAM_LATENCY_MS} ms away: p50 added ({:.3} vs {:.3} ms)",
            a.p(0.5),
            d.p(0.5)
        ),
        format!("{:.3} ms", a.p(0.5) - d.p(0.5)),
        "(info)",
        None,
    );
    row(
        format!(
            "c={loaded}, Authy {UPSTREAM_LATENCY_MS} ms away: throughput kept ({:.0} vs {:.0})",
            a.rps(),
            d.rps()
        ),
        format!("{:.1} %", 100.0 * a.rps() / d.rps()),
        "(info)",
        None,
    );
    println!(
        "(figures per level are medians over {ROUNDS} interleaved rounds, differences and ratios \
         paired by round; at the loaded level both sides are saturated closed loops: latency ≈ \
         concurrency / throughput, so its p50 row restates its throughput row; the bare pass-through is a \
         tonic server forwarding with reqwest and doing nothing else, the floor for any gRPC \
         service in front of the simulator on these cores)"
    );

    procs.server.stop().await;
    procs.sim.stop().await;
    let mut bare = procs.bare;
    bare.stop().await;
}
