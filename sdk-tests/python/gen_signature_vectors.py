#!/usr/bin/env python3
"""Generate signed OneTouch callback vectors with authy-python's OWN canonicalisation.

Writes tests/fixtures/authy/callbacks_authy_python.json (or --out PATH):

    {"source": ..., "api_key": ..., "url": ...,
     "vectors": [{"name", "method": "POST", "nonce", "body": "<raw JSON>", "signature"}],
     "authy_python_divergent": [...]}

How a signature is produced, without re-implementing authy-python:
  1. call the real `OneTouch.validate_one_touch_signature(...)` (which runs the private
     `OneTouch._OneTouch__make_http_query` plus its sort / `%5B<n>%5D` / `=None` rewriting) with
     `authy.api.resources.hmac` temporarily swapped for a recorder, to capture the exact `data`
     string (`nonce|method|url|sorted_params`) it HMACs;
  2. signature = base64(HMAC-SHA256(api_key, data));
  3. ASSERT that the unpatched `validate_one_touch_signature` returns True for that signature
     (and False for a one-character change of the body).

Every payload is also canonicalised with a port of ActiveSupport `Hash#to_query` (the Rails
server's form, reference §4.3), itself checked here against the 4 real recorded POST callbacks in
tests/fixtures/authy/callbacks_java.json. Payloads on which authy-python and Rails agree go to
"vectors" (a correct implementation of §4.3 must produce exactly those signatures). Payloads on
which they disagree (authy-python bugs) go to "authy_python_divergent" with both signatures and
both signed strings, and are documented, not hidden.

Deterministic: fixed key, URL, nonces and payloads; the pytest test_signature_vectors.py
regenerates into a temp file and fails if the committed fixture differs.
"""

import argparse
import base64
import copy
import hashlib
import hmac
import json
import os
import sys
import urllib.parse

import authy
import authy.api.resources as authy_resources
from authy.api import AuthyApiClient

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "authy", "callbacks_authy_python.json")
JAVA_FIXTURE = os.path.join(REPO_ROOT, "tests", "fixtures", "authy", "callbacks_java.json")

API_KEY = "AuthydSdkVectorsKey0123456789abc"  # 32 chars, like an Authy production API key
URL = "https://callbacks.example.com/authy/callback"
EXPECTED_AUTHY_VERSION = "2.2.6"


# ---- authy-python (the real thing) -----------------------------------------------------------

class _HmacRecorder:
    """Stands in for the `hmac` module inside authy.api.resources; records the message."""

    def __init__(self):
        self.messages = []

    def new(self, key, msg=None, digestmod=None):
        self.messages.append(msg)
        return hmac.new(key, msg, digestmod)


def authy_python_signed_string(one_touch, nonce, method, url, params):
    """The exact `data` string authy-python's validate_one_touch_signature HMACs."""
    recorder = _HmacRecorder()
    original = authy_resources.hmac
    authy_resources.hmac = recorder
    try:
        one_touch.validate_one_touch_signature("not-a-signature", nonce, method, url, copy.deepcopy(params))
    finally:
        authy_resources.hmac = original
    assert len(recorder.messages) == 1, recorder.messages
    return recorder.messages[0].decode("utf-8")


def sign(data):
    return base64.b64encode(hmac.new(API_KEY.encode(), data.encode("utf-8"), hashlib.sha256).digest()).decode()


# ---- Rails ActiveSupport Hash#to_query port (classification only) ------------------------------

def _cgi_escape(s):
    # Ruby CGI.escape: keep a-zA-Z0-9 _ . - ~, space -> '+', everything else %XX (upper-case) of UTF-8
    return urllib.parse.quote_plus(s, safe="~")


def _to_param(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def _to_query(value, key):
    if isinstance(value, dict):
        return _hash_to_query(value, key)
    if isinstance(value, list):
        prefix = key + "[]"
        if not value:
            return _to_query(None, prefix)
        return "&".join(_to_query(v, prefix) for v in value)
    return "%s=%s" % (_cgi_escape(key), _cgi_escape(_to_param(value)))


def _hash_to_query(h, namespace=None):
    chunks = []
    for k, v in h.items():
        if isinstance(v, (dict, list)) and not v:
            continue  # empty hash / array values are dropped
        chunks.append(_to_query(v, "%s[%s]" % (namespace, k) if namespace else k))
    # ActiveSupport >= 5.x: keys of hashes inside arrays keep their order; everything else sorted
    if namespace is None or "[]" not in namespace:
        chunks.sort()
    return "&".join(chunks)


def rails_signed_string(nonce, method, url, params):
    return "%s|%s|%s|%s" % (nonce, method, url, _hash_to_query(params))


# ---- payloads ---------------------------------------------------------------------------------

def callback(n, status, details, hidden_details, logos=None, device_extra=None, **tx_extra):
    """A callback body in the recorded 2017–2019 shape (reference §4.2)."""
    uuid = "6edb8f40-c01c-0135-c648-0e00ace7f%03d" % n
    tx = {
        "details": details,
        "device_details": {},
        "device_geolocation": "",
        "device_signing_time": 1700000000 + n,
        "encrypted": False,
        "flagged": False,
        "hidden_details": hidden_details,
        "message": "Authorize login #%d" % n,
        "reason": "",
        "requester_details": None,
        "status": status,
        "uuid": uuid,
        "created_at_time": 1699999990 + n,
        "customer_uuid": 15083,
    }
    tx.update(tx_extra)
    device = {
        "city": None,
        "country": "Switzerland",
        "ip": "198.51.100.7",
        "region": None,
        "registration_city": None,
        "registration_country": "Switzerland",
        "registration_ip": "198.51.100.8",
        "registration_method": "sms",
        "registration_region": None,
        "os_type": "android",
        "last_account_recovery_at": None,
        "id": 2102943,
        "registration_date": 1505418165,
        "last_sync_date": 1505418173,
    }
    if device_extra:
        device.update(device_extra)
    return {
        "authy_id": 688611,
        "device_uuid": 2102943,
        "callback_action": "approval_request_status",
        "uuid": uuid,
        "status": status,
        "approval_request": {
            "transaction": tx,
            "expiration_timestamp": 1700086400 + n,
            "logos": logos,
            "app_id": "582380eb7e1caa03317ec08c",
        },
        "signature": "ZGV2aWNlLXNpZ25hdHVyZS0lZA==",
        "device": device,
    }


LOGOS = [
    {"res": "default", "url": "https://example.com/logo.png"},
    {"res": "low", "url": "https://example.com/logo-low.png?v=1&w=2"},
    {"res": "med", "url": "https://example.com/logo-med.png"},
    {"res": "high", "url": "https://example.com/logo-high.png"},
]

# (name, payload) — authy-python and Rails are expected to agree on these
AGREEING = [
    ("minimal_approved", callback(1, "approved", {}, {}, None)),
    ("nested_details", callback(2, "denied", {
        "username": "alice",
        "Transfer": {"Amount": "10 CHF", "To": {"Name": "Bob", "IBAN": "CH93 0076 2011 6238 5295 7"}},
    }, {"ip_address": "10.0.0.7", "meta": {"agent": "Mozilla/5.0", "via": {"proxy": "edge-1"}}})),
    ("array_of_logos", callback(3, "approved", {"username": "alice"}, {}, LOGOS)),
    ("single_logo", callback(4, "approved", {"username": "alice"}, {}, LOGOS[:1])),
    ("nulls", callback(5, "denied", {"note": None, "username": "alice"}, {"ip": None},
                       None, {"city": None, "last_unlock_date": None}, reason=None)),
    ("empty_objects_and_arrays", callback(6, "approved",
                                          {"empty_obj": {}, "empty_arr": [], "kept": "x", "nested": {"inner_empty": {}, "kept": "y"}},
                                          {}, [], {"enabled_unlock_methods": []})),
    ("booleans_and_integers", callback(7, "approved",
                                       {"count": 3, "negative": -7, "big": 12345678901234, "zero": 0,
                                        "yes": True, "no": False},
                                       {"retries": 2}, None,
                                       {"multidevice_enabled": True, "multidevice_updated_at": 1570641874},
                                       encrypted=True, flagged=False)),
    ("unlock_methods_array_order", callback(8, "approved", {"username": "alice"}, {}, None,
                                            {"enabled_unlock_methods": ["pin", "fingerprint"],
                                             "last_unlock_method_used": "fingerprint"})),
    ("unicode_keys_and_values", callback(9, "approved", {
        "Ort": "Zürich ✓",
        "Empfänger": "Åsa Ñúñez",
        "金额": "¥100",
        "emoji 🔐": "🎉 𝄞",
        "Zeit": "12:30 Uhr",
    }, {"Straße": "Bahnhofstraße 1"}, None)),
    ("special_characters", callback(10, "denied", {
        "plus": "a+b",
        "amp_eq": "x&y=z",
        "slash": "path/to/file",
        "pipe": "left|right",
        "percent": "100% sure %20 %2F",
        "tilde_star": "~home *star*",
        "quotes": "it's \"quoted\"",
        "spaces": "  two  spaces  ",
        "newline": "line1\nline2\ttab",
        "brackets": "[x] {y} (z)",
        "a+b key": "key with plus and space",
        "k=v": "key with equals",
        "p/q": "key with slash",
        "x|y": "key with pipe",
        "50%": "key with percent",
        "q&a": "key with ampersand",
    }, {"url": "https://example.com/a?b=c&d=e|f"}, None)),
    ("keys_differing_only_by_case", callback(11, "approved", {
        "ort": "lower", "Ort": "capital", "ORT": "upper", "oRt": "mixed", "b": "1", "B": "2",
    }, {"Ip": "1", "ip": "2", "IP": "3"}, None)),
    ("prefix_keys", callback(12, "approved", {
        "Amount": "1", "Amount2": "2", "Amount-net": "3", "Amount.x": "4", "Amount_y": "5", "Amount z": "6",
    }, {}, None)),
    ("everything_together", callback(13, "approved", {
        "Ort": "Zürich ✓",
        "ort": "zurich",
        "Transfer": {"Betrag": "1'000.50 CHF", "Empfänger": "Ä & B / C|D + 100% = ok", "Leer": {}},
        "count": 2,
        "ok": True,
    }, {"ip_address": "10.0.0.7", "none": None, "empty": ""}, LOGOS,
        {"enabled_unlock_methods": ["pin", "fingerprint"], "last_unlock_method_used": "pin"})),
]

# (name, payload, why authy-python disagrees with Rails) — kept out of "vectors"
DIVERGENT = [
    ("digit_only_detail_keys",
     callback(101, "approved", {"1": "first", "2": "second"}, {}, None),
     "authy-python rewrites every %5B<digits>%5D to %5B%5D, so details[1] becomes details[]"),
    ("value_containing_bracketed_digits",
     callback(102, "approved", {"item": "Artikel [1] von [12]"}, {}, None),
     "the same %5B<digits>%5D rewrite also hits values"),
    ("string_value_none",
     callback(103, "approved", {"answer": "None", "word": "Nonetheless"}, {}, None),
     "authy-python rewrites every '=None' to '=' (meant for Python None), so the string 'None' vanishes"),
    ("boolean_list_elements",
     callback(104, "approved", {"username": "alice"}, {}, None, {"flags": [True, False]}),
     "list elements go through str(): True/False instead of true/false"),
    ("eleven_logos",
     callback(105, "approved", {"username": "alice"}, {},
              [{"res": "default", "url": "https://example.com/%d.png" % i} for i in range(11)]),
     "authy-python sorts with list indices before dropping them: element 10 sorts between 1 and 2"),
    ("nested_object_of_only_empty_values",
     callback(107, "approved", {"kept": "x", "nested": {"inner_empty": {}, "inner_arr": []}}, {}, None),
     "Rails: a non-empty hash whose values are all empty containers yields an empty chunk, i.e. a stray '&' "
     "in the signed string; authy-python drops it silently"),
    ("logo_keys_url_before_res",
     callback(106, "approved", {"username": "alice"}, {}, [{"url": "https://example.com/l.png", "res": "default"}]),
     "ActiveSupport >= 5 keeps key order of hashes inside arrays; authy-python sorts them "
     "(older ActiveSupport sorted too: Rails-version dependent)"),
]

NONCE_BASE = 1700000000


def build():
    assert authy.__version__ == EXPECTED_AUTHY_VERSION, authy.__version__
    one_touch = AuthyApiClient(API_KEY).one_touch
    check_rails_port_against_recorded_callbacks()

    vectors, divergent = [], []
    for i, (name, payload) in enumerate(AGREEING):
        v, py_data, rails_data = make_vector(one_touch, name, payload, str(NONCE_BASE + i))
        assert py_data == rails_data, "%s: authy-python and Rails disagree:\n%s\n%s" % (name, py_data, rails_data)
        vectors.append(v)
    for i, (name, payload, why) in enumerate(DIVERGENT):
        v, py_data, rails_data = make_vector(one_touch, name, payload, str(NONCE_BASE + 100 + i))
        assert py_data != rails_data, "%s: expected a divergence but both give %s" % (name, py_data)
        v["reason"] = why
        v["rails_signature"] = sign(rails_data)
        v["authy_python_signed_string"] = py_data
        v["rails_signed_string"] = rails_data
        divergent.append(v)

    return {
        "source": "PyPI authy==%s (twilio/authy-python) OneTouch.validate_one_touch_signature, generated by "
                  "sdk-tests/python/gen_signature_vectors.py; do not edit by hand" % authy.__version__,
        "api_key": API_KEY,
        "url": URL,
        "vectors": vectors,
        "authy_python_divergent": divergent,
    }


def make_vector(one_touch, name, payload, nonce):
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    params = json.loads(body)  # what the customer app hands to the validator (Flask request.get_json())
    py_data = authy_python_signed_string(one_touch, nonce, "POST", URL, params)
    signature = sign(py_data)
    # The whole point: the unpatched library must accept what we produced ...
    assert one_touch.validate_one_touch_signature(signature, nonce, "POST", URL, json.loads(body)) is True, name
    # ... and reject it once the body changes.
    tampered = json.loads(body)
    tampered["status"] = "denied" if tampered["status"] == "approved" else "approved"
    assert one_touch.validate_one_touch_signature(signature, nonce, "POST", URL, tampered) is False, name
    rails_data = rails_signed_string(nonce, "POST", URL, params)
    return {"name": name, "method": "POST", "nonce": nonce, "body": body, "signature": signature}, py_data, rails_data


def check_rails_port_against_recorded_callbacks():
    with open(JAVA_FIXTURE, encoding="utf-8") as f:
        fixture = json.load(f)
    checked = 0
    for v in fixture["vectors"]:
        if v["method"] != "POST":
            continue
        data = rails_signed_string(v["nonce"], "POST", fixture["url"], json.loads(v["body"]))
        got = base64.b64encode(hmac.new(fixture["api_key"].encode(), data.encode(), hashlib.sha256).digest()).decode()
        assert got == v["signature"], "Rails to_query port disagrees with recorded callback %s" % v["name"]
        checked += 1
    assert checked == 4, checked


def render(doc):
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output path (default: %(default)s)")
    args = parser.parse_args(argv)
    text = render(build())
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote %s" % args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
