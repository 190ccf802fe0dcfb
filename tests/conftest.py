"""Shared fixtures: every database test runs on SQLite and on the local PostgreSQL.

Users in access tests: alice (owner of org A, project "Shop"), bob (org B, project
"Blog"). PostgreSQL tests skip only outside CI when no server answers; in CI (CI=true)
they must run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from sessionlens import config, projects
from sessionlens.accounts import tokens, users
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.storage.engine import make_engine, migrate
from sessionlens.storage.tables import metadata

PG_ADMIN_DSN = os.environ.get("SESSIONLENS_TEST_PG", "postgresql://127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def pg_url(worker_id: str) -> Iterator[str]:
    """A database of this test process's own (several runs may share the server), migrated
    once, emptied before each test, dropped at the end."""
    name = f"sessionlens_test_{worker_id}_{os.getpid()}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if IN_CI:
            raise
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> config.Settings:
    env = {
        "SESSIONLENS_DATA_DIR": str(tmp_path / "data"),
        "SESSIONLENS_DATABASE_URL": database_url,
        "SESSIONLENS_BASE_URL": "http://testserver",
        "SESSIONLENS_ADMIN_PASSWORD": "admin password 123",
        "SESSIONLENS_DEMO": "false",
    }
    return config.load(env)


@pytest.fixture
def ctx(settings: config.Settings) -> Iterator[Context]:
    context = Context.open(settings)
    migrate(context.engine)
    yield context
    context.close()


@dataclass
class Account:
    email: str
    user_id: int
    org_id: int
    project: projects.Project
    token: str


def make_account(ctx: Context, name: str, project_name: str, origin: str) -> Account:
    with ctx.engine.begin() as conn:
        user, org_id = users.create_user(conn, f"{name}@example.com", name.title(), PASSWORD)
        project = projects.create_project(conn, org_id, project_name, [origin])
        token = tokens.create_api_token(conn, user.id, "test", scope="write")
    return Account(user.email, user.id, org_id, project, token)


@pytest.fixture
def alice(ctx: Context) -> Account:
    return make_account(ctx, "alice", "Shop", "https://shop.example")


@pytest.fixture
def bob(ctx: Context) -> Account:
    return make_account(ctx, "bob", "Blog", "https://blog.example")


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    app = create_app(ctx, run_processor=False)
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def processor(ctx: Context) -> Processor:
    return Processor(ctx)


def batch(
    seq: int = 0,
    *,
    session_id: str = "sessionAAAA0001",
    visitor_id: str = "visitorBBB0001",
    url: str = "https://shop.example/",
    start: int = 1_764_000_000_000,
    events: list[dict[str, Any]] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    """A batch as the recorder sends it; the first of a page has Meta + FullSnapshot."""
    if events is None:
        events = page_events(url, start) if seq == 0 else []
    return {
        "session_id": session_id,
        "visitor_id": visitor_id,
        "window_id": "windowCCC0001",
        "seq": seq,
        "sent_at": start + 1000 * seq,
        "meta": {
            "url": url,
            "referrer": "",
            "title": "Shop",
            "viewport": {"width": 1280, "height": 720},
            "screen": {"width": 1920, "height": 1080},
            **meta,
        },
        "events": events,
    }


def page_events(url: str, ts: int) -> list[dict[str, Any]]:
    return [
        {"type": 4, "timestamp": ts, "data": {"href": url, "width": 1280, "height": 720}},
        {
            "type": 2,
            "timestamp": ts + 1,
            "data": {
                "node": {
                    "type": 0,
                    "id": 1,
                    "childNodes": [
                        {"type": 2, "id": 2, "tagName": "html", "attributes": {}, "childNodes": []}
                    ],
                },
                "initialOffset": {"top": 0, "left": 0},
            },
        },
    ]


def click(ts: int, node: int = 5) -> dict[str, Any]:
    return {
        "type": 3,
        "timestamp": ts,
        "data": {"source": 2, "type": 2, "id": node, "x": 10, "y": 20},
    }


def move(ts: int) -> dict[str, Any]:
    return {
        "type": 3,
        "timestamp": ts,
        "data": {"source": 1, "positions": [{"x": 1, "y": 2, "id": 2, "timeOffset": 0}]},
    }


def typed(ts: int, text_value: str = "***") -> dict[str, Any]:
    return {
        "type": 3,
        "timestamp": ts,
        "data": {"source": 5, "id": 7, "text": text_value, "isChecked": False},
    }


def send(
    client: TestClient,
    account: Account,
    body: dict[str, Any] | bytes,
    origin: str | None = None,
    **headers: str,
) -> Any:
    """POST a batch to the account's project."""
    import orjson

    all_headers = {"Origin": origin or account.project.website_origins[0], **headers}
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(
        f"/i/v1/{account.project.ingest_key}/batch", content=content, headers=all_headers
    )


def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/projects"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
