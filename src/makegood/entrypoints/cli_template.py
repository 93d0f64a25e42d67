"""`makegood template list` and `makegood template preview NAME [--locale pt]`.

A preview renders with the sample context `policy check` uses (`cli_policy.SAMPLE`) plus an
incident (what incident notices carry), its customer speaking the asked locale, so what is
printed is what a customer would read, for every shipped template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from makegood.adapters.templates import TemplateError
from makegood.entrypoints.cli_common import console, fail, print_json
from makegood.entrypoints.cli_policy import SAMPLE, TemplatesOption, renderer_for

app = typer.Typer(help="List and preview message templates.", no_args_is_help=True)
# what `domain.incident` adds to the context of `incident` and `incident_resolved` notices
SAMPLE_INCIDENT: dict[str, Any] = {
    "id": "inc-1",
    "key": "Centro",
    "name": "area_delays",
    "declared_at": "2026-11-02T19:04:00+00:00",
    "resolved_at": "2026-11-02T19:46:00+00:00",
}


# what a person's reply (`domain.reply`) adds to the context of `reply` and `reply_*` macros
SAMPLE_REPLY: dict[str, Any] = {"text": "I will call you at 3 pm.", "by": "Alice"}


def sample_context(locale: str) -> dict[str, Any]:
    """A context in which every shipped template renders, for a customer speaking `locale`."""
    return {
        **SAMPLE,
        "customer": {**SAMPLE["customer"], "locale": locale},
        "incident": SAMPLE_INCIDENT,
        "reply": SAMPLE_REPLY,
    }


@app.command("list")
def list_templates(
    templates: Path | None = TemplatesOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The templates there are, and the locales each is written in."""
    found = renderer_for(templates).templates()
    if as_json:
        print_json(found)
        return
    for name, locales in found.items():
        console.print(f"{escape(name)}  {escape(', '.join(locales))}", highlight=False)


@app.command("preview")
def preview(
    name: str = typer.Argument(..., help="The template's name, e.g. apology"),
    locale: str = typer.Option("en", "--locale", help="en, pt, pt_BR …; falls back to en"),
    html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text"),
    templates: Path | None = TemplatesOption,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Render a template with sample data, as a customer speaking LOCALE would receive it."""
    renderer = renderer_for(templates)
    try:
        rendered = renderer.preview(name, locale, sample_context(locale))
    except TemplateError as error:
        raise fail(escape(str(error))) from None
    used = renderer.resolve_locale(name, locale)
    if as_json:
        print_json(
            {
                "name": name,
                "locale": used,
                "subject": rendered.subject,
                "text": rendered.text,
                "html": rendered.html,
            }
        )
        return
    if html and rendered.html is None:
        raise fail(escape(f"template {name!r} ({used}) has no HTML part"))
    # the output is the message itself: never Rich markup, never wrapped
    body = rendered.html if html and rendered.html is not None else rendered.text
    typer.echo(f"Subject: {rendered.subject}\n\n{body.rstrip()}")
