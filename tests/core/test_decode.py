"""Payload decoding (SPEC §1, §2, §9): one table per rule, then the limits and fuzzing."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.decode import (
    MAX_JSON_DEPTH,
    MAX_PARAMETERS,
    MAX_PAYLOAD_BYTES,
    Decoded,
    JsonError,
    decode,
    parse_json_text,
)
from service.core.model import (
    Diagnostic,
    DiagnosticCode,
    JsonNumber,
    JsonObject,
    Param,
    Payload,
    Rejection,
    RejectionReason,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=XyZ"
BOM = b"\xef\xbb\xbf"
N = JsonNumber
Obj = JsonObject


def _params(
    query: str = "",
    body: bytes = b"",
    content_type: str = "",
    struct: JsonObject | None = None,
) -> list[Param]:
    return decode(Payload(query=query, body=body, content_type=content_type, json=struct)).params


def _rejection(payload: Payload) -> Rejection:
    with pytest.raises(Rejection) as caught:
        decode(payload)
    assert caught.value.reason is RejectionReason.MALFORMED_PAYLOAD
    return caught.value


def _decode_or_malformed(payload: Payload) -> Decoded | None:
    """Decode, allowing only a MALFORMED_PAYLOAD rejection (returned as None)."""
    try:
        return decode(payload)
    except Rejection as rejection:
        if rejection.reason is not RejectionReason.MALFORMED_PAYLOAD:
            raise
        return None


def _multipart(*parts: bytes, boundary: bytes = b"XyZ", newline: bytes = b"\r\n") -> bytes:
    """A well-formed multipart body from raw parts (headers, blank line, content)."""
    delimiter = b"--" + boundary
    body = b"".join(delimiter + newline + part + newline for part in parts)
    return body + delimiter + b"--" + newline


def _field(name: str, value: bytes, extra: bytes = b"") -> bytes:
    disposition = b'Content-Disposition: form-data; name="' + name.encode() + b'"' + extra
    return disposition + b"\r\n\r\n" + value


# --- query string -------------------------------------------------------------

QUERY_CASES: list[tuple[str, list[Param]]] = [
    ("", []),
    ("?", []),
    ("a=1&b=2", [("a", "1"), ("b", "2")]),
    ("?a=1&b=2", [("a", "1"), ("b", "2")]),
    ("??a=1", [("?a", "1")]),
    ("name=John+Smith", [("name", "John Smith")]),
    ("name=John%20Smith", [("name", "John Smith")]),
    ("a%2Bb=c%2Bd", [("a+b", "c+d")]),
    ("email=a%40b.com", [("email", "a@b.com")]),
    ("a=1&a=2&b=3&a=4", [("a", "1"), ("a", "2"), ("b", "3"), ("a", "4")]),
    ("a=&b=", [("a", ""), ("b", "")]),
    ("a=+", [("a", " ")]),
    ("flag&b=1", [("flag", ""), ("b", "1")]),
    ("a=1&&&b=2&", [("a", "1"), ("b", "2")]),
    ("&&&", []),
    ("=v", [("", "v")]),
    ("a=b=c", [("a", "b=c")]),
    ("a=1;b=2", [("a", "1;b=2")]),
    ("v=%zz&w=%4&x=%", [("v", "%zz"), ("w", "%4"), ("x", "%")]),
    ("items[0][id]=x&items[0][price]=9", [("items[0][id]", "x"), ("items[0][price]", "9")]),
    ("items%5B0%5D%5Bid%5D=x", [("items[0][id]", "x")]),
    ("city=S%C3%A3o+Paulo", [("city", "São Paulo")]),
    ("city=São Paulo", [("city", "São Paulo")]),
    ("n=%00a%01", [("n", "\x00a\x01")]),
    ("Click_ID=ABC", [("Click_ID", "ABC")]),
    ("click_id={click_id}", [("click_id", "{click_id}")]),
    ("items=%5B%7B%22id%22%3A1%7D%5D", [("items", '[{"id":1}]')]),
]


@pytest.mark.parametrize(("query", "expected"), QUERY_CASES)
def test_query_pairs_in_order(query: str, expected: list[Param]) -> None:
    assert _params(query=query) == expected


INVALID_UTF8_CASES: list[tuple[str, list[Param], str]] = [
    ("first_name=Jos%E9", [("first_name", "Jos\ufffd")], "value"),
    ("%FF=1", [("\ufffd", "1")], "name"),
    ("%FF=%FE", [("\ufffd", "\ufffd")], "name and value"),
    ("a=%C3", [("a", "\ufffd")], "value"),
    ("a=%ED%A0%80", [("a", "\ufffd\ufffd\ufffd")], "value"),  # an encoded surrogate
]


@pytest.mark.parametrize(("query", "expected", "what"), INVALID_UTF8_CASES)
def test_invalid_utf8_in_query_is_replaced_with_a_diagnostic(
    query: str, expected: list[Param], what: str
) -> None:
    decoded = decode(Payload(query=query + "&ok=1"))
    assert decoded.params == [*expected, ("ok", "1")]
    name = expected[0][0]
    assert decoded.diagnostics == [
        Diagnostic(
            DiagnosticCode.INVALID_VALUE,
            name,
            f"This query string parameter's {what} was not valid UTF-8;"
            " invalid bytes were replaced with U+FFFD.",
        )
    ]


def test_lone_surrogate_in_a_python_query_string_does_not_crash() -> None:
    decoded = decode(Payload(query="a=x\ud800"))
    assert decoded.params == [("a", "x\ufffd\ufffd\ufffd")]
    assert [d.parameter for d in decoded.diagnostics] == ["a"]


# --- JSON bodies ----------------------------------------------------------------

JSON_CASES: list[tuple[bytes, str, list[Param]]] = [
    (b"{}", JSON, []),
    (b'{"a": "1", "b": "x"}', JSON, [("a", "1"), ("b", "x")]),
    (b'{"b": 1, "a": 2}', JSON, [("b", N("1")), ("a", N("2"))]),
    (b'{"a": 1, "a": 2}', JSON, [("a", N("1")), ("a", N("2"))]),
    (b'{"t": 12345678901234567890}', JSON, [("t", N("12345678901234567890"))]),
    (b'{"v": 120.00}', JSON, [("v", N("120.00"))]),
    (b'{"v": 1e400}', JSON, [("v", N("1e400"))]),
    (b'{"v": -0.5E-3}', JSON, [("v", N("-0.5E-3"))]),
    (b'{"v": -0}', JSON, [("v", N("-0"))]),
    (b'{"t": true, "f": false, "n": null}', JSON, [("t", True), ("f", False), ("n", None)]),
    (b'{"o": {"x": 1, "x": 2}}', JSON, [("o", Obj([("x", N("1")), ("x", N("2"))]))]),
    (
        b'{"items": [{"id": "a", "qty": 2}, [1, "2"]]}',
        JSON,
        [("items", [Obj([("id", "a"), ("qty", N("2"))]), [N("1"), "2"]])],
    ),
    (b'{"e": "", "s": "  "}', JSON, [("e", ""), ("s", "  ")]),
    (b'{"nul": "a\\u0000b"}', JSON, [("nul", "a\x00b")]),
    (b'{"emoji": "\\ud83d\\ude00"}', JSON, [("emoji", "\U0001f600")]),
    ('{"city": "Zürich"}'.encode(), JSON, [("city", "Zürich")]),
    (b'{"items[0][id]": "x"}', JSON, [("items[0][id]", "x")]),
    (BOM + b'{"a": 1}', JSON, [("a", N("1"))]),
    (b' \r\n\t{"a": 1} \n', JSON, [("a", N("1"))]),
    (b'{"a": 1}', "application/json; charset=utf-8", [("a", N("1"))]),
    (b'{"a": 1}', "APPLICATION/JSON", [("a", N("1"))]),
    (b'{"a": 1}', "  application/json ; charset=UTF-8 ", [("a", N("1"))]),
    (b'{"a": 1}', "application/vnd.api+json", [("a", N("1"))]),
    (b'{"a": 1}', "application/problem+JSON; charset=utf-8", [("a", N("1"))]),
    (b"", JSON, []),
    (b" \r\n ", JSON, []),
    (BOM, JSON, []),
]


@pytest.mark.parametrize(("body", "content_type", "expected"), JSON_CASES)
def test_json_body_pairs_in_document_order(
    body: bytes, content_type: str, expected: list[Param]
) -> None:
    assert _params(body=body, content_type=content_type) == expected


def test_json_numbers_are_exact_text_never_floats() -> None:
    digits = "9" * 5000
    params = _params(body=f'{{"a": {digits}, "b": 1.10, "c": 1e400}}'.encode(), content_type=JSON)
    assert params == [("a", digits), ("b", "1.10"), ("c", "1e400")]
    assert all(type(value) is JsonNumber for _, value in params)


def test_json_containers_are_json_objects_and_lists() -> None:
    ((_, value),) = _params(body=b'{"o": {"a": [1, {"b": 2}]}}', content_type=JSON)
    assert type(value) is JsonObject
    assert isinstance(value, JsonObject)
    inner = value[0][1]
    assert type(inner) is list
    assert type(inner[1]) is JsonObject


def test_unpaired_surrogate_escape_in_json_body_is_replaced_with_a_diagnostic() -> None:
    decoded = decode(
        Payload(body=b'{"ok": "\\ud83d\\ude00", "a\\ud800": ["x\\udc00"]}', content_type=JSON)
    )
    assert decoded.params == [("ok", "\U0001f600"), ("a\ufffd", ["x\ufffd"])]
    assert [(d.code, d.parameter) for d in decoded.diagnostics] == [
        (DiagnosticCode.INVALID_VALUE, "a\ufffd")
    ]


# --- form bodies ------------------------------------------------------------------

FORM_CASES: list[tuple[bytes, str, list[Param]]] = [
    (b"a=1&b=x+y%21", FORM, [("a", "1"), ("b", "x y!")]),
    (b"a=1&a=2&flag&c=", FORM, [("a", "1"), ("a", "2"), ("flag", ""), ("c", "")]),
    (b"a=1&b=2\n", FORM, [("a", "1"), ("b", "2")]),
    (b"a=1", "application/x-www-form-urlencoded; charset=UTF-8", [("a", "1")]),
    (b"a=1", "Application/X-WWW-Form-Urlencoded", [("a", "1")]),
    (b"items[0][id]=x", FORM, [("items[0][id]", "x")]),
    (b'{"a": 1}', FORM, [('{"a": 1}', "")]),  # the declared type wins over sniffing
    ("city=Zürich".encode(), FORM, [("city", "Zürich")]),
]


@pytest.mark.parametrize(("body", "content_type", "expected"), FORM_CASES)
def test_form_body(body: bytes, content_type: str, expected: list[Param]) -> None:
    assert _params(body=body, content_type=content_type) == expected


def test_invalid_utf8_in_form_body_is_replaced_with_a_diagnostic() -> None:
    decoded = decode(Payload(body=b"last_name=M\xfcller&raw=%FF", content_type=FORM))
    assert decoded.params == [("last_name", "M\ufffdller"), ("raw", "\ufffd")]
    assert [(d.code, d.parameter) for d in decoded.diagnostics] == [
        (DiagnosticCode.INVALID_VALUE, "last_name"),
        (DiagnosticCode.INVALID_VALUE, "raw"),
    ]
    assert all("form body" in d.message for d in decoded.diagnostics)


# --- sniffing ---------------------------------------------------------------------

SNIFF_CASES: list[tuple[bytes, str, list[Param]]] = [
    (b'{"a": 1}', "", [("a", N("1"))]),
    (b' \n\t {"a": 1}', "", [("a", N("1"))]),
    (BOM + b'{"a": 1}', "", [("a", N("1"))]),
    (b'{"a": 1}', "text/plain", [("a", N("1"))]),
    (b'{"a": 1}', "text/plain; charset=utf-8", [("a", N("1"))]),
    (b'{"a": 1}', "application/octet-stream", [("a", N("1"))]),
    (b"a=1&b=2", "", [("a", "1"), ("b", "2")]),
    (b"a=1&b=2", "text/plain", [("a", "1"), ("b", "2")]),
    (b"  a=1\r\n", "", [("a", "1")]),
    (b"[1, 2]", "", [("[1, 2]", "")]),
    (b"", "", []),
    (b"   \n", "text/plain", []),
    (b"", "multipart/form-data", []),
]


@pytest.mark.parametrize(("body", "content_type", "expected"), SNIFF_CASES)
def test_sniffing_without_a_known_content_type(
    body: bytes, content_type: str, expected: list[Param]
) -> None:
    assert _params(body=body, content_type=content_type) == expected


def test_sniffed_json_is_as_strict_as_declared_json() -> None:
    rejection = _rejection(Payload(body=b"{oops}"))
    assert rejection.field == "payload.body"
    assert rejection.metadata == {"line": "1", "column": "2"}


# --- multipart ----------------------------------------------------------------------

MULTIPART_CASES: list[tuple[bytes, str, list[Param]]] = [
    (
        _multipart(_field("a", b"1"), _field("b", b"two words")),
        MULTIPART,
        [("a", "1"), ("b", "two words")],
    ),
    (_multipart(_field("a", b"1"), _field("a", b"2")), MULTIPART, [("a", "1"), ("a", "2")]),
    (_multipart(_field("a", b"line1\r\nline2\r\n")), MULTIPART, [("a", "line1\r\nline2\r\n")]),
    (_multipart(_field("a", b"")), MULTIPART, [("a", "")]),
    (_multipart(_field("a", b"1"), newline=b"\n"), MULTIPART, [("a", "1")]),
    (b"preamble\r\n" + _multipart(_field("a", b"1")) + b"epilogue", MULTIPART, [("a", "1")]),
    (_multipart(_field("a", b"1")), 'multipart/form-data; boundary="XyZ"', [("a", "1")]),
    (
        _multipart(_field("a", b"1")),
        "Multipart/Form-Data; charset=utf-8; boundary=XyZ",
        [("a", "1")],
    ),
    (
        _multipart(_field("a", b"1"), boundary=b"----WebKitFormBoundary7MA4YWxkTrZu0gW"),
        "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
        [("a", "1")],
    ),
    (
        _multipart(b"Content-Disposition: form-data; name=plain\r\n\r\nv"),
        MULTIPART,
        [("plain", "v")],
    ),
    (_multipart(b'content-disposition: FORM-DATA; NAME="a"\r\n\r\nv'), MULTIPART, [("a", "v")]),
    (
        _multipart(b'Content-Disposition: form-data; name="a\\"b"\r\n\r\nv'),
        MULTIPART,
        [('a"b', "v")],
    ),
    (_multipart(b'Content-Disposition: form-data; name="a;b"\r\n\r\nv'), MULTIPART, [("a;b", "v")]),
    (
        _multipart(b'Content-Disposition: form-data;\r\n name="folded"\r\n\r\nv'),
        MULTIPART,
        [("folded", "v")],
    ),
    (
        _multipart(
            b'Content-Type: text/plain\r\nContent-Disposition: form-data; name="a"\r\n\r\nv'
        ),
        MULTIPART,
        [("a", "v")],
    ),
    (_multipart(_field("items[0][id]", b"x")), MULTIPART, [("items[0][id]", "x")]),
    (_multipart(_field("city", "Zürich".encode())), MULTIPART, [("city", "Zürich")]),
    (_multipart(_field("a", b"--XyZnot-a-delimiter")), MULTIPART, [("a", "--XyZnot-a-delimiter")]),
    (
        _multipart(_field("a", b"x\r\n--XyZ-not-either")),
        MULTIPART,
        [("a", "x\r\n--XyZ-not-either")],
    ),
    # Parts without a usable name are skipped silently.
    (_multipart(b"\r\nno headers", _field("a", b"1")), MULTIPART, [("a", "1")]),
    (_multipart(b"Content-Type: text/plain\r\n\r\nx"), MULTIPART, []),
    (_multipart(b"Content-Disposition: form-data\r\n\r\nx"), MULTIPART, []),
    (_multipart(b'Content-Disposition: form-data; name=""\r\n\r\nx'), MULTIPART, []),
    (_multipart(b"garbage without a blank line"), MULTIPART, []),
    (_multipart(b""), MULTIPART, []),
    (b"--XyZ--\r\n", MULTIPART, []),
]


@pytest.mark.parametrize(("body", "content_type", "expected"), MULTIPART_CASES)
def test_multipart_text_fields_in_order(
    body: bytes, content_type: str, expected: list[Param]
) -> None:
    decoded = decode(Payload(body=body, content_type=content_type))
    assert decoded.params == expected
    assert decoded.diagnostics == []


@pytest.mark.parametrize(
    "file_part",
    [
        b'Content-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ncontent",
        b'Content-Disposition: form-data; name="f"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n",
        b"Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''%C3%A9.txt\r\n\r\nx",
        b'Content-Disposition: form-data; name="f"\r\nContent-Type: multipart/mixed; b=1\r\n\r\nx',
    ],
)
def test_multipart_file_uploads_are_ignored_with_a_diagnostic(file_part: bytes) -> None:
    body = _multipart(_field("a", b"1"), file_part, _field("b", b"2"))
    decoded = decode(Payload(body=body, content_type=MULTIPART))
    assert decoded.params == [("a", "1"), ("b", "2")]
    assert decoded.diagnostics == [
        Diagnostic(
            DiagnosticCode.INVALID_VALUE,
            "f",
            "The file upload in this multipart field was ignored; only text fields are read.",
        )
    ]


def test_invalid_utf8_elsewhere_in_part_headers_is_not_blamed_on_the_name() -> None:
    part = b'Content-Disposition: form-data; name="a"\r\nContent-Type: text/plain; x=\xff\r\n\r\nv'
    decoded = decode(Payload(body=_multipart(part), content_type=MULTIPART))
    assert decoded == Decoded([("a", "v")], [])


def test_invalid_utf8_in_multipart_is_replaced_with_a_diagnostic() -> None:
    body = _multipart(
        _field("a", b"M\xfcller"), b'Content-Disposition: form-data; name="\xff"\r\n\r\nv'
    )
    decoded = decode(Payload(body=body, content_type=MULTIPART))
    assert decoded.params == [("a", "M\ufffdller"), ("\ufffd", "v")]
    assert [
        (d.parameter, d.message.split("'s ")[1].split(" was")[0]) for d in decoded.diagnostics
    ] == [
        ("a", "value"),
        ("\ufffd", "name"),
    ]


# --- order across parts ---------------------------------------------------------------


def test_query_then_body_then_struct() -> None:
    struct = Obj([("c", N("3")), ("a", "struct")])
    params = _params(query="a=query&z=1", body=b'{"a": "body"}', content_type=JSON, struct=struct)
    assert params == [("a", "query"), ("z", "1"), ("a", "body"), ("c", "3"), ("a", "struct")]


def test_struct_alone_and_empty_struct() -> None:
    struct = Obj([("o", Obj([("x", [N("1")])]))])
    assert _params(struct=struct) == [("o", Obj([("x", [N("1")])]))]
    assert _params(struct=Obj()) == []


def test_nothing_sent_decodes_to_nothing() -> None:
    assert decode(Payload()) == Decoded([], [])


# --- rejections -------------------------------------------------------------------------

REJECTION_CASES: list[tuple[str, Payload, str, str, dict[str, str]]] = [
    (
        "syntax error",
        Payload(body=b'{\n  "a": 1,\n  "b" 2\n}', content_type=JSON),
        "payload.body",
        "The JSON body is invalid at line 3, column 7: Expecting ':' delimiter.",
        {"line": "3", "column": "7"},
    ),
    (
        "trailing data",
        Payload(body=b'{"a": 1} x', content_type=JSON),
        "payload.body",
        "The JSON body is invalid at line 1, column 10: Extra data.",
        {"line": "1", "column": "10"},
    ),
    (
        "truncated",
        Payload(body=b'{"a": "x', content_type=JSON),
        "payload.body",
        "The JSON body is invalid at line 1, column 7: Unterminated string starting at.",
        {"line": "1", "column": "7"},
    ),
    (
        "NaN",
        Payload(body=b'{"a": 1,\n"b": NaN}', content_type=JSON),
        "payload.body",
        "The JSON body is invalid at line 2, column 6: NaN is not valid JSON.",
        {"line": "2", "column": "6"},
    ),
    (
        "-Infinity after a string that looks like one",
        Payload(body=b'{"s": "NaN [[", "b": [-Infinity]}', content_type=JSON),
        "payload.body",
        "The JSON body is invalid at line 1, column 23: -Infinity is not valid JSON.",
        {"line": "1", "column": "23"},
    ),
    (
        "invalid UTF-8",
        Payload(body=b'{"a": "\xc3\xa9", "b": "\xff"}', content_type=JSON),
        "payload.body",
        "The JSON body is invalid at line 1, column 18 (byte offset 18): Invalid UTF-8.",
        {"line": "1", "column": "18", "byteOffset": "18"},
    ),
    (
        "invalid UTF-8 after a BOM on line 2",
        Payload(body=BOM + b'{"a":\n "\xc3\xa9\xc3"}', content_type=JSON),
        "payload.body",
        "The JSON body is invalid at line 2, column 4 (byte offset 13): Invalid UTF-8.",
        {"line": "2", "column": "4", "byteOffset": "13"},
    ),
    (
        "UTF-16 is not UTF-8",
        Payload(body='{"a": 1}'.encode("utf-16"), content_type=JSON),
        "payload.body",
        "The JSON body is invalid at line 1, column 1 (byte offset 0): Invalid UTF-8.",
        {"line": "1", "column": "1", "byteOffset": "0"},
    ),
    (
        "array",
        Payload(body=b"[1, 2]", content_type=JSON),
        "payload.body",
        "The JSON body must be an object, got an array.",
        {"jsonType": "array"},
    ),
    (
        "string",
        Payload(body=b'"a=1"', content_type=JSON),
        "payload.body",
        "The JSON body must be an object, got a string.",
        {"jsonType": "string"},
    ),
    (
        "number",
        Payload(body=b"12", content_type="application/ld+json"),
        "payload.body",
        "The JSON body must be an object, got a number.",
        {"jsonType": "number"},
    ),
    (
        "null",
        Payload(body=b"null", content_type=JSON),
        "payload.body",
        "The JSON body must be an object, got null.",
        {"jsonType": "null"},
    ),
    (
        "boolean",
        Payload(body=b" true ", content_type=JSON),
        "payload.body",
        "The JSON body must be an object, got a boolean.",
        {"jsonType": "boolean"},
    ),
    (
        "form sent as JSON",
        Payload(body=b"a=1&b=2", content_type=JSON),
        "payload.body",
        "The JSON body is invalid at line 1, column 1: Expecting value.",
        {"line": "1", "column": "1"},
    ),
    (
        "multipart without boundary",
        Payload(body=_multipart(_field("a", b"1")), content_type="multipart/form-data"),
        "payload.content_type",
        "The multipart/form-data content type has no boundary parameter.",
        {"contentType": "multipart/form-data"},
    ),
    (
        "multipart with an empty boundary",
        Payload(body=b"--\r\n", content_type='multipart/form-data; boundary=""'),
        "payload.content_type",
        "The multipart/form-data content type has no boundary parameter.",
        {"contentType": "multipart/form-data"},
    ),
    (
        "multipart boundary too long",
        Payload(body=b"x", content_type="multipart/form-data; boundary=" + "b" * 71),
        "payload.content_type",
        "The multipart boundary is 71 characters long; the limit is 70.",
        {"length": "71", "limit": "70"},
    ),
    (
        "multipart with another boundary",
        Payload(body=_multipart(_field("a", b"1"), boundary=b"Other"), content_type=MULTIPART),
        "payload.body",
        "The multipart body does not contain its boundary delimiter.",
        {},
    ),
    (
        "multipart without closing delimiter",
        Payload(body=b"--XyZ\r\n" + _field("a", b"1") + b"\r\n", content_type=MULTIPART),
        "payload.body",
        "The multipart body ends without its closing delimiter.",
        {},
    ),
    (
        "multipart truncated at a delimiter",
        Payload(body=b"--XyZ\r\n" + _field("a", b"1") + b"\r\n--XyZ", content_type=MULTIPART),
        "payload.body",
        "The multipart body ends without its closing delimiter.",
        {},
    ),
    (
        "multipart garbage",
        Payload(body=b"\x00\xff garbage", content_type=MULTIPART),
        "payload.body",
        "The multipart body does not contain its boundary delimiter.",
        {},
    ),
]


@pytest.mark.parametrize(
    ("payload", "field", "message", "metadata"),
    [case[1:] for case in REJECTION_CASES],
    ids=[case[0] for case in REJECTION_CASES],
)
def test_malformed_payloads_are_rejected(
    payload: Payload, field: str, message: str, metadata: dict[str, str]
) -> None:
    rejection = _rejection(payload)
    assert rejection.field == field
    assert rejection.message == message
    assert rejection.metadata == metadata
    for value in metadata.values():
        assert value in message


def test_rejection_messages_do_not_echo_payload_content() -> None:
    secret = "jane.doe.secret@example.com"
    for body in (f'{{"email": "{secret}" oops}}', f'["{secret}"]', f'{{"e": "{secret}\xff"}}'):
        rejection = _rejection(Payload(body=body.encode("latin-1"), content_type=JSON))
        assert secret not in rejection.message
        assert secret not in str(rejection.metadata)


# --- limits ---------------------------------------------------------------------------


def test_size_limit_counts_query_and_body_together() -> None:
    query = "a=" + "x" * 1000
    body = b"b=" + b"y" * (MAX_PAYLOAD_BYTES - len(query) - 2)
    assert len(_params(query=query, body=body, content_type=FORM)) == 2
    rejection = _rejection(Payload(query=query, body=body + b"y", content_type=FORM))
    assert rejection.field == "payload"
    assert rejection.metadata == {
        "size": str(MAX_PAYLOAD_BYTES + 1),
        "limit": str(MAX_PAYLOAD_BYTES),
    }
    assert rejection.message == (
        "The payload is 1048577 bytes; the limit for the query and body together is 1048576 bytes."
    )


def test_size_limit_counts_query_bytes_not_characters() -> None:
    query = "a=" + "é" * (MAX_PAYLOAD_BYTES // 2)  # 2 bytes each: one byte over
    assert _rejection(Payload(query=query)).field == "payload"


def _many_pairs(n: int) -> str:
    return "&".join(f"k{i}=v" for i in range(n))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (Payload(query=_many_pairs(MAX_PARAMETERS + 1)), "payload.query"),
        (Payload(body=_many_pairs(MAX_PARAMETERS + 1).encode(), content_type=FORM), "payload.body"),
        (
            Payload(
                body=json.dumps({f"k{i}": i for i in range(MAX_PARAMETERS + 1)}).encode(),
                content_type=JSON,
            ),
            "payload.body",
        ),
        (
            Payload(
                body=_multipart(*(_field(f"k{i}", b"v") for i in range(MAX_PARAMETERS + 1))),
                content_type=MULTIPART,
            ),
            "payload.body",
        ),
        (Payload(query=_many_pairs(MAX_PARAMETERS), body=b"x=1"), "payload.body"),
        (Payload(query=_many_pairs(MAX_PARAMETERS), json=Obj([("x", "1")])), "payload.json"),
    ],
    ids=["query", "form", "json", "multipart", "query+body", "query+struct"],
)
def test_parameter_limit(payload: Payload, field: str) -> None:
    rejection = _rejection(payload)
    assert rejection.field == field
    assert rejection.metadata == {"limit": "10000"}
    assert rejection.message == "The payload has more than 10000 parameters."


def test_parameter_limit_is_inclusive_and_empty_segments_do_not_count() -> None:
    query = _many_pairs(MAX_PARAMETERS // 2) + "&" * 100_000
    body = _many_pairs(MAX_PARAMETERS // 2).encode()
    assert len(_params(query=query, body=body, content_type=FORM)) == MAX_PARAMETERS


def test_ignored_file_parts_count_toward_the_parameter_limit() -> None:
    file_part = b'Content-Disposition: form-data; name="f"; filename="x"\r\n\r\n'
    body = _multipart(*([file_part] * (MAX_PARAMETERS + 1)))
    assert _rejection(Payload(body=body, content_type=MULTIPART)).metadata == {"limit": "10000"}


def _nested(depth: int) -> bytes:
    """A body whose deepest container sits at ``depth`` (the object is depth 1)."""
    inner = depth - 1
    return b'{"a": ' + b"[" * inner + b"]" * inner + b"}"


def test_json_depth_64_is_accepted() -> None:
    ((_, value),) = _params(body=_nested(MAX_JSON_DEPTH), content_type=JSON)
    assert isinstance(value, list)


def test_json_depth_65_is_rejected_where_it_happens() -> None:
    rejection = _rejection(Payload(body=_nested(MAX_JSON_DEPTH + 1), content_type=JSON))
    # `{"a": ` is 6 characters; the 64th '[' opens level 65.
    assert rejection.metadata == {"line": "1", "column": "70", "limit": "64"}
    assert rejection.message == (
        "The JSON body is invalid at line 1, column 70: Nesting is deeper than 64 levels."
    )


def test_json_depth_counts_objects_too() -> None:
    body = b'{"a": ' + b'{"b": ' * 64 + b"1" + b"}" * 64 + b"}"
    assert _rejection(Payload(body=body, content_type=JSON)).metadata["limit"] == "64"


def test_very_deep_json_is_a_rejection_not_a_recursion_error() -> None:
    for body in (b"[" * 10_000 + b"]" * 10_000, b'{"a": ' + b"[" * 100_000, b'{"a":' * 50_000):
        rejection = _rejection(Payload(body=body, content_type=JSON))
        assert rejection.metadata["limit"] == "64"
        assert rejection.metadata["column"] in {"65", "70", "321"}


def test_struct_depth_limit() -> None:
    deep: JsonObject = Obj([("leaf", "x")])
    for _ in range(MAX_JSON_DEPTH - 1):
        deep = Obj([("a", deep)])
    assert len(_params(struct=deep)) == 1
    rejection = _rejection(Payload(json=Obj([("a", deep)])))
    assert rejection.field == "payload.json"
    assert rejection.metadata == {"limit": "64"}


# --- parse_json_text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"id": "1", "price": 9.90}]', [Obj([("id", "1"), ("price", N("9.90"))])]),
        (b'[{"id": 1}]', [Obj([("id", N("1"))])]),
        (BOM + b"[1]", [N("1")]),
        ("\ufeff[1]", [N("1")]),
        ('"text"', "text"),
        ("12345678901234567890", N("12345678901234567890")),
        ("null", None),
        ('"\\ud800"', "\ufffd"),
        ('[{"k\\udfff": ["\\ud800x"]}]', [Obj([("k\ufffd", ["\ufffdx"])])]),
        ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, json.loads("[" * 64 + "]" * 64)),
    ],
)
def test_parse_json_text(text: str | bytes, expected: object) -> None:
    assert parse_json_text(text) == expected


@pytest.mark.parametrize(
    ("text", "line", "column", "needle"),
    [
        ("", 1, 1, "Expecting value"),
        ("[1,]", 1, 4, "Expecting value"),
        ("[1]\n[2]", 2, 1, "Extra data"),
        ("[Infinity]", 1, 2, "Infinity is not valid JSON"),
        ("[" * 65 + "]" * 65, 1, 65, "Nesting is deeper than 64 levels"),
        ("[" * 65, 1, 66, "Expecting value"),  # the syntax error is met first
        ("[" * 10_000 + "]" * 10_000, 1, MAX_JSON_DEPTH + 1, "Nesting is deeper than 64 levels"),
        (b"[\n\xff]", 2, 1, "Invalid UTF-8"),
    ],
)
def test_parse_json_text_errors(text: str | bytes, line: int, column: int, needle: str) -> None:
    with pytest.raises(JsonError) as caught:
        parse_json_text(text)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.line, error.column) == (line, column)
    assert needle in str(error)
    assert f"line {line}, column {column}" in str(error)


# --- robustness ------------------------------------------------------------------------

CONTENT_TYPES = [JSON, FORM, MULTIPART, "multipart/form-data", "", "text/plain", "x+json"]


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(CONTENT_TYPES))
def test_arbitrary_bodies_never_raise_anything_but_rejection(
    body: bytes, content_type: str
) -> None:
    _decode_or_malformed(Payload(body=body, content_type=content_type))


_MULTIPART_PIECES = st.sampled_from(
    [
        b"--XyZ",
        b"--XyZ--",
        b"\r\n",
        b"\n",
        b"\r",
        b" ",
        b"--",
        b"Content-Disposition: form-data",
        b"; name=",
        b'"',
        b"\\",
        b"a",
        b"; filename=",
        b"Content-Type: multipart/mixed",
        b":",
        b";",
        b"\xff",
    ]
)


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(_MULTIPART_PIECES | st.binary(max_size=8), max_size=40))
def test_structured_multipart_garbage_never_raises_anything_but_rejection(
    pieces: list[bytes],
) -> None:
    decoded = _decode_or_malformed(Payload(body=b"".join(pieces), content_type=MULTIPART))
    if decoded is not None:
        assert all(
            isinstance(name, str) and isinstance(value, str) for name, value in decoded.params
        )


@settings(max_examples=300, deadline=None)
@given(query=st.text(max_size=300), content_type=st.text(max_size=60), body=st.binary(max_size=200))
def test_arbitrary_queries_and_content_types_never_raise_anything_but_rejection(
    query: str, content_type: str, body: bytes
) -> None:
    _decode_or_malformed(Payload(query=query, body=body, content_type=content_type))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20)), max_size=20))
def test_urlencoded_pairs_round_trip(pairs: list[tuple[str, str]]) -> None:
    encoded = urlencode(pairs)
    assert _params(query=encoded) == pairs
    assert _params(body=encoded.encode(), content_type=FORM) == pairs


_JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _JSON_VALUES, max_size=10))
def test_json_objects_round_trip(document: dict[str, object]) -> None:
    params = _params(body=json.dumps(document).encode(), content_type=JSON)
    assert [name for name, _ in params] == list(document)


HOSTILE_BODIES: list[tuple[str, bytes, str]] = [
    ("unterminated escapes", b'{"a": "' + b'\\"' * 400_000, JSON),
    ("many brackets in strings", b'{"a": "' + b"[" * 900_000 + b'", "b": NaN}', JSON),
    ("delimiter prefixes", b"\n--XyZ" * 150_000, MULTIPART),
    ("padding without newline", b"--XyZ" + b" " * 900_000, MULTIPART),
    (
        "quotes in a disposition",
        b"--XyZ\r\nContent-Disposition: form-data; name="
        + b'\\"' * 300_000
        + b"\r\n\r\nv\r\n--XyZ--",
        MULTIPART,
    ),
    ("header lines", b"--XyZ\r\n" + b"a:b\r\n\t" * 150_000 + b"\r\n\r\n--XyZ--", MULTIPART),
    ("percent signs", b"a=" + b"%" * 1_000_000, FORM),
    ("ampersands", b"&" * 1_000_000, FORM),
]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [case[1:] for case in HOSTILE_BODIES],
    ids=[case[0] for case in HOSTILE_BODIES],
)
def test_hostile_bodies_are_decoded_in_linear_time(body: bytes, content_type: str) -> None:
    started = time.perf_counter()
    _decode_or_malformed(Payload(body=body, content_type=content_type))
    # Quadratic behaviour on ~1 MiB would take minutes; linear takes milliseconds.
    assert time.perf_counter() - started < 5
