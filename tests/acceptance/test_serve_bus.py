"""`makegood serve --bus` (issue 13): the API publishes events to JetStream and sends people's
actions to the worker owning the customer's partition; the worker decides. Real processes:
PostgreSQL, NATS, a `makegood worker`, a `makegood serve --bus`."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from makegood.adapters.sql.auth import create_token
from makegood.adapters.sql.store import SqlStore

from .cluster import MAKEGOOD, Cluster, cluster, owners

pytestmark = pytest.mark.postgres
WAIT_S = 3.0  # the actions' wait (10 s by default): a refused wait is measured in the test


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def case_events(customer: str) -> list[dict[str, Any]]:
    """A profile and an order the business cancelled: a critical case waiting for a person."""
    return [
        {
            "id": f"{customer}-profile",
            "type": "customer.upserted",
            "occurred_at": now_iso(),
            "customer_id": customer,
            "attributes": {"name": f"Name {customer}", "email": f"{customer}@example.com"},
        },
        {
            "id": f"{customer}-cancel",
            "type": "order.cancelled",
            "occurred_at": now_iso(),
            "customer_id": customer,
            "subject_id": f"{customer}-o1",
            "attributes": {"by": "business"},
        },
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    def __init__(self, made: Cluster, port: int) -> None:
        self.made, self.port = made, port
        store = SqlStore(made.db, made.schema)
        self.tokens = {
            role: create_token(store.engine, role, f"{role}-1", datetime.now(UTC))[1]
            for role in ("ingest", "agent", "lead")
        }
        store.dispose()
        env = {**made.env, "MAKEGOOD_SECRET": "test-secret-for-serve-bus"}
        with (made.folder / "serve.log").open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(MAKEGOOD),
                    "serve",
                    "--port",
                    str(port),
                    "--bus",
                    made.bus,
                    "--action-wait",
                    str(WAIT_S),
                ],
                cwd=made.folder,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError((made.folder / "serve.log").read_text()[-3000:])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, role: str) -> httpx.Client:
        auth = {"Authorization": f"Bearer {self.tokens[role]}"}
        return httpx.Client(base_url=self.url, headers=auth, timeout=30)

    def case_of(self, customer: str, timeout: float = 30) -> str:
        """The customer's case, once a worker decided it."""
        with self.client("agent") as agent:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                items = agent.get("/v1/cases", params={"customer_id": customer}).json()["items"]
                if items:
                    return str(items[0]["id"])
                time.sleep(0.2)
        raise AssertionError(f"no case for {customer} within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def bus_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Api]]:
    """One cluster for the module (process starts take seconds on a busy machine): each test
    works on customers of its own and counts the worker's figures from where it started; the
    test that stops the worker comes last."""
    with cluster(tmp_path_factory.mktemp("bus")) as made:
        made.metrics_port = free_port()
        made.start("w1", "--port", made.metrics_port)
        made.wait(lambda rows: owners(rows) == {"w1": 32}, 60)
        api = Api(made, free_port())
        try:
            yield made, api
        finally:
            api.stop()


def test_events_posted_to_serve_bus_are_decided_by_the_worker(
    bus_api: tuple[Cluster, Api],
) -> None:
    made, api = bus_api
    before = worker_figures(made)
    events = case_events("c1")
    with api.client("ingest") as ingest:
        first = ingest.post("/v1/events", json=events)
        assert first.status_code == 200, first.text
        assert [r["status"] for r in first.json()["results"]] == ["accepted", "accepted"]
        # the stream's duplicate window answers a retry before any worker appended it
        again = ingest.post("/v1/events", json=events).json()
        assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
        bad = ingest.post("/v1/events", json={**events[0], "id": "c1-bad", "type": ""})
        assert bad.status_code == 422 and bad.json()["results"][0]["status"] == "rejected"
    case_id = api.case_of("c1")
    with api.client("ingest") as ingest:  # now the log has them: the store answers too
        stored = ingest.post("/v1/events", json=events[1]).json()
        assert stored["results"][0]["status"] == "duplicate"
        other = {**events[1], "subject_id": "c1-o2"}
        assert ingest.post("/v1/events", json=other).status_code == 409
    engine = made.engine()
    with engine.connect() as c:
        logged = (
            c.exec_driver_sql("SELECT id FROM events WHERE customer_id = 'c1' ORDER BY seq")
            .scalars()
            .all()
        )
        opened = (
            c.exec_driver_sql("SELECT customer_id FROM cases WHERE customer_id = 'c1'")
            .scalars()
            .all()
        )
        refused = (
            c.exec_driver_sql("SELECT reason FROM quarantine WHERE event_id LIKE 'c1-%%'")
            .scalars()
            .all()
        )
    engine.dispose()
    # appended by the worker only (serve published them), the rejected one never published
    assert logged == ["c1-profile", "c1-cancel"] and opened == ["c1"] and case_id
    assert len(refused) == 2  # the invalid event and the conflict, kept with their reasons
    # the worker appended both (serve decides nothing), and saw no duplicate: the stream and
    # the store answered those
    after = worker_figures(made)
    appended = after["events_appended"] - before["events_appended"]
    assert appended == 2 and after["events_duplicate"] == before["events_duplicate"], after


def worker_figures(made: Cluster) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{made.metrics_port}/metrics", timeout=10).text
    return {
        line.split("{")[0].removeprefix("makegood_worker_").removesuffix("_total"): float(
            line.rsplit(" ", 1)[1]
        )
        for line in text.splitlines()
        if line.startswith("makegood_worker_")
    }


def test_a_grant_through_serve_bus_is_decided_by_the_worker_and_refused_past_the_wait(
    bus_api: tuple[Cluster, Api],
) -> None:
    made, api = bus_api
    before = worker_figures(made)["commands"]
    with api.client("ingest") as ingest:
        assert ingest.post("/v1/events", json=case_events("c2")).status_code == 200
    case_id = api.case_of("c2")
    url = f"/v1/cases/{case_id}/compensations"
    with api.client("agent") as agent:
        grant = {"kind": "voucher", "amount": "5", "reason": "sorry", "idempotency_key": "k1"}
        granted = agent.post(url, json=grant)
        assert granted.status_code == 201, granted.text
        assert granted.json()["status"] == "granted" and granted.json()["decided_by"] == "agent-1"
        assert agent.post(url, json=grant).json()["id"] == granted.json()["id"]  # idempotent
        too_much = agent.post(url, json={"kind": "voucher", "amount": "5000", "reason": "x"})
        assert too_much.status_code == 409 and "budget" in too_much.text.lower()
        noted = agent.post(f"/v1/cases/{case_id}/notes", json={"text": "called"})
        assert noted.status_code == 200, noted.text
        assert agent.post("/v1/cases/case-nope/notes", json={"text": "x"}).status_code == 404
        # grant (twice), the refused one and the note: decided by the worker
        assert worker_figures(made)["commands"] - before == 4
        # no worker owns the partition: the API waits its bound and answers 503
        assert made.stop("w1") == 0
        started = time.monotonic()
        late = agent.post(url, json={**grant, "amount": "6", "idempotency_key": "k2"})
        waited = time.monotonic() - started
        assert late.status_code == 503, late.text
        assert WAIT_S <= waited < WAIT_S + 5
        # a worker taking the partition later drops the expired command: never applied
        # behind the person's back (the note after it is answered, so it was read past)
        made.start("w2")
        made.wait(lambda rows: owners(rows) == {"w2": 32}, 60)
        after = agent.post(f"/v1/cases/{case_id}/notes", json={"text": "again"})
        assert after.status_code == 200, after.text
    engine = made.engine()
    with engine.connect() as c:
        amounts = c.exec_driver_sql(
            "SELECT amount FROM compensations WHERE case_id = %(c)s AND key LIKE 'manual:%%'",
            {"c": case_id},
        ).scalars()
        found = sorted(str(a) for a in amounts)
    engine.dispose()
    assert found == ["5.00"] or found == ["5"], found
    assert "expired" in made.log("w2")
