"""Tests for service.core.timestamps: Unix seconds/milliseconds and ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.model import JsonNumber
from service.core.timestamps import InvalidTimestamp, ParsedTime, parse_timestamp

PROPERTY = settings(max_examples=400, database=None)


def utc(  # noqa: PLR0917 - mirrors the datetime constructor
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    """A UTC datetime, for short expectation tables."""
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


VALID: list[tuple[str, datetime, bool]] = [
    # Unix seconds
    ("1700000000", utc(2023, 11, 14, 22, 13, 20), False),
    (JsonNumber("1700000000"), utc(2023, 11, 14, 22, 13, 20), False),
    (" 1700000000 ", utc(2023, 11, 14, 22, 13, 20), False),
    ("+1700000000", utc(2023, 11, 14, 22, 13, 20), False),
    ("1700000000.5", utc(2023, 11, 14, 22, 13, 20, 500000), False),
    ("1700000000.123456789", utc(2023, 11, 14, 22, 13, 20, 123456), False),
    ("1700000000.1234569999999999999999999999999999", utc(2023, 11, 14, 22, 13, 20, 123456), False),
    (JsonNumber("1.7e9"), utc(2023, 11, 14, 22, 13, 20), False),
    (JsonNumber("1.7E+9"), utc(2023, 11, 14, 22, 13, 20), False),
    ("946684800", utc(2000, 1, 1), False),
    ("0946684800", utc(2000, 1, 1), False),
    ("99999999999", utc(5138, 11, 16, 9, 46, 39), False),
    ("99999999999.999999", utc(5138, 11, 16, 9, 46, 39, 999999), False),
    # Unix milliseconds
    ("1700000000123", utc(2023, 11, 14, 22, 13, 20, 123000), True),
    (JsonNumber("1700000000123"), utc(2023, 11, 14, 22, 13, 20, 123000), True),
    ("1700000000123.456", utc(2023, 11, 14, 22, 13, 20, 123456), True),
    (JsonNumber("1.7e12"), utc(2023, 11, 14, 22, 13, 20), True),
    ("946684800000", utc(2000, 1, 1), True),
    ("253402300799999", utc(9999, 12, 31, 23, 59, 59, 999000), True),
    # ISO 8601 / RFC 3339
    ("2024-01-01", utc(2024, 1, 1), False),
    ("2000-01-01", utc(2000, 1, 1), False),
    ("2024-01-01T12:00:00Z", utc(2024, 1, 1, 12), False),
    ("2024-01-01t12:00:00z", utc(2024, 1, 1, 12), False),
    ("2024-01-01 12:00:00", utc(2024, 1, 1, 12), False),
    ("2024-01-01T12:00:00", utc(2024, 1, 1, 12), False),
    ("2024-01-01T12:00", utc(2024, 1, 1, 12), False),
    ("2024-01-01T12:00Z", utc(2024, 1, 1, 12), False),
    ("2024-01-01T12:00:00+02:00", utc(2024, 1, 1, 10), False),
    ("2024-01-01T12:00:00+0200", utc(2024, 1, 1, 10), False),
    ("2024-01-01T12:00:00+02", utc(2024, 1, 1, 10), False),
    ("2024-01-01T12:00:00-05:30", utc(2024, 1, 1, 17, 30), False),
    ("2024-01-01T12:00:00-00:00", utc(2024, 1, 1, 12), False),
    ("2024-01-01T00:30:00+01:00", utc(2023, 12, 31, 23, 30), False),
    ("2024-01-01 12:00:00 +02:00", utc(2024, 1, 1, 10), False),
    ("2024-01-01 12:00:00 Z", utc(2024, 1, 1, 12), False),
    # "+" decoded to a space by form decoding
    ("2024-01-01T12:00:00 02:00", utc(2024, 1, 1, 10), False),
    ("2024-01-01T12:00:00 0200", utc(2024, 1, 1, 10), False),
    ("2024-01-01T12:00:00.5Z", utc(2024, 1, 1, 12, 0, 0, 500000), False),
    ("2024-01-01T12:00:00,5Z", utc(2024, 1, 1, 12, 0, 0, 500000), False),
    ("2024-01-01T12:00:00.123456789Z", utc(2024, 1, 1, 12, 0, 0, 123456), False),
    ("2024-01-01T12:00:00.1234567891234567891234Z", utc(2024, 1, 1, 12, 0, 0, 123456), False),
    ("2024-02-29T23:59:59.999999+00:00", utc(2024, 2, 29, 23, 59, 59, 999999), False),
    ("2000-01-01T01:00:00+01:00", utc(2000, 1, 1), False),
    ("9999-12-31T23:59:59.999999Z", utc(9999, 12, 31, 23, 59, 59, 999999), False),
    ("9999-12-31T23:59:59+01:00", utc(9999, 12, 31, 22, 59, 59), False),
]


@pytest.mark.parametrize(("raw", "expected", "milliseconds"), VALID)
def test_parse_timestamp_valid(raw: str, expected: datetime, milliseconds: bool) -> None:
    parsed = parse_timestamp(raw)
    assert parsed == ParsedTime(expected, milliseconds)
    assert parsed.time.tzinfo is UTC
    assert parsed.time.utcoffset() == timedelta(0)


INVALID: list[str] = [
    "",
    "   ",
    "0",
    "-0",
    "-5",
    "-1700000000",
    "946684799",
    "946684799.999999",
    "1",
    "123456",
    "100000000000",  # milliseconds: 1973
    "946684799999",
    "253402300800000",
    "1e400",
    "1e-400",
    "1e99999999999999999999",
    "9" * 64,
    "9" * 65,
    "9" * 5000,
    "NaN",
    "Infinity",
    "inf",
    "abc",
    "1,700,000,000",
    "1999-12-31",
    "1999-12-31T23:59:59Z",
    "2000-01-01T00:30:00+01:00",
    "2024-02-30",
    "2023-02-29",
    "2024-13-01",
    "2024-00-10",
    "2024-01-01T24:00:00",
    "2024-01-01T23:59:60Z",
    "2024-01-01T12:60:00",
    "2024-01-01T12",
    "2024-01-01T",
    "2024-01-01T12:00:00+24:00",
    "2024-01-01T12:00:00+02:60",
    "2024-01-01T12:00:00+2",
    "2024-01-01T12:00:00+02:",
    "2024-01-01T12:00:00 02",
    "2024-01-01T12:00:00.Z",
    "2024-01-01T12:00:00ZZ",
    "2024-01-01T12:00:00 UTC",
    "2024-01-01Z",
    "2024-1-1",
    "24-01-01",
    "20240101",
    "20240101T120000Z",
    "2024-W01-1",
    "2024-001",
    "01/02/2024",
    "Mon, 01 Jan 2024 12:00:00 GMT",
    "0000-01-01",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "１７００００００００",
    "٢٠٢٤-01-01",
    "2024-01-01T12:00:00.000000000000000000000000000000000000000000000Z",
    "0x65a0bc00",
    "1700000000s",
]


@pytest.mark.parametrize("raw", INVALID)
def test_parse_timestamp_invalid(raw: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_timestamp(raw)


@pytest.mark.parametrize("raw", ["NaN", "1e400", "-1", "0", "9" * 5000, "1e99999999999999999999"])
def test_parse_timestamp_invalid_json_number(raw: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_timestamp(JsonNumber(raw))


def test_invalid_timestamp_message() -> None:
    with pytest.raises(InvalidTimestamp) as info:
        parse_timestamp("z" * 1000)
    message = str(info.value)
    assert message[0].isupper()
    assert message.endswith(".")
    assert "z" * 41 not in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-01T12:00:00." + "1" * 200_000,
        "1" * 200_000,
        "2024-01-01 " * 20_000,
        "1." + "0" * 200_000,
        "-" * 200_000,
        "2024-01-01T12:00:00" + " " * 200_000 + "x",
    ],
    ids=range(6),
)
def test_pathological_inputs_return(text: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_timestamp(text)


@PROPERTY
@given(st.text())
def test_never_raises_anything_else(text: str) -> None:
    for raw in (text, JsonNumber(text)):
        try:
            parsed = parse_timestamp(raw)
        except InvalidTimestamp:
            continue
        assert parsed.time.tzinfo is UTC
        assert parsed.time >= utc(2000, 1, 1)


@PROPERTY
@given(st.text(alphabet="0123456789-+:.,TtZz eE", max_size=40))
def test_timestampish_text_never_raises_anything_else(text: str) -> None:
    try:
        parsed = parse_timestamp(text)
    except InvalidTimestamp:
        return
    assert parsed.time >= utc(2000, 1, 1)


@PROPERTY
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_isoformat_round_trips(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=UTC)
    assert parse_timestamp(aware.isoformat()) == ParsedTime(aware, False)
    assert parse_timestamp(moment.isoformat(sep=" ")) == ParsedTime(aware, False)
    shifted = aware.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert parse_timestamp(shifted.isoformat()).time == aware


@PROPERTY
@given(st.integers(min_value=946_684_800, max_value=99_999_999_999), st.integers(0, 999_999))
def test_unix_seconds_round_trip(seconds: int, micros: int) -> None:
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=micros)
    parsed = parse_timestamp(f"{seconds}.{micros:06d}")
    assert parsed == ParsedTime(expected, False)
    assert parse_timestamp(JsonNumber(str(seconds))).time == expected.replace(microsecond=0)


@PROPERTY
@given(st.integers(min_value=946_684_800_000, max_value=253_402_300_799_999))
def test_unix_milliseconds_round_trip(millis: int) -> None:
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    assert parse_timestamp(str(millis)) == ParsedTime(expected, True)
