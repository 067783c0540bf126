//! How authyd is served: reflection (v1 and v1alpha), gRPC-Web with CORS, the audit trail in the
//! store, and a graceful SIGTERM of the real binary.

mod support;

use std::time::Duration;

use authyd::grpc::pb::v1::two_factor_service_client::TwoFactorServiceClient;
use authyd::grpc::pb::v1::{
    ApprovalState, GetUserRequest, GetUserResponse, RequestApprovalRequest, VerifyTokenRequest,
    WatchApprovalRequest,
};
use authyd::store::{AuditAction, AuditQuery, SqliteStore, Store};
use prost::Message;
use support::{enroll, fresh_dir, settings, spawn_app, start};
use tokio_stream::StreamExt;
use tonic::Code;

/// The services reflection v1 lists.
async fn list_services(channel: tonic::transport::Channel) -> Vec<String> {
    use tonic_reflection::pb::v1;
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1::ServerReflectionRequest {
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
        ..Default::default()
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers.next().await.unwrap().unwrap().message_response
    else {
        panic!("no service list");
    };
    list.service.into_iter().map(|s| s.name).collect()
}

async fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_the_services() {
    use tonic_reflection::pb::v1alpha;
    let app = spawn_app().await;
    let channel = channel(app.grpc_addr).await;
    let names = list_services(channel.clone()).await;
    for want in [
        "authyd.v1.TwoFactorService",
        "authyd.sandbox.v1.SandboxService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }

    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "google.rpc.BadRequest".into(),
            ),
        ),
        ..Default::default()
    };
    let mut answers = alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.next().await.unwrap().unwrap().message_response;
    assert!(
        matches!(
            answer,
            Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
        ),
        "error details are not described: {answer:?}"
    );
}

/// One gRPC-Web call over HTTP/1.1, as a browser makes it.
async fn grpc_web(
    addr: std::net::SocketAddr,
    path: &str,
    message: &impl Message,
) -> reqwest::Response {
    let payload = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&payload);
    reqwest::Client::builder()
        .http1_only()
        .build()
        .unwrap()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn outside_the_sandbox_reflection_does_not_list_the_sandbox_controls() {
    let sim = authyd::sim::start(
        authyd::sim::SimConfig::new(authyd::secret::ApiKey::new("k").unwrap()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let app = support::spawn_app_against(&sim.base_url(), "k", fresh_dir("nosandbox")).await;
    let names = list_services(channel(app.grpc_addr).await).await;
    assert!(
        names.iter().any(|n| n == "authyd.v1.TwoFactorService"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("authyd.sandbox")),
        "{names:?}"
    );
}

#[tokio::test]
async fn grpc_web_over_http1_and_cors_for_configured_origins_only() {
    let dir = fresh_dir("web");
    let mut s = settings(&dir, authyd::config::Upstream::Sandbox);
    s.cors_origins = vec!["https://app.example".into()];
    let app = start(s, dir).await;
    let user = enroll(&app, "web").await;

    let r = grpc_web(
        app.grpc_addr,
        "/authyd.v1.TwoFactorService/GetUser",
        &GetUserRequest {
            user_id: "web".into(),
        },
    )
    .await;
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes[0], 0, "first frame is data");
    let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    let reply = GetUserResponse::decode(&bytes[5..5 + len]).unwrap();
    assert_eq!(reply.user.unwrap().authy_id, user.authy_id);
    let trailers = String::from_utf8_lossy(&bytes[5 + len + 5..]).to_string();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");

    let preflight = |origin: &'static str| {
        reqwest::Client::new()
            .request(
                reqwest::Method::OPTIONS,
                format!(
                    "http://{}/authyd.v1.TwoFactorService/GetUser",
                    app.grpc_addr
                ),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-grpc-web")
            .send()
    };
    let ok = preflight("https://app.example").await.unwrap();
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://app.example")
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn the_audit_trail_records_every_2fa_event() {
    let app = spawn_app().await;
    enroll(&app, "kim").await;
    let mut api = app.api.clone();
    let check = api
        .verify_token(VerifyTokenRequest {
            user_id: "kim".into(),
            token: "1234567".into(),
            action: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!check.valid);
    let e = api
        .verify_token(VerifyTokenRequest {
            user_id: "nobody".into(),
            token: "1234567".into(),
            action: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    api.request_approval(RequestApprovalRequest {
        user_id: "kim".into(),
        message: "Log in?".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    // A second reader of the same database file (WAL allows it while authyd runs).
    let store = SqliteStore::open(&app.data_dir.join("authyd.sqlite3"))
        .await
        .unwrap();
    let events = store
        .audit_events(AuditQuery {
            user_id: None,
            limit: 100,
        })
        .await
        .unwrap();
    let seen: Vec<(AuditAction, Option<String>, String)> = events
        .iter()
        .rev()
        .map(|e| {
            (
                e.action,
                e.user_id.as_ref().map(|u| u.to_string()),
                e.outcome.clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (AuditAction::Enroll, Some("kim".into()), "ok".into()),
            (
                AuditAction::VerifyToken,
                Some("kim".into()),
                "invalid".into()
            ),
            (
                AuditAction::VerifyToken,
                Some("nobody".into()),
                "user_not_found".into()
            ),
            (
                AuditAction::RequestApproval,
                Some("kim".into()),
                "ok".into()
            ),
        ]
    );
    assert!(events.iter().all(|e| e.caller == "anonymous"));
    assert!(
        events
            .iter()
            .all(|e| e.detail.as_deref().is_none_or(|d| !d.contains("1234567")))
    );
}

#[tokio::test]
async fn sigterm_drains_gracefully_and_ends_watch_streams_with_unavailable() {
    let dir = fresh_dir("sigterm");
    let support::Binary {
        mut child,
        grpc_addr: addr,
        log,
        mut lines,
    } = support::spawn_binary(&["--data-dir".as_ref(), dir.as_os_str()], &[]).await;
    assert!(log.iter().any(|l| l.contains("SANDBOX MODE")), "{log:?}");

    let mut api = TwoFactorServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    api.enroll(support::enroll_request("lea")).await.unwrap();
    let a = support::request_approval(
        &api,
        RequestApprovalRequest {
            user_id: "lea".into(),
            message: "Log in?".into(),
            ..Default::default()
        },
    )
    .await;
    let mut watch = api
        .watch_approval(WatchApprovalRequest {
            approval_id: a.approval_id,
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

    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let end = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("the watch ends on SIGTERM")
        .expect("with a status");
    assert_eq!(end.unwrap_err().code(), Code::Unavailable);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("authyd exits")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}
