"""Survey results at size: one survey's figures, text answers, API pages and CSV, timed.

    .venv/bin/python bench/surveys.py [--responses 200000] [--feedback 20000] [--days 90]
                                      [--repeat 3] [--database-url URL] [--profile] [--json]

Builds a fresh database (a temp SQLite file with the server's own engine settings unless
--database-url is given; on PostgreSQL a schema of its own, dropped at the end, as
bench/ingest.py does) with one project and two surveys made by surveys.store.create from a
definition checked by surveys.definition.parse. The target survey has five questions (NPS,
required; one choice of 4; several of 5; a rating; free text). Rows are bulk-inserted into
survey_response, spread over --days days and interleaved by time with the other survey's
(20% more rows on top), so the target's rows sit among others:

- about 60% answered (NPS always, the others mostly; a text answer on about 40% of them,
  5-60 words from a small vocabulary, 1 in 100 of them holding the word SEARCH_RARE), 25%
  dismissed with partial answers (or none), 15% shown only;
- answers as surveys/answers.store writes them (json.dumps, ensure_ascii=False, answers in
  question order, a multiple choice in the order of its choices), the nps column set, and
  the survey_answer rows it writes beside each (surveys.answers.answer_rows);
- a session key on about 97% of them; 10,000 of those keys (with a visitor each) are stored
  sessions, so the replay links have something to find.

Plus --feedback rows of page_feedback for the project. Each query is the function the
console or the API calls, timed best of --repeat; the baseline, measured in the same run, is
SELECT count(*) of the survey's responses: the least any query over them has to read.
Nothing here asserts a time (docs/benchmarks.md). --profile runs the slowest query once more
under cProfile and prints where its time went (to stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select

from report import cpu_model
from sessionlens import config, projects
from sessionlens.accounts import users
from sessionlens.analytics.period import Period
from sessionlens.context import Context
from sessionlens.storage.engine import migrate
from sessionlens.storage.tables import (
    page_feedback,
    session,
    survey_answer,
    survey_response,
    visitor,
)
from sessionlens.surveys import definition, feedback_list, results, store
from sessionlens.surveys.answers import answer_rows
from sessionlens.surveys.store import Survey

CHUNK = 10_000
OTHER_SHARE = 0.2
STORED_SESSIONS = 10_000
BASE_URL = "https://sessionlens.example"
NPS_TEXT = "How likely are you to recommend the shop to a friend?"
DEFINITION = {
    "intro": "Help us improve the shop (1 minute).",
    "thanks": "Thank you!",
    "questions": [
        {"id": "q1", "kind": "nps", "text": NPS_TEXT, "required": True},
        {
            "id": "q2",
            "kind": "single",
            "text": "What brought you here today?",
            "choices": ["Price", "Range", "Recommendation", "Advert"],
        },
        {
            "id": "q3",
            "kind": "multiple",
            "text": "Which did you use?",
            "choices": ["Search", "Filters", "Menu", "Wishlist", "Compare"],
        },
        {"id": "q4", "kind": "rating", "text": "How easy was checkout?"},
        {"id": "q5", "kind": "text", "text": "Anything else you would like to tell us?"},
    ],
    "targeting": {"pages": ["/products/*"], "devices": [], "visitors": "all", "share": 50},
    "trigger": {"kind": "delay", "seconds": 5},
    "theme": {"color": "#2f6fde", "position": "bottom-right"},
}
OTHER_DEFINITION = {
    "questions": [
        {"id": "q1", "kind": "rating", "text": "How was the delivery?", "required": True},
        {"id": "q2", "kind": "text", "text": "What could we do better?"},
    ]
}
WORDS = (
    "the a and to of it was is very quite not too but so I we my this that with for on "
    "shop site page product products price prices delivery shipping order checkout cart "
    "search filter size colour photo photos review reviews fast slow easy hard great good "
    "bad fine nice clear confusing cheap expensive love like found find looking wanted "
    "could would should more less stock return payment card account login mobile app "
    "café crème naïve desk chair lamp sofa table oak cedar"
)
VOCABULARY = WORDS.split()
SEARCH_RARE = "warranty"  # in 1 of 100 text answers, nowhere else
SEARCH_NONE = "xylophone"  # in no row at all: SQL's LIKE reads every row and finds none
SEARCH_CHOICE = "Recommendation"  # a choice: in the JSON of many rows, in no text answer
FEEDBACK_SEARCH = "checkout"
PAGES = [f"/products/{w}-{n}" for w in ("cedar-desk", "oak-chair", "lamp", "sofa") for n in (1, 2)]


def sentence(rng: random.Random) -> str:
    words = rng.choices(VOCABULARY, k=rng.randint(5, 60))
    if rng.random() < 0.01:
        words[rng.randrange(len(words))] = SEARCH_RARE
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def target_answers(rng: random.Random, state: str, questions: Any) -> dict[str, Any]:
    """Answers to the five questions, in question order, as answers.store keeps them."""
    if state == "shown":
        return {}
    complete = state == "answered"
    if not complete and rng.random() < 0.5:
        return {}  # dismissed at once
    likely = 1.0 if complete else 0.35
    out: dict[str, Any] = {}
    if rng.random() < likely:
        out["q1"] = rng.choices(range(11), weights=(2, 1, 1, 2, 2, 4, 6, 12, 18, 22, 20))[0]
    if rng.random() < likely * 0.9:
        out["q2"] = rng.choices(questions[1].choices, weights=(40, 30, 20, 10))[0]
    if rng.random() < likely * 0.8:
        picked = set(rng.sample(questions[2].choices, rng.randint(1, 3)))
        out["q3"] = [c for c in questions[2].choices if c in picked]
    if rng.random() < likely * 0.85:
        out["q4"] = rng.choices(range(1, 6), weights=(5, 8, 17, 35, 35))[0]
    if rng.random() < (0.4 if complete else 0.1):
        out["q5"] = sentence(rng)
    return out


def other_answers(rng: random.Random, state: str) -> dict[str, Any]:
    if state != "answered":
        return {}
    out: dict[str, Any] = {"q1": rng.randint(1, 5)}
    if rng.random() < 0.3:
        out["q2"] = sentence(rng)
    return out


def response_rows(
    rng: random.Random,
    project_id: int,
    target: Survey,
    other: Survey,
    count: int,
    start: datetime,
    days: int,
) -> Iterator[dict[str, Any]]:
    """Every survey_response row in time order: `count` of the target's, 20% more of the other's."""
    extra = round(count * OTHER_SHARE)
    which = [True] * count + [False] * extra
    rng.shuffle(which)
    span = days * 86400
    seconds = sorted(rng.random() * span for _ in which)
    questions = target.definition.questions
    for index, (mine, offset) in enumerate(zip(which, seconds, strict=True)):
        at = start + timedelta(seconds=offset)
        state = rng.choices(("answered", "dismissed", "shown"), weights=(60, 25, 15))[0]
        answers = target_answers(rng, state, questions) if mine else other_answers(rng, state)
        session_key = f"benchSession{index:08d}" if rng.random() < 0.97 else ""
        yield {
            "project_id": project_id,
            "survey_id": target.id if mine else other.id,
            "response_key": f"benchResponse{index:08d}",
            "session_key": session_key,
            "visitor_key": f"benchVisitor{rng.randrange(count):08d}",
            "ts": int(at.timestamp() * 1000) - rng.randrange(5000),
            "state": state,
            "url": "https://shop.example" + rng.choice(PAGES),
            "answers": json.dumps(answers, ensure_ascii=False),
            "nps": answers.get("q1") if mine else None,
            "created_at": at,
            "updated_at": at,
        }


def feedback_rows(
    rng: random.Random, project_id: int, count: int, start: datetime, days: int, keys: list[str]
) -> Iterator[dict[str, Any]]:
    span = days * 86400
    for index, offset in enumerate(sorted(rng.random() * span for _ in range(count))):
        at = start + timedelta(seconds=offset)
        comment = sentence(rng) if rng.random() < 0.6 else ""
        yield {
            "project_id": project_id,
            "feedback_key": f"benchFeedback{index:08d}",
            "session_key": rng.choice(keys) if rng.random() < 0.2 else f"benchOther{index:08d}",
            "visitor_key": f"benchVisitor{rng.randrange(count):08d}",
            "ts": int(at.timestamp() * 1000),
            "url": "https://shop.example" + rng.choice(PAGES),
            "rating": rng.choices(range(1, 6), weights=(8, 7, 15, 35, 35))[0],
            "comment": comment,
            "selector": "main > div.product > button#add-to-cart" if rng.random() < 0.2 else "",
            "created_at": at,
        }


def answer_rows_of(
    conn: Connection, chunk: list[dict[str, Any]], definitions: dict[int, Any]
) -> list[dict[str, Any]]:
    keys = [r["response_key"] for r in chunk if r["state"] != "shown"]
    ids = dict(
        conn.execute(
            select(survey_response.c.response_key, survey_response.c.id).where(
                survey_response.c.response_key.in_(keys)
            )
        ).all()
    )
    out: list[dict[str, Any]] = []
    for r in chunk:
        if r["response_key"] not in ids:
            continue
        same = {
            "response_id": ids[r["response_key"]],
            "survey_id": r["survey_id"],
            "created_at": r["created_at"],
        }
        given = json.loads(r["answers"])
        out += [row | same for row in answer_rows(definitions[r["survey_id"]], given)]
    return out


def chunked(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build(
    ctx: Context, options: argparse.Namespace, end: datetime
) -> tuple[int, Survey, dict[str, int]]:
    """The project, the target survey and the rows written per table."""
    rng = random.Random(11)
    start = end - timedelta(days=options.days)
    with ctx.engine.begin() as conn:
        user, org_id = users.create_user(conn, "bench@example.com", "Bench", "bench password 1")
        project_id = projects.create_project(conn, org_id, "Surveys", ["https://shop.example"]).id
        target = store.create(
            conn, project_id, "Shop NPS", definition.parse(DEFINITION), user.id, "active"
        )
        other = store.create(
            conn, project_id, "Delivery", definition.parse(OTHER_DEFINITION), user.id, "active"
        )
    written = {"survey_response": 0, "session": 0, "visitor": 0, "page_feedback": 0}
    linked: list[tuple[str, int]] = []  # session keys of the target's rows, with their ts
    rows = response_rows(rng, project_id, target, other, options.responses, start, options.days)
    definitions = {target.id: target.definition, other.id: other.definition}
    written["survey_answer"] = 0
    for chunk in chunked(rows, CHUNK):
        with ctx.engine.begin() as conn:
            conn.execute(insert(survey_response), chunk)
            # The answer rows answers.store writes beside each response (a row per value).
            values = answer_rows_of(conn, chunk, definitions)
            if values:
                conn.execute(insert(survey_answer), values)
        written["survey_response"] += len(chunk)
        written["survey_answer"] += len(values)
        linked.extend(
            (r["session_key"], r["ts"])
            for r in chunk
            if r["session_key"] and r["survey_id"] == target.id
        )
        if written["survey_response"] % 100_000 < CHUNK:
            print(f"  survey_response: {written['survey_response']:,}", file=sys.stderr)
    chosen = rng.sample(linked, min(STORED_SESSIONS, len(linked)))
    with ctx.engine.begin() as conn:
        for part in range(0, len(chosen), CHUNK):
            slice_ = chosen[part : part + CHUNK]
            seen = datetime.fromtimestamp(slice_[0][1] / 1000, UTC)
            ids = [
                conn.execute(
                    insert(visitor).values(
                        project_id=project_id,
                        client_id=f"benchStored{part + n:08d}",
                        first_seen_at=seen,
                        last_seen_at=seen,
                        sessions=1,
                    )
                ).inserted_primary_key[0]
                for n in range(len(slice_))
            ]
            sessions = []
            for visitor_id, (key, ts) in zip(ids, slice_, strict=True):
                first_ts = ts - rng.randrange(10_000, 600_000)
                started = datetime.fromtimestamp(first_ts / 1000, UTC)
                sessions.append(
                    {
                        "id": f"{rng.getrandbits(128):032x}",
                        "project_id": project_id,
                        "visitor_id": visitor_id,
                        "client_id": key,
                        "started_at": started,
                        "ended_at": started + timedelta(minutes=12),
                        "first_ts": first_ts,
                        "last_ts": first_ts + 720_000,
                        "duration_ms": 720_000,
                        "entry_url": "https://shop.example/",
                    }
                )
            conn.execute(insert(session), sessions)
            written["visitor"] += len(ids)
            written["session"] += len(sessions)
    keys = [key for key, _ in chosen]
    for chunk in chunked(
        feedback_rows(rng, project_id, options.feedback, start, options.days, keys), CHUNK
    ):
        with ctx.engine.begin() as conn:
            conn.execute(insert(page_feedback), chunk)
        written["page_feedback"] += len(chunk)
    return project_id, target, written


def best_of(repeat: int, call: Callable[[], Any]) -> tuple[float, float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return min(times), times[0], result


def csv_export(ctx: Context, found: Survey, everything: bool) -> dict[str, int]:
    size = lines = 0
    for piece in results.csv_lines(ctx.reader, found, None, everything, BASE_URL):
        size += len(piece.encode())
        lines += piece.count("\r\n")  # the csv module's line ends (a text has \n only)
    return {"bytes": size, "rows": lines - 1}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KB on Linux


def fresh(ctx: Context, call: Callable[[Connection], Any]) -> Callable[[], Any]:
    """The call on a reading connection of its own, as the console and the API use."""

    def run() -> Any:
        with ctx.reader.connect() as conn:
            return call(conn)

    return run


def setting(ctx: Context, mine: list[Any]) -> dict[str, Any]:
    """What the cases need and what the checks compare with, read before any timing."""
    with ctx.engine.connect() as conn:
        ordered = list(
            conn.execute(
                select(survey_response.c.id).where(*mine).order_by(survey_response.c.id)
            ).scalars()
        )
        given = conn.execute(
            select(func.count()).where(*mine, survey_response.c.state.in_(results.GIVEN))
        ).scalar_one()
        texts = conn.execute(
            select(survey_response.c.answers).where(
                *mine,
                survey_response.c.state.in_(results.GIVEN),
                survey_response.c.answers.contains('"q5":'),
            )
        ).scalars()
        with_text = [results.answers_of(a)["q5"] for a in texts]
    return {
        "deep_after": ordered[len(ordered) * 9 // 10],  # a cursor 90% of the way in
        "given": given,
        "with_text": len(with_text),
        "rare_text": sum(SEARCH_RARE in t.lower() for t in with_text),
    }


def cases(
    ctx: Context, project_id: int, found: Survey, week: Period, facts: dict[str, Any]
) -> list[tuple[str, Callable[[], Any]]]:
    mine = [survey_response.c.project_id == project_id, survey_response.c.survey_id == found.id]
    in_week = [
        survey_response.c.created_at >= week.start,
        survey_response.c.created_at < week.end,
    ]
    after = facts["deep_after"]
    gave_choice = results.answer_filter(found, "q2:Range")
    on_conn: list[tuple[str, Callable[[Connection], Any]]] = [
        (
            "baseline: count(*) of the survey's responses",
            lambda c: c.execute(select(func.count()).where(*mine)).scalar_one(),
        ),
        (
            "count(*) of the survey's responses, last 7 days",
            lambda c: c.execute(select(func.count()).where(*mine, *in_week)).scalar_one(),
        ),
        ("figures, all time", lambda c: results.figures(c, found, None)),
        ("figures, last 7 days", lambda c: results.figures(c, found, week)),
        ("responses, page 1", lambda c: results.answer_list(c, found, None)),
        (
            f"responses, page 1, q={SEARCH_RARE} (~1%)",
            lambda c: results.answer_list(c, found, None, SEARCH_RARE),
        ),
        (
            f"responses, page 1, q={SEARCH_NONE} (none)",
            lambda c: results.answer_list(c, found, None, SEARCH_NONE),
        ),
        (
            f"responses, page 1, q={SEARCH_CHOICE} (a choice)",
            lambda c: results.answer_list(c, found, None, SEARCH_CHOICE),
        ),
        ("responses, page 20", lambda c: results.answer_list(c, found, None, page=20)),
        (
            "responses, page 1, that gave a choice (~30%)",
            lambda c: results.answer_list(c, found, None, answer=gave_choice),
        ),
        (
            "API responses, first 100",
            lambda c: results.responses_after(c, found, None, "all", 0, 100, BASE_URL),
        ),
        (
            "API responses, 100 after a cursor 90% in",
            lambda c: results.responses_after(c, found, None, "all", after, 100, BASE_URL),
        ),
        ("feedback summary", lambda c: feedback_list.summary(c, project_id, None)),
        (
            "feedback list, page 1",
            lambda c: feedback_list.page_of(c, project_id, None, None, "", 1),
        ),
        (
            f"feedback list, page 1, q={FEEDBACK_SEARCH}",
            lambda c: feedback_list.page_of(c, project_id, None, None, FEEDBACK_SEARCH, 1),
        ),
    ]
    out = [(name, fresh(ctx, call)) for name, call in on_conn]
    # the CSV opens a connection per chunk of its own (results.csv_lines)
    csv = [
        ("CSV, answered + dismissed (console link)", lambda: csv_export(ctx, found, False)),
        ("CSV, every invitation (all=1)", lambda: csv_export(ctx, found, True)),
    ]
    return out[:11] + csv + out[11:]


def measure(
    ctx: Context, project_id: int, found: Survey, end: datetime, repeat: int
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Callable[[], Any]]]:
    mine = [survey_response.c.project_id == project_id, survey_response.c.survey_id == found.id]
    week = Period(
        datetime.combine(end.date() - timedelta(days=6), datetime.min.time(), UTC),
        datetime.combine(end.date() + timedelta(days=1), datetime.min.time(), UTC),
    )
    facts = setting(ctx, mine)
    facts["peak_rss_mb_before_csv"] = peak_rss_mb()
    every = cases(ctx, project_id, found, week, facts)
    out: list[dict[str, Any]] = []
    answers: dict[str, Any] = {}
    baseline = 0.0
    for name, call in every:
        seconds, first, result = best_of(repeat, call)
        baseline = baseline or seconds
        answers[name] = result
        out.append(
            {
                "query": name,
                "seconds": seconds,
                "first": first,
                "rows": rows_of(result),
                "vs_baseline": seconds / baseline,
            }
        )
        if name.startswith("CSV, every"):
            facts["peak_rss_mb_after_csv"] = peak_rss_mb()
            facts["csv_all"] = result
        elif name.startswith("CSV"):
            facts["csv_given"] = result
    check(answers, facts)
    return out, facts, dict(every)


def rows_of(result: Any) -> int:
    if isinstance(result, int):
        return result
    if isinstance(result, tuple):  # the API: (items, next cursor)
        return len(result[0])
    if "items" in result:
        return len(result["items"])
    if "invited" in result:
        return int(result["invited"])
    if "rows" in result:
        return int(result["rows"])
    return int(result.get("count", 0))


def check(answers: dict[str, Any], facts: dict[str, Any]) -> None:
    """The answers are what the rows hold; otherwise the figures would mean nothing."""
    names = list(answers)
    total = answers[names[0]]
    if answers["figures, all time"]["invited"] != total:
        raise SystemExit("figures: the invitations do not add up to count(*)")
    if facts["csv_all"]["rows"] != total or facts["csv_given"]["rows"] != facts["given"]:
        raise SystemExit("CSV: the rows do not match the responses")
    page = answers["responses, page 1"]
    if len(page["items"]) != results.PER_PAGE or not page["has_more"]:
        raise SystemExit("text answers: page 1 is not a full page")
    rare = answers[f"responses, page 1, q={SEARCH_RARE} (~1%)"]["items"]
    texts = [[a["answer"].lower() for a in i["answers"] if a["kind"] == "text"] for i in rare]
    if not rare or any(not any(SEARCH_RARE in t for t in found) for found in texts):
        raise SystemExit("text answers: the search found the wrong rows")
    for name in (f"q={SEARCH_NONE} (none)", f"q={SEARCH_CHOICE} (a choice)"):
        if answers[f"responses, page 1, {name}"]["items"]:
            raise SystemExit(f"text answers, {name}: rows found where none match")
    linked = sum(
        1
        for key in ("responses, page 1", "responses, page 20")
        for item in answers[key]["items"]
        if item["session_id"]
    )
    facts["linked_on_text_pages"] = linked


def profile(call: Callable[[], Any]) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return out.getvalue()


@contextlib.contextmanager
def database(database_url: str | None, tmp: str) -> Iterator[str]:
    if database_url is None:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    from ingest import _private_schema  # a schema of its own, dropped afterwards

    with _private_schema(database_url) as url:
        yield url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=200_000, help="of the target survey")
    parser.add_argument("--feedback", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--database-url",
        help="a postgresql:// URL (the bench works in a schema of its own there and drops "
        "it afterwards); default: a temp SQLite file",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the slowest query")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    if options.database_url and not options.database_url.startswith("postgresql"):
        parser.error("--database-url takes a postgresql:// URL; SQLite is the default")
    end = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory(prefix="sessionlens-surveys-") as tmp,
        database(options.database_url, tmp) as url,
    ):
        settings = config.load(
            {
                "SESSIONLENS_DATA_DIR": tmp,
                "SESSIONLENS_DATABASE_URL": url,
                "SESSIONLENS_DEMO": "false",
            }
        )
        ctx = Context.open(settings)
        try:
            migrate(ctx.engine)
            started = time.perf_counter()
            project_id, found, written = build(ctx, options, end)
            built = time.perf_counter() - started
            print(f"rows written in {built:.1f} s: {written}", file=sys.stderr)
            timings, facts, calls = measure(ctx, project_id, found, end, options.repeat)
            if options.profile:
                slowest = max(timings, key=lambda t: t["seconds"])
                print(f"\ncProfile of {slowest['query']!r}:", file=sys.stderr)
                print(profile(calls[slowest["query"]]), file=sys.stderr)
        finally:
            ctx.close()
    where = "postgresql" if options.database_url else "sqlite"
    if options.json:
        print(
            json.dumps(
                {
                    "database": where,
                    "cpu": cpu_model(),
                    "responses": options.responses,
                    "written": written,
                    "build_seconds": built,
                    "repeat": options.repeat,
                    **facts,
                    "queries": timings,
                }
            )
        )
        return
    print(
        f"survey results ({where}): {options.responses:,} responses of the survey "
        f"({facts['given']:,} answered or dismissed, {facts['with_text']:,} with a text answer, "
        f"{facts['rare_text']:,} of them with {SEARCH_RARE!r}) among "
        f"{written['survey_response']:,}; {written['session']:,} stored sessions; "
        f"{written['page_feedback']:,} feedbacks; built in {built:.0f} s; best of "
        f"{options.repeat}; {cpu_model()}"
    )
    print(f"{'query':50}{'seconds':>9}{'first':>8}{'rows':>9}{'vs baseline':>13}")
    for t in timings:
        print(
            f"{t['query'][:50]:50}{t['seconds']:9.3f}{t['first']:8.3f}{t['rows']:9}"
            f"{t['vs_baseline']:12.1f}x"
        )
    for key in ("csv_given", "csv_all"):
        print(f"{key}: {facts[key]['rows']:,} rows, {facts[key]['bytes'] / 1e6:.1f} MB")
    print(
        f"peak RSS: {facts['peak_rss_mb_before_csv']:.0f} MB before the CSV exports, "
        f"{facts['peak_rss_mb_after_csv']:.0f} MB after them"
    )
    print(f"replay links on text answer pages 1 and 20: {facts['linked_on_text_pages']}")


if __name__ == "__main__":
    main()
