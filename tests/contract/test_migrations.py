"""All Alembic migrations applied give exactly the schema in `makegood.adapters.sql.schema`,
on SQLite and PostgreSQL; migrating again changes nothing."""

from __future__ import annotations

import pprint
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.command import downgrade
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from makegood.adapters.sql import schema as t
from makegood.adapters.sql.database import alembic_config

from .conftest import Database


def differences(store: Any) -> list[Any]:
    with store.engine.connect() as c:
        return list(compare_metadata(MigrationContext.configure(c), t.metadata))


def revision(store: Any) -> str | None:
    with store.engine.connect() as c:
        return MigrationContext.configure(c).get_current_revision()


def tables(store: Any) -> set[str]:
    return set(sa.inspect(store.engine).get_table_names())


def test_all_migrations_build_the_schema_of_the_metadata(database: Database) -> None:
    store = database.store(migrate=False)
    assert tables(store) == set()
    store.migrate()
    diff = differences(store)
    assert diff == [], "migrations and schema.py disagree:\n" + pprint.pformat(diff)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision(store) == head
    assert tables(store) == set(t.metadata.tables) | {"alembic_version"}


def test_migrating_twice_changes_nothing(database: Database) -> None:
    store = database.store()
    with store.session() as s:
        s.set_value("watermark", "kept")
    before = revision(store)
    store.migrate()
    assert revision(store) == before
    assert differences(store) == []
    with store.session() as s:
        assert s.get_value("watermark") == "kept"


def test_migrations_go_down_to_nothing_and_up_again(database: Database) -> None:
    store = database.store()
    with store.engine.begin() as c:
        downgrade(alembic_config(c), "base")
    assert tables(store) == {"alembic_version"}
    store.migrate()
    assert differences(store) == []
