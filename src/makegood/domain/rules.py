"""A `Policy` compiled for the engine: expressions parsed once, durations and amounts typed.

`compile_policy` checks every entry and raises `PolicyErrors` naming each bad one by its
dotted path (the YAML adapter maps paths to lines); it reads as the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from makegood.domain.errors import ExpressionError, PolicyError
from makegood.domain.expr import Expr, compile_expr, parse_duration
from makegood.domain.limits import EPOCH, Limits
from makegood.domain.policy import (
    SEVERITIES,
    Amount,
    Budgets,
    Contact,
    Detector,
    Empowerment,
    IncidentSpec,
    Playbook,
    Policy,
    PolicyErrors,
    Step,
    Tone,
)
from makegood.domain.source import CompiledSource, compile_sources

DETECTOR_NAMES = frozenset(
    {
        "id",
        "type",
        "occurred_at",
        "customer_id",
        "subject_id",
        "attributes",
        "customer",
        "order",
        "language",
        "sentiment",
        "label",
        "cues",
        "failure_type",
        "category",
        "category_confidence",
    }
)
FAILURE_NAMES = frozenset(
    {
        "failure",
        "customer",
        "order",
        "lateness",
        "order_value",
        "earlier_compensation",
        "earlier_compensations",
        "attributes",
        "severity",
        "category",
        "cues",
        "sentiment",
        "lifetime_value",
        "recent_failures",
    }
)


def duration(text: str, path: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError:
        raise PolicyError(f"not a duration: {text!r} (use e.g. 15m, 2h, 30d)", path) from None


def expression(source: str | None, path: str, names: frozenset[str]) -> Expr | None:
    if source is None:
        return None
    try:
        compiled = compile_expr(source)
    except ExpressionError as error:
        raise PolicyError(error.message, path) from None
    unknown = sorted(compiled.names - names)
    if unknown:
        raise PolicyError(
            f"unknown name {unknown[0]!r} in {source!r}; known: {', '.join(sorted(names))}", path
        )
    return compiled


_CACHED = 4_096  # keys a policy's lookup keeps
_TYPE_GUARD = re.compile(r"""^\s*type\s*==\s*(?:"([^"\\]+)"|'([^'\\]+)')\s*(?:and\b|$)""")


def type_guard(source: str | None) -> str | None:
    """The event type a condition starts by requiring (``type == "x" and …``), if it does:
    the engine then tests it only on events of that type."""
    found = _TYPE_GUARD.match(source or "")
    return (found.group(1) or found.group(2)) if found else None


@dataclass(frozen=True)
class CompiledDetector:
    spec: Detector
    when: Expr | None
    deadline: Expr | None
    reference: Expr | None
    within: timedelta
    guard: str | None = None  # the event type `when` requires, when it starts by saying so
    arrivals: tuple[str, ...] = ()  # `until` types: the awaited event arrived (lateness)
    stops: tuple[str, ...] = ()  # `stopped_by` types: the wait ended without an arrival

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class EventPlan:
    """What an event of one type can set off under a policy, worked out once per type."""

    arming: tuple[CompiledDetector, ...]  # the deadline detectors it arms (`on` this type)
    matching: tuple[CompiledDetector, ...]  # the match detectors that may hold on it
    ends: bool  # whether it ends a deadline's wait (an `until` or `stopped_by` type)
    reads: frozenset[str]  # every name those detectors' expressions read from its context


@dataclass(frozen=True)
class CompiledAmount:
    spec: Amount
    bands: tuple[tuple[timedelta | Decimal, Decimal], ...]
    expr: Expr | None


@dataclass(frozen=True)
class CompiledStep:
    index: int
    spec: Step
    when: Expr | None
    amount: CompiledAmount | None
    arms: tuple[tuple[str, Decimal, CompiledAmount | None], ...]
    expires_in: timedelta


@dataclass(frozen=True)
class CompiledPlaybook:
    spec: Playbook
    steps: tuple[CompiledStep, ...]

    def applies(self, category: str, severity: str) -> bool:
        spec = self.spec
        return (not spec.categories or category in spec.categories) and (
            not spec.severities or severity in spec.severities
        )


@dataclass(frozen=True)
class CompiledIncident:
    spec: IncidentSpec
    window: timedelta
    quiet: timedelta
    amount: CompiledAmount | None
    expires_in: timedelta


@dataclass(frozen=True)
class CompiledTone:
    spec: Tone
    when: Expr | None


@dataclass(frozen=True)
class CompiledContact:
    spec: Contact
    when: Expr | None


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    detectors: tuple[CompiledDetector, ...]
    severity_rules: tuple[tuple[Expr, str], ...]
    playbooks: tuple[CompiledPlaybook, ...]
    sla: Mapping[str, timedelta]
    follow_up_after: timedelta
    survey_expires_in: timedelta
    allowed_lateness: timedelta
    repurchase_window: timedelta
    incidents: tuple[CompiledIncident, ...] = ()
    sources: tuple[CompiledSource, ...] = ()
    accept_from: datetime = EPOCH
    accept_ahead: timedelta = timedelta(days=365)
    max_attribute_chars: int = 65_536
    tones: tuple[CompiledTone, ...] = ()
    contact: tuple[CompiledContact, ...] = ()

    def limits(self, now: datetime) -> Limits:
        """What `parse_event` accepts at `now`: the time range and the size of a string."""
        return Limits(self.accept_from, now + self.accept_ahead, max_chars=self.max_attribute_chars)

    def source(self, name: str) -> CompiledSource | None:
        return next((s for s in self.sources if s.name == name), None)

    def incident(self, name: str) -> CompiledIncident | None:
        return next((i for i in self.incidents if i.spec.name == name), None)

    def playbook_for(self, category: str, severity: str) -> CompiledPlaybook | None:
        """The first playbook that applies to a failure of this category and severity."""
        cache: dict[tuple[str, str], CompiledPlaybook | None] = self._cache("_playbook_for")
        if (category, severity) not in cache:
            cache[category, severity] = next(
                (p for p in self.playbooks if p.applies(category, severity)), None
            )
        return cache[category, severity]

    def playbook_named(self, name: str | None) -> CompiledPlaybook | None:
        """The first playbook of this name (None for none)."""
        cache: dict[str | None, CompiledPlaybook | None] = self._cache("_playbook_named")
        if name not in cache:
            cache[name] = next((p for p in self.playbooks if p.spec.name == name), None)
        return cache[name]

    def detectors_on(self, event_type: str) -> tuple[CompiledDetector, ...]:
        """The deadline detectors an event of this type arms, in policy order."""
        return self._by_on.get(event_type, ())

    def matchers_for(self, event_type: str) -> tuple[CompiledDetector, ...]:
        """The match detectors that may hold on an event of this type, in policy order: those
        whose type guard admits it (the others' conditions are false on it)."""
        cache: dict[str, tuple[CompiledDetector, ...]] = self._cache("_matchers")
        found = cache.get(event_type)
        if found is None:
            found = cache[event_type] = tuple(
                d
                for d in self.detectors
                if d.spec.kind == "match" and d.guard in (None, event_type)
            )
        return found

    def plan_for(self, event_type: str) -> EventPlan:
        """The detectors an event of this type arms, may match or ends, and what they read."""
        cache: dict[str, EventPlan] = self._cache("_plans")
        found = cache.get(event_type)
        if found is None:
            arming, matching = self.detectors_on(event_type), self.matchers_for(event_type)
            ends = any(
                event_type in d.arrivals or event_type in d.stops
                for d in self.detectors
                if d.spec.kind == "deadline"
            )
            exprs = [d.when for d in matching]
            exprs += [e for d in arming for e in (d.when, d.deadline, d.reference)]
            reads = frozenset(name for e in exprs if e is not None for name in e.names)
            found = cache[event_type] = EventPlan(arming, matching, ends, reads)
        return found

    def _cache(self, name: str) -> dict[Any, Any]:
        """A lookup kept with this (immutable) policy: answers computed once per key. Keys
        come from input (any event type may arrive), so a cache that grows past
        `_CACHED` keys starts again rather than grow without bound."""
        cache: dict[Any, Any] | None = self.__dict__.get(name)
        if cache is None or len(cache) >= _CACHED:
            cache = {}
            object.__setattr__(self, name, cache)
        return cache

    @property
    def _by_on(self) -> Mapping[str, tuple[CompiledDetector, ...]]:
        cache: dict[str, tuple[CompiledDetector, ...]] | None = self.__dict__.get("_on_cache")
        if cache is None:
            grouped: dict[str, list[CompiledDetector]] = {}
            for detector in self.detectors:
                if detector.spec.kind == "deadline" and detector.spec.on:
                    grouped.setdefault(detector.spec.on, []).append(detector)
            cache = {k: tuple(v) for k, v in grouped.items()}
            object.__setattr__(self, "_on_cache", cache)
        return cache


def not_negative(value: Decimal | None, path: str) -> None:
    """Money, rates and limits are zero or more: a negative budget or amount is a typo."""
    if value is not None and (not value.is_finite() or value < 0):
        raise PolicyError(f"must be a number of zero or more, got {value}", path)


def _limits(section: Budgets | Empowerment, path: str) -> None:
    for f in fields(section):
        not_negative(getattr(section, f.name), f"{path}.{f.name}")


def _amount(spec: Amount | None, path: str) -> CompiledAmount | None:
    if spec is None:
        return None
    for name in ("fixed", "percent", "min", "max"):
        not_negative(getattr(spec, name), f"{path}.{name}")
    for i, band in enumerate(spec.bands):
        not_negative(band.amount, f"{path}.bands[{i}].amount")
    for tier, factor in spec.tier_multiplier.items():
        not_negative(factor, f"{path}.tier_multiplier.{tier}")
    forms = [
        spec.fixed is not None,
        spec.percent is not None,
        bool(spec.bands),
        spec.item_value,
        spec.expr is not None,
    ]
    if sum(forms) != 1:
        raise PolicyError("give exactly one of fixed, percent, bands, item_value, expr", path)
    bands: list[tuple[timedelta | Decimal, Decimal]] = []
    for i, band in enumerate(spec.bands):
        where = f"{path}.bands[{i}].at_least"
        try:
            bands.append((Decimal(band.at_least), band.amount))
        except ArithmeticError:
            bands.append((duration(band.at_least, where), band.amount))
    if len({type(b[0]) for b in bands}) > 1:
        raise PolicyError("bands must all be durations or all numbers", f"{path}.bands")
    bands.sort(key=lambda b: b[0])
    return CompiledAmount(spec, tuple(bands), expression(spec.expr, f"{path}.expr", FAILURE_NAMES))


def _step(step: Step, index: int, path: str) -> CompiledStep:
    if step.do == "compensate" and step.amount is None and not step.arms:
        raise PolicyError("a compensate step needs an amount (or experiment arms)", path)
    if step.arms and not step.experiment:
        raise PolicyError("arms need an experiment name", f"{path}.experiment")
    arms = tuple(
        (arm.name, arm.weight, _amount(arm.amount, f"{path}.arms[{i}].amount"))
        for i, arm in enumerate(step.arms)
    )
    return CompiledStep(
        index,
        step,
        expression(step.when, f"{path}.when", FAILURE_NAMES),
        _amount(step.amount, f"{path}.amount"),
        arms,
        duration(step.expires_in, f"{path}.expires_in"),
    )


def _detector(spec: Detector, path: str) -> CompiledDetector:
    if spec.kind in ("deadline", "match") and spec.failure is None:
        raise PolicyError(f"a {spec.kind} detector needs a failure", f"{path}.failure")
    if spec.kind == "deadline" and not (spec.on and spec.deadline):
        raise PolicyError("a deadline detector needs `on` and `deadline`", path)
    if spec.kind == "match" and not spec.when:
        raise PolicyError("a match detector needs `when`", path)
    if spec.repeats_raise_by < 0:
        raise PolicyError("must not be negative", f"{path}.repeats_raise_by")
    arrivals, stops = arrivals_and_stops(spec)
    return CompiledDetector(
        spec,
        expression(spec.when, f"{path}.when", DETECTOR_NAMES),
        expression(spec.deadline, f"{path}.deadline", DETECTOR_NAMES),
        expression(spec.reference, f"{path}.reference", DETECTOR_NAMES),
        duration(spec.within, f"{path}.within"),
        type_guard(spec.when),
        arrivals,
        stops,
    )


def arrivals_and_stops(spec: Detector) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which `until` types mean the awaited event arrived and which only stop the wait. A
    policy written before `stopped_by` existed listed cancellations under `until`: without
    `stopped_by`, a `*.cancelled` type there is read as one (never as a late arrival)."""
    if spec.stopped_by:
        return tuple(t for t in spec.until if t not in spec.stopped_by), spec.stopped_by
    legacy = tuple(t for t in spec.until if t.endswith((".cancelled", ".canceled")))
    return tuple(t for t in spec.until if t not in legacy), legacy


class _Problems:
    """Collects every `PolicyError` instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: list[PolicyError] = []

    def __call__(self, make: Callable[..., Any], *args: Any) -> Any:
        try:
            return make(*args)
        except PolicyError as error:
            self.found.append(error)
            return None


def _incident(spec: IncidentSpec, path: str) -> CompiledIncident:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", spec.key):
        raise PolicyError("key names a subject attribute, e.g. area or merchant", f"{path}.key")
    if spec.threshold < 1:
        raise PolicyError("threshold must be at least 1", f"{path}.threshold")
    return CompiledIncident(
        spec,
        duration(spec.window, f"{path}.window"),
        duration(spec.quiet, f"{path}.quiet"),
        _amount(spec.amount, f"{path}.amount"),
        duration(spec.expires_in, f"{path}.expires_in"),
    )


_TEMPLATE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def _tone(spec: Tone, path: str) -> CompiledTone:
    if not spec.templates:
        raise PolicyError("a tone names the templates it replaces", f"{path}.templates")
    for name, variant in spec.templates.items():
        if not (_TEMPLATE.match(name) and _TEMPLATE.match(variant)):
            raise PolicyError(f"not a template name: {name!r}: {variant!r}", f"{path}.templates")
    return CompiledTone(spec, expression(spec.when, f"{path}.when", FAILURE_NAMES))


def _contact(spec: Contact, path: str) -> CompiledContact:
    if spec.channel is None and not spec.call:
        raise PolicyError("a contact rule gives a channel, or call: true, or both", path)
    return CompiledContact(spec, expression(spec.when, f"{path}.when", FAILURE_NAMES))


def _rising(e: Empowerment) -> None:
    _limits(e, "empowerment")
    if not e.auto <= e.agent <= e.lead:
        raise PolicyError("empowerment limits must rise: auto <= agent <= lead", "empowerment.auto")


def _unique(names: list[str]) -> None:
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise PolicyError(f"detector name {name!r} is used twice", f"detectors[{i}].name")


def _playbook(playbook: Playbook, path: str, check: _Problems) -> CompiledPlaybook:
    steps = [check(_step, s, j, f"{path}.steps[{j}]") for j, s in enumerate(playbook.steps)]
    return CompiledPlaybook(playbook, tuple(steps))


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Raises `PolicyErrors` listing every bad entry, not only the first."""
    check = _Problems()
    check(_unique, [d.name for d in policy.detectors])
    detectors = [check(_detector, d, f"detectors[{i}]") for i, d in enumerate(policy.detectors)]
    severity_rules: list[tuple[Expr, str]] = []
    for i, rule in enumerate(policy.severity):
        compiled = check(expression, rule.when, f"severity[{i}].when", FAILURE_NAMES)
        if compiled is not None:
            severity_rules.append((compiled, rule.severity))
    playbooks = [_playbook(p, f"playbooks[{i}]", check) for i, p in enumerate(policy.playbooks)]
    if not playbooks:
        check.found.append(PolicyError("at least one playbook is needed", "playbooks"))
    sla = {s: check(duration, getattr(policy.sla, s), f"sla.{s}") for s in SEVERITIES}
    check(_limits, policy.budgets, "budgets")
    check(_rising, policy.empowerment)
    incidents = [check(_incident, s, f"incidents[{i}]") for i, s in enumerate(policy.incidents)]
    after, expires_in, lateness, repurchase = (
        check(duration, text, path)
        for text, path in (
            (policy.follow_up.after, "follow_up.after"),
            (policy.follow_up.expires_in, "follow_up.expires_in"),
            (policy.engine.allowed_lateness, "engine.allowed_lateness"),
            (policy.engine.repurchase_window, "engine.repurchase_window"),
        )
    )
    sources = check(compile_sources, policy.sources)
    accepted = check(_accepted, policy)
    tones = [check(_tone, t, f"tones[{i}]") for i, t in enumerate(policy.tones)]
    contact = [check(_contact, c, f"contact[{i}]") for i, c in enumerate(policy.contact)]
    if check.found:
        raise PolicyErrors(check.found)
    accept_from, accept_ahead, max_chars = accepted
    return CompiledPolicy(
        policy,
        tuple(detectors),
        tuple(severity_rules),
        tuple(playbooks),
        sla,
        after,
        expires_in,
        lateness,
        repurchase,
        tuple(incidents),
        sources,
        accept_from,
        accept_ahead,
        max_chars,
        tones=tuple(tones),
        contact=tuple(contact),
    )


def _accepted(policy: Policy) -> tuple[datetime, timedelta, int]:
    engine = policy.engine
    try:
        since = datetime.fromisoformat(engine.accept_from)
    except ValueError:
        since = None
    if since is None or since.utcoffset() is None or since.year < 2:
        raise PolicyError("must be an ISO 8601 date-time with an offset", "engine.accept_from")
    ahead = duration(engine.accept_ahead, "engine.accept_ahead")
    if ahead <= timedelta(0):
        raise PolicyError("must be a positive duration", "engine.accept_ahead")
    if engine.max_attribute_chars < 1:
        raise PolicyError("must be at least 1", "engine.max_attribute_chars")
    return since.astimezone(UTC), ahead, engine.max_attribute_chars


def evaluate(expr: Expr | None, context: Mapping[str, Any]) -> bool:
    """A condition that is absent holds; one that fails at run time does not."""
    return True if expr is None else expr.test(context)
