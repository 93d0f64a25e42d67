"""Replies to the customer: the reply templates (macros), a preview, and sending one.

A reply is free text (the ``reply`` template) or a macro (a ``reply_*`` template, which the
person may add a line to), rendered in the customer's language on their channel. The preview
renders exactly the message sending would queue, without queuing it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, HTTPException

from makegood.adapters.renderer import shipped_templates
from makegood.adapters.sql import dashboard_queries as dq
from makegood.adapters.templates import TemplateError, TemplateRenderer
from makegood.domain.message import OutboxMessage
from makegood.domain.reply import FREE_TEXT, is_reply_template
from makegood.entrypoints.api.deps import Reader, Services, Svc, actor_of
from makegood.entrypoints.api.models import Problem, ReplyIn, ReplyOut, ReplyPreview
from makegood.service_layer.actions import reply_key

router = APIRouter(prefix="/v1", tags=["cases"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such case"},
    409: {"model": Problem, "description": "Over the customer's daily message limit"},
    422: {"model": Problem, "description": "No such reply template here, or no text"},
}


def reply_templates(services: Services) -> dict[str, list[str]]:
    """Every reply template (the installation's folder first, then the shipped ones): name
    -> the locales it is written in. ``reply`` (free text) first."""
    settings = services.app.settings
    folders = [settings.templates] if settings.templates else []
    found = TemplateRenderer([*folders, shipped_templates()]).templates()
    names = sorted((n for n in found if is_reply_template(n)), key=lambda n: (n != FREE_TEXT, n))
    return {name: found[name] for name in names}


def invalid(field: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return HTTPException(422, [{"loc": ["body", field], "msg": message, "type": "value_error"}])


def check(services: Services, body: ReplyIn) -> None:
    if body.template not in reply_templates(services):
        raise invalid("template", f"no reply template {body.template!r}")
    if body.template == FREE_TEXT and not body.text.strip():
        raise invalid("text", "a free-text reply needs a text")


def rendered(services: Services, message: OutboxMessage) -> dict[str, Any]:
    """What the customer will read: rendered as an e-mail whatever the channel (a webhook's
    payload carries the same context), in the locale the templates resolve to."""
    as_mail = dataclasses.replace(message, channel="email")
    try:
        out = services.app.dispatcher.renderer.render(as_mail)
    except TemplateError as error:
        raise invalid("template", str(error)) from None
    return {
        "template": message.template,
        "locale": message.locale,
        "channel": message.channel,
        "subject": out.subject,
        "text": out.text,
    }


def queued(services: Services, case_id: str, idempotency_key: str) -> dict[str, Any] | None:
    """The reply already queued with this key (a retry, a double click), if there is one."""
    with services.app.store.engine.connect() as conn:
        return dq.outbox_message(conn, reply_key(case_id, idempotency_key))


@router.get("/reply-templates", response_model=dict[str, list[str]])
def list_reply_templates(who: Reader, services: Svc) -> dict[str, list[str]]:
    """The reply templates and the locales each is written in."""
    return reply_templates(services)


@router.post("/cases/{case_id}/reply/preview", response_model=ReplyPreview, responses=ERRORS)
def preview(case_id: str, body: ReplyIn, who: Reader, services: Svc) -> dict[str, Any]:
    """The reply as the customer would read it, without sending it."""
    check(services, body)
    draft = services.actions.draft_reply(case_id, actor_of(who), body.template, body.text)
    return rendered(services, draft)


@router.post("/cases/{case_id}/reply", response_model=ReplyOut, status_code=201, responses=ERRORS)
def send(case_id: str, body: ReplyIn, who: Reader, services: Svc) -> dict[str, Any]:
    """Queue the reply in the outbox, on the customer's channel and in their language; it
    counts against the daily message limit (409 past it) and goes on the case's timeline."""
    check(services, body)
    if body.idempotency_key:
        earlier = queued(services, case_id, body.idempotency_key)
        if earlier is not None:
            return earlier
    actions, actor = services.actions, actor_of(who)
    rendered(services, actions.draft_reply(case_id, actor, body.template, body.text))
    message = actions.reply(case_id, actor, body.template, body.text, body.idempotency_key)
    return {
        "id": message.id,
        "template": message.template,
        "locale": message.locale,
        "channel": message.channel,
        "status": message.status,
    }
