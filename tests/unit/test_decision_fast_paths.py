"""The decisions' fast paths give exactly what their plain definitions give (issue 12, session 4).

Each definition is kept here as it was written before the speed work, and compared with the
code on random input by `repr`, so that types and key order count too:
- `message_context` builds its context already JSON-able instead of walking it with `jsonable`;
- `event_context` given the names its expressions read leaves out what none of them reads;
- `CompiledPolicy.plan_for` answers per event type what `Recovery.apply` used to work out;
- `failure_context_in` sums the customer's recent compensation in one pass;
- `first_end` is the `min` of the ends of a deadline's wait that the subject has seen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from makegood.adapters.policy_file import load_policy
from makegood.domain import model as m
from makegood.domain.context import (
    NO_ANALYSIS,
    failure_context,
    failure_context_in,
    lateness_of,
    message_context,
    recent_failures_in,
)
from makegood.domain.context import event_context as event_context_of
from makegood.domain.deadline import first_end
from makegood.domain.errors import ExpressionError
from makegood.domain.event import Event, jsonable, parse_datetime
from makegood.domain.expr import compile_expr
from makegood.domain.model import Case, Compensation, Customer, Failure, Subject
from makegood.domain.policy import Business, Detector, FailureSpec
from makegood.domain.rules import CompiledPolicy, compile_policy
from makegood.domain.world import Snapshot, World

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
T = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

text = st.sampled_from(["", "a", "gold", "Belém", "EUR", "o-1", "late_delivery", "\u2028"])
instants = st.integers(-90 * 24 * 60, 90 * 24 * 60).map(lambda m: T + timedelta(minutes=m))
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(allow_nan=False),
    text,
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    instants,
    st.dates(),
    st.just(timedelta(minutes=15)),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(st.one_of(text, st.integers(0, 3)), max_size=3),
        st.dictionaries(st.one_of(text, st.integers(0, 3)), inner, max_size=3),
    ),
    max_leaves=6,
)
plain_dicts = st.dictionaries(text, st.one_of(st.none(), st.booleans(), text, st.integers()))


# message_context ------------------------------------------------------------------------------
def defined_message_context(
    business: Business,
    customer: Customer,
    case: Case,
    failure: Failure | None,
    subject: Subject | None,
    compensation: Compensation | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`message_context` as it was defined before session 4."""
    order = None
    if subject is not None:
        order = {
            "id": subject.id,
            "value": subject.attributes.get("value"),
            "currency": subject.attributes.get("currency", business.currency),
        }
    fail = None
    if failure is not None:
        fail = {
            "category": failure.category,
            "type": failure.type,
            "severity": failure.severity,
            "lateness_minutes": round(failure.lateness_s / 60) if failure.lateness_s else None,
            "evidence": failure.evidence,
        }
    comp = None
    if compensation is not None:
        comp = {
            "kind": compensation.kind,
            "amount": compensation.amount,
            "currency": compensation.currency,
            "code": compensation.code,
            "expires_at": compensation.expires_at,
        }
    context = {
        "customer": {"name": customer.name, "locale": customer.locale, "tier": customer.tier},
        "case": {"id": case.id, "category": case.category, "severity": case.severity},
        "failure": fail,
        "order": order,
        "compensation": comp,
        "survey_url": None,
        "business": {"name": business.name, "support_email": business.support_email},
        **(extra or {}),
    }
    return jsonable(context)  # type: ignore[no-any-return]


customers = st.builds(
    Customer,
    id=text,
    name=st.one_of(st.none(), text, values),
    locale=text,
    tier=st.one_of(text, values),
)
cases = st.builds(
    Case,
    id=text,
    customer_id=text,
    subject_key=text,
    state=st.just(m.DETECTED),
    severity=st.sampled_from(["minor", "major", "critical"]),
    category=text,
    opened_at=st.just(T),
    updated_at=st.just(T),
)
failures = st.builds(
    Failure,
    id=text,
    key=text,
    detector=text,
    customer_id=text,
    subject_id=st.none(),
    case_id=text,
    type=text,
    category=st.one_of(text, values),
    severity=st.sampled_from(["minor", "major", "critical"]),
    occurred_at=st.just(T),
    detected_at=st.just(T),
    evidence=st.one_of(plain_dicts, st.dictionaries(text, values, max_size=4)),
    lateness_s=st.one_of(st.none(), st.floats(0, 10_000), st.just(0.0)),
)
subjects = st.builds(
    Subject,
    id=text,
    customer_id=text,
    attributes=st.dictionaries(st.sampled_from(["value", "currency", "area"]), values),
)
compensations = st.builds(
    Compensation,
    id=text,
    key=text,
    case_id=text,
    customer_id=text,
    failure_id=text,
    kind=st.sampled_from(["voucher", "credit", "refund"]),
    amount=st.decimals(allow_nan=False, allow_infinity=False, places=2),
    currency=text,
    status=st.just(m.GRANTED),
    required_role=st.just("auto"),
    reason=text,
    created_at=st.just(T),
    code=st.one_of(st.none(), text),
    expires_at=st.one_of(st.none(), instants),
)
extras = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(
        st.one_of(
            st.sampled_from(["survey", "incident", "tone", "signature", "action", "survey_url"]),
            st.sampled_from(["customer", "order", "case"]),  # a key the context has: replaced
            st.integers(0, 2),  # not a string: jsonable names it by its text
            text,
        ),
        values,
        max_size=4,
    ),
)
businesses = st.builds(Business, name=text, support_email=text, currency=text)


@PROPERTY
@given(
    businesses,
    customers,
    cases,
    st.one_of(st.none(), failures),
    st.one_of(st.none(), subjects),
    st.one_of(st.none(), compensations),
    extras,
)
def test_a_message_context_is_its_definition(
    business: Business,
    customer: Customer,
    case: Case,
    failure: Failure | None,
    subject: Subject | None,
    compensation: Compensation | None,
    extra: Mapping[str, Any] | None,
) -> None:
    fast = message_context(business, customer, case, failure, subject, compensation, extra)
    defined = defined_message_context(
        business, customer, case, failure, subject, compensation, extra
    )
    assert repr(fast) == repr(defined)
    assert json.dumps(fast, default=repr) == json.dumps(defined, default=repr)
    if failure is not None and isinstance(fast["failure"], dict):
        # a plain evidence dict is handed on as it is by both (jsonable returns it unchanged)
        shared = fast["failure"]["evidence"] is failure.evidence
        assert shared == (defined["failure"]["evidence"] is failure.evidence)


def test_a_message_context_of_the_usual_kinds_is_its_definition() -> None:
    business = Business(name="Fresh Bites", support_email="help@example.com", currency="EUR")
    customer = Customer("c-1", name="Ana", locale="pt", tier="gold")
    case = Case("case-1", "c-1", "o-1", m.DETECTED, "major", "late_delivery", T, T)
    failure = Failure(
        "fail-1", "late:o-1", "late", "c-1", "o-1", "case-1", "process", "late_delivery",
        "major", T, T, {"deadline": T.isoformat(), "attributes": {"value": Decimal("2.5")}},
        lateness_s=1_260.0,
    )  # fmt: skip
    subject = Subject("o-1", "c-1", {"value": Decimal("23.78"), "currency": "EUR"})
    voucher = Compensation(
        "comp-1", "k", "case-1", "c-1", "fail-1", "voucher", Decimal("2.00"), "EUR",
        m.GRANTED, "auto", "late", T, code="MG-1", expires_at=T + timedelta(days=30),
    )  # fmt: skip
    extra = {"survey": {"id": "s", "expires_at": T.isoformat()}, "tone": "brief"}
    fast = message_context(business, customer, case, failure, subject, voucher, extra)
    assert fast == defined_message_context(
        business, customer, case, failure, subject, voucher, extra
    )
    assert fast["order"]["value"] == "23.78"
    assert fast["compensation"]["expires_at"] == "2026-12-02T12:00:00+00:00"


# event_context with the names read ------------------------------------------------------------
PATHS = [
    "id", "type", "occurred_at", "customer_id", "subject_id", "attributes", "attributes.score",
    "attributes.promised_at", "attributes.by", "customer", "customer.tier", "customer.name",
    "customer.vip", "order", "order.value", "order.area", "order.id", "sentiment", "label",
    "language", "cues", "cues.churn_threat", "category", "failure_type", "category_confidence",
]  # fmt: skip
CONSTANTS = ['"gold"', "2", "null", "0.5", '"order.placed"', "true", '"x"']


@st.composite
def sources(draw: st.DrawFn) -> str:
    """A condition or formula over the names an event's context holds."""

    def term() -> str:
        path = draw(st.sampled_from(PATHS))
        form = draw(st.integers(0, 4))
        if form == 0:
            return path
        if form == 1:
            return f"{path} + 15m"
        op = draw(st.sampled_from(["==", "!=", "<=", ">", "in"]))
        right = draw(st.sampled_from(CONSTANTS)) if op != "in" else '["gold", "x"]'
        return f"{path} {op} {right}"

    source = term()
    for _ in range(draw(st.integers(0, 2))):
        joint = draw(st.sampled_from(["and", "or", "and not"]))
        source = f"{source} {joint} {term()}"
    return source


contexts_of_names = st.dictionaries(
    st.sampled_from(["vip", "tier", "name", "value", "area", "score", "by", "promised_at"]),
    st.one_of(text, st.integers(0, 5), instants, st.decimals(places=2, allow_nan=False)),
    max_size=4,
)
analyses = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(
        st.sampled_from([*NO_ANALYSIS, "type", "customer", "attributes", "order", "extra"]),
        st.one_of(text, st.floats(-1, 1), plain_dicts, st.none()),
        max_size=5,
    ),
)


NAMES = sorted({path.split(".")[0] for path in PATHS} | {"extra"})


@PROPERTY
@given(
    st.sets(st.sampled_from(NAMES)),
    contexts_of_names,
    st.one_of(st.none(), contexts_of_names),
    analyses,
)
def test_an_event_context_holds_every_name_read_as_the_whole_context_does(
    reads: set[str],
    profile: dict[str, Any],
    order: dict[str, Any] | None,
    analysis: dict[str, Any] | None,
) -> None:
    event = Event("e-1", "order.placed", T, "c-1", "o-1", {"promised_at": T})
    customer = Customer("c-1", name="Ana", tier="gold", attributes=profile)
    subject = Subject("o-1", "c-1", order) if order is not None else None
    whole = event_context_of(event, customer, subject, analysis)
    trimmed = event_context_of(event, customer, subject, analysis, reads)
    for name in reads:
        assert repr(trimmed.get(name)) == repr(whole.get(name)), name


def outcome(source: str, context: Mapping[str, Any]) -> str:
    try:
        return repr(compile_expr(source)(context))
    except ExpressionError as error:
        return f"error: {error}"


@PROPERTY
@given(
    st.lists(sources(), min_size=1, max_size=3),
    st.sampled_from(["order.placed", "order.cancelled", "survey.answered"]),
    contexts_of_names,
    contexts_of_names,
    st.one_of(st.none(), contexts_of_names),
    analyses,
)
def test_an_event_context_gives_what_is_read_as_the_whole_context_does(
    exprs: list[str],
    kind: str,
    attributes: dict[str, Any],
    profile: dict[str, Any],
    order: dict[str, Any] | None,
    analysis: dict[str, Any] | None,
) -> None:
    compiled = [compile_expr(source) for source in exprs]
    reads = frozenset(name for e in compiled for name in e.names)
    event = Event("e-1", kind, T, "c-1", "o-1" if order is not None else None, attributes)
    customer = Customer("c-1", name="Ana", tier="gold", attributes=profile)
    subject = Subject("o-1", "c-1", order) if order is not None else None
    whole = event_context_of(event, customer, subject, analysis)
    trimmed = event_context_of(event, customer, subject, analysis, reads)
    for source in exprs:
        assert outcome(source, trimmed) == outcome(source, whole), source
    for name in reads:
        assert repr(trimmed.get(name)) == repr(whole.get(name))


# plan_for -------------------------------------------------------------------------------------
def policies() -> list[CompiledPolicy]:
    shipped = load_policy()
    extra = (
        Detector(name="eta_late", kind="deadline", on="order.eta_updated",
                 when='customer.tier == "gold"', deadline="attributes.eta + 5m",
                 reference="attributes.eta", until=("order.delivered", "order.cancelled"),
                 failure=FailureSpec(type="process", category="late_delivery",
                                     severity="minor")),
        Detector(name="any_event", kind="match", when="order.value >= 100",
                 failure=FailureSpec(type="process", category="big", severity="minor")),
    )  # fmt: skip
    more = compile_policy(replace(shipped.policy, detectors=(*shipped.policy.detectors, *extra)))
    return [shipped, more]


TYPES = [
    "order.placed", "order.delivered", "order.cancelled", "order.eta_updated",
    "order.item_issue", "survey.answered", "message.received", "behavior.signal",
    "customer.upserted", "purchase", "service.alert", "booking.missed",
]  # fmt: skip


def test_an_event_plan_is_what_apply_worked_out_per_event() -> None:
    for policy in policies():
        for kind in TYPES:
            plan = policy.plan_for(kind)
            assert plan is policy.plan_for(kind)  # worked out once
            deadlines = [d for d in policy.detectors if d.spec.kind == "deadline"]
            assert plan.arming == tuple(d for d in deadlines if d.spec.on == kind)
            assert plan.matching == tuple(
                d for d in policy.detectors if d.spec.kind == "match" and d.guard in (None, kind)
            )
            assert plan.ends == any(kind in (*d.arrivals, *d.stops) for d in deadlines)
            exprs = [d.when for d in plan.matching]
            exprs += [e for d in plan.arming for e in (d.when, d.deadline, d.reference)]
            assert plan.reads == {n for e in exprs if e is not None for n in e.names}
    shipped = policies()[0]
    assert shipped.plan_for("order.placed").reads == {"attributes"}  # no profile copied
    assert shipped.plan_for("order.delivered").ends
    assert (
        not shipped.plan_for("order.delivered").arming
        + shipped.plan_for("order.delivered").matching
    )  # a delivery builds no context at all


def test_a_match_detector_guarded_by_another_type_is_never_tested_on_an_event() -> None:
    policy = policies()[1]
    names = [d.name for d in policy.plan_for("order.item_issue").matching]
    assert names == ["missing_item", "wrong_item", "damaged_item", "any_event"]


# failure_context_in ---------------------------------------------------------------------------
def defined_failure_context_in(
    world: World,
    failure: Failure,
    customer: Customer,
    subject: Subject | None,
    attributes: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """`failure_context_in` as it was defined before session 4."""
    reference = failure.evidence.get("reference")
    lateness = lateness_of(
        failure, now, parse_datetime(reference, "reference") if reference else None
    )
    since = now - timedelta(days=30)
    earlier = [
        c
        for c in world.compensations_of(customer.id)
        if c.status == m.GRANTED and c.decided_at is not None and c.decided_at > since
    ]
    total = sum((c.amount for c in earlier), Decimal(0))
    recent = recent_failures_in(world, customer.id, failure.case_id, now)
    return failure_context(
        failure, customer, subject, lateness, (total, len(earlier)), attributes, recent
    )


granted = st.tuples(
    st.sampled_from([m.GRANTED, m.PENDING, m.REJECTED]),
    st.one_of(st.none(), st.integers(-40, 2).map(lambda d: T + timedelta(days=d))),
    st.decimals(min_value=0, max_value=100, places=2),
)
lifetime_values = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.sampled_from(["1200", "n/a", 54, 3.5]),
)


@PROPERTY
@given(
    st.lists(granted, max_size=6),
    st.lists(st.tuples(st.sampled_from(["k1", "k2", "k3"]), st.integers(-40, 1)), max_size=5),
    lifetime_values,
    st.one_of(st.none(), st.floats(0, 9_000)),
    st.sampled_from([None, "2026-11-02T11:30:00+00:00", "2026-11-02T12:30:00+01:00"]),
)
def test_a_failure_context_is_its_definition(
    grants: list[tuple[str, datetime | None, Decimal]],
    others: list[tuple[str, int]],
    lifetime: Any,
    lateness_s: float | None,
    reference: str | None,
) -> None:
    world = World(Snapshot())
    customer = world.customer("c-1")
    customer.lifetime_value = lifetime
    for i, (status, decided_at, amount) in enumerate(grants):
        world.add_compensation(
            Compensation(
                f"comp-{i}", f"k{i}", "case-1", "c-1", "f", "voucher", amount, "EUR",
                status, "auto", "late", T, decided_at=decided_at,
            )
        )  # fmt: skip
    for i, (case_id, days) in enumerate(others):
        at = T + timedelta(days=days)
        world.add_failure(
            Failure(f"f-{i}", f"d:{i}", "d", "c-1", None, case_id, "process", "late", "major",
                    at, at)
        )  # fmt: skip
    evidence = {"reference": reference} if reference else {}
    failure = Failure(
        "fail-x", "late:o-1", "late", "c-1", "o-1", "k1", "process", "late_delivery", "major",
        T, T, evidence, lateness_s=lateness_s,
    )  # fmt: skip
    subject = Subject("o-1", "c-1", {"value": Decimal("20.00")})
    attributes = {"item_value": "7.82"}
    fast = failure_context_in(world, failure, customer, subject, attributes, T)
    defined = defined_failure_context_in(world, failure, customer, subject, attributes, T)
    assert repr(fast) == repr(defined)


# first_end ------------------------------------------------------------------------------------
@PROPERTY
@given(
    st.dictionaries(
        st.sampled_from(["order.placed", "order.delivered", "order.cancelled", "x.y"]), instants
    ),
    st.lists(st.sampled_from(["order.delivered", "order.cancelled", "x.y"]), max_size=3),
)
def test_the_first_end_of_a_wait_is_the_least_seen(
    seen: dict[str, datetime], ends: list[str]
) -> None:
    ended = [(seen[t], t) for t in ends if t in seen]
    assert first_end(seen, tuple(ends)) == (min(ended) if ended else None)


def test_the_first_end_breaks_a_tie_by_the_type() -> None:
    seen = {"order.delivered": T, "order.cancelled": T, "order.placed": T - timedelta(hours=1)}
    assert first_end(seen, ("order.delivered", "order.cancelled")) == (T, "order.cancelled")
    assert first_end(seen, ()) is None
