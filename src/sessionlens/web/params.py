"""Path parameters shared by the console and the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# Row ids fit PostgreSQL's integer: a larger id is a 400, not a database error.
DbId = Annotated[int, Path(ge=1, le=2_147_483_647)]
