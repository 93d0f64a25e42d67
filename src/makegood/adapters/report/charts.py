"""The report's charts from its figures (JSON-shaped), drawn by `svg`."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from makegood.adapters.report import svg


def pareto(table: dict[str, Any], name: str, top: int = 10) -> Markup:
    rows = [
        (str(r["key"]), float(r["count"]), f"{r['count']:,} ({100 * r['share']:.1f} %)")
        for r in table["rows"][:top]
    ]
    return svg.hbars(rows, f"failures by {name}")


def funnel(figures: dict[str, Any]) -> Markup:
    return svg.funnel(
        [(s["stage"].replace("_", " "), s["count"], s["share"]) for s in figures["stages"]],
        "recovery funnel",
    )


def spend(figures: dict[str, Any]) -> Markup:
    return svg.columns(
        [(d["day"], float(d["spent"])) for d in figures["by_day"]],
        float(figures["budget_per_day"]),
        "spend per day against the budget",
    )


def paradox(figures: dict[str, Any]) -> Markup:
    rows = []
    for name, g in figures["groups"].items():
        text = "no customers" if g["share"] is None else (f"{100 * g['share']:.1f} % of {g['n']:,}")
        rows.append((name.replace("_", " "), g["share"], g["low"], g["high"], text))
    return svg.intervals(rows, "repurchase by group, with 95 % intervals")
