"""A seeded food-delivery business for a simulated day, fed to makegood by ``makegood demo``.

The business (customers, merchants, 20 000 orders, their deliveries, issues, complaints and one
incident) is generated up front from `random.Random(seed)`: the same seed gives the same events,
and the wall clock is never read. `advance` hands them out in simulated time. Only reactions to
what makegood does are drawn later: `observe` tells the simulator which messages were sent, and
surveys get answered and customers buy again (or not) according to how they were treated.

Calibration, from public figures:
- Olist (Brazilian e-commerce, ~100k orders, public on Kaggle): about 8 % of deliveries arrive
  after the promised date; their reviews average about 2.5 of 5 against 4.3 on time, falling
  steadily with lateness. Satisfaction here follows that shape (`complaint`).
- Food delivery: promises 25-50 min after placement; most orders early or on time; a long tail
  of lateness (~8-10 % later than promise + 15 min, ~2 % later than + 60 min, a few never arrive
  and get cancelled by the business); ~2.5 % item issues; ~1 % cancelled by the customer;
  lunch and dinner demand peaks (`orders`).
- Customer tiers ~80/15/5 % standard/silver/gold, ~20 % Portuguese speakers (`population`).
- Repurchase: recovery helps moderately and noisily, and never beats not failing (`reaction`).

Module map: record (time, money, event dicts) · population (customers, merchants) · orders
(demand, lateness, incident) · complaint (failures, messages, rage clicks) · phrasebook (texts)
· reaction (surveys, repeat purchases) · simulator (this: settings, time, ground truth).
"""

from __future__ import annotations

import gc
import heapq
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import accumulate
from random import Random
from typing import Any

from makegood.entrypoints.demo.complaint import failures_of, fidget, voice
from makegood.entrypoints.demo.orders import (
    GRACE,
    Incident,
    Order,
    make_order,
    order_events,
    placement_times,
    plan_incident,
)
from makegood.entrypoints.demo.population import (
    area_weights,
    customer_event,
    make_customers,
    make_merchants,
)
from makegood.entrypoints.demo.reaction import (
    ANSWER_RATE,
    Reactions,
    answer_delay,
    contact_of,
    is_survey,
    second_of,
)
from makegood.entrypoints.demo.record import (
    DAY,
    HOUR,
    MINUTE,
    Clock,
    Event,
    Timed,
    basket,
    between,
    event,
    money,
)

MONITORING = "system:monitoring"  # customer_id of the service alerts: they concern no customer
SAME_DAY_RETURN = 0.3  # share of repeat purchases decided within hours rather than days
BANDS = (("0-15", 0), ("15-30", 15), ("30-60", 30), ("60+", 60))


@dataclass(frozen=True)
class SimulationSettings:
    seed: int = 7
    customers: int = 3000
    orders: int = 20000
    start: datetime = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # a Monday
    hours: int = 18
    areas: tuple[str, ...] = (
        "Alfama", "Baixa", "Belém", "Campo de Ourique",
        "Alvalade", "Areeiro", "Benfica", "Parque das Nações",
    )  # fmt: skip
    merchants: int = 120
    follow_up_days: int = 7  # repeat purchases and late survey answers come up to this long after


Pending = tuple[int, int, Callable[[], Event | None]]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while generating: the ~100k new dicts hold no
    reference cycles, and repeated full collections over them cost about a fifth of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Simulator:
    def __init__(self, settings: SimulationSettings) -> None:
        if settings.start.tzinfo is None:
            raise ValueError("SimulationSettings.start must be timezone-aware")
        if settings.customers < 1 or settings.orders < 0 or settings.hours < 3:
            raise ValueError("need at least one customer, no negative orders, three hours")
        if not settings.areas or settings.merchants < 1:
            raise ValueError("need at least one area and one merchant")
        self.settings = settings
        # events carry whole seconds
        self._start = settings.start.astimezone(UTC).replace(microsecond=0)
        self._clock = clock = Clock(self._start)
        self._span = settings.hours * HOUR
        self._horizon = self._span + settings.follow_up_days * DAY
        self._tally: Counter[str] = Counter()
        self._types: Counter[str] = Counter()
        self._pending: list[Pending] = []
        self._survey_cases: set[str] = set()
        self._returns: dict[str, Counter[str]] = {}
        with _collector_paused():
            rng = Random(settings.seed)
            weights = area_weights(rng, settings.areas)
            customers = make_customers(rng, settings.customers, settings.areas, weights)
            merchants = make_merchants(rng, settings.merchants, settings.areas)
            self._incident = plan_incident(rng, self._start, self._span, settings.areas)
            self._reactions = Reactions(clock, customers)
            start_iso = clock.iso(0)
            timed: list[Timed] = [(0, customer_event(c, start_iso)) for c in customers]
            timed += self._alerts()
            orders = self._orders(rng, customers, merchants, timed)
            timed.sort(key=lambda pair: pair[0])  # stable: generation order breaks ties
            self._seconds = [second for second, _ in timed]
            self._events = [e for _, e in timed]
            self._cursor = 0
            self._types.update(e["type"] for e in self._events)
            self._seq = len(self._events)
            self._plan_returns(rng, orders)

    @property
    def end(self) -> datetime:
        """The end of the business day; orders stop 45 minutes before it."""
        return self._start + timedelta(seconds=self._span)

    @property
    def horizon(self) -> datetime:
        """The end of the follow-up window: advance up to here to collect every reaction."""
        return self._start + timedelta(seconds=self._horizon)

    @property
    def incident(self) -> Incident:
        return self._incident

    def _alerts(self) -> list[Timed]:
        incident, clock = self._incident, self._clock
        timed: list[Timed] = []
        for status, at in (("down", incident.alert_down), ("restored", incident.alert_restored)):
            attributes = {
                "status": status,
                "area": incident.area,
                "service": "courier-dispatch",
                "message": f"courier dispatch {status} in {incident.area}",
            }
            ident = f"alert:{incident.area}:{status}"
            timed.append(
                (at, event(ident, "service.alert", clock.iso(at), MONITORING, None, attributes))
            )
        return timed

    def _orders(
        self, rng: Random, customers: list[Any], merchants: list[Any], timed: list[Timed]
    ) -> list[Order]:
        by_area: dict[str, list[Any]] = {}
        for merchant in merchants:
            by_area.setdefault(merchant.area, []).append(merchant)
        times = placement_times(rng, self._start, self._span, self.settings.orders)
        activity = list(accumulate(c.activity for c in customers))
        buyers = rng.choices(customers, cum_weights=activity, k=len(times))
        earlier: Counter[str] = Counter()
        orders = []
        for number, (placed, customer) in enumerate(zip(times, buyers, strict=True), 1):
            local = by_area.get(customer.area)
            nearby = local if local and rng.random() < 0.85 else merchants
            order = make_order(rng, number, placed, customer, rng.choice(nearby), self._incident)
            orders.append(order)
            timed += order_events(rng, order, self._clock, self._incident)
            timed += fidget(rng, order, self._clock, self._tally)
            for failure in failures_of(order):
                timed += voice(rng, order, failure, earlier[customer.id], self._clock, self._tally)
                earlier[customer.id] += 1
                self._reactions.failed(customer.id, failure)
            self._count(order)
        self._tally["failed_customers"] = len(earlier)
        return orders

    def _count(self, order: Order) -> None:
        tally = self._tally
        tally[order.outcome] += 1
        if order.issue is not None:
            tally[f"issue:{order.issue.kind}"] += 1
        if order.in_incident:
            tally["incident_orders"] += 1
            tally["incident_late"] += order.outcome == "delivered" and order.lateness > GRACE
            tally["incident_cancelled"] += order.outcome == "cancelled_by_business"
        if order.outcome == "delivered" and order.lateness > 0:
            minutes = order.lateness / MINUTE
            band = [name for name, low in BANDS if minutes > low][-1]
            tally[f"late:{band}"] += 1

    def _plan_returns(self, rng: Random, orders: list[Order]) -> None:
        """One repeat-purchase decision per customer who ordered, due some hours or days on.

        The draw is made now; whether it turns into a purchase is decided when it is due,
        from the failures and recovery the customer has seen by then.
        """
        last: dict[str, int] = {}
        for order in orders:
            last[order.customer.id] = max(last.get(order.customer.id, 0), order.done)
        for customer_id, seen in last.items():
            first = self._reactions.first_failure(customer_id)
            anchor = seen if first is None else first
            if rng.random() < SAME_DAY_RETURN:
                delay = between(rng, 1 * HOUR, 8 * HOUR)
            else:
                delay = between(rng, 8 * HOUR, self.settings.follow_up_days * DAY)
            due = min(anchor + delay, self._horizon)
            decide = partial(self._return, customer_id, due, rng.random(), basket(rng))
            self._push(due, decide)

    def _return(self, customer_id: str, at: int, draw: float, value: int) -> Event | None:
        group, bought = self._reactions.buys_again(customer_id, at, draw)
        counts = self._returns.setdefault(group, Counter())
        counts["customers"] += 1
        if not bought:
            return None
        counts["buyers"] += 1
        attributes = {"value": money(value), "currency": "EUR", "channel": "app"}
        return event(
            f"{customer_id}:purchase",
            "purchase",
            self._clock.iso(at),
            customer_id,
            None,
            attributes,
        )

    def _push(self, second: int, make: Callable[[], Event | None]) -> None:
        heapq.heappush(self._pending, (second, self._seq, make))
        self._seq += 1

    def advance(self, until: datetime) -> list[dict[str, Any]]:
        """Every event with occurred_at <= `until` not returned yet, sorted by occurred_at.

        Reactions to observed messages may fall before an earlier `until` (a customer answers
        within the step in which the survey was observed); they come with the next call.
        """
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        limit = (until - self._start) // timedelta(seconds=1)
        seconds, events, first = self._seconds, self._events, self._cursor
        last = bisect_right(seconds, limit, lo=first)
        self._cursor = last
        reactions: list[Timed] = []
        while self._pending and self._pending[0][0] <= limit:
            # the heap yields them in (second, seq) order
            second, _, make = heapq.heappop(self._pending)
            made = make()
            if made is not None:
                self._tally[made["type"]] += 1
                reactions.append((second, made))
        if not reactions:
            return events[first:last]
        # merge the few reactions into the sorted business events; on a tie, business first
        merged: list[Event] = []
        at = first
        for second, reaction in reactions:
            cut = bisect_right(seconds, second, lo=at, hi=last)
            merged += events[at:cut]
            merged.append(reaction)
            at = cut
        merged += events[at:last]
        return merged

    def observe(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Tell the simulated customers what makegood sent them.

        Each mapping has customer_id, case_id, template, created_at (aware) and a context that
        may hold "compensation" {kind, amount, currency} and "survey_url". Surveys are answered
        by about 45 % of customers, once per case, minutes to hours later.
        """
        for message in messages:
            customer_id = str(message["customer_id"])
            second = second_of(self._start, message["created_at"])
            self._reactions.contacted(customer_id, contact_of(message, second))
            case_id = message.get("case_id")
            if not is_survey(message) or not case_id or str(case_id) in self._survey_cases:
                continue
            case_id = str(case_id)
            self._survey_cases.add(case_id)
            rng = Random(f"{self.settings.seed}:survey:{case_id}")
            if rng.random() >= ANSWER_RATE:
                continue
            context = message.get("context") or {}
            kind = (
                "ces" if isinstance(context, Mapping) and context.get("kind") == "ces" else "csat"
            )
            at = second + answer_delay(rng)
            self._push(at, partial(self._reactions.answer, rng, customer_id, case_id, kind, at))

    def truth(self) -> dict[str, Any]:
        """Ground truth for checks. Business figures cover the whole run; reactions (survey
        answers, repeat purchases) count what `advance` has produced so far."""
        tally, incident, clock = self._tally, self._incident, self._clock
        delivered = tally["delivered"]
        late = {name: tally[f"late:{name}"] for name, _ in BANDS}
        failed_late = late["15-30"] + late["30-60"] + late["60+"]
        return {
            "seed": self.settings.seed,
            "start": clock.iso(0),
            "end": clock.iso(self._span),
            "horizon": clock.iso(self._horizon),
            "customers": self.settings.customers,
            "orders": self.settings.orders,
            "delivered": delivered,
            "late_deliveries": late,
            "late_share": failed_late / delivered if delivered else 0.0,
            "cancellations": {
                "by_customer": tally["cancelled_by_customer"],
                "by_business": tally["cancelled_by_business"],
            },
            "item_issues": sum(v for k, v in tally.items() if k.startswith("issue:")),
            "item_issues_by_kind": {
                k.removeprefix("issue:"): v
                for k, v in sorted(tally.items())
                if k.startswith("issue:")
            },
            "eta_updates": self._types["order.eta_updated"],
            "customer_messages": tally["customer_messages"],
            "messages_by_mood": {m: tally[f"messages_{m}"] for m in ("neutral", "angry", "churn")},
            "rage_clicks": tally["rage_clicks"],
            "failed_customers": tally["failed_customers"],
            "incidents": [
                {
                    "area": incident.area,
                    "start": clock.iso(incident.start),
                    "end": clock.iso(incident.end),
                    "orders_affected": tally["incident_orders"],
                    "late_deliveries": tally["incident_late"],
                    "cancelled": tally["incident_cancelled"],
                }
            ],
            "events_by_type": dict(sorted(self._types.items())),
            "surveys_received": len(self._survey_cases),
            "surveys_answered": tally["survey.answered"],
            "purchases": tally["purchase"],
            "repeat_purchases": {
                group: {"customers": c["customers"], "buyers": c["buyers"]}
                for group, c in sorted(self._returns.items())
            },
        }
