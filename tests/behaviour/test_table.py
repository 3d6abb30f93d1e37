"""The behaviour table: every row of ``cases.yaml`` against the core and the real server.

A row is one payload (``query``, ``body`` or ``body_json`` with
``content_type``, ``json``, optional ``context``) and what must come out of
it: ``expect`` (only the conversion fields the row cares about),
``diagnostics`` (the exact list of ``[CODE, parameter]``, any order) or
``diagnostics_include`` (some of them), ``reject`` (reason and message
prefix), and ``classify`` (what the Classify RPC answers for the same
payload). Two helpers keep large payloads out of the file: ``many_items``
adds a generated items array to ``body_json`` and ``repeat_query`` appends a
repeated piece to the query. Expected hashes are computed here from the SPEC's
formulas with :mod:`hashlib`, never by calling the code under test, and the
table itself is checked for coverage: every diagnostic code and rejection
reason, every accepted name in two spellings, every conversion_type value in
two casings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import grpc
import pytest
import yaml
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from service.convert import payload_from_proto
from service.core import tables
from service.core.model import (
    ClassifyResult,
    Context,
    Payload,
    Rejection,
    Result,
)
from service.core.normalize import classify, normalize
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc

CASES_FILE = Path(__file__).with_name("cases.yaml")

# What every row runs with unless it says otherwise.
DEFAULT_CONTEXT: dict[str, str] = {
    "account_id": "acct-42",
    "integration_slug": "custom-shop",
    "received_time": "2024-05-01T12:00:00Z",
}
# The server's configured default currency (Config's default, also the tests' server).
SERVER_DEFAULT_CURRENCY = "USD"
# The clock the core is given; never used when a row's context has a received time.
SERVER_CLOCK = datetime(2030, 1, 1, tzinfo=UTC)

ROW_KEYS = frozenset(
    {
        "id",
        "query",
        "body",
        "body_json",
        "content_type",
        "json",
        "many_items",
        "repeat_query",
        "context",
        "expect",
        "diagnostics",
        "diagnostics_include",
        "reject",
        "classify",
    }
)
EXPECT_KEYS = frozenset(
    {
        "event_name",
        "standard_event",
        "classified_by",
        "match_key",
        "click_id",
        "ref_id",
        "email",
        "value",
        "value_parameter",
        "currency",
        "currency_defaulted",
        "transaction_id",
        "brand_name",
        "event_time",
        "event_time_source",
        "customer",
        "user_data",
        "items",
        "item_count",
        "passthrough",
        "dedup_key",
    }
)


@dataclass(frozen=True)
class Row:
    """One row of the table."""

    id: str
    data: dict[str, Any]

    def __str__(self) -> str:
        return self.id


def _load_rows() -> list[Row]:
    raw = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    return [Row(str(item["id"]), item) for item in raw]


ROWS = _load_rows()


def test_table_is_well_formed() -> None:
    ids = [row.id for row in ROWS]
    assert len(ROWS) >= 220
    assert len(set(ids)) == len(ids), [i for i, n in Counter(ids).items() if n > 1]
    for row in ROWS:
        assert set(row.data) <= ROW_KEYS, (row.id, set(row.data) - ROW_KEYS)
        assert set(row.data.get("expect", {})) <= EXPECT_KEYS, row.id
        outcomes = {"expect", "reject", "classify"} & set(row.data)
        assert outcomes, f"{row.id} checks nothing"
        assert not ("expect" in row.data and "reject" in row.data), row.id


def test_table_covers_every_code_and_reason() -> None:
    codes = {
        code
        for row in ROWS
        for key in ("diagnostics", "diagnostics_include")
        for code, _ in row.data.get(key, [])
    }
    wire = {
        name.removeprefix("DIAGNOSTIC_CODE_")
        for name in pb.DiagnosticCode.DESCRIPTOR.values_by_name
    }
    # DIAGNOSTICS_TRUNCATED comes from the server's send-limit guard, not from
    # a payload rule; tests/test_hostile.py proves it.
    assert codes == wire - {"UNSPECIFIED", "DIAGNOSTICS_TRUNCATED"}
    reasons = {row.data["reject"]["reason"] for row in ROWS if "reject" in row.data}
    assert reasons == {"MISSING_MATCH_KEY", "UNKNOWN_CONVERSION_TYPE", "MALFORMED_PAYLOAD"}


_BRACKET = re.compile(r"([A-Za-z_-]+)\[\d+\]\[([^\]]+)\]")


def _flexible(name: str) -> str:
    return re.sub(r"[_-]", "", name.lower())


def _names_sent(row: Row) -> tuple[set[str], set[str]]:
    """Top-level parameter names and item field names a row's payload uses."""
    top: set[str] = set()
    item: set[str] = set()
    items_keys = {_flexible(k) for k in tables.CORE_FIELDS["items"]}

    def from_object(obj: object) -> None:
        if not isinstance(obj, dict):
            return
        for key, value in obj.items():
            top.add(key)
            if _flexible(key) in items_keys and isinstance(value, list):
                item.update(k for entry in value if isinstance(entry, dict) for k in entry)

    def from_form(text: str) -> None:
        for segment in text.split("&"):
            raw_name, _, raw_value = segment.partition("=")
            name = unquote_plus(raw_name.strip())
            bracket = _BRACKET.fullmatch(name)
            if bracket is not None:
                top.add(bracket[1])
                item.add(bracket[2])
            elif _flexible(name) in items_keys:
                with contextlib.suppress(ValueError):
                    from_object({name: json.loads(unquote_plus(raw_value))})
            else:
                top.add(name)

    from_form(str(row.data.get("query", "")))
    from_object(row.data.get("body_json"))
    from_object(row.data.get("json"))
    body = row.data.get("body", "")
    if isinstance(body, str) and "Content-Disposition" not in body:
        try:
            from_object(json.loads(body))
        except ValueError:
            from_form(body)
    return top, item


def test_table_uses_every_alias_in_two_spellings() -> None:
    """Every flexible name appears in two spellings; every exact name appears as written."""
    top: set[str] = set()
    item: set[str] = set()
    for row in ROWS:
        row_top, row_item = _names_sent(row)
        top |= row_top
        item |= row_item
    for table, sent in ((tables.CORE_FIELDS, top), (tables.ITEM_FIELDS, item)):
        for aliases in table.values():
            for alias in aliases:
                spellings = {name for name in sent if _flexible(name) == _flexible(alias)}
                assert len(spellings) >= 2, (alias, spellings)
    for aliases in tables.TRAITS.values():
        assert set(aliases) <= top, aliases
    assert tables.CONVERSION_TYPE_PARAMETER in top
    conversion_types = {
        str(row.data["query"]).partition("conversion_type=")[2].partition("&")[0]
        for row in ROWS
        if "conversion_type=" in str(row.data.get("query", ""))
    }
    for values in tables.CONVERSION_TYPES.values():
        for value in values:
            casings = {sent for sent in conversion_types if sent.lower() == value}
            assert len(casings) >= 2, (value, casings)


# --- building requests ----------------------------------------------------------


def _body(row: Row) -> bytes:
    data = row.data
    if "body_json" in data:
        document = data["body_json"]
        if "many_items" in data:
            spec = data["many_items"]
            document = dict(document)
            document[spec["key"]] = [
                {"id": f"sku-{index}", "price": 1} for index in range(spec["count"])
            ]
        return json.dumps(document, ensure_ascii=False).encode()
    body = data.get("body", "")
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _query(row: Row) -> str:
    query = str(row.data.get("query", ""))
    if "repeat_query" in row.data:
        text, times = row.data["repeat_query"]
        query += str(text) * int(times)
    return query


def build_request(row: Row) -> pb.NormalizeRequest:
    """The NormalizeRequest a row describes (also the source of the core's input)."""
    request = pb.NormalizeRequest()
    request.payload.query = _query(row)
    request.payload.body = _body(row)
    request.payload.content_type = row.data.get("content_type", "")
    if "json" in row.data:
        json_format.ParseDict(row.data["json"], request.payload.json)
    context = {**DEFAULT_CONTEXT, **row.data.get("context", {})}
    if context.get("received_time") is None:
        context.pop("received_time", None)
    json_format.ParseDict(context, request.context)
    return request


def core_payload(row: Row) -> Payload:
    """The core's Payload; a ``json`` Struct goes through the wire translation."""
    request = build_request(row)
    data = None
    if "json" in row.data:
        data = payload_from_proto(pb.Payload(json=request.payload.json)).json
    return Payload(
        query=request.payload.query,
        body=request.payload.body,
        content_type=request.payload.content_type,
        json=data,
    )


def core_context(row: Row) -> Context:
    context = {**DEFAULT_CONTEXT, **row.data.get("context", {})}
    received = context.get("received_time")
    return Context(
        account_id=context.get("account_id", ""),
        integration_slug=context.get("integration_slug", ""),
        default_currency=context.get("default_currency", ""),
        received_time=_parse_time(received) if received else None,
    )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --- the shape both paths are compared in -------------------------------------------


def _time_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def result_view(result: Result) -> dict[str, Any]:
    """A core result in the table's vocabulary."""
    c = result.conversion
    return {
        "event_name": c.event_name,
        "standard_event": c.standard_event.name,
        "classified_by": c.classified_by.name,
        "match_key": [c.match_key_type.name, c.match_key_value],
        "click_id": c.click_id,
        "ref_id": c.ref_id,
        "email": c.email,
        "value": c.value,
        "value_parameter": c.value_parameter,
        "currency": c.currency,
        "currency_defaulted": c.currency_defaulted,
        "transaction_id": c.transaction_id,
        "brand_name": c.brand_name,
        "event_time": _time_text(c.event_time),
        "event_time_source": c.event_time_source.name,
        "customer": {name: getattr(c.customer, name) for name in c.customer.__slots__},
        "user_data": {name: getattr(c.user_data, name) for name in c.user_data.__slots__},
        "items": [
            {
                "id": i.id,
                "name": i.name,
                "variant": i.variant,
                "price": i.price,
                "quantity": i.quantity,
            }
            for i in c.items
        ],
        "passthrough": dict(c.passthrough),
        "dedup_key": c.dedup_key,
        "diagnostics": [[d.code.name, d.parameter] for d in result.diagnostics],
    }


def _enum(enum_type: Any, number: int, prefix: str) -> str:
    return str(enum_type.Name(number)).removeprefix(prefix)


def response_view(response: pb.NormalizeResponse) -> dict[str, Any]:
    """A NormalizeResponse in the table's vocabulary (unset quantity reads as 0)."""
    c = response.conversion
    customer = json_format.MessageToDict(
        c.customer, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    user_data = json_format.MessageToDict(
        c.user_data, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return {
        "event_name": c.event_name,
        "standard_event": _enum(pb.StandardEvent, c.standard_event, "STANDARD_EVENT_"),
        "classified_by": _enum(pb.ClassificationSource, c.classified_by, "CLASSIFICATION_SOURCE_"),
        "match_key": [
            _enum(pb.MatchKeyType, c.match_key.type, "MATCH_KEY_TYPE_"),
            c.match_key.value,
        ],
        "click_id": c.click_id,
        "ref_id": c.ref_id,
        "email": c.email,
        "value": c.value,
        "value_parameter": c.value_parameter,
        "currency": c.currency,
        "currency_defaulted": c.currency_defaulted,
        "transaction_id": c.transaction_id,
        "brand_name": c.brand_name,
        "event_time": _time_text(c.event_time.ToDatetime(tzinfo=UTC)),
        "event_time_source": _enum(pb.EventTimeSource, c.event_time_source, "EVENT_TIME_SOURCE_"),
        "customer": customer,
        "user_data": user_data,
        "items": [
            {
                "id": i.id,
                "name": i.name,
                "variant": i.variant,
                "price": i.price,
                "quantity": i.quantity,
            }
            for i in c.items
        ],
        "passthrough": dict(c.passthrough),
        "dedup_key": c.dedup_key,
        "diagnostics": [
            [_enum(pb.DiagnosticCode, d.code, "DIAGNOSTIC_CODE_"), d.parameter]
            for d in response.diagnostics
        ],
    }


def classification_view(
    event_name: str, standard_event: str, classified_by: str, diagnostics: list[list[str]]
) -> dict[str, Any]:
    return {
        "event_name": event_name,
        "standard_event": standard_event,
        "classified_by": classified_by,
        "diagnostics": diagnostics,
    }


def core_classification_view(result: ClassifyResult) -> dict[str, Any]:
    c = result.classification
    return classification_view(
        c.event_name,
        c.standard_event.name,
        c.classified_by.name,
        [[d.code.name, d.parameter] for d in result.diagnostics],
    )


def proto_classification_view(response: pb.ClassifyResponse) -> dict[str, Any]:
    return classification_view(
        response.event_name,
        _enum(pb.StandardEvent, response.standard_event, "STANDARD_EVENT_"),
        _enum(pb.ClassificationSource, response.classified_by, "CLASSIFICATION_SOURCE_"),
        [
            [_enum(pb.DiagnosticCode, d.code, "DIAGNOSTIC_CODE_"), d.parameter]
            for d in response.diagnostics
        ],
    )


# --- expectations ------------------------------------------------------------------


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def expected_hash(spec: str) -> str:
    """``sha256:<normalized text>`` is hashed here; anything else is literal."""
    if spec.startswith("sha256:"):
        return sha256_hex(spec.removeprefix("sha256:"))
    return spec


def expected_dedup_key(row: Row, actual_event_name: str) -> str:
    """SPEC §8, from the row's context, its expected event name and transaction id."""
    expect = row.data["expect"]
    context = {**DEFAULT_CONTEXT, **row.data.get("context", {})}
    event_name = expect.get("event_name", actual_event_name)
    parts = (
        context.get("account_id", ""),
        context.get("integration_slug", ""),
        event_name,
        str(expect["transaction_id"]),
    )
    return sha256_hex("\x1f".join(parts))


def check_conversion(row: Row, view: dict[str, Any], *, unset_quantity: int | None) -> None:
    """Compare a conversion view with the row's expectations, field by field."""
    expect = row.data.get("expect", {})
    for key, wanted in expect.items():
        if key == "customer":
            for name, text in wanted.items():
                assert view["customer"][name] == str(text), (row.id, "customer", name)
        elif key == "user_data":
            for name, spec in wanted.items():
                assert view["user_data"][name] == expected_hash(str(spec)), (
                    row.id,
                    "user_data",
                    name,
                )
        elif key == "items":
            wanted_items = [
                {
                    "id": str(item.get("id", "")),
                    "name": str(item.get("name", "")),
                    "variant": str(item.get("variant", "")),
                    "price": str(item.get("price", "")),
                    "quantity": item.get("quantity", unset_quantity),
                }
                for item in wanted
            ]
            assert view["items"] == wanted_items, row.id
        elif key == "item_count":
            assert len(view["items"]) == wanted, row.id
        elif key == "passthrough":
            assert view["passthrough"] == {str(k): str(v) for k, v in wanted.items()}, row.id
        elif key == "dedup_key":
            digest = expected_dedup_key(row, view["event_name"]) if wanted == "spec" else wanted
            assert view["dedup_key"] == digest, row.id
        elif key == "match_key":
            assert view["match_key"] == [str(part) for part in wanted], row.id
        elif key == "currency_defaulted":
            assert view[key] is wanted, row.id
        else:
            assert view[key] == str(wanted), (row.id, key, view[key])
    check_diagnostics(row, view["diagnostics"])


def check_diagnostics(row: Row, actual: list[list[str]]) -> None:
    if "diagnostics" in row.data:
        wanted = Counter((str(c), str(p)) for c, p in row.data["diagnostics"])
        assert Counter((c, p) for c, p in actual) == wanted, row.id
    for code, parameter in row.data.get("diagnostics_include", []):
        assert [code, str(parameter)] in actual, (row.id, code, parameter, actual)


def check_classification(row: Row, view: dict[str, Any]) -> None:
    wanted = row.data["classify"]
    for key in ("event_name", "standard_event", "classified_by"):
        if key in wanted:
            assert view[key] == wanted[key], (row.id, key)
    if "diagnostics" in wanted:
        expected = Counter((str(c), str(p)) for c, p in wanted["diagnostics"])
        assert Counter((c, p) for c, p in view["diagnostics"]) == expected, row.id


# --- the core -----------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_core(row: Row) -> None:
    payload = core_payload(row)
    context = core_context(row)
    if "reject" in row.data:
        with pytest.raises(Rejection) as raised:
            normalize(
                payload,
                context,
                default_currency=SERVER_DEFAULT_CURRENCY,
                received=SERVER_CLOCK,
            )
        wanted = row.data["reject"]
        assert raised.value.reason.value == wanted["reason"], row.id
        assert raised.value.message.startswith(wanted["message"]), raised.value.message
    elif "expect" in row.data:
        result = normalize(
            payload, context, default_currency=SERVER_DEFAULT_CURRENCY, received=SERVER_CLOCK
        )
        check_conversion(row, result_view(result), unset_quantity=None)
    if "classify" in row.data:
        wanted = row.data["classify"]
        if "reject" in wanted:
            with pytest.raises(Rejection) as raised:
                classify(payload)
            assert raised.value.reason.value == wanted["reject"]["reason"], row.id
            assert raised.value.message.startswith(wanted["reject"]["message"])
        else:
            check_classification(row, core_classification_view(classify(payload)))


# --- the real server ------------------------------------------------------------------


async def _rejected(call: Any) -> tuple[grpc.StatusCode, str, error_details_pb2.ErrorInfo]:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    status = rpc_status.from_call(raised.value)
    assert status is not None
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    assert len(infos) == 1
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    return raised.value.code(), raised.value.details() or "", info


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_server(row: Row, stub: pb_grpc.ConversionServiceStub) -> None:
    request = build_request(row)
    if "reject" in row.data:
        code, message, info = await _rejected(stub.Normalize(request))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert info.reason == row.data["reject"]["reason"]
        assert message.startswith(row.data["reject"]["message"])
    elif "expect" in row.data:
        response = await stub.Normalize(request)
        check_conversion(row, response_view(response), unset_quantity=0)
    if "classify" in row.data:
        wanted = row.data["classify"]
        classify_request = pb.ClassifyRequest(payload=request.payload)
        if "reject" in wanted:
            code, message, info = await _rejected(stub.Classify(classify_request))
            assert code == grpc.StatusCode.INVALID_ARGUMENT
            assert info.reason == wanted["reject"]["reason"]
            assert message.startswith(wanted["reject"]["message"])
        else:
            response = await stub.Classify(classify_request)
            check_classification(row, proto_classification_view(response))
