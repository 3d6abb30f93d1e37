"""Build steps for proto/: generated Python code, its freshness check, a buf image.

Third-party protos come from the installed packages: google/rpc/*.proto from
googleapis-common-protos and google/protobuf/*.proto from grpcio-tools; the
repository holds only its own .proto files. protoc writes absolute imports
(``from conversions.v1 import ...``); they are rewritten to relative ones so
the generated package works wherever it is installed, without ``sys.path``
changes.

Usage:
  python scripts/protos.py generate [OUT_DIR]   # default service/gen
  python scripts/protos.py check                # fail when service/gen is stale
  python scripts/protos.py image PATH           # descriptor set for buf lint/breaking
  python scripts/protos.py breaking [REF]       # buf breaking against proto/ at a git ref

``breaking`` compares proto/ with the released contract at REF: by default the
tag ``contract-v1`` once it exists, before that the repository's first commit.
It reads the old files with ``git show`` (full history needed, not a shallow
clone) and builds both images with the same protoc and include paths.
"""

from __future__ import annotations

import filecmp
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import google.rpc.status_pb2
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
GENERATED = ROOT / "service" / "gen"
PACKAGE_DIRS = ("", "conversions", "conversions/v1")
ABSOLUTE_IMPORT = re.compile(r"^from conversions\.v1 import", re.MULTILINE)
RELEASE_TAG = "contract-v1"


def include_paths(root: Path = PROTO_ROOT) -> list[str]:
    """Where protoc finds the project's and the installed third-party protos."""
    googleapis = Path(google.rpc.status_pb2.__file__).resolve().parent.parent.parent
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    return [f"-I{root}", f"-I{googleapis}", f"-I{well_known}"]


def project_protos(root: Path = PROTO_ROOT) -> list[str]:
    """The project's own .proto files, relative to proto/."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))


def run_protoc(*args: str, root: Path = PROTO_ROOT) -> None:
    """Run the protoc bundled with grpcio-tools, failing loudly."""
    argv = ["grpc_tools.protoc", *include_paths(root), *args, *project_protos(root)]
    if protoc.main(argv) != 0:
        raise SystemExit("protoc failed")


def generate(out: Path) -> None:
    """Generate messages, services and their .pyi stubs into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    run_protoc(
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy_grpc={plugin}",
        f"--mypy_grpc_out={out}",
    )
    for package in PACKAGE_DIRS:
        (out / package / "__init__.py").write_text(
            '"""Generated from proto/ by `make generate`; do not edit."""\n'
        )
    for module in out.rglob("*_grpc.py*"):
        module.write_text(ABSOLUTE_IMPORT.sub("from . import", module.read_text()))


def check() -> None:
    """Exit non-zero when service/gen differs from a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        stale = []
        for path in sorted(fresh.rglob("*.py*")):
            committed = GENERATED / path.relative_to(fresh)
            if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                stale.append(str(committed.relative_to(ROOT)))
        extra = [
            str(p.relative_to(ROOT))
            for p in GENERATED.rglob("*.py*")
            if not (fresh / p.relative_to(GENERATED)).exists()
        ]
    if stale or extra:
        raise SystemExit(f"generated code is stale, run `make generate`: {stale + extra}")
    print("service/gen is fresh")


def image(path: Path, root: Path = PROTO_ROOT) -> None:
    """Write a descriptor set with imports and source info, as buf expects."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run_protoc(
        "--include_imports", "--include_source_info", f"--descriptor_set_out={path}", root=root
    )


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def released_ref() -> str:
    """The tag of the released contract, or the first commit until it exists."""
    if _git("tag", "--list", RELEASE_TAG):
        return RELEASE_TAG
    if _git("rev-parse", "--is-shallow-repository") == "true":
        raise SystemExit(
            "buf breaking needs the full history (a shallow clone has no first commit): "
            "fetch it (git fetch --unshallow, or fetch-depth: 0) or set BUF_BREAKING_AGAINST"
        )
    return _git("rev-list", "--max-parents=0", "HEAD").splitlines()[-1]


def export_protos(ref: str, root: Path) -> int:
    """Write proto/ as it was at ``ref`` under ``root``; return how many files."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    names = _git("ls-tree", "-r", "--name-only", commit, "--", "proto").splitlines()
    protos = [name for name in names if name.endswith(".proto")]
    for name in protos:
        target = root / Path(name).relative_to("proto")
        target.parent.mkdir(parents=True, exist_ok=True)
        shown = subprocess.run(
            ["git", "show", f"{commit}:{name}"], cwd=ROOT, capture_output=True, check=True
        )
        target.write_bytes(shown.stdout)
    return len(protos)


def breaking(ref: str) -> None:
    """Fail when proto/ breaks the contract released at ``ref`` (buf's FILE rules)."""
    with tempfile.TemporaryDirectory() as tmp:
        released = Path(tmp) / "proto"
        if export_protos(ref, released) == 0:
            raise SystemExit(f"{ref} has no proto/ to compare with")
        against, current = Path(tmp) / "against.binpb", Path(tmp) / "current.binpb"
        image(against, released)
        image(current)
        buf = Path(sys.executable).parent / "buf"
        done = subprocess.run(
            [
                str(buf),
                "breaking",
                str(current),
                "--against",
                str(against),
                "--config",
                str(ROOT / "buf.yaml"),
                "--exclude-imports",
            ],
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"proto/ breaks the contract released at {ref}")
    print(f"proto/ keeps the contract released at {ref}")


def main(argv: list[str]) -> None:
    """Dispatch the sub-command."""
    command = argv[0] if argv else "generate"
    if command == "generate":
        generate(Path(argv[1]) if len(argv) > 1 else GENERATED)
    elif command == "check":
        check()
    elif command == "image" and len(argv) == 2:
        image(Path(argv[1]))
    elif command == "breaking" and len(argv) <= 2:
        breaking(argv[1] if len(argv) == 2 and argv[1] else released_ref())
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
