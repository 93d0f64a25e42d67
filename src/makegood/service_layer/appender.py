"""Group commit: the appends of concurrent requests made by one thread, one transaction for all
the requests waiting.

SQLite has one writer. When each request appends in a transaction of its own, concurrent
requests queue for the write lock in SQLite's busy handler, which polls with growing sleeps, and
hold pooled connections while they wait: under load a request waits for every one before it
and for the sleeps between them (measured: 50 requests/s of 100 events had a p99 of 0.3-1 s,
200 requests/s collapsed). `GroupAppend.run` is that one writer: it takes every request waiting
(up to `max_events` events, so the append is one transaction, all or nothing), validates and
appends their events with `Engine.ingest`, and answers each request from its own slice of the
outcomes. Those are the outcomes the requests would have had one after another, in the order
they arrived: an id sent by two requests is accepted for the first and a duplicate (or a
conflict) for the second. Each request still has its answer only once its events are committed.

If a group's append fails, each request of the group is appended alone, so one request's
failure is never another's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from makegood.service_layer.engine import ACCEPTED, CONFLICT, DUPLICATE, Engine, IngestReport
from makegood.service_layer.ports import Store, StoreSession

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Waiting:
    raws: Sequence[object]
    source: str
    answer: Future[IngestReport]


class GroupAppend:
    """Appends for many threads (or an event loop) through one thread, `run`."""

    def __init__(self, engine: Engine, max_events: int | None = None) -> None:
        self.engine = engine
        # at most one append transaction per group (`Engine.ingest` splits by its batch size)
        self.max_events = max(1, min(max_events or engine.batch_size, engine.batch_size))
        self._waiting: deque[_Waiting] = deque()
        self._ready = threading.Condition()
        self.groups = 0  # appends made, for a look at how much was grouped
        self.turns = WriteTurns(lambda: bool(self._waiting))

    def submit(self, raws: Sequence[object], source: str = "api") -> Future[IngestReport]:
        """Queue raw events; the future answers as `Engine.ingest` would for them alone."""
        answer: Future[IngestReport] = Future()
        with self._ready:
            self._waiting.append(_Waiting(raws, source, answer))
            self._ready.notify()
        return answer

    def ingest(self, raws: Sequence[object], source: str = "api") -> IngestReport:
        """`submit` and wait for the answer (from a thread that is not `run`'s)."""
        return self.submit(raws, source).result()

    def run(self, stop: threading.Event) -> None:
        """Append what is waiting, group by group, until `stop` is set and nothing waits."""
        self.turns.urgent_here()
        while (group := self._take(stop)) is not None:
            self._append(group)

    def _take(self, stop: threading.Event) -> list[_Waiting] | None:
        with self._ready:
            while True:
                while self._waiting:
                    first = self._waiting.popleft()
                    if first.answer.set_running_or_notify_cancel():  # else its sender left
                        return self._more(first)
                if stop.is_set():
                    return None
                self._ready.wait(0.05)

    def _more(self, first: _Waiting) -> list[_Waiting]:
        """`first` and those after it with the same source, while they fit in one append."""
        group, size = [first], len(first.raws)
        while self._waiting:
            following = self._waiting[0]
            if following.source != first.source or size + len(following.raws) > self.max_events:
                break
            self._waiting.popleft()
            if following.answer.set_running_or_notify_cancel():
                group.append(following)
                size += len(following.raws)
        return group

    def _append(self, group: list[_Waiting]) -> None:
        raws = [raw for waiting in group for raw in waiting.raws]
        try:
            report = self.engine.ingest(raws, source=group[0].source)
        except Exception as error:
            if len(group) == 1:
                group[0].answer.set_exception(error)
                return
            # nothing of the group was committed (one transaction): each request on its own
            log.warning(
                "a group of %d appends failed (%s); appending each alone", len(group), error
            )
            for waiting in group:
                self._append([waiting])
            return
        self.groups += 1
        start = 0
        for waiting in group:
            end = start + len(waiting.raws)
            waiting.answer.set_result(part_of(report, start, end))
            start = end


def part_of(report: IngestReport, start: int, end: int) -> IngestReport:
    """What `report` (of a group's inputs) says of the inputs `start` to `end`, indexed from 0."""
    outcomes = report.outcomes[start:end]
    part = IngestReport(outcomes=outcomes)
    part.accepted = outcomes.count(ACCEPTED)
    part.duplicates = outcomes.count(DUPLICATE)
    part.conflicts = outcomes.count(CONFLICT)
    part.rejected = [(i - start, why) for i, why in report.rejected if start <= i < end]
    return part


class WriteTurns:
    """Turns at the store's one writer among this process's threads, appends first.

    Without it the appender and the engine meet in SQLite's busy handler, which polls with
    growing sleeps (1, 2, 5, 10 … 100 ms), so an append waits for the engine's write and then
    for a sleep besides. Here a thread waits on a condition and takes its turn the moment the
    other gives it back. The appender's turns come first (`urgent`); the engine's writes
    (`patient`) wait while requests are queued for the appender, but not longer than
    `patience` seconds, so the engine is never starved. Turns are reentrant per thread."""

    def __init__(self, waiting: Callable[[], bool], patience: float = 0.05) -> None:
        self.waiting = waiting  # whether requests are queued for the appender
        self.patience = patience
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._urgent = 0  # urgent turns waiting
        self._local = threading.local()

    def urgent_here(self) -> None:
        """Every turn taken by the calling thread from now on is urgent (the appender's)."""
        self._local.urgent = True

    def turn(self) -> AbstractContextManager[None]:
        """A turn, urgent on a thread marked so, patient elsewhere."""
        return self.urgent() if getattr(self._local, "urgent", False) else self.patient()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            self._urgent += 1
            try:
                while self._owner not in (None, me):
                    self._cond.wait()
            finally:
                self._urgent -= 1
            self._take(me)
        try:
            yield
        finally:
            self._give_back()

    @contextmanager
    def patient(self) -> Iterator[None]:
        me = threading.get_ident()
        deadline = time.monotonic() + self.patience
        with self._cond:
            while self._owner not in (None, me) or (
                self._owner is None
                and (self._urgent or self.waiting())
                and (left := deadline - time.monotonic()) > 0
            ):
                self._cond.wait(None if self._owner not in (None, me) else min(left, 0.005))
            self._take(me)
        try:
            yield
        finally:
            self._give_back()

    def _take(self, me: int) -> None:
        self._owner = me
        self._depth += 1

    def _give_back(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()


class TakingTurns:
    """A `Store` whose write transactions take turns (`WriteTurns`): the engine's in `serve`,
    whose appends are made by the appender's thread (urgent) and its batches by the engine
    loop's (patient). Reads are the store's own and take no turn."""

    def __init__(self, store: Store, turns: WriteTurns) -> None:
        self.store = store
        self.turns = turns

    @contextmanager
    def session(self) -> Iterator[StoreSession]:
        with self.turns.turn(), self.store.session() as session:
            yield session

    def reader(self) -> AbstractContextManager[StoreSession]:
        return self.store.reader()

    def profile_locales(self, customer_ids: Collection[str]) -> dict[str, str]:
        return self.store.profile_locales(customer_ids)
