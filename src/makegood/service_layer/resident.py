"""The state the engine keeps in memory between batches: a `World` of the customers it has
seen, checked per partition against the versions it last wrote or read, the coldest forgotten
beyond a budget of estimated size (and a count)."""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Collection
from datetime import date

from makegood.domain.partition import partition_of, partitions_of
from makegood.domain.world import Snapshot, World
from makegood.service_layer.ports import StoreSession
from makegood.service_layer.timer_heap import TimerHeap

# customers whose state the engine keeps in memory between batches, at most: a backstop, the
# budget of estimated size below is the bound (100,000 made 2M demo events reload customers)
RESIDENT = 1_000_000
# the estimated size of the kept state (timers included) the engine evicts cold customers at:
# with SQLite's caches and the interpreter, a process of about 1 GiB at 2M demo events
RESIDENT_MIB = 384.0
# the estimated bytes of each kept object, with what it holds (its strings, dicts, datetimes):
# a deep `sys.getsizeof` of a sample of each kind after 500k demo events (bench/resident.py)
BYTES = {
    "customers": 620,
    "subjects": 1_350,
    "cases": 900,
    "failures": 1_900,
    "compensations": 1_000,
    "messages_per_day": 250,
    "message_keys": 230,  # a customer's set of keys
    "timers": 950,  # armed, in the heap: never evicted, but they take from the budget
}
KEY_BYTES = 110  # one message key in that set
# what closes a subject: over the budget, closed subjects no case names are forgotten first
CLOSING = frozenset({"order.delivered", "order.cancelled"})
LOW_WATER = 0.8  # evicting, go down to this share of the budget: not an eviction every flush


class Resident:
    """The state the engine keeps between batches: a `World` of the customers it has seen,
    valid while the versions of their partitions are the ones it last wrote or read (another
    writer, a person's action or another process, moves a version and the engine reloads that
    partition's customers). What batches decided and no flush has written yet stays in it
    (written behind); a batch or a flush that fails drops it all.
    """

    def __init__(
        self,
        partitions: int,
        limit: int,
        owned: Collection[int] | None = None,
        budget_mib: float = RESIDENT_MIB,
    ) -> None:
        self.world = World(Snapshot())
        self.partitions = partitions
        self.limit = limit
        self.budget = budget_mib * 2**20  # bytes of estimated size
        self.versions: dict[int, int] = {}  # partition -> version this state matches
        self.customers: OrderedDict[str, None] = OrderedDict()  # least recently used first
        self.subjects: set[str] = set()  # subjects whose failures are all in memory
        self.locked: set[int] = set()  # partitions this batch decides for
        self.seen: dict[int, int] = {}  # every partition's version, read as the batch began
        self.timers = TimerHeap(partitions)  # every armed timer, in due order
        self.owned = owned  # the partitions whose timers it holds (None: every one)
        self.trimmed: date | None = None  # the day the kept history was last bounded

    def begin(self, session: StoreSession) -> None:
        """A batch starts: the versions of every partition, read before anything else. The
        partitions claimed since the last flush stay claimed: their versions are checked when
        the flush writes them."""
        self.seen = session.lock_partitions(range(self.partitions))
        owned = self.owned
        held = self.seen if owned is None else {p: self.seen[p] for p in owned if p in self.seen}
        self.timers.load(session, held, self.locked)

    def claim(self, customer_ids: Collection[str]) -> None:
        """The batch decides for these customers: forget what changed under us."""
        wanted = partitions_of(customer_ids, self.partitions) - self.locked
        if not wanted:
            return
        self.locked |= wanted
        stale = {p for p in wanted if self.versions.get(p) != self.seen.get(p)}
        if stale:
            self.evict([c for c in self.customers if partition_of(c, self.partitions) in stale])
        for p in wanted:
            self.versions[p] = self.seen.get(p, -1)

    def read_versions(self) -> dict[int, int]:
        """The versions the batches since the last flush decided on, of the partitions they
        decided for."""
        return {p: self.versions[p] for p in self.locked}

    def touch(self, customer_ids: Collection[str]) -> None:
        """These customers were used last (least recently used evicted first)."""
        for customer_id in sorted(customer_ids):  # sorted: the same evictions in every run
            self.customers[customer_id] = None
            self.customers.move_to_end(customer_id)

    def evict(self, customer_ids: Collection[str]) -> None:
        self.subjects -= self.world.evict(customer_ids)
        for customer_id in customer_ids:
            self.customers.pop(customer_id, None)

    def settle(self, session: StoreSession, customer_ids: Collection[str]) -> None:
        """After a flush's writes, in its transaction: the versions it now matches, the
        customers it holds, the coldest forgotten beyond the limit (only now: a customer with
        changes not yet written is never forgotten)."""
        written = session.lock_partitions(self.locked)
        self.versions.update(written)
        self.timers.settle(written)
        self.locked = set()
        self.touch(customer_ids)
        extra = len(self.customers) - self.limit
        if extra > 0:
            self.evict(list(itertools.islice(self.customers, extra)))
        self.bound()

    def size(self) -> int:
        """The estimated bytes of the kept state: its objects counted, each at its kind's
        measured size (`BYTES`)."""
        return self._customers_size() + self._timers_size()

    def _customers_size(self) -> int:
        s = self.world.s
        keys = sum(map(len, s.message_keys.values()))
        return (
            len(s.customers) * BYTES["customers"]
            + len(s.subjects) * BYTES["subjects"]
            + len(s.cases) * BYTES["cases"]
            + len(s.failures) * BYTES["failures"]
            + len(s.compensations) * BYTES["compensations"]
            + len(s.messages_per_day) * BYTES["messages_per_day"]
            + len(s.message_keys) * BYTES["message_keys"]
            + keys * KEY_BYTES
        )

    def _timers_size(self) -> int:
        return len(self.timers.armed) * BYTES["timers"]

    def bound(self) -> None:
        """Over the budget: the closed subjects no case names forgotten (`World.shed`); still
        over it, the coldest customers forgotten until the estimate is under `LOW_WATER` of
        it (each at the average size of a kept customer, measured again after each round).
        The armed timers take from the budget but are never forgotten: the customers keep at
        least a quarter of it, not an eviction of everyone at every flush. Only with nothing
        pending: a forgotten customer is loaded whole again."""
        room = max(self.budget - self._timers_size(), self.budget / 4)
        size = self._customers_size()
        if size > room:
            self.subjects -= self.world.shed(CLOSING)
            size = self._customers_size()
        while size > room and self.customers:
            per = size / len(self.customers)
            extra = min(len(self.customers), math.ceil((size - LOW_WATER * room) / per))
            self.evict(list(itertools.islice(self.customers, max(extra, 1))))
            size = self._customers_size()
