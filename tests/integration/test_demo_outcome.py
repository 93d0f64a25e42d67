"""The shipped demo shows a business that recovers automatically within budget (issue 10,
point 23): the whole default day, as `makegood demo` runs it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from makegood.adapters.sql import queries
from makegood.adapters.sql import schema as t
from makegood.entrypoints.demo.driver import run_demo
from makegood.entrypoints.demo.personal import personal_figures
from makegood.entrypoints.demo.simulator import SimulationSettings


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = run_demo(tmp_path_factory.mktemp("demo") / "demo.db", SimulationSettings())
    budget = result.app.policy.policy.budgets.global_per_day
    with result.app.store.engine.connect() as c:
        figures = queries.summary(c, budget)
        figures["personal"] = personal_figures(c, result.app.policy)
        refused = [
            (r.at, r.data)
            for r in c.execute(
                sa.select(t.timeline.c.at, t.timeline.c.data).where(
                    t.timeline.c.kind == "approval_requested"
                )
            )
        ]
    result.app.store.dispose()
    return {"figures": figures, "refused": refused}


@pytest.mark.slow
def test_most_cases_recover_automatically_and_few_wait_for_a_person(day) -> None:
    cases = day["figures"]["cases"]
    shares = {k: v / cases["total"] for k, v in cases["shares"].items()}
    assert shares["recovered_automatically"] >= 0.70, shares
    assert shares["escalated"] <= 0.30, shares
    assert (
        sum(cases["shares"][k] for k in ("recovered_automatically", "escalated", "in_progress"))
        == cases["total"]
    )


@pytest.mark.slow
def test_the_daily_budget_never_runs_out(day) -> None:
    """Stricter than "not before evening": no grant of the day waits for lack of budget."""
    refused = [(at, data["reason"]) for at, data in day["refused"]]
    assert not [r for r in refused if "global per day" in r[1]], refused[:3]
    spend = day["figures"]["spend"]
    for spent in spend["by_day"].values():
        assert float(spent) < float(spend["budget_per_day"])


@pytest.mark.slow
def test_the_day_shows_tone_calls_and_the_customer_figures_in_formulas(day) -> None:
    personal = day["figures"]["personal"]
    assert personal["tones"]["personal"]["messages"] > 0  # gold customers' critical failures
    assert personal["tones"]["personal"]["signed_by"] == "Marta Silva"
    assert personal["tones"]["brief"]["messages"] > 0  # minor ones
    assert personal["calls"] > 0
    bands = personal["formula"]["by_recent_failures"]
    # a customer failed again is credited more for a cancelled order than a first-timer
    assert Decimal(bands["0"]["average"]) < Decimal(bands["1"]["average"]), bands
