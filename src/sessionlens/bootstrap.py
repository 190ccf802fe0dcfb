"""First run: an admin account and the Demo project, so a newcomer can try everything."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Engine

from sessionlens import projects
from sessionlens.accounts import users
from sessionlens.config import Settings

DEMO_PROJECT = "Demo"


@dataclass(frozen=True)
class FirstRun:
    admin_email: str | None
    generated_password: str | None
    demo_key: str | None


def demo_origins(settings: Settings) -> list[str]:
    """The demo is served by this server, under each name it is commonly reached by."""
    origins = {settings.base_url}
    for alias in ("127.0.0.1", "localhost"):
        origins.add(f"http://{alias}:{settings.port}")
    return sorted(origins)


def ensure(engine: Engine, settings: Settings) -> FirstRun:
    """Create the admin (when there are no users) and the Demo project (when asked)."""
    email = password = demo_key = None
    with engine.begin() as conn:
        if users.count_users(conn) == 0:
            email = settings.admin_email
            password = settings.admin_password or secrets.token_urlsafe(12)
            users.create_user(conn, email, "Admin", password, org_name="Demo organisation")
        if settings.demo:
            admin = users.find_user(conn, settings.admin_email)
            if admin is not None:
                org_id = users.organisation_ids(conn, admin.id)[0]
                demo = projects.by_name(conn, org_id, DEMO_PROJECT)
                if demo is None:
                    demo = projects.create_project(
                        conn, org_id, DEMO_PROJECT, demo_origins(settings)
                    )
                demo_key = demo.ingest_key
    generated = None if settings.admin_password or password is None else password
    return FirstRun(email, generated, demo_key)


def demo_key(engine: Engine, settings: Settings) -> str | None:
    with engine.connect() as conn:
        admin = users.find_user(conn, settings.admin_email)
        if admin is None:
            return None
        for org_id in users.organisation_ids(conn, admin.id):
            demo = projects.by_name(conn, org_id, DEMO_PROJECT)
            if demo is not None:
                return demo.ingest_key
    return None
