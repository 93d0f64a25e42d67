"""Settings from the environment: a database given as a path is an SQLite URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from makegood.config import DEFAULT_DATABASE, Settings, database_url, sqlite_path


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("/srv/mg/x.db", "sqlite:////srv/mg/x.db"),
        ("x.db", "sqlite:///x.db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_makegood_database_url_takes_a_path_as_the_db_option_does(given: str, url: str) -> None:
    assert Settings.from_env({"MAKEGOOD_DATABASE_URL": given}).database_url == url
    assert database_url(given) == url


def test_the_file_behind_an_sqlite_url() -> None:
    assert sqlite_path(DEFAULT_DATABASE) == Path("makegood.db")
    assert sqlite_path("sqlite:////srv/mg/x.db") == Path("/srv/mg/x.db")
    assert sqlite_path("sqlite://") is None and sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql+psycopg://u@h/db") is None
