//! The floor under `verify_overhead`: a gRPC server whose `VerifyToken` does nothing but forward
//! the call to the simulator, built from the same parts as authyd's request path (a tonic server
//! with TCP_NODELAY and HTTP/1 accepted for gRPC-Web, a reqwest client configured as authyd's
//! Authy client is, mimalloc as authyd's allocator) and nothing else: no user lookup, no limits, no
//! audit, no metrics, no logs, no gRPC-Web or CORS layers.
//! Run as its own process (`verify_overhead --bare-proxy SIM_URL`), so it competes for the cores
//! exactly as authyd does. Its `user_id` is the Authy id itself.
//!
//! What authyd costs beyond this is authyd's own work; what this costs is the price of one gRPC
//! hop plus one HTTP call on this machine, which no implementation on these libraries avoids.

use std::time::Duration;

use authyd::grpc::pb::v1 as pb;
use authyd::grpc::pb::v1::two_factor_service_server::{TwoFactorService, TwoFactorServiceServer};
use reqwest::header::{HeaderMap, HeaderValue};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// The log line (on stderr) that names the bound address.
pub const MARKER: &str = "bare proxy listening on ";

struct Bare {
    http: reqwest::Client,
    sim_url: String,
}

type Empty<T> = tokio_stream::Empty<Result<T, Status>>;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented(
        "the bare proxy forwards VerifyToken only",
    ))
}

#[tonic::async_trait]
impl TwoFactorService for Bare {
    async fn verify_token(
        &self,
        req: Request<pb::VerifyTokenRequest>,
    ) -> Result<Response<pb::VerifyTokenResponse>, Status> {
        let req = req.into_inner();
        let url = format!(
            "{}/protected/json/verify/{}/{}?force=true",
            self.sim_url, req.token, req.user_id
        );
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let status = response.status().as_u16();
        response
            .bytes()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        match status {
            200 => Ok(Response::new(pb::VerifyTokenResponse { valid: true })),
            401 => Ok(Response::new(pb::VerifyTokenResponse { valid: false })),
            other => Err(Status::unavailable(format!("HTTP {other}"))),
        }
    }

    async fn enroll(
        &self,
        _: Request<pb::EnrollRequest>,
    ) -> Result<Response<pb::EnrollResponse>, Status> {
        unimplemented()
    }
    async fn get_user(
        &self,
        _: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        unimplemented()
    }
    async fn unenroll(
        &self,
        _: Request<pb::UnenrollRequest>,
    ) -> Result<Response<pb::UnenrollResponse>, Status> {
        unimplemented()
    }
    async fn send_sms(
        &self,
        _: Request<pb::SendSmsRequest>,
    ) -> Result<Response<pb::SendSmsResponse>, Status> {
        unimplemented()
    }
    async fn send_voice(
        &self,
        _: Request<pb::SendVoiceRequest>,
    ) -> Result<Response<pb::SendVoiceResponse>, Status> {
        unimplemented()
    }
    async fn request_approval(
        &self,
        _: Request<pb::RequestApprovalRequest>,
    ) -> Result<Response<pb::RequestApprovalResponse>, Status> {
        unimplemented()
    }
    async fn get_approval(
        &self,
        _: Request<pb::GetApprovalRequest>,
    ) -> Result<Response<pb::GetApprovalResponse>, Status> {
        unimplemented()
    }
    type WatchApprovalStream = Empty<pb::WatchApprovalResponse>;
    async fn watch_approval(
        &self,
        _: Request<pb::WatchApprovalRequest>,
    ) -> Result<Response<Self::WatchApprovalStream>, Status> {
        unimplemented()
    }
    async fn start_registration(
        &self,
        _: Request<pb::StartRegistrationRequest>,
    ) -> Result<Response<pb::StartRegistrationResponse>, Status> {
        unimplemented()
    }
    type WatchRegistrationStream = Empty<pb::WatchRegistrationResponse>;
    async fn watch_registration(
        &self,
        _: Request<pb::WatchRegistrationRequest>,
    ) -> Result<Response<Self::WatchRegistrationStream>, Status> {
        unimplemented()
    }
}

/// Serves until killed.
pub async fn serve(sim_url: String, api_key: &str) {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-authy-api-key",
        HeaderValue::from_str(api_key).expect("api key header"),
    );
    headers.insert("accept", HeaderValue::from_static("application/json"));
    let http = reqwest::Client::builder()
        .user_agent("authyd-bench-bare-proxy")
        .default_headers(headers)
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("http client");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    eprintln!("{MARKER}{}", listener.local_addr().expect("local addr"));
    let incoming = TcpListenerStream::new(listener).map(|accepted| {
        if let Ok(stream) = &accepted {
            let _ = stream.set_nodelay(true);
        }
        accepted
    });
    tonic::transport::Server::builder()
        .accept_http1(true)
        .add_service(TwoFactorServiceServer::new(Bare { http, sim_url }))
        .serve_with_incoming(incoming)
        .await
        .expect("bare proxy");
}
