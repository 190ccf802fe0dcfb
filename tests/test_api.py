from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from tests.conftest import Account, batch, click, send

T0 = 1_764_000_000_000


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def recorded(client: TestClient, account: Account, processor: Processor, count: int = 1) -> None:
    for n in range(count):
        sid = f"sessionNUMBER{n:03d}"
        send(client, account, batch(0, session_id=sid, start=T0 + n * 60_000))
        send(client, account, batch(1, session_id=sid, events=[click(T0 + n * 60_000 + 500)]))
    processor.drain()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects",
        "/api/v1/projects/1/sessions",
        "/api/v1/sessions/abc",
        "/api/v1/sessions/abc/events",
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic YWxpY2U6cHc=", "Bearer "])
def test_api_refuses_requests_without_a_valid_token(
    client: TestClient, alice: Account, path: str, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "error" in response.json()


def test_projects_lists_only_the_tokens_organisation(
    client: TestClient, alice: Account, bob: Account
) -> None:
    response = client.get("/api/v1/projects", headers=auth(alice))
    assert response.status_code == 200
    assert response.json() == {
        "projects": [
            {
                "id": alice.project.id,
                "name": "Shop",
                "website_origins": ["https://shop.example"],
                "ingest_key": alice.project.ingest_key,
            }
        ]
    }


def test_sessions_newest_first_and_paginated(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    recorded(client, alice, processor, count=3)
    url = f"/api/v1/projects/{alice.project.id}/sessions"
    first = client.get(url, params={"per_page": 2}, headers=auth(alice)).json()
    second = client.get(url, params={"per_page": 2, "page": 2}, headers=auth(alice)).json()
    assert first["has_more"] is True
    assert second["has_more"] is False
    started = [s["started_at"] for s in first["sessions"] + second["sessions"]]
    assert len(started) == 3
    assert started == sorted(started, reverse=True)
    one = first["sessions"][0]
    for field in (
        "id",
        "started_at",
        "ended_at",
        "duration_ms",
        "active_ms",
        "pages",
        "clicks",
        "keypresses",
        "entry_url",
        "referrer",
        "browser",
        "os",
        "device",
        "visitor_id",
        "is_returning",
    ):
        assert field in one
    assert one["clicks"] == 1
    assert one["visitor_id"] == "visitorBBB0001"


def test_another_organisations_project_is_404(
    client: TestClient, alice: Account, bob: Account, processor: Processor
) -> None:
    recorded(client, bob, processor)
    response = client.get(f"/api/v1/projects/{bob.project.id}/sessions", headers=auth(alice))
    assert response.status_code == 404
    bobs = client.get(f"/api/v1/projects/{bob.project.id}/sessions", headers=auth(bob)).json()
    session_id = bobs["sessions"][0]["id"]
    assert client.get(f"/api/v1/sessions/{session_id}", headers=auth(alice)).status_code == 404
    assert (
        client.get(f"/api/v1/sessions/{session_id}/events", headers=auth(alice)).status_code == 404
    )


def test_session_detail_and_events_in_order(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    recorded(client, alice, processor)
    listing = client.get(
        f"/api/v1/projects/{alice.project.id}/sessions", headers=auth(alice)
    ).json()
    session_id = listing["sessions"][0]["id"]
    detail = client.get(f"/api/v1/sessions/{session_id}", headers=auth(alice)).json()
    assert detail["id"] == session_id
    assert detail["pageviews"][0]["url"] == "https://shop.example/"
    assert detail["pageviews"][0]["offset_ms"] == 0
    events = client.get(f"/api/v1/sessions/{session_id}/events", headers=auth(alice))
    assert events.headers["content-type"] == "application/json"
    parsed = orjson.loads(events.content)
    assert [e["type"] for e in parsed] == [4, 2, 3]
    stamps = [e["timestamp"] for e in parsed]
    assert stamps == sorted(stamps)


def test_bad_query_parameters_are_400(client: TestClient, alice: Account) -> None:
    response = client.get(
        f"/api/v1/projects/{alice.project.id}/sessions", params={"page": 0}, headers=auth(alice)
    )
    assert response.status_code == 400
    assert "page" in response.json()["error"]
    response = client.get("/api/v1/projects/not-a-number/sessions", headers=auth(alice))
    assert response.status_code == 400


def test_openapi_document_lists_the_routes(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/v1/projects",
        "/api/v1/projects/{project_id}/sessions",
        "/api/v1/sessions/{session_id}",
        "/api/v1/sessions/{session_id}/events",
        "/api/v1/projects/{project_id}/visitors/export",
        "/api/v1/projects/{project_id}/visitors/erase",
        "/api/v1/organisations/{org_id}/audit",
        "/api/v1/projects/{project_id}/reports/{kind}",
        "/api/v1/projects/{project_id}/import",
        "/api/v1/projects/{project_id}/forms",
        "/api/v1/projects/{project_id}/heatmaps/clicks",
        "/api/v1/projects/{project_id}/heatmaps/clicks/sessions",
        "/api/v1/projects/{project_id}/heatmaps/moves",
        "/api/v1/projects/{project_id}/heatmaps/scroll",
        "/api/v1/projects/{project_id}/heatmaps/attention",
        "/api/v1/projects/{project_id}/funnels",
        "/api/v1/projects/{project_id}/funnels/query",
        "/api/v1/projects/{project_id}/funnels/{funnel_id}",
        "/api/v1/projects/{project_id}/funnels/{funnel_id}/figures",
        "/api/v1/projects/{project_id}/surveys",
        "/api/v1/projects/{project_id}/surveys/{survey_id}/responses",
        "/api/v1/projects/{project_id}/feedback",
    }


def test_revoked_token_is_refused(client: TestClient, ctx: Context, alice: Account) -> None:
    from sqlalchemy import update

    from sessionlens.storage.tables import api_token, utcnow

    with ctx.engine.begin() as conn:
        conn.execute(update(api_token).values(revoked_at=utcnow()))
    assert client.get("/api/v1/projects", headers=auth(alice)).status_code == 401


def test_audit_log_through_the_api(
    client: TestClient, alice: Account, bob: Account, processor: Processor
) -> None:
    recorded(client, alice, processor)
    listing = client.get(
        f"/api/v1/projects/{alice.project.id}/sessions", headers=auth(alice)
    ).json()
    client.get(f"/api/v1/sessions/{listing['sessions'][0]['id']}/events", headers=auth(alice))
    entries = client.get(f"/api/v1/organisations/{alice.org_id}/audit", headers=auth(alice)).json()[
        "entries"
    ]
    assert entries[0]["action"] == "recording.view"
    assert entries[0]["actor"] == alice.email
    assert (
        client.get(f"/api/v1/organisations/{alice.org_id}/audit", headers=auth(bob)).status_code
        == 404
    )
