"""Template filters for the console: durations, times, short URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment


def duration(ms: int | None) -> str:
    seconds = max(0, int((ms or 0) // 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def short_url(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def install(env: Environment) -> None:
    filters: dict[str, Any] = {"duration": duration, "when": when, "short_url": short_url}
    env.filters.update(filters)
