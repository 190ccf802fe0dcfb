"""Second factor, login throttling and API token scopes."""

from __future__ import annotations

import time

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import update

from sessionlens.accounts import tokens, twofactor
from sessionlens.context import Context
from sessionlens.storage.tables import audit_log, utcnow
from tests.conftest import PASSWORD, Account, batch, login, send


def csrf_of(text: str) -> str:
    return text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def password_step(client: TestClient, email: str, password: str = PASSWORD) -> object:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password},
        follow_redirects=False,
    )


def turn_on_2fa(client: TestClient, account: Account) -> tuple[str, list[str]]:
    login(client, account.email)
    page = client.get("/account")
    secret = page.text.split('name="secret" value="', 1)[1].split('"', 1)[0]
    code = pyotp.TOTP(secret).at(time.time() - 30)  # the previous step, so the next is fresh
    done = client.post(
        "/account/2fa/enable",
        data={"csrf_token": csrf_of(page.text), "secret": secret, "code": code},
    )
    assert done.status_code == 200, done.text
    codes = [c.split("</code>")[0] for c in done.text.split("<li><code>")[1:]]
    assert len(codes) == 10
    client.cookies.clear()
    return secret, codes


def test_second_factor_is_asked_after_the_password(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    secret, _ = turn_on_2fa(client, alice)
    first = password_step(client, alice.email)
    assert first.headers["location"].startswith("/login/2fa")
    assert "sl_login" not in client.cookies
    form = client.get("/login/2fa")
    wrong = client.post("/login/2fa", data={"csrf_token": csrf_of(form.text), "code": "000000"})
    assert wrong.status_code == 400
    code = pyotp.TOTP(secret).now()
    right = client.post(
        "/login/2fa", data={"csrf_token": csrf_of(form.text), "code": code}, follow_redirects=False
    )
    assert right.status_code == 303
    assert client.get("/projects").status_code == 200
    # The same code cannot be used twice.
    client.cookies.clear()
    password_step(client, alice.email)
    form = client.get("/login/2fa")
    again = client.post("/login/2fa", data={"csrf_token": csrf_of(form.text), "code": code})
    assert again.status_code == 400


def test_recovery_code_works_once(client: TestClient, alice: Account) -> None:
    _, codes = turn_on_2fa(client, alice)
    for expected in (303, 400):
        client.cookies.clear()
        password_step(client, alice.email)
        form = client.get("/login/2fa")
        answer = client.post(
            "/login/2fa",
            data={"csrf_token": csrf_of(form.text), "code": codes[0]},
            follow_redirects=False,
        )
        assert answer.status_code == expected


def test_second_step_without_the_password_step_goes_back_to_login(
    client: TestClient, alice: Account
) -> None:
    response = client.get("/login/2fa", follow_redirects=False)
    assert response.headers["location"] == "/login"
    client.cookies.set("sl_mfa", "1.9999999999.forged")
    assert client.get("/login/2fa", follow_redirects=False).headers["location"] == "/login"


def test_totp_secret_is_stored_encrypted(ctx: Context, alice: Account) -> None:
    secret = twofactor.new_secret()
    with ctx.engine.begin() as conn:
        assert (
            twofactor.enable(
                conn, ctx.settings.secret_key, alice.user_id, secret, pyotp.TOTP(secret).now()
            )
            is not None
        )
        from sqlalchemy import select

        from sessionlens.storage.tables import users

        stored = conn.execute(
            select(users.c.totp_secret).where(users.c.id == alice.user_id)
        ).scalar_one()
    assert secret not in stored


def test_organisation_can_require_a_second_factor(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    login(client, alice.email)
    page = client.get(f"/organisations/{alice.org_id}")
    client.post(
        f"/organisations/{alice.org_id}/settings",
        data={"csrf_token": csrf_of(page.text), "require_2fa": "1"},
    )
    response = client.get("/projects", follow_redirects=False)
    assert response.headers["location"] == "/account?required=1"
    assert client.get("/account").status_code == 200
    with ctx.engine.begin() as conn:
        assert twofactor.required_for(conn, alice.user_id)


def test_failed_logins_are_throttled_per_account(client: TestClient, alice: Account) -> None:
    for _ in range(5):
        assert password_step(client, alice.email, "wrong password").status_code == 400
    blocked = password_step(client, alice.email)  # even the right password waits now
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many failed attempts" in blocked.text


def test_throttle_ends_after_the_window(client: TestClient, ctx: Context, alice: Account) -> None:
    from datetime import timedelta

    for _ in range(5):
        password_step(client, alice.email, "wrong password")
    with ctx.engine.begin() as conn:
        conn.execute(update(audit_log).values(at=utcnow() - timedelta(minutes=16)))
    assert password_step(client, alice.email).status_code == 303


def test_failed_logins_are_throttled_per_address(ctx: Context, alice: Account) -> None:
    from sessionlens.app import create_app

    app = create_app(ctx, run_processor=False)
    with TestClient(app, client=("203.0.113.5", 40000)) as attacker:
        for n in range(20):
            password_step(attacker, f"nobody{n}@example.com", "wrong password")
        assert password_step(attacker, alice.email).status_code == 429
    with TestClient(app, client=("198.51.100.9", 40000)) as elsewhere:
        assert password_step(elsewhere, alice.email).status_code == 303


def test_read_only_token_cannot_erase(client: TestClient, ctx: Context, alice: Account) -> None:
    with ctx.engine.begin() as conn:
        read_only = tokens.create_api_token(conn, alice.user_id, "ro")
    response = client.post(
        f"/api/v1/projects/{alice.project.id}/visitors/erase",
        json={"visitor_id": "visitorBBB0001"},
        headers={"Authorization": f"Bearer {read_only}"},
    )
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]


def test_token_sees_only_its_organisation(
    client: TestClient, ctx: Context, alice: Account, bob: Account
) -> None:
    from sessionlens.accounts import members

    send(client, bob, batch(0, url="https://blog.example/"))
    with ctx.engine.begin() as conn:
        members.add(conn, bob.org_id, alice.user_id, "member")  # alice is in both now
        scoped = tokens.create_api_token(conn, alice.user_id, "a", alice.org_id)
        other = tokens.create_api_token(conn, alice.user_id, "b", bob.org_id)
    names = {
        p["name"]
        for p in client.get(
            "/api/v1/projects", headers={"Authorization": f"Bearer {scoped}"}
        ).json()["projects"]
    }
    assert names == {"Shop"}
    names = {
        p["name"]
        for p in client.get(
            "/api/v1/projects", headers={"Authorization": f"Bearer {other}"}
        ).json()["projects"]
    }
    assert names == {"Blog"}
    assert (
        client.get(
            f"/api/v1/projects/{bob.project.id}/sessions",
            headers={"Authorization": f"Bearer {scoped}"},
        ).status_code
        == 404
    )


def test_token_stops_when_its_user_leaves_the_organisation(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    from sessionlens.accounts import members, users

    with ctx.engine.begin() as conn:
        member, _ = users.create_user(conn, "lou@example.com", "Lou", PASSWORD, org_name="Alice")
        token = tokens.create_api_token(conn, member.id)
        members.remove(conn, alice.org_id, "owner", member.id)
    assert (
        client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_tokens_from_the_account_page(client: TestClient, alice: Account) -> None:
    login(client, alice.email)
    page = client.get("/account")
    made = client.post(
        "/account/tokens",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "ci",
            "organisation_id": alice.org_id,
            "scope": "read",
        },
    )
    token = made.text.split('<code class="token">', 1)[1].split("<", 1)[0]
    assert token.startswith("slk_")
    assert (
        client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    # the first listed token is the fixture's; revoke the new one (the last listed)
    token_id = made.text.rsplit("/account/tokens/", 1)[1].split("/", 1)[0]
    client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(page.text)})
    assert (
        client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
