"""What the CLI commands share: settings, the console, opening a store, errors as messages with
exit codes."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from rich.console import Console
from rich.markup import escape

from makegood.adapters.jsontext import to_json
from makegood.adapters.sql.database import alembic_config
from makegood.adapters.sql.store import SqlStore
from makegood.config import Settings, database_url, sqlite_path

# piped output (CI logs, files) gets room for the tables instead of 80 columns, unless $COLUMNS
# says how wide the reader is
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)
err = Console(stderr=True)

DEMO_DATABASE = "makegood-demo.db"
DatabaseOption = typer.Option(
    None,
    "--db",
    help="Database URL or SQLite file (default: $MAKEGOOD_DATABASE_URL or ./makegood.db)",
)


def settings(db: str | None = None) -> Settings:
    base = Settings.from_env(os.environ)
    return base.with_database(database_url(db)) if db else base


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def print_json(data: Any) -> None:
    typer.echo(to_json(data, indent=2))


def moment(text: str | None, option: str) -> datetime | None:
    """A `--since`/`--until` value: a date (midnight UTC) or an ISO 8601 date-time (UTC when
    it names no offset)."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise fail(escape(f"{option}: not a date or ISO 8601 date-time: {text!r}")) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


SinceOption = typer.Option(
    None,
    "--since",
    help="start of the window compared with the one before it (date or date-time, UTC); "
    "default: the latest window of up to 7 days with enough data",
)
UntilOption = typer.Option(None, "--until", help="end of that window (default: see --since)")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def revision_of(engine: sa.Engine) -> str | None:
    """The schema revision a database is at; None when it holds no makegood schema."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def open_store(config: Settings) -> SqlStore:
    """The store to read from. Raises `typer.Exit` (1) with one line when there is none: a
    missing SQLite file is not created, and a database without the current schema is not
    migrated (nor otherwise changed) by a command that only reads."""
    shown = shown_database(config.database_url)
    path = sqlite_path(config.database_url)
    if path is not None and not path.exists():
        hint = ""
        if Path(DEMO_DATABASE).exists() and path != Path(DEMO_DATABASE):
            hint = f"; the demo's store is {DEMO_DATABASE}: add --db {DEMO_DATABASE}"
        raise fail(
            f"no store at {escape(str(path))} (create one with `makegood ingest FILE` "
            f"or `makegood migrate`{hint})"
        )
    store = SqlStore(config.database_url, config.database_schema)
    # an SQLite file is looked at read-only: opening it as a store would switch it to WAL
    probe = (
        sa.create_engine(f"sqlite:///file:{path.resolve().as_posix()}?mode=ro&uri=true")
        if path is not None
        else store.engine
    )
    try:
        revision = revision_of(probe)
    except sa.exc.SQLAlchemyError as error:
        store.dispose()
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        raise fail(escape(f"cannot open the store at {shown}: {reason}")) from None
    finally:
        if probe is not store.engine:
            probe.dispose()
    head = head_revision()
    if revision != head:
        store.dispose()
        state = "holds no makegood schema" if revision is None else f"is at revision {revision}"
        raise fail(
            f"the store at {escape(shown)} {state}, this makegood needs {head}: "
            "run `makegood migrate` first"
        )
    return store


def shown_database(url: str) -> str:
    """A database URL as it may be printed: its file, or the URL without a password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('@', 1)[1]}" if "@" in rest else url
