"""Property tests: whatever arrives, the core answers or rejects, and never crashes.

Parameter names are drawn from the alias vocabulary (in several spellings, as
bracket notation, with the ``xat_`` prefix) mixed with random text; values
are random text, macros, money-like strings, exact JSON numbers, booleans,
nulls, arrays and objects. Bodies are arbitrary bytes under every content
type. The only exception allowed out of the core is :class:`Rejection`, and a
result must always be representable on the wire.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import cast
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.convert import classification_to_proto, result_to_proto
from service.core import tables
from service.core.model import (
    Context,
    JsonNumber,
    JsonObject,
    Payload,
    Rejection,
    RejectionReason,
    Result,
    Value,
)
from service.core.normalize import classify, normalize

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CONTEXT = Context(account_id="acct", integration_slug="slug")
RECEIVED = datetime(2024, 5, 1, tzinfo=UTC)

_ALIASES = sorted(
    {alias for aliases in tables.CORE_FIELDS.values() for alias in aliases}
    | {alias for aliases in tables.TRAITS.values() for alias in aliases}
    | {tables.CONVERSION_TYPE_PARAMETER}
)
_ITEM_ALIASES = sorted({alias for aliases in tables.ITEM_FIELDS.values() for alias in aliases})
_ITEMS_KEYS = tables.CORE_FIELDS["items"]


def _respell(name: str, style: int) -> str:
    """The same name as senders write it: upper, title, hyphens, glued."""
    return (
        name,
        name.upper(),
        name.title(),
        name.replace("_", "-"),
        name.replace("_", ""),
    )[style]


_vocabulary_name = st.builds(_respell, st.sampled_from(_ALIASES), st.integers(0, 4))
_bracket_name = st.builds(
    "{}[{}][{}]".format,
    st.sampled_from(_ITEMS_KEYS),
    st.integers(0, 3),
    st.sampled_from([*_ITEM_ALIASES, "sku"]),
)
_passthrough_name = st.builds("xat_{}".format, st.text(max_size=8))
names = st.one_of(
    _vocabulary_name,
    _bracket_name,
    _passthrough_name,
    st.text(max_size=12),
)

# Generation dominates the run time, so strategies are built from small
# pieces (sampled parts, integers) rather than regular expressions.
_macro = st.builds(
    lambda pattern, name: pattern.format(name),
    st.sampled_from(["{{{}}}", "{{{{{}}}}}", "[{}]", "[[{}]]", "%{}%", "#{}#", "${{{}}}"]),
    st.sampled_from(["click_id", "sub1", "a.b:c-d", "TID", "x"]),
)
_money = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["", "$", "€", "-", "EUR ", "(", "US$"]),
    st.integers(0, 9_999_999).map(str),
    st.sampled_from(["", ".5", ",50", ",234", ".234,5", " 234", "e3", "e99999"]),
    st.sampled_from(["", " usd", "EUR", ")", "%"]),
)
_time = st.one_of(
    st.integers(-(10**15), 10**15).map(str),
    st.builds(
        "{:04d}-{:02d}-{:02d}{}{}".format,
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from(["", "T10:00", "T23:59:59", " 00:00:00.123456789", "T24:00:60"]),
        st.sampled_from(["", "Z", "z", "+02:00", "-0530", " 02:00", "+99"]),
    ),
)
_json_number = st.one_of(
    st.integers().map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.builds("{}e{}".format, st.integers(-(10**30), 10**30), st.integers(-99999, 99999)),
).map(JsonNumber)
texts = st.one_of(
    st.text(max_size=30),
    _macro,
    _money,
    _time,
    st.sampled_from(
        [
            "",
            " ",
            "NaN",
            "Infinity",
            "true",
            "USA",
            "+44 20 7946 0958",
            "(650) 253-0000",
            "a" * 64,
            "AB" * 32,
            "jsmith@example.com",
            "1991-02-30",
            "26.05.1991",
        ]
    ),
)
scalars: st.SearchStrategy[Value] = st.one_of(texts, _json_number, st.booleans(), st.none())


def _objects(children: st.SearchStrategy[Value]) -> st.SearchStrategy[Value]:
    keys = st.one_of(st.sampled_from(_ITEM_ALIASES), st.text(max_size=8))
    return st.lists(st.tuples(keys, children), max_size=5).map(JsonObject)


values: st.SearchStrategy[Value] = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), _objects(children)),
    max_leaves=8,
)
params = st.lists(st.tuples(names, values), max_size=15)


def _form_encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(name, safe='[]')}={quote(value)}" for name, value in pairs)


def _text_params(pairs: list[tuple[str, Value]]) -> list[tuple[str, str]]:
    """Form-encodable pairs: scalars as text, containers as JSON strings."""
    out = []
    for name, value in pairs:
        if isinstance(value, str):
            out.append((name, value))
        elif isinstance(value, bool) or value is None:
            out.append((name, json.dumps(value)))
        else:
            out.append((name, _to_json(value)))
    return out


def _to_json(value: Value) -> str:
    if isinstance(value, JsonNumber):
        return str.__str__(value)
    if isinstance(value, JsonObject):
        return "{" + ",".join(f"{json.dumps(k)}:{_to_json(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_to_json(v) for v in cast("list[Value]", value)) + "]"
    return json.dumps(value)


_PLAIN_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _check_result(result: Result) -> None:
    """Invariants every conversion keeps, and it must serialize to the wire."""
    c = result.conversion
    assert c.match_key_value
    assert c.value == "" or _PLAIN_DECIMAL.fullmatch(c.value), c.value
    assert (c.value == "") == (c.value_parameter == "")
    assert re.fullmatch(r"[A-Z]{3}", c.currency), c.currency
    assert c.dedup_key == "" or _HEX64.fullmatch(c.dedup_key)
    assert (c.dedup_key == "") == (c.transaction_id == "")
    for digest in (getattr(c.user_data, name) for name in c.user_data.__slots__):
        assert digest == "" or _HEX64.fullmatch(digest), digest
    assert len(c.passthrough) <= tables.MAX_PASSTHROUGH
    assert len(c.items) <= tables.MAX_ITEMS
    for item in c.items:
        assert item.price == "" or _PLAIN_DECIMAL.fullmatch(item.price)
        assert item.quantity is None or item.quantity >= 0
    assert c.event_time.tzinfo is not None
    result_to_proto(result).SerializeToString()


def _run(payload: Payload) -> None:
    """Normalize and classify; only a Rejection may escape."""
    try:
        result = normalize(payload, CONTEXT, default_currency="USD", received=RECEIVED)
    except Rejection as rejection:
        _check_rejection(rejection)
    else:
        _check_result(result)
    try:
        classified = classify(payload)
    except Rejection as rejection:
        _check_rejection(rejection, classifying=True)
    else:
        classification_to_proto(classified).SerializeToString()


def _check_rejection(rejection: Rejection, *, classifying: bool = False) -> None:
    """A rejection names one of the defined reasons (Classify needs no identity)."""
    allowed = set(RejectionReason)
    if classifying:
        allowed.discard(RejectionReason.MISSING_MATCH_KEY)
    assert rejection.reason in allowed
    assert rejection.message
    assert rejection.field.startswith("payload")


@PROPERTY_SETTINGS
@given(params, st.booleans())
def test_any_parameter_list_as_json_object(
    pairs: list[tuple[str, Value]], with_identity: bool
) -> None:
    # With an identity up front, every later rule runs instead of the rejection.
    head: list[tuple[str, Value]] = [("ref", "r")] if with_identity else []
    _run(Payload(json=JsonObject(head + pairs)))


@PROPERTY_SETTINGS
@given(params, st.booleans())
def test_any_parameter_list_as_json_body(
    pairs: list[tuple[str, Value]], with_identity: bool
) -> None:
    head: list[tuple[str, Value]] = [("click_id", "c")] if with_identity else []
    body = "{" + ",".join(f"{json.dumps(k)}:{_to_json(v)}" for k, v in head + pairs) + "}"
    _run(Payload(body=body.encode(), content_type="application/json"))


@PROPERTY_SETTINGS
@given(params, st.integers(0, 15), st.booleans())
def test_any_parameter_list_as_query_and_form(
    pairs: list[tuple[str, Value]], split: int, with_identity: bool
) -> None:
    text = ([("email", "a@b.co")] if with_identity else []) + _text_params(pairs)
    _run(
        Payload(
            query=_form_encode(text[:split]),
            body=_form_encode(text[split:]).encode(),
            content_type="application/x-www-form-urlencoded",
        )
    )


@PROPERTY_SETTINGS
@given(
    st.binary(max_size=512),
    st.sampled_from(
        [
            "",
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=b",
            "multipart/form-data",
            "text/plain",
            "application/problem+json",
        ]
    ),
    st.text(max_size=64),
)
def test_any_bytes_under_any_content_type(body: bytes, content_type: str, query: str) -> None:
    _run(Payload(query=query, body=body, content_type=content_type))


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(names, st.text(max_size=20)), max_size=6), st.binary(max_size=64))
def test_multipart_with_arbitrary_parts(fields: list[tuple[str, str]], noise: bytes) -> None:
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="'
        + name.replace('"', "").encode("utf-8", "surrogatepass")
        + b'"\r\n\r\n'
        + value.encode("utf-8", "surrogatepass")
        + b"\r\n"
        for name, value in fields
    )
    _run(Payload(body=parts + noise + b"--b--\r\n", content_type="multipart/form-data; boundary=b"))
