"""Backtests: deterministic, store-independent, and exact about what a policy change costs."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from random import Random
from typing import Any

import typer
from typer.testing import CliRunner

from makegood.adapters.policy_file import parse_policy
from makegood.adapters.sql.store import SqlStore
from makegood.domain.compensation import assign_arm
from makegood.entrypoints import cli_report
from makegood.service_layer.engine import Engine
from makegood.service_layer.replay import LogStore, RecordingStore, compare, replay, replay_engine

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

POLICY = """
version: 1
detectors:
  - name: late
    kind: deadline
    on: order.placed
    when: attributes.promised_at != null
    reference: attributes.promised_at
    deadline: attributes.promised_at + 15m
    until: [order.delivered]
    failure: {type: process, category: late_delivery, severity: major}
playbooks:
  - name: late
    steps:
      - {do: acknowledge, template: acknowledge}
      - {do: compensate, on: resolved, kind: voucher, STEP}
budgets: {per_case: 100, per_customer_30d: 100, global_per_day: 10000}
empowerment: {auto: 50, agent: 80, lead: 100}
"""


def policy(step: str) -> Any:
    return parse_policy(POLICY.replace("STEP", step))


def history(late: int, on_time: int) -> list[dict[str, Any]]:
    events = []
    for i in range(late + on_time):
        placed = T + timedelta(minutes=i)
        promised = placed + timedelta(minutes=30)
        delivered = promised + timedelta(minutes=20 if i < late else -5)
        order = {"customer_id": f"c{i}", "subject_id": f"o{i}"}
        events.append(
            {
                "id": f"p{i}",
                "type": "order.placed",
                "occurred_at": placed.isoformat(),
                **order,
                "attributes": {"promised_at": promised.isoformat(), "value": "20.00"},
            }
        )
        events.append(
            {
                "id": f"d{i}",
                "type": "order.delivered",
                "occurred_at": delivered.isoformat(),
                **order,
                "attributes": {},
            }
        )
    events.sort(key=lambda e: e["occurred_at"])
    # a last event well after the deliveries lets the watermark pass every deadline
    events.append(
        {
            "id": "end",
            "type": "order.placed",
            "occurred_at": (T + timedelta(days=1)).isoformat(),
            "customer_id": "z",
            "attributes": {},
        }
    )
    return events


def test_same_events_same_policy_same_result() -> None:
    events, p = history(late=30, on_time=70), policy("amount: {fixed: 3}")
    first, second = replay(events, p, batch_size=17), replay(events, p, batch_size=17)
    assert first.figures == second.figures
    assert first.figures["failures"] == 30 and first.figures["compensations_granted"] == 30


def test_batch_size_and_store_do_not_change_decisions(tmp_path: Path) -> None:
    events, p = history(late=12, on_time=20), policy("amount: {fixed: 3}")
    store = SqlStore(f"sqlite:///{tmp_path / 'replay.db'}")
    store.migrate()
    on_sql = replay(events, p, store=store, batch_size=7)
    assert replay(events, p, batch_size=1000).figures == on_sql.figures


def test_a_higher_voucher_costs_exactly_the_difference() -> None:
    events = history(late=25, on_time=75)
    current = replay(events, policy("amount: {fixed: 3}")).figures
    candidate = replay(events, policy("amount: {fixed: 5.50}")).figures
    assert current["spend"] == Decimal("75.00")  # 25 late orders x 3
    assert candidate["spend"] - current["spend"] == 25 * Decimal("2.50")
    rows = {r["figure"]: r for r in compare(current, candidate)}
    assert rows["spend"]["difference"] == Decimal("62.50")
    assert rows["failures"]["difference"] == 0 and rows["messages"]["difference"] == 0
    assert rows["failures_by_category: late_delivery"]["baseline"] == 25


def test_a_candidate_above_the_automatic_limit_waits_for_approval() -> None:
    events = history(late=10, on_time=0)
    candidate = replay(events, policy("amount: {fixed: 60}")).figures
    assert candidate["spend"] == 0 and candidate["approvals_waiting"] == 10
    assert candidate["approvals_amount"] == Decimal(600)


def test_experiment_assignment_is_stable_and_close_to_the_weights() -> None:
    arms = (("holdout", Decimal(1)), ("ten", Decimal(1)), ("twenty", Decimal(2)))
    drawn = [assign_arm(f"c{i}", "voucher-level", arms) for i in range(20_000)]
    assert drawn == [assign_arm(f"c{i}", "voucher-level", arms) for i in range(20_000)]
    shares = {k: v / len(drawn) for k, v in Counter(drawn).items()}
    # the standard error of a share near 0.25 over 20 000 draws is 0.003: allow 4 of them
    assert abs(shares["holdout"] - 0.25) < 0.012 and abs(shares["ten"] - 0.25) < 0.012
    assert abs(shares["twenty"] - 0.5) < 0.014
    # another experiment draws independently of this one
    other = [assign_arm(f"c{i}", "other", arms) for i in range(2_000)]
    assert other != drawn[:2_000]


def test_a_holdout_arm_gets_no_compensation_but_is_recorded() -> None:
    p = policy(
        "experiment: level, arms: [{name: holdout, weight: 1}, "
        "{name: ten, weight: 1, amount: {fixed: 10}}]"
    )
    recorder = RecordingStore(LogStore())
    engine = replay_engine(recorder, p, keep_all=True)
    engine.ingest(history(late=40, on_time=0))
    cases = recorder.decisions.cases.values()
    arms = {c.customer_id: c.experiment.get("level") for c in cases}
    assert len(arms) == 40 and set(arms.values()) == {"holdout", "ten"}
    paid = {c.customer_id for c in recorder.decisions.compensations.values()}
    assert paid == {customer for customer, arm in arms.items() if arm == "ten"}
    weights = (("holdout", Decimal(1)), ("ten", Decimal(1)))
    assert all(arm == assign_arm(c, "level", weights) for c, arm in arms.items())


def test_an_engine_that_flushes_evicts_and_trims_decides_as_the_replay(tmp_path: Path) -> None:
    """Four months of repeat orders, a per-customer 30-day budget that binds: the replay (every
    customer kept, one flush) decides what an engine on SQLite decides while it flushes every
    50 events, keeps 5 customers and trims the kept history daily. Found here: the recorder
    read a flush's changes after the flush had evicted them from the engine's state."""
    rng = Random(3)
    events = []
    for c in range(30):
        for k in range(12):
            placed = T + timedelta(days=k * 10 + rng.random() * 3, minutes=c)
            promised = placed + timedelta(minutes=30)
            delivered = promised + timedelta(minutes=20 if rng.random() < 0.6 else -5)
            order = {"customer_id": f"c{c}", "subject_id": f"o{c}-{k}"}
            attributes = {"promised_at": promised.isoformat(), "value": "20.00"}
            events += [
                {"id": f"p{c}-{k}", "type": "order.placed", "occurred_at": placed.isoformat(),
                 **order, "attributes": attributes},
                {"id": f"d{c}-{k}", "type": "order.delivered",
                 "occurred_at": delivered.isoformat(), **order, "attributes": {}},
            ]  # fmt: skip
    events.sort(key=lambda e: e["occurred_at"])
    end = T + timedelta(days=200)
    events.append({"id": "end", "type": "order.placed", "occurred_at": end.isoformat(),
                   "customer_id": "z", "attributes": {}})  # fmt: skip
    p = policy("amount: {fixed: 40}")
    replayed = replay(events, p, batch_size=50).figures
    store = SqlStore(f"sqlite:///{tmp_path / 'often.db'}")
    store.migrate()
    recorder = RecordingStore(store)
    codes = count(1)
    engine = Engine(recorder, p, _Clock(), new_code=lambda: f"REPLAY-{next(codes):08d}",
                    batch_size=50, resident=5, flush_events=50)  # fmt: skip
    for start in range(0, len(events), 50):
        engine.ingest(events[start : start + 50], source="replay", flush=False)
    engine.flush()
    store.dispose()
    assert recorder.decisions.figures() == replayed
    assert replayed["approvals_waiting"] > 0 and replayed["compensations_granted"] > 100


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def test_the_replay_command_compares_two_policies_on_a_file(tmp_path: Path) -> None:
    """`makegood replay --json`: both runs' figures, the rows of differences, wall and CPU
    seconds; a voucher of 5.50 instead of 3 costs 2.50 more per late order."""
    events = tmp_path / "history.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in history(late=6, on_time=4)))
    paths = []
    for name, step in (("base", "amount: {fixed: 3}"), ("cand", "amount: {fixed: 5.50}")):
        paths.append(tmp_path / f"{name}.yaml")
        paths[-1].write_text(POLICY.replace("STEP", step))
    app = typer.Typer()
    app.command("replay")(cli_report.replay)
    app.command("other")(cli_report.report)  # two commands: `replay` stays a subcommand
    args = ["replay", "--events", str(events), "--policy", str(paths[1])]
    done = CliRunner().invoke(app, [*args, "--baseline", str(paths[0]), "--json"])
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    # history()'s closing event has no subject_id: refused, in a file as in memory
    assert (out["events"], out["accepted"], out["rejected"]) == (21, 20, 1)
    rows = {r["figure"]: r for r in out["rows"]}
    assert (rows["spend"]["baseline"], rows["spend"]["difference"]) == ("18.00", "15.00")
    assert out["cpu_seconds"]["baseline"] > 0 and out["seconds"]["candidate"] > 0
