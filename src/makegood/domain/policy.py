"""The recovery policy: one document a CX lead writes (YAML at the edge), as plain dataclasses.

Expressions and durations are kept here as text; `makegood.domain.rules.compile_policy` turns a
`Policy` into a `CompiledPolicy` the engine runs. The adapter that reads YAML validates the shape
against these dataclasses (every class forbids unknown keys) and maps errors to line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from makegood.domain.errors import PolicyError
from makegood.domain.source import Source

FailureType = Literal["process", "people", "product", "policy", "communication"]
Severity = Literal["minor", "major", "critical"]
SEVERITIES: tuple[str, ...] = ("minor", "major", "critical")
FAILURE_TYPES: tuple[str, ...] = ("process", "people", "product", "policy", "communication")
ROLES: tuple[str, ...] = ("auto", "agent", "lead", "admin")

_STRICT: Any = {"extra": "forbid"}


class PolicyErrors(PolicyError):
    """Every problem found in a policy, in file order once lines are known; it reads as the
    first (`message`, `path`, `line`), so a caller that wants one still gets one."""

    def __init__(self, problems: list[PolicyError]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(first.message, first.path, first.line)

    def __str__(self) -> str:
        return "; ".join(str(p) for p in self.problems)


@dataclass(frozen=True)
class Business:
    __pydantic_config__ = _STRICT
    name: str = "Our shop"
    support_email: str = "support@example.com"
    currency: str = "EUR"
    survey_base_url: str = ""  # the site's root for survey links; empty: the serving address


@dataclass(frozen=True)
class FailureSpec:
    __pydantic_config__ = _STRICT
    type: FailureType
    category: str
    severity: Severity = "minor"
    from_text: bool = False  # take type and category from the text analysis when it names one


@dataclass(frozen=True)
class Detector:
    """`deadline`: armed by the `on` event, fires at `deadline` unless an `until` event came first.
    An `until` event after the deadline is the late arrival (its lateness is measured from
    `reference`); a `stopped_by` event (e.g. order.cancelled) ends the wait without an arrival:
    a failure that already fired becomes a `stopped` failure (its own category and playbook, no
    lateness). `match`: fires on an event for which `when` holds; the same detector matching
    again on the same subject (a second low score on one order) is evidence on the case, its
    severity raised `repeats_raise_by` levels per earlier match. `repeat`: raises the severity
    of a failure when the customer already failed `count` times `within` the window."""

    __pydantic_config__ = _STRICT
    name: str
    kind: Literal["deadline", "match", "repeat"]
    failure: FailureSpec | None = None
    when: str | None = None
    on: str | None = None
    deadline: str | None = None
    reference: str | None = None  # the promised time lateness is measured from
    until: tuple[str, ...] = ()
    stopped_by: tuple[str, ...] = ()
    stopped: FailureSpec | None = None  # None: the fired failure keeps its category
    repeats_raise_by: int = 0
    within: str = "30d"
    count: int = 1
    raise_by: int = 1


@dataclass(frozen=True)
class SeverityRule:
    __pydantic_config__ = _STRICT
    when: str
    severity: Severity


@dataclass(frozen=True)
class Band:
    __pydantic_config__ = _STRICT
    at_least: str  # a duration (lateness) or a number
    amount: Decimal


@dataclass(frozen=True)
class Amount:
    """One of fixed / percent (of order value) / bands (by lateness) / item_value / expr, then
    multiplied by the customer's tier, then bounded by `min` and `max`."""

    __pydantic_config__ = _STRICT
    fixed: Decimal | None = None
    percent: Decimal | None = None
    bands: tuple[Band, ...] = ()
    item_value: bool = False
    expr: str | None = None
    tier_multiplier: dict[str, Decimal] = field(default_factory=dict)
    min: Decimal | None = None
    max: Decimal | None = None


@dataclass(frozen=True)
class Arm:
    __pydantic_config__ = _STRICT
    name: str
    weight: Decimal = Decimal(1)
    amount: Amount | None = None  # None: no compensation in this arm (e.g. apology only)


@dataclass(frozen=True)
class Step:
    __pydantic_config__ = _STRICT
    do: Literal["acknowledge", "apologise", "resolve", "compensate", "follow_up", "escalate"]
    on: Literal["detected", "resolved"] = "detected"
    when: str | None = None
    template: str | None = None
    channel: str | None = None
    action: str | None = None  # resolve: the webhook action (e.g. "reship")
    kind: Literal["voucher", "credit", "refund"] = "voucher"
    amount: Amount | None = None
    expires_in: str = "30d"
    reason: str | None = None
    experiment: str | None = None
    arms: tuple[Arm, ...] = ()


@dataclass(frozen=True)
class Playbook:
    __pydantic_config__ = _STRICT
    name: str
    steps: tuple[Step, ...]
    categories: tuple[str, ...] = ()  # empty: any category
    severities: tuple[Severity, ...] = ()  # empty: any severity


@dataclass(frozen=True)
class IncidentSpec:
    """`threshold` failures of `categories` sharing the subject attribute `key` within `window`
    make one incident; it closes after `quiet` without a new one (or by hand, or when a
    `service.alert` says restored). Every affected customer hears once per stage, and may be
    compensated (`amount`, within the same budgets and tiers)."""

    __pydantic_config__ = _STRICT
    name: str
    key: str  # a subject (order) attribute, e.g. area, merchant
    categories: tuple[str, ...] = ()
    threshold: int = 5
    window: str = "20m"
    quiet: str = "45m"
    alerts: bool = False  # service.alert events with this key open and resolve it too
    kind: Literal["voucher", "credit", "refund"] = "voucher"
    amount: Amount | None = None
    template: str = "incident"
    expires_in: str = "30d"


@dataclass(frozen=True)
class Signature:
    __pydantic_config__ = _STRICT
    name: str
    title: str = ""


@dataclass(frozen=True)
class Tone:
    """A voice for the customer's messages. The first tone whose `when` holds (it sees what a
    compensation formula sees: `severity`, `customer.tier`, `lifetime_value`, …) sends each
    template named in `templates` as its variant instead, signed by `signed_by`."""

    __pydantic_config__ = _STRICT
    name: str
    templates: dict[str, str]
    when: str | None = None
    signed_by: Signature | None = None


@dataclass(frozen=True)
class Contact:
    """How a customer is reached when `when` holds (the first rule that holds decides):
    `channel` when the customer named no preferred channel of their own; `call`: a person
    calls them as well (a call task on the case's timeline, and the case in the queue)."""

    __pydantic_config__ = _STRICT
    when: str | None = None
    channel: str | None = None
    call: bool = False
    reason: str = "a person calls the customer"


@dataclass(frozen=True)
class Budgets:
    __pydantic_config__ = _STRICT
    per_case: Decimal = Decimal(50)
    per_customer_30d: Decimal = Decimal(100)
    global_per_day: Decimal = Decimal(2000)


@dataclass(frozen=True)
class Empowerment:
    """Compensation up to `auto` is granted at once; up to `agent`/`lead` it waits for a person
    with that role; above `lead` it needs an admin's approval."""

    __pydantic_config__ = _STRICT
    auto: Decimal = Decimal(15)
    agent: Decimal = Decimal(40)
    lead: Decimal = Decimal(150)


@dataclass(frozen=True)
class FollowUp:
    __pydantic_config__ = _STRICT
    after: str = "2h"
    survey: Literal["csat", "ces"] = "csat"
    expires_in: str = "3d"
    reopen_at_or_below: int = 2
    close_at_or_above: int = 4
    template: str = "survey"


@dataclass(frozen=True)
class Suppression:
    __pydantic_config__ = _STRICT
    max_messages_per_customer_per_day: int = 4


@dataclass(frozen=True)
class Sla:
    __pydantic_config__ = _STRICT
    minor: str = "24h"
    major: str = "4h"
    critical: str = "30m"


@dataclass(frozen=True)
class EngineSettings:
    __pydantic_config__ = _STRICT
    allowed_lateness: str = "2m"
    repurchase_window: str = "30d"
    # events are refused (and quarantined) when they occurred before accept_from or later than
    # now + accept_ahead, or hold a string longer than max_attribute_chars
    accept_from: str = "1970-01-01T00:00:00Z"
    accept_ahead: str = "365d"
    max_attribute_chars: int = 65_536


@dataclass(frozen=True)
class ReviewScale:
    """A business's own rating the report reads (a review, an NPS answer): events of `type`
    whose ``attributes.kind`` is `kind` (or that carry no kind), scored from `low` to `high`
    in ``attributes.score``, satisfied at or above `satisfied_at`."""

    __pydantic_config__ = _STRICT
    kind: str
    type: str = "survey.answered"
    low: int = 1
    high: int = 5
    satisfied_at: int = 4

    def __post_init__(self) -> None:
        if not self.low <= self.satisfied_at <= self.high or self.low == self.high:
            raise ValueError("a review scale needs low <= satisfied_at <= high, and low < high")


@dataclass(frozen=True)
class Policy:
    __pydantic_config__ = _STRICT
    detectors: tuple[Detector, ...]
    playbooks: tuple[Playbook, ...]
    version: int = 1
    business: Business = field(default_factory=Business)
    severity: tuple[SeverityRule, ...] = ()
    incidents: tuple[IncidentSpec, ...] = ()
    budgets: Budgets = field(default_factory=Budgets)
    empowerment: Empowerment = field(default_factory=Empowerment)
    follow_up: FollowUp = field(default_factory=FollowUp)
    suppression: Suppression = field(default_factory=Suppression)
    sla: Sla = field(default_factory=Sla)
    engine: EngineSettings = field(default_factory=EngineSettings)
    channel: str = "email"  # default channel for customer messages
    tones: tuple[Tone, ...] = ()  # template variants by tier, severity, value (domain/tone.py)
    contact: tuple[Contact, ...] = ()  # channel and call tasks by the same (domain/tone.py)
    # event types beyond the built-in ones (or more attributes of a built-in type) and the
    # attributes they carry: `policy check` warns on names no type declares
    events: dict[str, tuple[str, ...]] = field(default_factory=dict)
    text: dict[str, Any] | None = None  # cue and category patterns for text analysis
    reviews: tuple[ReviewScale, ...] = ()  # a business's own ratings, for the report
    sources: tuple[Source, ...] = ()  # webhooks mapped to events (domain/source.py)
