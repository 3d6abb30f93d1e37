"""Prometheus metrics: drive real calls, scrape the HTTP endpoint, check exact counts."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from service.config import SERVICE_NAME, Config
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.server import Running, build_server
from tests.conftest import SEED_QUERY

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    """A loopback port nobody listens on (0 means "off" for --metrics-port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def scrape(running: Running) -> Samples:
    """Every sample the server's endpoint exports, keyed by name and labels."""
    assert running.metrics_endpoint is not None
    url = f"http://127.0.0.1:{running.metrics_endpoint.port}/metrics"

    def get() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            return str(response.read().decode())

    text = await asyncio.to_thread(get)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def rpc(method: str, kind: str = "unary", **extra: str) -> frozenset[tuple[str, str]]:
    labels = {"grpc_service": SERVICE_NAME, "grpc_method": method, "grpc_type": kind, **extra}
    return frozenset(labels.items())


def label(name: str, value: str) -> frozenset[tuple[str, str]]:
    return frozenset({(name, value)})


async def _serve(token: str = "") -> Running:
    return await build_server(
        Config(host="127.0.0.1", port=0, metrics_port=free_port(), auth_token=token)
    )


@pytest.fixture
async def measured() -> AsyncIterator[Running]:
    running = await _serve()
    try:
        yield running
    finally:
        await running.stop(0)


def _query(query: str) -> pb.NormalizeRequest:
    return pb.NormalizeRequest(payload=pb.Payload(query=query))


async def test_calls_and_outcomes_are_counted_exactly(measured: Running) -> None:
    diagnostics: Counter[str] = Counter()

    def note(response: pb.NormalizeResponse) -> None:
        for diagnostic in response.diagnostics:
            diagnostics[
                pb.DiagnosticCode.Name(diagnostic.code).removeprefix("DIAGNOSTIC_CODE_")
            ] += 1

    async with grpc.aio.insecure_channel(f"127.0.0.1:{measured.port}") as channel:
        stub = pb_grpc.ConversionServiceStub(channel)
        # Normalize: two purchases, one custom event with an unknown parameter, one rejection.
        for _ in range(2):
            note(await stub.Normalize(_query(SEED_QUERY)))
        note(await stub.Normalize(_query("click_id=c1&event_name=Signup&colour=red")))
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Normalize(_query("value=5"))
        # Classify: a success and a rejection; neither is a normalization.
        await stub.Classify(pb.ClassifyRequest(payload=pb.Payload(query="commission=5")))
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Classify(pb.ClassifyRequest(payload=pb.Payload(query="conversion_type=x")))
        # A stream: every item counts, the rejected ones too.
        items = [SEED_QUERY, "click_id=s2", "value=1", "click_id=s4&conversion_type=refund"]
        requests = [
            pb.NormalizeStreamRequest(request_id=str(i), request=_query(q))
            for i, q in enumerate(items)
        ]
        replies = [reply async for reply in stub.NormalizeStream(iter(requests))]
        assert [r.WhichOneof("result") for r in replies] == [
            "response",
            "response",
            "error",
            "error",
        ]
        for reply in replies:
            if reply.HasField("response"):
                note(reply.response)

    samples = await scrape(measured)
    assert diagnostics["UNKNOWN_PARAMETER"] >= 1

    stream = ("NormalizeStream", "bidi_stream")
    assert samples["grpc_server_started_total", rpc("Normalize")] == 4
    assert samples["grpc_server_started_total", rpc("Classify")] == 2
    assert samples["grpc_server_started_total", rpc(*stream)] == 1
    assert samples["grpc_server_handled_total", rpc("Normalize", grpc_code="OK")] == 3
    assert samples["grpc_server_handled_total", rpc("Normalize", grpc_code="InvalidArgument")] == 1
    assert samples["grpc_server_handled_total", rpc("Classify", grpc_code="OK")] == 1
    assert samples["grpc_server_handled_total", rpc("Classify", grpc_code="InvalidArgument")] == 1
    assert samples["grpc_server_handled_total", rpc(*stream, grpc_code="OK")] == 1
    assert samples["grpc_server_handling_seconds_count", rpc("Normalize")] == 4
    assert samples["grpc_server_handling_seconds_bucket", rpc("Normalize", le="+Inf")] == 4
    assert samples["grpc_server_handling_seconds_count", rpc(*stream)] == 1
    assert samples["grpc_server_msg_received_total", rpc(*stream)] == 4
    assert samples["grpc_server_msg_sent_total", rpc(*stream)] == 4
    assert samples["grpc_server_msg_sent_total", rpc("Normalize")] == 3

    assert samples["conversions_normalized_total", label("event", "Purchase")] == 3
    assert samples["conversions_normalized_total", label("event", "Lead")] == 1
    assert samples["conversions_normalized_total", label("event", "custom")] == 1
    assert samples["conversions_normalized_total", label("event", "FormSubmit")] == 0
    assert samples["conversions_rejected_total", label("reason", "MISSING_MATCH_KEY")] == 2
    assert samples["conversions_rejected_total", label("reason", "UNKNOWN_CONVERSION_TYPE")] == 1
    assert samples["conversions_rejected_total", label("reason", "MALFORMED_PAYLOAD")] == 0
    exported = {
        dict(labels)["code"]: value
        for (name, labels), value in samples.items()
        if name == "conversion_diagnostics_total"
    }
    assert {code: n for code, n in exported.items() if n} == dict(diagnostics)
    assert exported["ITEMS_TRUNCATED"] == 0


async def test_each_server_has_its_own_registry(measured: Running) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{measured.port}") as channel:
        await pb_grpc.ConversionServiceStub(channel).Normalize(_query(SEED_QUERY))
    other = await _serve()
    try:
        assert (await scrape(other))["grpc_server_started_total", rpc("Normalize")] == 0
        assert (await scrape(measured))["grpc_server_started_total", rpc("Normalize")] == 1
    finally:
        await other.stop(0)


async def test_calls_refused_for_a_missing_token_are_counted() -> None:
    running = await _serve(token="t")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await pb_grpc.ConversionServiceStub(channel).Normalize(_query(SEED_QUERY))
        samples = await scrape(running)
    finally:
        await running.stop(0)
    assert samples["grpc_server_started_total", rpc("Normalize")] == 1
    assert samples["grpc_server_handled_total", rpc("Normalize", grpc_code="Unauthenticated")] == 1
    assert samples["conversions_normalized_total", label("event", "Purchase")] == 0


async def test_metrics_are_off_by_default(running: Running) -> None:
    assert running.metrics is None
    assert running.metrics_endpoint is None


async def test_stop_releases_the_metrics_port() -> None:
    running = await _serve()
    assert running.metrics_endpoint is not None
    port = running.metrics_endpoint.port
    await running.stop(0)
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


async def test_deadlines_and_cancellations_get_their_own_codes(measured: Running) -> None:
    # Health Watch waits for changes: the server-side call is still running
    # when its deadline passes or the caller cancels it.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{measured.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        expiring = health.Watch(health_pb2.HealthCheckRequest(), timeout=0.3)
        assert (await expiring.read()).status == health_pb2.HealthCheckResponse.SERVING
        assert await expiring.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        cancelled = health.Watch(health_pb2.HealthCheckRequest())
        assert (await cancelled.read()).status == health_pb2.HealthCheckResponse.SERVING
        cancelled.cancel()

        def watch(code: str) -> tuple[str, frozenset[tuple[str, str]]]:
            labels = {
                "grpc_service": "grpc.health.v1.Health",
                "grpc_method": "Watch",
                "grpc_type": "server_stream",
                "grpc_code": code,
            }
            return "grpc_server_handled_total", frozenset(labels.items())

        for _ in range(100):
            samples = await scrape(measured)
            if samples.get(watch("Canceled")) == 1:
                break
            await asyncio.sleep(0.05)
    assert samples[watch("DeadlineExceeded")] == 1
    assert samples[watch("Canceled")] == 1
    assert samples.get(watch("OK"), 0) == 0
