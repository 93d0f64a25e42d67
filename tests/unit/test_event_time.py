"""Historical files: the clock follows event time, whatever the batch size or file age."""

from __future__ import annotations

import random

from helpers import T0, ev, minutes
from makegood.testing import InMemoryStore


def history(orders: int = 60, seed: int = 3) -> list[dict]:
    """Orders, some late (and a few never delivered), deliveries shuffled within 60 s."""
    rng = random.Random(seed)
    events = []
    for i in range(orders):
        at = T0 + minutes(5 * i)
        promised = at + minutes(30)
        events.append(
            ev(
                f"p{i}",
                "order.placed",
                at,
                f"c{i % 7}",
                f"o{i}",
                promised_at=promised,
                value=20 + i,
            )
        )
        late = rng.choice([-5, 0, 10, 20, 45, 70, None])
        if late is not None:
            events.append(
                ev(f"d{i}", "order.delivered", promised + minutes(late), f"c{i % 7}", f"o{i}")
            )
    events.sort(key=lambda e: e["occurred_at"])
    for i in range(0, len(events) - 1, 5):  # a little disorder, well within allowed lateness
        events[i], events[i + 1] = events[i + 1], events[i]
    return events


def outcome(store: InMemoryStore) -> tuple:
    s = store.state
    return (
        sorted(
            (f.key, f.severity, f.occurred_at, f.detected_at, f.lateness_s)
            for f in s.failures.values()
        ),
        sorted((c.id, c.state, c.severity) for c in s.cases.values()),
        sorted((c.key, c.amount, c.status) for c in s.compensations.values()),
        sorted((m.key, m.template, m.created_at) for m in s.outbox.values()),
        sorted(s.timers),
    )


def test_an_old_file_gives_the_result_it_would_have_given_live(make_engine):
    store = InMemoryStore()
    make_engine(store, event_time=True).ingest(history())  # the wall clock is days away
    failures = store.state.failures.values()
    on_time = {
        f.subject_id for f in failures if f.lateness_s is not None and f.lateness_s < 15 * 60
    }
    assert not on_time, "an order that arrived in time never fires its deadline"
    late = {f.subject_id for f in failures if f.detector == "late_delivery"}
    assert late, "late deliveries in the file are detected"
    for failure in failures:
        assert failure.detected_at >= failure.occurred_at


def test_the_result_does_not_depend_on_the_batch_size(make_engine):
    events = history()
    results = []
    for size in (1, 7, 50, 10_000):
        store = InMemoryStore()
        engine = make_engine(store, event_time=True, batch_size=size)
        for start in range(0, len(events), size):
            engine.ingest(events[start : start + size])
        results.append(outcome(store))
    assert all(r == results[0] for r in results[1:])


def test_replaying_the_same_events_pays_and_sends_nothing_twice(make_engine):
    events = history()
    store = InMemoryStore()
    engine = make_engine(store, event_time=True)
    engine.ingest(events)
    first = outcome(store)
    assert first[2], "the history has compensations to replay"
    report = make_engine(store, event_time=True).ingest(events)
    assert report.accepted == 0 and report.duplicates == len(events)
    assert outcome(store) == first


def test_an_event_later_than_the_allowed_lateness_is_still_recorded(make_engine):
    store = InMemoryStore()
    engine = make_engine(store, event_time=True)
    engine.ingest(
        [
            ev("p1", "order.placed", T0, "c1", "o1", promised_at=T0 + minutes(30)),
            ev("x", "purchase", T0 + minutes(120), "c2"),
        ]
    )  # watermark moves on
    assert sorted(f.detector for f in store.state.failures.values()) == [
        "late_delivery",
        "very_late_delivery",
    ]
    engine.ingest([ev("d1", "order.delivered", T0 + minutes(29), "c1", "o1")])
    assert len(store.state.events) == 3
    lateness = {f.detector: f.lateness_s for f in store.state.failures.values()}
    assert lateness["late_delivery"] == -60  # it had arrived in time: the record says so


def test_no_failure_is_detected_before_the_event_that_shows_it(make_engine):
    store = InMemoryStore()
    engine = make_engine(store, event_time=True)
    engine.ingest(
        [
            ev("i1", "order.item_issue", T0, "c1", "o1", issue="missing", item_value=5),
            ev("p2", "purchase", T0 + minutes(10), "c2"),
            ev("i3", "order.item_issue", T0 + minutes(11), "c3", "o3", issue="damaged"),
        ]
    )
    for failure in store.state.failures.values():
        assert failure.detected_at >= failure.occurred_at
    for message in store.state.outbox.values():
        assert message.created_at >= T0
