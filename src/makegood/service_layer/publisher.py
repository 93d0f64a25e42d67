"""`serve --bus`: the API as a producer (issue 13). Events are published to the bus for the
workers that own their partitions instead of appended here; each is answered once the stream
has it, as `GroupAppend` answers once the log has it.

What each event is answered, and where that is decided:
- rejected: refused by the same validation the engine applies (`parse_event`), quarantined
  here with its reason, never published;
- duplicate: the log already holds the id with the same payload (the store is asked first),
  or the stream already had the id within its duplicate window (JetStream's answer to
  `Nats-Msg-Id`): a retry of a request the stream took is answered duplicate either way;
- conflict: the log already holds the id with another payload (quarantined, as the append
  does). Two payloads of one new id sent within the duplicate window are not told apart here:
  the stream keeps the first, the second is answered duplicate;
- accepted: the stream has it (its owner appends and acts on it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from makegood.domain.event import Event, Quarantined, event_to_json, parse_event
from makegood.domain.fingerprint import fingerprint
from makegood.service_layer.engine import (
    ACCEPTED,
    CONFLICT,
    CONFLICT_REASON,
    DUPLICATE,
    REJECTED,
    Engine,
    IngestReport,
)

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish_acks(self, raws: Sequence[object]) -> list[tuple[int, bool]]:
        """Publish each to its partition's subject (`Nats-Msg-Id` = its id); answers, once the
        stream has them all, each one's (stream sequence, duplicate)."""
        ...


class BusIngest:
    """Takes the place of `GroupAppend` in `serve --bus`: the same `submit` / `ingest`."""

    def __init__(self, engine: Engine, bus: Publisher, threads: int = 4) -> None:
        self.engine, self.bus = engine, bus
        # the bus answers from its own thread: a few requests wait on it at once
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="makegood-publish")

    def submit(self, raws: Sequence[object], source: str = "api") -> Future[IngestReport]:
        return self._pool.submit(self.ingest, raws, source)

    def ingest(self, raws: Sequence[object], source: str = "api") -> IngestReport:
        engine = self.engine
        limits = engine.policy.limits(engine.clock.now())
        report = IngestReport(outcomes=[REJECTED] * len(raws))
        refused: list[Quarantined] = []
        valid: list[tuple[int, Event, object]] = []
        for index, raw in enumerate(raws):
            parsed = parse_event(raw, limits)
            if isinstance(parsed, Event):
                valid.append((index, parsed, raw))
                continue
            report.rejected.append((index, parsed))
            refused.append(
                Quarantined(source, None, _text(raw), parsed.field, parsed.reason, parsed.event_id)
            )
        with engine.store.reader() as session:
            stored = session.event_fingerprints({e.id for _, e, _ in valid}) if valid else {}
        sending: list[tuple[int, object]] = []
        for index, event, raw in valid:
            known = stored.get(event.id)
            if known is None:
                sending.append((index, raw))
            elif known == fingerprint(event):
                report.outcomes[index] = DUPLICATE
            else:
                report.outcomes[index] = CONFLICT
                text = _text(event_to_json(event))
                refused.append(Quarantined(source, None, text, "id", CONFLICT_REASON, event.id))
        engine.quarantine(refused)
        acks = self.bus.publish_acks([raw for _, raw in sending]) if sending else []
        for (index, _), (_, duplicate) in zip(sending, acks, strict=True):
            report.outcomes[index] = DUPLICATE if duplicate else ACCEPTED
        report.accepted = report.outcomes.count(ACCEPTED)
        report.duplicates = report.outcomes.count(DUPLICATE)
        report.conflicts = report.outcomes.count(CONFLICT)
        return report

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _text(raw: object) -> str:
    try:
        return json.dumps(raw, default=str)[:10_000]
    except (TypeError, ValueError):
        return repr(raw)[:10_000]
