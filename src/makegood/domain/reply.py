"""A person's reply to the customer from a case: free text or a macro, through the outbox.

Pure, like `makegood.domain.actions`: the reply becomes an `OutboxMessage` on the customer's
channel, in the customer's language, written in the caller's transaction, on the case's
timeline, and counted against the daily message cap like any message (a reply past the cap is
refused, not queued: the person is told and can decide what else to do).
"""

from __future__ import annotations

from datetime import datetime

from makegood.domain.actions import ActionRefused, Actor, log
from makegood.domain.context import message_context
from makegood.domain.message import OutboxMessage
from makegood.domain.model import Case
from makegood.domain.outreach import queue, recipient_for
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import World

FREE_TEXT = "reply"  # the template of a free-text reply; macros are named ``reply_*``
MAX_REPLY = 5000


def is_reply_template(name: str) -> bool:
    return name == FREE_TEXT or name.startswith(f"{FREE_TEXT}_")


def reply(
    world: World,
    policy: CompiledPolicy,
    case: Case,
    template: str,
    text: str,
    key: str,
    now: datetime,
    actor: Actor,
) -> OutboxMessage:
    """Queue `template` (with `text`, which a free-text reply needs and a macro may add to)."""
    text = text.strip()
    if not is_reply_template(template):
        raise ActionRefused(f"{template!r} is not a reply template")
    if template == FREE_TEXT and not text:
        raise ActionRefused("a free-text reply needs a text")
    if len(text) > MAX_REPLY:
        raise ActionRefused(f"a reply is at most {MAX_REPLY} characters")
    customer = world.customer(case.customer_id)
    limit = policy.policy.suppression.max_messages_per_customer_per_day
    if world.messages_on(customer.id, now.date()) >= limit:
        raise ActionRefused(
            f"the customer has had {limit} messages today, the daily limit: "
            "not sent (call them, or reply tomorrow)"
        )
    failures = world.failures_of(case.id)
    subject = world.subject(case.subject_key) if case.subject_key else None
    channel = customer.channel or policy.policy.channel
    context = message_context(
        policy.policy.business,
        customer,
        case,
        failures[0] if failures else None,
        subject,
        None,
        {"reply": {"text": text, "by": actor.name}},
    )
    recipient = recipient_for(customer, channel)
    message = queue(world, key, case, customer, channel, template, recipient, context, now)
    data = {"message": message.id, "template": template, "channel": channel}
    log(
        world,
        case,
        now,
        "reply_queued",
        actor.name,
        {**data, "locale": customer.locale, "text": text or None},
    )
    return message
