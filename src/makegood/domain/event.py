"""Events: the envelope every source speaks, and its validation.

An event is ``{id, type, occurred_at, customer_id, subject_id?, attributes}``. `parse_event`
turns an untrusted mapping into an `Event` or a `Rejection` naming the field and the reason;
built-in types also get their attributes checked and typed (datetimes aware UTC, amounts Decimal).
Other types are accepted with their attributes as given.

Whatever the type, an event must also be storable and computable everywhere, so `parse_event`
refuses, naming the field: a NUL character or a lone surrogate in any string or key (PostgreSQL
and UTF-8 cannot hold them), a number that is not finite (NaN, Infinity, 1e999), nesting deeper
than `Limits.max_depth`, a string longer than `Limits.max_chars`, and a date-time outside
`Limits.earliest`..`Limits.latest` (the engine derives them from the policy and its clock).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from makegood.domain.limits import DEFAULT_LIMITS, Limits, flaw, printable, step, text_flaw
from makegood.domain.money import to_decimal

TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
MAX_ID = 200
MAX_TYPE = 100
MAX_AMOUNT = Decimal(10) ** 12
_ORDER = ("id", "type", "occurred_at", "customer_id", "subject_id", "attributes")
ENVELOPE = frozenset(_ORDER)
MAX_RAW = 10_000  # characters of a refused input kept in the quarantine


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    occurred_at: datetime
    customer_id: str
    subject_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an input was refused. `field` is a dotted path (``attributes.promised_at``)."""

    field: str
    reason: str
    event_id: str | None = None

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class _Invalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason


def parse_datetime(value: object, name: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(name, f"not an ISO 8601 date-time: {printable(value, 60)!r}") from None
    else:
        raise _Invalid(name, f"must be an ISO 8601 date-time string, got {type(value).__name__}")
    if parsed.tzinfo is UTC:  # as astimezone(UTC) would: the same datetime
        return parsed
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _Invalid(name, "must carry a timezone offset (e.g. 2026-11-23T12:00:00Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        raise _Invalid(name, f"is out of range: {printable(str(value), 60)!r}") from None


def _bounded_datetime(limits: Limits) -> Callable[[object, str], datetime]:
    def check(value: object, name: str) -> datetime:
        parsed = parse_datetime(value, name)
        if not limits.earliest <= parsed <= limits.latest:
            raise _Invalid(
                name,
                f"must be from {limits.earliest.isoformat()} to {limits.latest.isoformat()}, "
                f"got {parsed.isoformat()}",
            )
        return parsed

    return check


def _amount(value: object, name: str) -> Decimal:
    try:
        amount = to_decimal(value)
    except (TypeError, InvalidOperation):
        raise _Invalid(name, f"must be a number, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise _Invalid(name, f"must be a non-negative number, got {value!r}")
    if amount >= MAX_AMOUNT:
        raise _Invalid(name, f"must be below {MAX_AMOUNT:,}")
    return amount


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(name, "must be a non-empty string")
    return value


def _string(value: object, name: str) -> str:
    """Any string, empty included (a comment may be blank)."""
    if not isinstance(value, str):
        raise _Invalid(name, "must be a string")
    return value


@dataclass(frozen=True, slots=True)
class _Choice:
    allowed: tuple[str, ...]

    def __call__(self, value: object, name: str) -> str:
        if value not in self.allowed:
            raise _Invalid(name, f"must be one of {', '.join(self.allowed)}; got {value!r}")
        return str(value)


def _choice(*allowed: str) -> _Choice:
    return _Choice(allowed)


@dataclass(frozen=True, slots=True)
class _Integer:
    low: int
    high: int

    def __call__(self, value: object, name: str) -> int:
        low, high = self.low, self.high
        if isinstance(value, float) and value.is_integer():  # 6.0 is 6, as in JSON Schema
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _Invalid(name, f"must be a whole number from {low} to {high}")
        try:
            number = int(value)
        except ValueError:
            raise _Invalid(name, f"must be a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise _Invalid(name, f"must be from {low} to {high}, got {number}")
        return number


def _integer(low: int, high: int) -> _Integer:
    return _Integer(low, high)


Check = Callable[[object, str], object]

# type -> (needs subject_id, required attributes, optional attributes)
BUILTIN: dict[str, tuple[bool, dict[str, Check], dict[str, Check]]] = {
    "customer.upserted": (
        False,
        {},
        {
            "name": _text,
            "email": _text,
            "phone": _text,
            "locale": _text,
            "tier": _text,
            "lifetime_value": _amount,
            "channel": _text,
        },
    ),
    "order.placed": (
        True,
        {},
        {"promised_at": parse_datetime, "value": _amount, "currency": _text},
    ),
    "order.eta_updated": (True, {"eta": parse_datetime}, {}),
    "order.delivered": (True, {}, {}),
    "order.cancelled": (True, {}, {"reason": _text, "by": _choice("customer", "business")}),
    "order.item_issue": (
        True,
        {"issue": _text},
        {"item": _text, "item_value": _amount, "quantity": _integer(1, 10_000)},
    ),
    "purchase": (False, {}, {"value": _amount, "currency": _text}),
    "message.received": (False, {"text": _text}, {"channel": _text}),
    "survey.answered": (
        False,
        {"score": _integer(1, 7)},
        {
            "kind": _choice("csat", "ces"),
            "case_id": _text,
            "comment": _string,
            "ces": _integer(1, 7),
        },
    ),
    "service.alert": (
        False,
        {"status": _choice("down", "degraded", "restored")},
        {"area": _text, "service": _text, "message": _string},
    ),
    "behavior.signal": (False, {"signal": _text}, {"count": _integer(0, 1_000_000)}),
}
BUILTIN_TYPES = frozenset(BUILTIN)


# what a client may send, as JSON Schema: a subset of what parse_event accepts (the API's
# OpenAPI document is built from it, so a request valid by the document is never refused)
# (JSON Schema patterns in the ECMA form validators share: \uXXXX escapes, no surrogates, and
# the characters Python's str.strip() removes spelled out, as \s differs between engines)
NO_NUL = "^[^\\u0000]*$"
_BLANK = (
    "\\t\\n\\u000b\\u000c\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029"
    "\\u202f\\u205f\\u3000"
)
NOT_BLANK = f"^[^\\u0000]*[^\\u0000{_BLANK}][^\\u0000]*$"
DATE_TIME = (
    "^(197[1-9]|19[89][0-9]|20[01][0-9]|202[0-5])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$"
)


def value_schema(check: Check) -> dict[str, Any]:
    """The JSON Schema of what `check` accepts (or a stricter one)."""
    if isinstance(check, _Choice):
        return {"type": "string", "enum": list(check.allowed)}
    if isinstance(check, _Integer):
        return {"type": "integer", "minimum": check.low, "maximum": check.high}
    if check is _amount:
        return {"type": "number", "minimum": 0, "exclusiveMaximum": int(MAX_AMOUNT)}
    if check is parse_datetime:
        return {"type": "string", "pattern": DATE_TIME}
    if check is _text:
        return {"type": "string", "pattern": NOT_BLANK, "maxLength": DEFAULT_LIMITS.max_chars}
    return {"type": "string", "pattern": NO_NUL, "maxLength": DEFAULT_LIMITS.max_chars}


def _identifier(raw: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise _Invalid(name, "is required")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(name, "must be a non-empty string")
    if len(value) > MAX_ID:
        raise _Invalid(name, f"must be at most {MAX_ID} characters")
    return value


def _typed_attributes(type_: str, attributes: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    typed = dict(attributes)
    spec = BUILTIN.get(type_)
    if spec is None:
        return typed
    _, required, optional = spec
    for name in required:
        if attributes.get(name) is None:
            raise _Invalid(f"attributes.{name}", f"is required for {type_}")
    for name, check in {**required, **optional}.items():
        if attributes.get(name) is not None:
            if check is parse_datetime:
                check = _bounded_datetime(limits)
            typed[name] = check(attributes[name], f"attributes.{name}")
    return typed


def _event_id(raw: Mapping[Any, Any]) -> str | None:
    value = raw.get("id")
    if not isinstance(value, str):
        return None
    if len(value) <= MAX_ID and "\x00" not in value and value.isascii():
        return value
    return printable(value, MAX_ID)


def parse_event(raw: object, limits: Limits = DEFAULT_LIMITS) -> Event | Rejection:
    """Validate one untrusted event. Pure: never raises for bad input, returns a `Rejection`
    (whose `field` and `event_id` are printable whatever the input held)."""
    if type(raw) is dict:
        accepted = _well_formed(raw, limits)
        if accepted is not None:
            return accepted
    return _parse(raw, limits)


def _parse(raw: object, limits: Limits) -> Event | Rejection:
    """The definition of what is accepted, and the only path that refuses (naming why)."""
    if not isinstance(raw, Mapping):
        return Rejection("", f"an event must be a JSON object, got {type(raw).__name__}")
    event_id = _event_id(raw)
    try:
        if any(k not in ENVELOPE for k in raw):
            unknown = sorted(step(k)[1:] for k in raw if k not in ENVELOPE)
            raise _Invalid(unknown[0], "is not an envelope field (put it under attributes)")
        # one walk over the whole event; -2 so that max_depth counts the attributes' own nesting
        found = flaw(raw, limits, -2)
        if found is not None:
            raise _Invalid("".join(reversed(found[0]))[1:], found[1])
        ident = _identifier(raw, "id", required=True)
        type_ = raw.get("type")
        if not isinstance(type_, str) or not (TYPE_PATTERN.match(type_) or type_ in BUILTIN_TYPES):
            raise _Invalid("type", "must be a dotted lower-case name like order.placed")
        if len(type_) > MAX_TYPE:
            raise _Invalid("type", f"must be at most {MAX_TYPE} characters")
        occurred_at = _bounded_datetime(limits)(raw.get("occurred_at"), "occurred_at")
        customer_id = _identifier(raw, "customer_id", required=True)
        needs_subject = BUILTIN.get(type_, (False, {}, {}))[0]
        subject_id = _identifier(raw, "subject_id", required=needs_subject)
        attributes = raw.get("attributes", {})
        if attributes is None:
            attributes = {}
        if not isinstance(attributes, Mapping):
            raise _Invalid("attributes", "must be a JSON object")
        typed = _typed_attributes(type_, attributes, limits)
    except _Invalid as invalid:
        return Rejection(printable(invalid.field, 200), invalid.reason, event_id)
    return Event(str(ident), type_, occurred_at, str(customer_id), subject_id, typed)


# The fast path: per built-in type, (needs subject_id, required names, (name, check, path,
# is a date-time) for each attribute it checks), built once from BUILTIN.
_PLANS = {
    type_: (
        needs,
        tuple(required),
        tuple(
            (name, check, f"attributes.{name}", check is parse_datetime)
            for name, check in {**required, **optional}.items()
        ),
    )
    for type_, (needs, required, optional) in BUILTIN.items()
}


def _well_formed(raw: dict[Any, Any], limits: Limits) -> Event | None:
    """`_parse(raw)` when it is an `Event` and each check passes at the first look (plain
    strings, identifiers as strings, a dict of attributes); else None, and `_parse` decides.
    It never refuses, so a refusal is always `_parse`'s own. The same checks in the order
    that costs least for the common event: one pass over the attributes instead of a
    generic walk, and the built-in type's checks planned once."""
    if not raw.keys() <= ENVELOPE or limits.max_depth < 0:
        return None
    most = limits.max_chars
    ident, type_, customer_id = raw.get("id"), raw.get("type"), raw.get("customer_id")
    subject_id, when = raw.get("subject_id"), raw.get("occurred_at")
    attributes = raw.get("attributes")
    if attributes is None:
        attributes = {}
    elif type(attributes) is not dict:
        return None
    for text in (ident, type_, customer_id, subject_id, when):
        if type(text) is str:
            if not (text.isascii() and len(text) <= most and "\x00" not in text):
                if text_flaw(text, limits) is not None:
                    return None
        elif text is not None and type(text) is not datetime:
            return None
    for key, value in attributes.items():
        if type(key) is not str:
            return None
        if not (key.isascii() and len(key) <= most and "\x00" not in key):
            if text_flaw(key, limits) is not None:
                return None
        kind = type(value)
        if kind is str:
            if not (value.isascii() and len(value) <= most and "\x00" not in value):
                if text_flaw(value, limits) is not None:
                    return None
        elif value is not None and kind is not int and kind is not bool:
            if flaw(value, limits, 0) is not None:
                return None
    # the envelope: identifiers are non-blank strings of at most MAX_ID characters
    if type(ident) is not str or type(customer_id) is not str or type(type_) is not str:
        return None
    if not (0 < len(ident) <= MAX_ID and 0 < len(customer_id) <= MAX_ID):
        return None
    if not (ident.strip() and customer_id.strip()):
        return None
    plan = _PLANS.get(type_)
    if plan is None and not (TYPE_PATTERN.match(type_) and len(type_) <= MAX_TYPE):
        return None
    if subject_id is not None:
        if type(subject_id) is not str or not (0 < len(subject_id) <= MAX_ID):
            return None
        if not subject_id.strip():
            return None
    elif plan is not None and plan[0]:
        return None
    try:
        occurred_at = parse_datetime(when, "occurred_at")
        earliest, latest = limits.earliest, limits.latest
        if not earliest <= occurred_at <= latest:
            return None
        typed = dict(attributes)
        if plan is not None:
            for name in plan[1]:
                if attributes.get(name) is None:
                    return None
            for name, check, path, timed in plan[2]:
                value = attributes.get(name)
                if value is not None:
                    if timed:
                        value = parse_datetime(value, path)
                        if not earliest <= value <= latest:
                            return None
                        typed[name] = value
                    else:
                        typed[name] = check(value, path)
    except _Invalid:
        return None
    return Event(ident, type_, occurred_at, customer_id, subject_id, typed)


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSON-able form of an event; `parse_event` of it gives the same event back."""
    return {
        "id": event.id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "customer_id": event.customer_id,
        "subject_id": event.subject_id,
        "attributes": jsonable(event.attributes),
    }


_PLAIN = (str, int, float, bool, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)
JSON_PLAIN = _PLAIN_TYPES  # exact types `jsonable` returns as they are


def jsonable(value: Any) -> Any:
    """The JSON-able form of a value: dates and datetimes as ISO 8601 text, Decimals as exact
    text, mappings, sequences, sets and dataclasses recursively. makegood's one such function."""
    kind = type(value)  # the usual exact types first; `_general` says what the others become
    if kind in _PLAIN_TYPES:
        return value
    if kind is dict:
        for item in value.values():
            if type(item) not in _PLAIN_TYPES:
                break
        else:
            return value
        form = {}
        for key, item in value.items():
            form[key if type(key) is str else str(key)] = (
                item if type(item) in _PLAIN_TYPES else jsonable(item)
            )
        return form
    if kind is datetime:
        return value.isoformat()
    if kind is Decimal:
        return str(value)
    if kind is list:
        return [item if type(item) in _PLAIN_TYPES else jsonable(item) for item in value]
    return _general(value)


def _general(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict) and all(type(v) in _PLAIN for v in value.values()):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    return value


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A refused input kept with its reason: nothing accepted or refused is ever lost."""

    source: str
    line: int | None
    raw: str
    field: str
    reason: str
    event_id: str | None = None

    def __post_init__(self) -> None:
        # whatever was refused, its record must be writable to any store (no NUL, no lone
        # surrogate, within the columns' sizes): a quarantine that fails loses the batch
        for name, limit in (
            ("source", 300),
            ("raw", MAX_RAW),
            ("field", 200),
            ("reason", 2_000),
            ("event_id", MAX_ID),
        ):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, printable(str(value), limit))
