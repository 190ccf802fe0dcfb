"""TOTP second factor (RFC 6238, via pyotp) with one-use recovery codes.

The TOTP secret is stored encrypted with a key derived from the server secret, so a copy
of the database alone does not give away second factors. A code's time step is recorded
when used, so the same code cannot log in twice.
"""

from __future__ import annotations

import base64
import os
import secrets
import time

import pyotp
import segno
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, delete, insert, select, update

from sessionlens.accounts.tokens import digest
from sessionlens.storage.tables import membership, organisation, recovery_code, users, utcnow

ISSUER = "sessionlens"
RECOVERY_CODES = 10
STEP_SECONDS = 30


def _box(secret_key: str) -> AESGCM:
    key = HKDF(
        algorithm=SHA256(), length=32, salt=b"sessionlens totp", info=b"totp secrets v1"
    ).derive(secret_key.encode())
    return AESGCM(key)


def seal(secret_key: str, totp_secret: str) -> str:
    nonce = os.urandom(12)
    sealed = _box(secret_key).encrypt(nonce, totp_secret.encode(), b"totp")
    return base64.b64encode(nonce + sealed).decode()


def unseal(secret_key: str, stored: str) -> str:
    raw = base64.b64decode(stored)
    return _box(secret_key).decrypt(raw[:12], raw[12:], b"totp").decode()


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(totp_secret: str, email: str) -> str:
    return pyotp.TOTP(totp_secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of the otpauth URI as inline SVG (no script, no external request)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, dark="#151a28")
    return svg


def _matching_step(totp_secret: str, code: str, now: float) -> int | None:
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(totp_secret)
    current = int(now // STEP_SECONDS)
    for step in (current - 1, current, current + 1):  # allow a little clock drift
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def enable(
    conn: Connection, secret_key: str, user_id: int, totp_secret: str, code: str
) -> list[str] | None:
    """Turn TOTP on after the user proved their app has the secret; the recovery codes."""
    step = _matching_step(totp_secret, code, time.time())
    if step is None:
        return None
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            totp_secret=seal(secret_key, totp_secret), totp_enabled_at=utcnow(), totp_last_step=step
        )
    )
    return new_recovery_codes(conn, user_id)


def new_recovery_codes(conn: Connection, user_id: int) -> list[str]:
    conn.execute(delete(recovery_code).where(recovery_code.c.user_id == user_id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    for code in codes:
        conn.execute(insert(recovery_code).values(user_id=user_id, code_hash=digest(code)))
    return codes


def disable(conn: Connection, user_id: int) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(totp_secret=None, totp_enabled_at=None, totp_last_step=None)
    )
    conn.execute(delete(recovery_code).where(recovery_code.c.user_id == user_id))


def enabled(conn: Connection, user_id: int) -> bool:
    return (
        conn.execute(
            select(users.c.totp_enabled_at).where(users.c.id == user_id)
        ).scalar_one_or_none()
        is not None
    )


def verify(
    conn: Connection, secret_key: str, user_id: int, code: str, now: float | None = None
) -> bool:
    """A valid, unused TOTP code or recovery code (which is then used up)."""
    row = conn.execute(
        select(users.c.totp_secret, users.c.totp_last_step).where(users.c.id == user_id)
    ).first()
    if row is None or row.totp_secret is None:
        return False
    step = _matching_step(
        unseal(secret_key, row.totp_secret), code, time.time() if now is None else now
    )
    if step is not None:
        if row.totp_last_step is not None and step <= row.totp_last_step:
            return False  # replayed
        conn.execute(update(users).where(users.c.id == user_id).values(totp_last_step=step))
        return True
    used = conn.execute(
        update(recovery_code)
        .where(
            recovery_code.c.user_id == user_id,
            recovery_code.c.code_hash == digest(code.strip()),
            recovery_code.c.used_at.is_(None),
        )
        .values(used_at=utcnow())
    ).rowcount
    return bool(used)


def remaining_recovery_codes(conn: Connection, user_id: int) -> int:
    return len(
        conn.execute(
            select(recovery_code.c.id).where(
                recovery_code.c.user_id == user_id, recovery_code.c.used_at.is_(None)
            )
        ).all()
    )


def required_for(conn: Connection, user_id: int) -> bool:
    """Whether one of the user's organisations requires a second factor."""
    return (
        conn.execute(
            select(organisation.c.id)
            .join(membership, membership.c.organisation_id == organisation.c.id)
            .where(membership.c.user_id == user_id, organisation.c.require_2fa.is_(True))
            .limit(1)
        ).first()
        is not None
    )


def set_required(conn: Connection, organisation_id: int, required: bool) -> None:
    conn.execute(
        update(organisation)
        .where(organisation.c.id == organisation_id)
        .values(require_2fa=required)
    )


def organisation_requires(conn: Connection, organisation_id: int) -> bool:
    return bool(
        conn.execute(
            select(organisation.c.require_2fa).where(organisation.c.id == organisation_id)
        ).scalar_one_or_none()
    )
