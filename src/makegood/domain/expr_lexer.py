"""Tokens of the policy expression language (see `makegood.domain.expr`), and durations.

A token is `(kind, text, value, column)`; kinds are ``num`` (value int or Decimal), ``dur``
(timedelta), ``str``, ``name``, ``kw`` (keywords), ``op`` and ``end``. Columns are 1-based.
"""

from __future__ import annotations

import re
import string
from datetime import timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from makegood.domain.errors import ExpressionError

__all__ = ["KEYWORDS", "Token", "parse_duration", "tokenize"]

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null", "True", "False", "None"})

_UNIT = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
}
# "ms" before "m", or "500ms" would read as 500 minutes and a stray "s".
_PART = re.compile(r"(\d+)(ms|[wdhms])", re.ASCII)
_DURATION = re.compile(r"(?:\d+(?:ms|[wdhms]))+", re.ASCII)
_NUMBER = re.compile(r"\d+(\.\d+)?", re.ASCII)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALNUM = re.compile(r"[A-Za-z0-9_]*")
_DIGITS = frozenset(string.digits)
_WORD_START = frozenset(string.ascii_letters + "_")
_TWO = ("==", "!=", "<=", ">=")
_ONE = frozenset("<>+-*/%()[],.")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_HINTS = {"=": "'=='", "&": "'and'", "|": "'or'", "!": "'not' or '!='"}


class Token(NamedTuple):
    kind: str
    text: str
    value: Any
    column: int

    def describe(self) -> str:
        if self.kind == "end":
            return "end of input"
        if self.kind == "name":
            return f"name {self.text!r}"
        if self.kind in ("num", "dur"):
            return f"{'number' if self.kind == 'num' else 'duration'} {self.text}"
        if self.kind == "str":
            return f"string {self.text}"
        return repr(self.text)


def parse_duration(text: str) -> timedelta:
    """``15m``, ``1h30m``, ``2d``, ``90s``, ``500ms``, ``1w``; units w d h m s ms, summed.

    Raises ValueError for anything else (signs, spaces, decimals, unknown units).
    """
    if not _DURATION.fullmatch(text):
        raise ValueError(f"not a duration: {text!r} (use e.g. 15m, 1h30m, 2d, 90s, 500ms)")
    total = timedelta()
    for amount, unit in _PART.findall(text):
        total += int(amount) * _UNIT[unit]
    return total


def tokenize(source: str) -> list[Token]:
    """All tokens of `source`, ending with an ``end`` token; ExpressionError on a bad character."""
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch in _DIGITS:
            i = _number(source, i, tokens)
        elif ch in _WORD_START:
            m = _match(_WORD, source, i)
            word = m.group()
            tokens.append(Token("kw" if word in KEYWORDS else "name", word, word, col))
            i = m.end()
        elif ch in "'\"":
            i = _string(source, i, tokens)
        elif source.startswith(_TWO, i):
            tokens.append(Token("op", source[i : i + 2], None, col))
            i += 2
        elif ch in _ONE:
            tokens.append(Token("op", ch, None, col))
            i += 1
        else:
            hint = f"; did you mean {_HINTS[ch]}?" if ch in _HINTS else ""
            raise ExpressionError(f"unexpected character {ch!r}{hint}", source, col)
    tokens.append(Token("end", "", None, n + 1))
    return tokens


def _match(pattern: re.Pattern[str], source: str, i: int) -> re.Match[str]:
    # Only called where the first character already fits, so a miss is a bug here.
    m = pattern.match(source, i)
    if m is None:
        raise AssertionError(f"{pattern.pattern!r} does not match at {i}")
    return m


def _number(source: str, i: int, tokens: list[Token]) -> int:
    m = _match(_NUMBER, source, i)
    end = m.end()
    tail = _match(_ALNUM, source, end)
    if tail.end() > end:  # digits glued to letters: a duration such as 1h30m
        text = source[i : tail.end()]
        try:
            value: Any = parse_duration(text)
        except ValueError:
            raise ExpressionError(
                f"invalid duration {text!r} (use e.g. 15m, 1h30m, 2d, 90s, 500ms)", source, i + 1
            ) from None
        tokens.append(Token("dur", text, value, i + 1))
        return tail.end()
    text = m.group()
    value = Decimal(text) if m.group(1) else int(text)
    tokens.append(Token("num", text, value, i + 1))
    return end


def _string(source: str, i: int, tokens: list[Token]) -> int:
    quote, start = source[i], i
    parts: list[str] = []
    i += 1
    while i < len(source):
        ch = source[i]
        if ch == quote:
            tokens.append(Token("str", source[start : i + 1], "".join(parts), start + 1))
            return i + 1
        if ch == "\\":
            esc = source[i + 1 : i + 2]
            if esc not in _ESCAPES:
                raise ExpressionError(f"unknown escape '\\{esc}' in string", source, i + 1)
            parts.append(_ESCAPES[esc])
            i += 2
        else:
            parts.append(ch)
            i += 1
    raise ExpressionError("unterminated string", source, start + 1)
