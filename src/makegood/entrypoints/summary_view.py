"""The summary as Rich tables: what was detected, done, spent and learned."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _counts(title: str, counts: dict[str, Any], total: int | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("")
    table.add_column("count", justify="right")
    if total:
        table.add_column("share", justify="right")
    for key, value in counts.items():
        cells = [str(key), str(value)]
        if total:
            cells.append(f"{100 * int(value) / total:.0f} %")
        table.add_row(*cells)
    return table


def _side_by_side(console: Console, *tables: Table) -> None:
    """Tables in a row where the terminal is wide enough, one under another where not."""
    if console.width >= 110:
        grid = Table.grid(padding=(0, 4))
        grid.add_row(*tables)
        console.print(grid)
    else:
        for table in tables:
            console.print(table)


def _shares(shares: dict[str, int], total: int) -> str:
    def pct(n: int) -> str:
        return f"{100 * n / total:.0f} %" if total else "—"

    return (
        f"of {total:,} cases: [bold]{pct(shares['recovered_automatically'])}[/bold] recovered "
        f"automatically, [bold]{pct(shares['escalated'])}[/bold] escalated to a person "
        f"({pct(shares['waiting_for_a_person'])} still waiting), "
        f"{pct(shares['in_progress'])} in progress"
    )


def show_summary(console: Console, s: dict[str, Any], currency: str = "EUR") -> None:
    failures = s["failures"]
    console.rule("[bold]What makegood detected")
    console.print(
        f"{s['events']:,} events processed, {s['quarantined']} quarantined; "
        f"[bold]{failures['total']:,} failures[/bold] in {s['cases']['total']:,} cases"
    )
    _side_by_side(
        console,
        _counts("by type", failures["by_type"], failures["total"]),
        _counts("by category", failures["by_category"], failures["total"]),
        _counts("by severity", failures["by_severity"], failures["total"]),
    )

    for incident in s.get("incidents", []):
        resolved = incident["resolved_at"]
        console.print(
            f"incident in [bold]{escape(incident['key'])}[/bold] ({incident['source']}): declared "
            f"{incident['declared_at']:%H:%M}, resolved "
            f"{f'{resolved:%H:%M}' if resolved else '—'}, {incident['customers']} customers told"
            + (
                f", {incident['messages']} notices sent (they pass the daily message cap)"
                if "messages" in incident
                else ""
            )
        )

    console.rule("[bold]What it did")
    actions = s["actions"]
    _side_by_side(
        console,
        _counts("messages by template", actions["messages_by_template"]),
        _counts("cases by state", s["cases"]["by_state"]),
    )
    console.print(
        f"compensations granted: [bold]{actions['compensations_granted']}[/bold] "
        + ", ".join(f"{k} {v} {currency}" for k, v in actions["compensations_by_kind"].items())
    )
    shares = s["cases"].get("shares")
    if shares:
        console.print(_shares(shares, s["cases"]["total"]))
    console.print(
        f"waiting for a person: [bold]{s['cases']['waiting_for_a_person']}[/bold] "
        f"cases; approvals waiting: [bold]{s['approvals']['waiting']}[/bold] "
        f"({s['approvals']['amount']} {currency}, by role "
        f"{s['approvals']['by_role'] or '—'})"
    )

    console.rule("[bold]What it spent")
    spend = s["spend"]
    table = Table(show_edge=False)
    table.add_column("day")
    table.add_column("granted", justify="right")
    table.add_column("global budget", justify="right")
    table.add_column("used", justify="right")
    for day, amount in spend["by_day"].items():
        used = 100 * float(amount) / float(spend["budget_per_day"])
        table.add_row(
            day, f"{amount} {currency}", f"{spend['budget_per_day']} {currency}", f"{used:.0f} %"
        )
    console.print(table)

    console.rule("[bold]What it learned")
    table = Table(show_edge=False)
    table.add_column("time to")
    table.add_column("p50", justify="right")
    table.add_column("p90", justify="right")
    table.add_column("n", justify="right")
    for name, row in s["timings_s"].items():
        table.add_row(name, _minutes(row["p50"]), _minutes(row["p90"]), str(row["n"]))
    console.print(table)
    sat = s["satisfaction"]
    share = "—" if sat["satisfied_share"] is None else f"{100 * sat['satisfied_share']:.0f} %"
    console.print(
        f"recovery satisfaction: [bold]{share}[/bold] of {sat['answered']} answered "
        f"follow-ups scored 4 or 5 (mean {sat['mean_score'] or '—'} of 5)"
    )
