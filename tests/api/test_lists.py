"""Every list pages (issue 11 point 7, issue 10 points 6 and 19): a cursor walks each item once,
the total is the true count, the dashboard pages too, and an incident's compensation to a
customer without a case is listed and decidable like a case's."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from makegood.adapters.sql import schema as t

from .desk import Desk, at, cancelled, profile


def walk(client: TestClient, path: str, limit: int, **params: Any) -> tuple[list[Any], set[int]]:
    """Every item of a list, page by page, and the totals the pages reported."""
    items: list[Any] = []
    totals: set[int] = set()
    cursor = None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        totals.add(body["total"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items, totals


def escalated(desk: Desk, count: int) -> list[str]:
    desk.ingest([e for n in range(count) for e in (profile(f"c{n:03}"), cancelled(f"c{n:03}"))])
    with desk.app.store.engine.connect() as c:
        return sorted(c.scalars(sa.select(t.cases.c.id)))


def test_queue_and_cases_page_with_the_true_count(desk: Desk) -> None:
    case_ids = escalated(desk, 230)  # more than the old silent cap of 200
    with desk.client("agent") as client:
        queue, totals = walk(client, "/v1/queue", 64)
        assert totals == {230} and sorted(i["id"] for i in queue) == case_ids
        cases, totals = walk(client, "/v1/cases", 100, needs_person="true")
        assert totals == {230} and sorted(i["id"] for i in cases) == case_ids
        assert client.get("/v1/queue", params={"cursor": "not-ours"}).status_code == 422
        assert client.get("/v1/cases", params={"cursor": "e30"}).status_code == 422
    dashboard = desk.signed_in("agent")
    first = dashboard.get("/")
    assert re.search(r'class="muted total">230<', first.text)
    assert first.text.count('class="case-link"') == 50
    seen = re.findall(r'class="case-link" href="/cases/([^"]+)"', first.text)
    next_page = re.search(r'class="next" href="([^"]+)"', first.text)
    while next_page:
        page = dashboard.get(next_page.group(1).replace("&amp;", "&"))
        seen += re.findall(r'class="case-link" href="/cases/([^"]+)"', page.text)
        next_page = re.search(r'class="next" href="([^"]+)"', page.text)
    assert sorted(seen) == case_ids
    assert dashboard.get("/?cursor=garbage").status_code == 200  # an old link: the first page


def test_the_queue_keeps_its_priority_across_pages(desk: Desk) -> None:
    desk.ingest([profile("gold-1", tier="gold"), profile("std-1")])
    escalated(desk, 30)
    desk.ingest([cancelled("gold-1", 5), cancelled("std-1", 5)])
    with desk.client("agent") as client:
        queue, _ = walk(client, "/v1/queue", 7)
    ranks = [
        ({"critical": 2, "major": 1}.get(i["severity"], 0), i["customer_tier"] == "gold")
        for i in queue
    ]
    assert ranks == sorted(ranks, reverse=True)
    assert queue[0]["customer_id"] == "gold-1"


def incident_for_customers_without_cases(desk: Desk, customers: int) -> None:
    """Open orders in one area, then the area goes down: every customer is told and offered
    20 EUR (above the automatic tier), though none of them has a case."""
    events = []
    for n in range(customers):
        events += [
            profile(f"i{n:03}"),
            {
                "id": f"i{n:03}-order",
                "type": "order.placed",
                "occurred_at": at(),
                "customer_id": f"i{n:03}",
                "subject_id": f"i{n:03}-o",
                "attributes": {"promised_at": at(60), "area": "Belém", "value": 20},
            },
        ]
    events.append(
        {
            "id": "alert-1",
            "type": "service.alert",
            "occurred_at": at(2),
            "customer_id": "system:monitoring",
            "attributes": {"status": "down", "area": "Belém", "service": "couriers"},
        }
    )
    desk.clock.advance(timedelta(minutes=2))
    desk.ingest(events)
    for _ in range(5):
        desk.tick(timedelta(seconds=1))


def test_incident_compensations_are_listed_and_decidable(desk: Desk) -> None:
    incident_for_customers_without_cases(desk, 60)
    with desk.app.store.engine.connect() as c:
        pending = c.scalar(
            sa.select(sa.func.count())
            .select_from(t.compensations)
            .where(t.compensations.c.status == "pending")
        )
        cases = c.scalar(sa.select(sa.func.count()).select_from(t.cases))
    assert pending == 60 and cases == 0
    with desk.client("lead") as lead:
        listed, totals = walk(lead, "/v1/approvals", 25)
        assert totals == {60} and len({a["id"] for a in listed}) == 60
        first, second = listed[0], listed[1]
        spent_before = lead.get(f"/v1/incidents/{first['case_id']}").json()["spent"]
        assert first["case_state"] is None and first["incident_key"] == "Belém"
        approved = lead.post(f"/v1/approvals/{first['id']}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "granted"
        assert lead.post(f"/v1/approvals/{first['id']}/approve").status_code == 409
        rejected = lead.post(f"/v1/approvals/{second['id']}/reject", json={"reason": "no"})
        assert rejected.json()["status"] == "rejected"
        assert lead.get("/v1/approvals").json()["total"] == 58
        detail = lead.get(f"/v1/incidents/{first['case_id']}").json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert "approval_approved" in kinds and "approval_rejected" in kinds
    assert Decimal(detail["spent"]) == Decimal(spent_before) + Decimal(first["amount"])
    with desk.app.store.engine.connect() as c:
        told = c.scalar(
            sa.select(sa.func.count())
            .select_from(t.outbox)
            .where(
                t.outbox.c.template == "compensation",
                t.outbox.c.customer_id == first["customer_id"],
            )
        )
    assert told == 1  # the customer hears what they were given
    page = desk.signed_in("lead").get("/approvals")
    assert re.search(r'class="muted total">58<', page.text) and "incident Belém" in page.text
    third = listed[2]
    dashboard = desk.signed_in("lead")
    csrf = re.search(r'name="csrf" value="([^"]+)"', dashboard.get("/approvals").text)
    assert csrf is not None
    decided = dashboard.post(f"/approvals/{third['id']}/approve", data={"csrf": csrf.group(1)})
    assert decided.status_code == 303 and decided.headers["location"] == "/approvals?done=approved"


def test_incident_approvals_recheck_the_budgets(desk: Desk) -> None:
    incident_for_customers_without_cases(desk, 3)
    with desk.client("lead") as lead:
        listed, _ = walk(lead, "/v1/approvals", 10)
        comp = listed[0]
        customer = comp["customer_id"]
        # meanwhile the customer's 30-day budget (300 in the test policy) is spent on 3 cases
        desk.ingest(
            [
                {**cancelled(customer, 3), "id": f"{customer}-cancel-{n}", "subject_id": f"s{n}"}
                for n in range(3)
            ]
        )
        cases = lead.get("/v1/cases", params={"customer_id": customer}).json()["items"]
        for case in cases:
            answer = lead.post(
                f"/v1/cases/{case['id']}/compensations",
                json={"kind": "refund", "amount": "95", "reason": "refund"},
            )
            assert answer.json()["status"] == "granted", answer.text
        refused = lead.post(f"/v1/approvals/{comp['id']}/approve")
        assert refused.status_code == 409 and "budget" in refused.json()["detail"]
        other = lead.post(f"/v1/approvals/{listed[1]['id']}/approve")
    assert other.json()["status"] == "granted"


def test_approvals_api_pages_with_the_total(desk: Desk) -> None:
    case_ids = escalated(desk, 40)
    with desk.client("agent") as agent:
        for case_id in case_ids:
            answer = agent.post(
                f"/v1/cases/{case_id}/compensations",
                json={"kind": "voucher", "amount": "45", "reason": "above the agent's limit"},
            )
            assert answer.json()["status"] == "pending"
        listed, totals = walk(agent, "/v1/approvals", 9)
    assert totals == {40} and sorted(a["case_id"] for a in listed) == case_ids
    assert [a["created_at"] for a in listed] == sorted(a["created_at"] for a in listed)
    assert all(a["case_state"] == "escalated" for a in listed)
    assert Decimal(listed[0]["amount"]) == Decimal(45)


def test_incidents_page(desk: Desk) -> None:
    incident_for_customers_without_cases(desk, 2)
    with desk.client("agent") as agent:
        page = agent.get("/v1/incidents", params={"limit": 1}).json()
    assert page["total"] == 1 and page["items"][0]["key"] == "Belém"
    assert page["next_cursor"] is None
    html = desk.signed_in("agent").get("/incidents").text
    assert re.search(r'class="muted total">1<', html)
