"""`makegood demo`: a simulated food-delivery business fails its customers; makegood recovers
them, in simulated time, on the embedded SQLite store, and prints what happened."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from makegood.adapters.sql import queries
from makegood.entrypoints.cli_common import console, err, print_json
from makegood.entrypoints.demo.driver import run_demo
from makegood.entrypoints.demo.personal import personal_figures, show_personal
from makegood.entrypoints.demo.simulator import SimulationSettings
from makegood.entrypoints.summary_view import show_summary


def demo(
    db: Path = typer.Option(Path("makegood-demo.db"), "--db", help="SQLite file to (re)create"),
    seed: int = typer.Option(7, help="the simulation's seed: same seed, same day"),
    customers: int = typer.Option(3000, min=10),
    orders: int = typer.Option(20000, min=10),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Run a simulated day of a food-delivery business through makegood."""
    settings = SimulationSettings(seed=seed, customers=customers, orders=orders)
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]simulating a day"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=as_json or not err.is_terminal,
    ) as bar:
        task = bar.add_task("day", total=1.0)
        result = run_demo(db, settings, lambda share: bar.update(task, completed=share))
    elapsed = time.perf_counter() - started
    app = result.app
    with app.store.engine.connect() as connection:
        figures = queries.summary(connection, app.policy.policy.budgets.global_per_day)
        figures["personal"] = personal_figures(connection, app.policy)
    figures["run"] = {"events": result.events, "seconds": round(elapsed, 1), "seed": seed}
    if as_json:
        print_json(figures)
        return
    console.print(
        f"[bold]makegood demo[/bold]: {settings.customers:,} customers, "
        f"{settings.orders:,} orders over {settings.hours} hours, "
        f"{result.events:,} events, simulated in {elapsed:.1f} s"
    )
    show_summary(console, figures, app.policy.policy.business.currency)
    show_personal(console, figures["personal"], app.policy.policy.business.currency)
    console.print(f"\nMessages makegood sent: {result.outbox_file}", highlight=False)
    console.print(
        "Browse the store (every command reads $MAKEGOOD_DATABASE_URL):\n"
        f"  export MAKEGOOD_DATABASE_URL={shlex.quote(str(db))}\n"
        "  makegood summary  ·  makegood cases  ·  makegood case ID  ·  makegood incidents  ·  "
        "makegood report",
        highlight=False,
        soft_wrap=True,
    )
