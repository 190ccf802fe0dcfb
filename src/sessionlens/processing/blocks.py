"""Recording blocks: time-ordered runs of a session's events, zstd-compressed in the blob store."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import orjson
import zstandard

from sessionlens import jsonbytes
from sessionlens.processing.events import FULL_SNAPSHOT

# A block's raw JSON is kept near this size so the player's first fetch stays small.
BLOCK_TARGET_BYTES = 1024 * 1024
# zstandard's compressor and decompressor objects must not be used by two threads at once
# (the ingest and the API call here from a thread pool): one pair per thread.
_zstd = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    if not hasattr(_zstd, "compressor"):
        _zstd.compressor = zstandard.ZstdCompressor(level=6)
    compressor: zstandard.ZstdCompressor = _zstd.compressor
    return compressor


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_zstd, "decompressor"):
        _zstd.decompressor = zstandard.ZstdDecompressor()
    decompressor: zstandard.ZstdDecompressor = _zstd.decompressor
    return decompressor


@dataclass(frozen=True)
class BlockData:
    events: list[dict[str, Any]]
    seqs: list[int]
    first_ts: int
    last_ts: int
    has_full_snapshot: bool
    raw: bytes
    compressed: bytes


def blob_key(project_id: int, session_id: str, index: int) -> str:
    return f"p{project_id}/sessions/{session_id}/{index:06d}.json.zst"


def _seal(items: list[tuple[int, dict[str, Any], bytes]]) -> BlockData:
    plain = [event for _, event, _ in items]
    raw = b"[" + b",".join(encoded for _, _, encoded in items) + b"]"
    return BlockData(
        events=plain,
        seqs=sorted({seq for seq, _, _ in items}),
        first_ts=int(plain[0]["timestamp"]),
        last_ts=int(max(event["timestamp"] for event in plain)),
        has_full_snapshot=any(event["type"] == FULL_SNAPSHOT for event in plain),
        raw=raw,
        compressed=_compressor().compress(raw),
    )


def build_blocks(batches: list[tuple[int, list[dict[str, Any]]]]) -> list[BlockData]:
    """Blocks from (seq, events) batches: events sorted by time, cut near the target size."""
    tagged = [
        (seq, event) for seq, events in sorted(batches, key=lambda b: b[0]) for event in events
    ]
    # A stable sort keeps the recorded order of events that share a timestamp.
    tagged.sort(key=lambda item: item[1]["timestamp"])
    blocks: list[BlockData] = []
    current: list[tuple[int, dict[str, Any], bytes]] = []
    size = 0
    for seq, event in tagged:
        encoded = jsonbytes.dumps(event)
        if current and size + len(encoded) > BLOCK_TARGET_BYTES:
            blocks.append(_seal(current))
            current, size = [], 0
        current.append((seq, event, encoded))
        size += len(encoded) + 1
    if current:
        blocks.append(_seal(current))
    return blocks


def read_block(compressed: bytes) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = orjson.loads(_decompressor().decompress(compressed))
    return events


def read_block_raw(compressed: bytes) -> bytes:
    """The block's JSON array as bytes, for streaming without re-encoding."""
    return _decompressor().decompress(compressed)
