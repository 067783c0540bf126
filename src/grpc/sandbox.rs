//! `authyd.sandbox.v1.SandboxService`: plays the user's phone against the built-in simulator, by
//! its control API over loopback HTTP (the same API any external test tool uses). Registered only
//! in sandbox mode.

use tonic::{Request, Response, Status};

use crate::app::twofactor::TwoFactor;
use crate::error::Error;
use crate::grpc::convert;
use crate::grpc::pb::sandbox::v1 as pb;
use crate::grpc::pb::sandbox::v1::sandbox_service_server::SandboxService;
use crate::provider::TwoFactorProvider;
use crate::store::Store;

/// The sandbox controls, over the service core and the simulator's base URL.
pub struct SandboxGrpc<P: TwoFactorProvider, S: Store> {
    app: TwoFactor<P, S>,
    sim_base: String,
    http: reqwest::Client,
}

impl<P: TwoFactorProvider, S: Store> SandboxGrpc<P, S> {
    pub fn new(app: TwoFactor<P, S>, sim_base: String) -> Self {
        Self {
            app,
            sim_base,
            http: reqwest::Client::new(),
        }
    }

    fn store(&self) -> &S {
        self.app.store()
    }

    async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), Status> {
        let url = format!("{}/__sim/{path}", self.sim_base);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|_| Status::from(Error::UpstreamUnavailable { retry_after: None }))?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, body))
    }
}

#[tonic::async_trait]
impl<P: TwoFactorProvider, S: Store> SandboxService for SandboxGrpc<P, S> {
    async fn get_codes(
        &self,
        req: Request<pb::GetCodesRequest>,
    ) -> Result<Response<pb::GetCodesResponse>, Status> {
        let user_id = convert::user_id(&req.get_ref().user_id)?;
        let user = self
            .store()
            .get_user(&user_id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::UserNotFound)?;
        let (status, body) = self
            .control(
                reqwest::Method::GET,
                &format!("users/{}/codes", user.authy_id),
                None,
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
            .store()
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
                None,
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
        req: Request<pb::CompleteRegistrationRequest>,
    ) -> Result<Response<pb::CompleteRegistrationResponse>, Status> {
        let user_id = convert::user_id(&req.get_ref().user_id)?;
        // The phone scans the very token StartRegistration showed (same claims, same key).
        let token = self.app.pending_registration_token(&user_id).await?;
        let (status, _) = self
            .control(
                reqwest::Method::POST,
                "registrations/scan",
                Some(serde_json::json!({ "token": token.jwt })),
            )
            .await?;
        if status != 200 {
            // The simulator refused a token authyd signed: the two disagree on key or app.
            return Err(Error::Internal {
                detail: format!("the simulator refused the registration token (HTTP {status})"),
            }
            .into());
        }
        // Watchers see COMPLETED now rather than at the follower's next poll.
        self.app.refresh_registration(&user_id).await?;
        Ok(Response::new(pb::CompleteRegistrationResponse {}))
    }
}
