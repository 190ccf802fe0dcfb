from __future__ import annotations

import json

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sessionlens.context import Context
from sessionlens.processing.blocks import read_block
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import (
    ingest_log,
    pageview,
    recording_block,
    session,
    visitor,
)
from tests.conftest import Account, batch, click, move, page_events, send, typed

T0 = 1_764_000_000_000


def sessions(ctx: Context) -> list[dict[str, object]]:
    with ctx.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(session)).mappings()]


def blocks(ctx: Context) -> list[dict[str, object]]:
    with ctx.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(recording_block).order_by(recording_block.c.block_index)
            ).mappings()
        ]


def table_state(ctx: Context) -> dict[str, list[tuple[object, ...]]]:
    """Everything the processor derives, without the timestamps of processing itself."""
    with ctx.engine.connect() as conn:
        return {
            "session": [
                tuple(r)
                for r in conn.execute(select(*[c for c in session.c if c.name != "updated_at"]))
            ],
            "visitor": [tuple(r) for r in conn.execute(select(visitor))],
            "pageview": [tuple(r) for r in conn.execute(select(pageview))],
            "block": [
                tuple(r)
                for r in conn.execute(
                    select(*[c for c in recording_block.c if c.name != "created_at"])
                )
            ],
        }


def record_visit(client: TestClient, alice: Account) -> None:
    """Three pages, clicks, typing and mouse moves across four batches."""
    send(
        client,
        alice,
        batch(
            0,
            url="https://shop.example/?utm_source=news&utm_medium=email",
            referrer="https://www.google.com/",
        ),
    )
    send(
        client,
        alice,
        batch(
            1,
            events=[
                move(T0 + 1000),
                click(T0 + 2000),
                click(T0 + 3000),
                typed(T0 + 3500),
                typed(T0 + 4000),
            ],
        ),
    )
    send(
        client,
        alice,
        batch(
            2,
            url="https://shop.example/products",
            events=[*page_events("https://shop.example/products", T0 + 10000), click(T0 + 11000)],
        ),
    )
    send(
        client,
        alice,
        batch(
            3,
            url="https://shop.example/cart",
            events=[
                *page_events("https://shop.example/cart", T0 + 20000),
                move(T0 + 21000),
                move(T0 + 23000),
            ],
        ),
    )


def test_batches_become_one_session_with_its_summary(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    record_visit(client, alice)
    assert processor.drain() == 4
    [row] = sessions(ctx)
    assert row["project_id"] == alice.project.id
    assert row["pages"] == 3
    assert row["clicks"] == 3
    assert row["keypresses"] == 2
    assert row["duration_ms"] == 23_000
    # Active time: 1 s mouse move -> 2 s -> 3 s -> 3.5 s -> 4 s is 3000 ms; the 6 s gap to
    # the next click does not count; 21 s -> 23 s counts 2000 ms.
    assert row["active_ms"] == 3000 + 2000
    assert row["entry_url"] == "https://shop.example/?utm_source=news&utm_medium=email"
    assert row["exit_url"] == "https://shop.example/cart"
    assert row["referrer"] == "https://www.google.com/"
    assert row["utm_source"] == "news"
    assert row["utm_medium"] == "email"
    assert row["screen_width"] == 1920
    assert row["is_returning"] is False


def test_pageviews_have_order_and_durations(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    record_visit(client, alice)
    processor.drain()
    with ctx.engine.connect() as conn:
        pages = conn.execute(
            select(pageview.c.path, pageview.c.query, pageview.c.duration_ms).order_by(
                pageview.c.ts
            )
        ).all()
    assert [(p.path, p.duration_ms) for p in pages] == [
        ("/", 10_000),
        ("/products", 10_000),
        ("/cart", 3000),
    ]
    assert pages[0].query == "utm_source=news&utm_medium=email"


def test_events_are_stored_as_compressed_time_ordered_blocks(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    record_visit(client, alice)
    processor.drain()
    stored = blocks(ctx)
    assert stored, "no block written"
    assert stored[0]["has_full_snapshot"] is True
    events = [e for b in stored for e in read_block(ctx.blobs.get(str(b["blob_key"])))]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert len(events) == 2 + 5 + 3 + 4
    for b in stored:
        assert b["stored_bytes"] < b["raw_bytes"] or b["raw_bytes"] < 500
        assert ctx.blobs.get(str(b["blob_key"]))[:4] == b"\x28\xb5\x2f\xfd"  # zstd frame
    assert sorted(s for b in stored for s in json.loads(str(b["seqs"]))) == [0, 1, 2, 3]


def test_processing_in_several_rounds_matches_one_round(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    send(client, alice, batch(0))
    processor.drain()
    send(client, alice, batch(1, events=[click(T0 + 2000)]))
    processor.drain()
    [row] = sessions(ctx)
    assert row["clicks"] == 1
    assert [b["block_index"] for b in blocks(ctx)] == [0, 1]


def test_replaying_the_whole_log_changes_nothing(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    record_visit(client, alice)
    processor.drain()
    before = table_state(ctx)
    keys_before = ctx.blobs.list()
    with ctx.engine.begin() as conn:
        conn.execute(update(ingest_log).values(processed_at=None))
    assert processor.drain() == 4
    assert table_state(ctx) == before
    assert ctx.blobs.list() == keys_before


def test_a_crash_between_blob_write_and_commit_is_repaired(
    client: TestClient,
    ctx: Context,
    alice: Account,
    processor: Processor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    send(client, alice, batch(0))
    from sessionlens.processing import sessions as session_module

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(session_module, "_add_pages", crash)
    with pytest.raises(RuntimeError):
        processor.run_once()
    assert blocks(ctx) == []
    monkeypatch.undo()
    assert processor.drain() == 1
    assert len(blocks(ctx)) == 1
    assert len(ctx.blobs.list()) == 1


def test_returning_visitor_is_marked(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    send(client, alice, batch(0))
    processor.drain()
    send(client, alice, batch(0, session_id="sessionSECOND1", start=T0 + 86_400_000))
    processor.drain()
    rows = sorted(sessions(ctx), key=lambda r: str(r["started_at"]))
    assert [r["is_returning"] for r in rows] == [False, True]
    with ctx.engine.connect() as conn:
        [v] = conn.execute(select(visitor)).all()
    assert v.sessions == 2


def test_poison_batch_is_set_aside_and_the_rest_goes_on(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    send(client, alice, batch(0))
    # Valid at the door, but a click whose data is not an object cannot be summarised.
    bad = batch(1, events=[{"type": 3, "timestamp": "soon"}])
    with ctx.engine.begin() as conn:
        from sessionlens.ingest import log

        payload = log.encode(
            log.Envelope("ua", "", __import__("datetime").datetime.now(__import__("datetime").UTC)),
            orjson.dumps(bad),
        )
        conn.execute(
            ingest_log.insert().values(
                project_id=alice.project.id,
                session_client_id=bad["session_id"],
                seq=1,
                received_at=__import__("datetime").datetime.now(__import__("datetime").UTC),
                payload=payload,
            )
        )
    send(client, alice, batch(2, events=[click(T0 + 5000)]))
    assert processor.drain() == 3
    [row] = sessions(ctx)
    assert row["clicks"] == 1
    with ctx.engine.connect() as conn:
        errors = conn.execute(
            select(ingest_log.c.seq, ingest_log.c.error).where(ingest_log.c.error.is_not(None))
        ).all()
    assert [e.seq for e in errors] == [1]


def test_identify_sets_the_user(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    send(client, alice, batch(0))
    send(
        client,
        alice,
        batch(
            1,
            events=[
                {
                    "type": 5,
                    "timestamp": T0 + 100,
                    "data": {
                        "tag": "sessionlens.identify",
                        "payload": {"user_id": "u-42", "traits": {}},
                    },
                }
            ],
        ),
    )
    processor.drain()
    assert sessions(ctx)[0]["user_id"] == "u-42"


def test_user_agent_gives_browser_os_and_device(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    send(client, alice, batch(0), **{"User-Agent": iphone})
    processor.drain()
    row = sessions(ctx)[0]
    assert (row["browser"], row["os"], row["device"]) == ("Mobile Safari", "iOS", "mobile")


def test_sessions_of_two_projects_never_mix(
    client: TestClient, ctx: Context, alice: Account, bob: Account, processor: Processor
) -> None:
    send(client, alice, batch(0))
    send(client, bob, batch(0, url="https://blog.example/"))
    processor.drain()
    rows = sessions(ctx)
    assert sorted(r["project_id"] for r in rows) == sorted([alice.project.id, bob.project.id])
