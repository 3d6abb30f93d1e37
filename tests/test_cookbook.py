"""Every grpcurl command of the README's cookbook, run against a real server process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process import ROOT, ServerProcess, server_process

GRPCURL = Path(sys.executable).parent / "grpcurl"
# grpcurl exits with 64 + the gRPC status code when a call fails.
GRPCURL_INVALID_ARGUMENT = 64 + 3

# A distinguishing part of each cookbook command → what its output must show.
EXPECTED: dict[str, tuple[int, list[str]]] = {
    " list": (
        0,
        [
            "conversions.v1.ConversionService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        ],
    ),
    "describe conversions.v1.ConversionService": (
        0,
        ["rpc Normalize", "rpc Classify", "rpc NormalizeStream", "stream"],
    ),
    "Health/Check": (0, ['"status": "SERVING"']),
    "transaction_id=24356562534585": (
        0,
        [
            '"event_name": "Purchase"',
            '"value": "120"',
            '"currency": "USD"',
            '"type": "MATCH_KEY_TYPE_CLICK_ID"',
        ],
    ),
    "< examples/payload.json": (
        0,
        [
            '"event_name": "Purchase"',
            '"first_name": "John"',
            '"ZX Series Headphones"',
            '"plan": "gold"',
            '"event_time": "2026-12-01T10:00:00Z"',
            '"dedup_key": "',
        ],
    ),
    "x-www-form-urlencoded": (
        0,
        ['"click_id": "x"', '"value": "12"', '"value_parameter": "amount"'],
    ),
    "Classify": (0, ['"event_name": "Purchase"', "CLASSIFICATION_SOURCE_AUTOMATIC"]),
    "value=5": (
        GRPCURL_INVALID_ARGUMENT,
        [
            "Code: InvalidArgument",
            "Message: Missing click_id, ref_id and email",
            '"reason":"MISSING_MATCH_KEY"',
            '"domain":"conversions.v1"',
            "google.rpc.BadRequest",
        ],
    ),
    "NormalizeStream": (
        0,
        [
            '"request_id": "a"',
            '"request_id": "b"',
            '"request_id": "c"',
            '"reason":"MISSING_MATCH_KEY"',
        ],
    ),
}


def cookbook_commands() -> list[str]:
    """The grpcurl commands of the README's cookbook section, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## grpcurl cookbook", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.startswith("grpcurl ")]


def expectation(command: str) -> tuple[int, list[str]]:
    matches = [key for key in EXPECTED if key in command]
    assert matches, f"cookbook command without an expectation: {command}"
    # The most specific key wins ("Classify" is not "NormalizeStream", etc.).
    return EXPECTED[max(matches, key=len)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("cookbook")) as running:
        yield running


def test_cookbook_covers_every_expectation() -> None:
    commands = cookbook_commands()
    assert len(commands) >= len(EXPECTED)
    for key in EXPECTED:
        assert any(key in command for command in commands), f"no cookbook command for {key!r}"


@pytest.mark.slow
@pytest.mark.parametrize("command", cookbook_commands())
def test_cookbook_command(server: ServerProcess, command: str) -> None:
    code, needles = expectation(command)
    runnable = command.replace("localhost:50051", f"localhost:{server.port}")
    env = {**os.environ, "PATH": f"{GRPCURL.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", runnable],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    for needle in needles:
        assert needle in output, f"{needle!r} missing from:\n{output}"
