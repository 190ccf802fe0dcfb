"""The schema: one SQLAlchemy Core metadata, shared by SQLite and PostgreSQL.

Every change here needs an Alembic migration in storage/migrations/versions/.
Times are timezone-aware UTC datetimes; event timestamps from browsers stay as
milliseconds since the epoch (BigInteger) because that is what rrweb records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import CursorResult, Dialect

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes; SQLite drops the zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def utcnow() -> datetime:
    return datetime.now(UTC)


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT created."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the insert returned no primary key")
    return int(key[0])


organisation = Table(
    "organisation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("require_2fa", Boolean, nullable=False, default=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("password_hash", String(200), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("last_login_at", UTCDateTime),
    Column("email_verified_at", UTCDateTime),
    # TOTP second factor: the secret encrypted with a key derived from the server secret,
    # and the last time step used, so a code cannot be replayed.
    Column("totp_secret", Text),
    Column("totp_enabled_at", UTCDateTime),
    Column("totp_last_step", BigInteger),
)

membership = Table(
    "membership",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organisation_id", ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("organisation_id", "user_id", name="uq_membership_org_user"),
)

project = Table(
    "project",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organisation_id",
        ForeignKey("organisation.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(200), nullable=False),
    Column("ingest_key", String(64), nullable=False, unique=True),
    # JSON list of origins such as "https://shop.example"
    Column("website_origins", Text, nullable=False, default="[]"),
    Column("settings", Text, nullable=False, default="{}"),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

visitor = Table(
    "visitor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("sessions", Integer, nullable=False, default=0),
    UniqueConstraint("project_id", "client_id", name="uq_visitor_project_client"),
)

session = Table(
    "session",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("visitor_id", ForeignKey("visitor.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("client_id", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=False),
    Column("first_ts", BigInteger, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    Column("duration_ms", BigInteger, nullable=False, default=0),
    Column("active_ms", BigInteger, nullable=False, default=0),
    Column("last_activity_ts", BigInteger),
    Column("pages", Integer, nullable=False, default=0),
    Column("clicks", Integer, nullable=False, default=0),
    Column("keypresses", Integer, nullable=False, default=0),
    Column("events", Integer, nullable=False, default=0),
    Column("entry_url", Text, nullable=False, default=""),
    Column("exit_url", Text, nullable=False, default=""),
    Column("referrer", Text, nullable=False, default=""),
    Column("referrer_domain", String(200), nullable=False, default="", server_default=""),
    # direct, search, social, campaign or other (analytics/sources.py)
    Column("source", String(20), nullable=False, default="direct", server_default="direct"),
    Column("utm_source", String(200), nullable=False, default=""),
    Column("utm_medium", String(200), nullable=False, default=""),
    Column("utm_campaign", String(200), nullable=False, default=""),
    Column("utm_term", String(200), nullable=False, default=""),
    Column("utm_content", String(200), nullable=False, default=""),
    Column("browser", String(100), nullable=False, default=""),
    Column("browser_version", String(50), nullable=False, default=""),
    Column("os", String(100), nullable=False, default=""),
    Column("device", String(20), nullable=False, default=""),
    Column("screen_width", Integer),
    Column("screen_height", Integer),
    Column("viewport_width", Integer),
    Column("viewport_height", Integer),
    Column("language", String(50), nullable=False, default=""),
    Column("country", String(2), nullable=False, default="", server_default=""),
    Column("user_id", String(200), nullable=False, default=""),
    Column("is_returning", Boolean, nullable=False, default=False),
    # JavaScript errors captured in the session (uncaught, unhandled rejections, console.error)
    Column("errors", Integer, nullable=False, default=0, server_default="0"),
    # Struggle signals (processing/struggle.py) and the 0-100 score they add up to
    Column("rage_clicks", Integer, nullable=False, default=0, server_default="0"),
    Column("dead_clicks", Integer, nullable=False, default=0, server_default="0"),
    Column("error_clicks", Integer, nullable=False, default=0, server_default="0"),
    Column("struggle_score", Integer, nullable=False, default=0, server_default="0"),
    Column("raw_bytes", BigInteger, nullable=False, default=0),
    Column("stored_bytes", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("project_id", "client_id", name="uq_session_project_client"),
    # Reports at size (docs/benchmarks.md): the period's figures from the index alone, and
    # for each breakdown an index in its GROUP BY order, so that no report sorts a period's
    # sessions. The session list walks the first one newest first.
    Index(
        "ix_session_project_started",
        "project_id",
        "started_at",
        "visitor_id",
        "is_returning",
        "pages",
        "duration_ms",
        "active_ms",
    ),
    Index("ix_session_project_source", "project_id", "source", "referrer_domain", "started_at"),
    Index(
        "ix_session_project_device",
        "project_id",
        "device",
        "browser",
        "os",
        "screen_width",
        "screen_height",
        "started_at",
    ),
    Index("ix_session_project_country", "project_id", "country", "started_at"),
    Index(
        "ix_session_project_utm",
        "project_id",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "started_at",
    ),
)

pageview = Table(
    "pageview",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("url", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("query", Text, nullable=False, default=""),
    Column("title", Text, nullable=False, default=""),
    Column("referrer", Text, nullable=False, default=""),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_ms", BigInteger, nullable=False, default=0),
    # Navigation timing of a page load, in ms from the navigation start (null: not measured,
    # as for SPA navigations, or the page was left before the figure was known)
    Column("ttfb_ms", Integer),
    Column("dcl_ms", Integer),
    Column("load_ms", Integer),
    Column("lcp_ms", Integer),
    # 0-100 from the struggle signals on this page view (processing/struggle.py)
    Column("struggle_score", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("session_id", "ts", "url", name="uq_pageview_session_ts_url"),
    Index("ix_pageview_project_started", "project_id", "started_at"),
    # URL parameters report: only pageviews with a query, in the report's GROUP BY order
    Index(
        "ix_pageview_project_params",
        "project_id",
        "path",
        "query",
        "started_at",
        sqlite_where=text("query != ''"),
        postgresql_where=text("query != ''"),
    ),
)

recording_block = Table(
    "recording_block",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), nullable=False),
    Column("block_index", Integer, nullable=False),
    Column("first_seq", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    # JSON list of the batch seqs stored in this block, so a replayed batch is recognised
    Column("seqs", Text, nullable=False),
    Column("first_ts", BigInteger, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    Column("has_full_snapshot", Boolean, nullable=False),
    Column("events", Integer, nullable=False),
    Column("raw_bytes", BigInteger, nullable=False),
    Column("stored_bytes", BigInteger, nullable=False),
    Column("blob_key", String(300), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("session_id", "block_index", name="uq_recording_block_session_index"),
)

ingest_log = Table(
    "ingest_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("session_client_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # zstd-compressed JSON: the batch plus what the server saw (user agent, address)
    Column("payload", LargeBinary, nullable=False),
    Column("processed_at", UTCDateTime),
    Column("error", Text),
    UniqueConstraint("project_id", "session_client_id", "seq", name="uq_ingest_log_batch"),
    Index("ix_ingest_log_pending", "processed_at", "id"),
)

api_token = Table(
    "api_token",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False, default=""),
    Column("organisation_id", ForeignKey("organisation.id", ondelete="CASCADE")),
    Column("scope", String(10), nullable=False, default="read", server_default="read"),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

login_session = Table(
    "login_session",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("expires_at", UTCDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organisation_id", ForeignKey("organisation.id", ondelete="CASCADE"), index=True),
    Column("user_id", ForeignKey("users.id", ondelete="SET NULL")),
    Column("actor", String(320), nullable=False, default=""),
    Column("action", String(100), nullable=False),
    Column("object_type", String(50), nullable=False, default=""),
    Column("object_id", String(100), nullable=False, default=""),
    # JSON; never holds the personal data an action was about (e.g. what was erased)
    Column("detail", Text, nullable=False, default="{}"),
    Column("address", String(64), nullable=False, default=""),
    Column("at", UTCDateTime, nullable=False, default=utcnow),
)

# A member with rows here sees only these projects; owners and admins always see all.
membership_project = Table(
    "membership_project",
    metadata,
    Column("membership_id", ForeignKey("membership.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
)

# Emailed one-time links: email verification, password reset and invitations.
one_time_token = Table(
    "one_time_token",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("purpose", String(20), nullable=False),
    Column("email", String(320), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE")),
    Column("organisation_id", ForeignKey("organisation.id", ondelete="CASCADE")),
    Column("role", String(20)),
    Column("invited_by", ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)


recovery_code = Table(
    "recovery_code",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", UTCDateTime),
)


# What the searches filter on besides the session row: custom events and identify traits.
session_event = Table(
    "session_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Index("ix_session_event_project_name", "project_id", "name"),
)

session_error = Table(
    "session_error",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    # error (uncaught), rejection (unhandled promise rejection) or console (console.error)
    Column("kind", String(20), nullable=False),
    Column("message", Text, nullable=False),
    # groups the same error across sessions: kind + message with numbers and ids taken out
    Column("fingerprint", String(32), nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("stack", Text, nullable=False, default=""),
    Column("page_url", Text, nullable=False, default=""),
    Index("ix_session_error_project_started", "project_id", "started_at"),
)

page_click = Table(
    "page_click",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("path", Text, nullable=False),
    # The clicked element as the recorder named it, and where in it (per mille of its box)
    Column("selector", String(300), nullable=False),
    Column("tag", String(30), nullable=False, default=""),
    Column("offset_x", Integer, nullable=False, default=0),
    Column("offset_y", Integer, nullable=False, default=0),
    # Page coordinates (CSS px from the top left of the document) and the page's size then
    Column("x", Integer, nullable=False),
    Column("y", Integer, nullable=False),
    Column("doc_width", Integer, nullable=False, default=0),
    Column("doc_height", Integer, nullable=False, default=0),
    Column("viewport_width", Integer, nullable=False, default=0),
    Column("interactive", Boolean, nullable=False, default=False),
    Column("rage", Boolean, nullable=False, default=False),
    Column("dead", Boolean, nullable=False, default=False),
    Column("error", Boolean, nullable=False, default=False),
    Index("ix_page_click_project_path_started", "project_id", "path", "started_at"),
)

session_signal = Table(
    "session_signal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    # rage_click, dead_click, error_click, u_turn, excessive_scroll, thrashing, form_retry
    Column("kind", String(20), nullable=False),
    Column("path", Text, nullable=False, default=""),
    Column("selector", String(300), nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),  # JSON: what was seen (counts, ms)
    Column("pageview_id", Integer),  # the page view it happened on, when known
    Index("ix_session_signal_project_started", "project_id", "started_at"),
)

# What the struggle detectors still need from a session's earlier batches; the row goes
# once the session has been quiet for a while and its last signals are decided.
signal_state = Table(
    "signal_state",
    metadata,
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), primary_key=True),
    Column("saved_ms", BigInteger, nullable=False),  # server time of the last update
    Column("state", Text, nullable=False),
)

session_trait = Table(
    "session_trait",
    metadata,
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", String(200), nullable=False),
)

# A saved session search of a project: its filters as a URL query string.
segment = Table(
    "segment",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("query", Text, nullable=False),
    Column("created_by", ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

# Form analytics (processing/forms.py): one row per form a session used on one page (its
# state while batches arrive, and its outcome), and one per field of it. Built from the
# recorder's sessionlens.form events: lengths and change flags, never values.
form_visit = Table(
    "form_visit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("page_ts", BigInteger, nullable=False),  # the pageview the form was used on
    Column("path", Text, nullable=False),
    Column("form", String(300), nullable=False),  # "" for fields outside a form
    Column("started_at", UTCDateTime, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    Column("submits", Integer, nullable=False, default=0),
    Column("invalids", Integer, nullable=False, default=0),
    # an invalid event came after the latest submit (or before any): not a success (yet)
    Column("failed", Boolean, nullable=False, default=False),
    Column("last_field", String(100), nullable=False, default=""),
    # a later page of the session started: the visit is over
    Column("closed", Boolean, nullable=False, default=False),
    UniqueConstraint("session_id", "page_ts", "form"),
    Index("ix_form_visit_project_path_started", "project_id", "path", "started_at"),
)

form_field_visit = Table(
    "form_field_visit",
    metadata,
    Column("visit_id", ForeignKey("form_visit.id", ondelete="CASCADE"), primary_key=True),
    Column("field", String(100), primary_key=True),
    Column("type", String(30), nullable=False, default=""),
    Column("first_ts", BigInteger, nullable=False),  # the field's order in the form
    Column("focuses", Integer, nullable=False, default=0),
    Column("focus_ts", BigInteger),  # an open focus (its blur may come in a later batch)
    Column("time_ms", BigInteger, nullable=False, default=0),
    Column("hesitation_ms", BigInteger, nullable=False, default=0),
    Column("hesitations", Integer, nullable=False, default=0),
    Column("refills", Integer, nullable=False, default=0),
    Column("filled", Boolean, nullable=False, default=False),  # left with a value last time
    Column("blurred", Boolean, nullable=False, default=False),
)

# Heatmaps (processing/heatmaps.py). Day aggregates: counts per page path, UTC day and
# filter dimensions (device class, viewport width in 100 px steps, new or returning), with
# no session or visitor in them, so they stay when sessions are purged or erased.
_HEATMAP_KEY = ("project_id", "path", "day", "device", "width", "is_returning")


def _heatmap_key() -> list[Column[Any]]:
    return [
        Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
        Column("path", Text, nullable=False),
        Column("day", Date, nullable=False),
        Column("device", String(20), nullable=False),
        Column("width", Integer, nullable=False),  # viewport width rounded down to 100 px
        Column("is_returning", Boolean, nullable=False),
    ]


# Clicks ("click") and mouse-move samples ("move") per grid cell: x in hundredths of the
# document's width, y in rows of 20 px from the top of the document.
heatmap_cell = Table(
    "heatmap_cell",
    metadata,
    Column("kind", String(5), nullable=False),
    *_heatmap_key(),
    Column("x", Integer, nullable=False),
    Column("y", Integer, nullable=False),
    Column("n", BigInteger, nullable=False),
    UniqueConstraint(
        "project_id", "kind", "path", "day", "device", "width", "is_returning", "x", "y"
    ),
)

# Clicks per element (the recorder's selector) with the summed offsets inside it (per mille).
heatmap_element = Table(
    "heatmap_element",
    metadata,
    *_heatmap_key(),
    Column("selector", String(300), nullable=False),
    Column("tag", String(30), nullable=False, default=""),
    Column("clicks", BigInteger, nullable=False),
    Column("offset_x_sum", BigInteger, nullable=False),
    Column("offset_y_sum", BigInteger, nullable=False),
    UniqueConstraint(*_HEATMAP_KEY, "selector"),
)

# The same cells and elements summed over every device, width step and new/returning: what a
# heatmap without those filters reads (about 26 detailed rows of a popular cell per day).
heatmap_cell_total = Table(
    "heatmap_cell_total",
    metadata,
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(5), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("x", Integer, primary_key=True),
    Column("y", Integer, primary_key=True),
    Column("n", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

heatmap_element_total = Table(
    "heatmap_element_total",
    metadata,
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("selector", String(300), primary_key=True),
    Column("tag", String(30), nullable=False, default=""),
    Column("clicks", BigInteger, nullable=False),
    Column("offset_x_sum", BigInteger, nullable=False),
    Column("offset_y_sum", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Scroll reach and attention per band of the page (band k: k*5% to (k+1)*5% of its height):
# pageviews whose viewport reached the band, and ms it was in view while the page was used.
heatmap_band = Table(
    "heatmap_band",
    metadata,
    *_heatmap_key(),
    Column("band", Integer, nullable=False),
    Column("views", BigInteger, nullable=False),
    Column("attention_ms", BigInteger, nullable=False),
    UniqueConstraint(*_HEATMAP_KEY, "band"),
)

# Per pageview: where the page was between batches (scroll, sizes, last event) and what it
# added to the bands, so a later batch adds only the new reach and time, and a segment can
# be answered from the pageviews of matching sessions. Deleted with the pageview.
heatmap_view = Table(
    "heatmap_view",
    metadata,
    Column("pageview_id", ForeignKey("pageview.id", ondelete="CASCADE"), primary_key=True),
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("width", Integer, nullable=False),
    Column("root_id", Integer),  # the document node of the latest full snapshot
    Column("scroll_y", Integer, nullable=False, default=0),
    Column("viewport_width", Integer, nullable=False, default=0),
    Column("viewport_height", Integer, nullable=False, default=0),
    Column("doc_width", Integer, nullable=False, default=0),
    Column("doc_height", Integer, nullable=False, default=0),
    Column("last_ts", BigInteger),
    Column("reach", Integer, nullable=False, default=-1),  # the deepest band reached
    Column("attention", Text, nullable=False, default=""),  # ms per band, comma-separated
)

# Funnels (analytics/funnels.py). What a session did, once per step key and time: a page path
# ("url"), a custom event name ("event") or a clicked element's selector ("click"). Kept by
# the processor (processing/steps.py) so a funnel reads one index range per step instead of
# the pageviews, events and clicks.
step_key = Table(
    "step_key",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(5), nullable=False),
    Column("key", String(500), nullable=False),
    UniqueConstraint("project_id", "kind", "key", name="uq_step_key_project_kind_key"),
)

session_step = Table(
    "session_step",
    metadata,
    Column("key_id", ForeignKey("step_key.id", ondelete="CASCADE"), primary_key=True),
    Column("session_ts", BigInteger, primary_key=True),  # the session's first_ts
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), primary_key=True),
    # a time the session did it, in ms after session_ts: a row per time, so SQL can order
    # a session's steps (the earliest after a given time is one index seek)
    Column("ms", BigInteger, primary_key=True),
    # the session's first time for the key: a funnel's step 1 reads these rows, ungrouped
    Column("is_first", Boolean, nullable=False, default=False),
    # copied from the session, so a funnel's breakdown needs no join
    Column("device", String(20), nullable=False, default=""),
    Column("source", String(20), nullable=False, default=""),
    Index("ix_session_step_session_id", "session_id"),
    sqlite_with_rowid=False,  # the primary key is the table: one range read per step
)

# A saved funnel of a project: its steps as JSON [{"type": "url", "value": "/cart"}, ...].
funnel = Table(
    "funnel",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("steps", Text, nullable=False),
    Column("window_minutes", Integer, nullable=False),
    Column("created_by", ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
)

# The pages report (analytics/reports.py), kept by the processor (processing/page_days.py) so
# that it reads a row per path and UTC day instead of every pageview. Views, distinct sessions
# and time by the day of the pageview; entries and exits by the day the session started, as
# the report counts sessions. `carried`: sessions that also viewed the path the day before,
# so that a period of several days counts such a session once.
page_day = Table(
    "page_day",
    metadata,
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("path", Text, primary_key=True),
    Column("views", BigInteger, nullable=False),
    Column("sessions", BigInteger, nullable=False),
    Column("carried", BigInteger, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("entries", BigInteger, nullable=False),
    Column("exits", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Surveys (docs/surveys.md): the definition as JSON, status and dates as columns.
survey = Table(
    "survey",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    # draft, active or paused
    Column("status", String(10), nullable=False, default="draft"),
    Column("definition", Text, nullable=False),
    Column("starts_on", Date),
    Column("ends_on", Date),
    Column("created_by", ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
)

# One row per invitation: shown, then dismissed or answered. session_key and visitor_key are
# the recorder's ids (session.client_id, visitor.client_id), joined when shown: an answer can
# arrive before its session's first batch is processed.
survey_response = Table(
    "survey_response",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("survey_id", ForeignKey("survey.id", ondelete="CASCADE"), nullable=False),
    Column("response_key", String(64), nullable=False),
    Column("session_key", String(64), nullable=False, default=""),
    Column("visitor_key", String(64), nullable=False, default=""),
    Column("ts", BigInteger, nullable=False),
    # shown, dismissed or answered
    Column("state", String(10), nullable=False),
    Column("url", Text, nullable=False, default=""),
    Column("answers", Text, nullable=False, default="{}"),
    # the NPS answer, if any, for the score without reading every answer's JSON
    Column("nps", Integer),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("project_id", "response_key", name="uq_survey_response_key"),
    Index("ix_survey_response_survey_created", "survey_id", "created_at"),
    # Lists, pages and the CSV walk a survey's responses in id order.
    Index("ix_survey_response_survey_id", "survey_id", "id"),
    Index("ix_survey_response_session", "project_id", "session_key"),
    Index("ix_survey_response_visitor", "project_id", "visitor_key"),
)

# Each answer of a response as a row, for the figures (GROUP BY instead of reading every
# response's JSON) and the text search: a number (rating, NPS), a choice (one row per choice
# of a multiple one) or a text with its casefolded form. Rewritten when the response's
# answers change; created_at is the response's, for the period filter.
survey_answer = Table(
    "survey_answer",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("response_id", ForeignKey("survey_response.id", ondelete="CASCADE"), nullable=False),
    Column("survey_id", ForeignKey("survey.id", ondelete="CASCADE"), nullable=False),
    Column("question_id", String(10), nullable=False),
    Column("number", Integer),
    Column("choice", String(100)),
    Column("text", Text),
    Column("folded", Text),
    Column("created_at", UTCDateTime, nullable=False),
    # Covers the figures' GROUP BY (a period filters on created_at inside it).
    Index(
        "ix_survey_answer_figures",
        "survey_id",
        "question_id",
        "number",
        "choice",
        "created_at",
        "response_id",
    ),
    Index("ix_survey_answer_response", "response_id"),
)

# The feedback button: a rating, a comment and the element pointed at, one row per feedback.
page_feedback = Table(
    "page_feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("feedback_key", String(64), nullable=False),
    Column("session_key", String(64), nullable=False, default=""),
    Column("visitor_key", String(64), nullable=False, default=""),
    Column("ts", BigInteger, nullable=False),
    Column("url", Text, nullable=False, default=""),
    Column("rating", Integer, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("selector", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("project_id", "feedback_key", name="uq_page_feedback_key"),
    Index("ix_page_feedback_project_created", "project_id", "created_at"),
    Index("ix_page_feedback_session", "project_id", "session_key"),
    Index("ix_page_feedback_visitor", "project_id", "visitor_key"),
)
