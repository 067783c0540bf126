"""OneTouch callbacks sent by `authyd sim`, validated with authy-python's own
`OneTouch.validate_one_touch_signature(signature, nonce, method, url, params)`.

How a customer app calls it (and how we call it here):
  * POST: params = the parsed JSON body (Flask `request.get_json()`).
  * GET:  params = the query string as a flat dict (Flask `request.args.to_dict()`: first value wins).
  * url  = the callback URL exactly as configured (no query string); method = the request method.

authy-python quirks that constrain the payloads used here (the simulator is NOT bent to them; they
are authy-python bugs relative to the Rails canonical form in reference §4.3, also listed in
gen_signature_vectors.py and tests/fixtures/authy/callbacks_authy_python.json "authy_python_divergent"):
  * it sorts whole `k=v` strings *with* numeric list indices, then rewrites any `%5B<digits>%5D` to
    `%5B%5D` — so a details key made only of digits (`{"1": ...}`), or a value containing `[1]`,
    is canonicalised differently; 10+ array elements sort as 0,1,10,2,...
  * it rewrites every `=None` to `=` — so a string value "None"/"Nonetheless" breaks;
  * list elements go through `str()` — so `[true]` becomes `True`, not `true`;
  * with GET, `to_dict()` keeps only the first of repeated keys, so several logos
    (`logos[][res]` repeated) cannot validate — the GET test uses a single logo.
  * `send_request` slices every details value (`v[:200]`), so only strings and nested dicts can be
    sent through this SDK (booleans/integers in details are covered by the signature vectors).
"""

import copy
import json

import pytest
from authy.api import AuthyApiClient

from conftest import create_user
from simharness import flat_query_dict, wait_until

UNICODE_DETAILS = {
    "Ort": "Zürich ✓",
    "ort": "lower-case twin of Ort",  # keys differing only by case
    "Empfänger": "Ä & B / C|D + 100% = ok",
    "Betrag": "1'000.50 CHF",
    "Transfer": {"Konto": "CH93 0076 2011 6238 5295 7", "Notiz": "", "Leer": {}},  # nested, empty string, empty object
    "Emoji": "🔐 日本語",
    "Amount": "1",
    "Amount2": "2",  # prefix keys: 'k=v' sorting vs key sorting
    "Amount-net": "3",
}
HIDDEN = {"ip_address": "10.0.0.7", "session": "s/é/ü+=&", "empty": ""}
LOGOS = [
    {"res": "default", "url": "https://example.com/logo.png"},
    {"res": "low", "url": "https://example.com/logo-low.png?v=1&x=ü"},
    {"res": "med", "url": "https://example.com/logo-med.png"},
    {"res": "high", "url": "https://example.com/logo-high.png"},
]


def _validator(api_key):
    # A fresh client per call, exactly as a customer app would validate (no base URL needed).
    return AuthyApiClient(api_key).one_touch


def _json_body(cb):
    assert cb["headers"].get("content-type", "").startswith("application/json"), cb["headers"]
    return json.loads(cb["body"].decode("utf-8"))


def _signature_headers(cb):
    sig = cb["headers"].get("x-authy-signature")
    nonce = cb["headers"].get("x-authy-signature-nonce")
    assert sig, "missing X-Authy-Signature: %r" % cb["headers"]
    assert nonce, "missing X-Authy-Signature-Nonce: %r" % cb["headers"]
    return sig, nonce


def _send(client, authy_id, message, details, hidden, logos):
    req = client.one_touch.send_request(
        authy_id, message, seconds_to_expire=300, details=details, hidden_details=hidden, logos=logos
    )
    assert req.ok(), (req.response.status_code, req.content)
    return req.get_uuid()


def _wait_callback(receiver, method, predicate, what):
    return receiver.wait_for(lambda cb: cb["method"] == method and predicate(cb), timeout=10, what=what)


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_post_callback_signature_validates(sim, receiver, client, decision):
    authy_id, _ = create_user(client)
    message = "Zahlung freigeben? ✓ (%s)" % decision
    uuid = _send(client, authy_id, message, UNICODE_DETAILS, HIDDEN, LOGOS)
    getattr(sim, decision)(uuid)

    cb = _wait_callback(receiver, "POST", lambda c: uuid.encode() in c["body"], "POST callback for %s" % uuid)
    assert cb["path"] == receiver.PATH
    assert cb["query"] == ""
    params = _json_body(cb)
    sig, nonce = _signature_headers(cb)
    assert nonce.isdigit(), nonce  # Unix seconds (reference §4.1)

    # payload shape (reference §4.2)
    status = "approved" if decision == "approve" else "denied"
    assert params["callback_action"] == "approval_request_status"
    assert params["uuid"] == uuid
    assert params["status"] == status
    assert str(params["authy_id"]) == str(authy_id)
    tx = params["approval_request"]["transaction"]
    assert tx["status"] == status
    assert tx["message"] == message
    assert tx["details"]["Ort"] == "Zürich ✓"
    assert tx["details"]["Empfänger"] == UNICODE_DETAILS["Empfänger"]
    assert tx["details"]["Transfer"]["Konto"] == UNICODE_DETAILS["Transfer"]["Konto"]
    assert tx["hidden_details"]["session"] == HIDDEN["session"]

    one_touch = _validator(sim.api_key)
    assert one_touch.validate_one_touch_signature(sig, nonce, "POST", receiver.url, params) is True

    # Negative controls: each tampering must make the same validator say False.
    tampered = copy.deepcopy(params)
    tampered["approval_request"]["transaction"]["details"]["Ort"] = "Zurich ✓"
    assert one_touch.validate_one_touch_signature(sig, nonce, "POST", receiver.url, tampered) is False
    tampered = copy.deepcopy(params)
    tampered["status"] = "approved" if status == "denied" else "denied"
    assert one_touch.validate_one_touch_signature(sig, nonce, "POST", receiver.url, tampered) is False
    assert one_touch.validate_one_touch_signature(sig, str(int(nonce) + 1), "POST", receiver.url, params) is False
    assert one_touch.validate_one_touch_signature(sig, nonce, "GET", receiver.url, params) is False
    assert one_touch.validate_one_touch_signature(sig, nonce, "POST", receiver.url + "/x", params) is False
    assert _validator("z" * 32).validate_one_touch_signature(sig, nonce, "POST", receiver.url, params) is False


def test_post_callback_minimal_request(sim, receiver, client):
    """authy-python's defaults: details={}, hidden_details={}, logos=[] (empty containers vanish from the signed form)."""
    authy_id, _ = create_user(client)
    req = client.one_touch.send_request(authy_id, "Plain request")
    assert req.ok(), req.content
    uuid = req.get_uuid()
    sim.approve(uuid)
    cb = _wait_callback(receiver, "POST", lambda c: uuid.encode() in c["body"], "POST callback for %s" % uuid)
    params = _json_body(cb)
    sig, nonce = _signature_headers(cb)
    assert _validator(sim.api_key).validate_one_touch_signature(sig, nonce, "POST", receiver.url, params) is True


def _entries_mentioning(log, needle):
    """Dicts anywhere in `log` having `needle` as one of their values."""
    found = []

    def walk(v):
        if isinstance(v, dict):
            if needle in v.values():
                found.append(v)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(log)
    return found


def test_callback_log_lists_deliveries(sim, receiver, client):
    authy_id, _ = create_user(client)
    uuid = _send(client, authy_id, "Logged delivery", {"k": "v"}, {}, [])
    sim.approve(uuid)
    cb = _wait_callback(receiver, "POST", lambda c: uuid.encode() in c["body"], "POST callback for %s" % uuid)

    # the sim may record the delivery only once our receiver has answered: poll, don't race
    def logged():
        status, log = sim.control("GET", "/__sim/callbacks")
        assert status == 200, log
        return _entries_mentioning(log, uuid)

    entries = wait_until(logged, timeout=10, what="%s in GET /__sim/callbacks" % uuid)
    entry = entries[0]
    values = set(map(str, entry.values()))
    assert receiver.url in values, entry  # where it was delivered
    assert "200" in values, entry  # our receiver's answer
    assert cb["headers"]["x-authy-signature-nonce"] in values, entry


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_get_callback_signature_validates(get_sim, get_receiver, decision):
    client = AuthyApiClient(get_sim.api_key, api_uri=get_sim.base_url)
    authy_id, _ = create_user(client)
    details = {k: v for k, v in UNICODE_DETAILS.items()}
    logos = LOGOS[:1]  # to_dict() keeps one value per key: one logo only (see module docstring)
    uuid = _send(client, authy_id, "GET callback ✓", details, HIDDEN, logos)
    getattr(get_sim, decision)(uuid)

    cb = _wait_callback(
        get_receiver, "GET", lambda c: uuid in flat_query_dict(c["query"]).values(), "GET callback for %s" % uuid
    )
    assert cb["path"] == get_receiver.PATH
    params = flat_query_dict(cb["query"])
    sig, nonce = _signature_headers(cb)

    status = "approved" if decision == "approve" else "denied"
    assert params["status"] == status
    assert params["callback_action"] == "approval_request_status"
    assert params["approval_request[transaction][details][Ort]"] == "Zürich ✓"
    assert params["approval_request[transaction][details][Transfer][Konto]"] == UNICODE_DETAILS["Transfer"]["Konto"]
    assert params["approval_request[logos][][res]"] == "default"

    one_touch = _validator(get_sim.api_key)
    assert one_touch.validate_one_touch_signature(sig, nonce, "GET", get_receiver.url, params) is True

    tampered = dict(params)
    tampered["approval_request[transaction][details][Ort]"] = "Zurich"
    assert one_touch.validate_one_touch_signature(sig, nonce, "GET", get_receiver.url, tampered) is False
    assert one_touch.validate_one_touch_signature(sig, nonce, "POST", get_receiver.url, params) is False


def test_authy_python_validator_accepts_recorded_java_callbacks():
    """Harness check: the validator + the two ways of building params above accept the 7 real callbacks
    recorded from Authy (tests/fixtures/authy/callbacks_java.json)."""
    import os

    from simharness import REPO_ROOT

    with open(os.path.join(REPO_ROOT, "tests", "fixtures", "authy", "callbacks_java.json"), encoding="utf-8") as f:
        fixture = json.load(f)
    one_touch = _validator(fixture["api_key"])
    assert len(fixture["vectors"]) == 7
    for v in fixture["vectors"]:
        params = json.loads(v["body"]) if v["method"] == "POST" else flat_query_dict(v["query"])
        ok = one_touch.validate_one_touch_signature(v["signature"], v["nonce"], v["method"], fixture["url"], params)
        assert ok is True, v["name"]
