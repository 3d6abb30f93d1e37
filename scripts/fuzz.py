"""Long fuzzing run through the pure core and a live server process (``make fuzz``).

Inputs come from a seeded generator: input ``i`` of seed ``s`` is always the
same, so a failure is reproduced with ``--seed s --replay i``. They mix random
bytes, query strings and JSON built from the names the service reads, damaged
JSON, invalid UTF-8, multipart bodies, ``json`` Structs (NaN and infinities
included), deep nesting, huge numbers, mutations of real postbacks and, for
the server only, arbitrary bytes where a protobuf message should be.

* Core (most inputs, in process): ``normalize`` and ``classify`` may raise
  nothing but ``Rejection``; every result must convert to a wire response
  within the send limit. Anything else is a crash.
* Server (``--server-share`` of the inputs): a real ``python -m service``
  process, fed mostly through ``NormalizeStream`` batches on several
  concurrent streams, plus unary ``Normalize``/``Classify`` and raw bytes.
  Every answer must be OK or INVALID_ARGUMENT with its ErrorInfo, every
  stream must answer each item in order and end OK. INTERNAL and UNKNOWN are
  counted separately. At the end: a health check, SIGTERM, exit status 0, and
  no traceback in the server's log.

Exits 0 only when every figure is clean. Crashing inputs are written to
``--crash-dir`` as serialized ``NormalizeRequest`` messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from service.config import DEFAULT_MAX_MESSAGE_BYTES, SERVICE_NAME
from service.convert import (
    classification_to_proto,
    context_from_proto,
    fit_response,
    payload_from_proto,
    result_to_proto,
)
from service.core import tables
from service.core.model import Rejection
from service.core.normalize import classify, normalize
from service.gen.conversions.v1 import conversion_service_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
PORT_LINE = re.compile(r"on port (\d+)")
RECEIVED = datetime(2024, 5, 1, tzinfo=UTC)
NORMALIZE = f"/{SERVICE_NAME}/Normalize"
CLASSIFY = f"/{SERVICE_NAME}/Classify"
STREAM = f"/{SERVICE_NAME}/NormalizeStream"
BOUNDARY = "fuzzb"
SEED_QUERY = (
    "click_id=f8e3bf8dfba8b51ce3340&conversion_type=purchase&value=120"
    "&currency=USD&transaction_id=24356562534585"
)

NAMES = sorted(
    {
        *(alias for aliases in tables.CORE_FIELDS.values() for alias in aliases),
        *(alias for aliases in tables.TRAITS.values() for alias in aliases),
        *(alias for aliases in tables.ITEM_FIELDS.values() for alias in aliases),
        "conversion_type",
        "Click-ID",
        "TRANSACTION-ID",
        "xat_",
        "xat_plan",
        "xat_a",
        "xat_b",
        "xat_c",
        "xat_d",
        "xat_e",
        "xat_f",
        "items[0][id]",
        "items[0][price]",
        "items[3][qty]",
        "line_items[1][title]",
        "products[0][product_price]",
        "nickname",
    }
)
VALUES = [
    "",
    " ",
    "120",
    "120.00",
    "$1,234.50",
    "1.234,56 EUR",
    "EUR 120",
    "(5.00)",
    "-0",
    "1e3",
    "1e400",
    "-1e-400",
    "NaN",
    "-Infinity",
    "9" * 80,
    "0." + "0" * 70 + "1",
    "USD",
    "eur",
    "XXX",
    "1700000000",
    "1700000000123",
    "2024-01-01T12:00:00+02:00",
    "2024-02-30",
    "1999-12-31 23:59:60",
    "{click_id}",
    "{{x}}",
    "${x}",
    "[x]",
    "%x%",
    "#x#",
    "purchase",
    "LEAD",
    "outbound_click",
    "a@b.co",
    "Jane.Doe@Example.ORG",
    "not-an-email@",
    "+1 (650) 555-0100",
    "0044 20 7946 0958",
    "12/31/1999",
    "31.12.1999",
    "19991231",
    "94025-1234",
    "California",
    "United States",
    "USA",
    "0" * 64,
    "a" * 64,
    "[]",
    "{}",
    '[{"id": 1, "price": "2.50", "qty": 2}]',
    '[{"sku": 1}]',
    "\x00",
    "\ufeff",
    "\u202e",
    "é",
    "日本",
    "\U0001f600",
]
NOISE = ["&", "=", "%", "%f", "%ff", "%zz", "%00", "%C3", "%E2%82", "+", "?", "[", "]", "\\", '"']
CONTENT_TYPES = [
    "",
    "application/json",
    "application/json; charset=utf-8",
    "application/ld+json",
    "application/x-www-form-urlencoded",
    f"multipart/form-data; boundary={BOUNDARY}",
    f'multipart/form-data; boundary="{BOUNDARY}"',
    "multipart/form-data",
    "multipart/form-data; boundary=" + "b" * 71,
    "text/plain",
    "APPLICATION/JSON",
]
INTERESTING_BYTES = [b"\x00", b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\\u", b"\\ud800"]


# --- the generator ---------------------------------------------------------------------


class Generator:
    """Input ``index`` of a seed, always the same request."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.corpus = _corpus()

    def request(self, index: int) -> pb.NormalizeRequest | bytes:
        """A NormalizeRequest, or raw bytes meant to be one (server inputs only)."""
        rnd = random.Random(self.seed * 1_000_003 + index)  # noqa: S311 - reproducible, not secret
        kind = rnd.choices(_KINDS, weights=_WEIGHTS)[0]
        request = kind(self, rnd)
        if not isinstance(request, bytes) and rnd.random() < 0.6:
            # Most real postbacks carry an identity: without one, nearly every
            # input would stop at MISSING_MATCH_KEY before the deeper rules.
            identity = rnd.choice(["click_id=fz", "ref=fz", "email=fz%40example.com", "clickid="])
            request.payload.query = identity + "&" + request.payload.query
        return request

    # Each kind builds one input.

    def query(self, rnd: random.Random) -> pb.NormalizeRequest:
        return pb.NormalizeRequest(payload=pb.Payload(query=_query(rnd)))

    def form(self, rnd: random.Random) -> pb.NormalizeRequest:
        body = _query(rnd).encode("utf-8", "surrogatepass")
        body = _sprinkle(rnd, body, INTERESTING_BYTES)
        return _body(body, rnd.choice(CONTENT_TYPES))

    def json_body(self, rnd: random.Random) -> pb.NormalizeRequest:
        body = json.dumps(_json_object(rnd, depth=0), ensure_ascii=rnd.random() < 0.5).encode(
            "utf-8", "surrogatepass"
        )
        if rnd.random() < 0.3:
            body = _mutate(rnd, body)
        return _body(body, rnd.choice(CONTENT_TYPES))

    def deep(self, rnd: random.Random) -> pb.NormalizeRequest:
        depth = rnd.choice([63, 64, 65, 100, 1000, rnd.randrange(1, 3000)])
        opener, closer = rnd.choice([(b"[", b"]"), (b'{"a":', b"}")])
        inner = rnd.choice([b"1", b'"click_id"', b"", b"NaN"])
        body = b'{"click_id": "x", "items": ' + opener * depth + inner + closer * depth + b"}"
        if rnd.random() < 0.3:
            body = body[: rnd.randrange(len(body))]
        return _body(body, rnd.choice(["application/json", ""]))

    def numbers(self, rnd: random.Random) -> pb.NormalizeRequest:
        def number() -> str:
            digits = "".join(
                rnd.choice("0123456789") for _ in range(rnd.choice([1, 20, 300, 5000]))
            )
            return rnd.choice(["", "-"]) + digits + rnd.choice(["", ".5", "e400", "E-400", "e+9"])

        fields = ["value", "commission", "timestamp", "transaction_id", "qty", "amount"]
        parts = [f'"{rnd.choice(fields)}": {number()}' for _ in range(rnd.randint(1, 4))]
        item = f'{{"id": "i", "price": {number()}, "quantity": {number()}}}'
        body = '{"click_id": "n", ' + ", ".join(parts) + f', "items": [{item}]}}'
        return _body(body.encode(), "application/json")

    def multipart(self, rnd: random.Random) -> pb.NormalizeRequest:
        parts = []
        for _ in range(rnd.randint(0, 6)):
            name = rnd.choice(NAMES).encode()
            headers = [b'Content-Disposition: form-data; name="' + name + b'"']
            if rnd.random() < 0.2:
                headers[0] += b'; filename="f.txt"'
            if rnd.random() < 0.2:
                headers.append(b"Content-Type: " + rnd.choice([b"text/plain", b"multipart/mixed"]))
            value = rnd.choice(VALUES).encode("utf-8", "surrogatepass")
            value = _sprinkle(rnd, value, INTERESTING_BYTES)
            eol = rnd.choice([b"\r\n", b"\n"])
            parts.append(eol.join(headers) + eol + eol + value + eol)
        delimiter = b"--" + BOUNDARY.encode()
        body = b"".join(delimiter + b"\r\n" + part for part in parts)
        body += delimiter + rnd.choice([b"--\r\n", b"--", b"", b"  \r\n"])
        if rnd.random() < 0.3:
            body = _mutate(rnd, body)
        return _body(body, rnd.choice(CONTENT_TYPES[4:9]))

    def struct(self, rnd: random.Random) -> pb.NormalizeRequest:
        request = pb.NormalizeRequest()
        request.payload.json.update(_struct_object(rnd, depth=0))
        if rnd.random() < 0.3:
            request.payload.query = _query(rnd)
        if rnd.random() < 0.3:
            request.context.default_currency = rnd.choice(["EUR", "eur", "", "XXX", "€€€"])
            request.context.account_id = rnd.choice(VALUES)
            request.context.received_time.seconds = rnd.choice(
                [0, 1_700_000_000, -62_135_596_800, 253_402_300_799, 2**40, -(2**40)]
            )
            request.context.received_time.nanos = rnd.choice([0, 999_999_999, 10**9, -1])
        return request

    def mutant(self, rnd: random.Random) -> pb.NormalizeRequest:
        seed = rnd.choice(self.corpus)
        body = _mutate(rnd, seed, rounds=rnd.randint(1, 8))
        if rnd.random() < 0.5:
            return _body(body, rnd.choice(CONTENT_TYPES))
        return pb.NormalizeRequest(
            payload=pb.Payload(query=body.decode("utf-8", "replace").replace("\ufffd", "%ff"))
        )

    def raw_bytes(self, rnd: random.Random) -> pb.NormalizeRequest:
        size = rnd.choice([0, 1, 10, 100, 1000, 10_000])
        return _body(rnd.randbytes(size), rnd.choice(CONTENT_TYPES))

    def big(self, rnd: random.Random) -> pb.NormalizeRequest:
        size = rnd.choice([300_000, 1024 * 1024 - 20, 1024 * 1024 + 1])
        name = rnd.choice(NAMES)
        filler = rnd.choice(["v", "%", "&", "a=", "%ff", "[", "1", " "])
        value = (filler * (size // len(filler)))[:size]
        return pb.NormalizeRequest(payload=pb.Payload(query=f"click_id=big&{name}={value}"))

    def wire(self, rnd: random.Random) -> pb.NormalizeRequest | bytes:
        # Bytes where a message should be: only the server can be given these.
        data = self.json_body(rnd).SerializeToString()
        return _mutate(rnd, data, rounds=rnd.randint(1, 4))


_KINDS: list[Callable[[Generator, random.Random], pb.NormalizeRequest | bytes]] = [
    Generator.query,
    Generator.form,
    Generator.json_body,
    Generator.deep,
    Generator.numbers,
    Generator.multipart,
    Generator.struct,
    Generator.mutant,
    Generator.raw_bytes,
    Generator.big,
    Generator.wire,
]
_WEIGHTS = [22, 10, 22, 3, 6, 8, 10, 12, 4, 0.05, 3]


def _body(body: bytes, content_type: str) -> pb.NormalizeRequest:
    return pb.NormalizeRequest(payload=pb.Payload(body=body, content_type=content_type))


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("&", "%26").replace("=", "%3D").replace("+", "%2B")


def _query(rnd: random.Random) -> str:
    pairs = []
    for _ in range(rnd.choice([0, 1, 3, 6, 12, 30])):
        name = rnd.choice(NAMES) if rnd.random() < 0.8 else _text(rnd, 8)
        value = rnd.choice(VALUES) if rnd.random() < 0.7 else _text(rnd, 30)
        pairs.append(
            f"{_escape(name)}={_escape(value)}" if rnd.random() < 0.8 else f"{name}={value}"
        )
    text = "&".join(pairs)
    for _ in range(rnd.choice([0, 0, 1, 3])):
        position = rnd.randrange(len(text) + 1)
        text = text[:position] + rnd.choice(NOISE) + text[position:]
    return ("?" if rnd.random() < 0.1 else "") + text


def _text(rnd: random.Random, longest: int) -> str:
    alphabet = "abcXYZ019 _-.@%&=+[]{}$#\"'\\é日\U0001f600\x00\t\n"
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, longest)))


def _json_value(rnd: random.Random, depth: int) -> Any:
    roll = rnd.random()
    if depth < 6 and roll < 0.12:
        return [_json_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    if depth < 6 and roll < 0.22:
        return _json_object(rnd, depth + 1)
    if roll < 0.35:
        return rnd.choice([None, True, False, 0, -1, 10**25, 1.5, -0.0, 1e300])
    return rnd.choice(VALUES) if rnd.random() < 0.7 else _text(rnd, 30)


def _json_object(rnd: random.Random, depth: int) -> dict[str, Any]:
    keys = [
        rnd.choice(NAMES) if rnd.random() < 0.8 else _text(rnd, 8)
        for _ in range(rnd.randint(0, 10))
    ]
    return {key: _json_value(rnd, depth) for key in keys}


def _struct_object(rnd: random.Random, depth: int) -> dict[str, Any]:
    def value(level: int) -> Any:
        roll = rnd.random()
        if level < 5 and roll < 0.1:
            return [value(level + 1) for _ in range(rnd.randint(0, 3))]
        if level < 5 and roll < 0.2:
            return _struct_object(rnd, level + 1)
        if roll < 0.4:
            return rnd.choice(
                [
                    math.nan,
                    math.inf,
                    -math.inf,
                    1e308,
                    5e-324,
                    -0.0,
                    120.0,
                    1.7e9,
                    1.7e12,
                    True,
                    None,
                ]
            )
        return rnd.choice(VALUES)

    return {rnd.choice(NAMES): value(depth) for _ in range(rnd.randint(0, 8))}


def _sprinkle(rnd: random.Random, data: bytes, tokens: list[bytes]) -> bytes:
    for _ in range(rnd.choice([0, 0, 1, 2])):
        position = rnd.randrange(len(data) + 1)
        data = data[:position] + rnd.choice(tokens) + data[position:]
    return data


def _mutate(rnd: random.Random, data: bytes, rounds: int = 1) -> bytes:
    buffer = bytearray(data)
    for _ in range(rounds):
        action = rnd.randrange(6)
        position = rnd.randrange(len(buffer) + 1)
        if action == 0 and buffer:
            buffer[min(position, len(buffer) - 1)] = rnd.randrange(256)
        elif action == 1:
            buffer[position:position] = rnd.choice(
                [*INTERESTING_BYTES, b'"', b"{", b"[", b"&", b"%"]
            )
        elif action == 2:
            del buffer[position : position + rnd.randint(1, 8)]
        elif action == 3 and buffer:
            start = rnd.randrange(len(buffer))
            buffer[position:position] = buffer[start : start + rnd.randint(1, 32)] * rnd.randint(
                1, 4
            )
        elif action == 4:
            del buffer[position:]
        else:
            buffer[position:position] = rnd.randbytes(rnd.randint(1, 4))
    return bytes(buffer)


def _corpus() -> list[bytes]:
    """Real postbacks to mutate: the seed example and the examples directory."""
    corpus = [
        SEED_QUERY.encode(),
        b'{"click_id": "x", "value": "$1,234.50", "currency": "eur", "items": [{"id": 1}]}',
        b"clickid=abc&amount=%241%2C234.50&cur=eur&email=A%40B.co&xat_plan=gold",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=click\r\n\r\nc\r\n".encode()
        + f"--{BOUNDARY}--".encode(),
    ]
    for path in sorted((ROOT / "examples").glob("*.json*")):
        corpus.append(path.read_bytes()[:20_000])
    return corpus


# --- the core --------------------------------------------------------------------------


@dataclass
class CoreFigures:
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    first_crashes: list[tuple[int, str]] = field(default_factory=list)


def core_once(request: pb.NormalizeRequest) -> str:
    """Normalize and classify one request in process: OK or the rejection reason."""
    # As the servicer does: a result over the send limit is a rejection too.
    try:
        payload = payload_from_proto(request.payload)
        result = normalize(
            payload,
            context_from_proto(request.context),
            default_currency="USD",
            received=RECEIVED,
        )
        fit_response(result_to_proto(result), DEFAULT_MAX_MESSAGE_BYTES).SerializeToString()
    except Rejection as rejection:
        return rejection.reason.value
    try:
        classified = classify(payload)
        answer = fit_response(classification_to_proto(classified), DEFAULT_MAX_MESSAGE_BYTES)
        answer.SerializeToString()
    except Rejection:
        pass
    return "OK"


def run_core(generator: Generator, indexes: range, crash_dir: Path, figures: CoreFigures) -> None:
    for index in indexes:
        request = generator.request(index)
        if isinstance(request, bytes):
            # Bytes meant as a message: the core gets them as a body instead.
            request = _body(request, CONTENT_TYPES[index % len(CONTENT_TYPES)])
        figures.inputs += 1
        try:
            figures.outcomes[core_once(request)] += 1
        except Exception as error:  # every escape is a finding to report
            figures.crashes[type(error).__name__] += 1
            if len(figures.first_crashes) < 20:
                figures.first_crashes.append((index, f"{type(error).__name__}: {error}"[:300]))
            crash_dir.mkdir(parents=True, exist_ok=True)
            (crash_dir / f"core-{generator.seed}-{index}.bin").write_bytes(
                request.SerializeToString()
            )


# --- the server --------------------------------------------------------------------------


@dataclass
class ServerFigures:
    inputs: int = 0
    streamed: int = 0
    unary: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        if len(self.failures) < 20:
            self.failures.append(what)

    @property
    def internal(self) -> int:
        return self.codes["INTERNAL"]

    @property
    def unknown(self) -> int:
        return self.codes["UNKNOWN"]

    @property
    def unexpected(self) -> int:
        expected = {
            "OK",
            "INVALID_ARGUMENT",
            "INTERNAL",
            "UNKNOWN",
            "RESOURCE_EXHAUSTED (over the receive limit)",
        }
        return sum(n for code, n in self.codes.items() if code not in expected)


def _has_error_info(status: status_pb2.Status) -> bool:
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    return len(infos) == 1


@contextmanager
def server_process(log_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    command = [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", "0"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while (match := PORT_LINE.search(log_path.read_text(errors="replace"))) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + log_path.read_text())
            time.sleep(0.05)
        yield process, int(match.group(1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _wire(request: pb.NormalizeRequest | bytes) -> bytes:
    return request if isinstance(request, bytes) else request.SerializeToString()


async def _stream_batch(
    channel: grpc.aio.Channel, batch: list[tuple[int, bytes]], figures: ServerFigures
) -> None:
    items = [
        pb.NormalizeStreamRequest(request_id=str(index)).SerializeToString()
        + b"\x12"
        + _varint(len(data))
        + data
        for index, data in batch
    ]
    call = channel.stream_stream(STREAM)(iter(items), timeout=120)
    answers = []
    try:
        async for answer in call:
            answers.append(answer)
    except grpc.aio.AioRpcError as error:
        figures.codes[f"stream:{error.code().name}"] += len(batch)
        figures.fail(f"stream of inputs {batch[0][0]}..{batch[-1][0]} ended {error.code().name}")
        return
    if len(answers) != len(batch):
        figures.fail(f"stream of inputs {batch[0][0]}.. answered {len(answers)} of {len(batch)}")
    for (index, _), answer in zip(batch, answers, strict=False):
        reply = pb.NormalizeStreamResponse.FromString(answer)
        figures.streamed += 1
        if reply.WhichOneof("result") == "response":
            figures.codes["OK"] += 1
            if reply.request_id != str(index):
                figures.fail(f"input {index}: answered as {reply.request_id!r}")
            continue
        code = grpc.StatusCode.OK
        for candidate in grpc.StatusCode:
            if candidate.value[0] == reply.error.code:
                code = candidate
        figures.codes[code.name] += 1
        if code != grpc.StatusCode.INVALID_ARGUMENT or not _has_error_info(reply.error):
            figures.fail(f"input {index}: stream item answered {code.name}")


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


async def _unary(
    channel: grpc.aio.Channel, index: int, data: bytes, figures: ServerFigures
) -> None:
    # gRPC itself refuses a message over the receive limit, before the service.
    too_big = len(data) > DEFAULT_MAX_MESSAGE_BYTES
    for method in (NORMALIZE, CLASSIFY):
        figures.unary += 1
        try:
            await channel.unary_unary(method)(data, timeout=60)
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if too_big and code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                figures.codes["RESOURCE_EXHAUSTED (over the receive limit)"] += 1
                continue
            figures.codes[code.name] += 1
            status = rpc_status.from_call(error)
            if (
                code != grpc.StatusCode.INVALID_ARGUMENT
                or status is None
                or not _has_error_info(status)
            ):
                figures.fail(f"input {index}: {method.rsplit('/', 1)[1]} answered {code.name}")
        else:
            figures.codes["OK"] += 1


async def run_server(
    generator: Generator,
    indexes: range,
    port: int,
    figures: ServerFigures,
    *,
    streams: int,
    batch_size: int,
    unary_share: float,
) -> str:
    queue: asyncio.Queue[list[tuple[int, bytes]] | None] = asyncio.Queue(maxsize=streams * 2)
    pick = random.Random(generator.seed)  # noqa: S311 - reproducible, not secret
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", -1)]
    ) as channel:

        async def worker() -> None:
            while (batch := await queue.get()) is not None:
                await _stream_batch(channel, batch, figures)

        workers = [asyncio.create_task(worker()) for _ in range(streams)]
        batch: list[tuple[int, bytes]] = []
        for index in indexes:
            data = _wire(generator.request(index))
            figures.inputs += 1
            if len(data) > DEFAULT_MAX_MESSAGE_BYTES - 1024:
                await _unary(channel, index, data, figures)  # gRPC refuses it: not in a stream
            elif pick.random() < unary_share:
                await _unary(channel, index, data, figures)
            else:
                batch.append((index, data))
                if len(batch) == batch_size:
                    await queue.put(batch)
                    batch = []
        if batch:
            await queue.put(batch)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=10)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


# --- the run ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=200_000, help="inputs in total")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server-share", type=float, default=0.3, help="share sent to the server")
    parser.add_argument("--streams", type=int, default=4, help="concurrent NormalizeStream calls")
    parser.add_argument("--batch", type=int, default=250, help="inputs per NormalizeStream call")
    parser.add_argument("--unary-share", type=float, default=0.03, help="server inputs sent unary")
    parser.add_argument("--crash-dir", type=Path, default=ROOT / "build" / "fuzz-crashes")
    parser.add_argument("--replay", type=int, help="run only this input through the core, loudly")
    args = parser.parse_args(argv)
    generator = Generator(args.seed)

    if args.replay is not None:
        request = generator.request(args.replay)
        print(str(request)[:4000] if not isinstance(request, bytes) else request.hex()[:4000])
        if not isinstance(request, bytes):
            print(core_once(request))
        return 0

    server_runs = round(args.runs * args.server_share)
    server_indexes = range(0, server_runs)
    core_indexes = range(server_runs, args.runs)
    started = time.monotonic()

    server = ServerFigures()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        with server_process(log_path) as (process, port):
            health = asyncio.run(
                run_server(
                    generator,
                    server_indexes,
                    port,
                    server,
                    streams=args.streams,
                    batch_size=args.batch,
                    unary_share=args.unary_share,
                )
            )
            alive = process.poll() is None
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(60)
        server_log = log_path.read_text(errors="replace")
    server_seconds = time.monotonic() - started
    tracebacks = server_log.count("Traceback")
    errors = len(re.findall(r"\bERROR\b", server_log))

    core = CoreFigures()
    core_started = time.monotonic()
    run_core(generator, core_indexes, args.crash_dir, core)
    core_seconds = time.monotonic() - core_started

    crashes = sum(core.crashes.values())
    print(f"fuzz: seed {args.seed}, {core.inputs + server.inputs} inputs")
    print(
        f"  core:   {core.inputs} inputs in {core_seconds:.0f}s, crashes {crashes}"
        f" {dict(core.crashes) or ''}; answers {dict(core.outcomes)}"
    )
    print(
        f"  server: {server.inputs} inputs in {server_seconds:.0f}s ({server.streamed} stream"
        f" items, {server.unary} unary calls), answers {dict(server.codes)}"
    )
    print(
        f"  server: INTERNAL {server.internal}, UNKNOWN {server.unknown},"
        f" other unexpected {server.unexpected}, broken answers {len(server.failures)}"
    )
    print(
        f"  server: alive after the run {alive}, health {health}, exit status {exit_code}"
        f" on SIGTERM, {tracebacks} tracebacks and {errors} ERROR lines in its log"
    )
    for index, what in core.first_crashes:
        print(f"  crash at input {index}: {what}  (replay: --seed {args.seed} --replay {index})")
    for what in server.failures:
        print(f"  server: {what}")
    clean = (
        crashes == 0
        and server.internal == 0
        and server.unknown == 0
        and server.unexpected == 0
        and not server.failures
        and alive
        and health == "SERVING"
        and exit_code == 0
        and tracebacks == 0
        and errors == 0
    )
    print("  result: " + ("clean" if clean else "FAILURES"))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
