"""The S3 blob store, against a real S3 HTTP API on loopback: moto's server mode
(`moto[server]`, ThreadedMotoServer), started by these tests. No real S3 server is
installable here; moto speaks the same REST protocol (signed requests, path-style URLs,
ranges, listing, errors such as NoSuchBucket), which is all the store uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens import config
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.storage.blobs import (
    BlobNotFound,
    BlobStoreUnavailable,
    S3Options,
    open_blob_store,
)
from sessionlens.storage.crypto import MAGIC, EncryptedBlobStore, Keyring
from sessionlens.storage.engine import migrate
from sessionlens.storage.tables import recording_block, session
from tests.conftest import IN_CI, batch, click, make_account, send

try:
    import boto3
    from moto.core.authorization import enable_iam_authentication
    from moto.server import ThreadedMotoServer
except ImportError:
    if IN_CI:
        raise
    pytest.skip("moto[server] is not installed (pip install -e '.[dev]')", allow_module_level=True)

KEY_ID, SECRET = "sessionlens-test", "sessionlens-test-secret"
T0 = 1_764_000_000_000


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )


@pytest.fixture
def bucket(endpoint: str, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test, named after it."""
    name = "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:50]
    name = name.strip("-") + f"-{os.getpid()}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def options(endpoint: str) -> S3Options:
    return S3Options(
        endpoint=endpoint, region="us-east-1", access_key_id=KEY_ID, secret_access_key=SECRET
    )


def objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = s3_client(endpoint)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_s3_store_puts_gets_ranges_lists_and_deletes(endpoint: str, bucket: str) -> None:
    store = open_blob_store(f"s3://{bucket}/recordings", options(endpoint))
    store.put("p1/sessions/a/000000.json.zst", b"0123456789")
    store.put("p1/sessions/a/000001.json.zst", b"abc")
    store.put("p2/sessions/b/000000.json.zst", b"xyz")
    assert store.get("p1/sessions/a/000000.json.zst") == b"0123456789"
    assert store.get_range("p1/sessions/a/000000.json.zst", 2, 5) == b"234"
    assert store.list("p1/") == ["p1/sessions/a/000000.json.zst", "p1/sessions/a/000001.json.zst"]
    store.delete("p1/sessions/a/000001.json.zst")
    store.delete("p1/sessions/a/000001.json.zst")  # deleting twice is fine
    assert store.list("p1/") == ["p1/sessions/a/000000.json.zst"]
    with pytest.raises(BlobNotFound):
        store.get("p1/sessions/a/000001.json.zst")
    with pytest.raises(BlobNotFound):
        store.get_range("p1/sessions/a/000001.json.zst", 0, 1)
    # Everything lives under the prefix, so one bucket can hold several installations.
    assert sorted(objects(endpoint, bucket)) == [
        "recordings/p1/sessions/a/000000.json.zst",
        "recordings/p2/sessions/b/000000.json.zst",
    ]
    other = open_blob_store(f"s3://{bucket}/elsewhere", options(endpoint))
    assert other.list("") == []


def test_recordings_in_s3_are_encrypted_and_read_back(endpoint: str, bucket: str) -> None:
    store = EncryptedBlobStore(
        open_blob_store(f"s3://{bucket}", options(endpoint)), Keyring("k" * 40)
    )
    plain = b'[{"type":2,"data":"the recorded page"}]'
    store.put("p7/sessions/s/000000.json.zst", plain)
    stored = objects(endpoint, bucket)["p7/sessions/s/000000.json.zst"]
    assert stored.startswith(MAGIC)
    assert b"recorded page" not in stored
    assert store.get("p7/sessions/s/000000.json.zst") == plain
    assert store.get_range("p7/sessions/s/000000.json.zst", 2, 6) == plain[2:6]


def s3_settings(tmp_path: Path, database_url: str, blob_url: str, endpoint: str) -> config.Settings:
    return config.load(
        {
            "SESSIONLENS_DATA_DIR": str(tmp_path / "data"),
            "SESSIONLENS_DATABASE_URL": database_url,
            "SESSIONLENS_BLOB_URL": blob_url,
            "SESSIONLENS_S3_ENDPOINT": endpoint,
            "SESSIONLENS_S3_REGION": "us-east-1",
            "SESSIONLENS_S3_ACCESS_KEY_ID": KEY_ID,
            "SESSIONLENS_S3_SECRET_ACCESS_KEY": SECRET,
            "SESSIONLENS_BASE_URL": "http://testserver",
            "SESSIONLENS_DEMO": "false",
        }
    )


@pytest.fixture
def s3_ctx(tmp_path: Path, database_url: str, endpoint: str, bucket: str) -> Iterator[Context]:
    ctx = Context.open(s3_settings(tmp_path, database_url, f"s3://{bucket}/rec", endpoint))
    migrate(ctx.engine)
    yield ctx
    ctx.close()


def test_a_visit_is_ingested_processed_and_replayed_from_s3(
    s3_ctx: Context, endpoint: str, bucket: str
) -> None:
    alice = make_account(s3_ctx, "alice", "Shop", "https://shop.example")
    app = create_app(s3_ctx, run_processor=False)
    with TestClient(app, base_url="http://testserver") as client:
        assert client.get("/readyz").status_code == 200
        for seq in range(3):
            events = None if seq == 0 else [click(T0 + 1000 * seq + 5)]
            assert send(client, alice, batch(seq, start=T0, events=events)).status_code == 202
        assert Processor(s3_ctx).drain() == 3
        with s3_ctx.engine.connect() as conn:
            session_id = conn.execute(select(session.c.id)).scalar_one()
            keys = list(conn.execute(select(recording_block.c.blob_key)).scalars())
        stored = objects(endpoint, bucket)
        assert keys
        assert all(f"rec/{key}" in stored for key in keys)
        assert all(stored[f"rec/{key}"].startswith(MAGIC) for key in keys)
        replay = client.get(
            f"/api/v1/sessions/{session_id}/events",
            headers={"Authorization": f"Bearer {alice.token}"},
        )
    assert replay.status_code == 200
    events = orjson.loads(replay.content)
    assert [e["type"] for e in events] == [4, 2, 3, 3]
    assert events[-1]["timestamp"] == T0 + 2005


def test_a_missing_bucket_makes_the_server_unready_not_a_crash(
    tmp_path: Path, database_url: str, endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = s3_settings(tmp_path, database_url, "s3://no-such-bucket/rec", endpoint)
    ctx = Context.open(settings)
    migrate(ctx.engine)
    try:
        with pytest.raises(BlobStoreUnavailable, match="NoSuchBucket"):
            ctx.blobs.put("p1/sessions/x/000000.json.zst", b"[]")
        app = create_app(ctx, run_processor=False)
        with TestClient(app, base_url="http://testserver") as client:
            ready = client.get("/readyz")
            assert client.get("/healthz").status_code == 200
    finally:
        ctx.close()
    assert "not ready: blob_store" in caplog.text
    assert "NoSuchBucket" in caplog.text
    assert ready.status_code == 503
    body = ready.json()
    assert body["failed"] == ["blob_store"]
    assert "NoSuchBucket" in body["checks"]["blob_store"]["error"]
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["queue"]["ok"]


def test_refused_credentials_make_the_server_unready_and_replay_a_503(
    s3_ctx: Context, endpoint: str
) -> None:
    alice = make_account(s3_ctx, "alice", "Shop", "https://shop.example")
    app = create_app(s3_ctx, run_processor=False)
    with TestClient(app, base_url="http://testserver") as client:
        send(client, alice, batch(0, start=T0))
        Processor(s3_ctx).drain()
        with s3_ctx.engine.connect() as conn:
            session_id = conn.execute(select(session.c.id)).scalar_one()
        # From here on moto checks signatures against its IAM users, which do not know
        # our key: every request is refused as it would be with wrong credentials.
        with enable_iam_authentication():
            ready = client.get("/readyz")
            replay = client.get(
                f"/api/v1/sessions/{session_id}/events",
                headers={"Authorization": f"Bearer {alice.token}"},
            )
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["blob_store"]
    assert "InvalidAccessKeyId" in ready.json()["checks"]["blob_store"]["error"]
    assert replay.status_code == 503
    assert replay.json() == {"error": "Recordings cannot be read right now; try again shortly."}
    assert SECRET not in ready.text


def test_blob_url_setting_accepts_s3_and_names_a_bad_one(tmp_path: Path) -> None:
    base = {"SESSIONLENS_DATA_DIR": str(tmp_path)}
    loaded = config.load(base | {"SESSIONLENS_BLOB_URL": "s3://bucket/some/prefix"})
    assert loaded.blob_url == "s3://bucket/some/prefix"
    with pytest.raises(config.SettingsError, match="SESSIONLENS_BLOB_URL: expected s3://bucket"):
        config.load(base | {"SESSIONLENS_BLOB_URL": "s3:///prefix"})
    with pytest.raises(config.SettingsError, match="file:// or s3://"):
        config.load(base | {"SESSIONLENS_BLOB_URL": "gs://bucket"})
    with pytest.raises(config.SettingsError, match="SESSIONLENS_S3_ENDPOINT"):
        config.load(base | {"SESSIONLENS_S3_ENDPOINT": "localhost:9000"})
