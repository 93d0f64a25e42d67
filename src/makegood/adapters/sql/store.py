"""`SqlStore`: the engine's state, timers, outbox and ledger in SQLite or PostgreSQL.

One `session()` is one transaction. Writes are batched (executemany) and idempotent on natural
keys (event id, failure key, outbox key, compensation key), so a replayed batch changes nothing.
On PostgreSQL, timers and outbox rows are claimed with ``FOR UPDATE SKIP LOCKED``; on SQLite
every write transaction is ``BEGIN IMMEDIATE`` (one writer at a time).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from makegood.adapters.sql import rows
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.database import create_engine, dumps, migrate, writer
from makegood.adapters.sql.lease import Fence
from makegood.adapters.sql.outbox import SqlOutbox, claim
from makegood.domain.errors import AlreadyDone, BudgetConflict, Contended, Fenced
from makegood.domain.event import Event, Quarantined
from makegood.domain.fingerprint import fingerprint
from makegood.domain.message import ACTION, OutboxMessage
from makegood.domain.model import Incident, Timer
from makegood.domain.money import to_minor
from makegood.domain.partition import DEFAULT_PARTITIONS, partition_of, partitions_of
from makegood.domain.policy import Budgets
from makegood.domain.world import Changes, Snapshot, keeps_compensation, keeps_failure

_LIVE_INCIDENTS = sa.select(t.incidents).where(
    sa.or_(
        t.incidents.c.status == "open",
        sa.and_(t.incidents.c.status == "forming", t.incidents.c.last_at > sa.bindparam("since")),
        sa.and_(
            t.incidents.c.status == "resolved",  # for the cool-down
            t.incidents.c.resolved_at > sa.bindparam("since"),
        ),
    )
)
_VERSIONS = (
    sa.select(t.partitions.c.partition, t.partitions.c.version, t.partitions.c.epoch)
    .where(t.partitions.c.partition.in_(sa.bindparam("values", expanding=True)))
    .order_by(t.partitions.c.partition)
)
_BUMP = (
    sa.update(t.partitions)
    .where(t.partitions.c.partition.in_(sa.bindparam("values", expanding=True)))
    .values(version=t.partitions.c.version + 1)
)
_PLACES = (
    sa.select(t.partitions.c.partition, t.partitions.c.applied, t.partitions.c.epoch)
    .where(t.partitions.c.partition.in_(sa.bindparam("values", expanding=True)))
    .order_by(t.partitions.c.partition)
)
_SET_PLACE = (
    sa.update(t.partitions)
    .where(t.partitions.c.partition == sa.bindparam("p"))
    .values(applied=sa.bindparam("a"))
)
_TIMELINE = sa.insert(t.timeline).values(  # the id is the database's
    {name: sa.bindparam(name) for name in ("case_id", "at", "kind", "actor", "data")}
)
_MARKS = (
    sa.select(t.partitions.c.partition, t.partitions.c.watermark, t.partitions.c.followed)
    .where(t.partitions.c.partition.in_(sa.bindparam("values", expanding=True)))
    .order_by(t.partitions.c.partition)
)
_SET_MARK = (
    sa.update(t.partitions)
    .where(t.partitions.c.partition == sa.bindparam("p"))
    .values(watermark=sa.bindparam("w"), followed=sa.bindparam("f"))
)
_LOG_TIMES = (
    sa.select(t.events.c.seq, t.events.c.occurred_at)
    .where(t.events.c.seq > sa.bindparam("after"))
    .order_by(t.events.c.seq)
    .limit(sa.bindparam("limit"))
)
_NEXT_DUE = sa.select(sa.func.min(t.timers.c.due_at).label("due"))
_HEAD = sa.select(sa.func.max(t.events.c.seq))
# appends to the log take turns on PostgreSQL (SQLite has one writer anyway), so the places
# they give are never committed out of order ("mglog")
_APPEND_LOCK = sa.text("SELECT pg_advisory_xact_lock(469886594919)")
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock, serialization
CHUNK = 900  # stay below SQLite's limit of bound parameters per statement


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@cache
def _upsert(dialect: str, table: sa.Table, key: str) -> Any:
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    columns = {c.name: statement.excluded[c.name] for c in table.columns if c.name != key}
    return statement.on_conflict_do_update(index_elements=[key], set_=columns)


@cache
def _insert_new(dialect: str, table: sa.Table, key: str) -> Any:
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return statement.on_conflict_do_nothing(index_elements=[key])


@cache
def _insert_or_ignore(dialect: str, table: sa.Table) -> Any:
    """Insert, or nothing if any unique key (id or natural key) is taken; answers the ids
    inserted."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return statement.on_conflict_do_nothing().returning(table.c.id)


@cache
def _insert_new_anywhere(table: sa.Table) -> Any:
    """SQLite: insert, or nothing if any unique key (id or natural key) is taken."""
    return sqlite.insert(table).on_conflict_do_nothing()


def _among(dialect: str, column: sa.Column[Any]) -> Any:
    """`column` is one of the parameter ``values``: on PostgreSQL one array (one statement,
    one plan, whatever the count), on SQLite an expanded IN list of at most `CHUNK`."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam("values", type_=postgresql.ARRAY(column.type)))
    return column.in_(sa.bindparam("values", expanding=True))


@cache
def _select_in(dialect: str, table: sa.Table, column: str) -> Any:
    return sa.select(table).where(_among(dialect, table.c[column]))


@cache
def _known(dialect: str, column: sa.Column[Any]) -> Any:
    return sa.select(column).where(_among(dialect, column))


@cache
def _messages(dialect: str) -> Any:
    return sa.select(t.outbox.c.customer_id, t.outbox.c.created_at).where(
        _among(dialect, t.outbox.c.customer_id),
        t.outbox.c.created_at >= sa.bindparam("start"),
        t.outbox.c.channel != ACTION,
    )


@cache
def _message_keys(dialect: str) -> Any:
    return sa.select(t.outbox.c.customer_id, t.outbox.c.key).where(
        _among(dialect, t.outbox.c.customer_id)
    )


def _sqlite_time(value: datetime | None) -> str | None:
    """SQLAlchemy's own storage format for SQLite datetimes (``%Y-%m-%d %H:%M:%S.%f`` in UTC),
    from `isoformat`, which is C and a third cheaper than `strftime`."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _sqlite_value(column: sa.Column[Any]) -> Callable[[Any], Any] | None:
    """What SQLAlchemy's bind processing would make of a value for SQLite, done once per
    column type (None: the value as it is)."""
    kind = column.type
    if isinstance(kind, t.UtcDateTime):
        return _sqlite_time
    if isinstance(kind, t.DecimalText):
        return _text
    if isinstance(kind, sa.JSON):
        return dumps
    if isinstance(kind, sa.Boolean):
        return lambda v: None if v is None else int(v)
    if isinstance(kind, sa.Date):
        return lambda v: None if v is None else v.isoformat()
    return None


def _postgres_value(column: sa.Column[Any]) -> Callable[[Any], Any] | None:
    """The same for psycopg, which adapts datetimes (aware), dates and booleans itself; JSON
    goes as text into the statement's ``::JSONB`` cast."""
    kind = column.type
    if isinstance(kind, t.DecimalText):
        return _text
    if isinstance(kind, sa.JSON):
        return dumps
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


_RAW_DIALECTS = {
    "sqlite": (sqlite.dialect(), _sqlite_value),
    "postgresql": (
        postgresql.psycopg.dialect(paramstyle="format"),  # type: ignore[no-untyped-call]
        _postgres_value,
    ),
}


@cache
def _raw(
    dialect: str, statement: Any
) -> tuple[str, Callable[[dict[str, Any]], Any], tuple[tuple[int, Callable[[Any], Any]], ...]]:
    """SQL text, what takes a row's parameters in order, and the converters of those that
    need one, so a batch goes straight to the driver's executemany."""
    compiler, value_of = _RAW_DIALECTS[dialect]
    compiled = statement.compile(dialect=compiler)
    table = statement.table
    names = list(compiled.positiontup)
    take = itemgetter(*names) if len(names) > 1 else (lambda item: (item[names[0]],))
    convert = tuple(
        (i, f) for i, name in enumerate(names) if (f := value_of(table.c[name])) is not None
    )
    return compiled.string, take, convert


def _converted(
    values: Sequence[Any], convert: Sequence[tuple[int, Callable[[Any], Any]]]
) -> tuple[Any, ...]:
    row = list(values)
    for i, f in convert:
        row[i] = f(row[i])
    return tuple(row)


class SqlSession:
    """Statements are built once per table (they are the hot path) and bound per batch; a
    batch skips SQLAlchemy's per-row processing and goes to the driver's executemany (psycopg
    pipelines it), with the values converted as SQLAlchemy's types would (the contract tests
    read everything back through SQLAlchemy)."""

    def __init__(
        self, connection: sa.Connection, writing: bool = True, fence: Fence | None = None
    ) -> None:
        self.c = connection
        self.dialect = connection.dialect.name
        self.postgres = self.dialect == "postgresql"
        self.locks = self.postgres and writing  # a reader takes no row lock
        self._partitions: int | None = None
        # a lease holder's transaction: the epochs it was granted, checked on every write of
        # a partition's state (a reader writes nothing and checks nothing)
        self.fence = fence.epochs if fence is not None and writing else None

    # helpers ---------------------------------------------------------------------------------
    def upsert(self, table: sa.Table, items: list[dict[str, Any]], key: str) -> None:
        if items:
            self._many(_upsert(self.dialect, table, key), items)

    def insert_new(self, table: sa.Table, items: list[dict[str, Any]], key: str) -> None:
        if items:
            self._many(_insert_new(self.dialect, table, key), items)

    def _many(self, statement: Any, items: list[dict[str, Any]]) -> None:
        sql, take, convert = _raw(self.dialect, statement)
        self.c.exec_driver_sql(sql, [_converted(take(item), convert) for item in items])

    def _parts(self, values: Collection[str]) -> Iterator[list[str]]:
        """`values` as `_among` takes them: all at once on PostgreSQL, in chunks on SQLite."""
        if self.postgres:
            if values:
                yield sorted(values)
            return
        for part in _chunks(sorted(values)):
            yield list(part)

    def _where_in(self, table: sa.Table, column: str, values: Collection[str]) -> list[Any]:
        found: list[Any] = []
        statement = _select_in(self.dialect, table, column)
        for part in self._parts(values):
            found.extend(self.c.execute(statement, {"values": part}))
        return found

    def _known(self, column: sa.Column[Any], values: Collection[str]) -> set[str]:
        known: set[str] = set()
        for part in self._parts(values):
            known.update(self.c.scalars(_known(self.dialect, column), {"values": part}))
        return known

    # events ---------------------------------------------------------------------------------
    def known_event_ids(self, ids: Collection[str]) -> set[str]:
        return self._known(t.events.c.id, ids)

    def add_events(self, events: Sequence[Event], received_at: datetime) -> dict[str, int]:
        if not events:
            return {}
        if self.postgres:  # appends take turns: the log's places are given in commit order
            self.c.execute(_APPEND_LOCK)
        first: dict[str, Event] = {}
        for event in events:
            first.setdefault(event.id, event)
        known = self.known_event_ids(first)
        head = self.c.scalar(_HEAD) or 0
        count = self.partitions()
        items, new = [], {}
        for event in first.values():
            if event.id in known:
                continue
            head += 1
            new[event.id] = head
            items.append(
                {
                    "id": event.id,
                    "type": event.type,
                    "occurred_at": event.occurred_at,
                    "customer_id": event.customer_id,
                    "subject_id": event.subject_id,
                    "attributes": event.attributes,  # the JSON column's encoder writes them
                    "received_at": received_at,
                    "seq": head,
                    "partition": partition_of(event.customer_id, count),
                }
            )
        if self.postgres:  # the ids are new (checked above, appends taking turns): COPY them
            self._copy(t.events, items)
        else:
            self.insert_new(t.events, items, "id")
        return new

    def _copy(self, table: sa.Table, items: list[dict[str, Any]]) -> None:
        """PostgreSQL's COPY: the fastest way in for rows known to be new."""
        if not items:
            return
        names = list(items[0])
        take = itemgetter(*names)
        convert = [(i, f) for i, name in enumerate(names) if (f := _postgres_value(table.c[name]))]
        driver: Any = self.c.connection.driver_connection
        columns = ", ".join(f'"{name}"' for name in names)
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy,
        ):
            for item in items:
                copy.write_row(_converted(take(item), convert))

    def logged(
        self, after: int, limit: int, partitions: Mapping[int, int] | None = None
    ) -> list[tuple[int, Event]]:
        query = sa.select(t.events).where(t.events.c.seq > after).order_by(t.events.c.seq)
        if partitions is not None:  # each partition's log from its own place
            query = query.where(
                sa.or_(
                    sa.false(),
                    *(
                        sa.and_(t.events.c.partition == p, t.events.c.seq > place)
                        for p, place in sorted(partitions.items())
                    ),
                )
            )
        return [
            (r.seq, Event(r.id, r.type, r.occurred_at, r.customer_id, r.subject_id, r.attributes))
            for r in self.c.execute(query.limit(limit))
        ]

    def event_fingerprints(self, ids: Collection[str]) -> dict[str, str]:
        return {
            r.id: fingerprint(
                Event(r.id, r.type, r.occurred_at, r.customer_id, r.subject_id, r.attributes)
            )
            for r in self._where_in(t.events, "id", ids)
        }

    def add_quarantined(self, items: Sequence[Quarantined], received_at: datetime) -> None:
        if items:
            self.c.execute(
                sa.insert(t.quarantine),
                [
                    {
                        "received_at": received_at,
                        "source": q.source,
                        "line": q.line,
                        "event_id": q.event_id,
                        "field": q.field,
                        "reason": q.reason,
                        "raw": q.raw,
                    }
                    for q in items
                ],
            )

    def get_value(self, name: str, lock: bool = False) -> str | None:
        query = sa.select(t.engine_state.c.value).where(t.engine_state.c.name == name)
        if lock and self.postgres:
            query = query.with_for_update()
        return self.c.scalar(query)

    def set_value(self, name: str, value: str) -> None:
        self.upsert(t.engine_state, [{"name": name, "value": value}], "name")

    # partitions -------------------------------------------------------------------------------
    def partitions(self) -> int:
        if self._partitions is None:
            stored = self.get_value("partitions")
            self._partitions = int(stored) if stored else DEFAULT_PARTITIONS
        return self._partitions

    def lock_partitions(self, partitions: Collection[int]) -> dict[int, int]:
        """The versions of these partitions, held until this transaction ends: on PostgreSQL
        their rows are locked (in partition order, so two transactions never deadlock here);
        on SQLite this transaction is the only writer already."""
        if not partitions:
            return {}
        query = _VERSIONS.with_for_update() if self.locks else _VERSIONS
        found = self.c.execute(query, {"values": sorted(partitions)}).all()
        self._check_fence((p, e) for p, _, e in found)
        return {int(p): int(v) for p, v, _ in found}

    def advance_partitions(self, versions: Mapping[int, int]) -> bool:
        if not versions:
            return True
        if self.fence is not None:  # the rows held first, and still ours (fencing)
            self.lock_partitions(versions.keys())
        pairs = sorted(versions.items())  # in partition order: two never deadlock here
        done = self.c.execute(
            sa.update(t.partitions)
            .where(sa.tuple_(t.partitions.c.partition, t.partitions.c.version).in_(pairs))
            .values(version=t.partitions.c.version + 1)
        )
        return done.rowcount == len(pairs)

    def _check_fence(self, epochs: Iterable[tuple[int, int]]) -> None:
        """A lease holder writes only partitions whose epoch is still the one it was granted
        (on PostgreSQL the rows are locked by the caller, so a taker waits for this
        transaction, or this one sees the taker's epoch)."""
        if self.fence is None:
            return
        fence = self.fence
        stale = sorted(int(p) for p, e in epochs if p in fence and fence[p] != int(e))
        if stale:
            raise Fenced(f"partitions {stale} were taken by another worker (epoch moved)")

    def places(self, partitions: Collection[int]) -> dict[int, int]:
        """The place in the log (events.seq) acted on, of each of these partitions."""
        query = _PLACES.with_for_update() if self.locks else _PLACES
        found = self.c.execute(query, {"values": sorted(partitions)}).all() if partitions else []
        self._check_fence((p, e) for p, _, e in found)
        return {int(p): int(a) for p, a, _ in found}

    def set_places(self, places: Mapping[int, int]) -> None:
        if places:
            self.c.execute(_SET_PLACE, [{"p": p, "a": a} for p, a in sorted(places.items())])

    def marks(self, partitions: Collection[int]) -> dict[int, tuple[datetime | None, int]]:
        if not partitions:
            return {}
        found = self.c.execute(_MARKS, {"values": sorted(partitions)})
        return {int(p): (w, int(f)) for p, w, f in found}

    def set_marks(self, marks: Mapping[int, tuple[datetime, int]]) -> None:
        if marks:
            self.c.execute(
                _SET_MARK, [{"p": p, "w": w, "f": f} for p, (w, f) in sorted(marks.items())]
            )

    def log_times(self, after: int, limit: int) -> list[tuple[int, datetime]]:
        return [
            (int(seq), at)
            for seq, at in self.c.execute(_LOG_TIMES, {"after": after, "limit": limit})
        ]

    def known_subjects(self, ids: Collection[str]) -> set[str]:
        return self._known(t.subjects.c.id, ids)

    # timers and state -----------------------------------------------------------------------
    def incident(self, incident_id: str) -> Incident | None:
        row = self.c.execute(sa.select(t.incidents).where(t.incidents.c.id == incident_id)).first()
        return None if row is None else rows.incident_of(row)

    def open_subjects(self, attribute: str, value: str) -> list[tuple[str, str]]:
        query = sa.select(t.subjects.c.id, t.subjects.c.customer_id, t.subjects.c.seen).where(
            t.subjects.c.attributes[attribute].as_string() == value
        )
        return [
            (r.customer_id, r.id)
            for r in self.c.execute(query)
            if not ({"order.delivered", "order.cancelled"} & set(r.seen))
        ]

    def next_timer_due(self) -> datetime | None:
        due: datetime | None = self.c.scalar(_NEXT_DUE)
        return due

    def due_timers(self, until: datetime, limit: int) -> list[Timer]:
        query = (
            sa.select(t.timers)
            .where(t.timers.c.due_at <= until)
            .order_by(t.timers.c.due_at, t.timers.c.key)
            .limit(limit)
        )
        if self.locks:
            query = query.with_for_update(skip_locked=True)
        return [rows.timer_of(r) for r in self.c.execute(query)]

    def load(
        self,
        customer_ids: Collection[str],
        subject_ids: Collection[str],
        case_ids: Collection[str],
        since: datetime,
        days: Collection[date],
    ) -> Snapshot:
        snap = Snapshot()
        customer_ids = set(customer_ids)
        touched = set(subject_ids)  # their failures are loaded whatever their age
        for r in self._where_in(t.cases, "id", case_ids):
            customer_ids.add(r.customer_id)
            touched.add(r.subject_key)
        # one transaction at a time per partition (an engine batch, a person's action):
        # neither overwrites what the other decided
        self.lock_partitions(partitions_of(customer_ids, self.partitions()))
        for r in self._where_in(t.customers, "id", customer_ids):
            snap.customers[r.id] = rows.customer_of(r)
        for r in self._where_in(t.cases, "customer_id", customer_ids):
            snap.cases[r.id] = rows.case_of(r)
        wanted = set(subject_ids) | {c.subject_key for c in snap.cases.values() if c.subject_key}
        for r in self._where_in(t.subjects, "id", wanted):
            snap.subjects[r.id] = rows.subject_of(r)
        for r in self._where_in(t.failures, "customer_id", customer_ids):
            if keeps_failure(r, since, touched):  # decided on the row: build only what is kept
                snap.failures[r.id] = rows.failure_of(r)
        for r in self._where_in(t.compensations, "customer_id", customer_ids):
            if keeps_compensation(r, since, snap.failures):
                snap.compensations[r.id] = rows.compensation_of(r)
        for part in self._parts(customer_ids):
            for customer_id, key in self.c.execute(_message_keys(self.dialect), {"values": part}):
                snap.message_keys.setdefault(customer_id, set()).add(key)
        for r in self.c.execute(_LIVE_INCIDENTS, {"since": since}):
            snap.incidents[r.id] = rows.incident_of(r)
        for r in self._where_in(t.incidents, "id", case_ids):  # named by due timers
            snap.incidents[r.id] = rows.incident_of(r)
        if days:
            for r in self.c.execute(
                sa.select(t.budget_spend).where(t.budget_spend.c.day.in_(sorted(days)))
            ):
                snap.global_spent[r.day] = Decimal(r.spent_minor) / 100
            start = datetime.combine(min(days), time(), tzinfo=since.tzinfo)
            for part in self._parts(customer_ids):
                params = {"values": part, "start": start}
                for customer_id, created_at in self.c.execute(_messages(self.dialect), params):
                    key = (customer_id, created_at.date())
                    if key[1] in days:  # the query is bounded below only
                        snap.messages_per_day[key] = snap.messages_per_day.get(key, 0) + 1
        return snap

    def save(self, changes: Changes, snapshot: Snapshot, budgets: Budgets) -> None:
        s = snapshot
        written = sorted(partitions_of(changes.customers_written(s), self.partitions()))
        if written:  # whoever keeps these partitions in memory reloads what changed
            self.c.execute(_BUMP, {"values": written})
        self._create(
            t.failures,
            [rows.failure_row(s.failures[i]) for i in sorted(changes.failures & changes.created)],
        )
        self._create(
            t.compensations,
            [
                rows.compensation_row(s.compensations[i])
                for i in sorted(changes.compensations & changes.created)
            ],
        )
        self.upsert(
            t.customers,
            [rows.customer_row(s.customers[i]) for i in sorted(changes.customers)],
            "id",
        )
        self.upsert(
            t.subjects, [rows.subject_row(s.subjects[i]) for i in sorted(changes.subjects)], "id"
        )
        self.upsert(t.cases, [rows.case_row(s.cases[i]) for i in sorted(changes.cases)], "id")
        self.upsert(
            t.failures,
            [rows.failure_row(s.failures[i]) for i in sorted(changes.failures - changes.created)],
            "id",
        )
        self.upsert(
            t.compensations,
            [
                rows.compensation_row(s.compensations[i])
                for i in sorted(changes.compensations - changes.created)
            ],
            "id",
        )
        if changes.timeline:
            self._many(
                _TIMELINE,
                [
                    {
                        "case_id": e.case_id,
                        "at": e.at,
                        "kind": e.kind,
                        "actor": e.actor,
                        "data": e.data,
                    }
                    for e in changes.timeline
                ],
            )
        self.insert_new(t.outbox, [rows.outbox_row(o) for o in changes.outbox], "key")
        self.upsert(
            t.incidents,
            [rows.incident_row(s.incidents[i]) for i in sorted(changes.incidents)],
            "id",
        )
        done = sorted(changes.timers_done)
        for part in _chunks(done):
            self.c.execute(sa.delete(t.timers).where(t.timers.c.key.in_(part)))
        self.upsert(t.timers, [rows.timer_row(x) for x in changes.timers.values()], "key")
        limit = to_minor(budgets.global_per_day)
        for day, amount in sorted(changes.global_spend.items()):
            self.insert_new(t.budget_spend, [{"day": day, "spent_minor": 0}], "day")
            delta = to_minor(amount)
            spent = t.budget_spend.c.spent_minor
            result = self.c.execute(
                sa.update(t.budget_spend)
                .where(t.budget_spend.c.day == day, spent + delta <= limit)
                .values(spent_minor=spent + delta)
            )
            if result.rowcount != 1:
                raise BudgetConflict(f"the global budget for {day} moved; retry the batch")

    def _create(self, table: sa.Table, items: list[dict[str, Any]]) -> None:
        """Insert rows new to this batch; a taken key means another transaction did it first."""
        if not items:
            return
        if self.dialect == "sqlite":  # the driver's executemany, counted by SQLite itself
            driver: Any = self.c.connection.driver_connection
            before = driver.total_changes
            self._many(_insert_new_anywhere(table), items)
            taken_count = len(items) - (driver.total_changes - before)
            if taken_count:
                raise AlreadyDone(
                    f"{table.name}: {taken_count} of {len(items)} exist already; retry the batch"
                )
            return
        # PostgreSQL: psycopg's pipelined executemany, each row answering its id if inserted
        sql, take, convert = _raw(self.dialect, _insert_or_ignore(self.dialect, table))
        inserted: set[str] = set()
        with self.c.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.executemany(sql, [_converted(take(i), convert) for i in items], returning=True)
            while True:
                inserted.update(row[0] for row in cursor.fetchall())
                if not cursor.nextset():
                    break
        taken = sorted({item["id"] for item in items} - inserted)
        if taken:
            raise AlreadyDone(f"{table.name} {', '.join(taken[:5])} exist already; retry the batch")

    # outbox (the dispatcher's port, in this transaction) ---------------------------------
    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        return claim(self.c, now, lease_until, limit)


class SqlStore(SqlOutbox):
    """The store behind a database URL (``sqlite:///file.db``, ``postgresql+psycopg://…``);
    the dispatcher's side of it (claim, renew, mark) is `SqlOutbox`."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.engine = create_engine(url, schema)
        self.writer = writer(self.engine)  # transactions that write (BEGIN IMMEDIATE on SQLite)
        self.fence: Fence | None = None  # set by a worker holding leases (issue 13)
        self._claimed: dict[str, tuple[str | None, str, int]] = {}

    def migrate(self) -> None:
        migrate(self.writer)

    @contextmanager
    def session(self) -> Iterator[SqlSession]:
        """One writer's transaction. A deadlock or serialization failure (PostgreSQL chose
        this transaction as the victim; it was rolled back whole) is `Contended`, to retry."""
        try:
            with self.writer.begin() as connection:
                yield SqlSession(connection, fence=self.fence)
        except sa.exc.DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
                raise Contended(str(error.orig).splitlines()[0]) from error
            raise

    @contextmanager
    def reader(self) -> Iterator[SqlSession]:
        """A transaction that only reads: no write lock on SQLite (a snapshot of the last
        commit, WAL), no row locks on PostgreSQL. Writing through it is a mistake."""
        with self.engine.connect() as connection, connection.begin():
            yield SqlSession(connection, writing=False)

    def profile_locales(self, customer_ids: Collection[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        query = sa.select(t.customers.c.id, t.customers.c.locale).where(
            t.customers.c.id.in_(sa.bindparam("values", expanding=True))
        )
        with self.engine.connect() as c:  # a reader: no write lock, no row lock
            for part in _chunks(sorted(customer_ids)):
                found.update((r.id, r.locale) for r in c.execute(query, {"values": list(part)}))
        return found

    def dispose(self) -> None:
        self.engine.dispose()


__all__ = ["SqlSession", "SqlStore", "dumps"]
