"""Reading sessions, their pages and their recording blocks, with access checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, select, true

from sessionlens.accounts.access import visible_projects
from sessionlens.processing.blocks import read_block_raw
from sessionlens.storage.blobs import BlobStore
from sessionlens.storage.tables import (
    pageview,
    project,
    recording_block,
    session,
    session_signal,
    visitor,
)

SESSION_FIELDS = (
    "id",
    "project_id",
    "started_at",
    "ended_at",
    "duration_ms",
    "active_ms",
    "pages",
    "clicks",
    "errors",
    "rage_clicks",
    "dead_clicks",
    "error_clicks",
    "struggle_score",
    "keypresses",
    "entry_url",
    "exit_url",
    "referrer",
    "referrer_domain",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "browser",
    "browser_version",
    "os",
    "device",
    "screen_width",
    "screen_height",
    "viewport_width",
    "viewport_height",
    "language",
    "country",
    "user_id",
    "is_returning",
)


@dataclass(frozen=True)
class Block:
    index: int
    first_ts: int
    last_ts: int
    has_full_snapshot: bool
    blob_key: str
    raw_bytes: int


def _columns() -> list[Any]:
    return [session.c[name] for name in SESSION_FIELDS] + [
        visitor.c.client_id.label("visitor_id"),
        session.c.first_ts,
    ]


def list_sessions(
    conn: Connection,
    project_id: int,
    page: int,
    per_page: int,
    conditions: list[ColumnElement[bool]] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of a project's sessions, newest first, and whether more follow."""
    rows = (
        conn.execute(
            select(*_columns())
            .join(visitor, visitor.c.id == session.c.visitor_id)
            .where(session.c.project_id == project_id, *(conditions or []))
            .order_by(session.c.started_at.desc(), session.c.id.desc())
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows[:per_page]], len(rows) > per_page


def get_session(
    conn: Connection, user_id: int, session_id: str, organisation_id: int | None = None
) -> dict[str, Any] | None:
    """The session if the user may see its project (in one organisation, when named)."""
    in_org = true() if organisation_id is None else project.c.organisation_id == organisation_id
    row = (
        conn.execute(
            select(
                *_columns(),
                project.c.name.label("project_name"),
                session.c.client_id.label("session_key"),
            )
            .join(visitor, visitor.c.id == session.c.visitor_id)
            .join(project, project.c.id == session.c.project_id)
            .where(session.c.id == session_id, visible_projects(user_id), in_org)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def pageviews(conn: Connection, session_id: str) -> list[dict[str, Any]]:
    rows = (
        conn.execute(
            select(
                pageview.c.ts,
                pageview.c.url,
                pageview.c.path,
                pageview.c.title,
                pageview.c.started_at,
                pageview.c.duration_ms,
                pageview.c.ttfb_ms,
                pageview.c.dcl_ms,
                pageview.c.load_ms,
                pageview.c.lcp_ms,
            )
            .where(pageview.c.session_id == session_id)
            .order_by(pageview.c.ts, pageview.c.id)
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def blocks(conn: Connection, session_id: str) -> list[Block]:
    """The session's blocks in replay order."""
    rows = conn.execute(
        select(
            recording_block.c.block_index,
            recording_block.c.first_ts,
            recording_block.c.last_ts,
            recording_block.c.has_full_snapshot,
            recording_block.c.blob_key,
            recording_block.c.raw_bytes,
        )
        .where(recording_block.c.session_id == session_id)
        .order_by(recording_block.c.first_ts, recording_block.c.block_index)
    )
    return [
        Block(r.block_index, r.first_ts, r.last_ts, r.has_full_snapshot, r.blob_key, r.raw_bytes)
        for r in rows
    ]


def chunks(session_blocks: list[Block], target_bytes: int = 2 * 1024 * 1024) -> list[list[Block]]:
    """Blocks grouped for the player: the first alone, so the first frame comes quickly,
    then runs of consecutive blocks up to about target_bytes, so a long session is not
    fetched a few kilobytes at a time."""
    groups: list[list[Block]] = []
    size = 0
    for position, block in enumerate(session_blocks):
        starts_new = position <= 1 or size + block.raw_bytes > target_bytes
        if starts_new or groups[-1][-1].index + 1 != block.index:
            groups.append([])
            size = 0
        groups[-1].append(block)
        size += block.raw_bytes
    return groups


def block_events(blobs: BlobStore, block: Block) -> bytes:
    """One block's events as a JSON array."""
    return read_block_raw(blobs.get(block.blob_key))


def stream_events(blobs: BlobStore, session_blocks: list[Block]) -> Iterator[bytes]:
    """All events of a session as one JSON array, a block at a time."""
    yield b"["
    first = True
    for block in session_blocks:
        body = block_events(blobs, block)
        inner = body[1:-1]
        if not inner:
            continue
        if not first:
            yield b","
        yield inner
        first = False
    yield b"]"


SIGNAL_LABELS = {
    "rage_click": "Rage click",
    "dead_click": "Dead click",
    "error_click": "Error click",
    "u_turn": "U-turn",
    "excessive_scroll": "Excessive scrolling",
    "thrashing": "Mouse thrashing",
    "form_retry": "Form retry",
}


def _signal_text(kind: str, selector: str, detail: dict[str, Any]) -> str:
    if kind == "rage_click":
        return f"{selector} ({detail.get('clicks', 0)} clicks)"
    if kind == "error_click":
        return f"{selector}: {detail.get('error', '')}"
    if kind == "u_turn":
        return (
            f"back from {detail.get('to', '')} after {int(detail.get('away_ms', 0)) / 1000:.1f} s"
        )
    if kind == "excessive_scroll":
        return f"{detail.get('legs', 0)} scrolls up and down"
    if kind == "thrashing":
        return f"{detail.get('reversals', 0)} direction changes"
    return selector


def signals(conn: Connection, session_id: str, first_ts: int) -> list[dict[str, Any]]:
    """The session's struggle signals in time order, described for people."""
    rows = conn.execute(
        select(
            session_signal.c.ts,
            session_signal.c.kind,
            session_signal.c.path,
            session_signal.c.selector,
            session_signal.c.detail,
        )
        .where(session_signal.c.session_id == session_id)
        .order_by(session_signal.c.ts, session_signal.c.id)
    ).all()
    out = []
    for ts, kind, path, selector, raw in rows:
        detail = json.loads(raw or "{}")
        out.append(
            {
                "kind": kind,
                "label": SIGNAL_LABELS.get(kind, kind),
                "text": _signal_text(kind, selector, detail),
                "offset_ms": max(0, ts - first_ts),
                "path": path,
                "selector": selector,
                "detail": detail,
            }
        )
    return out
