"""Export a session as rrweb JSON and import rrweb JSON recorded elsewhere."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from tests.conftest import Account, batch, click, login, page_events, send

T0 = 1_764_000_000_000


def foreign_recording() -> list[dict[str, object]]:
    """What another rrweb-based tool exports: a page, clicks, a second page."""
    return [
        *page_events("https://shop.example/from-elsewhere", T0),
        click(T0 + 1000),
        click(T0 + 2000),
        *page_events("https://shop.example/second", T0 + 5000),
    ]


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def test_imported_recording_replays_and_counts(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    response = client.post(
        f"/api/v1/projects/{alice.project.id}/import",
        content=orjson.dumps({"events": foreign_recording()}),
        headers=auth(alice),
    )
    assert response.status_code == 202, response.text
    session_id = response.json()["session_id"]
    processor.drain()
    detail = client.get(f"/api/v1/sessions/{session_id}", headers=auth(alice)).json()
    assert detail["pages"] == 2
    assert detail["clicks"] == 2
    events = client.get(f"/api/v1/sessions/{session_id}/events", headers=auth(alice)).json()
    assert events == foreign_recording()
    again = client.post(
        f"/api/v1/projects/{alice.project.id}/import",
        content=gzip.compress(orjson.dumps(foreign_recording())),
        headers={**auth(alice), "Content-Encoding": "gzip"},
    )
    assert again.json()["session_id"] == session_id  # the same recording is stored once
    processor.drain()
    listing = client.get(
        f"/api/v1/projects/{alice.project.id}/sessions", headers=auth(alice)
    ).json()
    assert len(listing["sessions"]) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "expected a JSON array"),
        (b'[{"type": 3}]', "event 0"),
        (orjson.dumps([click(T0)]), "no full snapshot"),
    ],
)
def test_bad_imports_are_400(client: TestClient, alice: Account, body: bytes, message: str) -> None:
    response = client.post(
        f"/api/v1/projects/{alice.project.id}/import", content=body, headers=auth(alice)
    )
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_import_needs_a_read_write_token_of_the_organisation(
    client: TestClient, ctx: Context, alice: Account, bob: Account
) -> None:
    from sessionlens.accounts import tokens

    body = orjson.dumps(foreign_recording())
    assert (
        client.post(
            f"/api/v1/projects/{alice.project.id}/import", content=body, headers=auth(bob)
        ).status_code
        == 404
    )
    with ctx.engine.begin() as conn:
        read_only = tokens.create_api_token(conn, alice.user_id)
    assert (
        client.post(
            f"/api/v1/projects/{alice.project.id}/import",
            content=body,
            headers={"Authorization": f"Bearer {read_only}"},
        ).status_code
        == 403
    )


def test_console_export_is_rrweb_json_that_imports_back(
    client: TestClient, ctx: Context, alice: Account, processor: Processor, tmp_path: Path
) -> None:
    send(client, alice, batch(0))
    send(client, alice, batch(1, events=[click(T0 + 700)]))
    processor.drain()
    login(client, alice.email)
    listing = client.get(
        f"/api/v1/projects/{alice.project.id}/sessions", headers=auth(alice)
    ).json()
    exported = client.get(f"/sessions/{listing['sessions'][0]['id']}/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    events = orjson.loads(exported.content)
    assert [e["type"] for e in events] == [4, 2, 3]
    path = tmp_path / "session.json"
    path.write_bytes(exported.content)
    env = {
        "SESSIONLENS_DATA_DIR": str(ctx.settings.data_dir),
        "PATH": "/usr/bin:/bin",
        "SESSIONLENS_DATABASE_URL": ctx.settings.database_url,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sessionlens",
            "import",
            str(path),
            "--project",
            str(alice.project.id),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "imported 3 events" in result.stdout
    listing = client.get(
        f"/api/v1/projects/{alice.project.id}/sessions", headers=auth(alice)
    ).json()
    assert len(listing["sessions"]) == 2
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "sessionlens",
            "import",
            "/nonexistent.json",
            "--project",
            str(alice.project.id),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1
    assert "cannot read" in bad.stderr
