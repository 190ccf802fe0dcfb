"""Export, erasure and retention, checked against the storage itself."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from sessionlens import projects
from sessionlens.accounts import users
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.recordings import retention
from sessionlens.storage.tables import (
    audit_log,
    ingest_log,
    pageview,
    recording_block,
    session,
    utcnow,
    visitor,
)
from tests.conftest import PASSWORD, Account, batch, click, login, send

T0 = int(__import__("time").time() * 1000) - 3_600_000
ADA = "visitorADA00001"
BEN = "visitorBEN00001"


def record(client: TestClient, account: Account, processor: Processor) -> None:
    """Ada: two sessions (one identified as user-7); Ben: one session."""
    for sid, vid in (("sessionADA00001", ADA), ("sessionADA00002", ADA), ("sessionBEN00001", BEN)):
        send(client, account, batch(0, session_id=sid, visitor_id=vid, start=T0))
        send(client, account, batch(1, session_id=sid, visitor_id=vid, events=[click(T0 + 900)]))
    send(
        client,
        account,
        batch(
            2,
            session_id="sessionADA00002",
            visitor_id=ADA,
            events=[
                {
                    "type": 5,
                    "timestamp": T0 + 950,
                    "data": {
                        "tag": "sessionlens.identify",
                        "payload": {"user_id": "user-7", "traits": {}},
                    },
                }
            ],
        ),
    )
    processor.drain()


def counts(ctx: Context) -> dict[str, int]:
    with ctx.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (session, recording_block, pageview, visitor, ingest_log)
        }


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def test_export_by_visitor_holds_summaries_pages_and_events(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    record(client, alice, processor)
    response = client.get(
        f"/api/v1/projects/{alice.project.id}/visitors/export",
        params={"visitor_id": ADA},
        headers=auth(alice),
    )
    assert response.status_code == 200
    data = orjson.loads(response.content)
    assert data["visitor_ids"] == [ADA]
    assert len(data["sessions"]) == 2
    first = data["sessions"][0]
    assert first["pageviews"][0]["url"] == "https://shop.example/"
    assert [e["type"] for e in first["events"]][:2] == [4, 2]


def test_export_by_identified_user(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    record(client, alice, processor)
    data = client.get(
        f"/api/v1/projects/{alice.project.id}/visitors/export",
        params={"user_id": "user-7"},
        headers=auth(alice),
    ).json()
    assert len(data["sessions"]) == 1
    assert data["sessions"][0]["session"]["user_id"] == "user-7"


def test_erasure_removes_rows_log_and_blobs_of_that_visitor_only(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    record(client, alice, processor)
    before = counts(ctx)
    blobs_before = ctx.blobs.list()
    response = client.post(
        f"/api/v1/projects/{alice.project.id}/visitors/erase",
        json={"visitor_id": ADA},
        headers=auth(alice),
    )
    assert response.status_code == 200
    assert response.json()["sessions_erased"] == 2
    after = counts(ctx)
    assert after["session"] == before["session"] - 2 == 1
    assert after["visitor"] == 1
    assert after["ingest_log"] == 2  # Ben's two batches
    assert len(ctx.blobs.list()) == len(blobs_before) - 2
    with ctx.engine.connect() as conn:
        everything = repr(
            [
                tuple(r)
                for t in (session, visitor, ingest_log, pageview, recording_block)
                for r in conn.execute(select(t))
            ]
        )
        entry = conn.execute(select(audit_log)).one()
    assert ADA not in everything
    assert "sessionADA" not in everything
    assert entry.action == "visitor.erase"
    assert ADA not in repr(tuple(entry))  # the audit trail holds no erased data


@pytest.mark.parametrize("body", [{}, {"visitor_id": ADA, "user_id": "u"}, {"visitor_id": 5}])
def test_erasure_needs_exactly_one_subject(
    client: TestClient, alice: Account, body: dict[str, object]
) -> None:
    response = client.post(
        f"/api/v1/projects/{alice.project.id}/visitors/erase", json=body, headers=auth(alice)
    )
    assert response.status_code == 400


def test_members_and_other_organisations_cannot_export_or_erase(
    client: TestClient, ctx: Context, alice: Account, bob: Account, processor: Processor
) -> None:
    record(client, alice, processor)
    from sessionlens.accounts import tokens

    with ctx.engine.begin() as conn:
        member, _ = users.create_user(conn, "mel@example.com", "Mel", PASSWORD, org_name="Alice")
        member_token = tokens.create_api_token(conn, member.id)
    url = f"/api/v1/projects/{alice.project.id}/visitors"
    for headers, status in (({"Authorization": f"Bearer {member_token}"}, 403), (auth(bob), 404)):
        assert (
            client.get(f"{url}/export", params={"visitor_id": ADA}, headers=headers).status_code
            == status
        )
        assert (
            client.post(f"{url}/erase", json={"visitor_id": ADA}, headers=headers).status_code
            == status
        )
    assert counts(ctx)["session"] == 3


def test_console_erasure_needs_csrf_and_confirmation(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    record(client, alice, processor)
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}/visitors", params={"id": ADA})
    assert page.status_code == 200
    assert "2 sessions found" in page.text
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    url = f"/projects/{alice.project.id}/visitors/erase"
    assert (
        client.post(url, data={"by": "visitor", "id": ADA, "confirm": "erase"}).status_code == 403
    )
    assert (
        client.post(url, data={"by": "visitor", "id": ADA, "csrf_token": csrf}).status_code == 400
    )
    assert counts(ctx)["session"] == 3
    done = client.post(
        url,
        data={"by": "visitor", "id": ADA, "csrf_token": csrf, "confirm": "erase"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert counts(ctx)["session"] == 1
    export = client.get(
        f"/projects/{alice.project.id}/visitors/export", params={"by": "visitor", "id": BEN}
    )
    assert export.status_code == 200
    assert len(orjson.loads(export.content)["sessions"]) == 1


def test_retention_purges_expired_sessions_with_their_blobs(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    record(client, alice, processor)
    with ctx.engine.begin() as conn:
        projects.save_retention(conn, projects.by_id(conn, alice.project.id) or alice.project, 30)
        conn.execute(
            update(session)
            .where(session.c.client_id == "sessionBEN00001")
            .values(ended_at=utcnow() - timedelta(days=31))
        )
    assert retention.purge(ctx.engine, ctx.blobs, utcnow()) == 1
    assert counts(ctx)["session"] == 2
    with ctx.engine.connect() as conn:
        keys = set(conn.execute(select(recording_block.c.blob_key)).scalars())
    assert set(ctx.blobs.list()) == keys


def test_processed_log_entries_are_dropped_after_a_week(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    record(client, alice, processor)
    with ctx.engine.begin() as conn:
        conn.execute(update(ingest_log).values(processed_at=utcnow() - timedelta(days=8)))
    retention.purge(ctx.engine, ctx.blobs, utcnow())
    assert counts(ctx)["ingest_log"] == 0
    assert counts(ctx)["session"] == 3


def test_cli_export_erase_and_purge(
    tmp_path: Path, client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    record(client, alice, processor)
    env = {
        "SESSIONLENS_DATA_DIR": str(ctx.settings.data_dir),
        "PATH": "/usr/bin:/bin",
        "SESSIONLENS_DATABASE_URL": ctx.settings.database_url,
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sessionlens", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    out = tmp_path / "ada.json"
    exported = run("visitor", "export", str(alice.project.id), "--visitor-id", ADA, "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    assert len(orjson.loads(out.read_bytes())["sessions"]) == 2
    erased = run("visitor", "erase", str(alice.project.id), "--user-id", "user-7")
    assert erased.returncode == 0, erased.stderr
    assert "erased 1 sessions" in erased.stdout
    assert run("visitor", "erase", "999", "--visitor-id", ADA).returncode == 1
    purged = run("purge")
    assert purged.returncode == 0
    assert "purged 0 sessions" in purged.stdout
