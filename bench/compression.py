"""Compression benchmark: stored bytes per session-minute and MB/s of codecs, against gzip -6.

    .venv/bin/python bench/compression.py [--sessions N] [--seed S] [--repeat R] [--json]

The corpus (bench/corpus.py) is split by session: even sessions train the zstd dictionary
(one per project, as the project's recordings would), odd sessions are measured, so the
dictionary never sees the bytes it compresses. Each codec compresses the measured half in
two units: each batch on its own (what a worker storing a batch as it arrives would write)
and blocks (a session's consecutive batches joined until 256 KB of JSON, about what the
processor writes from a backlog). The baseline, in the same run on the same units, is
gzip -6. Nothing here asserts a time (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import orjson
import zstandard

from corpus import GZIP_LEVEL, Corpus, generate

BLOCK_BYTES = 256 * 1000
DICT_BYTES = 112_640  # zstd's default dictionary size

Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]


@dataclass(frozen=True)
class Row:
    codec: str
    unit: str
    stored_bytes: int
    kb_per_session_minute: float
    ratio: float  # raw JSON over stored bytes
    compress_mb_s: float
    decompress_mb_s: float
    size_vs_gzip: float  # stored bytes over gzip -6's: below 1 is smaller
    compress_vs_gzip: float  # speed over gzip -6's: above 1 is faster
    decompress_vs_gzip: float


def split(corpus: Corpus) -> tuple[dict[str, list[bytes]], dict[str, list[bytes]], float]:
    """Raw JSON batches of the training and measured sessions, and the measured minutes."""
    sessions: dict[str, list[bytes]] = {}
    for item in sorted(corpus.bodies, key=lambda body: (body.session_id, body.seq)):
        sessions.setdefault(item.session_id, []).append(gzip.decompress(item.gzip))
    train, measured = {}, {}
    measured_ms = 0
    for index, (session_id, batches) in enumerate(sorted(sessions.items())):
        if index % 2 == 0:
            train[session_id] = batches
            continue
        measured[session_id] = batches
        stamps = [e["timestamp"] for raw in batches for e in orjson.loads(raw)["events"]]
        measured_ms += max(stamps) - min(stamps)
    return train, measured, measured_ms / 60_000


def blocks(batches: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    pending: list[bytes] = []
    for raw in batches:
        pending.append(raw)
        if sum(map(len, pending)) >= BLOCK_BYTES:
            out.append(b"\n".join(pending))
            pending = []
    if pending:
        out.append(b"\n".join(pending))
    return out


def zstd_codec(level: int, dictionary: zstandard.ZstdCompressionDict | None = None) -> Codec:
    if dictionary is None:
        compressor = zstandard.ZstdCompressor(level=level)
        decompressor = zstandard.ZstdDecompressor()
    else:
        compressor = zstandard.ZstdCompressor(level=level, dict_data=dictionary)
        decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)
    return compressor.compress, decompressor.decompress


def snappy_codec() -> Codec | None:
    try:
        import cramjam
    except ImportError:
        return None
    return (
        lambda raw: bytes(cramjam.snappy.compress_raw(raw)),
        lambda packed: bytes(cramjam.snappy.decompress_raw(packed)),
    )


def gzip_codec() -> Codec:
    return (
        lambda raw: gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0),
        gzip.decompress,
    )


def timed(codec: Codec, units: list[bytes], repeat: int) -> tuple[int, float, float]:
    """Stored bytes, best compress seconds, best decompress seconds (checked round trip)."""
    compress, decompress = codec
    best_c = best_d = float("inf")
    packed: list[bytes] = []
    for _ in range(repeat):
        start = time.perf_counter()
        packed = [compress(unit) for unit in units]
        best_c = min(best_c, time.perf_counter() - start)
        start = time.perf_counter()
        restored = [decompress(item) for item in packed]
        best_d = min(best_d, time.perf_counter() - start)
        if restored != units:
            raise RuntimeError("a codec did not give back the bytes it was given")
    return sum(map(len, packed)), best_c, best_d


def measure(options: argparse.Namespace) -> tuple[dict[str, float], list[Row]]:
    corpus = generate(options.sessions, options.seed)
    train, measured, minutes = split(corpus)
    samples = [raw for batches in train.values() for raw in batches]
    start = time.perf_counter()
    dictionary = zstandard.train_dictionary(DICT_BYTES, samples, level=3)
    train_seconds = time.perf_counter() - start
    units = {
        "batch": [raw for batches in measured.values() for raw in batches],
        "block": [block for batches in measured.values() for block in blocks(batches)],
    }
    codecs: dict[str, Codec] = {
        "gzip -6 (baseline)": gzip_codec(),
        "zstd -3": zstd_codec(3),
        "zstd -6 (the processor's)": zstd_codec(6),
        "zstd -19": zstd_codec(19),
        "zstd -3 + dictionary": zstd_codec(3, dictionary),
        "zstd -19 + dictionary": zstd_codec(19, dictionary),
    }
    snappy = snappy_codec()
    if snappy is not None:
        codecs["snappy (cramjam, raw)"] = snappy
    rows: list[Row] = []
    for unit, items in units.items():
        raw_bytes = sum(map(len, items))
        base: tuple[int, float, float] | None = None
        for name, codec in codecs.items():
            repeat = 1 if "-19" in name else options.repeat
            stored, c_s, d_s = timed(codec, items, repeat)
            base = base or (stored, c_s, d_s)
            rows.append(
                Row(
                    name,
                    unit,
                    stored,
                    stored / 1e3 / minutes,
                    raw_bytes / stored,
                    raw_bytes / 1e6 / c_s,
                    raw_bytes / 1e6 / d_s,
                    stored / base[0],
                    base[1] / c_s,
                    base[2] / d_s,
                )
            )
    info = {
        "sessions_measured": len(measured),
        "session_minutes": minutes,
        "batches": len(units["batch"]),
        "blocks": len(units["block"]),
        "raw_mb": sum(map(len, units["batch"])) / 1e6,
        "dictionary_training_mb": sum(map(len, samples)) / 1e6,
        "dictionary_training_s": train_seconds,
        "dictionary_bytes": len(dictionary.as_bytes()),
    }
    return info, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="sessions to generate (20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the corpus (1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; best kept (3; 1 for -19)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args()
    info, rows = measure(options)
    if options.json:
        print(json.dumps({"info": info, "rows": [asdict(row) for row in rows]}, indent=2))
        return
    print(
        f"{info['sessions_measured']} measured sessions, {info['session_minutes']:.1f} "
        f"session-minutes, {info['batches']} batches / {info['blocks']} blocks, "
        f"{info['raw_mb']:.1f} MB of JSON; dictionary {info['dictionary_bytes']} B trained "
        f"on {info['dictionary_training_mb']:.1f} MB in {info['dictionary_training_s']:.1f} s"
    )
    header = (
        f"{'codec':<26} {'unit':<6} {'KB/s-min':>9} {'ratio':>6} {'comp MB/s':>10} "
        f"{'dec MB/s':>9} {'size vs gz':>10} {'comp vs gz':>10} {'dec vs gz':>9}"
    )
    print(header)
    for row in rows:
        print(
            f"{row.codec:<26} {row.unit:<6} {row.kb_per_session_minute:>9.1f} "
            f"{row.ratio:>6.1f} {row.compress_mb_s:>10.1f} {row.decompress_mb_s:>9.1f} "
            f"{row.size_vs_gzip:>9.2f}x {row.compress_vs_gzip:>9.2f}x "
            f"{row.decompress_vs_gzip:>8.2f}x"
        )


if __name__ == "__main__":
    main()
