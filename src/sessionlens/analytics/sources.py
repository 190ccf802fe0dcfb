"""Where a session came from: the referrer's domain and a source group.

Groups: campaign (UTM or ad click ids), search, social, other (a referring site), direct
(no referrer, or a referrer on the same site).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

SEARCH = (
    "google.",
    "bing.com",
    "duckduckgo.com",
    "yahoo.",
    "baidu.com",
    "yandex.",
    "ecosia.org",
    "startpage.com",
    "qwant.com",
    "search.brave.com",
    "naver.com",
    "seznam.cz",
    "kagi.com",
)
SOCIAL = (
    "facebook.com",
    "fb.com",
    "m.facebook.com",
    "l.facebook.com",
    "t.co",
    "twitter.com",
    "x.com",
    "linkedin.com",
    "lnkd.in",
    "instagram.com",
    "reddit.com",
    "youtube.com",
    "youtu.be",
    "pinterest.",
    "tiktok.com",
    "news.ycombinator.com",
    "threads.net",
    "bsky.app",
    "mastodon.social",
    "vk.com",
    "weibo.com",
    "whatsapp.com",
    "telegram.org",
    "t.me",
    "quora.com",
    "tumblr.com",
)
AD_CLICK_IDS = ("gclid", "fbclid", "msclkid", "dclid", "ttclid", "twclid", "li_fat_id")
GROUPS = ("direct", "search", "social", "campaign", "other")


def domain(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


def _matches(host: str, names: tuple[str, ...]) -> bool:
    for name in names:
        if name.endswith("."):
            if host.startswith(name) or f".{name}" in f".{host}":
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def classify(referrer: str, entry_url: str) -> tuple[str, str]:
    """(source group, referrer domain) of a session."""
    try:
        params = {k.lower() for k, _ in parse_qsl(urlsplit(entry_url).query)}
    except ValueError:
        params = set()
    ref_domain = domain(referrer)
    if ref_domain and ref_domain == domain(entry_url):
        ref_domain = ""  # a page of the same site: not a source
    if any(p.startswith("utm_") for p in params) or params & set(AD_CLICK_IDS):
        return "campaign", ref_domain
    if not ref_domain:
        return "direct", ""
    if _matches(ref_domain, SEARCH):
        return "search", ref_domain
    if _matches(ref_domain, SOCIAL):
        return "social", ref_domain
    return "other", ref_domain
