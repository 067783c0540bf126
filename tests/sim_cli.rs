//! `authyd sim` as a process: the one `sim listening on ADDR` line, the key from the environment
//! (never logged), a clear error without a key, and a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "cli-test-key-5f0c2a9e";

fn sim_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authyd"));
    cmd.arg("sim")
        .env_remove("AUTHYD_SIM_API_KEY")
        .env_remove("AUTHYD_SIM_ADDR")
        .env_remove("AUTHYD_SIM_CALLBACK_URL")
        .env_remove("AUTHYD_SIM_CALLBACK_METHOD")
        .env("NO_COLOR", "1")
        .env("AUTHYD_LOG", "info");
    cmd
}

#[test]
fn missing_api_key_is_a_clear_error() {
    let out = sim_command()
        .args(["--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AUTHYD_SIM_API_KEY"), "{stderr}");
    assert!(stderr.contains("--api-key"), "{stderr}");
}

#[test]
fn bad_callback_method_is_rejected() {
    let out = sim_command()
        .args(["--addr", "127.0.0.1:0", "--callback-method", "PUT"])
        .env("AUTHYD_SIM_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("GET or POST"));
}

#[test]
fn runs_logs_its_address_and_stops_on_sigterm() {
    let mut child = sim_command()
        .args([
            "--addr",
            "127.0.0.1:0",
            "--app-name",
            "CLI App",
            "--callback-url",
            "http://127.0.0.1:9/cb",
            "--callback-method",
            "get",
        ])
        .env("AUTHYD_SIM_API_KEY", KEY)
        .env("AUTHYD_SIM_APP_ID", "4242")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a `sim listening on` line");
        lines.push(line.clone());
        if let Some((_, rest)) = line.split_once("sim listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert_ne!(addr.port(), 0);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body: serde_json::Value = rt.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("http://{addr}/protected/json/app/details"))
            .header("X-Authy-API-Key", KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(body["app"]["name"], "CLI App");
    assert_eq!(body["app"]["app_id"], 4242);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the simulator stops on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        lines.push(line);
    }
    let all = lines.join("\n");
    assert_eq!(all.matches("sim listening on").count(), 1, "{all}");
    assert!(!all.contains(KEY), "the key is never logged: {all}");
}
