"""Connecting to SQLite or PostgreSQL, and migrating the schema with Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from makegood.adapters.jsontext import to_json

MIGRATIONS = Path(__file__).parent / "migrations"


def dumps(value: Any) -> str:
    return to_json(value)


WRITER = "makegood_writer"


def writer(engine: sa.Engine) -> sa.Engine:
    """The same engine (same pool) for transactions that write: on SQLite they begin with
    ``BEGIN IMMEDIATE`` (one writer at a time); plain connections only read and take no lock."""
    return engine.execution_options(**{WRITER: True})


def create_engine(url: str, schema: str | None = None) -> sa.Engine:
    """An engine for `url`. SQLite gets WAL, one writer at a time (`writer`) and readers that
    never wait for it; PostgreSQL may be given a `schema` (its search_path), so test runs do
    not collide."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            json_serializer=dumps,
            connect_args={"timeout": 30, "check_same_thread": False},
            hide_parameters=True,  # a row's values (e-mail, phone) never reach an error's text
        )

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # a store of hundreds of MB: the default 2 MB page cache and a checkpoint every
            # 4 MB of WAL made each batch's writes cost more as the store grew (measured:
            # 116k events in 55.6 s wall, 21.8 CPU-s; with these, 23.0 s and 15.3 CPU-s)
            cursor.execute("PRAGMA cache_size=-65536")  # KiB: 64 MiB per connection
            cursor.execute("PRAGMA mmap_size=268435456")  # reads through the OS page cache
            cursor.execute("PRAGMA wal_autocheckpoint=10000")  # pages: a checkpoint per 40 MB
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(connection: sa.Connection) -> None:
            # writers (see `writer`) take the write lock up front, so two never deadlock on
            # upgrading a read lock; readers take none and never wait for a writer (WAL)
            write = connection.get_execution_options().get(WRITER, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return sa.create_engine(
        url,
        json_serializer=dumps,
        connect_args=connect_args,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# the key of the advisory lock that makes PostgreSQL migrations take turns ("makegood")
MIGRATION_LOCK = 0x6D616B65676F6F64


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent). On PostgreSQL the migration holds a
    transaction-scoped advisory lock, so processes starting together on an empty database take
    turns: the first migrates, the others then find the schema at `revision`. (SQLite's
    ``BEGIN IMMEDIATE`` serializes them already.)"""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        command.upgrade(alembic_config(connection), revision)
