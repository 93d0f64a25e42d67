"""The engine on the real clock: act on the log as it grows, fire timers the moment they come due.

`EngineLoop.run` sleeps until the next timer is due or something is appended to the log (never
longer than `max_sleep`, so timers armed and events appended by other processes are seen soon)
and then ticks. Stopping is cooperative: set the event;
the current batch finishes and commits, so nothing is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from makegood.service_layer.engine import Engine, IngestReport

log = logging.getLogger(__name__)


class EngineLoop:
    def __init__(
        self,
        engine: Engine,
        max_sleep: float = 0.25,
        on_tick: Callable[[IngestReport], None] | None = None,
    ) -> None:
        self.engine = engine
        self.max_sleep = max_sleep
        self.on_tick = on_tick

    def seconds_to_next_timer(self) -> float:
        with self.engine.store.reader() as session:  # a read: no write lock, no turn
            due = session.next_timer_due()
        if due is None:
            return self.max_sleep
        wait = (due - self.engine.clock.now()).total_seconds()
        return min(max(wait, 0.0), self.max_sleep)

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: act on the log and fire what is due, then sleep until the next timer
        or until something is appended, whichever comes first."""
        while not stop.is_set():
            try:
                self.engine.appended.clear()  # an append from now on wakes the next round
                report = self.engine.tick()
                if self.on_tick is not None:
                    self.on_tick(report)
                wait = self.seconds_to_next_timer()
            except Exception:  # one bad batch must not stop the engine; it is retried
                log.exception("engine tick failed; retrying")
                wait = self.max_sleep
            deadline = time.monotonic() + wait
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if self.engine.appended.wait(min(left, 0.05)):
                    break
