"""Heatmaps at size: one page's heatmaps over aggregates equivalent to 10M recorded clicks.

    .venv/bin/python bench/heatmaps.py [--clicks 10000000] [--days 90] [--sample 300]
                                       [--repeat 3] [--database-url URL] [--json]

Builds a fresh database (a temp SQLite file with the server's own engine settings unless
--database-url is given) in two parts:

1. A sample of --sample recorded visits to /product/<slug> pages, each a Meta + full
   snapshot + layout, clicks on a dozen elements, mouse moves and scrolls, applied by the
   processor's own code (processing/sessions.apply, in one transaction per session as the
   processor does). This is what fills page_click, heatmap_view and the day aggregates.
2. Before them, bulk rows of the same day aggregates (heatmap_cell, heatmap_element,
   heatmap_band) for the target page over --days days, 3 device classes, 13 width steps
   and new/returning, whose click counts sum to --clicks: what the processor would have
   written for that many clicks (clicks gather on 40 elements spread over nearby grid
   cells; mouse movement over 1,000 cells per day and key), plus rows for 50 other pages,
   so the page's rows sit among others. Inserting 10M clicks' raw events through the
   processor would take hours and measure the processor, not the query; the query reads
   only these tables. The totals without device, width and visitor (heatmap_cell_total,
   heatmap_element_total), which the processor writes alongside, are then summed from
   them (processing/heatmaps.fill_totals, the GROUP BY of migration 0015).

Each query is timed best of --repeat; its baseline, measured in the same run, is
SELECT count(*) of the page's click cells over the same days: the least any heatmap query
over them has to read. Nothing here asserts a time (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select

from report import cpu_model
from sessionlens import config, projects
from sessionlens.accounts import users
from sessionlens.analytics import heatmaps
from sessionlens.context import Context
from sessionlens.ingest.log import Envelope, LogEntry
from sessionlens.processing import sessions
from sessionlens.processing.heatmaps import fill_totals
from sessionlens.storage.engine import migrate
from sessionlens.storage.tables import heatmap_band, heatmap_cell, heatmap_element

PAGE = "/product/cedar-desk"
DEVICES = {"desktop": range(1200, 2000, 100), "mobile": (300, 400), "tablet": (700, 800, 900)}
ELEMENTS = 40
MOVE_CELLS = 1000
OTHER_PAGES = 50
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"


def keys(days: int, end: date) -> list[tuple[date, str, int, bool]]:
    return [
        (end - timedelta(days=d), device, width, returning)
        for d in range(days)
        for device, widths in DEVICES.items()
        for width in widths
        for returning in (False, True)
    ]


def bulk(conn: Connection, project_id: int, clicks: int, days: int, end: date) -> int:
    """Day aggregates for the page, summing to `clicks` clicks; the rows inserted."""
    rng = random.Random(7)
    spots = [
        (rng.randrange(5, 95), rng.randrange(0, 200), rng.random() ** 2) for _ in range(ELEMENTS)
    ]
    weight = sum(w for *_, w in spots)
    every = keys(days, end)
    per_key = clicks / len(every)
    rows = 0
    for n, (day, device, width, returning) in enumerate(every):
        key = {"project_id": project_id, "day": day, "device": device, "width": width}
        key["is_returning"] = returning
        cells: dict[tuple[int, int], int] = {}
        elements = []
        for index, (x, y, w) in enumerate(spots):
            share = per_key * w / weight
            elements.append(
                {
                    **key,
                    "path": PAGE,
                    "selector": f"main > div.card:nth-of-type({index})",
                    "tag": "button",
                    "clicks": max(1, round(share)),
                    "offset_x_sum": round(share * 500),
                    "offset_y_sum": round(share * 500),
                }
            )
            for dx in range(-2, 3):
                for dy in range(-2, 3):
                    cell = (min(99, max(0, x + dx)), y + dy + (width % 700) // 100)
                    cells[cell] = cells.get(cell, 0) + max(1, round(share / 25))
        conn.execute(
            insert(heatmap_cell),
            [
                {**key, "path": PAGE, "kind": "click", "x": x, "y": y, "n": c}
                for (x, y), c in cells.items()
            ],
        )
        conn.execute(
            insert(heatmap_cell),
            [
                {
                    **key,
                    "path": PAGE,
                    "kind": "move",
                    "x": i % 100,
                    "y": i // 100 * 3,
                    "n": 1 + i % 7,
                }
                for i in range(MOVE_CELLS)
            ],
        )
        conn.execute(insert(heatmap_element), elements)
        conn.execute(
            insert(heatmap_band),
            [
                {
                    **key,
                    "path": PAGE,
                    "band": b,
                    "views": 400 - 15 * b,
                    "attention_ms": 90_000 - 3000 * b,
                }
                for b in range(20)
            ],
        )
        rows += len(cells) + MOVE_CELLS + len(elements) + 20
        if n % 500 == 0:
            print(f"  bulk aggregates: {n}/{len(every)} day keys", file=sys.stderr)
    others = [
        {
            "project_id": project_id,
            "day": day,
            "device": device,
            "width": width,
            "is_returning": returning,
            "path": f"/page/{p}",
            "kind": "click",
            "x": p,
            "y": p,
            "n": 3,
        }
        for p in range(OTHER_PAGES)
        for day, device, width, returning in every[:: max(1, len(every) // 400)]
    ]
    conn.execute(insert(heatmap_cell), others)
    return rows + len(others)


def visit(index: int, start: int) -> list[dict[str, Any]]:
    """A recorded visit to a product page, as the recorder sends it."""
    rng = random.Random(index)
    url = f"https://shop.example{PAGE if index % 3 else f'/product/other-{index % 7}'}"
    events: list[dict[str, Any]] = [
        {"type": 4, "timestamp": start, "data": {"href": url, "width": 1280, "height": 800}},
        {
            "type": 2,
            "timestamp": start + 1,
            "data": {"node": {"type": 0, "id": 1, "childNodes": []}, "initialOffset": {"top": 0}},
        },
        {
            "type": 5,
            "timestamp": start + 2,
            "data": {
                "tag": "sessionlens.layout",
                "payload": {"w": 1280, "h": 4000, "vw": 1280, "vh": 800},
            },
        },
    ]
    ts = start + 10
    for step in range(12):
        ts += rng.randrange(300, 3000)
        events.append(
            {
                "type": 3,
                "timestamp": ts,
                "data": {
                    "source": 1,
                    "positions": [
                        {
                            "x": rng.randrange(1280),
                            "y": rng.randrange(800),
                            "id": 5,
                            "timeOffset": -k * 50,
                        }
                        for k in range(10)
                    ],
                },
            }
        )
        if step % 3 == 0:
            events.append(
                {
                    "type": 3,
                    "timestamp": ts + 5,
                    "data": {"source": 3, "id": 1, "x": 0, "y": rng.randrange(3200)},
                }
            )
        x, y = rng.randrange(1280), rng.randrange(4000)
        events.append(
            {
                "type": 5,
                "timestamp": ts + 10,
                "data": {
                    "tag": "sessionlens.click",
                    "payload": {
                        "sel": f"main > div.card:nth-of-type({rng.randrange(12)})",
                        "tag": "button",
                        "x": x,
                        "y": y,
                        "ox": 500,
                        "oy": 500,
                        "w": 1280,
                        "h": 4000,
                        "vw": 1280,
                        "vh": 800,
                        "int": 1,
                        "dl": 0,
                    },
                },
            }
        )
    return events


def sample(ctx: Context, project_id: int, count: int, end: date) -> None:
    first = datetime.combine(end, datetime.min.time(), UTC) - timedelta(days=2)
    for index in range(count):
        start = int(first.timestamp() * 1000) + index * 60_000
        events = visit(index, start)
        url = events[0]["data"]["href"]
        batch = {
            "session_id": f"benchSession{index:06d}",
            "visitor_id": f"benchVisitor{index % 97:04d}",
            "window_id": "benchWindow0001",
            "seq": 0,
            "sent_at": start,
            "events": events,
            "meta": {
                "url": url,
                "viewport": {"width": 1280, "height": 800},
                "screen": {"width": 1920, "height": 1080},
            },
        }
        entry = LogEntry(0, project_id, Envelope(UA, "127.0.0.0", datetime.now(UTC)), batch)
        with ctx.engine.begin() as conn:
            sessions.apply(conn, ctx.blobs, project_id, batch["session_id"], [entry])


def best_of(repeat: int, call: Callable[[], Any]) -> tuple[float, float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return min(times), times[0], result


def size(result: Any) -> int:
    if isinstance(result, dict):
        return len(result.get("cells") or result.get("bands") or []) + len(
            result.get("elements", [])
        )
    return len(result)


def measure(
    ctx: Context, project_id: int, days: int, end: date, repeat: int
) -> list[dict[str, Any]]:
    out = []
    with ctx.engine.connect() as conn:
        for span in (30, days):
            query = {"from": (end - timedelta(days=span - 1)).isoformat(), "to": end.isoformat()}
            wanted = heatmaps.parse(conn, project_id, {**query, "url": PAGE})
            baseline, first, count = best_of(
                repeat,
                lambda w=wanted: conn.execute(
                    select(func.count()).where(
                        heatmap_cell.c.kind == "click",
                        heatmaps._aggregate_where(heatmap_cell, project_id, w),
                    )
                ).scalar_one(),
            )
            out.append(
                {
                    "query": "baseline count(*) of the page's click cells",
                    "days": span,
                    "seconds": baseline,
                    "first": first,
                    "rows": count,
                    "vs_baseline": 1.0,
                }
            )
            cases = [
                ("clicks", {"url": PAGE}),
                # min_width 0 keeps every row but reads the detailed rows, not the totals
                ("clicks, min_width 0 (detailed rows)", {"url": PAGE, "min_width": "0"}),
                ("clicks, pattern /product/*", {"url": "/product/*"}),
                ("clicks, mobile", {"url": PAGE, "device": "mobile"}),
                (
                    "clicks, width 1200-1499, returning",
                    {"url": PAGE, "min_width": "1200", "max_width": "1499", "visitor": "returning"},
                ),
                ("moves", {"url": PAGE}),
                ("moves, min_width 0 (detailed rows)", {"url": PAGE, "min_width": "0"}),
                ("scroll", {"url": PAGE}),
                ("attention", {"url": PAGE}),
                ("suggestions (top pages and patterns)", {}),
            ]
            answers: dict[str, Any] = {}
            for name, params in cases:
                kind = name.split(",")[0]
                wanted = heatmaps.parse(conn, project_id, {**query, **params}, need_url=False)
                if kind.startswith("suggestions"):
                    call = lambda w=wanted: heatmaps.suggestions(conn, project_id, w.period)  # noqa: E731
                else:
                    call = lambda k=kind, w=wanted: heatmaps.KINDS[k](conn, project_id, w)  # noqa: E731
                seconds, first, result = best_of(repeat, call)
                answers[name] = result
                if name.endswith("(detailed rows)") and result != answers[kind]:
                    raise SystemExit(f"{kind}: the totals and the detailed rows disagree")
                total = result.get("total") if isinstance(result, dict) else None
                out.append(
                    {
                        "query": name,
                        "days": span,
                        "seconds": seconds,
                        "first": first,
                        "rows": size(result),
                        "total": total,
                        "vs_baseline": seconds / baseline,
                    }
                )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--sample", type=int, default=300, help="visits through the processor")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="default: a temp SQLite file")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sessionlens-heatmaps-") as tmp:
        url = options.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = config.load(
            {
                "SESSIONLENS_DATA_DIR": tmp,
                "SESSIONLENS_DATABASE_URL": url,
                "SESSIONLENS_DEMO": "false",
            }
        )
        ctx = Context.open(settings)
        try:
            migrate(ctx.engine)
            with ctx.engine.begin() as conn:
                _, org_id = users.create_user(
                    conn, "bench@example.com", "Bench", "bench password 1"
                )
                project_id = projects.create_project(
                    conn, org_id, "Heatmaps", ["https://shop.example"]
                ).id
            end = datetime.now(UTC).date()
            started = time.perf_counter()
            with ctx.engine.begin() as conn:
                rows = bulk(conn, project_id, options.clicks, options.days, end)
            print(
                f"{rows:,} aggregate rows in {time.perf_counter() - started:.1f} s", file=sys.stderr
            )
            started = time.perf_counter()
            with ctx.engine.begin() as conn:
                fill_totals(conn, project_id)
            print(f"totals in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            # after the bulk rows: the processor adds to them, as it would on a live server
            started = time.perf_counter()
            sample(ctx, project_id, options.sample, end)
            print(
                f"{options.sample} visits through the processor in "
                f"{time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
            with ctx.engine.connect() as conn:
                clicks = conn.execute(
                    select(func.sum(heatmap_element.c.clicks)).where(heatmap_element.c.path == PAGE)
                ).scalar_one()
            timings = measure(ctx, project_id, options.days, end, options.repeat)
        finally:
            ctx.close()
    if options.json:
        print(json.dumps({"clicks": clicks, "rows": rows, "cpu": cpu_model(), "queries": timings}))
        return
    print(
        f"heatmaps of {PAGE}: {clicks:,} clicks over {options.days} days; {rows:,} aggregate "
        f"rows; best of {options.repeat}"
    )
    print(f"{'query':42}{'days':>5}{'seconds':>9}{'first':>8}{'rows':>7}{'vs baseline':>13}")
    for t in timings:
        print(
            f"{t['query'][:42]:42}{t['days']:>5}{t['seconds']:9.3f}{t['first']:8.3f}"
            f"{t['rows']:7}{t['vs_baseline']:12.1f}x"
        )


if __name__ == "__main__":
    main()
