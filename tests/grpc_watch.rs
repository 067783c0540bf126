//! WatchApproval and the hub against a real authyd: many watchers of one approval, local expiry
//! while Authy fails, shutdown, a rejected API key, and `kill -9` + restart.

mod support;

use std::time::{Duration, Instant};

use authyd::grpc::pb::sandbox::v1::AnswerApprovalRequest;
use authyd::grpc::pb::v1::two_factor_service_client::TwoFactorServiceClient;
use authyd::grpc::pb::v1::{Approval, ApprovalState, RequestApprovalRequest, WatchApprovalRequest};
use authyd::secret::ApiKey;
use authyd::sim::{self, SimConfig};
use support::{details, enroll, fresh_dir, spawn_app, spawn_app_against};
use tokio_stream::StreamExt;
use tonic::Code;

fn push(user: &str, ttl_secs: i64) -> RequestApprovalRequest {
    RequestApprovalRequest {
        user_id: user.into(),
        message: "Log in?".into(),
        ttl: Some(prost_types::Duration {
            seconds: ttl_secs,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// Every state a watch stream yields, until it ends.
async fn collect(
    mut api: TwoFactorServiceClient<tonic::transport::Channel>,
    approval_id: String,
) -> Result<Vec<ApprovalState>, tonic::Status> {
    let mut stream = api
        .watch_approval(WatchApprovalRequest { approval_id })
        .await?
        .into_inner();
    let mut states = Vec::new();
    while let Some(msg) = stream.next().await {
        states.push(
            msg?.approval
                .map_or(ApprovalState::Unspecified, |a| a.state()),
        );
    }
    Ok(states)
}

async fn polls(sim: &str, uuid_of: &str) -> u64 {
    let v: serde_json::Value = reqwest::get(format!("{sim}/__sim/approvals/{uuid_of}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["polls"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_hundred_watchers_share_one_follower_and_all_see_approved() {
    let app = spawn_app().await;
    enroll(&app, "ann").await;
    let a: Approval = support::request_approval(&app.api, push("ann", 120)).await;
    let started = Instant::now();
    let watchers: Vec<_> = (0..100)
        .map(|_| tokio::spawn(collect(app.api.clone(), a.approval_id.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.sandbox()
        .answer_approval(AnswerApprovalRequest {
            approval_id: a.approval_id.clone(),
            approve: true,
        })
        .await
        .unwrap();
    for w in watchers {
        let states = w.await.unwrap().unwrap();
        assert_eq!(states, [ApprovalState::Pending, ApprovalState::Approved]);
    }
    // One follower polling every 200 ms, not 100: allow a few extra for jitter.
    let elapsed = started.elapsed().as_secs_f64();
    let gets = app.sim_requests("approval_get").await as f64;
    assert!(
        gets <= elapsed / 0.2 * 1.3 + 3.0,
        "{gets} upstream GETs in {elapsed:.1} s for 100 watchers"
    );
}

#[tokio::test]
async fn expiry_is_local_while_authy_is_down() {
    let app = spawn_app().await;
    enroll(&app, "ben").await;
    let a = support::request_approval(&app.api, push("ben", 2)).await;
    app.sim_fault(serde_json::json!({"endpoint": "*", "kind": "status", "status": 503}))
        .await;
    let states = tokio::time::timeout(
        Duration::from_secs(10),
        collect(app.api.clone(), a.approval_id.clone()),
    )
    .await
    .expect("EXPIRED within the ttl and a little")
    .unwrap();
    assert_eq!(states, [ApprovalState::Pending, ApprovalState::Expired]);
}

#[tokio::test]
async fn shutdown_ends_open_streams_with_unavailable() {
    let app = spawn_app().await;
    enroll(&app, "cid").await;
    let a = support::request_approval(&app.api, push("cid", 600)).await;
    let mut stream = app
        .api
        .clone()
        .watch_approval(WatchApprovalRequest {
            approval_id: a.approval_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(stream.next().await.unwrap().is_ok());
    let stopping = tokio::spawn(app.stop());
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the stream ends");
    let status = end.expect("a final status").unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(details(&status).0, "SHUTTING_DOWN");
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("graceful shutdown completes")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_rejected_api_key_is_internal_and_not_serving() {
    let sim = sim::start(
        SimConfig::new(ApiKey::new("the-right-key").unwrap()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let app = spawn_app_against(&sim.base_url(), "a-wrong-key", fresh_dir("badkey")).await;
    // Enroll reaches Authy, which refuses the key.
    let e = app
        .api
        .clone()
        .enroll(support::enroll_request("dan"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Internal);
    assert_eq!(details(&e).0, "AUTHY_CREDENTIALS_REJECTED");
    assert!(!e.message().contains("wrong-key"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = reqwest::get(format!("http://{}/healthz", app.http_addr))
            .await
            .unwrap();
        if r.status() == 503 {
            let body = r.text().await.unwrap();
            assert!(body.contains("API key"), "{body}");
            assert!(!body.contains("wrong-key"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never reported the rejected key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts the authyd binary against `sim` and returns it with its gRPC address.
async fn spawn_binary(sim: &str, data_dir: &std::path::Path) -> (tokio::process::Child, String) {
    use std::ffi::OsStr;
    let args: [&OsStr; 11] = [
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
        "--authy-url".as_ref(),
        sim.as_ref(),
        "--authy-app-name".as_ref(),
        "authyd-sim".as_ref(),
        "--authy-app-id".as_ref(),
        "100000".as_ref(),
        "--poll-interval".as_ref(),
        "200ms".as_ref(),
        "--insecure-no-caller-auth".as_ref(),
    ];
    let binary = support::spawn_binary(&args, &[("AUTHYD_AUTHY_API_KEY", "restart-key")]).await;
    let addr = binary.grpc_addr.clone();
    (binary.drain(), addr)
}

#[tokio::test]
async fn pending_approvals_survive_kill_9_and_report_what_happened_meanwhile() {
    let sim = sim::start(
        SimConfig::new(ApiKey::new("restart-key").unwrap()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = sim.base_url();
    let dir = fresh_dir("restart");

    let (mut first, addr) = spawn_binary(&base, &dir).await;
    let mut api = TwoFactorServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    api.enroll(support::enroll_request("eve")).await.unwrap();
    let a = support::request_approval(&api, push("eve", 600)).await;
    let mut watch = api
        .watch_approval(WatchApprovalRequest {
            approval_id: a.approval_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch
            .next()
            .await
            .unwrap()
            .unwrap()
            .approval
            .unwrap()
            .state(),
        ApprovalState::Pending
    );

    first.kill().await.unwrap(); // SIGKILL: no graceful anything
    assert!(
        watch.next().await.is_none_or(|r| r.is_err()),
        "the stream breaks with the process"
    );

    // While authyd is down the user approves.
    let uuid_of: String = {
        let stats: serde_json::Value = reqwest::get(format!("{base}/__sim/stats"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(stats["requests"]["approval_create"].as_u64() == Some(1));
        let v: serde_json::Value = reqwest::get(format!("{base}/__sim/approvals"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_default();
        v.as_array()
            .and_then(|list| list.first())
            .and_then(|x| x["uuid"].as_str())
            .map(str::to_owned)
            .unwrap_or_default()
    };
    assert!(!uuid_of.is_empty(), "the simulator lists its approvals");
    let r = reqwest::Client::new()
        .post(format!("{base}/__sim/approvals/{uuid_of}/approve"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let polls_before = polls(&base, &uuid_of).await;

    let (_second, addr) = spawn_binary(&base, &dir).await;
    let api = TwoFactorServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let states = tokio::time::timeout(Duration::from_secs(10), collect(api, a.approval_id))
        .await
        .expect("the watch resumes and ends")
        .unwrap();
    assert_eq!(states, [ApprovalState::Pending, ApprovalState::Approved]);
    assert!(
        polls(&base, &uuid_of).await > polls_before,
        "the new process followed Authy"
    );
}
