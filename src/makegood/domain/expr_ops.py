"""What the operators and functions of the expression language do to values.

Internal to `makegood.domain.expr`. A value an operator cannot take raises `Fault` (a bare
message); the compiled expression turns it into an ExpressionError that names the column.
Numbers are int or Decimal; a float coming from data is converted through ``Decimal(repr(f))``
as soon as it meets arithmetic or a Decimal, so results are never float. Booleans are not numbers.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "COMPARISONS",
    "FUNCTIONS",
    "Fault",
    "add",
    "contains",
    "div",
    "eq",
    "get",
    "index",
    "kind",
    "mod",
    "mul",
    "neg",
    "order",
    "sub",
]


class Fault(Exception):
    """A value an operator or function cannot take (internal; never leaves `expr`)."""


_EXACT = frozenset({int, Decimal})
_NUMBERS = frozenset({int, Decimal, float})
_SEQUENCES = frozenset({list, tuple})
_MICRO = timedelta(microseconds=1)
# Objects whose public attributes reach interpreter internals (frame.f_globals, module.os, ...).
_OPAQUE = (
    type,
    types.ModuleType,
    types.FrameType,
    types.TracebackType,
    types.CodeType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
)
_KINDS = {
    bool: "boolean",
    int: "integer",
    Decimal: "decimal",
    float: "number",
    str: "string",
    timedelta: "duration",
    list: "list",
    tuple: "list",
}


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, Mapping):
        return "mapping"
    return _KINDS.get(type(value), type(value).__name__)


def _mismatch(op: str, a: Any, b: Any) -> Fault:
    return Fault(f"cannot apply '{op}' to {kind(a)} and {kind(b)}")


def _dec(value: Any) -> Any:
    return Decimal(repr(value)) if type(value) is float else value


# --- lookups -------------------------------------------------------------------------------


def get(obj: Any, key: str) -> Any:
    """`obj.key`: a key of a mapping, or a public non-callable attribute; missing gives None."""
    if type(obj) is dict:
        return obj.get(key)
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    if key.startswith("_") or isinstance(obj, _OPAQUE):
        raise Fault(f"attribute {key!r} of {kind(obj)} is not accessible")
    value = getattr(obj, key, None)
    return None if callable(value) else value


def index(obj: Any, key: Any) -> Any:
    """`obj[key]`: a mapping key, a list position, or (with a string) the same as `obj.key`."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        try:
            return obj.get(key)
        except TypeError:  # an unhashable key is simply not there
            return None
    if type(key) is int and type(obj) in _SEQUENCES | {str}:
        return obj[key] if -len(obj) <= key < len(obj) else None
    if type(key) is str:
        return get(obj, key)
    raise Fault(f"cannot index {kind(obj)} with {kind(key)}")


# --- comparisons ---------------------------------------------------------------------------


def eq(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is tb and ta not in _SEQUENCES:
        return bool(a == b)
    if a is None or b is None or ta is bool or tb is bool:
        return False
    if ta in _SEQUENCES and tb in _SEQUENCES:
        return len(a) == len(b) and all(map(eq, a, b))
    if ta is float or tb is float:
        a, b = _dec(a), _dec(b)
    return bool(a == b)


def order(op: Callable[[Any, Any], Any], symbol: str, a: Any, b: Any) -> bool:
    """`a < b` and friends: False when either side is null, Fault when they do not compare."""
    if a is None or b is None:
        return False
    if type(a) is float or type(b) is float:
        a, b = _dec(a), _dec(b)
    try:
        return bool(op(a, b))
    except TypeError:
        raise _mismatch(symbol, a, b) from None


def contains(item: Any, collection: Any) -> bool:
    """`item in collection`: list membership, mapping key, or substring."""
    if collection is None:
        return False
    if isinstance(collection, str):
        if not isinstance(item, str):
            raise _mismatch("in", item, collection)
        return item in collection
    if isinstance(collection, Mapping):
        try:
            return item in collection
        except TypeError:
            return False
    if isinstance(collection, list | tuple | set | frozenset):
        return any(eq(item, element) for element in collection)
    raise _mismatch("in", item, collection)


# --- arithmetic ----------------------------------------------------------------------------


def _numbers(a: Any, b: Any) -> tuple[Any, Any] | None:
    if type(a) in _NUMBERS and type(b) in _NUMBERS:
        return _dec(a), _dec(b)
    return None


def add(a: Any, b: Any) -> Any:
    if type(a) in _EXACT and type(b) in _EXACT:
        return a + b
    if type(b) is timedelta and type(a) is datetime:  # a deadline: `promised_at + 15m`
        return a + b
    if pair := _numbers(a, b):
        return pair[0] + pair[1]
    ta, tb = type(a), type(b)
    if tb is timedelta and (ta is timedelta or isinstance(a, datetime)):
        return a + b
    if ta is timedelta and isinstance(b, datetime):
        return b + a
    if ta is str and tb is str:
        return a + b
    if ta in _SEQUENCES and tb in _SEQUENCES:
        return [*a, *b]
    raise _mismatch("+", a, b)


def sub(a: Any, b: Any) -> Any:
    if type(a) in _EXACT and type(b) in _EXACT:
        return a - b
    if pair := _numbers(a, b):
        return pair[0] - pair[1]
    if type(b) is timedelta and (type(a) is timedelta or isinstance(a, datetime)):
        return a - b
    if isinstance(a, datetime) and isinstance(b, datetime):
        try:
            return a - b
        except TypeError:  # naive minus aware
            raise Fault("cannot subtract a naive datetime and an aware one") from None
    raise _mismatch("-", a, b)


def _scale(td: timedelta, factor: Any) -> timedelta:
    if type(factor) is int:
        return td * factor
    micros = (Decimal(td // _MICRO) * factor).to_integral_value(ROUND_HALF_EVEN)
    return timedelta(microseconds=int(micros))


def mul(a: Any, b: Any) -> Any:
    if type(a) in _EXACT and type(b) in _EXACT:
        return a * b
    if pair := _numbers(a, b):
        return pair[0] * pair[1]
    if type(a) is timedelta and type(b) in _NUMBERS:
        return _scale(a, _dec(b))
    if type(b) is timedelta and type(a) in _NUMBERS:
        return _scale(b, _dec(a))
    raise _mismatch("*", a, b)


def div(a: Any, b: Any) -> Any:
    """Numbers divide into a Decimal (``7 / 2`` is ``3.5``); durations by numbers or durations."""
    if pair := _numbers(a, b):
        if not pair[1]:  # 0 / 0 would be Decimal's InvalidOperation
            raise ZeroDivisionError
        return Decimal(pair[0]) / Decimal(pair[1])
    if type(a) is timedelta and type(b) in _NUMBERS:
        divisor = _dec(b)
        if divisor == 0:
            raise ZeroDivisionError
        if type(divisor) is int:
            return a / divisor
        micros = (Decimal(a // _MICRO) / divisor).to_integral_value(ROUND_HALF_EVEN)
        return timedelta(microseconds=int(micros))
    if type(a) is timedelta and type(b) is timedelta:
        if not b:
            raise ZeroDivisionError
        return Decimal(a // _MICRO) / Decimal(b // _MICRO)
    raise _mismatch("/", a, b)


def mod(a: Any, b: Any) -> Any:
    """Remainder with the sign of the divisor, as Python's ints do, for Decimals too."""
    if type(a) is int and type(b) is int:
        return a % b
    if pair := _numbers(a, b):
        x, y = Decimal(pair[0]), Decimal(pair[1])
        if not y:  # Decimal says InvalidOperation; say what it is
            raise ZeroDivisionError
        rest = x % y
        return rest + y if rest and (rest < 0) != (y < 0) else rest
    raise _mismatch("%", a, b)


def neg(a: Any) -> Any:
    if type(a) in _NUMBERS or type(a) is timedelta:
        return -_dec(a)
    raise Fault(f"cannot apply unary '-' to {kind(a)}")


# --- functions -----------------------------------------------------------------------------
# "Null in, null out" for the one-value functions, so a missing field makes a comparison false
# instead of an error that would sink a whole `or`.


def _extreme(pick: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        values = args[0] if len(args) == 1 and type(args[0]) in _SEQUENCES else args
        if not values:
            raise Fault(f"{name}() of an empty list")
        for value in values:  # not `None in values`: Decimal.__eq__(None) is slow
            if value is None:
                return None
        try:
            return pick(map(_dec, values))
        except TypeError:
            raise Fault(f"{name}() of values that do not compare") from None

    return call


def _abs(x: Any) -> Any:
    if x is None:
        return None
    if type(x) in _NUMBERS or type(x) is timedelta:
        return abs(_dec(x))
    raise Fault(f"abs() of {kind(x)}")


def _round(x: Any, places: Any = 0) -> Any:
    if type(places) is not int:
        raise Fault(f"round() places must be an integer, not {kind(places)}")
    if x is None:
        return None
    if type(x) not in _NUMBERS:
        raise Fault(f"round() of {kind(x)}")
    if type(x) is int and places >= 0:
        return x
    rounded = Decimal(_dec(x)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return int(rounded) if type(x) is int else rounded


def _len(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, str | list | tuple | Mapping | set | frozenset):
        return len(x)
    raise Fault(f"len() of {kind(x)}")


def _text(name: str, method: Callable[[str], str]) -> Callable[[Any], Any]:
    def call(x: Any) -> Any:
        if x is None or type(x) is str:
            return None if x is None else method(x)
        raise Fault(f"{name}() of {kind(x)}")

    return call


def _contains(haystack: Any, needle: Any) -> bool:
    """Case-insensitive for strings: ``contains(text, "refund")``, ``contains(tags, "VIP")``."""
    if haystack is None or needle is None:
        return False
    if type(needle) is str:
        needle = needle.casefold()
        if type(haystack) is str:
            return needle in haystack.casefold()
        if type(haystack) in _SEQUENCES:
            return any(type(e) is str and e.casefold() == needle for e in haystack)
    return contains(needle, haystack)


def _per(unit: timedelta, name: str) -> Callable[[Any], Any]:
    def call(x: Any) -> Any:
        if x is None or type(x) is timedelta:
            return None if x is None else Decimal(x // _MICRO) / Decimal(unit // _MICRO)
        raise Fault(f"{name}() of {kind(x)}, expected a duration")

    return call


def _str(x: Any) -> Any:
    """Text of a scalar, for ids and keys: ``str(body.id)``; booleans as true/false."""
    if x is None or type(x) is str:
        return x
    if type(x) is bool:
        return "true" if x else "false"
    if type(x) in _NUMBERS:
        return str(_dec(x))
    if isinstance(x, datetime):
        return x.isoformat()
    raise Fault(f"str() of {kind(x)}")


def _coalesce(*values: Any) -> Any:
    """The first value that is not null (null when all are)."""
    return next((value for value in values if value is not None), None)


def _if(condition: Any, then: Any, otherwise: Any) -> Any:
    """``if(cond, a, b)``: a when cond is truthy, else b (both sides are evaluated)."""
    return then if condition else otherwise


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time(x: Any) -> Any:
    """An aware UTC datetime from ISO 8601 text with an offset, or from Unix seconds."""
    if x is None:
        return None
    if isinstance(x, datetime):
        parsed = x
    elif type(x) is str:
        try:
            parsed = datetime.fromisoformat(x.strip())
        except ValueError:
            raise Fault(f"time() of {x!r}: not an ISO 8601 date-time") from None
    elif type(x) in _NUMBERS:
        try:
            micros = (Decimal(_dec(x)) * 1_000_000).to_integral_value(ROUND_HALF_EVEN)
            return _EPOCH + timedelta(microseconds=int(micros))
        except (OverflowError, ArithmeticError):
            raise Fault(f"time() of {x!r}: out of range") from None
    else:
        raise Fault(f"time() of {kind(x)}")
    if parsed.utcoffset() is None:
        raise Fault(f"time() of {x!r}: no timezone offset")
    return parsed.astimezone(UTC)


# name -> (fewest arguments, most arguments, function); all pure, so calls on constants fold.
FUNCTIONS: dict[str, tuple[int, int, Callable[..., Any]]] = {
    "min": (1, 64, _extreme(min, "min")),
    "max": (1, 64, _extreme(max, "max")),
    "abs": (1, 1, _abs),
    "round": (1, 2, _round),
    "len": (1, 1, _len),
    "lower": (1, 1, _text("lower", str.lower)),
    "upper": (1, 1, _text("upper", str.upper)),
    "contains": (2, 2, _contains),
    "minutes": (1, 1, _per(timedelta(minutes=1), "minutes")),
    "hours": (1, 1, _per(timedelta(hours=1), "hours")),
    "str": (1, 1, _str),
    "coalesce": (1, 64, _coalesce),
    "if": (3, 3, _if),
    "time": (1, 1, _time),
}

COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
