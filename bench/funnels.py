"""Funnels at size: 2-, 3- and 4-step funnels (page, custom event and click steps), timed.

    .venv/bin/python bench/funnels.py [--database-url URL] [--sessions N] [--reuse] [--repeat R]

Seeds a project with bench/seed.py's generator (1,000,000 sessions by default, about five
pageviews each, custom events such as add_to_cart and purchase), adds clicks on the shop's
buttons (an add-to-cart button on about 40% of product views, a checkout button on about
half of the cart views), then fills the funnel step keys as the migration does for stored
data (timed: that is the one-off cost of migration 0013 on such a database). --reuse runs
over the newest "Seed" project that already has step keys instead.

Each funnel runs over all the seeded days with a 60-minute window, best of --repeat; its
baseline is measured in the same run: SELECT count(*) of the project's sessions in the same
period, the least any report over those sessions has to do. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from datetime import time as day_start
from functools import partial
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine, make_url

from report import cpu_model
from reports import best_of
from seed import PROJECT_NAME, seed
from sessionlens.analytics import funnels
from sessionlens.analytics.period import Period
from sessionlens.processing import steps
from sessionlens.storage.engine import make_engine
from sessionlens.storage.tables import project, session, session_step, step_key

DEFAULT_URL = "sqlite:////tmp/sessionlens-funnels.db"
WINDOW = 60
FUNNELS: tuple[tuple[str, list[dict[str, str]]], ...] = (
    (
        "2 steps: / -> /products/*",
        [{"type": "url", "value": "/"}, {"type": "url", "value": "/products/*"}],
    ),
    (
        "3 steps: /products/* -> add_to_cart -> /cart",
        [
            {"type": "url", "value": "/products/*"},
            {"type": "event", "value": "add_to_cart"},
            {"type": "url", "value": "/cart"},
        ],
    ),
    (
        "3 steps: / -> click #add-to-cart -> /cart",
        [
            {"type": "url", "value": "/"},
            {"type": "click", "value": "#add-to-cart"},
            {"type": "url", "value": "/cart"},
        ],
    ),
    (
        "4 steps: /products/* -> add_to_cart -> click button#checkout -> purchase",
        [
            {"type": "url", "value": "/products/*"},
            {"type": "event", "value": "add_to_cart"},
            {"type": "click", "value": "button#checkout"},
            {"type": "event", "value": "purchase"},
        ],
    ),
    (
        "4 steps: / -> /category/* -> /products/* -> /checkout",
        [
            {"type": "url", "value": "/"},
            {"type": "url", "value": "/category/*"},
            {"type": "url", "value": "/products/*"},
            {"type": "url", "value": "/checkout"},
        ],
    ),
)
# Clicks made from pageviews: which pages, which button, and how many in a hundred views
# (chosen by a hash of the pageview id, so a run makes the same clicks).
CLICKS = (
    ("/products/%", "main#content > div.product > button#add-to-cart", 40),
    ("/cart", "main#content > form.cart > button#checkout", 50),
)
_CLICKS_SQL = """
INSERT INTO page_click (session_id, project_id, ts, started_at, path, selector, tag, x, y,
    offset_x, offset_y, doc_width, doc_height, viewport_width, interactive, rage, dead, error)
SELECT session_id, project_id, ts + 4000, started_at, path, :selector, 'button', 640, 480,
    500, 500, 1280, 3000, 1280, true, false, false, false
FROM pageview
WHERE project_id = :project AND path LIKE :path AND (id * 2654435761) % 100 < :share
"""


def add_clicks(engine: Engine, project_id: int) -> int:
    with engine.begin() as conn:
        return sum(
            conn.execute(
                text(_CLICKS_SQL),
                {"project": project_id, "path": path, "selector": selector, "share": share},
            ).rowcount
            for path, selector, share in CLICKS
        )


def prepare(url: str, sessions: int, reuse: bool) -> tuple[int, dict[str, float]]:
    """The project to measure, seeded now unless reused; clicks and step keys added when
    it has none yet. The seconds each stage took."""
    timings: dict[str, float] = {}
    if reuse:
        with make_engine(url).connect() as conn:
            found = conn.execute(
                select(func.max(project.c.id)).where(project.c.name == PROJECT_NAME)
            ).scalar_one()
        if found is None:
            raise SystemExit(f"no {PROJECT_NAME!r} project to reuse: run without --reuse")
        project_id = int(found)
    else:
        done = seed(url, sessions, end=datetime(2026, 11, 29, tzinfo=UTC).date())
        project_id, timings["seed"] = done.project_id, done.seconds
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ready = conn.execute(
                select(session_step.c.key_id)
                .join(step_key, step_key.c.id == session_step.c.key_id)
                .where(step_key.c.project_id == project_id)
                .limit(1)
            ).first()
        if ready is None:
            start = time.perf_counter()
            clicks = add_clicks(engine, project_id)
            timings[f"adding {clicks:,} clicks"] = time.perf_counter() - start
            start = time.perf_counter()
            with engine.begin() as conn:
                steps.rebuild(conn, project_id)
            timings["filling the step keys (as migration 0013 does)"] = time.perf_counter() - start
    finally:
        engine.dispose()
    return project_id, timings


def measure(url: str, project_id: int, repeat: int) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            first, last = conn.execute(
                select(func.min(session.c.started_at), func.max(session.c.started_at)).where(
                    session.c.project_id == project_id
                )
            ).one()
            period = Period(
                datetime.combine(first.date(), day_start(), UTC),
                datetime.combine(last.date() + timedelta(days=1), day_start(), UTC),
            )
            base, _, count = best_of(
                repeat,
                lambda: conn.execute(
                    select(func.count()).where(
                        session.c.project_id == project_id,
                        session.c.started_at >= period.start,
                        session.c.started_at < period.end,
                    )
                ).scalar_one(),
            )
            rows = conn.execute(select(func.count()).select_from(session_step)).scalar_one()
            keys = conn.execute(select(func.count()).select_from(step_key)).scalar_one()
            print(
                f"funnels over {count:,} sessions ({period.days} days), {WINDOW}-minute window, "
                f"best of {repeat}; {rows:,} step rows, {keys:,} step keys"
            )
            print("vs baseline: time over SELECT count(*) of the period's sessions\n")
            print(
                f"{'funnel':72}{'seconds':>9}{'first':>8}{'entered':>9}{'converted':>10}{'vs':>8}"
            )
            print(f"{'baseline count(*)':72}{base:9.3f}{base:8.3f}{count:9}{'':>10}{1.0:7.1f}x")
            for name, raw in FUNNELS:
                wanted = funnels.parse_steps(raw)
                seconds, cold, data = best_of(
                    repeat, partial(funnels.compute, conn, project_id, wanted, WINDOW, period)
                )
                print(
                    f"{name:72}{seconds:9.3f}{cold:8.3f}{data['entered']:9}"
                    f"{data['converted']:10}{seconds / base:7.1f}x"
                )
    finally:
        engine.dispose()


def _size(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return ""
    files = [Path(parsed.database + suffix) for suffix in ("", "-wal")]
    return f"{sum(f.stat().st_size for f in files if f.exists()) / 1e9:.2f} GB on disk"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"({DEFAULT_URL})")
    parser.add_argument("--sessions", type=int, default=1_000_000, help="to seed (1,000,000)")
    parser.add_argument(
        "--reuse", action="store_true", help="use the newest seeded project instead of seeding"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each funnel; best kept")
    options = parser.parse_args(argv)
    project_id, timings = prepare(options.database_url, options.sessions, options.reuse)
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.0f} s")
    print(f"machine: {cpu_model()}; {_size(options.database_url)}")
    measure(options.database_url, project_id, options.repeat)


if __name__ == "__main__":
    main()
