"""Server-rendered SVG charts: no script, no canvas, nothing the CSP has to allow."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
COLOURS = ("#3b5bdb", "#f08c00", "#2b8a3e")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = float(10 ** (len(str(int(value))) - 1))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def line_chart(points: list[dict[str, Any]], series: list[tuple[str, str]]) -> Markup:
    """Lines for each (key, label) in series over points [{t, key: number, ...}]."""
    if not points:
        return Markup("")
    top = _nice_max(max((float(p[key]) for p in points for key, _ in series), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(points) - 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(", ".join(label for _, label in series))} over time">'
    ]
    for fraction in (0, 0.5, 1):
        gy = y(top * fraction)
        value = top * fraction
        text = f"{value:g}" if value < 1000 else f"{value / 1000:g}k"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}" '
            f'class="grid"/><text x="{LEFT - 6}" y="{gy + 4:.1f}" '
            f'class="axis" text-anchor="end">{escape(text)}</text>'
        )
    every = max(1, len(points) // 8)
    for i in range(0, len(points), every):
        label = str(points[i]["t"])[5:].replace("T", " ")
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" class="axis" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for (key, label), colour in zip(series, COLOURS, strict=False):
        coords = " ".join(f"{x(i):.1f},{y(float(p[key])):.1f}" for i, p in enumerate(points))
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="2"><title>{escape(label)}</title></polyline>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key" data-colour="{i}">{escape(label)}</span>'
        for i, (_, label) in enumerate(series)
    )
    # Every label above went through escape(); the rest is numbers we formatted.
    return Markup("".join(parts) + f'<p class="legend-row">{legend}</p>')  # noqa: S704


def funnel_chart(steps: list[dict[str, Any]]) -> Markup:
    """A bar per funnel step [{step, type, value, sessions, overall}, ...], its height the
    sessions that reached it, labelled with the count and the share of step 1."""
    if not steps:
        return Markup("")
    top = _nice_max(float(steps[0]["sessions"]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM - 14
    slot = plot_w / len(steps)
    bar_w = min(120.0, slot * 0.7)
    parts = [
        f'<svg class="chart funnel-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Sessions reaching each step">'
    ]
    base = TOP + 14 + plot_h
    for k, step in enumerate(steps):
        value = float(step["sessions"])
        height = (value / top) * plot_h
        x = LEFT + k * slot + (slot - bar_w) / 2
        label = f"{int(value):,} ({float(step['overall']) * 100:.1f}%)"
        name = f"{k + 1}. {step['type']} {step['value']}"
        short = name if len(name) <= 28 else name[:27] + "…"
        parts.append(
            f'<rect x="{x:.1f}" y="{base - height:.1f}" width="{bar_w:.1f}" '
            f'height="{height:.1f}" fill="{COLOURS[0]}"><title>{escape(name)}: '
            f"{escape(label)}</title></rect>"
            f'<text x="{x + bar_w / 2:.1f}" y="{base - height - 4:.1f}" class="axis" '
            f'text-anchor="middle">{escape(label)}</text>'
            f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - 8}" class="axis" '
            f'text-anchor="middle">{escape(short)}</text>'
        )
    parts.append("</svg>")
    # Every label above went through escape(); the rest is numbers we formatted.
    return Markup("".join(parts))  # noqa: S704
