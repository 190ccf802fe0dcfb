"""The embedded ingest log: a table in the main database.

append() returns only after the row is committed, so the ingest can acknowledge the
browser; the unique (project, session, seq) key makes a repeated batch a no-op.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import zstandard
from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sessionlens.ingest.schema import Batch
from sessionlens.storage.tables import ingest_log, utcnow

# zstandard's compressor and decompressor objects must not be used by two threads at once
# (the ingest and the API call here from a thread pool): one pair per thread.
_zstd = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    if not hasattr(_zstd, "compressor"):
        _zstd.compressor = zstandard.ZstdCompressor(level=3)
    compressor: zstandard.ZstdCompressor = _zstd.compressor
    return compressor


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_zstd, "decompressor"):
        _zstd.decompressor = zstandard.ZstdDecompressor()
    decompressor: zstandard.ZstdDecompressor = _zstd.decompressor
    return decompressor


@dataclass(frozen=True)
class Envelope:
    """What the server knew when a batch arrived, stored beside the batch itself."""

    user_agent: str
    address: str
    received_at: datetime
    country: str = ""


@dataclass(frozen=True)
class LogEntry:
    id: int
    project_id: int
    envelope: Envelope
    batch: dict[str, Any]


def encode(envelope: Envelope, raw_batch: bytes) -> bytes:
    head = orjson.dumps(
        {
            "ua": envelope.user_agent,
            "ip": envelope.address,
            "at": envelope.received_at.isoformat(),
            "cc": envelope.country,
        }
    )
    return _compressor().compress(head + b"\n" + raw_batch)


def decode(payload: bytes) -> tuple[Envelope, dict[str, Any]]:
    head, _, body = _decompressor().decompress(payload).partition(b"\n")
    meta = orjson.loads(head)
    envelope = Envelope(
        meta["ua"], meta["ip"], datetime.fromisoformat(meta["at"]), meta.get("cc", "")
    )
    return envelope, orjson.loads(body)


def append(
    engine: Engine, project_id: int, batch: Batch, raw_batch: bytes, envelope: Envelope
) -> bool:
    """Durably store a batch; False when this (session, seq) was stored before."""
    values = {
        "project_id": project_id,
        "session_client_id": batch.session_id,
        "seq": batch.seq,
        "received_at": envelope.received_at,
        "payload": encode(envelope, raw_batch),
    }
    keys = ["project_id", "session_client_id", "seq"]
    # One statement: the unique key decides, so a retried batch is a no-op (no race
    # between a check and the insert, and no extra query on the hot path).
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(ingest_log).values(**values).on_conflict_do_nothing(index_elements=keys)
    )
    with engine.begin() as conn:
        return conn.execute(statement.returning(ingest_log.c.id)).first() is not None


def pending(conn: Connection, limit: int) -> list[LogEntry]:
    rows = conn.execute(
        select(ingest_log.c.id, ingest_log.c.project_id, ingest_log.c.payload)
        .where(ingest_log.c.processed_at.is_(None))
        .order_by(ingest_log.c.id)
        .limit(limit)
    )
    entries = []
    for row in rows:
        envelope, batch = decode(row.payload)
        entries.append(LogEntry(row.id, row.project_id, envelope, batch))
    return entries


def mark_processed(conn: Connection, ids: list[int], error: str | None = None) -> None:
    if ids:
        conn.execute(
            update(ingest_log)
            .where(ingest_log.c.id.in_(ids))
            .values(processed_at=utcnow(), error=error)
        )


def pending_count(conn: Connection) -> int:
    """Batches waiting for the processor (a range of the pending index)."""
    return int(
        conn.execute(select(func.count()).where(ingest_log.c.processed_at.is_(None))).scalar_one()
    )


def oldest_pending(conn: Connection) -> datetime | None:
    """When the oldest batch still waiting for the processor arrived (None: none waits).
    One row off the (processed_at, id) index, however long the log."""
    found: datetime | None = conn.execute(
        select(ingest_log.c.received_at)
        .where(ingest_log.c.processed_at.is_(None))
        .order_by(ingest_log.c.id)
        .limit(1)
    ).scalar()
    return found
