"""Leases on partitions (issue 13): which worker owns which partition, until when, at which
epoch.

A worker registers itself (`workers`, renewed like a lease) and takes a fair share of the P
partitions: P divided by the workers alive, rounded up. Taking a partition moves its `epoch`
on; a holder renews its leases with the epoch it was granted, and every transaction it writes a
partition's state in checks that epoch (`Fence`, checked by `SqlSession`): a worker paused past
its lease (SIGSTOP, a long GC, a network partition) finds its writes refused (`Fenced`) once
another worker took the partition, and drops what it kept (Kleppmann's fencing tokens).

Lease times are the workers' clocks (aware UTC); workers on several machines need clocks in
step to well under the lease time (NTP), as every lease scheme on wall time does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from makegood.adapters.sql import schema as t


@dataclass
class Fence:
    """The epochs a lease holder was granted (partition: epoch). Replaced whole when leases
    change, never changed in place: a transaction checks against the epochs it began with."""

    owner: str
    epochs: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PartitionRow:
    partition: int
    owner: str | None
    epoch: int
    lease_until: datetime | None
    applied: int
    head: int  # the last place in the log of this partition's events


class SqlLeases:
    """One worker's side of the lease table; each method is one short transaction."""

    def __init__(self, writer: sa.Engine, owner: str, ttl: timedelta) -> None:
        self.writer, self.owner, self.ttl = writer, owner, ttl

    def balance(
        self, held: dict[int, int], now: datetime, stopping: bool = False, give: bool = True
    ) -> dict[int, int]:
        """Renew this worker's row and the leases it holds (those whose epoch is still the
        one in `held`), take free or expired partitions up to a fair share and, with `give`,
        give back those above it: the caller must act on none of them meanwhile. Answers what
        it holds now (partition: epoch); what it took is acted on once the caller says so.

        No lock on partitions it does not take: a free row is claimed with ``FOR UPDATE SKIP
        LOCKED`` (two workers never take one partition, and neither waits for the other or
        for a batch writing elsewhere); renewing waits at most for this worker's own batch."""
        until = now + self.ttl
        with self.writer.begin() as c:
            self._beat(c, now, until)
            live = c.scalar(sa.select(sa.func.count()).where(t.workers.c.seen_until > now)) or 1
            count = c.scalar(sa.select(sa.func.count()).select_from(t.partitions)) or 0
            share = 0 if stopping else math.ceil(count / live)
            mine = {p: held[p] for p in self._extend(c, held, until)}
            if len(mine) < share:
                free = (
                    sa.select(t.partitions.c.partition, t.partitions.c.epoch)
                    .where(
                        sa.or_(
                            t.partitions.c.owner.is_(None),
                            t.partitions.c.lease_until.is_(None),
                            t.partitions.c.lease_until <= now,
                            sa.and_(
                                t.partitions.c.owner == self.owner,
                                t.partitions.c.partition.not_in(sorted(mine)),
                            ),
                        )
                    )
                    .order_by(t.partitions.c.partition)
                    .limit(share - len(mine))
                    .with_for_update(skip_locked=True)
                )
                for partition, epoch in c.execute(free).all():
                    mine[int(partition)] = int(epoch) + 1
                    c.execute(
                        sa.update(t.partitions)
                        .where(t.partitions.c.partition == partition)
                        .values(owner=self.owner, epoch=int(epoch) + 1, lease_until=until)
                    )
            # given back only by a caller that acts on none of them meanwhile (`give`)
            extra = sorted(mine)[share:] if give and len(mine) > share else []
            for p in extra:
                del mine[p]
            if extra:
                c.execute(
                    sa.update(t.partitions)
                    .where(t.partitions.c.partition.in_(extra), t.partitions.c.owner == self.owner)
                    .values(owner=None, lease_until=None)
                )
            if stopping:
                c.execute(sa.delete(t.workers).where(t.workers.c.id == self.owner))
        return mine

    def renew(self, held: dict[int, int], now: datetime) -> dict[int, int]:
        """Extend the leases still held at their epoch; answers those (what is missing was
        taken by another worker: the caller stops acting on it)."""
        until = now + self.ttl
        with self.writer.begin() as c:
            self._beat(c, now, until)
            kept = self._extend(c, held, until)
        return {p: e for p, e in held.items() if p in kept}

    def _beat(self, c: sa.Connection, now: datetime, until: datetime) -> None:
        done = c.execute(
            sa.update(t.workers).where(t.workers.c.id == self.owner).values(seen_until=until)
        )
        if done.rowcount == 0:
            c.execute(sa.insert(t.workers).values(id=self.owner, started_at=now, seen_until=until))

    def _extend(self, c: sa.Connection, held: dict[int, int], until: datetime) -> set[int]:
        if not held:
            return set()
        done = c.execute(
            sa.update(t.partitions)
            .where(
                t.partitions.c.owner == self.owner,
                sa.tuple_(t.partitions.c.partition, t.partitions.c.epoch).in_(sorted(held.items())),
            )
            .values(lease_until=until)
            .returning(t.partitions.c.partition)
        )
        return {int(p) for p in done.scalars()}


def partition_table(connection: sa.Connection) -> list[PartitionRow]:
    """Every partition with its owner, epoch, lease and place, and the head of its log
    (for `makegood partitions`: lag = head - applied)."""
    heads = dict(
        connection.execute(
            sa.select(t.events.c.partition, sa.func.max(t.events.c.seq)).group_by(
                t.events.c.partition
            )
        ).all()
    )
    return [
        PartitionRow(
            int(r.partition),
            r.owner,
            int(r.epoch),
            r.lease_until,
            int(r.applied),
            int(heads.get(r.partition) or 0),
        )
        for r in connection.execute(sa.select(t.partitions).order_by(t.partitions.c.partition))
    ]
