"""`makegood policy check FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from makegood.adapters.policy_file import check_policy, read_policy_text
from makegood.adapters.renderer import shipped_templates
from makegood.adapters.templates import TemplateRenderer
from makegood.domain.errors import PolicyError
from makegood.domain.policy import PolicyErrors
from makegood.entrypoints.cli_common import console, err, fail

app = typer.Typer(help="Write and check recovery policies.", no_args_is_help=True)

SAMPLE: dict[str, Any] = {
    "customer": {"name": "Ana", "locale": "en", "tier": "gold"},
    "case": {"id": "case-1", "category": "late_delivery", "severity": "major"},
    "failure": {
        "category": "late_delivery",
        "type": "process",
        "severity": "major",
        "lateness_minutes": 35,
        "evidence": {},
    },
    "order": {"id": "o-1", "value": "24.50", "currency": "EUR"},
    "compensation": {
        "kind": "voucher",
        "amount": "5.00",
        "currency": "EUR",
        "code": "MG-7KQ4-X9PW-2MDT",
        "expires_at": "2026-12-31T00:00:00+00:00",
    },
    "survey_url": "http://127.0.0.1:8000/s/token",
    "business": {"name": "Fresh Bites", "support_email": "help@example.com"},
    # what a tone's variant templates gain (domain/tone.py)
    "tone": "personal",
    "signature": {"name": "Marta Silva", "title": "Head of Customer Care"},
}


LOCALES = ("en", "pt")
TemplatesOption = typer.Option(
    None,
    "--templates",
    exists=True,
    file_okay=False,
    readable=True,
    help="A folder of templates (<locale>/<name>.txt …) that overrides the shipped ones",
)


def renderer_for(templates: Path | None) -> TemplateRenderer:
    """The business's templates first, the shipped ones behind them."""
    return TemplateRenderer([*([templates] if templates else []), shipped_templates()])


@app.command("check")
def check(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    templates: Path | None = TemplatesOption,
) -> None:
    """Validate a policy: its shape, every expression, and every template it names. Reports
    every problem (with its line), and warns on names no event type declares."""
    try:
        policy, warnings = check_policy(read_policy_text(file), str(file))
    except PolicyErrors as errors:
        raise fail(_listing(file, errors.problems)) from None
    except PolicyError as error:
        raise fail(_listing(file, [error])) from None
    # "compensation" is not named by a step: the engine sends it when a grant is approved
    names = sorted(
        {
            s.spec.template or s.spec.do
            for p in policy.playbooks
            for s in p.steps
            if s.spec.do in ("acknowledge", "apologise")
        }
        | {policy.policy.follow_up.template, "compensation"}
        | {variant for tone in policy.tones for variant in tone.spec.templates.values()}
    )
    renderer = renderer_for(templates)
    unknown = renderer.unknown_variables(names, LOCALES, SAMPLE)
    problems = [str(error) for error in unknown]
    flagged = {(error.name, error.locale) for error in unknown}  # rendering would say it again
    for locale in LOCALES:
        problems += renderer.check(
            [n for n in names if (n, renderer.resolve_locale(n, locale)) not in flagged],
            [locale],
            SAMPLE,
        )
    for warning in warnings:
        err.print(f"[yellow]warning[/yellow] {escape(f'{file}: {warning}')}")
    if problems:
        raise fail("\n".join(escape(f"{file}: {problem}") for problem in problems))
    console.print(
        f"[green]ok[/green] {escape(str(file))}: {len(policy.detectors)} detectors, "
        f"{len(policy.playbooks)} playbooks, templates {', '.join(names)}"
        + (f"; {len(warnings)} warning(s)" if warnings else "")
    )


def _listing(file: Path, problems: list[PolicyError]) -> str:
    count = f"{len(problems)} problems:\n" if len(problems) > 1 else ""
    return count + "\n".join(escape(f"{file}: {problem}") for problem in problems)
