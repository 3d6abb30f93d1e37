"""The ConversionService servicer: translate, call the core, map errors.

Every RPC goes through the same three steps, and a rejection or a defect is
turned into a status in one place (:func:`_status_for`), so no input can
surface as ``UNKNOWN`` or leak a traceback to the caller.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Final

import grpc
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from service.config import SERVICE_NAME, Config
from service.convert import (
    classification_to_proto,
    context_from_proto,
    fit_response,
    payload_from_proto,
    rejection_to_status,
    request_parser,
    result_to_proto,
)
from service.core.model import Rejection, RejectionReason
from service.core.normalize import classify, normalize, now_utc
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.outcomes import IgnoredOutcomes, Outcomes

log = logging.getLogger(__name__)

INTERNAL_MESSAGE: Final = "Internal error; the request was not processed. It has been logged."


def _status_for(error: Exception, method: str) -> status_pb2.Status:
    """The google.rpc.Status a failed call answers with."""
    if isinstance(error, Rejection):
        return rejection_to_status(error)
    # A defect, never an input problem: log the type and where (the message
    # may quote payload content), answer INTERNAL without details.
    log.error("%s failed with %s\n%s", method, type(error).__name__, _where(error))
    return status_pb2.Status(code=code_pb2.INTERNAL, message=INTERNAL_MESSAGE)


def _where(error: BaseException) -> str:
    """The traceback of ``error`` and the exceptions it chains, without their messages.

    A standard traceback ends with ``str(error)``, which may quote payload
    content (customer traits); the frames and the types are enough to find
    the defect.
    """
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(f"{type(current).__qualname__} raised at (most recent call last):\n")
        lines.extend(traceback.format_list(traceback.extract_tb(current.__traceback__)))
        current = current.__cause__ or current.__context__
    return "".join(lines).rstrip("\n")


def _unechoable(item: pb.NormalizeStreamRequest) -> Rejection:
    size = len(item.request_id.encode())
    return Rejection(
        RejectionReason.MALFORMED_PAYLOAD,
        f"The request_id is {size} bytes, too long to echo in a response.",
        field="request_id",
        metadata={"size": str(size)},
    )


def add_to_server(servicer: ConversionServicer, server: grpc.aio.Server) -> None:
    """Register ``servicer`` on ``server``.

    Like the generated ``add_ConversionServiceServicer_to_server``, except that
    requests are parsed with :func:`~service.convert.request_parser`: bytes
    protobuf cannot read reach the servicer as a rejection (``MALFORMED_PAYLOAD``)
    instead of ending the call with ``UNKNOWN``.
    """
    handlers = {
        "Normalize": grpc.unary_unary_rpc_method_handler(
            servicer.Normalize,
            request_deserializer=request_parser(pb.NormalizeRequest),
            response_serializer=pb.NormalizeResponse.SerializeToString,
        ),
        "Classify": grpc.unary_unary_rpc_method_handler(
            servicer.Classify,
            request_deserializer=request_parser(pb.ClassifyRequest),
            response_serializer=pb.ClassifyResponse.SerializeToString,
        ),
        "NormalizeStream": grpc.stream_stream_rpc_method_handler(
            servicer.NormalizeStream,
            request_deserializer=request_parser(pb.NormalizeStreamRequest),
            response_serializer=pb.NormalizeStreamResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)


class ConversionServicer(pb_grpc.ConversionServiceServicer):
    """Serves Normalize, Classify and NormalizeStream from the pure core."""

    def __init__(
        self,
        config: Config,
        clock: Callable[[], datetime] = now_utc,
        outcomes: Outcomes | None = None,
    ) -> None:
        self._default_currency = config.default_currency
        self._clock = clock
        # Told of every conversion and rejection (metrics and logs listen).
        self._outcomes: Outcomes = outcomes or IgnoredOutcomes()
        # The send limit: every answer is kept within it (fit_response).
        self._max_bytes = config.max_message_bytes

    def _normalize(
        self, request: pb.NormalizeRequest | Rejection, limit: int
    ) -> pb.NormalizeResponse:
        try:
            if isinstance(request, Rejection):
                raise request
            result = normalize(
                payload_from_proto(request.payload),
                context_from_proto(request.context),
                default_currency=self._default_currency,
                received=self._clock(),
            )
        except Rejection as rejection:
            self._outcomes.rejected(rejection)
            raise
        self._outcomes.normalized(result)
        return fit_response(result_to_proto(result), limit)

    async def Normalize(
        self, request: pb.NormalizeRequest | Rejection, context: grpc.aio.ServicerContext
    ) -> pb.NormalizeResponse:
        """Normalize one payload; a rejection ends the call with INVALID_ARGUMENT."""
        try:
            return self._normalize(request, self._max_bytes)
        except Exception as error:
            status = _status_for(error, "Normalize")
        await context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("abort_with_status returned")  # pragma: no cover

    async def Classify(
        self, request: pb.ClassifyRequest | Rejection, context: grpc.aio.ServicerContext
    ) -> pb.ClassifyResponse:
        """Classify one payload; a rejection ends the call with INVALID_ARGUMENT."""
        try:
            if isinstance(request, Rejection):
                raise request
            result = classify(payload_from_proto(request.payload))
            self._outcomes.classified(result)
            return fit_response(classification_to_proto(result), self._max_bytes)
        except Exception as error:
            status = _status_for(error, "Classify")
        await context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("abort_with_status returned")  # pragma: no cover

    async def NormalizeStream(
        self,
        request_iterator: AsyncIterator[pb.NormalizeStreamRequest | Rejection],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.NormalizeStreamResponse]:
        """One response per request, in order; failures are answered inline."""
        async for item in request_iterator:
            if isinstance(item, Rejection):
                # Unreadable: no request_id to echo, but still one answer in order.
                self._outcomes.rejected(item)
                yield pb.NormalizeStreamResponse(error=rejection_to_status(item))
                continue
            # The echoed request_id and the envelope share the send limit.
            limit = self._max_bytes - len(item.request_id.encode()) - 16
            try:
                reply = pb.NormalizeStreamResponse(
                    request_id=item.request_id, response=self._normalize(item.request, limit)
                )
            except Exception as error:
                reply = pb.NormalizeStreamResponse(
                    request_id=item.request_id, error=_status_for(error, "NormalizeStream")
                )
            if reply.ByteSize() > self._max_bytes:
                # Only a request_id near the size limit gets here: answering
                # without it keeps the stream (and the order) going.
                reply = pb.NormalizeStreamResponse(error=rejection_to_status(_unechoable(item)))
            yield reply
