"""The processor: drains the ingest queue into blocks and summaries.

Embedded deployments run it as a background task of the server; `sessionlens worker`
runs it as a process of its own. run_once() is also what tests and `sessionlens process`
call directly. The queue is the context's (ingest/queue.py: the SQL log or JetStream).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import defaultdict

from sqlalchemy import Connection, text
from sqlalchemy.exc import DataError

from sessionlens import metrics
from sessionlens.context import Context
from sessionlens.ingest.log import LogEntry
from sessionlens.ingest.queue import QueueUnavailable, poison_reason
from sessionlens.processing import interactions, sessions
from sessionlens.recordings import retention
from sessionlens.storage.tables import utcnow

logger = logging.getLogger(__name__)

CHUNK = 200
PURGE_EVERY_S = 3600
SETTLE_EVERY_S = 15
# Errors that come from the batch's content: retrying cannot help, so the batch is set
# aside with the reason instead of blocking the log.
POISON = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    ArithmeticError,  # an overflow from an absurd number
    RecursionError,
    DataError,  # the database refused a value (out of range): the content, not the database
)


class Processor:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def run_once(self, limit: int = CHUNK) -> int:
        """Process up to `limit` pending batches; the number taken from the queue."""
        queue = self.ctx.queue
        entries = queue.take(limit)
        groups: dict[tuple[int, str], list[LogEntry]] = defaultdict(list)
        for entry in entries:
            groups[(entry.project_id, entry.batch["session_id"])].append(entry)
        try:
            for (project_id, client_id), group in groups.items():
                self._apply_group(project_id, client_id, group)
        except BaseException:
            # Storage down or a bug: hand back what was not applied, to be tried again.
            queue.release(entries)
            raise
        return len(entries)

    def drain(self) -> int:
        total = 0
        while taken := self.run_once():
            total += taken
        return total

    def settle(self) -> int:
        """Decide the last struggle signals of sessions that have gone quiet."""
        now_ms = int(time.time() * 1000)
        total = 0
        while True:
            with self.ctx.engine.begin() as conn:
                settled = interactions.settle(conn, now_ms)
            total += settled
            if settled < interactions.SETTLE_BATCH:
                return total

    def _apply_group(self, project_id: int, client_id: str, group: list[LogEntry]) -> None:
        queue = self.ctx.queue
        try:
            with self.ctx.engine.begin() as conn:
                _lock_session(conn, project_id, client_id)
                sessions.apply(conn, self.ctx.blobs, project_id, client_id, group)
                queue.done(conn, group)
        except POISON as exc:
            if len(group) > 1:
                # Find the bad batch: apply them one at a time.
                for entry in group:
                    self._apply_group(project_id, client_id, [entry])
                return
            reason = poison_reason(exc)
            logger.warning(
                "batch %s (project %s, seq %s) set aside: %s",
                group[0].id,
                project_id,
                group[0].batch.get("seq"),
                reason,
            )
            metrics.PROCESSING_ERRORS.inc(1, "poison")
            with self.ctx.engine.begin() as conn:
                queue.set_aside(conn, group[0], reason)
        queue.acknowledge(group)

    async def _purge(self) -> None:
        try:
            purged = await asyncio.to_thread(
                retention.purge, self.ctx.engine, self.ctx.blobs, utcnow()
            )
        except Exception:
            logger.exception("retention purge failed; will try again")
            return
        if purged:
            logger.info("retention: purged %d expired sessions", purged)

    async def run(self) -> None:
        """Process until cancelled, sleeping while the log is empty."""
        self._wake = asyncio.Event()
        interval = self.ctx.settings.processor_interval_ms / 1000
        failures = 0
        next_purge = next_settle = 0.0
        while True:
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + PURGE_EVERY_S
                await self._purge()
            if time.monotonic() >= next_settle:
                next_settle = time.monotonic() + SETTLE_EVERY_S
                try:
                    await asyncio.to_thread(self.settle)
                except Exception:
                    logger.exception("settling struggle signals failed; will try again")
            try:
                taken = await asyncio.to_thread(self.run_once)
                failures = 0
            except QueueUnavailable as exc:
                failures += 1
                logger.warning("the ingest queue is unavailable (%s); retrying", exc)
                metrics.PROCESSING_ERRORS.inc(1, "retry")
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            except Exception:
                # Storage down or a bug: keep the batches in the log and try again later.
                failures += 1
                logger.exception("processor failed; retrying")
                metrics.PROCESSING_ERRORS.inc(1, "retry")
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            if taken or self.ctx.queue.long_polls:
                continue  # a long-polling queue has just waited for new batches
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)


def _lock_session(conn: Connection, project_id: int, client_id: str) -> None:
    """Apply one session's batches one transaction at a time across workers. PostgreSQL:
    a transaction-scoped advisory lock on the session; SQLite's writers are serialised
    already (BEGIN IMMEDIATE)."""
    if conn.dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"{project_id}:{client_id}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
