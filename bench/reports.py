"""Reports and session search at size: every report and some filtered searches, timed.

    .venv/bin/python bench/reports.py [--database-url URL] [--project-id N] [--repeat R] [--json]

Runs over a project that bench/seed.py filled (by default its newest "Seed" project in
/tmp/sessionlens-seed.db), migrating the database to the newest revision first. Every report
kind runs over the last 7, 30 and 90 days of the data; the searches are the first page of the
session list (newest first, 50 a page, as in the console) with the filters shown. Each query
is timed best of --repeat; its baseline is measured in the same run: SELECT count(*) of the
project's sessions in the same period (the whole data for searches without dates), the least
any report over that period has to do. Nothing here asserts a time (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as day_start
from functools import partial
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import Engine

from report import cpu_model
from seed import DEFAULT_URL, PROJECT_NAME, fingerprint
from sessionlens.analytics import reports, search
from sessionlens.analytics.period import Period
from sessionlens.recordings.queries import list_sessions
from sessionlens.storage.engine import make_engine, migrate
from sessionlens.storage.tables import project, session

PERIODS = (7, 30, 90)
PER_PAGE = 50
# A few filters a user would combine; the dates of "last 7 days" are filled in at run time.
SEARCHES: tuple[tuple[str, dict[str, str]], ...] = (
    ("newest first, no filter", {}),
    ("mobile + search + min 5 pages", {"device": "mobile", "source": "search", "min_pages": "5"}),
    ("visited URL contains /checkout", {"url": "/checkout"}),
    ("visited URL contains q=cedar+desk", {"url": "q=cedar+desk"}),
    ("visited path pattern /blog/*-desk-*", {"url": "/blog/*-desk-*", "url_op": "pattern"}),
    ("custom event purchase", {"event": "purchase"}),
    ("returning + country DE", {"visitor": "returning", "country": "DE"}),
    ("last 7 days + campaign autumn-sale", {"from": "-7", "utm_campaign": "autumn-sale"}),
    ("entry URL contains /sale", {"entry": "/sale"}),
    ("referrer contains reddit", {"referrer": "reddit"}),
    ("Firefox + over 10 minutes", {"browser": "Firefox", "min_duration": "600"}),
    ("identified (user *)", {"user": "*"}),
    ("one user's sessions", {"user": "@"}),  # the first user id of the data
    ("trait plan:vip", {"trait": "plan:vip"}),
    ("with errors", {"errors": "yes"}),
    ("error Failed to fetch", {"error": fingerprint("rejection", "Failed to fetch")}),
    ("no match (country ZZ)", {"country": "ZZ"}),
)


@dataclass(frozen=True)
class Timing:
    name: str
    period: str
    seconds: float  # best of --repeat
    first: float  # the first run, with colder caches
    rows: int
    vs_baseline: float  # seconds over the baseline's: 1 is as fast as the count(*)


def best_of(repeat: int, call: Callable[[], Any]) -> tuple[float, float, Any]:
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return min(times), times[0], result


def count_rows(result: Any) -> int:
    """The items of a report's answer: list entries, summed over the lists it holds."""
    if isinstance(result, list):
        return len(result)
    if isinstance(result, dict):
        if not any(isinstance(value, list | dict) for value in result.values()):
            return 1  # one row of figures
        return sum(count_rows(value) for value in result.values())
    return 0


def report_kinds(periods: dict[int, Period]) -> list[tuple[str, int, Callable[..., Any]]]:
    """Every public report function of analytics/reports.py, with the periods to run it on.

    Functions taking (conn, project_id, period) run as they are; timeseries runs per unit.
    A report added later is picked up without changing this file.
    """
    kinds: list[tuple[str, int, Callable[..., Any]]] = []
    for name, function in inspect.getmembers(reports, inspect.isfunction):
        if name.startswith("_") or function.__module__ != reports.__name__:
            continue
        parameters = list(inspect.signature(function).parameters.values())
        if [p.name for p in parameters[:3]] != ["conn", "project_id", "period"]:
            continue
        if name == "timeseries":
            for days, unit in ((7, "hour"), (7, "day"), (30, "day"), (90, "day"), (90, "week")):
                kinds.append((f"timeseries {unit}", days, partial(_unit, function, unit)))
            continue
        if any(p.default is inspect.Parameter.empty for p in parameters[3:]):
            print(f"skipped reports.{name}: it needs more arguments", file=sys.stderr)
            continue
        kinds.extend((name, days, function) for days in periods)
    return kinds


def _unit(function: Callable[..., Any], unit: str, *args: Any) -> Any:
    return function(*args, unit)


def _count(conn: Connection, project_id: int, period: Period) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                session.c.project_id == project_id,
                session.c.started_at >= period.start,
                session.c.started_at < period.end,
            )
        ).scalar_one()
    )


def _search_values(
    conn: Connection, project_id: int, values: dict[str, str], end: datetime
) -> dict[str, str]:
    out = dict(values)
    if "from" in out:  # days before the end of the data
        out["from"] = (end + timedelta(days=int(out["from"]))).date().isoformat()
    if out.get("user") == "@":
        out["user"] = (
            conn.execute(
                select(func.min(session.c.user_id)).where(
                    session.c.project_id == project_id, session.c.user_id != ""
                )
            ).scalar_one()
            or "nobody"
        )
    return out


def measure(engine: Engine, project_id: int, repeat: int) -> tuple[list[Timing], dict[str, Any]]:
    with engine.connect() as conn:
        latest = conn.execute(
            select(func.max(session.c.started_at)).where(session.c.project_id == project_id)
        ).scalar_one()
        if latest is None:
            raise SystemExit(f"project {project_id} has no sessions: run bench/seed.py first")
        end = datetime.combine(latest.date() + timedelta(days=1), day_start(), UTC)
        periods = {days: Period(end - timedelta(days=days), end) for days in PERIODS}
        baselines: dict[int, float] = {}
        timings: list[Timing] = []
        totals: dict[str, Any] = {}
        for days, period in periods.items():
            seconds, first, count = best_of(repeat, partial(_count, conn, project_id, period))
            baselines[days] = seconds
            totals[f"sessions_{days}d"] = count
            timings.append(Timing("baseline count(*)", f"{days} d", seconds, first, 1, 1.0))
        for name, days, function in report_kinds(periods):
            print(f"{name}, {days} days", file=sys.stderr)
            seconds, first, result = best_of(
                repeat, partial(function, conn, project_id, periods[days])
            )
            timings.append(
                Timing(
                    name, f"{days} d", seconds, first, count_rows(result), seconds / baselines[days]
                )
            )
        whole = baselines[max(PERIODS)]
        for name, values in SEARCHES:
            if any(key not in search.NAMES for key in values):
                print(f"skipped search {name!r}: a filter it uses is unknown", file=sys.stderr)
                continue
            print(f"search: {name}", file=sys.stderr)
            conditions = search.parse(_search_values(conn, project_id, values, end)).conditions()
            seconds, first, (rows, _more) = best_of(
                repeat, partial(list_sessions, conn, project_id, 1, PER_PAGE, conditions)
            )
            timings.append(
                Timing(f"search: {name}", "all", seconds, first, len(rows), seconds / whole)
            )
    return timings, totals


def find_project(engine: Engine) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            select(func.max(project.c.id)).where(project.c.name == PROJECT_NAME)
        ).scalar_one()
    if found is None:
        raise SystemExit(f"no {PROJECT_NAME!r} project: run bench/seed.py first")
    return int(found)


def print_table(timings: list[Timing], totals: dict[str, Any], repeat: int) -> None:
    print(
        f"reports and search: best of {repeat}; sessions in the last 7/30/90 days: "
        f"{totals['sessions_7d']:,} / {totals['sessions_30d']:,} / {totals['sessions_90d']:,}"
    )
    print("vs baseline: time over count(*) of the period's sessions (searches: all of them)\n")
    print(f"{'query':48}{'period':>7}{'seconds':>9}{'first':>8}{'rows':>6}{'vs baseline':>13}")
    for t in timings:
        print(
            f"{t.name:48}{t.period:>7}{t.seconds:9.3f}{t.first:8.3f}{t.rows:6}"
            f"{t.vs_baseline:12.2f}x"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"({DEFAULT_URL})")
    parser.add_argument("--project-id", type=int, help="default: the newest 'Seed' project")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each query; best kept (3)")
    parser.add_argument(
        "--migrate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="bring the schema to the newest revision first (default: yes)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args(argv)
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    engine = make_engine(options.database_url)
    try:
        if options.migrate:
            start = time.perf_counter()
            migrate(engine)
            print(f"migrated in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        project_id = options.project_id or find_project(engine)
        timings, totals = measure(engine, project_id, options.repeat)
    finally:
        engine.dispose()
    if options.json:
        machine = {"cpu_model": cpu_model(), "sqlite": engine.dialect.server_version_info}
        print(json.dumps({**totals, "machine": machine, "queries": [asdict(t) for t in timings]}))
    else:
        print_table(timings, totals, options.repeat)


if __name__ == "__main__":
    main()
