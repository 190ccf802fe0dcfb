"""Funnels: ordered steps sessions took within a time window, counted from `session_step`.

A step is a page path (`url`, with `*` matching anything), a custom event name (`event`) or
a click on an element (`click`). A session reaches step k when it did steps 1..k in order
(each at or after the one before; a step the same as the one before it needs a later
occurrence), all within the window after its step 1; it counts once, by its furthest run.

Each step is first resolved to the project's matching step keys (few: distinct paths,
event names and selectors), then read as one index range of `session_step` per key over
the period's sessions; the ordering and the window are checked here, per session.
"""

from __future__ import annotations

import heapq
import math
import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from sessionlens.analytics.period import Period
from sessionlens.processing.events import split_url
from sessionlens.processing.steps import KEY_LENGTH
from sessionlens.storage.tables import session, session_step, step_key

TYPES = ("url", "event", "click")
MIN_STEPS, MAX_STEPS = 2, 10
MAX_WINDOW_MINUTES = 7 * 24 * 60
DEFAULT_WINDOW_MINUTES = 60
DROPPED_LIMIT = 20  # sessions listed per step
BREAKDOWNS = ("device", "source")
_CHUNK = 500


class FunnelError(ValueError):
    """A funnel the user can fix; the message says what is wrong."""


@dataclass(frozen=True)
class Step:
    type: str
    value: str

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}


# --- what a step matches --------------------------------------------------------------

_SIMPLE = re.compile(r"#[\w-]+|\.[\w-]+|:[\w-]+(?:\([^()]*\))?|\[[^\[\]]*\]")
_TAG = re.compile(r"[a-zA-Z][\w-]*")


def compound_parts(compound: str) -> frozenset[str] | None:
    """The simple selectors of one compound (`a.buy:nth-of-type(2)` -> a, .buy,
    :nth-of-type(2)), or None when it is not one."""
    parts: set[str] = set()
    at = 0
    tag = _TAG.match(compound)
    if tag:
        parts.add(tag.group().lower())
        at = tag.end()
    while at < len(compound):
        simple = _SIMPLE.match(compound, at)
        if simple is None:
            return None
        parts.add(simple.group())
        at = simple.end()
    return frozenset(parts) if parts else None


def selector_matches(wanted: str, stored: str) -> bool:
    """Whether a click step's selector matches a recorded one: the same; or the recorded
    one ends with it (`div.card > a.buy` matches `main#content > div.card > a.buy`); or, for
    a single element, the recorded element has all its parts (`.buy` and `a.buy` match
    `a.buy.primary:nth-of-type(2)`; `#add-to-cart` matches `button#add-to-cart`)."""
    if stored == wanted or stored.endswith(" > " + wanted):
        return True
    if " " in wanted:
        return False
    parts = compound_parts(wanted)
    last = compound_parts(stored.rsplit(" > ", 1)[-1])
    return parts is not None and last is not None and parts <= last


def _clean(kind: str, value: str, number: int) -> str:
    value = value.strip()
    if not value:
        raise FunnelError(f"step {number}: give a value")
    if len(value) > KEY_LENGTH:
        raise FunnelError(f"step {number}: at most {KEY_LENGTH} characters")
    if kind == "url":
        if "://" in value:
            value = split_url(value)[0]
        if not value.startswith(("/", "*")):
            raise FunnelError(f"step {number}: a URL step is a path such as /cart or /product/*")
    elif kind == "click":
        value = re.sub(r"\s*>\s*", " > ", value)
        compounds = value.split(" > ")
        if any(compound_parts(c) is None for c in compounds):
            raise FunnelError(
                f"step {number}: {value!r} is not a selector of the recorded kind "
                "(tag, #id, .class, :nth-of-type(n), joined by >)"
            )
    return value


def parse_steps(raw: Any) -> list[Step]:
    """Steps from JSON-like data [{type, value}, ...], checked."""
    if not isinstance(raw, list) or not MIN_STEPS <= len(raw) <= MAX_STEPS:
        raise FunnelError(f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps")
    steps = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise FunnelError(f"step {number}: give a type and a value")
        kind = item.get("type")
        if kind not in TYPES:
            raise FunnelError(f"step {number}: type must be one of {', '.join(TYPES)}")
        steps.append(Step(kind, _clean(kind, item["value"], number)))
    return steps


def check_window(minutes: Any) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise FunnelError("window_minutes must be a whole number")
    if not 1 <= minutes <= MAX_WINDOW_MINUTES:
        raise FunnelError(f"window_minutes must be from 1 to {MAX_WINDOW_MINUTES}")
    return minutes


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _key_ids(conn: Connection, project_id: int, step: Step, clicks: dict[int, str]) -> list[int]:
    base = select(step_key.c.id).where(
        step_key.c.project_id == project_id, step_key.c.kind == step.type
    )
    if step.type == "click":
        return [key_id for key_id, key in clicks.items() if selector_matches(step.value, key)]
    if step.type == "url" and "*" in step.value:
        pattern = "%".join(_like(part) for part in step.value.split("*"))
        return list(conn.execute(base.where(step_key.c.key.like(pattern, escape="\\"))).scalars())
    return list(conn.execute(base.where(step_key.c.key == step.value)).scalars())


# --- reading and matching --------------------------------------------------------------


@dataclass
class _Entered:
    session_ts: int
    device: str
    source: str


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _read_step(
    conn: Connection,
    ids: list[int],
    period: Period,
    within: set[str] | dict[str, Any] | None,
    first: dict[str, _Entered] | None,
    sessions: Any = None,
) -> dict[str, list[int]]:
    """session id -> the times (ms after its start) it did any of the keys."""
    times: dict[str, list[int]] = defaultdict(list)
    for at in range(0, len(ids), _CHUNK):
        query = select(
            session_step.c.session_id,
            session_step.c.session_ts,
            session_step.c.times,
            session_step.c.device,
            session_step.c.source,
        ).where(
            session_step.c.key_id.in_(ids[at : at + _CHUNK]),
            session_step.c.session_ts >= _ms(period.start),
            session_step.c.session_ts < _ms(period.end),
        )
        if sessions is not None:
            query = query.where(session_step.c.session_id.in_(sessions))
        for sid, session_ts, text, device, source in conn.execute(query):
            if within is not None and sid not in within:
                continue
            times[sid].extend(int(t) for t in text.split(","))
            if first is not None and sid not in first:
                first[sid] = _Entered(session_ts, device, source)
    for found in times.values():
        found.sort()
    return times


def _furthest(
    steps: Sequence[list[int] | None], strict: Sequence[bool], window_ms: int
) -> list[int]:
    """The times of the furthest ordered run of the steps (earliest start among equals)."""
    best: list[int] = []
    first = steps[0]
    assert first is not None
    for start in first:
        run = [start]
        for times, later in zip(steps[1:], strict[1:], strict=True):
            if times is None:
                break
            at = (bisect_right if later else bisect_left)(times, run[-1])
            if at == len(times) or times[at] - start > window_ms:
                break
            run.append(times[at])
        if len(run) > len(best):
            best = run
            if len(best) == len(steps):
                break
    return best


def _p90(values: list[int]) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def compute(
    conn: Connection,
    project_id: int,
    steps: list[Step],
    window_minutes: int,
    period: Period,
    conditions: list[ColumnElement[bool]] | None = None,
    dropped_limit: int = DROPPED_LIMIT,
) -> dict[str, Any]:
    """The funnel's figures over the sessions that started in the period (and match the
    session filters' conditions, if any)."""
    clicks: dict[int, str] = {}
    if any(step.type == "click" for step in steps):
        clicks = dict(
            conn.execute(
                select(step_key.c.id, step_key.c.key).where(
                    step_key.c.project_id == project_id, step_key.c.kind == "click"
                )
            ).all()
        )
    ids = [_key_ids(conn, project_id, step, clicks) for step in steps]
    matching = None
    if conditions:
        matching = select(session.c.id).where(
            session.c.project_id == project_id,
            session.c.started_at >= period.start,
            session.c.started_at < period.end,
            *conditions,
        )
    entered: dict[str, _Entered] = {}
    per_step: list[dict[str, list[int]]] = [
        _read_step(conn, ids[0], period, None, entered, matching)
    ]
    for key_ids in ids[1:]:
        per_step.append(_read_step(conn, key_ids, period, entered, None))
    strict = [False] + [steps[k] == steps[k - 1] for k in range(1, len(steps))]
    runs = {
        sid: _furthest([found.get(sid) for found in per_step], strict, window_minutes * 60_000)
        for sid in per_step[0]
    }
    return _figures(steps, runs, entered, dropped_limit)


def _figures(
    steps: list[Step],
    runs: dict[str, list[int]],
    entered: dict[str, _Entered],
    dropped_limit: int,
) -> dict[str, Any]:
    reached = [0] * len(steps)
    gaps: list[list[int]] = [[] for _ in steps]
    breakdown: dict[str, dict[str, list[int]]] = {name: {} for name in BREAKDOWNS}
    dropped: list[list[tuple[int, str, int]]] = [[] for _ in steps]
    for sid, run in runs.items():
        meta = entered[sid]
        for k in range(len(run)):
            reached[k] += 1
            if k:
                gaps[k].append(run[k] - run[k - 1])
        for name in BREAKDOWNS:
            counts = breakdown[name].setdefault(getattr(meta, name) or "unknown", [0] * len(steps))
            for k in range(len(run)):
                counts[k] += 1
        if len(run) < len(steps):
            item = (meta.session_ts, sid, run[-1])
            bucket = dropped[len(run) - 1]
            if len(bucket) < dropped_limit:
                heapq.heappush(bucket, item)
            elif dropped_limit:
                heapq.heappushpop(bucket, item)
    first = reached[0]
    out_steps = []
    for k, step in enumerate(steps):
        after = reached[k + 1] if k + 1 < len(steps) else reached[k]
        lost = reached[k] - after
        out_steps.append(
            {
                "step": k + 1,
                **step.as_dict(),
                "sessions": reached[k],
                "conversion": _rate(reached[k], reached[k - 1]) if k else 1.0,
                "overall": _rate(reached[k], first),
                "dropped": lost,
                "drop_off": _rate(lost, reached[k]),
                "median_ms": round(median(gaps[k])) if gaps[k] else None,
                "p90_ms": _p90(gaps[k]),
                "dropped_sessions": [_dropped(*item) for item in sorted(dropped[k], reverse=True)],
            }
        )
    return {
        "entered": first,
        "converted": reached[-1],
        "conversion": _rate(reached[-1], first),
        "steps": out_steps,
        "breakdown": {
            name: [
                {
                    "name": value,
                    "entered": counts[0],
                    "converted": counts[-1],
                    "conversion": _rate(counts[-1], counts[0]),
                    "steps": counts,
                }
                for value, counts in sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
            ]
            for name, groups in breakdown.items()
        },
    }


def _dropped(session_ts: int, sid: str, offset_ms: int) -> dict[str, Any]:
    """A session that stopped after this step, and where its replay shows the step."""
    seconds = offset_ms // 1000
    return {
        "session_id": sid,
        "started_at": datetime.fromtimestamp(session_ts / 1000, UTC).isoformat(),
        "offset_ms": offset_ms,
        "replay": f"/sessions/{sid}?t={seconds}",
    }
