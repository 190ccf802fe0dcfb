"""Form analytics: figures from recorded sessionlens.form events, checked against
hand-counted fixtures, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import form_field_visit, form_visit
from tests.conftest import Account, batch, login, page_events, send

# Three hours ago: every fixture session has been quiet for over 30 minutes, so a form
# visit without a later page is over too.
NOW = int(time.time() * 1000) - 3 * 3_600_000
DAY = datetime.fromtimestamp(NOW / 1000, UTC).date().isoformat()
TODAY = datetime.now(UTC).date().isoformat()
SHOP = "https://shop.example"
CHECKOUT = "form#checkout"


def fe(
    ts: int,
    act: str,
    field: str = "",
    *,
    length: int = 0,
    changed: bool = False,
    hesitation: int | None = None,
    form: str = CHECKOUT,
    kind: str = "text",
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "act": act,
        "form": form,
        "field": field,
        "type": "form" if act == "submit" else kind,
        "len": length,
        "changed": changed,
    }
    if act == "blur":
        payload["first_input_ms"] = hesitation
    return {"type": 5, "timestamp": ts, "data": {"tag": "sessionlens.form", "payload": payload}}


def filled(
    start: int, end: int, field: str, length: int, hesitation: int | None, **more: Any
) -> list[dict[str, Any]]:
    """Focus a field at `start`, leave it at `end` with `length` characters typed."""
    return [
        fe(start, "focus", field, **more),
        fe(end, "blur", field, length=length, changed=length > 0, hesitation=hesitation, **more),
    ]


def visit(
    client: TestClient,
    account: Account,
    sid: str,
    vid: str,
    start: int,
    batches: list[list[dict[str, Any]]],
) -> None:
    """One session on the checkout page: its page-load batch, then the given batches."""
    for seq, events in enumerate([page_events(f"{SHOP}/checkout", start), *batches]):
        body = batch(
            seq, session_id=sid, visitor_id=vid, url=f"{SHOP}/checkout", start=start, events=events
        )
        assert send(client, account, body).status_code == 202


def record_fixtures(client: TestClient, alice: Account) -> None:
    """Hand-counted, all on /checkout, form#checkout:

    S1 (visitor v1): name 3 s (hesitation 0.5 s), email 5 s (1.5 s), name again 1 s
       (0.2 s, changed after it was left filled: a refill), submit, then /thanks. Success.
    S2 (v2): name focused and left empty 1 s (blank); email focused at the end of one
       batch and left 4 s later in the next (0.9 s); submit, then an invalid email: the
       submit failed; nothing after. Abandoned at email.
    S3 (v1, again): name 2 s (0.3 s), then another page: abandoned at name. On that page
       a search box outside any form is used.
    S4 (v3): the browser's own validation stops a submit (two invalid events, no submit
       event); name 3 s (1 s); submit. Success.
    """
    t = NOW
    visit(
        client,
        alice,
        "sessFORM00000001",
        "visitorFORM00001",
        t,
        [
            [
                *filled(t + 1000, t + 4000, "name", 5, 500),
                *filled(t + 4100, t + 9100, "email", 10, 1500, kind="email"),
                *filled(t + 9200, t + 10_200, "name", 6, 200),
                fe(t + 10_500, "submit"),
                *page_events(f"{SHOP}/thanks", t + 11_000),
            ]
        ],
    )
    t = NOW + 100_000
    visit(
        client,
        alice,
        "sessFORM00000002",
        "visitorFORM00002",
        t,
        [
            [
                *filled(t + 1000, t + 2000, "name", 0, None),
                fe(t + 2100, "focus", "email", kind="email"),
            ],
            [
                fe(t + 6100, "blur", "email", length=4, changed=True, hesitation=900, kind="email"),
                fe(t + 6500, "submit"),
                fe(t + 6600, "invalid", "email"),
            ],
        ],
    )
    t = NOW + 200_000
    visit(
        client,
        alice,
        "sessFORM00000003",
        "visitorFORM00001",
        t,
        [
            [
                *filled(t + 1000, t + 3000, "name", 4, 300),
                *page_events(f"{SHOP}/search", t + 5000),
                *filled(t + 6000, t + 7000, "q", 3, 100, form="", kind="search"),
            ]
        ],
    )
    t = NOW + 300_000
    visit(
        client,
        alice,
        "sessFORM00000004",
        "visitorFORM00003",
        t,
        [
            [
                fe(t + 1000, "invalid", "name"),
                fe(t + 1001, "invalid", "email"),
                *filled(t + 2000, t + 5000, "name", 3, 1000),
                fe(t + 6000, "submit"),
            ]
        ],
    )


@pytest.fixture
def recorded(client: TestClient, alice: Account, processor: Processor) -> None:
    record_fixtures(client, alice)
    processor.drain()


def get(client: TestClient, account: Account, query: str = "") -> Any:
    auth = {"Authorization": f"Bearer {account.token}"}
    return client.get(
        f"/api/v1/projects/{account.project.id}/forms?from={DAY}&to={TODAY}{query}",
        headers=auth,
    )


def test_form_figures_match_the_hand_counted_sessions(
    recorded: None, client: TestClient, alice: Account
) -> None:
    answer = get(client, alice, "&url=/checkout")
    assert answer.status_code == 200
    data = answer.json()
    assert data["url"] == "/checkout"
    [form] = data["forms"]
    assert form["form"] == CHECKOUT
    assert form["paths"] == ["/checkout"]
    assert (form["interactions"], form["visitors"], form["submits"]) == (4, 3, 3)
    assert (form["successes"], form["abandoned"], form["success_rate"]) == (2, 2, 0.5)
    fields = {f["field"]: f for f in form["fields"]}
    assert [f["field"] for f in form["fields"]] == ["name", "email"]  # the usual order
    assert fields["name"] == {
        "field": "name",
        "type": "text",
        "visitors": 3,
        "interactions": 4,
        "avg_time_ms": 2500,  # (3000 + 1000) + 1000 + 2000 + 3000, over 4 interactions
        "avg_hesitation_ms": 500,  # 500, 200, 300, 1000 (the blank blur had no input)
        "refills": 1,
        "left_blank": 1,
        "abandoned_here": 1,
    }
    assert fields["email"] == {
        "field": "email",
        "type": "email",
        "visitors": 2,
        "interactions": 2,
        "avg_time_ms": 4500,  # 5000 and 4000: the second spans two batches
        "avg_hesitation_ms": 1200,
        "refills": 0,
        "left_blank": 0,
        "abandoned_here": 1,
    }


def test_fields_outside_a_form_are_listed_without_a_success_rate(
    recorded: None, client: TestClient, alice: Account
) -> None:
    forms = {f["form"]: f for f in get(client, alice).json()["forms"]}
    assert set(forms) == {CHECKOUT, ""}
    loose = forms[""]
    assert loose["paths"] == ["/search"]
    assert (loose["successes"], loose["abandoned"], loose["success_rate"]) == (None, None, None)
    assert [(f["field"], f["avg_time_ms"], f["abandoned_here"]) for f in loose["fields"]] == [
        ("q", 1000, 0)
    ]
    assert [f["form"] for f in get(client, alice, "&url=/che*").json()["forms"]] == [CHECKOUT]
    assert get(client, alice, "&url=/nowhere").json()["forms"] == []
    full_url = get(client, alice, f"&url={SHOP}/search").json()
    assert full_url["url"] == "/search"
    assert [f["form"] for f in full_url["forms"]] == [""]


def test_a_visit_still_in_progress_is_neither_success_nor_abandoned(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    t = int(time.time() * 1000) - 60_000  # a minute ago: the session may go on
    visit(
        client,
        alice,
        "sessFORM00000009",
        "visitorFORM00009",
        t,
        [filled(t + 10, t + 20, "name", 2, 5)],
    )
    processor.drain()
    [form] = get(client, alice).json()["forms"]
    assert (form["interactions"], form["successes"], form["abandoned"]) == (1, 0, 0)
    assert form["success_rate"] is None


def test_processing_the_log_again_changes_nothing(
    recorded: None, client: TestClient, alice: Account, ctx: Context, processor: Processor
) -> None:
    def rows() -> tuple[list[Any], list[Any]]:
        with ctx.engine.connect() as conn:
            visits = conn.execute(select(form_visit).order_by(form_visit.c.id)).all()
            fields = conn.execute(
                select(form_field_visit).order_by(
                    form_field_visit.c.visit_id, form_field_visit.c.field
                )
            ).all()
        return [tuple(r) for r in visits], [tuple(r) for r in fields]

    before, report = rows(), get(client, alice).json()
    with ctx.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ingest_log SET processed_at = NULL")
    processor.drain()
    assert rows() == before
    assert get(client, alice).json() == report


def test_the_batches_of_a_visit_can_arrive_one_by_one(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    """Each batch processed before the next arrives: the open focus and the filled flag
    are carried in the rows."""
    t = NOW
    sid, vid = "sessFORM00000010", "visitorFORM00010"
    parts = [
        page_events(f"{SHOP}/checkout", t),
        [fe(t + 1000, "focus", "name")],
        [fe(t + 3000, "blur", "name", length=4, changed=True, hesitation=400)],
        [fe(t + 4000, "focus", "name")],
        [fe(t + 5000, "blur", "name", length=2, changed=True, hesitation=100)],
    ]
    for seq, events in enumerate(parts):
        body = batch(
            seq, session_id=sid, visitor_id=vid, url=f"{SHOP}/checkout", start=t, events=events
        )
        assert send(client, alice, body).status_code == 202
        processor.drain()
    [form] = get(client, alice).json()["forms"]
    [name] = form["fields"]
    assert (name["avg_time_ms"], name["avg_hesitation_ms"], name["refills"]) == (3000, 250, 1)
    assert (form["abandoned"], name["abandoned_here"], name["left_blank"]) == (1, 1, 0)


def test_malformed_form_events_are_skipped(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    t = NOW
    bad = [
        {"type": 5, "timestamp": t + 1, "data": {"tag": "sessionlens.form", "payload": "x"}},
        {"type": 5, "timestamp": t + 2, "data": {"tag": "sessionlens.form", "payload": {}}},
        fe(t + 3, "hover", "name"),
        fe(t + 4, "focus", ""),
        {
            "type": 5,
            "timestamp": t + 5,
            "data": {"tag": "sessionlens.form", "payload": {"act": "blur", "field": 7}},
        },
        *filled(t + 10, t + 20, "x" * 300, 10**9, -5),
    ]
    visit(client, alice, "sessFORM00000011", "visitorFORM00011", t, [bad])
    processor.drain()
    [form] = get(client, alice).json()["forms"]
    [field] = form["fields"]
    assert field["field"] == "x" * 100
    assert field["avg_hesitation_ms"] is None  # a negative delay is not a delay


@pytest.mark.parametrize(
    "query",
    [
        "&url=checkout",
        "&url=" + "/a" * 300,
        "&url=/a%0Ab",
        "&from=yesterday",
        "&from=2026-01-05&to=2026-01-01",
    ],
)
def test_bad_input_is_a_400(client: TestClient, alice: Account, query: str) -> None:
    auth = {"Authorization": f"Bearer {alice.token}"}
    answer = client.get(f"/api/v1/projects/{alice.project.id}/forms?{query[1:]}", headers=auth)
    assert answer.status_code == 400
    assert "error" in answer.json()


def test_another_organisation_sees_nothing(
    recorded: None, client: TestClient, alice: Account, bob: Account
) -> None:
    auth = {"Authorization": f"Bearer {bob.token}"}
    assert client.get(f"/api/v1/projects/{alice.project.id}/forms", headers=auth).status_code == 404
    login(client, bob.email)
    assert client.get(f"/projects/{alice.project.id}/forms").status_code == 404


def test_console_page_lists_the_forms_and_their_fields(
    recorded: None, client: TestClient, alice: Account
) -> None:
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}/forms?url=/checkout&from={DAY}&to={TODAY}")
    assert page.status_code == 200
    assert f'data-form="{CHECKOUT}"' in page.text
    assert 'data-field="name"' in page.text
    assert 'data-field="email"' in page.text
    assert "50.0%" in page.text
    assert "<script>" not in page.text
    bad = client.get(f"/projects/{alice.project.id}/forms?url=nope")
    assert bad.status_code == 400
    assert "url must be a path" in bad.text
