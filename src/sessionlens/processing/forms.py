"""Form analytics: the recorder's `sessionlens.form` events folded into per-visit rows.

A *form visit* is one form (by the recorder's name for it) used on one pageview of a
session: a `form_visit` row keyed by (session, pageview ts, form), with a
`form_field_visit` row per field. The rows hold the state that later batches continue
(an open focus whose blur comes in the next batch, whether a field was left filled), so a
visit spanning batches is counted as if it had come in one. apply() sees each new batch
once, in the session's transaction (see sessions.py), so processing the log again changes
nothing.

Per field: focuses, time focused (focus to blur; a span over 30 minutes is not counted),
hesitation (the recorder's `first_input_ms`: focus to the first input), refills (a blur
with `changed` after an earlier blur had left the field with a value), and whether it was
left blank (its latest blur had length 0). Per visit: submits, invalid events, whether
the latest submit failed (an `invalid` event came after it), and the last field touched.

Outcome (read in analytics/forms.py): a visit *succeeded* when it had a submit and no
`invalid` event after its latest submit. A visit is *over* when a later page of the
session started (`closed`, set here) or the session has been quiet for 30 minutes (the
recorder starts a new session then). A visit that is over without success was
*abandoned* at its last field.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from sessionlens.storage.tables import form_field_visit, form_visit, inserted_id, pageview

TAG = "sessionlens.form"
ACTS = ("focus", "blur", "submit", "invalid")
MAX_FORM = 300
MAX_FIELD = 100
MAX_TYPE = 30
MAX_SPAN_MS = 30 * 60_000  # longer focus spans and first-input delays are not counted


@dataclass(frozen=True)
class FormEvent:
    ts: int
    act: str
    form: str
    field: str
    type: str
    length: int
    changed: bool
    first_input_ms: int | None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def parse(event: dict[str, Any]) -> FormEvent | None:
    """A `sessionlens.form` event's payload, checked; None for anything else or malformed."""
    data = event.get("data")
    if event.get("type") != 5 or not isinstance(data, dict) or data.get("tag") != TAG:
        return None
    payload = data.get("payload")
    if not isinstance(payload, dict) or payload.get("act") not in ACTS:
        return None
    form_name, field_name = payload.get("form", ""), payload.get("field", "")
    if not isinstance(form_name, str) or not isinstance(field_name, str):
        return None
    act = str(payload["act"])
    if act != "submit" and not field_name:
        return None
    length = _int(payload.get("len")) or 0
    first_input = _int(payload.get("first_input_ms"))
    if first_input is not None and not 0 <= first_input <= MAX_SPAN_MS:
        first_input = None
    kind = payload.get("type")
    return FormEvent(
        ts=int(event["timestamp"]),
        act=act,
        form=form_name[:MAX_FORM],
        field=field_name[:MAX_FIELD] if act != "submit" else "",
        type=kind[:MAX_TYPE] if isinstance(kind, str) else "",
        length=max(0, length),
        changed=payload.get("changed") is True or payload.get("changed") == 1,
        first_input_ms=first_input if act == "blur" else None,
    )


def form_events(events: list[dict[str, Any]]) -> list[FormEvent]:
    out = [e for e in (parse(event) for event in events) if e is not None]
    out.sort(key=lambda e: e.ts)  # stable: events sharing a timestamp keep their order
    return out


@dataclass
class _Field:
    row: dict[str, Any]
    new: bool
    dirty: bool = False


@dataclass
class _Visit:
    row: dict[str, Any]
    new: bool
    dirty: bool = False
    fields: dict[str, _Field] = field(default_factory=dict)


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class _Folder:
    """Loads the visits a run of events touches, folds the events in, writes them back."""

    def __init__(self, conn: Connection, project_id: int, session_id: str) -> None:
        self.conn = conn
        self.project_id = project_id
        self.session_id = session_id
        self.visits: dict[tuple[int, str], _Visit] = {}

    def visit(self, page_ts: int, path: str, e: FormEvent) -> _Visit:
        key = (page_ts, e.form)
        found = self.visits.get(key)
        if found is not None:
            return found
        row = self.conn.execute(
            select(form_visit).where(
                form_visit.c.session_id == self.session_id,
                form_visit.c.page_ts == page_ts,
                form_visit.c.form == e.form,
            )
        ).first()
        if row is None:
            values = {
                "session_id": self.session_id,
                "project_id": self.project_id,
                "page_ts": page_ts,
                "path": path,
                "form": e.form,
                "started_at": _when(e.ts),
                "last_ts": e.ts,
                "submits": 0,
                "invalids": 0,
                "failed": False,
                "last_field": "",
                "closed": False,
            }
            found = _Visit(values, new=True)
        else:
            found = _Visit(dict(row._mapping), new=False)
        self.visits[key] = found
        return found

    def field(self, visit: _Visit, e: FormEvent) -> _Field:
        found = visit.fields.get(e.field)
        if found is not None:
            return found
        row = None
        if not visit.new:
            row = self.conn.execute(
                select(form_field_visit).where(
                    form_field_visit.c.visit_id == visit.row["id"],
                    form_field_visit.c.field == e.field,
                )
            ).first()
        if row is None:
            values = {
                "field": e.field,
                "type": e.type,
                "first_ts": e.ts,
                "focuses": 0,
                "focus_ts": None,
                "time_ms": 0,
                "hesitation_ms": 0,
                "hesitations": 0,
                "refills": 0,
                "filled": False,
                "blurred": False,
            }
            found = _Field(values, new=True)
        else:
            found = _Field(dict(row._mapping), new=False)
        visit.fields[e.field] = found
        return found

    def fold(self, visit: _Visit, e: FormEvent) -> None:
        v = visit.row
        v["last_ts"] = max(v["last_ts"], e.ts)
        visit.dirty = True
        if e.act == "submit":
            v["submits"] += 1
            v["failed"] = False
            return
        if e.act == "invalid":
            v["invalids"] += 1
            v["failed"] = True
            return
        f = self.field(visit, e)
        f.dirty = True
        r = f.row
        v["last_field"] = e.field
        if e.type and not r["type"]:
            r["type"] = e.type
        if e.act == "focus":
            r["focuses"] += 1
            r["focus_ts"] = e.ts
            return
        # blur
        if r["focus_ts"] is not None and 0 <= e.ts - r["focus_ts"] <= MAX_SPAN_MS:
            r["time_ms"] += e.ts - r["focus_ts"]
        r["focus_ts"] = None
        if e.first_input_ms is not None:
            r["hesitation_ms"] += e.first_input_ms
            r["hesitations"] += 1
        if e.changed and r["filled"]:
            r["refills"] += 1
        r["filled"] = e.length > 0
        r["blurred"] = True

    def flush(self) -> None:
        for visit in self.visits.values():
            if visit.new:
                visit.row["id"] = inserted_id(
                    self.conn.execute(insert(form_visit).values(**visit.row))
                )
            elif visit.dirty:
                values = {k: v for k, v in visit.row.items() if k != "id"}
                self.conn.execute(
                    update(form_visit).where(form_visit.c.id == visit.row["id"]).values(**values)
                )
            for name, f in visit.fields.items():
                if f.new:
                    self.conn.execute(
                        insert(form_field_visit).values(visit_id=visit.row["id"], **f.row)
                    )
                elif f.dirty:
                    values = {k: v for k, v in f.row.items() if k not in ("visit_id", "field")}
                    self.conn.execute(
                        update(form_field_visit)
                        .where(
                            form_field_visit.c.visit_id == visit.row["id"],
                            form_field_visit.c.field == name,
                        )
                        .values(**values)
                    )


def _starts_page(event: dict[str, Any]) -> bool:
    if event.get("type") == 4:
        return True
    data = event.get("data")
    return (
        event.get("type") == 5 and isinstance(data, dict) and data.get("tag") == "sessionlens.page"
    )


def apply(conn: Connection, project_id: int, session_id: str, events: list[dict[str, Any]]) -> None:
    """Fold a session's new events into its form visits; call after its pageviews are in."""
    found = form_events(events)
    if not found and not any(_starts_page(event) for event in events):
        return
    pages = conn.execute(
        select(pageview.c.ts, pageview.c.path)
        .where(pageview.c.session_id == session_id)
        .order_by(pageview.c.ts, pageview.c.id)
    ).all()
    if not pages:
        return
    starts = [page.ts for page in pages]
    folder = _Folder(conn, project_id, session_id)
    for e in found:
        # The pageview it happened on: the latest that started at or before it.
        page = pages[max(0, bisect_right(starts, e.ts) - 1)]
        folder.fold(folder.visit(page.ts, page.path, e), e)
    folder.flush()
    conn.execute(
        update(form_visit)
        .where(
            and_(
                form_visit.c.session_id == session_id,
                form_visit.c.closed.is_(False),
                form_visit.c.page_ts < pages[-1].ts,
            )
        )
        .values(closed=True)
    )
