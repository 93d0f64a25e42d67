"""A worker (issue 13): owns a fair share of the partitions through leases, takes their events
from a bus into the log, and acts on the log of the partitions it owns.

One thread acts (the engine is CPU-bound Python: a thread per partition would give no
parallelism under the GIL and would split the state kept in memory; a machine runs one worker
per core instead). A second thread only renews the leases, so a long batch never lets them
lapse, and takes free partitions (a dead worker's) at once; giving partitions back happens on
the acting thread, between batches, so the engine never acts on a partition it gave back, and
what was taken is acted on from the next step.

The order of one step: fetch from the bus → append to the log (one transaction) → acknowledge
the messages → act on the owned partitions' log (a transaction per batch, fenced: a lease lost
meanwhile raises `Fenced`, nothing of the batch is written, the worker drops its kept state and
its leases and joins again). A message is acknowledged only once its event is in the log; an
event in the log is acted on by whoever owns its partition, from the place committed with the
partition's state: nothing is lost, nothing is acted on twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from makegood.domain.errors import Fenced
from makegood.service_layer.actions import Actions
from makegood.service_layer.commands import perform
from makegood.service_layer.engine import Engine
from makegood.service_layer.observer import BatchFigures, EngineObserver
from makegood.service_layer.ports import Clock

log = logging.getLogger(__name__)


class Leases(Protocol):
    def balance(
        self, held: dict[int, int], now: datetime, stopping: bool = False, give: bool = True
    ) -> dict[int, int]: ...

    def renew(self, held: dict[int, int], now: datetime) -> dict[int, int]: ...


class Delivered(Protocol):
    @property
    def raw(self) -> object: ...

    @property
    def command(self) -> bool:
        """A person's action (`service_layer.commands`), not an event."""
        ...


class Bus(Protocol):
    def assign(self, partitions: Sequence[int]) -> None: ...

    def fetch(self, limit: int, timeout: float) -> Sequence[Delivered]: ...

    def ack(self, deliveries: Sequence[Any]) -> None:
        """Once their events are in the log (what `fetch` answered)."""
        ...

    def answer(self, delivery: Any, body: object) -> None:
        """A command's outcome, to whoever waits for it."""
        ...


@dataclass
class Figures:
    """What a worker reports (`/metrics`)."""

    appended: int = 0  # events taken from the bus into the log
    duplicates: int = 0
    failures: int = 0  # failures recorded
    batches: int = 0
    batch_seconds: float = 0.0  # the last batch's time
    renewals: int = 0
    taken: int = 0  # partitions taken over
    given: int = 0  # partitions given back or lost
    fenced: int = 0
    errors: int = 0
    commands: int = 0  # people's actions applied (or refused) for the API
    stepped_at: float = field(default_factory=time.monotonic)  # liveness
    held: dict[int, int] = field(default_factory=dict)  # partition -> epoch


class Worker:
    def __init__(
        self,
        engine: Engine,
        leases: Leases,
        bus: Bus | None,
        clock: Clock,
        *,
        fence: Callable[[dict[int, int]], None],
        lease: timedelta,
        batch: int = 2000,
        poll: float = 0.1,
        tick: bool = False,
        actions: Callable[[str | None], Actions] | None = None,
    ) -> None:
        self.engine, self.leases, self.bus, self.clock = engine, leases, bus, clock
        self.fence, self.lease, self.batch, self.poll = fence, lease, batch, poll
        self.tick = tick  # wall time: fire due timers every step
        self.actions = actions  # for a request id: what applies commands (None: dropped)
        self.figures = Figures()
        self._held: dict[int, int] = {}
        self._applied: dict[int, int] | None = None  # what the engine and the bus act on
        self._lock = threading.Lock()  # the leases held: the acting and renewing threads
        self._balanced = 0.0
        engine.acts_on_append = False  # the worker acts itself, after acknowledging
        engine.observer = _Counting(engine.observer, self.figures)

    # the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set (SIGTERM): then stop fetching, give back what was fetched and
        not appended, and release every lease (a graceful drain: nothing is left half done,
        the next owners start at once instead of after the lease runs out)."""
        renewer = threading.Thread(target=self._renew, args=(stop,), name="leases", daemon=True)
        renewer.start()
        try:
            while not stop.is_set():
                self.step()
        finally:
            stop.set()
            renewer.join()
            self._leave()

    def step(self) -> None:
        try:
            if time.monotonic() - self._balanced >= self.lease.total_seconds() / 3:
                self._balance()
            self._apply()
            if self.bus is not None:
                self._take_in(self.bus)
            # a few batches a step: between them the worker follows its leases
            self.engine.drain(batches=4)
            if self.tick:
                self.engine.tick()
        except Fenced as error:
            log.warning("fenced: %s; dropping kept state and leases", error)
            self.figures.fenced += 1
            with self._lock:
                self.figures.given += len(self._held)
                self._held = {}
            self._apply()
            self._balanced = 0.0  # join again at once
        except Exception:  # the database or the bus failed this step (the engine dropped
            # what it kept of a failed batch): nothing was acknowledged that is not in the log
            log.exception("step failed; trying again")
            self.figures.errors += 1
            time.sleep(self.poll)
        self.figures.stepped_at = time.monotonic()

    def _take_in(self, bus: Bus) -> None:
        """The fetched messages in stream order: runs of events appended, each command
        applied after the events before it were appended and acted on."""
        events: list[Delivered] = []
        for delivery in bus.fetch(self.batch, self.poll):
            if not delivery.command:
                events.append(delivery)
                continue
            self._append(bus, events)
            events = []
            self._command(bus, delivery)
        self._append(bus, events)

    def _append(self, bus: Bus, deliveries: Sequence[Delivered]) -> None:
        if not deliveries:
            return
        report = self.engine.ingest([d.raw for d in deliveries], source="nats")
        bus.ack(deliveries)  # the append committed (or refused them into the quarantine)
        self.figures.appended += report.accepted
        self.figures.duplicates += report.duplicates

    def _command(self, bus: Bus, delivery: Delivered) -> None:
        # in order with the events: what was published before it is decided first. Fenced
        # (raised by the command's commit) leaves it unacknowledged, for the next owner
        self.engine.drain()
        answer = None
        if self.actions is not None:
            answer = perform(self.actions, delivery.raw, time.time())
        bus.ack([delivery])
        self.figures.commands += 1
        if answer is not None:
            bus.answer(delivery, answer)

    # leases -------------------------------------------------------------------------------
    def _balance(self) -> None:
        with self._lock:
            before = set(self._held)
            self._held = self.leases.balance(self._held, self.clock.now())
            self.figures.taken += len(set(self._held) - before)
            self.figures.given += len(before - set(self._held))
        self._balanced = time.monotonic()

    def _apply(self) -> None:
        """Make the engine, the fence and the bus follow the leases held (between batches)."""
        with self._lock:
            held = dict(self._held)
        if held == self._applied:
            return
        if self._applied is not None and set(held) != set(self._applied):
            log.info("partitions now %s", sorted(held))
        self.fence(held)
        self.engine.own(held)
        if self.bus is not None:
            self.bus.assign(sorted(held))
        self._applied = held
        self.figures.held = held

    def _renew(self, stop: threading.Event) -> None:
        period = self.lease.total_seconds() / 3
        while not stop.wait(period):
            try:
                with self._lock:
                    # renew, and take what is free (a dead worker's partitions) at once;
                    # giving back waits for the acting thread (`_balance`)
                    kept = self.leases.balance(self._held, self.clock.now(), give=False)
                    lost = set(self._held) - set(kept)
                    self.figures.taken += len(set(kept) - set(self._held))
                    self._held = kept
                self.figures.renewals += 1
                if lost:  # the acting thread follows at its next step; the fence holds meanwhile
                    log.warning("leases lost: %s", sorted(lost))
                    self.figures.given += len(lost)
            except Exception:  # a database hiccup: the next renewal tries again
                log.exception("lease renewal failed")

    def _leave(self) -> None:
        try:
            with self._lock:
                self._held = self.leases.balance(self._held, self.clock.now(), stopping=True)
            self._apply()
        except Exception:  # leaving: what is not released runs out with its lease
            log.exception("releasing leases failed")


class _Counting:
    """The engine's observer, counting batches for the worker's figures first."""

    def __init__(self, inner: EngineObserver, figures: Figures) -> None:
        self.inner, self.figures = inner, figures

    def batch_done(self, seconds: float, figures: BatchFigures) -> None:
        self.figures.batches += 1
        self.figures.batch_seconds = seconds
        self.figures.failures += figures.failures
        self.inner.batch_done(seconds, figures)
