"""The blob store: recording blocks live here, never in SQL rows.

One small interface (put, get, get_range, delete, list by prefix) over obstore, which
gives the same API for a local folder now and S3-compatible stores later.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import obstore
from obstore.store import LocalStore


class BlobNotFound(KeyError):
    """No blob under that key."""


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def get_range(self, key: str, start: int, end: int) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str = "") -> list[str]: ...


class ObjectBlobStore:
    """A BlobStore over any obstore store."""

    def __init__(self, store: LocalStore, description: str) -> None:
        self._store = store
        self.description = description

    def put(self, key: str, data: bytes) -> None:
        obstore.put(self._store, key, data)

    def get(self, key: str) -> bytes:
        try:
            return bytes(obstore.get(self._store, key).bytes())
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of a blob."""
        try:
            return bytes(obstore.get_range(self._store, key, start=start, end=end))
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            obstore.delete(self._store, key)

    def list(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        for chunk in obstore.list(self._store, prefix=prefix or None):
            keys.extend(str(meta["path"]) for meta in chunk)
        return sorted(keys)


def open_blob_store(url: str) -> ObjectBlobStore:
    parts = urlsplit(url)
    if parts.scheme == "file":
        root = Path(unquote(parts.path))
        root.mkdir(parents=True, exist_ok=True)
        return ObjectBlobStore(LocalStore(root, mkdir=True), f"folder {root}")
    raise ValueError(f"unsupported blob store URL {url!r}")
