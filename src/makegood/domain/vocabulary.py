"""What a policy may read from events: the attributes of the built-in event types and of the
types a policy declares under ``events:``. A name nothing declares is probably a typo that
changes meaning (``attributes.scor`` is null, so ``attributes.scor <= 2`` never holds;
``until: [order.delivred]`` never comes), so `policy_warnings` names each one. Warnings are
`PolicyError` values, not raised: the policy still loads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from difflib import get_close_matches

from makegood.domain.errors import PolicyError
from makegood.domain.event import BUILTIN
from makegood.domain.rules import CompiledPolicy

_ATTRIBUTE = re.compile(r"""\battributes\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*["']([^"'\]]+)["']\s*\])""")


def event_types(policy: CompiledPolicy) -> dict[str, frozenset[str]]:
    """Every event type the policy may rely on, with the attributes it carries."""
    types = {
        name: frozenset({*required, *optional}) for name, (_, required, optional) in BUILTIN.items()
    }
    for name, attributes in policy.policy.events.items():
        types[name] = types.get(name, frozenset()) | frozenset(attributes)
    return types


def attributes_read(source: str | None) -> list[str]:
    """The event attributes an expression reads (``attributes.x``, ``attributes["x"]``)."""
    return [a or b for a, b in _ATTRIBUTE.findall(source or "")]


def policy_warnings(policy: CompiledPolicy) -> list[PolicyError]:
    types = event_types(policy)
    anywhere = frozenset().union(*types.values())
    return list(_type_warnings(policy, types)) + list(_attribute_warnings(policy, types, anywhere))


def _unknown_type(name: str, types: dict[str, frozenset[str]], path: str) -> PolicyError:
    close = get_close_matches(name, list(types), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return PolicyError(
        f"no built-in or declared event type {name!r}{hint}; declare it under events: "
        "if your systems send it",
        path,
    )


def _type_warnings(
    policy: CompiledPolicy, types: dict[str, frozenset[str]]
) -> Iterator[PolicyError]:
    for i, detector in enumerate(policy.detectors):
        spec, path = detector.spec, f"detectors[{i}]"
        named = [("on", spec.on), ("when", detector.guard)]
        named += [(f"until[{j}]", t) for j, t in enumerate(spec.until)]
        named += [(f"stopped_by[{j}]", t) for j, t in enumerate(spec.stopped_by)]
        for where, name in named:
            if name and name not in types:
                yield _unknown_type(name, types, f"{path}.{where}")
        if not spec.stopped_by:
            for j, name in enumerate(spec.until):
                if name in detector.stops:
                    yield PolicyError(
                        f"{name} under until is read as stopped_by (the wait ended, no late "
                        "arrival); say so with stopped_by:",
                        f"{path}.until[{j}]",
                    )


def _attribute_warnings(
    policy: CompiledPolicy, types: dict[str, frozenset[str]], anywhere: frozenset[str]
) -> Iterator[PolicyError]:
    readers: list[tuple[str, str | None, str | None]] = []  # path, source, event type
    for i, detector in enumerate(policy.detectors):
        spec = detector.spec
        about = spec.on if spec.kind == "deadline" else detector.guard
        for name in ("when", "deadline", "reference"):
            readers.append((f"detectors[{i}].{name}", getattr(spec, name), about))
    for i, rule in enumerate(policy.policy.severity):
        readers.append((f"severity[{i}].when", rule.when, None))
    for i, playbook in enumerate(policy.playbooks):
        for step in playbook.steps:
            path = f"playbooks[{i}].steps[{step.index}]"
            readers.append((f"{path}.when", step.spec.when, None))
            if step.spec.amount is not None:
                readers.append((f"{path}.amount.expr", step.spec.amount.expr, None))
    for path, source, event_type in readers:
        known = types.get(event_type or "", anywhere) if event_type else anywhere
        for attribute in attributes_read(source):
            if attribute in known:
                continue
            close = get_close_matches(attribute, list(known), n=1)
            hint = f" (did you mean attributes.{close[0]}?)" if close else ""
            where = f"{event_type} declares" if event_type in types else "no event type declares"
            yield PolicyError(
                f"attributes.{attribute}: {where} no such attribute{hint}; a missing attribute "
                "is null and comparisons with it are false (declare it under events:)",
                path,
            )
