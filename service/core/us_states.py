"""US state, district and territory names mapped to their 2-letter codes.

The table is derived from pycountry's ISO 3166-2 data for ``US`` (the 50
states, the District of Columbia and the outlying areas) rather than typed by
hand, so it follows the maintained standard. It is built once at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pycountry


def state_name_key(name: str) -> str:
    """Return the lookup key for a state name: lower-case letters only.

    ``"New  York"``, ``"new-york"`` and ``"NEW YORK"`` all give ``"newyork"``,
    so the sender's case, spacing and punctuation never matter.
    """
    return "".join(ch for ch in name.lower() if ch.isalpha())


def _name_variants(name: str) -> list[str]:
    """Return ``name`` plus its natural-order form when ISO inverts it.

    ISO writes some names as ``"Virgin Islands, U.S."``; senders write
    ``"U.S. Virgin Islands"``. Both spellings must map to the same code.
    """
    variants = [name]
    head, sep, tail = name.partition(", ")
    if sep and tail:
        variants.append(f"{tail} {head}")
    return variants


def _build() -> Mapping[str, str]:
    table: dict[str, str] = {}
    # Iterating (rather than ``subdivisions.get``, which is untyped) costs one
    # pass over a few thousand records, once, at import.
    for subdivision in pycountry.subdivisions:
        if subdivision.country_code != "US":
            continue
        # Codes look like "US-CA"; the part after the dash is the postal code.
        code = str(subdivision.code).partition("-")[2].lower()
        if len(code) != 2:
            continue
        for variant in _name_variants(str(subdivision.name)):
            table.setdefault(state_name_key(variant), code)
    return MappingProxyType(table)


# Lookup key (see ``state_name_key``) -> lower-case 2-letter code.
US_STATE_CODES: Mapping[str, str] = _build()
