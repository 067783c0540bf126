//! The simulator's Authy endpoints against the recorded Authy responses
//! (`tests/fixtures/authy/recorded_responses.json`): same status, same keys in the same order, same
//! JSON types, and byte-identical bodies where the content is deterministic.

#[path = "sim_support.rs"]
mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::{KEY, Resp, TestSim, assert_matches_fixture, assert_same_shape, fixture, send};

fn fixture_body(id: &str) -> String {
    fixture(id).1
}

// ---------------------------------------------------------------------------------------------
// API key

#[tokio::test]
async fn api_key_is_accepted_in_header_query_and_body_and_rejected_otherwise() {
    let sim = TestSim::start().await;
    let path = "/protected/json/app/details";

    // Header (any case).
    let r = send(sim.http.get(sim.url(path)).header("x-authy-api-key", KEY)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Query string (legacy SDKs).
    let r = send(sim.http.get(sim.url(&format!("{path}?api_key={KEY}")))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Form body, on a GET (node-authy) and on a POST.
    let r = send(
        sim.http
            .get(sim.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("api_key={KEY}")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        sim.http
            .post(sim.url("/protected/json/users/new"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "api_key={KEY}&user[email]=k%40example.com&user[cellphone]=3001110000&user[country_code]=1"
            )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A wrong key is refused before the body is even parsed.
    let r = send(
        sim.http
            .post(sim.url("/protected/json/users/new"))
            .header("X-Authy-API-Key", "wrong")
            .header("Content-Type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(r.status, 401);
    // JSON body.
    let r = send(
        sim.http
            .post(sim.url("/protected/json/users/new"))
            .json(&json!({"api_key": KEY, "user": {"email": "j@example.com", "cellphone": "3001110001", "country_code": 1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Missing, wrong, and a wrong header even with a right query key: R11, byte for byte.
    let (status, body) = fixture("R11");
    for r in [
        send(sim.http.get(sim.url(path))).await,
        send(
            sim.http
                .get(sim.url(path))
                .header("X-Authy-API-Key", "invalid_api_key"),
        )
        .await,
        send(
            sim.http
                .get(sim.url(&format!("{path}?api_key={KEY}")))
                .header("X-Authy-API-Key", "wrong"),
        )
        .await,
        send(sim.http.get(sim.url(&format!("{path}?api_key={KEY}x")))).await,
        send(
            sim.http
                .get(sim.url("/protected/json/verify/123456/81547?force=true")),
        )
        .await,
    ] {
        assert_eq!(r.status, status);
        assert_eq!(r.text, body);
        assert!(!r.text.contains(KEY));
    }
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Users

#[tokio::test]
async fn create_user_in_every_encoding_and_same_phone_same_id() {
    let sim = TestSim::start().await;
    let path = "/protected/json/users/new";

    // authy-python: JSON, int country code, top-level flag.
    let r = sim
        .post_json(
            path,
            &json!({"user": {"email": "a@example.com", "cellphone": "300-300-3333", "country_code": 57}, "send_install_link_via_sms": false}),
        )
        .await;
    assert_matches_fixture(&r, "R3");
    assert_eq!(r.json["message"], "User created successfully.");
    assert_eq!(r.json["success"], true);
    let id = r.json["user"]["id"].as_u64().unwrap();
    assert!((1_000_000..100_000_000).contains(&id), "realistic id {id}");

    // authy-java: JSON, string country code, same digits → same id.
    let r = sim
        .post_json(
            path,
            &json!({"user": {"country_code": "57", "cellphone": "3003003333", "email": "b@example.com"}}),
        )
        .await;
    assert_matches_fixture(&r, "R3");
    assert_eq!(r.json["user"]["id"].as_u64(), Some(id));

    // authy-ruby / curl: form body with brackets.
    let r = sim
        .post_form(
            path,
            "user%5Bemail%5D=c%40example.com&user%5Bcellphone%5D=300.300.3333&user%5Bcountry_code%5D=57&send_install_link_via_sms=true",
        )
        .await;
    assert_matches_fixture(&r, "R3");
    assert_eq!(r.json["user"]["id"].as_u64(), Some(id));

    // authy-php: everything in the query string of a POST, no body.
    let r = send(sim.authy(Method::POST, &format!(
        "{path}?user[email]=d%40example.com&user[cellphone]=(300)%20300%203333&user[country_code]=57&user[send_install_link_via_sms]=1"
    )))
    .await;
    assert_matches_fixture(&r, "R3");
    assert_eq!(r.json["user"]["id"].as_u64(), Some(id));

    // The email was updated by the last call.
    let status = sim.get(&format!("/protected/json/users/{id}/status")).await;
    assert_eq!(status.json["status"]["email"], "d@example.com");

    // Another country code or another number: another user, with a larger id.
    let other = sim.create_user("a@example.com", "3003003333", 1).await;
    let third = sim.create_user("a@example.com", "3003003334", 57).await;
    assert!(other > id && third > other);
    sim.stop().await;
}

#[tokio::test]
async fn create_user_validation_errors() {
    let sim = TestSim::start().await;
    let path = "/protected/json/users/new";

    // Invalid phone: R4, byte for byte.
    let r = sim
        .post_json(
            path,
            &json!({"user": {"country_code": "57", "cellphone": "12", "email": "test@example.com"}}),
        )
        .await;
    assert_matches_fixture(&r, "R4");
    assert_eq!(r.text, fixture_body("R4"));

    // Missing email.
    let r = sim
        .post_json(
            path,
            &json!({"user": {"country_code": 1, "cellphone": "3003003333"}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text,
        r#"{"message":"User was not valid","success":false,"errors":{"email":"is invalid and can't be blank","message":"User was not valid"},"email":"is invalid and can't be blank","error_code":"60027"}"#
    );

    // Everything wrong, in the fixed field order.
    let r = sim
        .post_form(
            path,
            "user[email]=nope&user[cellphone]=abc&user[country_code]=0",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text,
        r#"{"message":"User was not valid","success":false,"errors":{"email":"is invalid","cellphone":"is invalid","country_code":"is invalid","message":"User was not valid"},"email":"is invalid","cellphone":"is invalid","country_code":"is invalid","error_code":"60027"}"#
    );

    // No user at all, or `user` not a hash.
    for body in [json!({}), json!({"user": "x"}), json!({"user": null})] {
        let r = sim.post_json(path, &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json["error_code"], "60027");
        for field in ["email", "cellphone", "country_code"] {
            assert_eq!(r.json[field], "is invalid and can't be blank");
            assert_eq!(r.json["errors"][field], "is invalid and can't be blank");
        }
    }
    sim.stop().await;
}

#[tokio::test]
async fn user_status_has_the_detailed_shape() {
    let sim = TestSim::start().await;
    let id = sim
        .create_user("alfvawmu@authy.com", "201-555-1118", 1)
        .await;
    let r = sim.get(&format!("/protected/json/users/{id}/status")).await;
    assert_matches_fixture(&r, "R12");
    let s = &r.json["status"];
    assert_eq!(s["authy_id"].as_u64(), Some(id));
    assert_eq!(s["confirmed"], true);
    assert_eq!(s["registered"], false);
    assert_eq!(s["country_code"], 1);
    assert_eq!(s["phone_number"], "XXX-XXX-1118");
    assert_eq!(s["email"], "alfvawmu@authy.com");
    assert_eq!(s["devices"], json!([]));
    assert_eq!(s["detailed_devices"][0]["os_type"], "unknown");
    assert_eq!(s["detailed_devices"][0]["device_id"].as_u64(), Some(id + 1));
    assert_eq!(r.json["message"], "User status.");

    // After the app is installed.
    let d = sim
        .control(
            Method::POST,
            &format!("/__sim/users/{id}/devices"),
            Some(&json!({"os_type": "android"})),
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    let r = sim.get(&format!("/protected/json/users/{id}/status")).await;
    assert_matches_fixture(&r, "R12");
    assert_eq!(r.json["status"]["registered"], true);
    assert_eq!(r.json["status"]["devices"], json!(["android"]));
    assert_eq!(
        r.json["status"]["detailed_devices"][0]["os_type"],
        "android"
    );

    // Unknown and non-numeric ids: R5's body.
    for bad in ["1", "tony", "99999999999999999999999", "%20"] {
        let r = sim
            .get(&format!("/protected/json/users/{bad}/status"))
            .await;
        assert_eq!(r.status, 404, "{bad}");
        assert_eq!(r.text, fixture_body("R5"));
    }
    sim.stop().await;
}

#[tokio::test]
async fn remove_user_on_all_three_paths() {
    let sim = TestSim::start().await;
    let paths = [
        "/protected/json/users/{}/remove",
        "/protected/json/users/{}/delete",
        "/protected/json/users/delete/{}",
    ];
    for (i, template) in paths.iter().enumerate() {
        let id = sim
            .create_user("r@example.com", &format!("30000000{i:02}"), 1)
            .await;
        let path = template.replace("{}", &id.to_string());
        // Java posts an empty JSON body; python `{}`.
        let r = send(
            sim.authy(Method::POST, &path)
                .header("Content-Type", "application/json"),
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(
            r.text,
            r#"{"message":"User removed from application","success":true}"#
        );
        let r = sim.post_json(&path, &json!({})).await;
        assert_eq!(r.status, 404);
        assert_eq!(r.text, fixture_body("R5"));
        let r = sim.get(&format!("/protected/json/users/{id}/status")).await;
        assert_eq!(r.status, 404);
    }
    let r = sim
        .post_json("/protected/json/users/abc/remove", &json!({}))
        .await;
    assert_eq!(r.text, fixture_body("R5"));
    // Wrong method on a known path.
    let r = sim.get("/protected/json/users/1/remove").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json["success"], false);
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// SMS, call

#[tokio::test]
async fn sms_and_call_sent_ignored_and_not_found() {
    let sim = TestSim::start().await;
    let id = sim.create_user("s@example.com", "3003003312", 57).await;

    let r = sim.get(&format!("/protected/json/sms/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text,
        r#"{"success":true,"message":"SMS token was sent","cellphone":"+57-XXX-XXX-XX12"}"#
    );
    let r = sim
        .get(&format!("/protected/json/call/{id}?force=true"))
        .await;
    assert_eq!(
        r.text,
        r#"{"cellphone":"+57-XXX-XXX-XX12","message":"Call started...","success":true}"#
    );

    sim.control(
        Method::POST,
        &format!("/__sim/users/{id}/devices"),
        Some(&json!({})),
    )
    .await;
    // authy-java emits a bare trailing `?`.
    let r = sim.get(&format!("/protected/json/sms/{id}?")).await;
    assert_matches_fixture(&r, "R6");
    assert_eq!(r.text, fixture_body("R6"));
    let r = sim.get(&format!("/protected/json/call/{id}")).await;
    assert_eq!(
        r.text,
        r#"{"message":"Call ignored. User is using  App Tokens and this call is not necessary. Pass force=true if you still want to call users that are using the App.","cellphone":"+57-XXX-XXX-XX12","device":"android","ignored":true,"success":true}"#
    );
    // force in every spelling sends anyway.
    for force in ["force=true", "force=1", "force=True"] {
        let r = sim.get(&format!("/protected/json/sms/{id}?{force}")).await;
        assert_eq!(r.json["message"], "SMS token was sent", "{force}");
    }
    let r = send(
        sim.authy(Method::GET, &format!("/protected/json/sms/{id}"))
            .json(&json!({"force": true})),
    )
    .await;
    assert_eq!(r.json["message"], "SMS token was sent");

    let r = sim.get("/protected/json/sms/0?force=true").await;
    assert_matches_fixture(&r, "R5");
    assert_eq!(r.text, fixture_body("R5"));
    let r = sim.get("/protected/json/call/0").await;
    assert_eq!(r.text, fixture_body("R5"));
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Verify

async fn request_sms(sim: &TestSim, id: u64, query: &str) -> String {
    let r = sim
        .get(&format!("/protected/json/sms/{id}?force=true&{query}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    sim.codes(id).await["sms_code"].as_str().unwrap().to_owned()
}

fn verify_path(token: &str, id: u64, query: &str) -> String {
    format!("/protected/json/verify/{token}/{id}?force=true{query}")
}

#[tokio::test]
async fn verify_sms_code_shapes_single_use_and_action_binding() {
    let sim = TestSim::start().await;
    let id = sim.create_user("v@example.com", "3003003300", 1).await;
    let code = request_sms(&sim, id, "").await;
    assert_eq!(code.len(), 7);

    // Wrong code: R2, byte for byte.
    let wrong = if code == "1234567" {
        "7654321"
    } else {
        "1234567"
    };
    let r = sim.get(&verify_path(wrong, id, "")).await;
    assert_matches_fixture(&r, "R2");
    assert_eq!(r.text, fixture_body("R2"));

    let r = sim.get(&verify_path(&code, id, "")).await;
    assert_matches_fixture(&r, "R1");
    assert!(
        r.text.contains(r#""token":"is valid""#),
        "authy-python's substring test"
    );
    assert_eq!(r.json["success"], "true");
    assert_eq!(r.json["message"], "Token is valid.");
    assert_eq!(r.json["device"]["os_type"], "sms");

    // Single use.
    let r = sim.get(&verify_path(&code, id, "")).await;
    assert_eq!(r.text, fixture_body("R2"));

    // Bound to an action: only the same action verifies it.
    let code = request_sms(&sim, id, "action=login&action_message=Log%20in").await;
    let codes = sim.codes(id).await;
    assert_eq!(codes["sms_action"], "login");
    assert_eq!(codes["sms_action_message"], "Log in");
    assert_eq!(sim.get(&verify_path(&code, id, "")).await.status, 401);
    assert_eq!(
        sim.get(&verify_path(&code, id, "&action=pay")).await.status,
        401
    );
    let r = sim.get(&verify_path(&code, id, "&action=login")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sim.codes(id).await["sms_code"], Value::Null);

    // A voice code verifies the same way.
    sim.get(&format!("/protected/json/call/{id}?force=true"))
        .await;
    let codes = sim.codes(id).await;
    assert_eq!(codes["sms_via"], "call");
    let code = codes["sms_code"].as_str().unwrap().to_owned();
    assert_eq!(sim.get(&verify_path(&code, id, "")).await.status, 200);

    // Malformed tokens are invalid, never an error page.
    for token in [
        "12345",
        "1234567890123",
        "abcdefg",
        "12%2034567",
        "%00%00%00%00%00%00",
    ] {
        let r = sim.get(&verify_path(token, id, "")).await;
        assert_eq!(r.status, 401, "{token}");
        assert_eq!(r.text, fixture_body("R2"));
    }
    // A token that is not even UTF-8 once decoded.
    let r = sim.get(&verify_path("%FF%FE%FD%FC%FB%FA", id, "")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.text, fixture_body("R2"));
    // Unknown user.
    let r = sim.get(&verify_path("%FF%FE%FD%FC%FB%FA", 1, "")).await;
    assert_eq!(r.status, 404);
    let r = sim.get(&verify_path("1234567", 1, "")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text, fixture_body("R5"));
    sim.stop().await;
}

#[tokio::test]
async fn verify_totp_code() {
    let sim = TestSim::start().await;
    let id = sim.create_user("t@example.com", "3003003301", 1).await;
    let totp = sim.codes(id).await["totp_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(totp.len(), 7);
    let r = sim.get(&verify_path(&totp, id, "")).await;
    assert_matches_fixture(&r, "R1");
    // TOTP codes are not single use within their window.
    let totp = sim.codes(id).await["totp_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sim.get(&verify_path(&totp, id, "")).await.status, 200);

    // With the app installed, the device is the app's.
    sim.control(
        Method::POST,
        &format!("/__sim/users/{id}/devices"),
        Some(&json!({"os_type": "iphone"})),
    )
    .await;
    let totp = sim.codes(id).await["totp_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = sim.get(&verify_path(&totp, id, "")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["device"]["os_type"], "iphone");
    assert_eq!(r.json["device"]["id"].as_u64(), Some(id + 1));
    assert_eq!(r.json["success"], "true");
    sim.stop().await;
}

#[tokio::test]
async fn verify_without_force_accepts_anything_until_the_first_real_success() {
    let sim = TestSim::start().await;
    let id = sim.create_user("q@example.com", "3003003302", 1).await;
    // authy-client style: no force.
    let r = sim
        .get(&format!("/protected/json/verify/0000000/{id}"))
        .await;
    assert_eq!(r.status, 200, "Authy's lock-out guard: {}", r.text);
    assert_matches_fixture(&r, "R1");
    // force=true checks for real.
    let r = sim.get(&verify_path("0000000", id, "")).await;
    assert_eq!(r.status, 401);
    // After one real success the guard is gone.
    let totp = sim.codes(id).await["totp_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        sim.get(&format!("/protected/json/verify/{totp}/{id}"))
            .await
            .status,
        200
    );
    let r = sim
        .get(&format!("/protected/json/verify/0000000/{id}"))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.text, fixture_body("R2"));
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// OneTouch

async fn sim_approval(sim: &TestSim, uuid: &str) -> Value {
    let r = sim
        .control(Method::GET, &format!("/__sim/approvals/{uuid}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

fn approval_path(id: u64) -> String {
    format!("/onetouch/json/users/{id}/approval_requests")
}

fn assert_v1_uuid(uuid: &str) {
    let parsed = uuid::Uuid::parse_str(uuid).unwrap();
    assert_eq!(parsed.get_version_num(), 1, "{uuid}");
    assert_eq!(uuid, uuid.to_lowercase());
    assert_eq!(uuid.len(), 36);
}

#[tokio::test]
async fn approval_create_and_get() {
    let sim = TestSim::start().await;
    let id = sim.create_user("hans+1@allcode.com", "3003003303", 1).await;
    // authy-java's body.
    let r = sim
        .post_json(
            &approval_path(id),
            &json!({"message":"Authorize OneTouch Unit Test","details":{"location":"California,USA","username":"User"},"hidden_details":{"ip_address":"10.10.3.203"},"logos":[{"res":"med","url":"http://image.co"},{"res":"low","url":"http://image.low"},{"res":"default","url":"http://image.co"}]}),
        )
        .await;
    assert_matches_fixture(&r, "R8");
    let uuid = r.json["approval_request"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_v1_uuid(&uuid);

    let r = sim
        .get(&format!("/onetouch/json/approval_requests/{uuid}"))
        .await;
    assert_eq!(r.status, 200);
    let a = &r.json["approval_request"];
    // Pending: processed_at is null, so compare the shape with it set aside.
    assert_eq!(a["processed_at"], Value::Null);
    let mut shaped = r.json.clone();
    shaped["approval_request"]["processed_at"] = json!("2017-02-13T11:11:58Z");
    let expected: Value = serde_json::from_str(&fixture_body("R9")).unwrap();
    assert_same_shape(&shaped, &expected, "R9");
    assert_eq!(a["status"], "pending");
    assert_eq!(a["uuid"], uuid.as_str());
    assert_eq!(a["_authy_id"].as_u64(), Some(id));
    assert_eq!(a["_app_name"], "authyd-sim");
    assert_eq!(a["_app_serial_id"], 100000);
    assert_eq!(a["_user_email"], "hans+1@allcode.com");
    assert_eq!(a["seconds_to_expire"], 86400);
    assert_eq!(a["notified"], false);
    for key in ["_id", "app_id", "user_id"] {
        let v = a[key].as_str().unwrap();
        assert_eq!(v.len(), 24, "{key}");
        assert!(v.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    }
    for key in ["created_at", "updated_at"] {
        let v = a[key].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(v).is_ok(), "{v}");
        assert_eq!(v.len(), 20, "{v}");
        assert!(v.ends_with('Z'));
    }
    // The same user always has the same user_id.
    let second = sim
        .post_json(&approval_path(id), &json!({"message": "again"}))
        .await;
    let uuid2 = second.json["approval_request"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(uuid, uuid2);
    let r2 = sim
        .get(&format!("/onetouch/json/approval_requests/{uuid2}"))
        .await;
    assert_eq!(r2.json["approval_request"]["user_id"], a["user_id"]);
    assert_ne!(r2.json["approval_request"]["_id"], a["_id"]);

    // Everything was stored, and the polls were counted.
    let stored = sim_approval(&sim, &uuid).await;
    assert_eq!(stored["message"], "Authorize OneTouch Unit Test");
    assert_eq!(
        stored["details"],
        json!({"location":"California,USA","username":"User"})
    );
    assert_eq!(
        stored["hidden_details"],
        json!({"ip_address":"10.10.3.203"})
    );
    assert_eq!(
        stored["logos"][2],
        json!({"res":"default","url":"http://image.co"})
    );
    assert_eq!(stored["polls"], 1);
    sim.get(&format!("/onetouch/json/approval_requests/{uuid}"))
        .await;
    assert_eq!(sim_approval(&sim, &uuid).await["polls"], 2);
    sim.stop().await;
}

#[tokio::test]
async fn approval_parameters_in_every_encoding() {
    let sim = TestSim::start().await;
    let id = sim.create_user("e@example.com", "3003003304", 1).await;

    // authy-python: every key, null and empty.
    let r = sim
        .post_json(
            &approval_path(id),
            &json!({"message":"py","seconds_to_expire":null,"details":{},"hidden_details":{},"logos":[]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = sim_approval(&sim, r.json["approval_request"]["uuid"].as_str().unwrap()).await;
    assert_eq!(a["seconds_to_expire"], 86400);
    assert_eq!(a["details"], json!({}));
    assert_eq!(a["logos"], Value::Null);

    // authy-ruby: form with brackets and `logos[][…]`.
    let r = sim
        .post_form(
            &approval_path(id),
            "message=Login+requested&details%5BBank+account%5D=23527922&details%5BAmount%5D=10+BTC&hidden_details%5BIP+Address%5D=10.0.0.1&logos%5B%5D%5Bres%5D=default&logos%5B%5D%5Burl%5D=https%3A%2F%2Fe.co%2Fd.png&logos%5B%5D%5Bres%5D=low&logos%5B%5D%5Burl%5D=https%3A%2F%2Fe.co%2Fl.png&seconds_to_expire=150",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = sim_approval(&sim, r.json["approval_request"]["uuid"].as_str().unwrap()).await;
    assert_eq!(a["message"], "Login requested");
    assert_eq!(
        a["details"],
        json!({"Bank account":"23527922","Amount":"10 BTC"})
    );
    assert_eq!(a["hidden_details"], json!({"IP Address":"10.0.0.1"}));
    assert_eq!(
        a["logos"],
        json!([{"res":"default","url":"https://e.co/d.png"},{"res":"low","url":"https://e.co/l.png"}])
    );
    assert_eq!(a["seconds_to_expire"], 150);

    // authy-php: everything in the POST's query string, indexed logos, no body.
    let r = send(sim.authy(
        Method::POST,
        &format!(
            "{}?message=php&details[Username]=Bob&logos[0][res]=default&logos[0][url]=http://d&logos[1][res]=high&logos[1][url]=http://h&seconds_to_expire=600",
            approval_path(id)
        ),
    ))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = sim_approval(&sim, r.json["approval_request"]["uuid"].as_str().unwrap()).await;
    assert_eq!(a["details"], json!({"Username":"Bob"}));
    assert_eq!(
        a["logos"],
        json!([{"res":"default","url":"http://d"},{"res":"high","url":"http://h"}])
    );
    assert_eq!(a["seconds_to_expire"], 600);

    // seconds_to_expire 0: never expires.
    let r = sim
        .post_json(
            &approval_path(id),
            &json!({"message":"m","seconds_to_expire":0}),
        )
        .await;
    let a = sim_approval(&sim, r.json["approval_request"]["uuid"].as_str().unwrap()).await;
    assert_eq!(a["seconds_to_expire"], 0);
    assert_eq!(a["expires_at"], Value::Null);
    sim.stop().await;
}

#[tokio::test]
async fn approval_errors() {
    let sim = TestSim::start().await;
    let id = sim.create_user("e@example.com", "3003003305", 1).await;
    for body in [
        json!({}),
        json!({"message": ""}),
        json!({"message": "   "}),
        json!({"message": null}),
        json!({"message": {"a": 1}}),
    ] {
        let r = sim.post_json(&approval_path(id), &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(
            r.text,
            r#"{"message":"Invalid parameter: message - Parameter is required","success":false,"errors":{"message":"Invalid parameter: message - Parameter is required"},"error_code":"60004"}"#
        );
    }
    for (body, name) in [
        (
            json!({"message":"m","seconds_to_expire":-1}),
            "seconds_to_expire",
        ),
        (
            json!({"message":"m","seconds_to_expire":"soon"}),
            "seconds_to_expire",
        ),
        (json!({"message":"m","details":"text"}), "details"),
        (json!({"message":"m","logos":"x"}), "logos"),
        (json!({"message":"m","logos":[1,2]}), "logos"),
    ] {
        let r = sim.post_json(&approval_path(id), &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json["error_code"], "60004");
        assert!(
            r.json["message"].as_str().unwrap().contains(name),
            "{}",
            r.text
        );
    }
    let r = sim
        .post_json(&approval_path(1), &json!({"message":"m"}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text, fixture_body("R5"));

    let r = sim
        .get("/onetouch/json/approval_requests/3f05a350-4b2c-0136-f779-12c0c2bf9easd")
        .await;
    assert_matches_fixture(&r, "R10");
    assert_eq!(r.text, fixture_body("R10"));
    sim.stop().await;
}

#[tokio::test]
async fn approval_expires_on_read() {
    let sim = TestSim::start().await;
    let id = sim.create_user("x@example.com", "3003003306", 1).await;
    let r = sim
        .post_json(
            &approval_path(id),
            &json!({"message":"quick","seconds_to_expire":1}),
        )
        .await;
    let uuid = r.json["approval_request"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = sim
        .get(&format!("/onetouch/json/approval_requests/{uuid}"))
        .await;
    assert_eq!(r.json["approval_request"]["status"], "pending");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = sim
        .get(&format!("/onetouch/json/approval_requests/{uuid}"))
        .await;
    assert_matches_fixture(&r, "R9");
    let a = &r.json["approval_request"];
    assert_eq!(a["status"], "expired");
    let created = chrono::DateTime::parse_from_rfc3339(a["created_at"].as_str().unwrap()).unwrap();
    let processed =
        chrono::DateTime::parse_from_rfc3339(a["processed_at"].as_str().unwrap()).unwrap();
    let secs = (processed - created).num_seconds();
    assert!(
        (1..=2).contains(&secs),
        "expired at created_at + 1 s, got {secs}"
    );
    assert_eq!(a["updated_at"], a["processed_at"]);
    // Too late to answer.
    let r = sim
        .control(
            Method::POST,
            &format!("/__sim/approvals/{uuid}/approve"),
            None,
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json["status"], "expired");
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Registrations, app, misc

#[tokio::test]
async fn registration_status_pending_and_missing_parameter() {
    let sim = TestSim::start().await;
    let r = sim
        .get("/protected/json/registrations/status?custom_user_id=someone")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text,
        r#"{"registration":{"status":"pending"},"success":true}"#
    );
    // authy-python does not URL-encode it; JSON in a GET body works too.
    let r = send(
        sim.authy(Method::GET, "/protected/json/registrations/status")
            .json(&json!({"custom_user_id": "x y"})),
    )
    .await;
    assert_eq!(r.json["registration"]["status"], "pending");
    for path in [
        "/protected/json/registrations/status",
        "/protected/json/registrations/status?custom_user_id=",
    ] {
        let r = sim.get(path).await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.text,
            r#"{"message":"Invalid parameter: custom_user_id - Parameter is required","success":false,"errors":{"message":"Invalid parameter: custom_user_id - Parameter is required"},"error_code":"60004"}"#
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn app_details() {
    let sim = TestSim::start().await;
    let r = sim.get("/protected/json/app/details").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text,
        r#"{"app":{"app_id":100000,"name":"authyd-sim","plan":"pay_as_you_go","sms_enabled":true,"phone_calls_enabled":true,"onetouch_enabled":true},"message":"Application information.","success":true}"#
    );
    sim.stop().await;

    let mut config = authyd::sim::SimConfig::new(authyd::secret::ApiKey::new(KEY).unwrap());
    config.app_name = "My Authy App".into();
    config.app_id = "app-x".into();
    let sim = TestSim::start_with(config).await;
    let r = sim.get("/protected/json/app/details").await;
    assert_eq!(r.json["app"]["app_id"], "app-x");
    assert_eq!(r.json["app"]["name"], "My Authy App");
    sim.stop().await;
}

#[tokio::test]
async fn unknown_paths_methods_and_trailing_slashes() {
    let sim = TestSim::start().await;
    for path in [
        "/",
        "/nope",
        "/protected/xml/app/details",
        "/protected/json/phones/info",
    ] {
        let r = sim.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.content_type, "application/json; charset=utf-8");
        assert_eq!(r.json["success"], false);
        assert!(r.json["error_code"].is_string());
    }
    let r = send(sim.authy(Method::DELETE, "/protected/json/app/details")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json["success"], false);
    let r = sim.get("/protected/json/app/details/").await;
    assert_eq!(r.status, 200, "a trailing slash is ignored");
    sim.stop().await;
}

#[tokio::test]
async fn garbage_gets_clear_errors_and_never_breaks_the_server() {
    let sim = TestSim::start().await;
    let id = sim.create_user("g@example.com", "3003003307", 1).await;
    let bad_json = sim
        .authy(Method::POST, "/protected/json/users/new")
        .header("Content-Type", "application/json")
        .body("{\"user\": ");
    let r = send(bad_json).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error_code"], "60002");

    let conflict = sim
        .post_form(&approval_path(id), "message=a&details=1&details[x]=2")
        .await;
    assert_eq!(conflict.status, 400);
    assert_eq!(conflict.json["error_code"], "60002");

    let deep = format!("message=m&details{}=1", "[a]".repeat(40));
    assert_eq!(sim.post_form(&approval_path(id), &deep).await.status, 400);

    let huge = "a=".to_owned() + &"x".repeat(2 * 1024 * 1024);
    let r = sim.post_form(&approval_path(id), &huge).await;
    assert_eq!(r.status, 400);

    let bodies: Vec<Vec<u8>> = vec![
        b"\xff\xfe\x00garbage".to_vec(),
        b"[[[[[[".to_vec(),
        b"user[=1&user]=2&[]=3&&&==".to_vec(),
        b"logos[][res]=a&logos[][res][x]=b".to_vec(),
        b"null".to_vec(),
        b"{\"user\":{\"email\":[],\"cellphone\":{},\"country_code\":[1]}}".to_vec(),
        (0..=255u8).collect(),
    ];
    let content_types = [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ];
    let paths = [
        "/protected/json/users/new".to_owned(),
        approval_path(id),
        format!("/protected/json/sms/{id}"),
        format!("/protected/json/verify/%FF%FE/{id}"),
        "/protected/json/users/%FF/status".to_owned(),
        "/onetouch/json/approval_requests/%00%01".to_owned(),
        "/protected/json/registrations/status?custom_user_id[]=1&custom_user_id[x]=2".to_owned(),
        "/__sim/faults".to_owned(),
        "/__sim/registrations/scan".to_owned(),
        "/__sim/users/abc/codes".to_owned(),
    ];
    for path in &paths {
        for ct in content_types {
            for body in &bodies {
                for method in [Method::GET, Method::POST] {
                    let mut req = sim.authy(method, path).body(body.clone());
                    if !ct.is_empty() {
                        req = req.header("Content-Type", ct);
                    }
                    let r = send(req).await;
                    assert!(r.status < 500, "{path} {ct}: {} {}", r.status, r.text);
                    if !path.starts_with("/__sim") {
                        assert!(r.json.is_object(), "JSON body for {path}: {}", r.text);
                    }
                }
            }
        }
    }
    // Still fine afterwards.
    assert_eq!(sim.get("/protected/json/app/details").await.status, 200);
    sim.stop().await;
}

#[tokio::test]
async fn http2_cleartext_works_too() {
    let sim = TestSim::start().await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .no_proxy()
        .build()
        .unwrap();
    let r: Resp = send(
        client
            .get(sim.url("/protected/json/app/details"))
            .header("X-Authy-API-Key", KEY),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    sim.stop().await;
}
