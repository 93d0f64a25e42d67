"""`makegood report` (the recovery report) and `makegood replay` (a policy backtest)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from makegood.adapters.event_file import file_format, read_lines
from makegood.adapters.policy_file import load_policy
from makegood.adapters.report import export, html
from makegood.adapters.sql.metric_window import lasting
from makegood.adapters.sql.metrics import MetricSettings, recovery_metrics
from makegood.adapters.text.model_card import head_path, text_model
from makegood.bootstrap import default_analyzer
from makegood.domain.errors import PolicyError
from makegood.domain.event import jsonable
from makegood.domain.rules import CompiledPolicy
from makegood.entrypoints.cli_common import (
    DatabaseOption,
    SinceOption,
    UntilOption,
    console,
    err,
    fail,
    moment,
    open_store,
    shown_database,
)
from makegood.entrypoints.cli_common import settings as load_settings
from makegood.service_layer import replay as backtest


def metric_settings(
    policy: CompiledPolicy,
    repurchase_types: list[str],
    keys: list[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> MetricSettings:
    """The report's settings from the policy: budget, repurchase window, survey thresholds,
    each experiment's control (its first declared arm), the business's own rating scales and
    the categories its deadline detectors give (lateness); and the window asked for."""
    p = policy.policy
    controls = {
        step.experiment: step.arms[0].name
        for playbook in p.playbooks
        for step in playbook.steps
        if step.experiment and step.arms
    }
    return MetricSettings(
        budget_per_day=p.budgets.global_per_day,
        repurchase_window=policy.repurchase_window,
        satisfied_at=p.follow_up.close_at_or_above if p.follow_up.survey == "csat" else 4,
        keys=tuple(keys) or None,
        repurchase_types=tuple(repurchase_types),
        controls=controls,
        since=since,
        until=until,
        reviews=p.reviews,
        late_categories=tuple(
            sorted(
                {
                    d.failure.category
                    for d in p.detectors
                    if d.kind == "deadline" and d.failure is not None
                }
            )
        ),
    )


def report(
    db: str = DatabaseOption,
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="file to write (default: makegood-report.html; JSON and CSV go to stdout)",
    ),
    fmt: str = typer.Option("html", "--format", help="html, json or csv"),
    policy_file: Path = typer.Option(
        None,
        "--policy",
        exists=True,
        dir_okay=False,
        help="policy for budget and windows (default: $MAKEGOOD_POLICY or the shipped one)",
    ),
    purchase_type: list[str] = typer.Option(
        ["purchase"], "--purchase-type", help="event types that count as buying again"
    ),
    key: list[str] = typer.Option(
        [],
        "--key",
        help="attribute for Pareto tables and hot "
        "spots (repeatable; default: discovered, e.g. area)",
    ),
    title: str = typer.Option("Recovery report", help="the page's title"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    since: str = SinceOption,
    until: str = UntilOption,
) -> None:
    """The recovery report: one self-contained HTML page, or its figures as JSON or CSV."""
    if fmt not in ("html", "json", "csv"):
        raise fail("--format must be html, json or csv")
    window = (moment(since, "--since"), moment(until, "--until"))
    settings = load_settings(db)
    try:
        policy = load_policy(policy_file or settings.policy)
    except PolicyError as error:
        raise fail(escape(str(error))) from None
    store = open_store(settings)
    with Progress(
        TextColumn("[bold]report[/bold] {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
    ) as bar:
        task = bar.add_task("reading", total=1.0)
        try:
            with store.engine.connect() as connection:
                figures = recovery_metrics(
                    connection,
                    metric_settings(policy, purchase_type, key, *window),
                    lambda name, share: bar.update(task, completed=share, description=name),
                )
        except ValueError as error:
            raise fail(escape(str(error))) from None
        finally:
            store.dispose()
    figures["text_model"] = text_model(
        head_path(policy.policy.text, policy_file or settings.policy)
    )
    if fmt == "html":
        page = html.render(
            figures,
            title=title,
            currency=policy.policy.business.currency,
            source=shown_database(settings.database_url),
            generated_at=datetime.now(UTC),
        )
        target = out or Path("makegood-report.html")
        target.write_text(page, encoding="utf-8")
        if not quiet:
            console.print(f"wrote {target} ({len(page) // 1024} KiB)")
            console.print(window_line(figures["window"]), highlight=False, soft_wrap=True)
        return
    text = export.to_json(figures) if fmt == "json" else export.to_csv(figures)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


def window_line(window: dict[str, Any] | None) -> str:
    """Which window the comparisons used, and why, in one line."""
    if window is None:
        return "window: none (too little data to compare two windows)"
    length = lasting(window["length_s"])
    return (
        f"window: {window['since']:%Y-%m-%d %H:%M} to {window['until']:%Y-%m-%d %H:%M} UTC "
        f"({length}) against the {length} before; {window['reason']}"
    )


def show_changes(change: dict[str, Any]) -> None:
    """The summary's "what changed": the window, and failures in it against the one before."""
    console.rule("[bold]What changed")
    console.print(window_line(change["window"]), highlight=False, soft_wrap=True)
    if change["window"] is None:
        return
    table = Table(show_edge=False)
    for column in ("category", "in the window", "window before", "change"):
        table.add_column(column, justify="left" if column == "category" else "right")
    rows = [{"category": "all failures", **change["failures"]}, *change["by_category"]]
    for row in rows:
        shown = "new" if row["change"] is None else f"{100 * row['change']:+.0f} %"
        table.add_row(escape(row["category"]), str(row["now"]), str(row["before"]), shown)
    console.print(table)


def _events(path: Path) -> list[Any]:
    raws: list[Any] = []
    with path.open(encoding="utf-8", newline="") as stream:
        for line in read_lines(stream, file_format(path)):
            if line.error is not None:
                raise fail(f"{path}:{line.number}: {escape(line.error)}")
            raws.append(line.raw)
    return raws


def _run(
    name: str, raws: list[Any], policy: CompiledPolicy, batch_size: int, quiet: bool
) -> backtest.ReplayResult:
    with Progress(
        TextColumn(f"[bold]replay[/bold] {name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
    ) as bar:
        task = bar.add_task(name, total=len(raws))
        return backtest.replay(
            raws,
            policy,
            analyzer=default_analyzer(policy),
            batch_size=batch_size,
            progress=lambda done: bar.update(task, completed=done),
        )


def replay(
    events: Path = typer.Option(
        ..., "--events", exists=True, dir_okay=False, help="history to replay (JSONL or CSV)"
    ),
    candidate: Path = typer.Option(
        ..., "--policy", exists=True, dir_okay=False, help="the candidate policy"
    ),
    baseline: Path = typer.Option(
        None,
        "--baseline",
        exists=True,
        dir_okay=False,
        help="the current policy (default: $MAKEGOOD_POLICY or the shipped one)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
    batch_size: int = typer.Option(5000, min=1, max=100_000),
) -> None:
    """Backtest: replay a history under a candidate policy and the current one, sending
    nothing, and compare what each would have detected, sent and spent."""
    try:
        policies = (load_policy(baseline or load_settings(None).policy), load_policy(candidate))
    except PolicyError as error:
        raise fail(escape(str(error))) from None
    raws = _events(events)
    base = _run("baseline", raws, policies[0], batch_size, as_json)
    cand = _run("candidate", raws, policies[1], batch_size, as_json)
    rows = backtest.compare(base.figures, cand.figures)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "events": len(raws),
                    "accepted": cand.accepted,
                    "rejected": cand.rejected,
                    "seconds": {
                        "baseline": round(base.seconds, 3),
                        "candidate": round(cand.seconds, 3),
                    },
                    "cpu_seconds": {
                        "baseline": round(base.cpu_seconds, 3),
                        "candidate": round(cand.cpu_seconds, 3),
                    },
                    "baseline": jsonable(base.figures),
                    "candidate": jsonable(cand.figures),
                    "rows": jsonable(rows),
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table(title=f"{events.name}: {len(raws):,} events, {cand.rejected} rejected")
    for column in ("figure", "baseline", "candidate", "difference"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for row in rows:
        diff = row["difference"]
        shown = f"{diff:+}" if diff else "·"
        colour = "green" if diff and diff < 0 else "yellow" if diff else "dim"
        table.add_row(
            row["figure"],
            str(row["baseline"]),
            str(row["candidate"]),
            f"[{colour}]{shown}[/{colour}]",
        )
    console.print(table)
    speed = len(raws) / max(base.seconds + cand.seconds, 1e-9) * 2
    cpu = base.cpu_seconds + cand.cpu_seconds
    console.print(
        f"replayed twice in {base.seconds + cand.seconds:.1f} s, {cpu:.1f} CPU-s "
        f"({speed:,.0f} events/s); nothing was sent. Spend in "
        f"{policies[1].policy.business.currency}."
    )


__all__ = ["metric_settings", "replay", "report", "show_changes", "window_line"]
