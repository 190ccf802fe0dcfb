"""/healthz, /readyz, /metrics and JSON log lines."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from sessionlens import config, metrics
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.web import logs, serving
from tests.conftest import Account, batch, send

TOKEN = "m" * 40


def reconfigured(ctx: Context, **changes: str) -> Iterator[TestClient]:
    """The app over the same database and blobs with some settings changed."""
    settings = ctx.settings
    ctx.settings = config.load(
        {},
        data_dir=str(settings.data_dir),
        database_url=settings.database_url,
        base_url=settings.base_url,
        demo="false",
        **changes,
    )
    with TestClient(create_app(ctx, run_processor=False), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def metered(ctx: Context) -> Iterator[TestClient]:
    """The app with a metrics token set."""
    yield from reconfigured(ctx, metrics_token=TOKEN)


@pytest.fixture
def json_logged(ctx: Context) -> Iterator[TestClient]:
    yield from reconfigured(ctx, log_format="json")


def test_healthz_answers_without_touching_anything(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_queue_and_blob_store(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["failed"] == []
    assert set(body["checks"]) == {"database", "queue", "blob_store"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["queue"]["pending"] == 0


def test_readyz_names_an_unreachable_database(tmp_path: Path) -> None:
    settings = config.load(
        {
            "SESSIONLENS_DATA_DIR": str(tmp_path),
            # Nothing listens on port 9 of loopback: refused at once.
            "SESSIONLENS_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:9/none",
            "SESSIONLENS_DEMO": "false",
        }
    )
    ctx = Context.open(settings)
    try:
        with TestClient(create_app(ctx, run_processor=False)) as client:
            response = client.get("/readyz")
            assert client.get("/healthz").status_code == 200
    finally:
        ctx.close()
    assert response.status_code == 503
    assert response.json()["failed"] == ["database", "queue"]
    assert response.json()["checks"]["blob_store"]["ok"]


def test_health_routes_are_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


def test_metrics_want_the_token(metered: TestClient) -> None:
    assert metered.get("/metrics").status_code == 403
    wrong = metered.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
    assert wrong.status_code == 403
    right = metered.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_metrics_without_a_token_answer_only_loopback(ctx: Context) -> None:
    app = create_app(ctx, run_processor=False)
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        assert local.get("/metrics").status_code == 200
        # Through a proxy on this machine the request is someone else's.
        proxied = local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403
    with TestClient(app, client=("203.0.113.9", 5000)) as remote:
        assert remote.get("/metrics").status_code == 403


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")


def test_metrics_count_batches_bytes_lag_and_block_writes(
    metered: TestClient, ctx: Context, alice: Account
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = metered.get("/metrics", headers=auth).text
    accepted = metrics.BATCHES.value("accepted")
    bytes_before = metrics.INGEST_BYTES.value()
    latency_count = metrics.INGEST_LATENCY.count
    writes = metrics.BLOB_WRITES.value()
    assert send(metered, alice, batch(0)).status_code == 202
    assert send(metered, alice, batch(0)).status_code == 202  # a retry
    assert send(metered, alice, batch(1), origin="https://evil.example").status_code == 403
    assert send(metered, alice, b"{not json").status_code == 400
    lagging = metered.get("/metrics", headers=auth).text
    assert _sample(lagging, "sessionlens_processor_pending_batches") == 1
    assert _sample(lagging, "sessionlens_processor_oldest_pending_seconds") >= 0
    assert metrics.BATCHES.value("accepted") == accepted + 1
    assert 'sessionlens_ingest_batches_total{outcome="duplicate"}' in lagging
    assert 'sessionlens_ingest_batches_total{outcome="origin_not_allowed"}' in lagging
    assert 'sessionlens_ingest_batches_total{outcome="invalid"}' in lagging
    assert metrics.INGEST_BYTES.value() > bytes_before
    assert metrics.INGEST_LATENCY.count == latency_count + 4
    assert 'sessionlens_ingest_request_seconds_bucket{le="+Inf"}' in lagging
    Processor(ctx).drain()
    after = metered.get("/metrics", headers=auth).text
    assert _sample(after, "sessionlens_processor_pending_batches") == 0
    assert metrics.BLOB_WRITES.value() == writes + 1
    # Nothing that names a project or its visitors.
    for text in (before, lagging, after):
        assert alice.project.ingest_key not in text
        assert "shop.example" not in text
        assert "sessionAAAA0001" not in text


def test_json_logs_are_one_object_a_line_with_the_request(
    json_logged: TestClient, alice: Account
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        body = batch(0)
        body["events"][1]["data"]["node"]["childNodes"][0]["attributes"] = {"v": "TYPED-SECRET"}
        send(json_logged, alice, body, **{"X-Request-ID": "req-123"})
        json_logged.get("/password/reset/one-time-secret-token?next=/x")
        logging.getLogger("sessionlens.test").warning("plain %s", "line")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    # The test client's own request log (httpx) is not the server's.
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    lines = [line for line in lines if not line["logger"].startswith("httpx")]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    ingest = next(line for line in lines if line.get("request_id") == "req-123")
    assert ingest["logger"] == "sessionlens.access"
    assert ingest["status"] == 202
    assert ingest["method"] == "POST"
    assert ingest["path"] == f"/i/v1/{alice.project.ingest_key}/batch"
    assert "duration_ms" in ingest
    assert any(line.get("path") == "/password/reset/{token}" for line in lines)
    text = "\n".join(orjson.dumps(line).decode() for line in lines)
    assert "TYPED-SECRET" not in text
    assert "one-time-secret-token" not in text
    assert "next=" not in text
    assert lines[-1]["message"] == "plain line"
    assert lines[-1]["level"] == "warning"


def test_text_logs_have_the_same_safe_access_lines(client: TestClient, ctx: Context) -> None:
    """Text logs (the default) carry the app's access lines, not uvicorn's: no query string,
    no one-time token, no client address."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logs.TEXT_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        client.get("/password/reset/one-time-secret-token?next=/x&email=a@b.example")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    # The test client's own request log (httpx) is not the server's.
    text = "\n".join(line for line in stream.getvalue().splitlines() if " httpx" not in line)
    assert "INFO sessionlens.access: GET /password/reset/{token} " in text
    assert "one-time-secret-token" not in text
    assert "next=" not in text
    assert "a@b.example" not in text
    assert ctx.settings.log_format == "text"
    served = serving._config(client.app, ctx.settings, 8000, tls=False)
    assert served.access_log is False
    assert served.log_config is None
