"""A project's recording rules: which sessions and pages are recorded, and how many.

Kept as JSON in project.settings["recording"], edited in the console beside the privacy
rules, and served to the recorder (sample_rate, record_pages) by GET /i/v1/{key}/config.
The recorder applies them first; the ingest applies them again (routes.py), so an old or
forged recorder cannot get past them.

Sampling is decided from the session id alone, with the same hash in the recorder
(client/src/recorder/sampling.js): FNV-1a 32-bit of the id's UTF-8 bytes, mod 10,000,
below rate x 100. A session is therefore in or out on every page and on every server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

MAX_PAGES = 100
MAX_PATTERN = 300
MAX_MIN_DURATION_S = 3600
MAX_QUOTA = 10**9


class RecordingRulesError(ValueError):
    """A rule that cannot be used; the message names it."""


@dataclass(frozen=True)
class RecordingRules:
    sample_rate: float = 100.0  # percent of sessions recorded, 0-100, two decimals
    record_pages: tuple[str, ...] = ()  # URL path patterns with *; empty: every page
    min_duration_s: int = 0  # shorter ended sessions are deleted by the retention job
    monthly_quota: int | None = None  # new sessions a calendar month (UTC); None: no limit

    def recorder_config(self) -> dict[str, Any]:
        """The part the recorder needs (the quota and minimum duration stay on the server)."""
        return {"sample_rate": self.sample_rate, "record_pages": list(self.record_pages)}

    def to_json(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "record_pages": list(self.record_pages),
            "min_duration_s": self.min_duration_s,
            "monthly_quota": self.monthly_quota,
        }

    def keeps_session(self, session_id: str) -> bool:
        return sampled_in(session_id, self.sample_rate)

    def keeps_url(self, url: str) -> bool:
        if not self.record_pages:
            return True
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        query = f"?{parts.query}" if parts.query else ""
        return page_matches(self.record_pages, parts.path or "/", query)


def fnv1a32(text: str) -> int:
    """FNV-1a, 32 bits, over the UTF-8 bytes (session ids are ASCII)."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def sampled_in(session_id: str, rate: float) -> bool:
    """Whether a session is recorded at `rate` percent."""
    return fnv1a32(session_id) % 10000 < round(rate * 100)


@lru_cache(maxsize=1024)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(piece) for piece in pattern.split("*")), re.DOTALL)


def page_matches(patterns: tuple[str, ...], path: str, query: str = "") -> bool:
    """As the recorder's pageExcluded: * matches anything (slashes too), the whole path
    must match, and a pattern holding ? is matched against path + query."""
    for pattern in patterns:
        target = path + query if "?" in pattern else path
        if _pattern(pattern).fullmatch(target):
            return True
    return False


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordingRulesError("sample_rate must be a number from 0 to 100")
    if not 0 <= value <= 100:
        raise RecordingRulesError("sample_rate must be a number from 0 to 100")
    return round(float(value), 2)


def _pages(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list | tuple):
        raise RecordingRulesError("record_pages must be a list")
    clean: list[str] = []
    for raw in values:
        if not isinstance(raw, str):
            raise RecordingRulesError("record_pages must hold text")
        value = raw.strip()
        if not value:
            continue
        if not value.startswith("/"):
            raise RecordingRulesError(
                f"record_pages: {value[:40]!r} must start with / (a URL path pattern)"
            )
        if len(value) > MAX_PATTERN or any(c in value for c in "\n\r{}<"):
            raise RecordingRulesError(f"record_pages: {value[:40]!r} is not a usable pattern")
        clean.append(value)
    if len(clean) > MAX_PAGES:
        raise RecordingRulesError(f"record_pages: at most {MAX_PAGES} patterns")
    return tuple(dict.fromkeys(clean))


def _whole(name: str, value: Any, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise RecordingRulesError(f"{name} must be a whole number from 0 to {high}")
    return value


def parse(data: dict[str, Any]) -> RecordingRules:
    """Rules from stored or submitted JSON; missing keys take the defaults."""
    quota = data.get("monthly_quota")
    return RecordingRules(
        sample_rate=_rate(data.get("sample_rate", 100)),
        record_pages=_pages(data.get("record_pages", [])),
        min_duration_s=_whole("min_duration_s", data.get("min_duration_s", 0), MAX_MIN_DURATION_S),
        monthly_quota=None if quota is None else _whole("monthly_quota", quota, MAX_QUOTA),
    )


def of_settings(settings: dict[str, Any]) -> RecordingRules:
    """A project's rules; a stored rule the code no longer accepts falls back to the
    defaults (record everything), as privacy rules fall back to theirs."""
    stored = settings.get("recording", {})
    try:
        return parse(stored if isinstance(stored, dict) else {})
    except RecordingRulesError:
        return RecordingRules()
