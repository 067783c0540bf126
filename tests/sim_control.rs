//! The simulator's control API (`/__sim/…`): codes, approvals, QR registrations, faults, stats,
//! and a concurrency smoke test.

#[path = "sim_support.rs"]
mod support;

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::Method;
use serde_json::{Value, json};
use support::{KEY, TestSim, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn jwt(claims: &Value, key: &str, alg: Algorithm) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

fn claims(custom_user_id: &str) -> Value {
    json!({
        "iss": "authyd-sim",
        "iat": now(),
        "exp": now() + 300,
        "context": {"custom_user_id": custom_user_id, "authy_app_id": "100000"},
    })
}

async fn scan(sim: &TestSim, body: &Value) -> support::Resp {
    sim.control(Method::POST, "/__sim/registrations/scan", Some(body))
        .await
}

async fn registration_status(sim: &TestSim, custom_user_id: &str) -> Value {
    let r = sim
        .get(&format!(
            "/protected/json/registrations/status?custom_user_id={custom_user_id}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

#[tokio::test]
async fn codes_follow_sms_requests_and_verification() {
    let sim = TestSim::start().await;
    let id = sim.create_user("c@example.com", "3003004400", 1).await;
    let codes = sim.codes(id).await;
    assert_eq!(codes["sms_code"], Value::Null);
    let totp = codes["totp_code"].as_str().unwrap();
    assert_eq!(totp.len(), 7);
    assert!(totp.bytes().all(|b| b.is_ascii_digit()));
    let keys: Vec<&String> = codes.as_object().unwrap().keys().collect();
    assert_eq!(&keys[..2], ["sms_code", "totp_code"]);

    sim.get(&format!("/protected/json/sms/{id}?locale=es"))
        .await;
    let codes = sim.codes(id).await;
    let code = codes["sms_code"].as_str().unwrap().to_owned();
    assert_eq!(codes["sms_via"], "sms");
    assert_eq!(codes["sms_locale"], "es");
    // A new request replaces the code.
    sim.get(&format!("/protected/json/sms/{id}")).await;
    let replaced = sim.codes(id).await["sms_code"].as_str().unwrap().to_owned();
    if replaced != code {
        assert_eq!(
            sim.get(&format!("/protected/json/verify/{code}/{id}?force=true"))
                .await
                .status,
            401
        );
    }
    assert_eq!(
        sim.get(&format!(
            "/protected/json/verify/{replaced}/{id}?force=true"
        ))
        .await
        .status,
        200
    );
    assert_eq!(sim.codes(id).await["sms_code"], Value::Null);

    for bad in ["1", "abc"] {
        let r = sim
            .control(Method::GET, &format!("/__sim/users/{bad}/codes"), None)
            .await;
        assert_eq!(r.status, 404);
        assert!(r.json["error"].is_string());
    }
    let r = sim
        .control(Method::GET, &format!("/__sim/users/{id}"), None)
        .await;
    assert_eq!(r.json["cellphone"], "3003004400");
    assert_eq!(r.json["has_verified"], true);
    sim.stop().await;
}

#[tokio::test]
async fn approve_deny_conflict_and_not_found() {
    let sim = TestSim::start().await;
    let id = sim.create_user("a@example.com", "3003004401", 1).await;
    let mut uuids = Vec::new();
    for _ in 0..2 {
        let r = sim
            .post_json(
                &format!("/onetouch/json/users/{id}/approval_requests"),
                &json!({"message": "m"}),
            )
            .await;
        uuids.push(
            r.json["approval_request"]["uuid"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let r = sim
        .control(
            Method::POST,
            &format!("/__sim/approvals/{}/approve", uuids[0]),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, json!({"uuid": uuids[0], "status": "approved"}));
    let r = sim
        .control(
            Method::POST,
            &format!("/__sim/approvals/{}/deny", uuids[1]),
            None,
        )
        .await;
    assert_eq!(r.json, json!({"uuid": uuids[1], "status": "denied"}));

    for (uuid, status) in [(&uuids[0], "approved"), (&uuids[1], "denied")] {
        let r = sim
            .get(&format!("/onetouch/json/approval_requests/{uuid}"))
            .await;
        let a = &r.json["approval_request"];
        assert_eq!(a["status"], status);
        assert!(a["processed_at"].is_string());
        assert_eq!(a["updated_at"], a["processed_at"]);
        // Answering again is a conflict.
        for verb in ["approve", "deny"] {
            let r = sim
                .control(
                    Method::POST,
                    &format!("/__sim/approvals/{uuid}/{verb}"),
                    None,
                )
                .await;
            assert_eq!(r.status, 409);
            assert_eq!(r.json["status"], status);
        }
    }
    let r = sim
        .control(Method::GET, &format!("/__sim/approvals/{}", uuids[0]), None)
        .await;
    assert_eq!(r.json["status"], "approved");
    assert_eq!(r.json["polls"], 1);

    for path in [
        "/__sim/approvals/nope/approve",
        "/__sim/approvals/nope/deny",
        "/__sim/approvals/nope",
    ] {
        let method = if path.ends_with("nope") {
            Method::GET
        } else {
            Method::POST
        };
        let r = sim.control(method, path, None).await;
        assert_eq!(r.status, 404, "{path}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn registration_scan_completes_and_is_idempotent() {
    let sim = TestSim::start().await;
    assert_eq!(
        registration_status(&sim, "user-42").await,
        json!({"registration": {"status": "pending"}, "success": true})
    );
    let token = jwt(&claims("user-42"), KEY, Algorithm::HS256);
    let r = scan(&sim, &json!({"token": token})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["custom_user_id"], "user-42");
    let authy_id = r.json["authy_id"].as_u64().unwrap();

    let status = registration_status(&sim, "user-42").await;
    assert_eq!(
        serde_json::to_string(&status).unwrap(),
        format!(
            r#"{{"registration":{{"status":"completed","authy_id":{authy_id}}},"success":true}}"#
        )
    );
    // The new user has the app.
    let user = sim
        .get(&format!("/protected/json/users/{authy_id}/status"))
        .await;
    assert_eq!(user.json["status"]["registered"], true);
    assert_eq!(user.json["status"]["devices"], json!(["android"]));
    let sms = sim.get(&format!("/protected/json/sms/{authy_id}")).await;
    assert_eq!(sms.json["ignored"], true);

    // Scanning again gives the same user.
    let again = scan(&sim, &json!({"token": token})).await;
    assert_eq!(again.json["authy_id"].as_u64(), Some(authy_id));

    // Optional device and contact fields.
    let token = jwt(&claims("user-43"), KEY, Algorithm::HS256);
    let r = scan(
        &sim,
        &json!({"token": token, "os_type": "iphone", "cellphone": "300-555-0199", "country_code": 57, "email": "u43@example.com"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json["authy_id"].as_u64().unwrap();
    assert_ne!(id, authy_id);
    let user = sim.get(&format!("/protected/json/users/{id}/status")).await;
    assert_eq!(user.json["status"]["devices"], json!(["iphone"]));
    assert_eq!(user.json["status"]["country_code"], 57);
    assert_eq!(user.json["status"]["phone_number"], "XXX-XXX-0199");
    assert_eq!(user.json["status"]["email"], "u43@example.com");
    sim.stop().await;
}

#[tokio::test]
async fn registration_scan_rejections_name_the_reason() {
    let sim = TestSim::start().await;
    let good = claims("u1");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };
    let cases: Vec<(String, &str)> = vec![
        (jwt(&good, "not-the-key", Algorithm::HS256), "bad_signature"),
        (
            jwt(
                &with(&|c| c["iss"] = json!("Other App")),
                KEY,
                Algorithm::HS256,
            ),
            "wrong_issuer",
        ),
        (
            jwt(
                &with(&|c| c["context"]["authy_app_id"] = json!("999")),
                KEY,
                Algorithm::HS256,
            ),
            "wrong_app_id",
        ),
        (
            jwt(
                &with(&|c| c["exp"] = json!(now() - 10)),
                KEY,
                Algorithm::HS256,
            ),
            "expired",
        ),
        ("not.a.jwt".to_owned(), "malformed"),
        ("".to_owned(), "malformed"),
        (jwt(&good, KEY, Algorithm::HS384), "unsupported_algorithm"),
        (
            jwt(
                &with(&|c| c["context"]["custom_user_id"] = json!("")),
                KEY,
                Algorithm::HS256,
            ),
            "missing_custom_user_id",
        ),
    ];
    for (token, reason) in cases {
        let r = scan(&sim, &json!({"token": token})).await;
        assert_eq!(r.status, 400, "{reason}: {}", r.text);
        assert_eq!(r.json["reason"], reason, "{}", r.text);
        let message = r.json["error"].as_str().unwrap();
        assert!(!message.is_empty());
        assert!(!message.contains(KEY));
    }
    let messages = [
        ("bad_signature", "bad signature"),
        ("wrong_issuer", "wrong issuer"),
        ("wrong_app_id", "wrong app id"),
        ("expired", "expired"),
        ("malformed", "malformed"),
    ];
    for (reason, words) in messages {
        let token = match reason {
            "bad_signature" => jwt(&good, "x", Algorithm::HS256),
            "wrong_issuer" => jwt(&with(&|c| c["iss"] = json!("x")), KEY, Algorithm::HS256),
            "wrong_app_id" => jwt(
                &with(&|c| c["context"]["authy_app_id"] = json!("1")),
                KEY,
                Algorithm::HS256,
            ),
            "expired" => jwt(&with(&|c| c["exp"] = json!(1)), KEY, Algorithm::HS256),
            _ => "x".to_owned(),
        };
        let r = scan(&sim, &json!({"token": token})).await;
        assert!(
            r.json["error"].as_str().unwrap().contains(words),
            "{}",
            r.text
        );
    }
    for body in [json!({}), json!({"token": 5})] {
        let r = scan(&sim, &body).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json["reason"], "malformed");
    }
    let r = send(
        sim.http
            .post(sim.url("/__sim/registrations/scan"))
            .body("{not json"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json["error"].as_str().unwrap().contains("JSON"));
    // Nothing was completed by the failures.
    assert_eq!(
        registration_status(&sim, "u1").await["registration"]["status"],
        "pending"
    );
    sim.stop().await;
}

#[tokio::test]
async fn registration_status_can_be_forced() {
    let sim = TestSim::start().await;
    let r = sim
        .control(
            Method::POST,
            "/__sim/registrations/user-9/status",
            Some(&json!({"status": "denied"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        registration_status(&sim, "user-9").await,
        json!({"registration": {"status": "denied"}, "success": true})
    );
    let r = sim
        .control(
            Method::POST,
            "/__sim/registrations/user-9/status",
            Some(&json!({"status": "completed"})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = sim
        .control(
            Method::POST,
            "/__sim/registrations/user-9/status",
            Some(&json!({"status": "completed", "authy_id": 123})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        registration_status(&sim, "user-9").await["registration"]["authy_id"],
        123
    );
    let r = sim
        .control(
            Method::POST,
            "/__sim/registrations/user-9/status",
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = sim
        .control(Method::GET, "/__sim/registrations/user-9", None)
        .await;
    assert_eq!(r.json["status"], "completed");
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Faults and stats

async fn add_fault(sim: &TestSim, fault: Value) -> Value {
    let r = sim
        .control(Method::POST, "/__sim/faults", Some(&fault))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

async fn clear_faults(sim: &TestSim) {
    let r = sim.control(Method::DELETE, "/__sim/faults", None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn latency_fault_is_measurable_and_scoped() {
    let sim = TestSim::start().await;
    add_fault(
        &sim,
        json!({"endpoint": "app_details", "kind": "latency", "ms": 300}),
    )
    .await;
    let start = Instant::now();
    assert_eq!(sim.get("/protected/json/app/details").await.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));
    // Other endpoints are not delayed.
    let start = Instant::now();
    sim.get("/protected/json/registrations/status?custom_user_id=x")
        .await;
    assert!(start.elapsed() < Duration::from_millis(250));
    let listed = sim.control(Method::GET, "/__sim/faults", None).await;
    assert_eq!(listed.json["faults"][0]["ms"], 300);
    clear_faults(&sim).await;
    let start = Instant::now();
    sim.get("/protected/json/app/details").await;
    assert!(start.elapsed() < Duration::from_millis(250));
    sim.stop().await;
}

#[tokio::test]
async fn status_faults_429_and_503() {
    let sim = TestSim::start().await;
    add_fault(
        &sim,
        json!({"endpoint": "*", "kind": "status", "status": 429, "count": 1}),
    )
    .await;
    let r = sim.get("/protected/json/app/details").await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.text,
        r#"{"message":"DoS protection","success":false,"errors":{"message":"DoS protection"},"error_code":"60003"}"#
    );
    assert_eq!(r.content_type, "application/json; charset=utf-8");
    assert_eq!(
        sim.get("/protected/json/app/details").await.status,
        200,
        "count 1 is used up"
    );

    add_fault(
        &sim,
        json!({"endpoint": "app_details", "kind": "status", "status": 503}),
    )
    .await;
    let r = sim.get("/protected/json/app/details").await;
    assert_eq!(r.status, 503);
    assert!(r.content_type.starts_with("text/html"));
    assert_eq!(r.json, Value::Null, "not JSON: {}", r.text);
    assert!(r.text.contains("503"));
    // Faults come before the key check, as an outage would.
    let r = send(sim.http.get(sim.url("/protected/json/app/details"))).await;
    assert_eq!(r.status, 503);
    clear_faults(&sim).await;

    add_fault(
        &sim,
        json!({"endpoint": "verify", "kind": "status", "status": 500, "body": "json"}),
    )
    .await;
    let r = sim.get("/protected/json/verify/1234567/1?force=true").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json["success"], false);
    assert_eq!(r.json["error_code"], "60000");
    clear_faults(&sim).await;
    sim.stop().await;
}

/// Sends one raw HTTP/1.1 request and returns everything the server sent before closing.
async fn raw_exchange(sim: &TestSim, path: &str) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(sim.handle.addr())
        .await
        .unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Authy-API-Key: {KEY}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .ok();
    received
}

#[tokio::test]
async fn drop_fault_really_closes_the_connection_and_count_expires() {
    let sim = TestSim::start().await;
    add_fault(
        &sim,
        json!({"endpoint": "users_status", "kind": "drop", "count": 2}),
    )
    .await;
    let path = "/protected/json/users/1/status";
    assert!(
        raw_exchange(&sim, path).await.is_empty(),
        "no response bytes at all"
    );
    // reqwest sees a transport error, not a status.
    let err = sim.authy(Method::GET, path).send().await.unwrap_err();
    assert!(!err.is_status(), "{err}");
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    // Count 2 is used up: a normal answer again (404 for this unknown user).
    let answer = raw_exchange(&sim, path).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(
        sim.control(Method::GET, "/__sim/faults", None).await.json["faults"],
        json!([])
    );
    // Other endpoints were never affected.
    assert_eq!(sim.get("/protected/json/app/details").await.status, 200);
    sim.stop().await;
}

#[tokio::test]
async fn fault_definitions_are_validated() {
    let sim = TestSim::start().await;
    for fault in [
        json!({}),
        json!({"endpoint": "nope", "kind": "drop"}),
        json!({"endpoint": "*", "kind": "explode"}),
        json!({"endpoint": "*", "kind": "latency"}),
        json!({"endpoint": "*", "kind": "latency", "ms": -5}),
        json!({"endpoint": "*", "kind": "latency", "ms": 10_000_000}),
        json!({"endpoint": "*", "kind": "status"}),
        json!({"endpoint": "*", "kind": "status", "status": 200}),
        json!({"endpoint": "*", "kind": "status", "status": 503, "body": "xml"}),
        json!({"endpoint": "*", "kind": "drop", "count": 0}),
        json!({"endpoint": "*", "kind": "drop", "count": "x"}),
    ] {
        let r = sim
            .control(Method::POST, "/__sim/faults", Some(&fault))
            .await;
        assert_eq!(r.status, 400, "{fault}");
        assert!(r.json["error"].is_string(), "{}", r.text);
    }
    let r = sim
        .control(
            Method::POST,
            "/__sim/faults",
            Some(&json!({"endpoint": "nope", "kind": "drop"})),
        )
        .await;
    assert!(
        r.json["error"]
            .as_str()
            .unwrap()
            .contains("approval_create")
    );
    assert_eq!(
        sim.control(Method::GET, "/__sim/faults", None).await.json["faults"],
        json!([])
    );
    sim.stop().await;
}

#[tokio::test]
async fn stats_count_every_authy_request_including_faulted_ones() {
    let sim = TestSim::start().await;
    let stats = sim.stats().await;
    assert_eq!(stats["total"], 0);
    let names: Vec<&String> = stats["requests"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "users_new",
            "users_remove",
            "users_status",
            "sms",
            "call",
            "verify",
            "approval_create",
            "approval_get",
            "registration_status",
            "app_details"
        ]
    );
    let id = sim.create_user("s@example.com", "3003004402", 1).await;
    sim.get(&format!("/protected/json/sms/{id}")).await;
    sim.get(&format!("/protected/json/sms/{id}")).await;
    sim.get("/protected/json/verify/1234567/1").await;
    send(sim.http.get(sim.url("/protected/json/app/details"))).await; // no key: still counted
    add_fault(
        &sim,
        json!({"endpoint": "call", "kind": "status", "status": 503, "count": 1}),
    )
    .await;
    sim.get(&format!("/protected/json/call/{id}")).await;
    sim.get("/nope").await; // unknown: not counted
    sim.codes(id).await; // control: not counted
    let stats = sim.stats().await;
    assert_eq!(stats["requests"]["users_new"], 1);
    assert_eq!(stats["requests"]["sms"], 2);
    assert_eq!(stats["requests"]["verify"], 1);
    assert_eq!(stats["requests"]["app_details"], 1);
    assert_eq!(stats["requests"]["call"], 1);
    assert_eq!(stats["total"], 6);
    let r = sim.control(Method::DELETE, "/__sim/stats", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["total"], 0);
    assert_eq!(sim.stats().await["requests"]["sms"], 0);
    sim.stop().await;
}

#[tokio::test]
async fn two_thousand_concurrent_verifications_are_all_answered() {
    let sim = TestSim::start().await;
    let id = sim.create_user("load@example.com", "3003004403", 1).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..2000u32 {
        let client = client.clone();
        let url = sim.url(&format!(
            "/protected/json/verify/{:07}/{id}?force=true",
            1_000_000 + i
        ));
        tasks.spawn(async move {
            let resp = client
                .get(url)
                .header("X-Authy-API-Key", KEY)
                .send()
                .await?;
            let status = resp.status().as_u16();
            resp.bytes().await?;
            Ok::<u16, reqwest::Error>(status)
        });
    }
    let mut answered = 0;
    while let Some(result) = tasks.join_next().await {
        let status = result.unwrap().unwrap();
        assert!(status == 200 || status == 401, "{status}");
        answered += 1;
    }
    assert_eq!(answered, 2000);
    assert_eq!(sim.stats().await["requests"]["verify"], 2000);
    eprintln!("2000 concurrent verifications in {:?}", started.elapsed());
    sim.stop().await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = TestSim::start().await;
    let addr = sim.handle.addr();
    assert_eq!(sim.get("/protected/json/app/details").await.status, 200);
    sim.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
