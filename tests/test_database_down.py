"""The database going away (a restart, a network cut): ingest and console answer 503 with
Retry-After, never a 500, and work again when it is back."""

from __future__ import annotations

import dataclasses

import orjson
from fastapi.testclient import TestClient

from sessionlens.context import Context
from sessionlens.storage.engine import make_engine
from tests.conftest import Account, batch, send


def test_ingest_and_console_answer_503_while_the_database_is_unreachable(
    ctx: Context, client: TestClient, alice: Account
) -> None:
    app = client.app
    working = app.state.ctx  # type: ignore[attr-defined]
    # A PostgreSQL URL on a closed loopback port: every connection attempt fails.
    down = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    app.state.ctx = dataclasses.replace(working, engine=down, _queue=None)  # type: ignore[attr-defined]
    try:
        response = client.post(
            f"/i/v1/{alice.project.ingest_key}/batch",
            content=orjson.dumps(batch(0)),
            headers={"Origin": "https://shop.example"},
        )
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "unavailable" in response.json()["error"]
        page = client.get("/login")
        assert page.status_code in (200, 503)  # the login form needs no database
        api = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {alice.token}"})
        assert api.status_code == 503
    finally:
        app.state.ctx = working  # type: ignore[attr-defined]
        down.dispose()
    assert send(client, alice, batch(0)).status_code == 202
