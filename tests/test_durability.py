"""A batch acknowledged with 202 survives the server being killed right after."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
import orjson
from sqlalchemy import select

from sessionlens.context import Context
from sessionlens.storage.tables import ingest_log
from tests.conftest import Account, batch, click
from tests.server import running_server

T0 = 1_764_000_000_000


def test_batch_acknowledged_before_sigkill_is_there_after_restart(
    tmp_path: Path, ctx: Context, database_url: str, alice: Account
) -> None:
    data_dir = tmp_path / "server-data"
    headers = {"Origin": "https://shop.example"}
    url_of = f"/i/v1/{alice.project.ingest_key}/batch"
    # No processor: the batch must be found in the log itself after the crash.
    with running_server(
        data_dir, database_url, SESSIONLENS_PROCESSOR="false", SESSIONLENS_DEMO="false"
    ) as server:
        answers = []
        for seq in range(3):
            body = batch(seq, events=None if seq == 0 else [click(T0 + seq * 1000)])
            answers.append(
                httpx.post(
                    server.base_url + url_of,
                    content=orjson.dumps(body),
                    headers=headers,
                    timeout=10,
                )
            )
        server.kill()
    assert [a.status_code for a in answers] == [202, 202, 202]
    with ctx.engine.connect() as conn:
        seqs = sorted(r.seq for r in conn.execute(select(ingest_log.c.seq)))
    assert seqs == [0, 1, 2]
    # After a restart with the processor on, the batches become a session.
    with running_server(data_dir, database_url, SESSIONLENS_DEMO="false") as server:
        token = {"Authorization": f"Bearer {alice.token}"}
        listing: dict[str, list[dict[str, object]]] = {"sessions": []}
        for _ in range(100):
            listing = httpx.get(
                f"{server.base_url}/api/v1/projects/{alice.project.id}/sessions",
                headers=token,
                timeout=10,
            ).json()
            if listing["sessions"] and listing["sessions"][0]["clicks"] == 2:
                break
            __import__("time").sleep(0.1)
        assert listing["sessions"][0]["clicks"] == 2
