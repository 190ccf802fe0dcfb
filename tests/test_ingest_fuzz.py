"""Property-based fuzzing of the ingest endpoint: whatever a browser (or anyone) sends, the
answer is a 202 or a 4xx with a clear message, never a 5xx; what was accepted can be
processed without stopping the processor; memory stays bounded on bombs and oversize bodies.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from sessionlens.context import Context
from sessionlens.ingest.ratelimit import IngestLimits
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import ingest_log, session
from tests.conftest import Account, batch, click, page_events

T0 = 1_764_000_000_000
BOUNDED = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# JSON values of every kind, including numbers no field accepts.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["session_id", "visitor_id", "window_id", "seq", "sent_at", "meta", "events"]
META_FIELDS = ["url", "referrer", "title", "viewport", "screen", "language", "timezone"]
EVENT_FIELDS = ["type", "timestamp", "data"]
CONTENT_TYPES = ["text/plain", "application/json", "application/x-www-form-urlencoded", ""]


@pytest.fixture(autouse=True)
def no_rate_limits(client: TestClient) -> None:
    """Hundreds of requests from one address: the rate limits are tested elsewhere."""
    client.app.state.ingest_limits = IngestLimits(10**9, 10**9)  # type: ignore[attr-defined]


def post(client: TestClient, account: Account, body: bytes, **headers: str) -> Any:
    return client.post(
        f"/i/v1/{account.project.ingest_key}/batch",
        content=body,
        headers={"Origin": account.project.website_origins[0], **headers},
    )


def check_answer(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code != 202:
        assert 400 <= response.status_code < 500
        message = response.json()["error"]
        assert isinstance(message, str)
        assert message


def valid(seq: int = 0, session_id: str = "fuzzSession0001") -> dict[str, Any]:
    events = [*page_events("https://shop.example/", T0), click(T0 + 10)] if seq == 0 else []
    return batch(seq, session_id=session_id, start=T0, events=events or [click(T0 + seq)])


def processes_cleanly(ctx: Context, client: TestClient, alice: Account) -> None:
    """Whatever was accepted is processed (or set aside) and the log moves on: a good batch
    sent afterwards is processed too."""
    marker = valid(0, session_id="afterFuzz000001")
    assert post(client, alice, orjson.dumps(marker)).status_code == 202
    Processor(ctx).drain()
    with ctx.engine.connect() as conn:
        waiting = conn.execute(
            select(func.count()).where(ingest_log.c.processed_at.is_(None))
        ).scalar_one()
        found = conn.execute(
            select(func.count()).where(session.c.client_id == "afterFuzz000001")
        ).scalar_one()
    assert waiting == 0
    assert found == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@given(body=st.binary(max_size=3000), encoding=st.sampled_from(["", "gzip", "deflate", "br"]))
@BOUNDED
def test_random_bytes(client: TestClient, alice: Account, body: bytes, encoding: str) -> None:
    headers = {"Content-Encoding": encoding} if encoding else {}
    check_answer(post(client, alice, body, **headers))


@given(
    where=st.sampled_from(["top", "meta", "event"]),
    index=st.integers(min_value=0, max_value=10),
    value=json_values,
    content_type=st.sampled_from(CONTENT_TYPES),
    seq=st.integers(min_value=0, max_value=3),
)
@example(where="event", index=1, value=1.5e300, content_type="", seq=0)
@example(where="event", index=1, value=2**70, content_type="", seq=0)
@example(where="event", index=4, value=9.9e15, content_type="", seq=1)
@example(where="top", index=4, value=2**53, content_type="", seq=0)
@BOUNDED
def test_wrong_types_and_huge_numbers(
    ctx: Context,
    client: TestClient,
    alice: Account,
    where: str,
    index: int,
    value: Any,
    content_type: str,
    seq: int,
) -> None:
    body = valid(seq)
    if where == "top":
        body[FIELDS[index % len(FIELDS)]] = value
    elif where == "meta":
        body["meta"][META_FIELDS[index % len(META_FIELDS)]] = value
    else:
        event = body["events"][index % len(body["events"])]
        event[EVENT_FIELDS[index % len(EVENT_FIELDS)]] = value
    headers = {"Content-Type": content_type} if content_type else {}
    # json, not orjson: the numbers may be too big for 64 bits, as a hostile client's may.
    check_answer(post(client, alice, json.dumps(body).encode(), **headers))
    processes_cleanly(ctx, client, alice)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@given(
    depth=st.integers(min_value=1, max_value=3000),
    where=st.sampled_from(["data", "payload", "meta"]),
)
@BOUNDED
def test_deep_nesting(
    ctx: Context, client: TestClient, alice: Account, depth: int, where: str
) -> None:
    nested = "[" * depth + "]" * depth
    body = valid(1)
    if where == "data":
        text = orjson.dumps(body).decode().replace('"data":{', f'"data":{{"deep":{nested},', 1)
    elif where == "payload":
        body["events"].append(
            {"type": 5, "timestamp": T0 + 5, "data": {"tag": "sessionlens.click", "payload": 0}}
        )
        text = orjson.dumps(body).decode().replace('"payload":0', f'"payload":{nested}', 1)
    else:
        text = orjson.dumps(body).decode().replace('"meta":{', f'"meta":{{"deep":{nested},', 1)
    check_answer(post(client, alice, text.encode()))
    processes_cleanly(ctx, client, alice)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@given(cut=st.integers(min_value=0, max_value=400), flip=st.integers(min_value=0, max_value=400))
@BOUNDED
def test_truncated_and_corrupt_gzip(
    client: TestClient, alice: Account, cut: int, flip: int
) -> None:
    packed = bytearray(gzip.compress(orjson.dumps(valid(0))))
    truncated = bytes(packed[: min(cut, len(packed) - 1)])
    check_answer(post(client, alice, truncated, **{"Content-Encoding": "gzip"}))
    packed[flip % len(packed)] ^= 0x5A
    check_answer(post(client, alice, bytes(packed), **{"Content-Encoding": "gzip"}))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bombs_and_oversize_bodies_stay_within_memory(client: TestClient, alice: Account) -> None:
    bomb = gzip.compress(b"0" * (300 * 1024 * 1024), compresslevel=9)  # 300 MB inflated
    deflate_bomb = zlib.compress(b" " * (300 * 1024 * 1024), 9)
    oversize = b"x" * (11 * 1024 * 1024)
    tracemalloc.start()
    try:
        for body, headers in (
            (bomb, {"Content-Encoding": "gzip"}),
            (deflate_bomb, {"Content-Encoding": "deflate"}),
            (oversize, {}),
        ):
            response = post(client, alice, body, **headers)
            assert response.status_code in (400, 413), response.text
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The caps are 10 MB compressed and 50 MB inflated; the request bodies are held too.
    assert peak < 150 * 1024 * 1024, peak


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_deep_snapshot_is_stored_and_replayed(
    ctx: Context, client: TestClient, alice: Account
) -> None:
    """orjson reads 1024 levels but writes 254: a batch accepted with 300 levels of nesting
    (a deep page's full snapshot) is still written to its block, not set aside."""
    nested = "[" * 300 + "]" * 300
    body = valid(0)
    text = orjson.dumps(body).decode().replace('"data":{', f'"data":{{"deep":{nested},', 1)
    assert post(client, alice, text.encode()).status_code == 202
    Processor(ctx).drain()
    with ctx.engine.connect() as conn:
        errors = conn.execute(select(ingest_log.c.error)).scalars().all()
        found = conn.execute(select(func.count()).select_from(session)).scalar_one()
    assert errors == [None]
    assert found == 1
