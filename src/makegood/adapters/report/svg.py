"""Inline SVG charts drawn on the server: no script, no CDN, the page opens offline.

Each function returns `Markup` (labels escaped here) sized by a viewBox so it scales with the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#2f6f9f"
MUTED = "#c9d6e2"
ALERT = "#b3412f"


def _svg(width: int, height: int, body: str, label: str) -> Markup:
    return Markup(  # noqa: S704 (every interpolated label is escaped below)
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" class="chart">{body}</svg>'
    )


def hbars(rows: Sequence[tuple[str, float, str]], label: str, width: int = 640) -> Markup:
    """Horizontal bars: (label, value, text shown after the bar)."""
    step, left, right = 22, 170, 120
    top = max((value for _, value, _ in rows), default=0) or 1
    parts = []
    for i, (name, value, text) in enumerate(rows):
        y = i * step
        length = (width - left - right) * value / top
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(name)[:28]}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{length:.1f}" height="14" fill="{BAR}"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + 15}">{escape(text)}</text>'
        )
    return _svg(width, max(len(rows), 1) * step + 4, "".join(parts), label)


def intervals(
    rows: Sequence[tuple[str, float | None, float | None, float | None, str]],
    label: str,
    width: int = 640,
) -> Markup:
    """Shares with their 95 % intervals on a 0-100 % axis: (label, share, low, high, text)."""
    step, left, right = 26, 170, 150
    span = width - left - right
    parts = [
        f'<line x1="{left}" x2="{left + span}" y1="{len(rows) * step + 2}" '
        f'y2="{len(rows) * step + 2}" stroke="#888"/>'
    ]
    for tick in (0, 25, 50, 75, 100):
        x = left + span * tick / 100
        parts.append(
            f'<text x="{x:.1f}" y="{len(rows) * step + 16}" text-anchor="middle" '
            f'class="tick">{tick} %</text>'
        )
    for i, (name, share, low, high, text) in enumerate(rows):
        y = i * step + 13
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{escape(name)}</text>')
        if share is None or low is None or high is None:
            parts.append(f'<text x="{left}" y="{y + 4}" class="tick">no data</text>')
            continue
        x0, x1, x = (left + span * v for v in (low, high, share))
        parts.append(
            f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{y}" y2="{y}" stroke="{BAR}" '
            f'stroke-width="2"/><line x1="{x0:.1f}" x2="{x0:.1f}" y1="{y - 5}" y2="{y + 5}" '
            f'stroke="{BAR}"/><line x1="{x1:.1f}" x2="{x1:.1f}" y1="{y - 5}" y2="{y + 5}" '
            f'stroke="{BAR}"/><circle cx="{x:.1f}" cy="{y}" r="4.5" fill="{BAR}"/>'
            f'<text x="{left + span + 8}" y="{y + 4}">{escape(text)}</text>'
        )
    return _svg(width, len(rows) * step + 22, "".join(parts), label)


def columns(
    rows: Sequence[tuple[str, float]],
    limit: float | None,
    label: str,
    width: int = 640,
    height: int = 180,
) -> Markup:
    """Vertical bars (e.g. spend per day) with an optional limit line (the daily budget)."""
    bottom, top_pad = 24, 14
    top = max([v for _, v in rows] + [limit or 0]) or 1
    slot = (width - 20) / max(len(rows), 1)
    scale = (height - bottom - top_pad) / top
    parts = []
    for i, (name, value) in enumerate(rows):
        x = 10 + i * slot
        h = value * scale
        colour = ALERT if limit is not None and value > limit else BAR
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{height - bottom - h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{colour}">'
            f"<title>{escape(name)}: {value:,.2f}</title></rect>"
        )
        if len(rows) <= 31:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'class="tick">{escape(name[5:])}</text>'
            )
    if limit is not None:
        y = height - bottom - limit * scale
        parts.append(
            f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="{ALERT}" '
            f'stroke-dasharray="5 4"/><text x="{width - 4}" y="{y - 4:.1f}" '
            f'text-anchor="end" class="tick">budget {limit:,.0f} / day</text>'
        )
    return _svg(width, height, "".join(parts), label)


def funnel(rows: Sequence[tuple[str, int, float | None]], label: str, width: int = 640) -> Markup:
    """Stages as centred bars narrowing with their share of the first stage."""
    step, full = 30, width - 260
    parts = []
    for i, (name, count, share) in enumerate(rows):
        w = full * (share or 0)
        x = 130 + (full - w) / 2
        parts.append(
            f'<text x="124" y="{i * step + 19}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{x:.1f}" y="{i * step + 4}" width="{w:.1f}" height="22" '
            f'fill="{BAR if i else MUTED}"/>'
            f'<text x="{130 + full + 8}" y="{i * step + 19}">{count:,}'
            f"{'' if share is None else f' ({100 * share:.1f} %)'}</text>"
        )
    return _svg(width, len(rows) * step + 4, "".join(parts), label)
