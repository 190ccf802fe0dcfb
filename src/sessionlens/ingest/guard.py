"""The server-side privacy guard: card numbers, and opt-in emails and phones, masked in a batch.

Every string of a batch is scanned before it reaches the ingest log. Parsing the batch and
walking its strings in Python costs many times what orjson's parse does, so the guard scans
the raw JSON bytes instead (docs/privacy.md, "Server guard"):

- Candidates are found with C-speed primitives (bytes.translate, bytes.find, regexes with a
  literal first byte), and only candidates reach Python code.
- A candidate made of characters that cannot occur outside a JSON string (a space, dash or
  '+' between digits, '+' or '(' before one, '@') lies inside a string in any valid JSON.
- A plain digit run can also be a JSON number (an rrweb timestamp has 13 digits, and about
  one in ten passes the Luhn check): it is masked only when the count of unescaped quotes
  before it is odd, that is when it lies inside a string. Numbers are never changed.
- Escapes: decoded, an escape stands for '"', '\\', '/', a control character or a non-ASCII
  one, and none of these can be part of a match. So the raw bytes give the same answers if a
  run that starts in an escape's tail (the n of \\n, the hex digits of \\u00e9) is cut
  after it, and a byte before a candidate that ends an escape is read as what it stands for.
  Where they could still differ (a \\u0020-\\u007f escape anywhere, which can hide a digit
  or a letter; \\/ right after a candidate) the batch goes to the exact path: each string is
  decoded, scanned with the same passes and re-encoded on its own.

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
_COLON, _QUOTE, _BACKSLASH = ord(":"), ord('"'), ord("\\")
# Bytes before a digit that may be part of \uXXXX (a hex digit would be in the stretch).
_UNICODE_ESCAPE_LETTERS = frozenset(b"uABCDEFabcdef")
# Escapes that stand for themselves; every other one left (\u0020-\u007f send the batch to
# the exact path) stands for a control or non-ASCII character, outside every pattern.
_SELF_ESCAPED = frozenset(b'"\\/')

_MASK_DIGITS = bytes.maketrans(b"0123456789", b"*" * 10)
_MASK_EMAIL = bytes(64 if byte == 64 else 42 for byte in range(256))  # all but '@' -> '*'
_VALUE = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLED = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))
# 0 for the bytes a digit run is made of (digits and separators), 1 for every other byte.
_RUN_BYTES = bytes(0 if byte in b"0123456789 -+" else 1 for byte in range(256))

# A card run: digits with at most one space, dash or '+' (a space in a form-encoded URL)
# between two of them. Each repetition takes exactly one digit, so the match is linear.
_CARD_RUN = re.compile(rb"[0-9](?:[ +\-]?[0-9])*")
_PHONE_RUN = re.compile(rb"[0-9](?:[ \-]?[0-9])*")
_GROUP = re.compile(rb"[0-9]+")
_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
# \u0020-\u007f: an escape that can stand for a digit, a letter or a separator.
_ESCAPED_ASCII = re.compile(rb"\\u00[2-7]")
_JSON_STRING = re.compile(rb'"([^"\\]*(?:\\.[^"\\]*)*)"', re.DOTALL)
_EMAIL_LOCAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_AT_BEFORE_DOMAIN = re.compile(rb"@(?=[A-Za-z0-9])")
_EMAIL_LOCAL_REVERSED = re.compile(rb"[A-Za-z0-9._%+\-]{1,64}")
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


class _Undecidable(Exception):
    """Raw bytes next to an escape sequence: only the decoded text can tell."""


class _Hit(NamedTuple):
    start: int
    end: int
    mask: bytes  # a bytes.translate table


class _Scan:
    """One buffer being scanned by the passes in turn, and what is worth computing once."""

    def __init__(self, raw: bytes, json: bool, min_stretch: int) -> None:
        self.raw = raw
        self.json = json  # raw is a JSON text, not strings joined with '"'
        self.buf: Buffer = raw  # becomes a bytearray at the first replacement
        self.min_stretch = min_stretch
        self._stretches: tuple[list[tuple[int, int]], list[tuple[int, int]]] | None = None
        self._quotes_at = 0
        self._quotes_inside = False

    def in_string(self, pos: int) -> bool:
        """Whether pos lies inside a JSON string: the unescaped quotes before it are odd.

        Asked in increasing order, so each call counts only from the last position. A digit
        is never the second byte of an escape pair, so the pairs never straddle pos.
        """
        if not self.json:
            return True
        if pos < self._quotes_at:
            self._quotes_at, self._quotes_inside = 0, False
        raw, begin = self.raw, self._quotes_at
        quotes = raw.count(b'"', begin, pos)
        if raw.find(b"\\", begin, pos) != -1:
            quotes -= _ESCAPE.findall(raw, begin, pos).count(b'"')
        self._quotes_at = pos
        self._quotes_inside ^= quotes % 2 == 1
        return self._quotes_inside

    @property
    def stretches(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Maximal stretches of digits and separators in raw, at least min_stretch long:
        those that are one number of 13-19 digits, and those with a separator in them.
        Masks only turn digits into '*', so these still hold every digit run of buf.

        In JSON, a stretch right after a key ("timestamp":1764000000000) is skipped: a quote
        after a letter or digit closes a string (outside strings, letters and digits are
        only in true, false, null and numbers, which no quote may follow), a string closed
        right before ':' is a key, and what follows up to the next comma or bracket is a
        number. This settles the commonest candidate without a Luhn check or quote count.
        """
        if self._stretches is None:
            raw = self.raw
            flags = raw.translate(_RUN_BYTES)
            needle = bytes(self.min_stretch)
            plain: list[tuple[int, int]] = []
            mixed: list[tuple[int, int]] = []
            end = 0
            while (start := flags.find(needle, end)) != -1:
                end = flags.find(b"\x01", start)
                if end == -1:
                    end = len(flags)
                if self.json and start:
                    before = raw[start - 1]
                    if (
                        before == _COLON
                        and start >= 3
                        and raw[start - 2] == _QUOTE
                        and raw[start - 3] in _WORD
                    ):
                        continue  # a number after a key
                    if before in _UNICODE_ESCAPE_LETTERS:
                        escape_end = _escape_end(raw, start)
                        if escape_end != -1:
                            # The hex digits of \u00e9 or \u0800 are no digits of the text.
                            start = escape_end
                            if end - start < self.min_stretch:
                                continue
                if not raw[start:end].isdigit():
                    mixed.append((start, end))
                elif end - start in CARD_DIGITS:
                    plain.append((start, end))
            self._stretches = plain, mixed
        return self._stretches


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
    plain, mixed = scan.stretches
    for start, end in plain:
        if _luhn(buf[start:end]) and scan.in_string(start):
            yield _Hit(start, end, _MASK_DIGITS)
    for start, end in mixed:
        if end - start < CARD_DIGITS.start:
            continue
        for run in _CARD_RUN.finditer(buf, start, end):
            text = run.group()
            digits = _digit_count(text)
            separated = digits != len(text)
            if digits in CARD_DIGITS and _luhn(text.translate(None, b" -+")):
                # A run with a separator cannot be a JSON number; a plain one can.
                if separated or scan.in_string(run.start()):
                    yield _Hit(run.start(), run.end(), _MASK_DIGITS)
            elif separated and CARD_DIGITS.start < digits <= MAX_SPLIT_DIGITS:
                yield from _cards_within(run.start(), text)


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
            if _luhn(run[start:end].translate(None, b" -+")):
                yield _Hit(offset + start, offset + end, _MASK_DIGITS)
                first = last
                break
        first += 1


def _emails(scan: _Scan) -> Iterator[_Hit]:
    """local@domain.tld: the local part (up to 64 characters) and domain masked, '@' kept."""
    buf = scan.buf
    done = 0
    if b"@" not in buf:  # memchr: far cheaper than starting the regex on most batches
        return
    for found in _AT_BEFORE_DOMAIN.finditer(buf):
        at = found.start()
        if at < done or not at or buf[at - 1] not in _EMAIL_LOCAL:
            continue
        local = _EMAIL_LOCAL_REVERSED.match(buf[max(0, at - 64) : at][::-1])
        start = at - local.end() if local else at
        if scan.json and start < at:
            # Scanning back, the local part may run into the n of \n or the e9 of \u00e9.
            escape_end = _escape_end(scan.raw, start)
            start = start if escape_end == -1 else escape_end
        domain = _EMAIL_DOMAIN.match(buf, at + 1) if start < at else None
        if domain and domain.group(1).lower() not in FILE_EXTENSIONS:
            yield _Hit(start, domain.end(), _MASK_EMAIL)
            done = domain.end()


def _ends_cleanly(buf: Buffer, end: int) -> bool:
    """Not followed by a letter or digit, nor by ".5", ":30", "/2": a number goes on there."""
    if end >= len(buf):
        return True
    after = buf[end]
    if after in _WORD:
        return False
    return not (after in _NUMBER_GLUE and end + 1 < len(buf) and buf[end + 1] in _DIGITS)


def _marked_phones(
    scan: _Scan, mark: bytes, start: re.Pattern[bytes], phone: re.Pattern[bytes]
) -> Iterator[_Hit]:
    buf = scan.buf
    done = 0
    if mark not in buf:  # memchr: far cheaper than starting the regex on most batches
        return
    for found in start.finditer(buf):
        begin = found.start()
        if begin < done:
            continue
        if _turned_down_by(scan, begin, _NOT_BEFORE_MARKED_PHONE):
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
    return _marked_phones(scan, b"+", _PLUS_DIGIT, _INTERNATIONAL_PHONE)


def _area_phones(scan: _Scan) -> Iterator[_Hit]:
    """Phones that start with an area code in parentheses."""
    return _marked_phones(scan, b"(", _PAREN_DIGIT, _AREA_PHONE)


def _national_phones(scan: _Scan) -> Iterator[_Hit]:
    """Phones in groups of 2+ digits split by spaces or dashes: "020 7946 0958"."""
    buf = scan.buf
    for stretch_start, stretch_end in scan.stretches[1]:  # a bare number is not a phone
        for run in _PHONE_RUN.finditer(buf, stretch_start, stretch_end):
            groups = run.group().replace(b"-", b" ").split(b" ")
            if len(groups) < 2 or min(len(group) for group in groups) < 2:
                continue
            if sum(len(group) for group in groups) not in NATIONAL_PHONE_DIGITS:
                continue
            start, end = run.span()
            if _turned_down_by(scan, start, _NOT_BEFORE_NATIONAL_PHONE):
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
    extra = tuple(extra)  # a list would do as well, but cannot be a cache key
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


def _min_stretch(passes: tuple[_Pass, ...]) -> int:
    # A national phone has 9 digits and a separator; a card, 13 digits.
    return NATIONAL_PHONE_DIGITS.start + 1 if _national_phones in passes else CARD_DIGITS.start


def _escape_end(raw: bytes, pos: int) -> int:
    """Where the escape sequence that pos lies in (after its backslash) ends, or -1."""
    slash = raw.rfind(b"\\", max(0, pos - 5), pos)
    if slash == -1:
        return -1
    first = slash
    while first and raw[first - 1] == _BACKSLASH:
        first -= 1
    if (slash - first) % 2:
        return -1  # this backslash is the second one of \\, which ends before pos
    end = slash + (6 if raw[slash + 1 : slash + 2] == b"u" else 2)
    return end if pos < end else -1


def _turned_down_by(scan: _Scan, pos: int, not_before: frozenset[int]) -> bool:
    """Whether the character before pos rules a match at pos out.

    In JSON the byte before may end an escape (the n of \\n, the 9 of \\u00e9): it then
    stands for a control or non-ASCII character, which rules nothing out.
    """
    if not pos or scan.buf[pos - 1] not in not_before:
        return False
    if not scan.json or scan.buf[pos - 1] in _SELF_ESCAPED:
        return True
    return _escape_end(scan.raw, pos - 1) != pos


def _apply(scan: _Scan, passes: tuple[_Pass, ...]) -> int:
    """Run the passes over scan.buf in turn; how many hits were masked.

    On JSON bytes, raises _Undecidable where the bytes and the decoded text could tell
    different stories about a candidate next to an escape sequence.
    """
    replaced = 0
    for find in passes:
        for hit in list(find(scan)):
            # A hit must not start inside an escape (\njane@... reads "njane" in raw bytes),
            # nor end before \/, where the raw bytes do not show the '/' that follows.
            if scan.json and (
                _escape_end(scan.raw, hit.start) != -1 or scan.raw[hit.end : hit.end + 2] == b"\\/"
            ):
                raise _Undecidable
            if isinstance(scan.buf, bytes):
                scan.buf = bytearray(scan.buf)
            scan.buf[hit.start : hit.end] = scan.buf[hit.start : hit.end].translate(hit.mask)
            replaced += 1
    return replaced


def scrub_fast(raw: bytes, extra: tuple[str, ...] = ()) -> Scrubbed | None:
    """The raw-bytes scan alone: None when the batch needs the exact path."""
    passes = _passes(extra)
    if b"\\" in raw and _ESCAPED_ASCII.search(raw):
        return None
    scan = _Scan(raw, json=True, min_stretch=_min_stretch(passes))
    try:
        replaced = _apply(scan, passes)
    except _Undecidable:
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
    scan = _Scan(b'"'.join(texts), json=False, min_stretch=_min_stretch(passes))
    replaced = _apply(scan, passes)
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
