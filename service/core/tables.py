"""Parameter names and mappings, declared once as data and compiled at import.

Each table maps a canonical field to its accepted names in priority order:
the first alias in the list with a usable value wins, whatever order the
sender used. Flexible names compare after lower-casing and removing ``_`` and
``-``; exact names compare as sent.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from service.core.model import StandardEvent

# Core fields, matched flexibly (seed: "case is ignored, and underscores and
# hyphens are stripped").
CORE_FIELDS: Final = MappingProxyType(
    {
        "click_id": ("click_id", "clickid", "click"),
        "ref_id": ("ref_id", "refid", "ref"),
        "value": (
            "value",
            "commission",
            "amount",
            "revenue",
            "total",
            "total_value",
            "event_value",
        ),
        "currency": ("currency", "cur", "curr"),
        "event_name": ("event_name", "eventname", "event"),
        "transaction_id": ("transaction_id", "transactionid", "transaction"),
        "brand_name": ("brand_name", "brandname", "brand"),
        "timestamp": ("timestamp", "time", "date", "datetime", "created_at"),
        "items": ("items", "line_items", "products"),
    }
)

# Customer traits, matched exactly as written (seed: Customer Traits).
TRAITS: Final = MappingProxyType(
    {
        "email": ("email",),
        "first_name": ("first_name", "firstName"),
        "last_name": ("last_name", "lastName"),
        "full_name": ("full_name", "fullName", "name"),
        "phone": ("phone",),
        "birthdate": ("birthdate",),
        "city": ("city",),
        "state": ("state",),
        "zipcode": ("zipcode",),
        "country": ("country",),
    }
)

# Fields of one item, matched flexibly (SPEC §7).
ITEM_FIELDS: Final = MappingProxyType(
    {
        "id": ("id", "product_id", "item_id"),
        "name": ("name", "title", "label", "product_name", "item_name"),
        "variant": ("variant", "variant_id", "product_variant", "item_variant"),
        "price": ("price", "product_price", "item_price"),
        "quantity": ("qty", "quantity", "product_quantity", "item_quantity"),
    }
)

CONVERSION_TYPE_PARAMETER: Final = "conversion_type"
PASSTHROUGH_PREFIX: Final = "xat_"
MAX_PASSTHROUGH: Final = 5
MAX_ITEMS: Final = 1000
# The alias whose positive value makes an unclassified conversion a Purchase.
COMMISSION: Final = "commission"

# conversion_type values (matched case-insensitively) → standard event.
CONVERSION_TYPES: Final = MappingProxyType(
    {
        StandardEvent.OUTBOUND_CLICK: ("click", "outbound_click", "outboundclick"),
        StandardEvent.FORM_SUBMIT: ("form_submit", "formsubmit"),
        StandardEvent.LEAD: ("lead", "cpl"),
        StandardEvent.COMPLETE_REGISTRATION: (
            "registration",
            "complete_registration",
            "completeregistration",
            "acquisition",
            "cpa",
        ),
        StandardEvent.PURCHASE: ("purchase", "sale", "cps"),
    }
)

# The event name each standard event is recorded as.
EVENT_NAMES: Final = MappingProxyType(
    {
        StandardEvent.OUTBOUND_CLICK: "OutboundClick",
        StandardEvent.FORM_SUBMIT: "FormSubmit",
        StandardEvent.LEAD: "Lead",
        StandardEvent.COMPLETE_REGISTRATION: "CompleteRegistration",
        StandardEvent.PURCHASE: "Purchase",
    }
)

_FLEXIBLE_STRIP: Final = str.maketrans("", "", "_-")


def flexible(name: str) -> str:
    """The comparison form of a flexibly matched name."""
    return name.lower().translate(_FLEXIBLE_STRIP)


def _compile_flexible(
    table: MappingProxyType[str, tuple[str, ...]],
) -> dict[str, tuple[str, int]]:
    """Flexible alias → (canonical field, priority); refuses ambiguous tables."""
    compiled: dict[str, tuple[str, int]] = {}
    for canonical, aliases in table.items():
        for rank, alias in enumerate(aliases):
            key = flexible(alias)
            if key in compiled and compiled[key][0] != canonical:
                raise ValueError(f"alias {alias!r} maps to {compiled[key][0]} and {canonical}")
            compiled.setdefault(key, (canonical, rank))
    return compiled


def _compile_exact(
    table: MappingProxyType[str, tuple[str, ...]],
) -> dict[str, tuple[str, int]]:
    """Exact alias → (canonical field, priority); refuses ambiguous tables."""
    compiled: dict[str, tuple[str, int]] = {}
    for canonical, aliases in table.items():
        for rank, alias in enumerate(aliases):
            if alias in compiled:
                raise ValueError(f"alias {alias!r} maps to {compiled[alias][0]} and {canonical}")
            compiled[alias] = (canonical, rank)
    return compiled


# Lookup dicts used on the hot path.
CORE_LOOKUP: Final = _compile_flexible(CORE_FIELDS)
TRAIT_LOOKUP: Final = _compile_exact(TRAITS)
ITEM_LOOKUP: Final = _compile_flexible(ITEM_FIELDS)
CONVERSION_TYPE_LOOKUP: Final = {
    value: event for event, values in CONVERSION_TYPES.items() for value in values
}
