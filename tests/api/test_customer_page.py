"""The customer page (issue 15): every case, message, compensation and survey answer of one
customer, lifetime value and compensation of the last 30 days; API and dashboard, SQLite and
PostgreSQL; signed-out access goes to the sign-in page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from .desk import Desk, cancelled, profile
from .test_desk_search import said


def valued(customer: str, value: str) -> dict[str, Any]:
    event = profile(customer, locale="pt", tier="gold")
    event["attributes"]["lifetime_value"] = value
    return event


def history(desk: Desk) -> dict[str, str]:
    """c1: a case 40 days ago with 12.50 granted, then a new case with 7 granted, a message
    and a survey answer; c2 has a case of their own that must not show."""
    now = desk.clock.now
    desk.ingest([valued("c1", "1234.50"), {**cancelled("c1"), "occurred_at": now().isoformat()}])
    lead = desk.client("lead")
    first = lead.get("/v1/cases", params={"customer_id": "c1"}).json()["items"][0]["id"]
    grant = {"kind": "voucher", "amount": "12.50", "reason": "sorry"}
    assert lead.post(f"/v1/cases/{first}/compensations", json=grant).status_code == 201
    desk.clock.advance(timedelta(days=40))
    desk.ingest(
        [
            {
                **cancelled("c1"),
                "id": "c1-cancel-2",
                "subject_id": "c1-o2",
                "occurred_at": now().isoformat(),
            },
            {
                **said("c1", "O estafeta nunca chegou, pedido quuxberry perdido"),
                "occurred_at": now().isoformat(),
            },
            {**profile("c2"), "occurred_at": now().isoformat()},
            {**cancelled("c2"), "occurred_at": now().isoformat()},
        ]
    )
    items = lead.get("/v1/cases", params={"customer_id": "c1", "sort": "newest"}).json()["items"]
    second = items[0]["id"]
    grant = {"kind": "credit", "amount": "7", "reason": "late again"}
    assert lead.post(f"/v1/cases/{second}/compensations", json=grant).status_code == 201
    desk.ingest(
        [
            {
                "id": "c1-survey",
                "type": "survey.answered",
                "occurred_at": now().isoformat(),
                "customer_id": "c1",
                "attributes": {"score": 2, "case_id": first, "comment": "still waiting"},
            }
        ]
    )
    return {"first": first, "second": second}


def test_customer_api_gives_the_whole_record(desk: Desk) -> None:
    cases = history(desk)
    body = desk.client("agent").get("/v1/customers/c1").json()
    assert body["customer"]["name"] == "Name c1" and body["customer"]["tier"] == "gold"
    assert Decimal(body["lifetime_value"]) == Decimal("1234.50")
    assert Decimal(body["compensation_30d"]["amount"]) == Decimal(7)
    assert body["compensation_30d"]["count"] == 1
    assert {c["id"] for c in body["cases"]} == {cases["first"], cases["second"]}
    assert all(c["customer_id"] == "c1" for c in body["cases"])
    assert body["cases"][0]["id"] == cases["second"]  # newest first
    assert sorted(Decimal(c["amount"]) for c in body["compensations"]) == [
        Decimal(7),
        Decimal("12.50"),
    ]
    assert [m["text"] for m in body["messages_received"]] == [
        "O estafeta nunca chegou, pedido quuxberry perdido"
    ]
    assert body["messages_sent"] and all(m["channel"] for m in body["messages_sent"])
    assert [(s["score"], s["comment"], s["case_id"]) for s in body["surveys"]] == [
        (2, "still waiting", cases["first"])
    ]
    assert body["truncated"] is False
    missing = desk.client("agent").get("/v1/customers/nobody")
    assert missing.status_code == 404
    assert desk.client().get("/v1/customers/c1").status_code == 401


def test_customer_page_in_the_dashboard(desk: Desk) -> None:
    cases = history(desk)
    signed_out = desk.client().get("/customers/c1")
    assert signed_out.status_code in (302, 303, 307)
    assert "/login" in signed_out.headers["location"]
    browser = desk.signed_in("agent")
    page = browser.get("/customers/c1")
    assert page.status_code == 200
    text = page.text
    assert "Name c1" in text and "1,234.50" in text
    assert cases["first"] in text and cases["second"] in text
    assert "quuxberry" in text and "still waiting" in text and "12.50" in text
    other = desk.client("lead").get("/v1/cases", params={"customer_id": "c2"}).json()["items"]
    assert other and other[0]["id"] not in text  # another customer's case is not shown
    assert browser.get("/customers/nobody").status_code == 404
    case = browser.get(f"/cases/{cases['second']}")
    assert 'href="/customers/c1"' in case.text
