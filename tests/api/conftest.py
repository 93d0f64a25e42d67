from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import Server, make_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = make_server(Path(tmp_path_factory.mktemp("serve"))).start()
    yield running
    running.stop()
