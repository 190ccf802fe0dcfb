"""Sign-up, email links, invitations, roles and the audit log."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens import projects
from sessionlens.accounts import mail, users
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import audit_log, session
from tests.conftest import PASSWORD, Account, batch, login, send


def csrf_of(text: str) -> str:
    return text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def last_link(path: str) -> str:
    body = mail.outbox[-1].get_content()
    found = re.search(rf"http://testserver({re.escape(path)}/[A-Za-z0-9_-]+)", body)
    assert found, body
    return found.group(1)


@pytest.fixture(autouse=True)
def _empty_outbox() -> None:
    mail.outbox.clear()


def signup(client: TestClient, email: str = "zoe@example.com") -> None:
    page = client.get("/signup")
    response = client.post(
        "/signup",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "Zoe",
            "email": email,
            "password": "zoe's long password",
            "website": "https://zoe.example/shop",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_signup_creates_organisation_project_and_shows_the_snippet(
    client: TestClient, ctx: Context
) -> None:
    signup(client)
    page = client.get("/projects")
    assert "zoe.example" in page.text
    assert "data-project=" in page.text
    with ctx.engine.connect() as conn:
        user = users.find_user(conn, "zoe@example.com")
        assert user is not None
        assert not users.is_verified(conn, user.id)
        [mine] = projects.for_user(conn, user.id)
    assert mine.website_origins == ("https://zoe.example",)
    verify = last_link("/verify")
    assert client.get(verify).status_code == 200
    assert client.get(verify).status_code == 404  # one use only
    with ctx.engine.connect() as conn:
        assert users.is_verified(conn, user.id)


def test_signup_never_joins_an_organisation_of_the_same_name(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    page = client.get("/signup")
    client.post(
        "/signup",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "Alice",
            "email": "other-alice@example.com",
            "password": "a long password here",
            "website": "https://x.example",
        },
    )
    with ctx.engine.connect() as conn:
        intruder = users.find_user(conn, "other-alice@example.com")
        assert intruder is not None
        assert alice.org_id not in users.organisation_ids(conn, intruder.id)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "nope", "not an email address"),
        ("password", "short", "at least 10"),
        ("website", "shop", "not a website origin"),
    ],
)
def test_signup_errors_are_400(client: TestClient, field: str, value: str, message: str) -> None:
    page = client.get("/signup")
    data = {
        "csrf_token": csrf_of(page.text),
        "name": "Zoe",
        "email": "zoe@example.com",
        "password": "a long password",
        "website": "https://zoe.example",
        field: value,
    }
    response = client.post("/signup", data=data)
    assert response.status_code == 400
    assert message in response.text


@pytest.fixture
def closed_client(ctx: Context) -> Iterator[TestClient]:
    closed = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, signup=False))
    with TestClient(create_app(closed, run_processor=False)) as client:
        yield client


def test_signup_can_be_turned_off(closed_client: TestClient) -> None:
    assert closed_client.get("/signup").status_code == 404
    assert closed_client.post("/signup", data={}).status_code == 404
    assert "Create an account" not in closed_client.get("/login").text


def test_password_reset_by_emailed_link(client: TestClient, alice: Account) -> None:
    page = client.get("/password/forgot")
    sent = client.post(
        "/password/forgot", data={"csrf_token": csrf_of(page.text), "email": alice.email}
    )
    assert "If that address has an account" in sent.text
    link = last_link("/password/reset")
    form = client.get(link)
    done = client.post(
        link,
        data={"csrf_token": csrf_of(form.text), "password": "a brand new password"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get(link).status_code == 404
    client.cookies.clear()
    login(client, alice.email, "a brand new password")


def test_reset_request_does_not_reveal_unknown_addresses(client: TestClient) -> None:
    page = client.get("/password/forgot")
    sent = client.post(
        "/password/forgot", data={"csrf_token": csrf_of(page.text), "email": "nobody@example.com"}
    )
    assert sent.status_code == 200
    assert "If that address has an account" in sent.text
    assert mail.outbox == []


def invite(client: TestClient, account: Account, email: str, role: str = "member") -> str:
    login(client, account.email)
    page = client.get(f"/organisations/{account.org_id}")
    response = client.post(
        f"/organisations/{account.org_id}/invites",
        data={"csrf_token": csrf_of(page.text), "email": email, "role": role},
        follow_redirects=False,
    )
    assert response.status_code == 303
    client.cookies.clear()
    return last_link("/invites")


def test_invited_newcomer_joins_with_the_role(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    link = invite(client, alice, "nina@example.com", "admin")
    form = client.get(link)
    assert "Join Alice" in form.text
    joined = client.post(
        link,
        data={"csrf_token": csrf_of(form.text), "name": "Nina", "password": "nina's long password"},
        follow_redirects=False,
    )
    assert joined.status_code == 303
    with ctx.engine.connect() as conn:
        nina = users.find_user(conn, "nina@example.com")
        assert nina is not None
        assert projects.role_in(conn, nina.id, alice.org_id) == "admin"
    assert client.get(link).status_code == 404


def test_existing_user_joins_with_their_password(
    client: TestClient, ctx: Context, alice: Account, bob: Account
) -> None:
    link = invite(client, alice, bob.email)
    form = client.get(link)
    wrong = client.post(link, data={"csrf_token": csrf_of(form.text), "password": "nope"})
    assert wrong.status_code == 400
    right = client.post(
        link, data={"csrf_token": csrf_of(form.text), "password": PASSWORD}, follow_redirects=False
    )
    assert right.status_code == 303
    with ctx.engine.connect() as conn:
        assert projects.role_in(conn, bob.user_id, alice.org_id) == "member"


def test_member_restricted_to_one_project_sees_only_it(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    with ctx.engine.begin() as conn:
        extra = projects.create_project(conn, alice.org_id, "Docs", ["https://docs.example"])
        member, _ = users.create_user(conn, "max@example.com", "Max", PASSWORD, org_name="Alice")
    send(client, alice, batch(0))
    processor.drain()
    login(client, alice.email)
    page = client.get(f"/organisations/{alice.org_id}")
    client.post(
        f"/organisations/{alice.org_id}/members/{member.id}",
        data={
            "csrf_token": csrf_of(page.text),
            "role": "member",
            "projects": [str(extra.id)],
            "action": "update",
        },
    )
    client.cookies.clear()
    login(client, "max@example.com")
    listing = client.get("/projects").text
    assert "Docs" in listing
    assert "Shop" not in listing
    assert client.get(f"/projects/{alice.project.id}").status_code == 404
    with ctx.engine.connect() as conn:
        session_id = conn.execute(select(session.c.id)).scalar_one()
    assert client.get(f"/sessions/{session_id}").status_code == 404
    assert client.get(f"/organisations/{alice.org_id}").status_code == 403


def test_admins_cannot_make_owners_and_the_last_owner_stays(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    with ctx.engine.begin() as conn:
        admin, _ = users.create_user(conn, "ada@example.com", "Ada", PASSWORD, org_name="Alice")
        from sessionlens.accounts import members

        members.change(conn, alice.org_id, "owner", admin.id, "admin", [])
    login(client, "ada@example.com")
    page = client.get(f"/organisations/{alice.org_id}")
    response = client.post(
        f"/organisations/{alice.org_id}/members/{admin.id}",
        data={"csrf_token": csrf_of(page.text), "role": "owner", "action": "update"},
    )
    assert "only an owner" in response.text
    client.cookies.clear()
    login(client, alice.email)
    page = client.get(f"/organisations/{alice.org_id}")
    response = client.post(
        f"/organisations/{alice.org_id}/members/{alice.user_id}",
        data={"csrf_token": csrf_of(page.text), "role": "member", "action": "update"},
    )
    assert "at least one owner" in response.text
    with ctx.engine.connect() as conn:
        assert projects.role_in(conn, alice.user_id, alice.org_id) == "owner"


def test_audit_log_records_logins_views_and_member_changes(
    client: TestClient, ctx: Context, alice: Account, bob: Account, processor: Processor
) -> None:
    send(client, alice, batch(0))
    processor.drain()
    page = client.get("/login")
    client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "email": alice.email, "password": "wrong one"},
    )
    login(client, alice.email)
    with ctx.engine.connect() as conn:
        session_id = conn.execute(select(session.c.id)).scalar_one()
    client.get(f"/sessions/{session_id}")
    audit_page = client.get(f"/organisations/{alice.org_id}/audit")
    assert audit_page.status_code == 200
    for action in ("login.failure", "login.success", "recording.view"):
        assert action in audit_page.text
    with ctx.engine.connect() as conn:
        actions = {
            r.action
            for r in conn.execute(
                select(audit_log.c.action).where(audit_log.c.organisation_id == alice.org_id)
            )
        }
    assert {"login.failure", "login.success", "recording.view"} <= actions
    client.cookies.clear()
    login(client, bob.email)
    assert client.get(f"/organisations/{alice.org_id}/audit").status_code == 404


def test_owner_deletes_the_organisation_with_its_recordings(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    send(client, alice, batch(0))
    processor.drain()
    assert ctx.blobs.list()
    login(client, alice.email)
    page = client.get(f"/organisations/{alice.org_id}")
    kept = client.post(
        f"/organisations/{alice.org_id}/delete",
        data={"csrf_token": csrf_of(page.text), "confirm": "wrong"},
    )
    assert "Type the organisation" in kept.text
    gone = client.post(
        f"/organisations/{alice.org_id}/delete",
        data={"csrf_token": csrf_of(page.text), "confirm": "Alice"},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert ctx.blobs.list() == []
    with ctx.engine.connect() as conn:
        assert projects.by_id(conn, alice.project.id) is None
