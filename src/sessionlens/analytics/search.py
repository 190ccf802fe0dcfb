"""Session search: combinable filters from a URL query, turned into SQL conditions.

The same names work in the console (so a filtered list is a shareable URL and can be
saved as a segment) and on GET /api/v1/projects/{id}/sessions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, exists, select, true

from sessionlens.analytics.sources import GROUPS
from sessionlens.storage.tables import (
    page_feedback,
    pageview,
    session,
    session_error,
    session_event,
    session_trait,
    survey_response,
)

URL_OPS = ("contains", "equals", "pattern")
NPS_GROUPS = {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)}
NUMBERS = {  # filter name -> (column, multiplier to its unit, comparison)
    "min_duration": ("duration_ms", 1000, ">="),
    "max_duration": ("duration_ms", 1000, "<="),
    "min_active": ("active_ms", 1000, ">="),
    "min_pages": ("pages", 1, ">="),
    "max_pages": ("pages", 1, "<="),
    "min_clicks": ("clicks", 1, ">="),
    "min_struggle": ("struggle_score", 1, ">="),
    "min_rage_clicks": ("rage_clicks", 1, ">="),
    "min_dead_clicks": ("dead_clicks", 1, ">="),
    "min_error_clicks": ("error_clicks", 1, ">="),
}
EXACT = (
    "source",
    "device",
    "browser",
    "os",
    "country",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)
NAMES = (
    "from",
    "to",
    "url",
    "url_op",
    "entry",
    "referrer",
    "visitor",
    "user",
    "trait",
    "event",
    "errors",
    "error",
    "survey",
    "nps",
    "feedback",
    *NUMBERS,
    *EXACT,
)


class FilterError(ValueError):
    """A filter value the user can fix; the message names the filter."""


@dataclass(frozen=True)
class SessionFilter:
    values: dict[str, str] = field(default_factory=dict)

    def query_string(self) -> str:
        return urlencode(sorted(self.values.items()))

    def conditions(self) -> list[ColumnElement[bool]]:
        return _conditions(self.values)


def _day(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise FilterError(f"{name} must be a date like 2026-11-29") from exc


def parse(query: Mapping[str, str]) -> SessionFilter:
    """Keep the known, non-empty filters, checking each value."""
    values = {
        name: query[name].strip()
        for name in NAMES
        if name in query and query[name] is not None and query[name].strip()
    }
    for name, value in values.items():
        if len(value) > 500:
            raise FilterError(f"{name} is too long")
        if name in NUMBERS and not value.isdigit():
            raise FilterError(f"{name} must be a whole number")
        if name in ("from", "to"):
            _day(name, value)
    if values.get("url_op", "contains") not in URL_OPS:
        raise FilterError(f"url_op must be one of {', '.join(URL_OPS)}")
    if values.get("visitor", "new") not in ("new", "returning"):
        raise FilterError("visitor must be new or returning")
    if values.get("source", "direct") not in GROUPS:
        raise FilterError(f"source must be one of {', '.join(GROUPS)}")
    if values.get("errors", "yes") not in ("yes", "no"):
        raise FilterError("errors must be yes or no")
    if not (values.get("survey", "*") == "*" or values.get("survey", "").isdigit()):
        raise FilterError("survey must be a survey's id, or * for any survey")
    if values.get("nps", "promoter") not in NPS_GROUPS:
        raise FilterError(f"nps must be one of {', '.join(NPS_GROUPS)}")
    if values.get("feedback", "yes") not in ("yes", "1", "2", "3", "4", "5"):
        raise FilterError("feedback must be yes or a rating 1-5")
    if "trait" in values and ":" not in values["trait"]:
        raise FilterError("trait must look like key:value")
    return SessionFilter(values)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _url_condition(value: str, op: str) -> ColumnElement[bool]:
    match: ColumnElement[bool]
    if op == "equals":
        match = (pageview.c.url == value) | (pageview.c.path == value)
    elif op == "pattern":  # * matches anything, against the path
        pattern = "%".join(_like(part) for part in value.split("*"))
        match = pageview.c.path.like(pattern, escape="\\")
    else:
        match = pageview.c.url.like(f"%{_like(value)}%", escape="\\")
    return exists(select(pageview.c.id).where(pageview.c.session_id == session.c.id, match))


def _conditions(values: dict[str, str]) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if "from" in values:
        out.append(
            session.c.started_at >= datetime.combine(_day("from", values["from"]), time(), UTC)
        )
    if "to" in values:
        end = datetime.combine(_day("to", values["to"]) + timedelta(days=1), time(), UTC)
        out.append(session.c.started_at < end)
    for name, (column, factor, op) in NUMBERS.items():
        if name in values:
            limit = int(values[name]) * factor
            col = session.c[column]
            out.append(col >= limit if op == ">=" else col <= limit)
    for name in EXACT:
        if name in values:
            out.append(session.c[name] == values[name])
    if "url" in values:
        out.append(_url_condition(values["url"], values.get("url_op", "contains")))
    if "entry" in values:
        out.append(session.c.entry_url.like(f"%{_like(values['entry'])}%", escape="\\"))
    if "referrer" in values:
        out.append(session.c.referrer_domain.like(f"%{_like(values['referrer'])}%", escape="\\"))
    if "visitor" in values:
        out.append(session.c.is_returning.is_(values["visitor"] == "returning"))
    if "user" in values:
        out.append(
            session.c.user_id != ""
            if values["user"] == "*"
            else session.c.user_id == values["user"]
        )
    if "trait" in values:
        key, _, value = values["trait"].partition(":")
        out.append(
            exists(
                select(session_trait.c.key).where(
                    session_trait.c.session_id == session.c.id,
                    session_trait.c.key == key.strip(),
                    session_trait.c.value == value.strip(),
                )
            )
        )
    if "event" in values:
        out.append(
            exists(
                select(session_event.c.id).where(
                    session_event.c.session_id == session.c.id,
                    session_event.c.name == values["event"],
                )
            )
        )
    if "errors" in values:
        out.append(session.c.errors > 0 if values["errors"] == "yes" else session.c.errors == 0)
    if "error" in values:
        out.append(
            exists(
                select(session_error.c.id).where(
                    session_error.c.session_id == session.c.id,
                    session_error.c.fingerprint == values["error"],
                )
            )
        )
    out += _said(values)
    return out


def _said(values: dict[str, str]) -> list[ColumnElement[bool]]:
    """Survey answers and feedback given in the session (surveys/, by the recorder's id)."""
    out: list[ColumnElement[bool]] = []
    r = survey_response.c
    in_session = [r.project_id == session.c.project_id, r.session_key == session.c.client_id]
    if "survey" in values or "nps" in values:
        wanted = [*in_session, r.state.in_(("answered", "dismissed"))]
        if values.get("survey", "*") != "*":
            wanted.append(r.survey_id == int(values["survey"]))
        if "nps" in values:
            low, high = NPS_GROUPS[values["nps"]]
            wanted.append(r.nps.between(low, high))
        out.append(exists(select(r.id).where(*wanted)))
    if "feedback" in values:
        f = page_feedback.c
        wanted = [f.project_id == session.c.project_id, f.session_key == session.c.client_id]
        if values["feedback"] != "yes":
            wanted.append(f.rating == int(values["feedback"]))
        out.append(exists(select(f.id).where(*wanted)))
    return out


def describe(values: dict[str, Any]) -> list[str]:
    """Readable chips for the filters in force."""
    return [
        f"{name.replace('_', ' ')}: {value}"
        for name, value in sorted(values.items())
        if name != "url_op"
    ]


def combined(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(true(), *conditions)
