"""Log set-up: human-readable text or one JSON object per line.

Structured fields travel in ``extra={"fields": {...}}``; the text format
appends them as ``key=value`` pairs, the JSON format as top-level keys. Only
names, codes and counts are ever passed as fields: payload values stay out of
the logs.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"
# A text field value that needs no quoting: no spaces, quotes or '='.
_BARE: Final = re.compile(r'[^\s"=]+')

FieldValue = str | int | float | bool


def _fields(record: logging.LogRecord) -> Mapping[str, FieldValue]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


class TextFormatter(logging.Formatter):
    """The classic line, then the record's fields as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        pairs = [f"{key}={_text_value(value)}" for key, value in _fields(record).items()]
        return " ".join([line, *pairs])


def _text_value(value: FieldValue) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


FORMATTERS: Final = {"text": TextFormatter, "json": JsonFormatter}


def configure(level: str, log_format: str) -> None:
    """Send every log record to stderr in ``log_format`` at ``level`` and above.

    No format used here shows the caller's file, thread or process, so the
    logging module is told not to collect them for every record (the
    optimizations its HOWTO documents): one line per call stays cheap.
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FORMATTERS[log_format]())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
