"""Tests for service.core.values: macros, money amounts, quantities, currencies."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.core.model import JsonNumber
from service.core.values import (
    ISO_CURRENCIES,
    InvalidValue,
    is_unfilled_macro,
    normalize_currency,
    parse_decimal,
    parse_quantity,
    usable,
)

# No example database: tests must not write into the working tree.
PROPERTY = settings(max_examples=400, database=None, suppress_health_check=[HealthCheck.too_slow])
OUTPUT_RE = re.compile(r"-?\d+(\.\d*[1-9])?")


# --- is_unfilled_macro / usable -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{click_id}", True),
        ("{{click_id}}", True),
        ("[click_id]", True),
        ("%click_id%", True),
        ("#click_id#", True),
        ("${click_id}", True),
        ("{a.b:c-d_9}", True),
        ("{x}", True),
        ("{CLICK}", True),
        ("{}", False),
        ("{{}}", False),
        ("click_id", False),
        ("{click id}", False),
        ("{click_id", False),
        ("click_id}", False),
        ("{click_id}}", False),
        ("{{click_id}", False),
        ("[click_id}", False),
        ("%click_id#", False),
        ("$click_id", False),
        ("$[click_id]", False),
        ("x{click_id}", False),
        ("{click_id}x", False),
        ("{click/id}", False),
        ("{clíck}", False),
        ("abc123", False),
        ("", False),
        ("%%", False),
    ],
)
def test_is_unfilled_macro(text: str, expected: bool) -> None:
    assert is_unfilled_macro(text) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc", "abc"),
        ("  abc \t", "abc"),
        ("", None),
        ("   ", None),
        ("\u00a0\n", None),
        ("{x}", "{x}"),
        (" a b ", "a b"),
    ],
)
def test_usable(raw: str, expected: str | None) -> None:
    assert usable(raw) == expected


# --- normalize_currency ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("USD", "USD"),
        ("usd", "USD"),
        (" eur ", "EUR"),
        ("Gbp", "GBP"),
        ("JPY", "JPY"),
        ("XAU", "XAU"),
        ("", None),
        ("US", None),
        ("USDD", None),
        ("ABC", None),
        ("$", None),
        ("uſd", None),  # "ſ".upper() == "S": only ASCII may spell a code
        ("US D", None),
        ("123", None),
    ],
)
def test_normalize_currency(raw: str, expected: str | None) -> None:
    assert normalize_currency(raw) == expected


def test_iso_currencies_set() -> None:
    assert isinstance(ISO_CURRENCIES, frozenset)
    assert {"USD", "EUR", "GBP", "JPY", "BRL", "INR"} <= ISO_CURRENCIES
    assert all(len(c) == 3 and c.isascii() and c.isupper() for c in ISO_CURRENCIES)


# --- parse_decimal -----------------------------------------------------------------

VALID_DECIMALS: list[tuple[str, str, str | None]] = [
    # plain / fast path
    ("120", "120", None),
    ("120.00", "120", None),
    ("0.50", "0.5", None),
    ("-0", "0", None),
    ("-0.00", "0", None),
    ("0", "0", None),
    ("007", "7", None),
    ("-5.5", "-5.5", None),
    ("  42.10  ", "42.1", None),
    ("1.234", "1.234", None),
    ("100", "100", None),
    ("0.000001", "0.000001", None),
    ("12345678901234567890", "12345678901234567890", None),
    ("+5", "5", None),
    (".5", "0.5", None),
    ("-.5", "-0.5", None),
    # exponents on plain strings
    ("1.5e3", "1500", None),
    ("1E+2", "100", None),
    ("2.5E-3", "0.0025", None),
    ("1e64", "1" + "0" * 64, None),
    ("1e-64", "0." + "0" * 63 + "1", None),
    ("0e999", "0", None),
    # currency symbols
    ("$1,234.50", "1234.5", None),
    ("$5", "5", None),
    ("€ 12,50", "12.5", None),
    ("12,50 €", "12.5", None),
    ("£3", "3", None),
    ("¥1000", "1000", None),
    ("₹ 1,23,456.50", "123456.5", None),
    ("₽100", "100", None),
    ("₩5000", "5000", None),
    ("₺7", "7", None),
    ("₪7", "7", None),
    ("₫7", "7", None),
    ("₱7", "7", None),
    ("฿7", "7", None),
    ("₴7", "7", None),
    ("₦7", "7", None),
    ("₡7", "7", None),
    ("US$5", "5", None),
    ("us$ 5", "5", None),
    ("R$ 1.234,56", "1234.56", None),
    ("A$10", "10", None),
    ("C$10", "10", None),
    ("HK$10", "10", None),
    ("＄10", "10", None),
    # ISO codes
    ("120 EUR", "120", "EUR"),
    ("EUR 120", "120", "EUR"),
    ("EUR120", "120", "EUR"),
    ("120eur", "120", "EUR"),
    ("120 Eur", "120", "EUR"),
    ("USD 1,234.56", "1234.56", "USD"),
    ("$5 USD", "5", "USD"),
    ("USD$5", "5", "USD"),
    ("1.5e3 EUR", "1500", "EUR"),
    ("EUR\u00a0120", "120", "EUR"),
    # separators
    ("1,234.56", "1234.56", None),
    ("1.234,56", "1234.56", None),
    ("1 234,56", "1234.56", None),
    ("1\u00a0234,56", "1234.56", None),
    ("1\u202f234,56", "1234.56", None),
    ("1\u2009234.56", "1234.56", None),
    ("1'234.56", "1234.56", None),
    ("1\u2019234.56", "1234.56", None),
    ("1'234'567", "1234567", None),
    ("1 234", "1234", None),
    ("1234,56", "1234.56", None),
    ("1,5", "1.5", None),
    ("1,2345", "1.2345", None),
    ("1,234", "1234", None),
    ("-1,234", "-1234", None),
    ("0,123", "0.123", None),
    ("1,234,567", "1234567", None),
    ("1.234.567", "1234567", None),
    ("1,234,567.89", "1234567.89", None),
    ("1.234.567,89", "1234567.89", None),
    ("1,234.5678", "1234.5678", None),
    ("1,23,456", "123456", None),
    ("12,34,56,789.50", "123456789.5", None),
    # signs and parentheses
    ("-$5", "-5", None),
    ("$-5", "-5", None),
    ("- $ 5", "-5", None),
    ("+$5", "5", None),
    ("-5 EUR", "-5", "EUR"),
    ("EUR -5", "-5", "EUR"),
    ("(5.00)", "-5", None),
    ("($5.00)", "-5", None),
    ("$(5.00)", "-5", None),
    ("(5.00) EUR", "-5", "EUR"),
    ("(EUR 1.234,50)", "-1234.5", "EUR"),
    ("( 0 )", "0", None),
]


@pytest.mark.parametrize(("raw", "amount", "code"), VALID_DECIMALS)
def test_parse_decimal_valid(raw: str, amount: str, code: str | None) -> None:
    assert parse_decimal(raw) == (amount, code)


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("120.00", "120"),
        ("120", "120"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("1.5e3", "1500"),
        ("1E+2", "100"),
        ("1e-2", "0.01"),
        ("-2.50E1", "-25"),
        ("20000000000000000001", "20000000000000000001"),
        ("0.1", "0.1"),
        ("1e+20", "100000000000000000000"),
    ],
)
def test_parse_decimal_json_number(raw: str, amount: str) -> None:
    assert parse_decimal(JsonNumber(raw)) == (amount, None)


INVALID_DECIMALS: list[str] = [
    "",
    "   ",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "abc",
    "1 2",
    "1-2",
    "1 - 2",
    "5-",
    "--5",
    "+-5",
    "0x1A",
    "0x10",
    "$",
    "€",
    "EUR",
    "US$",
    "EUR 120 USD",
    "EUR 120 EUR",
    "USD EUR 5",
    "$$5",
    "$5€",
    "1,23,4",
    "1,2,3",
    "1.23.456",
    "1,234.567,89",
    "1.5,3",
    "1 234.567,89",
    "1234,567",
    "01,234",
    "0,123,456",
    "1'5",
    "1 23",
    "1.234,567.89",
    "5.",
    "5,",
    ".",
    ",5",
    "5..0",
    "1,5e3",
    "1,234e3",
    "1e",
    "e5",
    "(5",
    "5)",
    "()",
    "(-5)",
    "-(5)",
    "((5))",
    "(5) 6",
    "5 EURO",
    "120 XYZ",
    "١٢٣",
    "１２３",
    "1_000",
    "1e400",
    "1e-400",
    "1e65",
    "1e-65",
    "1e999999999",
    "1e99999999999999999999999",
    "9" * 65,
    "0." + "1" * 65,
    "9" * 5000,
    "1" + "0" * 65,
    "∞",
    "5\u200b0",
    "ABC$5",
    "$5 $",
    "5 % ",
    "true",
]


@pytest.mark.parametrize("raw", INVALID_DECIMALS)
def test_parse_decimal_invalid(raw: str) -> None:
    with pytest.raises(InvalidValue):
        parse_decimal(raw)


@pytest.mark.parametrize(
    "raw",
    ["NaN", "Infinity", "-Infinity", "1e400", "1e999999999", "9" * 5000, "1,234", "$5", "+5", ""],
)
def test_parse_decimal_invalid_json_number(raw: str) -> None:
    with pytest.raises(InvalidValue):
        parse_decimal(JsonNumber(raw))


def test_parse_decimal_bounds_edge() -> None:
    # 64 significant digits is fine, 65 is not.
    assert parse_decimal("9" * 64) == ("9" * 64, None)
    assert parse_decimal("0." + "9" * 64) == ("0." + "9" * 64, None)
    # Trailing integer zeros are not significant but count towards magnitude.
    assert parse_decimal("1" + "0" * 64)[0] == "1" + "0" * 64


def test_invalid_value_message_is_a_bounded_sentence() -> None:
    hostile = "x" * 10_000
    with pytest.raises(InvalidValue) as info:
        parse_decimal(hostile)
    message = str(info.value)
    assert message.endswith(".")
    assert message[0].isupper()
    assert "x" * 41 not in message
    with pytest.raises(InvalidValue) as info:
        parse_decimal("abc def ghi jkl mno pqr stu vwx yz0 123 456")
    # At most 40 characters of the input are quoted.
    assert "abc def ghi jkl mno pqr stu vwx yz0 123 " in str(info.value)
    assert "abc def ghi jkl mno pqr stu vwx yz0 123 4" not in str(info.value)
    assert isinstance(info.value, ValueError)


PATHOLOGICAL = [
    "1," * 100_000,
    "1 " * 100_000,
    "{" + "a" * 200_000,
    "{{" + "a" * 200_000 + "}",
    "$" * 200_000,
    "9" * 200_000,
    "1.2" * 70_000,
    "(" * 200_000,
    "e" * 200_000,
    "#" + "a:" * 100_000,
]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_inputs_return(text: str) -> None:
    assert isinstance(is_unfilled_macro(text), bool)
    assert is_unfilled_macro("{" + text + "}") in (True, False)
    with pytest.raises(InvalidValue):
        parse_decimal(text)
    with pytest.raises(InvalidValue):
        parse_decimal(JsonNumber(text))
    with pytest.raises(InvalidValue):
        parse_quantity(text)
    assert normalize_currency(text) is None


def test_long_macro_is_still_a_macro() -> None:
    assert is_unfilled_macro("{" + "a" * 200_000 + "}")
    assert not is_unfilled_macro("{" + "a" * 200_000 + "]")


# --- parse_quantity -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2", 2),
        (JsonNumber("2"), 2),
        ("2.0", 2),
        (JsonNumber("2.0"), 2),
        (" 3 ", 3),
        ("0", 0),
        ("-0", 0),
        ("+4", 4),
        ("007", 7),
        ("1e2", 100),
        (JsonNumber("1E+2"), 100),
        ("2.50e1", 25),
        ("999999999999999999", 999_999_999_999_999_999),
    ],
)
def test_parse_quantity_valid(raw: str, expected: int) -> None:
    assert parse_quantity(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "2.5",
        "-1",
        "abc",
        "1e400",
        "",
        "1,000",
        "$2",
        "2 EUR",
        "1e-1",
        "1000000000000000000",
        "9" * 19,
        "9" * 5000,
        "NaN",
        "1e999999999",
        "0x2",
        "2.",
        ".5",
        JsonNumber("+2"),
        JsonNumber("2.5"),
        JsonNumber("-1"),
    ],
)
def test_parse_quantity_invalid(raw: str) -> None:
    with pytest.raises(InvalidValue):
        parse_quantity(raw)


# --- properties ------------------------------------------------------------------------


@PROPERTY
@given(st.text())
def test_parse_decimal_never_raises_anything_else(text: str) -> None:
    for raw in (text, JsonNumber(text)):
        try:
            amount, code = parse_decimal(raw)
        except InvalidValue:
            continue
        assert OUTPUT_RE.fullmatch(amount)
        assert code is None or code in ISO_CURRENCIES


@PROPERTY
@given(st.text(alphabet="0123456789.,-+eE $€()'\u00a0EURusd", max_size=40))
def test_parse_decimal_numberish_text(text: str) -> None:
    try:
        amount, code = parse_decimal(text)
    except InvalidValue:
        return
    assert OUTPUT_RE.fullmatch(amount)
    assert code is None or code in ISO_CURRENCIES


@PROPERTY
@given(st.text(alphabet="0123456789.-+eE", max_size=40))
def test_parse_decimal_json_number_text_never_raises_anything_else(text: str) -> None:
    for raw in (JsonNumber(text), text):
        try:
            amount, _ = parse_decimal(raw)
        except InvalidValue:
            continue
        assert OUTPUT_RE.fullmatch(amount)


@PROPERTY
@given(st.text())
def test_other_functions_never_raise_anything_else(text: str) -> None:
    assert isinstance(is_unfilled_macro(text), bool)
    result = usable(text)
    assert result is None or (result and result == result.strip())
    currency = normalize_currency(text)
    assert currency is None or currency in ISO_CURRENCIES
    for raw in (text, JsonNumber(text)):
        try:
            quantity = parse_quantity(raw)
        except InvalidValue:
            continue
        assert 0 <= quantity < 10**18


plain_numbers = st.builds(
    lambda sign, whole, frac: f"{sign}{whole}{'.' + frac if frac else ''}",
    st.sampled_from(["", "-"]),
    st.from_regex(r"[0-9]{1,30}", fullmatch=True),
    st.from_regex(r"[0-9]{0,30}", fullmatch=True),
)


@PROPERTY
@given(plain_numbers)
def test_plain_number_round_trips(text: str) -> None:
    amount, code = parse_decimal(text)
    assert code is None
    assert OUTPUT_RE.fullmatch(amount)
    assert Decimal(amount) == Decimal(text)
    assert parse_decimal(JsonNumber(text)) == (amount, None)


@PROPERTY
@given(plain_numbers, st.integers(min_value=-30, max_value=30), st.sampled_from("eE"))
def test_exponent_number_round_trips(mantissa: str, exponent: int, e: str) -> None:
    text = f"{mantissa}{e}{exponent:+d}"
    amount, _ = parse_decimal(JsonNumber(text))
    assert OUTPUT_RE.fullmatch(amount)
    assert Decimal(amount) == Decimal(text)
    assert parse_decimal(text)[0] == amount


@PROPERTY
@given(
    st.decimals(min_value=-(10**20), max_value=10**20, places=2, allow_nan=False),
    st.sampled_from(["", "$", "€ ", "USD ", " EUR"]),
)
def test_grouped_number_round_trips(value: Decimal, decoration: str) -> None:
    # "1,234.56" style (what format(..., ",") writes), with a symbol or code.
    grouped = format(value, ",.2f")
    text = decoration + grouped if not decoration.startswith(" ") else grouped + decoration
    amount, code = parse_decimal(text)
    assert Decimal(amount) == value
    assert code == (decoration.strip() if decoration.strip().isalpha() else None)
    # "1.234,56" style: swap the marks.
    european = grouped.translate(str.maketrans(",.", ".,"))
    assert Decimal(parse_decimal(european)[0]) == value
    # "1 234,56" style with a narrow no-break space.
    french = grouped.replace(",", "\u202f").replace(".", ",")
    assert Decimal(parse_decimal(french)[0]) == value
