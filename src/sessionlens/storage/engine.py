"""Database engines for SQLite (WAL) and PostgreSQL, and the migration entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "sessionlens_read_only"


def reader(engine: Engine) -> Engine:
    """The same database for reads that may take long (reports, funnels, survey results,
    exports). On SQLite their transactions begin DEFERRED: in WAL mode a reader never blocks
    the writer, whereas IMMEDIATE would hold the write lock, and the ingest with it, for the
    whole query. Nothing may be written through it (temporary tables aside, which live in
    the connection's own temp database). On PostgreSQL it is the engine itself."""
    return engine.execution_options(**{READ_ONLY: True})


def make_engine(url: str, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine with the connection settings sessionlens relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        synchronous = sqlite_synchronous

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
            # WAL lets the console read while the ingest writes; FULL makes a commit
            # survive power loss, which is what a 202 from the ingest promises.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # pysqlite's own transaction handling is off (isolation_level None above), so
            # SQLAlchemy's transactions are real ones; IMMEDIATE avoids upgrade deadlocks.
            # A reader's (see reader()) begins DEFERRED: it never takes the write lock.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
