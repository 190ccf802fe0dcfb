"""Browser, OS and device class from a user agent, with ua-parser."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

MOBILE_OS = {"Android", "iOS", "Windows Phone", "BlackBerry OS", "KaiOS"}


@dataclass(frozen=True)
class Agent:
    browser: str
    browser_version: str
    os: str
    device: str


@lru_cache(maxsize=4096)
def parse_agent(user_agent: str, screen_width: int | None = None) -> Agent:
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    version = result.user_agent.major if result.user_agent and result.user_agent.major else ""
    os_name = result.os.family if result.os else "Other"
    family = (result.device.family if result.device else "") or ""
    lowered = user_agent.lower()
    if "bot" in lowered or "spider" in lowered or family == "Spider":
        device = "bot"
    elif (
        "ipad" in lowered
        or "tablet" in lowered
        or (os_name == "Android" and "mobile" not in lowered)
    ):
        device = "tablet"
    elif os_name in MOBILE_OS or "mobile" in lowered or 0 < (screen_width or 0) < 768:
        device = "mobile"
    else:
        device = "desktop"
    return Agent(browser[:100], version[:50], os_name[:100], device)
