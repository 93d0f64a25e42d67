"""The worker's merge of its partitions in stream order (`NatsBus._fetch`), with the NATS
subscriptions faked: what it hands over is never ahead of an earlier message it holds or may
still receive, including a message delivered again after its `ack_wait` ran out (it arrives
after later ones of its partition)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import nats

from makegood.adapters.bus.nats import NatsBus


class Msg:
    def __init__(self, seq: int, consumer: int, left: int) -> None:
        self.data = json.dumps({"id": f"e{seq}"}).encode()
        self.headers = None
        self.metadata = SimpleNamespace(
            sequence=SimpleNamespace(stream=seq, consumer=consumer), num_pending=left
        )

    async def in_progress(self) -> None:
        return None


class Sub:
    """A partition's consumer answering scripted fetches."""

    def __init__(self, answers: list[list[Msg]]) -> None:
        self.answers = answers
        self.delivered = 0

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        if not self.answers or not self.answers[0]:
            if self.answers:
                self.answers.pop(0)
            raise nats.errors.TimeoutError
        got = self.answers.pop(0)
        self.delivered = max(m.metadata.sequence.consumer for m in got)
        return got

    async def consumer_info(self) -> Any:
        pending = sum(len(a) for a in self.answers)
        return SimpleNamespace(
            num_pending=pending, delivered=SimpleNamespace(consumer_seq=self.delivered)
        )


def bus_on(subs: dict[int, Sub], last: int) -> NatsBus:
    bus = object.__new__(NatsBus)
    bus.stream = "S"
    bus._subs = subs  # type: ignore[assignment]
    bus._held = {p: [] for p in subs}
    bus._ready, bus._received = {}, {}

    async def stream_info(stream: str) -> Any:
        return SimpleNamespace(state=SimpleNamespace(last_seq=last))

    bus._js = SimpleNamespace(stream_info=stream_info)  # type: ignore[assignment]
    return bus


def test_a_message_delivered_again_is_handed_over_before_later_ones() -> None:
    # partition 0 holds stream messages 1 and 4, partition 1 holds 2, 3 and 5; message 1 is
    # handed over, not acknowledged in time, and delivered again after 4
    a = Sub([[Msg(1, 1, left=1)], [Msg(4, 2, left=0), Msg(1, 3, left=0)]])
    b = Sub([[Msg(2, 1, left=2)], [Msg(3, 2, left=1)], [Msg(5, 3, left=0)]])
    bus = bus_on({0: a, 1: b}, last=5)
    first = asyncio.run(bus._fetch(10, 0.01))
    second = asyncio.run(bus._fetch(10, 0.01))
    third = asyncio.run(bus._fetch(10, 0.01))
    handed = [d.seq for d in first + second + third]
    assert [d.seq for d in first] == [1]
    assert [d.seq for d in second] == [1, 2, 3]  # 4 waits: partition 1 may hold earlier ones
    assert handed == [1, 1, 2, 3, 4, 5]  # stream order, the repeat a duplicate for the log


def test_a_fetch_that_timed_out_proves_nothing() -> None:
    # partition 0 answers late (nothing this time, its message 1 arrives with the next
    # fetch): partition 1's message 2 waits for it
    a = Sub([[], [Msg(1, 1, left=0)]])
    a.delivered = 1  # the server delivered it; it has not reached us yet
    b = Sub([[Msg(2, 1, left=0)]])
    bus = bus_on({0: a, 1: b}, last=2)
    assert asyncio.run(bus._fetch(10, 0.01)) == []
    assert [d.seq for d in asyncio.run(bus._fetch(10, 0.01))] == [1, 2]
