"""Struggle signals found in a session's stream of interactions: pure functions, no I/O.

The stream is a list of Items (time, kind, data) built from the recorded events by
processing/interactions.py. Each detector names the moment a signal starts (its anchor)
and needs the stream to go on for a while after it (LOOKAHEAD) to decide; detection runs
again as batches arrive, so a signal is only decided once the stream has passed its
anchor + lookahead (or the session has settled), and never twice (`done` watermarks).

The rules (docs/struggle.md explains each, and its known false positives):
- rage click: 3+ clicks on the same element within 1 s, each within 30 px of the first,
  unless each click changed the page (steppers, pagination, carousels);
- dead click: a click on a link, button or other interactive element (not a form field,
  not a download) followed by no DOM change, navigation, input, scroll or network request
  within 1 s, and that changed no form field near it (`chg`, checked by the recorder);
- error click: a JavaScript error within 1 s after a click;
- u-turn: leaving a page and coming back to it within 5 s;
- excessive scrolling: the page scrolled up and down 3+ times (legs of 300+ px) within 5 s;
- mouse thrashing: the pointer reversing direction 6+ times (legs of 50+ px) within 2 s;
- form retry: 2+ failed attempts (validation errors) to submit the same form within 60 s.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "rage_click",
    "dead_click",
    "error_click",
    "u_turn",
    "excessive_scroll",
    "thrashing",
    "form_retry",
)
LOOKAHEAD = {
    "rage_click": 1000,
    "dead_click": 1000,
    "error_click": 1000,
    "u_turn": 5000,
    "excessive_scroll": 5000,
    "thrashing": 2000,
    "form_retry": 1000,
}
# How long each kind of item is kept for the next batch's detection (ms before the horizon).
KEEP = {
    "click": 10_000,
    "nav": 10_000,
    "mut": 2_000,
    "input": 2_000,
    "net": 3_000,
    "err": 2_000,
    "scroll": 10_000,
    "move": 5_000,
    "submit": 60_000,
    "invalid": 60_000,
}
# Points per signal and how many of each count, for the 0-100 score.
WEIGHTS = {
    "rage_click": (15, 3),
    "dead_click": (8, 3),
    "error_click": (12, 3),
    "u_turn": (6, 3),
    "excessive_scroll": (5, 2),
    "thrashing": (5, 2),
    "form_retry": (10, 3),
    "js_error": (2, 5),
}

RAGE_CLICKS = 3
RAGE_WINDOW_MS = 1000
RAGE_RADIUS_PX = 30
RESPONSE_MS = 1000
NET_MATCH_MS = 100
U_TURN_MS = 5000
SCROLL_LEG_PX = 300
SCROLL_REVERSALS = 3
SCROLL_WINDOW_MS = 5000
THRASH_LEG_PX = 50
THRASH_REVERSALS = 6
THRASH_WINDOW_MS = 2000
FORM_WINDOW_MS = 60_000
FIELDS = ("input", "textarea", "select", "option")


@dataclass(frozen=True)
class Item:
    ts: int
    kind: str  # a KEEP key
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> list[Any]:
        return [self.ts, self.kind, self.data]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Item:
        return cls(int(raw[0]), str(raw[1]), dict(raw[2]))


@dataclass
class Signal:
    ts: int
    kind: str
    path: str = ""
    selector: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    clicks: list[int] = field(default_factory=list)  # times of the clicks it marks


def _of(items: list[Item], *kinds: str) -> list[Item]:
    return [i for i in items if i.kind in kinds]


def _between(items: list[Item], start: int, end: int, kinds: tuple[str, ...]) -> bool:
    return any(start < i.ts <= end and i.kind in kinds for i in items)


def _near(a: Item, b: Item, radius: int) -> bool:
    dx = int(a.data.get("x", 0)) - int(b.data.get("x", 0))
    dy = int(a.data.get("y", 0)) - int(b.data.get("y", 0))
    return math.hypot(dx, dy) <= radius


def rage_clicks(items: list[Item]) -> Iterator[Signal]:
    clicks = _of(items, "click")
    i = 0
    while i < len(clicks):
        first = clicks[i]
        burst = [first]
        j = i + 1
        while (
            j < len(clicks)
            and clicks[j].data.get("sel") == first.data.get("sel")
            and clicks[j].ts - burst[-1].ts <= RAGE_WINDOW_MS
            and _near(clicks[j], first, RAGE_RADIUS_PX)
        ):
            burst.append(clicks[j])
            j += 1
        quick = len(burst) >= RAGE_CLICKS and burst[RAGE_CLICKS - 1].ts - first.ts <= RAGE_WINDOW_MS
        if quick and not _each_changed_the_page(items, burst):
            yield Signal(
                first.ts,
                "rage_click",
                str(first.data.get("path", "")),
                str(first.data.get("sel", "")),
                {"clicks": len(burst), "span_ms": burst[-1].ts - first.ts},
                [c.ts for c in burst],
            )
            i = j
        else:
            i += 1


def _each_changed_the_page(items: list[Item], burst: list[Item]) -> bool:
    """Steppers, pagination, carousels: every click was answered by a change (of the page,
    or of a field's value, as a quantity stepper's)."""
    return all(
        a.data.get("chg") or _between(items, a.ts - 1, b.ts, ("mut", "nav", "input"))
        for a, b in itertools.pairwise(burst)
    )


def _answered(items: list[Item], click: Item) -> bool:
    if click.data.get("chg"):  # a field near it changed (the recorder compared them)
        return True
    end = click.ts + RESPONSE_MS
    if _between(items, click.ts - 1, end, ("mut", "nav", "input", "scroll")):
        return True
    return any(
        abs(int(i.data.get("click_ts", 0)) - click.ts) <= NET_MATCH_MS for i in _of(items, "net")
    )


def dead_clicks(items: list[Item]) -> Iterator[Signal]:
    for click in _of(items, "click"):
        data = click.data
        if not data.get("int") or data.get("dl") or data.get("tag") in FIELDS:
            continue
        if not _answered(items, click):
            yield Signal(
                click.ts,
                "dead_click",
                str(data.get("path", "")),
                str(data.get("sel", "")),
                {"waited_ms": RESPONSE_MS},
                [click.ts],
            )


def error_clicks(items: list[Item]) -> Iterator[Signal]:
    errors = _of(items, "err")
    for click in _of(items, "click"):
        after = [e for e in errors if click.ts <= e.ts <= click.ts + RESPONSE_MS]
        if after:
            yield Signal(
                click.ts,
                "error_click",
                str(click.data.get("path", "")),
                str(click.data.get("sel", "")),
                {"error": str(after[0].data.get("message", ""))[:200]},
                [click.ts],
            )


def u_turns(items: list[Item]) -> Iterator[Signal]:
    navs = _of(items, "nav")
    for before, away, back in zip(navs, navs[1:], navs[2:], strict=False):
        left, returned = before.data.get("path"), back.data.get("path")
        if left == returned and away.data.get("path") != left and back.ts - away.ts <= U_TURN_MS:
            yield Signal(
                away.ts,
                "u_turn",
                str(left),
                "",
                {"to": away.data.get("path"), "away_ms": back.ts - away.ts},
            )


@dataclass
class _Leg:
    start: int
    end: int
    direction: int
    distance: float


def _legs(points: list[tuple[int, float]], minimum: float) -> list[_Leg]:
    """Runs of movement in one direction, the short ones left out."""
    legs: list[_Leg] = []
    current: _Leg | None = None
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        delta = v1 - v0
        if delta == 0:
            continue
        direction = 1 if delta > 0 else -1
        if current is not None and current.direction == direction:
            current.end, current.distance = t1, current.distance + abs(delta)
            continue
        if current is not None:
            legs.append(current)
        current = _Leg(t0, t1, direction, abs(delta))
    if current is not None:
        legs.append(current)
    return [leg for leg in legs if leg.distance >= minimum]


def _back_and_forth(legs: list[_Leg], reversals: int, window: int) -> Iterator[tuple[_Leg, int]]:
    """(first leg, number of legs) of each run of alternating legs within the window."""
    i = 0
    while i < len(legs):
        j = i + 1
        while (
            j < len(legs)
            and legs[j].direction != legs[j - 1].direction
            and legs[j].end - legs[i].start <= window
        ):
            j += 1
        if j - i - 1 >= reversals:
            yield legs[i], j - i
            i = j
        else:
            i += 1


def excessive_scrolling(items: list[Item]) -> Iterator[Signal]:
    scrolls = _of(items, "scroll")
    points = [(s.ts, float(s.data.get("y", 0))) for s in scrolls]
    for leg, count in _back_and_forth(
        _legs(points, SCROLL_LEG_PX), SCROLL_REVERSALS, SCROLL_WINDOW_MS
    ):
        path = next((str(s.data.get("path", "")) for s in scrolls if s.ts >= leg.start), "")
        yield Signal(leg.start, "excessive_scroll", path, "", {"legs": count})


def thrashing(items: list[Item]) -> Iterator[Signal]:
    moves = _of(items, "move")
    seen_until = -1
    for axis in ("x", "y"):
        points = [(m.ts, float(m.data.get(axis, 0))) for m in moves]
        for leg, count in _back_and_forth(
            _legs(points, THRASH_LEG_PX), THRASH_REVERSALS, THRASH_WINDOW_MS
        ):
            if leg.start <= seen_until:
                continue  # the same burst seen on the other axis
            seen_until = leg.start + THRASH_WINDOW_MS
            path = next((str(m.data.get("path", "")) for m in moves if m.ts >= leg.start), "")
            yield Signal(leg.start, "thrashing", path, "", {"reversals": count - 1, "axis": axis})


def form_retries(items: list[Item]) -> Iterator[Signal]:
    """A failed attempt is a burst of `invalid` events (the browser's own validation stops the
    submit) or a submit with `invalid` events within 1 s of it (a script's validation)."""
    attempts: dict[str, list[int]] = {}
    invalid = _of(items, "invalid")
    for item in sorted(_of(items, "submit", "invalid"), key=lambda i: i.ts):
        form = str(item.data.get("form", ""))
        times = attempts.setdefault(form, [])
        if (
            item.kind == "invalid"
            or any(
                abs(i.ts - item.ts) <= RESPONSE_MS and i.data.get("form") == form for i in invalid
            )
        ) and (not times or item.ts - times[-1] > RESPONSE_MS):
            times.append(item.ts)
    for form, times in attempts.items():
        for first, second in itertools.pairwise(times):
            if second - first <= FORM_WINDOW_MS:
                path = next(
                    (str(i.data.get("path", "")) for i in items if i.ts >= second and i.data), ""
                )
                yield Signal(second, "form_retry", path, form, {"since_ms": second - first})


DETECTORS: dict[str, Callable[[list[Item]], Iterator[Signal]]] = {
    "rage_click": rage_clicks,
    "dead_click": dead_clicks,
    "error_click": error_clicks,
    "u_turn": u_turns,
    "excessive_scroll": excessive_scrolling,
    "thrashing": thrashing,
    "form_retry": form_retries,
}


def detect(
    items: list[Item], done: dict[str, int], horizon: int | None
) -> tuple[list[Signal], dict[str, int]]:
    """Signals decided now: anchored after what was decided before (`done`), and with the
    stream reaching anchor + lookahead (`horizon`: the last time seen; None once the session
    has settled and nothing more will come). Returns them and the new watermarks."""
    ordered = sorted(items, key=lambda i: i.ts)
    found: list[Signal] = []
    new_done = dict(done)
    for kind, detector in DETECTORS.items():
        since = done.get(kind, -1)
        until = math.inf if horizon is None else horizon - LOOKAHEAD[kind]
        found.extend(s for s in detector(ordered) if since < s.ts <= until)
        if horizon is not None:
            new_done[kind] = max(since, horizon - LOOKAHEAD[kind])
    found.sort(key=lambda s: (s.ts, s.kind))
    return found, new_done


def keep(items: list[Item], horizon: int) -> list[Item]:
    """What the next batch's detection still needs: recent items, and the last three page
    changes (a u-turn starts from a page however long ago it was entered)."""
    navs = sorted((i for i in items if i.kind == "nav"), key=lambda i: i.ts)[-3:]
    return [
        i
        for i in items
        if (i.kind != "nav" and i.ts >= horizon - KEEP.get(i.kind, 0)) or any(i is n for n in navs)
    ]


def score(counts: dict[str, int]) -> tuple[int, list[dict[str, Any]]]:
    """0-100 from the signal counts (and `js_error`), with what each kind added."""
    breakdown = []
    total = 0
    for kind, (points, cap) in WEIGHTS.items():
        count = counts.get(kind, 0)
        if not count:
            continue
        added = points * min(count, cap)
        total += added
        breakdown.append({"kind": kind, "count": count, "points": added})
    return min(100, total), breakdown
