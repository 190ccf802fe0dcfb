from __future__ import annotations

import re
from pathlib import Path

import pytest
import zstandard
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens import config
from sessionlens.cli import main
from sessionlens.context import Context
from sessionlens.processing.processor import Processor
from sessionlens.storage.crypto import (
    MAGIC,
    BlobDecryptionError,
    EncryptedBlobStore,
    Keyring,
    Sealed,
    key_id,
    project_key,
)
from sessionlens.storage.tables import session as session_table
from tests.conftest import Account, batch, click, send

T0 = 1_764_000_000_000
# In the recorded events (a page URL), so the blobs would hold it if stored in clear.
MARKER = "orchid-umbrella-7731"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
NEW_SECRET = "n" * 40
UNKNOWN_SECRET = "u" * 40


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def record(client: TestClient, account: Account, processor: Processor, session: str) -> str:
    """A two-batch session with MARKER in its events; returns the session id."""
    url = f"https://shop.example/{MARKER}"
    send(client, account, batch(0, session_id=session, url=url, start=T0))
    send(client, account, batch(1, session_id=session, url=url, events=[click(T0 + 500)]))
    processor.drain()
    with processor.ctx.engine.connect() as conn:
        found = conn.execute(
            select(session_table.c.id).where(session_table.c.client_id == session)
        ).scalar_one()
    return str(found)


def replay(client: TestClient, account: Account, session_id: str) -> list[dict[str, object]]:
    response = client.get(f"/api/v1/sessions/{session_id}/events", headers=auth(account))
    assert response.status_code == 200, response.text
    events: list[dict[str, object]] = response.json()
    return events


def raw_files(ctx: Context) -> dict[str, bytes]:
    """The blob store's files as they are on disk."""
    root = ctx.settings.data_dir / "blobs"
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def rotate_keys(ctx: Context, monkeypatch: pytest.MonkeyPatch, current: str, old: str) -> int:
    """`sessionlens rotate-keys` with these secrets, in this process; its exit code."""
    monkeypatch.setenv("SESSIONLENS_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("SESSIONLENS_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("SESSIONLENS_SECRET_KEY", current)
    monkeypatch.setenv("SESSIONLENS_OLD_SECRET_KEYS", old)
    return main(["rotate-keys"])


@pytest.fixture
def session_id(client: TestClient, alice: Account, processor: Processor) -> str:
    return record(client, alice, processor, "sessionCRYPT0001")


def test_recorded_blocks_hold_no_plaintext_on_disk_yet_replay(
    client: TestClient, ctx: Context, alice: Account, session_id: str
) -> None:
    files = raw_files(ctx)
    assert files, "no blob was written"
    for name, data in files.items():
        assert data.startswith(MAGIC), name
        assert MARKER.encode() not in data
        assert ZSTD_MAGIC not in data[:64]
        with pytest.raises(zstandard.ZstdError):
            zstandard.ZstdDecompressor().decompress(data)
    events = replay(client, alice, session_id)
    assert any(MARKER in str(e.get("data")) for e in events)
    assert [e["type"] for e in events][:2] == [4, 2]


def test_a_block_copied_to_another_project_or_path_does_not_decrypt(
    ctx: Context, alice: Account, bob: Account, session_id: str
) -> None:
    key = ctx.blobs.list()[0]
    sealed = ctx.blobs.inner.get(key)
    elsewhere = [
        f"p{bob.project.id}/sessions/{session_id}/000000.json.zst",
        f"p{alice.project.id}/sessions/{session_id}/000099.json.zst",
        f"p{alice.project.id}/sessions/sessionOTHER/000000.json.zst",
    ]
    for other in elsewhere:
        ctx.blobs.inner.put(other, sealed)
        with pytest.raises(BlobDecryptionError, match="altered or moved"):
            ctx.blobs.get(other)
    assert ctx.blobs.get(key).startswith(ZSTD_MAGIC)


def test_every_project_has_its_own_key() -> None:
    secret = "s" * 40
    keys = {project_key(secret, project_id) for project_id in range(1, 50)}
    assert len(keys) == 49
    assert all(len(k) == 32 for k in keys)
    assert project_key(secret, 1) != project_key(NEW_SECRET, 1)
    assert key_id(secret) != key_id(NEW_SECRET)


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        (5, "does not have"),  # the key id
        (15, "altered"),  # the nonce
        (40, "altered"),  # the ciphertext
        (-1, "altered"),  # the tag
    ],
)
def test_a_flipped_byte_raises_the_decryption_error(
    ctx: Context, session_id: str, where: int, reason: str
) -> None:
    key = ctx.blobs.list()[0]
    data = bytearray(ctx.blobs.inner.get(key))
    data[where] ^= 0x01
    ctx.blobs.inner.put(key, bytes(data))
    with pytest.raises(BlobDecryptionError, match=reason) as caught:
        ctx.blobs.get(key)
    assert caught.value.key == key


def test_a_truncated_blob_raises_the_decryption_error(ctx: Context, session_id: str) -> None:
    key = ctx.blobs.list()[0]
    ctx.blobs.inner.put(key, ctx.blobs.inner.get(key)[:30])
    with pytest.raises(BlobDecryptionError, match="truncated"):
        ctx.blobs.get(key)


def test_a_blob_written_before_encryption_is_still_readable(
    client: TestClient, ctx: Context, alice: Account, session_id: str
) -> None:
    before = replay(client, alice, session_id)
    for key in ctx.blobs.list():
        ctx.blobs.inner.put(key, ctx.blobs.get(key))  # as it was stored before encryption
    assert all(data.startswith(ZSTD_MAGIC) for data in raw_files(ctx).values())
    assert replay(client, alice, session_id) == before


def test_a_range_is_cut_from_the_decrypted_blob(ctx: Context, session_id: str) -> None:
    key = ctx.blobs.list()[0]
    whole = ctx.blobs.get(key)
    assert ctx.blobs.get_range(key, 0, 4) == ZSTD_MAGIC
    assert ctx.blobs.get_range(key, 3, 10) == whole[3:10]


def test_a_key_without_a_project_is_refused(ctx: Context) -> None:
    with pytest.raises(ValueError, match="p\\{project\\}"):
        ctx.blobs.put("sessions/x/000000.json.zst", b"data")


def test_after_a_secret_change_old_blocks_replay_and_new_ones_use_the_new_secret(
    client: TestClient, ctx: Context, alice: Account, processor: Processor, session_id: str
) -> None:
    old_secret = ctx.settings.secret_key
    old_keys = set(ctx.blobs.list())
    # The server restarted with a new secret and the old one in OLD_SECRET_KEYS.
    ctx.blobs = EncryptedBlobStore(ctx.blobs.inner, Keyring(NEW_SECRET, [old_secret]))
    send(client, alice, batch(2, session_id="sessionCRYPT0001", events=[click(T0 + 900)]))
    processor.drain()
    new_keys = set(ctx.blobs.list()) - old_keys
    assert new_keys
    for key in new_keys:
        assert ctx.blobs.keyring.sealed(ctx.blobs.inner.get(key)) is Sealed.CURRENT
    for key in old_keys:
        assert ctx.blobs.keyring.sealed(ctx.blobs.inner.get(key)) is Sealed.OLD
    stamps = [e["timestamp"] for e in replay(client, alice, session_id)]
    assert stamps[-1] == T0 + 900


def test_rotate_keys_reencrypts_everything_under_the_new_secret(
    client: TestClient,
    ctx: Context,
    alice: Account,
    processor: Processor,
    session_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    second = record(client, alice, processor, "sessionCRYPT0002")
    before = {sid: replay(client, alice, sid) for sid in (session_id, second)}
    keys = ctx.blobs.list()
    legacy = keys[0]
    ctx.blobs.inner.put(legacy, ctx.blobs.get(legacy))  # one written before encryption
    old_secret = ctx.settings.secret_key

    assert rotate_keys(ctx, monkeypatch, NEW_SECRET, old_secret) == 0
    out = capsys.readouterr().out
    assert f"re-encrypted {len(keys)}, already current 0, failed 0" in out

    # The old secret is no longer needed: the new one alone reads every block.
    new_only = EncryptedBlobStore(ctx.blobs.inner, Keyring(NEW_SECRET))
    assert all(new_only.keyring.sealed(d) is Sealed.CURRENT for d in raw_files(ctx).values())
    with pytest.raises(BlobDecryptionError, match="does not have"):
        EncryptedBlobStore(ctx.blobs.inner, Keyring(old_secret)).get(keys[1])
    ctx.blobs = new_only
    assert {sid: replay(client, alice, sid) for sid in before} == before

    # Running it again changes nothing.
    files = raw_files(ctx)
    assert rotate_keys(ctx, monkeypatch, NEW_SECRET, old_secret) == 0
    out = capsys.readouterr().out
    assert f"re-encrypted 0, already current {len(keys)}, failed 0" in out
    assert raw_files(ctx) == files


def test_rotate_keys_counts_a_blob_under_an_unknown_secret_as_failed(
    ctx: Context,
    session_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = ctx.blobs.list()
    assert len(keys) >= 1
    stranger = EncryptedBlobStore(ctx.blobs.inner, Keyring(UNKNOWN_SECRET))
    ctx.blobs.inner.put(keys[0], stranger.keyring.encrypt(keys[0], b"other data"))
    kept = ctx.blobs.inner.get(keys[0])

    code = rotate_keys(ctx, monkeypatch, NEW_SECRET, ctx.settings.secret_key)
    captured = capsys.readouterr()
    assert code == 1
    assert f"re-encrypted {len(keys) - 1}, already current 0, failed 1" in captured.out
    assert keys[0] in captured.err
    assert key_id(UNKNOWN_SECRET).hex() in captured.err
    assert ctx.blobs.inner.get(keys[0]) == kept  # left untouched, for a later run


def test_rotate_keys_leaves_a_blob_no_block_refers_to(
    ctx: Context,
    alice: Account,
    session_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # What a visitor erasure that ran during the walk leaves: the blob must not be written
    # back under the new secret as if the recording still existed.
    orphan = f"p{alice.project.id}/sessions/sessionGONE00001/000000.json.zst"
    ctx.blobs.inner.put(orphan, ctx.blobs.get(ctx.blobs.list()[0]))
    blocks = len(ctx.blobs.list()) - 1

    assert rotate_keys(ctx, monkeypatch, NEW_SECRET, ctx.settings.secret_key) == 0
    out = capsys.readouterr().out
    assert f"re-encrypted {blocks}, already current 0, failed 0" in out
    assert "not referenced by any block 1" in out
    assert ctx.blobs.inner.get(orphan).startswith(ZSTD_MAGIC)


def test_old_secrets_setting_is_a_list_of_long_secrets(tmp_path: Path) -> None:
    env = {"SESSIONLENS_DATA_DIR": str(tmp_path)}
    assert config.load(env).old_secret_keys == ()
    two = config.load({**env, "SESSIONLENS_OLD_SECRET_KEYS": f" {'a' * 32}, {'b' * 40} ,"})
    assert two.old_secret_keys == ("a" * 32, "b" * 40)
    secrets_file = tmp_path / "old"
    secrets_file.write_text(f"{'a' * 32}\n{'b' * 40}\n")
    from_file = config.load({**env, "SESSIONLENS_OLD_SECRET_KEYS_FILE": str(secrets_file)})
    assert from_file.old_secret_keys == ("a" * 32, "b" * 40)
    with pytest.raises(config.SettingsError, match=re.escape("SESSIONLENS_OLD_SECRET_KEYS")):
        config.load({**env, "SESSIONLENS_OLD_SECRET_KEYS": f"{'a' * 32},short"})
