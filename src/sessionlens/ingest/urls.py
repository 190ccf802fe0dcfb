"""Denylisted query parameters removed from the URLs of a batch, on the server too.

The recorder strips them already; this is the second wall for the places the server reads
(the page URL and referrer, the page changes the summaries are built from, and the URLs
inside our own timing and error events).
"""

from __future__ import annotations

from sessionlens.ingest.schema import Batch
from sessionlens.privacy import strip_text_urls, strip_url

META = 4
CUSTOM = 5


def strip_batch_urls(batch: Batch, denylist: tuple[str, ...]) -> bool:
    """Strip in place; True when anything changed."""
    changed = False
    for key in ("url", "referrer"):
        value = batch.meta.get(key)
        if isinstance(value, str) and value:
            clean = strip_url(value, denylist)
            if clean != value:
                batch.meta[key] = clean
                changed = True
    for event in batch.events:
        data = event.get("data")
        if not isinstance(data, dict):
            continue
        holder: dict[str, object] = data
        if event["type"] == CUSTOM:
            payload = data.get("payload")
            holder = payload if isinstance(payload, dict) else {}
            tag = data.get("tag")
            if tag == "sessionlens.error":
                changed = _strip_error(holder, denylist) or changed
                continue
            if tag not in ("sessionlens.page", "sessionlens.timing"):
                continue
        elif event["type"] != META:
            continue
        href = holder.get("href")
        if isinstance(href, str):
            clean = strip_url(href, denylist)
            if clean != href:
                holder["href"] = clean
                changed = True
    return changed


def _strip_error(payload: dict[str, object], denylist: tuple[str, ...]) -> bool:
    changed = False
    for key in ("message", "stack", "source"):
        value = payload.get(key)
        if isinstance(value, str):
            clean = strip_text_urls(value, denylist)
            if clean != value:
                payload[key] = clean
                changed = True
    return changed
