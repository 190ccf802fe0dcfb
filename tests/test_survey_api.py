"""The surveys API: surveys with their counts, responses and feedback a page at a time by
id, and who may read them; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from sessionlens.accounts import tokens
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from tests.conftest import Account, login
from tests.test_survey_console import (
    FEEDBACK,
    made,
    record_session,
    send_feedback,
    send_responses,
    start,
)


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


@pytest.fixture
def answered(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> tuple[int, str]:
    login(client, alice.email)
    survey_id = made(client, alice)
    start(client, alice, survey_id)
    session_id = record_session(client, ctx, alice, processor)
    send_responses(client, alice, survey_id)
    client.cookies.clear()  # the API takes a token, never the console's login
    return survey_id, session_id


def pages(client: TestClient, url: str, account: Account, **params: Any) -> list[dict[str, Any]]:
    """Every page of a paginated answer, following next_after."""
    out = []
    after = 0
    while True:
        response = client.get(url, params=params | {"after": after}, headers=auth(account))
        assert response.status_code == 200, response.text
        out.append(response.json())
        if response.json()["next_after"] is None:
            return out
        after = response.json()["next_after"]


def test_surveys_are_listed_with_their_counts(
    client: TestClient, alice: Account, answered: tuple[int, str]
) -> None:
    survey_id, _ = answered
    response = client.get(f"/api/v1/projects/{alice.project.id}/surveys", headers=auth(alice))
    assert response.status_code == 200
    (listed,) = response.json()["surveys"]
    assert listed["id"] == survey_id
    assert listed["status"] == "active"
    assert listed["state"] == "live"
    assert listed["counts"] == {"shown": 1, "answered": 4, "dismissed": 2, "invited": 7}
    assert [q["id"] for q in listed["definition"]["questions"]] == ["q1", "q2", "q3", "q4", "q5"]


def test_responses_come_a_page_at_a_time_by_id(
    client: TestClient, alice: Account, answered: tuple[int, str]
) -> None:
    survey_id, session_id = answered
    url = f"/api/v1/projects/{alice.project.id}/surveys/{survey_id}/responses"
    got = pages(client, url, alice, limit=3)
    assert [[r["id"] for r in page["responses"]] for page in got] == [[1, 2, 3], [4, 5, 6], [7]]
    assert [page["next_after"] for page in got] == [3, 6, None]
    assert got[0]["survey"]["id"] == survey_id
    first, second, third = got[0]["responses"]
    assert first["state"] == "answered"
    assert first["answers"] == {
        "q1": 10,
        "q2": "Price",
        "q3": ["Search", "Filters"],
        "q4": 5,
        "q5": "Great price range",
    }
    assert first["session_id"] == session_id
    assert first["replay_url"] == f"http://testserver/sessions/{session_id}?t=65"
    assert first["page_url"] == "https://shop.example/products/1"
    assert first["visitor_id"] == "visitor0001x"
    assert first["given_at"].endswith("+00:00")
    assert (second["session_id"], second["replay_url"]) == (None, None)
    assert third["replay_url"].endswith("?t=0")
    exact = pages(client, url, alice, limit=4)
    assert [page["next_after"] for page in exact] == [4, None]

    answered_only = client.get(url, params={"state": "answered"}, headers=auth(alice)).json()
    assert [r["id"] for r in answered_only["responses"]] == [1, 2, 3, 4]
    later = client.get(url, params={"after": 5, "state": "dismissed"}, headers=auth(alice))
    assert [r["id"] for r in later.json()["responses"]] == [7]
    today = client.get(url, params={"from": "2020-01-01"}, headers=auth(alice)).json()
    assert len(today["responses"]) == 7
    old = client.get(url, params={"from": "2020-01-01", "to": "2020-01-02"}, headers=auth(alice))
    assert old.json()["responses"] == []


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"limit": 0}, 400, "limit"),
        ({"limit": 1001}, 400, "limit"),
        ({"after": -1}, 400, "after"),
        ({"after": "x"}, 400, "after"),
        ({"state": "gone"}, 400, "state"),
        ({"from": "yesterday"}, 400, "dates must look like 2026-11-29"),
        ({"from": "2030-02-02", "to": "2030-02-01"}, 400, "'from' must not be after 'to'"),
    ],
)
def test_bad_parameters_are_named(
    client: TestClient,
    alice: Account,
    answered: tuple[int, str],
    params: dict[str, Any],
    status: int,
    message: str,
) -> None:
    survey_id, _ = answered
    url = f"/api/v1/projects/{alice.project.id}/surveys/{survey_id}/responses"
    response = client.get(url, params=params, headers=auth(alice))
    assert response.status_code == status
    assert message in response.text


def test_who_may_read_survey_answers(
    client: TestClient, ctx: Context, alice: Account, bob: Account, answered: tuple[int, str]
) -> None:
    survey_id, _ = answered
    urls = [
        f"/api/v1/projects/{alice.project.id}/surveys",
        f"/api/v1/projects/{alice.project.id}/surveys/{survey_id}/responses",
        f"/api/v1/projects/{alice.project.id}/feedback",
    ]
    for url in urls:
        assert client.get(url).status_code == 401, url
        assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get(url, headers=auth(bob)).status_code == 404, url
    # alice's survey through bob's project, and a survey id that is not there
    wrong = f"/api/v1/projects/{bob.project.id}/surveys/{survey_id}/responses"
    assert client.get(wrong, headers=auth(bob)).status_code == 404
    missing = f"/api/v1/projects/{alice.project.id}/surveys/{survey_id + 1}/responses"
    assert client.get(missing, headers=auth(alice)).status_code == 404
    with ctx.engine.begin() as conn:
        reader = tokens.create_api_token(conn, alice.user_id, "read", scope="read")
    readable = client.get(urls[1], headers={"Authorization": f"Bearer {reader}"})
    assert readable.status_code == 200


def test_feedback_comes_a_page_at_a_time(
    client: TestClient, ctx: Context, alice: Account, bob: Account, processor: Processor
) -> None:
    session_id = record_session(client, ctx, alice, processor)
    send_feedback(client, ctx, alice)
    url = f"/api/v1/projects/{alice.project.id}/feedback"
    got = pages(client, url, alice, limit=2)
    assert [[f["id"] for f in page["feedback"]] for page in got] == [[1, 2], [3]]
    first = got[0]["feedback"][0]
    _key, _, offset, rating, comment, selector = FEEDBACK[0]
    assert (first["rating"], first["comment"], first["selector"]) == (rating, comment, selector)
    assert first["rating_label"] == "Very good"
    assert first["replay_url"] == f"http://testserver/sessions/{session_id}?t={offset // 1000}"
    assert got[0]["feedback"][1]["session_id"] is None
    low = client.get(url, params={"rating": 2}, headers=auth(alice)).json()
    assert [f["id"] for f in low["feedback"]] == [2]
    assert client.get(url, params={"rating": 6}, headers=auth(alice)).status_code == 400
    assert client.get(url, params={"to": "soon"}, headers=auth(alice)).status_code == 400
    assert client.get(url, headers=auth(bob)).status_code == 404
    assert client.get(f"/api/v1/projects/{bob.project.id}/feedback", headers=auth(bob)).json() == {
        "feedback": [],
        "next_after": None,
    }
