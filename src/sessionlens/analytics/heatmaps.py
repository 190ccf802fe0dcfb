"""Heatmap queries: clicks, mouse movement, scroll reach and attention of a page or a
pattern of pages, summed from the processor's day aggregates (processing/heatmaps.py): the
per-day totals without filters, the rows per device, width step and new/returning with them.

A saved segment filters sessions, which the day aggregates no longer know about: with one,
clicks come from the raw `page_click` rows of the matching sessions, and scroll reach and
attention from the per-pageview `heatmap_view` rows. Mouse movement is kept only as day
aggregates, so it cannot be narrowed to a segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import ColumnElement, Connection, and_, func, select

from sessionlens.analytics import search, segments
from sessionlens.analytics.period import Period, PeriodError, parse_period
from sessionlens.processing.heatmaps import BANDS, COLUMNS, MAX_ROW, ROW_PX, WIDTH_STEP
from sessionlens.storage.tables import (
    heatmap_band,
    heatmap_cell,
    heatmap_cell_total,
    heatmap_element,
    heatmap_element_total,
    heatmap_view,
    page_click,
    pageview,
    session,
)

DEVICES = ("desktop", "mobile", "tablet")
MAX_WIDTH = 100_000
TOP_ELEMENTS = 200
SESSIONS_PER_ELEMENT = 50


class HeatmapError(ValueError):
    """A filter the user can fix; the message names it."""


@dataclass(frozen=True)
class Segment:
    id: int
    name: str
    conditions: list[ColumnElement[bool]]


@dataclass(frozen=True)
class HeatmapFilter:
    url: str  # a path, or a pattern of paths where * matches any run of characters
    period: Period
    device: str | None = None
    min_width: int | None = None
    max_width: int | None = None
    visitor: str | None = None  # new or returning
    segment: Segment | None = None

    @property
    def is_pattern(self) -> bool:
        return "*" in self.url


def url_path(raw: str | None) -> str:
    """The path or pattern asked for: a full URL is cut to its path."""
    value = (raw or "").strip()
    if not value:
        raise HeatmapError("url is required: a path such as /products/lamp or /products/*")
    if len(value) > 500:
        raise HeatmapError("url is too long")
    if "://" in value:
        value = urlsplit(value).path or "/"
    value = value.split("?", 1)[0].split("#", 1)[0]
    if not value.startswith("/"):
        raise HeatmapError("url must be a path starting with / such as /products/*")
    return value


def _width(name: str, raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    if not raw.strip().isdigit() or int(raw) > MAX_WIDTH:
        raise HeatmapError(f"{name} must be a whole number of px from 0 to {MAX_WIDTH}")
    return int(raw)


def parse(
    conn: Connection, project_id: int, query: Mapping[str, str | None], *, need_url: bool = True
) -> HeatmapFilter:
    """Check every filter of a heatmap request; a HeatmapError names the bad one."""
    url = url_path(query.get("url")) if need_url or query.get("url") else ""
    try:
        period = parse_period(query.get("from") or None, query.get("to") or None)
    except PeriodError as exc:
        raise HeatmapError(str(exc)) from exc
    device = (query.get("device") or "").strip() or None
    if device is not None and device not in DEVICES:
        raise HeatmapError(f"device must be one of {', '.join(DEVICES)}")
    visitor = (query.get("visitor") or "").strip() or None
    if visitor is not None and visitor not in ("new", "returning"):
        raise HeatmapError("visitor must be new or returning")
    low = _width("min_width", query.get("min_width"))
    high = _width("max_width", query.get("max_width"))
    if low is not None and high is not None and low > high:
        raise HeatmapError("min_width must not be more than max_width")
    return HeatmapFilter(
        url, period, device, low, high, visitor, _segment(conn, project_id, query.get("segment"))
    )


def _segment(conn: Connection, project_id: int, raw: str | None) -> Segment | None:
    if raw is None or not raw.strip():
        return None
    if not raw.strip().isdigit() or int(raw) > 2_147_483_647:
        raise HeatmapError("segment must be the id of a saved segment")
    found = next((s for s in segments.for_project(conn, project_id) if s.id == int(raw)), None)
    if found is None:
        raise HeatmapError("segment: no such saved segment in this project")
    try:
        wanted = search.parse(dict(parse_qsl(found.query)))
    except search.FilterError as exc:
        raise HeatmapError(f"segment {found.name!r} no longer parses: {exc}") from exc
    return Segment(found.id, found.name, wanted.conditions())


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _path_match(column: Any, wanted: HeatmapFilter) -> ColumnElement[bool]:
    if wanted.is_pattern:
        result: ColumnElement[bool] = column.like(_like(wanted.url), escape="\\")
        return result
    matched: ColumnElement[bool] = column == wanted.url
    return matched


def _width_match(column: Any, wanted: HeatmapFilter) -> list[ColumnElement[bool]]:
    """Widths are kept in 100 px steps: a step counts when min_width..max_width touches it."""
    out: list[ColumnElement[bool]] = []
    if wanted.min_width is not None:
        out.append(column >= wanted.min_width // WIDTH_STEP * WIDTH_STEP)
    if wanted.max_width is not None:
        out.append(column <= wanted.max_width)
    return out


def _filtered(wanted: HeatmapFilter) -> bool:
    """Whether the query names a device, width or visitor type: the totals know none."""
    chosen = (wanted.device, wanted.min_width, wanted.max_width, wanted.visitor)
    return any(value is not None for value in chosen)


def _aggregate_where(table: Any, project_id: int, wanted: HeatmapFilter) -> ColumnElement[bool]:
    conditions = [
        table.c.project_id == project_id,
        _path_match(table.c.path, wanted),
        table.c.day >= wanted.period.start.date(),
        table.c.day < wanted.period.end.date(),
    ]
    if wanted.min_width is not None or wanted.max_width is not None:
        conditions.extend(_width_match(table.c.width, wanted))
    if wanted.device:
        conditions.append(table.c.device == wanted.device)
    if wanted.visitor:
        conditions.append(table.c.is_returning.is_(wanted.visitor == "returning"))
    return and_(*conditions)


def _session_where(wanted: HeatmapFilter) -> list[ColumnElement[bool]]:
    """The filters as conditions on the session table (the raw fallback)."""
    out: list[ColumnElement[bool]] = []
    if wanted.device:
        out.append(session.c.device == wanted.device)
    if wanted.visitor:
        out.append(session.c.is_returning.is_(wanted.visitor == "returning"))
    if wanted.segment is not None:
        out.extend(wanted.segment.conditions)
    return out


def _cells(rows: Any) -> tuple[list[list[int]], int]:
    merged: dict[tuple[int, int], int] = {}
    for x, y, n in rows:
        key = (min(COLUMNS - 1, max(0, int(x))), min(MAX_ROW, max(0, int(y))))
        merged[key] = merged.get(key, 0) + int(n)
    cells = [[x, y, n] for (x, y), n in sorted(merged.items())]
    return cells, sum(merged.values())


def _grid(source: str) -> dict[str, Any]:
    return {"source": source, "columns": COLUMNS, "row_px": ROW_PX}


def _aggregate_cells(
    conn: Connection, project_id: int, wanted: HeatmapFilter, kind: str
) -> tuple[list[list[int]], int]:
    """A kind's cells from the day aggregates: the totals unless a filter needs the keys."""
    table = heatmap_cell if _filtered(wanted) else heatmap_cell_total
    return _cells(
        conn.execute(
            select(table.c.x, table.c.y, func.sum(table.c.n))
            .where(table.c.kind == kind, _aggregate_where(table, project_id, wanted))
            .group_by(table.c.x, table.c.y)
        )
    )


def clicks(conn: Connection, project_id: int, wanted: HeatmapFilter) -> dict[str, Any]:
    """Clicks per grid cell and per element (with the mean offset inside it)."""
    if wanted.segment is not None:
        return _raw_clicks(conn, project_id, wanted)
    cells, total = _aggregate_cells(conn, project_id, wanted, "click")
    table = heatmap_element if _filtered(wanted) else heatmap_element_total
    clicks_sum = func.sum(table.c.clicks)
    rows = conn.execute(
        select(
            table.c.selector,
            func.max(table.c.tag),
            clicks_sum,
            func.sum(table.c.offset_x_sum),
            func.sum(table.c.offset_y_sum),
        )
        .where(_aggregate_where(table, project_id, wanted))
        .group_by(table.c.selector)
        .order_by(clicks_sum.desc(), table.c.selector)
        .limit(TOP_ELEMENTS)
    )
    elements = [
        {
            "selector": selector,
            "tag": tag,
            "clicks": int(n),
            "offset_x": round(int(ox) / int(n)),
            "offset_y": round(int(oy) / int(n)),
        }
        for selector, tag, n, ox, oy in rows
    ]
    return {**_grid("aggregates"), "total": total, "cells": cells, "elements": elements}


def _raw_click_where(project_id: int, wanted: HeatmapFilter) -> list[ColumnElement[bool]]:
    step = page_click.c.viewport_width / WIDTH_STEP * WIDTH_STEP
    return [
        page_click.c.project_id == project_id,
        _path_match(page_click.c.path, wanted),
        page_click.c.started_at >= wanted.period.start,
        page_click.c.started_at < wanted.period.end,
        *_width_match(step, wanted),
        *_session_where(wanted),
    ]


def _raw_clicks(conn: Connection, project_id: int, wanted: HeatmapFilter) -> dict[str, Any]:
    where = _raw_click_where(project_id, wanted)
    column = page_click.c.x * COLUMNS / page_click.c.doc_width
    row = page_click.c.y / ROW_PX
    cells, total = _cells(
        conn.execute(
            select(column, row, func.count())
            .select_from(page_click.join(session, session.c.id == page_click.c.session_id))
            .where(*where, page_click.c.doc_width > 0)
            .group_by(column, row)
        )
    )
    count = func.count()
    rows = conn.execute(
        select(
            page_click.c.selector,
            func.max(page_click.c.tag),
            count,
            func.avg(page_click.c.offset_x),
            func.avg(page_click.c.offset_y),
        )
        .select_from(page_click.join(session, session.c.id == page_click.c.session_id))
        .where(*where)
        .group_by(page_click.c.selector)
        .order_by(count.desc(), page_click.c.selector)
        .limit(TOP_ELEMENTS)
    )
    elements = [
        {
            "selector": selector,
            "tag": tag,
            "clicks": int(n),
            "offset_x": round(float(ox)),
            "offset_y": round(float(oy)),
        }
        for selector, tag, n, ox, oy in rows
    ]
    return {**_grid("segment"), "total": total, "cells": cells, "elements": elements}


def moves(conn: Connection, project_id: int, wanted: HeatmapFilter) -> dict[str, Any]:
    """Mouse-move samples (about one per 50 ms of movement) per grid cell."""
    if wanted.segment is not None:
        raise HeatmapError(
            "segment: mouse movement is kept only as day totals, so it cannot be narrowed "
            "to a segment; use the device, width and visitor filters instead"
        )
    cells, total = _aggregate_cells(conn, project_id, wanted, "move")
    return {**_grid("aggregates"), "total": total, "cells": cells}


def _bands(conn: Connection, project_id: int, wanted: HeatmapFilter) -> tuple[list[int], list[int]]:
    """Pageviews that reached each band, and ms each band was in view."""
    views, attention = [0] * BANDS, [0] * BANDS
    if wanted.segment is None:
        rows = conn.execute(
            select(
                heatmap_band.c.band,
                func.sum(heatmap_band.c.views),
                func.sum(heatmap_band.c.attention_ms),
            )
            .where(_aggregate_where(heatmap_band, project_id, wanted))
            .group_by(heatmap_band.c.band)
        )
        for band, reached, ms in rows:
            if 0 <= band < BANDS:
                views[band], attention[band] = int(reached), int(ms)
        return views, attention
    # An alias: a segment's URL filter is a subquery on pageview that must not correlate.
    viewed = pageview.alias("viewed")
    per_view = conn.execute(
        select(heatmap_view.c.reach, heatmap_view.c.attention)
        .select_from(
            heatmap_view.join(viewed, viewed.c.id == heatmap_view.c.pageview_id).join(
                session, session.c.id == heatmap_view.c.session_id
            )
        )
        .where(
            viewed.c.project_id == project_id,
            _path_match(viewed.c.path, wanted),
            viewed.c.started_at >= wanted.period.start,
            viewed.c.started_at < wanted.period.end,
            *_width_match(heatmap_view.c.width, wanted),
            *_session_where(wanted),
        )
    )
    for reach, spent in per_view:
        for band in range(min(int(reach), BANDS - 1) + 1):
            views[band] += 1
        for band, ms in enumerate(spent.split(",")[:BANDS] if spent else []):
            attention[band] += int(ms)
    return views, attention


def _band_span(band: int) -> dict[str, int]:
    return {"band": band, "from_pct": band * 100 // BANDS, "to_pct": (band + 1) * 100 // BANDS}


def scroll(conn: Connection, project_id: int, wanted: HeatmapFilter) -> dict[str, Any]:
    """Per band of 5% of the page's height: the pageviews whose viewport reached it."""
    views, _ = _bands(conn, project_id, wanted)
    total = views[0]
    return {
        "source": "segment" if wanted.segment else "aggregates",
        "views": total,
        "bands": [
            {**_band_span(band), "views": n, "share": round(n / total, 4) if total else 0.0}
            for band, n in enumerate(views)
        ],
    }


def attention(conn: Connection, project_id: int, wanted: HeatmapFilter) -> dict[str, Any]:
    """Per band: ms it was in view while the page was in use (gaps over 5 s count 5 s)."""
    views, spent = _bands(conn, project_id, wanted)
    most = max(spent)
    return {
        "source": "segment" if wanted.segment else "aggregates",
        "views": views[0],
        "total_ms": sum(spent),
        "bands": [
            {
                **_band_span(band),
                "ms": ms,
                "mean_ms": round(ms / views[0]) if views[0] else 0,
                "share": round(ms / most, 4) if most else 0.0,
            }
            for band, ms in enumerate(spent)
        ],
    }


KINDS = {"clicks": clicks, "moves": moves, "scroll": scroll, "attention": attention}


def element_sessions(
    conn: Connection, project_id: int, wanted: HeatmapFilter, selector: str
) -> list[dict[str, Any]]:
    """The latest sessions that clicked the element, each with the moment of its click."""
    if not selector.strip() or len(selector) > 300:
        raise HeatmapError("selector must be 1-300 characters")
    latest = func.max(page_click.c.ts)
    rows = conn.execute(
        select(
            page_click.c.session_id, latest, func.count(), session.c.first_ts, session.c.started_at
        )
        .select_from(page_click.join(session, session.c.id == page_click.c.session_id))
        .where(*_raw_click_where(project_id, wanted), page_click.c.selector == selector)
        .group_by(page_click.c.session_id, session.c.first_ts, session.c.started_at)
        .order_by(latest.desc())
        .limit(SESSIONS_PER_ELEMENT)
    )
    out = []
    for session_id, ts, n, first_ts, started_at in rows:
        seconds = max(0, (int(ts) - int(first_ts)) // 1000)
        out.append(
            {
                "session_id": session_id,
                "started_at": started_at.isoformat(),
                "clicks": int(n),
                "offset_s": seconds,
                "replay_url": f"/sessions/{session_id}?t={seconds}",
            }
        )
    return out


def suggestions(conn: Connection, project_id: int, period: Period) -> list[dict[str, Any]]:
    """The most viewed pages of the period, and patterns (/a/*) grouping sibling pages."""
    views = func.sum(heatmap_band.c.views)
    rows = conn.execute(
        select(heatmap_band.c.path, views)
        .where(
            heatmap_band.c.project_id == project_id,
            heatmap_band.c.band == 0,
            heatmap_band.c.day >= period.start.date(),
            heatmap_band.c.day < period.end.date(),
        )
        .group_by(heatmap_band.c.path)
        .order_by(views.desc(), heatmap_band.c.path)
        .limit(200)
    ).all()
    patterns: dict[str, list[int]] = {}
    for path, n in rows:
        parent = path.rstrip("/").rsplit("/", 1)[0]
        if parent:
            entry = patterns.setdefault(f"{parent}/*", [0, 0])
            entry[0] += 1
            entry[1] += int(n)
    grouped = sorted(
        ((-n, pattern, pages) for pattern, (pages, n) in patterns.items() if pages > 1)
    )
    top = [{"url": path, "views": int(n), "pages": 1} for path, n in rows[:10]]
    return top + [{"url": url, "views": -n, "pages": pages} for n, url, pages in grouped[:5]]


def sample_page(conn: Connection, project_id: int, wanted: HeatmapFilter) -> dict[str, Any] | None:
    """A recent pageview of the page (in the width range if one is given) to draw the
    heatmap over: its session and the time of its load, for the console to rebuild."""
    row = conn.execute(
        select(
            pageview.c.session_id,
            pageview.c.ts,
            pageview.c.url,
            heatmap_view.c.viewport_width,
            heatmap_view.c.doc_width,
            heatmap_view.c.doc_height,
        )
        .select_from(pageview.join(heatmap_view, heatmap_view.c.pageview_id == pageview.c.id))
        .where(
            pageview.c.project_id == project_id,
            _path_match(pageview.c.path, wanted),
            pageview.c.started_at < wanted.period.end,
            *_width_match(heatmap_view.c.width, wanted),
        )
        .order_by(pageview.c.started_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {
        "session_id": row.session_id,
        "ts": row.ts,
        "url": row.url,
        "viewport_width": row.viewport_width,
        "doc_width": row.doc_width,
        "doc_height": row.doc_height,
    }
