"""Personal recovery: the voice of a message and the way to reach the customer, chosen by the
policy's `tones` and `contact` rules from what the failure's context says (tier, severity,
lifetime value, recent failures). Pure: the rules' conditions are compiled expressions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from makegood.domain.rules import CompiledContact, CompiledPolicy, CompiledTone, evaluate


def tone_for(policy: CompiledPolicy, context: Mapping[str, Any]) -> CompiledTone | None:
    """The first tone whose `when` holds, or None (the plain templates)."""
    for tone in policy.tones:
        if evaluate(tone.when, context):
            return tone
    return None


def contact_for(policy: CompiledPolicy, context: Mapping[str, Any]) -> CompiledContact | None:
    """The first contact rule whose `when` holds, or None (the customer's channel, else the
    policy's)."""
    for rule in policy.contact:
        if evaluate(rule.when, context):
            return rule
    return None


def styled(tone: CompiledTone | None, template: str) -> tuple[str, dict[str, Any]]:
    """The template a tone turns `template` into, and what the message's context gains
    (``tone`` and ``signature``, which a variant template may read); a template the tone
    does not name is sent as it is, its context unchanged."""
    variant = tone.spec.templates.get(template) if tone is not None else None
    if tone is None or variant is None:
        return template, {}
    signed = tone.spec.signed_by
    signature = {"name": signed.name, "title": signed.title} if signed is not None else None
    return variant, {"tone": tone.spec.name, "signature": signature}
