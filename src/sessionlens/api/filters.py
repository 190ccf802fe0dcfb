"""The session search filters as API query parameters (documented in the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class SearchParams(BaseModel):
    """Every filter is optional; all given filters must hold (AND)."""

    model_config = ConfigDict(populate_by_name=True)

    start: Annotated[str | None, Field(alias="from", description="first day, 2026-11-01")] = None
    to: Annotated[str | None, Field(description="last day, 2026-11-30")] = None
    url: Annotated[str | None, Field(description="a visited URL (see url_op)")] = None
    url_op: Annotated[str | None, Field(description="contains (default), equals, pattern")] = None
    entry: Annotated[str | None, Field(description="the entry URL contains this")] = None
    referrer: Annotated[str | None, Field(description="the referring domain contains this")] = None
    source: Annotated[str | None, Field(description="direct, search, social, campaign, other")] = (
        None
    )
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    device: Annotated[str | None, Field(description="desktop, mobile, tablet or bot")] = None
    browser: str | None = None
    os: str | None = None
    country: str | None = None
    visitor: Annotated[str | None, Field(description="new or returning")] = None
    user: Annotated[str | None, Field(description="identified user id, or * for any")] = None
    trait: Annotated[str | None, Field(description="an identify trait as key:value")] = None
    event: Annotated[str | None, Field(description="the session sent this custom event")] = None
    errors: Annotated[str | None, Field(description="yes: had JavaScript errors; no: none")] = None
    error: Annotated[str | None, Field(description="had this error (its fingerprint)")] = None
    survey: Annotated[
        str | None, Field(description="answered (or dismissed part way) this survey id, or *")
    ] = None
    nps: Annotated[
        str | None, Field(description="gave an NPS answer: detractor, passive or promoter")
    ] = None
    feedback: Annotated[str | None, Field(description="left feedback: yes, or a rating 1-5")] = None
    min_duration: Annotated[str | None, Field(description="seconds")] = None
    max_duration: Annotated[str | None, Field(description="seconds")] = None
    min_active: Annotated[str | None, Field(description="seconds of activity")] = None
    min_pages: str | None = None
    max_pages: str | None = None
    min_clicks: str | None = None
    min_struggle: Annotated[str | None, Field(description="struggle score 0-100 at least")] = None
    min_rage_clicks: Annotated[str | None, Field(description="rage clicks at least")] = None
    min_dead_clicks: Annotated[str | None, Field(description="dead clicks at least")] = None
    min_error_clicks: Annotated[str | None, Field(description="error clicks at least")] = None

    def as_query(self) -> dict[str, str]:
        data = self.model_dump(by_alias=True, exclude_none=True)
        return {key: str(value) for key, value in data.items()}
