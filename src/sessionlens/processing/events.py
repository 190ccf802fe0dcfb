"""What rrweb events mean, for the summaries: pure functions, no I/O.

rrweb event types: 2 full snapshot, 3 incremental snapshot, 4 meta (a page load),
5 custom. Incremental sources: 1 mouse move, 2 mouse interaction (data.type 2 is a
click), 3 scroll, 5 input, 6 touch move, 12 drag.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FULL_SNAPSHOT = 2
INCREMENTAL = 3
META = 4
CUSTOM = 5

SOURCE_MOUSE_MOVE = 1
SOURCE_MOUSE_INTERACTION = 2
SOURCE_SCROLL = 3
SOURCE_INPUT = 5
SOURCE_TOUCH_MOVE = 6
SOURCE_DRAG = 12
CLICK = 2

ACTIVE_SOURCES = {
    SOURCE_MOUSE_MOVE,
    SOURCE_MOUSE_INTERACTION,
    SOURCE_SCROLL,
    SOURCE_INPUT,
    SOURCE_TOUCH_MOVE,
    SOURCE_DRAG,
}
ACTIVITY_GAP_MS = 5000
MAX_TRAITS = 50
ERROR_KINDS = ("error", "rejection", "console")
MAX_ERROR_MESSAGE = 1000
MAX_ERROR_STACK = 4000
MAX_TIMING_MS = 600_000
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@dataclass
class Page:
    ts: int
    url: str


@dataclass
class JsError:
    ts: int
    kind: str  # error, rejection or console
    message: str
    stack: str
    source: str


@dataclass
class Timing:
    ts: int
    href: str
    ttfb: int | None
    dcl: int | None
    load: int | None
    lcp: int | None


@dataclass
class Digest:
    """What a run of events adds to a session's summary."""

    first_ts: int | None = None
    last_ts: int | None = None
    clicks: int = 0
    keypresses: int = 0
    events: int = 0
    has_full_snapshot: bool = False
    activity: list[int] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    user_id: str | None = None
    traits: dict[str, str] = field(default_factory=dict)
    custom: list[tuple[int, str]] = field(default_factory=list)  # (ts, name)
    errors: list[JsError] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


def digest(events: list[dict[str, Any]]) -> Digest:
    out = Digest()
    for event in events:
        ts = int(event["timestamp"])
        out.events += 1
        out.first_ts = ts if out.first_ts is None else min(out.first_ts, ts)
        out.last_ts = ts if out.last_ts is None else max(out.last_ts, ts)
        kind = event["type"]
        data = _data(event)
        if kind == FULL_SNAPSHOT:
            out.has_full_snapshot = True
        elif kind == META and isinstance(data.get("href"), str):
            out.pages.append(Page(ts, data["href"]))
        elif kind == INCREMENTAL:
            source = data.get("source")
            if source in ACTIVE_SOURCES:
                out.activity.append(ts)
            if source == SOURCE_MOUSE_INTERACTION and data.get("type") == CLICK:
                out.clicks += 1
            elif source == SOURCE_INPUT:
                out.keypresses += 1
        elif kind == CUSTOM:
            _custom(out, ts, data)
    out.activity.sort()
    return out


def _custom(out: Digest, ts: int, data: dict[str, Any]) -> None:
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return
    if data.get("tag") == "sessionlens.page" and isinstance(payload.get("href"), str):
        out.pages.append(Page(ts, payload["href"]))
    elif data.get("tag") == "sessionlens.identify" and payload.get("user_id") is not None:
        out.user_id = str(payload["user_id"])[:200]
        traits = payload.get("traits")
        if isinstance(traits, dict):
            for key, value in list(traits.items())[:MAX_TRAITS]:
                if isinstance(value, str | int | float | bool):
                    out.traits[str(key)[:100]] = str(value)[:200]
    elif data.get("tag") == "sessionlens.event" and isinstance(payload.get("name"), str):
        out.custom.append((ts, payload["name"][:200]))
    elif data.get("tag") == "sessionlens.error":
        kind = payload.get("kind")
        out.errors.append(
            JsError(
                ts,
                kind if kind in ERROR_KINDS else "error",
                _text(payload.get("message"), MAX_ERROR_MESSAGE) or "Error",
                _text(payload.get("stack"), MAX_ERROR_STACK),
                _text(payload.get("source"), 2000),
            )
        )
    elif data.get("tag") == "sessionlens.timing" and isinstance(payload.get("href"), str):
        out.timings.append(
            Timing(
                ts,
                payload["href"],
                *(_millis(payload.get(name)) for name in ("ttfb", "dcl", "load", "lcp")),
            )
        )


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _millis(value: Any) -> int | None:
    """A timing figure in ms; absent, negative or absurd (over 10 minutes) ones are dropped."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if 0 <= value <= MAX_TIMING_MS else None


def active_ms(activity: list[int], last_activity_ts: int | None) -> tuple[int, int | None]:
    """Active time added by sorted activity timestamps; gaps over 5 s do not count."""
    added = 0
    last = last_activity_ts
    for ts in activity:
        if last is not None and 0 <= ts - last <= ACTIVITY_GAP_MS:
            added += ts - last
        if last is None or ts > last:
            last = ts
    return added, last


def utm(url: str) -> dict[str, str]:
    query = dict(parse_qsl(urlsplit(url).query))
    return {name: query.get(name, "")[:200] for name in UTM_FIELDS}


def split_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path or "/", parts.query


_VARYING = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # uuids
    r"|\b[0-9a-f]*[0-9][0-9a-f]*\b"  # numbers and hex ids
    r"|[a-zA-Z][a-zA-Z0-9+.\-]*://\S+",  # URLs
    re.IGNORECASE,
)


def error_fingerprint(kind: str, message: str) -> str:
    """The same error across sessions: numbers, ids and URLs in the message do not count."""
    normal = _VARYING.sub("_", message.strip().lower())[:500]
    return hashlib.sha256(f"{kind}\n{normal}".encode()).hexdigest()[:32]
