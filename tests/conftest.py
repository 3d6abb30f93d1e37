"""Shared fixtures: a real grpc.aio server on 127.0.0.1:0 and a real stub."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from service.config import Config
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.server import Running, build_server

SEED_QUERY = (
    "click_id=f8e3bf8dfba8b51ce3340&conversion_type=purchase&value=120"
    "&currency=USD&transaction_id=24356562534585"
)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    """A started server with the default configuration on a free port."""
    server = await build_server(Config(host="127.0.0.1", port=0))
    try:
        yield server
    finally:
        await server.server.stop(None)


@pytest.fixture
async def channel(running: Running) -> AsyncIterator[grpc.aio.Channel]:
    """An insecure channel to the running server."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as chan:
        yield chan


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> pb_grpc.ConversionServiceStub:
    """A ConversionService stub on the running server."""
    return pb_grpc.ConversionServiceStub(channel)
