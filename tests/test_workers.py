"""``--workers``: several server processes on one port, stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from service import config
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from tests.conftest import SEED_QUERY
from tests.process import ServerProcess, server_process

_WORKER_LINE = re.compile(r"worker \d+ of \d+ started \(pid (\d+)\)")
_SERVING_LINE = re.compile(r"serving \S+ on port (\d+)")


def _wait_for_workers(server: ServerProcess, count: int) -> list[int]:
    """The worker pids, once every worker listens on the parent's port."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = server.log()
        ports = set(_SERVING_LINE.findall(log))
        pids = [int(pid) for pid in _WORKER_LINE.findall(log)]
        if len(_SERVING_LINE.findall(log)) == count:
            assert ports == {str(server.port)}
            assert len(pids) == count
            return pids
        assert server.process.poll() is None, log
        time.sleep(0.05)
    raise TimeoutError(server.log())


@pytest.fixture
def worker_pids() -> Iterator[list[int]]:
    """Pids to kill after the test if they are still running (the parent may not be)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _normalize_on_separate_connections(address: str, connections: int) -> None:
    """Each call on its own connection, so the kernel spreads them over the workers."""
    request = pb.NormalizeRequest(payload=pb.Payload(query=SEED_QUERY))
    for _ in range(connections):
        async with grpc.aio.insecure_channel(
            address, options=[("grpc.use_local_subchannel_pool", 1)]
        ) as channel:
            reply = await pb_grpc.ConversionServiceStub(channel).Normalize(request, timeout=10)
            assert reply.conversion.click_id == "f8e3bf8dfba8b51ce3340"
            assert reply.conversion.value == "120"


@pytest.mark.slow
async def test_two_workers_serve_one_port_and_stop_together_on_sigterm(
    tmp_path: Path, worker_pids: list[int]
) -> None:
    with server_process(tmp_path, "--workers", "2") as server:
        pids = await asyncio.to_thread(_wait_for_workers, server, 2)
        worker_pids.extend(pids)
        assert server.process.pid not in pids
        await _normalize_on_separate_connections(server.address, 8)
        assert all(_alive(pid) for pid in pids)

        server.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(server.process.wait, 30)

    assert exit_code == 0, server.log()
    assert not [pid for pid in pids if _alive(pid)], server.log()
    assert server.log().count("service.server stopped") == 2
    assert "all workers stopped" in server.log()


@pytest.mark.slow
async def test_a_worker_that_dies_stops_the_others_and_fails_the_parent(
    tmp_path: Path, worker_pids: list[int]
) -> None:
    with server_process(tmp_path, "--workers", "2") as server:
        first, second = await asyncio.to_thread(_wait_for_workers, server, 2)
        worker_pids.extend((first, second))
        os.kill(first, signal.SIGKILL)
        exit_code = await asyncio.to_thread(server.process.wait, 30)

    assert exit_code == 1, server.log()
    assert not _alive(second)
    assert "stopping the others" in server.log()


def test_workers_flag_and_environment() -> None:
    assert config.load([], {}).workers == 1
    assert config.load(["--workers", "3"], {}).workers == 3
    assert config.load([], {"CONVERSIONS_WORKERS": "2"}).workers == 2
    assert config.load(["--workers", "4"], {"CONVERSIONS_WORKERS": "2"}).workers == 4


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_workers_must_be_a_positive_number(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        config.load(["--workers", value], {})
    assert exited.value.code == 2
    assert "--workers" in capsys.readouterr().err
