"""Limits on untrusted values: what any store can hold and any computation can use.

PostgreSQL cannot hold a NUL character, UTF-8 cannot encode a lone surrogate, JSON numbers may be
`NaN` or `Infinity` as Python reads them, nesting may be as deep as the input likes, and dates
may lie anywhere in the calendar. `flaw` finds the first such thing in a value, with its path;
`printable` is what a refused input may be stored and shown as, whatever it held. Pure: the
accepted time range is passed in (`Limits`), never read from a clock. `parse_event` uses it all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Limits:
    """What `parse_event` accepts beyond the shape of an event. The engine builds it from the
    policy and its clock (`CompiledPolicy.limits(now)`); the default suits tests and tools."""

    earliest: datetime = EPOCH
    latest: datetime = datetime(2100, 1, 1, tzinfo=UTC)
    max_depth: int = 32  # levels of objects and arrays under `attributes`
    max_chars: int = 65_536  # characters in one string (a message's text included)


DEFAULT_LIMITS = Limits()


def printable(text: str, limit: int | None = None) -> str:
    """`text` with NUL and lone surrogates escaped (``\\x00``, ``\\ud800``), cut to `limit`:
    what a refused input may be stored and shown as, whatever it held."""
    if limit is not None and len(text) > limit:
        text = text[:limit]
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def step(key: object) -> str:
    """One step of a dotted path (``.key``), printable whatever the key holds."""
    return "." + (printable(key, 100) if isinstance(key, str) else repr(key))


Flaw = tuple[list[str], str]  # the path to it (innermost step first) and the reason


def text_flaw(value: str, limits: Limits) -> Flaw | None:
    if value.isascii() and len(value) <= limits.max_chars and "\x00" not in value:
        return None
    if "\x00" in value:
        return [], "contains a NUL character"
    if not value.isascii() and _SURROGATE.search(value):
        return [], "contains a lone surrogate (not valid Unicode)"
    if len(value) > limits.max_chars:
        return [], f"is longer than {limits.max_chars:,} characters"
    return None


def flaw(value: object, limits: Limits, depth: int) -> Flaw | None:
    """What no store can hold or no computation can use in `value`, if anything. Recursion
    stops at `limits.max_depth`: a deeply nested input is refused, never a `RecursionError`.
    The path is built only for a flaw found, and plain leaves (short ASCII text, whole numbers)
    are passed without a call, so that a good event costs one quick walk."""
    if isinstance(value, str):
        return text_flaw(value, limits)
    if isinstance(value, float):
        return None if math.isfinite(value) else ([], f"must be a finite number, got {value}")
    if isinstance(value, (list, tuple)):
        items: Iterable[tuple[object, object]] = enumerate(value)
    elif isinstance(value, dict) or isinstance(value, Mapping):
        items = value.items()
    else:
        return None
    if depth >= limits.max_depth:
        return [], f"nests deeper than {limits.max_depth} levels"
    keyed = not isinstance(value, (list, tuple))
    most = limits.max_chars
    for key, item in items:
        if keyed:
            if not isinstance(key, str):
                return [step(key)], "a key must be a string"
            if not (key.isascii() and len(key) <= most and "\x00" not in key):
                found = text_flaw(key, limits)
                if found is not None:
                    found[0].append(step(key))
                    return found
        if isinstance(item, str):
            if item.isascii() and len(item) <= most and "\x00" not in item:
                continue
        elif item is None or isinstance(item, int):
            continue
        found = flaw(item, limits, depth + 1)
        if found is not None:
            found[0].append(step(key) if keyed else f"[{key}]")
            return found
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")
