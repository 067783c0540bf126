//! Signed OneTouch callbacks: a tiny axum server stands in for the application, receives what the
//! simulator sends when an approval is answered, and checks it with the provider's signature
//! verifier and against a recorded Authy callback (`tests/fixtures/authy/callbacks_java.json`).

#[path = "sim_support.rs"]
mod support;

use std::time::Duration;

use authyd::provider::authy::signature::{self, CallbackMethod, CallbackParams};
use authyd::secret::ApiKey;
use authyd::sim::{CallbackConfig, SimConfig};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method as HttpMethod, Uri};
use reqwest::Method;
use serde_json::{Value, json};
use support::{KEY, TestSim, assert_same_shape};
use tokio::sync::mpsc;

/// One request received by the fake application.
#[derive(Debug)]
struct Received {
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// Starts the fake application; returns its callback URL and the received requests.
async fn receiver() -> (url::Url, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/authy/callback",
        axum::routing::any(
            move |method: HttpMethod, uri: Uri, headers: HeaderMap, body: Bytes| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(Received {
                        method,
                        uri,
                        headers,
                        body,
                    });
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://{addr}/authy/callback").parse().unwrap();
    (url, rx)
}

async fn sim_with_callback(url: url::Url, method: CallbackMethod) -> TestSim {
    let mut config = SimConfig::new(ApiKey::new(KEY).unwrap());
    config.callback = Some(CallbackConfig { url, method });
    TestSim::start_with(config).await
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a callback arrives within 5 s")
        .expect("receiver running")
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("header {name}"))
}

fn recorded_callback(name: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/authy/callbacks_java.json"
    );
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vector = all["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap();
    serde_json::from_str(vector["body"].as_str().unwrap()).unwrap()
}

async fn create_approval(sim: &TestSim, authy_id: u64, body: &Value) -> String {
    let r = sim
        .post_json(
            &format!("/onetouch/json/users/{authy_id}/approval_requests"),
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["approval_request"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn log(sim: &TestSim) -> Vec<Value> {
    for _ in 0..100 {
        let r = sim.control(Method::GET, "/__sim/callbacks", None).await;
        let entries = r.json["callbacks"].as_array().cloned().unwrap_or_default();
        if !entries.is_empty() {
            assert!(!r.text.contains(KEY), "the key never appears in the log");
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no callback logged");
}

#[tokio::test]
async fn post_callback_is_signed_and_shaped_like_authys() {
    let (url, mut rx) = receiver().await;
    let sim = sim_with_callback(url.clone(), CallbackMethod::Post).await;
    let id = sim.create_user("cb@example.com", "3003005500", 57).await;
    let uuid = create_approval(
        &sim,
        id,
        &json!({"message":"Authorize OneTouch Unit Test","details":{"username":"User","location":"California,USA","cosa1":"cosa1","cosa2":"cosa2"},"hidden_details":{"ip_address":"10.10.3.203"},"seconds_to_expire":600}),
    )
    .await;
    let r = sim
        .control(Method::POST, &format!("/__sim/approvals/{uuid}/deny"), None)
        .await;
    assert_eq!(r.status, 200);

    let got = next(&mut rx).await;
    assert_eq!(got.method, HttpMethod::POST);
    assert_eq!(got.uri.path(), "/authy/callback");
    assert!(header(&got, "content-type").starts_with("application/json"));
    let nonce = header(&got, "x-authy-signature-nonce").to_owned();
    let sig = header(&got, "x-authy-signature").to_owned();
    let now = chrono::Utc::now().timestamp();
    assert!(
        (nonce.parse::<i64>().unwrap() - now).abs() <= 5,
        "nonce is unix seconds"
    );
    let payload: Value = serde_json::from_slice(&got.body).unwrap();
    let key = ApiKey::new(KEY).unwrap();
    assert!(signature::verify(
        &key,
        &nonce,
        CallbackMethod::Post,
        url.as_str(),
        CallbackParams::Json(&payload),
        &sig
    ));
    // A tampered payload does not verify.
    let mut tampered = payload.clone();
    tampered["status"] = json!("approved");
    assert!(!signature::verify(
        &key,
        &nonce,
        CallbackMethod::Post,
        url.as_str(),
        CallbackParams::Json(&tampered),
        &sig
    ));

    // Same keys, order and types as a real (recorded) callback, except `device_uuid`: a string
    // (as in 2016 and as npm authy-client 1.1.4 requires) where the 2017 recording has an integer.
    let mut recorded = recorded_callback("testValidSignatureDeniedWithDetailsPost");
    recorded["device_uuid"] = json!("2102943");
    assert_same_shape(&payload, &recorded, "callback");
    assert_eq!(payload["authy_id"].as_u64(), Some(id));
    assert_eq!(payload["device_uuid"], (id + 1).to_string().as_str());
    assert_eq!(payload["device"]["id"].as_u64(), Some(id + 1));
    assert_eq!(payload["callback_action"], "approval_request_status");
    assert_eq!(payload["uuid"], uuid.as_str());
    assert_eq!(payload["status"], "denied");
    let t = &payload["approval_request"]["transaction"];
    assert_eq!(t["status"], "denied");
    assert_eq!(t["uuid"], uuid.as_str());
    assert_eq!(t["message"], "Authorize OneTouch Unit Test");
    assert_eq!(
        t["details"],
        json!({"username":"User","location":"California,USA","cosa1":"cosa1","cosa2":"cosa2"})
    );
    assert_eq!(t["hidden_details"], json!({"ip_address":"10.10.3.203"}));
    assert_eq!(t["customer_uuid"], 100000);
    let created = t["created_at_time"].as_i64().unwrap();
    assert_eq!(
        payload["approval_request"]["expiration_timestamp"].as_i64(),
        Some(created + 600)
    );
    assert_eq!(payload["approval_request"]["logos"], Value::Null);
    let blob = payload["signature"].as_str().unwrap();
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(blob)
            .unwrap()
            .len(),
        256
    );

    let entries = log(&sim).await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e["uuid"], uuid.as_str());
    assert_eq!(e["status"], "denied");
    assert_eq!(e["method"], "POST");
    assert_eq!(e["url"], url.as_str());
    assert_eq!(e["nonce"], nonce.as_str());
    assert_eq!(e["http_status"], 200);
    assert_eq!(e["error"], Value::Null);
    sim.stop().await;
}

#[tokio::test]
async fn get_callback_is_signed_over_its_query_string() {
    let (url, mut rx) = receiver().await;
    let sim = sim_with_callback(url.clone(), CallbackMethod::Get).await;
    let id = sim.create_user("cb@example.com", "3003005501", 1).await;
    sim.control(
        Method::POST,
        &format!("/__sim/users/{id}/devices"),
        Some(&json!({"os_type": "iphone"})),
    )
    .await;
    let uuid = create_approval(
        &sim,
        id,
        &json!({"message":"Pay 10 BTC","details":{"Amount":"10 BTC"},"logos":[{"res":"default","url":"https://e.co/d.png"},{"res":"low","url":"https://e.co/l.png"}]}),
    )
    .await;
    sim.control(
        Method::POST,
        &format!("/__sim/approvals/{uuid}/approve"),
        None,
    )
    .await;

    let got = next(&mut rx).await;
    assert_eq!(got.method, HttpMethod::GET);
    assert!(got.body.is_empty());
    let query = got.uri.query().unwrap().to_owned();
    let nonce = header(&got, "x-authy-signature-nonce");
    let sig = header(&got, "x-authy-signature");
    let key = ApiKey::new(KEY).unwrap();
    assert!(signature::verify(
        &key,
        nonce,
        CallbackMethod::Get,
        url.as_str(),
        CallbackParams::Query(&query),
        sig
    ));
    assert!(!signature::verify(
        &ApiKey::new("another-key").unwrap(),
        nonce,
        CallbackMethod::Get,
        url.as_str(),
        CallbackParams::Query(&query),
        sig
    ));
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("status"), Some("approved"));
    assert_eq!(get("uuid"), Some(uuid.as_str()));
    assert_eq!(get("callback_action"), Some("approval_request_status"));
    assert_eq!(get("device[os_type]"), Some("iphone"));
    assert_eq!(
        get("approval_request[transaction][details][Amount]"),
        Some("10 BTC")
    );
    assert_eq!(
        get("approval_request[transaction][requester_details]"),
        Some("")
    );
    let logos: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k.starts_with("approval_request[logos][]"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        logos,
        ["default", "https://e.co/d.png", "low", "https://e.co/l.png"]
    );
    // Rails `to_query`: sorted by key, so the device fields come after approval_request.
    assert!(
        query.starts_with("approval_request%5Bapp_id%5D="),
        "{query}"
    );
    assert_eq!(log(&sim).await[0]["method"], "GET");
    sim.stop().await;
}

#[tokio::test]
async fn failed_delivery_is_logged_and_does_not_block_the_answer() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url: url::Url = format!("http://127.0.0.1:{port}/cb").parse().unwrap();
    let sim = sim_with_callback(url, CallbackMethod::Post).await;
    let id = sim.create_user("cb@example.com", "3003005502", 1).await;
    let uuid = create_approval(&sim, id, &json!({"message":"m"})).await;
    let r = sim
        .control(
            Method::POST,
            &format!("/__sim/approvals/{uuid}/approve"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let entries = log(&sim).await;
    assert_eq!(entries[0]["http_status"], Value::Null);
    assert!(entries[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    let r = sim.control(Method::DELETE, "/__sim/callbacks", None).await;
    assert_eq!(r.json["callbacks"], json!([]));
    sim.stop().await;
}

#[tokio::test]
async fn no_callback_without_configuration() {
    let sim = TestSim::start().await;
    let id = sim.create_user("cb@example.com", "3003005503", 1).await;
    let uuid = create_approval(&sim, id, &json!({"message":"m"})).await;
    sim.control(
        Method::POST,
        &format!("/__sim/approvals/{uuid}/approve"),
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = sim.control(Method::GET, "/__sim/callbacks", None).await;
    assert_eq!(r.json["callbacks"], json!([]));
    sim.stop().await;
}
