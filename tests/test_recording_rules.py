"""Recording rules on the server: sampling, pages to record, the monthly session quota,
the minimum duration, and oversize events trimmed instead of lost."""

from __future__ import annotations

import gzip
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sessionlens import metrics, projects, recording_rules
from sessionlens.context import Context
from sessionlens.ingest import trim
from sessionlens.ingest.quota import MonthlySessions, month_start
from sessionlens.processing.processor import Processor
from sessionlens.recording_rules import RecordingRules, fnv1a32, sampled_in
from sessionlens.recordings import queries, retention
from sessionlens.storage.tables import audit_log, ingest_log, recording_block, session, utcnow
from tests.conftest import Account, batch, click, login, send

# The same vectors are checked against the recorder's copy in client/test/sampling.test.mjs.
FNV_VECTORS = {
    "": 0x811C9DC5,
    "a": 0xE40C292C,
    "foobar": 0xBF9CF968,
    "sessionAAAA0001": 0x4D6027A8,
    "sessionAAAA0002": 0x50602C61,
    "Zx9_-kLmN0pQrStUvWxYz1": 0xBF1045DC,
}
SAMPLED_OUT_AT_50 = "sessionAAAA0001"  # bucket 7240
SAMPLED_IN_AT_50 = "sessionAAAA0002"  # bucket 97


def set_rules(ctx: Context, account: Account, **rules: Any) -> None:
    with ctx.engine.begin() as conn:
        current = projects.by_id(conn, account.project.id)
        assert current is not None
        projects.save_recording(conn, current, recording_rules.parse(rules))


def log_rows(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ingest_log)).scalar_one())


def csrf_of(page_text: str) -> str:
    return page_text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_fnv1a_matches_the_published_and_shared_vectors() -> None:
    for text, expected in FNV_VECTORS.items():
        assert fnv1a32(text) == expected, text


def test_sampling_buckets_are_the_hash_mod_10000() -> None:
    assert sampled_in("sessionAAAA0002", 0.98)  # bucket 97 < 98
    assert not sampled_in("sessionAAAA0002", 0.97)
    assert sampled_in(SAMPLED_OUT_AT_50, 72.41)
    assert not sampled_in(SAMPLED_OUT_AT_50, 72.4)
    assert all(sampled_in(s, 100) for s in FNV_VECTORS)
    assert not any(sampled_in(s, 0) for s in FNV_VECTORS)


def test_rules_reject_what_the_recorder_could_not_use() -> None:
    for bad in (
        {"sample_rate": 101},
        {"sample_rate": "50"},
        {"record_pages": ["checkout"]},
        {"min_duration_s": -1},
        {"monthly_quota": 1.5},
    ):
        with pytest.raises(recording_rules.RecordingRulesError):
            recording_rules.parse(bad)
    assert recording_rules.parse({}) == RecordingRules()


def test_config_serves_sampling_and_pages_but_not_the_quota(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    config = client.get(f"/i/v1/{alice.project.ingest_key}/config").json()
    assert config["sample_rate"] == 100
    assert config["record_pages"] == []
    set_rules(ctx, alice, sample_rate=12.5, record_pages=["/checkout/*"], monthly_quota=9)
    config = client.get(f"/i/v1/{alice.project.ingest_key}/config").json()
    assert config["sample_rate"] == 12.5
    assert config["record_pages"] == ["/checkout/*"]
    assert "monthly_quota" not in config
    assert "min_duration_s" not in config


def test_admin_saves_recording_rules_in_the_console(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    login(client, alice.email)
    form = client.get(f"/projects/{alice.project.id}/recording")
    assert form.status_code == 200
    assert "Recording rules" in form.text
    fields = {
        "sample_rate": "25",
        "record_pages": "/checkout/*\n/cart",
        "min_duration_s": "5",
        "monthly_quota": "1000",
    }
    no_csrf = client.post(
        f"/projects/{alice.project.id}/recording", data=fields, follow_redirects=False
    )
    assert no_csrf.status_code == 403
    saved = client.post(
        f"/projects/{alice.project.id}/recording",
        data={"csrf_token": csrf_of(form.text), **fields},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with ctx.engine.connect() as conn:
        rules = projects.by_id(conn, alice.project.id).recording  # type: ignore[union-attr]
        actions = conn.execute(select(audit_log.c.action)).scalars().all()
    assert rules == RecordingRules(25.0, ("/checkout/*", "/cart"), 5, 1000)
    assert "recording.update" in actions
    bad = client.post(
        f"/projects/{alice.project.id}/recording",
        data={"csrf_token": csrf_of(form.text), **fields, "sample_rate": "lots"},
    )
    assert bad.status_code == 400
    assert "sample_rate must be a number" in bad.text


def test_a_sampled_out_session_is_answered_not_kept_and_never_stored(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    set_rules(ctx, alice, sample_rate=50)
    out = send(client, alice, batch(session_id=SAMPLED_OUT_AT_50))
    assert out.status_code == 202
    assert out.json() == {"ok": True, "kept": False, "reason": "sampled"}
    assert log_rows(ctx) == 0
    kept = send(client, alice, batch(session_id=SAMPLED_IN_AT_50))
    assert kept.status_code == 202
    assert kept.json() == {"ok": True, "duplicate": False}
    assert log_rows(ctx) == 1
    set_rules(ctx, alice, sample_rate=0)
    assert send(client, alice, batch(1, session_id=SAMPLED_IN_AT_50)).json()["kept"] is False


def test_batches_of_pages_not_to_record_are_dropped(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    set_rules(ctx, alice, record_pages=["/checkout/*", "/cart"])
    home = send(client, alice, batch(url="https://shop.example/"))
    assert home.json() == {"ok": True, "kept": False, "reason": "page"}
    near = send(client, alice, batch(url="https://shop.example/checkout"))
    assert near.json()["kept"] is False  # /checkout/* needs something after the slash
    assert log_rows(ctx) == 0
    paid = send(client, alice, batch(url="https://shop.example/checkout/pay?step=2"))
    cart = send(client, alice, batch(session_id="sessionCART0001", url="https://shop.example/cart"))
    assert paid.json()["duplicate"] is False
    assert cart.json()["duplicate"] is False
    assert log_rows(ctx) == 2


def test_quota_refuses_new_sessions_only_and_existing_ones_carry_on(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    set_rules(ctx, alice, monthly_quota=2)
    now_ms = int(utcnow().timestamp() * 1000)
    first = send(client, alice, batch(session_id="sessionQ0000001", start=now_ms))
    send(client, alice, batch(session_id="sessionQ0000002", start=now_ms))
    assert first.status_code == 202
    over = send(client, alice, batch(session_id="sessionQ0000003"))
    assert over.status_code == 429
    assert over.json() == {"error": "monthly session quota reached", "quota": True}
    assert "retry-after" not in over.headers
    assert over.headers["access-control-allow-origin"] == "https://shop.example"
    # Sessions that started before the quota was reached go on, retries included.
    later = send(client, alice, batch(1, session_id="sessionQ0000001", events=[click(now_ms + 5)]))
    assert later.status_code == 202
    assert later.json()["duplicate"] is False
    again = send(client, alice, batch(session_id="sessionQ0000002", start=now_ms))
    assert again.status_code == 202
    assert again.json()["duplicate"] is True
    processor.drain()
    with ctx.engine.connect() as conn:
        stored = conn.execute(select(session.c.client_id)).scalars().all()
    assert sorted(stored) == ["sessionQ0000001", "sessionQ0000002"]
    # A new server process counts from the database.
    counter = MonthlySessions(ctx.engine, 60)
    assert counter.count(alice.project.id, utcnow()) == 2
    next_month = (month_start(utcnow()) + timedelta(days=32)).replace(day=1)
    assert counter.count(alice.project.id, next_month) == 0  # started last month


def test_quota_applies_to_the_embedded_log_and_counts_accepted_sessions_at_once(
    client: TestClient, ctx: Context, alice: Account
) -> None:
    set_rules(ctx, alice, monthly_quota=1)
    assert send(client, alice, batch(session_id="sessionQ0000001")).status_code == 202
    # Not processed yet: the count is this process's own accepted sessions.
    assert send(client, alice, batch(session_id="sessionQ0000002")).status_code == 429
    set_rules(ctx, alice, monthly_quota=None)
    assert send(client, alice, batch(session_id="sessionQ0000002")).status_code == 202


def _session_of(client: TestClient, alice: Account, sid: str, seconds: int) -> None:
    start = int(utcnow().timestamp() * 1000)
    send(client, alice, batch(session_id=sid, start=start))
    send(
        client, alice, batch(1, session_id=sid, start=start, events=[click(start + seconds * 1000)])
    )


def test_ended_sessions_shorter_than_the_minimum_are_deleted_with_their_blobs(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    _session_of(client, alice, "sessionSHORT001", 2)
    _session_of(client, alice, "sessionLONG0001", 20)
    processor.drain()
    set_rules(ctx, alice, min_duration_s=10)
    now = utcnow()
    # Not ended yet (a batch within 30 minutes): nothing goes.
    assert retention.purge(ctx.engine, ctx.blobs, now) == 0
    with ctx.engine.connect() as conn:
        short_id = conn.execute(
            select(session.c.id).where(session.c.client_id == "sessionSHORT001")
        ).scalar_one()
        keys = (
            conn.execute(
                select(recording_block.c.blob_key).where(recording_block.c.session_id == short_id)
            )
            .scalars()
            .all()
        )
    assert keys
    later = now + timedelta(minutes=31)
    assert retention.count_expired(ctx.engine, later) == 1
    assert retention.purge(ctx.engine, ctx.blobs, later) == 1
    with ctx.engine.connect() as conn:
        left = conn.execute(select(session.c.client_id)).scalars().all()
        blocks = conn.execute(
            select(func.count()).where(recording_block.c.session_id == short_id)
        ).scalar_one()
    assert left == ["sessionLONG0001"]
    assert blocks == 0
    assert not set(keys) & set(ctx.blobs.list())


def snapshot_with_image(size: int, ts: int) -> dict[str, Any]:
    image = "data:image/png;base64," + "A" * size
    style = "body{background:url(data:image/png;base64," + "B" * 100_000 + ")}"
    return {
        "type": 2,
        "timestamp": ts,
        "data": {
            "node": {
                "type": 0,
                "id": 1,
                "childNodes": [
                    {
                        "type": 2,
                        "id": 2,
                        "tagName": "html",
                        "attributes": {},
                        "childNodes": [
                            {
                                "type": 2,
                                "id": 3,
                                "tagName": "img",
                                "attributes": {"src": image, "alt": "hero"},
                                "childNodes": [],
                            },
                            {
                                "type": 2,
                                "id": 4,
                                "tagName": "style",
                                "attributes": {},
                                "childNodes": [
                                    {"type": 3, "id": 5, "textContent": style, "isStyle": True}
                                ],
                            },
                        ],
                    }
                ],
            },
            "initialOffset": {"top": 0, "left": 0},
        },
    }


def test_an_oversize_full_snapshot_is_trimmed_and_the_session_still_replays(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    start = 1_764_000_000_000
    meta_event = {"type": 4, "timestamp": start, "data": {"href": "https://shop.example/"}}
    body = batch(events=[meta_event, snapshot_with_image(6 * 1024 * 1024, start + 1)])
    before = metrics.TRIMMED_ASSETS.value()
    answer = send(client, alice, gzip.compress(orjson.dumps(body)), **{"Content-Encoding": "gzip"})
    assert answer.status_code == 202, answer.text
    assert metrics.TRIMMED_ASSETS.value() - before == 2
    processor.drain()
    with ctx.engine.connect() as conn:
        session_id = conn.execute(select(session.c.id)).scalar_one()
        blocks = queries.blocks(conn, session_id)
    events = orjson.loads(b"".join(queries.stream_events(ctx.blobs, blocks)))
    assert [e["type"] for e in events] == [4, 2, 5]
    html = events[1]["data"]["node"]["childNodes"][0]
    img, style = html["childNodes"]
    assert img["attributes"]["src"] == trim.PLACEHOLDER_IMAGE
    assert img["attributes"]["alt"] == "hero"
    assert int(img["attributes"]["data-sl-trimmed"]) > 6_000_000
    assert trim.PLACEHOLDER_IMAGE in style["childNodes"][0]["textContent"]
    assert events[2]["data"]["tag"] == "sessionlens.trimmed"
    assert events[2]["data"]["payload"]["assets"] == 2


def test_events_under_the_limit_are_left_alone() -> None:
    events = [snapshot_with_image(100_000, 1)]
    copy = orjson.loads(orjson.dumps(events))
    assert trim.trim_oversize(events, 5 * 1024 * 1024).assets == 0
    assert events == copy


def test_trimming_covers_mutations_and_long_attributes() -> None:
    mutation = {
        "type": 3,
        "timestamp": 5,
        "data": {
            "source": 0,
            "adds": [
                {
                    "parentId": 2,
                    "node": {
                        "type": 2,
                        "id": 9,
                        "tagName": "video",
                        "attributes": {"poster": "data:image/jpeg;base64," + "C" * 70_000},
                        "childNodes": [],
                    },
                }
            ],
            "attributes": [{"id": 3, "attributes": {"data-blob": "x" * 300_000, "class": "a"}}],
            "texts": [],
            "removes": [],
        },
    }
    count = trim.trim_event(mutation)
    assert count.assets == 2
    assert count.bytes > 300_000
    assert mutation["data"]["adds"][0]["node"]["attributes"]["poster"] == trim.PLACEHOLDER_IMAGE
    changed = mutation["data"]["attributes"][0]["attributes"]
    assert changed["data-blob"] == ""
    assert changed["class"] == "a"
    assert changed["data-sl-trimmed"] == "300000"
