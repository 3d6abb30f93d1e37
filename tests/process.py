"""Start the real service as a child process and find its port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PORT_LINE = re.compile(r"on port (\d+)")


@dataclass
class ServerProcess:
    """A running ``python -m service`` and the port it listens on."""

    process: subprocess.Popen[str]
    port: int
    log_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()


def _wait_for_port(process: subprocess.Popen[str], log_path: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _PORT_LINE.search(log_path.read_text())
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        time.sleep(0.05)
    raise TimeoutError(f"server did not report its port:\n{log_path.read_text()}")


@contextmanager
def server_process(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """Run the service on a free loopback port; kill it if the test did not stop it."""
    log_path = tmp_path / "server.log"
    command: Sequence[str] = [
        sys.executable,
        "-m",
        "service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        *args,
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
    try:
        yield ServerProcess(process, _wait_for_port(process, log_path, 30), log_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
