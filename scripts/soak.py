"""Memory soak: 200,000 mixed requests against a server process (``make soak``).

Starts ``python -m service`` on a free loopback port and sends, over a few
concurrent channels, a steady mix of requests:

* NormalizeStream batches (most of the volume) of good, rejected
  (MISSING_MATCH_KEY, UNKNOWN_CONVERSION_TYPE) and malformed items;
* unary Normalize and Classify calls of the same kinds;
* cancelled calls: unary calls cancelled in flight, streams cancelled midway
  with answers left unread, and calls that run past their deadline.

Payloads vary (names, identities, traits, items, sizes up to ~100 KB) so every
cache in the service fills during the warm-up. The server's resident memory
(VmRSS from /proc/<pid>/status) is sampled after the warm-up and then as the
run goes; the growth from the warm-up sample to the final one must stay under
``--max-growth`` percent (10 by default), or the script exits 1. Every answer
is also checked: good items OK, rejected and malformed ones INVALID_ARGUMENT
with their reason, never INTERNAL or UNKNOWN.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
from fuzz import server_process  # the same child server as make fuzz
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from service.config import SERVICE_NAME
from service.gen.conversions.v1 import conversion_service_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
NORMALIZE = f"/{SERVICE_NAME}/Normalize"
CLASSIFY = f"/{SERVICE_NAME}/Classify"
STREAM = f"/{SERVICE_NAME}/NormalizeStream"
OK = "OK"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Sample:
    """One prepared request: its wire bytes and the answer it must get."""

    data: bytes
    expect: str  # OK or the rejection reason


def _good(rnd: random.Random, index: int) -> pb.NormalizeRequest:
    params = {
        rnd.choice(["click_id", "clickid", "Click-ID", "ref_id", "email"]): (
            f"user{index}@example.com" if rnd.random() < 0.2 else f"c{index:06d}"
        ),
        rnd.choice(["value", "commission", "amount"]): rnd.choice(
            ["120", "$1,234.50", "1.234,56 EUR", "0.50", "-5"]
        ),
        "currency": rnd.choice(["USD", "eur", "XXX", "{currency}"]),
        "transaction_id": str(rnd.randrange(10**12)),
        "conversion_type": rnd.choice(["purchase", "lead", "registration", "outbound_click"]),
        "email": f"Person.{index}@Example.org",
        "phone": rnd.choice([f"+1 650 555 {index % 10000:04d}", f"0{index % 10**9:09d}"]),
        "first_name": rnd.choice(["José", "Zoë", "O'Brien", "李"]),
        "full_name": "Jean-Luc Picard",
        "birthdate": rnd.choice(["1990-01-31", "12/31/1999", "31.12.1999"]),
        "city": "St. Louis",
        "state": rnd.choice(["California", "CA", "Bavaria"]),
        "zipcode": rnd.choice(["94025-1234", "SW1A 1AA"]),
        "country": rnd.choice(["US", "USA", "United States", "GB", "Narnia"]),
        "timestamp": rnd.choice(["1700000000", "1700000000123", "2024-01-01T00:00:00Z", "x"]),
        f"xat_k{index % 7}": "v",
        # Sender-specific names: the name routing cache sees thousands of them.
        f"custom_{index % 5000}": "1",
    }
    items: list[Any] = [
        {"id": str(i), "price": f"{i}.99", "qty": i % 3, f"extra{i % 4}": "x"}
        for i in range(rnd.choice([0, 1, 3, 20]))
    ]
    request = pb.NormalizeRequest()
    request.context.account_id = f"acct{index % 100}"
    form = rnd.random()
    if form < 0.4:
        params["items"] = json.dumps(items)
        request.payload.query = urlencode(params)
    elif form < 0.8:
        request.payload.body = json.dumps({**params, "items": items}).encode()
        request.payload.content_type = "application/json"
    else:
        request.payload.json.update({**params, "items": items})
    return request


def _rejected(rnd: random.Random, index: int) -> tuple[pb.NormalizeRequest, str]:
    if rnd.random() < 0.5:
        query = urlencode({"value": str(index), "email": "{email}", "click_id": " "})
        return pb.NormalizeRequest(payload=pb.Payload(query=query)), "MISSING_MATCH_KEY"
    query = urlencode({"click_id": f"c{index}", "conversion_type": f"kind-{index % 500}"})
    return pb.NormalizeRequest(payload=pb.Payload(query=query)), "UNKNOWN_CONVERSION_TYPE"


def _malformed(rnd: random.Random, index: int) -> pb.NormalizeRequest:
    choice = rnd.randrange(5)
    if choice == 0:
        body = b'{"click_id": "c%d", "value": ' % index + b"[" * 200
    elif choice == 1:
        body = b'{"click_id": "c\xff%d"}' % index
    elif choice == 2:
        body = b"[" * 100 + b"]" * 100
    elif choice == 3:
        body = "&".join(f"k{i}=v" for i in range(10_001)).encode()
        return pb.NormalizeRequest(
            payload=pb.Payload(body=body, content_type="application/x-www-form-urlencoded")
        )
    else:
        body = b"x=" + b"y" * (1024 * 1024)
        return pb.NormalizeRequest(payload=pb.Payload(body=body, content_type="text/plain"))
    return pb.NormalizeRequest(payload=pb.Payload(body=body, content_type="application/json"))


def prepare(seed: int, count: int) -> list[Sample]:
    """A pool of distinct requests, about 80% good, 12% rejected, 8% malformed."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible, not secret
    pool = []
    for index in range(count):
        roll = rnd.random()
        if roll < 0.80:
            pool.append(Sample(_good(rnd, index).SerializeToString(), OK))
        elif roll < 0.92:
            request, reason = _rejected(rnd, index)
            pool.append(Sample(request.SerializeToString(), reason))
        else:
            # Big malformed ones are rarer: they are the slow part.
            request = _malformed(rnd, index)
            if request.ByteSize() > 200_000 and rnd.random() < 0.9:
                request = _malformed(rnd, index + 1)
            pool.append(Sample(request.SerializeToString(), "MALFORMED_PAYLOAD"))
    return pool


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _item(request_id: int, sample: Sample) -> bytes:
    """A NormalizeStreamRequest on the wire, around prepared request bytes."""
    return _field(1, str(request_id).encode()) + _field(2, sample.data)


def _reason(status: status_pb2.Status) -> str:
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return f"code {status.code} without ErrorInfo"


@dataclass
class Figures:
    requests: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def check(self, expect: str, got: str) -> None:
        self.answers[got] += 1
        if got != expect and len(self.wrong) < 20:
            self.wrong.append(f"expected {expect}, got {got}")


class Soak:
    """Drives the mix on one channel per worker until the shared budget is spent."""

    def __init__(self, pool: list[Sample], total: int, figures: Figures, seed: int) -> None:
        self.pool = pool
        self.total = total
        self.figures = figures
        self.rnd = random.Random(seed)  # noqa: S311 - reproducible, not secret
        self.next_id = 0

    def samples(self, count: int) -> list[tuple[int, Sample]]:
        chosen = []
        for _ in range(count):
            self.next_id += 1
            chosen.append((self.next_id, self.pool[self.next_id % len(self.pool)]))
        return chosen

    async def worker(self, address: str) -> None:
        options = [("grpc.max_receive_message_length", -1)]
        async with grpc.aio.insecure_channel(address, options=options) as channel:
            while self.figures.total < self.total:
                # By requests: about 85% stream items, 8% unary calls, 7% cancelled.
                roll = self.rnd.random()
                if roll < 0.08:
                    await self.stream(channel, self.rnd.choice([20, 100, 200]))
                elif roll < 0.93:
                    await self.unary(channel)
                else:
                    await self.cancelled(channel)

    async def stream(self, channel: grpc.aio.Channel, size: int) -> None:
        batch = self.samples(size)
        self.figures.requests["stream item"] += size
        call = channel.stream_stream(STREAM)(iter([_item(i, s) for i, s in batch]), timeout=120)
        try:
            answers = [answer async for answer in call]
        except grpc.aio.AioRpcError as error:
            self.figures.check(OK, f"stream ended {error.code().name}")
            return
        if len(answers) != size:
            self.figures.check(f"{size} answers", f"{len(answers)} answers")
        for (request_id, sample), answer in zip(batch, answers, strict=False):
            reply = pb.NormalizeStreamResponse.FromString(answer)
            if reply.request_id != str(request_id):
                self.figures.check(str(request_id), f"request_id {reply.request_id}")
            got = OK if reply.WhichOneof("result") == "response" else _reason(reply.error)
            self.figures.check(sample.expect, got)

    async def unary(self, channel: grpc.aio.Channel) -> None:
        ((_, sample),) = self.samples(1)
        method = CLASSIFY if self.rnd.random() < 0.3 else NORMALIZE
        expect = sample.expect
        if method == CLASSIFY and expect == "MISSING_MATCH_KEY":
            expect = OK  # Classify needs no identity
        self.figures.requests["unary call"] += 1
        try:
            await channel.unary_unary(method)(sample.data, timeout=60)
        except grpc.aio.AioRpcError as error:
            status = rpc_status.from_call(error)
            got = error.code().name if status is None else _reason(status)
            self.figures.check(expect, got)
        else:
            self.figures.check(expect, OK)

    async def cancelled(self, channel: grpc.aio.Channel) -> None:
        kind = self.rnd.randrange(3)
        if kind == 0:
            ((_, sample),) = self.samples(1)
            call = channel.unary_unary(NORMALIZE)(sample.data, timeout=60)
            for _ in range(self.rnd.randrange(4)):
                await asyncio.sleep(0)
            call.cancel()
            code = await call.code()
            self.figures.requests["cancelled unary call"] += 1
        elif kind == 1:
            batch = self.samples(self.rnd.choice([5, 50]))
            call = channel.stream_stream(STREAM)(timeout=60)
            for request_id, sample in batch:
                await call.write(_item(request_id, sample))
            for _ in range(self.rnd.randrange(len(batch) // 2)):
                await call.read()
            call.cancel()
            code = await call.code()
            self.figures.requests["item of a cancelled stream"] += len(batch)
        else:
            ((_, sample),) = self.samples(1)
            try:
                await channel.unary_unary(NORMALIZE)(sample.data, timeout=0.0005)
            except grpc.aio.AioRpcError as error:
                code = error.code()
            else:
                code = grpc.StatusCode.OK
            self.figures.requests["call past its deadline"] += 1
        if code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
            self.figures.answers[CANCELLED] += 1
        elif code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT):
            self.figures.answers[f"{code.name} (finished before the cancel)"] += 1
        else:
            self.figures.check(CANCELLED, code.name)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def soak(
    args: argparse.Namespace, pid: int, port: int, figures: Figures
) -> list[tuple[int, int]]:
    """Run the mix, sampling the server's RSS as it goes: (requests so far, KiB) pairs."""
    pool = prepare(args.seed, args.pool)
    samples: list[tuple[int, int]] = []
    done = asyncio.Event()

    async def sample() -> None:
        reported = 0
        while not done.is_set():
            samples.append((figures.total, rss_kib(pid)))
            if figures.total >= reported + args.requests // 10:
                reported = figures.total
                print(f"  {reported:>7} requests: RSS {samples[-1][1] / 1024:.1f} MiB", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), args.sample_every)

    sampler = asyncio.create_task(sample())
    driver = Soak(pool, args.requests, figures, args.seed)
    address = f"127.0.0.1:{port}"
    await asyncio.gather(*(driver.worker(address) for _ in range(args.channels)))
    done.set()
    await sampler
    # Idle: what the last calls held is freed; the end window includes this.
    await asyncio.sleep(1)
    for _ in range(4):
        samples.append((figures.total, rss_kib(pid)))
        await asyncio.sleep(args.sample_every)
    return samples


# grpc.aio logs this (at ERROR, with a traceback) when a call the client has
# just cancelled, or whose deadline has just passed, fails to send its answer:
# a race inside grpc, harmless, and expected with cancelled calls in the mix.
_CANCELLATION_RACE = "ExecuteBatchError raised in core by servicer method"


def _faults(log: str) -> tuple[list[str], int]:
    """Error lines in the server's log, and how many were grpc cancellation races."""
    faults: list[str] = []
    races = 0
    lines = log.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if _CANCELLATION_RACE in line:
            races += 1
            # Skip its traceback, up to and including the exception line.
            while index < len(lines) and not lines[index].startswith("grpc._cython"):
                index += 1
            if index < len(lines) and "ExecuteBatchError" in lines[index]:
                index += 1
                continue
            faults.append(line)
        elif re.search(r"\b(?:INTERNAL|UNKNOWN|ERROR|CRITICAL)\b|Traceback", line):
            faults.append(line)
    return faults, races


def _median_mib(samples: list[tuple[int, int]]) -> float:
    return statistics.median(rss for _, rss in samples) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--channels", type=int, default=4, help="concurrent channels")
    parser.add_argument("--warm-up", type=float, default=0.1, help="share of the run to warm up")
    parser.add_argument("--window", type=float, default=0.1, help="share of the run per RSS window")
    parser.add_argument("--sample-every", type=float, default=0.25, help="seconds between samples")
    parser.add_argument("--pool", type=int, default=5000, help="distinct prepared requests")
    parser.add_argument("--max-growth", type=float, default=10.0, help="percent, warm-up to end")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-log", type=Path, help="copy the server's log here")
    args = parser.parse_args(argv)

    figures = Figures()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        with server_process(log_path) as (process, port):
            before = rss_kib(process.pid) / 1024
            print(f"soak: server pid {process.pid}, RSS {before:.1f} MiB at start", flush=True)
            samples = asyncio.run(soak(args, process.pid, port, figures))
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(60)
        server_log = log_path.read_text(errors="replace")
    if args.keep_log is not None:
        args.keep_log.write_text(server_log)
    seconds = time.monotonic() - started

    # A leak is a trend, not a peak: the buffers of a few in-flight 1 MiB
    # requests move any single sample by several MiB, so the figure compares
    # the medians of two windows: right after the warm-up, and the end of the
    # run (idle samples included).
    warm_up = round(args.requests * args.warm_up)
    window = round(args.requests * args.window)
    warm_window = [s for s in samples if warm_up <= s[0] <= warm_up + window]
    end_window = [s for s in samples if s[0] >= figures.total - window]
    warm, end = _median_mib(warm_window), _median_mib(end_window)
    growth = (end - warm) / warm * 100
    after = [rss / 1024 for count, rss in samples if count >= warm_up]
    faults, races = _faults(server_log)
    print(f"soak: {figures.total} requests in {seconds:.0f}s over {args.channels} channels")
    print(f"  sent:    {dict(figures.requests)}")
    print(f"  answers: {dict(figures.answers)}")
    print(
        f"  RSS: {before:.1f} MiB at start; median {warm:.1f} MiB after the warm-up"
        f" ({len(warm_window)} samples, requests {warm_up}-{warm_up + window}),"
        f" median {end:.1f} MiB at the end ({len(end_window)} samples: last {window} requests"
        " and idle)"
    )
    print(
        f"  RSS after the warm-up: min {min(after):.1f}, max {max(after):.1f},"
        f" first {after[0]:.1f}, last {after[-1]:.1f} MiB ({len(after)} samples)"
    )
    print(f"  growth after warm-up: {growth:+.2f}% (limit {args.max_growth:.0f}%)")
    print(
        f"  server: exit status {exit_code} on SIGTERM, {len(faults)} error lines in its log"
        f" ({races} cancellation races logged by grpc, not counted)"
    )
    for line in faults[:10]:
        print(f"  server log: {line[:300]}")
    for what in figures.wrong:
        print(f"  wrong answer: {what}")
    clean = growth < args.max_growth and not figures.wrong and exit_code == 0 and not faults
    print("  result: " + ("clean" if clean else "FAILURES"))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
