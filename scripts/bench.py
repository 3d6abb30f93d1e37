"""Side-by-side benchmark: the service against an empty grpc.aio server (``make bench``).

One run starts both servers on loopback and drives each with ``h2load`` using
identical settings, with the seed's example as a JSON body (traits and items)
and as a query string:

* unary ``Normalize``: QPS and p50/p99 latency, service / baseline ratio;
* the service with 1 and with 2 worker processes (``--workers``);
* ``Normalize`` against ``NormalizeStream`` (many requests per stream) on one
  connection, conversions per second;
* the pure core per payload against ``json.loads`` of the same bytes (timeit,
  in process).

h2load only sees HTTP statuses, and a gRPC error is an HTTP 200 with a
``grpc-status`` trailer, so every run is verified three ways: a real client
checks sampled calls before and after the load (status OK, the expected
response); the response bytes h2load counted must equal the number of requests
times the size of that expected response (an error response carries no
message, so a single failed call would show); and the service's own metrics
(``--metrics-port``, on as deployed) must count exactly that many conversions,
no rejection and no call that ended other than OK.

``--smoke`` runs everything with tiny counts (for the test suite); without
h2load it still starts the servers, checks calls and times the core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
from google.protobuf import json_format

from service.convert import context_from_proto, payload_from_proto, result_to_proto
from service.core.normalize import normalize
from service.gen.conversions.v1 import conversion_service_pb2 as pb
from service.gen.conversions.v1 import conversion_service_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "payload.json"
# The postback URL of the seed's example, as the edge gateway forwards it.
SEED_QUERY = (
    "click_id=f8e3bf8dfba8b51ce3340&conversion_type=purchase&value=120"
    "&currency=USD&transaction_id=24356562534585"
)
SERVICE_PATH = "/conversions.v1.ConversionService/"
GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")
# One line per listening process (each worker of the service logs one).
PORT_LINE = re.compile(r"serving (?:\S+ )?on port (\d+)")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
# Targets: service / baseline QPS per form, stream / unary, core / json.loads.
TARGETS = {"json": 0.75, "query": 0.85}
STREAM_TARGET = 4.0
CORE_TARGET = 8.0
BASELINE = "baseline"
# A server of the benchmark: the baseline, or the service with this many workers.
ServerKey = str | int
ONE_CONNECTION = ("baseline unary", "baseline stream", "service unary", "service stream")


@dataclass(frozen=True)
class Form:
    """One way the seed's example travels: a request and a label for the table."""

    key: str
    label: str
    request: pb.NormalizeRequest


@dataclass(frozen=True)
class Settings:
    """Load shape shared by every h2load run of the benchmark."""

    requests: int
    warmup: int
    connections: int
    streams: int
    stream_messages: int
    stream_requests: int
    samples: int
    timeout: float
    # Measured rounds; servers take turns within each, and the median counts.
    rounds: int
    # Worker counts the service is measured with (the first one is compared
    # with the baseline and on one connection).
    workers: tuple[int, ...]
    smoke: bool


@dataclass(frozen=True)
class Run:
    """The outcome of one verified h2load run."""

    qps: float
    p50_ms: float
    p99_ms: float


# --- requests -----------------------------------------------------------------


def seed_forms() -> list[Form]:
    """The seed's example as a JSON body and as a query string, with its context."""
    example = json.loads(EXAMPLE.read_text())
    context = pb.Context()
    json_format.ParseDict(example["context"], context)
    body = json.dumps(example["payload"]["json"], separators=(",", ":")).encode()
    as_json = pb.NormalizeRequest(
        payload=pb.Payload(body=body, content_type="application/json"), context=context
    )
    as_query = pb.NormalizeRequest(payload=pb.Payload(query=SEED_QUERY), context=context)
    return [
        Form("json", "JSON body (traits, items)", as_json),
        Form("query", "query string", as_query),
    ]


def frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message: not compressed, 4-byte big-endian length."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def stream_items(request: pb.NormalizeRequest, count: int) -> list[pb.NormalizeStreamRequest]:
    """``count`` stream requests carrying the same payload."""
    return [pb.NormalizeStreamRequest(request_id=str(i), request=request) for i in range(count)]


# --- servers ------------------------------------------------------------------


@dataclass
class Server:
    """A server process started by the benchmark."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    # The service's Prometheus endpoints, one per worker (none for the baseline).
    metrics_ports: tuple[int, ...] = ()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextmanager
def start_server(
    name: str,
    command: Sequence[str],
    log_path: Path,
    processes: int = 1,
    metrics_ports: tuple[int, ...] = (),
) -> Iterator[Server]:
    """Start a server, wait until its ``processes`` listen, stop it with SIGTERM afterwards."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        port = None
        while port is None:
            ports = PORT_LINE.findall(log_path.read_text(errors="replace"))
            if len(ports) >= processes:
                port = int(ports[0])
            elif process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log_path.read_text()}")
            else:
                time.sleep(0.05)
        yield Server(name, process, port, log_path, metrics_ports)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(f"{name} did not stop on SIGTERM") from None
        if code != 0:
            raise RuntimeError(f"{name} exited with {code}:\n{log_path.read_text()}")


def service_command(workers: int, metrics_port: int) -> list[str]:
    """The service on a free loopback port, defaults otherwise, metrics on as deployed."""
    command = [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", "0"]
    command += ["--metrics-port", str(metrics_port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    return command


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (worker i uses first + i)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + count > 65535:
            continue
        try:
            with contextlib.ExitStack() as held:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError(f"no {count} consecutive free ports")


# --- server-side counts -----------------------------------------------------------

_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$", re.MULTILINE)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Counts:
    """What the service's metrics say it did, summed over its workers."""

    normalized: float
    rejected: float
    not_ok: float


def server_counts(server: Server) -> Counts | None:
    """The service's own counters (None for the baseline, which has no metrics)."""
    if not server.metrics_ports:
        return None
    normalized = rejected = not_ok = 0.0
    for port in server.metrics_ports:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
        for name, labels, value in _SAMPLE.findall(text):
            if name == "conversions_normalized_total":
                normalized += float(value)
            elif name == "conversions_rejected_total":
                rejected += float(value)
            elif (
                name == "grpc_server_handled_total"
                and dict(_LABEL.findall(labels)).get("grpc_code") != "OK"
            ):
                not_ok += float(value)
    return Counts(normalized, rejected, not_ok)


def check_counts(server: Server, before: Counts | None, conversions: int) -> None:
    """Every call since ``before`` ended OK and normalized exactly ``conversions`` payloads."""
    after = server_counts(server)
    if before is None or after is None:
        return
    done = after.normalized - before.normalized
    if after.not_ok != before.not_ok or after.rejected != before.rejected or done != conversions:
        raise RuntimeError(
            f"{server.name} counted {done:.0f} of {conversions} conversions, "
            f"{after.rejected - before.rejected:.0f} rejections and "
            f"{after.not_ok - before.not_ok:.0f} calls that did not end OK"
        )


def baseline_command() -> list[str]:
    """The empty grpc.aio server of scripts/baseline_server.py."""
    return [sys.executable, str(ROOT / "scripts" / "baseline_server.py"), "--port", "0"]


# --- verification with a real client -------------------------------------------


def _channels(address: str, count: int) -> list[grpc.aio.Channel]:
    # A local subchannel pool gives every channel its own connection, so with
    # several workers the samples reach more than one process.
    return [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(count)
    ]


async def _sample_unary(address: str, request: pb.NormalizeRequest, count: int) -> bytes:
    """Call Normalize ``count`` times over 4 connections; all answers must be equal."""
    channels = _channels(address, 4)
    try:
        stubs = [pb_grpc.ConversionServiceStub(channel) for channel in channels]
        replies = await asyncio.gather(
            *(stubs[i % len(stubs)].Normalize(request, timeout=30) for i in range(count))
        )
    finally:
        for channel in channels:
            await channel.close()
    encoded: set[bytes] = {reply.SerializeToString(deterministic=True) for reply in replies}
    if len(encoded) != 1:
        raise RuntimeError("sampled Normalize calls answered differently")
    return encoded.pop()


async def _sample_stream(
    address: str, items: list[pb.NormalizeStreamRequest], expect_response: bool
) -> int:
    """One NormalizeStream call; every item must come back in order, without error.

    Returns the bytes of the framed responses, as h2load counts them.
    """
    async with grpc.aio.insecure_channel(address) as channel:
        call = pb_grpc.ConversionServiceStub(channel).NormalizeStream(iter(items), timeout=60)
        replies = [reply async for reply in call]
        if await call.code() != grpc.StatusCode.OK:
            raise RuntimeError(f"NormalizeStream ended with {await call.code()}")
    if len(replies) != len(items):
        raise RuntimeError(f"NormalizeStream answered {len(replies)} of {len(items)} items")
    for item, reply in zip(items, replies, strict=True):
        if reply.WhichOneof("result") == "error":
            raise RuntimeError(f"NormalizeStream item {item.request_id}: {reply.error.message}")
        if expect_response and reply.request_id != item.request_id:
            raise RuntimeError("NormalizeStream answered out of order")
    return sum(len(frame(reply.SerializeToString())) for reply in replies)


def sample_unary(server: Server, form: Form, count: int, check: Callable[[bytes], None]) -> int:
    """Sampled Normalize calls; returns the framed size of the (single) answer."""
    try:
        answer = asyncio.run(_sample_unary(server.address, form.request, count))
    except grpc.aio.AioRpcError as error:
        raise RuntimeError(
            f"{server.name}: Normalize failed: {error.code()} {error.details()}"
        ) from None
    check(answer)
    return len(frame(answer))


def check_conversion(answer: bytes) -> None:
    """The service's answer to the seed example is the seed's conversion."""
    conversion = pb.NormalizeResponse.FromString(answer).conversion
    if conversion.click_id != "f8e3bf8dfba8b51ce3340" or conversion.value != "120":
        raise RuntimeError(f"unexpected conversion: {conversion}")


def check_empty(answer: bytes) -> None:
    """The baseline answers with an empty message."""
    if answer:
        raise RuntimeError("the baseline answered with a non-empty message")


# --- h2load -------------------------------------------------------------------


def find_h2load(smoke: bool) -> str | None:
    """The h2load binary; installed with apt-get when missing and running as root."""
    found = shutil.which("h2load")
    if found or smoke:
        return found
    apt = shutil.which("apt-get")
    if apt is not None and os.geteuid() == 0:
        print("h2load not found: installing nghttp2-client with apt-get", flush=True)
        for command in ([apt, "update"], [apt, "install", "-y", "nghttp2-client"]):
            subprocess.run(command, check=False, timeout=600, stdout=subprocess.DEVNULL)
        return shutil.which("h2load")
    return None


H2LOAD_HELP = (
    "h2load is not installed. Install it (Debian/Ubuntu: `sudo apt-get install "
    "nghttp2-client`; macOS: `brew install nghttp2`) and run `make bench` again."
)
_FINISHED = re.compile(r"finished in ([\d.]+)(s|ms|us), ([\d.]+) req/s")
_REQUESTS = re.compile(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded")
_DATA = re.compile(r"traffic: .*\((\d+)\) data")


def h2load(
    binary: str,
    server: Server,
    method: str,
    body: Path,
    *,
    requests: int,
    connections: int,
    streams: int,
    response_bytes: int,
    timeout: float,
    log_path: Path | None = None,
) -> tuple[float, list[int]]:
    """One h2load run; returns (requests/s, latencies in µs) after checking every response.

    ``response_bytes`` is the exact size of one successful response body
    (framed messages); h2load's data count must be ``requests`` times it.
    """
    command = [
        binary,
        f"--requests={requests}",
        f"--clients={connections}",
        f"--max-concurrent-streams={streams}",
        f"--data={body}",
        *(f"--header={header}" for header in GRPC_HEADERS),
    ]
    if log_path is not None:
        command.append(f"--log-file={log_path}")
    command.append(f"http://{server.address}{SERVICE_PATH}{method}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    output = done.stdout
    finished, counts, data = (
        _FINISHED.search(output),
        _REQUESTS.search(output),
        _DATA.search(output),
    )
    if done.returncode != 0 or finished is None or counts is None or data is None:
        raise RuntimeError(f"h2load failed against {server.name}:\n{output}\n{done.stderr}")
    total, completed, succeeded = (int(counts.group(i)) for i in (1, 2, 3))
    if not total == completed == succeeded == requests:
        raise RuntimeError(f"{server.name}: {succeeded} of {requests} requests succeeded")
    if int(data.group(1)) != requests * response_bytes:
        raise RuntimeError(
            f"{server.name} {method}: {data.group(1)} response bytes, expected "
            f"{requests} x {response_bytes}: some calls did not return the expected message"
        )
    latencies: list[int] = []
    if log_path is not None:
        for line in log_path.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) == 3:
                latencies.append(int(fields[2]))
    return float(finished.group(3)), latencies


def percentile(values: list[int], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (µs) in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index] / 1000


@dataclass
class Bench:
    """Everything one benchmark run needs: settings, files and the h2load binary."""

    settings: Settings
    h2load: str | None
    workdir: Path
    forms: list[Form]

    def body(self, name: str, messages: Sequence[bytes]) -> Path:
        path = self.workdir / f"{name}.bin"
        path.write_bytes(b"".join(frame(message) for message in messages))
        return path

    def load(
        self,
        server: Server,
        method: str,
        body: Path,
        *,
        requests: int,
        connections: int,
        streams: int,
        response_bytes: int,
        conversions: int,
        latencies: bool = False,
    ) -> tuple[float, list[int]]:
        """One h2load run against ``server``, verified by bytes and by the server's counts."""
        assert self.h2load is not None
        log_path = self.workdir / "latency.log"
        # h2load appends to its log file: each run starts a fresh one.
        log_path.unlink(missing_ok=True)
        before = server_counts(server)
        result = h2load(
            self.h2load,
            server,
            method,
            body,
            requests=requests,
            connections=connections,
            streams=streams,
            response_bytes=response_bytes,
            timeout=self.settings.timeout,
            log_path=log_path if latencies else None,
        )
        check_counts(server, before, conversions)
        return result

    def unary(
        self, server: Server, form: Form, response_bytes: int, *, one: bool = False, warm: bool
    ) -> Run:
        """A measured unary Normalize run with the shared load shape (after a warm-up).

        ``one``: a single connection carrying all the concurrent streams.
        """
        s = self.settings
        body = self.body(form.key, [form.request.SerializeToString()])
        connections, streams = (1, s.connections * s.streams) if one else (s.connections, s.streams)
        for requests, measured in ((s.warmup if warm else 0, False), (s.requests, True)):
            if not requests:
                continue
            qps, latencies = self.load(
                server,
                "Normalize",
                body,
                requests=requests,
                connections=connections,
                streams=streams,
                response_bytes=response_bytes,
                conversions=requests,
                latencies=measured,
            )
        return Run(qps, percentile(latencies, 0.50), percentile(latencies, 0.99))

    def stream(self, server: Server, form: Form, response_bytes: int, *, warm: bool) -> float:
        """NormalizeStream on one connection: conversions per second (after a warm-up)."""
        s = self.settings
        items = stream_items(form.request, s.stream_messages)
        body = self.body(f"{form.key}-stream", [item.SerializeToString() for item in items])
        warmup = max(1, s.warmup // s.stream_messages) if s.warmup and warm else 0
        for requests in (warmup, s.stream_requests):
            if not requests:
                continue
            qps, _ = self.load(
                server,
                "NormalizeStream",
                body,
                requests=requests,
                connections=1,
                streams=s.streams,
                response_bytes=response_bytes,
                conversions=requests * s.stream_messages,
            )
        return qps * s.stream_messages


# --- the pure core --------------------------------------------------------------


@dataclass(frozen=True)
class CoreTiming:
    """Microseconds per payload, in process."""

    reference: float
    core: float
    wire: float


def _per_call(function: Callable[[], object], smoke: bool) -> float:
    """Best-of-5 microseconds per call."""
    if smoke:
        return min(timeit.repeat(function, number=20, repeat=2)) / 20 * 1e6
    number, _ = timeit.Timer(function).autorange()
    number = max(number, 1) * 2
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def time_core(form: Form, smoke: bool) -> CoreTiming:
    """The core against the cheapest way to read the same bytes.

    JSON: ``json.loads``; query string: ``urllib.parse.parse_qsl``. ``wire``
    is the translation around the core: request parts to core types and the
    result to a NormalizeResponse.
    """
    request = form.request
    payload = payload_from_proto(request.payload)
    context = context_from_proto(request.context)
    received = datetime.now(UTC)

    def core() -> object:
        return normalize(payload, context, default_currency="USD", received=received)

    result = normalize(payload, context, default_currency="USD", received=received)

    def wire() -> object:
        payload_from_proto(request.payload)
        context_from_proto(request.context)
        return result_to_proto(result)

    if form.key == "json":
        body = request.payload.body
        reference = _per_call(lambda: json.loads(body), smoke)
    else:
        query = request.payload.query
        reference = _per_call(lambda: urllib.parse.parse_qsl(query), smoke)
    return CoreTiming(reference, _per_call(core, smoke), _per_call(wire, smoke))


# --- the report -----------------------------------------------------------------


def machine() -> str:
    """Cores, CPU model and Python version."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def table(header: list[str], rows: list[list[str]]) -> None:
    """Print a Markdown table; the first column is text, the others numbers."""
    print()
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _workers(count: int) -> str:
    return "1 worker" if count == 1 else f"{count} workers"


def _verdict(value: float, target: float) -> str:
    return "met" if value >= target else "missed"


def _qps(run: Run | None) -> str:
    return "n/a" if run is None else f"{run.qps:,.0f}"


def _latency(run: Run | None) -> str:
    return "n/a" if run is None else f"{run.p50_ms:.2f} / {run.p99_ms:.2f}"


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def main(argv: Sequence[str]) -> int:
    """Run the whole benchmark and print the tables; non-zero if a check failed."""
    parser = argparse.ArgumentParser(description="Side-by-side benchmark (make bench).")
    parser.add_argument("--smoke", action="store_true", help="tiny counts, for the test suite")
    parser.add_argument("--requests", type=int, default=20_000, help="requests per h2load run")
    parser.add_argument("--connections", type=int, default=16, help="h2load connections")
    parser.add_argument("--streams", type=int, default=4, help="concurrent streams per connection")
    parser.add_argument(
        "--stream-messages", type=int, default=100, help="requests per NormalizeStream call"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="measured rounds; the median counts (default 3)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="worker counts to measure the service with (default: 1 2)",
    )
    args = parser.parse_args(argv)
    workers = tuple(args.workers)
    if args.smoke:
        settings = Settings(
            requests=200,
            warmup=0,
            connections=2,
            streams=2,
            stream_messages=10,
            stream_requests=4,
            samples=8,
            timeout=120,
            rounds=1,
            workers=workers,
            smoke=True,
        )
    else:
        settings = Settings(
            requests=args.requests,
            warmup=max(1, args.requests // 10),
            connections=args.connections,
            streams=args.streams,
            stream_messages=args.stream_messages,
            stream_requests=max(1, args.requests // args.stream_messages),
            samples=64,
            timeout=600,
            rounds=args.rounds,
            workers=workers,
            smoke=False,
        )
    binary = find_h2load(args.smoke)
    if binary is None and not args.smoke:
        print(H2LOAD_HELP, file=sys.stderr)
        return 2
    version = "h2load not installed: load rows are n/a" if binary is None else ""
    if binary is not None:
        probe = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        version = probe.stdout.strip()

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bench = Bench(settings, binary, Path(tmp), seed_forms())
        return report(bench, version)


def _median(runs: list[Run]) -> Run | None:
    """The run with the median QPS (the machine may be shared: rounds interleave)."""
    if not runs:
        return None
    return sorted(runs, key=lambda run: run.qps)[len(runs) // 2]


def report(bench: Bench, version: str) -> int:
    """Start every server, measure in interleaved rounds, then print the tables."""
    s = bench.settings
    json_form = next(form for form in bench.forms if form.key == "json")
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        servers: dict[ServerKey, Server] = {
            BASELINE: stack.enter_context(
                start_server("baseline", baseline_command(), bench.workdir / "baseline.log")
            )
        }
        for workers in s.workers:
            name = f"service, {_workers(workers)}"
            metrics = free_ports(workers)
            servers[workers] = stack.enter_context(
                start_server(
                    name,
                    service_command(workers, metrics),
                    bench.workdir / f"{workers}.log",
                    workers,
                    tuple(range(metrics, metrics + workers)),
                )
            )
        first = servers[s.workers[0]]

        # Sampled calls with a real client: status OK, and the exact answer
        # whose size every h2load response must have.
        sizes: dict[tuple[ServerKey, str], int] = {}
        for form in bench.forms:
            for key, server in servers.items():
                check = check_empty if key == BASELINE else check_conversion
                sizes[(key, form.key)] = sample_unary(server, form, s.samples, check)
        items = stream_items(json_form.request, s.stream_messages)
        stream_sizes = {
            BASELINE: asyncio.run(_sample_stream(servers[BASELINE].address, items, False)),
            s.workers[0]: asyncio.run(_sample_stream(first.address, items, True)),
        }

        unary: dict[tuple[ServerKey, str], list[Run]] = {key: [] for key in sizes}
        one: dict[str, list[float]] = {name: [] for name in ONE_CONNECTION}
        for round_index in range(s.rounds if bench.h2load else 0):
            warm = round_index == 0
            for form in bench.forms:
                for key, server in servers.items():
                    size = sizes[(key, form.key)]
                    unary[(key, form.key)].append(bench.unary(server, form, size, warm=warm))
            for key in (BASELINE, s.workers[0]):
                server = servers[key]
                size = sizes[(key, "json")]
                prefix = "baseline" if key == BASELINE else "service"
                run = bench.unary(server, json_form, size, one=True, warm=warm)
                one[f"{prefix} unary"].append(run.qps)
                one[f"{prefix} stream"].append(
                    bench.stream(server, json_form, stream_sizes[key], warm=warm)
                )

        # The same answers after the load as before it.
        for form in bench.forms:
            for key, server in servers.items():
                check = check_empty if key == BASELINE else check_conversion
                if sample_unary(server, form, s.samples, check) != sizes[(key, form.key)]:
                    raise RuntimeError(f"{server.name} answered differently after the load")

    medians = {key: _median(runs) for key, runs in unary.items()}
    one_connection = {
        name: statistics.median(rates) if rates else None for name, rates in one.items()
    }
    base = {form.key: medians[(BASELINE, form.key)] for form in bench.forms}
    service = {(form.key, w): medians[(w, form.key)] for form in bench.forms for w in s.workers}
    timings = {form.key: time_core(form, s.smoke) for form in bench.forms}
    elapsed = time.monotonic() - started
    first_count = s.workers[0]

    print()
    print(f"Machine: {machine()}; {version}.")
    if bench.h2load is None:
        print(H2LOAD_HELP)
        print("Sampled calls with a real client were all OK.")
    else:
        print(
            f"Load: {s.requests:,} requests per run after {s.warmup:,} warm-up requests, "
            f"{s.connections} connections × {s.streams} concurrent streams, median of "
            f"{s.rounds} interleaved rounds; every response verified (sampled client calls, "
            "exact response byte count, the service's own metrics)."
        )
    rows = []
    for form in bench.forms:
        b, v = base[form.key], service[(form.key, first_count)]
        ratio = _ratio(v.qps if v else None, b.qps if b else None)
        target = TARGETS[form.key]
        verdict = "" if ratio is None else f" {_verdict(ratio, target)}"
        rows.append(
            [
                form.label,
                _qps(b),
                _qps(v),
                _times(ratio),
                f"≥ {target}×{verdict}",
                _latency(b),
                _latency(v),
            ]
        )
    table(
        [
            f"Normalize, unary ({_workers(first_count)})",
            "baseline QPS",
            "service QPS",
            "service / baseline",
            "target",
            "baseline p50 / p99 ms",
            "service p50 / p99 ms",
        ],
        rows,
    )
    if len(s.workers) > 1:
        rows = []
        for form in bench.forms:
            runs = [service[(form.key, workers)] for workers in s.workers]
            reference = runs[0].qps if runs[0] else None
            row = [form.label]
            row += [_qps(run) for run in runs]
            for other in runs[1:]:
                row.append(_times(_ratio(other.qps if other else None, reference)))
                row.append(_latency(other))
            rows.append(row)
        header = ["Normalize, unary", *(f"{_workers(w)} QPS" for w in s.workers)]
        for workers in s.workers[1:]:
            header += [f"{workers} / {first_count} workers", f"{_workers(workers)} p50 / p99 ms"]
        table(header, rows)

    base_ratio = _ratio(one_connection["baseline stream"], one_connection["baseline unary"])
    service_ratio = _ratio(one_connection["service stream"], one_connection["service unary"])
    stream_verdict = "" if service_ratio is None else f" {_verdict(service_ratio, STREAM_TARGET)}"
    table(
        [
            "One connection, JSON body",
            f"unary Normalize conversions/s ({s.connections * s.streams} streams)",
            f"NormalizeStream conversions/s ({s.streams} streams × {s.stream_messages} requests)",
            "stream / unary",
            "target",
        ],
        [
            [
                "baseline (empty handler)",
                _rate(one_connection["baseline unary"]),
                _rate(one_connection["baseline stream"]),
                _times(base_ratio),
                "",
            ],
            [
                f"service ({_workers(first_count)})",
                _rate(one_connection["service unary"]),
                _rate(one_connection["service stream"]),
                _times(service_ratio),
                f"≥ {STREAM_TARGET:.0f}×{stream_verdict}",
            ],
        ],
    )

    rows = []
    for form in bench.forms:
        t = timings[form.key]
        ratio = t.core / t.reference
        if form.key == "json":
            name = "json.loads"
            goal = f"≤ {CORE_TARGET:.0f}× {'met' if ratio <= CORE_TARGET else 'missed'}"
        else:
            name, goal = "parse_qsl", ""
        rows.append(
            [
                f"{form.label}, reference {name}",
                f"{t.reference:.2f}",
                f"{t.core:.2f}",
                f"{ratio:.1f}×",
                goal,
                f"{t.wire:.2f}",
            ]
        )
    table(
        [
            "Pure core, per payload (in process)",
            "reference µs",
            "core µs",
            "core / reference",
            "target",
            "wire translation µs",
        ],
        rows,
    )
    print()
    print(f"Benchmark finished in {elapsed:.0f} s; every call was answered OK.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
