"""`makegood source test NAME payload.json [--header K:V ...]`: what a webhook payload becomes.

Maps the payload with the policy's `sources:` entry and validates each event as ingestion
would; nothing is stored and no signature is checked (the payload is the business's own file).
Exit code 0 when it maps (zero events included), 1 when it does not or an event is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from makegood.adapters.policy_file import load_policy
from makegood.domain.errors import PolicyError
from makegood.domain.event import Rejection, event_to_json, parse_event
from makegood.domain.source import map_payload
from makegood.entrypoints.cli_common import console, fail, print_json
from makegood.entrypoints.cli_common import settings as load_settings

app = typer.Typer(help="Webhook sources the policy maps to events.", no_args_is_help=True)

PolicyOption = typer.Option(
    None, "--policy", help="Policy file (default: $MAKEGOOD_POLICY or the shipped one)"
)
HeaderOption = typer.Option(
    [], "--header", "-H", help="A request header, as Name:value (repeatable)"
)


def _headers(pairs: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for pair in pairs:
        name, colon, value = pair.partition(":")
        if not colon or not name.strip():
            raise fail(escape(f"--header {pair!r}: write it as Name:value"))
        headers[name.strip().lower()] = value.strip()
    return headers


@app.command("test")
def test(
    name: str = typer.Argument(..., help="The source's name under `sources:`"),
    payload: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    header: list[str] = HeaderOption,
    policy: Path | None = PolicyOption,
) -> None:
    """Print the events a payload becomes (or why it does not map), storing nothing."""
    try:
        compiled = load_policy(policy or load_settings().policy)
    except PolicyError as error:
        raise fail(escape(str(error))) from None
    source = compiled.source(name)
    if source is None:
        known = ", ".join(s.name for s in compiled.sources) or "none"
        raise fail(escape(f"no source named {name!r} in the policy (sources: {known})"))
    try:
        body = json.loads(payload.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise fail(escape(f"{payload}: not valid JSON")) from None
    mapped = map_payload(source, body, _headers(header))
    if isinstance(mapped, Rejection):
        raise fail(escape(f"does not map: {mapped}"))
    events = [parse_event(raw) for raw in mapped]
    refused = [(i, e) for i, e in enumerate(events) if isinstance(e, Rejection)]
    print_json(
        [
            raw if isinstance(e, Rejection) else event_to_json(e)
            for raw, e in zip(mapped, events, strict=True)
        ]
    )
    if not mapped:
        console.print(f"no event: no entry of {escape(name)}'s mapping applies to this payload")
    for index, rejection in refused:
        console.print(f"[red]event {index} would be refused:[/red] {escape(str(rejection))}")
    if refused:
        raise typer.Exit(1)
