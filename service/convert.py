"""Translation between the wire messages and the core's plain types.

The only module besides the servicer that knows both worlds: requests become
:class:`~service.core.model.Payload` and :class:`~service.core.model.Context`,
results become ``NormalizeResponse`` and rejections become a
``google.rpc.Status`` with one ``ErrorInfo`` and one ``BadRequest``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar, cast

from google.protobuf import any_pb2, struct_pb2, timestamp_pb2
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from service.core.decode import MAX_JSON_DEPTH
from service.core.model import (
    ClassificationSource,
    ClassifyResult,
    Context,
    Customer,
    Diagnostic,
    DiagnosticCode,
    EventTimeSource,
    JsonNumber,
    JsonObject,
    MatchKeyType,
    Payload,
    Rejection,
    RejectionReason,
    Result,
    StandardEvent,
    UserData,
    Value,
)
from service.gen.conversions.v1 import conversion_service_pb2 as pb

ERROR_DOMAIN: Final = "conversions.v1"
# google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_TIMESTAMP_SECONDS: Final = -62_135_596_800
_MAX_TIMESTAMP_SECONDS: Final = 253_402_300_799
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_STANDARD_EVENT: Final = {
    e: cast(pb.StandardEvent, pb.StandardEvent.Value(f"STANDARD_EVENT_{e.name}"))
    for e in StandardEvent
}
_SOURCE: Final = {
    s: cast(
        pb.ClassificationSource, pb.ClassificationSource.Value(f"CLASSIFICATION_SOURCE_{s.name}")
    )
    for s in ClassificationSource
}
_MATCH_KEY: Final = {
    m: cast(pb.MatchKeyType, pb.MatchKeyType.Value(f"MATCH_KEY_TYPE_{m.name}"))
    for m in MatchKeyType
}
_TIME_SOURCE: Final = {
    t: cast(pb.EventTimeSource, pb.EventTimeSource.Value(f"EVENT_TIME_SOURCE_{t.name}"))
    for t in EventTimeSource
}
_DIAGNOSTIC: Final = {
    d: cast(pb.DiagnosticCode, pb.DiagnosticCode.Value(f"DIAGNOSTIC_CODE_{d.name}"))
    for d in DiagnosticCode
}


_Request = TypeVar("_Request", bound=Message)
# protobuf's (upb's) nesting limit, in messages: a json Struct reaches it past
# 33 levels (each level is a Struct, a map entry and a Value), well before
# MAX_JSON_DEPTH; a JSON body has no such limit.
_PROTOBUF_DEPTH_LIMIT: Final = 100


def request_parser(message_type: type[_Request]) -> Callable[[bytes], _Request | Rejection]:
    """A gRPC request deserializer that returns a :class:`Rejection` instead of raising.

    grpc.aio answers ``UNKNOWN`` when a request deserializer raises. Bytes that
    protobuf cannot read (a corrupt message, invalid UTF-8 in a string field,
    messages nested past protobuf's limit) are the caller's malformed request,
    so the servicer answers them with ``MALFORMED_PAYLOAD`` instead.
    """
    name = message_type.DESCRIPTOR.full_name

    def parse(data: bytes) -> _Request | Rejection:
        try:
            return message_type.FromString(data)
        except DecodeError as error:
            return _undecodable(name, str(error))

    return parse


def _undecodable(message_name: str, problem: str) -> Rejection:
    # upb says "Error parsing message with type 'X': <problem>"; X is known.
    problem = problem.rpartition("': ")[2] or problem
    if "MaxDepth" in problem:
        return Rejection(
            RejectionReason.MALFORMED_PAYLOAD,
            f"The request nests messages deeper than protobuf's limit of"
            f" {_PROTOBUF_DEPTH_LIMIT}; a json Struct can nest 33 levels"
            " (send deeper JSON in payload.body).",
            field="payload.json",
            metadata={"limit": str(_PROTOBUF_DEPTH_LIMIT)},
        )
    return Rejection(
        RejectionReason.MALFORMED_PAYLOAD,
        f"The request is not a valid {message_name} message: {problem}.",
        field="payload",
        metadata={"messageType": message_name, "problem": problem},
    )


def payload_from_proto(message: pb.Payload) -> Payload:
    """The core's Payload; a ``json`` Struct becomes ordered pairs."""
    data = None
    if message.HasField("json"):
        data = _struct(message.json, 1)
    return Payload(
        query=message.query,
        body=message.body,
        content_type=message.content_type,
        json=data,
    )


def context_from_proto(message: pb.Context) -> Context:
    """The core's Context; an unset received_time stays None.

    Raises :class:`Rejection` (``MALFORMED_PAYLOAD``) for a received_time
    outside the range google.protobuf.Timestamp allows.
    """
    received = None
    if message.HasField("received_time"):
        received = _received_time(message.received_time)
    return Context(
        account_id=message.account_id,
        integration_slug=message.integration_slug,
        default_currency=message.default_currency,
        received_time=received,
    )


def _received_time(stamp: timestamp_pb2.Timestamp) -> datetime:
    # Any int64/int32 pair arrives on the wire; ToDatetime raises ValueError
    # for one outside 0001-01-01..9999-12-31 or with nanos outside [0, 1e9).
    if not (
        _MIN_TIMESTAMP_SECONDS <= stamp.seconds <= _MAX_TIMESTAMP_SECONDS
        and 0 <= stamp.nanos < 1_000_000_000
    ):
        raise Rejection(
            RejectionReason.MALFORMED_PAYLOAD,
            f"context.received_time is not a valid timestamp (seconds {stamp.seconds},"
            f" nanos {stamp.nanos}): seconds must be in [{_MIN_TIMESTAMP_SECONDS},"
            f" {_MAX_TIMESTAMP_SECONDS}] and nanos in [0, 999999999].",
            field="context.received_time",
            metadata={
                "seconds": str(stamp.seconds),
                "nanos": str(stamp.nanos),
                "minSeconds": str(_MIN_TIMESTAMP_SECONDS),
                "maxSeconds": str(_MAX_TIMESTAMP_SECONDS),
            },
        )
    # ToDatetime(tzinfo=UTC) without its second validation and time zone
    # conversion: the same aware UTC datetime, nanoseconds truncated.
    return _EPOCH + timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)


def _too_deep() -> Rejection:
    return Rejection(
        RejectionReason.MALFORMED_PAYLOAD,
        f"The json object is nested more than {MAX_JSON_DEPTH} levels deep.",
        field="payload.json",
        metadata={"limit": str(MAX_JSON_DEPTH)},
    )


def _struct(message: struct_pb2.Struct, depth: int) -> JsonObject:
    if depth > MAX_JSON_DEPTH:
        raise _too_deep()
    # Protobuf maps carry no order (upb iterates in hash order), so keys are
    # read sorted: the same Struct always gives the same parameter list.
    return JsonObject((key, _value(message.fields[key], depth)) for key in sorted(message.fields))


def _value(message: struct_pb2.Value, depth: int) -> Value:
    kind = message.WhichOneof("kind")
    if kind == "string_value":
        return message.string_value
    if kind == "number_value":
        return _number(message.number_value)
    if kind == "bool_value":
        return message.bool_value
    if kind == "struct_value":
        return _struct(message.struct_value, depth + 1)
    if kind == "list_value":
        if depth + 1 > MAX_JSON_DEPTH:
            raise _too_deep()
        return [_value(item, depth + 1) for item in message.list_value.values]
    return None


def _number(number: float) -> JsonNumber:
    """A Struct double as JSON number text; integral ones without a fraction."""
    if math.isnan(number):
        return JsonNumber("NaN")
    if math.isinf(number):
        return JsonNumber("Infinity" if number > 0 else "-Infinity")
    if number.is_integer():
        return JsonNumber(str(int(number)))
    return JsonNumber(repr(number))


def _set_time(stamp: timestamp_pb2.Timestamp, moment: datetime) -> None:
    """``stamp.FromDatetime(moment)``, without its struct_time detour for UTC times.

    Every time the core returns is in UTC; anything else takes protobuf's path.
    """
    if moment.tzinfo is UTC:
        delta = moment - _EPOCH
        stamp.seconds = delta.days * 86_400 + delta.seconds
        stamp.nanos = delta.microseconds * 1000
    else:
        stamp.FromDatetime(moment)


def diagnostics_to_proto(diagnostics: tuple[Diagnostic, ...]) -> list[pb.Diagnostic]:
    """Wire diagnostics, in the order they were found."""
    return [
        pb.Diagnostic(code=_DIAGNOSTIC[d.code], parameter=d.parameter, message=d.message)
        for d in diagnostics
    ]


def _message_fields(core_type: type, message_type: type[Message]) -> tuple[str, ...]:
    """The fields a core dataclass shares, name for name, with its wire message."""
    names = tuple(f.name for f in dataclasses.fields(core_type))
    missing = set(names) - set(message_type.DESCRIPTOR.fields_by_name)
    if missing:
        raise RuntimeError(f"{message_type.DESCRIPTOR.name} lacks {sorted(missing)}")
    return names


_CUSTOMER_FIELDS: Final = _message_fields(Customer, pb.Customer)
_USER_DATA_FIELDS: Final = _message_fields(UserData, pb.UserData)


def result_to_proto(result: Result) -> pb.NormalizeResponse:
    """The NormalizeResponse for a normalized conversion.

    Built in place, field by field: passing sub-messages to a constructor
    would copy each of them once more, and proto3 leaves empty strings unset
    anyway, so they are skipped. This runs once per conversion.
    """
    c = result.conversion
    response = pb.NormalizeResponse()
    conversion = response.conversion
    conversion.event_name = c.event_name
    conversion.standard_event = _STANDARD_EVENT[c.standard_event]
    conversion.classified_by = _SOURCE[c.classified_by]
    conversion.match_key.type = _MATCH_KEY[c.match_key_type]
    conversion.match_key.value = c.match_key_value
    if c.click_id:
        conversion.click_id = c.click_id
    if c.ref_id:
        conversion.ref_id = c.ref_id
    if c.email:
        conversion.email = c.email
    if c.value:
        conversion.value = c.value
    if c.value_parameter:
        conversion.value_parameter = c.value_parameter
    conversion.currency = c.currency
    conversion.currency_defaulted = c.currency_defaulted
    if c.transaction_id:
        conversion.transaction_id = c.transaction_id
    if c.brand_name:
        conversion.brand_name = c.brand_name
    _set_time(conversion.event_time, c.event_time)
    conversion.event_time_source = _TIME_SOURCE[c.event_time_source]
    for message, values, names in (
        (conversion.customer, c.customer, _CUSTOMER_FIELDS),
        (conversion.user_data, c.user_data, _USER_DATA_FIELDS),
    ):
        for name in names:
            text = getattr(values, name)
            if text:
                setattr(message, name, text)
    # The sub-messages are always present on the wire, even when empty.
    conversion.customer.SetInParent()
    conversion.user_data.SetInParent()
    add_item = conversion.items.add
    for item in c.items:
        add_item(
            id=item.id,
            name=item.name,
            variant=item.variant,
            price=item.price,
            quantity=item.quantity or 0,
        )
    if c.passthrough:
        conversion.passthrough.update(c.passthrough)
    if c.dedup_key:
        conversion.dedup_key = c.dedup_key
    add_diagnostic = response.diagnostics.add
    for d in result.diagnostics:
        add_diagnostic(code=_DIAGNOSTIC[d.code], parameter=d.parameter, message=d.message)
    return response


def classification_to_proto(result: ClassifyResult) -> pb.ClassifyResponse:
    """The ClassifyResponse for a classification."""
    c = result.classification
    return pb.ClassifyResponse(
        event_name=c.event_name,
        standard_event=_STANDARD_EVENT[c.standard_event],
        classified_by=_SOURCE[c.classified_by],
        diagnostics=diagnostics_to_proto(result.diagnostics),
    )


_Answer = TypeVar("_Answer", pb.NormalizeResponse, pb.ClassifyResponse)
# Room kept for the note that says how many diagnostics were left out.
_OMISSION_NOTE_BYTES: Final = 256


def fit_response(response: _Answer, limit: int) -> _Answer:
    """Keep ``response`` within ``limit`` bytes, the server's send limit.

    A payload within the receive limit can still make a larger answer: every
    unknown parameter or item field leaves a diagnostic quoting its name, and
    a replaced invalid UTF-8 byte triples. gRPC would fail such a call (or a
    whole stream) with RESOURCE_EXHAUSTED, losing the conversion; instead the
    diagnostics that do not fit are dropped and one last diagnostic (code
    DIAGNOSTICS_TRUNCATED) says how many. Raises :class:`Rejection` (``MALFORMED_PAYLOAD``)
    when the result is over the limit even without diagnostics.
    """
    if response.ByteSize() <= limit:
        return response
    diagnostics = list(response.diagnostics)
    del response.diagnostics[:]
    base = response.ByteSize()
    if base + _OMISSION_NOTE_BYTES > limit:
        raise Rejection(
            RejectionReason.MALFORMED_PAYLOAD,
            f"The result would be {base} bytes, over the response limit of {limit} bytes:"
            " parameter values are too long.",
            field="payload",
            metadata={"size": str(base), "limit": str(limit)},
        )
    budget = limit - base - _OMISSION_NOTE_BYTES
    kept = 0
    for diagnostic in diagnostics:
        # Field tag, length prefix (at most 5 bytes), message.
        budget -= 6 + diagnostic.ByteSize()
        if budget < 0:
            break
        kept += 1
    response.diagnostics.extend(diagnostics[:kept])
    response.diagnostics.add(
        code=pb.DIAGNOSTIC_CODE_DIAGNOSTICS_TRUNCATED,
        message=f"{len(diagnostics) - kept} more diagnostics were left out to keep the"
        f" response within {limit} bytes.",
    )
    return response


def rejection_to_status(rejection: Rejection) -> status_pb2.Status:
    """INVALID_ARGUMENT with exactly one ErrorInfo and one BadRequest (AIP-193)."""
    info = any_pb2.Any()
    info.Pack(
        error_details_pb2.ErrorInfo(
            reason=rejection.reason.value,
            domain=ERROR_DOMAIN,
            metadata=rejection.metadata,
        )
    )
    bad_request = any_pb2.Any()
    bad_request.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=rejection.field,
                    description=rejection.message,
                    reason=rejection.reason.value,
                )
            ]
        )
    )
    return status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT,
        message=rejection.message,
        details=[info, bad_request],
    )
