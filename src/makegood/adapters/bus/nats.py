"""NATS JetStream as the way in for workers (issue 13): one stream, one subject per partition
(``<prefix>.<p>``), the event id as ``Nats-Msg-Id`` (the stream drops a second publish of an id
within its duplicate window), one durable pull consumer per partition (its acknowledgements
stay with the partition when the partition changes hands).

nats-py is asyncio only; the worker and the engine are plain blocking code (the engine is
CPU-bound Python, one thread acts on a worker's partitions). So this adapter runs one event
loop on a thread of its own and offers a blocking interface: the asyncio stays here, and the
service layer keeps one I/O style.

A worker's batch is its partitions' messages merged in stream order (`fetch`): each
partition's consumer hands its messages in order, and a message is handed over only once every
partition that may still hold an earlier one has been read past it, so one worker owning every
partition appends the events in the order they were published.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from makegood.adapters.json_input import BadJson, read_json
from makegood.domain.partition import partition_of

T = TypeVar("T")
STREAM = "MAKEGOOD"
PREFIX = "makegood.events"


@dataclass(frozen=True)
class Delivery:
    """One message taken from a partition's consumer, acknowledged once appended."""

    partition: int
    seq: int  # the stream's sequence
    raw: object  # the decoded event (or the text that did not decode: the engine refuses it)
    msg: Msg
    command: bool = False  # a person's action for the partition's owner (`raw` its body)
    reply: str | None = None  # where its outcome is awaited


COMMAND = "Makegood-Command"  # header: the message is a command, its value the reply subject


def subject_of(prefix: str, partition: int) -> str:
    return f"{prefix}.{partition}"


class NatsBus:
    def __init__(
        self,
        url: str,
        *,
        stream: str = STREAM,
        prefix: str = PREFIX,
        partitions: int = 32,
        ack_wait: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        self.url, self.stream, self.prefix = url, stream, prefix
        self.partitions, self.ack_wait, self.timeout = partitions, ack_wait, timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._js: JetStreamContext | None = None
        self._subs: dict[int, JetStreamContext.PullSubscription] = {}
        self._held: dict[int, list[Delivery]] = {}  # fetched, not yet handed over
        self._ready: dict[int, float] = {}  # partition -> when its consumer may be read
        self._received: dict[int, int] = {}  # partition -> last consumer sequence received
        self._run(self._connect())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result()

    async def _connect(self) -> None:
        self._nc = await nats.connect(self.url, connect_timeout=self.timeout)
        self._js = self._nc.jetstream(timeout=self.timeout)
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(StreamConfig(name=self.stream, subjects=[f"{self.prefix}.>"]))

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("not connected")
        return self._js

    # producers ------------------------------------------------------------------------------
    def publish(self, raws: Sequence[Mapping[str, Any] | object]) -> list[int]:
        """Publish events to their partitions' subjects; answers once the stream has every one
        (its PubAck: the stream sequence, or that of the earlier publish of the same id)."""
        return [seq for seq, _ in self._run(self._publish(raws))]

    def publish_acks(self, raws: Sequence[object]) -> list[tuple[int, bool]]:
        """As `publish`, each answered (stream sequence, duplicate): a duplicate is an id the
        stream had within its duplicate window."""
        return self._run(self._publish(raws))

    async def _publish(self, raws: Sequence[Mapping[str, Any] | object]) -> list[tuple[int, bool]]:
        js = self._jetstream()
        futures = []
        for raw in raws:
            customer = raw.get("customer_id") if isinstance(raw, Mapping) else None
            event_id = raw.get("id") if isinstance(raw, Mapping) else None
            partition = partition_of(customer if isinstance(customer, str) else "", self.partitions)
            headers = {"Nats-Msg-Id": str(event_id)} if event_id is not None else None
            futures.append(
                await js.publish_async(
                    subject_of(self.prefix, partition),
                    json.dumps(raw, default=str).encode(),
                    headers=headers,
                )
            )
        acks = await asyncio.gather(*futures)
        return [(int(ack.seq), bool(ack.duplicate)) for ack in acks]

    # commands -------------------------------------------------------------------------------
    def command(self, customer_id: str, body: Mapping[str, Any], wait: float) -> object | None:
        """Publish a command on the customer's partition subject (in turn with its events) and
        wait up to `wait` seconds for its owner's answer (decoded JSON); None if none came."""
        return self._run(self._command(customer_id, body, wait))

    async def _command(
        self, customer_id: str, body: Mapping[str, Any], wait: float
    ) -> object | None:
        nc = self._nc
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, max_msgs=1)
        try:
            subject = subject_of(self.prefix, partition_of(customer_id, self.partitions))
            headers = {COMMAND: inbox, "Nats-Msg-Id": str(body["id"])}
            await self._jetstream().publish(
                subject, json.dumps(body).encode(), headers=headers, timeout=wait
            )
            msg = await sub.next_msg(timeout=wait)
        except (TimeoutError, nats.errors.TimeoutError):
            return None
        finally:
            await sub.unsubscribe()
        answer: object = json.loads(msg.data)
        return answer

    def answer(self, delivery: Delivery, body: object) -> None:
        """A command's outcome, to whoever waits for it (no one, if it gave up)."""
        if delivery.reply:
            self._run(self._answer(delivery.reply, json.dumps(body, default=str).encode()))

    async def _answer(self, subject: str, data: bytes) -> None:
        await self._nc.publish(subject, data)
        await self._nc.flush()

    # consumers ------------------------------------------------------------------------------
    def assign(self, partitions: Iterable[int]) -> None:
        """Consume these partitions from now on; what was fetched of the others and not handed
        over goes back to the stream at once (nak), for their next owner."""
        self._run(self._assign(set(partitions)))

    async def _assign(self, wanted: set[int]) -> None:
        js = self._jetstream()
        for p in sorted(set(self._subs) - wanted):
            for delivery in self._held.pop(p, []):
                await delivery.msg.nak()
            await self._subs.pop(p).unsubscribe()
            self._ready.pop(p, None)
            self._received.pop(p, None)
        for p in sorted(wanted - set(self._subs)):
            self._subs[p] = await js.pull_subscribe(
                subject_of(self.prefix, p),
                durable=f"{self.stream}_p{p}",
                stream=self.stream,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=self.ack_wait,
                    max_ack_pending=100_000,
                ),
            )
            self._held[p] = []
            # what a previous owner was handed and never acknowledged (it died) comes back
            # after ack_wait, and comes first then: reading before would put later messages
            # ahead of those in the log (of this partition, and of the others in event time)
            info = await self._subs[p].consumer_info()
            # what the consumer delivered before is a previous subscriber's, never ours
            self._received[p] = int(info.delivered.consumer_seq or 0) if info.delivered else 0
            later = self.ack_wait * 1.2 if info.num_ack_pending else 0.0
            self._ready[p] = asyncio.get_running_loop().time() + later

    def fetch(self, limit: int, timeout: float) -> list[Delivery]:
        """Up to `limit` messages of the assigned partitions, in stream order (see the module's
        docstring). A partition whose earlier messages are still with a previous owner (not
        acknowledged: it died, or is being fenced) is not read until they come back."""
        return self._run(self._fetch(limit, timeout))

    async def _fetch(self, limit: int, timeout: float) -> list[Delivery]:
        if not self._subs:
            await asyncio.sleep(timeout)
            return []
        each = max(1, limit // len(self._subs))
        now = asyncio.get_running_loop().time()
        waiting = {p for p in self._subs if self._ready.get(p, 0.0) > now}
        wanting = [p for p in self._subs if len(self._held[p]) < each and p not in waiting]
        if waiting:  # nothing of the others may go ahead of what comes back (module doc)
            await asyncio.sleep(timeout)
            return []
        for p in self._subs:  # what is held back stays ours: its ack_wait starts again
            for delivery in self._held[p]:
                await delivery.msg.in_progress()
        # whatever is published from here on comes after `last` in the stream: a partition
        # read to its end below holds nothing at or before it that was not handed over
        info = await self._jetstream().stream_info(self.stream)
        last = int(info.state.last_seq)
        results = await asyncio.gather(
            *(self._fetch_one(p, each - len(self._held[p]), timeout) for p in wanting)
        )
        exhausted = set()
        unsure = []
        for p, (got, done) in zip(wanting, results, strict=True):
            self._held[p] = _merged(self._held[p], got)
            if done is None:
                unsure.append(p)
            elif done:
                exhausted.add(p)
        if unsure and any(self._held.values()):  # something to hand over that they may bound
            ends = await asyncio.gather(*(self._at_end(p) for p in unsure))
            exhausted.update(p for p, end in zip(unsure, ends, strict=True) if end)
        # a partition read to its end holds back nothing; the others bound what is handed over
        bound = min(
            (held[-1].seq for p, held in self._held.items() if p not in exhausted and held),
            default=None,
        )
        if any(not held and p not in exhausted for p, held in self._held.items()):
            bound = 0  # a partition that may hold earlier messages answered nothing yet
        bound = last if bound is None else min(bound, last)
        out: list[Delivery] = []
        for p, held in self._held.items():
            cut = sum(1 for d in held if d.seq <= bound)
            out.extend(held[:cut])
            self._held[p] = held[cut:]
        out.sort(key=lambda d: d.seq)
        return out

    async def _fetch_one(
        self, p: int, batch: int, timeout: float
    ) -> tuple[list[Delivery], bool | None]:
        """The partition's next messages, and False if more are known to follow, None if it
        may have been read to its end. No answer in time proves nothing either: a busy
        server answers late, and what it sends then arrives at the next fetch (handing later
        messages of other partitions over meanwhile would put them ahead of these in the
        log)."""
        sub = self._subs[p]
        try:
            msgs = await sub.fetch(batch, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return [], None
        found = []
        left = 0
        for msg in msgs:
            try:
                raw: object = read_json(msg.data)
            except (BadJson, UnicodeDecodeError) as bad:
                raw = msg.data.decode("utf-8", "backslashreplace") + f" ({bad})"
            reply = (msg.headers or {}).get(COMMAND)
            found.append(
                Delivery(
                    p, int(msg.metadata.sequence.stream), raw, msg, reply is not None, reply or None
                )
            )
            left = int(msg.metadata.num_pending or 0)
            self._received[p] = max(self._received.get(p, 0), int(msg.metadata.sequence.consumer))
        # maybe read to its end when nothing was left after the last message: a short answer
        # alone proves nothing (the server hands what it has at once), and neither does that
        # count when the message waited in the subscription since an earlier fetch gave up
        # (the count is of its delivery): `_at_end` asks the consumer
        return found, None if left == 0 else False

    async def _at_end(self, p: int) -> bool:
        """Whether the partition's consumer has nothing more for us: nothing left to deliver,
        and nothing delivered that has not reached us yet."""
        info = await self._subs[p].consumer_info()
        delivered = int(info.delivered.consumer_seq or 0) if info.delivered else 0
        return not info.num_pending and delivered <= self._received.get(p, 0)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """After the append committed: the stream may forget them for these consumers."""
        self._run(self._ack(deliveries))

    async def _ack(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            await delivery.msg.ack()
        await self._nc.flush()

    def pending(self) -> dict[int, int]:
        """Per assigned partition: messages in the stream not yet delivered (its lag)."""
        return self._run(self._pending())

    async def _pending(self) -> dict[int, int]:
        found = {}
        for p, sub in self._subs.items():
            info = await sub.consumer_info()
            found[p] = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        return found

    def close(self) -> None:
        try:
            self._run(self._close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            if not self._thread.is_alive():
                self._loop.close()  # its self-pipe: a ResourceWarning when collected open

    async def _close(self) -> None:
        await self._assign(set())
        if self._nc is not None:
            await self._nc.drain()


def _merged(held: list[Delivery], got: list[Delivery]) -> list[Delivery]:
    """What a partition holds, in stream order, one delivery per message. A message whose
    `ack_wait` ran out before it was acknowledged (a long step on a busy machine) is
    delivered again, after later ones: in arrival order the cut in `_fetch` would hand a
    later message over before it. The newer delivery of a message is kept (its reply subject
    is the one the server expects the acknowledgement on)."""
    if not got:
        return held
    by_seq = {d.seq: d for d in held}
    by_seq.update((d.seq, d) for d in got)
    return [by_seq[seq] for seq in sorted(by_seq)]
