"""TLS and mTLS with certificates generated for the test, on a real server."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from service import config, probe
from service.config import Config
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.server import Running, build_server
from tests.certs import Authority, Pair
from tests.conftest import SEED_QUERY

REQUEST = pb.NormalizeRequest(payload=pb.Payload(query=SEED_QUERY))


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path / "ca")


@pytest.fixture
def server_pair(authority: Authority) -> Pair:
    return authority.server()


async def _start(tls_cert: Path, tls_key: Path, tls_client_ca: Path | None = None) -> Running:
    return await build_server(
        Config(
            host="127.0.0.1",
            port=0,
            tls_cert=tls_cert,
            tls_key=tls_key,
            tls_client_ca=tls_client_ca,
        )
    )


@pytest.fixture
async def tls_server(server_pair: Pair) -> AsyncIterator[Running]:
    running = await _start(server_pair.cert, server_pair.key)
    try:
        yield running
    finally:
        await running.server.stop(None)


@pytest.fixture
async def mtls_server(authority: Authority, server_pair: Pair) -> AsyncIterator[Running]:
    running = await _start(server_pair.cert, server_pair.key, authority.cert)
    try:
        yield running
    finally:
        await running.server.stop(None)


def _credentials(roots: Path, client: Pair | None = None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=roots.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )


async def _normalize(channel: grpc.aio.Channel) -> pb.NormalizeResponse:
    response: pb.NormalizeResponse = await pb_grpc.ConversionServiceStub(channel).Normalize(
        REQUEST, timeout=10
    )
    return response


async def _refused(channel: grpc.aio.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _normalize(channel)
    return raised.value.code()


async def test_tls_client_that_trusts_the_ca_is_served(
    tls_server: Running, authority: Authority
) -> None:
    target = f"localhost:{tls_server.port}"
    async with grpc.aio.secure_channel(target, _credentials(authority.cert)) as channel:
        response = await _normalize(channel)
    assert response.conversion.event_name == "Purchase"


async def test_tls_server_refuses_plaintext(tls_server: Running) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{tls_server.port}") as channel:
        assert await _refused(channel) == grpc.StatusCode.UNAVAILABLE


async def test_tls_client_rejects_a_server_from_an_unknown_ca(
    tls_server: Running, tmp_path: Path
) -> None:
    stranger = Authority(tmp_path / "stranger", "Stranger CA")
    target = f"localhost:{tls_server.port}"
    async with grpc.aio.secure_channel(target, _credentials(stranger.cert)) as channel:
        assert await _refused(channel) == grpc.StatusCode.UNAVAILABLE


async def test_mtls_serves_a_client_with_a_certificate_from_the_ca(
    mtls_server: Running, authority: Authority
) -> None:
    credentials = _credentials(authority.cert, authority.client())
    async with grpc.aio.secure_channel(f"localhost:{mtls_server.port}", credentials) as channel:
        response = await _normalize(channel)
    assert response.conversion.value == "120"


async def test_mtls_refuses_a_client_without_a_certificate(
    mtls_server: Running, authority: Authority
) -> None:
    credentials = _credentials(authority.cert)
    async with grpc.aio.secure_channel(f"localhost:{mtls_server.port}", credentials) as channel:
        assert await _refused(channel) == grpc.StatusCode.UNAVAILABLE


async def test_mtls_refuses_a_client_certificate_from_another_ca(
    mtls_server: Running, authority: Authority, tmp_path: Path
) -> None:
    stranger = Authority(tmp_path / "stranger", "Stranger CA")
    credentials = _credentials(authority.cert, stranger.client("intruder"))
    async with grpc.aio.secure_channel(f"localhost:{mtls_server.port}", credentials) as channel:
        assert await _refused(channel) == grpc.StatusCode.UNAVAILABLE


async def test_mtls_refuses_plaintext(mtls_server: Running) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mtls_server.port}") as channel:
        assert await _refused(channel) == grpc.StatusCode.UNAVAILABLE


async def test_health_probe_speaks_mtls(mtls_server: Running, authority: Authority) -> None:
    client = authority.client("probe")
    argv = [
        "--address",
        f"localhost:{mtls_server.port}",
        "--tls-ca",
        str(authority.cert),
        "--tls-cert",
        str(client.cert),
        "--tls-key",
        str(client.key),
    ]
    # The probe is a blocking client: it runs in a thread while the server serves here.
    assert await asyncio.to_thread(probe.main, argv, {}) == 0
    without_client_cert = argv[:4]
    assert await asyncio.to_thread(probe.main, without_client_cert, {}) == probe.EXIT_UNHEALTHY


def _load(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    return config.from_namespace(parser.parse_args(argv), {}, parser)


def test_tls_flags_are_read_as_paths(authority: Authority, server_pair: Pair) -> None:
    settings = _load(
        [
            "--tls-cert",
            str(server_pair.cert),
            "--tls-key",
            str(server_pair.key),
            "--tls-client-ca",
            str(authority.cert),
        ]
    )
    assert (settings.tls_cert, settings.tls_key, settings.tls_client_ca) == (
        server_pair.cert,
        server_pair.key,
        authority.cert,
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tls-cert", "{cert}"], "--tls-cert and --tls-key go together"),
        (["--tls-key", "{key}"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "{cert}"], "--tls-client-ca needs --tls-cert"),
        (["--tls-cert", "{missing}", "--tls-key", "{key}"], "--tls-cert: cannot read"),
    ],
)
def test_tls_flags_that_cannot_work_stop_with_a_usage_error(
    server_pair: Pair,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    paths = {"cert": server_pair.cert, "key": server_pair.key, "missing": tmp_path / "nope.pem"}
    with pytest.raises(SystemExit) as stopped:
        _load([flag.format(**paths) for flag in flags])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
