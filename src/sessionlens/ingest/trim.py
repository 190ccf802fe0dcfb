"""Oversize events: large inline assets replaced by placeholders instead of losing the batch.

The recorder trims a full snapshot or a mutation before sending it
(client/src/recorder/trim.js, the same rules); the server trims again any event still
over SESSIONLENS_INGEST_MAX_EVENT_MB, so an old recorder's 20 MB inline image costs the
image, not the session. What goes:

- a data: URL over INLINE_LIMIT in src, href, srcset, poster (and xlink:href) becomes a 1x1
  transparent GIF: rrweb's rebuild sets it like any URL and the image keeps its box;
- a data: URL over INLINE_LIMIT inside CSS (`_cssText`, a style attribute, a <style>'s
  text) becomes url(<the GIF>);
- `_cssText` or a <style>'s text still over CSS_LIMIT becomes "" (the page loses those
  styles, the replay still rebuilds);
- any other attribute over ATTR_LIMIT becomes "".

A trimmed element gets `data-sl-trimmed` (the characters removed), and a custom event
`sessionlens.trimmed` {assets, bytes} follows the trimmed event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

PLACEHOLDER_IMAGE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
TRIMMED_ATTRIBUTE = "data-sl-trimmed"
TRIMMED_TAG = "sessionlens.trimmed"
INLINE_LIMIT = 64 * 1024
ATTR_LIMIT = 256 * 1024
CSS_LIMIT = 1024 * 1024
URL_ATTRIBUTES = frozenset({"src", "href", "srcset", "poster", "xlink:href"})
CSS_ATTRIBUTES = frozenset({"_cssText", "style"})
FULL_SNAPSHOT = 2
INCREMENTAL = 3
MUTATION = 0
_CSS_DATA_URL = re.compile(r"""url\(\s*(["']?)data:[^)"']*\1\s*\)""", re.IGNORECASE)


@dataclass
class Trimmed:
    assets: int = 0
    bytes: int = 0

    def payload(self) -> dict[str, int]:
        return {"assets": self.assets, "bytes": self.bytes}


@dataclass(frozen=True)
class Limits:
    inline: int = INLINE_LIMIT
    attribute: int = ATTR_LIMIT
    css: int = CSS_LIMIT


DEFAULT = Limits()
# For an event still over the per-event limit after the default rules.
STRICT = Limits(inline=4096, attribute=16 * 1024, css=64 * 1024)


def _css(value: str, limits: Limits, count: Trimmed) -> str:
    if len(value) > limits.inline and "data:" in value:

        def swap(match: re.Match[str]) -> str:
            if len(match.group(0)) <= limits.inline:
                return match.group(0)
            count.assets += 1
            return f'url("{PLACEHOLDER_IMAGE}")'

        value = _CSS_DATA_URL.sub(swap, value)
    if len(value) > limits.css:
        count.assets += 1
        return ""
    return value


def trim_value(name: str, value: str, limits: Limits, count: Trimmed) -> str:
    """The attribute value to keep (the same string when nothing is trimmed)."""
    if len(value) <= limits.inline:
        return value
    before = count.assets
    if name in URL_ATTRIBUTES and value[:5].lower() == "data:":
        count.assets += 1
        new = PLACEHOLDER_IMAGE
    elif name in CSS_ATTRIBUTES:
        new = _css(value, limits, count)
    elif len(value) > limits.attribute:
        count.assets += 1
        new = ""
    else:
        return value
    if count.assets == before:
        return value
    count.bytes += len(value) - len(new)
    return new


def _attributes(attributes: dict[str, Any], limits: Limits, count: Trimmed) -> None:
    removed = 0
    for name, value in list(attributes.items()):
        if isinstance(value, str) and len(value) > limits.inline:
            new = trim_value(name, value, limits, count)
            if new is not value:
                attributes[name] = new
                removed += len(value) - len(new)
    if removed:
        attributes[TRIMMED_ATTRIBUTE] = str(removed)


def _node(node: Any, limits: Limits, count: Trimmed) -> None:
    # Iterative: a hostile snapshot can nest deeper than Python's recursion limit.
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        attributes = current.get("attributes")
        if isinstance(attributes, dict):
            _attributes(attributes, limits, count)
        text = current.get("textContent")
        if current.get("isStyle") and isinstance(text, str) and len(text) > limits.inline:
            new = _css(text, limits, count)
            if new != text:
                count.bytes += len(text) - len(new)
                current["textContent"] = new
        children = current.get("childNodes")
        if isinstance(children, list):
            stack.extend(children)


def trim_event(event: dict[str, Any], limits: Limits = DEFAULT) -> Trimmed:
    """Trim a full snapshot or a DOM mutation in place; what was removed."""
    count = Trimmed()
    data = event.get("data")
    if not isinstance(data, dict):
        return count
    if event.get("type") == FULL_SNAPSHOT:
        _node(data.get("node"), limits, count)
    elif event.get("type") == INCREMENTAL and data.get("source") == MUTATION:
        for add in data.get("adds") or []:
            if isinstance(add, dict):
                _node(add.get("node"), limits, count)
        for change in data.get("attributes") or []:
            if isinstance(change, dict) and isinstance(change.get("attributes"), dict):
                _attributes(change["attributes"], limits, count)
    return count


def trimmed_event(timestamp: Any, count: Trimmed) -> dict[str, Any]:
    return {
        "type": 5,
        "timestamp": timestamp,
        "data": {"tag": TRIMMED_TAG, "payload": count.payload()},
    }


def trim_oversize(events: list[dict[str, Any]], max_event_bytes: int) -> Trimmed:
    """Trim, in place, every event whose JSON is over max_event_bytes; a
    `sessionlens.trimmed` event is inserted after each one trimmed. An event still over
    the limit once its assets are gone (a huge text) is kept as it is."""
    total = Trimmed()
    index = 0
    while index < len(events):
        event = events[index]
        index += 1
        if len(orjson.dumps(event)) <= max_event_bytes:
            continue
        count = trim_event(event)
        if len(orjson.dumps(event)) > max_event_bytes:
            more = trim_event(event, STRICT)
            count.assets += more.assets
            count.bytes += more.bytes
        if count.assets:
            events.insert(index, trimmed_event(event.get("timestamp", 0), count))
            index += 1
            total.assets += count.assets
            total.bytes += count.bytes
    return total
