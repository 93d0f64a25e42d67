"""Approvals on the desk (issue 15): the customer, reason, age and amount against the limits;
filters by kind and amount; approving or rejecting many at once with one reason."""

from __future__ import annotations

import re

from .desk import Desk, cancelled, profile
from .test_lists import incident_for_customers_without_cases


def pending_case_approvals(desk: Desk, customers: int, amount: str = "45") -> list[str]:
    """Cases whose agent asked for more than an agent may grant: approvals for a lead."""
    desk.ingest([e for n in range(customers) for e in (profile(f"b{n:02}"), cancelled(f"b{n:02}"))])
    ids = []
    with desk.client("agent") as agent:
        for case in agent.get("/v1/cases", params={"limit": 100}).json()["items"]:
            grant = {"kind": "voucher", "amount": amount, "reason": "cancelled twice"}
            answer = agent.post(f"/v1/cases/{case['id']}/compensations", json=grant)
            assert answer.json()["status"] == "pending", answer.text
            ids.append(answer.json()["id"])
    return ids


def test_filters_by_kind_and_amount_with_the_customer(desk: Desk) -> None:
    cases = pending_case_approvals(desk, 3)
    incident_for_customers_without_cases(desk, 2)  # 20 EUR each, waiting for an agent
    with desk.client("lead") as lead:
        every = lead.get("/v1/approvals").json()
        of_cases = lead.get("/v1/approvals", params={"kind": "case"}).json()
        of_incidents = lead.get("/v1/approvals", params={"kind": "incident"}).json()
        big = lead.get("/v1/approvals", params={"min_amount": "30"}).json()
        small = lead.get("/v1/approvals", params={"max_amount": "20"}).json()
        bad = lead.get("/v1/approvals", params={"min_amount": "-1"})
    assert every["total"] == 5
    assert of_cases["total"] == 3 and {a["id"] for a in of_cases["items"]} == set(cases)
    assert of_incidents["total"] == 2 and all(a["incident_id"] for a in of_incidents["items"])
    assert big["total"] == 3 and small["total"] == 2
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "min_amount"
    named = {a["customer_id"]: a["customer_name"] for a in every["items"]}
    assert named["b00"] == "Name b00"

    page = desk.signed_in("lead").get("/approvals", params={"kind": "incident"})
    assert page.status_code == 200
    assert 'class="muted total">2<' in page.text and "Name i000" in page.text
    agent_limit = desk.app.policy.policy.empowerment.agent
    assert f"of {agent_limit:.2f} (agent limit)" in page.text  # 20 EUR against the limit


def test_bulk_approve_and_reject_with_a_reason(desk: Desk) -> None:
    ids = pending_case_approvals(desk, 6)
    with desk.client("lead") as lead:
        no_reason = lead.post("/v1/approvals/decide", json={"ids": ids, "decision": "reject"})
        assert no_reason.status_code == 422
        assert no_reason.json()["detail"][0]["loc"][-1] == "reason"
        approved = lead.post(
            "/v1/approvals/decide",
            json={"ids": [*ids[:4], "nope"], "decision": "approve", "reason": "loyal customers"},
        )
        assert approved.status_code == 200, approved.text
        outcome = approved.json()["outcome"]
        assert [outcome[i] for i in ids[:4]] == ["granted"] * 4
        assert outcome["nope"].startswith("refused")
        again = lead.post("/v1/approvals/decide", json={"ids": ids[:1], "decision": "approve"})
        assert again.json()["outcome"][ids[0]].startswith("refused: the compensation is granted")
        timeline = [
            entry
            for case in lead.get("/v1/cases").json()["items"]
            for entry in lead.get(f"/v1/cases/{case['id']}").json()["timeline"]
        ]
        assert lead.get("/v1/approvals").json()["total"] == 2
    decided = [e for e in timeline if e["kind"] == "approval_approved"]
    assert len(decided) == 4
    assert {(e["data"]["reason"], e["actor"]) for e in decided} == {("loyal customers", "lead-1")}

    with desk.client("agent") as agent:  # an agent may not approve a lead's approvals
        refused = agent.post("/v1/approvals/decide", json={"ids": ids[4:], "decision": "approve"})
    assert all(
        v.startswith("refused: this approval needs the lead role")
        for v in refused.json()["outcome"].values()
    )

    client = desk.signed_in("lead")
    page = client.get("/approvals")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf and page.text.count('form="bulk" name="ids"') == 2
    form = {"csrf": csrf.group(1), "ids": ids[4:], "decision": "reject", "reason": ""}
    assert client.post("/approvals/bulk", data=form).status_code == 422
    done = client.post("/approvals/bulk", data={**form, "reason": "duplicate request"})
    assert done.status_code == 303 and done.headers["location"] == "/approvals?done=bulk_rejected"
    with desk.client("lead") as lead:
        assert lead.get("/v1/approvals").json()["total"] == 0
