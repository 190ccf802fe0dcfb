"""Denylisted query parameters removed from the URLs of a batch, on the server too.

The recorder strips them already; this is the second wall for the places the server reads
(the page URL and referrer, and the page changes the summaries are built from).
"""

from __future__ import annotations

from sessionlens.ingest.schema import Batch
from sessionlens.privacy import strip_url

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
        if event["type"] == CUSTOM and data.get("tag") == "sessionlens.page":
            payload = data.get("payload")
            holder = payload if isinstance(payload, dict) else {}
        elif event["type"] != META:
            continue
        href = holder.get("href")
        if isinstance(href, str):
            clean = strip_url(href, denylist)
            if clean != href:
                holder["href"] = clean
                changed = True
    return changed
