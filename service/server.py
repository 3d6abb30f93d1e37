"""Wiring and lifecycle: build the grpc.aio server, serve until a signal.

:func:`build_server` puts together the servicer, the interceptors (metrics
and per-RPC logs, then the optional bearer token), the standard health service
and server reflection, over plaintext, TLS or mTLS; :func:`serve` runs it and,
on SIGTERM or SIGINT, flips health to NOT_SERVING before giving in-flight calls
``grace`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service.config import SERVICE_NAME, Config
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.interceptors import (
    HEALTH_PREFIX,
    REFLECTION_PREFIXES,
    AuthInterceptor,
    CallOutcomes,
    ObservabilityInterceptor,
    grpc_type,
)
from service.metrics import Metrics, MetricsEndpoint, serve_metrics
from service.servicer import ConversionServicer, add_to_server

log = logging.getLogger(__name__)

HEALTH_SERVICES = ("", SERVICE_NAME)
# Seconds between reporting NOT_SERVING and refusing new calls (taken from the
# grace). Health watchers (load balancers, health-checking clients) move new
# calls elsewhere first; calls that still arrive meanwhile are served. Without
# it, calls that reach gRPC at the instant it stops, before the server has
# taken them, are dropped unprocessed with CANCELLED.
DRAIN_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Running:
    """A started server, the port it is bound to, and its health servicer.

    ``metrics`` is the server's own registry and ``metrics_endpoint`` its HTTP
    exporter, both None when ``--metrics-port`` is 0.
    """

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    metrics: Metrics | None = None
    metrics_endpoint: MetricsEndpoint | None = None

    async def stop(self, grace: float) -> None:
        """Report NOT_SERVING, then let in-flight calls finish within ``grace``.

        New calls are still served for the first DRAIN_SECONDS of the grace,
        then refused. Metrics are served until the last call has ended, so the
        drain shows.
        """
        await self.health.enter_graceful_shutdown()
        drain = min(DRAIN_SECONDS, grace)
        await asyncio.sleep(drain)
        log.info("refusing new calls; %.1fs left for in-flight calls", grace - drain)
        await self.server.stop(grace - drain)
        if self.metrics_endpoint is not None:
            await asyncio.to_thread(self.metrics_endpoint.close)


def server_options(config: Config) -> list[tuple[str, int]]:
    """Channel arguments shared by every server the service starts."""
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        # Worker processes (--workers) bind the same port; the kernel spreads
        # connections among them. (gRPC's default, made explicit.)
        ("grpc.so_reuseport", 1),
    ]
    if config.max_connection_age:
        # gRPC adds its own jitter; the grace after GOAWAY stays unlimited, so
        # a long NormalizeStream is never cut.
        options.append(("grpc.max_connection_age_ms", round(config.max_connection_age * 1000)))
    return options


def open_methods(config: Config) -> tuple[str, ...]:
    """Method-name prefixes served without the token when one is required."""
    prefixes: list[str] = []
    if not config.auth_protect_health:
        prefixes.append(HEALTH_PREFIX)
    if not config.auth_protect_reflection:
        prefixes.extend(REFLECTION_PREFIXES)
    return tuple(prefixes)


def interceptors(config: Config, metrics: Metrics | None) -> list[grpc.aio.ServerInterceptor]:
    """Observability first, so calls refused for a missing token are counted and logged."""
    chain: list[grpc.aio.ServerInterceptor] = [ObservabilityInterceptor(metrics)]
    if config.auth_token:
        chain.append(AuthInterceptor(config.auth_token, open_methods(config)))
    return chain


def server_credentials(config: Config) -> grpc.ServerCredentials | None:
    """TLS credentials from the configured PEM files; None serves plaintext.

    With a client CA the handshake requires a client certificate it signed.
    """
    if config.tls_cert is None or config.tls_key is None:
        return None
    client_ca = config.tls_client_ca.read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def _methods() -> Iterator[tuple[str, str, str]]:
    """(grpc_type, service, method) of every method whose series start at zero."""
    for service in (
        pb.DESCRIPTOR.services_by_name["ConversionService"],
        health_pb2.DESCRIPTOR.services_by_name["Health"],
    ):
        for method in service.methods:
            kind = grpc_type(method.client_streaming, method.server_streaming)
            yield kind, service.full_name, method.name


async def build_server(config: Config) -> Running:
    """Create, wire and start the server; health is SERVING once it listens."""
    metrics = Metrics() if config.metrics_port else None
    server = grpc.aio.server(
        options=server_options(config),
        maximum_concurrent_rpcs=config.max_concurrent_rpcs or None,
        interceptors=interceptors(config, metrics),
    )
    add_to_server(ConversionServicer(config, outcomes=CallOutcomes(metrics)), server)
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
    credentials = server_credentials(config)
    if credentials is None:
        port = server.add_insecure_port(config.address)
    else:
        port = server.add_secure_port(config.address, credentials)
    endpoint = None
    if metrics is not None:
        metrics.register_methods(_methods())
        endpoint = serve_metrics(metrics, config.host, config.metrics_port)
    try:
        await server.start()
    except BaseException:
        if endpoint is not None:
            endpoint.close()
        raise
    for name in HEALTH_SERVICES:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return Running(server, port, health_servicer, metrics, endpoint)


def _describe(config: Config) -> str:
    """How the server is secured, for the start-up line (never the token itself)."""
    if config.tls_client_ca is not None:
        transport = "mTLS"
    elif config.tls_cert is not None:
        transport = "TLS"
    else:
        transport = "plaintext"
    return f"{transport}, token {'required' if config.auth_token else 'not required'}"


async def serve(config: Config) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    running = await build_server(config)
    log.info("serving %s on port %d (%s)", SERVICE_NAME, running.port, _describe(config))
    if running.metrics_endpoint is not None:
        log.info("metrics at http://%s:%d/metrics", config.host, running.metrics_endpoint.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down: health NOT_SERVING, %.1fs grace for in-flight calls", config.grace)
    await running.stop(config.grace)
    log.info("stopped")
