"""How simulated customers react to what makegood does: survey answers and repeat purchases.

Satisfaction after a failure starts at the failure's harm (see `complaint`) and rises with the
recovery observed so far: any contact (acknowledgement, apology, incident notice), more if it
came fast; a resolution; a compensation, more the larger it is against the order. Repeated
failures weigh it down. A survey answer is a noisy read of that satisfaction (late and nothing
done: mostly 1-2; late with a voucher: mostly 3-5), and the chance of buying again is scaled
by it. Research (de Matos et al., 2007) finds the recovery paradox holds for satisfaction but
not reliably for repurchase, so here recovered customers buy again more often than unrecovered
ones, yet not more than customers never failed: a moderate effect drawn customer by customer,
never written down as an outcome.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from random import Random
from typing import Any

from makegood.entrypoints.demo.complaint import ON_TIME_SATISFACTION, Failure
from makegood.entrypoints.demo.phrasebook import comment
from makegood.entrypoints.demo.population import Customer
from makegood.entrypoints.demo.record import HOUR, MINUTE, Clock, Event, between, event

ANSWER_RATE = 0.45
COMMENT_RATE = 0.3
SURVEY_TEMPLATES = frozenset({"survey"})


@dataclass(frozen=True, slots=True)
class Contact:
    at: int
    template: str
    compensation: int  # cents


def _cents(compensation: object) -> int:
    if not isinstance(compensation, Mapping):
        return 0
    try:
        amount = Decimal(str(compensation.get("amount", 0)))
    except InvalidOperation:
        return 0
    return int(amount * 100) if amount.is_finite() and amount > 0 else 0


def contact_of(message: Mapping[str, Any], second: int) -> Contact:
    context = message.get("context") or {}
    compensation = context.get("compensation") if isinstance(context, Mapping) else None
    return Contact(second, str(message.get("template", "")), _cents(compensation))


def is_survey(message: Mapping[str, Any]) -> bool:
    context = message.get("context") or {}
    has_url = isinstance(context, Mapping) and bool(context.get("survey_url"))
    return message.get("template") in SURVEY_TEMPLATES or has_url


class Reactions:
    """What each customer went through and was offered; answers questions at a given second."""

    def __init__(self, clock: Clock, customers: list[Customer]) -> None:
        self._clock = clock
        self._customers = {c.id: c for c in customers}
        self._failures: dict[str, list[Failure]] = {}
        self._contacts: dict[str, list[Contact]] = {}

    def failed(self, customer_id: str, failure: Failure) -> None:
        self._failures.setdefault(customer_id, []).append(failure)

    def contacted(self, customer_id: str, contact: Contact) -> None:
        self._contacts.setdefault(customer_id, []).append(contact)

    def first_failure(self, customer_id: str) -> int | None:
        failures = self._failures.get(customer_id)
        return min(f.at for f in failures) if failures else None

    def _recovery(self, customer_id: str, first: int, at: int, value: int) -> tuple[float, str]:
        contacts = [c for c in self._contacts.get(customer_id, ()) if first - HOUR <= c.at <= at]
        care = [c for c in contacts if c.template not in SURVEY_TEMPLATES]
        if not care:
            return 0.0, "not_recovered"
        bonus = 0.5 + (0.2 if min(c.at for c in care) - first <= 20 * MINUTE else 0.0)
        templates = {c.template for c in care}
        bonus += 0.3 if "resolved" in templates else 0.0
        bonus += 0.2 if "escalated" in templates else 0.0
        paid = sum(c.compensation for c in care)
        if paid <= 0:
            return bonus, "apologised"
        return bonus + 0.8 + min(0.8, 2.0 * paid / max(value, 1)), "recovered"

    def satisfaction(self, customer_id: str, at: int) -> tuple[float, str]:
        """(latent satisfaction 1-5, recovery group) of a customer at a second."""
        customer = self._customers.get(customer_id)
        temper = customer.temper if customer is not None else 0.0
        failures = [f for f in self._failures.get(customer_id, ()) if f.at <= at]
        if not failures:
            return min(5.0, max(1.0, ON_TIME_SATISFACTION + temper)), "never_failed"
        worst = min(failures, key=lambda f: f.harm)
        first = min(f.at for f in failures)
        bonus, group = self._recovery(customer_id, first, at, worst.value)
        level = worst.harm - 0.3 * (len(failures) - 1) + bonus + temper
        return min(5.0, max(1.0, level)), group

    def answer(self, rng: Random, customer_id: str, case_id: str, kind: str, at: int) -> Event:
        """A `survey.answered` event; the draw happens when the customer answers."""
        level, _ = self.satisfaction(customer_id, at)
        if kind == "ces":  # 7 = "it was easy to get my issue resolved"
            scale, score = 7, round(1 + (level - 1) * 1.5 + rng.gauss(0.0, 1.0))
        else:
            scale, score = 5, round(level + rng.gauss(0.0, 0.75))
        score = min(scale, max(1, score))
        attributes: dict[str, Any] = {"score": score, "kind": kind, "case_id": case_id}
        customer = self._customers.get(customer_id)
        if rng.random() < COMMENT_RATE:
            locale = customer.locale if customer is not None else "en"
            attributes["comment"] = comment(rng, locale, score, scale)
        ident = f"survey:{case_id}"[:200]
        return event(ident, "survey.answered", self._clock.iso(at), customer_id, None, attributes)

    def buys_again(self, customer_id: str, at: int, draw: float) -> tuple[str, bool]:
        """(group, bought): the base chance, scaled by how the customer feels at `at`."""
        customer = self._customers[customer_id]
        level, group = self.satisfaction(customer_id, at)
        if group == "never_failed":
            scale = 1.0
        else:
            scale = min(1.05, max(0.3, 0.40 + 0.14 * (level - 1)))
        return group, draw < customer.returning * scale


def answer_delay(rng: Random) -> int:
    """Seconds from the survey message to the answer: most within the hour, a tail to a day."""
    if rng.random() < 0.55:
        minutes = min(60.0, max(2.0, rng.lognormvariate(math.log(15.0), 0.7)))
        return int(minutes * MINUTE)
    return between(rng, 1 * HOUR, 30 * HOUR)


def second_of(start: datetime, moment: object) -> int:
    """Whole seconds from the start to an aware datetime (or its ISO string), floored."""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise ValueError(f"created_at must be an aware datetime, got {moment!r}")
    return (when - start) // timedelta(seconds=1)
