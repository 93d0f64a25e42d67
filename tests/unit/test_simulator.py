"""The simulated food-delivery business behind ``makegood demo``: deterministic, well-formed,
calibrated, and reacting to what makegood sends."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import mean
from typing import Any

import pytest

from makegood.domain.event import Rejection, parse_event
from makegood.entrypoints.demo.simulator import SimulationSettings, Simulator

Run = tuple[Simulator, list[dict[str, Any]]]
SMALL = SimulationSettings(customers=300, orders=2000)
HOUR = timedelta(hours=1)


def at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


@pytest.fixture(scope="module")
def day() -> Run:
    """The default business, run to the end of its follow-up window without any recovery."""
    simulator = Simulator(SimulationSettings())
    return simulator, simulator.advance(simulator.horizon)


@pytest.fixture(scope="module")
def outcomes(day: Run) -> dict[str, dict[str, Any]]:
    """Per order: placement, promise, area, and how it ended, read back from the events."""
    orders: dict[str, dict[str, Any]] = {}
    for event in day[1]:
        attributes = event["attributes"]
        if event["type"] == "order.placed":
            orders[event["subject_id"]] = {
                "placed": at(event),
                "promised": datetime.fromisoformat(attributes["promised_at"]),
                "area": attributes["area"],
                "value": Decimal(attributes["value"]),
            }
        elif event["type"] in {"order.delivered", "order.cancelled", "order.item_issue"}:
            key = event["type"].removeprefix("order.")
            orders[event["subject_id"]][key] = at(event)
            if event["type"] == "order.cancelled":
                orders[event["subject_id"]]["by"] = attributes["by"]
    return orders


def test_the_same_seed_gives_the_same_events_and_another_seed_others() -> None:
    first, again = Simulator(SMALL), Simulator(SMALL)
    other = Simulator(SimulationSettings(seed=8, customers=300, orders=2000))
    events = first.advance(first.horizon)
    assert events == again.advance(again.horizon)
    assert events != other.advance(other.horizon)
    assert first.truth() == again.truth()


def test_every_event_parses_and_ids_are_unique(day: Run) -> None:
    _, events = day
    rejected = [(e, r) for e in events if isinstance(r := parse_event(e), Rejection)]
    assert rejected == []
    assert len({e["id"] for e in events}) == len(events)
    assert all(e["occurred_at"].endswith("Z") for e in events)
    types = Counter(e["type"] for e in events)
    for type_ in ("customer.upserted", "order.placed", "order.delivered", "order.cancelled",
                  "order.eta_updated", "order.item_issue", "message.received",
                  "behavior.signal", "service.alert", "purchase"):  # fmt: skip
        assert types[type_] > 0, type_


def test_advance_hands_out_each_event_once_in_time_order() -> None:
    stepped, whole = Simulator(SMALL), Simulator(SMALL)
    now, returned = SMALL.start - timedelta(seconds=1), []  # customers arrive at the start
    while now < stepped.horizon:
        until = now + (HOUR / 4 if now < stepped.end else 12 * HOUR)
        batch = stepped.advance(until)
        times = [at(e) for e in batch]
        assert times == sorted(times)
        assert all(now < t <= until for t in times)
        returned += batch
        now = until
    assert stepped.advance(stepped.horizon + HOUR) == []
    assert returned == whole.advance(whole.horizon)


def test_advance_wants_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        Simulator(SMALL).advance(datetime(2026, 11, 2, 12, 0))  # noqa: DTZ001


def test_lateness_follows_the_calibration(outcomes: dict[str, dict[str, Any]]) -> None:
    delivered = [o for o in outcomes.values() if "delivered" in o]
    late = [(o["delivered"] - o["promised"]) / timedelta(minutes=1) for o in delivered]
    assert 0.97 < len(delivered) / len(outcomes) < 0.995
    assert sum(m <= 0 for m in late) / len(late) > 0.75  # most arrive early or on time
    assert 0.07 <= sum(m > 15 for m in late) / len(late) <= 0.11
    assert 0.012 <= sum(m > 60 for m in late) / len(late) <= 0.03
    promises = [(o["promised"] - o["placed"]) / timedelta(minutes=1) for o in outcomes.values()]
    assert min(promises) >= 25 and max(promises) <= 50
    assert all(Decimal(12) <= o["value"] <= Decimal(80) for o in outcomes.values())


def test_issues_and_cancellations_follow_the_calibration(
    day: Run, outcomes: dict[str, dict[str, Any]]
) -> None:
    issues = sum("item_issue" in o for o in outcomes.values())
    by = Counter(o.get("by") for o in outcomes.values())
    assert 0.02 <= issues / len(outcomes) <= 0.03
    assert 0.006 <= by["customer"] / len(outcomes) <= 0.014
    assert 0.002 <= by["business"] / len(outcomes) <= 0.012  # the few that never arrive
    truth = day[0].truth()
    assert truth["item_issues"] == issues
    assert truth["cancellations"] == {"by_customer": by["customer"], "by_business": by["business"]}


def test_customers_look_like_a_customer_base(day: Run) -> None:
    customers = [e["attributes"] for e in day[1] if e["type"] == "customer.upserted"]
    tiers = Counter(c["tier"] for c in customers)
    locales = Counter(c["locale"] for c in customers)
    assert 0.75 < tiers["standard"] / len(customers) < 0.85
    assert 0.03 < tiers["gold"] / len(customers) < 0.07
    assert 0.15 < locales["pt"] / len(customers) < 0.25
    assert all(re.fullmatch(r"[a-z.]+\d+@example\.(com|org)", c["email"]) for c in customers)


def test_the_incident_makes_its_area_late_at_once(
    day: Run, outcomes: dict[str, dict[str, Any]]
) -> None:
    simulator, events = day
    (incident,) = simulator.truth()["incidents"]
    start, end = (datetime.fromisoformat(incident[k]) for k in ("start", "end"))
    assert timedelta(minutes=35) <= end - start <= timedelta(minutes=45)
    window = (start, end + HOUR)
    late = Counter(
        o["area"]
        for o in outcomes.values()
        if window[0] <= o["promised"] + timedelta(minutes=15) <= window[1]
        and o.get("delivered", o.get("cancelled", start)) - o["promised"] > timedelta(minutes=15)
    )
    others = [late[a] for a in simulator.settings.areas if a != incident["area"]]
    assert late[incident["area"]] > 4 * mean(others)
    alerts = [e for e in events if e["type"] == "service.alert"]
    assert [a["attributes"]["status"] for a in alerts] == ["down", "restored"]
    assert {a["attributes"]["area"] for a in alerts} == {incident["area"]}
    assert start < at(alerts[0]) < end < at(alerts[1])


def _survey(customer_id: str, case_id: str, when: datetime, **context: Any) -> dict[str, Any]:
    context.setdefault("survey_url", f"https://example.org/s/{case_id}")
    return {"customer_id": customer_id, "case_id": case_id, "template": "survey",
            "created_at": when, "context": context}  # fmt: skip


def test_a_survey_gets_answered_later_for_its_case() -> None:
    simulator = Simulator(SMALL)
    noon = SMALL.start + 6 * HOUR
    simulator.advance(noon)
    cases = {f"case-{n}": f"c-{n:05d}" for n in range(1, 201)}
    simulator.observe(_survey(customer, case, noon) for case, customer in cases.items())
    simulator.observe([_survey("c-00001", "case-1", noon)])  # a repeat: answered once at most
    answers = [e for e in simulator.advance(simulator.horizon) if e["type"] == "survey.answered"]
    assert 0.3 < len(answers) / len(cases) < 0.6
    assert len({a["attributes"]["case_id"] for a in answers}) == len(answers)
    for answer in answers:
        assert cases[answer["attributes"]["case_id"]] == answer["customer_id"]
        assert at(answer) > noon
        assert 1 <= answer["attributes"]["score"] <= 5
    assert simulator.truth()["surveys_answered"] == len(answers)


def _failures(
    events: list[dict[str, Any]], promised: dict[str, datetime]
) -> dict[str, tuple[str, datetime]]:
    """order -> (customer, when a recovery engine could know it failed)."""
    failed = {}
    for event in events:
        subject = event["subject_id"]
        if event["type"] == "order.placed":
            promised[subject] = datetime.fromisoformat(event["attributes"]["promised_at"])
        elif event["type"] == "order.delivered":
            if at(event) - promised[subject] > timedelta(minutes=15):
                failed[subject] = (event["customer_id"], at(event))
        elif event["type"] == "order.item_issue":
            failed.setdefault(subject, (event["customer_id"], at(event)))
    return failed


def _recovery(customer: str, case: str, when: datetime, voucher: bool) -> list[dict[str, Any]]:
    sent = [{"customer_id": customer, "case_id": case, "template": "apology",
             "created_at": when, "context": {}}]  # fmt: skip
    if voucher:
        compensation = {"kind": "voucher", "amount": "8.00", "currency": "EUR"}
        sent.append({"customer_id": customer, "case_id": case, "template": "compensation",
                     "created_at": when, "context": {"compensation": compensation}})  # fmt: skip
    sent.append(_survey(customer, case, when + HOUR))
    return sent


def test_recovery_lifts_survey_scores_and_moderately_repeat_purchases() -> None:
    simulator = Simulator(SimulationSettings())
    now, answers = SimulationSettings().start, []
    voucher: dict[str, bool] = {}
    promised: dict[str, datetime] = {}
    while now < simulator.horizon:
        now += HOUR if now < simulator.end else 24 * HOUR
        batch = simulator.advance(now)
        answers += [e for e in batch if e["type"] == "survey.answered"]
        for order, (customer, when) in _failures(batch, promised).items():
            voucher.setdefault(customer, int(customer[2:]) % 2 == 0)
            simulator.observe(_recovery(customer, f"case-{order}", when, voucher[customer]))
    scores: dict[bool, list[int]] = {True: [], False: []}
    for answer in answers:
        scores[voucher[answer["customer_id"]]].append(answer["attributes"]["score"])
    assert mean(scores[True]) > mean(scores[False]) + 0.6
    assert sum(s >= 3 for s in scores[True]) / len(scores[True]) > 0.6
    assert sum(s <= 2 for s in scores[False]) / len(scores[False]) > 0.4

    groups = simulator.truth()["repeat_purchases"]
    rate = {g: c["buyers"] / c["customers"] for g, c in groups.items()}
    assert min(groups[g]["customers"] for g in ("apologised", "recovered", "never_failed")) > 300
    # a true, moderate effect: recovery helps, and does not beat never failing
    assert rate["apologised"] + 0.03 < rate["recovered"] < rate["never_failed"]


def test_settings_must_be_usable() -> None:
    naive = datetime(2026, 11, 2, 6, 0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        Simulator(SimulationSettings(start=naive))
    simulator = Simulator(SMALL)
    assert simulator.end == datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
    assert simulator.horizon == simulator.end + timedelta(days=7)
