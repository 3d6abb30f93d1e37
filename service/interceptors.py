"""Server interceptors: observability and bearer-token authentication.

:class:`ObservabilityInterceptor` wraps every RPC: it counts the standard
``grpc_server_*`` series and writes one log line when the call ends (method,
status code, duration, the event or the ErrorInfo reason, the caller's
``x-request-id``). :class:`CallOutcomes` is what the servicer reports
normalization outcomes to; it feeds the domain counters and the running call's
log line. :class:`AuthInterceptor` refuses calls without the configured token.

Log lines hold names, codes and counts only, never payload values or
diagnostic messages: they are safe to ship to any log store.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import inspect
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Final

import grpc
from google.protobuf import any_pb2, message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from service.config import SERVICE_NAME
from service.convert import ERROR_DOMAIN
from service.core.model import ClassifyResult, Rejection, Result
from service.metrics import Metrics, code_label, event_label

log = logging.getLogger("service.rpc")

REQUEST_ID_KEY: Final = "x-request-id"
# A request id is an opaque correlation token; a longer one is cut, not logged whole.
MAX_REQUEST_ID: Final = 128
AUTHORIZATION_KEY: Final = "authorization"
STATUS_DETAILS_KEY: Final = "grpc-status-details-bin"
HEALTH_PREFIX: Final = "/grpc.health.v1.Health/"
REFLECTION_PREFIXES: Final = (
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
# Codes that point at the server rather than at the caller.
_SERVER_FAULTS: Final = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
)
_GRPC_TYPES: Final = {
    (False, False): "unary",
    (True, False): "client_stream",
    (False, True): "server_stream",
    (True, True): "bidi_stream",
}
_HANDLER_FACTORIES: Final = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


def grpc_type(request_streaming: bool, response_streaming: bool) -> str:
    """The ``grpc_type`` label: unary, client_stream, server_stream or bidi_stream."""
    return _GRPC_TYPES[(request_streaming, response_streaming)]


def _behavior(handler: grpc.RpcMethodHandler) -> Behavior:
    return (  # type: ignore[no-any-return]
        handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    )


def _with_behavior(handler: grpc.RpcMethodHandler, behavior: Behavior) -> grpc.RpcMethodHandler:
    """A handler of the same kind and (de)serializers that runs ``behavior``."""
    factory = _HANDLER_FACTORIES[(handler.request_streaming, handler.response_streaming)]
    return factory(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _metadata_value(metadata: Iterable[tuple[str, str | bytes]] | None, key: str) -> list[str]:
    values = []
    for name, value in metadata or ():
        if name == key:
            values.append(value.decode("ascii", "replace") if isinstance(value, bytes) else value)
    return values


@dataclass(slots=True)
class CallRecord:
    """What one RPC did, gathered while it runs, for its log line."""

    event: str = ""
    normalized: int = 0
    rejected: int = 0
    diagnostics: int = 0


# Each RPC runs in its own contextvars.Context (grpc.aio's interceptor
# contract), so the record set when a call starts is that call's alone.
_CURRENT: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar(
    "conversions_call_record", default=None
)


class CallOutcomes:
    """Where the servicer reports outcomes: domain counters and the call's log line."""

    def __init__(self, metrics: Metrics | None) -> None:
        self._metrics = metrics

    def normalized(self, result: Result) -> None:
        """A payload became a conversion (a Normalize call or a stream item)."""
        event = event_label(result.conversion.standard_event)
        if self._metrics is not None:
            self._metrics.normalized_by_event[event].inc()
            for diagnostic in result.diagnostics:
                self._metrics.diagnostics_by_code[diagnostic.code].inc()
        record = _CURRENT.get()
        if record is not None:
            record.event = event
            record.normalized += 1
            record.diagnostics += len(result.diagnostics)

    def rejected(self, rejection: Rejection) -> None:
        """A payload was refused by Normalize (a call or a stream item)."""
        if self._metrics is not None:
            self._metrics.rejected_by_reason[rejection.reason].inc()
        record = _CURRENT.get()
        if record is not None:
            record.rejected += 1

    def classified(self, result: ClassifyResult) -> None:
        """A Classify call found the event; only its log line hears of it."""
        record = _CURRENT.get()
        if record is not None:
            record.event = event_label(result.classification.standard_event)
            record.diagnostics += len(result.diagnostics)


def _final_code(context: grpc.aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    if isinstance(error, asyncio.CancelledError | GeneratorExit) or context.cancelled():
        # grpc cancels the handler both when the caller cancels and when the
        # deadline passes; only the clock tells them apart.
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED
        return grpc.StatusCode.CANCELLED
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    # No code set: a normal return is OK; any other exception grpc answers
    # with UNKNOWN.
    return grpc.StatusCode.OK if error is None else grpc.StatusCode.UNKNOWN


def _error_reason(context: grpc.aio.ServicerContext) -> str:
    """The ErrorInfo reason of the status the call ended with, if it has one."""
    for name, value in context.trailing_metadata() or ():
        if name != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except message.DecodeError:
            return ""
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return str(info.reason)
    return ""


class _MethodObserver:
    """What every call of one method shares: names, log level, metric children.

    Built once per method, so a call pays for no label lookups.
    """

    __slots__ = (
        "_handled",
        "_labels",
        "_metrics",
        "counts_items",
        "level",
        "method",
        "received",
        "seconds",
        "sent",
        "started",
    )

    def __init__(self, method: str, kind: str, metrics: Metrics | None) -> None:
        service, _, name = method.lstrip("/").partition("/")
        self.method = method
        # NormalizeStream's line counts its items; other streams (health
        # Watch, reflection) have none to count.
        self.counts_items = kind != "unary" and service == SERVICE_NAME
        # Probes check health every few seconds: their lines are debug noise.
        self.level = logging.DEBUG if method.startswith(HEALTH_PREFIX) else logging.INFO
        self._metrics = metrics
        self._labels = (kind, service, name)
        self._handled: dict[grpc.StatusCode, Any] = {}
        if metrics is not None:
            self.started = metrics.started.labels(*self._labels)
            self.seconds = metrics.handling_seconds.labels(*self._labels)
            self.received = metrics.msg_received.labels(*self._labels)
            self.sent = metrics.msg_sent.labels(*self._labels)

    def handled(self, code: grpc.StatusCode) -> Any:
        """The ``grpc_server_handled_total`` child for ``code``."""
        child = self._handled.get(code)
        if child is None and self._metrics is not None:
            child = self._metrics.handled.labels(*self._labels, code_label(code))
            self._handled[code] = child
        return child


class _Observation:
    """One call's metrics and log line, from its start to its status."""

    __slots__ = ("_start", "metered", "method", "record")

    def __init__(self, method: _MethodObserver, metered: bool) -> None:
        self.method = method
        self.metered = metered
        self._start = time.perf_counter()
        self.record = CallRecord()
        _CURRENT.set(self.record)
        if metered:
            method.started.inc()

    def received(self) -> None:
        if self.metered:
            self.method.received.inc()

    def sent(self) -> None:
        if self.metered:
            self.method.sent.inc()

    def finish(self, context: grpc.aio.ServicerContext, error: BaseException | None) -> None:
        elapsed = time.perf_counter() - self._start
        code = _final_code(context, error)
        method = self.method
        if self.metered:
            method.handled(code).inc()
            method.seconds.observe(elapsed)
        level = logging.WARNING if code in _SERVER_FAULTS else method.level
        if log.isEnabledFor(level):
            log.log(level, "rpc finished", extra={"fields": self._fields(context, code, elapsed)})

    def _fields(
        self, context: grpc.aio.ServicerContext, code: grpc.StatusCode, elapsed: float
    ) -> dict[str, str | int | float]:
        fields: dict[str, str | int | float] = {
            "method": self.method.method,
            "code": code.name,
            "duration_ms": round(elapsed * 1000, 3),
        }
        request_ids = _metadata_value(context.invocation_metadata(), REQUEST_ID_KEY)
        if request_ids:
            fields["request_id"] = request_ids[0][:MAX_REQUEST_ID]
        record = self.record
        if self.method.counts_items:
            fields["normalized"] = record.normalized
            fields["rejected"] = record.rejected
        elif record.event:
            fields["event"] = record.event
            fields["diagnostics"] = record.diagnostics
        if code is not grpc.StatusCode.OK:
            reason = _error_reason(context)
            if reason:
                fields["reason"] = reason
        return fields


class _CountedRequests:
    """A request stream that counts each message as the behavior reads it.

    A plain async iterator, not an async generator: nothing is left to
    finalize when the behavior stops reading early. grpc's own iterator is
    only asked for once the behavior reads (grpc creates its receiver lazily:
    one created and never run is reported as a coroutine never awaited).
    """

    __slots__ = ("_iterator", "_observation", "_requests")

    def __init__(self, requests: AsyncIterable[Any], observation: _Observation) -> None:
        self._requests = requests
        self._iterator: AsyncIterator[Any] | None = None
        self._observation = observation

    def __aiter__(self) -> _CountedRequests:
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = aiter(self._requests)
        request = await anext(self._iterator)
        self._observation.received()
        return request


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Metrics (when ``metrics`` is given) and one log line for every RPC."""

    def __init__(self, metrics: Metrics | None) -> None:
        self._metrics = metrics
        # method → (the handler found, its observed twin): handlers are
        # registered once, so each is wrapped once, not on every call.
        self._observed: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        cached = self._observed.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        observed = self._observe(method, handler)
        self._observed[method] = (handler, observed)
        return observed

    def _observe(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        kind = grpc_type(handler.request_streaming, handler.response_streaming)
        observer = _MethodObserver(method, kind, self._metrics)
        metered = self._metrics is not None

        def observe() -> _Observation:
            return _Observation(observer, metered)

        behavior = _behavior(handler)
        if handler.response_streaming and inspect.isasyncgenfunction(behavior):
            wrapped = _observed_stream(behavior, observe, handler.request_streaming)
        else:
            wrapped = _observed_call(
                behavior, observe, handler.request_streaming, handler.response_streaming
            )
        return _with_behavior(handler, wrapped)


def _observed_call(
    behavior: Behavior,
    observe: Callable[[], _Observation],
    request_streaming: bool,
    response_streaming: bool,
) -> Behavior:
    """Observe a behavior that returns its response (or writes with context.write)."""

    async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
        observation = observe()
        if request_streaming:
            request = _CountedRequests(request, observation)
        else:
            observation.received()
        try:
            response = await behavior(request, context)
        except BaseException as error:
            observation.finish(context, error)
            raise
        if not response_streaming:
            observation.sent()
        observation.finish(context, None)
        return response

    return observed


def _observed_stream(
    behavior: Behavior, observe: Callable[[], _Observation], request_streaming: bool
) -> Behavior:
    """Observe a behavior that yields its responses."""

    async def observed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        observation = observe()
        if request_streaming:
            request = _CountedRequests(request, observation)
        else:
            observation.received()
        try:
            async with aclosing(behavior(request, context)) as responses:
                async for response in responses:
                    observation.sent()
                    yield response
        except BaseException as error:
            observation.finish(context, error)
            raise
        observation.finish(context, None)

    return observed


MISSING_CREDENTIALS: Final = "MISSING_CREDENTIALS"
INVALID_TOKEN: Final = "INVALID_TOKEN"  # noqa: S105 - a reason code, not a secret
_AUTH_MESSAGES: Final = {
    MISSING_CREDENTIALS: (
        "Missing credentials: send the metadata `authorization: Bearer <token>`."
    ),
    INVALID_TOKEN: (
        "Invalid credentials: the `authorization` metadata must be `Bearer <token>` "
        "with the token this server is configured with."
    ),
}


def unauthenticated_status(reason: str) -> status_pb2.Status:
    """UNAUTHENTICATED with one ErrorInfo (AIP-193); the token is never echoed."""
    info = any_pb2.Any()
    info.Pack(
        error_details_pb2.ErrorInfo(
            reason=reason,
            domain=ERROR_DOMAIN,
            metadata={"metadataKey": AUTHORIZATION_KEY, "scheme": "Bearer"},
        )
    )
    return status_pb2.Status(
        code=code_pb2.UNAUTHENTICATED, message=_AUTH_MESSAGES[reason], details=[info]
    )


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuse calls that lack ``authorization: Bearer <token>``.

    Methods whose full name starts with one of ``open_prefixes`` (health and
    reflection by default) are served without a token. The token is compared
    in constant time.
    """

    def __init__(self, token: str, open_prefixes: Iterable[str]) -> None:
        self._token = token.encode("utf-8")
        self._open = tuple(open_prefixes)
        self._refusals = {
            reason: rpc_status.to_status(unauthenticated_status(reason))
            for reason in _AUTH_MESSAGES
        }
        # (method, reason) → (the handler found, the handler refusing it): the
        # same object every time, so the observability interceptor's cache holds.
        self._refusing: dict[
            tuple[str, str], tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]
        ] = {}

    def refusal(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
        """The ErrorInfo reason to refuse a call with these metadata, or None."""
        values = _metadata_value(metadata, AUTHORIZATION_KEY)
        if not values:
            return MISSING_CREDENTIALS
        scheme, _, credentials = values[0].strip().partition(" ")
        presented = credentials.strip().encode("utf-8")
        # compare_digest runs even for a wrong scheme, so timing tells nothing.
        matches = hmac.compare_digest(presented, self._token)
        if len(values) == 1 and scheme.lower() == "bearer" and matches:
            return None
        return INVALID_TOKEN

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or details.method.startswith(self._open):
            return handler
        reason = self.refusal(details.invocation_metadata)
        if reason is None:
            return handler
        key = (details.method, reason)
        cached = self._refusing.get(key)
        if cached is None or cached[0] is not handler:
            cached = (handler, _with_behavior(handler, self._refuse(reason)))
            self._refusing[key] = cached
        return cached[1]

    def _refuse(self, reason: str) -> Behavior:
        refusal = self._refusals[reason]

        async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort_with_status(refusal)

        return refuse
