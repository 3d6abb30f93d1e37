import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StandardEvent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STANDARD_EVENT_UNSPECIFIED: _ClassVar[StandardEvent]
    STANDARD_EVENT_OUTBOUND_CLICK: _ClassVar[StandardEvent]
    STANDARD_EVENT_FORM_SUBMIT: _ClassVar[StandardEvent]
    STANDARD_EVENT_LEAD: _ClassVar[StandardEvent]
    STANDARD_EVENT_COMPLETE_REGISTRATION: _ClassVar[StandardEvent]
    STANDARD_EVENT_PURCHASE: _ClassVar[StandardEvent]

class ClassificationSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLASSIFICATION_SOURCE_UNSPECIFIED: _ClassVar[ClassificationSource]
    CLASSIFICATION_SOURCE_EVENT_NAME: _ClassVar[ClassificationSource]
    CLASSIFICATION_SOURCE_CONVERSION_TYPE: _ClassVar[ClassificationSource]
    CLASSIFICATION_SOURCE_AUTOMATIC: _ClassVar[ClassificationSource]

class MatchKeyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MATCH_KEY_TYPE_UNSPECIFIED: _ClassVar[MatchKeyType]
    MATCH_KEY_TYPE_CLICK_ID: _ClassVar[MatchKeyType]
    MATCH_KEY_TYPE_REF_ID: _ClassVar[MatchKeyType]
    MATCH_KEY_TYPE_EMAIL: _ClassVar[MatchKeyType]

class EventTimeSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TIME_SOURCE_UNSPECIFIED: _ClassVar[EventTimeSource]
    EVENT_TIME_SOURCE_PAYLOAD: _ClassVar[EventTimeSource]
    EVENT_TIME_SOURCE_RECEIVED: _ClassVar[EventTimeSource]

class DiagnosticCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIAGNOSTIC_CODE_UNSPECIFIED: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_UNKNOWN_PARAMETER: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_UNFILLED_MACRO: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_INVALID_VALUE: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_INVALID_CURRENCY: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_INVALID_TIMESTAMP: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_TIMESTAMP_MILLISECONDS: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_PASSTHROUGH_DROPPED: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_ALREADY_HASHED: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_INVALID_TRAIT: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_ITEMS_TRUNCATED: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_IGNORED_PARAMETER: _ClassVar[DiagnosticCode]
    DIAGNOSTIC_CODE_DIAGNOSTICS_TRUNCATED: _ClassVar[DiagnosticCode]
STANDARD_EVENT_UNSPECIFIED: StandardEvent
STANDARD_EVENT_OUTBOUND_CLICK: StandardEvent
STANDARD_EVENT_FORM_SUBMIT: StandardEvent
STANDARD_EVENT_LEAD: StandardEvent
STANDARD_EVENT_COMPLETE_REGISTRATION: StandardEvent
STANDARD_EVENT_PURCHASE: StandardEvent
CLASSIFICATION_SOURCE_UNSPECIFIED: ClassificationSource
CLASSIFICATION_SOURCE_EVENT_NAME: ClassificationSource
CLASSIFICATION_SOURCE_CONVERSION_TYPE: ClassificationSource
CLASSIFICATION_SOURCE_AUTOMATIC: ClassificationSource
MATCH_KEY_TYPE_UNSPECIFIED: MatchKeyType
MATCH_KEY_TYPE_CLICK_ID: MatchKeyType
MATCH_KEY_TYPE_REF_ID: MatchKeyType
MATCH_KEY_TYPE_EMAIL: MatchKeyType
EVENT_TIME_SOURCE_UNSPECIFIED: EventTimeSource
EVENT_TIME_SOURCE_PAYLOAD: EventTimeSource
EVENT_TIME_SOURCE_RECEIVED: EventTimeSource
DIAGNOSTIC_CODE_UNSPECIFIED: DiagnosticCode
DIAGNOSTIC_CODE_UNKNOWN_PARAMETER: DiagnosticCode
DIAGNOSTIC_CODE_UNFILLED_MACRO: DiagnosticCode
DIAGNOSTIC_CODE_INVALID_VALUE: DiagnosticCode
DIAGNOSTIC_CODE_INVALID_CURRENCY: DiagnosticCode
DIAGNOSTIC_CODE_INVALID_TIMESTAMP: DiagnosticCode
DIAGNOSTIC_CODE_TIMESTAMP_MILLISECONDS: DiagnosticCode
DIAGNOSTIC_CODE_PASSTHROUGH_DROPPED: DiagnosticCode
DIAGNOSTIC_CODE_ALREADY_HASHED: DiagnosticCode
DIAGNOSTIC_CODE_INVALID_TRAIT: DiagnosticCode
DIAGNOSTIC_CODE_ITEMS_TRUNCATED: DiagnosticCode
DIAGNOSTIC_CODE_IGNORED_PARAMETER: DiagnosticCode
DIAGNOSTIC_CODE_DIAGNOSTICS_TRUNCATED: DiagnosticCode

class NormalizeRequest(_message.Message):
    __slots__ = ("payload", "context")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    payload: Payload
    context: Context
    def __init__(self, payload: _Optional[_Union[Payload, _Mapping]] = ..., context: _Optional[_Union[Context, _Mapping]] = ...) -> None: ...

class NormalizeResponse(_message.Message):
    __slots__ = ("conversion", "diagnostics")
    CONVERSION_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    conversion: Conversion
    diagnostics: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    def __init__(self, conversion: _Optional[_Union[Conversion, _Mapping]] = ..., diagnostics: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ...) -> None: ...

class ClassifyRequest(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: Payload
    def __init__(self, payload: _Optional[_Union[Payload, _Mapping]] = ...) -> None: ...

class ClassifyResponse(_message.Message):
    __slots__ = ("event_name", "standard_event", "classified_by", "diagnostics")
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    STANDARD_EVENT_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIED_BY_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    event_name: str
    standard_event: StandardEvent
    classified_by: ClassificationSource
    diagnostics: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    def __init__(self, event_name: _Optional[str] = ..., standard_event: _Optional[_Union[StandardEvent, str]] = ..., classified_by: _Optional[_Union[ClassificationSource, str]] = ..., diagnostics: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ...) -> None: ...

class NormalizeStreamRequest(_message.Message):
    __slots__ = ("request_id", "request")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    request: NormalizeRequest
    def __init__(self, request_id: _Optional[str] = ..., request: _Optional[_Union[NormalizeRequest, _Mapping]] = ...) -> None: ...

class NormalizeStreamResponse(_message.Message):
    __slots__ = ("request_id", "response", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    response: NormalizeResponse
    error: _status_pb2.Status
    def __init__(self, request_id: _Optional[str] = ..., response: _Optional[_Union[NormalizeResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class Payload(_message.Message):
    __slots__ = ("query", "body", "content_type", "json")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    query: str
    body: bytes
    content_type: str
    json: _struct_pb2.Struct
    def __init__(self, query: _Optional[str] = ..., body: _Optional[bytes] = ..., content_type: _Optional[str] = ..., json: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Context(_message.Message):
    __slots__ = ("account_id", "integration_slug", "default_currency", "received_time")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    INTEGRATION_SLUG_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_TIME_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    integration_slug: str
    default_currency: str
    received_time: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., integration_slug: _Optional[str] = ..., default_currency: _Optional[str] = ..., received_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Conversion(_message.Message):
    __slots__ = ("event_name", "standard_event", "classified_by", "match_key", "click_id", "ref_id", "email", "value", "value_parameter", "currency", "currency_defaulted", "transaction_id", "brand_name", "event_time", "event_time_source", "customer", "user_data", "items", "passthrough", "dedup_key")
    class PassthroughEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    STANDARD_EVENT_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIED_BY_FIELD_NUMBER: _ClassVar[int]
    MATCH_KEY_FIELD_NUMBER: _ClassVar[int]
    CLICK_ID_FIELD_NUMBER: _ClassVar[int]
    REF_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_DEFAULTED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_SOURCE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    USER_DATA_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PASSTHROUGH_FIELD_NUMBER: _ClassVar[int]
    DEDUP_KEY_FIELD_NUMBER: _ClassVar[int]
    event_name: str
    standard_event: StandardEvent
    classified_by: ClassificationSource
    match_key: MatchKey
    click_id: str
    ref_id: str
    email: str
    value: str
    value_parameter: str
    currency: str
    currency_defaulted: bool
    transaction_id: str
    brand_name: str
    event_time: _timestamp_pb2.Timestamp
    event_time_source: EventTimeSource
    customer: Customer
    user_data: UserData
    items: _containers.RepeatedCompositeFieldContainer[Item]
    passthrough: _containers.ScalarMap[str, str]
    dedup_key: str
    def __init__(self, event_name: _Optional[str] = ..., standard_event: _Optional[_Union[StandardEvent, str]] = ..., classified_by: _Optional[_Union[ClassificationSource, str]] = ..., match_key: _Optional[_Union[MatchKey, _Mapping]] = ..., click_id: _Optional[str] = ..., ref_id: _Optional[str] = ..., email: _Optional[str] = ..., value: _Optional[str] = ..., value_parameter: _Optional[str] = ..., currency: _Optional[str] = ..., currency_defaulted: _Optional[bool] = ..., transaction_id: _Optional[str] = ..., brand_name: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_time_source: _Optional[_Union[EventTimeSource, str]] = ..., customer: _Optional[_Union[Customer, _Mapping]] = ..., user_data: _Optional[_Union[UserData, _Mapping]] = ..., items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., passthrough: _Optional[_Mapping[str, str]] = ..., dedup_key: _Optional[str] = ...) -> None: ...

class MatchKey(_message.Message):
    __slots__ = ("type", "value")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    type: MatchKeyType
    value: str
    def __init__(self, type: _Optional[_Union[MatchKeyType, str]] = ..., value: _Optional[str] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ("email", "first_name", "last_name", "full_name", "phone", "birthdate", "city", "state", "zipcode", "country")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    BIRTHDATE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ZIPCODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    email: str
    first_name: str
    last_name: str
    full_name: str
    phone: str
    birthdate: str
    city: str
    state: str
    zipcode: str
    country: str
    def __init__(self, email: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., full_name: _Optional[str] = ..., phone: _Optional[str] = ..., birthdate: _Optional[str] = ..., city: _Optional[str] = ..., state: _Optional[str] = ..., zipcode: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class UserData(_message.Message):
    __slots__ = ("em", "ph", "fn", "ln", "db", "ct", "st", "zp", "country")
    EM_FIELD_NUMBER: _ClassVar[int]
    PH_FIELD_NUMBER: _ClassVar[int]
    FN_FIELD_NUMBER: _ClassVar[int]
    LN_FIELD_NUMBER: _ClassVar[int]
    DB_FIELD_NUMBER: _ClassVar[int]
    CT_FIELD_NUMBER: _ClassVar[int]
    ST_FIELD_NUMBER: _ClassVar[int]
    ZP_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    em: str
    ph: str
    fn: str
    ln: str
    db: str
    ct: str
    st: str
    zp: str
    country: str
    def __init__(self, em: _Optional[str] = ..., ph: _Optional[str] = ..., fn: _Optional[str] = ..., ln: _Optional[str] = ..., db: _Optional[str] = ..., ct: _Optional[str] = ..., st: _Optional[str] = ..., zp: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("id", "name", "variant", "price", "quantity")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    variant: str
    price: str
    quantity: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., variant: _Optional[str] = ..., price: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class Diagnostic(_message.Message):
    __slots__ = ("code", "parameter", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: DiagnosticCode
    parameter: str
    message: str
    def __init__(self, code: _Optional[_Union[DiagnosticCode, str]] = ..., parameter: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
