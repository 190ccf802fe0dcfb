"""Surveys and the feedback button in chromium, on the demo shop: a targeted visitor answers a
survey with the keyboard alone and it shows on the results page and the replay's timeline; the
next page within the frequency window shows none; a visitor sending Do-Not-Track or Global
Privacy Control, or who opted out, never sees one; an exit-intent survey waits for the pointer
to leave; a phone gets a bar, then a sheet over at most half the screen; feedback points at
an element."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request
from sqlalchemy import Engine, select

from sessionlens import projects
from sessionlens.storage.engine import make_engine
from sessionlens.storage.tables import project
from sessionlens.surveys import definition, store
from sessionlens.surveys.settings import SurveySettings
from tests.browser import chromium
from tests.server import Server, running_server
from tests.test_e2e_browser import ADMIN, api_token

pytestmark = pytest.mark.browser

PRODUCT = "/demo/products/aurora-desk-lamp"
OTHER_PRODUCT = "/demo/products"
SURVEY = {
    "intro": "Two quick questions about the shop.",
    "thanks": "Thank you, that helps.",
    "questions": [
        {"id": "q1", "kind": "nps", "text": "How likely to recommend us?", "required": True},
        {
            "id": "q2",
            "kind": "single",
            "text": "What brought you here?",
            "choices": ["Price", "Range", "Delivery"],
        },
        {"id": "q3", "kind": "text", "text": "Anything else?"},
    ],
    "targeting": {"pages": ["/demo/products/*"], "share": 100},
    "trigger": {"kind": "delay", "seconds": 1},
    "theme": {"color": "#1d6b48", "position": "bottom-right"},
    "texts": {"title": "Zwei kurze Fragen", "submit": "Absenden"},
}
COMMENT = "The zoom button does nothing"
DNT = "Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})"
GPC = "Object.defineProperty(navigator, 'globalPrivacyControl', {get: () => true})"
LEAVE = (
    "() => document.dispatchEvent(new MouseEvent('mouseout',"
    " {bubbles: true, clientX: 600, clientY: -2, relatedTarget: null}))"
)
ACTIVE = (
    "() => { const h = document.getElementById('sessionlens-survey');"
    " const a = h && h.shadowRoot && h.shadowRoot.activeElement;"
    " return a ? (a.className || '') + '|' + (a.getAttribute('value') || '') + '|'"
    " + (a.tagName || '') : ''; }"
)


def set_up(engine: Engine) -> tuple[int, list[int]]:
    """Two live surveys on the product pages, one on exit intent from the cart, and the
    feedback button on."""
    with engine.begin() as conn:
        project_id = int(conn.execute(select(project.c.id)).scalar_one())
        found = projects.by_id(conn, project_id)
        assert found is not None
        chosen = SurveySettings(every_days=30, feedback=True, feedback_texts=(("send", "Senden"),))
        projects.save_survey_settings(conn, found, chosen)
        ids = []
        for name in ("Shop NPS", "Second survey"):
            made = store.create(
                conn, project_id, name, definition.parse(SURVEY), None, status="active"
            )
            ids.append(made.id)
        on_exit = SURVEY | {
            "targeting": {"pages": ["/demo/cart"]},
            "trigger": {"kind": "exit", "seconds": 0},
        }
        made = store.create(
            conn, project_id, "Leaving", definition.parse(on_exit), None, status="active"
        )
        ids.append(made.id)
    return project_id, ids


def sent_to(requests: list[Request], path: str) -> list[Any]:
    return [r.post_data_json for r in requests if r.method == "POST" and r.url.endswith(path)]


def context_with_log(browser: Browser, requests: list[Request], **options: Any) -> BrowserContext:
    context = browser.new_context(**options)
    context.on("request", lambda request: requests.append(request))
    return context


def tab_to(page: Page, wanted: str, limit: int = 40) -> None:
    """Press Tab until the widget's focused element description contains `wanted`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if wanted in page.evaluate(ACTIVE):
            return
    raise AssertionError(f"Tab never reached {wanted!r}; last: {page.evaluate(ACTIVE)!r}")


def answer_with_the_keyboard(page: Page) -> None:
    dialog = page.locator("#sessionlens-survey .sl-dialog")
    dialog.wait_for(state="visible", timeout=10_000)
    assert dialog.get_attribute("role") == "dialog"
    assert "Two quick questions" in dialog.inner_text()
    assert "Zwei kurze Fragen" in dialog.inner_text()  # the widget's words, as the survey says
    # Nothing was focused on the page, so the survey took the focus.
    page.wait_for_function(f"() => ({ACTIVE})() !== ''")
    # Next without an answer to the required question: told so, and still on it.
    tab_to(page, "sl-next")
    page.keyboard.press("Enter")
    alert = page.locator("#sessionlens-survey .sl-error")
    alert.wait_for(state="visible")
    assert alert.get_attribute("role") == "alert"
    # A radio group is one Tab stop; arrows move through it, choosing as they go.
    tab_to(page, "|0|INPUT")
    for _ in range(9):
        page.keyboard.press("ArrowRight")
    tab_to(page, "sl-next")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sessionlens-survey legend:has-text('What brought you here?')")
    tab_to(page, "|Price|INPUT")
    page.keyboard.press("ArrowDown")  # arrows move through a radio group: Range
    tab_to(page, "sl-next")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sessionlens-survey legend:has-text('Anything else?')")
    tab_to(page, "TEXTAREA")
    page.keyboard.type(COMMENT)
    tab_to(page, "sl-submit")
    assert page.locator("#sessionlens-survey .sl-submit").inner_text() == "Absenden"
    page.keyboard.press("Enter")
    thanks = page.locator("#sessionlens-survey .sl-thanks")
    thanks.wait_for(state="visible")
    assert "Thank you, that helps." in thanks.inner_text()


def give_feedback(page: Page) -> None:
    page.locator("#sessionlens-feedback .sl-fb-tab").click()
    page.locator("#sessionlens-feedback input[name=rating][value='2']").check()
    page.locator("#sessionlens-feedback .sl-fb-comment").fill(COMMENT)
    page.locator("#sessionlens-feedback .sl-fb-pick").click()
    page.locator("#zoom").click()  # picked, not pressed
    send = page.locator("#sessionlens-feedback .sl-fb-send")
    assert send.inner_text() == "Senden"  # the panel's words, as the project says
    send.click()


def visit(browser: Browser, server: Server, requests: list[Request]) -> None:
    """Answer the first survey, find none on the next page, and leave feedback there."""
    context = context_with_log(browser, requests, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.base_url}/demo/")
    page.wait_for_function("() => window.sessionlens.status() === 'recording'")
    page.wait_for_timeout(2000)
    assert page.locator("#sessionlens-survey").count() == 0  # not a targeted page
    page.goto(f"{server.base_url}{PRODUCT}")
    answer_with_the_keyboard(page)
    page.wait_for_timeout(500)
    # Within the frequency window: the second survey is not shown on the next page.
    page.goto(f"{server.base_url}{PRODUCT}?again=1")
    page.wait_for_function("() => window.sessionlens.status() === 'recording'")
    page.wait_for_timeout(3000)
    assert page.locator("#sessionlens-survey .sl-dialog").count() == 0
    give_feedback(page)
    page.wait_for_timeout(2500)  # one more flush of the 2 s batcher
    context.close()


def never_for(browser: Browser, server: Server, why: str) -> None:
    """A visitor who sends Do-Not-Track or Global Privacy Control, or who opted out on an
    earlier page, is never invited."""
    requests: list[Request] = []
    context = context_with_log(browser, requests, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    if why == "do-not-track":
        context.add_init_script(DNT)
    elif why == "global-privacy-control":
        context.add_init_script(GPC)
    else:
        page.goto(f"{server.base_url}/demo/")
        page.wait_for_function("() => window.sessionlens.status() === 'recording'")
        page.evaluate("() => window.sessionlens.optOut()")
    page.goto(f"{server.base_url}{PRODUCT}")
    page.wait_for_function(f"() => window.sessionlens.status() === '{why}'")
    page.wait_for_timeout(3000)
    assert page.locator("#sessionlens-survey").count() == 0
    assert page.locator("#sessionlens-feedback").count() == 0
    assert not [r for r in requests if "/survey" in r.url or "/feedback" in r.url]
    context.close()


def on_a_phone(browser: Browser, server: Server, requests: list[Request]) -> None:
    """A bar first; opened, a sheet over at most half of the screen; closing dismisses."""
    context = context_with_log(
        browser,
        requests,
        viewport={"width": 375, "height": 667},
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.goto(f"{server.base_url}{PRODUCT}")
    bar = page.locator("#sessionlens-survey .sl-open")
    bar.wait_for(state="visible", timeout=10_000)
    box = page.locator("#sessionlens-survey").bounding_box()
    host_height = page.evaluate(
        "() => document.getElementById('sessionlens-survey').shadowRoot"
        ".querySelector('.sl-dialog, .sl-bar').getBoundingClientRect().height"
    )
    assert host_height <= 100, host_height
    bar.click()
    page.locator("#sessionlens-survey legend").first.wait_for(state="visible")
    sheet = page.evaluate(
        "() => document.getElementById('sessionlens-survey').shadowRoot"
        ".querySelector('.sl-dialog').getBoundingClientRect().toJSON()"
    )
    assert sheet["height"] <= 667 / 2 + 1, sheet
    assert sheet["bottom"] <= 667 + 1, sheet
    assert box is not None
    page.locator("#sessionlens-survey .sl-close").click()
    page.wait_for_timeout(1000)
    assert page.locator("#sessionlens-survey .sl-dialog").count() == 0
    context.close()


def on_exit(browser: Browser, server: Server, survey_id: int) -> None:
    """An exit-intent survey waits on the page until the pointer leaves through the top."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.base_url}/demo/cart")
    page.wait_for_function("() => window.sessionlens.status() === 'recording'")
    page.mouse.move(600, 400)
    page.wait_for_timeout(2500)
    assert page.locator("#sessionlens-survey").count() == 0
    page.evaluate(LEAVE)
    dialog = page.locator("#sessionlens-survey .sl-dialog")
    dialog.wait_for(state="visible", timeout=5000)
    assert page.locator("#sessionlens-survey").get_attribute("data-survey-id") == str(survey_id)
    page.keyboard.press("Escape")  # dismissed
    page.wait_for_timeout(500)
    assert page.locator("#sessionlens-survey .sl-dialog").count() == 0
    context.close()


def wait_for(url: str, token: str, check: Any, what: str) -> Any:
    deadline = time.monotonic() + 30
    body: Any = None
    while time.monotonic() < deadline:
        body = httpx.get(url, headers={"Authorization": f"Bearer {token}"}).json()
        if check(body):
            return body
        time.sleep(0.3)
    raise AssertionError(f"{what} did not arrive: {body}")


def check_console(browser: Browser, server: Server, project_id: int, survey_id: int) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.base_url}/projects/{project_id}/surveys/{survey_id}")
    page.fill("#email", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"**/projects/{project_id}/surveys/{survey_id}")
    results = page.inner_text("main")
    assert COMMENT in results
    replay = page.locator("a", has_text="Replay").first
    href = replay.get_attribute("href") or ""
    assert "/sessions/" in href
    assert "?t=" in href
    replay.click()
    page.wait_for_selector("#player[data-state=complete]", state="attached", timeout=20_000)
    texts = page.locator("#timeline li").all_inner_texts()
    assert any("Survey" in t and "Shop NPS: answered" in t for t in texts), texts
    assert any("Feedback" in t and "Bad (2/5)" in t and COMMENT in t for t in texts), texts
    assert "#zoom" in page.inner_text("#said")
    # The builder's preview shows the real widget, and stores nothing.
    page.goto(f"{server.base_url}/projects/{project_id}/surveys/{survey_id}/preview")
    page.locator("#survey-preview-show").click()
    preview = page.locator("#sessionlens-survey .sl-dialog")
    preview.wait_for(state="visible")
    assert "How likely to recommend us?" in preview.inner_text()
    assert not errors, errors
    page.close()


def test_surveys_and_feedback_in_the_browser(tmp_path: Path, database_url: str) -> None:
    with running_server(tmp_path / "server-data", database_url) as server:
        engine = make_engine(database_url)
        try:
            token = api_token(engine)
            project_id, (first, _second, leaving) = set_up(engine)
        finally:
            engine.dispose()
        requests: list[Request] = []
        with chromium() as browser:
            visit(browser, server, requests)
            never_for(browser, server, "do-not-track")
            never_for(browser, server, "global-privacy-control")
            never_for(browser, server, "opted-out")
            on_exit(browser, server, leaving)
            on_a_phone(browser, server, requests)
            answers = sent_to(requests, "/survey")
            assert {a["survey_id"] for a in answers} == {first}  # the second never showed
            api = f"{server.base_url}/api/v1/projects/{project_id}/surveys/{first}/responses"
            body = wait_for(
                api,
                token,
                lambda b: (
                    sorted(r["state"] for r in b.get("responses", [])) == ["answered", "dismissed"]
                ),
                "the answers",
            )
            answered = next(r for r in body["responses"] if r["state"] == "answered")
            assert answered["answers"] == {"q1": 9, "q2": "Range", "q3": COMMENT}
            assert answered["session_id"]
            feedback = wait_for(
                f"{server.base_url}/api/v1/projects/{project_id}/feedback",
                token,
                lambda b: len(b.get("feedback", [])) == 1,
                "the feedback",
            )["feedback"][0]
            assert (feedback["rating"], feedback["comment"]) == (2, COMMENT)
            assert feedback["selector"].endswith("#zoom")
            check_console(browser, server, project_id, first)
