"""Command line: ``python -m service`` serves; ``python -m service normalize`` runs offline."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from service import cli, config


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m service`` and the console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["normalize"]:
        return cli.main(args[1:], os.environ)
    settings = config.load(args, os.environ)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    from service.server import serve  # noqa: PLC0415 - keep `normalize` free of grpc start-up

    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
