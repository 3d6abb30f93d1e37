"""From decoded parameters to a conversion: the rules of SPEC §2–§8 in order.

The flow is one pass that sorts every parameter into the field it may feed
(:func:`_sort_parameters`), then one small step per field that picks the
winning candidate and reads it. Every parameter that is not used leaves a
diagnostic behind.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

from service.core import tables
from service.core.decode import JsonError, decode, parse_json_text
from service.core.model import (
    Classification,
    ClassificationSource,
    ClassifyResult,
    Context,
    Conversion,
    Customer,
    Diagnostic,
    DiagnosticCode,
    EventTimeSource,
    Item,
    JsonNumber,
    JsonObject,
    MatchKeyType,
    Param,
    Payload,
    Rejection,
    RejectionReason,
    Result,
    StandardEvent,
    UserData,
    Value,
)
from service.core.timestamps import InvalidTimestamp, parse_timestamp
from service.core.traits import build_user_data, split_full_name
from service.core.values import (
    InvalidValue,
    is_unfilled_macro,
    normalize_currency,
    parse_decimal,
    parse_quantity,
)

# items[0][price] and its flexible spellings (Items[0][item-price]).
_BRACKET_ITEM: Final = re.compile(r"([A-Za-z_-]{1,32})\[(\d{1,9})\]\[([^\[\]]{1,64})\]")
# Names a sender may have meant when an exactly matched name arrives in another spelling.
_EXACT_HINTS: Final = {
    tables.flexible(name): name for name in (*tables.TRAIT_LOOKUP, tables.CONVERSION_TYPE_PARAMETER)
}
_MAX_QUOTED: Final = 40
# Names longer than this are routed without the caches: a hostile sender could
# otherwise fill them with megabyte-long names.
_MAX_CACHED_NAME: Final = 128


@dataclass(slots=True)
class _Candidate:
    """One parameter that may supply a field."""

    rank: int
    position: int
    name: str
    value: Value


@dataclass(slots=True)
class _Sorted:
    """Every parameter, filed under what it may supply."""

    core: dict[str, list[_Candidate]] = field(default_factory=dict)
    traits: dict[str, list[_Candidate]] = field(default_factory=dict)
    conversion_type: list[_Candidate] = field(default_factory=list)
    passthrough: list[Param] = field(default_factory=list)
    # (items alias rank, index) → [(field name as sent, value, parameter name)]
    bracket_items: dict[tuple[int, int], list[tuple[str, Value, str]]] = field(default_factory=dict)
    # items alias rank → (position, name) of its first bracket parameter
    bracket_positions: dict[int, tuple[int, str]] = field(default_factory=dict)


@dataclass(slots=True)
class _Picked:
    """The candidate chosen for a field, already turned into text."""

    name: str
    text: str


def quote(text: str) -> str:
    """A short, safe rendering of a sent value for a message."""
    if len(text) > _MAX_QUOTED:
        text = text[:_MAX_QUOTED] + "…"
    return repr(text)


def scalar_text(value: Value) -> str | None:
    """A scalar as text (numbers exact, booleans as true/false); None otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return None


@lru_cache(maxsize=4096)
def _route(name: str) -> tuple[str, str, int]:
    """Where a parameter name belongs: (kind, canonical field, alias rank).

    Kinds: ``trait``, ``conversion_type``, ``passthrough``, ``core``,
    ``bracket`` (canonical is empty; the caller parses the name) and
    ``unknown``. Cached because senders repeat the same few names.
    """
    trait = tables.TRAIT_LOOKUP.get(name)
    if trait is not None:
        return ("trait", trait[0], trait[1])
    if name == tables.CONVERSION_TYPE_PARAMETER:
        return ("conversion_type", name, 0)
    if name.startswith(tables.PASSTHROUGH_PREFIX) and len(name) > len(tables.PASSTHROUGH_PREFIX):
        return ("passthrough", name, 0)
    core = tables.CORE_LOOKUP.get(tables.flexible(name))
    if core is not None:
        return ("core", core[0], core[1])
    match = _BRACKET_ITEM.fullmatch(name)
    if match is not None:
        items = tables.CORE_LOOKUP.get(tables.flexible(match.group(1)))
        if items is not None and items[0] == "items":
            return ("bracket", "", items[1])
    return ("unknown", "", 0)


@lru_cache(maxsize=1024)
def _item_field(key: str) -> tuple[str, int] | None:
    """The (item field, alias rank) an item key supplies; cached like :func:`_route`."""
    return tables.ITEM_LOOKUP.get(tables.flexible(key))


def _unknown(name: str) -> Diagnostic:
    hint = _EXACT_HINTS.get(tables.flexible(name))
    message = f"Parameter {quote(name)} is not recognized; its value was not used."
    if hint is not None:
        message += f" Did you mean {hint!r}? That name is matched exactly."
    return Diagnostic(DiagnosticCode.UNKNOWN_PARAMETER, name, message)


def _sort_parameters(params: Iterable[Param], diagnostics: list[Diagnostic]) -> _Sorted:
    """File every parameter under the field it may supply (SPEC §2)."""
    found = _Sorted()
    for position, (name, value) in enumerate(params):
        if len(name) <= _MAX_CACHED_NAME:
            kind, canonical, rank = _route(name)
        else:
            kind, canonical, rank = _route.__wrapped__(name)
        if kind == "core":
            found.core.setdefault(canonical, []).append(_Candidate(rank, position, name, value))
        elif kind == "trait":
            found.traits.setdefault(canonical, []).append(_Candidate(rank, position, name, value))
        elif kind == "passthrough":
            found.passthrough.append((name, value))
        elif kind == "conversion_type":
            found.conversion_type.append(_Candidate(0, position, name, value))
        elif kind == "bracket":
            match = _BRACKET_ITEM.fullmatch(name)
            assert match is not None  # _route matched it
            key = (rank, int(match.group(2)))
            found.bracket_items.setdefault(key, []).append((match.group(3), value, name))
            found.bracket_positions.setdefault(rank, (position, match.group(1)))
        else:
            diagnostics.append(_unknown(name))
    return found


def _pick(
    candidates: list[_Candidate] | None,
    diagnostics: list[Diagnostic],
    *,
    field_name: str,
) -> _Picked | None:
    """The first usable candidate in alias order, then parameter order.

    Unfilled macros count as absent; a non-scalar (object or array) is taken
    but cannot be read, so the field stays absent. Candidates left behind
    with a value are reported as ignored.
    """
    if not candidates:
        return None
    if len(candidates) > 1:
        candidates = sorted(candidates, key=lambda c: (c.rank, c.position))
    chosen: _Picked | None = None
    decided = False
    for candidate in candidates:
        text = scalar_text(candidate.value)
        if decided:
            if text is not None and is_unfilled_macro(text.strip()):
                # A macro is worth reporting as such wherever it sits: it
                # tells the sender which template placeholder is not filled.
                diagnostics.append(_macro(candidate.name, text.strip()))
            elif candidate.value is not None and (text is None or text.strip()):
                diagnostics.append(
                    Diagnostic(
                        DiagnosticCode.IGNORED_PARAMETER,
                        candidate.name,
                        f"{candidate.name!r} was not used: {field_name} was already read "
                        f"from {chosen.name if chosen else 'an earlier parameter'!r}.",
                    )
                )
            continue
        if text is None:
            if candidate.value is None:
                continue
            diagnostics.append(
                Diagnostic(
                    DiagnosticCode.INVALID_VALUE,
                    candidate.name,
                    f"{candidate.name!r} holds an object or array where {field_name} "
                    "expects text or a number; the field was left unset.",
                )
            )
            decided = True
            continue
        stripped = text.strip()
        if not stripped:
            continue
        if is_unfilled_macro(stripped):
            diagnostics.append(_macro(candidate.name, stripped))
            continue
        chosen = _Picked(candidate.name, stripped)
        decided = True
    return chosen


def _macro(name: str, text: str) -> Diagnostic:
    return Diagnostic(
        DiagnosticCode.UNFILLED_MACRO,
        name,
        f"{quote(name)} holds the unfilled macro {quote(text)}; it counted as absent.",
    )


def _classify(found: _Sorted, diagnostics: list[Diagnostic]) -> Classification:
    """SPEC §5: event_name, else conversion_type, else commission > 0."""
    event = _pick(found.core.get("event_name"), diagnostics, field_name="event_name")
    conversion_type = _pick(found.conversion_type, diagnostics, field_name="conversion_type")
    if event is not None:
        if conversion_type is not None:
            diagnostics.append(
                Diagnostic(
                    DiagnosticCode.IGNORED_PARAMETER,
                    conversion_type.name,
                    f"conversion_type was not used: {event.name!r} names the event.",
                )
            )
        return Classification(
            event.text, StandardEvent.UNSPECIFIED, ClassificationSource.EVENT_NAME
        )
    if conversion_type is not None:
        standard = tables.CONVERSION_TYPE_LOOKUP.get(conversion_type.text.lower())
        if standard is None:
            raise Rejection(
                RejectionReason.UNKNOWN_CONVERSION_TYPE,
                f"Unknown conversion_type: {conversion_type.text[:64]}",
                field="payload",
                metadata={"conversionType": conversion_type.text[:64]},
            )
        return Classification(
            tables.EVENT_NAMES[standard], standard, ClassificationSource.CONVERSION_TYPE
        )
    standard = StandardEvent.LEAD
    commission = [
        c for c in found.core.get("value", ()) if tables.flexible(c.name) == tables.COMMISSION
    ]
    picked = _pick(commission, [], field_name="commission")
    if picked is not None:
        try:
            amount, _ = parse_decimal(picked.text)
        except InvalidValue:
            amount = ""
        if amount and not amount.startswith("-") and amount != "0":
            standard = StandardEvent.PURCHASE
    return Classification(tables.EVENT_NAMES[standard], standard, ClassificationSource.AUTOMATIC)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def classify(payload: Payload) -> ClassifyResult:
    """Which event a payload becomes (SPEC §5); no identity is required."""
    decoded = decode(payload)
    diagnostics = list(decoded.diagnostics)
    found = _sort_parameters(decoded.params, diagnostics)
    return ClassifyResult(_classify(found, diagnostics), tuple(diagnostics))


def normalize(
    payload: Payload,
    context: Context,
    *,
    default_currency: str,
    received: datetime,
) -> Result:
    """Normalize one payload (SPEC §2–§8).

    ``default_currency`` is the server's default, used when the context has
    none; ``received`` is the server's clock when the request arrived, used
    when the context has no received time. Raises :class:`Rejection`.
    """
    decoded = decode(payload)
    diagnostics = list(decoded.diagnostics)
    found = _sort_parameters(decoded.params, diagnostics)

    click = _pick(found.core.get("click_id"), diagnostics, field_name="click_id")
    ref = _pick(found.core.get("ref_id"), diagnostics, field_name="ref_id")
    traits = {
        canonical: _pick(candidates, diagnostics, field_name=canonical)
        for canonical, candidates in found.traits.items()
    }
    email = traits.get("email")
    if click is not None:
        match_type, match_value = MatchKeyType.CLICK_ID, click.text
    elif ref is not None:
        match_type, match_value = MatchKeyType.REF_ID, ref.text
    elif email is not None:
        match_type, match_value = MatchKeyType.EMAIL, email.text.lower()
    else:
        raise Rejection(
            RejectionReason.MISSING_MATCH_KEY,
            "Missing click_id, ref_id and email: send at least one of them with a usable value.",
            field="payload",
            metadata={"acceptedParameters": "click_id, clickid, click, ref_id, refid, ref, email"},
        )

    classification = _classify(found, diagnostics)
    value, value_parameter, embedded_currency = _read_value(found, diagnostics)
    default, default_problem = _default_currency(context.default_currency, default_currency)
    currency, defaulted = _read_currency(found, diagnostics, embedded_currency, default)
    if defaulted and default_problem is not None:
        diagnostics.append(default_problem)
    customer, sources = _read_customer(traits)
    if sources:
        user_data, trait_diagnostics = build_user_data(customer, sources)
        diagnostics.extend(trait_diagnostics)
    else:
        # No trait was sent: nothing to normalize or hash.
        user_data = _NO_USER_DATA
    items = _read_items(found, diagnostics)
    passthrough = _read_passthrough(found.passthrough, diagnostics)
    transaction = _pick(found.core.get("transaction_id"), diagnostics, field_name="transaction_id")
    brand = _pick(found.core.get("brand_name"), diagnostics, field_name="brand_name")
    event_time, time_source = _read_time(found, diagnostics, context.received_time or received)
    transaction_id = transaction.text if transaction else ""
    dedup_key = ""
    if transaction_id:
        dedup_key = _sha256(
            "\x1f".join(
                (
                    context.account_id,
                    context.integration_slug,
                    classification.event_name,
                    transaction_id,
                )
            )
        )
    conversion = Conversion(
        event_name=classification.event_name,
        standard_event=classification.standard_event,
        classified_by=classification.classified_by,
        match_key_type=match_type,
        match_key_value=match_value,
        click_id=click.text if click else "",
        ref_id=ref.text if ref else "",
        email=email.text if email else "",
        value=value,
        value_parameter=value_parameter,
        currency=currency,
        currency_defaulted=defaulted,
        transaction_id=transaction_id,
        brand_name=brand.text if brand else "",
        event_time=event_time,
        event_time_source=time_source,
        customer=customer,
        user_data=user_data,
        items=items,
        passthrough=passthrough,
        dedup_key=dedup_key,
    )
    return Result(conversion, tuple(diagnostics))


def _read_value(found: _Sorted, diagnostics: list[Diagnostic]) -> tuple[str, str, str | None]:
    """SPEC §4: (exact decimal, parameter name, ISO code carried by the value)."""
    picked = _pick(found.core.get("value"), diagnostics, field_name="value")
    if picked is None:
        return "", "", None
    try:
        amount, code = parse_decimal(picked.text)
    except InvalidValue as error:
        diagnostics.append(
            Diagnostic(
                DiagnosticCode.INVALID_VALUE,
                picked.name,
                f"{picked.name!r} is not a usable amount ({error}); the value was left unset.",
            )
        )
        # Nothing was read, so no parameter is named (the diagnostic names it).
        return "", "", None
    return amount, picked.name, code


def _read_currency(
    found: _Sorted,
    diagnostics: list[Diagnostic],
    embedded: str | None,
    default: str,
) -> tuple[str, bool]:
    """SPEC §4: the currency parameter, else the value's code, else the default."""
    picked = _pick(found.core.get("currency"), diagnostics, field_name="currency")
    if picked is not None:
        code = normalize_currency(picked.text)
        if code is not None:
            return code, False
        diagnostics.append(
            Diagnostic(
                DiagnosticCode.INVALID_CURRENCY,
                picked.name,
                f"{picked.name!r} is not an ISO 4217 code ({quote(picked.text)}); "
                f"the default currency {default} applied.",
            )
        )
        return default, True
    if embedded is not None:
        return embedded, False
    return default, True


def _default_currency(context_default: str, server_default: str) -> tuple[str, Diagnostic | None]:
    """The context's default currency (trimmed, upper-cased), else the server's.

    An unusable context default falls back to the server's, with a diagnostic
    the caller reports only when the default is actually applied.
    """
    if not context_default.strip():
        return server_default, None
    code = normalize_currency(context_default)
    if code is not None:
        return code, None
    return server_default, Diagnostic(
        DiagnosticCode.INVALID_CURRENCY,
        _CONTEXT_DEFAULT_CURRENCY,
        f"{_CONTEXT_DEFAULT_CURRENCY} is not an ISO 4217 code ({quote(context_default)}); "
        f"the server default currency {server_default} applied.",
    )


_CONTEXT_DEFAULT_CURRENCY: Final = "context.default_currency"


# Shared by every conversion without traits (frozen, so sharing is safe).
_NO_CUSTOMER: Final = Customer()
_NO_USER_DATA: Final = UserData()


def _read_customer(traits: dict[str, _Picked | None]) -> tuple[Customer, dict[str, str]]:
    """SPEC §6: trimmed traits; full_name fills an absent first or last name."""
    values = {name: picked.text for name, picked in traits.items() if picked is not None}
    if not values:
        return _NO_CUSTOMER, {}
    sources = {name: picked.name for name, picked in traits.items() if picked is not None}
    full = values.get("full_name")
    if full and not (values.get("first_name") and values.get("last_name")):
        first, last = split_full_name(full)
        if first and "first_name" not in values:
            values["first_name"] = first
            sources["first_name"] = sources["full_name"]
        if last and "last_name" not in values:
            values["last_name"] = last
            sources["last_name"] = sources["full_name"]
    return Customer(**values), sources


def _read_time(
    found: _Sorted, diagnostics: list[Diagnostic], received: datetime
) -> tuple[datetime, EventTimeSource]:
    """SPEC §7: the timestamp parameter, else the received time."""
    picked = _pick(found.core.get("timestamp"), diagnostics, field_name="timestamp")
    if picked is None:
        return received, EventTimeSource.RECEIVED
    try:
        parsed = parse_timestamp(picked.text)
    except InvalidTimestamp as error:
        diagnostics.append(
            Diagnostic(
                DiagnosticCode.INVALID_TIMESTAMP,
                picked.name,
                f"{picked.name!r} is not a usable time ({error}); the received time was used.",
            )
        )
        return received, EventTimeSource.RECEIVED
    if parsed.milliseconds:
        diagnostics.append(
            Diagnostic(
                DiagnosticCode.TIMESTAMP_MILLISECONDS,
                picked.name,
                f"{picked.name!r} was read as milliseconds since the epoch.",
            )
        )
    return parsed.time, EventTimeSource.PAYLOAD


def _passthrough_text(value: Value) -> str | None:
    """Strings as is, numbers and booleans as text, objects and arrays as compact JSON."""
    text = scalar_text(value)
    if text is not None or value is None:
        return text
    return compact_json(value)


def compact_json(value: Value) -> str:
    """Compact JSON text of a decoded value (numbers as sent, key order kept)."""
    parts: list[str] = []

    def write(node: Value) -> None:
        if isinstance(node, JsonNumber):
            parts.append(str.__str__(node))
        elif isinstance(node, str):
            parts.append(json.dumps(node, ensure_ascii=False))
        elif isinstance(node, bool):
            parts.append("true" if node else "false")
        elif node is None:
            parts.append("null")
        elif isinstance(node, JsonObject):
            parts.append("{")
            for index, (key, item) in enumerate(node):
                if index:
                    parts.append(",")
                parts.append(json.dumps(key, ensure_ascii=False))
                parts.append(":")
                write(item)
            parts.append("}")
        else:
            parts.append("[")
            for index, item in enumerate(node):
                if index:
                    parts.append(",")
                write(item)
            parts.append("]")

    write(value)
    return "".join(parts)


def _read_passthrough(params: list[Param], diagnostics: list[Diagnostic]) -> dict[str, str]:
    """SPEC §7: the first five distinct xat_ keys with a usable value."""
    kept: dict[str, str] = {}
    for name, value in params:
        text = _passthrough_text(value)
        if text is None or not text.strip():
            continue
        if is_unfilled_macro(text.strip()):
            diagnostics.append(_macro(name, text.strip()))
            continue
        key = name[len(tables.PASSTHROUGH_PREFIX) :]
        if key in kept:
            diagnostics.append(
                Diagnostic(
                    DiagnosticCode.IGNORED_PARAMETER,
                    name,
                    f"{quote(name)} repeats a passthrough key already kept; the first value stays.",
                )
            )
        elif len(kept) >= tables.MAX_PASSTHROUGH:
            diagnostics.append(
                Diagnostic(
                    DiagnosticCode.PASSTHROUGH_DROPPED,
                    name,
                    f"{quote(name)} was dropped: at most {tables.MAX_PASSTHROUGH} passthrough "
                    "parameters are kept.",
                )
            )
        else:
            kept[key] = text
    return kept


def _read_items(found: _Sorted, diagnostics: list[Diagnostic]) -> tuple[Item, ...]:
    """SPEC §7: items from a JSON array, a JSON string or bracket notation.

    Bracket notation competes like any other occurrence of its items alias,
    at the position of its first parameter.
    """
    candidates = list(found.core.get("items", ()))
    for rank, (position, name) in found.bracket_positions.items():
        candidates.append(_Candidate(rank, position, name, _bracket_rows(found, rank, name)))
    candidates.sort(key=lambda c: (c.rank, c.position))
    source = ""
    rows: list[Value] | None = None
    for candidate in candidates:
        if rows is not None:
            if candidate.value is not None and candidate.value != "":
                diagnostics.append(_ignored_items(candidate.name, source))
            continue
        rows = _items_array(candidate, diagnostics)
        source = candidate.name
    if not rows:
        return ()
    if len(rows) > tables.MAX_ITEMS:
        diagnostics.append(
            Diagnostic(
                DiagnosticCode.ITEMS_TRUNCATED,
                source,
                f"{len(rows)} items were sent; the first {tables.MAX_ITEMS} were kept.",
            )
        )
        rows = rows[: tables.MAX_ITEMS]
    items = []
    for index, row in enumerate(rows):
        item = _read_item(source, index, row, diagnostics)
        if item is not None:
            items.append(item)
    return tuple(items)


def _ignored_items(name: str, source: str) -> Diagnostic:
    return Diagnostic(
        DiagnosticCode.IGNORED_PARAMETER,
        name,
        f"{name!r} was not used: items were already read from {source!r}.",
    )


def _items_array(candidate: _Candidate, diagnostics: list[Diagnostic]) -> list[Value] | None:
    """The rows a candidate holds (parsing a JSON string); None when absent.

    A candidate that is present but unreadable yields ``[]``: it was the
    chosen occurrence, so later ones are not consulted (SPEC §2).
    """
    value = candidate.value
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if is_unfilled_macro(text):
            diagnostics.append(_macro(candidate.name, text))
            return None
        try:
            value = parse_json_text(text)
        except JsonError as error:
            diagnostics.append(
                Diagnostic(
                    DiagnosticCode.INVALID_VALUE,
                    candidate.name,
                    f"{candidate.name!r} is not a JSON array of items ({error}); "
                    "no items were read from it.",
                )
            )
            return []
    if isinstance(value, list) and not isinstance(value, JsonObject):
        return value
    diagnostics.append(
        Diagnostic(
            DiagnosticCode.INVALID_VALUE,
            candidate.name,
            f"{candidate.name!r} must be an array of item objects; no items were read from it.",
        )
    )
    return []


class _BracketRow(JsonObject):
    """One item sent in bracket notation, with the parameter names its fields came from.

    Diagnostics name what was sent (``items[3][sku]``, ``items[3]``), not a
    position in the rebuilt array.
    """

    __slots__ = ("label", "sent_names")

    def __init__(self, label: str, fields: list[tuple[str, Value, str]]) -> None:
        super().__init__((name, value) for name, value, _ in fields)
        self.label = label
        self.sent_names = [sent for _, _, sent in fields]


def _bracket_rows(found: _Sorted, rank: int, alias: str) -> list[Value]:
    """Rows of bracket notation for one items alias, ordered by index."""
    rows: list[Value] = []
    for key in sorted(k for k in found.bracket_items if k[0] == rank):
        rows.append(_BracketRow(f"{alias}[{key[1]}]", found.bracket_items[key]))
    return rows


def _read_item(source: str, index: int, row: Value, diagnostics: list[Diagnostic]) -> Item | None:
    """One item object; fields matched flexibly, unknown ones reported."""
    where = row.label if isinstance(row, _BracketRow) else f"{source}[{index}]"
    if not isinstance(row, JsonObject):
        diagnostics.append(
            Diagnostic(
                DiagnosticCode.INVALID_VALUE,
                where,
                f"{where} is not an object; the item was dropped.",
            )
        )
        return None
    fields: dict[str, list[_Candidate]] = {}
    for position, (key, value) in enumerate(row):
        sent = row.sent_names[position] if isinstance(row, _BracketRow) else f"{where}.{key}"
        match = _item_field(key) if len(key) <= _MAX_CACHED_NAME else _item_field.__wrapped__(key)
        if match is None:
            diagnostics.append(
                Diagnostic(
                    DiagnosticCode.UNKNOWN_PARAMETER,
                    sent,
                    f"Item field {quote(key)} is not recognized; its value was not used.",
                )
            )
            continue
        fields.setdefault(match[0], []).append(_Candidate(match[1], position, sent, value))
    if not fields:
        diagnostics.append(
            Diagnostic(
                DiagnosticCode.INVALID_VALUE,
                where,
                f"{where} has no recognized field; the item was dropped.",
            )
        )
        return None
    picked = {
        name: _pick(candidates, diagnostics, field_name=f"item {name}")
        for name, candidates in fields.items()
    }
    price = ""
    if (price_pick := picked.get("price")) is not None:
        try:
            price, _ = parse_decimal(price_pick.text)
        except InvalidValue as error:
            diagnostics.append(
                Diagnostic(
                    DiagnosticCode.INVALID_VALUE,
                    price_pick.name,
                    f"{price_pick.name!r} is not a usable price ({error}); it was left unset.",
                )
            )
    quantity = None
    if (quantity_pick := picked.get("quantity")) is not None:
        try:
            quantity = parse_quantity(quantity_pick.text)
        except InvalidValue as error:
            diagnostics.append(
                Diagnostic(
                    DiagnosticCode.INVALID_VALUE,
                    quantity_pick.name,
                    f"{quantity_pick.name!r} is not a whole number of units ({error}); "
                    "it was left unset.",
                )
            )
    texts = {name: p.text for name, p in picked.items() if p is not None and name in _ITEM_TEXT}
    if not texts and not price and quantity is None:
        # Recognized fields that were all blank, macros or unreadable: an
        # empty item would carry nothing downstream.
        diagnostics.append(
            Diagnostic(
                DiagnosticCode.INVALID_VALUE,
                where,
                f"{where} has no usable field; the item was dropped.",
            )
        )
        return None
    return Item(**texts, price=price, quantity=quantity)


_ITEM_TEXT: Final = frozenset({"id", "name", "variant"})


def now_utc() -> datetime:
    """The server's clock, timezone-aware."""
    return datetime.now(UTC)
