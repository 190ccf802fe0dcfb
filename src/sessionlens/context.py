"""What every part of a running sessionlens needs: settings, database and blob store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from sessionlens.config import Settings
from sessionlens.storage.blobs import ObjectBlobStore, open_blob_store
from sessionlens.storage.engine import make_engine


@dataclass
class Context:
    settings: Settings
    engine: Engine
    blobs: ObjectBlobStore

    @classmethod
    def open(cls, settings: Settings) -> Context:
        return cls(
            settings,
            make_engine(settings.database_url, settings.sqlite_synchronous),
            open_blob_store(settings.blob_url),
        )

    def close(self) -> None:
        self.engine.dispose()
