"""Importing rrweb JSON recorded elsewhere: it goes through the ingest log and the
processor like a recorded session, so it replays and counts the same way."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from sqlalchemy import Engine

from sessionlens import jsonbytes
from sessionlens.ingest import log
from sessionlens.ingest.schema import BatchError, parse_batch
from sessionlens.processing.sessions import session_key
from sessionlens.storage.tables import utcnow

EVENTS_PER_BATCH = 500
MAX_EVENTS = 2_000_000


class ImportError_(ValueError):
    """The file is not an rrweb recording we can load; the message says why."""


def events_of(document: Any) -> list[dict[str, Any]]:
    """The events of an rrweb export: a bare array, or an object holding `events`."""
    events = document.get("events") if isinstance(document, dict) else document
    if isinstance(events, dict) and isinstance(events.get("events"), list):
        events = events["events"]
    if not isinstance(events, list) or not events:
        raise ImportError_("expected a JSON array of rrweb events, or an object with 'events'")
    if len(events) > MAX_EVENTS:
        raise ImportError_(f"at most {MAX_EVENTS} events per import")
    for index, event in enumerate(events):
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("type"), int)
            or not (isinstance(event.get("timestamp"), int | float))
        ):
            raise ImportError_(f"event {index} is not an rrweb event (type and timestamp)")
    if not any(e["type"] == 2 for e in events):
        raise ImportError_("the recording has no full snapshot, so it cannot be replayed")
    return sorted(events, key=lambda e: e["timestamp"])


def _first_url(events: list[dict[str, Any]]) -> str:
    for event in events:
        data = event.get("data")
        if event["type"] == 4 and isinstance(data, dict) and isinstance(data.get("href"), str):
            href: str = data["href"]
            if href.startswith(("http://", "https://")):
                return href
    return "https://imported.invalid/"


def batches(events: list[dict[str, Any]], client_id: str) -> Iterator[bytes]:
    url = _first_url(events)
    for seq, start in enumerate(range(0, len(events), EVENTS_PER_BATCH)):
        chunk = events[start : start + EVENTS_PER_BATCH]
        yield jsonbytes.dumps(
            {
                "session_id": client_id,
                "visitor_id": client_id,
                "window_id": client_id,
                "seq": seq,
                "sent_at": int(chunk[-1]["timestamp"]),
                "meta": {"url": url, "referrer": "", "title": "Imported recording"},
                "events": chunk,
            }
        )


def import_events(
    engine: Engine,
    project_id: int,
    events: list[dict[str, Any]],
    scrub: Callable[[bytes], bytes] | None = None,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Append the recording to the ingest log; the id its session will have. Importing
    the same recording twice stores it once."""
    digest = hashlib.sha256(orjson.dumps(events[:50]) + str(len(events)).encode()).hexdigest()
    client_id = f"import-{digest[:40]}"
    envelope = log.Envelope(user_agent="sessionlens import", address="", received_at=utcnow())
    for raw in batches(events, client_id):
        body = scrub(raw) if scrub else raw
        try:
            batch = parse_batch(body)
        except BatchError as exc:
            raise ImportError_(str(exc)) from exc
        log.append(engine, project_id, batch, body, envelope)
        if progress is not None:
            progress(len(batch.events))
    return session_key(project_id, client_id)
