"""SIGTERM on a real server process: health flips, in-flight calls finish, exit 0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.config import SERVICE_NAME
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from tests.process import server_process


def _item(index: int) -> pb.NormalizeStreamRequest:
    return pb.NormalizeStreamRequest(
        request_id=str(index),
        request=pb.NormalizeRequest(payload=pb.Payload(query=f"click_id=c{index}&value={index}")),
    )


@pytest.mark.slow
async def test_sigterm_drains_in_flight_stream_and_exits_zero(tmp_path: Path) -> None:
    with server_process(tmp_path, "--grace", "20") as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = pb_grpc.ConversionServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING

            stream = stub.NormalizeStream()
            await stream.write(_item(0))
            first = await stream.read()
            assert first.response.conversion.click_id == "c0"

            server.process.send_signal(signal.SIGTERM)
            flipped = await asyncio.wait_for(watch.read(), timeout=10)
            assert flipped.status == health_pb2.HealthCheckResponse.NOT_SERVING
            watch.cancel()

            # The stream was accepted before the signal: it keeps being served.
            for index in range(1, 4):
                await stream.write(_item(index))
                reply = await asyncio.wait_for(stream.read(), timeout=10)
                assert reply.request_id == str(index)
                assert reply.response.conversion.value == str(index)
            await stream.done_writing()
            assert await stream.code() == grpc.StatusCode.OK

        exit_code = await asyncio.to_thread(server.process.wait, 20)
    assert exit_code == 0, server.log()
    assert "shutting down" in server.log()
