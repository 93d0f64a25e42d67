"""The recovery report as one self-contained HTML page: CSS inline, charts inline SVG, no script.

Every number shown is wrapped as ``<span data-figure="dotted.path" data-value="json">``, so a
test (or a reader with the JSON export) can check that the page says what the figures say.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from makegood.adapters.report import charts
from makegood.domain.event import jsonable

TEMPLATES = Path(__file__).parent / "templates"


def _fig(path: str, value: Any, text: str | None = None) -> Markup:
    shown = text if text is not None else ("–" if value is None else str(value))
    return Markup(  # noqa: S704 (path, value and text are escaped)
        f'<span data-figure="{escape(path)}" data-value="{escape(json.dumps(value))}">'
        f"{escape(shown)}</span>"
    )


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(fig=_fig, charts=charts, pct=pct, duration=duration)
    return env


def render(
    figures: dict[str, Any], *, title: str, currency: str, source: str, generated_at: datetime
) -> str:
    """The page for `figures` (as `recovery_metrics` returns them)."""
    data = jsonable(figures)
    return (
        _environment()
        .get_template("report.html")
        .render(
            f=data,
            title=title,
            currency=currency,
            source=source,
            generated_at=generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
