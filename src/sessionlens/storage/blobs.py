"""The blob store: recording blocks live here, never in SQL rows.

One small interface (put, get, get_range, delete, list by prefix) over obstore, which
gives the same API for a local folder (file://) and S3-compatible stores (s3://).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import obstore
from obstore.store import LocalStore, S3Store

from sessionlens import metrics

# A key outside every project's p{id}/ prefix, written and deleted by each readiness probe.
PROBE_KEY = "_probe/readyz"
_PROBE_DIR = "_probe/"
_S3_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")


class BlobNotFound(KeyError):
    """No blob under that key."""


class BlobStoreUnavailable(Exception):
    """The store could not be used: unreachable, a missing bucket, refused credentials,
    a full disk. Not the content's fault, so the processor keeps the batch and retries."""


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def get_range(self, key: str, start: int, end: int) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str = "") -> list[str]: ...


@dataclass(frozen=True)
class S3Options:
    """Where and as whom to reach an S3-compatible store; empty means the AWS default
    (or the usual AWS_* environment variables)."""

    endpoint: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


def _reason(exc: Exception) -> str:
    """A one-line cause: the S3 error code when there is one, else the first line.
    Never the request's headers, so no credentials."""
    text = str(exc)
    code = _S3_CODE.search(text)
    first = text.split("\n", 1)[0].strip()
    if code:
        return f"{code.group(1)} ({first[:200]})"
    return first[:300]


@contextlib.contextmanager
def _translated(description: str, key: str, writing: bool = False) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError as exc:
        # S3 answers 404 for a missing bucket too: that is the store's fault, not a key's.
        if not writing and "NoSuchBucket" not in str(exc):
            raise BlobNotFound(key) from exc
        raise BlobStoreUnavailable(f"blob store {description}: {_reason(exc)}") from exc
    except (obstore.exceptions.BaseError, OSError) as exc:
        raise BlobStoreUnavailable(f"blob store {description}: {_reason(exc)}") from exc


class ObjectBlobStore:
    """A BlobStore over any obstore store."""

    def __init__(self, store: Any, description: str) -> None:
        self._store = store
        self.description = description

    def put(self, key: str, data: bytes) -> None:
        try:
            with _translated(self.description, key, writing=True):
                obstore.put(self._store, key, data)
        except BlobStoreUnavailable:
            metrics.BLOB_WRITE_ERRORS.inc()
            raise
        metrics.BLOB_WRITES.inc()
        metrics.BLOB_WRITE_BYTES.inc(len(data))

    def get(self, key: str) -> bytes:
        with _translated(self.description, key):
            return bytes(obstore.get(self._store, key).bytes())

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of a blob."""
        with _translated(self.description, key):
            return bytes(obstore.get_range(self._store, key, start=start, end=end))

    def delete(self, key: str) -> None:
        with contextlib.suppress(BlobNotFound), _translated(self.description, key):
            obstore.delete(self._store, key)

    def list(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        with _translated(self.description, prefix):
            for chunk in obstore.list(self._store, prefix=prefix or None):
                keys.extend(str(meta["path"]) for meta in chunk)
        # A probe that lost its race with a list is not a recording.
        keys = [key for key in keys if not key.startswith(_PROBE_DIR)]
        return sorted(keys)

    def probe(self) -> None:
        """Raise BlobStoreUnavailable unless a small write goes through: that needs the
        store reachable, the bucket there, credentials allowed to write, and room."""
        with _translated(self.description, PROBE_KEY, writing=True):
            obstore.put(self._store, PROBE_KEY, b"ok")
        with contextlib.suppress(BlobNotFound), _translated(self.description, PROBE_KEY):
            obstore.delete(self._store, PROBE_KEY)


def _s3_store(url: str, options: S3Options) -> ObjectBlobStore:
    parts = urlsplit(url)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    config: dict[str, Any] = {}
    if options.endpoint:
        config["endpoint"] = options.endpoint
        # Path-style requests (endpoint/bucket/key): what MinIO, Ceph and most S3-compatible
        # servers expect; plain HTTP only when the endpoint says so.
        config["virtual_hosted_style_request"] = False
        config["allow_http"] = options.endpoint.startswith("http://")
    if options.region:
        config["region"] = options.region
    if options.access_key_id:
        config["access_key_id"] = options.access_key_id
    if options.secret_access_key:
        config["secret_access_key"] = options.secret_access_key
    store = S3Store(
        bucket,
        prefix=prefix or None,
        client_options={"connect_timeout": "5s", "timeout": "60s"},
        retry_config={
            "max_retries": 3,
            "backoff": {"init_backoff": timedelta(milliseconds=100), "base": 2.0},
            "retry_timeout": timedelta(seconds=20),
        },
        **config,
    )
    where = f" at {options.endpoint}" if options.endpoint else ""
    return ObjectBlobStore(store, f"s3://{bucket}/{prefix}{where}")


def open_blob_store(url: str, s3: S3Options | None = None) -> ObjectBlobStore:
    parts = urlsplit(url)
    if parts.scheme == "file":
        root = Path(unquote(parts.path))
        root.mkdir(parents=True, exist_ok=True)
        return ObjectBlobStore(LocalStore(root, mkdir=True), f"folder {root}")
    if parts.scheme == "s3" and parts.netloc:
        return _s3_store(url, s3 or S3Options())
    raise ValueError(f"unsupported blob store URL {url!r}")
