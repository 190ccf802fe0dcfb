"""The ingest queue: where accepted batches wait for the processor.

Two implementations of one small interface, chosen by SESSIONLENS_QUEUE_URL:

- `SqlLog` (default): the `ingest_log` table in the main database (ingest/log.py).
- `JetStreamQueue` (ingest/jetstream.py): a NATS JetStream stream, for several ingest
  processes and `sessionlens worker` processes.

The ingest calls `append()` and answers 202 only after it returned; `QueueUnavailable`
means nothing was stored and the ingest answers 503. The processor calls `take()`, applies
a session's entries in one transaction, calls `done(conn, ...)` inside that transaction
and `acknowledge()` after its commit; a batch whose content cannot be processed goes to
`set_aside()` (a dead letter) and is then acknowledged too.

For health and metrics (read by other modules; none of these raise):
- `ctx.queue.ready()`: True when a batch appended now would be stored.
- `ctx.queue.pending()`: batches stored but not yet processed (None when unknown).
- `ctx.queue.counters`: running totals of this process (`QueueCounters.snapshot()`).
- `ctx.queue.dead_letters(project_ids, limit)`: recent dead letters, newest first, with
  no payload content.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Protocol

from sqlalchemy import Connection, Engine, select, text

from sessionlens.ingest import log
from sessionlens.ingest.log import Envelope, LogEntry
from sessionlens.ingest.schema import Batch
from sessionlens.storage.tables import ingest_log


class QueueUnavailable(Exception):
    """The queue cannot store a batch now; the client should retry later."""


@dataclass(frozen=True)
class DeadLetter:
    """A batch set aside because its content could not be processed."""

    at: datetime
    project_id: int
    session: str
    seq: int
    reason: str


@dataclass
class QueueCounters:
    """Running totals of this process, for /metrics."""

    appended: int = 0
    duplicates: int = 0
    unavailable: int = 0
    processed: int = 0
    dead_letters: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "appended": self.appended,
                "duplicates": self.duplicates,
                "unavailable": self.unavailable,
                "processed": self.processed,
                "dead_letters": self.dead_letters,
            }


class Queue(Protocol):
    kind: str
    counters: QueueCounters
    # True when take() itself waits for new batches (so the processor need not sleep).
    long_polls: bool

    def append(self, project_id: int, batch: Batch, raw_batch: bytes, envelope: Envelope) -> bool:
        """Durably store a batch; False when it was stored before. Raises QueueUnavailable."""
        ...

    def take(self, limit: int) -> list[LogEntry]: ...

    def done(self, conn: Connection, entries: list[LogEntry]) -> None:
        """Inside the transaction that stored what the entries hold."""
        ...

    def acknowledge(self, entries: list[LogEntry]) -> None:
        """After that transaction committed."""
        ...

    def release(self, entries: list[LogEntry]) -> None:
        """Hand back entries taken but not processed (storage down): they come again."""
        ...

    def set_aside(self, conn: Connection, entry: LogEntry, reason: str) -> None: ...

    def ready(self) -> bool: ...

    def pending(self) -> int | None: ...

    def dead_letters(self, project_ids: list[int], limit: int = 50) -> list[DeadLetter]: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


def poison_reason(exc: BaseException) -> str:
    """Why a batch was set aside, without the exception's message: messages can quote the
    batch's content (a typed value, a URL), and dead letters are shown in the console."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    where = "/".join(PurePath(last.filename).parts[-2:])
    return f"{type(exc).__name__} at {where}:{last.lineno} in {last.name}"


def safe_reason(stored: str | None) -> str:
    """Older rows kept repr(exc): show only the exception's name from those."""
    return (stored or "").split("(", 1)[0]


class SqlLog:
    """The embedded ingest log: a table in the main database (see ingest/log.py)."""

    kind = "sql"
    long_polls = False

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counters = QueueCounters()

    def append(self, project_id: int, batch: Batch, raw_batch: bytes, envelope: Envelope) -> bool:
        stored = log.append(self.engine, project_id, batch, raw_batch, envelope)
        self.counters.add("appended" if stored else "duplicates")
        return stored

    def take(self, limit: int) -> list[LogEntry]:
        with self.engine.connect() as conn:
            return log.pending(conn, limit)

    def done(self, conn: Connection, entries: list[LogEntry]) -> None:
        log.mark_processed(conn, [e.id for e in entries])

    def acknowledge(self, entries: list[LogEntry]) -> None:
        self.counters.add("processed", len(entries))

    def release(self, entries: list[LogEntry]) -> None:
        pass  # still unprocessed rows: taken again next time

    def set_aside(self, conn: Connection, entry: LogEntry, reason: str) -> None:
        log.mark_processed(conn, [entry.id], error=reason)
        self.counters.add("dead_letters")

    def ready(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def pending(self) -> int | None:
        try:
            with self.engine.connect() as conn:
                return log.pending_count(conn)
        except Exception:
            return None

    def dead_letters(self, project_ids: list[int], limit: int = 50) -> list[DeadLetter]:
        if not project_ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    ingest_log.c.processed_at,
                    ingest_log.c.project_id,
                    ingest_log.c.session_client_id,
                    ingest_log.c.seq,
                    ingest_log.c.error,
                )
                .where(ingest_log.c.error.is_not(None), ingest_log.c.project_id.in_(project_ids))
                .order_by(ingest_log.c.processed_at.desc(), ingest_log.c.id.desc())
                .limit(limit)
            )
            return [
                DeadLetter(
                    r.processed_at, r.project_id, r.session_client_id, r.seq, safe_reason(r.error)
                )
                for r in rows
            ]

    def describe(self) -> str:
        return "embedded ingest log (the ingest_log table)"

    def close(self) -> None:
        pass


def open_queue(
    engine: Engine,
    url: str | None,
    stream: str = "sessionlens",
    replicas: int = 1,
    partitions: int = 16,
    ack_wait_s: int = 60,
) -> Queue:
    if not url:
        return SqlLog(engine)
    from sessionlens.ingest.jetstream import JetStreamQueue

    return JetStreamQueue(url, stream, replicas, partitions, ack_wait_s)
