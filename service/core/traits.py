"""Customer traits: normalization and hashing into ``user_data`` (SPEC section 6).

Ad platforms (Meta Conversions API rules) match customers on the SHA-256 of
each trait in a canonical form, so every trait is normalized first and then
hashed. Each normalizer is total: it returns ``None`` (or ``ok=False`` for the
phone) for a value it cannot normalize and never raises, whatever the text.

All of this runs per request, so lookup tables and regular expressions are
built once at import, every regular expression is linear-time on hostile
input, and expensive phone parses are cached.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from types import MappingProxyType

import phonenumbers
import pycountry

from service.core.model import Customer, Diagnostic, DiagnosticCode, UserData
from service.core.us_states import US_STATE_CODES

__all__ = [
    "build_user_data",
    "is_sha256_hex",
    "normalize_birthdate",
    "normalize_city",
    "normalize_country",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "normalize_state",
    "normalize_zip",
    "sha256_hex",
    "split_full_name",
]

# ---------------------------------------------------------------------------
# Hashing


_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def is_sha256_hex(raw: str) -> bool:
    """Return whether ``raw`` is exactly 64 hexadecimal characters (any case)."""
    # fullmatch (not match + "$"): "$" would also accept a trailing newline.
    return _SHA256_HEX.fullmatch(raw) is not None


def sha256_hex(text: str) -> str:
    """Return the lowercase hex SHA-256 of ``text`` encoded as UTF-8."""
    # surrogatepass: a lone surrogate (possible in decoded JSON) must not
    # raise; it is hashed as its would-be UTF-8 bytes, which keeps distinct
    # inputs distinct.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ---------------------------------------------------------------------------
# Names, cities, states: letters of any script


# ASCII fast path: after lower-casing, everything but a-z goes.
_NOT_ASCII_LETTER = re.compile(r"[^a-z]+")


def _is_letter_or_mark(ch: str) -> bool:
    # Combining marks (M*) are kept with letters (L*): many scripts
    # (Devanagari, Thai, ...) write vowels as marks, and dropping them would
    # change the name.
    return unicodedata.category(ch)[0] in "LM"


def _letters_only(raw: str) -> str:
    """Lower-case ``raw`` and keep only letters (and combining marks).

    Linear in the input: the per-character Unicode lookup is done once per
    *distinct* character, then ``str.translate`` deletes the rest in C.
    """
    # lower() (not casefold()): it is what Meta specifies; casefold would turn
    # "ß" into "ss" and disagree with hashes computed elsewhere.
    text = raw.lower()
    if text.isascii():
        return _NOT_ASCII_LETTER.sub("", text)
    drop: dict[int, None] = {ord(ch): None for ch in set(text) if not _is_letter_or_mark(ch)}
    # NFC so that "José" typed with a combining accent hashes like the
    # precomposed form. It runs after the filter, which can bring combining
    # marks together, so that the result is canonical (and idempotent).
    return unicodedata.normalize("NFC", text.translate(drop))


def split_full_name(full_name: str) -> tuple[str, str]:
    """Split a full name on whitespace into (first token, remaining tokens).

    The remaining tokens are joined by one space; either part is ``""`` when
    there is nothing for it.
    """
    first, _, rest = " ".join(full_name.split()).partition(" ")
    return first, rest


def normalize_name(raw: str) -> str | None:
    """Normalize a first or last name: lower-case letters of any script only.

    Whitespace, punctuation, symbols and digits are removed (a name has no
    digits; Meta's examples drop them). ``None`` when nothing is left.
    """
    return _letters_only(raw) or None


def normalize_city(raw: str) -> str | None:
    """Normalize a city: lower-case, no whitespace, punctuation or digits.

    ``"St. Louis"`` -> ``"stlouis"``. Letters of any script are kept.
    ``None`` when nothing is left.
    """
    return _letters_only(raw) or None


def normalize_state(raw: str) -> str | None:
    """Normalize a state or province: lower-case letters only.

    A US state, district or territory written out in full (any case or
    spacing, e.g. ``"New  York"``, ``"District of Columbia"``) becomes its
    2-letter code; anything else is kept as its letters (``"CA"`` -> ``"ca"``).
    ``None`` when nothing is left.
    """
    letters = _letters_only(raw)
    if not letters:
        return None
    return US_STATE_CODES.get(letters, letters)


# ---------------------------------------------------------------------------
# Email


# local@domain.tld: one "@", no whitespace, a non-empty local part, non-empty
# dot-separated domain labels, and a top-level domain of at least two letters
# (any script, for IDN TLDs written in Unicode) or a punycode "xn--" label.
# Labels cannot contain "." or "@", so each repetition boundary is fixed and
# backtracking stays linear.
_EMAIL = re.compile(r"[^\s@]+@(?:[^\s@.]+\.)+(?:[^\W\d_]{2,}|xn--[a-z0-9-]+)")


def normalize_email(raw: str) -> str | None:
    """Normalize an email: trimmed and lower-cased, or ``None`` if malformed."""
    email = raw.strip().lower()
    if _EMAIL.fullmatch(email) is None:
        return None
    return email


# ---------------------------------------------------------------------------
# Phone


# Longer input is not a phone number; never hand it to phonenumbers.
_MAX_PHONE_CHARS = 64
# Unicode decimal digits (phonenumbers accepts them too, e.g. Arabic-Indic).
_DIGITS = re.compile(r"\d+")
_PLUS_SIGNS = ("+", "\uff0b")  # ASCII and full-width plus


def _digits_of(text: str) -> str:
    """Return the decimal digits of ``text`` as ASCII, in order."""
    digits = "".join(_DIGITS.findall(text))
    if digits.isascii():
        return digits
    return "".join(str(unicodedata.decimal(ch)) for ch in digits)


@functools.lru_cache(maxsize=4096)
def _e164_digits(text: str, region: str | None) -> str | None:
    """Parse ``text`` with phonenumbers; its E.164 digits, or ``None``.

    Accepted when the number is valid for its region or, failing that,
    possible with its full national length: valid first because metadata
    is exact; possible as a fallback because newly allocated ranges reach
    phonenumbers' metadata late. "Possible only as a local number" (a US
    7-digit number without area code) is rejected: its E.164 would be wrong.
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        reason = phonenumbers.is_possible_number_with_reason(number)
        if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
            return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164.lstrip("+")


def normalize_phone(raw: str, region: str | None) -> tuple[str, bool]:
    """Normalize a phone to digits with the country calling code.

    Returns ``(digits, ok)``: no ``+``, no leading zeros. A leading ``+`` or
    ``00`` means the calling code is present (``ok`` is True); phonenumbers
    is still consulted so an extension or a "(0)" trunk prefix is dropped,
    and the plain digits are used if it cannot parse them. Otherwise the
    number is parsed for ``region`` (ISO alpha-2) and its E.164 form used.
    When that fails (no region, unparseable, impossible, over 64 characters)
    the digits with leading zeros removed are returned with ``ok`` False;
    ``("", False)`` when there are no digits.
    """
    text = raw.strip()
    digits = _digits_of(text).lstrip("0")
    if not digits:
        return "", False
    if len(text) > _MAX_PHONE_CHARS:
        return digits, False
    if text.startswith(_PLUS_SIGNS):
        international: str | None = "+" + text[1:]
    elif text.startswith("00"):
        international = "+" + text[2:]
    else:
        international = None
    if international is not None:
        return _e164_digits(international, None) or digits, True
    if region is None:
        return digits, False
    e164 = _e164_digits(text, region.upper())
    if e164 is None:
        return digits, False
    return e164, True


# ---------------------------------------------------------------------------
# Zip / postal code


# The sender's separators: whitespace and hyphen (and its Unicode look-alikes,
# which a copy-paste from a word processor produces).
_ZIP_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_US_ZIP_SHAPE = re.compile(r"[0-9]{5}(?:-[0-9]{4})?")
_FIVE_DIGITS = re.compile(r"[0-9]{5}")


def normalize_zip(raw: str, country: str | None) -> str | None:
    """Normalize a zip or postal code: lower-case, no whitespace or ``-``.

    A US zip keeps only its first 5 digits: when ``country`` (alpha-2, any
    case) is US and the code starts with 5 digits, or, whatever the country,
    when it has the shape ``12345`` / ``12345-6789``. ``None`` when empty.
    """
    text = raw.strip()
    if _US_ZIP_SHAPE.fullmatch(text) is not None:
        return text[:5]
    cleaned = _ZIP_SEPARATORS.sub("", text.lower())
    if not cleaned:
        return None
    if country is not None and country.lower() == "us" and _FIVE_DIGITS.match(cleaned):
        return cleaned[:5]
    return cleaned


# ---------------------------------------------------------------------------
# Country


# No country name comes close; longer input is not looked up at all.
_MAX_COUNTRY_CHARS = 100
# "Holy See (Vatican City State)": the parenthetical part is optional.
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)")


def _country_key(name: str) -> str:
    """Return the lookup key for a country code or name.

    Accents stripped, case-folded, letters only: "Côte d'Ivoire",
    "cote divoire" and "COTE D'IVOIRE" share one key.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed.casefold() if ch.isalpha())


def _country_name_variants(name: str) -> list[str]:
    """Return ``name`` and the forms senders write instead of ISO's.

    ISO inverts some names ("Korea, Republic of") and adds parentheticals
    ("Holy See (Vatican City State)"); the natural-order and short forms
    map to the same country.
    """
    variants = [name]
    short = _PARENTHETICAL.sub("", name).strip()
    if short and short != name:
        variants.append(short)
    for variant in list(variants):
        head, sep, tail = variant.partition(", ")
        if sep and tail:
            variants.append(f"{tail} {head}")
    return variants


# Everyday English names and codes that ISO's data lacks (pycountry has "Russian
# Federation", "Türkiye", "Côte d'Ivoire"...). "UK" is exceptionally reserved in
# ISO 3166-1 for the United Kingdom. Only added where no ISO key exists.
_COUNTRY_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "UK": "gb",
        "Great Britain": "gb",
        "Russia": "ru",
        "Turkey": "tr",
        "Ivory Coast": "ci",
        "Vatican": "va",
        "Vatican City": "va",
        "Burma": "mm",
        "Swaziland": "sz",
        "Cape Verde": "cv",
        "East Timor": "tl",
        "Macau": "mo",
    }
)


def _build_countries() -> Mapping[str, str]:
    """Map every code and English name key to the lower-case alpha-2 code."""
    table: dict[str, str] = {}
    countries = list(pycountry.countries)
    # Precedence on a key clash: alpha-2, then alpha-3, then names.
    for country in countries:
        table.setdefault(_country_key(country.alpha_2), country.alpha_2.lower())
    for country in countries:
        table.setdefault(_country_key(country.alpha_3), country.alpha_2.lower())
    for country in countries:
        for attribute in ("name", "official_name", "common_name"):
            name = getattr(country, attribute, None)
            if not isinstance(name, str):
                continue
            for variant in _country_name_variants(name):
                key = _country_key(variant)
                if key:
                    table.setdefault(key, country.alpha_2.lower())
    for alias, code in _COUNTRY_ALIASES.items():
        table.setdefault(_country_key(alias), code)
    return MappingProxyType(table)


_COUNTRIES: Mapping[str, str] = _build_countries()


def normalize_country(raw: str) -> str | None:
    """Normalize a country to its ISO 3166-1 alpha-2 code, lower-case.

    Accepts alpha-2 and alpha-3 codes in any case and English names
    (ISO short, official and common names: "United States",
    "United States of America", "Germany"). ``None`` when unknown.
    """
    text = raw.strip()
    if not text or len(text) > _MAX_COUNTRY_CHARS:
        return None
    return _country_code(text)


@functools.lru_cache(maxsize=1024)
def _country_code(text: str) -> str | None:
    """The code of a trimmed country text (at most 100 characters), or ``None``.

    Cached: senders repeat a handful of countries, and each request reads the
    country trait twice (the phone region, then the hash).
    """
    code = _COUNTRIES.get(_country_key(text))
    # "The Netherlands", "the Gambia": ISO names drop the article.
    if code is None and text[:4].casefold() == "the ":
        code = _COUNTRIES.get(_country_key(text[4:]))
    return code


# ---------------------------------------------------------------------------
# Birthdate


# re.ASCII: only 0-9 are digits here (a date in another numeral system is not
# one of the listed formats). Day and month may be one digit (1/2/1990).
_YEAR_FIRST = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})", re.ASCII)
_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})", re.ASCII)
_SLASH_YEAR_LAST = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", re.ASCII)
_DOT_YEAR_LAST = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})", re.ASCII)
_MAX_DATE_CHARS = 32


def _yyyymmdd(year: int, month: int, day: int) -> str | None:
    # Calendar validity only (2023-02-30, month 13 are rejected); no
    # plausibility window, which would be a policy the spec does not state.
    try:
        date = datetime.date(year, month, day)
    except ValueError:
        return None
    return f"{date.year:04d}{date.month:02d}{date.day:02d}"


def normalize_birthdate(raw: str) -> str | None:
    """Normalize a birthdate to ``YYYYMMDD``.

    Accepts ``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYYMMDD``, ``MM/DD/YYYY``,
    ``DD/MM/YYYY`` (only when the first part is over 12; when both parts are
    12 or less it is read as ``MM/DD``) and ``DD.MM.YYYY``. Day and month may
    have one digit. ``None`` for any other text or an impossible date.
    """
    text = raw.strip()
    if len(text) > _MAX_DATE_CHARS:
        return None
    if (match := _YEAR_FIRST.fullmatch(text)) is not None:
        return _yyyymmdd(int(match[1]), int(match[3]), int(match[4]))
    if (match := _COMPACT.fullmatch(text)) is not None:
        return _yyyymmdd(int(match[1]), int(match[2]), int(match[3]))
    if (match := _SLASH_YEAR_LAST.fullmatch(text)) is not None:
        first, second = int(match[1]), int(match[2])
        if first > 12:
            return _yyyymmdd(int(match[3]), second, first)
        return _yyyymmdd(int(match[3]), first, second)
    if (match := _DOT_YEAR_LAST.fullmatch(text)) is not None:
        return _yyyymmdd(int(match[3]), int(match[2]), int(match[1]))
    return None


# ---------------------------------------------------------------------------
# user_data


# Why a value of each simple trait could not be normalized (no trait value
# in these messages: traits are PII).
_SIMPLE_TRAITS: Mapping[str, tuple[Callable[[str], str | None], str]] = MappingProxyType(
    {
        "email": (
            normalize_email,
            "is not a valid email address (local@domain.tld)",
        ),
        "first_name": (
            normalize_name,
            "has no letters left after removing whitespace, punctuation and digits",
        ),
        "last_name": (
            normalize_name,
            "has no letters left after removing whitespace, punctuation and digits",
        ),
        "birthdate": (
            normalize_birthdate,
            "is not a valid date in a supported format (YYYY-MM-DD, YYYY/MM/DD, "
            "YYYYMMDD, MM/DD/YYYY, DD/MM/YYYY, DD.MM.YYYY)",
        ),
        "city": (
            normalize_city,
            "has no letters left after removing whitespace, punctuation and digits",
        ),
        "state": (
            normalize_state,
            "has no letters",
        ),
        "country": (
            normalize_country,
            "is not an ISO 3166-1 alpha-2 or alpha-3 code or an English country name",
        ),
    }
)

_NOT_HASHED = "; it was not hashed"


def _already_hashed(parameter: str) -> Diagnostic:
    return Diagnostic(
        DiagnosticCode.ALREADY_HASHED,
        parameter,
        f"{parameter} is already a SHA-256 hex digest; passed through lower-cased",
    )


def _invalid(parameter: str, rule: str) -> Diagnostic:
    return Diagnostic(DiagnosticCode.INVALID_TRAIT, parameter, f"{parameter} {rule}")


class _Builder:
    """Hashes one customer's traits, collecting diagnostics in trait order."""

    def __init__(self, parameters: Mapping[str, str]) -> None:
        self.parameters = parameters
        self.diagnostics: list[Diagnostic] = []

    def parameter(self, field: str) -> str:
        return self.parameters.get(field) or field

    def simple(self, field: str, value: str) -> str:
        """Hash a trait that has a one-argument normalizer."""
        if not value:
            return ""
        if is_sha256_hex(value):
            self.diagnostics.append(_already_hashed(self.parameter(field)))
            return value.lower()
        normalizer, rule = _SIMPLE_TRAITS[field]
        normalized = normalizer(value)
        if normalized is None:
            self.diagnostics.append(_invalid(self.parameter(field), rule + _NOT_HASHED))
            return ""
        return sha256_hex(normalized)

    def phone(self, value: str, region: str | None) -> str:
        if not value:
            return ""
        parameter = self.parameter("phone")
        if is_sha256_hex(value):
            self.diagnostics.append(_already_hashed(parameter))
            return value.lower()
        digits, ok = normalize_phone(value, region)
        if ok:
            return sha256_hex(digits)
        if not digits:
            self.diagnostics.append(_invalid(parameter, "contains no digits" + _NOT_HASHED))
            return ""
        if len(value) > _MAX_PHONE_CHARS:
            rule = f"is longer than {_MAX_PHONE_CHARS} characters and was not parsed"
        elif region is None:
            rule = (
                "has no country calling code ('+' or '00') and no valid country "
                "trait to infer it from"
            )
        else:
            rule = "is not a possible phone number for the country trait"
        self.diagnostics.append(
            _invalid(parameter, rule + "; its digits were hashed without a country code")
        )
        return sha256_hex(digits)

    def zipcode(self, value: str, country: str | None) -> str:
        if not value:
            return ""
        parameter = self.parameter("zipcode")
        if is_sha256_hex(value):
            self.diagnostics.append(_already_hashed(parameter))
            return value.lower()
        normalized = normalize_zip(value, country)
        if normalized is None:
            self.diagnostics.append(
                _invalid(parameter, "is empty after removing whitespace and '-'" + _NOT_HASHED)
            )
            return ""
        return sha256_hex(normalized)


def build_user_data(
    customer: Customer, parameters: Mapping[str, str]
) -> tuple[UserData, list[Diagnostic]]:
    """Normalize and hash every customer trait into ``user_data``.

    ``customer`` holds the trimmed raw trait values (``""`` when absent).
    ``parameters`` maps a customer field name (``"email"``, ``"first_name"``,
    ...) to the parameter name as sent, for the diagnostics; it defaults to
    the field name. A 64-hex-character value is passed through lower-cased
    with ``ALREADY_HASHED``; a value that cannot be normalized is left empty
    with ``INVALID_TRAIT`` (a phone without a known calling code is hashed as
    its digits, also with ``INVALID_TRAIT``). Messages never contain values.
    """
    builder = _Builder(parameters)
    # The country trait, once normalized, is the region for the phone and
    # tells whether the zip is a US one. A hashed or unknown country gives
    # neither.
    country_value = customer.country.strip()
    country_code = None if is_sha256_hex(country_value) else normalize_country(country_value)
    region = country_code.upper() if country_code else None

    em = builder.simple("email", customer.email.strip())
    ph = builder.phone(customer.phone.strip(), region)
    fn = builder.simple("first_name", customer.first_name.strip())
    ln = builder.simple("last_name", customer.last_name.strip())
    db = builder.simple("birthdate", customer.birthdate.strip())
    ct = builder.simple("city", customer.city.strip())
    st = builder.simple("state", customer.state.strip())
    zp = builder.zipcode(customer.zipcode.strip(), country_code)
    country = builder.simple("country", country_value)
    user_data = UserData(em=em, ph=ph, fn=fn, ln=ln, db=db, ct=ct, st=st, zp=zp, country=country)
    return user_data, builder.diagnostics
