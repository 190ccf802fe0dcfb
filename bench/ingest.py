"""Ingest benchmark: the per-request ingest work and the processor, against a baseline.

    .venv/bin/python bench/ingest.py [--sessions N] [--seed S] [--database-url URL] [--json]

The baseline does, on the same batches in the same run, the least a server could: gunzip,
json.loads and gzip -6 into memory. Every figure is printed as a ratio against it, so runs on
different machines compare; nothing here asserts a time (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from corpus import GZIP_LEVEL, ORIGIN, Corpus, generate
from report import Figure, Storage, print_report
from sessionlens import config, projects
from sessionlens.accounts import users
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.ingest import body, guard, log, schema
from sessionlens.ingest.routes import truncate_address
from sessionlens.ingest.urls import strip_batch_urls
from sessionlens.processing.processor import Processor
from sessionlens.storage.engine import make_engine, migrate
from sessionlens.storage.tables import ingest_log, recording_block, session, utcnow

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
CLIENT_ADDRESS = "198.18.0.1"
_schemas = itertools.count()


class BenchError(RuntimeError):
    """The measured code did not do what it should; the figures would mean nothing."""


@contextlib.contextmanager
def _private_schema(url: str) -> Iterator[str]:
    """The URL with its own PostgreSQL schema first on the search path; dropped afterwards."""
    name = f"sessionlens_bench_{os.getpid()}_{next(_schemas)}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={name}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def open_store(
    database_url: str | None, synchronous: str
) -> Iterator[tuple[Context, projects.Project]]:
    """A fresh, migrated database and blob folder with one organisation and project."""
    with (
        tempfile.TemporaryDirectory(prefix="sessionlens-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        url = f"sqlite:///{tmp}/bench.db"
        if database_url is not None:
            url = stack.enter_context(_private_schema(database_url))
        settings = config.load(
            {
                "SESSIONLENS_DATA_DIR": f"{tmp}/data",
                "SESSIONLENS_DATABASE_URL": url,
                "SESSIONLENS_BLOB_URL": Path(tmp, "blobs").as_uri(),
                "SESSIONLENS_SECRET_KEY": "bench-" * 8,
                "SESSIONLENS_DEMO": "false",
                "SESSIONLENS_PROCESSOR": "false",
                "SESSIONLENS_SQLITE_SYNCHRONOUS": synchronous,
            }
        )
        ctx = Context.open(settings)
        stack.callback(ctx.close)
        migrate(ctx.engine)
        with ctx.engine.begin() as conn:
            organisation = users.create_organisation(conn, "Bench")
            project = projects.create_project(conn, organisation, "Shop", [ORIGIN])
        yield ctx, project


def baseline(corpus: Corpus) -> tuple[float, int]:
    """Seconds, and the bytes gzip -6 wrote (into memory, not to a file)."""
    written = 0
    start = time.perf_counter()
    for item in corpus.bodies:
        raw = gzip.decompress(item.gzip)
        json.loads(raw)
        written += len(gzip.compress(raw, compresslevel=GZIP_LEVEL))
    return time.perf_counter() - start, written


def ingest_path(ctx: Context, project: projects.Project, corpus: Corpus) -> float:
    """What receive_batch does per request, without HTTP and the project lookup."""
    denylist = project.privacy.denylist()
    presets = project.privacy.extra_patterns
    address = truncate_address(CLIENT_ADDRESS)
    start = time.perf_counter()
    for item in corpus.bodies:
        raw = guard.scrub(body.decode(item.gzip, "gzip"), presets).body
        batch = schema.parse_batch(raw)
        if strip_batch_urls(batch, denylist):
            raw = schema.encode_batch(batch)
        envelope = log.Envelope(user_agent=USER_AGENT, address=address, received_at=utcnow())
        if not log.append(ctx.engine, project.id, batch, raw, envelope):
            raise BenchError(f"batch {batch.session_id}/{batch.seq} was taken for a duplicate")
    return time.perf_counter() - start


async def http_path(ctx: Context, project: projects.Project, corpus: Corpus) -> float:
    """Every batch POSTed to the real ASGI app, in-process (no sockets).

    Each session sends from an address of its own, as visitors do, so the per-address rate
    limit sees what it would in production.
    """
    app = create_app(ctx, run_processor=False)
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Origin": ORIGIN,
        "User-Agent": USER_AGENT,
    }
    url = f"/i/v1/{project.ingest_key}/batch"
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, httpx2.AsyncClient] = {}
        for number, session_id in enumerate(dict.fromkeys(b.session_id for b in corpus.bodies)):
            address = f"198.{18 + number // 65536}.{number // 256 % 256}.{number % 256}"
            transport = httpx2.ASGITransport(app=app, client=(address, 50000))
            client = httpx2.AsyncClient(transport=transport, base_url="http://bench")
            clients[session_id] = await stack.enter_async_context(client)
        start = time.perf_counter()
        for item in corpus.bodies:
            response = await clients[item.session_id].post(url, content=item.gzip, headers=headers)
            if response.status_code != 202 or response.json()["duplicate"]:
                raise BenchError(f"POST answered {response.status_code}: {response.text}")
        return time.perf_counter() - start


def process(ctx: Context, corpus: Corpus) -> float:
    start = time.perf_counter()
    taken = Processor(ctx).drain()
    elapsed = time.perf_counter() - start
    if taken != len(corpus.bodies):
        raise BenchError(f"the processor took {taken} of {len(corpus.bodies)} batches")
    return elapsed


def stored(ctx: Context, corpus: Corpus, database: str, baseline_bytes: int) -> Storage:
    """What the processor and the ingest log keep, checked against the corpus."""
    with ctx.engine.connect() as conn:
        blocks, events, raw_bytes, stored_bytes = conn.execute(
            select(
                func.count(),
                func.sum(recording_block.c.events),
                func.sum(recording_block.c.raw_bytes),
                func.sum(recording_block.c.stored_bytes),
            )
        ).one()
        session_ms = conn.execute(select(func.sum(session.c.duration_ms))).scalar_one()
        log_bytes, errors = conn.execute(
            select(func.sum(func.length(ingest_log.c.payload)), func.count(ingest_log.c.error))
        ).one()
    if errors or events != corpus.events or session_ms != corpus.session_ms:
        raise BenchError(
            f"stored {events} events over {session_ms} ms with {errors} errors; "
            f"sent {corpus.events} events over {corpus.session_ms} ms"
        )
    return Storage(
        database, blocks, int(raw_bytes), int(stored_bytes), int(log_bytes), baseline_bytes
    )


def _database_label(options: argparse.Namespace, synchronous: str) -> str:
    return "PostgreSQL" if options.database_url else f"SQLite synchronous={synchronous}"


def measure(options: argparse.Namespace, corpus: Corpus) -> tuple[list[Figure], Storage]:
    """Best of `repeat` runs of each path; every run on a fresh database."""
    best: dict[str, float] = {}
    storage: Storage | None = None

    def keep(name: str, seconds: float) -> None:
        best[name] = min(seconds, best.get(name, seconds))

    modes = options.sqlite_synchronous if not options.database_url else ["FULL"]
    for run in range(1, options.repeat + 1):
        print(f"run {run} of {options.repeat}", file=sys.stderr)
        seconds, baseline_bytes = baseline(corpus)
        keep("baseline", seconds)
        for mode in modes:
            where = _database_label(options, mode)
            with open_store(options.database_url, mode) as (ctx, project):
                keep(f"ingest path, {where}", ingest_path(ctx, project, corpus))
                keep(f"processor, {where}", process(ctx, corpus))
                checked = stored(ctx, corpus, where, baseline_bytes)
                storage = storage or checked
        if options.http:
            with open_store(options.database_url, modes[0]) as (ctx, project):
                seconds = asyncio.run(http_path(ctx, project, corpus))
                keep(f"HTTP ingest, {_database_label(options, modes[0])}", seconds)
    assert storage is not None
    figures = [Figure.of(name, seconds, corpus, best["baseline"]) for name, seconds in best.items()]
    return figures, storage


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="sessions to generate (20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the corpus (1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; best kept (3)")
    parser.add_argument(
        "--database-url",
        help="a postgresql+psycopg:// URL to measure instead of a SQLite file in a temp dir; "
        "the benchmark works in a schema of its own there and drops it afterwards",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        nargs="+",
        choices=["FULL", "NORMAL", "EXTRA"],
        default=["FULL", "NORMAL"],
        help="SQLite synchronous modes to measure, the server's default first (FULL NORMAL)",
    )
    parser.add_argument(
        "--http",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also POST every batch through the ASGI app (default: yes)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args(argv)
    if options.sessions < 1 or options.repeat < 1:
        parser.error("--sessions and --repeat must be at least 1")
    if options.database_url and not options.database_url.startswith("postgresql"):
        parser.error("--database-url takes a postgresql+psycopg:// URL; SQLite is the default")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    print(f"generating {options.sessions} sessions (seed {options.seed})", file=sys.stderr)
    corpus = generate(options.sessions, options.seed)
    figures, storage = measure(options, corpus)
    print_report(options, corpus, figures, storage)


if __name__ == "__main__":
    main()
