"""No personal data in any log, whatever the payload does to the server.

Customer traits (email, phone, names, birthdate, city, state, zip code) travel
in every part of a payload; the requests are good, rejected, malformed, over
the limits, cancelled, or make the servicer fail. Everything the server logs
is captured (the root logger at DEBUG in-process, stdout and stderr of a real
process started with ``--log-level DEBUG``) and searched for every raw value,
in the spellings a log line could carry it: as sent, lower-cased, digits only,
percent-encoded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import grpc
import pytest

from service.gen.conversions.v1 import conversion_service_pb2 as pb
from tests import rpc
from tests.process import server_process

TRAITS = {
    "email": "Augusta.Byron.7731@example.org",
    "phone": "+44 20 7946 0312",
    "first_name": "Augustina",
    "last_name": "Byronsdottir",
    "full_name": "Augustina Byronsdottir",
    "birthdate": "1815-12-10",
    "city": "Marylebone Gardens",
    "state": "Greater Londinium",
    "zipcode": "W1U 6TY",
    "country": "GB",
}
# Not traits, but what a sender might put an address in.
EXTRA = {"address": "12 St James's Square", "street": "Hanover Terrace 9"}
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "pii-boundary"


def _needles() -> set[str]:
    """Every spelling of every raw value a log line could carry."""
    needles: set[str] = set()
    for name, value in {**TRAITS, **EXTRA}.items():
        if name == "country":
            continue  # two letters: found everywhere, and not personal on its own
        needles |= {value, value.lower(), value.upper(), quote(value), quote_plus(value)}
        needles.add(json.dumps(value)[1:-1])
    needles.add("".join(ch for ch in TRAITS["phone"] if ch.isdigit()))
    needles.add("Augusta.Byron.7731")
    needles.add("18151210")
    return needles


def leaks(text: str) -> list[str]:
    """The raw values found in ``text``."""
    return sorted(needle for needle in _needles() if needle in text)


def _all_params(identity: bool = True) -> dict[str, str]:
    params = {**TRAITS, **EXTRA}
    if identity:
        params["click_id"] = "clk-1"
    else:
        params.pop("email")
    return params


def _multipart(params: dict[str, str]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in params.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


def _request(query: str = "", body: bytes = b"", content_type: str = "") -> pb.NormalizeRequest:
    return pb.NormalizeRequest(
        payload=pb.Payload(query=query, body=body, content_type=content_type)
    )


def _struct_request(params: dict[str, Any]) -> pb.NormalizeRequest:
    request = pb.NormalizeRequest()
    request.payload.json.update(params)
    return request


def hostile_requests() -> Iterator[tuple[str, pb.NormalizeRequest | bytes]]:
    """Requests full of traits: good, rejected, malformed and over the limits."""
    params = _all_params()
    yield "query", _request(query=urlencode(params))
    yield "form", _request(body=urlencode(params).encode(), content_type=FORM)
    yield "json body", _request(body=json.dumps(params).encode(), content_type=JSON)
    yield "json struct", _struct_request(dict(params))
    yield (
        "multipart",
        _request(body=_multipart(params), content_type=f"multipart/form-data; boundary={BOUNDARY}"),
    )
    yield (
        "traits in odd places",
        _request(
            query=urlencode(
                {
                    "click_id": "clk-2",
                    "value": TRAITS["phone"],
                    "currency": TRAITS["zipcode"],
                    "timestamp": TRAITS["birthdate"] + "x",
                    "event_name": TRAITS["full_name"],
                    "xat_note": TRAITS["email"],
                    "items": json.dumps([{"name": TRAITS["city"], "price": TRAITS["state"]}]),
                    TRAITS["email"]: TRAITS["city"],
                }
            )
        ),
    )
    yield "missing match key", _request(query=urlencode(_all_params(identity=False)))
    yield (
        "unknown conversion type",
        _request(query=urlencode({**params, "conversion_type": TRAITS["full_name"]})),
    )
    yield (
        "malformed json",
        _request(body=json.dumps(params).encode()[:-1] + b", oops", content_type=JSON),
    )
    yield (
        "invalid utf-8 in json",
        _request(
            body=json.dumps(params).encode().replace(b"Marylebone", b"Maryle\xffbone"),
            content_type=JSON,
        ),
    )
    yield (
        "json not an object",
        _request(body=json.dumps(list(params.values())).encode(), content_type=JSON),
    )
    yield (
        "too many parameters",
        _request(query=urlencode(params) + "&" + "&".join(f"k{i}=1" for i in range(10_001))),
    )
    yield "over 1 MiB", _request(query=urlencode(params), body=b"x=" + b"y" * (1024 * 1024))
    yield "over the receive limit", _request(query=urlencode(params), body=b"z" * (2 * 1024 * 1024))
    raw_query = urlencode(params).encode() + b"\xff"
    yield "invalid utf-8 in a protobuf string", rpc.normalize_request(rpc.field(1, raw_query))
    yield "corrupt protobuf", rpc.field(1, urlencode(params).encode())[:-3] + b"\xff\xff"
    yield "deep struct", rpc.normalize_request(rpc.field(4, rpc.nested_struct(40)))


async def _drive(channel: grpc.aio.Channel) -> dict[str, grpc.StatusCode]:
    """Send every request on every RPC, plus cancelled calls and expired deadlines."""
    normalize = channel.unary_unary(rpc.NORMALIZE)
    classify = channel.unary_unary(rpc.CLASSIFY)
    stream = channel.stream_stream(rpc.NORMALIZE_STREAM)
    codes: dict[str, grpc.StatusCode] = {}
    for name, request in hostile_requests():
        data = request if isinstance(request, bytes) else request.SerializeToString()
        codes[name] = (await rpc.outcome(normalize(data, timeout=30))).code
        await rpc.outcome(classify(data, timeout=30))
        await rpc.stream_outcome(stream(iter([rpc.stream_item(name, data)]), timeout=30))
    good = _request(query=urlencode(_all_params())).SerializeToString()
    cancelled = normalize(good, timeout=30)
    cancelled.cancel()
    await cancelled.code()
    await rpc.outcome(normalize(good, timeout=-1))
    open_stream = stream(timeout=30)
    await open_stream.write(rpc.stream_item("c", good))
    await open_stream.read()
    open_stream.cancel()
    return codes


def _check_codes(codes: dict[str, grpc.StatusCode]) -> None:
    assert codes["query"] == grpc.StatusCode.OK
    assert codes["missing match key"] == grpc.StatusCode.INVALID_ARGUMENT
    assert codes["malformed json"] == grpc.StatusCode.INVALID_ARGUMENT
    assert codes["over the receive limit"] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert set(codes.values()) <= rpc.ACCEPTABLE | {grpc.StatusCode.RESOURCE_EXHAUSTED}


def _captured(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as formatted, with its arguments and structured fields."""
    lines = [caplog.text]
    for record in caplog.records:
        lines.append(record.getMessage())
        lines.append(repr(record.args))
        lines.append(repr(getattr(record, "fields", None)))
        if record.exc_info and record.exc_info[1] is not None:
            lines.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(lines)


async def test_in_process_logs_hold_no_personal_data(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    codes = await _drive(channel)
    _check_codes(codes)
    assert caplog.records, "nothing was logged: the capture is not working"
    assert leaks(_captured(caplog)) == []


def _defect_quoting_the_payload(payload: object, *_: object, **__: object) -> object:
    # A defect whose message (and whose cause's message) quotes the payload,
    # as a KeyError or a failed int() would.
    try:
        raise KeyError(repr(payload))
    except KeyError as cause:
        raise ValueError(f"cannot read {payload!r}") from cause


async def test_an_internal_error_is_logged_without_personal_data(
    channel: grpc.aio.Channel,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr("service.servicer.normalize", _defect_quoting_the_payload)
    monkeypatch.setattr("service.servicer.classify", _defect_quoting_the_payload)
    request = _request(query=urlencode(_all_params())).SerializeToString()
    unary = await rpc.outcome(channel.unary_unary(rpc.NORMALIZE)(request, timeout=10))
    classified = await rpc.outcome(channel.unary_unary(rpc.CLASSIFY)(request, timeout=10))
    answers, ended = await rpc.stream_outcome(
        channel.stream_stream(rpc.NORMALIZE_STREAM)(
            iter([rpc.stream_item("x", request)]), timeout=10
        )
    )
    assert unary.code == classified.code == grpc.StatusCode.INTERNAL
    assert ended.code == grpc.StatusCode.OK
    reply = pb.NormalizeStreamResponse.FromString(answers[0])
    assert reply.error.code == grpc.StatusCode.INTERNAL.value[0]
    for details in (unary.details, classified.details, reply.error.message):
        assert leaks(details) == []

    text = _captured(caplog)
    # The defect is logged, with where it happened, but not what it said.
    assert "ValueError" in text
    assert "KeyError" in text
    assert "_defect_quoting_the_payload" in text
    assert leaks(text) == []


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_server_process_debug_logs_hold_no_personal_data(
    tmp_path: Path, log_format: str
) -> None:
    with server_process(
        tmp_path, "--log-level", "DEBUG", "--log-format", log_format, "--grace", "5"
    ) as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            codes = await _drive(channel)
        server.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(server.process.wait, 30)
    log = server.log()
    _check_codes(codes)
    assert exit_code == 0, log
    assert "DEBUG" in log or '"level":"DEBUG"' in log
    assert "rpc finished" in log
    assert leaks(log) == []
