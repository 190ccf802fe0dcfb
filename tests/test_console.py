from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from tests.conftest import Account, batch, click, login, send

T0 = 1_764_000_000_000


def one_session(client: TestClient, account: Account, processor: Processor) -> str:
    send(client, account, batch(0))
    send(client, account, batch(1, events=[click(T0 + 1500)]))
    processor.drain()
    listing = client.get(
        f"/api/v1/projects/{account.project.id}/sessions",
        headers={"Authorization": f"Bearer {account.token}"},
    ).json()
    return str(listing["sessions"][0]["id"])


@pytest.mark.parametrize("path", ["/projects", "/projects/1", "/sessions/abc"])
def test_console_pages_need_a_login(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


def test_block_routes_need_a_login(client: TestClient) -> None:
    assert client.get("/sessions/abc/blocks").status_code == 401
    assert client.get("/sessions/abc/blocks/0").status_code == 401


def test_login_with_wrong_password_is_refused(client: TestClient, alice: Account) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/login", data={"email": alice.email, "password": "wrong password", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "Wrong email or password" in response.text
    assert "sl_login" not in response.cookies


def test_login_without_csrf_token_is_refused(client: TestClient, alice: Account) -> None:
    client.get("/login")
    response = client.post("/login", data={"email": alice.email, "password": "x"})
    assert response.status_code == 403
    assert "Traceback" not in response.text


def test_login_cookie_is_httponly_and_lax(client: TestClient, alice: Account) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/login",
        data={"email": alice.email, "password": "correct horse battery", "csrf_token": token},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "sl_login=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


def test_login_rotates_the_session_cookie(client: TestClient, alice: Account) -> None:
    login(client, alice.email)
    first = client.cookies["sl_login"]
    login(client, alice.email)
    second = client.cookies["sl_login"]
    assert first != second
    client.cookies.clear()
    client.cookies.set("sl_login", first)
    assert client.get("/projects", follow_redirects=False).status_code == 303


def test_login_does_not_redirect_off_site(client: TestClient, alice: Account) -> None:
    page = client.get("/login?next=//evil.example/")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/login",
        data={
            "email": alice.email,
            "password": "correct horse battery",
            "csrf_token": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/projects"


def test_projects_page_shows_the_snippet(client: TestClient, alice: Account, bob: Account) -> None:
    login(client, alice.email)
    page = client.get("/projects")
    assert page.status_code == 200
    snippet = (
        f'&lt;script src="http://testserver/sessionlens.js" '
        f'data-project="{alice.project.ingest_key}" defer&gt;&lt;/script&gt;'
    )
    assert snippet in page.text
    assert "Blog" not in page.text
    assert bob.project.ingest_key not in page.text


def test_sessions_page_lists_sessions(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    session_id = one_session(client, alice, processor)
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}")
    assert page.status_code == 200
    assert f"/sessions/{session_id}" in page.text
    assert "0:01" in page.text  # duration of 1 s


def test_session_page_has_player_and_pages(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    session_id = one_session(client, alice, processor)
    login(client, alice.email)
    page = client.get(f"/sessions/{session_id}")
    assert page.status_code == 200
    assert f'data-blocks-url="/sessions/{session_id}/blocks"' in page.text
    assert 'data-offset-ms="0"' in page.text
    assert "<script>" not in page.text  # the CSP forbids inline script
    listing = client.get(f"/sessions/{session_id}/blocks").json()
    assert listing["blocks"][0]["has_full_snapshot"] is True
    events = orjson.loads(client.get(listing["blocks"][0]["url"]).content)
    assert events[0]["type"] == 4


def test_other_organisations_sessions_are_404(
    client: TestClient, alice: Account, bob: Account, processor: Processor
) -> None:
    session_id = one_session(client, bob, processor)
    login(client, alice.email)
    assert client.get(f"/projects/{bob.project.id}").status_code == 404
    assert client.get(f"/sessions/{session_id}").status_code == 404
    assert client.get(f"/sessions/{session_id}/blocks").status_code == 404
    assert client.get(f"/sessions/{session_id}/blocks/0").status_code == 404


def test_console_pages_carry_security_headers(client: TestClient, alice: Account) -> None:
    login(client, alice.email)
    response = client.get("/projects")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_logout_needs_csrf_and_ends_the_login(client: TestClient, alice: Account) -> None:
    login(client, alice.email)
    assert client.post("/logout", data={}).status_code == 403
    page = client.get("/projects")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/projects", follow_redirects=False).status_code == 303


def test_unknown_page_is_a_friendly_404(client: TestClient, alice: Account, ctx: Context) -> None:
    login(client, alice.email)
    response = client.get("/projects/999999")
    assert response.status_code == 404
    assert "No such project" in response.text
    assert client.get("/projects/abc").status_code == 400


def test_login_token_not_signed_by_the_server_is_refused(
    client: TestClient, alice: Account
) -> None:
    client.cookies.set("sl_csrf", "forged.token", path="/login")
    response = client.post(
        "/login",
        data={
            "email": alice.email,
            "password": "correct horse battery",
            "csrf_token": "forged.token",
        },
    )
    assert response.status_code == 403


def test_player_fetches_the_first_block_alone_then_larger_runs(
    client: TestClient, alice: Account, processor: Processor
) -> None:
    send(client, alice, batch(0))
    processor.drain()
    for seq in range(1, 6):  # each processed on its own, as in a live session
        send(client, alice, batch(seq, events=[click(T0 + seq * 1000)]))
        processor.drain()
    login(client, alice.email)
    listing = client.get(
        f"/api/v1/projects/{alice.project.id}/sessions",
        headers={"Authorization": f"Bearer {alice.token}"},
    ).json()
    session_id = listing["sessions"][0]["id"]
    entries = client.get(f"/sessions/{session_id}/blocks").json()["blocks"]
    assert [e["url"].rsplit("/", 1)[1] for e in entries] == ["0", "1?through=5"]
    events = [e for entry in entries for e in orjson.loads(client.get(entry["url"]).content)]
    assert [e["type"] for e in events] == [4, 2, 3, 3, 3, 3, 3]
    assert client.get(f"/sessions/{session_id}/blocks/3?through=1").status_code == 400
    assert client.get(f"/sessions/{session_id}/blocks/9").status_code == 404
    assert client.get(f"/sessions/{session_id}/blocks/-1").status_code == 400


def test_chunks_keep_runs_under_the_target() -> None:
    from sessionlens.recordings.queries import Block, chunks

    blocks = [Block(i, i, i, i == 0, f"k{i}", 600) for i in range(6)]
    assert [[b.index for b in g] for g in chunks(blocks, target_bytes=1500)] == [
        [0],
        [1, 2],
        [3, 4],
        [5],
    ]
