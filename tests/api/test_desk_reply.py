"""Replying to the customer from a case (issue 15): free text or a macro, previewed, queued in
the outbox on the customer's channel and in their language, on the timeline, and counted
against the daily message limit."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from makegood.adapters.sql import schema as t

from .desk import Desk, cancelled, profile


def opened(desk: Desk, customer: str, locale: str) -> str:
    desk.ingest([profile(customer, locale=locale), cancelled(customer)])
    with desk.client("agent") as agent:
        found = agent.get("/v1/cases", params={"customer_id": customer}).json()["items"]
    return str(found[0]["id"])


def outbox(desk: Desk, case_id: str) -> list[Any]:
    with desk.app.store.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.outbox).where(t.outbox.c.case_id == case_id).order_by(t.outbox.c.id)
            )
        )


def test_a_macro_reply_reaches_the_outbox_in_portuguese_for_a_portuguese_customer(
    desk: Desk,
) -> None:
    case_id = opened(desk, "c-pt", "pt")
    before = len(outbox(desk, case_id))
    body = {
        "template": "reply_looking_into_it",
        "text": "Ligo-lhe às 15h.",
        "idempotency_key": "k1",
    }
    with desk.client("agent") as agent:
        preview = agent.post(f"/v1/cases/{case_id}/reply/preview", json=body)
        assert preview.status_code == 200, preview.text
        assert preview.json()["locale"] == "pt"
        assert "Olá, Name c-pt" in preview.json()["text"]
        assert "Estou a analisar pessoalmente" in preview.json()["text"]
        assert len(outbox(desk, case_id)) == before  # a preview queues nothing

        sent = agent.post(f"/v1/cases/{case_id}/reply", json=body)
        assert sent.status_code == 201, sent.text
        retried = agent.post(f"/v1/cases/{case_id}/reply", json=body)  # the same key: once
        assert retried.status_code == 201 and retried.json()["id"] == sent.json()["id"]
        case = agent.get(f"/v1/cases/{case_id}").json()
    rows = outbox(desk, case_id)
    reply = next(r for r in rows if r.template == "reply_looking_into_it")
    assert len(rows) == before + 1
    assert (reply.locale, reply.channel, reply.recipient) == ("pt", "email", "c-pt@example.com")
    assert reply.context["reply"] == {"text": "Ligo-lhe às 15h.", "by": "agent-1"}
    (entry,) = [e for e in case["timeline"] if e["kind"] == "reply_queued"]
    assert entry["actor"] == "agent-1" and entry["data"]["locale"] == "pt"

    desk.app.dispatcher.dispatch_once()
    assert desk.app.settings.outbox_file is not None
    written = desk.app.settings.outbox_file.read_text(encoding="utf-8")
    assert "Estou a analisar pessoalmente" in written and "Ligo-lhe às 15h." in written


def test_a_free_text_reply_in_english_and_the_daily_limit(desk: Desk) -> None:
    case_id = opened(desk, "c-en", "en")
    limit = desk.app.policy.policy.suppression.max_messages_per_customer_per_day
    with desk.client("agent") as agent:
        sent = 0
        answer = None
        for n in range(limit + 1):
            answer = agent.post(f"/v1/cases/{case_id}/reply", json={"text": f"Update {n}"})
            if answer.status_code != 201:
                break
            sent += 1
        assert answer is not None and answer.status_code == 409
        assert "daily limit" in answer.json()["detail"]
    queued = len(outbox(desk, case_id))
    assert queued == limit  # the engine's own messages and the replies share the limit
    assert sent >= 1


def test_bad_replies_are_422_naming_the_field(desk: Desk) -> None:
    case_id = opened(desk, "c-bad", "en")
    with desk.client("agent") as agent:
        cases = [
            ({"template": "reply", "text": "  "}, "text"),
            ({"template": "reply_no_such_macro"}, "template"),
            ({"template": "apology"}, "template"),  # not a reply template
            ({"text": "x" * 5001}, "text"),
        ]
        for body, field in cases:
            answer = agent.post(f"/v1/cases/{case_id}/reply", json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert answer.json()["detail"][0]["loc"][-1] == field
        assert agent.post("/v1/cases/nope/reply", json={"text": "hi"}).status_code == 404
        names = agent.get("/v1/reply-templates").json()
    assert next(iter(names)) == "reply" and "reply_sorted" in names
    assert names["reply_sorted"] == ["en", "pt"]


def test_the_case_page_previews_then_sends(desk: Desk) -> None:
    case_id = opened(desk, "c-page", "pt")
    client = desk.signed_in("agent")
    page = client.get(f"/cases/{case_id}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf and 'id="reply-template"' in page.text
    form = {"csrf": csrf.group(1), "template": "reply", "text": "Vamos reembolsar hoje."}
    previewed = client.post(f"/cases/{case_id}/reply", data=form)
    assert previewed.status_code == 200
    assert "Vamos reembolsar hoje." in previewed.text and "Olá, Name c-page" in previewed.text
    assert not any(r.template == "reply" for r in outbox(desk, case_id))
    key = re.search(r'name="key" value="([0-9a-f]+)"', previewed.text.split("reply-preview")[1])
    assert key
    sent = client.post(f"/cases/{case_id}/reply", data={**form, "send": "1", "key": key.group(1)})
    assert sent.status_code == 303 and sent.headers["location"].endswith("done=replied")
    assert [r.locale for r in outbox(desk, case_id) if r.template == "reply"] == ["pt"]
    empty = client.post(f"/cases/{case_id}/reply", data={**form, "text": ""})
    assert empty.status_code == 422 and "Write the reply" in empty.text
