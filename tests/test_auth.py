"""Bearer-token authentication on a real server: refusals, open services, settings."""

from __future__ import annotations

import argparse
import asyncio
import hmac
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from service import config, probe
from service.config import Config
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.interceptors import AuthInterceptor
from service.server import Running, build_server
from tests.conftest import SEED_QUERY

TOKEN = "s3cr3t-token-for-tests"
REQUEST = pb.NormalizeRequest(payload=pb.Payload(query=SEED_QUERY))


async def _serve(**switches: bool) -> Running:
    return await build_server(
        Config(
            host="127.0.0.1",
            port=0,
            auth_token=TOKEN,
            auth_protect_health=switches.get("health", False),
            auth_protect_reflection=switches.get("reflection", False),
        )
    )


@pytest.fixture
async def guarded() -> AsyncIterator[Running]:
    running = await _serve()
    try:
        yield running
    finally:
        await running.server.stop(None)


@pytest.fixture
async def channel(guarded: Running) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{guarded.port}") as chan:
        yield chan


def _bearer(token: str = TOKEN) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def _unauthenticated(call: object) -> error_details_pb2.ErrorInfo:
    """Await a refused call; check the status and return its single ErrorInfo."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    error = raised.value
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert TOKEN not in (error.details() or "")
    status = rpc_status.from_call(error)
    assert status is not None
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    assert len(infos) == 1
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    assert info.domain == "conversions.v1"
    assert dict(info.metadata) == {"metadataKey": "authorization", "scheme": "Bearer"}
    return info


async def test_a_call_without_credentials_is_refused(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.ConversionServiceStub(channel)
    info = await _unauthenticated(stub.Normalize(REQUEST))
    assert info.reason == "MISSING_CREDENTIALS"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer ",
        f"Bearer {TOKEN[:-1]}",
    ],
)
async def test_a_wrong_token_or_scheme_is_refused(
    channel: grpc.aio.Channel, authorization: str
) -> None:
    stub = pb_grpc.ConversionServiceStub(channel)
    call = stub.Normalize(REQUEST, metadata=(("authorization", authorization),))
    info = await _unauthenticated(call)
    assert info.reason == "INVALID_TOKEN"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_the_right_token_is_served(channel: grpc.aio.Channel, scheme: str) -> None:
    stub = pb_grpc.ConversionServiceStub(channel)
    response = await stub.Normalize(REQUEST, metadata=(("authorization", f"{scheme} {TOKEN}"),))
    assert response.conversion.event_name == "Purchase"
    classified = await stub.Classify(
        pb.ClassifyRequest(payload=REQUEST.payload), metadata=_bearer()
    )
    assert classified.event_name == "Purchase"


async def test_streams_and_classify_need_the_token_too(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.ConversionServiceStub(channel)
    classify = await _unauthenticated(stub.Classify(pb.ClassifyRequest()))
    assert classify.reason == "MISSING_CREDENTIALS"

    async def refused_stream() -> None:
        items = iter([pb.NormalizeStreamRequest(request_id="1", request=REQUEST)])
        async for _ in stub.NormalizeStream(items, metadata=_bearer("nope")):
            pytest.fail("a refused stream answered an item")

    info = await _unauthenticated(refused_stream())
    assert info.reason == "INVALID_TOKEN"

    served = stub.NormalizeStream(metadata=_bearer())
    await served.write(pb.NormalizeStreamRequest(request_id="1", request=REQUEST))
    reply = await served.read()
    await served.done_writing()
    assert reply.request_id == "1"
    assert reply.response.conversion.value == "120"
    assert await served.code() == grpc.StatusCode.OK


async def test_health_and_reflection_stay_open_by_default(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    answer = await health.Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING

    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names = [
        service.name
        async for reply in reflection.ServerReflectionInfo(ask())
        for service in reply.list_services_response.service
    ]
    assert "conversions.v1.ConversionService" in names


async def test_protected_health_and_reflection_need_the_token() -> None:
    running = await _serve(health=True, reflection=True)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as chan:
            health = health_pb2_grpc.HealthStub(chan)
            info = await _unauthenticated(health.Check(health_pb2.HealthCheckRequest()))
            assert info.reason == "MISSING_CREDENTIALS"
            answer = await health.Check(health_pb2.HealthCheckRequest(), metadata=_bearer())
            assert answer.status == health_pb2.HealthCheckResponse.SERVING

            reflection = reflection_pb2_grpc.ServerReflectionStub(chan)
            call = reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                async for _ in call:
                    pass
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED

            # The health probe sends the server's token, read from the same environment.
            environ = {
                "CONVERSIONS_HOST": "127.0.0.1",
                "CONVERSIONS_PORT": str(running.port),
                "CONVERSIONS_AUTH_TOKEN": TOKEN,
            }
            assert await asyncio.to_thread(probe.main, [], environ) == 0
            del environ["CONVERSIONS_AUTH_TOKEN"]
            assert await asyncio.to_thread(probe.main, [], environ) == probe.EXIT_UNHEALTHY
    finally:
        await running.server.stop(None)


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    # The interceptor looks compare_digest up on the hmac module at each call.
    monkeypatch.setattr(hmac, "compare_digest", spy)
    guard = AuthInterceptor(TOKEN, ())
    assert guard.refusal([("authorization", f"Bearer {TOKEN}")]) is None
    assert guard.refusal([("authorization", "Basic abc")]) == "INVALID_TOKEN"
    assert guard.refusal([("x-other", TOKEN)]) == "MISSING_CREDENTIALS"
    # Two authorization values are ambiguous, even if one of them is right.
    two = [("authorization", f"Bearer {TOKEN}"), ("authorization", "Bearer x")]
    assert guard.refusal(two) == "INVALID_TOKEN"
    assert compared[:2] == [(TOKEN.encode(), TOKEN.encode()), (b"abc", TOKEN.encode())]


def _load(argv: list[str], environ: dict[str, str] | None = None) -> Config:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    return config.from_namespace(parser.parse_args(argv), environ or {}, parser)


def test_token_settings(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert _load([]).auth_token == ""
    assert _load(["--auth-token", "flag"]).auth_token == "flag"
    assert _load([], {"CONVERSIONS_AUTH_TOKEN": "env"}).auth_token == "env"
    assert _load(["--auth-token-file", str(token_file)]).auth_token == "from-file"
    env_file = {"CONVERSIONS_AUTH_TOKEN_FILE": str(token_file)}
    assert _load([], env_file).auth_token == "from-file"
    # A flag beats the environment, whichever of the two forms each uses.
    assert _load(["--auth-token", "flag"], env_file).auth_token == "flag"
    file_flag = ["--auth-token-file", str(token_file)]
    assert _load(file_flag, {"CONVERSIONS_AUTH_TOKEN": "env"}).auth_token == "from-file"
    # The token never shows in a repr (and so in no log of the settings).
    assert "flag" not in repr(_load(["--auth-token", "flag"]))
    switches = _load(["--auth-protect-health"], {"CONVERSIONS_AUTH_PROTECT_REFLECTION": "yes"})
    assert switches.auth_protect_health
    assert switches.auth_protect_reflection
    assert not _load([], {"CONVERSIONS_AUTH_PROTECT_HEALTH": "false"}).auth_protect_health


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--auth-token", "a", "--auth-token-file", "{file}"], {}, "give only one of them"),
        ([], {"CONVERSIONS_AUTH_TOKEN": "a", "CONVERSIONS_AUTH_TOKEN_FILE": "{file}"}, "only one"),
        (["--auth-token-file", "{empty}"], {}, "--auth-token-file: the token is empty"),
        (["--auth-token-file", "{missing}"], {}, "--auth-token-file: cannot read"),
        (["--auth-token", "  "], {}, "--auth-token: the token is empty"),
        ([], {"CONVERSIONS_AUTH_PROTECT_HEALTH": "maybe"}, "is not true or false"),
    ],
)
def test_token_settings_that_cannot_work_stop_with_a_usage_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    environ: dict[str, str],
    message: str,
) -> None:
    (tmp_path / "token").write_text("t")
    (tmp_path / "empty").write_text("\n")
    paths = {
        "file": str(tmp_path / "token"),
        "empty": str(tmp_path / "empty"),
        "missing": str(tmp_path / "missing"),
    }
    with pytest.raises(SystemExit) as stopped:
        _load([a.format(**paths) for a in argv], {k: v.format(**paths) for k, v in environ.items()})
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
