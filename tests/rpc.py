"""Helpers for tests that judge answers and speak raw wire bytes.

Raw bytes reach the server the way a gateway in another language could send
them: invalid UTF-8 in a string field, corrupt framing, or a ``json`` Struct
nested past protobuf's own depth limit (which the Python client cannot even
build as a message).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable
from dataclasses import dataclass
from typing import Any, Final

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from service.config import SERVICE_NAME

NORMALIZE: Final = f"/{SERVICE_NAME}/Normalize"
CLASSIFY: Final = f"/{SERVICE_NAME}/Classify"
NORMALIZE_STREAM: Final = f"/{SERVICE_NAME}/NormalizeStream"

# Statuses a well-behaved server answers to any input within the limits.
ACCEPTABLE: Final = frozenset({grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT})


def varint(number: int) -> bytes:
    """Protobuf base-128 varint of a non-negative integer."""
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def field(number: int, data: bytes) -> bytes:
    """A length-delimited field (string, bytes or message) with its tag."""
    return varint(number << 3 | 2) + varint(len(data)) + data


def nested_struct(depth: int) -> bytes:
    """A google.protobuf.Struct nested ``depth`` levels deep, as wire bytes.

    ``{"n": {"n": {...}}, "click_id": "x"}``: the outermost level also holds
    an identity. Built inside out, so any depth works without recursion.
    """
    struct = b""
    for _ in range(depth - 1):
        struct = _entry(b"n", field(5, struct))  # Value.struct_value = 5
    return struct + _entry(b"click_id", field(3, b"x"))  # Value.string_value = 3


def _entry(key: bytes, value: bytes) -> bytes:
    """One Struct.fields map entry (field 1): key = 1, value = 2."""
    return field(1, field(1, key) + field(2, value))


def normalize_request(payload: bytes = b"", context: bytes = b"") -> bytes:
    """A NormalizeRequest (also a valid ClassifyRequest) from raw Payload/Context bytes."""
    out = field(1, payload)
    if context:
        out += field(2, context)
    return out


def stream_item(request_id: str, request: bytes) -> bytes:
    """A NormalizeStreamRequest around raw NormalizeRequest bytes."""
    return field(1, request_id.encode()) + field(2, request)


def error_info(status: status_pb2.Status) -> error_details_pb2.ErrorInfo | None:
    """The single ErrorInfo of a status (with exactly one BadRequest), else None."""
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    requests = [d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
    if len(infos) != 1 or len(requests) != 1:
        return None
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    return info if info.domain == "conversions.v1" and info.reason else None


@dataclass(frozen=True)
class Outcome:
    """How a call ended: its code, the ErrorInfo of a rejection, the answer if OK."""

    code: grpc.StatusCode
    details: str = ""
    info: error_details_pb2.ErrorInfo | None = None
    answer: Any = None

    @property
    def reason(self) -> str:
        """``OK``, the rejection reason, or the status code's name."""
        if self.code == grpc.StatusCode.OK:
            return "OK"
        if self.code == grpc.StatusCode.INVALID_ARGUMENT and self.info is not None:
            return str(self.info.reason)
        return str(self.code.name)


def failed(error: grpc.aio.AioRpcError) -> Outcome:
    """The Outcome of a failed call; a rejection must carry its ErrorInfo."""
    info = None
    status = rpc_status.from_call(error)
    if status is not None:
        info = error_info(status)
    return Outcome(error.code(), error.details() or "", info)


async def outcome(call: Awaitable[Any]) -> Outcome:
    """Await a unary call and describe how it ended."""
    try:
        answer = await call
    except grpc.aio.AioRpcError as error:
        return failed(error)
    return Outcome(grpc.StatusCode.OK, answer=answer)


async def stream_outcome(call: AsyncIterable[Any]) -> tuple[list[Any], Outcome]:
    """Read a streaming call to its end: the answers, and how it ended."""
    answers: list[Any] = []
    try:
        async for answer in call:
            answers.append(answer)
    except grpc.aio.AioRpcError as error:
        return answers, failed(error)
    return answers, Outcome(grpc.StatusCode.OK)
