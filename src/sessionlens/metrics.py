"""Prometheus metrics of this process, in the text exposition format.

A few counters and one histogram, kept in memory and rendered by GET /metrics. Labels
never carry a project, session or anything recorded: only reasons and outcomes, so the
page tells how the service runs and nothing about whom it records.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    inner = ",".join(
        f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in zip(names, values, strict=True)
    )
    return "{" + inner + "}"


def _number(value: float) -> str:
    if value != value:  # NaN: unknown
        return "NaN"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Counter:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, labels
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()
        if not labels:
            self._values[()] = 0

    def inc(self, amount: float = 1, *labels: str) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for labels, value in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.buckets = name, help_text, buckets
        self._counts = [0] * (len(buckets) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect.bisect_left(self.buckets, value)] += 1
            self._sum += value

    @property
    def count(self) -> int:
        return sum(self._counts)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        running = 0
        for bound, count in zip(self.buckets, self._counts, strict=False):
            running += count
            yield f'{self.name}_bucket{{le="{_number(bound)}"}} {running}'
        yield f'{self.name}_bucket{{le="+Inf"}} {self.count}'
        yield f"{self.name}_sum {_number(self._sum)}"
        yield f"{self.name}_count {self.count}"


def gauge(name: str, help_text: str, value: float, kind: str = "gauge") -> Iterable[str]:
    """A value read at scrape time (the processor's lag, the queue's own totals)."""
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"
    yield f"{name} {_number(value)}"


BATCHES = Counter(
    "sessionlens_ingest_batches_total",
    "Batches answered by the ingest, by outcome (accepted, duplicate, or why rejected).",
    ("outcome",),
)
INGEST_BYTES = Counter(
    "sessionlens_ingest_received_bytes_total", "Bytes of batch bodies received (as sent)."
)
INGEST_LATENCY = Histogram(
    "sessionlens_ingest_request_seconds",
    "Time to answer a batch POST, in seconds.",
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PROCESSING_ERRORS = Counter(
    "sessionlens_processing_errors_total",
    "Processor failures: 'poison' batches set aside, 'retry' runs that failed and wait.",
    ("kind",),
)
BLOB_WRITES = Counter("sessionlens_block_writes_total", "Blobs written to the blob store.")
BLOB_WRITE_BYTES = Counter(
    "sessionlens_block_write_bytes_total", "Bytes written to the blob store (as stored)."
)
BLOB_WRITE_ERRORS = Counter(
    "sessionlens_block_write_errors_total", "Blob writes that failed (the batch is retried)."
)
TRIMMED_ASSETS = Counter(
    "sessionlens_ingest_trimmed_assets_total",
    "Inline assets the ingest replaced by a placeholder in events over the per-event limit.",
)
ALL: tuple[Counter | Histogram, ...] = (
    BATCHES,
    TRIMMED_ASSETS,
    INGEST_BYTES,
    INGEST_LATENCY,
    PROCESSING_ERRORS,
    BLOB_WRITES,
    BLOB_WRITE_BYTES,
    BLOB_WRITE_ERRORS,
)


def render(extra: Iterable[str] = ()) -> str:
    lines: list[str] = []
    for metric in ALL:
        lines.extend(metric.render())
    lines.extend(extra)
    return "\n".join(lines) + "\n"
