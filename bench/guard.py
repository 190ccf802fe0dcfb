"""Privacy guard benchmark: scrub() against orjson parsing the same batches, on one core.

    .venv/bin/python bench/guard.py [--batches N] [--seed S] [--repeat R] [--json]

The batches come from the seeded corpus of bench/corpus.py (rrweb full snapshots, mouse
moves, scrolls, inputs, custom events), with a card number, an email address and a phone
number added to about one batch in twenty. The baseline is orjson.loads of each batch, the
parse the ingest route does next; the guard's target is to cost less than that parse
(docs/benchmarks.md). Each figure is the best of --repeat rounds over all batches, in one
thread; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from corpus import generate
from report import cpu_model
from sessionlens.ingest import guard

SIZE_CLASSES = (("full snapshots (>= 200 KB)", 200_000, None), ("other batches", 0, 200_000))
PRESET_RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cards only", ()),
    ("cards + email + phone", ("email", "phone")),
)
SPRINKLE_EVERY = 20
CARD = "4242 4242 4242 4242"


class BenchError(RuntimeError):
    """The guard did not do what it should; the figures would mean nothing."""


@dataclass(frozen=True)
class Figure:
    name: str
    batches: int
    mb: float
    parse_mb_per_s: float
    guard_mb_per_s: float
    vs_parse: float  # guard time over parse time: below 1 the guard costs less than the parse
    exact_path_share: float  # batches the raw scan left to the exact path


def batches(count: int, seed: int) -> tuple[list[bytes], int]:
    """count decompressed batches, and how many of them carry the sprinkled values."""
    sessions = max(1, count // 40)
    while True:
        corpus = generate(sessions, seed)
        if len(corpus.bodies) >= count:
            break
        sessions *= 2
    rng = random.Random(seed)
    raws: list[bytes] = []
    sprinkled = 0
    for index, body in enumerate(corpus.bodies[:count]):
        raw = gzip.decompress(body.gzip)
        if index % SPRINKLE_EVERY == SPRINKLE_EVERY // 2:
            raw = _sprinkle(raw, rng)
            sprinkled += 1
        raws.append(raw)
    return raws, sprinkled


def _sprinkle(raw: bytes, rng: random.Random) -> bytes:
    """The batch with one more custom event whose props hold a card, an email and a phone."""
    if not raw.endswith(b"]}"):
        raise BenchError("a corpus batch does not end with its events array")
    props = {
        "note": f"paid with {CARD}, thanks",
        "contact": f"jane.doe{rng.randint(1, 999)}@mail.example",
        "phone": f"+44 20 7946 {rng.randint(1000, 9999)}",
    }
    event = {
        "type": 5,
        "data": {"tag": "sessionlens.event", "payload": {"name": "checkout", "props": props}},
        "timestamp": orjson.loads(raw)["sent_at"],
    }
    return raw[:-2] + b"," + orjson.dumps(event) + b"]}"


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def measure(
    raws: list[bytes],
    repeat: int,
    extra: tuple[str, ...],
    name: str,
    path: Callable[[bytes, tuple[str, ...]], object] = guard.scrub,
) -> Figure:
    def parse() -> None:
        for raw in raws:
            orjson.loads(raw)

    def scrub() -> None:
        for raw in raws:
            path(raw, extra)

    # Interleaved, so a slower stretch of the machine does not favour either side.
    parse_seconds = guard_seconds = float("inf")
    for _ in range(repeat):
        parse_seconds = min(parse_seconds, _timed(parse))
        guard_seconds = min(guard_seconds, _timed(scrub))
    size = sum(len(raw) for raw in raws)
    exact = sum(path is guard.scrub_exact or guard.scrub_fast(raw, extra) is None for raw in raws)
    return Figure(
        name=name,
        batches=len(raws),
        mb=size / 1e6,
        parse_mb_per_s=size / 1e6 / parse_seconds,
        guard_mb_per_s=size / 1e6 / guard_seconds,
        vs_parse=guard_seconds / parse_seconds,
        exact_path_share=exact / len(raws) if raws else 0.0,
    )


def check(raws: list[bytes], sprinkled: int) -> None:
    """Every sprinkled value is masked, and every batch still parses to the same shape."""
    masked = 0
    for raw in raws:
        for extra in ((), ("email", "phone")):
            result = guard.scrub(raw, extra)
            if CARD.encode() in result.body:
                raise BenchError("a card number went through the guard")
            if len(orjson.loads(result.body)["events"]) != len(orjson.loads(raw)["events"]):
                raise BenchError("the guard changed the structure of a batch")
        masked += result.replaced
    if masked < 3 * sprinkled:
        raise BenchError(f"{masked} runs masked, {3 * sprinkled} expected at least")


def run(options: argparse.Namespace) -> dict[str, Any]:
    raws, sprinkled = batches(options.batches, options.seed)
    check(raws, sprinkled)
    figures = []
    for preset_name, extra in PRESET_RUNS:
        figures.append(measure(raws, options.repeat, extra, f"{preset_name}: all batches"))
        for class_name, low, high in SIZE_CLASSES:
            chosen = [raw for raw in raws if len(raw) >= low and (high is None or len(raw) < high)]
            if chosen:
                figures.append(
                    measure(chosen, options.repeat, extra, f"{preset_name}: {class_name}")
                )
    # What a batch costs when the raw scan cannot decide (escapes next to a candidate).
    figures.append(
        measure(raws, options.repeat, (), "exact path alone: all batches", guard.scrub_exact)
    )
    return {
        "seed": options.seed,
        "repeat": options.repeat,
        "batches": len(raws),
        "sprinkled_batches": sprinkled,
        "json_mb": sum(len(raw) for raw in raws) / 1e6,
        "machine": {
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "orjson": orjson.__version__,
        },
        "figures": [asdict(figure) for figure in figures],
    }


def print_report(results: dict[str, Any]) -> None:
    print(
        f"sessionlens privacy guard benchmark: seed {results['seed']}, best of"
        f" {results['repeat']}, one thread on {results['machine']['cpu_model']}"
    )
    print(
        f"corpus: {results['batches']} batches, {results['json_mb']:.1f} MB JSON,"
        f" {results['sprinkled_batches']} with a card, an email and a phone added"
    )
    print("baseline: orjson.loads of the same batches\n")
    print(f"{'':52}{'MB':>6}{'parse MB/s':>12}{'guard MB/s':>12}{'exact path':>12}")
    for figure in results["figures"]:
        print(
            f"{figure['name']:52}{figure['mb']:6.1f}{figure['parse_mb_per_s']:12.0f}"
            f"{figure['guard_mb_per_s']:12.0f}{figure['exact_path_share']:11.1%}"
        )
    print()
    for figure in results["figures"]:
        print(
            f"guard: {figure['guard_mb_per_s']:.0f} MB/s = {figure['vs_parse']:.2f} x the parse"
            f" cost  [{figure['name']}]"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=300, help="batches to scan (300)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the corpus (1)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best is kept (5)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args(argv)
    if options.batches < 1 or options.repeat < 1:
        parser.error("--batches and --repeat must be at least 1")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    print(f"generating {options.batches} batches (seed {options.seed})", file=sys.stderr)
    results = run(options)
    if options.json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results)


if __name__ == "__main__":
    main()
