"""Log lines as text or as JSON (one object a line), with the request they belong to.

JSON lines carry time, level, logger, message, and what is known of the request being
answered (request id, method, path, status, duration, the client's network). Paths that
hold a one-time secret (verification, reset and invitation links) are shown without it,
query strings are never logged, client addresses are cut to /24 or /48 as everywhere
else, and no batch content or setting value is ever put in a log line.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# Fields of the request being answered; copied into worker threads with the context.
REQUEST: ContextVar[dict[str, Any] | None] = ContextVar("sessionlens_request", default=None)
_SECRET_PATHS = re.compile(r"^(/verify/|/password/reset/|/invites/)[^/]+")
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


def safe_path(path: str) -> str:
    """The path without a secret token in it."""
    return _SECRET_PATHS.sub(r"\1{token}", path)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = REQUEST.get()
        if request:
            line.update(request)
        extra = getattr(record, "http", None)
        if isinstance(extra, dict):
            line.update(extra)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Send every log record (ours and uvicorn's) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _UVICORN:
        # uvicorn's own handlers would print a second, unstructured line.
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
