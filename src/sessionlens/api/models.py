"""Response shapes of the REST API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ProjectOut(BaseModel):
    id: int
    name: str
    website_origins: list[str]
    ingest_key: str


class ProjectList(BaseModel):
    projects: list[ProjectOut]


class SessionOut(BaseModel):
    id: str
    project_id: int
    started_at: datetime
    ended_at: datetime
    duration_ms: int
    active_ms: int
    pages: int
    clicks: int
    errors: int
    rage_clicks: int
    dead_clicks: int
    error_clicks: int
    struggle_score: int
    keypresses: int
    entry_url: str
    exit_url: str
    referrer: str
    referrer_domain: str
    source: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    browser: str
    browser_version: str
    os: str
    device: str
    screen_width: int | None
    screen_height: int | None
    viewport_width: int | None
    viewport_height: int | None
    language: str
    country: str
    user_id: str
    visitor_id: str
    is_returning: bool


class PageviewOut(BaseModel):
    url: str
    path: str
    title: str
    started_at: datetime
    offset_ms: int
    duration_ms: int
    ttfb_ms: int | None = None
    dcl_ms: int | None = None
    load_ms: int | None = None
    lcp_ms: int | None = None


class SignalOut(BaseModel):
    kind: str
    label: str
    text: str
    offset_ms: int
    path: str
    selector: str
    detail: dict[str, Any]


class StrugglePart(BaseModel):
    kind: str
    count: int
    points: int


class SessionDetail(SessionOut):
    pageviews: list[PageviewOut]
    signals: list[SignalOut]
    struggle: list[StrugglePart]


class SessionPage(BaseModel):
    sessions: list[SessionOut]
    page: int
    per_page: int
    has_more: bool


class ErrorOut(BaseModel):
    error: str
