"""Each RPC through a real in-process grpc.aio server and a real stub."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from service.config import SERVICE_NAME
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.server import Running
from tests.conftest import SEED_QUERY

SEED_JSON = {
    "click_id": "f8e3bf8dfba8b51ce3340",
    "conversion_type": "purchase",
    "value": 120.00,
    "currency": "USD",
    "transaction_id": "24356562534585",
    "brand_name": "Acme",
    "email": "jsmith@example.com",
    "full_name": "John Smith",
    "country": "US",
    "state": "CA",
    "zipcode": "94025",
    "items": [
        {"id": "20291", "name": "ZX Series Headphones", "quantity": 1, "price": 20.00},
        {"id": "49292", "name": "Audio Connector", "quantity": 1, "price": 100.00},
    ],
    "xat_plan": "gold",
}


def query_request(query: str) -> pb.NormalizeRequest:
    return pb.NormalizeRequest(payload=pb.Payload(query=query))


async def rejection(call: object) -> tuple[grpc.StatusCode, str, error_details_pb2.ErrorInfo]:
    """Await a failing call; return its code, message and the single ErrorInfo."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    error = raised.value
    status = rpc_status.from_call(error)
    assert status is not None, "no grpc-status-details-bin trailer"
    assert status.code == error.code().value[0]
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    requests = [d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
    assert len(infos) == 1
    assert len(requests) == 1
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    assert info.domain == "conversions.v1"
    return error.code(), error.details() or "", info


async def test_normalize_seed_query(stub: pb_grpc.ConversionServiceStub) -> None:
    response = await stub.Normalize(query_request(SEED_QUERY))
    conversion = response.conversion
    assert conversion.event_name == "Purchase"
    assert conversion.standard_event == pb.STANDARD_EVENT_PURCHASE
    assert conversion.classified_by == pb.CLASSIFICATION_SOURCE_CONVERSION_TYPE
    assert conversion.value == "120"
    assert conversion.currency == "USD"
    assert not conversion.currency_defaulted
    assert conversion.match_key.type == pb.MATCH_KEY_TYPE_CLICK_ID
    assert conversion.match_key.value == "f8e3bf8dfba8b51ce3340"
    assert conversion.transaction_id == "24356562534585"
    assert conversion.event_time_source == pb.EVENT_TIME_SOURCE_RECEIVED
    assert len(conversion.dedup_key) == 64
    assert list(response.diagnostics) == []


async def test_normalize_seed_json_body_and_struct_agree(
    stub: pb_grpc.ConversionServiceStub,
) -> None:
    received = {"received_time": "2026-01-01T00:00:00Z"}
    body_request = pb.NormalizeRequest(
        payload=pb.Payload(body=json.dumps(SEED_JSON).encode(), content_type="application/json"),
        context=json_format.ParseDict(received, pb.Context()),
    )
    struct_request = pb.NormalizeRequest(context=json_format.ParseDict(received, pb.Context()))
    json_format.ParseDict(SEED_JSON, struct_request.payload.json)
    by_body = await stub.Normalize(body_request)
    by_struct = await stub.Normalize(struct_request)
    assert by_body == by_struct
    conversion = by_body.conversion
    assert conversion.customer.first_name == "John"
    assert conversion.customer.last_name == "Smith"
    assert [(i.id, i.price, i.quantity) for i in conversion.items] == [
        ("20291", "20", 1),
        ("49292", "100", 1),
    ]
    assert dict(conversion.passthrough) == {"plan": "gold"}
    assert conversion.brand_name == "Acme"
    assert conversion.user_data.em == (
        "6e3913852f512d76acff15d1e402c7502a5bbe6101745a7120a2a4833ebd2350"
    )


async def test_normalize_missing_match_key(stub: pb_grpc.ConversionServiceStub) -> None:
    code, message, info = await rejection(stub.Normalize(query_request("value=5")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith("Missing click_id, ref_id and email")
    assert info.reason == "MISSING_MATCH_KEY"


async def test_normalize_unknown_conversion_type(stub: pb_grpc.ConversionServiceStub) -> None:
    call = stub.Normalize(query_request("click_id=1&conversion_type=refund"))
    code, message, info = await rejection(call)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message == "Unknown conversion_type: refund"
    assert info.reason == "UNKNOWN_CONVERSION_TYPE"
    assert info.metadata["conversionType"] == "refund"


async def test_normalize_malformed_json(stub: pb_grpc.ConversionServiceStub) -> None:
    request = pb.NormalizeRequest(
        payload=pb.Payload(body=b'{"click_id": 1,,}', content_type="application/json")
    )
    code, message, info = await rejection(stub.Normalize(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.reason == "MALFORMED_PAYLOAD"
    assert "line 1" in message
    assert info.metadata["line"] == "1"


async def test_classify(stub: pb_grpc.ConversionServiceStub) -> None:
    response = await stub.Classify(pb.ClassifyRequest(payload=pb.Payload(query="commission=5")))
    assert response.event_name == "Purchase"
    assert response.standard_event == pb.STANDARD_EVENT_PURCHASE
    assert response.classified_by == pb.CLASSIFICATION_SOURCE_AUTOMATIC
    custom = await stub.Classify(pb.ClassifyRequest(payload=pb.Payload(query="event=Upsell")))
    assert custom.event_name == "Upsell"
    assert custom.standard_event == pb.STANDARD_EVENT_UNSPECIFIED


async def test_classify_unknown_conversion_type(stub: pb_grpc.ConversionServiceStub) -> None:
    call = stub.Classify(pb.ClassifyRequest(payload=pb.Payload(query="conversion_type=x")))
    code, message, info = await rejection(call)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith("Unknown conversion_type")
    assert info.reason == "UNKNOWN_CONVERSION_TYPE"


async def test_stream_mixes_good_and_bad_in_order(stub: pb_grpc.ConversionServiceStub) -> None:
    queries = [
        SEED_QUERY,
        "value=1",
        "click=2&conversion_type=nope",
        "ref=3&value=$4.50",
        "",
        "email=A@B.co",
    ]
    requests = [
        pb.NormalizeStreamRequest(request_id=f"r{i}", request=query_request(q))
        for i, q in enumerate(queries)
    ]
    responses = [r async for r in stub.NormalizeStream(iter(requests))]
    assert [r.request_id for r in responses] == [f"r{i}" for i in range(len(queries))]
    kinds = [r.WhichOneof("result") for r in responses]
    assert kinds == ["response", "error", "error", "response", "error", "response"]
    assert responses[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    info = error_details_pb2.ErrorInfo()
    assert responses[2].error.details[0].Unpack(info)
    assert info.reason == "UNKNOWN_CONVERSION_TYPE"
    assert responses[3].response.conversion.value == "4.5"
    assert responses[5].response.conversion.match_key.value == "a@b.co"


async def test_stream_error_matches_unary_error(stub: pb_grpc.ConversionServiceStub) -> None:
    request = query_request("value=1")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Normalize(request)
    unary = rpc_status.from_call(raised.value)
    responses = [
        r
        async for r in stub.NormalizeStream(
            iter([pb.NormalizeStreamRequest(request_id="x", request=request)])
        )
    ]
    assert responses[0].error == unary


async def test_health_check_and_watch(running: Running, channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE_NAME):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    watch = health.Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    first = await watch.read()
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    await running.health.enter_graceful_shutdown()
    second = await asyncio.wait_for(watch.read(), timeout=5)
    assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
    watch.cancel()


async def test_reflection_lists_services(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = set()
    async for reply in call:
        names |= {s.name for s in reply.list_services_response.service}
    assert {
        "conversions.v1.ConversionService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names


async def test_unexpected_error_is_internal_without_details(
    stub: pb_grpc.ConversionServiceStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> object:
        raise RuntimeError("secret jsmith@example.com")

    monkeypatch.setattr("service.servicer.normalize", broken)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Normalize(query_request(SEED_QUERY))
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert "jsmith" not in (raised.value.details() or "")
    assert "Traceback" not in (raised.value.details() or "")
