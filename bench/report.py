"""The benchmark's figures, each beside the baseline measured in the same run, as text or JSON.

MB and KB are 10^6 and 10^3 bytes. Throughput in MB/s counts the decompressed JSON of the
batches; gzip MB/s counts the bytes that came over the wire.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from corpus import Corpus


@dataclass(frozen=True)
class Figure:
    name: str
    seconds: float
    events_per_s: float
    mb_per_s: float
    gzip_mb_per_s: float
    vs_baseline: float  # throughput over the baseline's: above 1 is faster

    @classmethod
    def of(cls, name: str, seconds: float, corpus: Corpus, baseline_seconds: float) -> Figure:
        return cls(
            name,
            seconds,
            corpus.events / seconds,
            corpus.raw_bytes / 1e6 / seconds,
            corpus.gzip_bytes / 1e6 / seconds,
            baseline_seconds / seconds,
        )


@dataclass(frozen=True)
class Storage:
    database: str  # the run the figures come from
    blocks: int
    raw_bytes: int  # JSON in the recording blocks
    stored_bytes: int  # the blocks as the blob store keeps them (zstd)
    log_bytes: int  # the ingest log's payloads (zstd), kept until the retention purge
    baseline_bytes: int  # every batch gzip -6 on its own


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _results(
    options: argparse.Namespace, corpus: Corpus, figures: list[Figure], storage: Storage
) -> dict[str, Any]:
    minutes = corpus.session_ms / 60_000
    return {
        "seed": options.seed,
        "repeat": options.repeat,
        "database": "postgresql" if options.database_url else "sqlite",
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model()},
        "corpus": {
            "sessions": corpus.sessions,
            "session_minutes": minutes,
            "batches": len(corpus.bodies),
            "events": corpus.events,
            "json_bytes": corpus.raw_bytes,
            "gzip_bytes": corpus.gzip_bytes,
        },
        "paths": [asdict(figure) for figure in figures],
        "storage": asdict(storage)
        | {
            "stored_bytes_per_session_minute": storage.stored_bytes / minutes,
            "baseline_bytes_per_session_minute": storage.baseline_bytes / minutes,
            "compression_ratio": storage.raw_bytes / storage.stored_bytes,
            "baseline_compression_ratio": corpus.raw_bytes / storage.baseline_bytes,
        },
    }


def print_report(
    options: argparse.Namespace, corpus: Corpus, figures: list[Figure], storage: Storage
) -> None:
    results = _results(options, corpus, figures, storage)
    if options.json:
        print(json.dumps(results, indent=2))
        return
    where = "PostgreSQL (own schema)" if options.database_url else "SQLite file in a temp dir"
    minutes = corpus.session_ms / 60_000
    print(f"sessionlens ingest benchmark: seed {options.seed}, best of {options.repeat}, {where}")
    print(
        f"corpus: {corpus.sessions} sessions, {minutes:.1f} session-minutes, "
        f"{len(corpus.bodies):,} batches, {corpus.events:,} events, "
        f"{corpus.raw_bytes / 1e6:.1f} MB JSON, {corpus.gzip_bytes / 1e6:.1f} MB gzip"
    )
    print("baseline: per batch gunzip + json.loads + gzip -6 into memory\n")
    print(f"{'':42}{'seconds':>8}{'events/s':>11}{'MB/s':>8}{'gzip MB/s':>11}")
    for figure in figures:
        print(
            f"{figure.name:42}{figure.seconds:8.2f}{figure.events_per_s:11,.0f}"
            f"{figure.mb_per_s:8.1f}{figure.gzip_mb_per_s:11.2f}"
            f"  = {figure.vs_baseline:.2f}x baseline"
        )
    per_minute = storage.stored_bytes / minutes / 1e3
    baseline_per_minute = storage.baseline_bytes / minutes / 1e3
    ratio = storage.raw_bytes / storage.stored_bytes
    baseline_ratio = corpus.raw_bytes / storage.baseline_bytes
    print(f"\nstorage after the processor ({storage.database}):")
    print(
        f"  recording blocks: {per_minute:.1f} KB per session-minute"
        f" = {per_minute / baseline_per_minute:.2f}x baseline gzip -6"
        f" ({baseline_per_minute:.1f} KB)"
    )
    print(
        f"  compression raw/stored: {ratio:.1f} = {ratio / baseline_ratio:.2f}x baseline"
        f" gzip -6 ({baseline_ratio:.1f})"
    )
    print(
        f"  {storage.blocks} blocks, {storage.raw_bytes / storage.blocks / 1e3:.1f} KB"
        " of JSON each on average"
    )
    log_per_minute = storage.log_bytes / minutes / 1e3
    print(
        f"  ingest log: {log_per_minute:.1f} KB per session-minute"
        f" = {log_per_minute / baseline_per_minute:.2f}x baseline (zstd -3, kept until purged)"
    )
