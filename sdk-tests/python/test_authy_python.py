"""PyPI `authy` 2.2.6 (twilio/authy-python) against `authyd sim`, unchanged but for `api_uri`.

Each test drives one flow through the SDK's public calls and asserts what the SDK exposes
(`ok()`, `errors()`, `content`, `id`, `get_uuid()`), checked against the wire reference
(../shared/reference/authy-api.md).
"""

import re

import pytest
from authy import AuthyFormatException
from authy.api import AuthyApiClient

from conftest import create_user, unique_phone


def other_code(*codes):
    """A 6-digit code equal to none of `codes`."""
    for candidate in ("000000", "111111", "222222", "333333"):
        if candidate not in codes:
            return candidate
    raise AssertionError("unreachable")


def assert_error(resource, status, error_code, message):
    assert not resource.ok(), resource.content
    assert resource.response.status_code == status, (resource.response.status_code, resource.content)
    assert resource.content["success"] is False, resource.content
    assert resource.content["error_code"] == error_code, resource.content  # a JSON string (reference §1.5)
    assert resource.errors()["message"] == message, resource.errors()
    assert resource.content["message"] == message, resource.content


# ---- users -------------------------------------------------------------------------------

def test_register_user_same_phone_same_id(client):
    phone = unique_phone()
    user = client.users.create("alice@example.com", phone, 1)
    assert user.ok(), user.content
    assert user.content["message"] == "User created successfully."
    assert user.content["success"] is True
    assert isinstance(user.id, int) and user.id > 0

    again = client.users.create("alice@example.com", phone, 1)
    assert again.ok(), again.content
    assert again.id == user.id, "same phone + country must give the same Authy id"

    # formatting variants of the same number ("dashes, periods, spaces or nothing") are the same phone
    dashed = client.users.create("alice@example.com", "%s-%s-%s" % (phone[:3], phone[3:6], phone[6:]), "1")
    assert dashed.ok(), dashed.content
    assert dashed.id == user.id

    other = client.users.create("bob@example.com", unique_phone(), 1)
    assert other.ok(), other.content
    assert other.id != user.id


def test_register_user_invalid_email(client):
    user = client.users.create("not-an-email", unique_phone(), 1)
    assert user.id is None
    assert_error(user, 400, "60027", "User was not valid")
    assert user.errors()["email"] == "is invalid"
    assert user.content["email"] == "is invalid"  # per-field errors are repeated at top level (R4)
    assert "cellphone" not in user.errors()


def test_register_user_invalid_phone(client):
    user = client.users.create("carol@example.com", "123", 1)
    assert user.id is None
    assert_error(user, 400, "60027", "User was not valid")
    assert user.errors()["cellphone"] == "is invalid"
    assert user.content["cellphone"] == "is invalid"
    assert "email" not in user.errors()


def test_user_status(client):
    authy_id, phone = create_user(client)
    status = client.users.status(authy_id)
    assert status.ok(), status.content
    assert status.content["message"] == "User status."
    assert status.content["success"] is True
    body = status.content["status"]
    assert body["authy_id"] == authy_id
    assert body["country_code"] == 1
    assert isinstance(body["registered"], bool)
    assert isinstance(body["confirmed"], bool)
    assert isinstance(body["devices"], list)
    # masked like "XXX-XXX-9302": the last four digits survive, the rest does not
    assert body["phone_number"].endswith(phone[-4:]), body["phone_number"]
    assert phone[:6] not in body["phone_number"].replace("-", ""), body["phone_number"]


def test_user_status_unknown_user(client):
    status = client.users.status(999999999)
    assert_error(status, 404, "60026", "User not found.")


def test_delete_user_then_not_found(client):
    authy_id, _ = create_user(client)
    deleted = client.users.delete(authy_id)
    assert deleted.ok(), deleted.content
    assert deleted.content["success"] is True
    assert deleted.content["message"] in ("User removed from application", "User was added to remove.")

    status = client.users.status(authy_id)
    assert_error(status, 404, "60026", "User not found.")
    sms = client.users.request_sms(authy_id, {"force": True})
    assert_error(sms, 404, "60026", "User not found.")


def test_invalid_api_key(sim, client):
    authy_id, _ = create_user(client)
    bad = AuthyApiClient("x" * 32, api_uri=sim.base_url)
    status = bad.users.status(authy_id)
    assert not status.ok()
    assert status.response.status_code == 401
    assert status.content["error_code"] == "60001"
    assert status.errors()["message"].startswith("Invalid API key"), status.errors()
    created = bad.users.create("dave@example.com", unique_phone(), 1)
    assert created.response.status_code == 401 and created.content["error_code"] == "60001"
    verify = bad.tokens.verify(authy_id, "123456")  # R11
    assert not verify.ok()
    assert verify.response.status_code == 401 and verify.content["error_code"] == "60001"


# ---- tokens ------------------------------------------------------------------------------

def test_request_sms_then_verify(sim, client):
    authy_id, phone = create_user(client)
    sms = client.users.request_sms(authy_id, {"force": True})
    assert sms.ok(), sms.content
    assert sms.content["success"] is True
    assert sms.content["message"] == "SMS token was sent"
    assert not sms.ignored(), "a forced SMS must not be ignored"
    assert sms.content["cellphone"].endswith(phone[-2:]), sms.content

    codes = sim.codes(authy_id)
    code = codes["sms_code"]
    assert isinstance(code, str) and re.fullmatch(r"\d{6,12}", code), codes

    token = client.tokens.verify(authy_id, code)
    # authy-python's Token.ok() needs HTTP 200 AND the raw substring '"token":"is valid"'
    assert token.ok(), (token.response.status_code, token.response.text)
    assert token.content["token"] == "is valid"
    assert token.content["message"] == "Token is valid."
    assert token.content["success"] in (True, "true")  # the real API sends the string "true" here (R1)


def test_verify_wrong_code(sim, client):
    authy_id, _ = create_user(client)
    sms = client.users.request_sms(authy_id, {"force": True})
    assert sms.ok(), sms.content
    codes = sim.codes(authy_id)
    token = client.tokens.verify(authy_id, other_code(codes["sms_code"], codes["totp_code"]))
    assert not token.ok()
    assert token.response.status_code == 401, token.response.text
    assert token.errors()["message"] == "Token is invalid"
    assert token.content["token"] == "is invalid"
    assert token.content["error_code"] == "60020"
    assert token.content["success"] is False


def test_verify_totp_code(sim, client):
    authy_id, _ = create_user(client)
    codes = sim.codes(authy_id)
    totp = codes["totp_code"]
    assert isinstance(totp, str) and re.fullmatch(r"\d{6,8}", totp), codes
    token = client.tokens.verify(authy_id, totp)
    assert token.ok(), (token.response.status_code, token.response.text)
    assert token.content["token"] == "is valid"


def test_sdk_rejects_malformed_token_locally(client):
    # Sanity check of the harness: this never reaches the simulator.
    with pytest.raises(AuthyFormatException):
        client.tokens.verify(1, "12ab")


def test_voice_call_then_verify(sim, client):
    authy_id, phone = create_user(client)
    call = client.users.request_call(authy_id, {"force": True})
    assert call.ok(), call.content
    assert call.content["success"] is True
    assert call.content["message"] == "Call started..."
    assert not call.ignored()
    assert call.content["cellphone"].endswith(phone[-2:]), call.content
    code = sim.codes(authy_id)["sms_code"]  # "the last SMS/voice code"
    assert code, "a voice call must leave a code readable at /__sim/users/{id}/codes"
    token = client.tokens.verify(authy_id, code)
    assert token.ok(), (token.response.status_code, token.response.text)


# ---- OneTouch ----------------------------------------------------------------------------

def _send(client, authy_id, **kw):
    req = client.one_touch.send_request(
        authy_id,
        kw.pop("message", "Login requested for Example Bank"),
        seconds_to_expire=kw.pop("seconds_to_expire", 120),
        details=kw.pop("details", {"Username": "alice", "Location": "Zürich, CH"}),
        hidden_details=kw.pop("hidden_details", {"ip_address": "10.0.0.7"}),
        logos=kw.pop("logos", [{"res": "default", "url": "https://example.com/logo.png"}]),
    )
    assert req.ok(), (req.response.status_code, req.content)
    assert req.status() is True
    uuid = req.get_uuid()
    assert isinstance(uuid, str) and uuid, req.content
    return uuid


def _status(client, uuid):
    st = client.one_touch.get_approval_status(uuid)
    assert st.ok(), (st.response.status_code, st.content)
    assert st.content["approval_request"]["uuid"] == uuid
    return st.content["approval_request"]


def test_onetouch_pending_then_approved(sim, client):
    authy_id, _ = create_user(client)
    uuid = _send(client, authy_id)
    pending = _status(client, uuid)
    assert pending["status"] == "pending"
    assert pending["processed_at"] is None
    assert pending["seconds_to_expire"] == 120
    sim.approve(uuid)
    assert _status(client, uuid)["status"] == "approved"


def test_onetouch_denied(sim, client):
    authy_id, _ = create_user(client)
    uuid = _send(client, authy_id, message="Transfer 100 CHF?")
    assert _status(client, uuid)["status"] == "pending"
    sim.deny(uuid)
    denied = _status(client, uuid)
    assert denied["status"] == "denied"
    assert denied["processed_at"] is not None


def test_onetouch_python_defaults_are_accepted(sim, client):
    # authy-python always sends every key: seconds_to_expire=None, details={}, hidden_details={}, logos=[]
    authy_id, _ = create_user(client)
    req = client.one_touch.send_request(authy_id, "Defaults only")
    assert req.ok(), (req.response.status_code, req.content)
    assert _status(client, req.get_uuid())["status"] == "pending"


def test_onetouch_unknown_uuid(client):
    st = client.one_touch.get_approval_status("3f05a350-4b2c-0136-f779-12c0c2bf9eaa")
    assert not st.ok()
    assert st.response.status_code == 404
    assert st.content["error_code"] == "60049"
    assert st.content["message"] == "Approval request not found: 3f05a350-4b2c-0136-f779-12c0c2bf9eaa"


def test_onetouch_unknown_user(client):
    req = client.one_touch.send_request(999999999, "hello")
    assert not req.ok()
    assert req.response.status_code == 404
    assert req.content["error_code"] == "60026"


# ---- QR / JWT registration ---------------------------------------------------------------

def test_registration_pending_then_completed(sim, client):
    custom_user_id = "sdk-user-%s" % unique_phone()
    before = client.users.registration_status(custom_user_id)
    assert before.ok(), (before.response.status_code, before.content)
    assert before.content["registration"]["status"] == "pending"

    status, scanned = sim.scan(sim.registration_jwt(custom_user_id))
    assert status == 200, (status, scanned)
    assert scanned["custom_user_id"] == custom_user_id
    authy_id = scanned["authy_id"]
    assert isinstance(authy_id, int) and authy_id > 0

    after = client.users.registration_status(custom_user_id)
    assert after.ok(), after.content
    assert after.content["success"] is True
    assert after.content["registration"]["status"] == "completed"
    assert after.content["registration"]["authy_id"] == authy_id

    # the registered user exists for the other endpoints too
    user = client.users.status(authy_id)
    assert user.ok(), user.content
    assert user.content["status"]["authy_id"] == authy_id


def test_app_user_sms_and_call_ignored_without_force(sim, client):
    """A user with the Authy app (registered by scanning the QR) gets no SMS/call unless forced (R6)."""
    custom_user_id = "sdk-app-user-%s" % unique_phone()
    status, scanned = sim.scan(sim.registration_jwt(custom_user_id))
    assert status == 200, scanned
    authy_id = scanned["authy_id"]

    sms = client.users.request_sms(authy_id)
    assert sms.ok(), sms.content
    assert sms.ignored() and sms.content["ignored"] is True
    assert sms.content["message"] == (
        "Ignored: SMS is not needed for smartphones. Pass force=true if you want to actually send it anyway."
    )
    assert isinstance(sms.content["device"], str) and sms.content["device"], sms.content

    call = client.users.request_call(authy_id)
    assert call.ok(), call.content
    assert call.ignored() and call.content["ignored"] is True
    assert call.content["message"] == (  # sic: two spaces in "using  App" (recorded fixtures)
        "Call ignored. User is using  App Tokens and this call is not necessary. "
        "Pass force=true if you still want to call users that are using the App."
    )

    forced = client.users.request_sms(authy_id, {"force": True})
    assert forced.ok() and not forced.ignored(), forced.content
    assert client.tokens.verify(authy_id, sim.codes(authy_id)["sms_code"]).ok()
    assert client.tokens.verify(authy_id, sim.codes(authy_id)["totp_code"]).ok()


@pytest.mark.parametrize(
    "case",
    ["wrong_key", "wrong_iss", "wrong_app_id", "expired"],
)
def test_registration_scan_rejects_bad_jwt(sim, client, case):
    custom_user_id = "sdk-bad-%s-%s" % (case, unique_phone())
    kwargs = {
        "wrong_key": {"key": "y" * 32},
        "wrong_iss": {"iss": "Some Other App"},
        "wrong_app_id": {"app_id": "1"},
        "expired": {"lifetime": -600},
    }[case]
    status, body = sim.scan(sim.registration_jwt(custom_user_id, **kwargs))
    assert status == 400, (status, body)
    after = client.users.registration_status(custom_user_id)
    assert after.ok() and after.content["registration"]["status"] == "pending", after.content


# ---- application / control API ------------------------------------------------------------

def test_application_details(sim, client):
    app = client.apps.fetch()
    assert app.ok(), app.content
    assert app.content["message"] == "Application information."
    assert app.content["app"]["name"] == sim.app_name
    assert isinstance(app.content["app"]["sms_enabled"], bool)


def test_control_stats_count_requests(sim, client):
    create_user(client)
    status, stats = sim.control("GET", "/__sim/stats")
    assert status == 200, stats
    counts = []

    def walk(v):
        if isinstance(v, bool):
            return
        if isinstance(v, int):
            counts.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(stats)
    assert any(c > 0 for c in counts), stats
