"""Funnels: ordered steps sessions took within a time window, counted from `session_step`.

A step is a page path (`url`, with `*` matching anything), a custom event name (`event`) or
a click on an element (`click`). A session reaches step k when it did steps 1..k in order
(each at or after the one before; a step the same as the one before it needs a later
occurrence), all within the window after its step 1. The funnel starts at the session's
first occurrence of step 1; each later step takes its earliest occurrence after the one
before.

Each step is first resolved to the project's matching step keys (few: distinct paths,
event names and selectors); the matching is then done in SQL over `session_step`, and only
figures come back to Python.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    MetaData,
    Select,
    String,
    Table,
    bindparam,
    case,
    func,
    insert,
    select,
    text,
)

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


# --- matching, in SQL -------------------------------------------------------------------
#
# A temporary table per step holds the sessions that reached it, with the time of each step
# so far: step 1's sessions with their first time in it, then for each next step the
# earliest time at or after the step before and within the window from step 1 (one index
# seek of `session_step` per session still in the funnel). Only figures leave the database:
# counts, the times between steps of the sessions that made them, and the newest few
# sessions that stopped at each step.


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _reached_table(k: int) -> Table:
    """The temporary table of the sessions that reached step k (from 1)."""
    return Table(
        f"funnel_reached_{k}",
        MetaData(),
        Column("ts", BigInteger, primary_key=True),
        Column("id", String(32), primary_key=True),
        Column("device", String(20), nullable=False),
        Column("source", String(20), nullable=False),
        *(Column(f"t{j}", BigInteger, nullable=False) for j in range(1, k + 1)),
        prefixes=["TEMPORARY"],
        sqlite_with_rowid=False,  # kept in (ts, id) order: the next step reads it so
    )


def _first_step(ids: list[int], period: Period, sessions: Any) -> Select[Any]:
    """Step 1's sessions in the period, each with its first time there."""
    c = session_step.c
    where = [c.is_first, c.session_ts >= _ms(period.start), c.session_ts < _ms(period.end)]
    if sessions is not None:
        where.append(c.session_id.in_(sessions))
    if len(ids) == 1:  # a session's first time for the key is one row: nothing to group
        return select(c.session_ts, c.session_id, c.device, c.source, c.ms).where(
            c.key_id == ids[0], *where
        )
    return (
        select(c.session_ts, c.session_id, func.min(c.device), func.min(c.source), func.min(c.ms))
        .where(c.key_id.in_(ids), *where)
        .group_by(c.session_ts, c.session_id)
    )


# The sessions of the step before that did step k after it within the window, with its
# earliest such time. The smaller side is read first: the step before's table (in session
# order) with a seek of session_step per session, or the step's rows over the period with
# a seek of the step before's table per row. CROSS JOIN makes SQLite keep that order, and
# `|| ''` keeps the seeks of session_step on its primary key (key, session start) rather
# than its session_id index, whose pages are in no useful order (3 to 6 s instead of 1.5 s
# for 428,000 sessions). PostgreSQL plans it as it likes.
_NEXT_STEP = """
INSERT INTO {into} ({columns}, t{k})
SELECT {p_columns}, MIN(x.ms)
FROM {tables}
WHERE x.key_id IN :ids {period}
  AND x.session_ts = p.ts AND x.session_id || '' = p.id
  AND x.ms {later} p.t{previous} AND x.ms <= p.t1 + :window
GROUP BY {p_columns}
"""
# Whether the step has fewer rows over the period than :n (counted no further than that)
_FEWER = """
SELECT count(*) FROM (
    SELECT 1 FROM session_step
    WHERE key_id IN :ids AND session_ts >= :start AND session_ts < :end LIMIT :n
) c
"""


def _next_step(
    conn: Connection,
    before: tuple[Table, int],
    into: Table,
    ids: list[int],
    strict: bool,
    period: Period,
    window_ms: int,
) -> int:
    """Fill the table of step k from the step before's; the sessions that reached it."""
    table, sessions = before
    k = len(into.c) - 4
    columns = ["ts", "id", "device", "source", *(f"t{j}" for j in range(1, k))]
    span = {"ids": ids, "start": _ms(period.start), "end": _ms(period.end)}
    rows = conn.execute(
        text(_FEWER).bindparams(bindparam("ids", expanding=True)), {**span, "n": sessions}
    ).scalar_one()
    if rows < sessions:  # the period's range only here: as a seek it would be a scan
        tables = f"session_step x CROSS JOIN {table.name} p"
        bounds = "AND x.session_ts >= :start AND x.session_ts < :end"
    else:
        tables, bounds = f"{table.name} p CROSS JOIN session_step x", ""
    statement = _NEXT_STEP.format(
        into=into.name,
        tables=tables,
        period=bounds,
        columns=", ".join(columns),
        p_columns=", ".join(f"p.{name}" for name in columns),
        k=k,
        later=">" if strict else ">=",
        previous=k - 1,
    )
    query = text(statement).bindparams(bindparam("ids", expanding=True))
    return _inserted(conn, conn.execute(query, {**span, "window": window_ms}), into)


def _inserted(conn: Connection, result: Any, table: Table) -> int:
    """The rows an INSERT ... SELECT put in the table (counted when the driver does not say)."""
    if result.rowcount >= 0:
        return int(result.rowcount)
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _plain_rows(conn: Connection, query: Any) -> list[Any]:
    """The rows as the driver gives them: at a few hundred thousand rows, wrapping each in
    a Row costs more than reading it. Only for queries whose parameters are plain numbers,
    which need none of SQLAlchemy's conversions."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args = tuple(params[n] for n in compiled.positiontup or ()) if compiled.positional else params
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), args)
        return list(cursor.fetchall())
    finally:
        cursor.close()


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
    tables = [_reached_table(k) for k in range(1, len(steps) + 1)]
    for table in tables:  # left over if a connection was used on after a failure
        conn.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
    for table in tables:
        table.create(conn)
    columns = ["ts", "id", "device", "source"]
    first = _first_step(ids[0], period, matching)
    done = conn.execute(insert(tables[0]).from_select([*columns, "t1"], first))
    reached = _inserted(conn, done, tables[0])
    window_ms = window_minutes * 60_000
    for k in range(2, len(steps) + 1):
        if not ids[k - 1] or not reached:
            break  # nobody did the step: its table stays empty
        strict = steps[k - 1] == steps[k - 2]  # the same step again needs a later time
        before = (tables[k - 2], reached)
        reached = _next_step(conn, before, tables[k - 1], ids[k - 1], strict, period, window_ms)
    figures = _figures(conn, tables, dropped_limit)
    for table in tables:
        table.drop(conn)
    for step, out in zip(steps, figures["steps"], strict=True):
        out.update(step.as_dict())
    return figures


def _counts(conn: Connection, tables: list[Table]) -> tuple[list[int], dict[str, Any]]:
    """Sessions per step, and per step for each device and each source seen at step 1."""
    first = tables[0].c
    pairs = conn.execute(select(first.device, first.source).distinct()).all()
    values = {name: sorted({pair[at] for pair in pairs}) for at, name in enumerate(BREAKDOWNS)}
    reached: list[int] = []
    by: dict[str, dict[str, list[int]]] = {
        name: {v: [] for v in values[name]} for name in BREAKDOWNS
    }
    for table in tables:
        c = table.c
        # one pass per step with a count per value: no sort of step 1's many sessions
        parts = [func.count()] + [
            func.count(case((c[name] == value, 1))) for name in BREAKDOWNS for value in values[name]
        ]
        row = list(conn.execute(select(*parts).select_from(table)).one())
        reached.append(int(row[0]))
        at = 1
        for name in BREAKDOWNS:
            for value in values[name]:
                by[name][value].append(int(row[at]))
                at += 1
    breakdown: dict[str, list[dict[str, Any]]] = {}
    for name in BREAKDOWNS:
        groups = sorted(by[name].items(), key=lambda g: (-g[1][0], g[0] or "unknown"))
        breakdown[name] = [
            {
                "name": value or "unknown",
                "entered": counts[0],
                "converted": counts[-1],
                "conversion": _rate(counts[-1], counts[0]),
                "steps": counts,
            }
            for value, counts in groups
        ]
    return reached, breakdown


def _figures(conn: Connection, tables: list[Table], dropped_limit: int) -> dict[str, Any]:
    reached, breakdown = _counts(conn, tables)
    out = []
    for k, table in enumerate(tables):
        c = table.c
        gaps: list[int] = []
        if k:
            gaps = [row[0] for row in _plain_rows(conn, select(c[f"t{k + 1}"] - c[f"t{k}"]))]
        dropped: list[Any] = []
        if k + 1 < len(tables) and dropped_limit:
            after = tables[k + 1].c
            went_on = select(after.ts).where(after.ts == c.ts, after.id == c.id).exists()
            dropped = list(
                conn.execute(
                    select(c.ts, c.id, c[f"t{k + 1}"])
                    .where(~went_on)
                    .order_by(c.ts.desc(), c.id.desc())
                    .limit(dropped_limit)
                )
            )
        lost = reached[k] - (reached[k + 1] if k + 1 < len(reached) else reached[k])
        out.append(
            {
                "step": k + 1,
                "sessions": reached[k],
                "conversion": _rate(reached[k], reached[k - 1]) if k else 1.0,
                "overall": _rate(reached[k], reached[0]),
                "dropped": lost,
                "drop_off": _rate(lost, reached[k]),
                "median_ms": round(median(gaps)) if gaps else None,
                "p90_ms": _p90(gaps),
                "dropped_sessions": [_dropped(int(ts), sid, int(at)) for ts, sid, at in dropped],
            }
        )
    return {
        "entered": reached[0],
        "converted": reached[-1],
        "conversion": _rate(reached[-1], reached[0]),
        "steps": out,
        "breakdown": breakdown,
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
