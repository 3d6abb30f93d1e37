"""Reading event timestamps: Unix seconds or milliseconds, or ISO 8601 / RFC 3339.

Numbers are read exactly with :mod:`decimal` (never ``float``), and every input
is bounded before any work, so the only exception raised is
:class:`InvalidTimestamp`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Context, Decimal
from typing import Final

__all__ = ["InvalidTimestamp", "ParsedTime", "parse_timestamp"]


class InvalidTimestamp(ValueError):
    """A timestamp that cannot be used; the message is a sentence fit for a diagnostic."""


@dataclass(frozen=True, slots=True)
class ParsedTime:
    """A usable event time (timezone-aware, UTC) and how it was read."""

    time: datetime
    # True when the value was a number read as Unix milliseconds.
    milliseconds: bool


# Longer than any real timestamp ("2024-01-01T12:00:00.123456789+02:00" is 35).
MAX_TEXT_LENGTH: Final = 64
# Numbers at or above this are Unix milliseconds, not seconds.
MILLISECONDS_THRESHOLD: Final = Decimal(100_000_000_000)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
_EARLIEST_SECONDS: Final = Decimal(int((_EARLIEST - _EPOCH).total_seconds()))
# First second past 9999-12-31T23:59:59.999999Z.
_END_SECONDS: Final = Decimal(
    int((datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH).total_seconds()) + 86_400
)
# Exponent text longer than this (after leading zeros) is out of range anyway;
# Decimal refuses exponents past ~10**18, so they must not reach it.
_MAX_EXPONENT_DIGITS: Final = 4
_EXCERPT: Final = 40
# Enough precision that scaling an at-most-64-digit input is always exact
# (the default context would round at 28 digits, which could carry into the
# microseconds before truncation).
_EXACT: Final = Context(prec=100, rounding=ROUND_FLOOR)

_NUMBER_RE: Final = re.compile(r"[+-]?([0-9]+)(?:\.[0-9]+)?(?:[eE][+-]?([0-9]+))?")
# Date, then optionally: T/t/space, HH:MM[:SS[.,fraction]], then optionally
# Z / ±HH[[:]MM] (an optional space before either), or " HH[:]MM": a "+" that
# form decoding turned into a space. Every optional part starts with a
# distinct literal, so matching is linear.
_ISO_RE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r"(?: ?([Zz])| ?([+-])([0-9]{2})(?::?([0-9]{2}))?| ([0-9]{2}):?([0-9]{2}))?)?"
)


def _excerpt(text: str) -> str:
    """Quote at most 40 characters of untrusted input for a message."""
    if len(text) > _EXCERPT:
        return repr(text[:_EXCERPT]) + "…"
    return repr(text)


def _from_number(text: str, match: re.Match[str]) -> ParsedTime:
    """Unix seconds (fractions kept to the microsecond), or milliseconds when large."""
    exponent = match[2]
    if exponent is not None and len(exponent.lstrip("0")) > _MAX_EXPONENT_DIGITS:
        raise InvalidTimestamp(f"The timestamp {_excerpt(text)} is out of range.")
    # The text matched a plain ASCII number pattern of bounded length, so
    # Decimal reads it exactly and cannot see NaN or Infinity.
    seconds = Decimal(text)
    if seconds <= 0:
        raise InvalidTimestamp(f"The timestamp {_excerpt(text)} is not a positive Unix time.")
    milliseconds = seconds >= MILLISECONDS_THRESHOLD
    if milliseconds:
        seconds = seconds.scaleb(-3, _EXACT)
    if seconds < _EARLIEST_SECONDS:
        raise InvalidTimestamp(f"The timestamp {_excerpt(text)} is before 2000-01-01.")
    if seconds >= _END_SECONDS:
        raise InvalidTimestamp(f"The timestamp {_excerpt(text)} is after the year 9999.")
    # Truncate (not round) below the microsecond, like ISO fractions.
    micros = int(seconds.scaleb(6, _EXACT).to_integral_value(rounding=ROUND_FLOOR, context=_EXACT))
    return ParsedTime(_EPOCH + timedelta(microseconds=micros), milliseconds)


def _from_iso(text: str, match: re.Match[str]) -> ParsedTime:
    """An ISO 8601 / RFC 3339 date or date-time; no offset means UTC."""
    year, month, day, hour, minute, second, fraction = match.groups()[:7]
    sign, off_h, off_m, plus_h, plus_m = match.groups()[8:]
    if plus_h is not None:
        sign, off_h, off_m = "+", plus_h, plus_m
    offset = 0
    if sign is not None:
        hours, minutes = int(off_h), int(off_m or "0")
        if hours > 23 or minutes > 59:
            raise InvalidTimestamp(f"The timestamp {_excerpt(text)} has an invalid UTC offset.")
        offset = hours * 60 + minutes
        if sign == "-":
            offset = -offset
    # Truncate fractions past the microsecond (datetime's resolution).
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        local = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or "0"),
            int(minute or "0"),
            int(second or "0"),
            micros,
        )
        utc = (local - timedelta(minutes=offset)).replace(tzinfo=UTC)
    except OverflowError:
        # Shifting by the offset left datetime's range (years 1..9999).
        raise InvalidTimestamp(f"The timestamp {_excerpt(text)} is out of range.") from None
    except ValueError:
        raise InvalidTimestamp(
            f"The timestamp {_excerpt(text)} is not a valid date and time."
        ) from None
    if utc < _EARLIEST:
        raise InvalidTimestamp(f"The timestamp {_excerpt(text)} is before 2000-01-01.")
    return ParsedTime(utc, False)


def parse_timestamp(raw: str) -> ParsedTime:
    """Read an event time.

    ``raw`` (trimmed) is either:

    * a number (JSON number or numeric text, optional sign, fraction and
      exponent): Unix seconds, kept to the microsecond (finer digits are
      truncated); at or above 100000000000 it is Unix milliseconds and
      ``milliseconds`` is True;
    * an ISO 8601 / RFC 3339 date-time: ``YYYY-MM-DD``, then ``T``, ``t`` or a
      space, ``HH:MM`` with optional ``:SS`` and a fraction of any length after
      ``.`` or ``,`` (truncated to microseconds), then optionally ``Z``/``z``
      or an offset ``±HH:MM``, ``±HHMM`` or ``±HH`` (a space may precede it; a
      space followed by ``HH:MM``/``HHMM`` is read as ``+``, because form
      decoding turns an unescaped ``+`` into a space); no offset means UTC;
    * a bare date ``YYYY-MM-DD``: midnight UTC.

    Raises :class:`InvalidTimestamp` for anything else (including leap second
    ``:60``, hour 24, week or ordinal dates, non-ASCII digits), for text over
    64 characters, for a number ≤ 0, and for times before
    2000-01-01T00:00:00Z or after the year 9999.
    """
    text = raw.strip()
    if not text:
        raise InvalidTimestamp("The timestamp is empty.")
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidTimestamp(
            f"The timestamp {_excerpt(text)} is longer than {MAX_TEXT_LENGTH} characters."
        )
    number = _NUMBER_RE.fullmatch(text)
    if number is not None:
        return _from_number(text, number)
    iso = _ISO_RE.fullmatch(text)
    if iso is not None:
        return _from_iso(text, iso)
    raise InvalidTimestamp(
        f"The timestamp {_excerpt(text)} is neither a Unix time nor an ISO 8601 date."
    )
