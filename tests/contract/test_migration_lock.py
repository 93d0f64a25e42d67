"""Four processes starting on an empty PostgreSQL database do not race the migration
(issue 11, point 6): an advisory lock makes them take turns."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from makegood.adapters.sql.database import alembic_config

from .conftest import Database

pytestmark = pytest.mark.postgres

MIGRATE = """
import sys
from makegood.adapters.sql.store import SqlStore
sys.stdin.readline()  # released together
store = SqlStore(sys.argv[1], schema=sys.argv[2])
store.migrate()
store.dispose()
"""


def test_four_processes_migrate_an_empty_database_together(postgres_database: Database) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, postgres_database.url, str(postgres_database.schema)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:  # each has imported makegood and waits on its stdin
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    errors = []
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        if process.returncode != 0:
            errors.append(stderr[-2000:])
    assert errors == []
    store = postgres_database.store(migrate=False)
    with store.engine.connect() as c:
        version = c.scalar(sa.text("SELECT version_num FROM alembic_version"))
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
