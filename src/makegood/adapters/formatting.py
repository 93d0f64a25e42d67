"""Values for people and for JSON: money and dates per locale, context to JSON-able data."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from makegood.domain.money import Money, round_money, to_decimal

_PREFIX_SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€", "BRL": "R$"}
_MONTHS = {
    "en": (
        "January February March April May June July August September October November December"
    ).split(),
    "pt": (
        "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro"
    ).split(),
}


def to_jsonable(value: Any) -> Any:
    """Decimals as strings (exact), datetimes ISO 8601, mappings and sequences recursively."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)


def format_money(amount: Any, currency: str | None = None, locale: str = "en") -> str:
    """``format_money("1234.5", "EUR")`` -> ``€1,234.50``; in ``pt`` -> ``1.234,50 €``.
    Accepts a `Money` (then `currency` may be omitted). None gives an empty string."""
    if amount is None:
        return ""
    if isinstance(amount, Money):
        amount, currency = amount.amount, currency or amount.currency
    number = f"{round_money(to_decimal(amount)):,.2f}"
    code = (currency or "").upper()
    symbol = _PREFIX_SYMBOLS.get(code)
    if locale.split("_")[0].split("-")[0].lower() == "pt":
        number = number.replace(",", " ").replace(".", ",").replace(" ", ".")
        if code == "BRL":
            return f"R$ {number}"
        return f"{number} {symbol or code}".strip()
    if symbol:
        return f"{symbol}{number}"
    return f"{number} {code}".strip()


def format_date(value: Any, locale: str = "en") -> str:
    """A date (or aware datetime, or ISO string) for people: ``March 9, 2025`` /
    ``9 de março de 2025``. None gives an empty string."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    day = value.date() if isinstance(value, datetime) else value
    language = locale.split("_")[0].split("-")[0].lower()
    months = _MONTHS.get(language, _MONTHS["en"])
    month = months[day.month - 1]
    if language == "pt":
        return f"{day.day} de {month} de {day.year}"
    return f"{month} {day.day}, {day.year}"
