"""Words to the customer and calls to the business's systems: the one way into the outbox.

Every outbound message is built here and queued through `World.enqueue`, in the batch's changes
(the store writes them in the decision's transaction). A message to the customer respects the
policy's daily cap unless it is an incident notice; a call to the business's own systems (a
`resolve` step, on the `action` channel) never counts toward it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from makegood.domain import model as m
from makegood.domain.context import message_context, voice_context
from makegood.domain.lifecycle import ENGINE, log, set_state
from makegood.domain.message import ACTION, OutboxMessage
from makegood.domain.model import Case, Compensation, Customer, Failure, Subject
from makegood.domain.rules import CompiledPolicy
from makegood.domain.tone import contact_for, styled, tone_for
from makegood.domain.world import World


class Outreach:
    def __init__(self, policy: CompiledPolicy, world: World) -> None:
        self.policy = policy
        self.world = world

    def message(
        self,
        case: Case,
        customer: Customer,
        failure: Failure | None,
        subject: Subject | None,
        template: str,
        key: str,
        now: datetime,
        compensation: Compensation | None = None,
        extra: Mapping[str, Any] | None = None,
        channel: str | None = None,
        capped: bool = True,
        acknowledges: bool = True,
        voice: Mapping[str, Any] | None = None,
    ) -> OutboxMessage | None:
        """Queue a message to the customer; None if the daily cap held it back. `capped=False`
        (incident notices) sends it past the cap; it still counts toward the day's messages.
        `acknowledges`: a case waiting for its first word (detected, reopened) is acknowledged.

        The policy's first `tones` rule that holds picks the template's variant (and signs
        it); the channel is the one asked for, else the customer's own preference, else the
        first `contact` rule's that holds, else the policy's. `voice`: the context those rules
        see, if the caller has it (a playbook step passes its failure's)."""
        preferred = channel or customer.channel
        toned: dict[str, Any] = {}
        if self.policy.tones or (self.policy.contact and not preferred):
            said = (
                voice
                if voice is not None
                else voice_context(self.world, case, customer, failure, subject, now)
            )
            template, toned = styled(tone_for(self.policy, said), template)
            rule = None if preferred else contact_for(self.policy, said)
            preferred = preferred or (rule.spec.channel if rule is not None else None)
        limit = self.policy.policy.suppression.max_messages_per_customer_per_day
        if capped and self.world.messages_on(customer.id, now.date()) >= limit:
            log(
                self.world,
                case.id,
                now,
                "message_suppressed",
                ENGINE,
                {"template": template, "reason": f"daily limit of {limit} messages"},
            )
            return None
        channel = preferred or self.policy.policy.channel
        context = message_context(
            self.policy.policy.business,
            customer,
            case,
            failure,
            subject,
            compensation,
            {**(extra or {}), **toned} if toned else extra,
        )
        recipient = recipient_for(customer, channel)
        message = queue(self.world, key, case, customer, channel, template, recipient, context, now)
        log(
            self.world,
            case.id,
            now,
            "message_queued",
            ENGINE,
            {
                "message": message.id,
                "template": template,
                "channel": channel,
                **({"tone": toned["tone"]} if toned else {}),
            },
        )
        if (
            acknowledges
            and case.state in (m.DETECTED, m.REOPENED)
            and self.world.case(case.id) is case
        ):
            case.acknowledged_at = case.acknowledged_at or now
            set_state(self.world, case, m.ACKNOWLEDGED, now, ENGINE)
        return message

    def call(
        self,
        case: Case,
        customer: Customer,
        failure: Failure,
        subject: Subject | None,
        action: str,
        key: str,
        now: datetime,
    ) -> OutboxMessage:
        """Ask the business's systems to fix it (a signed webhook on the `action` channel)."""
        context = message_context(
            self.policy.policy.business, customer, case, failure, subject, None, {"action": action}
        )
        message = queue(self.world, key, case, customer, ACTION, action, None, context, now)
        log(self.world, case.id, now, "resolution_requested", ENGINE, {"action": action})
        if case.state in (m.DETECTED, m.ACKNOWLEDGED, m.REOPENED):
            set_state(self.world, case, m.RESOLVING, now, ENGINE)
        return message


def recipient_for(customer: Customer, channel: str) -> str | None:
    """The customer's address on a channel (None: the channel's default)."""
    if channel == "email":
        return customer.email
    return customer.phone if channel == "sms" else None


def queue(
    world: World,
    key: str,
    case: Case,
    customer: Customer,
    channel: str,
    template: str,
    recipient: str | None,
    context: Mapping[str, Any],
    now: datetime,
) -> OutboxMessage:
    """Make the message and queue it, once per `key`: every outbound message passes here."""
    message = OutboxMessage(
        m.stable_id("msg", key),
        key,
        case.id,
        customer.id,
        channel,
        template,
        customer.locale,
        recipient,
        context,
        now,
    )
    world.enqueue(message, now.date())
    return message
