"""Partitions: the share of the state a customer belongs to.

Every customer's state (profile, subjects, cases, failures, compensations, timers, counters)
lives in one partition, `partition_of(customer_id, P)`. P is fixed when the store is created.
The hash is CRC-32 of the id's UTF-8 bytes: stable across processes, machines and languages
(Python's own `hash` is salted per process).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

DEFAULT_PARTITIONS = 32


def partition_of(customer_id: str, partitions: int) -> int:
    return zlib.crc32(customer_id.encode()) % partitions


def partitions_of(customer_ids: Iterable[str], partitions: int) -> set[int]:
    return {zlib.crc32(c.encode()) % partitions for c in customer_ids}
