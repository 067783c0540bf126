//! Signed OneTouch callbacks (reference §4): when an approval is answered through the control API
//! and a callback URL is configured, the simulator sends Authy's callback payload to it, signed with
//! the API key exactly as Authy does (`X-Authy-Signature-Nonce`, `X-Authy-Signature`).
//!
//! Delivery runs in its own task (the control call does not wait), one attempt with a 5-second
//! timeout; the outcome goes to a bounded log readable at `GET /__sim/callbacks`. The log holds the
//! URL, method, nonce and result — never the key.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::state::{Approval, ApprovalStatus, now_ms, secs};
use super::{CallbackConfig, Sim};
use crate::provider::authy::signature::{self, CallbackMethod, CallbackParams};

/// Per-delivery timeout.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Entries kept in the log.
const LOG_CAPACITY: usize = 1000;

/// The log of deliveries, newest last.
#[derive(Debug, Default)]
pub struct CallbackLog(Mutex<VecDeque<Value>>);

impl CallbackLog {
    fn push(&self, entry: Value) {
        let mut log = self.0.lock();
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }

    pub fn to_json(&self) -> Value {
        let entries: Vec<Value> = self.0.lock().iter().cloned().collect();
        json!({ "callbacks": entries })
    }

    pub fn clear(&self) {
        self.0.lock().clear();
    }
}

/// The HTTP client for deliveries (no proxy: callbacks go where they are configured).
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .no_proxy()
        .build()
}

/// Authy's callback payload for an answered approval (shape of the recorded callbacks, §4.2),
/// except `device_uuid`, which is the device id as a *string* (see the comment below).
pub fn payload(sim: &Sim, approval: &Approval, status: ApprovalStatus, now: i64) -> Value {
    let or_null = |map: &serde_json::Map<String, Value>| {
        if map.is_empty() {
            Value::Null
        } else {
            Value::Object(map.clone())
        }
    };
    let blob: [u8; 256] = std::array::from_fn(|_| rand::random::<u8>());
    json!({
        "authy_id": approval.authy_id,
        // A string: npm authy-client 1.1.4's verifyCallback rejects anything else (Authy sent a
        // UUID string in 2016 and an integer in the 2017 recordings; see the README).
        "device_uuid": approval.device.id.to_string(),
        "callback_action": "approval_request_status",
        "uuid": approval.uuid,
        "status": status.as_str(),
        "approval_request": {
            "transaction": {
                "details": or_null(&approval.details),
                "device_details": {},
                "device_geolocation": "",
                "device_signing_time": secs(now),
                "encrypted": false,
                "flagged": false,
                "hidden_details": or_null(&approval.hidden_details),
                "message": approval.message,
                "reason": "",
                "requester_details": null,
                "status": status.as_str(),
                "uuid": approval.uuid,
                "created_at_time": secs(approval.created_ms),
                "customer_uuid": sim.app.serial_id,
            },
            "expiration_timestamp": approval.expires_ms().map(secs),
            "logos": approval.logos,
            "app_id": sim.app.hex_id,
        },
        "signature": BASE64.encode(blob),
        "device": {
            "city": null,
            "country": "United States",
            "ip": "127.0.0.1",
            "region": null,
            "registration_city": null,
            "registration_country": "United States",
            "registration_ip": "127.0.0.1",
            "registration_method": "sms",
            "registration_region": null,
            "os_type": approval.device.os_type,
            "last_account_recovery_at": null,
            "id": approval.device.id,
            "registration_date": secs(approval.device.registered_ms),
            "last_sync_date": secs(now),
        },
    })
}

/// Sends one callback and records the outcome.
pub async fn deliver(sim: Arc<Sim>, config: CallbackConfig, payload: Value) {
    let nonce = secs(now_ms()).to_string();
    let mut base = config.url.clone();
    base.set_query(None);
    base.set_fragment(None);
    let base = base.to_string();

    let request = sim.http.as_ref().map(|client| match config.method {
        CallbackMethod::Post => {
            let signature = signature::sign(
                &sim.api_key,
                &nonce,
                CallbackMethod::Post,
                &base,
                CallbackParams::Json(&payload),
            );
            client
                .post(config.url.clone())
                .header(http::header::CONTENT_TYPE, "application/json")
                .header("X-Authy-Signature-Nonce", &nonce)
                .header("X-Authy-Signature", signature)
                .body(serde_json::to_vec(&payload).unwrap_or_default())
        }
        CallbackMethod::Get => {
            let generated = signature::to_query(&payload);
            let mut url = config.url.clone();
            let query = match url.query() {
                Some(existing) if !existing.is_empty() => format!("{existing}&{generated}"),
                _ => generated,
            };
            url.set_query(Some(&query));
            let signature = signature::sign(
                &sim.api_key,
                &nonce,
                CallbackMethod::Get,
                &base,
                CallbackParams::Query(&query),
            );
            client
                .get(url)
                .header("X-Authy-Signature-Nonce", &nonce)
                .header("X-Authy-Signature", signature)
        }
    });
    let (http_status, error) = match request {
        None => (None, Some("no HTTP client could be built".to_owned())),
        Some(request) => match request.send().await {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(err) => (None, Some(err.to_string())),
        },
    };
    if let Some(error) = &error {
        tracing::debug!(%error, url = %base, "sim callback failed");
    }
    sim.callbacks.push(json!({
        "uuid": payload.get("uuid"),
        "status": payload.get("status"),
        "url": base,
        "method": config.method.as_str(),
        "nonce": nonce,
        "http_status": http_status,
        "error": error,
        "sent_at": secs(now_ms()),
    }));
}
