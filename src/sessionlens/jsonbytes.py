"""JSON to bytes for recorded data: orjson, and the standard library for what orjson will not
encode (orjson stops at 255 levels of nesting; a full snapshot of a deep page can be deeper,
and orjson reads up to 1024 levels, so a batch it parsed could not be written back)."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any, *, indent: bool = False) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else None)
    except orjson.JSONEncodeError:
        if indent:
            return json.dumps(value, ensure_ascii=False, indent=2, default=str).encode()
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()
