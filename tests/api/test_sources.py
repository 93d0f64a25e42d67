"""Webhook sources over a real `makegood serve` process: a helpdesk's signed webhook opens a
case, with no bearer token; a forged one is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from makegood.adapters.policy_file import load_policy
from makegood.adapters.source_auth import sign

from .server import Server, acted_on, make_server

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).parents[1] / "data" / "sources"
SECRET = "zendesk-secret-for-the-api-suite"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    made = make_server(Path(tmp_path_factory.mktemp("serve-sources")))
    made.env["ZENDESK_WEBHOOK_SECRET"] = SECRET
    running = made.start()
    yield running
    running.stop()


def zendesk_comment() -> bytes:
    data = yaml.safe_load((SAMPLES / "zendesk_comment_added.yaml").read_text(encoding="utf-8"))
    data["body"]["time"] = datetime.now(UTC).isoformat()
    return json.dumps(data["body"]).encode()


def test_a_signed_helpdesk_comment_opens_a_case(server: Server) -> None:
    source = load_policy().source("zendesk")
    assert source is not None
    body = zendesk_comment()
    headers = sign(source, SECRET, body, datetime.now(UTC)) | {"Content-Type": "application/json"}
    with server.client(None) as anonymous:
        forged = anonymous.post("/v1/sources/zendesk", content=body + b" ", headers=headers)
        assert forged.status_code == 401
        response = anonymous.post("/v1/sources/zendesk", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1
        assert anonymous.post("/v1/sources/statuspage", content=b"{}").status_code == 401
    with server.client("agent") as agent:
        cases = acted_on(
            lambda: agent.get("/v1/cases", params={"customer_id": "zendesk:8447388090494"}).json()[
                "items"
            ]
        )
    # the text analysis names the failure: "arrived cold and an hour late"
    assert [case["category"] for case in cases] == ["late_delivery"]
