"""Retention: sessions older than their project's retention days are purged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select

from sessionlens import projects
from sessionlens.recordings.subjects import erase_sessions
from sessionlens.storage.blobs import BlobStore
from sessionlens.storage.tables import ingest_log, project, session

DEFAULT_RETENTION_DAYS = 90
# Processed log entries are kept a little while for replaying the processor, then dropped.
LOG_KEEP = timedelta(days=7)
CHUNK = 100


def retention_days(settings: dict[str, object]) -> int:
    value = settings.get("retention_days", DEFAULT_RETENTION_DAYS)
    return value if isinstance(value, int) and value > 0 else DEFAULT_RETENTION_DAYS


def expired(engine: Engine, now: datetime) -> dict[int, list[str]]:
    """Per project, the ids of sessions past retention."""
    out: dict[int, list[str]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(project.c.id)):
            current = projects.by_id(conn, row.id)
            if current is None:
                continue
            cutoff = now - timedelta(days=retention_days(current.settings))
            ids = (
                conn.execute(
                    select(session.c.id).where(
                        session.c.project_id == row.id, session.c.ended_at < cutoff
                    )
                )
                .scalars()
                .all()
            )
            if ids:
                out[row.id] = list(ids)
    return out


def purge(
    engine: Engine, blobs: BlobStore, now: datetime, progress: Callable[[int], None] | None = None
) -> int:
    """Purge every expired session (in small transactions) and old processed log rows."""
    total = 0
    for project_id, ids in expired(engine, now).items():
        for start in range(0, len(ids), CHUNK):
            with engine.begin() as conn:
                total += erase_sessions(
                    conn, blobs, project_id, ids[start : start + CHUNK], progress
                ).sessions
    with engine.begin() as conn:
        conn.execute(delete(ingest_log).where(ingest_log.c.processed_at < now - LOG_KEEP))
    return total


def count_expired(engine: Engine, now: datetime) -> int:
    return sum(len(ids) for ids in expired(engine, now).values())
