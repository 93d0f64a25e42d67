"""GET /metrics through prometheus_client (issue 14 point 4), parsed by prometheus_client's
own parser, on SQLite and PostgreSQL: HELP and TYPE on every family; the counters, the
histograms and the store gauges move with what happened; a 5xx answer is counted."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from makegood.adapters.sql import schema as t
from makegood.domain.model import OPEN_STATES
from makegood.entrypoints.api import create_app

from .desk import Desk, at, cancelled, profile

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> tuple[str, Samples]:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        assert family.documentation, family.name  # a HELP line
        assert family.type in ("counter", "gauge", "histogram"), family.name  # a TYPE line
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return answer.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def placed(customer: str, promised_in: float) -> dict[str, Any]:
    return {
        "id": f"{customer}-placed",
        "type": "order.placed",
        "occurred_at": at(),
        "customer_id": customer,
        "subject_id": f"{customer}-o1",
        "attributes": {"promised_at": at(promised_in)},
    }


def clients(desk: Desk, *roles: str) -> list[TestClient]:
    """Clients of one application (one registry, which also observes the engine)."""
    api = create_app(desk.app)
    return [
        TestClient(api, headers={"Authorization": f"Bearer {desk.tokens[role]}"}) for role in roles
    ]


def store_counts(desk: Desk) -> dict[str, int]:
    c = t.cases.c
    with desk.app.store.engine.connect() as conn:
        return {
            "cases": int(conn.scalar(sa.select(sa.func.count()).select_from(t.cases)) or 0),
            "waiting": int(
                conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(t.cases)
                    .where(c.needs_person.is_(True), c.state.in_(sorted(OPEN_STATES)))
                )
                or 0
            ),
            "spent_minor": int(conn.scalar(sa.select(t.budget_spend.c.spent_minor)) or 0),
            "pending": int(
                conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(t.compensations)
                    .where(t.compensations.c.status == "pending")
                )
                or 0
            ),
        }


def test_metrics_have_help_and_type_and_move_with_the_store(desk: Desk) -> None:
    admin, ingest = clients(desk, "admin", "ingest")
    text, before = scrape(admin)
    assert "# HELP makegood_engine_batch_seconds " in text
    assert "# TYPE makegood_engine_batch_seconds histogram" in text
    assert "# TYPE makegood_http_responses_total counter" in text
    assert value(before, "makegood_store_up") == 1
    assert value(before, "makegood_engine_batch_seconds_count") == 0

    # a late delivery: promised at +10 min, its deadline (+15 min) passes at +25 min; the
    # engine records the failure at +40 min, so detection took 15 minutes
    desk.ingest([profile("c-late"), placed("c-late", promised_in=10)])
    desk.tick(timedelta(minutes=40))
    delivered = {**placed("c-late", 10), "id": "c-late-delivered", "type": "order.delivered"}
    desk.ingest([{**delivered, "occurred_at": at(40), "attributes": {}}])  # 30 min late
    desk.ingest([profile("c-cancel"), cancelled("c-cancel", minutes=40)])  # waits for a person

    event = profile("c-api")
    assert ingest.post("/v1/events", json=event).status_code == 200
    assert ingest.post("/v1/events", json=event).status_code == 200  # a duplicate
    assert ingest.post("/v1/events", json={"id": "x", "type": "order.placed"}).status_code == 422

    _, after = scrape(admin)
    assert value(after, "makegood_engine_batch_seconds_count") >= 3
    assert value(after, "makegood_engine_batch_seconds_sum") > 0
    assert value(after, "makegood_detection_latency_seconds_count") == 1
    assert value(after, "makegood_detection_latency_seconds_sum") == 15 * 60
    assert value(after, "makegood_detection_latency_seconds_bucket", le="900.0") == 1
    assert value(after, "makegood_detection_latency_seconds_bucket", le="300.0") == 0
    assert value(after, "makegood_time_to_first_message_seconds_count") >= 1
    assert value(after, "makegood_failures_recorded_total") >= 2
    assert value(after, "makegood_events_accepted_total") == 1
    assert value(after, "makegood_events_duplicate_total") == 1
    assert value(after, "makegood_events_rejected_total") == 1
    ok = {"method": "POST", "route": "/v1/events"}
    assert value(after, "makegood_http_responses_total", **ok, status_class="2xx") == 2
    assert value(after, "makegood_http_responses_total", **ok, status_class="4xx") == 1

    counts = store_counts(desk)
    assert counts["cases"] == 2 and counts["waiting"] >= 1
    cases = sum(v for (name, _), v in after.items() if name == "makegood_cases")
    assert cases == counts["cases"]
    assert value(after, "makegood_cases_waiting_for_a_person") == counts["waiting"]
    assert value(after, "makegood_approvals_pending") == counts["pending"]
    budget = desk.app.policy.policy.budgets.global_per_day
    spent = value(after, "makegood_budget_spent_today")
    assert spent == counts["spent_minor"] / 100 > 0  # the late delivery's voucher
    assert value(after, "makegood_budget_left_today") == float(budget) - spent


def test_an_unhandled_error_is_counted_as_5xx_by_its_route(desk: Desk) -> None:
    desk.ingest([profile("c-broken"), cancelled("c-broken")])
    [agent] = clients(desk, "agent")
    [case] = agent.get("/v1/cases").json()["items"]
    with desk.app.store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE timeline"))  # every action on a case now fails
    answer = agent.post(f"/v1/cases/{case['id']}/notes", json={"text": "call back"})
    assert answer.status_code == 500
    assert answer.headers["x-request-id"]
    _, samples = scrape(agent)
    route = {"method": "POST", "route": "/v1/cases/{case_id}/notes"}
    assert value(samples, "makegood_http_responses_total", **route, status_class="5xx") == 1
    assert value(samples, "makegood_http_responses_total", **route, status_class="2xx") == 0


def test_a_dashboard_action_carries_its_request_id_to_the_timeline(desk: Desk) -> None:
    desk.ingest([profile("c-form"), cancelled("c-form")])
    browser = desk.signed_in("lead")
    [agent] = clients(desk, "agent")
    case_id = agent.get("/v1/cases").json()["items"][0]["id"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get(f"/cases/{case_id}").text)
    assert csrf is not None
    answer = browser.post(
        f"/cases/{case_id}/assign",
        data={"csrf": csrf.group(1), "owner": "agent-1"},
        headers={"X-Request-ID": "desk-req-42"},
    )
    assert answer.status_code == 303 and answer.headers["x-request-id"] == "desk-req-42"
    timeline = agent.get(f"/v1/cases/{case_id}").json()["timeline"]
    [assigned] = [e for e in timeline if e["kind"] == "assigned"]
    assert assigned["data"]["request_id"] == "desk-req-42"
    assert all("request_id" not in e["data"] for e in timeline if e["actor"] == "engine")
