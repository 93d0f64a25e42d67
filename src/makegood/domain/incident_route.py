"""Where incident work is done (issue 12; the bus of issue 13 carries the same messages).

An incident is global state: many customers, in many partitions, feed one incident and hear
from it. Its work is split by owner:
- a *signal* (a new failure whose subject carries an incident's key, or a customer's failure
  while the incident is open) goes to the partition of the incident's key
  (`incident_partition`): its owner counts the signals, declares, keeps it going, resolves it
  and decides who is told;
- a *notice* (tell this customer about this stage) goes to the partition of the customer: its
  owner writes the message and the compensation, on the customer's own state.

`Route` is the seam. `LocalRoute` delivers both at once in the same World: one process holds
every partition, so results are exactly those of a direct call. A route over a bus delivers
locally what belongs to a partition the worker owns, and publishes the rest as a command on
that partition's subject, applied by its owner in order with the events (a signal answers
None then: the customer hears the incident when its owner tells it, not at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from makegood.domain.model import Incident
from makegood.domain.partition import partition_of


@dataclass(frozen=True, slots=True)
class Signal:
    """A failure of `customer_id` on `subject_id` in the incident spec's key `key`."""

    spec: str
    key: str
    customer_id: str
    subject_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Notice:
    """Tell `customer_id` (about `subject_id`) of the incident's `stage`."""

    incident_id: str
    customer_id: str
    subject_id: str
    stage: int
    at: datetime


def incident_partition(spec: str, key: str, partitions: int) -> int:
    """The partition that owns the incident of this spec and key (its signals, its stages)."""
    return partition_of(f"incident:{spec}:{key}", partitions)


class Receiver(Protocol):
    """What a route delivers to (`Incidents`)."""

    def receive(self, signal: Signal) -> Incident | None: ...

    def deliver(self, notice: Notice) -> None: ...


class Route(Protocol):
    def signal(self, signal: Signal) -> Incident | None:
        """To the owner of the incident's key; answers the open incident the customer joined
        (it then hears the incident instead of its own acknowledgement), None if none or not
        known here."""
        ...

    def notify(self, notice: Notice) -> None:
        """To the owner of the customer."""
        ...


class LocalRoute:
    """Every partition is here: delivered at once."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def signal(self, signal: Signal) -> Incident | None:
        return self.receiver.receive(signal)

    def notify(self, notice: Notice) -> None:
        self.receiver.deliver(notice)
