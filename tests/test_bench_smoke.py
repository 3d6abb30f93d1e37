"""``make bench`` runs end to end: ``scripts/bench.py --smoke`` with tiny counts.

Nothing here is timed: the benchmark's numbers are for people; the test only
proves that the script starts every server, verifies their answers and prints
its tables. Without h2load (a fresh CI machine) the load rows are n/a and
everything else still runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process import ROOT

BENCH = ROOT / "scripts" / "bench.py"
TABLES = (
    "| Normalize, unary (1 worker) |",
    "| One connection, JSON body |",
    "| Pure core, per payload (in process) |",
    "every call was answered OK",
)


def _bench(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for heading in TABLES:
        assert heading in done.stdout, done.stdout
    return done.stdout


@pytest.mark.slow
def test_bench_smoke_with_two_workers() -> None:
    output = _bench("--workers", "1", "2")
    assert "| Normalize, unary | 1 worker QPS | 2 workers QPS |" in output
    if shutil.which("h2load") is None:
        assert "h2load is not installed" in output
    else:
        assert "| JSON body (traits, items) | n/a" not in output


@pytest.mark.slow
def test_bench_smoke_without_h2load(tmp_path: Path) -> None:
    # An empty PATH: h2load cannot be found (every other program is started
    # by absolute path).
    output = _bench("--workers", "1", env={**os.environ, "PATH": str(tmp_path)})
    assert "h2load is not installed" in output
    assert "| JSON body (traits, items) | n/a |" in output
