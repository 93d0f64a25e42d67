"""The report's and the summary's reads on SQLite and PostgreSQL: CES answers, a business's own
ratings, the window comparisons are anchored on, and quarantined inputs counted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
import sqlalchemy as sa

from contract.conftest import Database
from makegood.adapters.sql import queries, rows
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.metrics import MetricSettings, recovery_metrics, window_changes
from makegood.adapters.sql.store import SqlStore
from makegood.domain.event import Quarantined
from makegood.domain.model import Case, Failure, Subject
from makegood.domain.policy import ReviewScale

T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
DAY = timedelta(days=1)


class Shop:
    """Rows put straight into a migrated store, as the engine would have left them."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.ids = count(1)

    def put(self, table: sa.Table, *items: dict[str, Any]) -> None:
        with self.store.engine.begin() as c:
            c.execute(sa.insert(table), list(items))

    def event(
        self, type_: str, customer: str, at: datetime, subject: str | None = None, **attributes: Any
    ) -> None:
        self.put(
            t.events,
            {
                "id": f"e{(n := next(self.ids))}",
                "type": type_,
                "occurred_at": at,
                "customer_id": customer,
                "subject_id": subject,
                "attributes": attributes,
                "received_at": at,
                "seq": n,
            },
        )

    def failure(self, customer: str, subject: str | None, category: str, at: datetime) -> str:
        n = next(self.ids)
        case = Case(f"k{n}", customer, subject or "", "resolved", "major", category, at, at)
        self.put(t.cases, rows.case_row(case))
        failure = Failure(
            f"f{n}", f"f{n}", "d", customer, subject, case.id, "process", category, "major", at, at
        )
        self.put(t.failures, rows.failure_row(failure))
        return case.id

    def order(self, subject: str, customer: str, at: datetime, **attributes: Any) -> None:
        self.put(t.subjects, rows.subject_row(Subject(subject, customer, attributes, {"o": at})))

    def figures(self, **settings: Any) -> dict[str, Any]:
        with self.store.engine.connect() as c:
            return recovery_metrics(c, MetricSettings(**settings))


@pytest.fixture
def shop(database: Database) -> Shop:
    return Shop(database.store())


def test_ces_asked_beside_csat_is_counted(shop: Shop) -> None:
    # the survey page stores the CES question in `ces` next to the CSAT `score`
    k1 = shop.failure("c1", "o1", "late_delivery", T)
    k2 = shop.failure("c2", "o2", "late_delivery", T)
    k3 = shop.failure("c3", "o3", "late_delivery", T)
    shop.event("survey.answered", "c1", T + H, case_id=k1, score=2, kind="csat", ces=2)
    shop.event("survey.answered", "c2", T + H, case_id=k2, score=5, kind="csat", ces=7)
    shop.event("survey.answered", "c3", T + H, case_id=k3, score=6, kind="ces")  # CES only
    f = shop.figures()
    ces, csat = f["satisfaction"]["ces"], f["satisfaction"]["csat"]
    assert (ces["easy"]["successes"], ces["easy"]["n"], ces["mean"]) == (2, 3, 5.0)
    assert (csat["satisfied"]["successes"], csat["satisfied"]["n"], csat["mean"]) == (1, 2, 3.5)
    stages = {s["stage"]: s["count"] for s in f["funnel"]["stages"]}
    assert (stages["answered"], stages["satisfied"]) == (3, 2)  # k2 by CSAT, k3 by CES


def test_a_business_s_own_ratings_by_failure_lateness_and_category(shop: Shop) -> None:
    shop.failure("c1", "o1", "late_delivery", T)
    shop.failure("c2", "o2", "missing_item", T)
    ratings = [  # survey.answered without a case: the business's own reviews (csat, 1-5)
        ("survey.answered", "c1", "o1", 1, {}),  # late order
        ("survey.answered", "c2", "o2", 2, {}),  # on time, but an item was missing
        ("survey.answered", "c3", "o3", 5, {}),  # on time, no failure
        ("survey.answered", "c4", None, 4, {}),  # the customer, never failed
        ("survey.answered", "c1", None, 5, {}),  # the customer, after a late order
        ("review.posted", "c5", "o5", 10, {"kind": "nps"}),  # the declared NPS scale
        ("review.posted", "c6", "o6", 7, {}),  # no kind: its type's first scale, NPS
        ("review.posted", "c7", "o7", 11, {}),  # outside the scale
        ("survey.answered", "c8", None, 3, {"kind": "stars"}),  # no such scale declared
    ]
    for type_, customer, subject, score, extra in ratings:
        shop.event(type_, customer, T + 2 * H, subject, score=score, **extra)
    nps = ReviewScale("nps", "review.posted", 0, 10, 9)
    reviews = shop.figures(reviews=(nps,))["reviews"]
    assert (reviews["ratings"], reviews["unread"]) == (7, 2)
    scales = {(s["type"], s["kind"]): s for s in reviews["scales"]}
    assert scales["survey.answered", "csat"]["mean"] == 3.4  # (1+2+5+4+5) / 5
    assert scales["review.posted", "nps"]["satisfied"]["successes"] == 1  # 10, not 7
    groups = {k: (g["successes"], g["n"]) for k, g in reviews["groups"].items()}
    # satisfied: c3 (5), c4 (4), c1 without order (5), c5 (nps 10)
    assert groups["failed"] == (1, 3)  # c1 late (1), c2 missing (2), c1 after a failure (5)
    assert groups["not_failed"] == (3, 4)  # c3, c4, c5, c6
    assert groups["late"] == (0, 1)
    assert groups["on_time"] == (2, 4)  # o2, o3, o5, o6
    by_category = {
        r["category"]: (r["satisfied"]["successes"], r["satisfied"]["n"])
        for r in reviews["by_category"]
    }
    assert by_category == {"late_delivery": (1, 2), "missing_item": (0, 1)}
    first = reviews["comparisons"][0]
    assert (first["a"], first["b"]) == ("failed", "not_failed")
    assert first["difference"]["difference"] == round(1 / 3 - 3 / 4, 4)


def thin_last_week(shop: Shop) -> datetime:
    """Five dense weeks (10 failures a day, area A) and then, after a gap, 2 failures in the
    data's last week: the end of an export. Returns when the dense part ends."""
    start = T
    for day in range(35):
        for i in range(10):
            at = start + day * DAY + i * H
            subject = f"o{day}-{i}"
            shop.order(subject, f"c{day}-{i}", at, area="A" if i % 2 else "B")
            shop.failure(f"c{day}-{i}", subject, "late_delivery" if i < 7 else "missing_item", at)
    dense_end = start + 34 * DAY + 9 * H
    shop.failure("cx", None, "late_delivery", dense_end + 20 * DAY)
    shop.failure("cy", None, "late_delivery", dense_end + 24 * DAY)
    return dense_end


def test_the_window_defaults_to_the_latest_one_with_enough_data(shop: Shop) -> None:
    dense_end = thin_last_week(shop)
    f = shop.figures()
    window = f["window"]
    assert window["chosen_by"] == "data" and window["length_s"] == 7 * 86400
    assert "fewer than half of a typical window" in window["reason"]
    until = (
        datetime.fromisoformat(str(window["until"]))
        if isinstance(window["until"], str)
        else window["until"]
    )
    assert dense_end <= until < dense_end + DAY  # anchored where the data is, not on its tail
    late = next(r for r in f["pareto"]["category"]["rows"] if r["key"] == "late_delivery")
    assert (late["this_week"], late["last_week"], late["change"]) == (49, 49, 0.0)
    # on the old anchor (the last 7 days of data) the comparison was 1 against 0
    asked = shop.figures(since=dense_end + 17 * DAY + 9 * H, until=dense_end + 24 * DAY)
    assert asked["window"]["chosen_by"] == "reader"
    late = next(r for r in asked["pareto"]["category"]["rows"] if r["key"] == "late_delivery")
    assert (late["this_week"], late["last_week"]) == (2, 0)


def test_the_summary_s_changes_use_the_same_window(shop: Shop) -> None:
    dense_end = thin_last_week(shop)
    with shop.store.engine.connect() as c:
        chosen = window_changes(c, MetricSettings())
        asked = window_changes(c, MetricSettings(since=T, until=T + 7 * DAY))
    assert chosen["failures"] == {"now": 70, "before": 70, "change": 0.0}
    assert chosen["window"]["until"] >= dense_end
    assert asked["window"]["chosen_by"] == "reader"
    # (T, T + 7 days]: the failure at T is out, the first one of day 7 (at T + 7 days) in
    assert asked["failures"]["now"] == 70
    assert asked["by_category"][0] == {  # the failure at T falls in the window before
        "category": "late_delivery",
        "now": 49,
        "before": 1,
        "change": 48.0,
    }
    with shop.store.engine.connect() as c, pytest.raises(ValueError, match="before --until"):
        window_changes(c, MetricSettings(since=T, until=T))


def test_a_bad_input_quarantined_twice_is_counted_once(shop: Shop) -> None:
    bad = [Quarantined("events.jsonl", n, f'{{"id": {n}', "", "not valid JSON") for n in (3, 6)]
    api = Quarantined("api", None, '{"type": "x"}', "id", "is required")
    for _ in range(3):  # the same file ingested three times, the same bad request twice
        with shop.store.session() as session:
            session.add_quarantined([*bad, api], T)
    with shop.store.session() as session:
        session.add_quarantined([Quarantined("other.jsonl", 3, '{"id": 3', "", "x")], T)
    with shop.store.engine.connect() as c:
        assert queries.summary(c, MetricSettings().budget_per_day)["quarantined"] == 4
