"""Load run: concurrent simulated recorders against a real `sessionlens serve` on loopback.

    .venv/bin/python bench/load.py [--clients 500] [--seconds 60] [--queue embedded|nats]

Each client plays a session of the recorded corpus (bench/corpus.py) under an id of its own,
starting somewhere in the middle (the run is a steady state, not 500 page loads at once),
and POSTs its next batch every 2 s as the recorder does; when its session ends it starts a
new one (a new id, a Meta event and a full snapshot first). Clients send from addresses of
their own (X-Forwarded-For, the server trusting 127.0.0.1 as a proxy) so per-address limits
see what they would in production. The server runs with its in-process worker, on a fresh
SQLite database; with `--queue nats` its queue is a stream of its own on the NATS server at
`--nats-url` (deleted at the end).

The baseline, measured in the same command on the same batches, is the pipeline of
bench/ingest.py (gunzip, json.loads, gzip -6) in one thread: events/s per core of the server
(events over the CPU seconds the server process used) are given as a ratio of it. Nothing
here asserts a time (docs/benchmarks.md). Only processes this script started are stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gzip
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

from corpus import GZIP_LEVEL, ORIGIN, generate
from sessionlens import projects
from sessionlens.accounts import tokens, users
from sessionlens.storage.engine import make_engine, migrate

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
FLUSH_S = 2.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Template:
    """One recorded session's batches, decompressed, with the ids to replace."""

    session_id: bytes
    visitor_id: bytes
    batches: list[tuple[bytes, int]]  # raw JSON, events


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    batches: int = 0
    events: int = 0
    raw_bytes: int = 0
    gzip_bytes: int = 0


@dataclass
class Project:
    project_id: int
    ingest_key: str
    token: str  # API token (Authorization: Bearer)
    login: str  # console login cookie (sl_login), for the player's routes


def templates(sessions: int, seed: int) -> list[Template]:
    corpus = generate(sessions, seed)
    by_session: dict[str, list[tuple[int, bytes, int]]] = {}
    for item in corpus.bodies:
        raw = gzip.decompress(item.gzip)
        by_session.setdefault(item.session_id, []).append((item.seq, raw, item.events))
    out = []
    for session_id, items in sorted(by_session.items()):
        items.sort()
        visitor = json.loads(items[0][1])["visitor_id"].encode()
        out.append(Template(session_id.encode(), visitor, [(raw, n) for _, raw, n in items]))
    return out


def baseline_events_per_s(tpls: list[Template]) -> float:
    """bench/ingest.py's baseline pipeline over every template batch, one thread."""
    bodies = [(gzip.compress(raw, GZIP_LEVEL, mtime=0), n) for t in tpls for raw, n in t.batches]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for packed, _n in bodies:
            raw = gzip.decompress(packed)
            json.loads(raw)
            gzip.compress(raw, compresslevel=GZIP_LEVEL)
        best = min(best, time.perf_counter() - start)
    return sum(n for _, n in bodies) / best


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_database(url: str) -> Project:
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            user, org_id = users.create_user(
                conn, "bench@example.com", "Bench", "bench password 123"
            )
            project = projects.create_project(conn, org_id, "Shop", [ORIGIN])
            token = tokens.create_api_token(conn, user.id, "bench", org_id, scope="read")
            login, _csrf = tokens.start_login(conn, user.id)
    finally:
        engine.dispose()
    return Project(project.id, project.ingest_key, token, login)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


class Server:
    """`sessionlens serve` as a child process, stopped by its own pid."""

    def __init__(self, tmp: Path, database_url: str, extra: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONLENS_")}
        self.env.update(
            {
                "SESSIONLENS_DATA_DIR": str(tmp / "data"),
                "SESSIONLENS_DATABASE_URL": database_url,
                "SESSIONLENS_BASE_URL": self.base_url,
                "SESSIONLENS_DEMO": "false",
                "SESSIONLENS_SIGNUP": "false",
                "SESSIONLENS_ADMIN_EMAIL": "admin@example.com",
                "SESSIONLENS_ADMIN_PASSWORD": "admin password 123",
                "SESSIONLENS_TRUSTED_PROXIES": "127.0.0.1",
                **extra,
            }
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sessionlens", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


async def client(
    index: int,
    http: httpx.AsyncClient,
    url: str,
    tpls: list[Template],
    deadline: float,
    tally: Tally,
    rng: random.Random,
) -> None:
    tpl = tpls[index % len(tpls)]
    position = rng.randrange(len(tpl.batches))
    generation = 0
    address = f"10.{index // 250}.{index % 250}.1"
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Origin": ORIGIN,
        "User-Agent": USER_AGENT,
        "X-Forwarded-For": address,
    }
    next_at = time.monotonic() + rng.uniform(0, FLUSH_S)
    while True:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if time.monotonic() >= deadline:
            return
        raw, events = tpl.batches[position]
        session_id = b"load-%04d-%04d" % (index, generation)
        raw = raw.replace(tpl.session_id, session_id).replace(
            tpl.visitor_id, b"load-visitor-%04d" % index
        )
        packed = gzip.compress(raw, GZIP_LEVEL, mtime=0)
        start = time.perf_counter()
        try:
            answer = await http.post(url, content=packed, headers=headers)
            status = str(answer.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        tally.latencies.append(time.perf_counter() - start)
        tally.statuses[status] += 1
        if status == "202":
            tally.batches += 1
            tally.events += events
            tally.raw_bytes += len(raw)
            tally.gzip_bytes += len(packed)
        position += 1
        if position == len(tpl.batches):
            position, generation = 0, generation + 1
        next_at += FLUSH_S


async def drive(
    base_url: str, key: str, tpls: list[Template], clients: int, seconds: float, seed: int
) -> tuple[Tally, float]:
    tally = Tally()
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    url = f"{base_url}/i/v1/{key}/batch"
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        start = time.monotonic()
        deadline = start + seconds
        await asyncio.gather(
            *(client(i, http, url, tpls, deadline, tally, rng) for i in range(clients))
        )
        elapsed = time.monotonic() - start
    return tally, elapsed


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def delete_streams(nats_url: str, stream: str) -> None:
    import nats

    connection = await nats.connect(nats_url, connect_timeout=3)
    try:
        jetstream = connection.jetstream()
        for name in (stream, f"{stream}-dead"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await jetstream.delete_stream(name)
    finally:
        await connection.close()


def run(options: argparse.Namespace) -> dict[str, object]:
    tpls = templates(options.sessions, options.seed)
    baseline = baseline_events_per_s(tpls)
    extra: dict[str, str] = {}
    stream = f"bench-load-{os.getpid()}"
    if options.queue == "nats":
        extra = {"SESSIONLENS_QUEUE_URL": options.nats_url, "SESSIONLENS_QUEUE_STREAM": stream}
    with tempfile.TemporaryDirectory(prefix="sessionlens-load-") as name:
        tmp = Path(name)
        database_url = f"sqlite:///{tmp / 'load.db'}"
        project = prepare_database(database_url)
        server = Server(tmp, database_url, extra)
        try:
            server.start()
            assert server.process is not None
            cpu_before = cpu_seconds(server.process.pid)
            client_before = time.process_time()
            tally, elapsed = asyncio.run(
                drive(
                    server.base_url,
                    project.ingest_key,
                    tpls,
                    options.clients,
                    options.seconds,
                    options.seed,
                )
            )
            server_cpu = cpu_seconds(server.process.pid) - cpu_before
            client_cpu = time.process_time() - client_before
        finally:
            server.stop()
            if options.queue == "nats":
                asyncio.run(delete_streams(options.nats_url, stream))
    loadavg = os.getloadavg()
    events_per_s = tally.events / elapsed
    per_core = tally.events / server_cpu if server_cpu else float("nan")
    return {
        "queue": options.queue,
        "clients": options.clients,
        "seconds": elapsed,
        "requests": len(tally.latencies),
        "statuses": dict(tally.statuses),
        "p50_ms": percentile(tally.latencies, 0.50) * 1e3,
        "p99_ms": percentile(tally.latencies, 0.99) * 1e3,
        "mean_ms": statistics.fmean(tally.latencies) * 1e3 if tally.latencies else 0.0,
        "batches_per_s": tally.batches / elapsed,
        "events_per_s": events_per_s,
        "mb_per_s_json": tally.raw_bytes / 1e6 / elapsed,
        "mb_per_s_gzip": tally.gzip_bytes / 1e6 / elapsed,
        "server_cpu_s": server_cpu,
        "server_cores_busy": server_cpu / elapsed,
        "clients_cpu_s": client_cpu,
        "events_per_s_per_core": per_core,
        "mb_json_per_s_per_core": tally.raw_bytes / 1e6 / server_cpu if server_cpu else 0.0,
        "baseline_events_per_s": baseline,
        "per_core_vs_baseline": per_core / baseline,
        "loadavg_1m_at_end": loadavg[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500, help="simulated recorders (500)")
    parser.add_argument("--seconds", type=float, default=60, help="length of the run (60)")
    parser.add_argument("--sessions", type=int, default=20, help="corpus sessions played (20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of corpus and clients (1)")
    parser.add_argument("--queue", choices=("embedded", "nats"), default="embedded")
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222", help="for --queue nats")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args()
    result = run(options)
    if options.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else value
        print(f"{key:<24} {shown}")


if __name__ == "__main__":
    main()
