"""Report periods and time buckets, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, literal_column

Unit = Literal["hour", "day", "week"]
MAX_DAYS = 3660


class PeriodError(ValueError):
    """A date range the user can fix."""


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive
    end: datetime  # exclusive

    @property
    def previous(self) -> Period:
        return Period(self.start - (self.end - self.start), self.start)

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start).total_seconds() / 86400))


def parse_period(start: str | None, end: str | None, today: date | None = None) -> Period:
    """From ?from=YYYY-MM-DD&to=YYYY-MM-DD (both days included); default the last 30 days."""
    today = today or datetime.now(UTC).date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError as exc:
        raise PeriodError("dates must look like 2026-11-29") from exc
    if first > last:
        raise PeriodError("'from' must not be after 'to'")
    if (last - first).days > MAX_DAYS:
        raise PeriodError(f"a report covers at most {MAX_DAYS} days")
    return Period(
        datetime.combine(first, time(), UTC),
        datetime.combine(last + timedelta(days=1), time(), UTC),
    )


def default_unit(period: Period) -> Unit:
    return "hour" if period.days <= 2 else "day" if period.days <= 92 else "week"


def bucket(column: Any, unit: Unit, dialect: str) -> ColumnElement[str]:
    """A text label of the bucket a timestamp falls in: 2026-11-29T13:00, 2026-11-29, or
    the Monday of its week."""
    if dialect == "sqlite":
        if unit == "hour":
            return func.strftime("%Y-%m-%dT%H:00", column)
        if unit == "day":
            return func.strftime("%Y-%m-%d", column)
        return func.date(column, "weekday 0", "-6 days")
    utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
    if unit == "hour":
        return func.to_char(func.date_trunc("hour", utc), 'YYYY-MM-DD"T"HH24:00')
    return func.to_char(func.date_trunc(unit, utc), "YYYY-MM-DD")


def labels(period: Period, unit: Unit) -> list[str]:
    """Every bucket of the period, so empty ones show as zero."""
    out: list[str] = []
    if unit == "hour":
        at = period.start
        while at < period.end:
            out.append(at.strftime("%Y-%m-%dT%H:00"))
            at += timedelta(hours=1)
        return out
    day = period.start.date()
    if unit == "week":
        day -= timedelta(days=day.weekday())
    step = timedelta(days=7 if unit == "week" else 1)
    while datetime.combine(day, time(), UTC) < period.end:
        out.append(day.isoformat())
        day += step
    return out
