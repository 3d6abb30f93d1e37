"""Overload, deadlines and cancellation on a real in-process server.

Load shedding is grpc.aio's ``maximum_concurrent_rpcs`` (``--max-concurrent-rpcs``):
calls past the limit are refused at once with RESOURCE_EXHAUSTED instead of
queueing. Deadlines and cancellations end the server-side call and nothing
stays behind: grpc.aio ends a cancelled stream's request iterator, closes its
response generator, or cancels the handler task; in that last case the
servicer must let ``asyncio.CancelledError`` through (it is not an
``Exception``, so the servicer's error mapping never turns it into INTERNAL).

The servicer is observed through a subclass that only records how each
NormalizeStream generator ended; everything else is the real server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import grpc
import pytest

from service.config import Config
from service.core.model import Rejection
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc
from service.server import Running, build_server
from service.servicer import ConversionServicer
from tests import rpc

# Bounds on waiting for the server to settle; never assertions about speed.
SETTLE_SECONDS = 10.0


# How a stream's generator may end when its call is cut short.
CUT_SHORT = {"completed", "GeneratorExit", "CancelledError"}


class RecordingServicer(ConversionServicer):
    """The real servicer; records how each NormalizeStream generator ended."""

    ended: ClassVar[list[str]] = []

    async def NormalizeStream(
        self,
        request_iterator: AsyncIterator[pb.NormalizeStreamRequest | Rejection],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.NormalizeStreamResponse]:
        try:
            async for reply in super().NormalizeStream(request_iterator, context):
                yield reply
        except BaseException as error:
            # Whatever the real generator let through.
            self.ended.append(type(error).__name__)
            raise
        self.ended.append("completed")


@pytest.fixture
async def recording(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    """A server whose servicer records how streams end."""
    RecordingServicer.ended = []
    monkeypatch.setattr("service.server.ConversionServicer", RecordingServicer)
    server = await build_server(Config(host="127.0.0.1", port=0))
    try:
        yield server
    finally:
        await server.server.stop(None)


def _item(index: int) -> pb.NormalizeStreamRequest:
    return pb.NormalizeStreamRequest(
        request_id=str(index),
        request=pb.NormalizeRequest(payload=pb.Payload(query=f"click_id=c{index}&value={index}")),
    )


def _request(query: str = "click_id=x&value=1") -> pb.NormalizeRequest:
    return pb.NormalizeRequest(payload=pb.Payload(query=query))


async def _settled(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` holds within SETTLE_SECONDS (polled)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _open_stream(stub: pb_grpc.ConversionServiceStub, index: int, **kwargs: Any) -> Any:
    """A NormalizeStream the server has accepted: it has answered one item."""
    stream = stub.NormalizeStream(**kwargs)
    await stream.write(_item(index))
    reply = await stream.read()
    assert reply.request_id == str(index)
    return stream


# --- load shedding -------------------------------------------------------------------


async def test_calls_past_max_concurrent_rpcs_are_shed_and_the_server_recovers() -> None:
    limit = 4
    running = await build_server(Config(host="127.0.0.1", port=0, max_concurrent_rpcs=limit))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = pb_grpc.ConversionServiceStub(channel)
            held = [await _open_stream(stub, index) for index in range(limit)]

            # The held streams never end on their own: a call that queued
            # behind them would run into its deadline instead.
            extra: list[Awaitable[Any]] = []
            for _ in range(3):
                extra.append(stub.Normalize(_request(), timeout=SETTLE_SECONDS))
                extra.append(
                    stub.Classify(pb.ClassifyRequest(payload=_request().payload), timeout=10)
                )
            shed = await asyncio.gather(*(rpc.outcome(call) for call in extra))
            stream_answers, stream_end = await rpc.stream_outcome(
                stub.NormalizeStream(iter([_item(99)]), timeout=SETTLE_SECONDS)
            )
            assert [o.code for o in shed] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * len(extra)
            assert stream_answers == []
            assert stream_end.code == grpc.StatusCode.RESOURCE_EXHAUSTED

            # The held calls were not disturbed, and end cleanly.
            for index, stream in enumerate(held):
                await stream.write(_item(100 + index))
                assert (await stream.read()).request_id == str(100 + index)
                await stream.done_writing()
                assert await stream.code() == grpc.StatusCode.OK

            # The server counts finished calls out asynchronously: wait until a
            # call gets through, then a full load of `limit` calls does too.
            async def serves() -> bool:
                ended = await rpc.outcome(stub.Normalize(_request(), timeout=SETTLE_SECONDS))
                return bool(ended.code == grpc.StatusCode.OK)

            for _ in range(int(SETTLE_SECONDS / 0.05)):
                if await serves():
                    break
                await asyncio.sleep(0.05)
            recovered = await asyncio.gather(
                *(rpc.outcome(stub.Normalize(_request(), timeout=10)) for _ in range(limit))
            )
            assert [o.code for o in recovered] == [grpc.StatusCode.OK] * limit
    finally:
        await running.server.stop(None)


# --- deadlines -----------------------------------------------------------------------


async def test_expired_deadlines_answer_deadline_exceeded(
    stub: pb_grpc.ConversionServiceStub,
) -> None:
    # Already past when the call starts.
    expired = await rpc.outcome(stub.Normalize(_request(), timeout=-1))
    # Past while the server works: 9,000 parameters take far more than 1 ms.
    query = "click_id=x&" + "&".join(f"k{i}=v" for i in range(9000))
    overrun = await rpc.outcome(stub.Normalize(_request(query), timeout=0.001))
    assert expired.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert overrun.code == grpc.StatusCode.DEADLINE_EXCEEDED
    response = await stub.Normalize(_request("click_id=after"), timeout=10)
    assert response.conversion.click_id == "after"


async def test_a_stream_past_its_deadline_is_ended_and_cleaned_up(recording: Running) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{recording.port}") as channel:
        stub = pb_grpc.ConversionServiceStub(channel)
        await stub.Normalize(_request(), timeout=10)  # connect before counting tasks
        baseline = len(asyncio.all_tasks())

        stream = await _open_stream(stub, 1, timeout=1.0)
        assert await stream.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        # The generator was finished, not left suspended.
        assert await _settled(lambda: len(RecordingServicer.ended) == 1)
        assert set(RecordingServicer.ended) <= CUT_SHORT
        assert await _settled(lambda: len(asyncio.all_tasks()) <= baseline)
        response = await stub.Normalize(_request("click_id=after"), timeout=10)
        assert response.conversion.click_id == "after"


# --- cancellation ----------------------------------------------------------------------


async def test_streams_cancelled_midway_leak_nothing(
    recording: Running,
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{recording.port}") as channel:
        stub = pb_grpc.ConversionServiceStub(channel)
        await stub.Normalize(_request(), timeout=10)
        baseline = len(asyncio.all_tasks())

        streams = [await _open_stream(stub, index) for index in range(5)]
        # Some are cancelled mid-batch: items written, answers never read.
        for index, stream in enumerate(streams):
            for more in range(index * 20):
                await stream.write(_item(1000 + more))
            stream.cancel()
        for stream in streams:
            assert await stream.code() == grpc.StatusCode.CANCELLED

        # Every generator was finished, none left suspended.
        assert await _settled(lambda: len(RecordingServicer.ended) == len(streams))
        assert set(RecordingServicer.ended) <= CUT_SHORT
        assert await _settled(lambda: len(asyncio.all_tasks()) <= baseline)

        replies = [r async for r in stub.NormalizeStream(iter([_item(7), _item(8)]))]
        assert [r.request_id for r in replies] == ["7", "8"]
        assert RecordingServicer.ended[-1] == "completed"


async def test_cancelled_unary_calls_leave_nothing_behind(
    running: Running, stub: pb_grpc.ConversionServiceStub
) -> None:
    await stub.Normalize(_request(), timeout=10)
    baseline = len(asyncio.all_tasks())
    # Large enough that the server is still busy with some when they are cancelled.
    query = "click_id=x&" + "&".join(f"k{i}=v" for i in range(5000))
    calls = [stub.Normalize(_request(query), timeout=30) for _ in range(20)]
    for index, call in enumerate(calls):
        for _ in range(index % 4):
            await asyncio.sleep(0)
        call.cancel()
    codes = {await call.code() for call in calls}
    assert codes <= {grpc.StatusCode.CANCELLED, grpc.StatusCode.OK}
    assert grpc.StatusCode.CANCELLED in codes
    assert await _settled(lambda: len(asyncio.all_tasks()) <= baseline)
    response = await stub.Normalize(_request("click_id=after"), timeout=10)
    assert response.conversion.click_id == "after"


def _cancelled_inside_the_core(*_: object, **__: object) -> object:
    # What the servicer sees when its task is cancelled while it works.
    raise asyncio.CancelledError


async def test_the_servicer_lets_cancelled_error_through(
    recording: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.servicer.normalize", _cancelled_inside_the_core)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{recording.port}") as channel:
        stub = pb_grpc.ConversionServiceStub(channel)
        await stub.Classify(pb.ClassifyRequest(payload=_request().payload), timeout=10)
        baseline = len(asyncio.all_tasks())

        # Swallowed, it would come back at once as INTERNAL (or an inline
        # error). Let through, grpc.aio treats the call as cancelled and sends
        # nothing: the client waits for its own deadline.
        unary = await rpc.outcome(stub.Normalize(_request(), timeout=1.0))
        answers, stream = await rpc.stream_outcome(
            stub.NormalizeStream(iter([_item(1), _item(2)]), timeout=1.0)
        )
        assert unary.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert (answers, stream.code) == ([], grpc.StatusCode.DEADLINE_EXCEEDED)
        assert await _settled(lambda: RecordingServicer.ended == ["CancelledError"])
        assert await _settled(lambda: len(asyncio.all_tasks()) <= baseline)

        monkeypatch.undo()
        response = await stub.Normalize(_request("click_id=after"), timeout=10)
        assert response.conversion.click_id == "after"
