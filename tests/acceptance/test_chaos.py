"""A short chaos campaign: `bench/chaos.py` with a few SIGKILLs, on SQLite and PostgreSQL.

The script kills `makegood serve`, `ingest` and `dispatch` at random moments while events come
in by file and over HTTP and messages go to a real SMTP server and webhook receiver on loopback,
then finishes everything and checks the store and the peers. The full campaign and its figures
are in docs/RELIABILITY.md; this keeps a short one in the suite: on SQLite at least 10 kills,
`serve` killed while it takes events over HTTP among them (issue 12); on PostgreSQL 3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHAOS = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"
POSTGRES = os.environ.get("MAKEGOOD_TEST_DATABASE_URL")


@pytest.mark.parametrize(
    "database",
    [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not POSTGRES, reason="set MAKEGOOD_TEST_DATABASE_URL to run on PostgreSQL"
            ),
        ),
    ],
)
def test_a_few_kills_lose_nothing_and_grant_nothing_twice(database: str) -> None:
    if database == "postgresql":
        args = ["--kills", "3", "--customers", "30", "--orders", "150", "--chunks", "2"]
        args += ["--max-delay", "1.0", "--seed", "3", "--json", "--database-url", str(POSTGRES)]
    else:  # issue 12: at least 10 kills, `serve` among them while it takes events over HTTP
        args = ["--kills", "12", "--customers", "60", "--orders", "600", "--chunks", "2"]
        args += ["--max-delay", "1.0", "--pace", "0.3", "--seed", "3", "--json"]
    done = subprocess.run(
        [sys.executable, str(CHAOS), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.stdout, done.stderr
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["kills"] >= (1 if database == "postgresql" else 10), figures
    if database == "sqlite":
        assert figures["kills of serve"] >= 2, figures
    # every event of the stream stored once, nothing else
    assert figures["stored"] == figures["events"] > 0, figures
    assert figures["missing"] == figures["unexpected"] == figures["stored twice"] == 0
    assert figures["quarantined"] == 0
    # every message sent and received (a duplicate is allowed: delivery is at least once)
    assert figures["messages"] > 0 and figures["sent"] == figures["messages"], figures
    assert figures["not received"] == 0, figures
    # no compensation charged twice, no budget exceeded
    assert figures["granted"] > 0, figures
    assert figures["budget counter off by"] == 0 and figures["overspend"] == 0, figures
    assert done.returncode == 0, done.stderr
