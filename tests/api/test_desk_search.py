"""The desk's queue (issue 15): search by a word of a note or of a customer's message, by case,
customer and order; filters (status, severity, category, owner and "me", SLA state, tier);
sorting; the true total with every filter, walked a page at a time. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .desk import Desk, cancelled, profile
from .test_lists import walk


def said(customer: str, text: str, subject: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"{customer}-said-{abs(hash(text)) % 10_000}",
        "type": "message.received",
        "occurred_at": None,
        "customer_id": customer,
        "attributes": {"text": text},
    }
    if subject:
        event["subject_id"] = subject
    return event


def now_iso(desk: Desk) -> str:
    return desk.clock.now().isoformat()


def scene(desk: Desk) -> dict[str, str]:
    """Four customers' cases opened over 100 minutes: c1 gold, critical, a note, SLA breached;
    c2 silver, critical from a message, due within the hour; c3 critical, owned by agent-1,
    due within the hour; c4 minor, reopened, a day to go. Returns case id by customer."""

    def send(*events: dict[str, Any]) -> None:
        desk.ingest([{**e, "occurred_at": e["occurred_at"] or now_iso(desk)} for e in events])

    send(profile("c1", tier="gold"), {**cancelled("c1"), "occurred_at": now_iso(desk)})
    desk.clock.advance(timedelta(minutes=100))
    send(
        profile("c2", locale="pt", tier="silver"),
        said(
            "c2", "This is terrible, the soggy zorbleflux pizza was cold. I will cancel my account"
        ),
    )
    desk.clock.advance(timedelta(minutes=1))
    send(profile("c3"), {**cancelled("c3"), "occurred_at": now_iso(desk)})
    desk.clock.advance(timedelta(minutes=1))
    send(profile("c4"), said("c4", "The delivery was a little late, not great"))
    agent = desk.client("agent")
    cases = {c["customer_id"]: c["id"] for c in walk(agent, "/v1/cases", 50)[0]}
    assert (
        agent.post(
            f"/v1/cases/{cases['c1']}/notes", json={"text": "Promised a BLORPTASTIC callback"}
        ).status_code
        == 200
    )
    assert (
        agent.post(f"/v1/cases/{cases['c3']}/assign", json={"owner": "agent-1"}).status_code == 200
    )
    # c4's minor case recovered on its own; reopened, it waits with a day on its SLA clock
    assert agent.post(f"/v1/cases/{cases['c4']}/reopen").status_code == 200
    return cases


def found(client: TestClient, path: str = "/v1/queue", **params: Any) -> list[dict[str, Any]]:
    """Every item of a filtered list, a page of one at a time, checking the total is true."""
    items, totals = walk(client, path, 1, **params)
    assert totals == {len(items)}, (params, totals, len(items))
    return items


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


def test_search_finds_cases_by_message_note_customer_order_and_case(desk: Desk) -> None:
    cases = scene(desk)
    agent = desk.client("agent")
    for path in ("/v1/queue", "/v1/cases"):
        extra = {"needs_person": "false"} if path == "/v1/queue" else {}

        def by(q: str, path: str = path, extra: dict[str, str] = extra) -> list[str]:
            return sorted(ids(found(agent, path, q=q, **extra)))

        assert by("zorbleflux") == [cases["c2"]]  # a word of the customer's message
        assert by("ZORBLEFLUX pizza") == [cases["c2"]]  # case-insensitive, a phrase
        assert by("blorptastic") == [cases["c1"]]  # a word of a note
        assert by("Name c3") == [cases["c3"]]  # the customer's name
        assert by("c1-o1") == [cases["c1"]]  # the order
        assert by(cases["c4"][:12]) == sorted(
            c for c in cases.values() if c.startswith(cases["c4"][:12])
        )
        assert by("c4") == [cases["c4"]]  # the customer's id
        assert by("100%_") == [] and by("nothing-like-this") == []  # LIKE wildcards are literal


def test_each_filter_keeps_the_true_total(desk: Desk) -> None:
    cases = scene(desk)
    agent = desk.client("agent")
    everything = found(agent, needs_person="false")
    assert sorted(ids(everything)) == sorted(cases.values())
    now = desk.clock.now()

    def due(item: dict[str, Any]) -> Any:
        return datetime.fromisoformat(item["sla_due_at"]) if item["sla_due_at"] else None

    expectations: list[tuple[dict[str, str], Any]] = [
        ({"severity": "critical"}, lambda i: i["severity"] == "critical"),
        ({"severity": "minor"}, lambda i: i["severity"] == "minor"),
        ({"category": "cancelled_order"}, lambda i: i["category"] == "cancelled_order"),
        ({"state": "escalated"}, lambda i: i["state"] == "escalated"),
        ({"owner": "agent-1"}, lambda i: i["owner"] == "agent-1"),
        ({"owner": "me"}, lambda i: i["owner"] == "agent-1"),
        ({"tier": "gold"}, lambda i: i["customer_tier"] == "gold"),
        ({"tier": "standard"}, lambda i: i["customer_tier"] == "standard"),
        ({"sla": "breached"}, lambda i: due(i) is not None and due(i) < now),
        (
            {"sla": "due_1h"},
            lambda i: due(i) is not None and now <= due(i) < now + timedelta(hours=1),
        ),
        ({"sla": "ok"}, lambda i: due(i) is None or due(i) >= now + timedelta(hours=1)),
    ]
    for params, keep in expectations:
        want = sorted(i["id"] for i in everything if keep(i))
        assert sorted(ids(found(agent, needs_person="false", **params))) == want, params
    # the scene has something on both sides of every filter the test leans on
    assert ids(found(agent, needs_person="false", sla="breached")) == [cases["c1"]]
    assert sorted(ids(found(agent, needs_person="false", sla="due_1h"))) == sorted(
        [cases["c2"], cases["c3"]]
    )
    assert ids(found(agent, needs_person="false", sla="ok")) == [cases["c4"]]
    assert ids(found(agent, needs_person="false", owner="me")) == [cases["c3"]]
    assert ids(found(desk.client("lead"), needs_person="false", owner="me")) == []
    assert ids(found(agent, needs_person="false", tier="silver")) == [cases["c2"]]
    both = found(agent, needs_person="false", tier="gold", q="blorptastic", sla="breached")
    assert ids(both) == [cases["c1"]]
    assert found(agent, needs_person="false", tier="gold", q="zorbleflux") == []
    # the case list takes the same filters
    assert ids(found(agent, "/v1/cases", sla="breached", tier="gold")) == [cases["c1"]]


def test_sorting(desk: Desk) -> None:
    cases = scene(desk)
    agent = desk.client("agent")
    opened = {i["id"]: i["opened_at"] for i in found(agent, needs_person="false")}
    newest = ids(found(agent, needs_person="false", sort="newest"))
    oldest = ids(found(agent, needs_person="false", sort="oldest"))
    assert newest == sorted(opened, key=lambda c: (opened[c], c), reverse=True)
    assert oldest == list(reversed(newest)) and oldest[0] == cases["c1"]
    by_due = found(agent, needs_person="false", sort="sla_due")
    dues = [i["sla_due_at"] or "9999" for i in by_due]
    assert dues == sorted(dues) and by_due[0]["id"] == cases["c1"]
    priority = found(agent, needs_person="false")
    assert priority[0]["id"] == cases["c1"]  # critical and gold
    assert ids(found(agent, needs_person="false", sort="priority")) == ids(priority)
    assert agent.get("/v1/queue", params={"sort": "loudest"}).status_code == 422
    assert agent.get("/v1/queue", params={"sla": "soon"}).status_code == 422
    assert agent.get("/v1/queue", params={"q": "x" * 201}).status_code == 422


@pytest.mark.parametrize("signed_in", [False, True])
def test_dashboard_queue_search_filters_and_saved_views(desk: Desk, signed_in: bool) -> None:
    cases = scene(desk)
    if not signed_in:
        answer = desk.client().get("/", params={"q": "zorbleflux"})
        assert answer.status_code in (302, 303, 307) and "/login" in answer.headers["location"]
        return
    browser = desk.signed_in("agent")
    page = browser.get("/", params={"q": "zorbleflux", "everything": "true"})
    assert page.status_code == 200
    assert cases["c2"] in page.text and cases["c1"] not in page.text
    assert 'href="/customers/c2"' in page.text
    assert 'id="view-mine"' in page.text and 'id="view-breaching"' in page.text
    mine = browser.get("/?owner=me&everything=true")
    assert cases["c3"] in mine.text and cases["c1"] not in mine.text
    soon = browser.get("/?sla=due_1h&everything=true&sort=sla_due")
    assert cases["c2"] in soon.text and cases["c3"] in soon.text and cases["c1"] not in soon.text
    tiered = browser.get("/", params={"tier": "gold", "everything": "true", "sort": "newest"})
    assert cases["c1"] in tiered.text and cases["c2"] not in tiered.text
    odd = browser.get("/", params={"sla": "whenever", "tier": "platinum", "sort": "loud"})
    assert odd.status_code == 200  # an edited link is ignored, not an error
    none = browser.get("/", params={"q": "nothing-like-this"})
    assert "No match" in none.text
