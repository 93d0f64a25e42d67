"""Commands over a store: ingest, cases, case, summary, migrate, dispatch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from makegood.adapters.event_file import count_lines, file_format, open_events, read_lines
from makegood.adapters.sql import queries
from makegood.adapters.sql import schema as t
from makegood.adapters.sql.metrics import MetricSettings, window_changes
from makegood.adapters.sql.store import SqlStore
from makegood.bootstrap import bootstrap
from makegood.domain.errors import NotFound, PolicyError
from makegood.domain.event import Quarantined
from makegood.entrypoints import policy_stamp
from makegood.entrypoints.cli_common import (
    DatabaseOption,
    SinceOption,
    UntilOption,
    console,
    err,
    fail,
    head_revision,
    moment,
    open_store,
    print_json,
    revision_of,
    shown_database,
)
from makegood.entrypoints.cli_common import settings as load_settings
from makegood.entrypoints.cli_report import show_changes
from makegood.entrypoints.summary_view import show_summary


def _store(db: str | None) -> SqlStore:
    """The store a read command reads: it must exist and be migrated (see `open_store`)."""
    return open_store(load_settings(db))


def ingest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    fmt: str = typer.Option(None, "--format", help="jsonl or csv (default: by file suffix)"),
    clock: str = typer.Option(
        "event",
        help="event: timers follow event time (historical "
        "files); wall: timers follow the real clock (live feeds)",
    ),
    db: str = DatabaseOption,
    batch_size: int = typer.Option(2000, min=1, max=100_000),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    policy: Path = typer.Option(
        None,
        "--policy",
        exists=True,
        dir_okay=False,
        help="the policy to decide with (default: $MAKEGOOD_POLICY or the shipped one); "
        "needed to switch a store to another policy",
    ),
    bus: str = typer.Option(
        None, "--bus", help="publish to NATS JetStream (nats://…) for workers instead"
    ),
) -> None:
    """Ingest events from a JSONL or CSV file; bad lines are reported and quarantined."""
    if bus:  # issue 13: the workers append and act; this answers once the stream has them
        from makegood.entrypoints.cli_worker import publish_file

        publish_file(file, bus, fmt, db, quiet)
        return
    if clock not in ("event", "wall"):
        raise fail("--clock must be event or wall")
    config = load_settings(db)
    config = replace(config, policy=policy or config.policy)
    try:
        kind = fmt or file_format(file)
        app = bootstrap(config, event_time=clock == "event")
        stamp = policy_stamp.stamp_of(app.policy, config.policy)
        replaced = policy_stamp.record(app.store, stamp, chosen=policy is not None)
    except (ValueError, PolicyError, policy_stamp.PolicyChanged) as error:
        raise fail(escape(str(error))) from None
    err.print(f"policy: {stamp}", markup=False, highlight=False, soft_wrap=True)
    if replaced is not None:
        err.print(
            f"policy changed: this store was filled under {replaced} until now",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    app.engine.batch_size = batch_size
    accepted = duplicates = rejected = failures = 0
    total = count_lines(file)
    with (
        open_events(file) as stream,
        Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=quiet or not err.is_terminal,
        ) as progress,
    ):
        task = progress.add_task("lines", total=total)
        batch: list[object] = []
        numbers: list[int | None] = []

        def flush() -> None:
            nonlocal accepted, duplicates, rejected, failures
            report = app.engine.ingest(batch, source=str(file), lines=numbers)
            accepted += report.accepted
            duplicates += report.duplicates
            failures += report.failures
            for index, rejection in report.rejected:
                rejected += 1
                report_line(f"{file}:{numbers[index]}: {rejection}")
            progress.update(task, advance=len(batch))
            batch.clear()
            numbers.clear()

        for line in read_lines(stream, kind):
            if line.error is not None:
                rejected += 1
                report_line(f"{file}:{line.number}: {line.error}")
                with app.store.session() as session:
                    session.add_quarantined(
                        [Quarantined(str(file), line.number, line.text, "", line.error)],
                        app.clock.now(),
                    )
                continue
            batch.append(line.raw)
            numbers.append(line.number)
            if len(batch) >= batch_size:
                flush()
        flush()
    console.print(
        f"{accepted} accepted, {duplicates} duplicates, {rejected} rejected "
        f"(quarantined), {failures} failures detected"
    )
    if rejected:
        raise typer.Exit(2)


def report_line(text: str) -> None:
    """`FILE:LINE: reason` on stderr, one line, verbatim: the reason may quote the input, which is
    no Rich markup, and the line must not wrap, so that editors and grep can use it."""
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def cases(
    state: str = typer.Option(None, "--status", help="only cases in this state"),
    person: bool = typer.Option(False, "--needs-person", help="only cases waiting for a person"),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json"),
    db: str = DatabaseOption,
) -> None:
    """List cases, most recently changed first."""
    store = _store(db)
    with store.engine.connect() as c:
        found = queries.list_cases(c, state, limit, True if person else None)
    if as_json:
        print_json(found)
        return
    table = Table(show_edge=False)
    table.add_column("id", no_wrap=True, min_width=max((len(r["id"]) for r in found), default=2))
    for column in ("customer", "subject", "state", "severity", "category", "updated"):
        table.add_column(column)
    for row in found:
        table.add_row(
            *map(
                escape,
                (
                    row["id"],
                    row["customer_id"],
                    row["subject_key"] or "—",
                    row["state"],
                    row["severity"],
                    row["category"],
                ),
            ),
            f"{row['updated_at']:%Y-%m-%d %H:%M}",
        )
    console.print(table)


def case(
    case_id: str, as_json: bool = typer.Option(False, "--json"), db: str = DatabaseOption
) -> None:
    """One case with its whole timeline."""
    detail = _detail(db, queries.case_detail, t.cases, case_id, as_json)
    if detail is None:
        return
    # ids and timeline data come from events: print them as text, never as Rich markup
    info = {key: escape(str(value)) if value else "" for key, value in detail["case"].items()}
    console.print(
        f"[bold]{info['id']}[/bold] {info['category']} ({info['severity']}), "
        f"customer {info['customer_id']}, subject {info['subject_key'] or '—'}: "
        f"[bold]{info['state']}[/bold]"
    )
    console.print(_timeline(detail["timeline"]))


def summary(
    as_json: bool = typer.Option(False, "--json"),
    db: str = DatabaseOption,
    since: str = SinceOption,
    until: str = UntilOption,
) -> None:
    """What was detected, done, spent and learned, for any store; and what changed from one
    window to the one before it."""
    window = MetricSettings(since=moment(since, "--since"), until=moment(until, "--until"))
    config = load_settings(db)
    open_store(config).dispose()
    app = bootstrap(config, migrate=False)
    with app.store.engine.connect() as c:
        figures = queries.summary(c, app.policy.policy.budgets.global_per_day)
        try:
            figures["change"] = window_changes(c, window)
        except ValueError as error:
            raise fail(escape(str(error))) from None
    app.store.dispose()
    if as_json:
        print_json(figures)
    else:
        show_summary(console, figures, app.policy.policy.business.currency)
        show_changes(figures["change"])


def migrate(db: str = DatabaseOption) -> None:
    """Create or upgrade the database schema."""
    config = load_settings(db)
    store = SqlStore(config.database_url, config.database_schema)
    before = revision_of(store.engine)
    store.migrate()
    store.dispose()
    head, where = head_revision(), escape(shown_database(config.database_url))
    if before is None:
        console.print(f"created the schema (revision {head}) in {where}")
    elif before != head:
        console.print(f"upgraded the schema of {where} from revision {before} to {head}")
    else:
        console.print(f"the schema of {where} is up to date (revision {head})")


def dispatch(db: str = DatabaseOption, limit: int = typer.Option(10_000, min=1)) -> None:
    """Send what is due in the outbox once (the server does this continuously)."""
    app = bootstrap(load_settings(db))
    sent = dead = 0
    while True:
        stats = app.dispatcher.dispatch_once(min(limit - sent, 500))
        sent += stats.sent
        dead += stats.dead
        if stats.claimed == 0 or sent >= limit:
            break
    err.print(f"{sent} sent, {dead} dead-lettered")


def incidents(as_json: bool = typer.Option(False, "--json"), db: str = DatabaseOption) -> None:
    """Incidents: clusters of failures and monitoring alerts, with who was told."""
    store = _store(db)
    with store.engine.connect() as c:
        found = queries.list_incidents(c)
    if as_json:
        print_json(found)
        return
    table = Table(show_edge=False)
    # ids are pasted into `makegood incident ID`: never cut, whatever the width
    width = max((len(i["id"]) for i in found), default=2)
    table.add_column("id", no_wrap=True, min_width=width)
    for column in (
        "key",
        "status",
        "source",
        "declared",
        "resolved",
        "customers",
        "messages",
        "spent",
        "to declare",
        "to first message",
    ):
        table.add_column(column)
    for i in found:
        table.add_row(
            escape(i["id"]),
            escape(i["key"]),
            i["status"],
            i["source"],
            f"{i['declared_at']:%Y-%m-%d %H:%M}" if i["declared_at"] else "—",
            f"{i['resolved_at']:%Y-%m-%d %H:%M}" if i["resolved_at"] else "—",
            str(i["affected"]),
            str(i["messages"]),
            i["spent"],
            f"{(i['to_declare_s'] or 0) / 60:.1f} min",
            f"{(i['to_first_message_s'] or 0) / 60:.1f} min",
        )
    console.print(table)


def incident(
    incident_id: str, as_json: bool = typer.Option(False, "--json"), db: str = DatabaseOption
) -> None:
    """One incident with its timeline."""
    detail = _detail(db, queries.incident_detail, t.incidents, incident_id, as_json)
    if detail is None:
        return
    console.print(
        f"[bold]{escape(detail['id'])}[/bold] {escape(detail['key'])}: "
        f"[bold]{detail['status']}[/bold], {detail['affected']} customers told, "
        f"{detail['messages']} messages, {detail['spent']} spent"
    )
    console.print(_timeline(detail["timeline"][:200]))


def _timeline(entries: list[dict[str, Any]]) -> Table:
    """A timeline as a table: when, what, who, and the details (printed as plain text)."""
    table = Table(show_edge=False)
    for column in ("at", "what", "who", "details"):
        table.add_column(column)
    for entry in entries:
        details = ", ".join(f"{k}={v}" for k, v in entry["data"].items())
        table.add_row(
            f"{entry['at']:%Y-%m-%d %H:%M:%S}",
            entry["kind"],
            escape(entry["actor"]),
            escape(details),
        )
    return table


def _full_id(c: sa.Connection, table: sa.Table, ident: str) -> str:
    """`ident` if a row has that id, else the one id it is a prefix of (as a short id printed
    by a narrow table). Raises NotFound when it is the prefix of several ids."""
    if c.scalar(sa.select(table.c.id).where(table.c.id == ident)) is not None:
        return ident
    pattern = ident.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = list(
        c.scalars(sa.select(table.c.id).where(table.c.id.like(pattern, escape="\\")).limit(6))
    )
    if len(found) > 1:
        more = ", …" if len(found) > 5 else ""
        raise NotFound(f"{ident!r} is the start of several ids: {', '.join(found[:5])}{more}")
    return found[0] if found else ident


def _detail(
    db: str | None,
    read: Callable[[Any, str], dict[str, Any]],
    table: sa.Table,
    ident: str,
    as_json: bool,
) -> dict[str, Any] | None:
    """One record by id (or a prefix of one) through a read model; printed as JSON (and None
    returned) if asked."""
    try:
        with _store(db).engine.connect() as c:
            detail = read(c, _full_id(c, table, ident))
    except NotFound as error:
        raise fail(escape(str(error))) from None
    if as_json:
        print_json(detail)
        return None
    return detail
