"""What every part of a running sessionlens needs: settings, database, blob store, queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from starlette.requests import HTTPConnection

from sessionlens.config import Settings
from sessionlens.ingest.queue import Queue, open_queue
from sessionlens.storage.blobs import S3Options, open_blob_store
from sessionlens.storage.crypto import EncryptedBlobStore, Keyring
from sessionlens.storage.engine import make_engine, reader


@dataclass
class Context:
    settings: Settings
    engine: Engine
    blobs: EncryptedBlobStore
    _queue: Queue | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Context:
        s3 = S3Options(
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
        store = open_blob_store(settings.blob_url, s3)
        # Every read and write of a recording goes through here, so all of them are
        # encrypted at rest with keys derived from the secret.
        keyring = Keyring(settings.secret_key, settings.old_secret_keys)
        return cls(
            settings,
            make_engine(settings.database_url, settings.sqlite_synchronous),
            EncryptedBlobStore(store, keyring, f"{store.description}, encrypted"),
        )

    @cached_property
    def reader(self) -> Engine:
        """The engine for long reads (storage/engine.py reader()): never the write lock."""
        return reader(self.engine)

    @property
    def queue(self) -> Queue:
        """The ingest queue (ingest/queue.py), opened on first use: commands that never
        touch it do not connect to NATS."""
        if self._queue is None:
            s = self.settings
            self._queue = open_queue(
                self.engine,
                s.queue_url,
                s.queue_stream,
                s.queue_replicas,
                s.queue_partitions,
                s.queue_ack_wait_s,
            )
        return self._queue

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            self._queue = None
        self.engine.dispose()


def ctx_of(request: HTTPConnection) -> Context:
    """The Context the app was created with, from any request."""
    ctx: Context = request.app.state.ctx
    return ctx
