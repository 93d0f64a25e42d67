"""The owner's timers in memory (issue 12): loaded from the store once, armed, fired and
cancelled in memory, written behind.

The heap holds every armed timer of the partitions it has loaded, as the store holds them plus
what batches since the last flush changed. A flush writes only what it must: a timer still armed
that is not stored as it is now, and the deletion of one that was stored (a timer armed and
fired or cancelled between two flushes is never written). A partition whose version moved under
the engine (a person's action armed or cancelled a timer) is loaded again.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime

from makegood.domain.model import Timer
from makegood.domain.partition import partition_of
from makegood.domain.world import Changes
from makegood.service_layer.ports import StoreSession

FOREVER = datetime.max.replace(tzinfo=UTC)


class TimerHeap:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.armed: dict[str, Timer] = {}  # key -> the timer armed under it
        self.stored: set[str] = set()  # keys with a row in the store
        self.versions: dict[int, int] = {}  # partition -> the version its timers are loaded at
        self._heap: list[tuple[datetime, str, int, Timer]] = []  # lazily pruned
        self._order = itertools.count()

    def load(
        self, session: StoreSession, versions: Mapping[int, int], keep: Collection[int]
    ) -> None:
        """Bring the timers of every partition whose version is not the one loaded, except
        those in `keep` (changed by batches not yet written: a flush will find them moved)."""
        moved = {p for p, v in versions.items() if self.versions.get(p) != v and p not in keep}
        if not moved:
            return
        everything = len(moved) == self.partitions and not self.armed
        for key in [k for k, t in self.armed.items() if self._of(t) in moved]:
            del self.armed[key]
            self.stored.discard(key)
        for timer in session.due_timers(FOREVER, limit=2**62):
            if everything or self._of(timer) in moved:
                self.armed[timer.key] = timer
                self.stored.add(timer.key)
                self._push(timer)
        for p in moved:
            self.versions[p] = versions[p]

    def due(self, until: datetime) -> list[Timer]:
        """The timers due by `until`, in due order, taken off the heap (the batch fires them)."""
        heap, armed = self._heap, self.armed
        found: list[Timer] = []
        while heap and heap[0][0] <= until:
            timer = heapq.heappop(heap)[3]
            if armed.get(timer.key) is timer:
                found.append(timer)
        return found

    def next_due(self) -> datetime | None:
        heap, armed = self._heap, self.armed
        while heap and armed.get(heap[0][1]) is not heap[0][3]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def decided(self, changes: Changes, armed: Iterable[Timer], done: Iterable[str]) -> None:
        """A batch armed these timers and fired or cancelled these keys; `changes` (what the
        batches since the last flush changed) tells which is armed under each key now."""
        now_armed = changes.timers
        for key in done:
            if key not in now_armed:
                self.armed.pop(key, None)
        for timer in armed:
            if now_armed.get(timer.key) is timer and self.armed.get(timer.key) is not timer:
                self.armed[timer.key] = timer
                self._push(timer)

    def written_by(self, changes: Changes) -> None:
        """Before a flush: the deletions it needs are those of stored timers only."""
        changes.timers_done &= self.stored

    def flushed(self, changes: Changes) -> None:
        """After a flush wrote `changes`: what the store holds now."""
        self.stored -= changes.timers_done
        self.stored |= changes.timers.keys()

    def settle(self, versions: Mapping[int, int]) -> None:
        """The versions a flush left the partitions it wrote at (what is loaded is current)."""
        for p, version in versions.items():
            if p in self.versions:
                self.versions[p] = version

    def _push(self, timer: Timer) -> None:
        heapq.heappush(self._heap, (timer.due_at, timer.key, next(self._order), timer))

    def _of(self, timer: Timer) -> int:
        return partition_of(timer.customer_id, self.partitions)
