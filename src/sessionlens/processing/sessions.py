"""Applying a session's new batches: blocks to the blob store, summary rows to SQL.

Everything for one session happens in one transaction. A batch whose seq is already in
one of the session's blocks is skipped, so processing the log again changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.engine import Row

from sessionlens.analytics.sources import classify
from sessionlens.ingest.log import LogEntry
from sessionlens.processing import events as ev
from sessionlens.processing import heatmaps, interactions, page_days, steps
from sessionlens.processing.agents import parse_agent
from sessionlens.processing.blocks import blob_key, build_blocks
from sessionlens.processing.forms import apply as apply_forms
from sessionlens.storage.blobs import BlobStore
from sessionlens.storage.tables import (
    inserted_id,
    pageview,
    recording_block,
    session,
    session_error,
    session_event,
    session_trait,
    utcnow,
    visitor,
)


def session_key(project_id: int, client_id: str) -> str:
    """Our id of a session: derived, not random, so a retried transaction writes the same
    blob keys as the attempt that failed instead of leaving orphans behind."""
    return hashlib.sha256(f"{project_id}:{client_id}".encode()).hexdigest()[:32]


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _stored_seqs(conn: Connection, session_id: str) -> set[int]:
    rows = conn.execute(
        select(recording_block.c.seqs).where(recording_block.c.session_id == session_id)
    )
    return {seq for row in rows for seq in json.loads(row.seqs)}


def _visitor(conn: Connection, project_id: int, client_id: str, seen: datetime) -> tuple[int, bool]:
    """The visitor's row id, and whether they had a session before."""
    row = conn.execute(
        select(visitor).where(visitor.c.project_id == project_id, visitor.c.client_id == client_id)
    ).first()
    if row is None:
        new_id = inserted_id(
            conn.execute(
                insert(visitor).values(
                    project_id=project_id,
                    client_id=client_id,
                    first_seen_at=seen,
                    last_seen_at=seen,
                    sessions=1,
                )
            )
        )
        return int(new_id), False
    conn.execute(
        update(visitor)
        .where(visitor.c.id == row.id)
        .values(
            sessions=visitor.c.sessions + 1,
            first_seen_at=min(row.first_seen_at, seen),
            last_seen_at=max(row.last_seen_at, seen),
        )
    )
    return int(row.id), row.sessions > 0


def _create_session(conn: Connection, project_id: int, first: LogEntry, first_ts: int) -> str:
    batch = first.batch
    meta: dict[str, Any] = batch["meta"]
    screen = meta.get("screen") or {}
    viewport = meta.get("viewport") or {}
    started = _when(first_ts)
    visitor_id, returning = _visitor(conn, project_id, batch["visitor_id"], started)
    agent = parse_agent(first.envelope.user_agent, screen.get("width"))
    session_id = session_key(project_id, batch["session_id"])
    conn.execute(
        insert(session).values(
            id=session_id,
            project_id=project_id,
            visitor_id=visitor_id,
            client_id=batch["session_id"],
            started_at=started,
            ended_at=started,
            first_ts=first_ts,
            last_ts=first_ts,
            referrer=str(meta.get("referrer") or "")[:2000],
            browser=agent.browser,
            browser_version=agent.browser_version,
            os=agent.os,
            device=agent.device,
            screen_width=screen.get("width"),
            screen_height=screen.get("height"),
            viewport_width=viewport.get("width"),
            viewport_height=viewport.get("height"),
            language=str(meta.get("language") or "")[:50],
            country=first.envelope.country,
            is_returning=returning,
            entry_url=meta["url"][:2000],
            exit_url=meta["url"][:2000],
        )
    )
    return session_id


def _add_pages(
    conn: Connection, project_id: int, session_id: str, pages: list[ev.Page], fresh: list[LogEntry]
) -> None:
    titles = {e.batch["meta"]["url"]: str(e.batch["meta"].get("title") or "") for e in fresh}
    referrers = {e.batch["meta"]["url"]: str(e.batch["meta"].get("referrer") or "") for e in fresh}
    existing = {
        (r.ts, r.url)
        for r in conn.execute(
            select(pageview.c.ts, pageview.c.url).where(pageview.c.session_id == session_id)
        )
    }
    for page in pages:
        url = page.url[:2000]
        if (page.ts, url) in existing:
            continue
        existing.add((page.ts, url))
        path, query = ev.split_url(url)
        conn.execute(
            insert(pageview).values(
                session_id=session_id,
                project_id=project_id,
                ts=page.ts,
                url=url,
                path=path,
                query=query,
                title=titles.get(url, "")[:500],
                referrer=referrers.get(url, "")[:2000],
                started_at=_when(page.ts),
            )
        )


def _refresh_pages(conn: Connection, row: Row[Any], last_ts: int) -> dict[str, Any]:
    """Page durations, entry/exit URL and page count from the session's pageviews."""
    pages = conn.execute(
        select(pageview.c.id, pageview.c.ts, pageview.c.url)
        .where(pageview.c.session_id == row.id)
        .order_by(pageview.c.ts, pageview.c.id)
    ).all()
    if not pages:
        # A later batch applied before the page's first (another worker holds it): the
        # page comes with that batch.
        return {}
    for current, following in zip(pages, [*pages[1:], None], strict=True):
        end = following.ts if following is not None else last_ts
        conn.execute(
            update(pageview)
            .where(pageview.c.id == current.id)
            .values(duration_ms=max(0, end - current.ts))
        )
    source, ref_domain = classify(row.referrer, pages[0].url)
    return {
        "pages": len(pages),
        "entry_url": pages[0].url,
        "exit_url": pages[-1].url,
        "source": source,
        "referrer_domain": ref_domain[:200],
        **ev.utm(pages[0].url),
    }


def _add_errors_and_timings(
    conn: Connection, project_id: int, session_id: str, digest: ev.Digest
) -> None:
    """Errors as rows of their own (with the page they happened on); timings onto the
    pageview they measured: the latest load of that URL at or before the figure."""
    if not digest.errors and not digest.timings:
        return
    pages = conn.execute(
        select(pageview.c.id, pageview.c.ts, pageview.c.url, pageview.c.ttfb_ms)
        .where(pageview.c.session_id == session_id)
        .order_by(pageview.c.ts, pageview.c.id)
    ).all()
    for error in digest.errors:
        page_url = next((p.url for p in reversed(pages) if p.ts <= error.ts), "")
        conn.execute(
            insert(session_error).values(
                session_id=session_id,
                project_id=project_id,
                ts=error.ts,
                started_at=_when(error.ts),
                kind=error.kind,
                message=error.message,
                fingerprint=ev.error_fingerprint(error.kind, error.message),
                source=error.source,
                stack=error.stack,
                page_url=page_url,
            )
        )
    for timing in digest.timings:
        href = timing.href[:2000]
        page = next((p for p in reversed(pages) if p.url == href and p.ts <= timing.ts), None)
        if page is None or page.ttfb_ms is not None:
            continue
        conn.execute(
            update(pageview)
            .where(pageview.c.id == page.id)
            .values(ttfb_ms=timing.ttfb, dcl_ms=timing.dcl, load_ms=timing.load, lcp_ms=timing.lcp)
        )


def _add_events_and_traits(
    conn: Connection, project_id: int, session_id: str, digest: ev.Digest
) -> None:
    for ts, name in digest.custom:
        conn.execute(
            insert(session_event).values(
                session_id=session_id, project_id=project_id, name=name, ts=ts
            )
        )
    for key, value in digest.traits.items():
        conn.execute(
            delete(session_trait).where(
                session_trait.c.session_id == session_id, session_trait.c.key == key
            )
        )
        conn.execute(insert(session_trait).values(session_id=session_id, key=key, value=value))


def apply(
    conn: Connection, blobs: BlobStore, project_id: int, client_id: str, entries: list[LogEntry]
) -> None:
    """Store a session's new batches as blocks and fold them into its summary."""
    row = conn.execute(
        select(session).where(session.c.project_id == project_id, session.c.client_id == client_id)
    ).first()
    known = _stored_seqs(conn, row.id) if row is not None else set()
    fresh = sorted(
        (e for e in entries if e.batch["seq"] not in known), key=lambda e: e.batch["seq"]
    )
    all_events = [event for e in fresh for event in e.batch["events"]]
    if not all_events:
        return
    digest = ev.digest(all_events)
    assert digest.first_ts is not None
    assert digest.last_ts is not None
    before = page_days.share(conn, row.id) if row is not None else {}
    if row is None:
        _create_session(conn, project_id, fresh[0], digest.first_ts)
        row = conn.execute(
            select(session).where(
                session.c.project_id == project_id, session.c.client_id == client_id
            )
        ).one()
    next_index = (
        conn.execute(
            select(func.coalesce(func.max(recording_block.c.block_index), -1)).where(
                recording_block.c.session_id == row.id
            )
        ).scalar_one()
        + 1
    )
    raw_bytes = stored_bytes = 0
    batches = [(e.batch["seq"], e.batch["events"]) for e in fresh if e.batch["events"]]
    for offset, block in enumerate(build_blocks(batches)):
        key = blob_key(project_id, row.id, next_index + offset)
        blobs.put(key, block.compressed)
        conn.execute(
            insert(recording_block).values(
                session_id=row.id,
                block_index=next_index + offset,
                first_seq=block.seqs[0],
                last_seq=block.seqs[-1],
                seqs=json.dumps(block.seqs),
                first_ts=block.first_ts,
                last_ts=block.last_ts,
                has_full_snapshot=block.has_full_snapshot,
                events=len(block.events),
                raw_bytes=len(block.raw),
                stored_bytes=len(block.compressed),
                blob_key=key,
            )
        )
        raw_bytes += len(block.raw)
        stored_bytes += len(block.compressed)
    _add_pages(conn, project_id, row.id, digest.pages, fresh)
    first_ts = min(row.first_ts, digest.first_ts)
    last_ts = max(row.last_ts, digest.last_ts)
    added_active, last_activity = ev.active_ms(digest.activity, row.last_activity_ts)
    values: dict[str, Any] = {
        "first_ts": first_ts,
        "last_ts": last_ts,
        "started_at": _when(first_ts),
        "ended_at": _when(last_ts),
        "duration_ms": last_ts - first_ts,
        "active_ms": row.active_ms + added_active,
        "last_activity_ts": last_activity,
        "clicks": row.clicks + digest.clicks,
        "errors": row.errors + len(digest.errors),
        "keypresses": row.keypresses + digest.keypresses,
        "events": row.events + digest.events,
        "raw_bytes": row.raw_bytes + raw_bytes,
        "stored_bytes": row.stored_bytes + stored_bytes,
        "updated_at": utcnow(),
        **_refresh_pages(conn, row, last_ts),
    }
    if digest.user_id:
        values["user_id"] = digest.user_id
    _add_events_and_traits(conn, project_id, row.id, digest)
    _add_errors_and_timings(conn, project_id, row.id, digest)
    heatmaps.fold(conn, row, all_events)
    apply_forms(conn, project_id, row.id, all_events)
    conn.execute(update(session).where(session.c.id == row.id).values(**values))
    page_days.apply(conn, project_id, before, page_days.share(conn, row.id))
    interactions.apply(conn, project_id, row.id, fresh, last_ts)
    steps.apply(conn, project_id, row.id)  # keep last: reads the rows written above
