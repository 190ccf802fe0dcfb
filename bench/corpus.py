"""A seeded corpus of rrweb sessions, cut into gzip batches the way the recorder sends them.

Each session: a Meta event and a 0.5-2 MB full snapshot, then one to five minutes of mouse
moves (sampled every 50 ms, sent in one event per 500 ms as rrweb does), clicks and the DOM
mutations they cause, scrolls, masked typing and SPA page changes. Batching follows
client/src/recorder/batcher.js: every 2 s of session time, sooner once 500 KB is pending.
Sessions overlap in time, so the batches of different sessions arrive interleaved.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from typing import Any

import orjson

from dom import DomBuilder, Node

Event = dict[str, Any]

EPOCH_MS = 1_764_000_000_000
ORIGIN = "https://shop.example"
FLUSH_EVERY_MS = 2000
FIRST_FLUSH_MS = 500
MAX_BATCH_BYTES = 500 * 1024
# CompressionStream('gzip') uses zlib's default level.
GZIP_LEVEL = 6

FULL_SNAPSHOT, INCREMENTAL, META, CUSTOM = 2, 3, 4, 5
MUTATION, MOUSE_MOVE, MOUSE_INTERACTION, SCROLL, INPUT = 0, 1, 2, 3, 5
MOUSE_UP, MOUSE_DOWN, CLICK, FOCUS, BLUR = 0, 1, 2, 5, 6
PATHS = ("/", "/women/dresses", "/men/jackets?utm_source=newsletter", "/sale", "/kids")


@dataclass(frozen=True)
class Body:
    """One POST body of the recorder, gzip-compressed as the browser sends it."""

    session_id: str
    seq: int
    sent_at: int
    events: int
    raw_bytes: int
    gzip: bytes


@dataclass(frozen=True)
class Corpus:
    bodies: list[Body]  # in arrival order
    sessions: int
    session_ms: int  # summed over sessions: last event timestamp minus first

    @property
    def events(self) -> int:
        return sum(body.events for body in self.bodies)

    @property
    def raw_bytes(self) -> int:
        return sum(body.raw_bytes for body in self.bodies)

    @property
    def gzip_bytes(self) -> int:
        return sum(len(body.gzip) for body in self.bodies)


def _flat_adds(parent_id: int, node: Node, out: list[dict[str, Any]]) -> None:
    """rrweb lists every added node on its own, children referring to their parent."""
    flat = {key: value for key, value in node.items() if key != "childNodes"}
    if "childNodes" in node:
        flat["childNodes"] = []
    out.append({"parentId": parent_id, "nextId": None, "node": flat})
    for child in node.get("childNodes", ()):
        _flat_adds(node["id"], child, out)


class _Visit:
    """One visitor's behaviour on the page, as a list of rrweb events."""

    def __init__(self, rng: random.Random, start: int) -> None:
        self.rng = rng
        self.dom = DomBuilder(rng)
        self.url = ORIGIN + rng.choice(PATHS)
        self.x, self.y, self.scroll_y, self.hovered = 640, 360, 0, 0
        self.opened: list[tuple[int, int]] = []
        snapshot = self.dom.page(int(rng.uniform(0.5, 2.0) * 1_000_000), self.url)
        self.events: list[Event] = [
            {
                "type": META,
                "data": {"href": self.url, "width": 1280, "height": 720},
                "timestamp": start,
            },
            {
                "type": FULL_SNAPSHOT,
                "data": {"node": snapshot, "initialOffset": {"left": 0, "top": 0}},
                "timestamp": start + rng.randint(1, 20),
            },
        ]

    def incremental(self, ts: int, source: int, **data: Any) -> None:
        self.events.append(
            {"type": INCREMENTAL, "data": {"source": source, **data}, "timestamp": ts}
        )

    def custom(self, ts: int, tag: str, payload: dict[str, Any]) -> None:
        self.events.append(
            {"type": CUSTOM, "data": {"tag": tag, "payload": payload}, "timestamp": ts}
        )

    def mutation(self, ts: int, **changes: list[dict[str, Any]]) -> None:
        lists = {name: changes.get(name, []) for name in ("texts", "attributes", "removes", "adds")}
        self.incremental(ts, MUTATION, **lists)

    def move(self, t: int, span: int) -> int:
        rng, end = self.rng, t + span
        while t < end:
            emit = min(t + 500, end)
            positions = []
            for ts in range(t, emit, 50):
                self.x = min(1279, max(0, self.x + rng.randint(-60, 60)))
                self.y = min(719, max(0, self.y + rng.randint(-40, 40)))
                if not self.hovered or rng.random() < 0.2:
                    self.hovered = rng.choice(self.dom.elements)
                position = {"x": self.x, "y": self.y, "id": self.hovered, "timeOffset": ts - emit}
                positions.append(position)
            self.incremental(emit, MOUSE_MOVE, positions=positions)
            t = emit
        return end

    def click(self, t: int) -> int:
        rng = self.rng
        t = self.move(t, rng.randint(300, 2000))
        target = rng.choice(self.dom.elements)
        for kind, ts in ((MOUSE_DOWN, t), (MOUSE_UP, t + 90), (CLICK, t + 90)):
            self.incremental(ts, MOUSE_INTERACTION, type=kind, id=target, x=self.x, y=self.y)
        t += 90 + rng.randint(30, 300)
        attributes = [
            {"id": rng.choice(self.dom.elements), "attributes": {"class": self.dom.classes()}}
            for _ in range(rng.randint(1, 3))
        ]
        adds: list[dict[str, Any]] = []
        removes: list[dict[str, int]] = []
        if rng.random() < 0.5:
            drawer = self.dom.element(
                "aside", {"class": self.dom.classes("drawer")}, *(self.dom.card() for _ in range(3))
            )
            parent = rng.choice(self.dom.containers)
            _flat_adds(parent, drawer, adds)
            self.opened.append((parent, drawer["id"]))
        elif self.opened:
            parent, gone = self.opened.pop(0)
            removes.append({"parentId": parent, "id": gone})
        texts = [{"id": rng.choice(self.dom.texts), "value": str(rng.randint(0, 9))}]
        self.mutation(t, texts=texts, attributes=attributes, adds=adds, removes=removes)
        if rng.random() < 0.25:
            props = {"product_id": rng.randint(1, 99999), "price": rng.randint(500, 40000)}
            self.custom(t, "sessionlens.event", {"name": "add_to_cart", "props": props})
        return t

    def scroll(self, t: int) -> int:
        for ts in range(t, t + self.rng.randint(500, 3000), 150):
            self.scroll_y = max(0, self.scroll_y + self.rng.randint(-100, 300))
            self.incremental(ts, SCROLL, id=self.dom.document_id, x=0, y=self.scroll_y)
            t = ts
        return t + 150

    def type_text(self, t: int) -> int:
        field = self.rng.choice(self.dom.inputs)
        self.incremental(t, MOUSE_INTERACTION, type=FOCUS, id=field)
        for typed in range(1, self.rng.randint(3, 20)):
            t += self.rng.randint(100, 300)
            text = "*" * typed  # masked by the recorder before it leaves the browser
            self.incremental(t, INPUT, text=text, isChecked=False, id=field, userTriggered=True)
        self.incremental(t + 200, MOUSE_INTERACTION, type=BLUR, id=field)
        return t + 200

    def navigate(self, t: int) -> int:
        """An SPA page change: the page event and a new section of content."""
        self.url = ORIGIN + self.rng.choice(PATHS)
        self.custom(t, "sessionlens.page", {"href": self.url})
        adds: list[dict[str, Any]] = []
        _flat_adds(self.dom.containers[0], self.dom.section(), adds)
        self.mutation(t + self.rng.randint(50, 400), adds=adds)
        return t + 500

    def wander(self, t: int) -> int:
        return self.move(t, self.rng.randint(1000, 6000))

    def idle(self, t: int) -> int:
        return t + self.rng.randint(1000, 10000)

    def play(self, end: int) -> list[Event]:
        rng = self.rng
        t = self.events[-1]["timestamp"] + rng.randint(200, 2000)
        actions = (self.wander, self.click, self.scroll, self.type_text, self.idle, self.navigate)
        while t < end:
            t = rng.choices(actions, weights=(30, 20, 15, 8, 20, 2))[0](t)
        if rng.random() < 0.3:
            ts = rng.randint(self.events[0]["timestamp"], t)
            self.custom(ts, "sessionlens.identify", {"user_id": f"u{rng.randint(1, 10**6)}"})
        self.events.sort(key=lambda event: event["timestamp"])
        return self.events


def _bodies(events: list[Event], head: bytes, start: int) -> list[tuple[int, int, bytes]]:
    """(sent_at, event count, JSON body) of each batch, formed as batcher.js forms them."""
    room = MAX_BATCH_BYTES - len(head % (0, 0, b"")) - 16
    formed: list[tuple[int, int, bytes]] = []
    pending: list[tuple[int, bytes]] = []
    size = 0

    def cut(now: int, everything: bool) -> None:
        nonlocal pending, size
        while pending and (everything or size >= MAX_BATCH_BYTES):
            count = taken = 0
            while count < len(pending):
                after_meta = count > 0 and pending[count - 1][0] == META
                if count > 0 and not after_meta and taken + len(pending[count][1]) + 1 > room:
                    break
                taken += len(pending[count][1]) + 1
                count += 1
            batch, pending = pending[:count], pending[count:]
            size -= taken - count
            body = head % (len(formed), now, b",".join(encoded for _, encoded in batch))
            formed.append((now, count, body))

    next_tick, first_flush = start + FLUSH_EVERY_MS, 0
    for event in events:
        ts = event["timestamp"]
        while ts >= next_tick:
            cut(next_tick, everything=True)
            next_tick += FLUSH_EVERY_MS
        if first_flush and ts >= first_flush:
            cut(first_flush, everything=True)
            first_flush = 0
        encoded = orjson.dumps(event)
        pending.append((event["type"], encoded))
        size += len(encoded)
        if event["type"] == FULL_SNAPSHOT:
            first_flush = ts + FIRST_FLUSH_MS
        cut(ts, everything=False)
    cut(events[-1]["timestamp"] + 1, everything=True)
    return formed


def generate(sessions: int, seed: int) -> Corpus:
    rng = random.Random(seed)
    arrivals: list[tuple[int, int, Body]] = []
    session_ms = 0
    for index in range(sessions):
        start = EPOCH_MS + rng.randint(0, sessions * 15_000)
        visit = _Visit(rng, start)
        landing = visit.url
        events = visit.play(start + rng.randint(60_000, 300_000))
        session_ms += events[-1]["timestamp"] - events[0]["timestamp"]
        session_id = f"bench-{seed}-s{index:05d}"
        meta = {
            "url": landing,
            "referrer": "https://search.example/",
            "title": "Shop",
            "viewport": {"width": 1280, "height": 720},
            "screen": {"width": 1920, "height": 1080},
            "language": "en-GB",
            "timezone": "Europe/Berlin",
        }
        head = (
            b'{"session_id":"%s","visitor_id":"bench-%d-v%05d","window_id":"%s-w",'
            % (session_id.encode(), seed, index, session_id.encode())
            + b'"seq":%d,"sent_at":%d,"meta":'
            + orjson.dumps(meta).replace(b"%", b"%%")
            + b',"events":[%s]}'
        )
        for seq, (sent_at, count, raw) in enumerate(_bodies(events, head, start)):
            packed = gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)
            body = Body(session_id, seq, sent_at, count, len(raw), packed)
            arrivals.append((sent_at + rng.randint(20, 200), index, body))
    arrivals.sort(key=lambda arrival: (arrival[0], arrival[1], arrival[2].seq))
    return Corpus([body for _, _, body in arrivals], sessions, session_ms)
