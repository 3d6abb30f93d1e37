"""Command line: ``python -m service`` serves; ``normalize`` runs offline; ``health`` probes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

from service import cli, config, logs


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m service`` and the console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["normalize"]:
        return cli.main(args[1:], os.environ)
    if args[:1] == ["health"]:
        from service import probe  # noqa: PLC0415 - only the probe needs a gRPC client

        return probe.main(args[1:], os.environ)
    settings = config.load(args, os.environ)
    logs.configure(settings.log_level, settings.log_format)
    if settings.workers > 1:
        # Worker processes are started before any grpc object exists.
        from service.workers import serve_workers  # noqa: PLC0415

        return serve_workers(settings, args)
    from service.server import serve  # noqa: PLC0415 - keep `normalize` free of grpc start-up

    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
