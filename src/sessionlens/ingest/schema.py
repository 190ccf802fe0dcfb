"""The shape of a batch sent by the recorder, checked field by field.

Every problem is reported as a BatchError whose message names the field, so a client
developer can tell what to fix from the 400 alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from sessionlens import jsonbytes

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_SEQ = 2**31 - 1
MAX_URL = 8192
MAX_TIMESTAMP = 10**13  # ms since the epoch: the year 2286


class BatchError(ValueError):
    """The batch is malformed; the message names what is wrong."""


@dataclass(frozen=True)
class Batch:
    session_id: str
    visitor_id: str
    window_id: str
    seq: int
    sent_at: int
    meta: dict[str, Any]
    events: list[dict[str, Any]]


def _ident(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise BatchError(f"{name} must be a string of 8-64 letters, digits, '-' or '_'")
    return value


def _integer(body: dict[str, Any], name: str, low: int, high: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BatchError(f"{name} must be an integer between {low} and {high}")
    return value


def _meta(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("meta")
    if not isinstance(meta, dict):
        raise BatchError("meta must be an object")
    url = meta.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise BatchError("meta.url must be an http(s) URL")
    if len(url) > MAX_URL:
        raise BatchError(f"meta.url must be at most {MAX_URL} characters")
    for name in ("referrer", "title", "language", "timezone"):
        if name in meta and meta[name] is not None and not isinstance(meta[name], str):
            raise BatchError(f"meta.{name} must be a string")
    for name in ("viewport", "screen"):
        box = meta.get(name)
        if box is None:
            continue
        if not isinstance(box, dict) or not all(
            isinstance(box.get(k), int)
            and not isinstance(box.get(k), bool)
            and 0 <= box[k] <= 100_000
            for k in ("width", "height")
        ):
            raise BatchError(f"meta.{name} must be an object with integer width and height")
    return meta


def _events(body: dict[str, Any]) -> list[dict[str, Any]]:
    events = body.get("events")
    if not isinstance(events, list):
        raise BatchError("events must be an array")
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise BatchError(f"events[{index}] must be an object")
        kind = event.get("type")
        if isinstance(kind, bool) or not isinstance(kind, int) or not 0 <= kind <= 99:
            raise BatchError(f"events[{index}].type must be an integer")
        stamp = event.get("timestamp")
        if (
            isinstance(stamp, bool)
            or not isinstance(stamp, int | float)
            or not 0 <= stamp <= MAX_TIMESTAMP
        ):
            raise BatchError(
                f"events[{index}].timestamp must be a number of ms since the epoch"
                " (before the year 2286)"
            )
    return events


def parse_batch(raw: bytes) -> Batch:
    """Parse and check a decompressed batch body."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BatchError(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BatchError("body must be a JSON object")
    return Batch(
        session_id=_ident(body, "session_id"),
        visitor_id=_ident(body, "visitor_id"),
        window_id=_ident(body, "window_id"),
        seq=_integer(body, "seq", 0, MAX_SEQ),
        sent_at=_integer(body, "sent_at", 0, MAX_TIMESTAMP),
        meta=_meta(body),
        events=_events(body),
    )


def encode_batch(batch: Batch) -> bytes:
    """The batch as JSON again, after the server changed something in it."""
    return jsonbytes.dumps(
        {
            "session_id": batch.session_id,
            "visitor_id": batch.visitor_id,
            "window_id": batch.window_id,
            "seq": batch.seq,
            "sent_at": batch.sent_at,
            "meta": batch.meta,
            "events": batch.events,
        }
    )
