"""Recovery metrics on small stores built by hand; every expected figure is worked out here."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from makegood.adapters.sql import rows
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.metrics import MetricSettings, recovery_metrics
from makegood.adapters.sql.store import SqlStore
from makegood.domain.model import Case, Compensation, Customer, Failure, Subject

T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


class Builder:
    def __init__(self, path: Path) -> None:
        self.store = SqlStore(f"sqlite:///{path / 'm.db'}")
        self.store.migrate()
        self.n = 0

    def put(self, table: sa.Table, row: dict[str, Any]) -> None:
        with self.store.engine.begin() as c:
            c.execute(sa.insert(table), [row])

    def customer(self, cid: str, tier: str = "standard") -> None:
        self.put(t.customers, rows.customer_row(Customer(cid, tier=tier)))

    def order(self, sid: str, cid: str, at: datetime, **attributes: Any) -> None:
        self.put(t.subjects, rows.subject_row(Subject(sid, cid, attributes, {"order.placed": at})))
        self.event("order.placed", cid, at, subject=sid)

    def event(
        self, type_: str, cid: str, at: datetime, subject: str | None = None, **attributes: Any
    ) -> None:
        self.n += 1
        self.put(
            t.events,
            {
                "id": f"e{self.n}",
                "type": type_,
                "occurred_at": at,
                "customer_id": cid,
                "subject_id": subject,
                "attributes": attributes,
                "received_at": at,
                "seq": self.n,
            },
        )

    def failure(
        self,
        fid: str,
        case: str,
        cid: str,
        sid: str | None,
        category: str,
        severity: str,
        at: datetime,
        latency_s: float,
        kind: str = "process",
    ) -> None:
        self.put(
            t.failures,
            rows.failure_row(
                Failure(
                    fid,
                    fid,
                    "d",
                    cid,
                    sid,
                    case,
                    kind,
                    category,
                    severity,
                    at,
                    at + timedelta(seconds=latency_s),
                )
            ),
        )

    def case(
        self,
        kid: str,
        cid: str,
        at: datetime,
        ack_s: float | None = None,
        resolve_s: float | None = None,
        experiment: dict[str, str] | None = None,
    ) -> None:
        self.put(
            t.cases,
            rows.case_row(
                Case(
                    kid,
                    cid,
                    kid,
                    "resolved",
                    "major",
                    "x",
                    at,
                    at,
                    acknowledged_at=at + timedelta(seconds=ack_s) if ack_s is not None else None,
                    resolved_at=at + timedelta(seconds=resolve_s)
                    if resolve_s is not None
                    else None,
                    experiment=experiment or {},
                )
            ),
        )

    def compensation(
        self,
        key: str,
        case: str,
        cid: str,
        fid: str,
        amount: str,
        status: str = "granted",
        kind: str = "voucher",
    ) -> None:
        self.put(
            t.compensations,
            rows.compensation_row(
                Compensation(
                    key, key, case, cid, fid, kind, Decimal(amount), "EUR", status, "auto", "r", T
                )
            ),
        )

    def followed_up(self, case: str) -> None:
        self.put(
            t.timeline,
            {
                "case_id": case,
                "at": T,
                "kind": "state_changed",
                "actor": "engine",
                "data": {"from": "resolved", "to": "followed_up"},
            },
        )

    def figures(self, **settings: Any) -> dict[str, Any]:
        with self.store.engine.connect() as c:
            return recovery_metrics(c, MetricSettings(**settings))


@pytest.fixture
def shop(tmp_path: Path) -> Builder:
    b = Builder(tmp_path)
    for cid, tier in (
        ("c1", "gold"),
        ("c2", "standard"),
        ("c3", "standard"),
        ("c4", "standard"),
        ("c5", "standard"),
    ):
        b.customer(cid, tier)
    b.order("o1", "c1", T, area="Alfama")
    b.order("o2", "c2", T + H, area="Alfama")
    b.order("o3", "c3", T + 2 * H, area="Baixa")
    b.order("o4", "c4", T, area="Baixa")
    b.order("o5", "c5", T + H, area="Baixa")
    b.case("k1", "c1", T, ack_s=0, resolve_s=600, experiment={"voucher": "ten"})
    b.case("k2", "c2", T + H, ack_s=120, experiment={"voucher": "none"})
    b.case("k3", "c3", T + 2 * H, experiment={"voucher": "ten"})
    b.failure("f1", "k1", "c1", "o1", "late_delivery", "major", T, 30)
    b.failure("f2", "k2", "c2", "o2", "late_delivery", "major", T + H, 60)
    b.failure("f3", "k3", "c3", "o3", "missing_item", "minor", T + 2 * H, 10, kind="product")
    b.compensation("p1", "k1", "c1", "f1", "5.00")
    b.compensation("p3", "k3", "c3", "f3", "10.00", kind="refund")
    b.compensation("p2", "k2", "c2", "f2", "20.00", status="pending")
    b.followed_up("k1")
    b.followed_up("k3")
    b.event("survey.answered", "c1", T + 3 * H, case_id="k1", score=5, kind="csat")
    b.event("survey.answered", "c3", T + 4 * H, case_id="k3", score=2, kind="csat")
    b.event("survey.answered", "c2", T + 4 * H, case_id="k1", score=1)  # not c2's case
    b.event("purchase", "c1", T + 24 * H)  # within 30 days of its failure
    b.event("purchase", "c2", T - H)  # before its failure: not a repurchase
    b.event("purchase", "c4", T + timedelta(days=40))  # outside the window
    b.event("purchase", "c5", T + 48 * H)
    b.put(t.budget_spend, {"day": date(2026, 3, 2), "spent_minor": 1500})
    return b


def test_funnel_timings_and_satisfaction(shop: Builder) -> None:
    f = shop.figures(budget_per_day=Decimal(100))
    assert f["funnel"]["failures"] == 3
    assert {s["stage"]: s["count"] for s in f["funnel"]["stages"]} == {
        "failed": 3,
        "acknowledged": 2,
        "compensated": 2,
        "followed_up": 2,
        "answered": 2,
        "satisfied": 1,
    }
    # detection latencies 30, 60, 10 s: median 30; p90 at position 1.8 of [10, 30, 60]
    assert f["timings_s"]["detect"] == {"n": 3, "p50": 30, "p90": 30 + 0.8 * 30}
    assert f["timings_s"]["acknowledge"] == {"n": 2, "p50": 60, "p90": 108}
    assert f["timings_s"]["resolve"] == {"n": 1, "p50": 600, "p90": 600}
    csat = f["satisfaction"]["csat"]
    assert csat["satisfied"]["successes"] == 1 and csat["satisfied"]["n"] == 2
    assert csat["mean"] == 3.5  # (5 + 2) / 2; the answer to someone else's case is ignored
    assert f["satisfaction"]["ces"]["easy"]["n"] == 0


def test_spend_against_budget(shop: Builder) -> None:
    spend = shop.figures(budget_per_day=Decimal(100))["spend"]
    assert spend["granted"] == "15.00" and spend["compensations"] == 2
    assert spend["budget"] == "100.00" and spend["share_of_budget"] == 0.15
    assert spend["by_category"] == [
        {"key": "missing_item", "count": 1, "amount": "10.00"},
        {"key": "late_delivery", "count": 1, "amount": "5.00"},
    ]
    assert {r["key"]: r["amount"] for r in spend["by_tier"]} == {
        "standard": "10.00",
        "gold": "5.00",
    }
    assert {r["key"]: r["amount"] for r in spend["by_severity"]} == {
        "minor": "10.00",
        "major": "5.00",
    }
    assert spend["pending"] == {"count": 1, "amount": "20.00"}


def test_pareto_by_attribute_with_week_over_week(shop: Builder) -> None:
    f = shop.figures()
    area = f["pareto"]["area"]["rows"]
    assert [(r["key"], r["count"]) for r in area] == [("Alfama", 2), ("Baixa", 1)]
    assert area[0]["share"] == round(2 / 3, 4) and area[1]["cumulative"] == 1.0
    # failures at T, T+1h, T+2h: the window is half the span, (T+1h, T+2h] against (T, T+1h]
    assert f["window"]["length_s"] == 3600 and f["window"]["chosen_by"] == "data"
    assert (area[0]["this_week"], area[0]["last_week"], area[0]["change"]) == (0, 1, -1.0)
    assert (area[1]["this_week"], area[1]["last_week"], area[1]["change"]) == (1, 0, None)
    assert [r["key"] for r in f["pareto"]["type"]["rows"]] == ["process", "product"]


def test_paradox_groups(shop: Builder) -> None:
    p = shop.figures()["paradox"]
    g = p["groups"]
    # c1 recovered (satisfied) and bought; c2, c3 not recovered, neither bought in the window;
    # c4 bought only after 40 days, c5 within 2 days of its first order
    assert (g["recovered"]["successes"], g["recovered"]["n"]) == (1, 1)
    assert (g["not_recovered"]["successes"], g["not_recovered"]["n"]) == (0, 2)
    assert (g["never_failed"]["successes"], g["never_failed"]["n"]) == (1, 2)
    assert all("Too few" in c["verdict"] for c in p["comparisons"])


def test_experiment_arms_against_the_cheapest(shop: Builder) -> None:
    (experiment,) = shop.figures()["experiments"]
    assert experiment["experiment"] == "voucher" and experiment["control"] == "none"
    arms = {a["arm"]: a for a in experiment["arms"]}
    assert arms["ten"]["cases"] == 2 and arms["ten"]["cost"] == "15.00"
    assert arms["ten"]["cost_per_case"] == "7.50" and arms["none"]["cost"] == "0.00"
    assert (arms["ten"]["satisfied"]["successes"], arms["ten"]["satisfied"]["n"]) == (1, 2)
    assert (arms["ten"]["repurchase"]["successes"], arms["ten"]["repurchase"]["n"]) == (1, 2)
    assert (arms["none"]["repurchase"]["successes"], arms["none"]["repurchase"]["n"]) == (0, 1)
    assert arms["ten"]["repurchase_vs_control"]["difference"]["difference"] == 0.5
    assert arms["none"]["repurchase_vs_control"] is None


def test_hot_spot_when_a_rate_rises(tmp_path: Path) -> None:
    b = Builder(tmp_path)
    b.order("first", "c0", T, area="X")  # anchors the span; outside both windows
    b.case("k0", "c0", T)
    b.failure("f0", "k0", "c0", "first", "late_delivery", "major", T, 1)
    n = 0
    # windows of 1 h: before = (T, T+1h], now = (T+1h, T+2h]; the last failure is at T+2h
    for area, start, failed in (
        ("X", T + 0.5 * H, 1),
        ("X", T + 1.5 * H, 10),
        ("Y", T + 0.5 * H, 1),
        ("Y", T + 1.5 * H, 1),
    ):
        for i in range(20):
            n += 1
            sid, cid = f"o{n}", f"c{n}"
            b.order(sid, cid, start + timedelta(seconds=i))
            with b.store.engine.begin() as c:
                c.execute(
                    sa.update(t.subjects)
                    .where(t.subjects.c.id == sid)
                    .values(attributes={"area": area})
                )
            if i < failed:
                b.case(f"k{n}", cid, start)
                b.failure(f"f{n}", f"k{n}", cid, sid, "late_delivery", "major", start, 1)
    b.case("klast", "cz", T + 2 * H)
    b.failure("flast", "klast", "cz", None, "rude_agent", "minor", T + 2 * H, 1)
    hot = b.figures(keys=("area",))["hot_spots"]
    assert hot["window_s"] == 3600
    (row,) = hot["rows"]
    pooled = 11 / 40
    z = (10 / 20 - 1 / 20) / math.sqrt(pooled * (1 - pooled) * (1 / 20 + 1 / 20))
    assert row["value"] == "X" and row["z"] == round(z, 3)
    assert (row["now"]["successes"], row["now"]["n"]) == (10, 20)
    assert (row["before"]["successes"], row["before"]["n"]) == (1, 20)
