"""Decode a raw postback (query, body, ``json`` Struct) into one ordered parameter list.

SPEC §1 (Payload), §2 (reading parameters) and §9 (limits). The result is the
list the core reads aliases from: query pairs in order, then body parameters in
document order, then the ``json`` Struct's keys. Nothing is interpreted here:
names are kept as sent (bracket notation such as ``items[0][id]`` included),
blank values are kept (the core decides what is usable), duplicates are kept.

Only ``Rejection(MALFORMED_PAYLOAD)`` ever leaves :func:`decode`; everything
that can be repaired without guessing (invalid UTF-8 in a query or form value,
an unpaired surrogate escape in a JSON string) becomes a diagnostic instead.

Choices where the spec is silent:

* Query and form pairs are split on ``&`` only (``;`` is an ordinary character,
  as in the WHATWG URL standard and ``urllib.parse`` since 3.9.2).
* A body that is empty or only whitespace (after an optional UTF-8 BOM) yields
  no parameters, whatever its content type; the content type is not checked.
* Form bodies lose a leading BOM and surrounding whitespace first, so the
  trailing newline of ``curl -d @file`` does not end up in the last name.
* Form, query and multipart text is always read as UTF-8; a ``charset``
  parameter is ignored (RFC 7578 §5.1.2 makes UTF-8 the default).
* Multipart: RFC 2046 boundaries (1 to 70 characters); bare LF line ends are
  accepted; a part without ``Content-Disposition`` or without ``name`` is
  skipped silently; ``name*`` (RFC 5987) is not decoded; a part with a
  ``filename`` parameter or a ``multipart/*`` content type is a file upload,
  ignored with a diagnostic, but still counts toward ``MAX_PARAMETERS``;
  ``Content-Transfer-Encoding`` is ignored (deprecated by RFC 7578).
* A JSON string with an unpaired surrogate escape (``"\\ud800"``, valid JSON
  grammar but not Unicode text) is repaired with U+FFFD, because such a string
  cannot be hashed or serialized to protobuf later.
* The ``json`` Struct is subject to the same depth and count limits as a body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import NoReturn

from service.core.model import (
    Diagnostic,
    DiagnosticCode,
    JsonNumber,
    JsonObject,
    Param,
    Payload,
    Rejection,
    RejectionReason,
    Value,
)

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_MULTIPART_BOUNDARY_LENGTH",
    "MAX_PARAMETERS",
    "MAX_PAYLOAD_BYTES",
    "Decoded",
    "JsonError",
    "decode",
    "parse_json_text",
]

# Body and query together (SPEC §9); the server's gRPC receive limit matches.
MAX_PAYLOAD_BYTES = 1024 * 1024
# Top-level parameters from all parts together.
MAX_PARAMETERS = 10_000
# Nested arrays/objects, the outermost container counting as depth 1.
MAX_JSON_DEPTH = 64
# RFC 2046 §5.1.1; also keeps the delimiter search cheap on hostile bodies.
MAX_MULTIPART_BOUNDARY_LENGTH = 70

# google.rpc.BadRequest field paths into the request.
_FIELD_PAYLOAD = "payload"
_FIELD_QUERY = "payload.query"
_FIELD_BODY = "payload.body"
_FIELD_CONTENT_TYPE = "payload.content_type"
_FIELD_JSON = "payload.json"

_UTF8_BOM = b"\xef\xbb\xbf"
_REPLACED = "invalid bytes were replaced with U+FFFD"

# A valid percent escape; anything else after '%' stays literal (as urllib does).
_PERCENT_ESCAPE_RE = re.compile(rb"%([0-9A-Fa-f]{2})")
# Every spelling of every escape (`%2f`, `%2F`), so decoding is one dict lookup.
_ESCAPED_BYTES = {
    (high + low).encode(): bytes([int(high + low, 16)])
    for high in "0123456789abcdefABCDEF"
    for low in "0123456789abcdefABCDEF"
}
# Non-empty runs between '&'; lazy iteration lets the parameter limit stop a
# hostile query early instead of splitting it into a million segments first.
_FORM_SEGMENT_RE = re.compile(rb"[^&]+")
# JSON whitespace (RFC 8259 §2), for sniffing and blank-body detection.
_JSON_WHITESPACE_RE = re.compile(rb"[ \t\r\n]*")
# JSON tokens that matter when locating an error after the fact: strings
# (skipped; the closing quote is optional so an unterminated string is consumed
# once instead of being rescanned from every later quote), brackets, and the
# non-JSON constants the stdlib would otherwise accept.
_JSON_TOKEN_RE = re.compile(
    r'"[^"\\]*(?:\\.[^"\\]*)*"?|(?P<open>[\[{])|(?P<close>[\]}])|(?P<constant>NaN|-?Infinity)',
    re.DOTALL,
)
# Cheap pre-check: only a \uD800-\uDFFF escape can produce a lone surrogate.
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# One `; name=value` header parameter (Content-Type, Content-Disposition).
# Every branch always succeeds (an unterminated quoted string runs to the end),
# so matching never backtracks and the whole header is read in linear time.
_HEADER_PARAM_RE = re.compile(
    r'\s*([^\s=;]*)\s*(?:=\s*(?:"([^"\\]*(?:\\.[^"\\]*)*)"?|([^;]*)))?[^;]*;?',
    re.DOTALL,
)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
# What may follow a multipart delimiter before its line break (RFC 2046 LWSP).
_TRANSPORT_PADDING_RE = re.compile(rb"[ \t]*\r?\n")
_BLANK_LINE_RE = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True, slots=True)
class Decoded:
    """The parameters of one payload, in SPEC §2 order, and how they were repaired."""

    params: list[Param]
    diagnostics: list[Diagnostic]


class JsonError(ValueError):
    """JSON text that cannot be read: a syntax error, invalid UTF-8, or too deep.

    ``line`` and ``column`` are 1-based and count characters of the text after
    an optional BOM. ``byte_offset`` is set for invalid UTF-8 (an offset into
    the bytes as given); ``limit`` is set when the nesting limit was exceeded.
    ``msg`` is the bare reason and ``where`` the position as text, for callers
    that word their own message.
    """

    def __init__(
        self,
        msg: str,
        *,
        line: int,
        column: int,
        byte_offset: int | None = None,
        limit: int | None = None,
    ) -> None:
        where = f"line {line}, column {column}"
        if byte_offset is not None:
            where += f" (byte offset {byte_offset})"
        super().__init__(f"{msg} at {where}")
        self.where = where
        self.msg = msg
        self.line = line
        self.column = column
        self.byte_offset = byte_offset
        self.limit = limit


class _ConstantError(Exception):
    """``NaN``/``Infinity`` met by the stdlib decoder (no position is given)."""

    def __init__(self, constant: str) -> None:
        super().__init__(constant)
        self.constant = constant


def _reject_constant(constant: str) -> NoReturn:
    raise _ConstantError(constant)


# Built once: json.loads(**hooks) would construct a decoder and its C scanner
# on every call. parse_int/parse_float receive the literal text, so numbers stay
# exact (no float rounding, no int() digit limit); the C scanner is reentrant.
_DECODER = json.JSONDecoder(
    parse_int=JsonNumber,
    parse_float=JsonNumber,
    object_pairs_hook=JsonObject,
    parse_constant=_reject_constant,
)


def parse_json_text(text: str | bytes) -> Value:
    """Parse JSON text exactly: numbers as :class:`JsonNumber`, objects as :class:`JsonObject`.

    Bytes must be UTF-8; a leading BOM is accepted. Lone surrogate escapes are
    replaced with U+FFFD. Raises :class:`JsonError` on any failure, including
    nesting deeper than ``MAX_JSON_DEPTH`` and invalid UTF-8.
    """
    if isinstance(text, bytes):
        text = _decode_json_bytes(text)
    elif text.startswith("\ufeff"):
        text = text[1:]
    value = _loads(text)
    if _SURROGATE_ESCAPE_RE.search(text) is not None:
        value, _ = _scrub_surrogates(value)
    return value


def decode(payload: Payload) -> Decoded:
    """Read every present part of ``payload`` into one ordered parameter list.

    Raises :class:`Rejection` with ``MALFORMED_PAYLOAD`` (and nothing else) when
    the payload is too large, has too many parameters, nests too deeply, or has
    a body that cannot be decoded.
    """
    # surrogatepass: a str built in Python may hold lone surrogates; they are
    # counted and later replaced (with a diagnostic) instead of crashing here.
    query = payload.query.encode("utf-8", "surrogatepass")
    size = len(payload.body) + len(query)
    if size > MAX_PAYLOAD_BYTES:
        raise _malformed(
            f"The payload is {size} bytes; the limit for the query and body together"
            f" is {MAX_PAYLOAD_BYTES} bytes.",
            _FIELD_PAYLOAD,
            size=str(size),
            limit=str(MAX_PAYLOAD_BYTES),
        )
    out = _Collector()
    if query:
        # One leading '?' is how the query was written in the URL, not data.
        query = query.removeprefix(b"?")
        _read_form(query, "query string", _FIELD_QUERY, out)
    if payload.body:
        _read_body(payload.body, payload.content_type, out)
    if payload.json is not None:
        _read_struct(payload.json, out)
    return Decoded(out.params, out.diagnostics)


@dataclass(slots=True)
class _Collector:
    """Parameters and diagnostics gathered so far, with the parameter budget."""

    params: list[Param] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Parameters counted toward MAX_PARAMETERS: ignored file fields included,
    # so a body of many tiny file parts cannot flood the diagnostics.
    counted: int = 0

    def count(self, n: int, field_path: str) -> None:
        """Account for ``n`` more parameters; reject past the limit."""
        self.counted += n
        if self.counted > MAX_PARAMETERS:
            raise _malformed(
                f"The payload has more than {MAX_PARAMETERS} parameters.",
                field_path,
                limit=str(MAX_PARAMETERS),
            )

    def not_utf8(self, name: str, source: str, bad_name: bool, bad_value: bool) -> None:
        """Note that invalid UTF-8 in a parameter was replaced."""
        what = "name and value" if bad_name and bad_value else "name" if bad_name else "value"
        self.diagnostics.append(
            Diagnostic(
                DiagnosticCode.INVALID_VALUE,
                name,
                f"This {source} parameter's {what} was not valid UTF-8; {_REPLACED}.",
            )
        )


# --- query and form bodies ------------------------------------------------


def _read_form(data: bytes, source: str, field_path: str, out: _Collector) -> None:
    """Read ``application/x-www-form-urlencoded`` pairs (also the query string)."""
    for match in _FORM_SEGMENT_RE.finditer(data):
        out.count(1, field_path)
        segment = match.group()
        if b"%" not in segment:
            # No escapes: decoding the whole pair at once is the same as
            # decoding its name and its value ('=' and '+' are ASCII).
            try:
                text = segment.replace(b"+", b" ").decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                name, _, value = text.partition("=")
                out.params.append((name, value))
                continue
        raw_name, _, raw_value = segment.partition(b"=")
        name, bad_name = _form_unquote(raw_name)
        value, bad_value = _form_unquote(raw_value)
        if bad_name or bad_value:
            out.not_utf8(name, source, bad_name, bad_value)
        out.params.append((name, value))


def _unescape(match: re.Match[bytes]) -> bytes:
    """The byte a ``%XX`` escape stands for."""
    return _ESCAPED_BYTES[match[1]]


def _form_unquote(raw: bytes) -> tuple[str, bool]:
    """Decode one form component; the flag says invalid UTF-8 was replaced.

    Malformed escapes such as ``%zz`` stay literal, as in ``urllib.parse``.
    """
    if b"+" in raw:
        raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        # Not urllib's unquote_to_bytes: it costs an exception per stray '%',
        # which a hostile 1 MiB of '%' turns into a third of a second.
        raw = _PERCENT_ESCAPE_RE.sub(_unescape, raw)
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), True


# --- bodies -----------------------------------------------------------------


def _read_body(body: bytes, content_type: str, out: _Collector) -> None:
    """Dispatch on the media type; sniff when it is missing or unknown."""
    start = len(_UTF8_BOM) if body.startswith(_UTF8_BOM) else 0
    blank = _JSON_WHITESPACE_RE.match(body, start)
    first = start if blank is None else blank.end()
    if first == len(body):
        return  # Blank body: nothing was sent, whatever the content type says.
    media_type = content_type.partition(";")[0].strip().lower()
    declared_json = media_type == "application/json" or media_type.endswith("+json")
    declared_form = media_type == "application/x-www-form-urlencoded"
    if media_type == "multipart/form-data":
        _read_multipart(body, content_type, out)
    elif declared_json or (not declared_form and body[first] == ord("{")):
        _read_json_body(body, out)
    else:
        _read_form(body[first:].rstrip(b" \t\r\n"), "form body", _FIELD_BODY, out)


def _read_json_body(body: bytes, out: _Collector) -> None:
    """Read a JSON body whose top level must be an object; pairs in document order."""
    try:
        text = _decode_json_bytes(body)
        value = _loads(text)
    except JsonError as error:
        metadata = {"line": str(error.line), "column": str(error.column)}
        if error.byte_offset is not None:
            metadata["byteOffset"] = str(error.byte_offset)
        if error.limit is not None:
            metadata["limit"] = str(error.limit)
        raise _malformed(
            f"The JSON body is invalid at {error.where}: {error.msg}.",
            _FIELD_BODY,
            **metadata,
        ) from None
    if not isinstance(value, JsonObject):
        kind = _json_kind(value)
        raise _malformed(
            f"The JSON body must be an object, got {_KIND_PHRASES[kind]}.",
            _FIELD_BODY,
            jsonType=kind,
        )
    out.count(len(value), _FIELD_BODY)
    if _SURROGATE_ESCAPE_RE.search(text) is not None:
        for index, (name, item) in enumerate(value):
            fixed_name = _SURROGATE_RE.sub("\ufffd", name)
            fixed_item, bad_item = _scrub_surrogates(item)
            if bad_item or fixed_name != name:
                value[index] = (fixed_name, fixed_item)
                out.diagnostics.append(
                    Diagnostic(
                        DiagnosticCode.INVALID_VALUE,
                        fixed_name,
                        "This JSON body parameter held an unpaired surrogate escape;"
                        " it was replaced with U+FFFD.",
                    )
                )
    out.params.extend(value)


def _read_struct(obj: JsonObject, out: _Collector) -> None:
    """Append the already-parsed ``json`` Struct, under the same limits as a body."""
    out.count(len(obj), _FIELD_JSON)
    if _too_deep(obj):
        raise _malformed(
            f"The json object nests deeper than {MAX_JSON_DEPTH} levels.",
            _FIELD_JSON,
            limit=str(MAX_JSON_DEPTH),
        )
    out.params.extend(obj)


def _json_kind(value: Value) -> str:
    """The JSON type name of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, JsonNumber):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, JsonObject) else "array"


_KIND_PHRASES = {
    "null": "null",
    "boolean": "a boolean",
    "number": "a number",
    "string": "a string",
    "object": "an object",
    "array": "an array",
}


# --- JSON -------------------------------------------------------------------


def _decode_json_bytes(data: bytes) -> str:
    """UTF-8 (optionally BOM-prefixed) bytes to text; JsonError says where it broke."""
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return str(memoryview(data)[start:], "utf-8")
    except UnicodeDecodeError as error:
        bad = start + error.start
        line_start = max(data.rfind(b"\n", start, bad) + 1, start)
        # The prefix before the first bad byte is valid, so this cannot fail.
        column = len(data[line_start:bad].decode("utf-8")) + 1
        raise JsonError(
            "Invalid UTF-8",
            line=data.count(b"\n", start, bad) + 1,
            column=column,
            byte_offset=bad,
        ) from None


def _loads(text: str) -> Value:
    """Parse with the exact-number decoder and enforce ``MAX_JSON_DEPTH``."""
    try:
        value: Value = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise JsonError(error.msg, line=error.lineno, column=error.colno) from None
    except _ConstantError as error:
        # The stdlib hook gets no position: find the first constant outside a
        # string (everything before it parsed, so tokenizing from 0 is sound).
        position = _scan_json(text, want_constant=True)
        raise _json_error_at(text, position, f"{error.constant} is not valid JSON") from None
    except RecursionError:
        # The C scanner recurses once per level and stops at the interpreter's
        # recursion limit (~1000 levels), far past MAX_JSON_DEPTH.
        raise _depth_error(text) from None
    # More brackets than the limit are needed to exceed it: skip the walk on
    # the (common) small documents.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _too_deep(value):
        raise _depth_error(text)
    return value


def _too_deep(value: Value) -> bool:
    """Whether ``value`` nests containers deeper than ``MAX_JSON_DEPTH`` (iterative)."""
    if not isinstance(value, list):
        return False
    stack: list[tuple[list[Value] | JsonObject, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children = [item for _, item in node] if isinstance(node, JsonObject) else node
        for child in children:
            if isinstance(child, list):
                stack.append((child, depth + 1))
    return False


def _depth_error(text: str) -> JsonError:
    position = _scan_json(text, want_constant=False)
    return _json_error_at(
        text, position, f"Nesting is deeper than {MAX_JSON_DEPTH} levels", limit=MAX_JSON_DEPTH
    )


def _scan_json(text: str, *, want_constant: bool) -> int:
    """Offset of the first bracket past ``MAX_JSON_DEPTH``, or of the first constant.

    Only used on the error path, for the position in the message. Returns 0 if
    nothing is found (not expected: the parser got that far on valid tokens).
    """
    depth = 0
    for match in _JSON_TOKEN_RE.finditer(text):
        kind = match.lastgroup
        if kind == "constant" and want_constant:
            return match.start()
        if kind == "open":
            depth += 1
            if depth > MAX_JSON_DEPTH and not want_constant:
                return match.start()
        elif kind == "close":
            depth -= 1
    return 0


def _json_error_at(text: str, position: int, msg: str, *, limit: int | None = None) -> JsonError:
    line_start = text.rfind("\n", 0, position) + 1
    return JsonError(
        msg,
        line=text.count("\n", 0, position) + 1,
        column=position - line_start + 1,
        limit=limit,
    )


def _scrub_surrogates(value: Value) -> tuple[Value, bool]:
    """Replace lone surrogates in every string of ``value`` (containers in place).

    Returns the (possibly new) value and whether anything was replaced.
    """
    if isinstance(value, str):
        if _SURROGATE_RE.search(value) is None:
            return value, False
        return _SURROGATE_RE.sub("\ufffd", value), True
    if not isinstance(value, list):
        return value, False
    changed = False
    stack: list[list[Value] | JsonObject] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, JsonObject):
            for index, (name, item) in enumerate(node):
                fixed_name = _SURROGATE_RE.sub("\ufffd", name)
                fixed_item, item_changed = _scrub_leaf(item, stack)
                if item_changed or fixed_name != name:
                    node[index] = (fixed_name, fixed_item)
                    changed = True
        else:
            for index, item in enumerate(node):
                fixed_item, item_changed = _scrub_leaf(item, stack)
                if item_changed:
                    node[index] = fixed_item
                    changed = True
    return value, changed


def _scrub_leaf(item: Value, stack: list[list[Value] | JsonObject]) -> tuple[Value, bool]:
    """Fix a string, or queue a container for :func:`_scrub_surrogates`."""
    if isinstance(item, list):
        stack.append(item)
    elif isinstance(item, str) and _SURROGATE_RE.search(item) is not None:
        return _SURROGATE_RE.sub("\ufffd", item), True
    return item, False


# --- multipart/form-data ------------------------------------------------------


def _read_multipart(body: bytes, content_type: str, out: _Collector) -> None:
    """Read the text fields of a ``multipart/form-data`` body, in order."""
    boundary = _header_params(content_type.partition(";")[2]).get("boundary", "")
    if not boundary:
        raise _malformed(
            "The multipart/form-data content type has no boundary parameter.",
            _FIELD_CONTENT_TYPE,
            contentType="multipart/form-data",
        )
    if len(boundary) > MAX_MULTIPART_BOUNDARY_LENGTH:
        raise _malformed(
            f"The multipart boundary is {len(boundary)} characters long;"
            f" the limit is {MAX_MULTIPART_BOUNDARY_LENGTH}.",
            _FIELD_CONTENT_TYPE,
            length=str(len(boundary)),
            limit=str(MAX_MULTIPART_BOUNDARY_LENGTH),
        )
    delimiter = b"--" + boundary.encode("utf-8", "surrogatepass")
    found = _next_delimiter(body, delimiter, 0)
    if found is None:
        raise _malformed("The multipart body does not contain its boundary delimiter.", _FIELD_BODY)
    _, position, closed = found
    while not closed:
        found = _next_delimiter(body, delimiter, position)
        if found is None:
            raise _malformed("The multipart body ends without its closing delimiter.", _FIELD_BODY)
        end, next_position, closed = found
        _read_part(body[position:end], out)
        position = next_position


def _next_delimiter(body: bytes, delimiter: bytes, position: int) -> tuple[int, int, bool] | None:
    """Find the next delimiter line at or after ``position`` (a part's first byte).

    Returns ``(part_end, next_part_start, is_close_delimiter)``. A delimiter
    must start a line (or the body) and be followed by ``--`` or by optional
    padding and a line break; anything else is part content. The line break
    before a delimiter belongs to it (RFC 2046), CR optional.
    """
    if position == 0 and body.startswith(delimiter):
        candidate = -1  # a virtual line break before the body
    else:
        # position - 1: an empty part's content is preceded directly by the
        # previous delimiter's own line break, which also opens this one.
        candidate = body.find(b"\n" + delimiter, max(position - 1, 0))
        if candidate == -1:
            return None
    while True:
        after = candidate + 1 + len(delimiter)
        part_end = candidate - 1 if candidate > 0 and body[candidate - 1] == 0x0D else candidate
        part_end = max(part_end, position)
        if body.startswith(b"--", after):
            return part_end, after + 2, True
        padding = _TRANSPORT_PADDING_RE.match(body, after)
        if padding is not None:
            return part_end, padding.end(), False
        candidate = body.find(b"\n" + delimiter, candidate + 1)
        if candidate == -1:
            return None


def _read_part(part: bytes, out: _Collector) -> None:
    """Read one body part: a named text field is a parameter, a file is ignored."""
    if part.startswith(b"\n"):
        header_block, content = b"", part[1:]
    elif part.startswith(b"\r\n"):
        header_block, content = b"", part[2:]
    else:
        blank = _BLANK_LINE_RE.search(part)
        if blank is None:
            # No blank line: all headers (garbage, most likely), no content.
            header_block, content = part, b""
        else:
            header_block, content = part[: blank.start()], part[blank.end() :]
    headers, bad_headers = _part_headers(header_block)
    disposition = headers.get("content-disposition")
    if disposition is None:
        return
    params = _header_params(disposition.partition(";")[2])
    name = params.get("name")
    if not name:
        return
    out.count(1, _FIELD_BODY)
    part_type = headers.get("content-type", "").strip().lower()
    if "filename" in params or "filename*" in params or part_type.startswith("multipart/"):
        out.diagnostics.append(
            Diagnostic(
                DiagnosticCode.INVALID_VALUE,
                name,
                "The file upload in this multipart field was ignored; only text fields are read.",
            )
        )
        return
    try:
        value, bad_value = content.decode("utf-8"), False
    except UnicodeDecodeError:
        value, bad_value = content.decode("utf-8", "replace"), True
    # Invalid bytes elsewhere in the headers (a Content-Type) do not matter.
    bad_name = bad_headers and "\ufffd" in name
    if bad_name or bad_value:
        out.not_utf8(name, "multipart", bad_name, bad_value)
    out.params.append((name, value))


def _part_headers(block: bytes) -> tuple[dict[str, str], bool]:
    """Unfolded part headers by lower-cased name (first occurrence wins).

    The flag says the block was not valid UTF-8 (browsers send raw UTF-8 names).
    """
    try:
        text, bad = block.decode("utf-8"), False
    except UnicodeDecodeError:
        text, bad = block.decode("utf-8", "replace"), True
    # Pieces are joined at the end: appending to a growing string per folded
    # line would be quadratic on a body of many continuation lines.
    pieces: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw_line in text.split("\n"):
        line = raw_line.removesuffix("\r")
        if line[:1] in (" ", "\t"):
            if current is not None:
                current.append(line.strip())
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        current = None
        if colon and name not in pieces:
            current = pieces[name] = [value.strip()]
    return {name: " ".join(parts) for name, parts in pieces.items()}, bad


def _header_params(text: str) -> dict[str, str]:
    """``name=value`` parameters after a header's first ``;`` (names lower-cased).

    Quoted values are unescaped (Go's mime/multipart escapes ``"`` and ``\\``
    with a backslash; browsers percent-encode instead, which is kept as sent).
    """
    params: dict[str, str] = {}
    position, end = 0, len(text)
    while position < end:
        match = _HEADER_PARAM_RE.match(text, position)
        if match is None or match.end() == position:
            break  # not reachable: every character is consumed by some branch
        name, quoted, token = match.group(1, 2, 3)
        if name and (quoted is not None or token is not None):
            value = _QUOTED_PAIR_RE.sub(r"\1", quoted) if quoted is not None else token.strip()
            params.setdefault(name.lower(), value)
        position = match.end()
    return params


# --- errors -------------------------------------------------------------------


def _malformed(message: str, field_path: str, **metadata: str) -> Rejection:
    """A MALFORMED_PAYLOAD rejection; ``metadata`` holds every value in ``message``."""
    return Rejection(
        RejectionReason.MALFORMED_PAYLOAD, message, field=field_path, metadata=metadata
    )
