"""Bounded fuzzing in the normal suite: raw bytes, query strings and JSON.

Through the core, the only exception allowed is a Rejection, and every result
must convert to a wire response. Through the real in-process server, every
answer is OK or INVALID_ARGUMENT carrying its ErrorInfo, on every RPC, and a
stream answers each item in order. ``scripts/fuzz.py`` (``make fuzz``) runs the
same idea for hundreds of thousands of inputs.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.config import DEFAULT_MAX_MESSAGE_BYTES
from service.convert import classification_to_proto, fit_response, result_to_proto
from service.core import tables
from service.core.model import Context, Payload, Rejection
from service.core.normalize import classify, normalize
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from tests import rpc

RECEIVED = datetime(2024, 5, 1, tzinfo=UTC)
CORE = settings(max_examples=100, deadline=None, database=None)
SERVER = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Names the service reads, in their flexible spellings, plus a few it does not.
NAMES = sorted(
    {
        *(alias for aliases in tables.CORE_FIELDS.values() for alias in aliases),
        *(alias for aliases in tables.TRAITS.values() for alias in aliases),
        "conversion_type",
        "Click-ID",
        "TOTAL_VALUE",
        "xat_",
        "xat_plan",
        "xat_a",
        "items[0][id]",
        "items[1][price]",
        "products[0][qty]",
        "unknown",
    }
)
CONTENT_TYPES = [
    "",
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b",
    "multipart/form-data",
    "text/plain",
    "application/vnd.api+json; charset=latin1",
]
# Values that exercise the rules: amounts, currencies, times, macros, traits.
INTERESTING = [
    "120",
    "$1,234.50",
    "1.234,56 EUR",
    "-0",
    "1e400",
    "NaN",
    "Infinity",
    "USD",
    "eur",
    "1700000000",
    "1700000000000",
    "2024-02-30T25:00:00Z",
    "{click_id}",
    "${x}",
    "%x%",
    "purchase",
    "Lead",
    "a@b.co",
    "+1 (650) 555-0100",
    "00 44 20 7946 0958",
    "12/31/1999",
    "94025-1234",
    "United States",
    "[]",
    '[{"id": 1, "price": "2.50", "qty": 2}]',
    "0" * 70,
    "9" * 400,
    "\x00",
    "\ud7ff\ue000",
    " ",
]

names = st.one_of(st.sampled_from(NAMES), st.text(max_size=12))
values = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=40))


def _escape(text: str) -> str:
    """Percent-encode just enough to keep pairs intact; the rest stays raw."""
    return text.replace("%", "%25").replace("&", "%26").replace("=", "%3D").replace("+", "%2B")


@st.composite
def queries(draw: st.DrawFn) -> str:
    """Query strings: known and random names, odd values, raw noise, bad escapes."""
    pairs = draw(st.lists(st.tuples(names, values), max_size=12))
    text = "&".join(f"{_escape(n)}={_escape(v)}" for n, v in pairs)
    noise = draw(
        st.lists(
            st.sampled_from(["&", "=", "%", "%ff", "%zz", "+", "?", "[", "]", "%00", "%C3"]),
            max_size=6,
        )
    )
    for token in noise:
        position = draw(st.integers(0, len(text)))
        text = text[:position] + token + text[position:]
    return text


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    values,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(names, children, max_size=4)
    ),
    max_leaves=25,
)
json_objects = st.dictionaries(names, json_values, max_size=12)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """Raw bodies: random bytes, JSON text (sometimes damaged), form text."""
    kind = draw(st.sampled_from(["bytes", "json", "damaged json", "form"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=300))
    elif kind == "form":
        body = draw(queries()).encode("utf-8", "surrogatepass")
    else:
        body = json.dumps(draw(json_objects)).encode("utf-8", "surrogatepass")
        if kind == "damaged json" and body:
            position = draw(st.integers(0, len(body) - 1))
            body = body[:position] + draw(st.binary(min_size=1, max_size=3)) + body[position + 1 :]
    return body, draw(st.sampled_from(CONTENT_TYPES))


def _struct_safe(value: Any) -> Any:
    """A JSON value a protobuf Struct can hold (numbers become doubles)."""
    if isinstance(value, dict):
        return {k: _struct_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_struct_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


struct_objects = json_objects.map(_struct_safe) | st.fixed_dictionaries(
    {"click_id": st.just("x")},
    optional={
        "value": st.floats(),
        "commission": st.floats(),
        "timestamp": st.floats(),
        "xat_n": st.sampled_from([math.nan, math.inf, -math.inf]),
    },
)


@st.composite
def payloads(draw: st.DrawFn) -> Payload:
    """Core payloads: any mix of query, body and (already parsed) JSON."""
    body, content_type = draw(bodies())
    query = draw(queries()) if draw(st.booleans()) else ""
    return Payload(query=query, body=body, content_type=content_type)


@st.composite
def requests(draw: st.DrawFn) -> pb.NormalizeRequest:
    """Wire requests: query, body and json Struct, alone or together."""
    request = pb.NormalizeRequest()
    if draw(st.booleans()):
        request.payload.query = draw(queries())
    if draw(st.booleans()):
        body, content_type = draw(bodies())
        request.payload.body = body
        request.payload.content_type = content_type
    if draw(st.booleans()):
        request.payload.json.update(draw(struct_objects))
    if draw(st.booleans()):
        request.context.default_currency = draw(st.sampled_from(["EUR", "eur", "XXX", "", "€"]))
        request.context.account_id = draw(st.text(max_size=8))
    return request


def _valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _core(payload: Payload) -> None:
    """Normalize and classify; only a Rejection may escape, results reach the wire."""
    try:
        result = normalize(payload, Context(), default_currency="USD", received=RECEIVED)
    except Rejection:
        pass
    else:
        response = fit_response(result_to_proto(result), DEFAULT_MAX_MESSAGE_BYTES)
        response.SerializeToString()
    try:
        classified = classify(payload)
    except Rejection:
        return
    fit_response(classification_to_proto(classified), DEFAULT_MAX_MESSAGE_BYTES)


# --- the core ---------------------------------------------------------------------


@CORE
@given(st.binary(max_size=400), st.sampled_from(CONTENT_TYPES))
def test_core_raw_bytes(body: bytes, content_type: str) -> None:
    _core(Payload(body=body, content_type=content_type))


@CORE
@given(queries())
def test_core_query_strings(query: str) -> None:
    if _valid_utf8(query):  # the wire cannot carry anything else in a string
        _core(Payload(query=query))


@CORE
@given(json_objects, st.sampled_from(["application/json", ""]))
def test_core_json(document: dict[str, Any], content_type: str) -> None:
    body = json.dumps(document).encode("utf-8", "surrogatepass")
    _core(Payload(body=body, content_type=content_type))


@CORE
@given(payloads())
def test_core_mixed_payloads(payload: Payload) -> None:
    if _valid_utf8(payload.query):
        _core(payload)


# --- the server -----------------------------------------------------------------------


def _acceptable(ended: rpc.Outcome) -> None:
    assert ended.code in rpc.ACCEPTABLE, (ended.code, ended.details)
    if ended.code == grpc.StatusCode.INVALID_ARGUMENT:
        assert ended.info is not None, ended.details


def _wire(request: pb.NormalizeRequest) -> bytes | None:
    try:
        return request.SerializeToString()
    except Exception:  # text a client cannot send (lone surrogates)
        return None


@SERVER
@given(requests())
async def test_server_unary_calls(channel: grpc.aio.Channel, request: pb.NormalizeRequest) -> None:
    data = _wire(request)
    if data is None:
        return
    _acceptable(await rpc.outcome(channel.unary_unary(rpc.NORMALIZE)(data, timeout=30)))
    _acceptable(await rpc.outcome(channel.unary_unary(rpc.CLASSIFY)(data, timeout=30)))


@SERVER
@given(st.lists(requests(), min_size=1, max_size=5))
async def test_server_stream_answers_every_item(
    channel: grpc.aio.Channel, batch: list[pb.NormalizeRequest]
) -> None:
    wire = [data for data in map(_wire, batch) if data is not None]
    items = [rpc.stream_item(str(i), data) for i, data in enumerate(wire)]
    answers, ended = await rpc.stream_outcome(
        channel.stream_stream(rpc.NORMALIZE_STREAM)(iter(items), timeout=30)
    )
    assert ended.code == grpc.StatusCode.OK, ended.details
    replies = [pb.NormalizeStreamResponse.FromString(answer) for answer in answers]
    assert [r.request_id for r in replies] == [str(i) for i in range(len(items))]
    for reply in replies:
        if reply.WhichOneof("result") == "error":
            assert reply.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            assert rpc.error_info(reply.error) is not None


@SERVER
@given(st.binary(max_size=300))
async def test_server_raw_wire_bytes(channel: grpc.aio.Channel, data: bytes) -> None:
    # Arbitrary bytes where a NormalizeRequest should be: parsed or refused.
    _acceptable(await rpc.outcome(channel.unary_unary(rpc.NORMALIZE)(data, timeout=30)))
    answers, ended = await rpc.stream_outcome(
        channel.stream_stream(rpc.NORMALIZE_STREAM)(iter([data]), timeout=30)
    )
    assert ended.code == grpc.StatusCode.OK, ended.details
    assert len(answers) == 1
