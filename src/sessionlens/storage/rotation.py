"""Key rotation: every blob re-encrypted under the current secret, one at a time.

Each blob is rewritten whole (the store replaces a blob atomically), so the walk can be
stopped anywhere and run again: blobs already under the current secret are only checked.

A blob is rewritten inside a database transaction that holds its `recording_block` row
(the write lock on SQLite, a row lock on PostgreSQL), and only while that row exists. So
a recording erased or purged while the walk runs is not written back, and a blob whose
row is not committed yet (the processor's, in flight) is left for the next run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from sessionlens.storage.blobs import BlobNotFound
from sessionlens.storage.crypto import BlobDecryptionError, EncryptedBlobStore, Sealed
from sessionlens.storage.tables import recording_block

_BLOCK_KEY = re.compile(r"p\d+/sessions/([^/]+)/(\d+)\.json\.zst")


@dataclass
class Rotated:
    reencrypted: int = 0
    current: int = 0
    failed: int = 0
    # Blobs under an old secret (or plain) that no recording block refers to: left as
    # they are, for the operator to look at.
    unreferenced: int = 0
    failures: list[BlobDecryptionError] = field(default_factory=list)


def _block_of(key: str) -> tuple[str, int] | None:
    found = _BLOCK_KEY.fullmatch(key)
    return None if found is None else (found.group(1), int(found.group(2)))


def _rewrite(engine: Engine, store: EncryptedBlobStore, key: str, done: Rotated) -> None:
    block = _block_of(key)
    if block is None:
        raise BlobDecryptionError(key, "it is not a recording block")
    session_id, index = block
    with engine.begin() as conn:
        row = conn.execute(
            select(recording_block.c.id)
            .where(
                recording_block.c.session_id == session_id,
                recording_block.c.block_index == index,
                recording_block.c.blob_key == key,
            )
            .with_for_update()
        ).first()
        if row is None:
            done.unreferenced += 1
            return
        # Read again under the lock: the blob may have changed since the first look.
        stored = store.inner.get(key)
        if store.keyring.sealed(stored) is Sealed.CURRENT:
            done.current += 1
            return
        store.inner.put(key, store.keyring.encrypt(key, store.keyring.decrypt(key, stored)))
    done.reencrypted += 1


def rotate(
    engine: Engine,
    store: EncryptedBlobStore,
    keys: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Rotated:
    """Re-encrypt every blob (or these) not under the current secret; count what was found.
    Blobs written after the listing are under the current secret already."""
    done = Rotated()
    for key in store.list() if keys is None else keys:
        try:
            stored = store.inner.get(key)
            sealed = store.keyring.sealed(stored)
            if sealed is Sealed.PLAIN or sealed is Sealed.OLD:
                _rewrite(engine, store, key, done)
            else:
                # Checks that a current blob is intact; raises, with the reason, for an
                # unknown one.
                store.keyring.decrypt(key, stored)
                done.current += 1
        except BlobNotFound:
            pass  # deleted since the listing: nothing to protect
        except BlobDecryptionError as exc:
            done.failed += 1
            done.failures.append(exc)
        if progress is not None:
            progress(1)
    return done
