"""What the engine reports of its batches (issue 14 point 4), through the `EngineObserver`
port, on the in-memory store: every deadline failure's detection latency once, each case's
first message once, nothing for a replay of what is already known."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers import T0, ev, minutes
from makegood.domain.message import ACTION
from makegood.service_layer.observer import BatchFigures
from makegood.testing import InMemoryStore


@dataclass
class RecordingObserver:
    batches: list[tuple[float, BatchFigures]] = field(default_factory=list)

    def batch_done(self, seconds: float, figures: BatchFigures) -> None:
        self.batches.append((seconds, figures))

    def all(self, name: str) -> list[float]:
        return sorted(v for _, f in self.batches for v in getattr(f, name))


def orders() -> list[dict]:
    events = []
    for i, late in enumerate([5, 30, 90, None, -3]):  # minutes after the promise; None: never
        placed = T0 + minutes(10 * i)
        promised = placed + minutes(30)
        events.append(ev(f"p{i}", "order.placed", placed, f"c{i}", f"o{i}", promised_at=promised))
        if late is not None:
            events.append(
                ev(f"d{i}", "order.delivered", promised + minutes(late), f"c{i}", f"o{i}")
            )
    events.append(ev("tick", "order.placed", T0 + minutes(600), "c9", "o9"))  # moves the clock
    return sorted(events, key=lambda e: e["occurred_at"])


def test_the_engine_reports_each_deadline_failure_and_first_message_once(make_engine) -> None:
    store = InMemoryStore()
    observer = RecordingObserver()
    engine = make_engine(store, event_time=True, observer=observer, batch_size=3)
    events = orders()
    engine.ingest(events)

    failures = store.state.failures.values()
    deadline = sorted(f.detection_latency_s for f in failures if "late" in f.detector)
    assert deadline and all(v >= 0 for v in deadline)
    assert observer.all("detection_s") == deadline
    assert sum(f.failures for _, f in observer.batches) == len(store.state.failures)
    assert all(seconds >= 0 for seconds, _ in observer.batches)
    first = {}
    for m in sorted(store.state.outbox.values(), key=lambda m: m.created_at):
        if m.case_id and m.channel != ACTION:
            first.setdefault(m.case_id, m.created_at)
    cases = store.state.cases
    expected = sorted((at - cases[c].opened_at).total_seconds() for c, at in first.items())
    assert expected and observer.all("first_message_s") == expected

    observed = len(observer.batches)
    engine.ingest(events)  # a replay: all duplicates, nothing decided, nothing observed
    assert [f for _, f in observer.batches[observed:] if f.detection_s or f.failures] == []
