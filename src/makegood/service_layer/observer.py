"""What the engine reports about its batches, for whoever measures them (the API's metrics).

The engine knows nothing of Prometheus: it hands each batch's figures to an `EngineObserver`,
which the entrypoints implement (`makegood.adapters.telemetry`). The figures are computed here
from the batch's `World`, so every observer sees the same numbers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from makegood.domain.message import ACTION
from makegood.domain.world import World


@dataclass(frozen=True)
class BatchFigures:
    """`detection_s`: for each deadline failure recorded, deadline → failure recorded
    (`detected_at - occurred_at`); `first_message_s`: for each case opened in the batch, case
    opened → its first message to the customer queued."""

    failures: int = 0
    detection_s: tuple[float, ...] = ()
    first_message_s: tuple[float, ...] = ()


class EngineObserver(Protocol):
    def batch_done(self, seconds: float, figures: BatchFigures) -> None: ...


class NoObserver:
    def batch_done(self, seconds: float, figures: BatchFigures) -> None:
        return None


def batch_figures(world: World, deadline_detectors: Collection[str]) -> BatchFigures:
    """Read from the batch's timeline: `failure_detected` names each failure recorded,
    `case_opened` each case opened."""
    recorded = [
        world.s.failures[str(e.data["failure"])]
        for e in world.changes.timeline
        if e.kind == "failure_detected" and str(e.data.get("failure")) in world.s.failures
    ]
    detection = tuple(f.detection_latency_s for f in recorded if f.detector in deadline_detectors)
    opened = {e.case_id for e in world.changes.timeline if e.kind == "case_opened"}
    first: dict[str, float] = {}
    for message in world.changes.outbox:
        case = world.case(message.case_id) if message.case_id in opened else None
        if case is None or message.channel == ACTION or message.created_at is None:
            continue
        first.setdefault(case.id, (message.created_at - case.opened_at).total_seconds())
    return BatchFigures(len(recorded), detection, tuple(first.values()))
