"""The processor: drains the ingest log into blocks and summaries.

Embedded deployments run it as a background task of the server; run_once() is also
what tests and `sessionlens process` call directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict

from sqlalchemy.exc import DataError

from sessionlens.context import Context
from sessionlens.ingest import log
from sessionlens.ingest.log import LogEntry
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
        """Process up to `limit` pending batches; the number taken from the log."""
        with self.ctx.engine.connect() as conn:
            entries = log.pending(conn, limit)
        groups: dict[tuple[int, str], list[LogEntry]] = defaultdict(list)
        for entry in entries:
            groups[(entry.project_id, entry.batch["session_id"])].append(entry)
        for (project_id, client_id), group in groups.items():
            self._apply_group(project_id, client_id, group)
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
        try:
            with self.ctx.engine.begin() as conn:
                sessions.apply(conn, self.ctx.blobs, project_id, client_id, group)
                log.mark_processed(conn, [e.id for e in group])
        except POISON as exc:
            if len(group) > 1:
                # Find the bad batch: apply them one at a time.
                for entry in group:
                    self._apply_group(project_id, client_id, [entry])
                return
            logger.warning("batch %s set aside: %r", group[0].id, exc)
            with self.ctx.engine.begin() as conn:
                log.mark_processed(conn, [group[0].id], error=repr(exc)[:2000])

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
            except Exception:
                # Storage down or a bug: keep the batches in the log and try again later.
                failures += 1
                logger.exception("processor failed; retrying")
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            if taken:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
