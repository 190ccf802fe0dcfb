from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens import privacy
from sessionlens.accounts import users
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import audit_log
from tests.conftest import PASSWORD, Account, login


def csrf_of(page_text: str) -> str:
    return page_text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_config_serves_the_strict_defaults(client: TestClient, alice: Account) -> None:
    response = client.get(f"/i/v1/{alice.project.ingest_key}/config")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "max-age=60" in response.headers["cache-control"]
    config = response.json()
    assert config["honour_dnt"] is True
    assert config["mask_all_text"] is False
    assert {"token", "password", "email", "key", "code", "session", "auth"} <= set(
        config["url_param_denylist"]
    )
    assert "extra_patterns" not in config  # server-side only


def test_config_of_unknown_key_is_404(client: TestClient) -> None:
    assert client.get("/i/v1/nope/config").status_code == 404


def test_admin_saves_rules_and_the_recorder_gets_them(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    login(client, alice.email)
    form = client.get(f"/projects/{alice.project.id}/privacy")
    assert form.status_code == 200
    response = client.post(
        f"/projects/{alice.project.id}/privacy",
        data={
            "csrf_token": csrf_of(form.text),
            "mask_all_text": "1",
            "honour_dnt": "1",
            "block_selectors": ".ad-banner\n#chat",
            "unmask_selectors": "#search",
            "url_param_denylist": "voucher",
            "exclude_pages": "/account/*",
            "extra_patterns": ["email", "phone"],
            "retention_days": "30",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    config = client.get(f"/i/v1/{alice.project.ingest_key}/config").json()
    assert config["mask_all_text"] is True
    assert config["block_selectors"] == [".ad-banner", "#chat"]
    assert config["unmask_selectors"] == ["#search"]
    assert "voucher" in config["url_param_denylist"]
    assert config["exclude_pages"] == ["/account/*"]
    assert config["consent_required"] is False
    with ctx.engine.connect() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "privacy.update")).one()
    assert entry.action == "privacy.update"
    assert "retention_days" in entry.detail
    with ctx.engine.connect() as conn:
        from sessionlens import projects
        from sessionlens.recordings.retention import retention_days

        saved = projects.by_id(conn, alice.project.id)
    assert saved is not None
    assert retention_days(saved.settings) == 30
    assert saved.privacy.extra_patterns == ("email", "phone")
    assert entry.actor == alice.email
    assert "mask_all_text" in entry.detail


def test_rules_form_needs_csrf(client: TestClient, alice: Account) -> None:
    login(client, alice.email)
    response = client.post(f"/projects/{alice.project.id}/privacy", data={"mask_all_text": "1"})
    assert response.status_code == 403
    config = client.get(f"/i/v1/{alice.project.ingest_key}/config").json()
    assert config["mask_all_text"] is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("exclude_pages", "account/*", "must start with /"),
        ("url_param_denylist", "bad name!", "not a query parameter name"),
        ("block_selectors", "div{color:red}", "not a usable rule"),
        ("retention_days", "0", "between 1 and 3650"),
        ("retention_days", "soon", "whole number"),
    ],
)
def test_bad_rule_is_400_and_nothing_changes(
    client: TestClient, alice: Account, field: str, value: str, message: str
) -> None:
    login(client, alice.email)
    form = client.get(f"/projects/{alice.project.id}/privacy")
    response = client.post(
        f"/projects/{alice.project.id}/privacy",
        data={"csrf_token": csrf_of(form.text), field: value},
    )
    assert response.status_code == 400
    assert message in response.text
    config = client.get(f"/i/v1/{alice.project.ingest_key}/config").json()
    assert config["exclude_pages"] == []


def test_members_see_but_cannot_change_rules(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    with ctx.engine.begin() as conn:
        users.create_user(conn, "mallory@example.com", "Mallory", PASSWORD, org_name="Alice")
    login(client, "mallory@example.com")
    form = client.get(f"/projects/{alice.project.id}/privacy")
    assert form.status_code == 200
    assert "Only owners and admins" in form.text
    response = client.post(
        f"/projects/{alice.project.id}/privacy",
        data={"csrf_token": csrf_of(form.text), "mask_all_text": "1"},
    )
    assert response.status_code == 403


def test_other_organisations_cannot_see_rules(
    client: TestClient, alice: Account, bob: Account
) -> None:
    login(client, bob.email)
    assert client.get(f"/projects/{alice.project.id}/privacy").status_code == 404


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/?q=lamp&token=abc", "https://a.example/?q=lamp"),
        (
            "https://a.example/?keyword=x&apiKey=1&user_email=e&page=2",
            "https://a.example/?keyword=x&page=2",
        ),
        ("https://a.example/cb#access_token=abc&state=1", "https://a.example/cb"),
        ("https://a.example/?session_id=9&sort=asc", "https://a.example/?sort=asc"),
        ("https://a.example/plain", "https://a.example/plain"),
    ],
)
def test_denylisted_url_parameters_are_stripped(url: str, expected: str) -> None:
    assert privacy.strip_url(url, privacy.DEFAULT_URL_DENYLIST) == expected


def test_what_is_recorded_lists_the_rules_and_replays_a_session(
    client: TestClient, alice: Account, bob: Account, processor: Processor
) -> None:
    from tests.conftest import batch, send

    send(client, alice, batch(0))
    processor.drain()
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}/recorded")
    assert page.status_code == 200
    assert 'data-preview="1"' in page.text
    assert "Always on" in page.text
    assert "token" in page.text  # the URL denylist in force
    other = client.get(f"/projects/{alice.project.id}/recorded", params={"session": "nope"})
    assert other.status_code == 404
    login(client, bob.email)
    assert client.get(f"/projects/{alice.project.id}/recorded").status_code == 404


def test_project_denylist_entries_match_whatever_their_case() -> None:
    assert privacy.param_denied("myref", ("myRef",))
    assert privacy.param_denied("MYREF", ("myref",))
    assert privacy.strip_url("https://a.example/?myRef=1&q=2", ("myRef",)) == (
        "https://a.example/?q=2"
    )
