"""The name tables: unambiguous, complete against the seed, compiled once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from service.core import tables
from service.core.model import Context, JsonNumber, JsonObject, Payload, StandardEvent
from service.core.normalize import normalize

# The seed's tables, transcribed: canonical field → accepted names in its order.
SEED_CORE = {
    "click_id": ("click_id", "clickid", "click"),
    "ref_id": ("ref_id", "refid", "ref"),
    "value": ("value", "commission", "amount", "revenue", "total", "total_value", "event_value"),
    "currency": ("currency", "cur", "curr"),
    "event_name": ("event_name", "eventname", "event"),
    "transaction_id": ("transaction_id", "transactionid", "transaction"),
    "brand_name": ("brand_name", "brandname", "brand"),
    "timestamp": ("timestamp", "time", "date", "datetime", "created_at"),
    "items": ("items", "line_items", "products"),
}
SEED_TRAITS = {
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
SEED_ITEM_FIELDS = {
    "id": ("id", "product_id", "item_id"),
    "name": ("name", "title", "label", "product_name", "item_name"),
    "variant": ("variant", "variant_id", "product_variant", "item_variant"),
    "price": ("price", "product_price", "item_price"),
    "quantity": ("qty", "quantity", "product_quantity", "item_quantity"),
}
SEED_CONVERSION_TYPES = {
    "OutboundClick": ("click", "outbound_click", "outboundclick"),
    "FormSubmit": ("form_submit", "formsubmit"),
    "Lead": ("lead", "cpl"),
    "CompleteRegistration": (
        "registration",
        "complete_registration",
        "completeregistration",
        "acquisition",
        "cpa",
    ),
    "Purchase": ("purchase", "sale", "cps"),
}


def _flexible(name: str) -> str:
    """SPEC §2's comparison form, written independently of the code under test."""
    return re.sub(r"[_-]", "", name.lower())


def _owners(table: dict[str, tuple[str, ...]], key: object) -> dict[str, set[str]]:
    owners: dict[str, set[str]] = {}
    for canonical, aliases in table.items():
        for alias in aliases:
            owners.setdefault(key(alias), set()).add(canonical)  # type: ignore[operator]
    return owners


@pytest.mark.parametrize(
    ("table", "key"),
    [
        (tables.CORE_FIELDS, _flexible),
        (tables.ITEM_FIELDS, _flexible),
        (tables.TRAITS, str),
    ],
    ids=["core", "item-fields", "traits"],
)
def test_no_alias_maps_to_two_fields(table: dict[str, tuple[str, ...]], key: object) -> None:
    clashes = {name: owners for name, owners in _owners(table, key).items() if len(owners) > 1}
    assert clashes == {}


def test_no_conversion_type_value_maps_to_two_events() -> None:
    owners: dict[str, set[StandardEvent]] = {}
    for event, values in tables.CONVERSION_TYPES.items():
        for value in values:
            owners.setdefault(value.lower(), set()).add(event)
    assert {v: e for v, e in owners.items() if len(e) > 1} == {}


def _top_level_names() -> Iterator[tuple[str, str]]:
    """(namespace, name) of every name matched at the top level of a payload."""
    for aliases in tables.CORE_FIELDS.values():
        for alias in aliases:
            yield "core", alias
    for aliases in tables.TRAITS.values():
        for alias in aliases:
            yield "trait", alias
    yield "conversion_type", tables.CONVERSION_TYPE_PARAMETER


def test_top_level_namespaces_do_not_overlap() -> None:
    """A name reaches one field only: core (flexible), traits, conversion_type, xat_."""
    core = {_flexible(alias) for kind, alias in _top_level_names() if kind == "core"}
    for kind, name in _top_level_names():
        # Exact names are tried first; a flexible core alias equal to one would be shadowed.
        if kind != "core":
            assert _flexible(name) not in core, name
        assert not name.startswith(tables.PASSTHROUGH_PREFIX), name
        assert not _flexible(name).startswith(_flexible(tables.PASSTHROUGH_PREFIX)), name


def test_item_fields_live_in_their_own_namespace() -> None:
    """``name`` is both a trait and an item field: items are only read inside an items array."""
    assert "name" in tables.TRAITS["full_name"]
    assert "name" in tables.ITEM_FIELDS["name"]
    assert tables.CORE_LOOKUP.get(_flexible("name")) is None


@pytest.mark.parametrize(
    ("table", "seed"),
    [
        (tables.CORE_FIELDS, SEED_CORE),
        (tables.TRAITS, SEED_TRAITS),
        (tables.ITEM_FIELDS, SEED_ITEM_FIELDS),
    ],
    ids=["core", "traits", "item-fields"],
)
def test_every_seed_alias_is_present_in_seed_order(
    table: dict[str, tuple[str, ...]], seed: dict[str, tuple[str, ...]]
) -> None:
    for canonical, aliases in seed.items():
        assert table[canonical] == aliases, canonical


def test_every_seed_conversion_type_is_present() -> None:
    by_name = {
        tables.EVENT_NAMES[event]: values for event, values in tables.CONVERSION_TYPES.items()
    }
    assert by_name == SEED_CONVERSION_TYPES
    assert tables.CONVERSION_TYPE_PARAMETER == "conversion_type"
    assert tables.PASSTHROUGH_PREFIX == "xat_"


def test_lookups_cover_every_alias() -> None:
    for canonical, aliases in tables.CORE_FIELDS.items():
        for alias in aliases:
            assert tables.CORE_LOOKUP[tables.flexible(alias)][0] == canonical
            for spelling in (alias.upper(), alias.replace("_", "-"), alias.title()):
                assert tables.CORE_LOOKUP[tables.flexible(spelling)][0] == canonical
    for canonical, aliases in tables.TRAITS.items():
        for alias in aliases:
            assert tables.TRAIT_LOOKUP[alias][0] == canonical
    for canonical, aliases in tables.ITEM_FIELDS.items():
        for alias in aliases:
            assert tables.ITEM_LOOKUP[tables.flexible(alias)][0] == canonical
    for event, values in tables.CONVERSION_TYPES.items():
        for value in values:
            assert tables.CONVERSION_TYPE_LOOKUP[value] == event


def test_alias_rank_is_list_order() -> None:
    """Equal flexible forms (``click_id``/``clickid``) share the first one's rank."""
    for aliases in tables.CORE_FIELDS.values():
        ranks = [tables.CORE_LOOKUP[tables.flexible(alias)][1] for alias in aliases]
        assert ranks == sorted(ranks)
        assert ranks[0] == 0


def test_compiling_an_ambiguous_table_is_refused() -> None:
    with pytest.raises(ValueError, match="maps to"):
        tables._compile_flexible({"a": ("click_id",), "b": ("Click-Id",)})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maps to"):
        tables._compile_exact({"a": ("name",), "b": ("name",)})  # type: ignore[arg-type]


def _rich_payload(tag: str) -> Payload:
    """A payload that reaches every step of the core, with names and values unique to ``tag``."""
    data = JsonObject(
        [
            ("Click-Id", f"c-{tag}"),
            (f"unknown_{tag}", "x"),
            ("conversion_type", "Sale"),
            ("Amount", f"$1,234.{len(tag)}0 EUR"),
            ("cur", "{currency}"),
            ("full_name", f"Ann {tag}"),
            ("email", f"{tag}@example.com"),
            ("country", "Germany"),
            ("zipcode", "10115"),
            ("birthdate", "26.05.1991"),
            ("city", "Berlin"),
            ("state", "BE"),
            ("created_at", "2024-04-30T10:00:00+02:00"),
            ("transaction", JsonNumber("12345678901234567890")),
            ("xat_" + tag, JsonObject([("a", JsonNumber("1"))])),
            ("line_items", [JsonObject([("Product_ID", tag), ("qty", "2"), ("price", "3,50")])]),
        ]
    )
    query = f"{tag}_items[0][id]=1&Products[0][item-name]={tag}&Products[1][sku]=s"
    return Payload(query=query, json=data)


def test_the_hot_path_compiles_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables and patterns are built at import: a call compiles no table and no regex."""
    context = Context(account_id="a", integration_slug="s")
    received = datetime(2024, 5, 1, tzinfo=UTC)
    normalize(_rich_payload("warm"), context, default_currency="USD", received=received)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("compiled during a call")

    monkeypatch.setattr(tables, "_compile_flexible", refuse)
    monkeypatch.setattr(tables, "_compile_exact", refuse)
    monkeypatch.setattr(re, "compile", refuse)
    monkeypatch.setattr(re, "_compile", refuse)
    # New names and values: nothing can come from a cache of the warm-up call.
    result = normalize(_rich_payload("fresh"), context, default_currency="USD", received=received)
    assert result.conversion.click_id == "c-fresh"
    assert result.conversion.value == "1234.5"
    assert [item.id for item in result.conversion.items] == ["fresh"]
