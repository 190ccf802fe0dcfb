"""Projects: a website recorded by sessionlens, owned by an organisation."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Connection, insert, select, true, update

from sessionlens import privacy as privacy_rules
from sessionlens import recording_rules
from sessionlens.accounts.access import visible_project, visible_projects
from sessionlens.privacy import PrivacySettings
from sessionlens.storage.tables import inserted_id, membership, project
from sessionlens.surveys import settings as survey_settings


class ProjectError(ValueError):
    """A user-caused problem with a project operation."""


@dataclass(frozen=True)
class Project:
    id: int
    organisation_id: int
    name: str
    ingest_key: str
    website_origins: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def privacy(self) -> PrivacySettings:
        stored = self.settings.get("privacy", {})
        try:
            return privacy_rules.parse(stored if isinstance(stored, dict) else {})
        except privacy_rules.PrivacyError:
            # A stored rule the code no longer accepts: fall back to the strict defaults.
            return PrivacySettings()

    @property
    def recording(self) -> recording_rules.RecordingRules:
        return recording_rules.of_settings(self.settings)

    @property
    def surveys(self) -> survey_settings.SurveySettings:
        return survey_settings.of_settings(self.settings)


def normalise_origin(raw: str) -> str:
    """'https://Shop.example/path' -> 'https://shop.example'; default ports dropped."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ProjectError(f"{raw!r} is not a website origin such as https://shop.example")
    host = parts.hostname.lower()
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError as exc:
        raise ProjectError(f"{raw!r} has a bad port") from exc
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _from_row(row: object) -> Project:
    return Project(
        id=row.id,  # type: ignore[attr-defined]
        organisation_id=row.organisation_id,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        ingest_key=row.ingest_key,  # type: ignore[attr-defined]
        website_origins=tuple(json.loads(row.website_origins)),  # type: ignore[attr-defined]
        settings=json.loads(row.settings or "{}"),  # type: ignore[attr-defined]
    )


def create_project(
    conn: Connection, organisation_id: int, name: str, origins: list[str]
) -> Project:
    name = name.strip()
    if not name:
        raise ProjectError("a project needs a name")
    clean = sorted({normalise_origin(o) for o in origins})
    if not clean:
        raise ProjectError("a project needs at least one website origin")
    key = secrets.token_urlsafe(16)
    new_id = inserted_id(
        conn.execute(
            insert(project).values(
                organisation_id=organisation_id,
                name=name,
                ingest_key=key,
                website_origins=json.dumps(clean),
            )
        )
    )
    return Project(int(new_id), organisation_id, name, key, tuple(clean))


def by_key(conn: Connection, key: str) -> Project | None:
    row = conn.execute(select(project).where(project.c.ingest_key == key)).first()
    return None if row is None else _from_row(row)


def by_id(conn: Connection, project_id: int) -> Project | None:
    row = conn.execute(select(project).where(project.c.id == project_id)).first()
    return None if row is None else _from_row(row)


def by_name(conn: Connection, organisation_id: int, name: str) -> Project | None:
    row = conn.execute(
        select(project).where(project.c.organisation_id == organisation_id, project.c.name == name)
    ).first()
    return None if row is None else _from_row(row)


def _in_org(organisation_id: int | None) -> ColumnElement[bool]:
    return true() if organisation_id is None else project.c.organisation_id == organisation_id


def for_user(conn: Connection, user_id: int, organisation_id: int | None = None) -> list[Project]:
    """Every project the user may see (in one organisation, when named)."""
    rows = conn.execute(
        select(project)
        .where(visible_projects(user_id), _in_org(organisation_id))
        .order_by(project.c.name, project.c.id)
    )
    return [_from_row(r) for r in rows]


def get_for_user(
    conn: Connection, user_id: int, project_id: int, organisation_id: int | None = None
) -> Project | None:
    """The project if the user may see it, else None (the same answer as 'no such project')."""
    row = conn.execute(
        select(project).where(visible_project(user_id, project_id), _in_org(organisation_id))
    ).first()
    return None if row is None else _from_row(row)


def _save_settings(conn: Connection, current: Project, settings: dict[str, Any]) -> Project:
    """Store the project's whole settings object and return the project with it."""
    conn.execute(
        update(project)
        .where(project.c.id == current.id)
        .values(settings=json.dumps(settings, sort_keys=True))
    )
    return replace(current, settings=settings)


def save_privacy(conn: Connection, current: Project, rules: PrivacySettings) -> Project:
    settings = dict(current.settings)
    settings["privacy"] = {**rules.extra, **rules.to_json()}
    return _save_settings(conn, current, settings)


def role_in(conn: Connection, user_id: int, organisation_id: int) -> str | None:
    row = conn.execute(
        select(membership.c.role).where(
            membership.c.user_id == user_id, membership.c.organisation_id == organisation_id
        )
    ).first()
    return None if row is None else str(row.role)


def save_retention(conn: Connection, current: Project, days: int) -> Project:
    if not 1 <= days <= 3650:
        raise ProjectError("retention must be between 1 and 3650 days")
    settings = {**current.settings, "retention_days": days}
    return _save_settings(conn, current, settings)


def save_recording(
    conn: Connection, current: Project, rules: recording_rules.RecordingRules
) -> Project:
    settings = {**current.settings, "recording": rules.to_json()}
    return _save_settings(conn, current, settings)


def save_survey_settings(
    conn: Connection, current: Project, chosen: survey_settings.SurveySettings
) -> Project:
    settings = {**current.settings, "surveys": chosen.to_json()}
    return _save_settings(conn, current, settings)
