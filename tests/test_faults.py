"""Fault tests: many simulated recorders against separate server and worker processes.

(a) 2 `sessionlens serve --no-worker` + 2 `sessionlens worker` on PostgreSQL and NATS
    JetStream, 200 recording clients: every acknowledged batch is replayable, each once.
(b) the same with a worker and a server SIGKILLed mid-run (and a new worker started).
(c) PostgreSQL restarted mid-run, with the embedded log and with NATS: the ingest answers
    503 while it cannot persist, the clients retry, nothing acknowledged is lost.

Every process listens on loopback only, is started by the test and ended by it, and every
wait has a deadline. (a) and (b) use the machine's PostgreSQL (a database of this test
process's own) and NATS (a stream of the test's own). (c) restarts a PostgreSQL instance
of its own (initdb + pg_ctl in a temporary folder, a free port), so other tests sharing
the machine's server are not disturbed. The clients behave as the recorder does: one
session's batches in order, the same seq again after a 5xx or a connection error, with a
growing pause; each try goes to the other server, as a load balancer would send it.

Outside CI they skip when NATS, PostgreSQL or its binaries are missing; in CI they must run.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import psycopg
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import select, text

from sessionlens import config
from sessionlens.context import Context
from sessionlens.storage.engine import make_engine, migrate
from sessionlens.storage.tables import metadata, recording_block, session
from tests.conftest import IN_CI, Account, make_account
from tests.server import free_port, server_env
from tests.test_nats_queue import NATS_URL, _nats_answers, on_nats

pytestmark = pytest.mark.faults

ORIGIN = "https://shop.example"
ACK_WAIT_S = 5  # a killed worker's batches go to another worker after this


def need(condition: bool, why: str) -> None:
    if not condition:
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)


# --- processes ----------------------------------------------------------------------------


class Proc:
    """One `sessionlens` process of the test's own (a server or a worker)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = int(args[args.index("--port") + 1]) if "--port" in args else 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sessionlens", *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if self.port:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.log_tail()
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                        return self
                time.sleep(0.1)
            raise AssertionError(f"{self.name} did not start: {self.log_tail()}")
        else:  # a worker: it says so once it opened the database and the queue
            deadline = time.monotonic() + 60
            while "worker: processing" not in self.log_tail():
                assert self.process.poll() is None, self.log_tail()
                assert time.monotonic() < deadline, f"{self.name} did not start"
                time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL: nothing in flight is finished or acknowledged, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@dataclass
class Cluster:
    env: dict[str, str]
    logs: Path
    procs: list[Proc] = field(default_factory=list)

    def server(self) -> Proc:
        port = free_port()
        env = self.env | {"SESSIONLENS_BASE_URL": f"http://127.0.0.1:{port}"}
        args = ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)]
        proc = Proc(f"server-{len(self.procs)}", args, env, self.logs)
        self.procs.append(proc)
        return proc.start()

    def worker(self) -> Proc:
        proc = Proc(f"worker-{len(self.procs)}", ["worker"], self.env, self.logs)
        self.procs.append(proc)
        return proc.start()

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()

    def logs_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in self.procs)


@contextlib.contextmanager
def cluster(ctx: Context, logs: Path, **extra: str) -> Iterator[Cluster]:
    env = server_env(
        ctx.settings.data_dir,  # one data dir: the blob store and the secret key are shared
        ctx.settings.database_url,
        0,
        SESSIONLENS_DEMO="false",
        SESSIONLENS_INGEST_RATE_PER_ADDRESS="0",  # every client comes from 127.0.0.1
        SESSIONLENS_INGEST_RATE_PER_PROJECT="0",
        SESSIONLENS_QUEUE_ACK_WAIT_S=str(ACK_WAIT_S),
        **extra,
    )
    running = Cluster(env, logs)
    try:
        yield running
    finally:
        running.stop()


class PrivatePostgres:
    """A PostgreSQL instance of the test's own, which it may stop and start at will."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="sessionlens-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin_dir / tool), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE DATABASE sessionlens")

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/sessionlens"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def crash(self) -> None:
        """Stop at once, as a crash would: no checkpoint, recovery from the WAL at start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def database_url(pg_url: str) -> str:
    """PostgreSQL only (several workers need it), emptied before the test."""
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return pg_url


@pytest.fixture
def stream() -> Iterator[str]:
    need(_nats_answers(), f"NATS is not reachable at {NATS_URL}")
    name = f"slfaults_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    yield name

    async def delete(js: JetStreamContext) -> None:
        for each in (name, f"{name}-dead"):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(each)

    on_nats(delete)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    need(bool(found), "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl)")
    need(os.geteuid() != 0 or shutil.which("runuser") is not None, "root without runuser")
    instance = PrivatePostgres(Path(found[-1]).parent)
    try:
        instance.init()
        yield instance
    finally:
        instance.remove()


# --- the simulated recorder ----------------------------------------------------------------


def rrweb_events(seq: int, start: int, rng: random.Random) -> list[dict[str, Any]]:
    """A batch's events, shaped like rrweb's: Meta + FullSnapshot first, then moves,
    scrolls, clicks, inputs and DOM mutations. Timestamps are unique in the session."""
    ts = start + seq * 2000
    if seq == 0:
        items = [
            {
                "type": 2,
                "id": 10 + i,
                "tagName": "div",
                "attributes": {"class": f"card c{i}"},
                "childNodes": [{"type": 3, "id": 100 + i, "textContent": f"Product {i}"}],
            }
            for i in range(30)
        ]
        return [
            {
                "type": 4,
                "timestamp": ts,
                "data": {"href": f"{ORIGIN}/", "width": 1280, "height": 720},
            },
            {
                "type": 2,
                "timestamp": ts + 1,
                "data": {
                    "node": {
                        "type": 0,
                        "id": 1,
                        "childNodes": [
                            {
                                "type": 2,
                                "id": 2,
                                "tagName": "html",
                                "attributes": {},
                                "childNodes": [
                                    {
                                        "type": 2,
                                        "id": 3,
                                        "tagName": "body",
                                        "attributes": {},
                                        "childNodes": items,
                                    }
                                ],
                            }
                        ],
                    },
                    "initialOffset": {"top": 0, "left": 0},
                },
            },
        ]
    events: list[dict[str, Any]] = []
    for i in range(20):
        at = ts + 1 + i * 50
        kind = rng.choice(["move", "move", "move", "scroll", "click", "input", "mutation"])
        node = rng.randrange(10, 40)
        if kind == "move":
            positions = [
                {
                    "x": rng.randrange(1280),
                    "y": rng.randrange(720),
                    "id": node,
                    "timeOffset": -k * 10,
                }
                for k in range(5)
            ]
            data: dict[str, Any] = {"source": 1, "positions": positions}
        elif kind == "scroll":
            data = {"source": 3, "id": 1, "x": 0, "y": rng.randrange(3000)}
        elif kind == "click":
            data = {"source": 2, "type": 2, "id": node, "x": rng.randrange(1280), "y": 300}
        elif kind == "input":
            data = {"source": 5, "id": node, "text": "***", "isChecked": False}
        else:
            data = {
                "source": 0,
                "texts": [{"id": 100 + node - 10, "value": f"Price {rng.randrange(100)}"}],
                "attributes": [{"id": node, "attributes": {"class": "card active"}}],
                "removes": [],
                "adds": [],
            }
        events.append({"type": 3, "timestamp": at, "data": data})
    return events


def batch_body(sid: str, seq: int, start: int) -> tuple[bytes, list[tuple[int, int]]]:
    events = rrweb_events(seq, start, random.Random(f"{sid}:{seq}"))
    body = {
        "session_id": sid,
        "visitor_id": f"visitor{sid[-8:]}",
        "window_id": "window0001",
        "seq": seq,
        "sent_at": start + seq * 2000 + 1500,
        "meta": {
            "url": f"{ORIGIN}/",
            "referrer": "",
            "title": "Shop",
            "viewport": {"width": 1280, "height": 720},
            "screen": {"width": 1920, "height": 1080},
        },
        "events": events,
    }
    return orjson.dumps(body), [(e["timestamp"], e["type"]) for e in events]


@dataclass
class Tally:
    batches: int  # the run's total
    acked: dict[tuple[str, int], list[tuple[int, int]]] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0
    statuses_while: dict[str, Counter[str]] = field(default_factory=dict)
    phase: str = "before"
    errors: dict[str, str] = field(default_factory=dict)  # one example of each

    def note(self, answer: str) -> None:
        self.answers[answer] += 1
        self.statuses_while.setdefault(self.phase, Counter())[answer] += 1


async def record_session(
    http: httpx.AsyncClient,
    servers: list[str],
    key: str,
    sid: str,
    batches_n: int,
    tally: Tally,
    deadline: float,
) -> None:
    start = int(time.time() * 1000) - 60_000  # recent: the workers' retention purge keeps it
    await asyncio.sleep(random.uniform(0, 1))  # clients do not all start at once
    for seq in range(batches_n):
        body, events = batch_body(sid, seq, start)
        failures = 0
        while True:
            server = servers[(seq + failures) % len(servers)]
            try:
                answer = await http.post(
                    f"{server}/i/v1/{key}/batch",
                    content=body,
                    headers={"Origin": ORIGIN, "Content-Type": "application/json"},
                )
                status = str(answer.status_code)
            except httpx.TransportError as exc:
                status = type(exc).__name__
                tally.errors.setdefault(status, repr(exc))
            tally.note(status)
            if status == "202":
                tally.acked[(sid, seq)] = events
                tally.bytes_sent += len(body)
                break
            # What the recorder retries: 408, any 5xx, no answer (connection refused or cut).
            assert not status.isdigit() or status == "408" or status >= "500", (
                f"{sid}/{seq}: {status} {answer.text}"
            )
            failures += 1
            assert time.monotonic() < deadline, f"{sid}/{seq} never acknowledged"
            # The recorder waits 1 s, 2 s, 4 s ... with jitter; a quarter of that here.
            pause = min(4.0, 0.25 * 2 ** (failures - 1))
            await asyncio.sleep(pause * random.uniform(0.9, 1.1))
        await asyncio.sleep(random.uniform(0.05, 0.2))


def run_clients(
    servers: Callable[[], list[str]],
    key: str,
    clients_n: int,
    batches_n: int,
    fault: Callable[[Tally], Awaitable[None]] | None = None,
    seconds: float = 150,
) -> tuple[Tally, float]:
    """Run the clients (and a fault, which watches the tally) until all batches are in."""
    tally = Tally(clients_n * batches_n)

    async def main() -> None:
        deadline = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=clients_n, max_keepalive_connections=clients_n)
        async with httpx.AsyncClient(timeout=15, limits=limits) as http:
            tasks = [
                record_session(http, servers(), key, f"sessionF{n:07d}", batches_n, tally, deadline)
                for n in range(clients_n)
            ]
            if fault is not None:
                tasks.append(fault(tally))
            await asyncio.gather(*tasks)

    began = time.monotonic()
    asyncio.run(main())
    return tally, time.monotonic() - began


# --- checks --------------------------------------------------------------------------------


def stored_seqs(ctx: Context, project_id: int) -> dict[str, list[int]]:
    """Each session's batch seqs as held by its blocks, over all blocks."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(session.c.client_id, recording_block.c.seqs)
            .join(session, session.c.id == recording_block.c.session_id)
            .where(session.c.project_id == project_id)
        ).all()
    seqs: dict[str, list[int]] = {}
    for client_id, value in rows:
        seqs.setdefault(client_id, []).extend(
            value if isinstance(value, list) else orjson.loads(value)
        )
    return {sid: sorted(found) for sid, found in seqs.items()}


def wait_until_processed(ctx: Context, project_id: int, tally: Tally, seconds: float) -> float:
    began = time.monotonic()
    while time.monotonic() < began + seconds:
        with contextlib.suppress(Exception):  # the database may still be coming back
            if sum(map(len, stored_seqs(ctx, project_id).values())) >= len(tally.acked):
                break
        time.sleep(0.5)
    return time.monotonic() - began


def check_every_acknowledged_batch_is_replayable_once(
    ctx: Context, account: Account, server: str, tally: Tally
) -> None:
    expected: dict[str, list[int]] = {}
    for sid, seq in tally.acked:
        expected.setdefault(sid, []).append(seq)
    # Each acknowledged seq in exactly one block, nothing else (no duplicate, no loss).
    stored = stored_seqs(ctx, account.project.id)
    wrong = {
        sid: (stored.get(sid), sorted(seqs))
        for sid, seqs in expected.items()
        if stored.get(sid) != sorted(seqs)
    }
    assert not wrong, f"{len(wrong)} sessions (stored, acknowledged): {list(wrong.items())[:5]}"
    assert set(stored) == set(expected)
    with ctx.engine.connect() as conn:
        ids = dict(
            conn.execute(
                select(session.c.client_id, session.c.id).where(
                    session.c.project_id == account.project.id
                )
            ).all()
        )
    # Read back through the API, as the player does: every event of every acknowledged
    # batch, each once, starting with the page's Meta and FullSnapshot.
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {account.token}"}, timeout=30
    ) as api:
        for sid, seqs in expected.items():
            answer = api.get(f"/api/v1/sessions/{ids[sid]}/events")
            assert answer.status_code == 200, answer.text
            replayed = [(e["timestamp"], e["type"]) for e in answer.json()]
            sent = [event for seq in seqs for event in tally.acked[(sid, seq)]]
            assert sorted(replayed) == sorted(sent), sid
            assert [kind for _, kind in replayed[:2]] == [4, 2], sid


def report(name: str, tally: Tally, sending_s: float, settle_s: float) -> None:
    batches = len(tally.acked)
    events = sum(map(len, tally.acked.values()))
    print(
        f"\n[{name}] {batches} batches ({events} events, {tally.bytes_sent / 1e6:.1f} MB) "
        f"acknowledged in {sending_s:.1f} s: {batches / sending_s:.0f} batches/s, "
        f"{events / sending_s:.0f} events/s; all processed {settle_s:.1f} s after the "
        f"last 202; answers {dict(tally.answers)}; by phase "
        f"{ {k: dict(v) for k, v in tally.statuses_while.items()} }; {tally.errors}"
    )


# --- (a) and (b) -----------------------------------------------------------------------------


def nats_cluster(
    ctx: Context, tmp_path: Path, stream: str
) -> contextlib.AbstractContextManager[Cluster]:
    return cluster(
        ctx,
        tmp_path,
        SESSIONLENS_QUEUE_URL=NATS_URL,
        SESSIONLENS_QUEUE_STREAM=stream,
        SESSIONLENS_QUEUE_PARTITIONS="8",
    )


CLIENTS = 200
BATCHES = 5


def test_two_servers_two_workers_200_clients_every_acknowledged_batch_replayable_once(
    ctx: Context, alice: Account, stream: str, tmp_path: Path
) -> None:
    with nats_cluster(ctx, tmp_path, stream) as running:
        servers = [running.server().url, running.server().url]
        running.worker()
        running.worker()
        tally, sending_s = run_clients(lambda: servers, alice.project.ingest_key, CLIENTS, BATCHES)
        settle_s = wait_until_processed(ctx, alice.project.id, tally, 90)
        report("2 servers, 2 workers", tally, sending_s, settle_s)
        assert len(tally.acked) == CLIENTS * BATCHES, running.logs_tail()
        check_every_acknowledged_batch_is_replayable_once(ctx, alice, servers[0], tally)


def test_a_worker_and_a_server_sigkilled_mid_run_lose_and_repeat_nothing(
    ctx: Context, alice: Account, stream: str, tmp_path: Path
) -> None:
    with nats_cluster(ctx, tmp_path, stream) as running:
        servers = [running.server(), running.server()]
        workers = [running.worker(), running.worker()]

        async def kill_mid_run(tally: Tally) -> None:
            while len(tally.acked) < tally.batches * 0.4:
                await asyncio.sleep(0.05)
            tally.phase = "after the kills"
            workers[0].kill()
            servers[1].kill()  # its clients' next tries go to the other server
            await asyncio.to_thread(running.worker)  # the replacement

        urls = [s.url for s in servers]
        tally, sending_s = run_clients(
            lambda: urls, alice.project.ingest_key, CLIENTS, BATCHES, kill_mid_run
        )
        settle_s = wait_until_processed(ctx, alice.project.id, tally, 90)
        report("SIGKILL a worker and a server", tally, sending_s, settle_s)
        assert len(tally.acked) == CLIENTS * BATCHES, running.logs_tail()
        assert tally.statuses_while["after the kills"]["ConnectError"] > 0  # it was down
        check_every_acknowledged_batch_is_replayable_once(ctx, alice, servers[0].url, tally)


# --- (c) PostgreSQL restarted ---------------------------------------------------------------


DOWN_S = 4.0


@contextlib.contextmanager
def on_private_pg(private_pg: PrivatePostgres, tmp_path: Path) -> Iterator[Context]:
    settings = config.load(
        {
            "SESSIONLENS_DATA_DIR": str(tmp_path / "data"),
            "SESSIONLENS_DATABASE_URL": private_pg.url,
            "SESSIONLENS_BASE_URL": "http://testserver",
            "SESSIONLENS_ADMIN_PASSWORD": "admin password 123",
            "SESSIONLENS_DEMO": "false",
        }
    )
    context = Context.open(settings)
    migrate(context.engine)
    try:
        yield context
    finally:
        context.close()


def restart_postgres_mid_run(
    private_pg: PrivatePostgres, tmp_path: Path, label: str, **queue: str
) -> Tally:
    clients_n, batches_n = 60, 6
    with (
        on_private_pg(private_pg, tmp_path) as ctx,
        cluster(ctx, tmp_path, **queue) as running,
    ):
        alice = make_account(ctx, "alice", "Shop", ORIGIN)
        servers = [running.server().url, running.server().url]
        running.worker()

        async def restart(tally: Tally) -> None:
            while len(tally.acked) < tally.batches * 0.3:
                await asyncio.sleep(0.05)
            tally.phase = "stopping postgresql"  # answers in flight: either outcome
            await asyncio.to_thread(private_pg.crash)
            tally.phase = "postgresql down"
            await asyncio.sleep(DOWN_S)
            tally.phase = "postgresql back"
            await asyncio.to_thread(private_pg.start)

        tally, sending_s = run_clients(
            lambda: servers, alice.project.ingest_key, clients_n, batches_n, restart
        )
        ctx.engine.dispose()  # its pooled connections died with the server
        settle_s = wait_until_processed(ctx, alice.project.id, tally, 90)
        report(label, tally, sending_s, settle_s)
        assert len(tally.acked) == clients_n * batches_n, running.logs_tail()
        check_every_acknowledged_batch_is_replayable_once(ctx, alice, servers[0], tally)
    return tally


def test_postgresql_restarted_mid_run_with_the_embedded_log_gives_503_and_loses_nothing(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    tally = restart_postgres_mid_run(private_pg, tmp_path, "PostgreSQL restart, embedded log")
    down = tally.statuses_while["postgresql down"]
    # While PostgreSQL is down the log cannot store a batch: 503, never a 500.
    assert down["503"] > 0, down
    assert tally.answers["500"] == 0, tally.answers


def test_postgresql_restarted_mid_run_with_nats_gives_503_and_loses_nothing(
    private_pg: PrivatePostgres, stream: str, tmp_path: Path
) -> None:
    tally = restart_postgres_mid_run(
        private_pg,
        tmp_path,
        "PostgreSQL restart, NATS queue",
        SESSIONLENS_QUEUE_URL=NATS_URL,
        SESSIONLENS_QUEUE_STREAM=stream,
        SESSIONLENS_QUEUE_PARTITIONS="8",
    )
    down = tally.statuses_while["postgresql down"]
    # The ingest reads the project key from PostgreSQL before it publishes: with the
    # database down it answers 503 too, though NATS could store the batch.
    assert down["503"] > 0, down
    assert tally.answers["500"] == 0, tally.answers
