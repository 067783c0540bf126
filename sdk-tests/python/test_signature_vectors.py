"""The committed tests/fixtures/authy/callbacks_authy_python.json must be exactly what
gen_signature_vectors.py produces now (so it can never go stale), and every vector in it must be
accepted by authy-python's validator."""

import json
import os

import gen_signature_vectors as gen
from authy.api import AuthyApiClient


def test_committed_fixture_is_up_to_date(tmp_path):
    out = tmp_path / "callbacks_authy_python.json"
    gen.main(["--out", str(out)])
    with open(gen.DEFAULT_OUT, encoding="utf-8") as f:
        committed = f.read()
    assert committed == out.read_text(encoding="utf-8"), (
        "tests/fixtures/authy/callbacks_authy_python.json is stale: "
        "run sdk-tests/python/gen_signature_vectors.py and commit the result"
    )


def test_committed_vectors_validate_with_authy_python():
    with open(gen.DEFAULT_OUT, encoding="utf-8") as f:
        doc = json.load(f)
    one_touch = AuthyApiClient(doc["api_key"]).one_touch
    assert len(doc["vectors"]) >= 10
    names = set()
    for v in doc["vectors"]:
        assert set(v) == {"name", "method", "nonce", "body", "signature"}, v.keys()
        assert v["method"] == "POST"
        names.add(v["name"])
        params = json.loads(v["body"])
        assert one_touch.validate_one_touch_signature(v["signature"], v["nonce"], "POST", doc["url"], params) is True
    assert len(names) == len(doc["vectors"]), "vector names must be unique"
    for v in doc["authy_python_divergent"]:
        params = json.loads(v["body"])
        # authy-python accepts its own form and rejects the Rails one: that is the documented divergence
        assert one_touch.validate_one_touch_signature(v["signature"], v["nonce"], "POST", doc["url"], params) is True
        assert one_touch.validate_one_touch_signature(v["rails_signature"], v["nonce"], "POST", doc["url"], params) is False
