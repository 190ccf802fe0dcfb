"""Country from the visitor's address, looked up before the address is truncated.

Reads a MaxMind-format (.mmdb) database, such as GeoLite2-Country, from the path in
SESSIONLENS_GEOIP_DATABASE. Only the two-letter country code is kept.
"""

from __future__ import annotations

import ipaddress
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import maxminddb


class CountryLookup:
    def __init__(self, path: Path | None) -> None:
        self._reader: Any = None
        self._lock = threading.Lock()
        if path is not None:
            self._reader = maxminddb.open_database(str(path), maxminddb.MODE_AUTO)

    def country(self, address: str) -> str:
        if self._reader is None or not address:
            return ""
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return ""
        with self._lock:
            record = self._reader.get(address)
        if not isinstance(record, dict):
            return ""
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code", "") if isinstance(country, dict) else ""
        return code if isinstance(code, str) and len(code) == 2 else ""


@lru_cache(maxsize=8)
def lookup_for(path: str) -> CountryLookup:
    return CountryLookup(Path(path) if path else None)
