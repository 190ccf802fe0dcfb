"""Clicks and struggle signals from a session's new batches (called from sessions.apply).

Clicks become page_click rows (heatmaps, funnels). The detectors of struggle.py run over
the new events plus what was kept from earlier batches (signal_state), decide the signals
whose moment has passed, store them, and bring the session's and its page views' counts
and scores up to date. A session quiet for SETTLE_AFTER_MS is settled: its last signals
are decided without waiting for more, and its state row goes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from sessionlens.ingest.log import LogEntry
from sessionlens.processing import events as ev
from sessionlens.processing import struggle
from sessionlens.processing.struggle import Item, Signal
from sessionlens.storage.tables import page_click, pageview, session, session_signal, signal_state

SETTLE_AFTER_MS = 60_000
SETTLE_BATCH = 500
MAX_COORD = 1_000_000
DOCUMENT_ID = 1  # rrweb's id of the document node, unless a full snapshot says otherwise


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _int(value: Any, low: int = 0, high: int = MAX_COORD) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(max(low, min(high, value)))


def _payload(data: dict[str, Any]) -> dict[str, Any]:
    payload = data.get("payload")
    return payload if isinstance(payload, dict) else {}


class Reader:
    """Turns rrweb events into struggle Items and click rows, following the current page
    and the document node's id across batches."""

    def __init__(self, path: str, root: int) -> None:
        self.path = path
        self.root = root
        self.items: list[Item] = []
        self.clicks: list[dict[str, Any]] = []

    def batch(self, url: str, events: Iterable[dict[str, Any]]) -> None:
        if url:
            self.path = ev.split_url(url)[0]
        for event in events:
            data = event.get("data")
            if isinstance(data, dict):
                self.event(int(event["timestamp"]), event.get("type"), data)

    def event(self, ts: int, kind: Any, data: dict[str, Any]) -> None:
        if kind == ev.META and isinstance(data.get("href"), str):
            self.nav(ts, data["href"])
        elif kind == ev.FULL_SNAPSHOT and isinstance(data.get("node"), dict):
            self.root = _int(data["node"].get("id"), 0) or DOCUMENT_ID
        elif kind == ev.INCREMENTAL:
            self.incremental(ts, data)
        elif kind == ev.CUSTOM:
            self.custom(ts, str(data.get("tag")), _payload(data))

    def nav(self, ts: int, href: str) -> None:
        self.path = ev.split_url(href)[0]
        self.items.append(Item(ts, "nav", {"path": self.path}))

    def incremental(self, ts: int, data: dict[str, Any]) -> None:
        source = data.get("source")
        if source == 0:
            self.items.append(Item(ts, "mut"))
        elif source == ev.SOURCE_INPUT:
            self.items.append(Item(ts, "input"))
        elif source == ev.SOURCE_SCROLL and data.get("id") == self.root:
            self.items.append(Item(ts, "scroll", {"y": _int(data.get("y")), "path": self.path}))
        elif source in (ev.SOURCE_MOUSE_MOVE, ev.SOURCE_TOUCH_MOVE):
            for pos in data.get("positions") or []:
                if isinstance(pos, dict):
                    at = ts + _int(pos.get("timeOffset"), -60_000, 0)
                    xy = {"x": _int(pos.get("x")), "y": _int(pos.get("y")), "path": self.path}
                    self.items.append(Item(at, "move", xy))

    def custom(self, ts: int, tag: str, payload: dict[str, Any]) -> None:
        if tag == "sessionlens.page" and isinstance(payload.get("href"), str):
            self.nav(ts, payload["href"])
        elif tag == "sessionlens.click" and isinstance(payload.get("sel"), str):
            self.click(ts, payload)
        elif tag == "sessionlens.error":
            self.items.append(Item(ts, "err", {"message": str(payload.get("message"))[:200]}))
        elif tag == "sessionlens.net":
            self.items.append(
                Item(ts, "net", {"click_ts": _int(payload.get("click_ts"), 0, 2**53)})
            )
        elif tag == "sessionlens.form" and payload.get("act") in ("submit", "invalid"):
            form = str(payload.get("form") or "")[:300]
            self.items.append(Item(ts, str(payload["act"]), {"form": form, "path": self.path}))

    def click(self, ts: int, payload: dict[str, Any]) -> None:
        row = {
            "ts": ts,
            "path": self.path,
            "selector": payload["sel"][:300] or "unknown",
            "tag": str(payload.get("tag") or "")[:30],
            "offset_x": _int(payload.get("ox"), 0, 1000),
            "offset_y": _int(payload.get("oy"), 0, 1000),
            "x": _int(payload.get("x")),
            "y": _int(payload.get("y")),
            "doc_width": _int(payload.get("w")),
            "doc_height": _int(payload.get("h")),
            "viewport_width": _int(payload.get("vw")),
            "interactive": bool(payload.get("int")),
        }
        self.clicks.append(row)
        data = {
            "sel": row["selector"],
            "tag": row["tag"],
            "x": row["x"],
            "y": row["y"],
            "int": int(row["interactive"]),
            "dl": int(bool(payload.get("dl"))),
            "chg": int(bool(payload.get("chg"))),
            "path": self.path,
        }
        self.items.append(Item(ts, "click", data))


def _load_state(conn: Connection, session_id: str) -> dict[str, Any]:
    raw = conn.execute(
        select(signal_state.c.state).where(signal_state.c.session_id == session_id)
    ).scalar_one_or_none()
    return json.loads(raw) if raw else {}


def _save_state(conn: Connection, session_id: str, saved_ms: int, state: dict[str, Any]) -> None:
    conn.execute(delete(signal_state).where(signal_state.c.session_id == session_id))
    conn.execute(
        insert(signal_state).values(
            session_id=session_id, saved_ms=saved_ms, state=json.dumps(state)
        )
    )


def apply(
    conn: Connection, project_id: int, session_id: str, fresh: list[LogEntry], last_ts: int
) -> None:
    """Fold a session's new batches (in seq order) into clicks, signals and scores."""
    state = _load_state(conn, session_id)
    reader = Reader(str(state.get("path", "")), int(state.get("root", DOCUMENT_ID)))
    for entry in fresh:
        reader.batch(str(entry.batch["meta"].get("url") or ""), entry.batch["events"])
    for click in reader.clicks:
        conn.execute(
            insert(page_click).values(
                session_id=session_id,
                project_id=project_id,
                started_at=_when(click["ts"]),
                **click,
            )
        )
    items = [Item.from_json(raw) for raw in state.get("items", [])] + reader.items
    horizon = max([last_ts, *(i.ts for i in items)])
    signals, done = struggle.detect(items, state.get("done", {}), horizon)
    _store(conn, project_id, session_id, signals)
    _rescore_session(conn, session_id)  # new JS errors count too
    state = {
        "path": reader.path,
        "root": reader.root,
        "done": done,
        "items": [i.as_json() for i in struggle.keep(items, horizon)],
    }
    # When the state was saved, by the server's clock: a browser's clock may be far off.
    _save_state(conn, session_id, int(time.time() * 1000), state)


def settle(conn: Connection, now_ms: int) -> int:
    """Decide the last signals of sessions with no new batch for SETTLE_AFTER_MS (server
    time); how many settled."""
    rows = conn.execute(
        select(signal_state.c.session_id, signal_state.c.state, session.c.project_id)
        .join(session, session.c.id == signal_state.c.session_id)
        .where(signal_state.c.saved_ms < now_ms - SETTLE_AFTER_MS)
        .limit(SETTLE_BATCH)
    ).all()
    for session_id, raw, project_id in rows:
        state = json.loads(raw)
        items = [Item.from_json(i) for i in state.get("items", [])]
        signals, _ = struggle.detect(items, state.get("done", {}), None)
        _store(conn, project_id, session_id, signals)
        conn.execute(delete(signal_state).where(signal_state.c.session_id == session_id))
    return len(rows)


def _store(conn: Connection, project_id: int, session_id: str, signals: list[Signal]) -> None:
    """Insert the signals, flag their clicks, and update the session's and pages' scores."""
    if not signals:
        return
    pages = conn.execute(
        select(pageview.c.id, pageview.c.ts, pageview.c.path)
        .where(pageview.c.session_id == session_id)
        .order_by(pageview.c.ts, pageview.c.id)
    ).all()
    touched: set[int] = set()
    for signal in signals:
        # The view of the signal's page at its time (a u-turn belongs to the page left).
        before = [p for p in pages if p.ts <= signal.ts]
        same = [p for p in before if p.path == signal.path]
        page_id = (same or before)[-1].id if before else None
        if page_id is not None:
            touched.add(page_id)
        conn.execute(
            insert(session_signal).values(
                session_id=session_id,
                project_id=project_id,
                ts=signal.ts,
                started_at=_when(signal.ts),
                kind=signal.kind,
                path=signal.path[:2000],
                selector=signal.selector[:300],
                detail=json.dumps(signal.detail),
                pageview_id=page_id,
            )
        )
        flag = {"rage_click": "rage", "dead_click": "dead", "error_click": "error"}.get(signal.kind)
        if flag and signal.clicks:
            conn.execute(
                update(page_click)
                .where(page_click.c.session_id == session_id, page_click.c.ts.in_(signal.clicks))
                .values({flag: True})
            )
    for page_id in touched:
        counts = _counts(conn, session_signal.c.pageview_id == page_id)
        conn.execute(
            update(pageview)
            .where(pageview.c.id == page_id)
            .values(struggle_score=struggle.score(counts)[0])
        )
    _rescore_session(conn, session_id)


def _counts(conn: Connection, where: Any) -> Counter[str]:
    rows = conn.execute(
        select(session_signal.c.kind, func.count()).where(where).group_by(session_signal.c.kind)
    ).all()
    return Counter({kind: int(n) for kind, n in rows})


def _rescore_session(conn: Connection, session_id: str) -> None:
    counts = _counts(conn, session_signal.c.session_id == session_id)
    errors = conn.execute(select(session.c.errors).where(session.c.id == session_id)).scalar_one()
    counts["js_error"] = int(errors)
    conn.execute(
        update(session)
        .where(session.c.id == session_id)
        .values(
            rage_clicks=counts["rage_click"],
            dead_clicks=counts["dead_click"],
            error_clicks=counts["error_click"],
            struggle_score=struggle.score(counts)[0],
        )
    )


def breakdown(conn: Connection, session_id: str) -> tuple[int, list[dict[str, Any]]]:
    """The session's score and what each kind of signal (and JS errors) added."""
    counts = _counts(conn, session_signal.c.session_id == session_id)
    errors = conn.execute(select(session.c.errors).where(session.c.id == session_id)).scalar_one()
    counts["js_error"] = int(errors)
    return struggle.score(counts)
