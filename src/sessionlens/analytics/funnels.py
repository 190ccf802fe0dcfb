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
from collections import Counter
from collections.abc import Iterator, Sequence
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

_SECTION = re.compile(r"/[^/*]+/\*")  # a section pattern such as /products/*
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
    if step.type == "url" and _SECTION.fullmatch(step.value):  # one key: the processor's
        sect = select(step_key.c.id).where(
            step_key.c.project_id == project_id,
            step_key.c.kind == "sect",
            step_key.c.key == step.value,
        )
        return list(conn.execute(sect).scalars())
    if step.type == "url" and "*" in step.value:
        pattern = "%".join(_like(part) for part in step.value.split("*"))
        return list(conn.execute(base.where(step_key.c.key.like(pattern, escape="\\"))).scalars())
    return list(conn.execute(base.where(step_key.c.key == step.value)).scalars())


# --- reading and matching --------------------------------------------------------------


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _rows(
    conn: Connection, ids: list[int], period: Period, columns: list[Any], sessions: Any = None
) -> Iterator[list[Any]]:
    """The step rows of the keys over the period's sessions (one index range per key), in
    lists of rows."""
    for at in range(0, len(ids), _CHUNK):
        query = select(*columns).where(
            session_step.c.key_id.in_(ids[at : at + _CHUNK]),
            session_step.c.session_ts >= _ms(period.start),
            session_step.c.session_ts < _ms(period.end),
        )
        if sessions is not None:
            query = query.where(session_step.c.session_id.in_(sessions))
            yield list(conn.execute(query).all())
        else:
            yield _plain_rows(conn, query)


def _plain_rows(conn: Connection, query: Any) -> list[Any]:
    """The rows as the driver gives them: at a million rows, wrapping each in a Row costs
    more than reading it. Only for queries whose parameters are plain numbers, which need
    none of SQLAlchemy's conversions."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args = tuple(params[n] for n in compiled.positiontup or ()) if compiled.positional else params
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), args)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _first_step(conn: Connection, ids: list[int], period: Period, sessions: Any) -> dict[str, Any]:
    """session id -> (session id, times (text), session_ts, device, source) of the sessions
    at step 1, in the order of their start when the step is one key.
    Times stay text here: most sessions go no further, and theirs are never parsed."""
    c = session_step.c
    columns = [c.session_id, c.times, c.session_ts, c.device, c.source]
    chunks = list(_rows(conn, ids, period, columns, sessions))
    if len(ids) == 1:  # a session has one row per key: nothing to merge
        return {row[0]: row for row in chunks[0]}
    found: dict[str, Any] = {}
    for rows in chunks:
        for row in rows:
            entry = found.get(row[0])
            if entry is None:
                found[row[0]] = list(row)
            else:
                entry[1] += "," + row[1]
    return found


def _later_step(conn: Connection, ids: list[int], period: Period) -> dict[str, str]:
    """session id -> times (text) of the sessions that did the step."""
    columns = [session_step.c.session_id, session_step.c.times]
    chunks = list(_rows(conn, ids, period, columns))
    if len(ids) == 1:
        return dict(chunks[0])
    found: dict[str, str] = {}
    for rows in chunks:
        for sid, times in rows:
            before = found.get(sid)
            found[sid] = times if before is None else before + "," + times
    return found


def _times(text: str) -> list[int]:
    if "," not in text:
        return [int(text)]
    return sorted(map(int, text.split(",")))


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
    entered = _first_step(conn, ids[0], period, matching)
    later = [_later_step(conn, key_ids, period) for key_ids in ids[1:]]
    strict = [False] + [steps[k] == steps[k - 1] for k in range(1, len(steps))]
    figures = _Tally(len(steps), dropped_limit).count(entered, later, strict, window_minutes)
    for step, out in zip(steps, figures["steps"], strict=True):
        out.update(step.as_dict())
    return figures


class _Tally:
    """Each session's furthest step, added up: per step, per device and source, the times
    between steps, and the newest sessions that stopped at each step."""

    def __init__(self, count: int, dropped_limit: int) -> None:
        self.count_of_steps = count
        self.limit = dropped_limit
        self.depths: Counter[tuple[str, str, int]] = Counter()
        self.gaps: list[list[int]] = [[] for _ in range(count)]
        # per step: a min-heap of (session_ts, session id, last time: int, or text to parse)
        self.dropped: list[list[tuple[int, str, int | str]]] = [[] for _ in range(count)]

    def _drop(self, depth: int, session_ts: int, sid: str, last: int | str) -> None:
        heap = self.dropped[depth - 1]
        if len(heap) < self.limit:
            heapq.heappush(heap, (session_ts, sid, last))
        elif self.limit and session_ts > heap[0][0]:
            heapq.heapreplace(heap, (session_ts, sid, last))

    def count(
        self,
        entered: dict[str, Any],
        later: list[dict[str, str]],
        strict: list[bool],
        window_minutes: int,
    ) -> dict[str, Any]:
        window_ms = window_minutes * 60_000
        second = later[0]
        depths = self.depths
        stopped, limit = self.dropped[0], self.limit
        # Newest first, so the list of sessions that stopped at step 1 fills at once.
        for sid, text, session_ts, device, source in reversed(entered.values()):
            if sid not in second:  # most sessions: nothing to order
                depths[(device, source, 1)] += 1
                if len(stopped) < limit or (limit and session_ts > stopped[0][0]):
                    self._drop(1, session_ts, sid, text)
                continue
            found: list[list[int] | None] = [_times(text)]
            for step in later:
                times = step.get(sid)
                found.append(_times(times) if times is not None else None)
            run = _furthest(found, strict, window_ms)
            depth = len(run)
            depths[(device, source, depth)] += 1
            for k in range(1, depth):
                self.gaps[k].append(run[k] - run[k - 1])
            if depth < self.count_of_steps:
                self._drop(depth, session_ts, sid, run[-1])
        return self._figures()

    def _reached(self, which: int | None = None, value: str = "") -> list[int]:
        at = [0] * (self.count_of_steps + 1)
        for (device, source, depth), n in self.depths.items():
            if which is None or (device, source)[which] == value:
                at[depth] += n
        # sessions that reached step k: those whose furthest step is k or later
        return [sum(at[k + 1 :]) for k in range(self.count_of_steps)]

    def _figures(self) -> dict[str, Any]:
        reached = self._reached()
        first = reached[0]
        breakdown: dict[str, list[dict[str, Any]]] = {}
        for which, name in enumerate(BREAKDOWNS):
            values = sorted({(device, source)[which] for device, source, _ in self.depths})
            groups = [(value or "unknown", self._reached(which, value)) for value in values]
            groups.sort(key=lambda g: (-g[1][0], g[0]))
            breakdown[name] = [
                {
                    "name": value,
                    "entered": counts[0],
                    "converted": counts[-1],
                    "conversion": _rate(counts[-1], counts[0]),
                    "steps": counts,
                }
                for value, counts in groups
            ]
        return {
            "entered": first,
            "converted": reached[-1],
            "conversion": _rate(reached[-1], first),
            "steps": [self._step(k, reached) for k in range(self.count_of_steps)],
            "breakdown": breakdown,
        }

    def _step(self, k: int, reached: list[int]) -> dict[str, Any]:
        after = reached[k + 1] if k + 1 < len(reached) else reached[k]
        lost = reached[k] - after
        gaps = self.gaps[k]
        return {
            "step": k + 1,
            "sessions": reached[k],
            "conversion": _rate(reached[k], reached[k - 1]) if k else 1.0,
            "overall": _rate(reached[k], reached[0]),
            "dropped": lost,
            "drop_off": _rate(lost, reached[k]),
            "median_ms": round(median(gaps)) if gaps else None,
            "p90_ms": _p90(gaps),
            "dropped_sessions": [
                _dropped(ts, sid, last if isinstance(last, int) else _times(last)[0])
                for ts, sid, last in sorted(self.dropped[k], reverse=True)
            ],
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
