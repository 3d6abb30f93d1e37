"""Reading scalar parameter values: macros, money amounts, quantities, currencies.

Everything here is exact: numbers are handled as decimal digit strings (never
through ``float``), and every input is bounded before any work proportional to
its magnitude is done, so hostile payloads cannot blow up time or memory.

The only exception any function here raises is :class:`InvalidValue`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import pycountry

from service.core.model import JsonNumber

__all__ = [
    "ISO_CURRENCIES",
    "InvalidValue",
    "is_unfilled_macro",
    "normalize_currency",
    "parse_decimal",
    "parse_quantity",
    "usable",
]


class InvalidValue(ValueError):
    """A value that cannot be read; the message is a sentence fit for a diagnostic."""


# Built once: membership tests are on the request hot path.
ISO_CURRENCIES: Final[frozenset[str]] = frozenset(c.alpha_3 for c in pycountry.currencies)

# Bounds. A money amount needs far less than this; anything longer is hostile
# or garbage, and rejecting it by length first keeps every later step O(1).
MAX_SIGNIFICANT_DIGITS: Final = 64
MAX_ADJUSTED_EXPONENT: Final = 64
MAX_TEXT_LENGTH: Final = 256
MAX_QUANTITY_DIGITS: Final = 18
# Longest exponent text read as an int (after leading zeros); longer ones are
# out of range anyway and must not reach int() (digit limit) or Decimal.
_MAX_EXPONENT_DIGITS: Final = 4
_EXCERPT: Final = 40

# Unfilled template macros: {x} {{x}} [x] [[x]] %x% #x# ${x}. Each alternative
# is a fixed delimiter pair around one character class that excludes the
# closing delimiter, so matching is linear (no ambiguity to backtrack over).
# [[x]] is the doubled-bracket style some affiliate networks use, the
# counterpart of {{x}}.
_MACRO_NAME: Final = r"[A-Za-z0-9_.:\-]+"
_MACRO_RE: Final = re.compile(
    rf"\{{\{{{_MACRO_NAME}\}}\}}|\$?\{{{_MACRO_NAME}\}}|\[\[{_MACRO_NAME}\]\]|\[{_MACRO_NAME}\]"
    rf"|%{_MACRO_NAME}%|#{_MACRO_NAME}#"
)

# The common case ("120", "120.00", "-5.5"): no separators, symbols or exponent.
_PLAIN_RE: Final = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
# A JSON number literal (leading zeros tolerated: harmless and unambiguous).
_JSON_NUMBER_RE: Final = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")
# A quantity as text: like a JSON number, with an optional leading "+".
_QUANTITY_RE: Final = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")

_DIGITS: Final = frozenset("0123456789")
_ASCII_LETTERS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# Separators that may sit between two digits of one number.
_MARK_SEPARATORS: Final = frozenset(".,'\u2019")
# Spaces used as thousands separators: space, NBSP, figure, thin, narrow NBSP.
_SPACE_SEPARATORS: Final = frozenset(" \u00a0\u2007\u2009\u202f")
# Letters glued to "$" that form one dollar symbol (US$, R$, HK$, ...).
_DOLLAR_PREFIXES: Final = frozenset(
    {"US", "U", "A", "AU", "C", "CA", "HK", "NZ", "NT", "S", "SG", "R", "MX", "RD", "J", "TT", "BZ"}
)


def _excerpt(text: str) -> str:
    """Quote at most 40 characters of untrusted input for a message."""
    if len(text) > _EXCERPT:
        return repr(text[:_EXCERPT]) + "…"
    return repr(text)


def is_unfilled_macro(text: str) -> bool:
    """Tell whether an (already trimmed) value is an unfilled template macro.

    A macro is the whole value: ``{x}``, ``{{x}}``, ``[x]``, ``[[x]]``, ``%x%``,
    ``#x#`` or ``${x}``, where ``x`` is one or more ASCII letters, digits, ``_ . : -``.
    """
    # Cheap first-character check: nearly every real value is rejected here.
    if len(text) < 3 or text[0] not in "{[%#$":
        return False
    return _MACRO_RE.fullmatch(text) is not None


def usable(raw: str) -> str | None:
    """Return ``raw`` trimmed (``str.strip``), or ``None`` when nothing is left.

    Macros are not checked here; callers use :func:`is_unfilled_macro`.
    """
    text = raw.strip()
    return text or None


def normalize_currency(raw: str) -> str | None:
    """Return the upper-cased ISO 4217 code in ``raw`` (trimmed), or ``None``.

    Only ASCII is accepted, so letters whose upper case is ASCII (``ſ`` → ``S``,
    ``ı`` → ``I``) cannot smuggle a code in.
    """
    text = raw.strip()
    if len(text) != 3 or not text.isascii():
        return None
    code = text.upper()
    return code if code in ISO_CURRENCIES else None


def _plain(negative: bool, int_digits: str, frac_digits: str, exponent: int, raw: str) -> str:
    """Write ``±int_digits.frac_digits × 10**exponent`` in plain notation.

    Trailing fractional zeros are dropped and zero is unsigned. Done on strings
    (not ``Decimal.normalize``/``str``, which round to the context precision
    and switch to exponent notation); bounds are checked before any padding.
    """
    digits = int_digits + frac_digits
    # Position of the decimal point counted from the left of ``digits``.
    point = len(int_digits) + exponent
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    significant = significant.rstrip("0")
    if not significant:
        return "0"
    if len(significant) > MAX_SIGNIFICANT_DIGITS:
        raise InvalidValue(
            f"The number {_excerpt(raw)} has more than {MAX_SIGNIFICANT_DIGITS} significant digits."
        )
    # ``point - 1`` is the power of ten of the leading digit.
    if not -MAX_ADJUSTED_EXPONENT <= point - 1 <= MAX_ADJUSTED_EXPONENT:
        raise InvalidValue(f"The number {_excerpt(raw)} is too large or too small.")
    if point <= 0:
        text = "0." + "0" * -point + significant
    elif point >= len(significant):
        text = significant + "0" * (point - len(significant))
    else:
        text = significant[:point] + "." + significant[point:]
    return "-" + text if negative else text


def _exponent(text: str | None, raw: str) -> int:
    """Read an exponent's text, refusing ones too long to be in range."""
    if not text:
        return 0
    negative = text[0] == "-"
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > _MAX_EXPONENT_DIGITS:
        raise InvalidValue(f"The number {_excerpt(raw)} is too large or too small.")
    value = int(digits) if digits else 0
    return -value if negative else value


def _check_groups(groups: list[str], separator: str, raw: str) -> None:
    """Check thousands grouping: 1–3 leading digits, then groups of 3.

    With commas, Indian grouping (1–2 leading digits, groups of 2, a last group
    of 3, as in ``1,23,456``) is consistent too and accepted.
    """
    first, rest = groups[0], groups[1:]
    if not first.startswith("0"):
        if len(first) <= 3 and all(len(g) == 3 for g in rest):
            return
        if (
            separator == ","
            and len(first) <= 2
            and len(rest[-1]) == 3
            and all(len(g) == 2 for g in rest[:-1])
        ):
            return
    raise InvalidValue(f"The number {_excerpt(raw)} has inconsistent digit grouping.")


def _interpret(groups: list[str], separators: list[str], raw: str) -> tuple[str, str]:
    """Decide which separator (if any) is the decimal mark; return (integer, fraction) digits."""
    if not separators:
        return groups[0], ""
    last = separators[-1]
    if all(s == last for s in separators):
        if last in " '\u2019":
            # Spaces and apostrophes only ever group thousands.
            _check_groups(groups, last, raw)
            return "".join(groups), ""
        if len(separators) > 1:
            # "1.234.567", "1,234,567": a repeated mark can only group thousands.
            _check_groups(groups, last, raw)
            return "".join(groups), ""
        head, tail = groups
        if last == "." or len(tail) != 3:
            # A lone dot is decimal ("1.234"); so is a comma not followed by
            # exactly three digits ("1234,56").
            return head, tail
        # A lone comma followed by exactly three digits groups thousands
        # ("1,234"), except that a "0" head can only be "0,123" = 0.123 and a
        # head of four or more digits makes the grouping inconsistent.
        if head == "0":
            return head, tail
        _check_groups(groups, last, raw)
        return head + tail, ""
    # Mixed: the last separator is the decimal mark, used once, and must be a
    # dot or comma; all earlier ones are one other kind, grouping thousands.
    thousands = separators[0]
    if last not in ".," or any(s != thousands for s in separators[:-1]):
        raise InvalidValue(f"The number {_excerpt(raw)} mixes separators inconsistently.")
    _check_groups(groups[:-1], thousands, raw)
    return "".join(groups[:-1]), groups[-1]


def _scan_number(s: str, i: int, raw: str) -> tuple[str, str, int, int]:
    """Read one number starting at ``s[i]`` (a digit, or a dot before a digit).

    Returns (integer digits, fraction digits, exponent, index after the number).
    """
    n = len(s)
    groups: list[str] = []
    separators: list[str] = []
    leading_dot = s[i] == "."
    if leading_dot:
        i += 1
    while True:
        j = i
        while j < n and s[j] in _DIGITS:
            j += 1
        groups.append(s[i:j])
        i = j
        # A separator belongs to the number only between two digits.
        if i + 1 < n and s[i + 1] in _DIGITS:
            if s[i] in _MARK_SEPARATORS:
                separators.append(s[i])
                i += 1
                continue
            if s[i] in _SPACE_SEPARATORS:
                separators.append(" ")
                i += 1
                continue
        break
    exponent_text: str | None = None
    if i < n and s[i] in "eE":
        k = i + 1
        if k < n and s[k] in "+-":
            k += 1
        if k < n and s[k] in _DIGITS:
            while k < n and s[k] in _DIGITS:
                k += 1
            exponent_text = s[i + 1 : k]
            i = k
    if leading_dot:
        if separators:
            raise InvalidValue(f"The number {_excerpt(raw)} has misplaced separators.")
        int_digits, frac_digits = "0", groups[0]
    else:
        int_digits, frac_digits = _interpret(groups, separators, raw)
    if exponent_text is not None and separators not in ([], ["."]):
        # Scientific notation only makes sense on a plain number ("1.5e3").
        raise InvalidValue(f"The number {_excerpt(raw)} mixes digit grouping with an exponent.")
    return int_digits, frac_digits, _exponent(exponent_text, raw), i


def _parse_text(s: str) -> tuple[str, str | None]:
    """The general path: signs, parentheses, symbols, an ISO code, separators."""
    raw = s
    n = len(s)
    i = 0
    negative = False
    sign_seen = False
    paren_open = paren_closed = False
    symbol_seen = False
    code: str | None = None
    number: tuple[str, str, int] | None = None
    while i < n:
        ch = s[i]
        if ch.isspace():
            i += 1
        elif ch in _DIGITS or (ch == "." and i + 1 < n and s[i + 1] in _DIGITS):
            if number is not None:
                raise InvalidValue(f"The value {_excerpt(raw)} holds more than one number.")
            if paren_closed:
                raise InvalidValue(
                    f"The value {_excerpt(raw)} has a number outside its parentheses."
                )
            int_digits, frac_digits, exponent, i = _scan_number(s, i, raw)
            number = (int_digits, frac_digits, exponent)
        elif ch in "+-":
            # One sign, before the number, and not inside accounting parentheses.
            if number is not None:
                raise InvalidValue(f"The value {_excerpt(raw)} has a sign after its number.")
            if paren_open:
                raise InvalidValue(
                    f"The value {_excerpt(raw)} has a sign inside accounting parentheses."
                )
            if sign_seen:
                raise InvalidValue(f"The value {_excerpt(raw)} has more than one sign.")
            sign_seen = True
            negative = ch == "-"
            i += 1
        elif ch == "(":
            if paren_open or sign_seen or number is not None:
                raise InvalidValue(f"The value {_excerpt(raw)} has misplaced parentheses.")
            paren_open = True
            i += 1
        elif ch == ")":
            if not paren_open or paren_closed or number is None:
                raise InvalidValue(f"The value {_excerpt(raw)} has misplaced parentheses.")
            paren_closed = True
            i += 1
        elif ch in _ASCII_LETTERS:
            j = i
            while j < n and s[j] in _ASCII_LETTERS:
                j += 1
            word = s[i:j].upper()
            if j < n and s[j] == "$" and word in _DOLLAR_PREFIXES:
                # "US$", "R$", ...: one currency symbol.
                if symbol_seen:
                    raise InvalidValue(
                        f"The value {_excerpt(raw)} has more than one currency symbol."
                    )
                symbol_seen = True
                i = j + 1
            elif len(word) == 3 and word in ISO_CURRENCIES:
                if code is not None:
                    raise InvalidValue(f"The value {_excerpt(raw)} names more than one currency.")
                code = word
                i = j
            else:
                raise InvalidValue(f"The value {_excerpt(raw)} is not a number.")
        elif unicodedata.category(ch) == "Sc":
            if symbol_seen:
                raise InvalidValue(f"The value {_excerpt(raw)} has more than one currency symbol.")
            symbol_seen = True
            i += 1
        else:
            raise InvalidValue(f"The value {_excerpt(raw)} is not a number.")
    if number is None:
        raise InvalidValue(f"The value {_excerpt(raw)} holds no number.")
    if paren_open and not paren_closed:
        raise InvalidValue(f"The value {_excerpt(raw)} has misplaced parentheses.")
    if paren_open:
        negative = True
    int_digits, frac_digits, exponent = number
    return _plain(negative, int_digits, frac_digits, exponent, raw), code


def parse_decimal(raw: str) -> tuple[str, str | None]:
    """Read a money amount exactly.

    Returns ``(amount, code)``: the amount in plain notation (no exponent, no
    trailing fractional zeros, ``-0`` → ``0``) and the ISO 4217 code written in
    the text, or ``None``.

    A :class:`JsonNumber` must be a JSON number literal (``120.00``, ``-0``,
    ``1.5e3``, ``1E+2``); leading zeros are tolerated. Any other string is
    trimmed and may carry:

    * one currency symbol (any Unicode ``Sc`` character, or ``US$``/``R$``/
      ``A$``/``C$``-style prefixes), before or after the number;
    * one ISO 4217 code before or after the number, in any case, with or
      without whitespace (``EUR 120``, ``120eur``); symbols alone never imply
      a currency (``$`` is ambiguous), so the code is ``None`` for ``$120``;
    * one sign before the number, before or after the symbol (``-$5``,
      ``$-5``), or accounting parentheses around it (``(5.00)`` → ``-5``; a
      sign inside parentheses is invalid);
    * digit separators: a lone dot is decimal (``1.234`` → 1.234); a repeated
      dot or comma groups thousands (``1.234.567``, ``1,234,567``, also Indian
      ``1,23,456``); a lone comma is decimal (``1234,56``) unless exactly three
      digits follow it (``1,234`` → 1234; but ``0,123`` → 0.123 and
      ``1234,567`` is invalid); with two kinds, the last one (used once) is
      decimal (``1,234.56``, ``1.234,56``); spaces (also NBSP, narrow NBSP,
      thin space) and apostrophes only group thousands (``1 234,56``,
      ``1'234.56``);
    * an exponent (``1.5e3``) only on an ungrouped number; a leading dot
      (``.5``) is read as ``0.5``.

    Only ASCII digits count. Invalid (:class:`InvalidValue`): empty, NaN,
    infinities, words, hex, two numbers (``1 2``, ``1-2``), a lone symbol, two
    codes, inconsistent grouping, a trailing separator, text longer than 256
    characters, more than 64 significant digits, or a leading digit's power
    of ten outside [-64, 64].
    """
    s = raw.strip()
    if len(s) > MAX_TEXT_LENGTH:
        raise InvalidValue(f"The value {_excerpt(s)} is longer than {MAX_TEXT_LENGTH} characters.")
    plain = _PLAIN_RE.fullmatch(s)
    if plain is not None:
        # Fast path: plain decimal text, the vast majority of values.
        return _plain(plain[1] == "-", plain[2], plain[3] or "", 0, s), None
    if isinstance(raw, JsonNumber):
        json = _JSON_NUMBER_RE.fullmatch(s)
        if json is None:
            raise InvalidValue(f"The JSON number {_excerpt(s)} is not a valid number.")
        exponent = _exponent(json[4], s)
        return _plain(json[1] == "-", json[2], json[3] or "", exponent, s), None
    if not s:
        raise InvalidValue("The value is empty.")
    return _parse_text(s)


def parse_quantity(raw: str) -> int:
    """Read a whole number of units, at least 0 and at most 18 digits.

    Accepts ``2``, ``2.0``, `` 3 ``, ``+3``, ``1e2`` and JSON numbers alike;
    ``-0`` is 0. Digit separators, symbols and codes are not accepted (a
    quantity is not money). Anything else raises :class:`InvalidValue`.
    """
    s = raw.strip()
    if len(s) > MAX_TEXT_LENGTH:
        raise InvalidValue(
            f"The quantity {_excerpt(s)} is longer than {MAX_TEXT_LENGTH} characters."
        )
    if len(s) <= MAX_QUANTITY_DIGITS and s.isdigit() and s.isascii():
        # Plain digits, the usual "1": nothing to scale, sign or bound.
        return int(s)
    match = _QUANTITY_RE.fullmatch(s)
    if match is None:
        raise InvalidValue(f"The quantity {_excerpt(s)} is not a whole number.")
    if isinstance(raw, JsonNumber) and match[1] == "+":
        raise InvalidValue(f"The JSON number {_excerpt(s)} is not a valid number.")
    try:
        text = _plain(match[1] == "-", match[2], match[3] or "", _exponent(match[4], s), s)
    except InvalidValue:
        raise InvalidValue(f"The quantity {_excerpt(s)} is out of range.") from None
    if "." in text:
        raise InvalidValue(f"The quantity {_excerpt(s)} is not a whole number.")
    if text.startswith("-"):
        raise InvalidValue(f"The quantity {_excerpt(s)} is negative.")
    if len(text) > MAX_QUANTITY_DIGITS:
        raise InvalidValue(f"The quantity {_excerpt(s)} is too large.")
    return int(text)
