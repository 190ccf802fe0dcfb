"""A visitor's data, found by visitor id or identified user id: export and erasure.

Erasure deletes the blobs first and the rows after: if it stops half way, what is left is
rows pointing at recordings that are already gone, never recordings nobody can find.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, delete, select

from sessionlens.processing import page_days
from sessionlens.recordings import queries
from sessionlens.storage.blobs import BlobStore
from sessionlens.storage.tables import (
    ingest_log,
    pageview,
    recording_block,
    session,
    session_error,
    visitor,
)
from sessionlens.surveys import linked

By = Literal["visitor", "user"]


class SubjectError(ValueError):
    """A user-caused problem with a lookup."""


@dataclass(frozen=True)
class Erased:
    sessions: int
    blocks: int
    log_entries: int
    visitors: int
    answers: int = 0  # survey answers and feedback


def session_rows(conn: Connection, project_id: int, by: By, value: str) -> list[dict[str, Any]]:
    """The sessions of one visitor (their browser's id) or one identified user."""
    value = value.strip()
    if not value or len(value) > 200:
        raise SubjectError("give a visitor id or user id of 1-200 characters")
    condition = (visitor.c.client_id == value) if by == "visitor" else (session.c.user_id == value)
    rows = (
        conn.execute(
            select(
                session.c.id,
                session.c.client_id,
                session.c.started_at,
                session.c.pages,
                session.c.duration_ms,
                session.c.user_id,
                visitor.c.client_id.label("visitor_id"),
                session.c.visitor_id.label("visitor_row"),
            )
            .join(visitor, visitor.c.id == session.c.visitor_id)
            .where(session.c.project_id == project_id, condition)
            .order_by(session.c.started_at)
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def export(
    conn: Connection, blobs: BlobStore, project_id: int, by: By, value: str
) -> dict[str, Any]:
    """Everything stored about the subject, rrweb events included."""
    found = session_rows(conn, project_id, by, value)
    sessions = []
    for row in found:
        summary = conn.execute(select(session).where(session.c.id == row["id"])).mappings().one()
        blocks = queries.blocks(conn, row["id"])
        events = orjson.loads(b"".join(queries.stream_events(blobs, blocks)))
        sessions.append(
            {
                "session": {str(k): v for k, v in summary.items() if k != "last_activity_ts"},
                "pageviews": [
                    {str(k): v for k, v in page.items()}
                    for page in queries.pageviews(conn, row["id"])
                ],
                "errors": [
                    {str(k): v for k, v in error.items()}
                    for error in conn.execute(
                        select(
                            session_error.c.ts,
                            session_error.c.kind,
                            session_error.c.message,
                            session_error.c.source,
                            session_error.c.stack,
                            session_error.c.page_url,
                        )
                        .where(session_error.c.session_id == row["id"])
                        .order_by(session_error.c.ts, session_error.c.id)
                    ).mappings()
                ],
                "events": events,
            }
        )
    visitor_ids = sorted({row["visitor_id"] for row in found})
    session_keys, visitor_keys = _keys(found, by, value)
    return {
        "project_id": project_id,
        "subject": {"by": by, "id": value},
        "visitor_ids": visitor_ids,
        "sessions": sessions,
        **linked.of_subject(conn, project_id, session_keys, visitor_keys),
    }


def _keys(found: list[dict[str, Any]], by: By, value: str) -> tuple[list[str], list[str]]:
    """The recorder's session and visitor ids of a subject (survey answers and feedback are
    stored by them, and may exist without a recorded session)."""
    visitor_keys = {row["visitor_id"] for row in found}
    if by == "visitor":
        visitor_keys.add(value.strip())
    return sorted({row["client_id"] for row in found}), sorted(visitor_keys)


def erase_sessions(
    conn: Connection,
    blobs: BlobStore,
    project_id: int,
    session_ids: list[str],
    progress: Callable[[int], None] | None = None,
) -> Erased:
    """Delete sessions with their blocks, blobs, pageviews and raw log entries."""
    blocks = log_entries = 0
    visitor_rows: set[int] = set()
    for session_id in session_ids:
        row = conn.execute(
            select(session.c.client_id, session.c.visitor_id).where(
                session.c.id == session_id, session.c.project_id == project_id
            )
        ).first()
        if row is None:
            continue
        visitor_rows.add(row.visitor_id)
        keys = (
            conn.execute(
                # Locked, so a concurrent rotate-keys cannot write a blob back after it is gone.
                select(recording_block.c.blob_key)
                .where(recording_block.c.session_id == session_id)
                .with_for_update()
            )
            .scalars()
            .all()
        )
        for key in keys:
            blobs.delete(key)
        blocks += len(keys)
        conn.execute(delete(recording_block).where(recording_block.c.session_id == session_id))
        page_days.remove(conn, project_id, session_id)
        conn.execute(delete(pageview).where(pageview.c.session_id == session_id))
        log_entries += conn.execute(
            delete(ingest_log).where(
                ingest_log.c.project_id == project_id,
                ingest_log.c.session_client_id == row.client_id,
            )
        ).rowcount
        conn.execute(delete(session).where(session.c.id == session_id))
        if progress is not None:
            progress(1)
    visitors = 0
    for visitor_row in visitor_rows:
        left = conn.execute(
            select(session.c.id).where(session.c.visitor_id == visitor_row).limit(1)
        ).first()
        if left is None:
            visitors += conn.execute(delete(visitor).where(visitor.c.id == visitor_row)).rowcount
    return Erased(len(session_ids), blocks, log_entries, visitors)


def erase(conn: Connection, blobs: BlobStore, project_id: int, by: By, value: str) -> Erased:
    found = session_rows(conn, project_id, by, value)
    session_keys, visitor_keys = _keys(found, by, value)
    erased = erase_sessions(conn, blobs, project_id, [row["id"] for row in found])
    answers = linked.erase_subject(conn, project_id, session_keys, visitor_keys)
    return replace(erased, answers=answers)
