//! Shared helpers of the simulator tests (`tests/sim_*.rs` include this file with `#[path]`).
//! Compiled alone it is an empty test target.
#![allow(dead_code)]

use std::net::SocketAddr;

use authyd::secret::ApiKey;
use authyd::sim::{SimConfig, SimHandle, start};
use serde_json::Value;

pub const KEY: &str = "sim-test-key-0123456789abcdef";

/// A simulator on a free loopback port plus an HTTP client.
pub struct TestSim {
    pub handle: SimHandle,
    pub base: String,
    pub http: reqwest::Client,
}

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    /// `Null` when the body is not JSON.
    pub json: Value,
}

impl TestSim {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::new(ApiKey::new(KEY).unwrap())).await
    }

    pub async fn start_with(config: SimConfig) -> Self {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let handle = start(config, addr).await.unwrap();
        let base = handle.base_url();
        Self {
            handle,
            base,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the API key header.
    pub fn authy(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-Authy-API-Key", KEY)
    }

    pub async fn get(&self, path: &str) -> Resp {
        send(self.authy(reqwest::Method::GET, path)).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Resp {
        send(self.authy(reqwest::Method::POST, path).json(body)).await
    }

    pub async fn post_form(&self, path: &str, form: &str) -> Resp {
        send(
            self.authy(reqwest::Method::POST, path)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form.to_owned()),
        )
        .await
    }

    /// A control-API call (no key).
    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Resp {
        let mut req = self.http.request(method, self.url(path));
        if let Some(body) = body {
            req = req.json(body);
        }
        send(req).await
    }

    /// Creates a user through the Authy API; returns its id.
    pub async fn create_user(&self, email: &str, cellphone: &str, country_code: u16) -> u64 {
        let r = self
            .post_json(
                "/protected/json/users/new",
                &serde_json::json!({"user": {"email": email, "cellphone": cellphone, "country_code": country_code}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["user"]["id"].as_u64().unwrap()
    }

    pub async fn codes(&self, id: u64) -> Value {
        let r = self
            .control(
                reqwest::Method::GET,
                &format!("/__sim/users/{id}/codes"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json
    }

    pub async fn stats(&self) -> Value {
        self.control(reqwest::Method::GET, "/__sim/stats", None)
            .await
            .json
    }

    pub async fn stop(self) {
        self.handle.shutdown().await;
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let resp = req.send().await.expect("simulator reachable");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        content_type,
        text,
        json,
    }
}

/// A recorded response from `tests/fixtures/authy/recorded_responses.json`: (status, raw body).
pub fn fixture(id: &str) -> (u16, String) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/authy/recorded_responses.json"
    );
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let entry = all["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no fixture {id}"));
    (
        entry["status"].as_u64().unwrap() as u16,
        entry["body"].as_str().unwrap().to_owned(),
    )
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Same keys in the same order and the same JSON types, recursively (array elements are compared
/// with the fixture's first element when both arrays have one).
pub fn assert_same_shape(actual: &Value, expected: &Value, at: &str) {
    assert_eq!(
        type_name(actual),
        type_name(expected),
        "type at {at}: got {actual}, fixture has {expected}"
    );
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let ak: Vec<&String> = a.keys().collect();
            let ek: Vec<&String> = e.keys().collect();
            assert_eq!(ak, ek, "keys (in order) at {at}");
            for (k, v) in e {
                assert_same_shape(&a[k], v, &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let Some(e0) = e.first() {
                for (i, item) in a.iter().enumerate() {
                    assert_same_shape(item, e0, &format!("{at}[{i}]"));
                }
            }
        }
        _ => {}
    }
}

/// The response has the fixture's status and body shape, and is compact JSON with the right type.
pub fn assert_matches_fixture(resp: &Resp, id: &str) {
    let (status, body) = fixture(id);
    assert_eq!(resp.status, status, "status of {id}: {}", resp.text);
    assert_eq!(resp.content_type, "application/json; charset=utf-8");
    let expected: Value = serde_json::from_str(&body).unwrap();
    assert_same_shape(&resp.json, &expected, id);
    assert_eq!(
        resp.text,
        serde_json::to_string(&resp.json).unwrap(),
        "compact JSON"
    );
}
