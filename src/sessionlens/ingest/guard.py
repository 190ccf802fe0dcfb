"""The server-side privacy guard: card numbers, and opt-in emails and phones, masked in a batch.

Every string of a batch is scanned before it reaches the ingest log. Parsing the batch and
walking its strings in Python costs many times what orjson's parse does, so the guard scans
the raw JSON bytes instead (docs/privacy.md, "Server guard"):

- Candidates are found with C-speed primitives (bytes.translate, bytes.find, regexes with a
  literal first byte), and only candidates reach Python code.
- A candidate made of characters that cannot occur outside a JSON string (a space or dash
  between digits, '+', '(', '@') lies inside a string whenever the batch is valid JSON.
- A plain digit run can also be a JSON number (an rrweb timestamp has 13 digits, and about
  one in ten passes the Luhn check): it is masked only when the count of unescaped quotes
  before it is odd, that is when it lies inside a string. Numbers are never changed.
- Near an escape sequence the raw bytes differ from the decoded text, so a candidate there
  (or a \\u0020-\\u007f escape anywhere, which can hide a digit or letter) sends the batch
  to the exact path: each string is decoded, scanned and re-encoded on its own.

Masks keep the length: a masked character becomes '*', so a replay keeps its layout. Only
ASCII letters, digits and punctuation inside strings are replaced, so a valid batch stays
valid with the same structure, and an invalid one stays invalid (the route answers 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import orjson

Buffer = bytes | bytearray

# Digits of a card number: 13-19 (ISO/IEC 7812), as one run or split into groups.
CARD_DIGITS = range(13, 20)
# A longer separated run is searched for a card inside it only up to this many digits:
# beyond that it is a list of numbers, and the bound keeps hostile input cheap.
MAX_SPLIT_DIGITS = 64
# E.164 allows at most 15 digits.
PHONE_DIGITS = range(7, 16)
# A phone written without '+' or parentheses needs 9 digits: dates (2024-01-15) have 8.
NATIONAL_PHONE_DIGITS = range(9, 16)
# "logo@2x.png" is a file name, not an address: the last label is never one of these.
FILE_EXTENSIONS = frozenset(
    b"png jpg jpeg gif svg webp avif ico bmp css js mjs json html htm xml txt pdf "
    b"woff woff2 ttf otf eot mp3 mp4 webm ogg wav map".split()
)

_DIGITS = frozenset(b"0123456789")
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NOT_BEFORE_MARKED_PHONE = _WORD | frozenset(b"+")
_NOT_BEFORE_NATIONAL_PHONE = _WORD | frozenset(b"+()/.,")
_NUMBER_GLUE = frozenset(b".,:/")

_MASK_DIGITS = bytes.maketrans(b"0123456789", b"*" * 10)
_MASK_EMAIL = bytes(64 if byte == 64 else 42 for byte in range(256))  # all but '@' -> '*'
_VALUE = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLED = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))
# 0 for the bytes a digit run is made of (digits, space, dash), 1 for every other byte.
_RUN_BYTES = bytes(0 if byte in b"0123456789 -" else 1 for byte in range(256))

# A run: digits with at most one space or dash between two of them. Each repetition takes
# exactly one digit, so the match is linear (no backtracking blow-up).
_RUN = re.compile(rb"[0-9](?:[ \-]?[0-9])*")
_GROUP = re.compile(rb"[0-9]+")
_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
# \u0020-\u007f: an escape that can stand for a digit, a letter or a separator.
_ESCAPED_ASCII = re.compile(rb"\\u00[2-7]")
_JSON_STRING = re.compile(rb'"([^"\\]*(?:\\.[^"\\]*)*)"', re.DOTALL)
_EMAIL_LOCAL_REVERSED = re.compile(rb"[A-Za-z0-9._%+\-]{1,65}")
_EMAIL_DOMAIN = re.compile(
    rb"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63})(?![A-Za-z0-9\-])"
)
# A literal first byte lets the regex engine skip ahead at C speed.
_PLUS_DIGIT = re.compile(rb"\+[0-9]")
_PAREN_DIGIT = re.compile(rb"\([0-9]")
# '+', then digits with at most one separator and optional parentheses between them:
# "+44 20 7946 0958", "+1 (555) 123-4567", "+44 (0)20 7946 0958", "+15551234567".
_INTERNATIONAL_PHONE = re.compile(rb"\+[0-9](?:[ .\-]?\(?[0-9]\)?)*")
# An area code in parentheses, then groups: "(555) 123-4567", "(030) 901820".
_AREA_PHONE = re.compile(rb"\([0-9]{2,5}\)[ .\-]?[0-9]+(?:[ .\-][0-9]+)*")


@dataclass(frozen=True)
class Scrubbed:
    body: bytes  # the batch JSON with every sensitive run replaced
    replaced: int  # how many runs were replaced


class _Hit(NamedTuple):
    start: int
    end: int
    mask: bytes  # a bytes.translate table
    maybe_number: bool = False  # a plain digit run, which may be a JSON number


class _Scan:
    """One buffer being scanned by the passes in turn, and what is worth computing once."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.buf: Buffer = raw  # becomes a bytearray at the first replacement
        self._flags: bytes | None = None

    @property
    def flags(self) -> bytes:
        """_RUN_BYTES of raw. Masks only turn digits into '*', so its stretches still hold
        every digit run of buf (with stars in them where something was masked)."""
        if self._flags is None:
            self._flags = self.raw.translate(_RUN_BYTES)
        return self._flags

    def stretches(self, min_chars: int) -> Iterator[tuple[int, int]]:
        """Maximal stretches of digits, spaces and dashes at least min_chars long."""
        flags = self.flags
        needle = bytes(min_chars)
        pos = 0
        while (start := flags.find(needle, pos)) != -1:
            pos = flags.find(b"\x01", start)
            if pos == -1:
                pos = len(flags)
            yield start, pos


_Pass = Callable[[_Scan], Iterator[_Hit]]


@dataclass(frozen=True)
class Preset:
    """An extra pattern a project can switch on."""

    summary: str
    passes: tuple[_Pass, ...]


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a number; spaces and dashes are ignored, anything else fails it."""
    plain = digits.replace(" ", "").replace("-", "")
    if not plain or not plain.isascii() or not plain.isdigit():
        return False
    return _luhn(plain.encode())


def _luhn(digits: Buffer) -> bool:
    # From the right: every other digit as it is, the others doubled with their digits summed.
    plain = sum(digits[-1::-2].translate(_VALUE))
    doubled = sum(digits[-2::-2].translate(_DOUBLED))
    return (plain + doubled) % 10 == 0


def _digit_count(run: Buffer) -> int:
    return len(run) - len(run.translate(None, b"0123456789"))


def _cards(scan: _Scan) -> Iterator[_Hit]:
    """13-19 digit runs that pass the Luhn check, alone or as whole groups of a longer run."""
    buf = scan.buf
    for start, end in scan.stretches(CARD_DIGITS.start):
        stretch = buf[start:end]
        if stretch.isdigit():  # the common case: one number, such as a timestamp
            if end - start in CARD_DIGITS and _luhn(stretch):
                yield _Hit(start, end, _MASK_DIGITS, maybe_number=True)
            continue
        for run in _RUN.finditer(buf, start, end):
            digits = _digit_count(run.group())
            if digits in CARD_DIGITS and _luhn(run.group().translate(None, b" -")):
                plain = digits == run.end() - run.start()
                yield _Hit(run.start(), run.end(), _MASK_DIGITS, maybe_number=plain)
            elif CARD_DIGITS.start < digits <= MAX_SPLIT_DIGITS:
                yield from _cards_within(run.start(), run.group())


def _cards_within(offset: int, run: bytes) -> Iterator[_Hit]:
    """A card followed or preceded by other numbers: "4242 4242 4242 4242 123".

    Only whole groups of at least 3 digits are tried, so a list of small numbers such as
    "1 2 3 4 5 6 7 8 9 10 11 12 13" never yields a card.
    """
    groups = [match.span() for match in _GROUP.finditer(run)]
    first = 0
    while first < len(groups):
        ends: list[int] = []
        count = 0
        for last in range(first, len(groups)):
            size = groups[last][1] - groups[last][0]
            count += size
            if size < 3 or count > CARD_DIGITS.stop - 1:
                break
            if count in CARD_DIGITS:
                ends.append(last)
        for last in reversed(ends):  # the longest window first
            start, end = groups[first][0], groups[last][1]
            if _luhn(run[start:end].translate(None, b" -")):
                yield _Hit(offset + start, offset + end, _MASK_DIGITS)
                first = last
                break
        first += 1


def _emails(scan: _Scan) -> Iterator[_Hit]:
    """local@domain.tld: the local part and domain masked, the '@' kept."""
    buf = scan.buf
    at = buf.find(b"@")
    while at != -1:
        local = _EMAIL_LOCAL_REVERSED.match(buf[max(0, at - 65) : at][::-1])
        domain = _EMAIL_DOMAIN.match(buf, at + 1) if local and local.end() <= 64 else None
        if local and domain and domain.group(1).lower() not in FILE_EXTENSIONS:
            yield _Hit(at - local.end(), domain.end(), _MASK_EMAIL)
            at = buf.find(b"@", domain.end())
        else:
            at = buf.find(b"@", at + 1)


def _ends_cleanly(buf: Buffer, end: int) -> bool:
    """Not followed by a letter or digit, nor by ".5", ":30", "/2": a number goes on there."""
    if end >= len(buf):
        return True
    after = buf[end]
    if after in _WORD:
        return False
    return not (after in _NUMBER_GLUE and end + 1 < len(buf) and buf[end + 1] in _DIGITS)


def _marked_phones(
    buf: Buffer, start: re.Pattern[bytes], phone: re.Pattern[bytes]
) -> Iterator[_Hit]:
    done = 0
    for found in start.finditer(buf):
        begin = found.start()
        if begin < done or (begin > 0 and buf[begin - 1] in _NOT_BEFORE_MARKED_PHONE):
            continue
        match = phone.match(buf, begin)
        if match is None:
            continue
        end = match.end()
        if _digit_count(match.group()) in PHONE_DIGITS and _ends_cleanly(buf, end):
            yield _Hit(begin, end, _MASK_DIGITS)
            done = end


def _international_phones(scan: _Scan) -> Iterator[_Hit]:
    """Phones that start with '+'."""
    return _marked_phones(scan.buf, _PLUS_DIGIT, _INTERNATIONAL_PHONE)


def _area_phones(scan: _Scan) -> Iterator[_Hit]:
    """Phones that start with an area code in parentheses."""
    return _marked_phones(scan.buf, _PAREN_DIGIT, _AREA_PHONE)


def _national_phones(scan: _Scan) -> Iterator[_Hit]:
    """Phones in groups of 2+ digits split by spaces or dashes: "020 7946 0958"."""
    buf = scan.buf
    for stretch_start, stretch_end in scan.stretches(NATIONAL_PHONE_DIGITS.start + 1):
        if buf[stretch_start:stretch_end].isdigit():
            continue  # no separator: a bare number is not taken for a phone
        for run in _RUN.finditer(buf, stretch_start, stretch_end):
            groups = run.group().replace(b"-", b" ").split(b" ")
            if len(groups) < 2 or min(len(group) for group in groups) < 2:
                continue
            if sum(len(group) for group in groups) not in NATIONAL_PHONE_DIGITS:
                continue
            start, end = run.span()
            if start > 0 and buf[start - 1] in _NOT_BEFORE_NATIONAL_PHONE:
                continue
            if _ends_cleanly(buf, end):
                yield _Hit(start, end, _MASK_DIGITS)


PRESETS: dict[str, Preset] = {
    "email": Preset(
        "email addresses: local part and domain masked, the '@' kept",
        (_emails,),
    ),
    "phone": Preset(
        "phone numbers written with '+', an area code in parentheses, or in groups of 2+"
        " digits split by spaces or dashes (9-15 digits); bare digit runs are left alone",
        (_international_phones, _area_phones, _national_phones),
    ),
}
_passes_cache: dict[tuple[str, ...], tuple[_Pass, ...]] = {}


def _passes(extra: tuple[str, ...]) -> tuple[_Pass, ...]:
    passes = _passes_cache.get(extra)
    if passes is not None:
        return passes
    unknown = [name for name in extra if name not in PRESETS]
    if unknown:
        known = ", ".join(PRESETS)
        raise ValueError(f"unknown privacy pattern {unknown[0]!r}; known: {known}")
    chosen: list[_Pass] = [_cards]
    for name, preset in PRESETS.items():  # a fixed order, whatever the order asked
        if name in extra:
            chosen.extend(preset.passes)
    passes = _passes_cache[extra] = tuple(chosen)
    return passes


class _Quotes:
    """Whether a position lies inside a JSON string, counting unescaped quotes as it goes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.pos = 0
        self.inside = False

    def inside_at(self, pos: int) -> bool:
        # Asked in increasing order, at positions that are not inside an escape sequence.
        if pos < self.pos:
            self.pos, self.inside = 0, False
        quotes = self.raw.count(b'"', self.pos, pos)
        if self.raw.find(b"\\", self.pos, pos) != -1:
            quotes -= _ESCAPE.findall(self.raw, self.pos, pos).count(b'"')
        self.inside ^= quotes % 2 == 1
        self.pos = pos
        return self.inside


def _near_escape(buf: Buffer, start: int, end: int) -> bool:
    # \uXXXX is the longest escape: 6 bytes before the start cover any that ends there.
    return buf.find(b"\\", max(0, start - 6), start) != -1 or buf.find(b"\\", end, end + 2) != -1


def _apply(scan: _Scan, passes: tuple[_Pass, ...], json: bool) -> int | None:
    """Run the passes over scan.buf; the count of hits masked, or None when raw is JSON
    (json=True) and a hit is too close to an escape sequence to be judged on raw bytes."""
    quotes: _Quotes | None = None
    replaced = 0
    for find in passes:
        for hit in list(find(scan)):
            if json:
                if _near_escape(scan.raw, hit.start, hit.end):
                    return None
                if hit.maybe_number:
                    quotes = quotes or _Quotes(scan.raw)
                    if not quotes.inside_at(hit.start):
                        continue  # a JSON number, such as a timestamp
            if isinstance(scan.buf, bytes):
                scan.buf = bytearray(scan.buf)
            scan.buf[hit.start : hit.end] = scan.buf[hit.start : hit.end].translate(hit.mask)
            replaced += 1
    return replaced


def scrub_fast(raw: bytes, extra: tuple[str, ...] = ()) -> Scrubbed | None:
    """The raw-bytes scan alone: None when the batch needs the exact path."""
    passes = _passes(extra)
    if _ESCAPED_ASCII.search(raw):
        return None
    scan = _Scan(raw)
    replaced = _apply(scan, passes, json=True)
    if replaced is None:
        return None
    return Scrubbed(raw if scan.buf is raw else bytes(scan.buf), replaced)


def scrub_exact(raw: bytes, extra: tuple[str, ...] = ()) -> Scrubbed:
    """Each string of the batch decoded, scanned and put back; numbers keep their bytes."""
    passes = _passes(extra)
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Scrubbed(raw, 0)  # the route's parse reports the 400
    parts = _JSON_STRING.split(raw)  # structure, string, structure, string, ..., structure
    texts: list[bytes] = [_decoded(part) if b"\\" in part else part for part in parts[1::2]]
    # Joined with '"', the strings meet the same boundaries as in the JSON text.
    scan = _Scan(b'"'.join(texts))
    replaced = _apply(scan, passes, json=False) or 0
    if not replaced:
        return Scrubbed(raw, 0)
    pos = 0
    for index, text in enumerate(texts):
        masked = bytes(scan.buf[pos : pos + len(text)])
        pos += len(text) + 1
        if masked != text:
            part = 2 * index + 1
            escaped = b"\\" in parts[part]
            parts[part] = orjson.dumps(masked.decode())[1:-1] if escaped else masked
    return Scrubbed(b'"'.join(parts), replaced)


def _decoded(string_body: bytes) -> bytes:
    """The UTF-8 text of a JSON string's body (escapes resolved)."""
    text: str = orjson.loads(b'"' + string_body + b'"')
    return text.encode()


def scrub(raw: bytes, extra: tuple[str, ...] = ()) -> Scrubbed:
    """Mask card numbers, and the extra presets named, in every string of a batch's JSON.

    raw is the decompressed batch; it is returned as it is when nothing was found or when
    it is not valid JSON. Raises ValueError only for an unknown preset name.
    """
    return scrub_fast(raw, extra) or scrub_exact(raw, extra)
