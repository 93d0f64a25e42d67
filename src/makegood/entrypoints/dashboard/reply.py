"""Replying to the customer from the case page: choose free text or a macro, preview the
message exactly as the customer will read it (their language, their channel), then send it.

The form only previews; the preview carries the Send button, so nothing leaves unseen.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from makegood.domain.actions import ActionRefused, NotAllowed
from makegood.domain.errors import NotFound
from makegood.domain.reply import FREE_TEXT
from makegood.entrypoints.api.deps import Svc, actor_of
from makegood.entrypoints.api.replies import queued, rendered, reply_templates
from makegood.entrypoints.dashboard.routes import back, case_page
from makegood.entrypoints.dashboard.session import Checked

router = APIRouter(include_in_schema=False)


@router.post("/cases/{case_id}/reply")
def reply(
    request: Request,
    case_id: str,
    who: Checked,
    services: Svc,
    template: Annotated[str, Form(max_length=100)] = FREE_TEXT,
    text: Annotated[str, Form(max_length=5000)] = "",
    send: Annotated[str, Form(max_length=10)] = "",
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    draft = {"template": template, "text": text}

    def again(error: str, status: int) -> Response:
        return case_page(request, case_id, who, services, error=error, status=status, draft=draft)

    if template not in reply_templates(services):
        return again("Choose one of the reply templates.", 422)
    if template == FREE_TEXT and not text.strip():
        return again("Write the reply, or choose a template.", 422)
    actions, actor = services.actions, actor_of(who)
    try:
        if send and key and queued(services, case_id, key) is not None:
            return back(f"/cases/{case_id}", "replied")  # sent already: a double click
        if send:
            actions.reply(case_id, actor, template, text, key or None)
            return back(f"/cases/{case_id}", "replied")
        preview = rendered(services, actions.draft_reply(case_id, actor, template, text))
    except NotFound:
        raise HTTPException(404, "no such case") from None
    except (ActionRefused, NotAllowed) as refused:
        return again(str(refused), 409)
    except HTTPException as bad:  # a template that does not render
        return again(f"The template does not render: {bad.detail}", 422)
    return case_page(
        request,
        case_id,
        who,
        services,
        draft=draft,
        reply_preview=preview,
        reply_key=uuid.uuid4().hex,
    )
