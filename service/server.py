"""Wiring and lifecycle: build the grpc.aio server, serve until a signal.

:func:`build_server` puts together the servicer, the standard health service
and server reflection; :func:`serve` runs it and, on SIGTERM or SIGINT, flips
health to NOT_SERVING before giving in-flight calls ``grace`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service.config import SERVICE_NAME, Config
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.servicer import ConversionServicer

log = logging.getLogger(__name__)

HEALTH_SERVICES = ("", SERVICE_NAME)


@dataclass(frozen=True, slots=True)
class Running:
    """A started server, the port it is bound to, and its health servicer."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer

    async def stop(self, grace: float) -> None:
        """Report NOT_SERVING, then let in-flight calls finish within ``grace``."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def server_options(config: Config) -> list[tuple[str, int]]:
    """Channel arguments shared by every server the service starts."""
    return [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
    ]


async def build_server(config: Config) -> Running:
    """Create, wire and start the server; health is SERVING once it listens."""
    server = grpc.aio.server(
        options=server_options(config),
        maximum_concurrent_rpcs=config.max_concurrent_rpcs or None,
    )
    pb_grpc.add_ConversionServiceServicer_to_server(ConversionServicer(config), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            pb.DESCRIPTOR.services_by_name["ConversionService"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(config.address)
    await server.start()
    for name in HEALTH_SERVICES:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return Running(server, port, health_servicer)


async def serve(config: Config) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    running = await build_server(config)
    log.info("serving %s on port %d", SERVICE_NAME, running.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down: health NOT_SERVING, %.1fs grace for in-flight calls", config.grace)
    await running.stop(config.grace)
    log.info("stopped")
