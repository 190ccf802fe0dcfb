"""Encryption at rest of recording blocks: AES-256-GCM with a key per project.

A project's key is derived from the server secret with HKDF-SHA256, so there is no key
to store. An encrypted blob is

    MAGIC (4) | version (1) | key id (8) | nonce (12) | ciphertext + tag (16)

The key id names the secret (not the project key) the blob was written with, so a reader
holding the current secret and some old ones knows which to use, and a blob written with
a secret it no longer has fails with a message saying so. The header and the blob's key
(its path) are the associated data: a blob copied to another path, or to another
project, does not decrypt. A blob without MAGIC was written before encryption existed
and is returned as it is; `sessionlens rotate-keys` encrypts those too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from enum import Enum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sessionlens.storage.blobs import BlobStore

# The first byte is not ASCII, so neither JSON nor a zstd frame (28 b5 2f fd) starts so.
MAGIC = b"\x8aSLE"
VERSION = 1
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + 1 + KEY_ID_BYTES
# Fixed, public and never changed: HKDF's salt separates our keys from any other use of
# the same secret; what makes them secret is the secret itself.
SALT = b"sessionlens encryption at rest"
_PROJECT_KEY = re.compile(r"p(\d+)/")


class BlobDecryptionError(Exception):
    """A blob could not be decrypted: written with a secret this server does not have,
    altered, truncated, or moved from another path."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"cannot decrypt blob {key}: {reason}")
        self.key = key
        self.reason = reason


class Sealed(Enum):
    """How a stored blob is protected, as far as its header tells."""

    PLAIN = "plain"  # written before encryption existed
    CURRENT = "current"  # under the current secret
    OLD = "old"  # under one of the old secrets
    UNKNOWN = "unknown"  # under a secret we do not have, or an unknown format


def _hkdf(secret: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=SHA256(), length=length, salt=SALT, info=info).derive(secret)


def key_id(secret: str) -> bytes:
    """A short public name of a secret; reveals nothing of it or of the keys."""
    return _hkdf(secret.encode(), b"sessionlens blocks v1 key id", KEY_ID_BYTES)


def project_key(secret: str, project_id: int) -> bytes:
    """The 256-bit key of one project's blocks."""
    return _hkdf(secret.encode(), f"sessionlens blocks v1 project {project_id}".encode(), 32)


def project_of(key: str) -> int:
    """The project a blob belongs to, from its key `p{project}/...`."""
    found = _PROJECT_KEY.match(key)
    if found is None:
        raise ValueError(f"blob key {key!r} does not start with p{{project}}/")
    return int(found.group(1))


class Keyring:
    """The current secret, which encrypts, and old secrets, still accepted to decrypt."""

    def __init__(self, current: str, old: Sequence[str] = ()) -> None:
        self.current_id = key_id(current)
        self._secrets = {key_id(secret): secret for secret in (*old, current)}
        self._ciphers: dict[tuple[bytes, int], AESGCM] = {}

    def cipher(self, secret_id: bytes, project_id: int) -> AESGCM | None:
        """The project's cipher under the named secret; None if we lack that secret."""
        cached = self._ciphers.get((secret_id, project_id))
        if cached is None:
            secret = self._secrets.get(secret_id)
            if secret is None:
                return None
            cached = AESGCM(project_key(secret, project_id))
            self._ciphers[(secret_id, project_id)] = cached
        return cached

    def sealed(self, data: bytes) -> Sealed:
        if not data.startswith(MAGIC):
            return Sealed.PLAIN
        if len(data) < HEADER_BYTES or data[len(MAGIC)] != VERSION:
            return Sealed.UNKNOWN
        secret_id = data[len(MAGIC) + 1 : HEADER_BYTES]
        if secret_id == self.current_id:
            return Sealed.CURRENT
        return Sealed.OLD if secret_id in self._secrets else Sealed.UNKNOWN

    def encrypt(self, key: str, plain: bytes) -> bytes:
        header = MAGIC + bytes([VERSION]) + self.current_id
        cipher = self.cipher(self.current_id, project_of(key))
        assert cipher is not None  # the current secret is always in the ring
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + cipher.encrypt(nonce, plain, header + key.encode())

    def decrypt(self, key: str, data: bytes) -> bytes:
        """The plain bytes of a stored blob; a blob without MAGIC is returned as it is."""
        if not data.startswith(MAGIC):
            return data
        if len(data) < HEADER_BYTES + NONCE_BYTES + TAG_BYTES:
            raise BlobDecryptionError(key, "it is truncated")
        if data[len(MAGIC)] != VERSION:
            raise BlobDecryptionError(key, f"unknown format version {data[len(MAGIC)]}")
        header = data[:HEADER_BYTES]
        secret_id = header[len(MAGIC) + 1 :]
        try:
            project_id = project_of(key)
        except ValueError as exc:
            raise BlobDecryptionError(key, "its key names no project") from exc
        cipher = self.cipher(secret_id, project_id)
        if cipher is None:
            raise BlobDecryptionError(
                key,
                f"it was encrypted with a secret this server does not have (key id "
                f"{secret_id.hex()}); add that secret to SESSIONLENS_OLD_SECRET_KEYS",
            )
        nonce = data[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            return cipher.decrypt(nonce, data[HEADER_BYTES + NONCE_BYTES :], header + key.encode())
        except InvalidTag:
            raise BlobDecryptionError(
                key, "authentication failed: it was altered or moved from another path"
            ) from None


class EncryptedBlobStore:
    """A BlobStore that encrypts what it puts and decrypts what it gets."""

    def __init__(self, inner: BlobStore, keyring: Keyring, description: str = "") -> None:
        self.inner = inner
        self.keyring = keyring
        self.description = description

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(key, self.keyring.encrypt(key, data))

    def get(self, key: str) -> bytes:
        return self.keyring.decrypt(key, self.inner.get(key))

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of the plain blob. GCM authenticates the blob as a whole, so
        the whole blob is read and decrypted first; blocks are small (about 1 MB of JSON
        before compression), so this costs little."""
        return self.get(key)[start:end]

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list(self, prefix: str = "") -> list[str]:
        return self.inner.list(prefix)
