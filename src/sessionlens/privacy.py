"""A project's privacy rules: what the recorder masks, blocks and skips.

Kept as JSON in project.settings["privacy"], edited in the console, and served to the
recorder by GET /i/v1/{key}/config. Defaults are the strictest useful ones.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameter names never recorded, matched on the whole name or any part of it
# split at _ - . [ ] or a lower-to-upper case change ("auth_token", "userEmail").
DEFAULT_URL_DENYLIST = (
    "token",
    "password",
    "passwd",
    "pwd",
    "email",
    "key",
    "apikey",
    "code",
    "session",
    "sessionid",
    "sid",
    "auth",
    "authorization",
    "secret",
    "signature",
    "otp",
    "ssn",
)
EXTRA_PATTERNS = ("email", "phone")
MAX_RULES = 100
MAX_RULE_LENGTH = 300
_PARTS = re.compile(r"[_\-.\[\]]+|(?<=[a-z0-9])(?=[A-Z])")
_PARAM_NAME = re.compile(r"^[A-Za-z0-9_\-.\[\]]{1,100}$")


class PrivacyError(ValueError):
    """A rule the recorder could not use; the message names it."""


@dataclass(frozen=True)
class PrivacySettings:
    mask_all_text: bool = False
    unmask_selectors: tuple[str, ...] = ()
    mask_text_selectors: tuple[str, ...] = ()
    block_selectors: tuple[str, ...] = ()
    url_param_denylist: tuple[str, ...] = ()  # added to DEFAULT_URL_DENYLIST
    exclude_pages: tuple[str, ...] = ()  # URL path patterns with * wildcards
    extra_patterns: tuple[str, ...] = ()  # server guard presets, e.g. "email", "phone"
    honour_dnt: bool = True
    consent_required: bool = False
    cookieless: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def denylist(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(DEFAULT_URL_DENYLIST + self.url_param_denylist))

    def recorder_config(self) -> dict[str, Any]:
        """What the recorder needs, nothing more (the endpoint is public)."""
        return {
            "mask_all_text": self.mask_all_text,
            "unmask_selectors": list(self.unmask_selectors),
            "mask_text_selectors": list(self.mask_text_selectors),
            "block_selectors": list(self.block_selectors),
            "url_param_denylist": list(self.denylist()),
            "exclude_pages": list(self.exclude_pages),
            "honour_dnt": self.honour_dnt,
            "consent_required": self.consent_required,
            "cookieless": self.cookieless,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _rules(name: str, values: Any, check: Any = None) -> tuple[str, ...]:
    if not isinstance(values, list | tuple):
        raise PrivacyError(f"{name} must be a list")
    clean = []
    for raw in values:
        if not isinstance(raw, str):
            raise PrivacyError(f"{name} must hold text")
        value = raw.strip()
        if not value:
            continue
        if len(value) > MAX_RULE_LENGTH or any(c in value for c in "\n\r{}<"):
            raise PrivacyError(f"{name}: {value[:40]!r} is not a usable rule")
        if check is not None:
            check(name, value)
        clean.append(value)
    if len(clean) > MAX_RULES:
        raise PrivacyError(f"{name}: at most {MAX_RULES} rules")
    return tuple(dict.fromkeys(clean))


def _param(name: str, value: str) -> None:
    if not _PARAM_NAME.match(value):
        raise PrivacyError(f"{name}: {value!r} is not a query parameter name")


def _page(name: str, value: str) -> None:
    if not value.startswith("/"):
        raise PrivacyError(f"{name}: {value!r} must start with / (a URL path pattern)")


def _preset(name: str, value: str) -> None:
    if value not in EXTRA_PATTERNS:
        raise PrivacyError(f"{name}: {value!r} is not one of {', '.join(EXTRA_PATTERNS)}")


def parse(data: dict[str, Any]) -> PrivacySettings:
    """Settings from stored or submitted JSON; unknown keys are kept aside, not lost."""
    known = {f.name for f in fields(PrivacySettings)} - {"extra"}
    flags = {}
    for name in ("mask_all_text", "honour_dnt", "consent_required", "cookieless"):
        if name in data:
            if not isinstance(data[name], bool):
                raise PrivacyError(f"{name} must be true or false")
            flags[name] = data[name]
    return PrivacySettings(
        unmask_selectors=_rules("unmask_selectors", data.get("unmask_selectors", [])),
        mask_text_selectors=_rules("mask_text_selectors", data.get("mask_text_selectors", [])),
        block_selectors=_rules("block_selectors", data.get("block_selectors", [])),
        url_param_denylist=_rules("url_param_denylist", data.get("url_param_denylist", []), _param),
        exclude_pages=_rules("exclude_pages", data.get("exclude_pages", []), _page),
        extra_patterns=_rules("extra_patterns", data.get("extra_patterns", []), _preset),
        extra={k: v for k, v in data.items() if k not in known},
        **flags,
    )


def param_denied(name: str, denylist: tuple[str, ...]) -> bool:
    """Compared lowercased on both sides, as the recorder does."""
    denied = {entry.lower() for entry in denylist}
    if name.lower() in denied:
        return True
    return any(part.lower() in denied for part in _PARTS.split(name) if part)


def strip_url(url: str, denylist: tuple[str, ...]) -> str:
    """The URL without denylisted query parameters (and without a fragment's ones)."""
    if "?" not in url and "#" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if not param_denied(k, denylist)]
    fragment = parts.fragment
    if "=" in fragment:
        pairs = parse_qsl(fragment.lstrip("!/?"), keep_blank_values=True)
        if any(param_denied(k, denylist) for k, _ in pairs):
            fragment = ""
    if len(kept) == len(query) and fragment == parts.fragment:
        return url
    return urlunsplit(parts._replace(query=urlencode(kept), fragment=fragment))


_TEXT_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s()<>\"'`]+")


def strip_text_urls(text: str, denylist: tuple[str, ...]) -> str:
    """Free text (an error message, a stack): every absolute URL in it stripped."""
    if "://" not in text:
        return text
    return _TEXT_URL.sub(lambda m: strip_url(m.group(0), denylist), text)
