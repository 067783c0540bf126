import itertools
import os
import sys

import pytest
from authy.api import AuthyApiClient

sys.path.insert(0, os.path.dirname(__file__))

from simharness import CallbackReceiver, Sim, authyd_bin  # noqa: E402

_phone_counter = itertools.count(1)


def pytest_report_header(config):
    return "authyd binary: %s" % authyd_bin()


@pytest.fixture(scope="session")
def receiver():
    r = CallbackReceiver()
    yield r
    r.close()


@pytest.fixture(scope="session")
def sim(receiver):
    s = Sim(callback_url=receiver.url, callback_method="POST")
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def get_receiver():
    r = CallbackReceiver()
    yield r
    r.close()


@pytest.fixture(scope="session")
def get_sim(get_receiver):
    s = Sim(callback_url=get_receiver.url, callback_method="GET")
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture
def client(sim):
    # Unchanged SDK, only the base URL differs (no trailing slash: the SDK does api_uri + path).
    return AuthyApiClient(sim.api_key, api_uri=sim.base_url)


def unique_phone():
    """A realistic, distinct US number per call (650-253-0xxx)."""
    return "650253%04d" % next(_phone_counter)


def create_user(client, email=None, phone=None, country_code=1):
    phone = phone or unique_phone()
    email = email or "user%s@example.com" % phone
    user = client.users.create(email, phone, country_code)
    assert user.ok(), "users.create failed: %s %r" % (user.response.status_code, user.content)
    assert isinstance(user.id, int) and user.id > 0, user.content
    return user.id, phone


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of the simulator's stderr to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for name in ("sim", "get_sim"):
            s = item.funcargs.get(name)
            if s is not None:
                report.sections.append(("authyd %s stderr (tail)" % name, s.stderr_tail()))
