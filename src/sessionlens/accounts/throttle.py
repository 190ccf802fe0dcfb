"""Login throttling per account and per address, counted from the audit log.

Failed attempts are audited anyway (one row per attempt); counting them there works
across every server process without a store of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, func, select

from sessionlens.storage.tables import audit_log

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_ADDRESS = 20
FAILURES = ("login.failure", "login.2fa_failure")


def _wait(conn: Connection, match: ColumnElement[bool], limit: int, now: datetime) -> int:
    count, oldest = conn.execute(
        select(func.count(), func.min(audit_log.c.at)).where(
            audit_log.c.action.in_(FAILURES), match, audit_log.c.at > now - WINDOW
        )
    ).one()
    if count < limit or oldest is None:
        return 0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(1, int((oldest + WINDOW - now).total_seconds()) + 1)


def retry_after(conn: Connection, email: str, address: str, now: datetime) -> int:
    """Seconds to wait before another attempt, or 0 when one is allowed."""
    by_account = _wait(conn, audit_log.c.actor == email.strip().lower()[:320], PER_ACCOUNT, now)
    by_address = _wait(conn, audit_log.c.address == address, PER_ADDRESS, now) if address else 0
    return max(by_account, by_address)
