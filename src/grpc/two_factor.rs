//! `authyd.v1.TwoFactorService`: thin. Each method parses its request at the edge
//! (`convert`), calls the use-case, converts the answer; errors become statuses in one place
//! (`status`). Every call is counted and timed (`authyd_grpc_*` metrics).

use std::pin::Pin;
use std::time::Instant;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::app::twofactor::{Caller, TwoFactor};
use crate::error::Error;
use crate::grpc::convert;
use crate::grpc::pb::v1 as pb;
use crate::grpc::pb::v1::two_factor_service_server::TwoFactorService;
use crate::provider::{TokenCheck, TwoFactorProvider};
use crate::store::Store;

/// The gRPC face of [`TwoFactor`].
pub struct TwoFactorGrpc<P: TwoFactorProvider, S: Store> {
    app: TwoFactor<P, S>,
}

impl<P: TwoFactorProvider, S: Store> TwoFactorGrpc<P, S> {
    pub fn new(app: TwoFactor<P, S>) -> Self {
        Self { app }
    }
}

/// The caller an authentication layer attached to the request, else anonymous.
pub fn caller<T>(req: &Request<T>) -> Caller {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(Caller::anonymous)
}

/// Runs one unary call: counts it by method and code, times it, maps the error.
async fn observe<T>(
    method: &'static str,
    call: impl Future<Output = Result<T, Error>>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    let result = call.await.map(Response::new).map_err(Status::from);
    record(method, &result, started);
    result
}

fn record<T>(method: &'static str, result: &Result<T, Status>, started: Instant) {
    // Borrowed on success, the hot path: no string formatted per call.
    let code: metrics::SharedString = match result {
        Ok(_) => "OK".into(),
        Err(s) => format!("{:?}", s.code()).into(),
    };
    metrics::counter!("authyd_grpc_requests_total", "method" => method, "code" => code)
        .increment(1);
    metrics::histogram!("authyd_grpc_request_duration_seconds", "method" => method)
        .record(started.elapsed().as_secs_f64());
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchApprovalResponse, Status>> + Send>>;

#[tonic::async_trait]
impl<P: TwoFactorProvider, S: Store> TwoFactorService for TwoFactorGrpc<P, S> {
    async fn enroll(
        &self,
        req: Request<pb::EnrollRequest>,
    ) -> Result<Response<pb::EnrollResponse>, Status> {
        let caller = caller(&req);
        observe("Enroll", async {
            let cmd = convert::enroll(req.get_ref())?;
            let user = self.app.enroll(&caller, cmd).await?;
            Ok(pb::EnrollResponse {
                user: Some(convert::user(&user)),
            })
        })
        .await
    }

    async fn get_user(
        &self,
        req: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        observe("GetUser", async {
            let user_id = convert::user_id(&req.get_ref().user_id)?;
            let user = self.app.get_user(&user_id).await?;
            Ok(pb::GetUserResponse {
                user: Some(convert::user(&user)),
            })
        })
        .await
    }

    async fn unenroll(
        &self,
        req: Request<pb::UnenrollRequest>,
    ) -> Result<Response<pb::UnenrollResponse>, Status> {
        let caller = caller(&req);
        observe("Unenroll", async {
            let user_id = convert::user_id(&req.get_ref().user_id)?;
            self.app.unenroll(&caller, &user_id).await?;
            Ok(pb::UnenrollResponse {})
        })
        .await
    }

    async fn send_sms(
        &self,
        req: Request<pb::SendSmsRequest>,
    ) -> Result<Response<pb::SendSmsResponse>, Status> {
        let caller = caller(&req);
        observe("SendSms", async {
            let cmd = convert::send_sms(req.get_ref())?;
            let delivery = self.app.send_token(&caller, cmd, false).await?;
            Ok(convert::delivery_sms(&delivery))
        })
        .await
    }

    async fn send_voice(
        &self,
        req: Request<pb::SendVoiceRequest>,
    ) -> Result<Response<pb::SendVoiceResponse>, Status> {
        let caller = caller(&req);
        observe("SendVoice", async {
            let cmd = convert::send_voice(req.get_ref())?;
            let delivery = self.app.send_token(&caller, cmd, true).await?;
            Ok(convert::delivery_voice(&delivery))
        })
        .await
    }

    async fn verify_token(
        &self,
        req: Request<pb::VerifyTokenRequest>,
    ) -> Result<Response<pb::VerifyTokenResponse>, Status> {
        let caller = caller(&req);
        observe("VerifyToken", async {
            let cmd = convert::verify_token(req.get_ref())?;
            let check = self.app.verify_token(&caller, cmd).await?;
            Ok(pb::VerifyTokenResponse {
                valid: check == TokenCheck::Valid,
            })
        })
        .await
    }

    async fn request_approval(
        &self,
        req: Request<pb::RequestApprovalRequest>,
    ) -> Result<Response<pb::RequestApprovalResponse>, Status> {
        let caller = caller(&req);
        observe("RequestApproval", async {
            let cmd = convert::request_approval(req.get_ref())?;
            let approval = self.app.request_approval(&caller, cmd).await?;
            Ok(pb::RequestApprovalResponse {
                approval: Some(convert::approval(&approval)),
            })
        })
        .await
    }

    async fn get_approval(
        &self,
        req: Request<pb::GetApprovalRequest>,
    ) -> Result<Response<pb::GetApprovalResponse>, Status> {
        observe("GetApproval", async {
            let id = convert::approval_id(&req.get_ref().approval_id)?;
            let approval = self.app.get_approval(&id).await?;
            Ok(pb::GetApprovalResponse {
                approval: Some(convert::approval(&approval)),
            })
        })
        .await
    }

    type WatchApprovalStream = WatchStream;

    async fn watch_approval(
        &self,
        req: Request<pb::WatchApprovalRequest>,
    ) -> Result<Response<Self::WatchApprovalStream>, Status> {
        let started = Instant::now();
        let opened = async {
            let id = convert::approval_id(&req.get_ref().approval_id)?;
            self.app.watch_approval(&id).await
        }
        .await
        .map_err(Status::from);
        record("WatchApproval", &opened, started);
        let stream = opened?.map(|item| {
            item.map(|approval| pb::WatchApprovalResponse {
                approval: Some(convert::approval(&approval)),
            })
            .map_err(|closed| Status::from(Error::from(closed)))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    type WatchRegistrationStream =
        Pin<Box<dyn Stream<Item = Result<pb::WatchRegistrationResponse, Status>> + Send>>;

    async fn start_registration(
        &self,
        req: Request<pb::StartRegistrationRequest>,
    ) -> Result<Response<pb::StartRegistrationResponse>, Status> {
        let caller = caller(&req);
        observe("StartRegistration", async {
            let cmd = convert::start_registration(req.get_ref())?;
            let start = self.app.start_registration(&caller, cmd).await?;
            Ok(convert::registration_started(start))
        })
        .await
    }

    async fn watch_registration(
        &self,
        req: Request<pb::WatchRegistrationRequest>,
    ) -> Result<Response<Self::WatchRegistrationStream>, Status> {
        let started = Instant::now();
        let opened = async {
            let user_id = convert::user_id(&req.get_ref().user_id)?;
            self.app.watch_registration(&user_id).await
        }
        .await
        .map_err(Status::from);
        record("WatchRegistration", &opened, started);
        let stream = opened?.map(|item| {
            item.map(|view| convert::registration(&view))
                .map_err(|closed| Status::from(Error::from(closed)))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
