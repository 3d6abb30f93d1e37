"""SIGTERM on a real server process: health flips, in-flight calls finish, exit 0.

Under steady load too: callers keep unary calls and long streams going while
the signal lands; every call accepted before it completes OK, new calls are
refused with UNAVAILABLE (never cut off, never INTERNAL), and the process
exits 0 within --grace.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.config import SERVICE_NAME
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from tests import rpc
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


# --- SIGTERM under steady load -------------------------------------------------------

UNARY_CALLERS = 4
STREAM_CALLERS = 3
# Calls that start this long before the signal have surely reached the server.
SIGNAL_MARGIN = 0.05
REFUSING = "refusing new calls"
OK = grpc.StatusCode.OK
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


@dataclass
class Load:
    """What the callers saw, by when each call started relative to the signal."""

    # Health-aware callers, like a gateway that checks health, send no new
    # call once they have seen NOT_SERVING.
    health_aware: bool
    phase: str = "before"  # before → around (signal pending) → after
    not_serving: bool = False
    unary: dict[str, Counter[grpc.StatusCode]] = field(
        default_factory=lambda: {p: Counter() for p in ("before", "around", "after")}
    )
    stream_items_after_signal: int = 0
    stream_ends: list[tuple[int, int, grpc.StatusCode]] = field(default_factory=list)
    # NOT_SERVING and every failed call, in the order the client saw them.
    events: list[str] = field(default_factory=list)

    def outcomes(self) -> dict[str, dict[str, int]]:
        return {
            phase: {code.name: n for code, n in codes.items()}
            for phase, codes in self.unary.items()
        }


async def _unary_caller(
    stub: pb_grpc.ConversionServiceStub, load: Load, stop: asyncio.Event
) -> None:
    index = 0
    while not stop.is_set() and not (load.health_aware and load.not_serving):
        phase = load.phase
        request = pb.NormalizeRequest(payload=pb.Payload(query=f"click_id=u{index}&value=1"))
        ended = await rpc.outcome(stub.Normalize(request, timeout=20))
        load.unary[phase][ended.code] += 1
        if ended.code != OK:
            load.events.append(ended.code.name)
            await asyncio.sleep(0.01)  # a refused call returns at once: do not spin
        index += 1


async def _stream_caller(stream: Any, load: Load, stop: asyncio.Event) -> None:
    """Keep an accepted stream busy; count the items it got answers for."""
    sent = answered = 1  # the item that proved it accepted
    while not stop.is_set():
        await stream.write(_item(sent))
        sent += 1
        reply = await asyncio.wait_for(stream.read(), timeout=20)
        assert reply.request_id == str(sent - 1)
        assert reply.response.conversion.value == str(sent - 1)
        answered += 1
        if load.phase == "after":
            load.stream_items_after_signal += 1
        await asyncio.sleep(0.005)
    await stream.done_writing()
    load.stream_ends.append((sent, answered, await stream.code()))


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition``; a hang guard, never a speed assertion."""
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110 - the conditions are not events
            await asyncio.sleep(0.01)


async def _refusing(stub: pb_grpc.ConversionServiceStub) -> None:
    """Wait until the server refuses a call: it logs just before it stops taking them."""
    async with asyncio.timeout(20):
        while True:
            ended = await rpc.outcome(stub.Normalize(pb.NormalizeRequest(), timeout=10))
            if ended.code == UNAVAILABLE:
                return
            await asyncio.sleep(0.01)


@dataclass
class Drained:
    """How a SIGTERM under load went."""

    load: Load
    refused_after_stop: list[grpc.StatusCode]
    exit_code: int
    log: str


async def _sigterm_under_load(tmp_path: Path, *, health_aware: bool) -> Drained:
    grace = 10.0
    with server_process(tmp_path, "--grace", str(grace)) as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = pb_grpc.ConversionServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING

            load = Load(health_aware)
            stop = asyncio.Event()
            streams = []
            for _ in range(STREAM_CALLERS):
                stream = stub.NormalizeStream()
                await stream.write(_item(0))
                assert (await stream.read()).request_id == "0"
                streams.append(stream)
            unary = [
                asyncio.create_task(_unary_caller(stub, load, stop)) for _ in range(UNARY_CALLERS)
            ]
            streaming = [asyncio.create_task(_stream_caller(s, load, stop)) for s in streams]
            await _until(lambda: load.unary["before"][OK] >= 50)

            load.phase = "around"
            await asyncio.sleep(SIGNAL_MARGIN)
            server.process.send_signal(signal.SIGTERM)
            load.phase = "after"
            flipped = await asyncio.wait_for(watch.read(), timeout=10)
            assert flipped.status == health_pb2.HealthCheckResponse.NOT_SERVING
            load.events.append("NOT_SERVING")
            load.not_serving = True
            watch.cancel()

            # Once the server refuses new calls, they fail cleanly at once.
            await _until(lambda: REFUSING in server.log())
            if health_aware:
                await asyncio.gather(*unary)
            await _refusing(stub)
            late = [stub.Normalize(pb.NormalizeRequest(), timeout=10) for _ in range(10)]
            refused = [(await rpc.outcome(call)).code for call in late]
            # The accepted streams went on being served after the signal.
            await _until(lambda: load.stream_items_after_signal >= 3 * STREAM_CALLERS)
            stop.set()
            await asyncio.gather(*unary, *streaming)

        # The streams were the last calls: the process exits once they end,
        # well within the grace (the wait is a hang guard far above it).
        exit_code = await asyncio.to_thread(server.process.wait, grace + 20)
        return Drained(load, refused, exit_code, server.log())


def _check_common(drained: Drained) -> None:
    load = drained.load
    assert drained.exit_code == 0, drained.log
    assert "shutting down" in drained.log
    # Every call started before the signal was accepted and completed OK.
    assert set(load.unary["before"]) == {OK}, load.outcomes()
    assert set(load.unary["around"]) <= {OK}, load.outcomes()
    # Every item written to an accepted stream was answered; each stream ended OK.
    assert len(load.stream_ends) == STREAM_CALLERS
    for sent, answered, code in load.stream_ends:
        assert (answered, code) == (sent, OK)
    assert load.stream_items_after_signal >= 3 * STREAM_CALLERS
    # Calls made once the server refuses new ones fail cleanly, at once.
    assert drained.refused_after_stop == [UNAVAILABLE] * 10


@pytest.mark.slow
async def test_sigterm_under_load_from_a_health_checking_client_loses_nothing(
    tmp_path: Path,
) -> None:
    drained = await _sigterm_under_load(tmp_path, health_aware=True)
    _check_common(drained)
    load = drained.load
    # NOT_SERVING came first, and every call the client sent was served: those
    # still in flight when it flipped too.
    assert load.events[0] == "NOT_SERVING", load.events
    assert set(load.unary["after"]) <= {OK}, load.outcomes()
    assert sum(load.unary["after"].values()) + sum(load.unary["around"].values()) >= 1


@pytest.mark.slow
async def test_sigterm_under_load_from_a_client_ignoring_health(tmp_path: Path) -> None:
    drained = await _sigterm_under_load(tmp_path, health_aware=False)
    _check_common(drained)
    load = drained.load
    outcomes = load.outcomes()
    assert load.events[0] == "NOT_SERVING", load.events
    # Served during the drain, refused with UNAVAILABLE after it. A call that
    # reaches gRPC at the very instant the server stops, before the server has
    # taken it, is dropped unprocessed (CANCELLED): at most one per caller.
    after = load.unary["after"]
    assert set(after) <= {OK, UNAVAILABLE, grpc.StatusCode.CANCELLED}, outcomes
    assert after[OK] >= 1, outcomes
    assert after[UNAVAILABLE] >= 1, outcomes
    assert after[grpc.StatusCode.CANCELLED] <= UNARY_CALLERS, outcomes


@pytest.mark.slow
async def test_a_call_outliving_the_grace_is_cut_and_the_process_still_exits_zero(
    tmp_path: Path,
) -> None:
    grace = 1.5
    with server_process(tmp_path, "--grace", str(grace)) as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = pb_grpc.ConversionServiceStub(channel)
            stream = stub.NormalizeStream()
            await stream.write(_item(0))
            assert (await stream.read()).request_id == "0"

            server.process.send_signal(signal.SIGTERM)
            # The stream never ends on its own: the grace runs out and the
            # server cuts it rather than waiting.
            exit_code = await asyncio.to_thread(server.process.wait, grace + 20)
            code = await asyncio.wait_for(stream.code(), timeout=10)
    assert exit_code == 0, server.log()
    assert code in {grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE}
    assert "stopped" in server.log()
