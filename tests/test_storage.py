from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from sessionlens.context import Context
from sessionlens.ingest.body import BodyTooLarge, BodyUnreadable, decode, gunzip_capped
from sessionlens.storage.blobs import BlobNotFound, open_blob_store
from sessionlens.storage.tables import metadata


def test_blob_store_put_get_range_list_delete(tmp_path: Path) -> None:
    store = open_blob_store((tmp_path / "blobs").as_uri())
    store.put("p1/sessions/a/000000.json.zst", b"0123456789")
    store.put("p1/sessions/a/000001.json.zst", b"abc")
    store.put("p2/sessions/b/000000.json.zst", b"xyz")
    assert store.get("p1/sessions/a/000000.json.zst") == b"0123456789"
    assert store.get_range("p1/sessions/a/000000.json.zst", 2, 5) == b"234"
    assert store.list("p1/") == ["p1/sessions/a/000000.json.zst", "p1/sessions/a/000001.json.zst"]
    store.delete("p1/sessions/a/000001.json.zst")
    store.delete("p1/sessions/a/000001.json.zst")  # deleting twice is fine
    assert store.list("p1/") == ["p1/sessions/a/000000.json.zst"]
    with pytest.raises(BlobNotFound):
        store.get("p1/sessions/a/000001.json.zst")


def test_migrations_create_the_whole_schema(ctx: Context) -> None:
    names = set(inspect(ctx.engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= names
    assert "alembic_version" in names


def test_sqlite_runs_in_wal_mode(ctx: Context) -> None:
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with ctx.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_long_read_does_not_hold_the_write_lock(ctx: Context) -> None:
    """Reports and exports read through ctx.reader: while one is in the middle of its
    transaction (and a funnel fills a temporary table), a write still goes through at once.
    Through the plain engine, SQLite's IMMEDIATE transactions would make the write wait."""
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with ctx.reader.connect() as reading:
        reading.execute(text("SELECT count(*) FROM project")).scalar()
        reading.execute(text("CREATE TEMP TABLE steps AS SELECT 1 AS x"))
        with ctx.engine.connect() as other:
            other.connection.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            with other.begin():
                other.execute(
                    text(
                        "INSERT INTO organisation (name, require_2fa, created_at)"
                        " VALUES ('o', 0, '2026-01-01')"
                    )
                )
        assert reading.execute(text("SELECT count(*) FROM temp.steps")).scalar() == 1
    with ctx.engine.connect() as writing:
        writing.execute(text("SELECT count(*) FROM project")).scalar()
        with ctx.engine.connect() as other:
            other.connection.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            with pytest.raises(OperationalError, match="locked"), other.begin():
                other.execute(
                    text(
                        "INSERT INTO organisation (name, require_2fa, created_at)"
                        " VALUES ('p', 0, '2026-01-01')"
                    )
                )


def test_gunzip_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (3 * 1024 * 1024))
    with pytest.raises(BodyTooLarge):
        gunzip_capped(bomb, limit=1024 * 1024)
    assert len(gunzip_capped(bomb, limit=4 * 1024 * 1024)) == 3 * 1024 * 1024


def test_gunzip_handles_output_that_ends_with_the_input() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    data = bytes(range(256)) * 8192  # 2 MiB, exactly two read chunks
    packed = packer.compress(data) + packer.flush()
    assert gunzip_capped(packed) == data


def test_plain_body_passes_and_unknown_encoding_fails() -> None:
    assert decode(b"{}", "") == b"{}"
    assert decode(gzip.compress(b"{}"), "") == b"{}"
    with pytest.raises(BodyUnreadable):
        decode(b"{}", "deflate")


def test_migrations_match_the_tables(ctx: Context) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with ctx.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
