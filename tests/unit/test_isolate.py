"""The engine's last resort (`Engine._isolate`): an event the stored state refuses on every
retry — not a race but bad input — is quarantined with the reason and passed over in the log,
and the rest of its batch is acted on (whatever the batch size, and whatever was decided but
not yet written when it was met)."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import T0, ev
from makegood.domain.errors import AlreadyDone
from makegood.domain.policy import Budgets
from makegood.domain.world import Changes, Snapshot
from makegood.testing import InMemorySession, InMemoryStore

BAD = "o-bad"


@pytest.fixture
def refusing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that always finds the failure of subject `o-bad` done already (as if another
    transaction had made it under a key the engine cannot see)."""
    real = InMemorySession.save

    def save(self: InMemorySession, changes: Changes, snapshot: Snapshot, b: Budgets) -> None:
        if any(snapshot.failures[i].subject_id == BAD for i in changes.created & changes.failures):
            raise AlreadyDone("the failure of o-bad exists already")
        real(self, changes, snapshot, b)

    monkeypatch.setattr(InMemorySession, "save", save)


@pytest.mark.parametrize("batch_size", [1, 3, 5000])
@pytest.mark.usefixtures("refusing")
def test_an_event_refused_on_every_retry_is_quarantined_and_the_others_acted_on(
    make_engine: Any, batch_size: int
) -> None:
    store = InMemoryStore()
    engine = make_engine(store, batch_size=batch_size)
    report = engine.ingest(
        [
            ev("a", "order.cancelled", T0, "c1", "o-1", by="business"),
            ev("b", "order.cancelled", T0, "c2", BAD, by="business"),
            ev("c", "order.cancelled", T0, "c3", "o-3", by="business"),
        ]
    )
    assert report.outcomes == ["accepted", "rejected", "accepted"]
    [(index, why)] = report.rejected
    assert index == 1 and why.event_id == "b" and "conflicts with what is stored" in why.reason
    assert [(q.event_id, q.reason) for q in store.state.quarantine] == [("b", why.reason)]
    assert sorted(f.subject_id for f in store.state.failures.values()) == ["o-1", "o-3"]
    assert sorted(store.state.events) == ["a", "b", "c"]  # it stays in the log
    again = engine.ingest([ev("d", "order.cancelled", T0, "c4", "o-4", by="business")])
    assert again.outcomes == ["accepted"]  # the log goes on past it
    assert sorted(f.subject_id for f in store.state.failures.values()) == ["o-1", "o-3", "o-4"]
