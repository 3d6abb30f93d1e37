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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from service.core.decode import MAX_PAYLOAD_BYTES
from service.core.values import normalize_currency

ENV_PREFIX: Final = "CONVERSIONS_"
# The receive limit leaves room for the request envelope around the largest
# accepted payload (SPEC §9), so an oversized payload gets MALFORMED_PAYLOAD
# with its size, and only a message far past it gets RESOURCE_EXHAUSTED.
DEFAULT_MAX_MESSAGE_BYTES: Final = MAX_PAYLOAD_BYTES + 64 * 1024
SERVICE_NAME: Final = "conversions.v1.ConversionService"
LOG_FORMATS: Final = ("text", "json")


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
    # Seconds before a client connection is asked to reconnect (GOAWAY), so
    # client-side balancers discover new replicas; 0 keeps connections forever.
    max_connection_age: float = 0.0
    # Server processes sharing the port (SO_REUSEPORT); see service.workers.
    workers: int = 1
    # Prometheus endpoint on the same host; 0 serves no metrics.
    metrics_port: int = 0
    log_format: str = "text"
    # TLS is on when a certificate is given; a client CA turns on mTLS.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    # Empty: no authentication. Kept out of repr so it never reaches a log.
    auth_token: str = field(default="", repr=False)
    auth_protect_health: bool = False
    auth_protect_reflection: bool = False

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


def _log_format(text: str) -> str:
    name = text.lower()
    if name not in LOG_FORMATS:
        raise ValueError(f"{text!r} is not one of {', '.join(LOG_FORMATS)}")
    return name


def _readable_file(text: str) -> Path:
    path = Path(text)
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise ValueError(f"cannot read {text!r}: {error.strerror or error}") from None
    return path


def _token(text: str) -> str:
    token = text.strip()
    if not token:
        raise ValueError("the token is empty")
    return token


def _token_file(text: str) -> str:
    # Secrets mounted as files usually end with a newline; it is not part of
    # the token.
    return _token(_readable_file(text).read_text(encoding="utf-8"))


_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def _switch(text: str) -> bool:
    word = text.strip().lower()
    if word not in _TRUE | _FALSE:
        raise ValueError(f"{text!r} is not true or false")
    return word in _TRUE


def _workers(text: str) -> int:
    count = int(text)
    if count < 1:
        raise ValueError(f"{count} workers: at least one process must serve")
    return count


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
    "max_connection_age": (
        _non_negative(float),
        "seconds before a client connection is asked to reconnect, so client-side load "
        "balancing finds new replicas; in-flight calls finish (default 0, never)",
    ),
    "workers": (
        _workers,
        "server processes sharing the port with SO_REUSEPORT, one event loop each; "
        "worker i serves metrics on --metrics-port + i (default 1)",
    ),
    "metrics_port": (
        _port,
        "serve Prometheus metrics over HTTP on this port of --host (default 0, off)",
    ),
    "log_format": (_log_format, "text or json: one line per RPC and per event (default text)"),
    "tls_cert": (_readable_file, "PEM server certificate chain; turns TLS on"),
    "tls_key": (_readable_file, "PEM private key of --tls-cert"),
    "tls_client_ca": (
        _readable_file,
        "PEM CA bundle; clients must present a certificate it signed (mTLS)",
    ),
    "auth_token": (
        _token,
        "require `authorization: Bearer <token>` on every call (prefer the env or a file: "
        "flags show in the process list)",
    ),
    "auth_token_file": (_token_file, "read the --auth-token from this file"),
    "auth_protect_health": (_switch, "require the token for the health service too"),
    "auth_protect_reflection": (_switch, "require the token for server reflection too"),
}
# Flags that take no value on the command line (``--auth-protect-health``);
# their environment variables take true/false.
_SWITCHES: Final = frozenset({"auth_protect_health", "auth_protect_reflection"})


def _env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare every setting as a flag, documenting its environment variable."""
    for name, (_, description) in _FLAGS.items():
        help_text = f"{description}; env {_env_name(name)}"
        if name in _SWITCHES:
            parser.add_argument(
                _flag(name), dest=name, action="store_const", const="true", help=help_text
            )
        else:
            parser.add_argument(_flag(name), dest=name, metavar=name.upper(), help=help_text)


def _check(settings: Mapping[str, Any]) -> None:
    """Reject combinations of settings that cannot work together."""
    if ("tls_cert" in settings) != ("tls_key" in settings):
        raise ValueError("--tls-cert and --tls-key go together")
    if "tls_client_ca" in settings and "tls_cert" not in settings:
        raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")


def from_namespace(
    namespace: argparse.Namespace,
    environ: Mapping[str, str],
    parser: argparse.ArgumentParser,
) -> Config:
    """Build the Config from parsed flags, then the environment, then defaults.

    An invalid value stops the program with a usage error naming the flag.
    """
    settings: dict[str, Any] = {}
    from_flags: set[str] = set()
    for name, (parse, _) in _FLAGS.items():
        raw = getattr(namespace, name, None)
        source = _flag(name)
        if raw is None:
            raw = environ.get(_env_name(name))
            source = _env_name(name)
        else:
            from_flags.add(name)
        if raw is None:
            continue
        try:
            settings[name] = parse(raw)
        except ValueError as error:
            parser.error(f"{source}: {error}")
    if "auth_token_file" in settings:
        # The token and the token file are one setting: a flag beats the
        # environment; both at the same level are ambiguous.
        token_file = settings.pop("auth_token_file")
        file_is_flag = "auth_token_file" in from_flags
        if "auth_token" in settings and file_is_flag == ("auth_token" in from_flags):
            parser.error("--auth-token and --auth-token-file: give only one of them")
        if "auth_token" not in settings or file_is_flag:
            settings["auth_token"] = token_file
    try:
        _check(settings)
    except ValueError as error:
        parser.error(str(error))
    return Config(**settings)


def load(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Parse server flags and environment into a Config."""
    parser = argparse.ArgumentParser(
        prog="python -m service", description="Serve the conversion normalizer over gRPC."
    )
    add_arguments(parser)
    return from_namespace(parser.parse_args(argv), environ, parser)
