"""The core's vocabulary: parameters in, a conversion or a rejection out.

Everything here is plain Python (frozen dataclasses and enums) so the
normalization rules can be read, tested and reused without gRPC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class JsonNumber(str):
    """A JSON number kept as its exact source text (never through a float).

    Being a ``str`` subclass, it can be used wherever text is expected while
    still telling the value parser that it came from a number literal.
    """

    __slots__ = ()


class JsonObject(list[tuple[str, "Value"]]):
    """A JSON object as its ordered ``(key, value)`` pairs, duplicates kept."""

    __slots__ = ()


# A parameter value: text (query, form, JSON string), a JSON number, a boolean,
# JSON null, an array or an object.
Value = str | bool | None | list["Value"] | JsonObject

# One parameter as received: (name as sent, value).
Param = tuple[str, Value]


@dataclass(frozen=True, slots=True)
class Payload:
    """The raw parts of one postback, as the gateway forwarded them."""

    query: str = ""
    body: bytes = b""
    content_type: str = ""
    # An already-parsed JSON object (``None`` when not sent).
    json: JsonObject | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """Where the postback was received, and the property's defaults."""

    account_id: str = ""
    integration_slug: str = ""
    # Empty: the server's configured default currency applies.
    default_currency: str = ""
    # ``None``: the caller did not say; the server's clock is used.
    received_time: datetime | None = None


class DiagnosticCode(enum.Enum):
    """Why a parameter was ignored, dropped or repaired."""

    UNKNOWN_PARAMETER = 1
    UNFILLED_MACRO = 2
    INVALID_VALUE = 3
    INVALID_CURRENCY = 4
    INVALID_TIMESTAMP = 5
    TIMESTAMP_MILLISECONDS = 6
    PASSTHROUGH_DROPPED = 7
    ALREADY_HASHED = 8
    INVALID_TRAIT = 9
    ITEMS_TRUNCATED = 10
    IGNORED_PARAMETER = 11


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """An explanation attached to a successful result; never a rejection."""

    code: DiagnosticCode
    parameter: str
    message: str


class RejectionReason(enum.Enum):
    """The only three reasons a payload is refused."""

    MISSING_MATCH_KEY = "MISSING_MATCH_KEY"
    UNKNOWN_CONVERSION_TYPE = "UNKNOWN_CONVERSION_TYPE"
    MALFORMED_PAYLOAD = "MALFORMED_PAYLOAD"


class Rejection(Exception):
    """A payload that cannot become a conversion.

    ``field`` is the path of the offending part of the request (for
    ``google.rpc.BadRequest``), ``metadata`` holds every value the message
    mentions, keyed in lowerCamel case (for ``google.rpc.ErrorInfo``).
    """

    def __init__(
        self,
        reason: RejectionReason,
        message: str,
        *,
        field: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field
        self.metadata = dict(metadata or {})


class StandardEvent(enum.Enum):
    """Standard events; ``UNSPECIFIED`` means a custom event name."""

    UNSPECIFIED = 0
    OUTBOUND_CLICK = 1
    FORM_SUBMIT = 2
    LEAD = 3
    COMPLETE_REGISTRATION = 4
    PURCHASE = 5


class ClassificationSource(enum.Enum):
    """Which input decided the event."""

    EVENT_NAME = 1
    CONVERSION_TYPE = 2
    AUTOMATIC = 3


class MatchKeyType(enum.Enum):
    """Which identity parameter matched the conversion to a click."""

    CLICK_ID = 1
    REF_ID = 2
    EMAIL = 3


class EventTimeSource(enum.Enum):
    """Where ``event_time`` came from."""

    PAYLOAD = 1
    RECEIVED = 2


@dataclass(frozen=True, slots=True)
class Classification:
    """The event a payload becomes."""

    event_name: str
    standard_event: StandardEvent
    classified_by: ClassificationSource


@dataclass(frozen=True, slots=True)
class Customer:
    """Customer traits as sent, trimmed; empty when absent."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    phone: str = ""
    birthdate: str = ""
    city: str = ""
    state: str = ""
    zipcode: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class UserData:
    """SHA-256 (lowercase hex) of each normalized trait; empty when absent."""

    em: str = ""
    ph: str = ""
    fn: str = ""
    ln: str = ""
    db: str = ""
    ct: str = ""
    st: str = ""
    zp: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    """One line item; ``price`` is an exact decimal, ``quantity`` unset is None."""

    id: str = ""
    name: str = ""
    variant: str = ""
    price: str = ""
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class Conversion:
    """A normalized conversion."""

    event_name: str
    standard_event: StandardEvent
    classified_by: ClassificationSource
    match_key_type: MatchKeyType
    match_key_value: str
    click_id: str
    ref_id: str
    email: str
    value: str
    value_parameter: str
    currency: str
    currency_defaulted: bool
    transaction_id: str
    brand_name: str
    event_time: datetime
    event_time_source: EventTimeSource
    customer: Customer
    user_data: UserData
    items: tuple[Item, ...]
    passthrough: dict[str, str]
    dedup_key: str


@dataclass(frozen=True, slots=True)
class Result:
    """A conversion and everything worth knowing about how it was read."""

    conversion: Conversion
    diagnostics: tuple[Diagnostic, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ClassifyResult:
    """A classification and its diagnostics."""

    classification: Classification
    diagnostics: tuple[Diagnostic, ...] = field(default=())
