"""The flows of authyd through authyd_client (sync grpcio) against a live sandbox authyd."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from authyd.sandbox.v1 import sandbox_pb2
from authyd.v1 import two_factor_pb2 as pb
from authyd.v1 import two_factor_pb2_grpc as two_factor_grpc
from authyd_client import SandboxStub, TwoFactorStub, channel, error_details

USER = "py-sync-alice"


@pytest.fixture(scope="module")
def stubs(authyd_addr: str):
    with channel(authyd_addr) as ch:
        yield TwoFactorStub(ch), SandboxStub(ch)


@pytest.fixture(scope="module")
def enrolled(stubs) -> pb.User:
    two_factor, _ = stubs
    resp = two_factor.Enroll(pb.EnrollRequest(
        user_id=USER, email="alice@example.com", phone_number="201-555-0123", country_code=1))
    return resp.user


def test_enroll_then_get_user(stubs, enrolled: pb.User) -> None:
    two_factor, _ = stubs
    assert enrolled.user_id == USER
    assert enrolled.authy_id > 0
    assert enrolled.masked_phone == "XXX-XXX-0123"
    got = two_factor.GetUser(pb.GetUserRequest(user_id=USER)).user
    assert (got.authy_id, got.country_code) == (enrolled.authy_id, 1)


def test_sms_code_verifies_and_a_wrong_code_does_not(stubs, enrolled: pb.User) -> None:
    two_factor, sandbox = stubs
    assert two_factor.SendSms(pb.SendSmsRequest(user_id=USER, force=True)).sent
    code = sandbox.GetCodes(sandbox_pb2.GetCodesRequest(user_id=USER)).sms_code
    assert code.isdigit() and 6 <= len(code) <= 12
    wrong = "1111111" if code == "0000000" else "0000000"
    assert two_factor.VerifyToken(pb.VerifyTokenRequest(user_id=USER, token=wrong)).valid is False
    assert two_factor.VerifyToken(pb.VerifyTokenRequest(user_id=USER, token=code)).valid is True


def test_watch_approval_streams_pending_then_approved(stubs, enrolled: pb.User) -> None:
    two_factor, sandbox = stubs
    approval = two_factor.RequestApproval(pb.RequestApprovalRequest(
        user_id=USER, message="Log in to example.com", details={"ip": "203.0.113.7"},
        request_id="py-login-1")).approval
    assert approval.state == pb.APPROVAL_STATE_PENDING
    states = []
    stream = two_factor.WatchApproval(pb.WatchApprovalRequest(approval_id=approval.approval_id), timeout=30)
    for msg in stream:
        states.append(msg.approval.state)
        if msg.approval.state == pb.APPROVAL_STATE_PENDING:
            threading.Thread(target=sandbox.AnswerApproval, args=(
                sandbox_pb2.AnswerApprovalRequest(approval_id=approval.approval_id, approve=True),)).start()
    assert states == [pb.APPROVAL_STATE_PENDING, pb.APPROVAL_STATE_APPROVED]


def test_invalid_argument_has_field_violations(stubs) -> None:
    two_factor, _ = stubs
    with pytest.raises(grpc.RpcError) as caught:
        two_factor.Enroll(pb.EnrollRequest(user_id="py-bob", email="bob@", phone_number="201-555-0123",
                                           country_code=1))
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.domain == "authyd"
    assert [v.field for v in details.field_violations] == ["email"]
    assert details.field_violations[0].description


def test_not_found_has_error_info_reason(stubs) -> None:
    two_factor, _ = stubs
    with pytest.raises(grpc.RpcError) as caught:
        two_factor.GetUser(pb.GetUserRequest(user_id="py-nobody"))
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.NOT_FOUND
    assert (details.reason, details.domain) == ("USER_NOT_FOUND", "authyd")
    assert details.field_violations == []


class RecordingServicer(two_factor_grpc.TwoFactorServiceServicer):
    """A stand-in TwoFactorService that records the metadata of each GetUser."""

    def __init__(self) -> None:
        self.metadata: list[tuple[str, str]] = []

    def GetUser(self, request, context):
        self.metadata = [(m.key, m.value) for m in context.invocation_metadata()]
        return pb.GetUserResponse(user=pb.User(user_id=request.user_id))


@pytest.mark.parametrize("api_key", [None, "k-123"])
def test_api_key_is_sent_as_bearer_metadata(api_key: str | None) -> None:
    # The sandbox takes any caller, so a recording server shows what goes over the wire.
    servicer = RecordingServicer()
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    two_factor_grpc.add_TwoFactorServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with channel(f"127.0.0.1:{port}", api_key=api_key) as ch:
            TwoFactorStub(ch).GetUser(pb.GetUserRequest(user_id="u1"), timeout=10)
    finally:
        server.stop(None)
    auth = [v for k, v in servicer.metadata if k == "authorization"]
    assert auth == ([] if api_key is None else [f"Bearer {api_key}"])
