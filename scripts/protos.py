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
"""

from __future__ import annotations

import filecmp
import re
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


def include_paths() -> list[str]:
    """Where protoc finds the project's and the installed third-party protos."""
    googleapis = Path(google.rpc.status_pb2.__file__).resolve().parent.parent.parent
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    return [f"-I{PROTO_ROOT}", f"-I{googleapis}", f"-I{well_known}"]


def project_protos() -> list[str]:
    """The project's own .proto files, relative to proto/."""
    return sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))


def run_protoc(*args: str) -> None:
    """Run the protoc bundled with grpcio-tools, failing loudly."""
    if protoc.main(["grpc_tools.protoc", *include_paths(), *args, *project_protos()]) != 0:
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


def image(path: Path) -> None:
    """Write a descriptor set with imports and source info, as buf expects."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run_protoc("--include_imports", "--include_source_info", f"--descriptor_set_out={path}")


def main(argv: list[str]) -> None:
    """Dispatch the sub-command."""
    command = argv[0] if argv else "generate"
    if command == "generate":
        generate(Path(argv[1]) if len(argv) > 1 else GENERATED)
    elif command == "check":
        check()
    elif command == "image" and len(argv) == 2:
        image(Path(argv[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
