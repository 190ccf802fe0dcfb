"""Capture-to-playable latency and time to first frame, over HTTP against `sessionlens serve`.

    .venv/bin/python bench/playable.py [--sessions 4] [--seconds 30] [--minutes 1,10,60]

Capture to playable: a few sessions of the corpus are sent batch by batch (each session a
batch every 0.5 s, four times the recorder's pace, so a run is short); after each 202 the
bench polls the player's block listing (`/sessions/{id}/blocks`, every 25 ms) until a block
covers the batch's last event, then fetches that block and checks the event is in it. The
latency is from the start of the POST to the end of that fetch; the server's in-process
worker does the processing. Baseline in the same run: the POST's own round trip (the 202).

Time to first frame: synthetic 1-, 10- and 60-minute sessions (bench/corpus.py's visitor,
played for that long) are sent and processed first; then, five times each, the player's
start is timed: the block listing plus the fetch of every entry up to the first one holding
a full snapshot (what the player needs to draw a frame). Baseline in the same run:
the 1-minute session's time, and `GET /healthz` as the floor of a request.

The per-address ingest rate limit is off here (a 60-minute session is sent in seconds).
Nothing here asserts a time (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
import orjson

from corpus import EPOCH_MS, GZIP_LEVEL, ORIGIN, _bodies, _Visit, generate
from load import Server, percentile, prepare_database
from sessionlens.processing.sessions import session_key

HEADERS = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Origin": ORIGIN}
POLL_S = 0.025


def synthetic(minutes: int, seed: int) -> list[bytes]:
    """The raw JSON batches of one session lasting `minutes`."""
    rng = random.Random(seed)
    start = EPOCH_MS
    visit = _Visit(rng, start)
    events = visit.play(start + minutes * 60_000)
    session_id = f"ttff-{minutes}m-{seed}"
    head = (
        b'{"session_id":"%s","visitor_id":"ttff-visitor","window_id":"ttff-window",'
        b'"seq":%%d,"sent_at":%%d,"meta":{"url":"https://shop.example/"},"events":[%%s]}'
        % session_id.encode()
    )
    return [raw for _, _, raw in _bodies(events, head, start)]


def last_ts(raw: bytes) -> int:
    return max(event["timestamp"] for event in orjson.loads(raw)["events"])


async def readable(http: httpx.AsyncClient, session_id: str, ts: int) -> None:
    """Until a listed block holds `ts`, fetched over HTTP."""
    while True:
        answer = await http.get(f"/sessions/{session_id}/blocks")
        if answer.status_code == 200:
            blocks = answer.json()["blocks"]
            if blocks and blocks[-1]["last_ts"] >= ts:
                entry = next(b for b in blocks if b["last_ts"] >= ts)
                events = (await http.get(entry["url"])).json()
                if any(event["timestamp"] == ts for event in events):
                    return
        await asyncio.sleep(POLL_S)


async def play_session(
    http: httpx.AsyncClient,
    url: str,
    project_id: int,
    batches: list[bytes],
    pace_s: float,
    out: list[tuple[float, float]],
) -> None:
    session_id = session_key(project_id, orjson.loads(batches[0])["session_id"])
    for raw in batches:
        started = time.perf_counter()
        answer = await http.post(url, content=gzip.compress(raw, GZIP_LEVEL), headers=HEADERS)
        posted = time.perf_counter()
        if answer.status_code != 202:
            raise RuntimeError(f"batch refused: {answer.status_code} {answer.text[:200]}")
        await readable(http, session_id, last_ts(raw))
        out.append((posted - started, time.perf_counter() - started))
        await asyncio.sleep(max(0.0, pace_s - (time.perf_counter() - started)))


async def capture_to_playable(
    http: httpx.AsyncClient, url: str, project_id: int, sessions: int, seconds: float, seed: int
) -> list[tuple[float, float]]:
    corpus = generate(sessions, seed)
    by_session: dict[str, list[tuple[int, bytes]]] = {}
    for item in corpus.bodies:
        by_session.setdefault(item.session_id, []).append((item.seq, gzip.decompress(item.gzip)))
    out: list[tuple[float, float]] = []
    tasks = [
        play_session(http, url, project_id, [raw for _, raw in sorted(items)], 0.5, out)
        for items in by_session.values()
    ]
    # The run stops after `seconds`, sessions unfinished: the latencies so far are kept.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds)
    return out


async def first_frame(
    http: httpx.AsyncClient, url: str, project_id: int, minutes: list[int], seed: int
) -> dict[int, dict[str, float]]:
    figures: dict[int, dict[str, float]] = {}
    for length in minutes:
        batches = synthetic(length, seed)
        session_id = session_key(project_id, orjson.loads(batches[0])["session_id"])
        sent = time.perf_counter()
        for raw in batches:
            packed = gzip.compress(raw, GZIP_LEVEL)
            answer = await http.post(url, content=packed, headers=HEADERS)
            if answer.status_code != 202:
                raise RuntimeError(f"batch refused: {answer.status_code} {answer.text[:200]}")
        await readable(http, session_id, last_ts(batches[-1]))
        processed = time.perf_counter() - sent
        times = []
        for _ in range(5):
            start = time.perf_counter()
            listing = (await http.get(f"/sessions/{session_id}/blocks")).json()
            # The first frame needs the full snapshot: every entry up to the one holding it.
            fetched = 0
            for entry in listing["blocks"]:
                block = await http.get(entry["url"])
                block.raise_for_status()
                fetched += len(block.content)
                if entry["has_full_snapshot"]:
                    break
            times.append(time.perf_counter() - start)
        figures[length] = {
            "batches": len(batches),
            "raw_mb": sum(map(len, batches)) / 1e6,
            "blocks": len(listing["blocks"]),
            "first_frame_kb": fetched / 1e3,
            "send_and_process_s": processed,
            "ttff_median_ms": statistics.median(times) * 1e3,
            "ttff_best_ms": min(times) * 1e3,
        }
    return figures


async def healthz(http: httpx.AsyncClient) -> float:
    times = []
    for _ in range(20):
        start = time.perf_counter()
        (await http.get("/healthz")).raise_for_status()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def run(options: argparse.Namespace) -> dict[str, object]:
    minutes = [int(m) for m in options.minutes.split(",") if m]
    with tempfile.TemporaryDirectory(prefix="sessionlens-playable-") as name:
        tmp = Path(name)
        database_url = f"sqlite:///{tmp / 'playable.db'}"
        project = prepare_database(database_url)
        server = Server(tmp, database_url, {"SESSIONLENS_INGEST_RATE_PER_ADDRESS": "0"})
        try:
            server.start()

            async def both() -> tuple[list[tuple[float, float]], dict, float]:
                async with httpx.AsyncClient(
                    base_url=server.base_url,
                    cookies={"sl_login": project.login},
                    timeout=60,
                ) as http:
                    url = f"/i/v1/{project.ingest_key}/batch"
                    floor = await healthz(http)
                    latencies = await capture_to_playable(
                        http,
                        url,
                        project.project_id,
                        options.sessions,
                        options.seconds,
                        options.seed,
                    )
                    frames = await first_frame(http, url, project.project_id, minutes, options.seed)
                    return latencies, frames, floor

            latencies, frames, floor = asyncio.run(both())
        finally:
            server.stop()
    posts = [post for post, _ in latencies]
    playable = [total for _, total in latencies]
    base = frames.get(minutes[0], {}).get("ttff_median_ms", float("nan")) if minutes else 0
    return {
        "batches": len(latencies),
        "post_202_p50_ms": percentile(posts, 0.5) * 1e3,
        "post_202_p95_ms": percentile(posts, 0.95) * 1e3,
        "playable_p50_ms": percentile(playable, 0.5) * 1e3,
        "playable_p95_ms": percentile(playable, 0.95) * 1e3,
        "playable_p50_vs_post_p50": percentile(playable, 0.5) / percentile(posts, 0.5),
        "healthz_median_ms": floor,
        "first_frame": {
            length: {**figure, "vs_first": figure["ttff_median_ms"] / base}
            for length, figure in frames.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4, help="sessions sent at once (4)")
    parser.add_argument("--seconds", type=float, default=30, help="capture phase length (30)")
    parser.add_argument("--minutes", default="1,10,60", help="first-frame session lengths")
    parser.add_argument("--seed", type=int, default=1, help="seed (1)")
    options = parser.parse_args()
    print(json.dumps(run(options), indent=2))


if __name__ == "__main__":
    main()
