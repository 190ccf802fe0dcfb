"""Surveys: definitions, what the recorder is sent, and the answers and feedback it sends back,
on SQLite and PostgreSQL (docs/surveys.md)."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sessionlens import projects
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.recordings import retention, subjects
from sessionlens.storage.tables import page_feedback, session, survey_response, utcnow
from sessionlens.surveys import definition, results, store
from sessionlens.surveys.settings import SurveySettings
from sessionlens.surveys.settings import parse as settings_parse
from tests.conftest import Account, batch, login, send

NOW = int(time.time() * 1000)
QUESTIONS = [
    {"id": "q1", "kind": "nps", "text": "How likely are you to recommend us?", "required": True},
    {"id": "q2", "kind": "single", "text": "What brought you?", "choices": ["Price", "Range"]},
    {"id": "q3", "kind": "multiple", "text": "Used?", "choices": ["Search", "Filters", "Menu"]},
    {"id": "q4", "kind": "rating", "text": "How easy was it?"},
    {"id": "q5", "kind": "text", "text": "Anything else?"},
]
DEFINITION = {
    "intro": "Help us improve.",
    "thanks": "Thanks!",
    "questions": QUESTIONS,
    "targeting": {"pages": ["/products/*"], "devices": ["desktop"], "share": 50},
    "trigger": {"kind": "exit", "seconds": 0},
    "theme": {"color": "#AA3300", "position": "bottom-left"},
}


def make_survey(
    ctx: Context, account: Account, status: str = "active", **dates: date | None
) -> store.Survey:
    with ctx.engine.begin() as conn:
        return store.create(
            conn,
            account.project.id,
            "Shop NPS",
            definition.parse(DEFINITION),
            account.user_id,
            status=status,
            **dates,
        )


def answer(
    client: TestClient,
    account: Account,
    body: dict[str, Any] | bytes,
    origin: str | None = None,
    path: str = "survey",
) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body)
    headers = {"Origin": origin or account.project.website_origins[0]}
    headers["Content-Type"] = "application/json"
    return client.post(
        f"/i/v1/{account.project.ingest_key}/{path}", content=content, headers=headers
    )


def body(survey_id: int, state: str = "answered", **extra: Any) -> dict[str, Any]:
    out = {
        "response_id": "resp0000000000000001",
        "survey_id": survey_id,
        "session_id": "sessionAAAA0001",
        "visitor_id": "visitorBBB0001",
        "ts": NOW,
        "url": "https://shop.example/products/1",
        "state": state,
        "answers": {"q1": 9, "q2": "Price", "q3": ["Menu", "Search"], "q4": 4, "q5": "Great"},
    }
    return out | extra


def stored(ctx: Context) -> list[Any]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(select(survey_response).order_by(survey_response.c.id)))


# -- definitions ---------------------------------------------------------------------------


def test_a_definition_round_trips() -> None:
    parsed = definition.parse(DEFINITION)
    again = definition.parse(parsed.to_json())
    assert again == parsed
    assert parsed.color == "#aa3300"
    assert parsed.targeting.devices == ("desktop",)
    assert parsed.trigger == "exit"
    assert parsed.question("q3") is not None
    assert definition.next_question_id(parsed.questions) == "q6"
    assert parsed.texts == ()


def test_the_widget_may_speak_the_sites_language() -> None:
    texts = {"next": " Weiter ", "submit": "Senden", "back": "", "close": "Close survey"}
    parsed = definition.parse(DEFINITION | {"texts": texts})
    # Only what differs from the English default is kept.
    assert dict(parsed.texts) == {"next": "Weiter", "submit": "Senden"}
    assert definition.parse(parsed.to_json()) == parsed
    with pytest.raises(definition.SurveyError, match="no widget text is called 'nope'"):
        definition.parse(DEFINITION | {"texts": {"nope": "x"}})
    with pytest.raises(definition.SurveyError, match="more than 100"):
        definition.parse(DEFINITION | {"texts": {"next": "x" * 101}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"questions": []}, "1-10 questions"),
        ({"questions": [{"id": "q1", "kind": "poll", "text": "x"}]}, "unknown kind"),
        ({"questions": [{"id": "x1", "kind": "text", "text": "x"}]}, "bad id"),
        ({"questions": [{"id": "q1", "kind": "text", "text": " "}]}, "is empty"),
        (
            {"questions": [{"id": "q1", "kind": "single", "text": "x", "choices": ["a"]}]},
            "2-10 choices",
        ),
        (
            {"questions": [{"id": "q1", "kind": "single", "text": "x", "choices": ["a", "A"]}]},
            "same choice twice",
        ),
        (
            {
                "questions": [
                    {"id": "q1", "kind": "text", "text": "x"},
                    {"id": "q1", "kind": "text", "text": "y"},
                ]
            },
            "repeats the id",
        ),
        ({"theme": {"color": "red"}}, "#rrggbb"),
        ({"theme": {"position": "top"}}, "position"),
        ({"trigger": {"kind": "scroll"}}, "trigger"),
        ({"trigger": {"kind": "delay", "seconds": 601}}, "0-600"),
        ({"targeting": {"share": 101}}, "percent"),
        ({"targeting": {"devices": ["watch"]}}, "devices"),
        ({"targeting": {"visitors": "vip"}}, "visitors"),
        ({"targeting": {"pages": ["products"]}}, "must start with /"),
        ({"intro": "x" * 501}, "more than 500"),
    ],
)
def test_bad_definitions_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(definition.SurveyError, match=message):
        definition.parse(DEFINITION | change)


# -- the recorder's config -------------------------------------------------------------------


def config(client: TestClient, account: Account) -> dict[str, Any]:
    response = client.get(f"/i/v1/{account.project.ingest_key}/config")
    assert response.status_code == 200
    return dict(response.json())


def test_config_sends_live_surveys_only(ctx: Context, client: TestClient, alice: Account) -> None:
    today = date.today()
    live = make_survey(ctx, alice, ends_on=today + timedelta(days=1))
    make_survey(ctx, alice, status="draft")
    make_survey(ctx, alice, status="paused")
    make_survey(ctx, alice, starts_on=today + timedelta(days=2))
    make_survey(ctx, alice, ends_on=today - timedelta(days=1))
    sent = config(client, alice)
    assert [s["id"] for s in sent["surveys"]] == [live.id]
    first = sent["surveys"][0]
    assert first["questions"][2]["choices"] == ["Search", "Filters", "Menu"]
    assert first["trigger"] == {"kind": "exit", "seconds": 0}
    assert first["starts_ms"] is None
    assert first["ends_ms"] > NOW
    assert sent["survey_every_days"] == 30
    assert sent["feedback"]["enabled"] is False


def test_survey_settings_reach_the_config(ctx: Context, client: TestClient, alice: Account) -> None:
    with ctx.engine.begin() as conn:
        projects.save_survey_settings(
            conn,
            alice.project,
            settings_parse(
                {
                    "every_days": "7",
                    "feedback": "on",
                    "feedback_label": "Tell",
                    "feedback_texts": {"send": "Senden", "title": "", "thanks": "Danke!"},
                }
            ),
        )
    sent = config(client, alice)
    assert sent["survey_every_days"] == 7
    assert sent["feedback"] == {
        "enabled": True,
        "color": "#2f6fde",
        "position": "right",
        "label": "Tell",
        "texts": {"send": "Senden", "thanks": "Danke!"},
    }
    for bad, message in (
        ({"feedback_texts": {"nope": "x"}}, "no feedback panel text"),
        ({"feedback_texts": {"send": "x" * 101}}, "more than 100"),
        ({"feedback_texts": "Senden"}, "an object"),
    ):
        with pytest.raises(definition.SurveyError, match=message):
            settings_parse(bad)
    assert sent["surveys"] == []


# -- answers ---------------------------------------------------------------------------------


def test_an_answer_is_stored_and_moves_on(ctx: Context, client: TestClient, alice: Account) -> None:
    found = make_survey(ctx, alice)
    shown = body(found.id, "shown", answers={})
    assert answer(client, alice, shown).status_code == 202
    response = answer(client, alice, body(found.id))
    assert response.status_code == 202
    assert response.json() == {"ok": True, "duplicate": False}
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    rows = stored(ctx)
    assert len(rows) == 1
    row = rows[0]
    assert (row.state, row.nps, row.session_key, row.visitor_key) == (
        "answered",
        9,
        "sessionAAAA0001",
        "visitorBBB0001",
    )
    # Choices of a multiple question are kept in the survey's order.
    assert json.loads(row.answers) == {
        "q1": 9,
        "q2": "Price",
        "q3": ["Search", "Menu"],
        "q4": 4,
        "q5": "Great",
    }
    # Late news never moves an invitation back; a repeat is a duplicate.
    late = answer(client, alice, body(found.id, "dismissed", answers={}))
    assert late.json()["duplicate"] is True
    again = answer(client, alice, body(found.id, "shown", answers={}))
    assert again.json()["duplicate"] is True
    assert [r.state for r in stored(ctx)] == ["answered"]


def test_a_dismissal_keeps_the_answers_so_far(
    ctx: Context, client: TestClient, alice: Account
) -> None:
    found = make_survey(ctx, alice)
    # The required NPS question is unanswered: fine for a dismissal.
    response = answer(client, alice, body(found.id, "dismissed", answers={"q4": 2, "q5": ""}))
    assert response.status_code == 202
    row = stored(ctx)[0]
    assert row.state == "dismissed"
    assert json.loads(row.answers) == {"q4": 2}
    assert row.nps is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answers": {"q1": 11}}, "q1 must be a whole number 0-10"),
        ({"answers": {"q1": True}}, "q1 must be a whole number 0-10"),
        ({"answers": {"q1": 5, "q2": "Cheap"}}, "not one of its choices"),
        ({"answers": {"q1": 5, "q3": "Menu"}}, "must be a list"),
        ({"answers": {"q1": 5, "q4": 0}}, "1-5"),
        ({"answers": {"q1": 5, "q5": "x" * 2001}}, "at most 2000"),
        ({"answers": {"q1": 5, "q9": "x"}}, "no question"),
        ({"answers": {"q5": "only text"}}, "q1 is required"),
        ({"answers": []}, "answers must be an object"),
        ({"state": "done"}, "state is one of"),
        ({"response_id": "short"}, "response_id"),
        ({"session_id": "bad id!"}, "session_id"),
        ({"ts": "yesterday"}, "ts must be"),
        ({"ts": 10**15}, "ts must be"),
        ({"url": 5}, "url must be"),
        ({"survey_id": "1"}, "survey_id"),
    ],
)
def test_bad_answers_are_a_400_that_names_them(
    ctx: Context, client: TestClient, alice: Account, change: dict[str, Any], message: str
) -> None:
    found = make_survey(ctx, alice)
    response = answer(client, alice, body(found.id) | change)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert stored(ctx) == []


def test_doors_of_the_answer_endpoint(
    ctx: Context, client: TestClient, alice: Account, bob: Account
) -> None:
    found = make_survey(ctx, alice)
    assert answer(client, alice, body(found.id), origin="https://evil.example").status_code == 403
    # Bob's origin and key cannot answer Alice's survey.
    assert answer(client, bob, body(found.id)).status_code == 404
    assert answer(client, alice, b"not json").status_code == 400
    assert answer(client, alice, b"[1, 2]").status_code == 400
    assert answer(client, alice, b"x" * (65 * 1024)).status_code == 413
    missing = client.post("/i/v1/nokey/survey", content=b"{}", headers={"Origin": "x"})
    assert missing.status_code == 404
    preflight = client.options(
        f"/i/v1/{alice.project.ingest_key}/survey", headers={"Origin": "https://shop.example"}
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert stored(ctx) == []


def test_free_text_and_urls_pass_the_privacy_guard(
    ctx: Context, client: TestClient, alice: Account
) -> None:
    found = make_survey(ctx, alice)
    text = "my card 4111 1111 1111 1111 see https://shop.example/a?token=abc&x=1"
    sent = body(found.id, answers={"q1": 3, "q5": text})
    sent["url"] = "https://shop.example/products/1?email=a@b.example&ref=x"
    assert answer(client, alice, sent).status_code == 202
    row = stored(ctx)[0]
    kept = json.loads(row.answers)["q5"]
    assert "4111" not in kept
    assert "**** **** **** ****" in kept
    assert "token=abc" not in kept
    assert "x=1" in kept
    assert row.url == "https://shop.example/products/1?ref=x"


def test_a_draft_cannot_be_answered(ctx: Context, client: TestClient, alice: Account) -> None:
    found = make_survey(ctx, alice, status="draft")
    response = answer(client, alice, body(found.id))
    assert response.status_code == 404
    assert stored(ctx) == []


def test_answers_to_a_paused_survey_are_kept(
    ctx: Context, client: TestClient, alice: Account
) -> None:
    """A visitor may be half way through when the team pauses it."""
    found = make_survey(ctx, alice)
    with ctx.engine.begin() as conn:
        store.set_status(conn, alice.project.id, found.id, "paused")
    assert answer(client, alice, body(found.id)).status_code == 202
    with ctx.engine.begin() as conn:
        assert store.counts(conn, alice.project.id) == {
            found.id: {"shown": 0, "answered": 1, "dismissed": 0, "invited": 1}
        }
        assert store.remove(conn, alice.project.id, found.id)
    assert stored(ctx) == []


# -- feedback --------------------------------------------------------------------------------


def feedback_body(**extra: Any) -> dict[str, Any]:
    return {
        "feedback_id": "feedback000000000001",
        "session_id": "sessionAAAA0001",
        "visitor_id": "visitorBBB0001",
        "ts": NOW,
        "url": "https://shop.example/products/1?token=x",
        "rating": 2,
        "comment": "The zoom button does nothing. Card 4111111111111111",
        "selector": "main > button#zoom",
    } | extra


def test_feedback_needs_the_button_on(ctx: Context, client: TestClient, alice: Account) -> None:
    off = answer(client, alice, feedback_body(), path="feedback")
    assert off.status_code == 404
    with ctx.engine.begin() as conn:
        projects.save_survey_settings(conn, alice.project, SurveySettings(feedback=True))
    first = answer(client, alice, feedback_body(), path="feedback")
    assert first.status_code == 202
    assert first.json()["duplicate"] is False
    assert answer(client, alice, feedback_body(), path="feedback").json()["duplicate"] is True
    with ctx.engine.connect() as conn:
        rows = list(conn.execute(select(page_feedback)))
    assert len(rows) == 1
    row = rows[0]
    assert (row.rating, row.selector, row.url) == (
        2,
        "main > button#zoom",
        "https://shop.example/products/1",
    )
    assert "4111" not in row.comment
    assert row.comment.startswith("The zoom button")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rating": 6}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"comment": "x" * 2001}, "comment"),
        ({"selector": ["a"]}, "selector"),
        ({"feedback_id": None}, "feedback_id"),
    ],
)
def test_bad_feedback_is_a_400(
    ctx: Context, client: TestClient, alice: Account, change: dict[str, Any], message: str
) -> None:
    with ctx.engine.begin() as conn:
        projects.save_survey_settings(conn, alice.project, SurveySettings(feedback=True))
    response = answer(client, alice, feedback_body(**change), path="feedback")
    assert response.status_code == 400
    assert message in response.json()["error"]


# -- with the session, the visitor and retention -------------------------------------------

START = NOW - 600_000


def recorded(client: TestClient, ctx: Context, account: Account, processor: Processor) -> str:
    """A recorded session; its public id."""
    send(client, account, batch(0, start=START, url="https://shop.example/products/1"))
    processor.drain()
    with ctx.engine.connect() as conn:
        return str(conn.execute(select(session.c.id)).scalar_one())


def said(ctx: Context, client: TestClient, account: Account) -> store.Survey:
    """An answer given 5 s into the session, a feedback 9 s into it, and another visitor's."""
    found = make_survey(ctx, account)
    given = body(found.id, ts=START + 5000, answers={"q1": 10, "q5": "Love <b>it</b>"})
    assert answer(client, account, given).status_code == 202
    with ctx.engine.begin() as conn:
        projects.save_survey_settings(conn, account.project, SurveySettings(feedback=True))
    assert (
        answer(client, account, feedback_body(ts=START + 9000), path="feedback").status_code == 202
    )
    other = body(found.id, response_id="resp0000000000000002", session_id="sessionOTHER01")
    assert answer(client, account, other | {"visitor_id": "visitorOTHER1"}).status_code == 202
    return found


def test_the_replay_page_shows_what_the_visitor_said(
    ctx: Context, client: TestClient, alice: Account, processor: Processor
) -> None:
    session_id = recorded(client, ctx, alice, processor)
    found = said(ctx, client, alice)
    login(client, alice.email)
    page = client.get(f"/sessions/{session_id}").text
    # On the timeline (merged with the struggle signals), at the moment each was given.
    assert 'data-offset-ms="5000" data-kind="survey" data-label="Survey">Shop NPS: answered' in page
    assert 'data-offset-ms="9000" data-kind="feedback" data-label="Feedback">Bad (2/5)' in page
    # And listed with the questions; recorded text is escaped, never markup.
    assert "How likely are you to recommend us?</dt><dd>10</dd>" in page
    assert "Love &lt;b&gt;it&lt;/b&gt;" in page
    assert "<b>it</b>" not in page
    assert f'href="/projects/{alice.project.id}/surveys/{found.id}"' in page
    assert "main &gt; button#zoom" in page
    # The other visitor's answer is not this session's.
    assert page.count('data-kind="survey"') == 1


def test_export_erasure_and_retention_include_answers(
    ctx: Context, client: TestClient, alice: Account, processor: Processor
) -> None:
    recorded(client, ctx, alice, processor)
    said(ctx, client, alice)
    headers = {"Authorization": f"Bearer {alice.token}"}
    exported = client.get(
        f"/api/v1/projects/{alice.project.id}/visitors/export",
        params={"visitor_id": "visitorBBB0001"},
        headers=headers,
    ).json()
    assert [r["answers"] for r in exported["survey_responses"]] == [
        {"q1": 10, "q5": "Love <b>it</b>"}
    ]
    assert [f["rating"] for f in exported["feedback"]] == [2]
    erased = client.post(
        f"/api/v1/projects/{alice.project.id}/visitors/erase",
        json={"visitor_id": "visitorBBB0001"},
        headers=headers,
    ).json()
    assert erased == {"sessions_erased": 1, "blocks_erased": 1, "answers_erased": 2}
    left = stored(ctx)
    assert [r.visitor_key for r in left] == ["visitorOTHER1"]
    # Retention: answers older than the project's retention go too.
    with ctx.engine.begin() as conn:
        conn.execute(update(survey_response).values(created_at=utcnow() - timedelta(days=91)))
    retention.purge(ctx.engine, ctx.blobs, utcnow())
    assert stored(ctx) == []


def test_an_answer_without_a_recorded_session_is_erased_by_visitor(
    ctx: Context, client: TestClient, alice: Account
) -> None:
    """A visitor whose session was not recorded (sampled out) can still be invited."""
    found = make_survey(ctx, alice)
    assert answer(client, alice, body(found.id)).status_code == 202
    with ctx.engine.begin() as conn:
        erased = subjects.erase(conn, ctx.blobs, alice.project.id, "visitor", "visitorBBB0001")
    assert (erased.sessions, erased.answers) == (0, 1)
    assert stored(ctx) == []


def test_text_search_compares_casefolded_text_only(
    ctx: Context, client: TestClient, alice: Account
) -> None:
    found = make_survey(ctx, alice)
    texts = ["Die Straße ist zu lang", "50% off was 100_000 wrong", "fine"]
    for n, text in enumerate(texts):
        sent = body(found.id, response_id=f"respTextSearch{n}x", answers={"q1": 5, "q5": text})
        response = answer(client, alice, sent)
        assert response.status_code == 202, response.text

    def search(q: str, answer: str = "") -> list[str]:
        with ctx.engine.connect() as conn:
            chosen = results.answer_filter(found, answer)
            page = results.answer_list(conn, found, None, q, chosen)
        return [
            a["answer"] for i in page["items"] for a in i["answers"] if a["question_id"] == "q5"
        ]

    assert search("STRASSE") == [texts[0]]
    assert search("straße") == [texts[0]]
    assert search("%") == [texts[1]]  # LIKE's wildcards are plain characters here
    assert search("0_0") == [texts[1]]
    assert search("q5") == []  # a question id is not an answer
    assert search("Price") == []  # nor is a choice
    assert search("") == texts[::-1]
    # By an answer given: every response that gave it, the text search on top.
    assert search("", "q1:5") == texts[::-1]
    assert search("fine", "q1:5") == ["fine"]
    assert search("", "q1:6") == []
    for bad in ("q5:x", "q9:1", "q1:high", "nonsense"):
        with pytest.raises(results.FilterError):
            results.answer_filter(found, bad)


def test_sessions_are_found_by_what_their_visitor_said(
    ctx: Context, client: TestClient, alice: Account, processor: Processor
) -> None:
    """Session search: survey answered, NPS group and feedback (console and API)."""
    session_id = recorded(client, ctx, alice, processor)
    send(client, alice, batch(0, session_id="sessionQUIET001", start=START))
    processor.drain()
    found = said(ctx, client, alice)  # NPS 10 and feedback rated 2 in sessionAAAA0001
    headers = {"Authorization": f"Bearer {alice.token}"}

    def sessions(**params: str) -> list[str]:
        response = client.get(
            f"/api/v1/projects/{alice.project.id}/sessions", params=params, headers=headers
        )
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["sessions"]]

    quiet = next(s for s in sessions() if s != session_id)
    assert sessions(survey=str(found.id)) == [session_id]
    assert sessions(survey="*") == [session_id]
    assert sessions(survey=str(found.id + 1)) == []
    assert sessions(nps="promoter") == [session_id]
    assert sessions(nps="detractor") == []
    assert sessions(feedback="yes") == [session_id]
    assert sessions(feedback="2") == [session_id]
    assert sessions(feedback="5") == []
    for bad in ({"survey": "x"}, {"nps": "fan"}, {"feedback": "9"}):
        response = client.get(
            f"/api/v1/projects/{alice.project.id}/sessions", params=bad, headers=headers
        )
        assert response.status_code == 400
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}", params={"nps": "promoter"}).text
    assert f'href="/sessions/{session_id}"' in page
    assert f'href="/sessions/{quiet}"' not in page
    unfiltered = client.get(f"/projects/{alice.project.id}").text
    assert f'href="/sessions/{quiet}"' in unfiltered
