//! `authyd.sandbox.v1.SandboxService`: plays the user's phone against the built-in simulator, by
//! its control API over loopback HTTP (the same API any external test tool uses). Registered only
//! in sandbox mode.

use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::grpc::convert;
use crate::grpc::pb::sandbox::v1 as pb;
use crate::grpc::pb::sandbox::v1::sandbox_service_server::SandboxService;
use crate::store::Store;

/// The sandbox controls, over a store and the simulator's base URL.
pub struct SandboxGrpc<S: Store> {
    store: S,
    sim_base: String,
    http: reqwest::Client,
}

impl<S: Store> SandboxGrpc<S> {
    pub fn new(store: S, sim_base: String) -> Self {
        Self {
            store,
            sim_base,
            http: reqwest::Client::new(),
        }
    }

    async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<(u16, serde_json::Value), Status> {
        let url = format!("{}/__sim/{path}", self.sim_base);
        let response = self
            .http
            .request(method, url)
            .send()
            .await
            .map_err(|_| Status::from(Error::UpstreamUnavailable { retry_after: None }))?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, body))
    }
}

#[tonic::async_trait]
impl<S: Store> SandboxService for SandboxGrpc<S> {
    async fn get_codes(
        &self,
        req: Request<pb::GetCodesRequest>,
    ) -> Result<Response<pb::GetCodesResponse>, Status> {
        let user_id = convert::user_id(&req.get_ref().user_id)?;
        let user = self
            .store
            .get_user(&user_id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::UserNotFound)?;
        let (status, body) = self
            .control(
                reqwest::Method::GET,
                &format!("users/{}/codes", user.authy_id),
            )
            .await?;
        if status != 200 {
            return Err(Error::UserNotFound.into());
        }
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        Ok(Response::new(pb::GetCodesResponse {
            sms_code: text("sms_code"),
            totp_code: text("totp_code"),
        }))
    }

    async fn answer_approval(
        &self,
        req: Request<pb::AnswerApprovalRequest>,
    ) -> Result<Response<pb::AnswerApprovalResponse>, Status> {
        let id = convert::approval_id(&req.get_ref().approval_id)?;
        let approval = self
            .store
            .get_approval(&id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::ApprovalNotFound)?;
        let verb = if req.get_ref().approve {
            "approve"
        } else {
            "deny"
        };
        let (status, _) = self
            .control(
                reqwest::Method::POST,
                &format!("approvals/{}/{verb}", approval.provider_ref),
            )
            .await?;
        match status {
            200 => Ok(Response::new(pb::AnswerApprovalResponse {})),
            404 => Err(Error::ApprovalNotFound.into()),
            409 => Err(Error::ApprovalNotPending.into()),
            _ => Err(Error::UpstreamUnavailable { retry_after: None }.into()),
        }
    }

    async fn complete_registration(
        &self,
        _req: Request<pb::CompleteRegistrationRequest>,
    ) -> Result<Response<pb::CompleteRegistrationResponse>, Status> {
        Err(Status::unimplemented(
            "CompleteRegistration is not implemented yet",
        ))
    }
}
