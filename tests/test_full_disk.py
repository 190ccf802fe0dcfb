"""A full disk under the blob store: a real one, a 256 KiB tmpfs mounted for the test
(root only), filled up with a file and emptied again.

The ingest log lives elsewhere (the database), so batches are still accepted (202) and
stay durable; the processor's block writes fail with ENOSPC, it keeps every batch
pending and writes no block row; /readyz answers 503 naming the blob store. When space
returns, readiness comes back, the processor catches up, and every block reads back
whole.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens import config, metrics
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.ingest import log
from sessionlens.processing.processor import Processor
from sessionlens.storage.blobs import BlobStoreUnavailable
from sessionlens.storage.engine import migrate
from sessionlens.storage.tables import recording_block, session
from tests.conftest import batch, click, make_account, send

T0 = 1_764_000_000_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where = tmp_path / "small"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no room left."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    failure: OSError | None = None
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as exc:
        failure = exc
    finally:
        os.close(fd)
    assert failure is not None
    assert failure.errno == errno.ENOSPC
    return filler


@pytest.fixture
def disk_ctx(tmp_path: Path, small_disk: Path) -> Iterator[Context]:
    settings = config.load(
        {
            "SESSIONLENS_DATA_DIR": str(tmp_path / "data"),
            "SESSIONLENS_DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
            "SESSIONLENS_BLOB_URL": (small_disk / "blobs").as_uri(),
            "SESSIONLENS_BASE_URL": "http://testserver",
            "SESSIONLENS_DEMO": "false",
        }
    )
    ctx = Context.open(settings)
    migrate(ctx.engine)
    yield ctx
    ctx.close()


def pending(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return log.pending_count(conn)


def test_a_full_blob_disk_keeps_batches_pending_and_recovers_when_space_returns(
    disk_ctx: Context, small_disk: Path
) -> None:
    alice = make_account(disk_ctx, "alice", "Shop", "https://shop.example")
    processor = Processor(disk_ctx)
    sent = [batch(0, start=T0)] + [
        batch(seq, start=T0, events=[click(T0 + 1000 * seq)]) for seq in (1, 2)
    ]
    with TestClient(create_app(disk_ctx, run_processor=False)) as client:
        filler = fill(small_disk)
        for body in sent:
            assert send(client, alice, body).status_code == 202
        errors = metrics.BLOB_WRITE_ERRORS.value()
        with pytest.raises(BlobStoreUnavailable, match="No space left on device"):
            processor.run_once()
        assert metrics.BLOB_WRITE_ERRORS.value() == errors + 1
        # Nothing was half done: every batch still waits, no block row points anywhere.
        assert pending(disk_ctx) == 3
        with disk_ctx.engine.connect() as conn:
            assert conn.execute(select(recording_block)).first() is None
        unready = client.get("/readyz")
        assert unready.status_code == 503
        assert unready.json()["failed"] == ["blob_store"]
        assert "No space left on device" in unready.json()["checks"]["blob_store"]["error"]
        # A retry while the disk is still full changes nothing either.
        with pytest.raises(BlobStoreUnavailable):
            processor.run_once()
        assert pending(disk_ctx) == 3

        filler.unlink()
        assert client.get("/readyz").status_code == 200
        assert processor.drain() == 3
        assert pending(disk_ctx) == 0
        with disk_ctx.engine.connect() as conn:
            session_id = conn.execute(select(session.c.id)).scalar_one()
        replay = client.get(
            f"/api/v1/sessions/{session_id}/events",
            headers={"Authorization": f"Bearer {alice.token}"},
        )
    assert replay.status_code == 200
    expected = [event for body in sent for event in body["events"]]
    assert orjson.loads(replay.content) == expected
    # No partial file was left behind by the writes that failed.
    stored = sorted(
        str(p.relative_to(small_disk / "blobs"))
        for p in (small_disk / "blobs").rglob("*")
        if p.is_file()
    )
    with disk_ctx.engine.connect() as conn:
        keys = sorted(conn.execute(select(recording_block.c.blob_key)).scalars())
    assert stored == keys
