"""Charts as inline SVG, drawn on the server: nothing to download, nothing to build."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#4f46e5", "#0891b2", "#16a34a", "#ca8a04", "#dc2626", "#9333ea", "#db2777", "#64748b")


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.1f}"


def bars(
    items: Sequence[tuple[str, float]],
    unit: str = "",
    label_width: int = 130,
    width: int = 520,
    limit: float | None = None,
) -> Markup:
    """Horizontal bars with their values; `limit` draws a dashed line (a budget)."""
    if not items:
        return Markup('<p class="muted">No data yet.</p>')
    row = 28
    top = max([v for _, v in items] + [limit or 0, 1])
    span = width - label_width - 70
    said = "; ".join(f"{label}: {_fmt(value)}{unit}" for label, value in items[:20])
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {row * len(items) + 8}" role="img" '
        f'aria-label="{escape(said)}">'
    ]
    for i, (label, value) in enumerate(items):
        y = i * row + 4
        w = max(span * value / top, 1.5)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" '
            f'class="label">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 9}" '
            f'rx="3" fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(label)}: '
            f"{_fmt(value)}{escape(unit)}</title></rect>"
            f'<text x="{label_width + w + 6:.1f}" y="{y + 17}" class="value">'
            f"{_fmt(value)}{escape(unit)}</text>"
        )
    if limit is not None:
        x = label_width + span * limit / top
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{row * len(items) + 8}" '
            f'class="limit"><title>budget {_fmt(limit)}{escape(unit)}</title></line>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every label and value above is escaped)


def _summary(
    columns: Sequence[tuple[str, dict[str, float]]], series: list[str], totals: dict[str, float]
) -> str:
    """What a stacked chart shows, in words (for a screen reader)."""
    parts = ", ".join(f"{name} {_fmt(totals[name])}" for name in series[:8])
    return f"{len(columns)} columns from {columns[0][0]} to {columns[-1][0]}; in all: {parts}"


def stacked_columns(
    columns: Sequence[tuple[str, dict[str, float]]], width: int = 720, height: int = 240
) -> Markup:
    """Columns over time, stacked by series, with a legend: failures by category per hour."""
    if not columns:
        return Markup('<p class="muted">No failures yet.</p>')
    totals: dict[str, float] = {}
    for _, values in columns:
        for name, value in values.items():
            totals[name] = totals.get(name, 0) + value
    series = sorted(totals, key=lambda s: -totals[s])
    color = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    top = max(sum(v.values()) for _, v in columns) or 1
    left, bottom = 36, 22
    plot_h = height - bottom - 6
    step = (width - left) / len(columns)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="'
        f"{escape(_summary(columns, series, totals))}" + '">',
        f'<text x="{left - 6}" y="12" text-anchor="end" class="axis">{_fmt(top)}</text>',
        f'<line x1="{left}" x2="{width}" y1="{plot_h + 6}" y2="{plot_h + 6}" class="grid"/>',
    ]
    for i, (label, values) in enumerate(columns):
        x = left + i * step
        y = float(plot_h + 6)
        for name in series:
            value = values.get(name, 0)
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{color[name]}"><title>{escape(label)} '
                f"{escape(name)}: {_fmt(value)}</title></rect>"
            )
        if i % max(len(columns) // 8, 1) == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - 4}" text-anchor="middle" '
                f'class="axis">{escape(label[11:16] or label)}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><svg width="10" height="10"><rect width="10" '
        f'height="10" rx="2" fill="{color[n]}"/></svg>{escape(n)}</span>'
        for n in series
    )
    html = "".join(parts) + f'<div class="legend">{legend}</div>'
    return Markup(html)  # noqa: S704 (every label and value above is escaped)
