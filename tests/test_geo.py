from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from sqlalchemy import select

from sessionlens import config
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.ingest.geo import CountryLookup
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import ingest_log, session
from tests.conftest import Account, batch, send


@pytest.fixture
def country_db(tmp_path: Path) -> Path:
    """A tiny MaxMind-format database of our own: two documentation networks."""
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-Country", ipv4_compatible=True)
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "NZ"}})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "DE"}})
    path = tmp_path / "countries.mmdb"
    writer.to_db_file(str(path))
    return path


def test_lookup_reads_the_country(country_db: Path) -> None:
    lookup = CountryLookup(country_db)
    assert lookup.country("203.0.113.77") == "NZ"
    assert lookup.country("2001:db8:1:2::9") == "DE"
    assert lookup.country("198.51.100.1") == ""
    assert lookup.country("not-an-address") == ""
    assert CountryLookup(None).country("203.0.113.77") == ""


def test_bad_database_path_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(config.SettingsError, match="SESSIONLENS_GEOIP_DATABASE"):
        config.load(
            {
                "SESSIONLENS_DATA_DIR": str(tmp_path),
                "SESSIONLENS_GEOIP_DATABASE": str(tmp_path / "missing.mmdb"),
            }
        )


@pytest.fixture
def geo_client(ctx: Context, country_db: Path) -> Iterator[TestClient]:
    geo_ctx = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, geoip_database=str(country_db))
    )
    with TestClient(
        create_app(geo_ctx, run_processor=False), client=("203.0.113.77", 50000)
    ) as client:
        yield client


def test_country_is_kept_and_the_full_address_is_not(
    geo_client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    assert send(geo_client, alice, batch()).status_code == 202
    with ctx.engine.connect() as conn:
        payload = conn.execute(select(ingest_log.c.payload)).scalar_one()
    from sessionlens.ingest import log

    envelope, _ = log.decode(payload)
    assert envelope.country == "NZ"
    assert envelope.address == "203.0.113.0"
    processor.drain()
    with ctx.engine.connect() as conn:
        assert conn.execute(select(session.c.country)).scalar_one() == "NZ"
        everything = repr([tuple(r) for r in conn.execute(select(session))])
    assert "203.0.113.77" not in everything
