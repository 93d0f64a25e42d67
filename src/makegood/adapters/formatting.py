"""Values for people and for JSON: money and dates per locale, context to JSON-able data."""

from __future__ import annotations

from datetime import datetime
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
