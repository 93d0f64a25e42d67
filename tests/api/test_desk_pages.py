"""The desk's other pages (issue 15): an incident declared and resolved by hand (a lead's),
its page (customers, messages, compensation, timeline); the live-update markers; the running
policy with every template previewed in each locale."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from .desk import Desk, at, cancelled, profile


def csrf_of(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def open_orders(desk: Desk, area: str, customers: int) -> None:
    desk.ingest(
        [
            e
            for n in range(customers)
            for e in (
                profile(f"a{n:02}", locale="pt" if n % 2 else "en"),
                {
                    "id": f"a{n:02}-order",
                    "type": "order.placed",
                    "occurred_at": at(),
                    "customer_id": f"a{n:02}",
                    "subject_id": f"a{n:02}-o",
                    "attributes": {"promised_at": at(60), "area": area, "value": 20},
                },
            )
        ]
    )


def test_a_lead_declares_and_resolves_an_incident_by_hand(desk: Desk) -> None:
    open_orders(desk, "Baixa", 4)
    agent = desk.signed_in("agent")
    form = {"csrf": csrf_of(agent, "/incidents"), "spec": "area_delays", "key": "Baixa"}
    assert agent.post("/incidents/declare", data=form).status_code == 403
    assert 'id="declare-key"' not in agent.get("/incidents").text

    lead = desk.signed_in("lead")
    listing = lead.get("/incidents")
    assert 'id="declare-key"' in listing.text
    form["csrf"] = csrf_of(lead, "/incidents")
    declared = lead.post("/incidents/declare", data=form)
    assert declared.status_code == 303, declared.text
    path = declared.headers["location"].split("?")[0]
    for _ in range(3):
        desk.tick(timedelta(seconds=1))  # the fan-out runs on the engine's timers
    page = lead.get(path)
    assert page.status_code == 200
    assert "Incident Baixa" in page.text and 'class="muted total">4<' in page.text
    assert re.search(r'class="messages-declared">4 pending', page.text), page.text
    assert "Incident declared" in page.text and "manual" in page.text
    assert lead.post("/incidents/declare", data=form).headers["location"].startswith(path)

    resolved = lead.post(f"{path}/resolve", data={"csrf": form["csrf"]})
    assert resolved.status_code == 303
    for _ in range(3):
        desk.tick(timedelta(seconds=1))
    page = lead.get(path)
    assert ">resolved<" in page.text and 'class="messages-resolved">4 pending' in page.text
    again = lead.post(f"{path}/resolve", data={"csrf": form["csrf"]})
    assert again.status_code == 409 and "not open" in again.text
    bad = lead.post("/incidents/declare", data={**form, "spec": "no_such"})
    assert bad.headers["location"] == "/incidents?done=bad_incident"
    assert lead.get("/incidents/inc-nope").status_code == 404


def test_live_markers_answer_304_until_something_changes(desk: Desk) -> None:
    desk.ingest([profile("c-live"), cancelled("c-live")])
    client = desk.signed_in("agent")
    with desk.client("agent") as api:
        case_id = api.get("/v1/cases").json()["items"][0]["id"]
    queue_page = client.get("/")
    rendered = re.search(r'data-live="/live/queue" data-live-etag="([0-9a-f]+)"', queue_page.text)
    assert rendered
    first = client.get("/live/queue")
    assert first.status_code == 200 and first.headers["etag"] == f'"{rendered.group(1)}"'
    case_tag = client.get(f"/live/cases/{case_id}").headers["etag"]
    same = client.get("/live/queue", headers={"if-none-match": first.headers["etag"]})
    assert same.status_code == 304
    assert (
        client.get(f"/live/cases/{case_id}", headers={"if-none-match": case_tag}).status_code == 304
    )

    with desk.client("agent") as api:
        api.post(f"/v1/cases/{case_id}/notes", json={"text": "called the customer"})
    changed = client.get("/live/queue", headers={"if-none-match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    moved = client.get(f"/live/cases/{case_id}", headers={"if-none-match": case_tag})
    assert moved.status_code == 200
    assert client.get("/live/cases/nope").status_code == 404
    assert desk.client().get("/live/queue").status_code in (302, 303, 307)  # signed out


def test_the_policy_page_shows_the_running_policy_and_every_template(desk: Desk) -> None:
    page = desk.signed_in("agent").get("/policy")
    assert page.status_code == 200
    policy = desk.app.policy.policy
    for detector in policy.detectors:
        assert f"<strong>{detector.name}</strong>" in page.text
    for playbook in policy.playbooks:
        assert f"<strong>{playbook.name}</strong>" in page.text
    assert "Budgets" in page.text and "per case" in page.text and "Empowerment tiers" in page.text
    assert page.text.count('class="template"') >= 10
    assert "Pedimos desculpas" in page.text and "We are sorry" in page.text  # apology in pt, en
    assert "Estou a analisar pessoalmente" in page.text  # a reply macro, in Portuguese
    assert 'class="flash error"' not in page.text  # every template renders in every locale


def test_incidents_by_hand_over_the_api(desk: Desk) -> None:
    open_orders(desk, "Sé", 2)
    with desk.client("agent") as agent:
        body = {"spec": "area_delays", "key": "Sé"}
        assert agent.post("/v1/incidents", json=body).status_code == 403
    with desk.client("lead") as lead:
        bad = lead.post("/v1/incidents", json={"spec": "nope", "key": "Sé"})
        assert bad.status_code == 404 and "no incident 'nope'" in bad.json()["detail"]
        blank = lead.post("/v1/incidents", json={"spec": "area_delays", "key": " "})
        assert blank.status_code == 422 and blank.json()["detail"][0]["loc"][-1] == "key"
        declared = lead.post("/v1/incidents", json=body)
        assert declared.status_code == 201, declared.text
        incident = declared.json()
        assert (incident["status"], incident["source"], incident["key"]) == ("open", "manual", "Sé")
        desk.tick(timedelta(seconds=1))
        assert lead.get(f"/v1/incidents/{incident['id']}").json()["affected"] == 2
        resolved = lead.post(f"/v1/incidents/{incident['id']}/resolve")
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
        assert lead.post(f"/v1/incidents/{incident['id']}/resolve").status_code == 409
        assert lead.post("/v1/incidents/inc-nope/resolve").status_code == 404
