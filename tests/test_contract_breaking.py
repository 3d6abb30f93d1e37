"""``scripts/protos.py breaking``: the buf breaking check of ``make lint`` really bites.

Each case clones the repository, changes the contract in the clone, and checks
it against the clone's HEAD: an added field passes, a renamed or renumbered
field fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process import ROOT

CONTRACT = Path("proto/conversions/v1/conversion_service.proto")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout"),
]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of the repository with this working tree's contract and tooling."""
    target = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)], check=True
    )
    for name in ("scripts/protos.py", "buf.yaml", str(CONTRACT)):
        shutil.copyfile(ROOT / name, target / name)
    # The baseline is this working tree's contract, committed in the clone.
    identity = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
    commit = ["commit", "--no-verify", "--allow-empty", "-qam", "baseline"]
    subprocess.run(
        ["git", *identity, "-c", "commit.gpgsign=false", *commit],
        cwd=target,
        check=True,
    )
    return target


def _breaking(clone: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/protos.py", "breaking", "HEAD"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _edit(clone: Path, pattern: str, replacement: str) -> None:
    path = clone / CONTRACT
    text, count = re.subn(pattern, replacement, path.read_text(), count=1)
    assert count == 1, pattern
    path.write_text(text)


def test_an_added_field_keeps_the_contract(clone: Path) -> None:
    _edit(clone, r"(message ClassifyRequest \{)", r"\1\n  // A new field.\n  string note = 99;")
    done = _breaking(clone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "keeps the contract" in done.stdout


@pytest.mark.parametrize(
    ("pattern", "replacement", "complaint"),
    [
        (r"string click_id = (\d+);", r"string click_identifier = \1;", "changed name"),
        (r"string click_id = (\d+);", r"string click_id = 98;", 'Previously present field "'),
    ],
)
def test_a_renamed_or_renumbered_field_breaks_it(
    clone: Path, pattern: str, replacement: str, complaint: str
) -> None:
    _edit(clone, pattern, replacement)
    done = _breaking(clone)
    assert done.returncode != 0
    assert complaint in done.stdout
    assert "breaks the contract released at HEAD" in done.stderr
