"""Untrusted JSON text (an HTTP body, a line of a file) into Python values, or a reason why not.

`json.loads` recurses once per level of nesting, so 10,000 ``[`` raise `RecursionError`, and
what it returns at 900 levels makes every later walk over it (serialising, storing) recurse as
deep. The depth is measured on the text before parsing, without recursion. Integers longer than
Python's digit limit, NaN and Infinity pass here as the parser gives them; `parse_event` refuses
non-finite numbers with their field.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # deeper than any event needs (parse_event allows 32 levels of attributes)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class BadJson(ValueError):
    """The text is not JSON makegood reads; `str()` says why, in a line."""


def too_deep(text: str, max_depth: int) -> bool:
    """Whether arrays and objects nest more than `max_depth` levels in `text` (strings ignored)."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    level = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        level += 1 if bracket in "[{" else -1
        if level > max_depth:
            return True
    return False


def read_json(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one JSON document. Raises `BadJson` (never `RecursionError`) for what is not."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadJson(f"not valid UTF-8 (byte {error.start + 1})") from None
    if too_deep(text, max_depth):
        raise BadJson(f"nests deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadJson(f"not valid JSON: {error.msg} (column {error.colno})") from None
    except (ValueError, RecursionError) as error:  # e.g. an integer of 5,000 digits
        raise BadJson(f"not valid JSON: {str(error).split(';')[0]}") from None
