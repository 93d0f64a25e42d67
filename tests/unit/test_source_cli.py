"""`makegood source test NAME payload.json [--header K:V]`, through Typer's runner as
`entrypoints/cli.py` mounts it: the events a payload becomes, or why it does not map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from makegood.entrypoints.cli import app

runner = CliRunner()
SAMPLES = Path(__file__).parents[1] / "data" / "sources"


def payload_file(tmp_path: Path, name: str, **changes: object) -> Path:
    body = yaml.safe_load((SAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))["body"]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**body, **changes}), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def shipped_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAKEGOOD_POLICY", raising=False)


def test_prints_the_events_a_payload_becomes(tmp_path: Path) -> None:
    path = payload_file(tmp_path, "shopify_orders_create")
    result = runner.invoke(
        app, ["source", "test", "shopify", str(path), "--header", "X-Shopify-Topic: orders/create"]
    )
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)
    assert [e["type"] for e in events] == ["order.placed", "customer.upserted"]
    assert events[0]["occurred_at"] == "2022-01-01T00:00:00+00:00"


def test_a_payload_no_entry_applies_to_gives_no_event(tmp_path: Path) -> None:
    path = payload_file(tmp_path, "shopify_orders_create")
    result = runner.invoke(app, ["source", "test", "shopify", str(path)])  # no topic header
    assert result.exit_code == 0, result.output
    assert "no event" in result.stdout


def test_a_payload_that_does_not_map_says_why(tmp_path: Path) -> None:
    path = payload_file(tmp_path, "zendesk_comment_added", time="yesterday")
    result = runner.invoke(app, ["source", "test", "zendesk", str(path)])
    assert result.exit_code == 1
    assert "does not map" in result.output and "events[0].occurred_at" in result.output


def test_an_event_the_envelope_would_refuse_is_shown(tmp_path: Path) -> None:
    path = payload_file(tmp_path, "statuspage_component_update", component={"name": "  "})
    result = runner.invoke(app, ["source", "test", "statuspage", str(path)])
    assert result.exit_code == 1
    assert "event 0 would be refused" in result.output and "attributes.area" in result.output


def test_unknown_source_and_bad_header(tmp_path: Path) -> None:
    path = payload_file(tmp_path, "shopify_orders_create")
    unknown = runner.invoke(app, ["source", "test", "nobody", str(path)])
    assert unknown.exit_code == 1
    assert "shopify, statuspage, zendesk" in " ".join(unknown.output.split())
    bad = runner.invoke(app, ["source", "test", "shopify", str(path), "-H", "no-colon"])
    assert bad.exit_code == 1 and "Name:value" in bad.output
