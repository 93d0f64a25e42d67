"""The one exception hierarchy of makegood.

    MakegoodError
     ├── PolicyError          a policy that cannot be used; carries the path (and line, once known)
     │    └── ExpressionError a condition or formula that does not parse or cannot be evaluated
     ├── EventRejected        an event that fails validation (also used as a value: Rejection)
     ├── BudgetConflict       another worker spent the budget first; the batch is retried
     ├── AlreadyDone          a failure or compensation this batch created exists already
     │                        (another transaction made it); the batch is retried on fresh state
     ├── Fenced               a lease holder's epoch is no longer its own (another worker took
     │                        the partition): nothing of the transaction is written
     └── NotFound             an id that names nothing

A bad event is a value (`makegood.domain.event.Rejection`), not a crash; `EventRejected` exists
for callers that want one event or an exception.
"""

from __future__ import annotations


class MakegoodError(Exception):
    """Base of every error makegood raises on purpose."""


class PolicyError(MakegoodError):
    """A policy that cannot be used; `path` names the place (``playbooks[1].steps[0]``)."""

    def __init__(self, message: str, path: str = "", line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        where = f"line {line}: " if line else ""
        at = f"{path}: " if path else ""
        super().__init__(f"{where}{at}{message}")


class ExpressionError(PolicyError):
    """A condition or formula that does not parse (compile time) or cannot be evaluated."""

    def __init__(self, message: str, source: str = "", column: int | None = None) -> None:
        self.source = source
        self.column = column
        detail = f"{message} (column {column} of {source!r})" if column is not None else message
        super().__init__(detail)


class EventRejected(MakegoodError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


class BudgetConflict(MakegoodError):
    """Raised by a store when a budget counter moved under us; the caller retries the batch."""


class AlreadyDone(MakegoodError):
    """Raised by a store when a natural key the batch created is taken: nothing of the batch is
    written (no budget charged, no code overwritten); the caller retries it on fresh state."""


class Contended(MakegoodError):
    """Raised by a store when the database gave up this transaction for another's (a deadlock
    victim, a serialization failure): nothing of it was written; the caller retries it."""


class Fenced(MakegoodError):
    """Raised by a store when a transaction of a lease holder writes a partition whose lease
    another worker has taken since (its epoch moved): nothing of it is written; the holder
    drops what it keeps of those partitions and its leases (issue 13)."""


class NotFound(MakegoodError):
    pass
