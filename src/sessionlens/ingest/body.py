"""Reading a request body within caps, including while decompressing gzip.

The decompressed size is checked chunk by chunk, so a gzip bomb is cut off after
MAX_DECOMPRESSED bytes instead of filling memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

MAX_COMPRESSED = 10 * 1024 * 1024
MAX_DECOMPRESSED = 50 * 1024 * 1024
_CHUNK = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


class BodyTooLarge(ValueError):
    """The body is over one of the caps."""


class BodyUnreadable(ValueError):
    """The body claims an encoding it does not have."""


async def read_capped(stream: AsyncIterator[bytes], limit: int = MAX_COMPRESSED) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over {limit // (1024 * 1024)} MB")
        parts.append(chunk)
    return b"".join(parts)


def gunzip_capped(data: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out: list[bytes] = []
    size = 0
    pending = data
    try:
        while pending and not inflater.eof:
            piece = inflater.decompress(pending, _CHUNK)
            size += len(piece)
            if size > limit:
                raise BodyTooLarge(f"the decompressed body is over {limit // (1024 * 1024)} MB")
            out.append(piece)
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            # Output can stay buffered when input and max_length ran out together.
            tail = inflater.flush()
            size += len(tail)
            if size > limit:
                raise BodyTooLarge(f"the decompressed body is over {limit // (1024 * 1024)} MB")
            out.append(tail)
        if not inflater.eof:
            raise BodyUnreadable("the gzip body is truncated")
    except zlib.error as exc:
        raise BodyUnreadable(f"the body is not valid gzip: {exc}") from None
    return b"".join(out)


def decode(data: bytes, content_encoding: str, limit: int = MAX_DECOMPRESSED) -> bytes:
    """The plain body: gunzipped when declared or when it starts with the gzip magic."""
    encoding = content_encoding.strip().lower()
    if encoding in {"", "identity"}:
        if data.startswith(GZIP_MAGIC):
            return gunzip_capped(data, limit)
        if len(data) > limit:
            raise BodyTooLarge("the body is too large")
        return data
    if encoding in {"gzip", "x-gzip"}:
        return gunzip_capped(data, limit)
    raise BodyUnreadable(f"unsupported Content-Encoding {content_encoding!r}; use gzip")
