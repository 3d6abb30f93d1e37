"""The server's configuration: one frozen object, built in one place.

Every setting is a command-line flag with a matching environment variable
(``--default-currency`` ↔ ``CONVERSIONS_DEFAULT_CURRENCY``); a flag wins over
the environment, which wins over the embedded default. Nothing else in the
service reads ``os.environ``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from service.core.decode import MAX_PAYLOAD_BYTES
from service.core.values import normalize_currency

ENV_PREFIX: Final = "CONVERSIONS_"
# The receive limit leaves room for the request envelope around the largest
# accepted payload (SPEC §9), so an oversized payload gets MALFORMED_PAYLOAD
# with its size, and only a message far past it gets RESOURCE_EXHAUSTED.
DEFAULT_MAX_MESSAGE_BYTES: Final = MAX_PAYLOAD_BYTES + 64 * 1024
SERVICE_NAME: Final = "conversions.v1.ConversionService"


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the server needs to start."""

    host: str = "[::]"
    port: int = 50051
    default_currency: str = "USD"
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    grace: float = 10.0
    log_level: str = "INFO"
    max_concurrent_rpcs: int = 0

    @property
    def address(self) -> str:
        """The address to bind, as grpc expects it."""
        return f"{self.host}:{self.port}"


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is outside 0-65535")
    return port


def _currency(text: str) -> str:
    code = normalize_currency(text)
    if code is None:
        raise ValueError(f"{text!r} is not an ISO 4217 currency code")
    return code


def _non_negative(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        number = kind(text)
        if number < 0:
            raise ValueError(f"{text} is negative")
        return number

    return parse


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"{text!r} is not a log level")
    return level


def _message_bytes(text: str) -> int:
    size = int(text)
    if size < 1024:
        raise ValueError(f"{size} bytes is too small to carry a request")
    return size


# flag → (parser, help); the default comes from Config.
_FLAGS: Final[Mapping[str, tuple[Callable[[str], Any], str]]] = {
    "host": (str, "address to bind (default [::], all interfaces)"),
    "port": (_port, "port to serve on; 0 picks a free one (default 50051)"),
    "default_currency": (
        _currency,
        "currency when neither the payload nor the request context names one (default USD)",
    ),
    "max_message_bytes": (
        _message_bytes,
        "gRPC receive and send limit in bytes (default: 1 MiB of payload plus 64 KiB)",
    ),
    "grace": (
        _non_negative(float),
        "seconds in-flight calls get to finish on SIGTERM/SIGINT (default 10)",
    ),
    "log_level": (_log_level, "DEBUG, INFO, WARNING or ERROR (default INFO)"),
    "max_concurrent_rpcs": (
        _non_negative(int),
        "calls served at once; more get RESOURCE_EXHAUSTED (default 0, unlimited)",
    ),
}


def _env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare every setting as a flag, documenting its environment variable."""
    for field, (_, help_text) in _FLAGS.items():
        parser.add_argument(
            "--" + field.replace("_", "-"),
            dest=field,
            default=None,
            metavar=field.upper(),
            help=f"{help_text}; env {_env_name(field)}",
        )


def from_namespace(
    namespace: argparse.Namespace,
    environ: Mapping[str, str],
    parser: argparse.ArgumentParser,
) -> Config:
    """Build the Config from parsed flags, then the environment, then defaults.

    An invalid value stops the program with a usage error naming the flag.
    """
    settings: dict[str, Any] = {}
    for field, (parse, _) in _FLAGS.items():
        raw = getattr(namespace, field, None)
        source = "--" + field.replace("_", "-")
        if raw is None:
            raw = environ.get(_env_name(field))
            source = _env_name(field)
        if raw is None:
            continue
        try:
            settings[field] = parse(raw)
        except ValueError as error:
            parser.error(f"{source}: {error}")
    return Config(**settings)


def load(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Parse server flags and environment into a Config."""
    parser = argparse.ArgumentParser(
        prog="python -m service", description="Serve the conversion normalizer over gRPC."
    )
    add_arguments(parser)
    return from_namespace(parser.parse_args(argv), environ, parser)
