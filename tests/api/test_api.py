"""The HTTP API over a real `makegood serve` process: each endpoint, each role, the errors."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest

from .server import Server, acted_on, now_iso

pytestmark = pytest.mark.slow


def send(server: Server, events: object, role: str = "ingest") -> httpx.Response:
    with server.client(role) as client:
        return client.post("/v1/events", json=events)


def escalated_case(server: Server, customer: str, tier: str = "standard") -> str:
    """A critical case (order cancelled by the business) that waits for a person."""
    response = send(
        server,
        [
            {
                "id": f"{customer}-profile",
                "type": "customer.upserted",
                "occurred_at": now_iso(),
                "customer_id": customer,
                "attributes": {
                    "name": f"Name {customer}",
                    "tier": tier,
                    "email": f"{customer}@example.com",
                    "phone": "+44 20 7946 0958",
                },
            },
            {
                "id": f"{customer}-cancel",
                "type": "order.cancelled",
                "occurred_at": now_iso(),
                "customer_id": customer,
                "subject_id": f"{customer}-o1",
                "attributes": {"by": "business"},
                "campaign": "{{ 7 * 7 }}",
            },
        ],
    )
    assert response.status_code == 200, response.text
    with server.client("agent") as client:
        found = acted_on(
            lambda: client.get("/v1/cases", params={"customer_id": customer}).json()["items"]
        )
    assert found, f"no case for {customer}"
    return str(found[0]["id"])


def test_health_and_prometheus(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    with server.client("ingest") as client:
        text = client.get("/metrics").text
    assert "makegood_timers_armed" in text and "makegood_http_responses_total" in text


def test_tokens_and_roles(server: Server) -> None:
    assert httpx.get(f"{server.url}/v1/cases").status_code == 401
    bad = httpx.get(f"{server.url}/v1/cases", headers={"Authorization": "Bearer mg_nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    assert send(server, {"id": "x"}, role="agent").status_code == 403
    with server.client("ingest") as client:
        assert client.get("/v1/cases").status_code == 403
        assert client.get("/v1/approvals").status_code == 403
    for role in ("agent", "lead", "admin"):
        with server.client(role) as client:
            assert client.get("/v1/cases").status_code == 200
            assert client.get("/v1/incidents").json()["items"] == []
    assert (
        send(
            server,
            [
                {
                    "id": "admin-1",
                    "type": "purchase",
                    "occurred_at": now_iso(),
                    "customer_id": "c-admin",
                }
            ],
            role="admin",
        ).status_code
        == 200
    )


def test_events_idempotent_with_per_event_results(server: Server) -> None:
    event = {
        "id": "idem-1",
        "type": "purchase",
        "occurred_at": now_iso(),
        "customer_id": "c-idem",
        "attributes": {"value": "12.50"},
    }
    first = send(server, event)
    assert first.status_code == 200
    assert first.json()["results"] == [{"index": 0, "id": "idem-1", "status": "accepted"}]
    again = send(server, [event, {**event, "id": "idem-2"}])
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "accepted"]


def test_malformed_batches(server: Server) -> None:
    good = {"id": "mal-1", "type": "purchase", "occurred_at": now_iso(), "customer_id": "c-m"}
    bad = {
        "id": "mal-2",
        "type": "order.placed",
        "occurred_at": "yesterday",
        "customer_id": "c-m",
        "subject_id": "o",
    }
    response = send(server, [good, bad])
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == [
        {
            "index": 1,
            "field": "occurred_at",
            "event_id": "mal-2",
            "reason": body["detail"][0]["reason"],
        }
    ]
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    with server.client("ingest") as client:
        not_json = client.post(
            "/v1/events", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert not_json.status_code == 422
        assert not_json.json()["detail"][0]["field"] == "body"
        assert client.post("/v1/events", json=[]).status_code == 422
        assert client.post("/v1/events", json=[good] * 1001).status_code == 413
        huge = client.post(
            "/v1/events",
            content=b"[" + b" " * (2 * 1024 * 1024) + b"]",
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413
        missing = client.post("/v1/events", json={"type": "purchase"})
        assert missing.status_code == 422 and missing.json()["detail"][0]["index"] == 0


def test_unknown_fields_are_kept_as_attributes(server: Server) -> None:
    case_id = escalated_case(server, "c-unknown")
    with server.client("agent") as client:
        page = client.get(f"/v1/cases/{case_id}").json()
    attributes = page["failures"][0]["evidence"]["attributes"]
    assert attributes["campaign"] == "{{ 7 * 7 }}"  # stored as text, never evaluated


def test_cases_list_filters_paging_and_detail(server: Server) -> None:
    for n in range(3):
        escalated_case(server, f"c-list-{n}")
    with server.client("agent") as client:
        page = client.get("/v1/cases", params={"severity": "critical", "limit": 2}).json()
        assert page["limit"] == 2 and len(page["items"]) == 2 and page["total"] >= 3
        second = client.get(
            "/v1/cases", params={"severity": "critical", "limit": 2, "offset": 2}
        ).json()
        assert {c["id"] for c in second["items"]}.isdisjoint(c["id"] for c in page["items"])
        assert client.get("/v1/cases", params={"limit": 0}).status_code == 422
        queue = client.get("/v1/queue").json()["items"]
        assert queue and all(c["needs_person"] for c in queue)
        detail = client.get(f"/v1/cases/{queue[0]['id']}").json()
        assert {"timeline", "customer", "failures", "budget", "messages"} <= set(detail)
        assert client.get("/v1/cases/case-nope").status_code == 404
        assert client.post("/v1/cases/case-nope/notes", json={"text": "x"}).status_code == 404


def test_case_actions_on_the_timeline(server: Server) -> None:
    case_id = escalated_case(server, "c-actions")
    with server.client("agent") as client:
        base = f"/v1/cases/{case_id}"
        assert client.post(f"{base}/notes", json={"text": "called, no answer"}).status_code == 200
        assert client.post(f"{base}/notes", json={"text": ""}).status_code == 422
        assert (
            client.post(f"{base}/assign", json={"owner": "agent-1"}).json()["case"]["owner"]
            == "agent-1"
        )
        shared = client.post(f"{base}/collaborators", json={"name": "lead-1"}).json()
        assert shared["case"]["collaborators"] == ["lead-1"]
        removed = client.delete(f"{base}/collaborators/lead-1").json()
        assert removed["case"]["collaborators"] == []
        resolved = client.post(f"{base}/resolve", json={"note": "refunded by phone"}).json()
        assert resolved["case"]["state"] == "resolved"
        assert client.post(f"{base}/resolve").status_code == 409
        assert client.post(f"{base}/close").json()["case"]["state"] == "closed"
        reopened = client.post(f"{base}/reopen").json()
        assert reopened["case"]["state"] == "reopened" and reopened["case"]["needs_person"]
        kinds = [(e["kind"], e["actor"]) for e in reopened["timeline"]]
    for expected in ("note", "assigned", "collaborator_added", "collaborator_removed"):
        assert (expected, "agent-1") in kinds
    assert ("state_changed", "agent-1") in kinds


def test_grants_and_approvals(server: Server) -> None:
    case_id = escalated_case(server, "c-grant")
    with server.client("agent") as agent, server.client("lead") as lead:
        url = f"/v1/cases/{case_id}/compensations"
        within = agent.post(
            url,
            json={"kind": "voucher", "amount": "20", "reason": "sorry", "idempotency_key": "k1"},
        )
        assert within.status_code == 201
        granted = within.json()
        assert granted["status"] == "granted" and granted["decided_by"] == "agent-1"
        assert granted["code"]
        retried = agent.post(url, json={"kind": "voucher", "amount": "20", "idempotency_key": "k1"})
        assert retried.json()["id"] == granted["id"]
        above = agent.post(url, json={"kind": "credit", "amount": "60", "reason": "big"}).json()
        assert above["status"] == "pending" and above["required_role"] == "lead"
        assert agent.post(url, json={"kind": "cash", "amount": "5"}).status_code == 422
        assert agent.post(url, json={"kind": "voucher", "amount": "-5"}).status_code == 422
        assert agent.post(url, json={"kind": "voucher", "amount": "140"}).status_code == 409
        pending = [a["id"] for a in agent.get("/v1/approvals").json()["items"]]
        assert above["id"] in pending
        assert agent.post(f"/v1/approvals/{above['id']}/approve").status_code == 403
        approved = lead.post(f"/v1/approvals/{above['id']}/approve").json()
        assert approved["status"] == "granted" and approved["decided_by"] == "lead-1"
        assert lead.post(f"/v1/approvals/{above['id']}/approve").status_code == 409
        assert lead.post("/v1/approvals/comp-nope/approve").status_code == 404
        other = agent.post(url, json={"kind": "refund", "amount": "35"}).json()
        assert (
            lead.post(f"/v1/approvals/{other['id']}/reject", json={"reason": ""}).status_code == 422
        )
        rejected = lead.post(
            f"/v1/approvals/{other['id']}/reject", json={"reason": "already refunded"}
        ).json()
        assert rejected["status"] == "rejected" and rejected["decided_by"] == "lead-1"
        timeline = agent.get(f"/v1/cases/{case_id}").json()["timeline"]
    entries = {(e["kind"], e["actor"]) for e in timeline}
    assert {
        ("compensation_granted", "agent-1"),
        ("approval_requested", "agent-1"),
        ("approval_approved", "lead-1"),
        ("compensation_granted", "lead-1"),
        ("approval_rejected", "lead-1"),
    } <= entries
    assert any(e["data"].get("reason") == "already refunded" for e in timeline)


def test_recovery_metrics(server: Server) -> None:
    with server.client("lead") as client:
        figures = client.get("/v1/metrics").json()
    assert {"funnel", "timings_s", "spend", "failures_over_time", "satisfaction"} <= set(figures)


def test_timers_fire_while_the_server_runs(server: Server) -> None:
    # promised 20 minutes ago: the 15-minute deadline has passed, the engine loop fires it
    send(
        server,
        {
            "id": "late-1",
            "type": "order.placed",
            "occurred_at": now_iso(timedelta(minutes=-40)),
            "customer_id": "c-late",
            "subject_id": "o-late",
            "attributes": {"promised_at": now_iso(timedelta(minutes=-20))},
        },
    )
    deadline = time.monotonic() + 10
    with server.client("agent") as client:
        while time.monotonic() < deadline:
            found = client.get("/v1/cases", params={"customer_id": "c-late"}).json()["items"]
            if found:
                break
            time.sleep(0.1)
    assert found and found[0]["category"] == "late_delivery"


def test_survey_link(server: Server) -> None:
    case_id = escalated_case(server, "c-survey")
    with server.client("agent") as client:
        client.post(f"/v1/cases/{case_id}/resolve")
    link = server.survey_link(case_id)
    page = httpx.get(link)
    assert page.status_code == 200 and "How did we do" in page.text
    answer = httpx.post(link, data={"score": "5", "comment": "thanks", "ces": "6"})
    assert answer.status_code == 200 and "Thank you" in answer.text
    assert "already answered" in httpx.post(link, data={"score": "1"}).text
    assert "already answered" in httpx.get(link).text
    with server.client("agent") as client:
        assert client.get(f"/v1/cases/{case_id}").json()["case"]["state"] == "closed"
    expired = httpx.get(server.survey_link(case_id, expires_in=timedelta(seconds=-1)))
    assert expired.status_code == 410 and "expired" in expired.text
    forged = link[:-4] + "AAAA"
    assert httpx.get(forged).status_code == 410
    codes = [httpx.get(f"{server.url}/s/x.y.1.z").status_code for _ in range(40)]
    assert 429 in codes


def test_security_headers_and_logs(server: Server) -> None:
    response = httpx.get(f"{server.url}/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    escalated_case(server, "c-private")
    log = server.log.read_text(encoding="utf-8")
    assert "@example.com" not in log and "7946" not in log
    assert "/s/[token]" in log or "/s/" not in log


def test_openapi_document(server: Server) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert (
        "/v1/events" in schema["paths"]
        and "/v1/approvals/{compensation_id}/approve" in (schema["paths"])
    )
    assert httpx.get(f"{server.url}/docs").status_code == 200
    json.dumps(schema)
