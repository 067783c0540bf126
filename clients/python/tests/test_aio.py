"""authyd_client with asyncio (grpc.aio) against a live sandbox authyd."""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio

from authyd.sandbox.v1 import sandbox_pb2
from authyd.v1 import two_factor_pb2 as pb
from authyd_client import SandboxStub, TwoFactorStub, aio_channel, error_details

USER = "py-aio-alice"


async def flow(addr: str) -> tuple[list[int], bool, grpc.aio.AioRpcError | None]:
    async with aio_channel(addr, api_key="unused-in-the-sandbox") as ch:
        two_factor, sandbox = TwoFactorStub(ch), SandboxStub(ch)
        await two_factor.Enroll(pb.EnrollRequest(
            user_id=USER, email="alice@example.com", phone_number="201-555-0123", country_code=1))
        await two_factor.SendSms(pb.SendSmsRequest(user_id=USER, force=True))
        code = (await sandbox.GetCodes(sandbox_pb2.GetCodesRequest(user_id=USER))).sms_code
        valid = (await two_factor.VerifyToken(pb.VerifyTokenRequest(user_id=USER, token=code))).valid

        approval = (await two_factor.RequestApproval(pb.RequestApprovalRequest(
            user_id=USER, message="Log in?", request_id="py-aio-login"))).approval
        states: list[int] = []
        async for msg in two_factor.WatchApproval(pb.WatchApprovalRequest(approval_id=approval.approval_id),
                                                  timeout=30):
            states.append(msg.approval.state)
            if msg.approval.state == pb.APPROVAL_STATE_PENDING:
                await sandbox.AnswerApproval(sandbox_pb2.AnswerApprovalRequest(
                    approval_id=approval.approval_id, approve=True))

        failure = None
        try:
            await two_factor.VerifyToken(pb.VerifyTokenRequest(user_id=USER, token="12"))
        except grpc.aio.AioRpcError as e:
            failure = e
        return states, valid, failure


def test_asyncio_flow(authyd_addr: str) -> None:
    states, valid, failure = asyncio.run(flow(authyd_addr))
    assert valid is True
    assert states == [pb.APPROVAL_STATE_PENDING, pb.APPROVAL_STATE_APPROVED]
    assert failure is not None
    details = error_details(failure)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in details.field_violations] == ["token"]
    assert details.reason  # every authyd error has an ErrorInfo reason
