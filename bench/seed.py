"""Seed a database with one project of many sessions, to measure reports and search at size.

    .venv/bin/python bench/seed.py [--sessions N] [--days D] [--seed S] [--end YYYY-MM-DD]
                                   [--database-url URL] [--replace]

Writes the rows the processor would have written for a shop visited over --days days: visitors
(about 40% of sessions are returning), sessions with their source, UTM, device and country,
about five pageviews each (search terms and filters in URL queries, navigation timing on hard
loads), custom events, identify traits and JavaScript errors. Nothing goes through the ingest
or the processor: the rows are inserted directly, in chunks, one transaction per chunk, and
the rollups the processor keeps for reports (`page_day`) are then computed from them. The
same --sessions, --seed and --end give the same rows.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import itertools
import math
import random
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, insert, select
from sqlalchemy.engine import make_url
from tqdm import tqdm

from sessionlens import projects
from sessionlens.accounts import users
from sessionlens.analytics.sources import classify
from sessionlens.processing import page_days
from sessionlens.processing.events import split_url, utm
from sessionlens.processing.sessions import session_key
from sessionlens.storage.engine import make_engine, migrate
from sessionlens.storage.tables import (
    pageview,
    session,
    session_error,
    session_event,
    session_trait,
    visitor,
)

DEFAULT_URL = "sqlite:////tmp/sessionlens-seed.db"
ORIGIN = "https://shop.example"
PROJECT_NAME = "Seed"
CHUNK = 5_000  # sessions per transaction
RETURNING_SHARE = 0.4
IDENTIFIED_SHARE = 0.15  # of visitors; they are logged in on most of their sessions
ERROR_SHARE = 0.03
T = TypeVar("T")


class Weighted(Generic[T]):
    """A weighted choice by bisection over cumulative weights (faster than random.choices)."""

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self.items = [item for item, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random) -> T:
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.total)]


def zipf(items: Sequence[T], exponent: float = 1.1) -> Weighted[T]:
    return Weighted([(item, 1 / (rank + 1) ** exponent) for rank, item in enumerate(items)])


ADJECTIVES = ("oak", "brass", "linen", "wool", "amber", "slate", "copper", "walnut", "cedar")
NOUNS = ("lamp", "chair", "table", "mug", "vase", "rug", "shelf", "stool", "sofa", "clock", "desk")
PRODUCTS = zipf([f"{a}-{n}-{i}" for i in range(10) for a in ADJECTIVES for n in NOUNS])
CATEGORIES = zipf([*(f"{n}s" for n in NOUNS), "sale", "new", "gifts", "outdoor", "kitchen"])
POSTS = zipf([f"how-to-choose-a-{n}-{i}" for i in range(9) for n in NOUNS])
TERMS = zipf([f"{a} {n}" for a in ADJECTIVES for n in NOUNS] + [*NOUNS, *ADJECTIVES])
SORTS = Weighted([("popular", 5), ("price_asc", 3), ("price_desc", 1), ("newest", 2)])
PAGE_KINDS = Weighted(
    [
        ("product", 44),
        ("category", 20),
        ("search", 12),
        ("home", 5),
        ("cart", 8),
        ("checkout", 3),
        ("blog", 4),
        ("account", 4),
    ]
)
ENTRY_KINDS = {
    "direct": Weighted([("home", 6), ("product", 2), ("account", 1), ("cart", 1)]),
    "search": Weighted([("product", 5), ("category", 3), ("home", 2), ("blog", 2)]),
    "social": Weighted([("product", 4), ("blog", 4), ("home", 1)]),
    "campaign": Weighted([("sale", 4), ("product", 3), ("home", 2)]),
    "other": Weighted([("product", 4), ("blog", 2), ("home", 2), ("category", 1)]),
}
GROUP = Weighted([("direct", 35), ("search", 30), ("social", 12), ("campaign", 10), ("other", 13)])
SEARCH_REFERRERS = Weighted(
    [
        ("https://www.google.com/", 75),
        ("https://www.bing.com/", 10),
        ("https://duckduckgo.com/", 8),
        ("https://www.ecosia.org/", 3),
        ("https://search.yahoo.com/", 2),
        ("https://yandex.ru/", 2),
    ]
)
SOCIAL_REFERRERS = Weighted(
    [
        ("https://l.facebook.com/", 30),
        ("https://t.co/", 15),
        ("https://www.instagram.com/", 15),
        ("https://www.reddit.com/", 12),
        ("https://www.pinterest.com/", 10),
        ("https://www.linkedin.com/", 6),
        ("https://www.youtube.com/", 7),
        ("https://news.ycombinator.com/", 5),
    ]
)
SITES = zipf([f"https://{w}{i}.example/" for i in range(40) for w in ("blog", "deals", "forum")])
CAMPAIGNS = Weighted(
    [
        (("newsletter", "email", "autumn-sale", "", ""), 30),
        (("newsletter", "email", "weekly", "", "header"), 15),
        (("google", "cpc", "brand", "oak lamp", ""), 20),
        (("facebook", "paid_social", "retargeting", "", "carousel"), 15),
        (("instagram", "paid_social", "new-collection", "", "story"), 10),
        (("partner", "affiliate", "gift-guide", "", ""), 10),
    ]
)
COUNTRY_SHARES = {
    "US": 28,
    "DE": 10,
    "GB": 8,
    "FR": 6,
    "IN": 6,
    "CA": 4,
    "NL": 3,
    "BR": 3,
    "ES": 3,
    "IT": 3,
    "AU": 2.5,
    "PL": 2,
    "SE": 1.5,
    "JP": 2,
    "MX": 1.5,
    "CH": 1,
    "AT": 1,
    "BE": 1,
    "DK": 1,
    "NO": 1,
    "IE": 1,
    "": 2,
}  # "": unknown
COUNTRIES = Weighted(list(COUNTRY_SHARES.items()))
LANGUAGES = {"DE": "de-DE", "FR": "fr-FR", "ES": "es-ES", "IT": "it-IT", "NL": "nl-NL"}
DESKTOP_SCREENS = Weighted(
    [
        ((1920, 1080), 35),
        ((1366, 768), 10),
        ((1536, 864), 10),
        ((1440, 900), 8),
        ((2560, 1440), 8),
        ((1280, 720), 4),
        ((1680, 1050), 3),
        ((3840, 2160), 2),
    ]
)
MOBILE_SCREENS = Weighted(
    [
        ((390, 844), 20),
        ((393, 873), 15),
        ((414, 896), 10),
        ((375, 667), 8),
        ((360, 800), 15),
        ((412, 915), 15),
        ((430, 932), 10),
    ]
)
TABLET_SCREENS = Weighted([((810, 1080), 4), ((820, 1180), 3), ((768, 1024), 2), ((800, 1280), 3)])
# device, browser, os, versions, weight, screens
AGENTS = Weighted(
    [
        (("desktop", "Chrome", "Windows", ("129", "130", "131"), DESKTOP_SCREENS), 22),
        (("desktop", "Edge", "Windows", ("130", "131"), DESKTOP_SCREENS), 7),
        (("desktop", "Firefox", "Windows", ("132", "133"), DESKTOP_SCREENS), 3),
        (("desktop", "Chrome", "Mac OS X", ("130", "131"), DESKTOP_SCREENS), 7),
        (("desktop", "Safari", "Mac OS X", ("17", "18"), DESKTOP_SCREENS), 6),
        (("desktop", "Firefox", "Linux", ("133",), DESKTOP_SCREENS), 1.5),
        (("desktop", "Chrome", "Linux", ("131",), DESKTOP_SCREENS), 1),
        (("desktop", "Chrome", "Chrome OS", ("130",), DESKTOP_SCREENS), 1),
        (("mobile", "Mobile Safari", "iOS", ("17", "18"), MOBILE_SCREENS), 20),
        (("mobile", "Chrome Mobile", "Android", ("130", "131"), MOBILE_SCREENS), 17),
        (("mobile", "Samsung Internet", "Android", ("26", "27"), MOBILE_SCREENS), 4),
        (("mobile", "Chrome Mobile iOS", "iOS", ("131",), MOBILE_SCREENS), 2),
        (("tablet", "Mobile Safari", "iOS", ("18",), TABLET_SCREENS), 3.5),
        (("tablet", "Chrome Mobile", "Android", ("131",), TABLET_SCREENS), 1.5),
        (("bot", "Googlebot", "Other", ("2",), DESKTOP_SCREENS), 0.6),
        (("bot", "HeadlessChrome", "Linux", ("131",), DESKTOP_SCREENS), 0.4),
    ]
)
EVENTS = {  # page kind -> (custom event, probability per view)
    "product": ("add_to_cart", 0.1),
    "search": ("search", 0.9),
    "checkout": ("purchase", 0.35),
    "blog": ("newsletter_signup", 0.04),
    "cart": ("begin_checkout", 0.4),
}
ERRORS = Weighted(
    [
        (("error", "TypeError: Cannot read properties of undefined (reading 'price')"), 30),
        (("error", "ReferenceError: gtag is not defined"), 15),
        (("rejection", "Failed to fetch"), 20),
        (("rejection", "AbortError: The user aborted a request."), 8),
        (("console", "Cart sync failed: 503"), 12),
        (("error", "Script error."), 10),
        (("console", "Image failed to load: /img/product.jpg"), 5),
    ]
)
FIXED_PATHS = {
    "home": "/",
    "sale": "/sale",
    "cart": "/cart",
    "checkout": "/checkout",
    "account": "/account",
}
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
PLANS = Weighted([("free", 6), ("member", 3), ("vip", 1)])
HOURS = Weighted(  # sessions by hour of day (UTC), a shop's day
    list(
        enumerate(
            [
                2,
                1.5,
                1,
                1,
                1,
                1.5,
                2.5,
                4,
                5,
                6,
                6.5,
                7,
                7,
                7,
                6.5,
                6.5,
                7,
                7.5,
                8,
                8.5,
                8,
                6,
                4.5,
                3,
            ]
        )
    )
)


@dataclass(frozen=True)
class Plan:
    """Who visits when: session start times (sorted) and each session's visitor."""

    starts: array[float]  # epoch seconds
    visitors: array[int]  # index into the visitor list
    visitor_count: int


@dataclass
class Rows:
    sessions: list[dict[str, Any]]
    pageviews: list[dict[str, Any]]
    events: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    traits: list[dict[str, Any]]


def plan(rng: random.Random, sessions: int, days: int, end: date) -> Plan:
    """Start times with a daily rhythm, fewer on weekends and a slow growth; then visitors:
    each session is a new visitor's, or (RETURNING_SHARE) an earlier visitor's again."""
    first = end - timedelta(days=days)
    day_weights = []
    for n in range(days):
        day = first + timedelta(days=n)
        day_weights.append((day, (0.8 if day.weekday() >= 5 else 1.0) * (1 + 0.4 * n / days)))
    pick_day = Weighted(day_weights)
    midnight = {
        day: datetime.combine(day, datetime.min.time(), UTC).timestamp() for day, _ in day_weights
    }
    starts = sorted(
        midnight[pick_day(rng)] + 3600 * (HOURS(rng) + rng.random()) for _ in range(sessions)
    )
    visitors = array("l")
    count = 0
    for _ in range(sessions):
        if count and rng.random() < RETURNING_SHARE:
            visitors.append(rng.randrange(count))
        else:
            visitors.append(count)
            count += 1
    return Plan(array("d", starts), visitors, count)


def fingerprint(kind: str, message: str) -> str:
    return hashlib.sha256(f"{kind}:{message}".encode()).hexdigest()[:32]


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _path(kind: str, rng: random.Random) -> str:
    if kind == "product":
        path = f"/products/{PRODUCTS(rng)}"
        return path + ("?variant=" + rng.choice("smlx") if rng.random() < 0.1 else "")
    if kind == "category":
        path = f"/category/{CATEGORIES(rng)}"
        if rng.random() < 0.3:
            path += f"?sort={SORTS(rng)}"
            path += f"&page={rng.randint(2, 6)}" if rng.random() < 0.3 else ""
        return path
    if kind == "search":
        term = TERMS(rng).replace(" ", "+")
        return f"/search?q={term}" + ("&page=2" if rng.random() < 0.15 else "")
    if kind == "blog":
        return f"/blog/{POSTS(rng)}"
    return FIXED_PATHS[kind]


def _with_campaign(path: str, campaign: tuple[str, ...]) -> str:
    pairs = [f"{n}={v.replace(' ', '+')}" for n, v in zip(UTM, campaign, strict=True) if v]
    return path + ("&" if "?" in path else "?") + "&".join(pairs)


def _timings(rng: random.Random, slow: float) -> dict[str, int | None]:
    ttfb = int(rng.lognormvariate(math.log(180 * slow), 0.6))
    dcl = ttfb + int(rng.lognormvariate(math.log(450 * slow), 0.5))
    left_early = rng.random() < 0.05
    return {
        "ttfb_ms": ttfb,
        "dcl_ms": dcl,
        "load_ms": None if left_early else dcl + int(rng.lognormvariate(math.log(500 * slow), 0.6)),
        "lcp_ms": None
        if left_early
        else ttfb + int(rng.lognormvariate(math.log(1100 * slow), 0.5)),
    }


class Generator:
    """Builds the rows of one session at a time from one seeded RNG."""

    def __init__(self, rng: random.Random, project_id: int, plan: Plan) -> None:
        self.rng = rng
        self.project_id = project_id
        self.plan = plan
        self.client_ids = [
            f"{rng.getrandbits(64):016x}{rng.getrandbits(32):08x}"
            for _ in range(plan.visitor_count)
        ]
        self.seen = bytearray(plan.visitor_count)

    def visitor_rows(self) -> list[dict[str, Any]]:
        first: dict[int, float] = {}
        last: dict[int, float] = {}
        counts: dict[int, int] = {}
        for start, who in zip(self.plan.starts, self.plan.visitors, strict=True):
            first.setdefault(who, start)
            last[who] = start
            counts[who] = counts.get(who, 0) + 1
        return [
            {
                "project_id": self.project_id,
                "client_id": self.client_ids[who],
                "first_seen_at": datetime.fromtimestamp(first[who], UTC),
                "last_seen_at": datetime.fromtimestamp(last[who], UTC),
                "sessions": counts[who],
            }
            for who in range(self.plan.visitor_count)
        ]

    def session(self, index: int, visitor_ids: dict[str, int], out: Rows) -> None:
        rng = self.rng
        who = self.plan.visitors[index]
        returning = bool(self.seen[who])
        self.seen[who] = 1
        first_ts = int(self.plan.starts[index] * 1000)
        client_id = f"{rng.getrandbits(64):016x}{rng.getrandbits(64):016x}"
        session_id = session_key(self.project_id, client_id)
        group = GROUP(rng)
        campaign = CAMPAIGNS(rng) if group == "campaign" else None
        referrer = ""
        if group == "search":
            referrer = SEARCH_REFERRERS(rng)
        elif group == "social" or (campaign is not None and campaign[1] == "paid_social"):
            referrer = SOCIAL_REFERRERS(rng)
        elif group == "other":
            referrer = SITES(rng)
        device, browser, os_name, versions, screens = AGENTS(rng)
        width, height = screens(rng)
        country = COUNTRIES(rng)
        slow = 1.6 if device == "mobile" else 1.0
        # visitor identity is a property of the visitor, drawn from its index for stability
        identity = random.Random(who * 7919 + 1)
        identified = identity.random() < IDENTIFIED_SHARE and rng.random() < 0.8
        pages = 1 if rng.random() < 0.35 else min(60, 2 + int(rng.expovariate(1 / 5.6)))

        kind = ENTRY_KINDS[group](rng)
        ts = first_ts
        views: list[dict[str, Any]] = []
        previous = referrer
        for number in range(pages):
            if number:
                kind = "checkout" if kind == "cart" and rng.random() < 0.4 else PAGE_KINDS(rng)
            url = ORIGIN + _path(kind, rng)
            if number == 0 and campaign is not None:
                url = _with_campaign(url, campaign)
            path, query = split_url(url)
            hard = number == 0 or rng.random() < 0.35
            dwell = min(1_800_000, int(rng.lognormvariate(math.log(25_000), 1.0)))
            view = {
                "session_id": session_id,
                "project_id": self.project_id,
                "ts": ts,
                "url": url,
                "path": path,
                "query": query,
                "title": f"{path.rsplit('/', 1)[-1].replace('-', ' ').title() or 'Home'} | Shop",
                "referrer": previous,
                "started_at": _when(ts),
                "duration_ms": dwell,
                **(_timings(rng, slow) if hard else NO_TIMINGS),
            }
            views.append(view)
            event = EVENTS.get(kind)
            if event is not None and rng.random() < event[1]:
                out.events.append(
                    {
                        "session_id": session_id,
                        "project_id": self.project_id,
                        "name": event[0],
                        "ts": ts + rng.randrange(1000, max(1001, dwell)),
                    }
                )
            previous = url
            ts += dwell
        last_ts = ts
        duration = last_ts - first_ts
        error_count = 0
        if rng.random() < ERROR_SHARE:
            error_count = rng.choice((1, 1, 1, 2, 3))
            for _ in range(error_count):
                at = rng.randrange(first_ts, last_ts + 1)
                kind_, message = ERRORS(rng)
                out.errors.append(
                    {
                        "session_id": session_id,
                        "project_id": self.project_id,
                        "ts": at,
                        "started_at": _when(at),
                        "kind": kind_,
                        "message": message,
                        "fingerprint": fingerprint(kind_, message),
                        "source": f"{ORIGIN}/assets/app.js" if kind_ == "error" else "",
                        "stack": f"{message}\n    at render ({ORIGIN}/assets/app.js:1:"
                        f"{rng.randrange(99999)})",
                        "page_url": views[-1]["url"],
                    }
                )
        user_id = ""
        if identified:
            user_id = f"user-{who:07d}"
            out.traits.append({"session_id": session_id, "key": "plan", "value": PLANS(identity)})
            out.traits.append(
                {
                    "session_id": session_id,
                    "key": "company",
                    "value": f"company-{identity.randrange(500)}",
                }
            )
        entry_url = views[0]["url"]
        source, ref_domain = classify(referrer, entry_url)
        clicks = sum(rng.randint(0, 4) for _ in range(pages))
        started = _when(first_ts)
        ended = _when(last_ts)
        out.pageviews.extend(views)
        out.sessions.append(
            {
                "id": session_id,
                "project_id": self.project_id,
                "visitor_id": visitor_ids[self.client_ids[who]],
                "client_id": client_id,
                "started_at": started,
                "ended_at": ended,
                "first_ts": first_ts,
                "last_ts": last_ts,
                "duration_ms": duration,
                "active_ms": int(duration * rng.uniform(0.25, 0.9)),
                "last_activity_ts": last_ts - rng.randrange(0, 5000),
                "pages": pages,
                "clicks": clicks,
                "keypresses": sum(12 for v in views if v["path"] == "/search") + rng.randrange(5),
                "events": 30 * pages + duration // 500 + clicks * 3,
                "entry_url": entry_url,
                "exit_url": views[-1]["url"],
                "referrer": referrer,
                "referrer_domain": ref_domain,
                "source": source,
                **utm(entry_url),
                "browser": browser,
                "browser_version": rng.choice(versions),
                "os": os_name,
                "device": device,
                "screen_width": width,
                "screen_height": height,
                "viewport_width": width - (0 if device != "desktop" else rng.choice((0, 15, 17))),
                "viewport_height": height - (120 if device == "desktop" else 180),
                "language": LANGUAGES.get(country, "en-US"),
                "country": country,
                "user_id": user_id,
                "is_returning": returning,
                "errors": error_count,
                "raw_bytes": 600_000 + duration * 12,
                "stored_bytes": (600_000 + duration * 12) // 9,
                "created_at": ended,
                "updated_at": ended,
            }
        )


NO_TIMINGS: dict[str, int | None] = {
    "ttfb_ms": None,
    "dcl_ms": None,
    "load_ms": None,
    "lcp_ms": None,
}


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(table), rows)


def create_project(conn: Connection) -> int:
    organisation = users.create_organisation(conn, PROJECT_NAME)
    return projects.create_project(conn, organisation, PROJECT_NAME, [ORIGIN]).id


@dataclass(frozen=True)
class Seeded:
    project_id: int
    visitors: int
    sessions: int
    pageviews: int
    events: int
    errors: int
    traits: int
    seconds: float


def seed(
    url: str,
    sessions: int,
    days: int = 90,
    end: date | None = None,
    random_seed: int = 1,
    progress: bool = True,
) -> Seeded:
    """A new organisation and project in the (migrated) database, filled with sessions over
    the `days` days before `end` (default: today, UTC)."""
    began = time.perf_counter()
    rng = random.Random(random_seed)
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            project_id = create_project(conn)
        who = plan(rng, sessions, days, end or datetime.now(UTC).date())
        generator = Generator(rng, project_id, who)
        rows = generator.visitor_rows()
        bar = tqdm(total=len(rows) + sessions, unit="row", disable=not progress, desc="visitors")
        with engine.begin() as conn:
            for at in range(0, len(rows), CHUNK * 4):
                _insert(conn, visitor, rows[at : at + CHUNK * 4])
                bar.update(len(rows[at : at + CHUNK * 4]))
            ids = {
                client_id: int(row_id)
                for row_id, client_id in conn.execute(
                    select(visitor.c.id, visitor.c.client_id).where(
                        visitor.c.project_id == project_id
                    )
                )
            }
        bar.set_description("sessions")
        totals = dict.fromkeys(("pageviews", "events", "errors", "traits"), 0)
        for at in range(0, sessions, CHUNK):
            out = Rows([], [], [], [], [])
            for index in range(at, min(sessions, at + CHUNK)):
                generator.session(index, ids, out)
            with engine.begin() as conn:
                _insert(conn, session, out.sessions)
                _insert(conn, pageview, out.pageviews)
                _insert(conn, session_event, out.events)
                _insert(conn, session_error, out.errors)
                _insert(conn, session_trait, out.traits)
            for name in totals:
                totals[name] += len(getattr(out, name))
            bar.update(len(out.sessions))
        bar.close()
        with engine.begin() as conn:
            # the pages report's day rollup, which the processor keeps as it writes sessions
            page_days.rebuild(conn, project_id)
    finally:
        engine.dispose()
    return Seeded(project_id, len(rows), sessions, **totals, seconds=time.perf_counter() - began)


def _size(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return ""
    files = [Path(parsed.database + suffix) for suffix in ("", "-wal")]
    total = sum(f.stat().st_size for f in files if f.exists())
    return f", {total / 1e9:.2f} GB on disk"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="sessions (1,000,000)")
    parser.add_argument("--days", type=int, default=90, help="days they spread over (90)")
    parser.add_argument(
        "--end", type=date.fromisoformat, help="the day after the last one (default: today)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generator (1)")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help=f"where to write; migrated first; a new project each run ({DEFAULT_URL})",
    )
    parser.add_argument(
        "--replace", action="store_true", help="delete the SQLite file first, if there is one"
    )
    options = parser.parse_args(argv)
    if options.sessions < 1 or options.days < 1:
        parser.error("--sessions and --days must be at least 1")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    parsed = make_url(options.database_url)
    if options.replace and parsed.get_backend_name() == "sqlite" and parsed.database:
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    done = seed(options.database_url, options.sessions, options.days, options.end, options.seed)
    print(
        f"project {done.project_id}: {done.visitors:,} visitors, {done.sessions:,} sessions, "
        f"{done.pageviews:,} pageviews, {done.events:,} custom events, {done.errors:,} errors, "
        f"{done.traits:,} traits in {done.seconds:.0f} s{_size(options.database_url)}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
