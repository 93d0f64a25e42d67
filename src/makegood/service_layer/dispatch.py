"""The dispatcher: drains the outbox through the channels, with retries and dead letters.

Delivery is at least once: a dispatcher that crashes after a channel accepted a message but
before `mark_sent` leaves the claim to expire, and the message is sent again with the same
idempotency key, which every channel hands to its provider so the provider can drop the copy.
The window is one message wide: each is marked sent in its own short transaction right after
the channel accepted it. A claim is a lease of seconds (``lease``), renewed while the claimed
messages are being sent, so a killed dispatcher's messages go out again soon after.

Outcomes of one try:

- sent: the channel answered ``Delivery(ok=True)``;
- retried: a temporary failure (the channel said so, or raised) before ``max_attempts``; the next
  try waits a delay drawn uniformly from ``[0, min(max_delay, base_delay * 2 ** (attempt - 1))]``
  ("full jitter", so many failed messages do not come back at the same instant);
- dead: a permanent failure (the channel said so, the template did not render, the channel is
  unknown) or the ``max_attempts``-th temporary failure.

The store counts attempts: ``OutboxMessage.attempts`` is the number of finished tries before
this claim (`mark_sent` and `mark_failed` each count one).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from makegood.domain.message import Delivery, OutboxMessage
from makegood.service_layer.ports import Channel, Clock, OutboxStore, Renderer

log = logging.getLogger(__name__)

_MAX_ERROR = 500


@dataclass(slots=True)
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0


class Dispatcher:
    def __init__(
        self,
        store: OutboxStore,
        renderer: Renderer,
        channels: Mapping[str, Channel],
        clock: Clock,
        max_attempts: int = 8,
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(hours=1),
        lease: timedelta = timedelta(seconds=30),
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if base_delay <= timedelta(0) or max_delay < base_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        if lease <= timedelta(0):
            raise ValueError("lease must be positive")
        self.store = store
        self.renderer = renderer
        self.channels = dict(channels)
        self.clock = clock
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        # Jitter is not a secret: a seeded PRNG keeps tests reproducible.
        self.rng = rng if rng is not None else random.Random()  # noqa: S311

    def dispatch_once(self, limit: int = 100, stop: threading.Event | None = None) -> DispatchStats:
        """Claim up to `limit` due messages and try each once. Store errors propagate.
        Once `stop` is set, the messages not yet tried are released (due again at once)."""
        now = self.clock.now()
        stats = DispatchStats()
        lease_until = now + self.lease
        claimed = list(self.store.claim(now, lease_until, limit))
        held = {m.id for m in claimed}
        for index, message in enumerate(claimed):
            rest = [m.id for m in claimed[index:] if m.id in held]
            if stop is not None and stop.is_set():
                self.store.renew(rest, lease_until, self.clock.now())  # due again at once
                break
            lease_until, held = self._renew(rest, lease_until, held)
            if message.id not in held:  # the lease ran out and another dispatcher has it
                continue
            stats.claimed += 1
            outcome = self._try(message)
            if outcome == "sent":
                stats.sent += 1
            elif outcome == "retried":
                stats.retried += 1
            else:
                stats.dead += 1
        return stats

    def run(self, stop: threading.Event, idle_sleep: float = 0.2) -> None:
        """Dispatch until `stop` is set; waits `idle_sleep` seconds when there was nothing to do
        and five times as long after a store error (logged, never raised)."""
        while not stop.is_set():
            try:
                stats = self.dispatch_once(stop=stop)
            except Exception:
                # A store outage must not kill the worker; claims expire and are retried.
                log.exception("outbox dispatch failed; retrying")
                stop.wait(idle_sleep * 5)
                continue
            if stats.claimed == 0:
                stop.wait(idle_sleep)

    def _renew(
        self, rest: list[str], lease_until: datetime, held: set[str]
    ) -> tuple[datetime, set[str]]:
        """Extend the lease on the messages not yet tried once half of it has passed; which
        of them this claim still holds (after a send slower than the lease, another
        dispatcher may have claimed some: they are its to send, never sent twice here)."""
        now = self.clock.now()
        if lease_until - now > self.lease / 2:
            return lease_until, held
        return now + self.lease, self.store.renew(rest, lease_until, now + self.lease)

    def backoff(self, attempt: int) -> timedelta:
        """The delay before try `attempt + 1`, after `attempt` (1-based) failed tries."""
        exponential = self.base_delay.total_seconds() * 2.0 ** min(max(attempt - 1, 0), 60)
        cap = min(self.max_delay.total_seconds(), exponential)
        return timedelta(seconds=cap * self.rng.random())

    def _try(self, message: OutboxMessage) -> str:
        channel = self.channels.get(message.channel)
        if channel is None:
            return self._fail(message, f"unknown channel {message.channel!r}", permanent=True)
        try:
            rendered = self.renderer.render(message)
        except Exception as exc:
            # A template that does not render today will not render tomorrow.
            return self._fail(message, f"render failed: {exc}", permanent=True)
        try:
            delivery = channel.send(rendered)
        except Exception as exc:
            log.warning(
                "channel %s raised %s for message %s",
                message.channel,
                type(exc).__name__,
                message.id,
            )
            delivery = Delivery(ok=False, detail=f"channel raised {type(exc).__name__}: {exc}")
        if delivery.ok:
            self.store.mark_sent(message.id, self.clock.now(), delivery.detail[:_MAX_ERROR])
            return "sent"
        return self._fail(message, delivery.detail or "delivery failed", delivery.permanent)

    def _fail(self, message: OutboxMessage, error: str, permanent: bool) -> str:
        at = self.clock.now()
        attempt = message.attempts + 1
        retry_at: datetime | None = None
        if not permanent and attempt < self.max_attempts:
            retry_at = at + self.backoff(attempt)
        elif not permanent:
            error = f"gave up after {attempt} attempts: {error}"
        self.store.mark_failed(message.id, at, error[:_MAX_ERROR], retry_at)
        log.info(
            "message %s via %s failed (attempt %d, %s)",
            message.id,
            message.channel,
            attempt,
            "retrying" if retry_at else "dead",
        )
        return "retried" if retry_at else "dead"
