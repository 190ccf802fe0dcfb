"""Surveys in the console: the builder, who may do what, results against answers sent
through the public endpoint, text search, the CSV and the feedback list; on SQLite and
PostgreSQL (docs/surveys.md, "Console and API")."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens import projects
from sessionlens.accounts import members, users
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import audit_log, session, survey_response
from sessionlens.surveys import results, store
from sessionlens.surveys.settings import SurveySettings
from tests.conftest import PASSWORD, Account, batch, login, send

T = int(time.time() * 1000) - 3_600_000
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RECORDED = "sessRecorded0001"
UNRECORDED = "sessNotStored001"
FORM: dict[str, Any] = {
    "name": "Shop NPS",
    "intro": "Help us improve.",
    "thanks": "Thanks!",
    "q_id": [""] * 10,
    "q_kind": ["nps", "single", "multiple", "rating", "text"] + ["single"] * 5,
    "q_text": ["Recommend us?", "What brought you?", "Used?", "How easy?", "Anything else?"]
    + [""] * 5,
    "q_choices": ["", "Price\nRange", "Search\nFilters\nMenu", "", ""] + [""] * 5,
    "q_required": ["0"],
    "pages": "/products/*\n/cart",
    "devices": ["desktop", "mobile"],
    "visitors": "all",
    "share": "50",
    "trigger": "delay",
    "delay": "5",
    "color": "#2f6fde",
    "position": "bottom-right",
    "starts_on": "",
    "ends_on": "",
}
# (response id, session, ms after T, state, answers), counted by hand in test_results_*:
# NPS 10, 9, 7, 3 and the dismissed 8: promoters 2, passives 2, detractors 1 -> 20.
RESPONSES: list[tuple[str, str, int, str, dict[str, Any]]] = [
    (
        "response00000001",
        RECORDED,
        65_500,
        "answered",
        {"q1": 10, "q2": "Price", "q3": ["Search", "Filters"], "q4": 5, "q5": "Great price range"},
    ),
    (
        "response00000002",
        UNRECORDED,
        1000,
        "answered",
        {"q1": 9, "q2": "Price", "q3": ["Search"], "q4": 4, "q5": "Slow delivery"},
    ),
    ("response00000003", RECORDED, -5000, "answered", {"q1": 7, "q2": "Range", "q4": 3}),
    (
        "response00000004",
        UNRECORDED,
        2000,
        "answered",
        {"q1": 3, "q2": "Range", "q3": ["Menu"], "q5": '=HYPERLINK("http://x.example")'},
    ),
    ("response00000005", UNRECORDED, 3000, "dismissed", {"q1": 8}),
    ("response00000006", UNRECORDED, 4000, "shown", {}),
    ("response00000007", UNRECORDED, 5000, "dismissed", {}),
]


def csrf(client: TestClient, path: str = "/account") -> str:
    found = CSRF.search(client.get(path).text)
    assert found is not None
    return found.group(1)


def build(client: TestClient, account: Account, **changes: Any) -> Any:
    data = FORM | changes | {"csrf_token": csrf(client)}
    return client.post(
        f"/projects/{account.project.id}/surveys/new", data=data, follow_redirects=False
    )


def made(client: TestClient, account: Account) -> int:
    response = build(client, account)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def answer(client: TestClient, account: Account, body: dict[str, Any], path: str) -> Any:
    headers = {"Origin": account.project.website_origins[0], "Content-Type": "application/json"}
    url = f"/i/v1/{account.project.ingest_key}/{path}"
    return client.post(url, content=json.dumps(body), headers=headers)


def start(client: TestClient, account: Account, survey_id: int) -> None:
    """Start a draft in the console: a draft cannot be answered."""
    started = client.post(
        f"/projects/{account.project.id}/surveys/{survey_id}/status",
        data={"action": "start", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text


def send_responses(client: TestClient, account: Account, survey_id: int) -> None:
    for key, session_key, offset, state, given in RESPONSES:
        body = {
            "response_id": key,
            "survey_id": survey_id,
            "session_id": session_key,
            "visitor_id": f"visitor{key[-4:]}x",
            "ts": T + offset,
            "url": f"https://shop.example/products/{key[-1]}",
            "state": state,
            "answers": given,
        }
        sent = answer(client, account, body, "survey")
        assert sent.status_code == 202, sent.text


def record_session(client: TestClient, ctx: Context, account: Account, processor: Processor) -> str:
    """A stored session whose first event is at T; its public id."""
    sent = send(client, account, batch(0, session_id=RECORDED, start=T))
    assert sent.status_code == 202, sent.text
    processor.drain()
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(session.c.id, session.c.first_ts).where(session.c.client_id == RECORDED)
        ).one()
    assert row.first_ts == T
    return str(row.id)


@pytest.fixture
def answered(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> tuple[int, str]:
    """alice logged in, her survey built in the console, the answers sent; (survey, session)."""
    login(client, alice.email)
    survey_id = made(client, alice)
    start(client, alice, survey_id)
    session_id = record_session(client, ctx, alice, processor)
    send_responses(client, alice, survey_id)
    return survey_id, session_id


def member_of(ctx: Context, account: Account, email: str = "mia@example.com") -> str:
    with ctx.engine.begin() as conn:
        user = users.create_account(conn, email, "Mia", PASSWORD)
        members.add(conn, account.org_id, user.id, "member")
    return email


def audit_actions(ctx: Context) -> list[str]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(select(audit_log.c.action).order_by(audit_log.c.id)).scalars())


# -- the builder ------------------------------------------------------------------------


def test_the_builder_keeps_question_ids_when_a_survey_is_changed(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    login(client, alice.email)
    survey_id = made(client, alice)
    with ctx.engine.connect() as conn:
        first = store.get(conn, alice.project.id, survey_id)
    assert first is not None
    assert first.status == "draft"
    assert [q.id for q in first.definition.questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert first.definition.questions[0].required
    assert first.definition.targeting.pages == ("/products/*", "/cart")
    assert first.definition.targeting.share == 50

    page = client.get(f"/projects/{alice.project.id}/surveys/{survey_id}/edit")
    assert page.status_code == 200
    assert 'name="q_id" value="q3"' in page.text
    assert "Search\nFilters\nMenu" in page.text
    # q2 dropped (its row emptied), q3 reworded, q4 turned into free text, a row added
    rows = FORM | {
        "q_id": ["q1", "", "q3", "q4", "q5", ""] + [""] * 4,
        "q_kind": ["nps", "single", "multiple", "text", "text", "single"] + ["single"] * 4,
        "q_text": ["Recommend us?", "", "What did you use?", "Easy?", "Else?", "New one"]
        + [""] * 4,
        "q_choices": ["", "", "Search\nFilters", "", "", "Yes\nNo"] + [""] * 4,
        "name": "Shop NPS, second wave",
        "ends_on": "2099-01-31",
        "text_next": "Weiter",
        "text_title": "",
        "csrf_token": csrf(client),
    }
    saved = client.post(
        f"/projects/{alice.project.id}/surveys/{survey_id}/edit", data=rows, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    with ctx.engine.connect() as conn:
        second = store.get(conn, alice.project.id, survey_id)
    assert second is not None
    assert second.name == "Shop NPS, second wave"
    assert [(q.id, q.kind) for q in second.definition.questions] == [
        ("q1", "nps"),
        ("q3", "multiple"),
        ("q6", "text"),  # a new kind: a new id, so old ratings are not read as text
        ("q5", "text"),
        ("q7", "single"),
    ]
    assert second.definition.questions[1].text == "What did you use?"
    assert str(second.ends_on) == "2099-01-31"
    assert dict(second.definition.texts) == {"next": "Weiter"}  # the widget's words
    again = client.get(f"/projects/{alice.project.id}/surveys/{survey_id}/edit").text
    assert 'name="text_next" type="text" maxlength="100" placeholder="Next" value="Weiter"' in again
    assert audit_actions(ctx)[-2:] == ["survey.create", "survey.change"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"color": "blue"}, "the colour is written #rrggbb"),
        ({"q_text": [""] * 10, "q_choices": [""] * 10}, "a survey has 1-10 questions"),
        ({"q_choices": ["", "Price", "", "", ""] + [""] * 5}, "question 2 needs 2-10 choices"),
        ({"starts_on": "2030-02-01", "ends_on": "2030-01-31"}, "the survey ends before it starts"),
        ({"starts_on": "tomorrow"}, "the start date must look like 2026-11-29"),
        ({"delay": "soon"}, "the delay is a whole number of seconds"),
        ({"share": "lots"}, "the share of visitors to invite is a percent"),
        ({"name": "  "}, "a survey needs a name"),
    ],
)
def test_builder_errors_show_the_form_again_with_what_was_typed(
    client: TestClient, ctx: Context, alice: Account, changes: dict[str, Any], message: str
) -> None:
    login(client, alice.email)
    response = build(client, alice, intro="Typed <b>intro</b>", **changes)
    assert response.status_code == 400
    assert message in response.text
    assert "Typed &lt;b&gt;intro&lt;/b&gt;" in response.text
    assert 'value="Recommend us?"' in response.text or "q_text" in str(changes)
    with ctx.engine.connect() as conn:
        assert store.for_project(conn, alice.project.id) == []


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    login(client, alice.email)
    response = client.post(
        f"/projects/{alice.project.id}/surveys/new", data=FORM, follow_redirects=False
    )
    assert 400 <= response.status_code < 500
    with ctx.engine.connect() as conn:
        assert store.for_project(conn, alice.project.id) == []


def test_start_pause_resume_and_delete(client: TestClient, ctx: Context, alice: Account) -> None:
    login(client, alice.email)
    survey_id = made(client, alice)
    base = f"/projects/{alice.project.id}/surveys/{survey_id}"

    def move(action: str) -> Any:
        data = {"action": action, "csrf_token": csrf(client)}
        return client.post(f"{base}/status", data=data, follow_redirects=False)

    def status() -> str | None:
        with ctx.engine.connect() as conn:
            found = store.get(conn, alice.project.id, survey_id)
        return found.status if found else None

    assert move("pause").status_code == 400  # a draft is started, not paused
    assert move("start").status_code == 303
    assert status() == "active"
    assert (
        '<td data-state="live">live</td>'
        in client.get(f"/projects/{alice.project.id}/surveys").text
    )
    assert move("pause").status_code == 303
    assert status() == "paused"
    assert move("resume").status_code == 303
    assert status() == "active"
    assert move("start").status_code == 400
    assert move("explode").status_code == 400
    send_responses(client, alice, survey_id)

    page = client.get(base)
    assert "deletes every answer given to it" in page.text
    kept = client.post(f"{base}/delete", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert kept.status_code == 400
    assert status() == "active"
    gone = client.post(
        f"{base}/delete",
        data={"csrf_token": csrf(client), "confirm": "yes"},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert status() is None
    with ctx.engine.connect() as conn:
        assert conn.execute(select(survey_response)).first() is None
    assert client.get(base).status_code == 404
    assert audit_actions(ctx)[-4:] == [
        "survey.start",
        "survey.pause",
        "survey.resume",
        "survey.delete",
    ]


def test_survey_settings_are_saved_by_managers(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}/surveys")
    assert page.status_code == 200
    assert "New survey" in page.text
    data = {
        "every_days": "14",
        "feedback": "1",
        "feedback_color": "#AA3300",
        "feedback_position": "left",
        "feedback_label": "Tell us",
        "fbtext_send": "Senden",
        "fbtext_title": "",
        "csrf_token": csrf(client),
    }
    saved = client.post(
        f"/projects/{alice.project.id}/surveys/settings", data=data, follow_redirects=False
    )
    assert saved.status_code == 303
    with ctx.engine.connect() as conn:
        found = projects.get_for_user(conn, alice.user_id, alice.project.id)
    assert found is not None
    assert found.surveys == SurveySettings(
        14, True, "#aa3300", "left", "Tell us", (("send", "Senden"),)
    )
    again = client.get(f"/projects/{alice.project.id}/surveys").text
    assert (
        'name="fbtext_send" type="text" maxlength="100" placeholder="Send" value="Senden"' in again
    )
    bad = client.post(
        f"/projects/{alice.project.id}/surveys/settings",
        data=data | {"every_days": "0", "csrf_token": csrf(client)},
    )
    assert bad.status_code == 400
    assert "1-365 days" in bad.text
    assert audit_actions(ctx)[-1] == "surveys.settings"


# -- who may do what --------------------------------------------------------------------


def test_members_see_surveys_but_cannot_change_them(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    login(client, alice.email)
    survey_id = made(client, alice)
    mia = member_of(ctx, alice)
    client.cookies.clear()
    login(client, mia)
    token = csrf(client)
    base = f"/projects/{alice.project.id}/surveys"
    for path in (base, f"{base}/{survey_id}", f"{base}/{survey_id}/preview"):
        assert client.get(path).status_code == 200, path
    assert client.get(f"{base}/{survey_id}/responses.csv").status_code == 200
    assert client.get(f"/projects/{alice.project.id}/feedback").status_code == 200
    assert "New survey" not in client.get(base).text
    assert client.get(f"{base}/new").status_code == 403
    assert client.get(f"{base}/{survey_id}/edit").status_code == 403
    posts = {
        f"{base}/new": FORM,
        f"{base}/{survey_id}/edit": FORM,
        f"{base}/{survey_id}/status": {"action": "start"},
        f"{base}/{survey_id}/delete": {"confirm": "yes"},
        f"{base}/settings": {"every_days": "3"},
    }
    for path, data in posts.items():
        response = client.post(path, data=data | {"csrf_token": token}, follow_redirects=False)
        assert response.status_code == 403, path
    with ctx.engine.connect() as conn:
        found = store.get(conn, alice.project.id, survey_id)
    assert found is not None
    assert found.status == "draft"
    assert found.name == "Shop NPS"


def test_another_organisation_gets_404(client: TestClient, alice: Account, bob: Account) -> None:
    login(client, alice.email)
    survey_id = made(client, alice)
    client.cookies.clear()
    login(client, bob.email)
    base = f"/projects/{alice.project.id}/surveys"
    for path in (
        base,
        f"{base}/{survey_id}",
        f"{base}/{survey_id}/preview",
        f"{base}/{survey_id}/responses.csv",
        f"{base}/new",
        f"/projects/{alice.project.id}/feedback",
    ):
        assert client.get(path).status_code == 404, path
    token = csrf(client)
    deleted = client.post(
        f"{base}/{survey_id}/delete", data={"csrf_token": token, "confirm": "yes"}
    )
    assert deleted.status_code == 404
    # and alice's survey is not reachable through bob's own project either
    assert client.get(f"/projects/{bob.project.id}/surveys/{survey_id}").status_code == 404


# -- results ----------------------------------------------------------------------------


def test_results_figures_are_exact(
    client: TestClient, ctx: Context, alice: Account, answered: tuple[int, str]
) -> None:
    survey_id, _ = answered
    with ctx.engine.connect() as conn:
        found = store.get(conn, alice.project.id, survey_id)
        assert found is not None
        data = results.figures(conn, found, None)
    assert (data["shown"], data["answered"], data["dismissed"], data["invited"]) == (1, 4, 2, 7)
    assert data["response_rate"] == round(4 / 7, 4)
    nps, single, multiple, rating, text = data["questions"]
    assert nps["answered"] == 5  # the dismissed invitation's partial answer counts
    assert nps["nps"]["score"] == 20
    assert (nps["nps"]["promoters"], nps["nps"]["passives"], nps["nps"]["detractors"]) == (2, 2, 1)
    assert [d["count"] for d in nps["distribution"]] == [0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]
    assert [(c["name"], c["count"], c["share"]) for c in single["choices"]] == [
        ("Price", 2, 0.5),
        ("Range", 2, 0.5),
    ]
    assert multiple["answered"] == 3
    assert [(c["name"], c["count"], c["share"]) for c in multiple["choices"]] == [
        ("Search", 2, 0.6667),
        ("Filters", 1, 0.3333),
        ("Menu", 1, 0.3333),
    ]
    assert rating["average"] == 4.0
    assert [d["count"] for d in rating["distribution"]] == [0, 0, 1, 1, 1]
    assert text["answered"] == 3

    page = client.get(f"/projects/{alice.project.id}/surveys/{survey_id}")
    assert page.status_code == 200
    assert re.search(r'data-figure="nps">.*?<span class="figure-value">20</span>', page.text)
    assert re.search(r'data-figure="response_rate">.*?57\.1%', page.text)
    assert re.search(
        r'data-choice="Search">.*?<td class="num">2</td><td class="num">66\.7%', page.text, re.S
    )
    listed = client.get(f"/projects/{alice.project.id}/surveys").text
    assert re.search(
        r"<td class=\"num\">7</td><td class=\"num\">4</td>\s*<td class=\"num\">57\.1%", listed
    )


@pytest.mark.parametrize(
    ("values", "score"),
    [([], None), ([10, 10, 0], 33), ([10] + [7] * 7, 13), ([0] + [7] * 7, -13), ([9, 6], 0)],
)
def test_the_nps_score_rounds_halves_away_from_zero(values: list[int], score: int | None) -> None:
    assert results.nps_figures(Counter(values))["score"] == score


def test_text_answers_search_only_the_text_and_link_to_the_replay(
    client: TestClient, alice: Account, answered: tuple[int, str]
) -> None:
    survey_id, session_id = answered
    base = f"/projects/{alice.project.id}/surveys/{survey_id}"

    def shown(**params: str) -> list[str]:
        page = client.get(base, params=params)
        assert page.status_code == 200
        return re.findall(r'<li data-response="(\d+)">', page.text)

    assert shown() == ["5", "4", "3", "2", "1"]  # newest first; 6 and 7 hold no answer
    assert shown(q="PRICE") == ["1"]  # 2 chose "Price", but its text does not say it
    assert shown(q="range") == ["1"]
    assert shown(q="q5") == []  # a question id is a JSON key, not an answer
    assert shown(q='"') == ["4"]
    # A bar of the charts lists the responses that gave its answer.
    assert shown(answer="q2:Range") == ["4", "3"]
    assert shown(answer="q1:10") == ["1"]
    assert shown(answer="q3:Search") == ["2", "1"]
    assert shown(answer="q2:Price", q="slow") == ["2"]
    assert shown(answer="q4:1") == []
    assert client.get(base, params={"answer": "q5:x"}).status_code == 400
    assert client.get(base, params={"answer": "q1:ten"}).status_code == 400
    charts = client.get(base).text
    assert 'href="?from=&amp;to=&amp;answer=q2:Range#responses"' in charts
    page = client.get(base, params={"q": "price"}).text
    assert f'href="/sessions/{session_id}?t=65"' in page
    assert "not recorded" in client.get(base, params={"q": "slow"}).text
    assert "=HYPERLINK(&#34;http://x.example&#34;)" in client.get(base).text


def test_text_answers_come_a_page_at_a_time(
    client: TestClient, alice: Account, answered: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results, "PER_PAGE", 2)
    survey_id, _ = answered
    base = f"/projects/{alice.project.id}/surveys/{survey_id}"
    first = client.get(base).text
    assert re.findall(r'<li data-response="(\d+)">', first) == ["5", "4"]
    assert "page=2" in first
    second = client.get(base, params={"page": "2"}).text
    assert re.findall(r'<li data-response="(\d+)">', second) == ["3", "2"]
    third = client.get(base, params={"page": "3"}).text
    assert re.findall(r'<li data-response="(\d+)">', third) == ["1"]
    assert "Older" not in third


def test_the_csv_has_every_answer_and_no_formula(
    client: TestClient, alice: Account, answered: tuple[int, str]
) -> None:
    survey_id, session_id = answered
    url = f"/projects/{alice.project.id}/surveys/{survey_id}/responses.csv"
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:7] == [
        "response id",
        "state",
        "given at",
        "page url",
        "session id",
        "replay url",
        "visitor id",
    ]
    assert rows[0][7:] == [
        "q1: Recommend us?",
        "q2: What brought you?",
        "q3: Used?",
        "q4: How easy?",
        "q5: Anything else?",
    ]
    by_id = {row[0]: row for row in rows[1:]}
    assert sorted(by_id) == ["1", "2", "3", "4", "5", "7"]  # the shown-only one is left out
    first = by_id["1"]
    assert first[1] == "answered"
    assert first[4] == session_id
    assert first[5] == f"http://testserver/sessions/{session_id}?t=65"
    assert first[7:] == ["10", "Price", "Search; Filters", "5", "Great price range"]
    assert by_id["3"][5].endswith("?t=0")  # answered before the session's first event
    assert by_id["2"][4:6] == ["", ""]
    assert by_id["4"][11] == '\'=HYPERLINK("http://x.example")'
    everything = client.get(url, params={"all": "1"}).text
    assert len(list(csv.reader(io.StringIO(everything)))) == 8
    assert client.get(url, params={"from": "yesterday"}).status_code == 400


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote(value: str) -> None:
    assert results.csv_cell(value) == "'" + value
    assert results.csv_cell("fine - really") == "fine - really"


def test_the_preview_page_has_the_widget_hooks(client: TestClient, alice: Account) -> None:
    login(client, alice.email)
    survey_id = made(client, alice)
    page = client.get(f"/projects/{alice.project.id}/surveys/{survey_id}/preview")
    assert page.status_code == 200
    assert '<script src="/static/build/survey-preview.js" defer></script>' in page.text
    assert 'id="survey-preview-show"' in page.text
    assert '<option value="small">Small screen</option>' in page.text
    found = re.search(
        r'<script type="application/json" id="survey-definition">(.*?)</script>', page.text
    )
    assert found is not None
    config = json.loads(found.group(1))
    assert config["id"] == survey_id
    assert [q["id"] for q in config["questions"]] == ["q1", "q2", "q3", "q4", "q5"]


def test_recorded_text_is_escaped_not_run(client: TestClient, ctx: Context, alice: Account) -> None:
    login(client, alice.email)
    survey_id = made(client, alice)
    start(client, alice, survey_id)
    body = {
        "response_id": "responseXSS00001",
        "survey_id": survey_id,
        "ts": T,
        "url": "https://shop.example/<script>alert(1)</script>",
        "state": "answered",
        "answers": {"q1": 5, "q5": "<img src=x onerror=alert(1)>"},
    }
    assert answer(client, alice, body, "survey").status_code == 202
    page = client.get(f"/projects/{alice.project.id}/surveys/{survey_id}").text
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert(1)" not in page


# -- feedback ---------------------------------------------------------------------------


FEEDBACK = [
    ("feedback00000001", RECORDED, 10_000, 5, "Love the zoom", "main > button#zoom"),
    ("feedback00000002", UNRECORDED, 20_000, 2, "Checkout is CONFUSING", ""),
    ("feedback00000003", RECORDED, 30_000, 4, "", "div.card"),
]


def send_feedback(client: TestClient, ctx: Context, account: Account) -> None:
    with ctx.engine.begin() as conn:
        projects.save_survey_settings(conn, account.project, SurveySettings(feedback=True))
    for key, session_key, offset, rating, comment, selector in FEEDBACK:
        body = {
            "feedback_id": key,
            "session_id": session_key,
            "visitor_id": "visitorFeedback1",
            "ts": T + offset,
            "url": "https://shop.example/products/1",
            "rating": rating,
            "comment": comment,
            "selector": selector,
        }
        sent = answer(client, account, body, "feedback")
        assert sent.status_code == 202, sent.text


def test_the_feedback_list(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    login(client, alice.email)
    session_id = record_session(client, ctx, alice, processor)
    send_feedback(client, ctx, alice)
    url = f"/projects/{alice.project.id}/feedback"
    page = client.get(url)
    assert page.status_code == 200
    assert re.search(r'data-figure="average">.*?3\.67 / 5', page.text)
    assert re.findall(r'<tr data-feedback="(\d+)">', page.text) == ["3", "2", "1"]
    assert f'href="/sessions/{session_id}?t=10"' in page.text
    assert f'href="/sessions/{session_id}?t=30"' in page.text
    assert "<code>main &gt; button#zoom</code>" in page.text
    assert "5 Very good" in page.text
    listed = client.get(url, params={"rating": "2"}).text
    assert re.findall(r'<tr data-feedback="(\d+)">', listed) == ["2"]
    assert "not recorded" in listed
    searched = client.get(url, params={"q": "confusing"}).text
    assert re.findall(r'<tr data-feedback="(\d+)">', searched) == ["2"]
    assert client.get(url, params={"rating": "9"}).status_code == 400
