"""Fault test: NATS restarted mid-run. While it cannot store, the ingest answers 503 with
Retry-After; the client retries as the recorder does; nothing acknowledged is lost.

The test runs a NATS server of its own (loopback, a free port, its store in tmp_path), so
killing it disturbs no other test. It needs /usr/sbin/nats-server: in CI it must run,
elsewhere it skips without it.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens import config
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.storage.tables import session
from tests.conftest import IN_CI, Account, batch, click, send
from tests.server import free_port
from tests.test_nats_queue import block_seqs

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer:
    def __init__(self, store: Path, port: int) -> None:
        self.store, self.port = store, port
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.store.parent / "nats.log").open("ab")
        self.process = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = (self.store.parent / "nats.log").read_text(errors="replace")
            if text.count("Server is ready") >= self.starts:
                return
            time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    if not Path(NATS_SERVER).exists():
        if IN_CI:
            pytest.fail(f"no {NATS_SERVER}")
        pytest.skip(f"no {NATS_SERVER}")
    (tmp_path / "nats").mkdir()
    server = NatsServer(tmp_path / "nats", free_port())
    server.start()
    yield server
    server.kill()


@pytest.fixture
def settings(settings: config.Settings, nats_server: NatsServer) -> config.Settings:
    return dataclasses.replace(
        settings,
        queue_url=f"nats://127.0.0.1:{nats_server.port}",
        queue_stream="restart",
        queue_ack_wait_s=2,
    )


def test_nats_restarted_mid_run_loses_nothing_acknowledged(
    ctx: Context, alice: Account, nats_server: NatsServer
) -> None:
    now = int(time.time() * 1000) - 60_000  # recent: the worker's purge keeps it
    sessions_n, batches_n, kill_at = 3, 8, 3
    acknowledged: set[tuple[str, int]] = set()
    refused = 0
    with TestClient(create_app(ctx)) as client:  # ingest + the in-process worker

        def body_of(sid: str, seq: int) -> dict[str, object]:
            events = None if seq == 0 else [click(now + seq * 1000)]
            return batch(seq, session_id=sid, start=now, events=events)

        def deliver(sid: str, seq: int, deadline: float) -> None:
            """Send until acknowledged, waiting as the recorder does on a 503."""
            nonlocal refused
            body = body_of(sid, seq)
            while time.monotonic() < deadline:
                answer = send(client, alice, body)
                if answer.status_code == 202:
                    acknowledged.add((sid, seq))
                    return
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"].isdigit()
                refused += 1
                time.sleep(0.5)  # the recorder waits Retry-After; shorter here
            raise AssertionError(f"batch {sid}/{seq} never acknowledged")

        for seq in range(batches_n):
            if seq == kill_at:
                nats_server.kill()
                # Down: the next batch is refused, not acknowledged.
                # (A refused publish may still reach JetStream once NATS is back; the
                # recorder's retry is the same batch, so it is then a duplicate.)
                answer = send(client, alice, body_of("sessionRST0000", seq))
                assert answer.status_code == 503
                refused += 1
                nats_server.start()  # the same store: what JetStream acknowledged is there
            for n in range(sessions_n):
                deliver(f"sessionRST{n:04d}", seq, time.monotonic() + 60)
        deadline = time.monotonic() + 60
        expected = sorted(list(range(batches_n)) * sessions_n)
        while block_seqs(ctx) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
    assert refused >= 1
    assert len(acknowledged) == sessions_n * batches_n
    assert block_seqs(ctx) == expected  # every acknowledged batch, each once
    with ctx.engine.connect() as conn:
        clicks = sorted(conn.execute(select(session.c.client_id, session.c.clicks)).all())
    assert clicks == [(f"sessionRST{n:04d}", batches_n - 1) for n in range(sessions_n)]
