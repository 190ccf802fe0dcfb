"""Heatmap aggregates: what a fresh run of a session's events adds to its pages' heatmaps.

Clicks and mouse-move samples are counted per grid cell (x in hundredths of the document's
width, so pages of different widths line up; y in rows of 20 px), clicks also per element
(selector, with the summed offsets inside it), and each pageview adds to the scroll bands
(twenty bands of 5% of the document's height) it reached and to the time each band was in
view. Everything goes to day rows keyed by (project, path, day, device, width step,
new/returning): a heatmap query sums those instead of reading events. Cells and elements
are also added to totals per (project, path, day) without the filter dimensions, which a
heatmap without filters reads instead of about 26 detailed rows per cell and day.

Scrolling and attention need to know where the page was when the previous batch ended: a
small `heatmap_view` row per pageview keeps that (scroll position, sizes, last event time,
deepest band reached and the ms per band so far). The processor applies each batch once, in
the transaction that stores it, so the counts are added exactly once.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.engine import Row

from sessionlens.processing import events as ev
from sessionlens.storage import counters
from sessionlens.storage.tables import (
    heatmap_band,
    heatmap_cell,
    heatmap_cell_total,
    heatmap_element,
    heatmap_element_total,
    heatmap_view,
    pageview,
)

BANDS = 20  # scroll and attention bands: 5% of the document's height each
COLUMNS = 100  # grid columns: hundredths of the document's width
ROW_PX = 20  # grid rows
MAX_ROW = 2499  # 50,000 px: anything deeper is counted in the last row
WIDTH_STEP = 100  # viewport widths are kept in 100 px steps
IDLE_CAP_MS = ev.ACTIVITY_GAP_MS  # a longer gap between events counts as this much attention
MAX_PATH = 1000
SOURCE_VIEWPORT_RESIZE = 4

Key = tuple[str, date, str, int, bool]  # path, day, device, width step, returning


def width_step(viewport_width: int | None) -> int:
    return max(0, min(int(viewport_width or 0), 100_000)) // WIDTH_STEP * WIDTH_STEP


def bands_in_view(top: int, height: int, doc_height: int) -> range:
    """The bands a viewport from `top` showing `height` px overlaps."""
    if doc_height <= 0 or height <= 0:
        return range(0)
    first = max(0, top * BANDS // doc_height)
    last = min(BANDS - 1, -(-(top + height) * BANDS // doc_height) - 1)
    return range(first, last + 1)


@dataclass
class View:
    """A pageview's scroll state while its events are folded in."""

    pageview_id: int
    key: Key
    stored: bool = False
    root_id: int | None = None
    scroll_y: int = 0
    viewport_width: int = 0
    viewport_height: int = 0
    doc_width: int = 0
    doc_height: int = 0
    last_ts: int | None = None
    reach: int = -1
    attention: list[int] = field(default_factory=lambda: [0] * BANDS)
    counted: bool = False  # added anything yet (before that, a Meta may change its width)
    touched: bool = False  # saw an event in this run

    def values(self, session_id: str) -> dict[str, Any]:
        return {
            "pageview_id": self.pageview_id,
            "session_id": session_id,
            "width": self.key[3],
            "root_id": self.root_id,
            "scroll_y": self.scroll_y,
            "viewport_width": self.viewport_width,
            "viewport_height": self.viewport_height,
            "doc_width": self.doc_width,
            "doc_height": self.doc_height,
            "last_ts": self.last_ts,
            "reach": self.reach,
            "attention": ",".join(map(str, self.attention)),
        }


@dataclass
class Tally:
    """What a run adds to the day aggregates."""

    cells: Counter[tuple[str, Key, int, int]] = field(default_factory=Counter)
    elements: dict[tuple[Key, str], list[Any]] = field(default_factory=dict)
    bands: dict[tuple[Key, int], list[int]] = field(default_factory=dict)

    def band(self, key: Key, band: int, views: int = 0, ms: int = 0) -> None:
        entry = self.bands.setdefault((key, band), [0, 0])
        entry[0] += views
        entry[1] += ms


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _cell(x: int, y: int, width: int) -> tuple[int, int]:
    column = min(COLUMNS - 1, max(0, x * COLUMNS // width))
    return column, min(MAX_ROW, max(0, y // ROW_PX))


class Folder:
    """Folds one session's sorted events into its pageviews' states and a tally."""

    def __init__(self, session_row: Row[Any], pages: Sequence[Any], stored: Sequence[Any]) -> None:
        self.session = session_row
        self.pages = pages
        self.starts = [p.ts for p in pages]
        self.views: dict[int, View] = {}
        self.tally = Tally()
        by_id = {p.id: p for p in pages}
        for row in stored:
            page = by_id.get(row.pageview_id)
            if page is None:
                continue
            attention = [int(v) for v in row.attention.split(",") if v.strip()]
            self.views[row.pageview_id] = View(
                pageview_id=row.pageview_id,
                key=self._key(page, row.width),
                stored=True,
                root_id=row.root_id,
                scroll_y=row.scroll_y,
                viewport_width=row.viewport_width,
                viewport_height=row.viewport_height,
                doc_width=row.doc_width,
                doc_height=row.doc_height,
                last_ts=row.last_ts,
                reach=row.reach,
                attention=(attention + [0] * BANDS)[:BANDS],
                counted=True,
            )

    def _key(self, page: Row[Any], width: int) -> Key:
        day = datetime.fromtimestamp(page.ts / 1000, UTC).date()
        device = self.session.device or ""
        return (page.path[:MAX_PATH], day, device, width, bool(self.session.is_returning))

    def view_at(self, ts: int) -> View | None:
        index = bisect_right(self.starts, ts) - 1
        if index < 0:
            return None
        page = self.pages[index]
        found = self.views.get(page.id)
        if found is not None:
            found.touched = True
            return found
        # A page without a state yet: an SPA navigation keeps the document it happened in,
        # so it starts from the previous page's state; a page load resets it on its Meta.
        before = self.views.get(self.pages[index - 1].id) if index > 0 else None
        width = before.viewport_width if before else self.session.viewport_width or 0
        view = View(page.id, self._key(page, width_step(width)), touched=True)
        view.viewport_width = width
        view.viewport_height = (
            before.viewport_height if before else self.session.viewport_height or 0
        )
        if before is not None:
            view.root_id = before.root_id
            view.scroll_y = before.scroll_y
            view.doc_width = before.doc_width
            view.doc_height = before.doc_height
        self.views[page.id] = view
        return view

    def fold(self, event: dict[str, Any]) -> None:
        ts = _int(event.get("timestamp"))
        view = self.view_at(ts)
        if view is None:
            return
        self._attend(view, ts)
        kind = event.get("type")
        data = event.get("data")
        if not isinstance(data, dict):
            return
        if kind == ev.META:
            view.viewport_width = _int(data.get("width"), view.viewport_width)
            view.viewport_height = _int(data.get("height"), view.viewport_height)
            # a page load: a new document, whose sizes its layout event will give
            view.scroll_y = view.doc_width = view.doc_height = 0
            view.root_id = None
            if not view.counted:
                view.key = (*view.key[:3], width_step(view.viewport_width), view.key[4])
        elif kind == ev.FULL_SNAPSHOT:
            node = data.get("node")
            view.root_id = _int(node.get("id"), 1) if isinstance(node, dict) else 1
            offset = data.get("initialOffset")
            view.scroll_y = max(0, _int(offset.get("top"))) if isinstance(offset, dict) else 0
        elif kind == ev.INCREMENTAL:
            self._incremental(view, data)
        elif kind == ev.CUSTOM:
            self._custom(view, data)
        self._reach(view)

    def _incremental(self, view: View, data: dict[str, Any]) -> None:
        source = data.get("source")
        if source == ev.SOURCE_SCROLL and data.get("id") == (view.root_id or 1):
            view.scroll_y = max(0, _int(data.get("y")))
        elif source == SOURCE_VIEWPORT_RESIZE:
            view.viewport_width = _int(data.get("width"), view.viewport_width)
            view.viewport_height = _int(data.get("height"), view.viewport_height)
        elif source == ev.SOURCE_MOUSE_MOVE and isinstance(data.get("positions"), list):
            width = view.doc_width or view.viewport_width
            if width <= 0:
                return
            for position in data["positions"]:
                if isinstance(position, dict):
                    x, y = _int(position.get("x"), -1), _int(position.get("y"), -1)
                    if x >= 0 and y >= 0:
                        cell = _cell(x, y + view.scroll_y, width)
                        self.tally.cells[("move", view.key, *cell)] += 1
                        view.counted = True

    def _custom(self, view: View, data: dict[str, Any]) -> None:
        payload = data.get("payload")
        if not isinstance(payload, dict):
            return
        tag = data.get("tag")
        if tag == "sessionlens.layout":
            view.doc_width = _int(payload.get("w"), view.doc_width)
            view.doc_height = _int(payload.get("h"), view.doc_height)
            view.viewport_width = _int(payload.get("vw"), view.viewport_width)
            view.viewport_height = _int(payload.get("vh"), view.viewport_height)
        elif tag == "sessionlens.click" and isinstance(payload.get("sel"), str):
            x, y = _int(payload.get("x"), -1), _int(payload.get("y"), -1)
            width = _int(payload.get("w")) or view.doc_width or view.viewport_width
            if x < 0 or y < 0 or width <= 0:
                return
            view.doc_width = _int(payload.get("w"), view.doc_width)
            view.doc_height = _int(payload.get("h"), view.doc_height)
            self.tally.cells[("click", view.key, *_cell(x, y, width))] += 1
            selector = payload["sel"][:300]
            entry = self.tally.elements.setdefault(
                (view.key, selector), [str(payload.get("tag") or "")[:30], 0, 0, 0]
            )
            entry[1] += 1
            entry[2] += min(1000, max(0, _int(payload.get("ox"))))
            entry[3] += min(1000, max(0, _int(payload.get("oy"))))
            view.counted = True

    def _attend(self, view: View, ts: int) -> None:
        """The time since the page's previous event, to the bands that were in view."""
        if view.last_ts is not None and ts > view.last_ts:
            spent = min(ts - view.last_ts, IDLE_CAP_MS)
            for band in bands_in_view(view.scroll_y, view.viewport_height, view.doc_height):
                view.attention[band] += spent
                self.tally.band(view.key, band, ms=spent)
                view.counted = True
        if view.last_ts is None or ts > view.last_ts:
            view.last_ts = ts

    def _reach(self, view: View) -> None:
        shown = bands_in_view(view.scroll_y, view.viewport_height, view.doc_height)
        deepest = shown[-1] if shown else -1
        for band in range(view.reach + 1, deepest + 1):
            self.tally.band(view.key, band, views=1)
            view.counted = True
        view.reach = max(view.reach, deepest)


KEY_COLUMNS = ["project_id", "path", "day", "device", "width", "is_returning"]


def _key_values(project_id: int, key: Key) -> dict[str, Any]:
    return dict(zip(KEY_COLUMNS, (project_id, *key), strict=True))


def write(conn: Connection, project_id: int, folder: Folder) -> None:
    tally = folder.tally
    counters.add(
        conn,
        heatmap_cell,
        [
            {"kind": kind, **_key_values(project_id, key), "x": x, "y": y, "n": n}
            for (kind, key, x, y), n in sorted(tally.cells.items())
        ],
        ["kind", *KEY_COLUMNS, "x", "y"],
        ["n"],
    )
    counters.add(
        conn,
        heatmap_element,
        [
            {
                **_key_values(project_id, key),
                "selector": selector,
                "tag": tag,
                "clicks": clicks,
                "offset_x_sum": ox,
                "offset_y_sum": oy,
            }
            for (key, selector), (tag, clicks, ox, oy) in sorted(tally.elements.items())
        ],
        [*KEY_COLUMNS, "selector"],
        ["clicks", "offset_x_sum", "offset_y_sum"],
    )
    _write_totals(conn, project_id, tally)
    counters.add(
        conn,
        heatmap_band,
        [
            {**_key_values(project_id, key), "band": band, "views": views, "attention_ms": ms}
            for (key, band), (views, ms) in sorted(tally.bands.items())
        ],
        [*KEY_COLUMNS, "band"],
        ["views", "attention_ms"],
    )
    session_id = folder.session.id
    for view in folder.views.values():
        if not view.touched:
            continue
        values = view.values(session_id)
        if view.stored:
            conn.execute(
                update(heatmap_view)
                .where(heatmap_view.c.pageview_id == view.pageview_id)
                .values(**values)
            )
        else:
            conn.execute(insert(heatmap_view).values(**values))


def fold(conn: Connection, session_row: Row[Any], events: list[dict[str, Any]]) -> None:
    """Add a session's fresh events (after its pageviews are stored) to the heatmaps."""
    pages = conn.execute(
        select(pageview.c.id, pageview.c.ts, pageview.c.path)
        .where(pageview.c.session_id == session_row.id)
        .order_by(pageview.c.ts, pageview.c.id)
    ).all()
    if not pages:
        return
    stored = conn.execute(
        select(heatmap_view).where(heatmap_view.c.session_id == session_row.id)
    ).all()
    folder = Folder(session_row, pages, stored)
    for event in sorted(events, key=lambda e: _int(e.get("timestamp"))):
        folder.fold(event)
    write(conn, session_row.project_id, folder)


def _write_totals(conn: Connection, project_id: int, tally: Tally) -> None:
    """The run's cells and elements summed over device, width and new/returning."""
    cells: Counter[tuple[str, str, date, int, int]] = Counter()
    for (kind, key, x, y), n in tally.cells.items():
        cells[(kind, key[0], key[1], x, y)] += n
    counters.add(
        conn,
        heatmap_cell_total,
        [
            {
                "project_id": project_id,
                "kind": kind,
                "path": path,
                "day": day,
                "x": x,
                "y": y,
                "n": n,
            }
            for (kind, path, day, x, y), n in sorted(cells.items())
        ],
        ["project_id", "kind", "path", "day", "x", "y"],
        ["n"],
    )
    elements: dict[tuple[str, date, str], list[Any]] = {}
    for (key, selector), (tag, clicks, ox, oy) in tally.elements.items():
        entry = elements.setdefault((key[0], key[1], selector), [tag, 0, 0, 0])
        entry[0] = max(entry[0], tag)
        entry[1] += clicks
        entry[2] += ox
        entry[3] += oy
    counters.add(
        conn,
        heatmap_element_total,
        [
            {
                "project_id": project_id,
                "path": path,
                "day": day,
                "selector": selector,
                "tag": tag,
                "clicks": clicks,
                "offset_x_sum": ox,
                "offset_y_sum": oy,
            }
            for (path, day, selector), (tag, clicks, ox, oy) in sorted(elements.items())
        ],
        ["project_id", "path", "day", "selector"],
        ["clicks", "offset_x_sum", "offset_y_sum"],
        greatest=["tag"],
    )


# The same GROUP BY filled migration 0015 for the aggregates stored before it.
_CELL_TOTALS = """
INSERT INTO heatmap_cell_total (project_id, kind, path, day, x, y, n)
SELECT project_id, kind, path, day, x, y, sum(n) FROM heatmap_cell WHERE project_id = :p
GROUP BY project_id, kind, path, day, x, y
"""
_ELEMENT_TOTALS = """
INSERT INTO heatmap_element_total
    (project_id, path, day, selector, tag, clicks, offset_x_sum, offset_y_sum)
SELECT project_id, path, day, selector, max(tag), sum(clicks), sum(offset_x_sum),
       sum(offset_y_sum)
FROM heatmap_element WHERE project_id = :p
GROUP BY project_id, path, day, selector
"""


def fill_totals(conn: Connection, project_id: int) -> None:
    """Recompute a project's totals from its detailed rows (for rows written directly, as
    bench/heatmaps.py does)."""
    conn.execute(delete(heatmap_cell_total).where(heatmap_cell_total.c.project_id == project_id))
    conn.execute(
        delete(heatmap_element_total).where(heatmap_element_total.c.project_id == project_id)
    )
    conn.execute(text(_CELL_TOTALS), {"p": project_id})
    conn.execute(text(_ELEMENT_TOTALS), {"p": project_id})
