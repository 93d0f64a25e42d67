from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .desk import Desk, make_desk
from .server import Server, make_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = make_server(Path(tmp_path_factory.mktemp("serve"))).start()
    yield running
    running.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    """The API and dashboard in-process on SQLite and on PostgreSQL, frozen clock."""
    with make_desk(request.param, tmp_path) as made:
        yield made
