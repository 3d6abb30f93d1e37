"""The ConversionService servicer: translate, call the core, map errors.

Every RPC goes through the same three steps, and a rejection or a defect is
turned into a status in one place (:func:`_status_for`), so no input can
surface as ``UNKNOWN`` or leak a traceback to the caller.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Final

import grpc
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from service.config import Config
from service.convert import (
    classification_to_proto,
    context_from_proto,
    payload_from_proto,
    rejection_to_status,
    result_to_proto,
)
from service.core.model import Rejection
from service.core.normalize import classify, normalize, now_utc
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

INTERNAL_MESSAGE: Final = "Internal error; the request was not processed. It has been logged."


def _status_for(error: Exception, method: str) -> status_pb2.Status:
    """The google.rpc.Status a failed call answers with."""
    if isinstance(error, Rejection):
        return rejection_to_status(error)
    # A defect, never an input problem: log the type and where (the message
    # may quote payload content), answer INTERNAL without details.
    log.error("%s failed with %s", method, type(error).__name__, exc_info=error)
    return status_pb2.Status(code=code_pb2.INTERNAL, message=INTERNAL_MESSAGE)


class ConversionServicer(pb_grpc.ConversionServiceServicer):
    """Serves Normalize, Classify and NormalizeStream from the pure core."""

    def __init__(self, config: Config, clock: Callable[[], datetime] = now_utc) -> None:
        self._default_currency = config.default_currency
        self._clock = clock

    def _normalize(self, request: pb.NormalizeRequest) -> pb.NormalizeResponse:
        result = normalize(
            payload_from_proto(request.payload),
            context_from_proto(request.context),
            default_currency=self._default_currency,
            received=self._clock(),
        )
        return result_to_proto(result)

    async def Normalize(
        self, request: pb.NormalizeRequest, context: grpc.aio.ServicerContext
    ) -> pb.NormalizeResponse:
        """Normalize one payload; a rejection ends the call with INVALID_ARGUMENT."""
        try:
            return self._normalize(request)
        except Exception as error:
            status = _status_for(error, "Normalize")
        await context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("abort_with_status returned")  # pragma: no cover

    async def Classify(
        self, request: pb.ClassifyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ClassifyResponse:
        """Classify one payload; a rejection ends the call with INVALID_ARGUMENT."""
        try:
            return classification_to_proto(classify(payload_from_proto(request.payload)))
        except Exception as error:
            status = _status_for(error, "Classify")
        await context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("abort_with_status returned")  # pragma: no cover

    async def NormalizeStream(
        self,
        request_iterator: AsyncIterator[pb.NormalizeStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.NormalizeStreamResponse]:
        """One response per request, in order; failures are answered inline."""
        async for item in request_iterator:
            try:
                yield pb.NormalizeStreamResponse(
                    request_id=item.request_id, response=self._normalize(item.request)
                )
            except Exception as error:
                yield pb.NormalizeStreamResponse(
                    request_id=item.request_id, error=_status_for(error, "NormalizeStream")
                )
