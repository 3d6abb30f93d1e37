"""``python -m service health``: a gRPC health probe for containers.

Calls the standard ``grpc.health.v1.Health/Check`` and exits 0 when the answer
is SERVING, 1 otherwise (NOT_SERVING, unreachable, refused, timed out). It
reads the server's own settings from the environment, so inside the server's
container it needs no flags: the port comes from ``CONVERSIONS_PORT`` and the
token, when the health service is protected, from ``CONVERSIONS_AUTH_TOKEN``
or ``CONVERSIONS_AUTH_TOKEN_FILE``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service import config

EXIT_UNHEALTHY: Final = 1
# Addresses a server binds to that a client cannot dial.
_WILDCARDS: Final = frozenset({"", "[::]", "::", "0.0.0.0"})  # noqa: S104 - compared, not bound


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service health",
        description="Exit 0 when the server's gRPC health service reports SERVING, else 1.",
    )
    parser.add_argument(
        "--address",
        help="host:port to check (default: the local server, port from CONVERSIONS_PORT)",
    )
    parser.add_argument(
        "--service",
        default="",
        help='health service name (default "": the whole server)',
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    parser.add_argument(
        "--tls-ca", type=Path, help="PEM roots to verify a TLS server; turns TLS on"
    )
    parser.add_argument("--tls-cert", type=Path, help="PEM client certificate, for mTLS")
    parser.add_argument("--tls-key", type=Path, help="PEM key of --tls-cert")
    parser.add_argument(
        "--tls-server-name", help="name to verify in the server certificate (default: the host)"
    )
    return parser


def _channel(args: argparse.Namespace, address: str) -> grpc.Channel:
    if args.tls_ca is None:
        return grpc.insecure_channel(address)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=args.tls_ca.read_bytes(),
        private_key=args.tls_key.read_bytes() if args.tls_key else None,
        certificate_chain=args.tls_cert.read_bytes() if args.tls_cert else None,
    )
    options = []
    if args.tls_server_name:
        options.append(("grpc.ssl_target_name_override", args.tls_server_name))
    return grpc.secure_channel(address, credentials, options=options)


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """Check once; 0 when SERVING."""
    args = _parser().parse_args(argv)
    settings = config.load([], environ)
    host = "127.0.0.1" if settings.host in _WILDCARDS else settings.host
    address = args.address or f"{host}:{settings.port}"
    metadata = []
    if settings.auth_token:
        metadata.append(("authorization", f"Bearer {settings.auth_token}"))
    with _channel(args, address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(
                health_pb2.HealthCheckRequest(service=args.service),
                timeout=args.timeout,
                metadata=metadata,
            )
        except grpc.RpcError as error:
            print(f"{address}: {error.code().name}: {error.details()}", file=sys.stderr)
            if settings.tls_cert is not None and args.tls_ca is None:
                print("the server is configured for TLS: pass --tls-ca", file=sys.stderr)
            return EXIT_UNHEALTHY
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(f"{address}: {status}")
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else EXIT_UNHEALTHY
