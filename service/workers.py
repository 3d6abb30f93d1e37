"""``--workers N``: N server processes sharing one port, and the parent that supervises them.

One grpc.aio server is one event loop on one core. To use more cores on one
machine, the parent starts N copies of ``python -m service`` with the same
settings and ``--workers 1``; each binds the same address with SO_REUSEPORT
and the kernel spreads incoming connections among them. The parent never
imports grpc (gRPC's core does not survive a fork once initialized, and
nothing here needs it): it only starts, watches and stops its workers.

* ``--port 0``: the parent picks the free port first and holds it with a bound,
  non-listening SO_REUSEPORT socket for its whole life, so the workers share
  that one port and nothing else can take it in between.
* ``--metrics-port P``: worker ``i`` (0-based) serves its metrics on ``P + i``;
  each process has its own counters.
* SIGTERM or SIGINT: forwarded to every worker, which shuts down gracefully
  (``--grace``); the parent exits 0 once all of them have. A worker that
  exits on its own (a crash, a port it could not bind) stops the others and
  the parent exits 1, so a supervisor restarts the whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Final

from service.config import Config

log = logging.getLogger(__name__)

# Time the parent gives workers past their own grace period before killing them.
STOP_MARGIN: Final = 10.0
_STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


def reserve_port(host: str) -> socket.socket:
    """A socket bound with SO_REUSEPORT to a free port of ``host``, not listening.

    Keeping it open holds the port for the workers; a socket that does not
    listen never receives a connection.
    """
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    family, kind, protocol, _, address = socket.getaddrinfo(
        name or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    reservation = socket.socket(family, kind, protocol)
    try:
        reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reservation.bind(address)
    except OSError:
        reservation.close()
        raise
    return reservation


def worker_command(argv: Sequence[str], config: Config, port: int, index: int) -> list[str]:
    """The command line of worker ``index``: the parent's flags, then the overrides.

    Flags given later win, so the parent's own ``--workers``, ``--port`` and
    ``--metrics-port`` (or their environment variables) are overridden.
    """
    command = [sys.executable, "-m", "service", *argv, "--workers", "1", "--port", str(port)]
    if config.metrics_port:
        command += ["--metrics-port", str(config.metrics_port + index)]
    return command


def serve_workers(config: Config, argv: Sequence[str]) -> int:
    """Run ``config.workers`` server processes until a signal; the exit status."""
    reservation = None
    port = config.port
    if port == 0:
        try:
            reservation = reserve_port(config.host)
        except OSError as error:
            log.error("cannot find a free port on %s: %s", config.host, error)
            return 1
        port = reservation.getsockname()[1]
    try:
        return asyncio.run(_supervise(config, argv, port))
    finally:
        if reservation is not None:
            reservation.close()


async def _supervise(config: Config, argv: Sequence[str], port: int) -> int:
    loop = asyncio.get_running_loop()
    received: list[int] = []
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop.set()

    # Installed before the first worker starts: a signal during start-up is
    # not lost, and stops the workers started so far.
    for stop_signal in _STOP_SIGNALS:
        loop.add_signal_handler(stop_signal, on_signal, stop_signal)
    log.info("starting %d workers on port %d", config.workers, port)
    workers: list[asyncio.subprocess.Process] = []
    for index in range(config.workers):
        if stop.is_set():
            break
        process = await asyncio.create_subprocess_exec(*worker_command(argv, config, port, index))
        log.info("worker %d of %d started (pid %d)", index + 1, config.workers, process.pid)
        workers.append(process)

    exits = [asyncio.ensure_future(process.wait()) for process in workers]
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([stopped, *exits], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    clean = stop.is_set()
    signum = received[0] if received else int(signal.SIGTERM)
    if clean:
        log.info("%s: stopping %d workers", signal.Signals(signum).name, len(workers))
    else:
        crashed = next(process for process in workers if process.returncode is not None)
        log.error(
            "worker pid %d exited with %s; stopping the others", crashed.pid, crashed.returncode
        )
    for process in workers:
        if process.returncode is None:
            # The worker may have exited since the check.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)
    if exits:
        _, pending = await asyncio.wait(exits, timeout=config.grace + STOP_MARGIN)
        if pending:
            for process in workers:
                if process.returncode is None:
                    log.error("worker pid %d did not stop in time; killing it", process.pid)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            await asyncio.wait(pending)
            clean = False
    # A worker killed by the forwarded signal itself (before it could install
    # its handler) stopped as asked.
    for process in workers:
        if process.returncode not in (0, -signum):
            clean = False
    log.info("all workers stopped")
    return 0 if clean else 1
