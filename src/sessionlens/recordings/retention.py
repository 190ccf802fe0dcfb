"""Retention: sessions older than their project's retention days are purged, and so are
ended sessions shorter than their project's minimum duration (recording rules)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select

from sessionlens import projects, recording_rules
from sessionlens.recordings.subjects import erase_sessions
from sessionlens.storage.blobs import BlobStore
from sessionlens.storage.tables import ingest_log, project, session
from sessionlens.surveys import linked

DEFAULT_RETENTION_DAYS = 90
# Processed log entries are kept a little while for replaying the processor, then dropped.
LOG_KEEP = timedelta(days=7)
CHUNK = 100
# A session with no batch for this long has ended (the recorder starts a new one after
# 30 minutes idle), so its duration is final.
ENDED_AFTER = timedelta(minutes=30)


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


def too_short(engine: Engine, now: datetime) -> dict[int, list[str]]:
    """Per project with a minimum duration, the ended sessions shorter than it."""
    out: dict[int, list[str]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(project.c.id, project.c.settings)):
            settings = json.loads(row.settings or "{}")
            minimum = recording_rules.of_settings(settings).min_duration_s
            if not minimum:
                continue
            ids = (
                conn.execute(
                    select(session.c.id).where(
                        session.c.project_id == row.id,
                        # updated_at: the server's clock when the last batch was applied.
                        session.c.updated_at < now - ENDED_AFTER,
                        session.c.duration_ms < minimum * 1000,
                    )
                )
                .scalars()
                .all()
            )
            if ids:
                out[row.id] = list(ids)
    return out


def doomed(engine: Engine, now: datetime) -> dict[int, list[str]]:
    """Per project, the sessions the next purge deletes."""
    out = expired(engine, now)
    for project_id, ids in too_short(engine, now).items():
        out[project_id] = list(dict.fromkeys(out.get(project_id, []) + ids))
    return out


def purge(
    engine: Engine, blobs: BlobStore, now: datetime, progress: Callable[[int], None] | None = None
) -> int:
    """Purge every expired session (in small transactions) and old processed log rows."""
    total = 0
    for project_id, ids in doomed(engine, now).items():
        for start in range(0, len(ids), CHUNK):
            with engine.begin() as conn:
                total += erase_sessions(
                    conn, blobs, project_id, ids[start : start + CHUNK], progress
                ).sessions
    with engine.begin() as conn:
        conn.execute(delete(ingest_log).where(ingest_log.c.processed_at < now - LOG_KEEP))
        for row in conn.execute(select(project.c.id, project.c.settings)).all():
            days = retention_days(json.loads(row.settings or "{}"))
            linked.purge_before(conn, row.id, now - timedelta(days=days))
    return total


def count_expired(engine: Engine, now: datetime) -> int:
    return sum(len(ids) for ids in doomed(engine, now).values())
