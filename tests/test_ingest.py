from __future__ import annotations

import gzip
import zlib

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sessionlens.context import Context
from sessionlens.storage.tables import ingest_log
from tests.conftest import Account, batch, send


def log_rows(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ingest_log)).scalar_one())


def test_valid_batch_is_acknowledged_after_it_is_in_the_log(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    response = send(client, alice, batch())
    assert response.status_code == 202
    assert response.json() == {"ok": True, "duplicate": False}
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "Retry-After" in response.headers["access-control-expose-headers"]
    assert log_rows(ctx) == 1


def test_repeated_batch_is_stored_once(client: TestClient, ctx: Context, alice: Account) -> None:
    assert send(client, alice, batch()).json()["duplicate"] is False
    again = send(client, alice, batch())
    assert again.status_code == 202
    assert again.json()["duplicate"] is True
    assert log_rows(ctx) == 1


def test_same_seq_in_another_session_is_a_different_batch(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    send(client, alice, batch())
    send(client, alice, batch(session_id="sessionOTHER01"))
    assert log_rows(ctx) == 2


def test_gzip_body_is_accepted_by_header_and_by_magic_bytes(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    packed = gzip.compress(orjson.dumps(batch(0)))
    assert send(client, alice, packed, **{"Content-Encoding": "gzip"}).status_code == 202
    # sendBeacon cannot set Content-Encoding: the magic bytes tell.
    packed = gzip.compress(orjson.dumps(batch(1)))
    assert send(client, alice, packed, **{"Content-Type": "text/plain"}).status_code == 202
    assert log_rows(ctx) == 2


def test_unknown_project_key_is_404(client: TestClient, ctx: Context, alice: Account) -> None:
    response = client.post(
        "/i/v1/no-such-key/batch",
        content=orjson.dumps(batch()),
        headers={"Origin": "https://shop.example"},
    )
    assert response.status_code == 404
    assert "unknown project" in response.json()["error"]
    assert log_rows(ctx) == 0


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://shop.example", "https://shop.example:8443", "null"]
)
def test_origin_not_of_the_project_is_403(
    client: TestClient, ctx: Context, alice: Account, origin: str
) -> None:
    response = send(client, alice, batch(), origin=origin)
    assert response.status_code == 403
    assert "origin" in response.json()["error"]
    assert log_rows(ctx) == 0


def test_missing_origin_is_403(client: TestClient, ctx: Context, alice: Account) -> None:
    response = client.post(f"/i/v1/{alice.project.ingest_key}/batch", content=orjson.dumps(batch()))
    assert response.status_code == 403
    assert log_rows(ctx) == 0


def test_another_projects_origin_is_403(client: TestClient, alice: Account, bob: Account) -> None:
    assert send(client, alice, batch(), origin="https://blog.example").status_code == 403


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"not json", "valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"", "valid JSON"),
    ],
)
def test_malformed_json_is_400(client: TestClient, alice: Account, body: bytes, named: str) -> None:
    response = send(client, alice, body)
    assert response.status_code == 400
    assert named in response.json()["error"]


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("session_id", "short", "session_id"),
        ("session_id", "has spaces in it!", "session_id"),
        ("session_id", None, "session_id"),
        ("visitor_id", 12345678, "visitor_id"),
        ("window_id", "x" * 65, "window_id"),
        ("seq", -1, "seq"),
        ("seq", "0", "seq"),
        ("seq", True, "seq"),
        ("sent_at", 1.5, "sent_at"),
        ("meta", [], "meta"),
        ("events", {}, "events"),
        ("events", [1], "events[0]"),
        ("events", [{"type": "x", "timestamp": 1}], "events[0].type"),
        ("events", [{"type": 3}], "events[0].timestamp"),
    ],
)
def test_bad_field_is_400_naming_it(
    client: TestClient, ctx: Context, alice: Account, field: str, value: object, named: str
) -> None:
    body = batch()
    body[field] = value
    response = send(client, alice, body)
    assert response.status_code == 400
    assert named in response.json()["error"]
    assert log_rows(ctx) == 0


@pytest.mark.parametrize(
    ("meta", "named"),
    [
        ({"url": "javascript:alert(1)"}, "meta.url"),
        ({"url": None}, "meta.url"),
        ({"viewport": {"width": "wide", "height": 2}}, "meta.viewport"),
        ({"title": 5}, "meta.title"),
    ],
)
def test_bad_meta_is_400(
    client: TestClient, alice: Account, meta: dict[str, object], named: str
) -> None:
    body = batch()
    body["meta"].update(meta)
    response = send(client, alice, body)
    assert response.status_code == 400
    assert named in response.json()["error"]


def test_compressed_body_over_10_mb_is_413(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    body = batch()
    body["events"].append({"type": 5, "timestamp": 1, "data": {"blob": "x" * (11 * 1024 * 1024)}})
    response = send(client, alice, body)
    assert response.status_code == 413
    assert "10 MB" in response.json()["error"]
    assert log_rows(ctx) == 0


def test_gzip_bomb_is_413_without_inflating_it_all(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    # 200 MB of zeros packs into about 200 KB; the cap stops it after 50 MB.
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1024 * 1024)
    bomb = b"".join(packer.compress(chunk) for _ in range(200)) + packer.flush()
    assert len(bomb) < 10 * 1024 * 1024
    response = send(client, alice, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed" in response.json()["error"]
    assert log_rows(ctx) == 0


@pytest.mark.parametrize("body", [b"\x1f\x8bnot really gzip", gzip.compress(b"{}", mtime=0)[:-6]])
def test_broken_gzip_is_400(client: TestClient, alice: Account, body: bytes) -> None:
    response = send(client, alice, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "gzip" in response.json()["error"]


def test_unknown_content_encoding_is_400(client: TestClient, alice: Account) -> None:
    response = send(client, alice, orjson.dumps(batch()), **{"Content-Encoding": "br"})
    assert response.status_code == 400
    assert "Content-Encoding" in response.json()["error"]


def test_preflight_allows_the_projects_origin(client: TestClient, alice: Account) -> None:
    response = client.options(
        f"/i/v1/{alice.project.ingest_key}/batch",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, content-encoding",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Content-Encoding" in response.headers["access-control-allow-headers"]


def test_preflight_refuses_other_origins(client: TestClient, alice: Account) -> None:
    response = client.options(
        f"/i/v1/{alice.project.ingest_key}/batch",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_stored_address_is_truncated() -> None:
    from sessionlens.ingest.routes import truncate_address

    assert truncate_address("203.0.113.77") == "203.0.113.0"
    assert truncate_address("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert truncate_address("not-an-ip") == ""


def test_denylisted_url_parameters_never_reach_the_log(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    from sessionlens.ingest import log

    url = "https://shop.example/reset?token=SECRET123&q=lamp"
    body = batch(0, url=url, referrer="https://mail.example/?email=ada%40x.example")
    body["events"].append(
        {
            "type": 5,
            "timestamp": body["sent_at"],
            "data": {"tag": "sessionlens.page", "payload": {"href": url + "&auth=XYZ"}},
        }
    )
    assert send(client, alice, body).status_code == 202
    with ctx.engine.connect() as conn:
        payload = conn.execute(select(ingest_log.c.payload)).scalar_one()
    _, stored = log.decode(payload)
    text = orjson.dumps(stored)
    assert b"SECRET123" not in text
    assert b"XYZ" not in text
    assert b"ada" not in text
    assert stored["meta"]["url"] == "https://shop.example/reset?q=lamp"
    assert stored["events"][0]["data"]["href"] == "https://shop.example/reset?q=lamp"


def test_ingest_over_the_address_limit_is_429_with_retry_after(
    ctx: Context, alice: Account
) -> None:
    import dataclasses

    from sessionlens.app import create_app

    limited = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, ingest_rate_per_address=3)
    )
    with TestClient(
        create_app(limited, run_processor=False), client=("203.0.113.9", 1000)
    ) as client:
        answers = [send(client, alice, batch(seq)).status_code for seq in range(4)]
        assert answers == [202, 202, 202, 429]
        refused = send(client, alice, batch(9))
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["access-control-allow-origin"] == "https://shop.example"
    assert log_rows(ctx) == 3  # nothing of the refused batches was stored


def test_ingest_over_the_project_limit_is_429(ctx: Context, alice: Account) -> None:
    import dataclasses

    from sessionlens.app import create_app

    limited = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, ingest_rate_per_project=2)
    )
    with TestClient(create_app(limited, run_processor=False)) as client:
        assert [send(client, alice, batch(seq)).status_code for seq in range(3)] == [202, 202, 429]


def test_token_bucket_refills_over_time() -> None:
    from sessionlens.ingest.ratelimit import Buckets

    buckets = Buckets(per_minute=60)
    clock = [1000.0]
    buckets._now = lambda: clock[0]
    assert all(buckets.take("a") == 0 for _ in range(60))
    assert buckets.take("a") > 0
    clock[0] += 1.0  # one second brings one token at 60 a minute
    assert buckets.take("a") == 0
    assert buckets.take("b") == 0  # keys are independent


def test_card_numbers_in_any_string_never_reach_the_log(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    from sessionlens.ingest import log

    body = batch(0)
    body["events"].append(
        {
            "type": 3,
            "timestamp": body["sent_at"] + 5,
            "data": {
                "source": 0,
                "texts": [{"id": 9, "value": "card 4242 4242 4242 4242 thanks"}],
                "attributes": [{"id": 10, "attributes": {"title": "4111111111111111"}}],
                "removes": [],
                "adds": [],
            },
        }
    )
    body["events"].append(
        {
            "type": 5,
            "timestamp": body["sent_at"] + 6,
            "data": {
                "tag": "sessionlens.identify",
                "payload": {"user_id": "u1", "traits": {"note": "5555-5555-5555-4444"}},
            },
        }
    )
    assert send(client, alice, body).status_code == 202
    with ctx.engine.connect() as conn:
        payload = conn.execute(select(ingest_log.c.payload)).scalar_one()
    _, stored = log.decode(payload)
    text = orjson.dumps(stored)
    for card in (b"4242 4242 4242 4242", b"4111111111111111", b"5555-5555-5555-4444"):
        assert card not in text
    assert stored["events"][0]["timestamp"] == body["events"][0]["timestamp"]


def test_guard_presets_are_the_ones_the_console_offers() -> None:
    from sessionlens.ingest.guard import PRESETS
    from sessionlens.privacy import EXTRA_PATTERNS

    assert set(PRESETS) == set(EXTRA_PATTERNS)
