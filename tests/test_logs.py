"""One log line per RPC, in text or JSON, with names and codes but never payload values."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.logs import JsonFormatter, TextFormatter
from tests.conftest import SEED_QUERY
from tests.process import server_process

NORMALIZE = "/conversions.v1.ConversionService/Normalize"
CLASSIFY = "/conversions.v1.ConversionService/Classify"
STREAM = "/conversions.v1.ConversionService/NormalizeStream"

# A payload full of personal data and sender-chosen values; none of them may
# reach a log line, in any format.
PERSONAL = {
    "click_id": "clk-7f3a9e2b44d1",
    "event_name": "SecretLaunchEvent",
    "value": "1234.56",
    "currency": "EUR",
    "transaction_id": "txn-5550198273",
    "email": "jane.roe@example.org",
    "first_name": "Janelle",
    "last_name": "Roebuck",
    "phone": "+44 20 7946 0958",
    "birthdate": "1984-07-19",
    "city": "Tunbridge Wells",
    "state": "Kent",
    "zipcode": "TN1 1AA",
    "country": "GB",
    "xat_loyalty": "platinum-member-77",
    "nickname": "JR-the-unknown-param",
    "items": [{"id": "sku-99812", "name": "Velvet Armchair", "price": "999.00", "quantity": 1}],
}
SECRET_TYPE = "refund-of-order-8812"


def _personal_request() -> pb.NormalizeRequest:
    request = pb.NormalizeRequest()
    json_format.ParseDict(PERSONAL, request.payload.json)
    request.context.account_id = "acct-31337"
    return request


def _leaked(text: str, conversion: pb.Conversion) -> list[str]:
    values = [str(v) for v in PERSONAL.values() if isinstance(v, str)]
    values += ["Velvet Armchair", "sku-99812", SECRET_TYPE, "acct-31337", "jane.roe"]
    # What the service derives from them is just as personal.
    values += [conversion.user_data.em, conversion.user_data.ph, conversion.dedup_key]
    return [value for value in values if value and value in text]


def _rpc_fields(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        dict(record.fields)  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "service.rpc"
    ]


async def test_one_line_per_rpc_with_method_code_duration_and_outcome(
    stub: pb_grpc.ConversionServiceStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    request_id = (("x-request-id", "req-42"),)
    await stub.Normalize(
        pb.NormalizeRequest(payload=pb.Payload(query=SEED_QUERY)), metadata=request_id
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Normalize(pb.NormalizeRequest(payload=pb.Payload(query="value=5")))
    await stub.Classify(pb.ClassifyRequest(payload=pb.Payload(query="commission=2")))
    items = [
        pb.NormalizeStreamRequest(
            request_id="a", request=pb.NormalizeRequest(payload=pb.Payload(query=q))
        )
        for q in (SEED_QUERY, "value=1", "click_id=z")
    ]
    replies = [r async for r in stub.NormalizeStream(iter(items), metadata=request_id)]
    assert len(replies) == 3

    lines = _rpc_fields(caplog)
    assert len(lines) == 4
    for line in lines:
        assert isinstance(line["duration_ms"], float)
        assert line["duration_ms"] >= 0
    ok, rejected, classified, stream = lines
    assert ok["method"] == NORMALIZE
    assert ok["code"] == "OK"
    assert ok["event"] == "Purchase"
    assert ok["request_id"] == "req-42"
    assert ok["diagnostics"] == 0
    assert rejected["code"] == "INVALID_ARGUMENT"
    assert rejected["reason"] == "MISSING_MATCH_KEY"
    assert "request_id" not in rejected
    assert "event" not in rejected
    assert classified["method"] == CLASSIFY
    assert classified["event"] == "Purchase"
    assert stream["method"] == STREAM
    assert stream["code"] == "OK"
    assert stream["request_id"] == "req-42"
    assert (stream["normalized"], stream["rejected"]) == (2, 1)


async def test_no_payload_value_reaches_the_logs(
    stub: pb_grpc.ConversionServiceStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await stub.Normalize(_personal_request())
    conversion = response.conversion
    assert conversion.event_name == "SecretLaunchEvent"
    assert conversion.user_data.em
    assert response.diagnostics, "the unknown parameter should be diagnosed"
    await stub.Classify(pb.ClassifyRequest(payload=_personal_request().payload))
    rejected = _personal_request()
    rejected.payload.json.fields.pop("event_name")
    rejected.payload.json.fields["conversion_type"].string_value = SECRET_TYPE
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Normalize(rejected)
    assert SECRET_TYPE in (raised.value.details() or "")  # the caller is told, the log is not
    stream = [pb.NormalizeStreamRequest(request_id="p1", request=_personal_request())]
    assert len([r async for r in stub.NormalizeStream(iter(stream))]) == 1

    lines = _rpc_fields(caplog)
    assert [line["code"] for line in lines] == ["OK", "OK", "INVALID_ARGUMENT", "OK"]
    assert lines[0]["event"] == "custom"
    assert lines[2]["reason"] == "UNKNOWN_CONVERSION_TYPE"
    for formatter in (TextFormatter(), JsonFormatter()):
        text = "\n".join(formatter.format(record) for record in caplog.records)
        assert _leaked(text, conversion) == []


def test_text_format_appends_fields_and_quotes_what_needs_it() -> None:
    record = logging.LogRecord("service.rpc", logging.INFO, __file__, 1, "rpc finished", (), None)
    record.fields = {"method": "/a.B/C", "code": "OK", "duration_ms": 0.5, "request_id": 'a b"c'}
    line = TextFormatter().format(record)
    assert line.endswith(
        'INFO service.rpc rpc finished method=/a.B/C code=OK duration_ms=0.5 request_id="a b\\"c"'
    )


def test_json_format_is_one_object_per_line_with_the_fields_on_top() -> None:
    try:
        raise ValueError("boom")
    except ValueError as error:
        exc_info = (ValueError, error, error.__traceback__)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("once",), exc_info)
    record.fields = {"code": "INTERNAL", "level": "not overriding"}
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed once"
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "x"
    assert entry["code"] == "INTERNAL"
    assert entry["time"].endswith("+00:00")
    assert "ValueError" in entry["exception"]


@pytest.mark.slow
async def test_server_process_writes_json_lines(tmp_path: Path) -> None:
    with server_process(tmp_path, "--log-format", "json") as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = pb_grpc.ConversionServiceStub(channel)
            metadata = (("x-request-id", "gw-7"),)
            await stub.Normalize(_personal_request(), metadata=metadata)
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.process.wait, 20) == 0
    entries = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    messages = [entry["message"] for entry in entries]
    assert any(m.startswith("serving conversions.v1.ConversionService on port") for m in messages)
    assert "stopped" in messages
    [rpc] = [entry for entry in entries if entry["logger"] == "service.rpc"]
    assert rpc["method"] == NORMALIZE
    assert rpc["code"] == "OK"
    assert rpc["event"] == "custom"
    assert rpc["request_id"] == "gw-7"
    assert rpc["level"] == "INFO"
    assert "jane.roe" not in server.log()


async def test_only_normalize_stream_lines_count_items(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for _ in reflection.ServerReflectionInfo(iter([request])):
        pass
    (line,) = _rpc_fields(caplog)
    assert line["method"] == "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    assert line["code"] == "OK"
    assert "normalized" not in line
    assert "rejected" not in line
