"""The ingest queue on the local NATS JetStream (SESSIONLENS_QUEUE_URL=nats://...).

Each test gets a stream of its own (unique name, deleted at the end), so test processes
running side by side never see each other's batches. Outside CI the tests skip when no
NATS answers on 127.0.0.1:4222; in CI (CI=true) they must run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import nats
import orjson
import pytest
from fastapi.testclient import TestClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import func, select, text

from sessionlens import config
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.ingest import log
from sessionlens.ingest.jetstream import partition_of
from sessionlens.ingest.schema import parse_batch
from sessionlens.processing.processor import Processor
from sessionlens.storage.engine import migrate
from sessionlens.storage.tables import ingest_log, recording_block, session, utcnow
from tests.conftest import IN_CI, Account, batch, click, login, make_account, send
from tests.server import free_port, server_env

NATS_URL = os.environ.get("SESSIONLENS_TEST_NATS", "nats://127.0.0.1:4222")
T0 = 1_764_000_000_000
T = TypeVar("T")


def _nats_answers() -> bool:
    host, port = NATS_URL.removeprefix("nats://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def on_nats(action: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    """Run one action with a JetStream client of the test's own."""

    async def run() -> T:
        nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
        try:
            return await action(nc.jetstream(timeout=5))
        finally:
            await nc.close()

    return asyncio.run(run())


@pytest.fixture
def stream() -> Iterator[str]:
    if not _nats_answers():
        if IN_CI:
            pytest.fail(f"NATS is not reachable at {NATS_URL}")
        pytest.skip(f"NATS is not reachable at {NATS_URL}")
    name = f"sltest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    yield name

    async def delete(js: JetStreamContext) -> None:
        for each in (name, f"{name}-dead"):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(each)

    on_nats(delete)


@pytest.fixture
def settings(settings: config.Settings, stream: str) -> config.Settings:
    return dataclasses.replace(
        settings, queue_url=NATS_URL, queue_stream=stream, queue_partitions=4, queue_ack_wait_s=2
    )


def stored(stream: str) -> list[tuple[str, dict[str, str], bytes]]:
    """Every message of the stream: subject, headers, data, in stream order."""

    async def read(js: JetStreamContext) -> list[tuple[str, dict[str, str], bytes]]:
        state = (await js.stream_info(stream)).state
        found = []
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:
                continue
            found.append((msg.subject or "", dict(msg.headers or {}), msg.data or b""))
        return found

    return on_nats(read)


def consumer_exists(stream: str) -> bool:
    async def check(js: JetStreamContext) -> bool:
        try:
            await js.consumer_info(stream, f"{stream}-workers")
        except NotFoundError:
            return False
        return True

    return on_nats(check)


def block_seqs(ctx: Context) -> list[int]:
    """Every batch seq held by a block, over all blocks: a repeat would show twice."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(recording_block.c.seqs)).all()
    seqs: list[int] = []
    for (value,) in rows:
        seqs += value if isinstance(value, list) else orjson.loads(value)
    return sorted(seqs)


def test_batches_are_acknowledged_after_jetstream_stored_them_one_session_on_one_subject(
    client: TestClient, alice: Account, stream: str
) -> None:
    for seq in range(4):
        for sid in ("sessionAAAA0001", "sessionBBBB0002"):
            events = None if seq == 0 else [click(T0 + seq * 1000)]
            answer = send(client, alice, batch(seq, session_id=sid, events=events))
            assert answer.status_code == 202, answer.text
            assert answer.json() == {"ok": True, "duplicate": False}
            # The 202 came after JetStream's acknowledgement: the batch is there now.
            _subject, headers, data = stored(stream)[-1]
            assert headers["Nats-Msg-Id"] == f"{alice.project.id}:{sid}:{seq}"
            _, body = log.decode(data)
            assert (body["session_id"], body["seq"]) == (sid, seq)
    messages = [(subject, log.decode(data)[1]) for subject, _, data in stored(stream)]
    for sid in ("sessionAAAA0001", "sessionBBBB0002"):
        mine = [(subject, body["seq"]) for subject, body in messages if body["session_id"] == sid]
        partition = partition_of(alice.project.id, sid, 4)
        assert {subject for subject, _ in mine} == {f"{stream}.batches.{partition}"}
        assert [seq for _, seq in mine] == [0, 1, 2, 3]
    # No consumer: this app runs no worker (as `serve --no-worker`).
    assert not consumer_exists(stream)


def test_a_batch_sent_twice_is_stored_once(client: TestClient, alice: Account, stream: str) -> None:
    first = send(client, alice, batch(0))
    again = send(client, alice, batch(0))
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == {"ok": True, "duplicate": True}
    assert len(stored(stream)) == 1


def test_worker_processes_the_stream_and_acknowledges_after_the_commit(
    client: TestClient, ctx: Context, alice: Account, stream: str
) -> None:
    for seq in range(5):
        send(client, alice, batch(seq, events=None if seq == 0 else [click(T0 + seq * 1000)]))
    assert ctx.queue.pending() == 5
    assert Processor(ctx).drain() == 5
    with ctx.engine.connect() as conn:
        [row] = conn.execute(select(session.c.clicks)).all()
        in_sql_log = conn.execute(select(func.count()).select_from(ingest_log)).scalar_one()
    assert row.clicks == 4
    assert in_sql_log == 0
    assert block_seqs(ctx) == [0, 1, 2, 3, 4]
    # Acknowledged: the work queue is empty.
    deadline = time.monotonic() + 10
    while stored(stream) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stored(stream) == []
    assert ctx.queue.pending() == 0
    counts = ctx.queue.counters.snapshot()
    assert (counts["appended"], counts["processed"]) == (5, 5)


def test_a_batch_redelivered_after_the_commit_changes_nothing(
    client: TestClient, ctx: Context, alice: Account, stream: str
) -> None:
    for seq in range(3):
        send(client, alice, batch(seq, events=None if seq == 0 else [click(T0 + seq * 1000)]))
    queue = ctx.queue
    acknowledge = queue.acknowledge
    # A worker that dies between its commit and its acknowledgement.
    queue.acknowledge = lambda entries: None  # type: ignore[method-assign]
    assert Processor(ctx).run_once() == 3
    queue.acknowledge = acknowledge  # type: ignore[method-assign]
    before = block_seqs(ctx)
    with ctx.engine.connect() as conn:
        summary = conn.execute(select(session)).mappings().one()
    # JetStream hands the batches out again once the ack wait (2 s here) is over.
    redelivered = 0
    deadline = time.monotonic() + 20
    while redelivered < 3 and time.monotonic() < deadline:
        redelivered += Processor(ctx).run_once()
    assert redelivered == 3
    assert block_seqs(ctx) == before == [0, 1, 2]
    with ctx.engine.connect() as conn:
        assert conn.execute(select(session)).mappings().one() == summary
    assert ctx.queue.pending() == 0


def test_plain_serve_runs_a_worker_in_the_process(
    ctx: Context, alice: Account, stream: str
) -> None:
    with TestClient(create_app(ctx)) as client:
        send(client, alice, batch(0))
        send(client, alice, batch(1, events=[click(T0 + 1000)]))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with ctx.engine.connect() as conn:
                clicks = conn.execute(select(session.c.clicks)).scalar()
            if clicks == 1:
                break
            time.sleep(0.1)
    assert clicks == 1
    assert consumer_exists(stream)


def test_poison_batch_goes_to_the_dead_letters_and_shows_on_the_health_page(
    client: TestClient, ctx: Context, alice: Account, bob: Account, stream: str
) -> None:
    send(client, alice, batch(0, session_id="sessionPOISON01"))
    # Valid at the door in an older release, say; its click cannot be summarised.
    bad = batch(1, session_id="sessionPOISON01", events=[{"type": 3, "timestamp": "soon-secret"}])
    envelope = log.Envelope("ua", "", utcnow())
    ctx.queue.append(
        alice.project.id,
        SimpleNamespace(session_id=bad["session_id"], seq=1),  # type: ignore[arg-type]
        orjson.dumps(bad),
        envelope,
    )
    send(client, alice, batch(2, session_id="sessionPOISON01", events=[click(T0 + 2000)]))
    assert Processor(ctx).drain() == 3
    with ctx.engine.connect() as conn:
        assert conn.execute(select(session.c.clicks)).scalar() == 1
    dead = on_nats(lambda js: js.stream_info(f"{stream}-dead"))
    assert dead.state.messages == 1
    assert ctx.queue.counters.snapshot()["dead_letters"] == 1

    login(client, alice.email)
    page = client.get(f"/organisations/{alice.org_id}/health")
    assert page.status_code == 200
    assert "NATS JetStream" in page.text
    row = page.text.split('class="sessions dead-letters"', 1)[1]
    assert "Shop" in row
    assert "sessionPOISON01" in row
    assert "ValueError at processing/events.py" in row
    assert "soon-secret" not in page.text  # never the batch's content
    # Another organisation's owner sees neither the page nor the dead letter.
    client.cookies.clear()
    login(client, bob.email)
    assert client.get(f"/organisations/{alice.org_id}/health").status_code == 404
    own = client.get(f"/organisations/{bob.org_id}/health")
    assert own.status_code == 200
    assert "sessionPOISON01" not in own.text


def test_ingest_answers_503_with_retry_after_when_nats_is_unreachable(
    settings: config.Settings, tmp_path: Path
) -> None:
    closed = free_port()  # nothing listens there
    unreachable = dataclasses.replace(settings, queue_url=f"nats://127.0.0.1:{closed}")
    context = Context.open(unreachable)
    migrate(context.engine)
    try:
        alice = make_account(context, "alice", "Shop", "https://shop.example")
        with TestClient(create_app(context, run_processor=False)) as client:
            answers = [send(client, alice, batch(seq)) for seq in range(2)]
            # The owner's health page still opens, and says so.
            login(client, alice.email)
            page = client.get(f"/organisations/{alice.org_id}/health")
        assert [a.status_code for a in answers] == [503, 503]
        assert all(a.headers["Retry-After"].isdigit() for a in answers)
        assert answers[0].headers["Access-Control-Expose-Headers"] == "Retry-After"
        assert not context.queue.ready()
        assert context.queue.counters.snapshot()["unavailable"] == 2
        assert page.status_code == 200
        assert "no: the ingest answers 503" in page.text
        assert "cannot be read right now" in page.text
    finally:
        context.close()


@contextlib.contextmanager
def writes_held(ctx: Context) -> Iterator[None]:
    """Hold the database's writes, so a worker blocks before its next commit."""
    with ctx.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE takes the write lock
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE session IN EXCLUSIVE MODE"))
        yield


def in_flight(stream: str) -> tuple[int, int]:
    """(not yet delivered, delivered but not acknowledged) of the workers' consumer."""

    async def read(js: JetStreamContext) -> tuple[int, int]:
        info = await js.consumer_info(stream, f"{stream}-workers")
        return info.num_pending, info.num_ack_pending

    return on_nats(read)


def test_worker_killed_mid_run_leaves_every_batch_applied_once(
    client: TestClient, ctx: Context, alice: Account, stream: str, tmp_path: Path
) -> None:
    sessions_n, batches_n = 12, 5
    # Recent sessions: the worker's retention purge drops sessions older than 90 days.
    now = int(time.time() * 1000) - 60_000

    def body(seq: int, n: int) -> dict[str, object]:
        events = None if seq == 0 else [click(now + seq * 1000 + n)]
        return batch(seq, session_id=f"sessionKILL{n:04d}", start=now, events=events)

    for n in range(sessions_n):
        assert send(client, alice, body(0, n)).status_code == 202
    env = server_env(
        ctx.settings.data_dir,
        ctx.settings.database_url,
        free_port(),
        SESSIONLENS_QUEUE_URL=NATS_URL,
        SESSIONLENS_QUEUE_STREAM=stream,
        SESSIONLENS_QUEUE_PARTITIONS="4",
        SESSIONLENS_QUEUE_ACK_WAIT_S="2",
        SESSIONLENS_DEMO="false",
    )

    def start_worker(name: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.log").open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "sessionlens", "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_for(done: Callable[[], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            time.sleep(0.1)

    first = start_worker("worker-1")
    try:
        # The first round is processed and acknowledged ...
        wait_for(lambda: len(block_seqs(ctx)) == sessions_n and ctx.queue.pending() == 0, 60)
        assert block_seqs(ctx) == [0] * sessions_n
        # ... the rest is taken by the worker, which is killed before it can commit.
        with writes_held(ctx):
            for seq in range(1, batches_n):
                for n in range(sessions_n):
                    raw = orjson.dumps(body(seq, n))
                    envelope = log.Envelope("test", "", utcnow())
                    ctx.queue.append(alice.project.id, parse_batch(raw), raw, envelope)
            wait_for(lambda: in_flight(stream)[1] > 0, 30)
            assert in_flight(stream)[1] > 0  # taken, not acknowledged
            first.kill()  # SIGKILL: nothing in flight is acknowledged
            first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
    second = start_worker("worker-2")
    try:
        wait_for(lambda: ctx.queue.pending() == 0, 60)
    finally:
        second.terminate()
        try:
            second.wait(timeout=20)
        except subprocess.TimeoutExpired:
            second.kill()
    assert ctx.queue.pending() == 0, (tmp_path / "worker-2.log").read_text()[-3000:]
    assert block_seqs(ctx) == sorted(list(range(batches_n)) * sessions_n)
    with ctx.engine.connect() as conn:
        clicks = conn.execute(select(session.c.client_id, session.c.clicks)).all()
    assert sorted(clicks) == [(f"sessionKILL{n:04d}", batches_n - 1) for n in range(sessions_n)]
