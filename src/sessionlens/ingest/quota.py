"""The monthly session quota: how many sessions a project has started this month.

Counting the month's sessions on every batch would cost a query per request, so each
server process keeps, per project, the count read from the database (sessions that
started since the first of the month, UTC) at most `window_s` seconds ago, plus the new
sessions it accepted since. The figure is therefore approximate: other processes'
sessions show up only at the next refresh, and so do sessions accepted but not yet
processed when it happened; a project can go over its quota by what arrives within one
window. The check is in the ingest route, before the queue, so it holds for the embedded
log and for NATS alike.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from sessionlens.storage.tables import ingest_log, session


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass
class _Entry:
    month: datetime
    read_at: float  # time.monotonic() of the database read
    counted: int  # sessions in the database then
    accepted: int = 0  # new sessions this process accepted since


class MonthlySessions:
    def __init__(self, engine: Engine, window_s: int) -> None:
        self.engine = engine
        self.window_s = window_s
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def count(self, project_id: int, now: datetime) -> int:
        """The approximate number of sessions started this month."""
        month = month_start(now)
        with self._lock:
            entry = self._entries.get(project_id)
            fresh = (
                entry is not None
                and entry.month == month
                and time.monotonic() - entry.read_at < self.window_s
            )
        if not fresh:
            counted = self._read(project_id, month)
            with self._lock:
                entry = _Entry(month, time.monotonic(), counted)
                self._entries[project_id] = entry
        assert entry is not None
        return entry.counted + entry.accepted

    def accepted(self, project_id: int) -> None:
        """A new session was stored for the project."""
        with self._lock:
            entry = self._entries.get(project_id)
            if entry is not None:
                entry.accepted += 1

    def _read(self, project_id: int, month: datetime) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    # A range of ix_session_project_started.
                    select(func.count()).where(
                        session.c.project_id == project_id, session.c.started_at >= month
                    )
                ).scalar_one()
            )

    def known(self, project_id: int, session_id: str) -> bool:
        """Whether the session is stored already (a retried first batch, a later page load):
        asked only when the project is over its quota."""
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(session.c.id)
                .where(session.c.project_id == project_id, session.c.client_id == session_id)
                .limit(1)
            ).first()
            if stored is not None:
                return True
            logged = conn.execute(
                select(ingest_log.c.id)
                .where(
                    ingest_log.c.project_id == project_id,
                    ingest_log.c.session_client_id == session_id,
                )
                .limit(1)
            ).first()
            return logged is not None
