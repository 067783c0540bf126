"""authyd client for Python: the generated gRPC stubs plus a few helpers.

The generated code is the `authyd` package next to this one (`authyd.v1.two_factor_pb2`,
`authyd.v1.two_factor_pb2_grpc`, `authyd.sandbox.v1...`), written by scripts/generate and never
edited. This module adds:

* `channel(addr, api_key=None)` / `aio_channel(...)`: an insecure channel (authyd serves plaintext
  gRPC behind your TLS terminator) that sends `authorization: Bearer <api_key>` on every call;
* `TwoFactorStub` / `SandboxStub`: the generated stubs under short names;
* `error_details(err)`: the google.rpc details authyd attaches to every error (ErrorInfo reason,
  BadRequest field violations, RetryInfo) decoded from a `grpc.RpcError` or `grpc.aio.AioRpcError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import grpc
import grpc.aio
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from authyd.sandbox.v1 import sandbox_pb2
from authyd.sandbox.v1.sandbox_pb2_grpc import SandboxServiceStub as SandboxStub
from authyd.v1 import two_factor_pb2
from authyd.v1.two_factor_pb2_grpc import TwoFactorServiceStub as TwoFactorStub

__all__ = [
    "ErrorDetails",
    "FieldViolation",
    "SandboxStub",
    "TwoFactorStub",
    "aio_channel",
    "channel",
    "error_details",
    "sandbox_pb2",
    "two_factor_pb2",
]


def _auth_metadata(api_key: str) -> tuple[tuple[str, str], ...]:
    if not api_key:
        raise ValueError("api_key is empty")
    return (("authorization", f"Bearer {api_key}"),)


def _with_metadata(details: Any, extra: Sequence[tuple[str, str]]) -> Any:
    # ClientCallDetails is a namedtuple-like class in sync gRPC and a dataclass-like one in aio.
    metadata = list(details.metadata or ()) + list(extra)
    return details._replace(metadata=metadata) if hasattr(details, "_replace") else _aio_details(details, metadata)


def _aio_details(details: grpc.aio.ClientCallDetails, metadata: list[tuple[str, str]]) -> grpc.aio.ClientCallDetails:
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout,
        metadata=grpc.aio.Metadata(*metadata),
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _SyncAuth(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = metadata

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(_with_metadata(details, self._metadata), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(_with_metadata(details, self._metadata), request)


class _AioAuth(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = metadata

    async def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return await continuation(_with_metadata(details, self._metadata), request)

    async def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return await continuation(_with_metadata(details, self._metadata), request)


def channel(addr: str, api_key: str | None = None) -> grpc.Channel:
    """A plaintext channel to authyd at `addr` ("host:port"); with `api_key` (from
    `authyd keys create`; the sandbox needs none) every call sends `authorization: Bearer <key>`."""
    ch = grpc.insecure_channel(addr)
    return ch if api_key is None else grpc.intercept_channel(ch, _SyncAuth(_auth_metadata(api_key)))


def aio_channel(addr: str, api_key: str | None = None) -> grpc.aio.Channel:
    """`channel` for asyncio (`grpc.aio`)."""
    interceptors = None if api_key is None else [_AioAuth(_auth_metadata(api_key))]
    return grpc.aio.insecure_channel(addr, interceptors=interceptors)


@dataclass(frozen=True)
class FieldViolation:
    """One rejected request field (google.rpc.BadRequest.FieldViolation)."""

    field: str
    description: str


@dataclass(frozen=True)
class ErrorDetails:
    """What authyd says about a failed call."""

    code: grpc.StatusCode
    message: str
    reason: str | None = None
    """ErrorInfo.reason: a stable UPPER_SNAKE name such as USER_NOT_FOUND."""
    domain: str | None = None
    """ErrorInfo.domain: "authyd"."""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    """BadRequest field violations (INVALID_ARGUMENT)."""
    retry_delay_s: float | None = None
    """RetryInfo.retry_delay, when the server says when to retry."""


def error_details(err: grpc.RpcError) -> ErrorDetails:
    """Decodes the google.rpc.Status in `grpc-status-details-bin` of a failed call (sync
    `grpc.RpcError` or `grpc.aio.AioRpcError`) with grpc_status.rpc_status.from_call."""
    code: grpc.StatusCode = err.code()  # type: ignore[attr-defined]
    message: str = err.details() or ""  # type: ignore[attr-defined]
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    reason = domain = None
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry: float | None = None
    for any_detail in status.details if status is not None else ():
        if any_detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            any_detail.Unpack(info)
            reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
        elif any_detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            any_detail.Unpack(bad)
            violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif any_detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info_retry = error_details_pb2.RetryInfo()
            any_detail.Unpack(info_retry)
            retry = info_retry.retry_delay.ToTimedelta().total_seconds()
    return ErrorDetails(code, message, reason, domain, metadata, violations, retry)
