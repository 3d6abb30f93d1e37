"""Translation between the wire messages and the core's plain types.

The only module besides the servicer that knows both worlds: requests become
:class:`~service.core.model.Payload` and :class:`~service.core.model.Context`,
results become ``NormalizeResponse`` and rejections become a
``google.rpc.Status`` with one ``ErrorInfo`` and one ``BadRequest``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final, cast

from google.protobuf import any_pb2, struct_pb2, timestamp_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from service.core.decode import MAX_JSON_DEPTH
from service.core.model import (
    ClassificationSource,
    ClassifyResult,
    Context,
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
    Value,
)
from service.gen.conversions.v1 import conversion_service_pb2 as pb

ERROR_DOMAIN: Final = "conversions.v1"

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
    """The core's Context; an unset received_time stays None."""
    received = None
    if message.HasField("received_time"):
        received = message.received_time.ToDatetime(tzinfo=UTC)
    return Context(
        account_id=message.account_id,
        integration_slug=message.integration_slug,
        default_currency=message.default_currency,
        received_time=received,
    )


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


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def diagnostics_to_proto(diagnostics: tuple[Diagnostic, ...]) -> list[pb.Diagnostic]:
    """Wire diagnostics, in the order they were found."""
    return [
        pb.Diagnostic(code=_DIAGNOSTIC[d.code], parameter=d.parameter, message=d.message)
        for d in diagnostics
    ]


def result_to_proto(result: Result) -> pb.NormalizeResponse:
    """The NormalizeResponse for a normalized conversion."""
    c = result.conversion
    customer = c.customer
    user = c.user_data
    conversion = pb.Conversion(
        event_name=c.event_name,
        standard_event=_STANDARD_EVENT[c.standard_event],
        classified_by=_SOURCE[c.classified_by],
        match_key=pb.MatchKey(type=_MATCH_KEY[c.match_key_type], value=c.match_key_value),
        click_id=c.click_id,
        ref_id=c.ref_id,
        email=c.email,
        value=c.value,
        value_parameter=c.value_parameter,
        currency=c.currency,
        currency_defaulted=c.currency_defaulted,
        transaction_id=c.transaction_id,
        brand_name=c.brand_name,
        event_time=_timestamp(c.event_time),
        event_time_source=_TIME_SOURCE[c.event_time_source],
        customer=pb.Customer(
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
            full_name=customer.full_name,
            phone=customer.phone,
            birthdate=customer.birthdate,
            city=customer.city,
            state=customer.state,
            zipcode=customer.zipcode,
            country=customer.country,
        ),
        user_data=pb.UserData(
            em=user.em,
            ph=user.ph,
            fn=user.fn,
            ln=user.ln,
            db=user.db,
            ct=user.ct,
            st=user.st,
            zp=user.zp,
            country=user.country,
        ),
        items=[
            pb.Item(
                id=item.id,
                name=item.name,
                variant=item.variant,
                price=item.price,
                quantity=item.quantity or 0,
            )
            for item in c.items
        ],
        passthrough=c.passthrough,
        dedup_key=c.dedup_key,
    )
    return pb.NormalizeResponse(
        conversion=conversion, diagnostics=diagnostics_to_proto(result.diagnostics)
    )


def classification_to_proto(result: ClassifyResult) -> pb.ClassifyResponse:
    """The ClassifyResponse for a classification."""
    c = result.classification
    return pb.ClassifyResponse(
        event_name=c.event_name,
        standard_event=_STANDARD_EVENT[c.standard_event],
        classified_by=_SOURCE[c.classified_by],
        diagnostics=diagnostics_to_proto(result.diagnostics),
    )


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
