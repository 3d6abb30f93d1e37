"""Hostile input: every payload a sender could craft gets an exact, clean answer.

Each case goes through the real in-process server, on all three RPCs; where a
limit lives in the pure core, the core is tested directly too. Nothing here
may answer INTERNAL or UNKNOWN, raise anything but a Rejection from the core,
or abort a stream for one bad item (except gRPC's own RESOURCE_EXHAUSTED for a
message over the receive limit, which ends the call by design).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2, timestamp_pb2

from service.config import DEFAULT_MAX_MESSAGE_BYTES
from service.core import decode as core_decode
from service.core import normalize as core_normalize
from service.core import tables, timestamps, traits, values
from service.core.decode import MAX_PARAMETERS, MAX_PAYLOAD_BYTES
from service.core.model import Context, JsonNumber, JsonObject, Payload, Rejection, Value
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from tests import rpc

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "hostile-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
OK = "OK"
MALFORMED = "MALFORMED_PAYLOAD"
MISSING = "MISSING_MATCH_KEY"
TOO_BIG = "RESOURCE_EXHAUSTED"
ONE_MIB = 1024 * 1024
RECEIVED = datetime(2024, 5, 1, tzinfo=UTC)

Check = Callable[[pb.NormalizeResponse], None]


@dataclass(frozen=True)
class Hostile:
    """One hostile request and the exact answer Normalize gives it.

    ``expect`` is ``OK``, a rejection reason, or ``RESOURCE_EXHAUSTED``;
    ``diagnostics`` are codes the response must carry; ``classify`` and
    ``stream`` override ``expect`` where those RPCs legitimately differ.
    """

    build: Callable[[], pb.NormalizeRequest | bytes]
    expect: str
    diagnostics: frozenset[str] = frozenset()
    check: Check | None = None
    classify: str | None = None
    stream: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _body(body: bytes, content_type: str = "", query: str = "") -> pb.NormalizeRequest:
    return pb.NormalizeRequest(
        payload=pb.Payload(query=query, body=body, content_type=content_type)
    )


def _query(query: str) -> pb.NormalizeRequest:
    return pb.NormalizeRequest(payload=pb.Payload(query=query))


def _struct(data: dict[str, Any]) -> pb.NormalizeRequest:
    request = pb.NormalizeRequest()
    request.payload.json.update(data)
    return request


def _pairs(n: int, prefix: str = "k") -> str:
    return "&".join(f"{prefix}{i}=v" for i in range(n))


def _multipart(*fields: tuple[str, bytes]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _json(document: object) -> pb.NormalizeRequest:
    return _body(json.dumps(document).encode(), JSON)


def _has(code: str) -> str:
    return code


def _click_is(expected: str) -> Check:
    def check(response: pb.NormalizeResponse) -> None:
        assert response.conversion.click_id == expected

    return check


def _big_numbers(response: pb.NormalizeResponse) -> None:
    conversion = response.conversion
    assert conversion.value == ""
    assert conversion.transaction_id == "9" * 5000  # ids are text, kept exactly
    assert conversion.event_time_source == pb.EVENT_TIME_SOURCE_RECEIVED
    (item,) = conversion.items
    assert item.price == ""
    assert item.quantity == 0


def _huge_exponents(response: pb.NormalizeResponse) -> None:
    assert response.conversion.value == ""
    assert response.conversion.event_time_source == pb.EVENT_TIME_SOURCE_RECEIVED


def _thousand_items(response: pb.NormalizeResponse) -> None:
    assert len(response.conversion.items) == 1000
    assert response.conversion.items[-1].id == "9"


def _nested_scalars(response: pb.NormalizeResponse) -> None:
    conversion = response.conversion
    assert conversion.match_key.type == pb.MATCH_KEY_TYPE_EMAIL
    assert (conversion.click_id, conversion.value, conversion.transaction_id) == ("", "", "")
    assert conversion.currency_defaulted
    assert conversion.event_name == "Lead"


def _first_duplicate_wins(response: pb.NormalizeResponse) -> None:
    assert response.conversion.click_id == "first"
    assert response.conversion.value == "1"


def _struct_extremes(response: pb.NormalizeResponse) -> None:
    conversion = response.conversion
    assert conversion.click_id == "NaN"  # a scalar as text; identities are opaque
    assert conversion.value == ""  # NaN/Infinity are never amounts
    assert conversion.event_time_source == pb.EVENT_TIME_SOURCE_RECEIVED
    assert conversion.passthrough == {"big": "Infinity", "small": "-Infinity"}
    assert all((item.price, item.quantity) == ("", 0) for item in conversion.items)


def _diagnostics_trimmed(response: pb.NormalizeResponse) -> None:
    assert response.ByteSize() <= DEFAULT_MAX_MESSAGE_BYTES
    last = response.diagnostics[-1]
    assert last.code == pb.DIAGNOSTIC_CODE_DIAGNOSTICS_TRUNCATED
    assert re.fullmatch(r"\d+ more diagnostics were left out to keep the response .*", last.message)
    assert response.conversion.click_id == "x"


def _long_name_reported(response: pb.NormalizeResponse) -> None:
    assert response.ByteSize() <= DEFAULT_MAX_MESSAGE_BYTES
    (unknown,) = response.diagnostics
    assert unknown.parameter == "%" * (ONE_MIB - 16)
    assert len(unknown.message) < 200
    assert response.conversion.click_id == "x"


def _nul_kept(response: pb.NormalizeResponse) -> None:
    assert response.conversion.click_id == "a\x00b"
    assert response.conversion.currency == "USD"


def _out_of_range_time() -> pb.NormalizeRequest:
    request = _query("click_id=x")
    request.context.received_time.CopyFrom(timestamp_pb2.Timestamp(seconds=2**62))
    return request


def _bad_utf8_in_string_field() -> bytes:
    return rpc.normalize_request(rpc.field(1, b"click_id=\xff\xfe"))


def _struct_depth(depth: int) -> Callable[[], bytes]:
    return lambda: rpc.normalize_request(rpc.field(4, rpc.nested_struct(depth)))


def _deep_list_struct() -> pb.NormalizeRequest:
    request = pb.NormalizeRequest()
    request.payload.json.fields["click_id"].string_value = "x"
    value = request.payload.json.fields["value"]
    for _ in range(40):
        value = value.list_value.values.add()
    value.number_value = 1
    return request


def _struct_nan() -> pb.NormalizeRequest:
    return _struct(
        {
            "click_id": math.nan,
            "value": math.inf,
            "timestamp": math.nan,
            "xat_big": math.inf,
            "xat_small": -math.inf,
            "items": [{"price": math.nan, "quantity": math.inf}],
        }
    )


NESTED = 60  # deeper than any sane document, within MAX_JSON_DEPTH


def _nest(depth: int, leaf: object) -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


CASES: dict[str, Hostile] = {
    # --- size limits ---------------------------------------------------------
    "message over the receive limit": Hostile(
        lambda: _body(b"x" * (2 * ONE_MIB), FORM), TOO_BIG, classify=TOO_BIG
    ),
    "payload just over 1 MiB, under the receive limit": Hostile(
        lambda: _body(b"click_id=x&a=" + b"x" * MAX_PAYLOAD_BYTES, FORM),
        MALFORMED,
        extra={"size": str(MAX_PAYLOAD_BYTES + 13), "limit": str(MAX_PAYLOAD_BYTES)},
    ),
    "query and body together just over 1 MiB": Hostile(
        lambda: _body(b"b=" + b"y" * (ONE_MIB // 2), FORM, query="a=" + "x" * (ONE_MIB // 2)),
        MALFORMED,
    ),
    "10001 query parameters": Hostile(
        lambda: _query(_pairs(MAX_PARAMETERS + 1)), MALFORMED, extra={"limit": "10000"}
    ),
    "10001 form parameters": Hostile(
        lambda: _body(_pairs(MAX_PARAMETERS + 1).encode(), FORM), MALFORMED
    ),
    "10001 JSON body parameters": Hostile(
        lambda: _json({f"k{i}": i for i in range(MAX_PARAMETERS + 1)}), MALFORMED
    ),
    "10001 json Struct parameters": Hostile(
        lambda: _struct({f"k{i}": i for i in range(MAX_PARAMETERS + 1)}), MALFORMED
    ),
    "10001 multipart parameters": Hostile(
        lambda: _body(_multipart(*((f"k{i}", b"v") for i in range(MAX_PARAMETERS + 1))), MULTIPART),
        MALFORMED,
    ),
    "10000 parameters with long names (answer over the send limit)": Hostile(
        lambda: _query("click_id=x&" + "&".join(f"{i:090d}=1" for i in range(9999))),
        OK,
        frozenset({"UNKNOWN_PARAMETER"}),
        _diagnostics_trimmed,
    ),
    "a single 1 MiB value in an unknown parameter": Hostile(
        lambda: _query("click_id=x&blob=" + "v" * (ONE_MIB - 32)),
        OK,
        frozenset({"UNKNOWN_PARAMETER"}),
    ),
    "a single 1 MiB value as the amount": Hostile(
        lambda: _query("click_id=x&value=" + "9" * (ONE_MIB - 32)),
        OK,
        frozenset({"INVALID_VALUE"}),
    ),
    "a single 1 MiB value as passthrough (echoed once)": Hostile(
        lambda: _query("click_id=x&xat_blob=" + "v" * (ONE_MIB - 32)), OK
    ),
    "a single 1 MiB click_id (echoed twice: over the send limit)": Hostile(
        lambda: _query("click_id=" + "c" * (ONE_MIB - 16)), MALFORMED, classify=OK
    ),
    "a 1 MiB name of percent signs": Hostile(
        lambda: _query("click_id=x&" + "%" * (ONE_MIB - 16)),
        OK,
        # The diagnostic carries the name once; its message quotes a short
        # prefix, so the answer stays within the send limit.
        frozenset({"UNKNOWN_PARAMETER"}),
        _long_name_reported,
    ),
    # --- nesting ---------------------------------------------------------------
    "JSON body array nested 10000 deep": Hostile(
        lambda: _body(b"[" * 10_000 + b"]" * 10_000, JSON), MALFORMED
    ),
    "JSON body object nested 10000 deep": Hostile(
        lambda: _body(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, JSON),
        MALFORMED,
        extra={"limit": "64"},
    ),
    "unterminated JSON nested 100000 deep (sniffed)": Hostile(
        lambda: _body(b'{"a": ' + b"[" * 100_000), MALFORMED
    ),
    "items string nested 10000 deep": Hostile(
        lambda: _query("click_id=x&items=" + "[" * 10_000),
        OK,
        frozenset({"INVALID_VALUE"}),
    ),
    "json Struct nested 33 deep (protobuf's limit)": Hostile(
        _struct_depth(33), OK, frozenset({"UNKNOWN_PARAMETER"})
    ),
    "json Struct nested 34 deep (past protobuf's limit)": Hostile(_struct_depth(34), MALFORMED),
    "json Struct nested 65 deep": Hostile(_struct_depth(65), MALFORMED, extra={"limit": "100"}),
    "json Struct nested 10000 deep": Hostile(_struct_depth(10_000), MALFORMED),
    "json Struct lists nested 40 deep in a scalar field": Hostile(
        _deep_list_struct, OK, frozenset({"INVALID_VALUE"})
    ),
    "deeply nested values in scalar fields": Hostile(
        lambda: _json(
            {
                "click_id": _nest(NESTED, "c"),
                "value": _nest(NESTED, 1),
                "currency": _nest(NESTED, "EUR"),
                "transaction_id": _nest(NESTED, "t"),
                "timestamp": _nest(NESTED, 1700000000),
                "email": "a@b.co",
            }
        ),
        OK,
        frozenset({"INVALID_VALUE"}),
        _nested_scalars,
    ),
    # --- encodings ---------------------------------------------------------------
    "invalid UTF-8 percent-encoded in the query": Hostile(
        lambda: _query("click_id=a%FFb&na%C3me=%80"),
        OK,
        frozenset({"INVALID_VALUE"}),
        _click_is("a\ufffdb"),
    ),
    "invalid UTF-8 in a form body": Hostile(
        lambda: _body(b"click_id=a\xffb&\xfe=\xc3", FORM),
        OK,
        frozenset({"INVALID_VALUE"}),
        _click_is("a\ufffdb"),
    ),
    "invalid UTF-8 in a JSON body": Hostile(
        lambda: _body(b'{"click_id": "a\xffb"}', JSON),
        MALFORMED,
        extra={"byteOffset": "15"},
    ),
    "invalid UTF-8 in a multipart body": Hostile(
        lambda: _body(_multipart(("click_id", b"a\xffb")), MULTIPART),
        OK,
        frozenset({"INVALID_VALUE"}),
        _click_is("a\ufffdb"),
    ),
    "invalid UTF-8 in a protobuf string field": Hostile(_bad_utf8_in_string_field, MALFORMED),
    "corrupt protobuf bytes": Hostile(lambda: b"\xff\xff\xff\xff", MALFORMED),
    "unpaired surrogate escape in JSON": Hostile(
        lambda: _body(b'{"click_id": "a\\ud800b"}', JSON), OK, frozenset({"INVALID_VALUE"})
    ),
    "NUL bytes in the query": Hostile(
        lambda: _query("click_id=a%00b&%00=%00"), OK, check=_nul_kept
    ),
    "NUL bytes in a form body": Hostile(
        lambda: _body(b"click_id=a\x00b&\x00=\x00", FORM), OK, check=_nul_kept
    ),
    "NUL escapes in a JSON body": Hostile(
        lambda: _body(b'{"click_id": "a\\u0000b", "\\u0000": 1}', JSON), OK, check=_nul_kept
    ),
    "raw NUL inside a JSON string": Hostile(
        lambda: _body(b'{"click_id": "a\x00b"}', JSON), MALFORMED
    ),
    "NUL bytes in the content type": Hostile(
        lambda: _body(b'{"click_id": "a\\u0000b"}', "application/json\x00; a=\x00"),
        OK,
        check=_nul_kept,
    ),
    # --- numbers -------------------------------------------------------------------
    "numbers with 5000 digits": Hostile(
        lambda: _body(
            b'{"click_id": "x", "value": %s, "transaction_id": %s, "timestamp": %s,'
            b' "items": [{"id": "i", "price": %s, "quantity": %s}]}'
            % (b"1" * 5000, b"9" * 5000, b"1" * 5000, b"2" * 5000, b"3" * 5000),
            JSON,
        ),
        OK,
        frozenset({"INVALID_VALUE", "INVALID_TIMESTAMP"}),
        _big_numbers,
    ),
    "numbers with 5000 digits in the query": Hostile(
        lambda: _query(f"click_id=x&value={'7' * 5000}&timestamp={'1' * 5000}&qty={'4' * 5000}"),
        OK,
        frozenset({"INVALID_VALUE", "INVALID_TIMESTAMP"}),
    ),
    "1e400 and friends": Hostile(
        lambda: _body(
            b'{"click_id": "x", "value": 1e400, "timestamp": 1e400, "commission": -1e400,'
            b' "items": [{"price": 1e-400, "quantity": 1e400}]}',
            JSON,
        ),
        OK,
        frozenset({"INVALID_VALUE", "INVALID_TIMESTAMP"}),
        _huge_exponents,
    ),
    "1e400 as text in the query": Hostile(
        lambda: _query("click_id=x&value=1e400&timestamp=1e400&time=-1e-400"),
        OK,
        frozenset({"INVALID_VALUE", "INVALID_TIMESTAMP"}),
        _huge_exponents,
    ),
    "json Struct with NaN and Infinity": Hostile(
        _struct_nan, OK, frozenset({"INVALID_VALUE", "INVALID_TIMESTAMP"}), _struct_extremes
    ),
    "json Struct with the largest and smallest doubles": Hostile(
        lambda: _struct({"click_id": "x", "value": sys.float_info.max, "commission": 5e-324}),
        OK,
        frozenset({"INVALID_VALUE"}),
    ),
    # --- counts and repeats ------------------------------------------------------------
    "100000 items": Hostile(
        lambda: _body(
            b'{"click_id": "x", "items": ['
            + b",".join(b'{"id":%d}' % (i % 10) for i in range(100_000))
            + b"]}",
            JSON,
        ),
        OK,
        frozenset({"ITEMS_TRUNCATED"}),
        _thousand_items,
    ),
    "100000 items that are not objects": Hostile(
        lambda: _body(b'{"click_id": "x", "items": [' + b",".join([b"0"] * 100_000) + b"]}"),
        OK,
        frozenset({"ITEMS_TRUNCATED", "INVALID_VALUE"}),
    ),
    "duplicate keys in a JSON body": Hostile(
        lambda: _body(b'{"click_id": "first", "click_id": "second", "value": 1, "value": 2}', JSON),
        OK,
        frozenset({"IGNORED_PARAMETER"}),
        _first_duplicate_wins,
    ),
    "the same key 10000 times": Hostile(
        lambda: _query("click_id=first&value=1&" + "&".join(["click_id=again"] * 9998)),
        OK,
        frozenset({"IGNORED_PARAMETER"}),
        _first_duplicate_wins,
    ),
    "only unusable identities": Hostile(
        lambda: _query("click_id={click_id}&ref=%20&email=%23email%23&clickid=" + "%20" * 1000),
        MISSING,
        classify=OK,
    ),
    # --- the request context ------------------------------------------------------------
    "received_time out of Timestamp's range": Hostile(_out_of_range_time, MALFORMED, classify=OK),
}


def _request_bytes(case: Hostile) -> bytes:
    built = case.build()
    return built if isinstance(built, bytes) else built.SerializeToString()


def _expected(case: Hostile, rpc_name: str) -> str:
    if rpc_name == "classify" and case.classify is not None:
        return case.classify
    if rpc_name == "stream" and case.stream is not None:
        return case.stream
    return case.expect


def _diagnostic_names(response: pb.NormalizeResponse) -> set[str]:
    return {
        pb.DiagnosticCode.Name(d.code).removeprefix("DIAGNOSTIC_CODE_")
        for d in response.diagnostics
    }


@pytest.fixture
def raw(channel: grpc.aio.Channel) -> dict[str, grpc.aio.UnaryUnaryMultiCallable]:
    """Byte-level callables: the server parses what the wire carries."""
    return {
        "normalize": channel.unary_unary(rpc.NORMALIZE),
        "classify": channel.unary_unary(rpc.CLASSIFY),
    }


@pytest.mark.parametrize("name", list(CASES))
async def test_normalize_answers_exactly(
    name: str, raw: dict[str, grpc.aio.UnaryUnaryMultiCallable]
) -> None:
    case = CASES[name]
    ended = await rpc.outcome(raw["normalize"](_request_bytes(case), timeout=60))
    assert ended.reason == case.expect, ended.details
    for key, value in case.extra.items():
        assert ended.info is not None
        assert ended.info.metadata[key] == value
        assert value in ended.details
    if ended.code == grpc.StatusCode.OK:
        response = pb.NormalizeResponse.FromString(ended.answer)
        assert case.diagnostics <= _diagnostic_names(response)
        if case.check is not None:
            case.check(response)


@pytest.mark.parametrize("name", list(CASES))
async def test_classify_answers_cleanly(
    name: str, raw: dict[str, grpc.aio.UnaryUnaryMultiCallable]
) -> None:
    case = CASES[name]
    ended = await rpc.outcome(raw["classify"](_request_bytes(case), timeout=60))
    assert ended.reason == _expected(case, "classify"), ended.details


@pytest.mark.parametrize("name", list(CASES))
async def test_stream_answers_inline_and_goes_on(name: str, channel: grpc.aio.Channel) -> None:
    """[good, hostile, good]: three answers in order, unless gRPC refuses the message."""
    case = CASES[name]
    expected = _expected(case, "stream")
    good = rpc.normalize_request(rpc.field(1, b"click_id=good"))
    call = channel.stream_stream(rpc.NORMALIZE_STREAM)(
        iter(
            [
                rpc.stream_item("before", good),
                rpc.stream_item("hostile", _request_bytes(case)),
                rpc.stream_item("after", good),
            ]
        ),
        timeout=60,
    )
    answers, ended = await rpc.stream_outcome(call)
    if expected == TOO_BIG:
        # gRPC itself ends the call on a message over the receive limit.
        assert ended.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        return
    assert ended.code == grpc.StatusCode.OK, ended.details
    replies = [pb.NormalizeStreamResponse.FromString(answer) for answer in answers]
    assert len(replies) == 3
    assert [r.WhichOneof("result") for r in (replies[0], replies[2])] == ["response", "response"]
    assert (replies[0].request_id, replies[2].request_id) == ("before", "after")
    middle = replies[1]
    if expected == OK:
        assert middle.WhichOneof("result") == "response"
        assert middle.request_id == "hostile"
        return
    assert middle.WhichOneof("result") == "error"
    info = rpc.error_info(middle.error)
    assert info is not None
    assert info.reason == expected
    # An item protobuf cannot read has no request_id to echo.
    if not isinstance(case.build(), bytes):
        assert middle.request_id == "hostile"


async def test_server_still_serves_after_every_hostile_case(
    stub: pb_grpc.ConversionServiceStub, raw: dict[str, grpc.aio.UnaryUnaryMultiCallable]
) -> None:
    codes = set()
    for case in CASES.values():
        codes.add((await rpc.outcome(raw["normalize"](_request_bytes(case), timeout=60))).code)
    assert codes == {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
    response = await stub.Normalize(_query("click_id=still-here&value=1"), timeout=10)
    assert response.conversion.click_id == "still-here"


async def test_request_id_too_long_to_echo_keeps_the_stream_going(
    channel: grpc.aio.Channel,
) -> None:
    good = rpc.normalize_request(rpc.field(1, b"click_id=good"))
    huge_id = "r" * (DEFAULT_MAX_MESSAGE_BYTES - 64)
    call = channel.stream_stream(rpc.NORMALIZE_STREAM)(
        iter([rpc.stream_item(huge_id, b""), rpc.stream_item("after", good)]), timeout=60
    )
    answers, ended = await rpc.stream_outcome(call)
    assert ended.code == grpc.StatusCode.OK
    replies = [pb.NormalizeStreamResponse.FromString(answer) for answer in answers]
    assert [r.WhichOneof("result") for r in replies] == ["error", "response"]
    info = rpc.error_info(replies[0].error)
    assert info is not None
    assert info.reason == MALFORMED
    assert replies[0].request_id == ""
    assert replies[1].request_id == "after"


# --- the core, directly ---------------------------------------------------------------


def _normalize(payload: Payload) -> object:
    return core_normalize.normalize(payload, Context(), default_currency="USD", received=RECEIVED)


def _core_outcome(payload: Payload) -> str:
    """The core's answer: OK or the rejection reason; anything else propagates."""
    try:
        _normalize(payload)
    except Rejection as rejection:
        return rejection.reason.value
    core_normalize.classify(payload)
    return OK


def _deep_object(depth: int) -> JsonObject:
    node = JsonObject([("leaf", "x")])
    for _ in range(depth - 1):
        node = JsonObject([("n", node)])
    node.append(("click_id", "x"))
    return node


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (Payload(body=b"[" * 10_000 + b"]" * 10_000, content_type=JSON), MALFORMED),
        (Payload(body=b'{"a":' * 100_000), MALFORMED),
        (Payload(query="click_id=x&items=" + "[" * 100_000), OK),
        (Payload(json=_deep_object(65)), MALFORMED),
        (Payload(json=_deep_object(10_000)), MALFORMED),
        (Payload(json=_deep_object(64)), OK),
    ],
    ids=["body-array", "body-object", "items-string", "struct-65", "struct-10000", "struct-64"],
)
def test_core_deep_nesting_is_a_rejection_never_a_recursion_error(
    payload: Payload, expected: str
) -> None:
    assert _core_outcome(payload) == expected


def test_core_keeps_1000_of_100000_items_from_a_struct() -> None:
    rows: list[Value] = [JsonObject([("id", str(i))]) for i in range(100_000)]
    payload = Payload(json=JsonObject([("click_id", "x"), ("items", rows)]))
    result = core_normalize.normalize(payload, Context(), default_currency="USD", received=RECEIVED)
    assert len(result.conversion.items) == 1000
    assert [d.code.name for d in result.diagnostics] == ["ITEMS_TRUNCATED"]


@pytest.mark.parametrize(
    "text",
    [
        "1" * 5000,
        "-" + "9" * 5000,
        "1e400",
        "-1e400",
        "1e-400",
        "1e" + "9" * 5000,
        "0." + "0" * 5000 + "1",
        "1" * 4301,
        "NaN",
        "Infinity",
        "-Infinity",
    ],
)
def test_core_huge_numbers_raise_only_the_documented_errors(text: str) -> None:
    for raw in (text, JsonNumber(text)):
        with pytest.raises(values.InvalidValue):
            values.parse_decimal(raw)
        with pytest.raises(values.InvalidValue):
            values.parse_quantity(raw)
        with pytest.raises(timestamps.InvalidTimestamp):
            timestamps.parse_timestamp(raw)


def test_core_struct_nan_and_infinity_become_diagnostics() -> None:
    nan = JsonNumber("NaN")
    payload = Payload(
        json=JsonObject([("click_id", "x"), ("value", nan), ("timestamp", JsonNumber("Infinity"))])
    )
    assert _core_outcome(payload) == OK


# --- every regular expression in the core against pathological text --------------------

N = 100_000


def _decode(**parts: object) -> Callable[[], object]:
    return lambda: _core_outcome(Payload(**parts))  # type: ignore[arg-type]


# Per pattern (module.NAME), inputs shaped to make a backtracking engine work hardest:
# long runs of what the pattern almost accepts, then a character that breaks it.
PATHOLOGICAL: dict[str, list[Callable[[], object]]] = {
    "decode._PERCENT_ESCAPE_RE": [
        _decode(query="click_id=x&a=" + "%" * N),
        _decode(query="click_id=x&a=" + "%2" * N),
        _decode(body=b"click_id=x&a=" + b"%%4" * N, content_type=FORM),
    ],
    "decode._FORM_SEGMENT_RE": [
        _decode(query="&" * N + "click_id=x"),
        _decode(query="=" * N),
        _decode(body=b"&=" * N, content_type=FORM),
    ],
    "decode._JSON_WHITESPACE_RE": [
        _decode(body=b" \t\r\n" * N + b"x"),
        _decode(body=b"\xef\xbb\xbf" + b" " * N, content_type=JSON),
    ],
    "decode._JSON_TOKEN_RE": [
        _decode(body=b'{"a": "' + b'\\"' * N + b'", "b": NaN}', content_type=JSON),
        _decode(body=b'{"a": NaN, "b": "' + b"\\\\" * N, content_type=JSON),
        _decode(body=b"[" * 65 + b'"' + b'\\"' * N + b'"' + b"]" * 65, content_type=JSON),
        _decode(body=b'{"a": [' + b'"x",' * N + b"-Infinity]}", content_type=JSON),
    ],
    "decode._SURROGATE_ESCAPE_RE": [
        _decode(body=b'{"click_id": "' + b"\\ud800" * N + b'"}', content_type=JSON),
        _decode(body=b'{"click_id": "' + b"\\\\u" * N + b'"}', content_type=JSON),
    ],
    "decode._SURROGATE_RE": [
        _decode(body=b'{"\\udfff": ["' + b"\\udc00x" * N + b'"], "click_id": "x"}'),
        _decode(query="click_id=x&" + "\ud800" * N),
    ],
    "decode._HEADER_PARAM_RE": [
        _decode(body=b"--b--", content_type="multipart/form-data;" + ' ;="\\' * N),
        _decode(body=b"--b--", content_type='multipart/form-data; a="' + '\\"' * N),
        _decode(body=b"--b--", content_type="multipart/form-data; " + "a=b" * N),
    ],
    "decode._QUOTED_PAIR_RE": [
        _decode(body=b"--b--", content_type='multipart/form-data; boundary="' + "\\" * N),
    ],
    "decode._TRANSPORT_PADDING_RE": [
        _decode(
            body=b"--b" + b" " * N + b"x\r\n--b--", content_type="multipart/form-data; boundary=b"
        ),
        _decode(body=b"--b\t" * N, content_type="multipart/form-data; boundary=b"),
    ],
    "decode._BLANK_LINE_RE": [
        _decode(
            body=b"--b\r\n" + b"\r\n\r" * N + b"\r\n--b--",
            content_type="multipart/form-data; boundary=b",
        ),
        _decode(
            body=b"--b\r\n" + b"\n\r" * N + b"\n--b--",
            content_type="multipart/form-data; boundary=b",
        ),
    ],
    "normalize._BRACKET_ITEM": [
        _decode(query="click_id=x&items[" + "1" * N + "][id]=1"),
        _decode(query="click_id=x&items[0][" + "[" * N + "]=1"),
        _decode(query="click_id=x&" + "a" * N + "[0][id]=1"),
        _decode(query="click_id=x&" + "items[0]" * (N // 8) + "=1"),
    ],
    "timestamps._NUMBER_RE": [
        lambda: _core_outcome(Payload(query="click_id=x&timestamp=" + "1" * N + "x")),
        lambda: _core_outcome(Payload(query="click_id=x&timestamp=1e" + "1" * N)),
    ],
    "timestamps._ISO_RE": [
        lambda: _core_outcome(Payload(query="click_id=x&time=2024-01-01T00:00:00." + "1" * N)),
        lambda: _core_outcome(Payload(query="click_id=x&time=" + "2024-01-01 " * (N // 11))),
    ],
    "traits._SHA256_HEX": [lambda: traits.is_sha256_hex("a" * N + "!")],
    "traits._NOT_ASCII_LETTER": [lambda: traits.normalize_name("!a" * N)],
    "traits._EMAIL": [
        lambda: traits.normalize_email("a@" + "b." * N + "1"),
        lambda: traits.normalize_email("a" * N + "@"),
        lambda: traits.normalize_email("@" * N),
        lambda: traits.normalize_email("a@b." + "c" * N + "1"),
        lambda: traits.normalize_email("a@" + "xn--" * N + "."),
        lambda: _core_outcome(Payload(query="email=" + "a." * N + "@")),
    ],
    "traits._DIGITS": [
        lambda: traits.normalize_phone("1a" * N, "US"),
        lambda: traits.normalize_phone("+" + "1" * N, None),
    ],
    "traits._ZIP_SEPARATORS": [lambda: traits.normalize_zip("- " * N + "x", "US")],
    "traits._US_ZIP_SHAPE": [lambda: traits.normalize_zip("12345-" * N, None)],
    "traits._FIVE_DIGITS": [lambda: traits.normalize_zip("1234" * N, "us")],
    "traits._PARENTHETICAL": [
        lambda: traits._country_name_variants("(" * N + "x"),
        lambda: traits.normalize_country(" (" * N + ")"),
    ],
    "traits._YEAR_FIRST": [lambda: traits.normalize_birthdate("2024-" * N)],
    "traits._COMPACT": [lambda: traits.normalize_birthdate("1" * N)],
    "traits._SLASH_YEAR_LAST": [lambda: traits.normalize_birthdate("1/" * N)],
    "traits._DOT_YEAR_LAST": [lambda: traits.normalize_birthdate("1." * N)],
    "values._MACRO_RE": [
        lambda: values.is_unfilled_macro("{" * N),
        lambda: values.is_unfilled_macro("{{" + "a" * N + "}"),
        lambda: values.is_unfilled_macro("${" + "a:" * N),
        lambda: values.is_unfilled_macro("%" + "a" * N + "#"),
        lambda: values.is_unfilled_macro("[" + "-" * N + "}"),
    ],
    "values._PLAIN_RE": [lambda: _core_outcome(Payload(query="click_id=x&value=" + "1" * N + "x"))],
    "values._JSON_NUMBER_RE": [
        lambda: _core_outcome(Payload(body=b'{"click_id":"x","value":' + b"1" * N + b"}")),
    ],
    "values._QUANTITY_RE": [
        lambda: _core_outcome(Payload(query="click_id=x&items[0][qty]=" + "1" * N + "e" + "1" * N)),
    ],
}


def _core_patterns() -> dict[str, re.Pattern[str] | re.Pattern[bytes]]:
    modules: list[types.ModuleType] = [
        core_decode,
        core_normalize,
        tables,
        timestamps,
        traits,
        values,
    ]
    found: dict[str, re.Pattern[str] | re.Pattern[bytes]] = {}
    for module in modules:
        short = module.__name__.rsplit(".", 1)[1]
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found[f"{short}.{name}"] = value
    return found


def test_every_core_regex_has_pathological_cases() -> None:
    missing = set(_core_patterns()) - set(PATHOLOGICAL)
    assert not missing, f"add pathological inputs for {sorted(missing)}"


@pytest.mark.parametrize("pattern", sorted(PATHOLOGICAL))
def test_pathological_strings_return(pattern: str) -> None:
    # Bounded by construction: a catastrophic pattern would not return at all.
    for attempt in PATHOLOGICAL[pattern]:
        with contextlib.suppress(Rejection):
            attempt()


def _near_misses(pattern: re.Pattern[str] | re.Pattern[bytes]) -> Iterator[str]:
    """Runs of each character the pattern mentions, then a character it refuses."""
    source = pattern.pattern if isinstance(pattern.pattern, str) else pattern.pattern.decode()
    alphabet = sorted(set(source) | {"a", "0", " ", "\n"})
    for char in alphabet:
        yield char * 5_000 + "\x00"
    for first in alphabet[:12]:
        for second in alphabet[-12:]:
            yield (first + second) * 2_500 + "\x00"


@pytest.mark.parametrize("pattern", sorted(_core_patterns()))
def test_anchored_matching_returns_on_near_misses(pattern: str) -> None:
    compiled = _core_patterns()[pattern]
    for text in _near_misses(compiled):
        if isinstance(compiled.pattern, bytes):
            data = text.encode("utf-8", "surrogatepass")
            compiled.fullmatch(data)
            compiled.match(data)
        else:
            compiled.fullmatch(text)
            compiled.match(text)


def test_no_struct_value_is_lost_on_the_way_to_the_core() -> None:
    """A Struct that protobuf accepts reaches the core whole (NaN included)."""
    struct = struct_pb2.Struct()
    struct.update({"click_id": math.nan, "xat_a": math.inf})
    from service.convert import payload_from_proto

    payload = payload_from_proto(pb.Payload(json=struct))
    assert payload.json == JsonObject(
        [("click_id", JsonNumber("NaN")), ("xat_a", JsonNumber("Infinity"))]
    )
