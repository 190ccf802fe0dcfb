"""Typed settings, read from SESSIONLENS_* environment variables.

Every setting has a type, a default and a help line. A bad value stops start-up with a
message naming the variable. Secrets may also be given as SESSIONLENS_<NAME>_FILE.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "SESSIONLENS_"


class SettingsError(ValueError):
    """A setting has a value we cannot use."""


def _parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"expected an integer, got {raw!r}") from exc


def _parse_port(raw: str) -> int:
    port = _parse_int(raw)
    if not 1 <= port <= 65535:
        raise SettingsError(f"expected a port between 1 and 65535, got {port}")
    return port


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"expected true or false, got {raw!r}")


def _parse_str(raw: str) -> str:
    return raw


def _parse_database_url(raw: str) -> str:
    scheme = raw.split(":", 1)[0]
    if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
        raise SettingsError(f"expected a sqlite:/// or postgresql:// URL, got {raw!r}")
    if "://" not in raw:
        raise SettingsError(f"expected a URL such as sqlite:///path/to/file.db, got {raw!r}")
    return raw


def _parse_blob_url(raw: str) -> str:
    if "://" not in raw:
        raise SettingsError(f"expected a URL such as file:///var/lib/sessionlens, got {raw!r}")
    parts = urlsplit(raw)
    if parts.scheme == "s3" and not parts.netloc:
        raise SettingsError(f"expected s3://bucket or s3://bucket/prefix, got {raw!r}")
    if parts.scheme not in {"file", "s3"}:
        raise SettingsError(f"expected a file:// or s3:// URL, got {raw!r}")
    return raw


def _parse_endpoint(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SettingsError(f"expected an http(s):// URL such as https://s3.example, got {raw!r}")
    return raw.rstrip("/")


def _parse_log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"text", "json"}:
        raise SettingsError(f"expected text or json, got {raw!r}")
    return value


def _parse_queue_url(raw: str) -> str:
    for part in raw.split(","):
        parts = urlsplit(part.strip())
        if parts.scheme not in {"nats", "tls"} or not parts.hostname:
            raise SettingsError(f"expected nats://host:port (comma-separated), got {part!r}")
    return raw


def _parse_stream_name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", raw):
        raise SettingsError(f"expected letters, digits, - and _ (at most 64), got {raw!r}")
    return raw


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = _parse_int(raw)
        if not low <= value <= high:
            raise SettingsError(f"expected an integer from {low} to {high}, got {value}")
        return value

    return parse


_parse_replicas = _bounded_int(1, 5)
_parse_partitions = _bounded_int(1, 1024)
_parse_ack_wait = _bounded_int(1, 3600)


def _parse_base_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SettingsError(f"expected an http(s):// URL, got {raw!r}")
    return raw.rstrip("/")


def _parse_file(raw: str) -> str:
    path = Path(raw).expanduser()
    if not path.is_file():
        raise SettingsError(f"no such file: {raw!r}")
    return str(path.resolve())


def _parse_smtp_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"smtp", "smtps", "smtp+starttls", "smtp+plain"} or not parts.hostname:
        raise SettingsError(f"expected smtp://, smtps:// or smtp+plain:// with a host, got {raw!r}")
    return raw


def _parse_secret(raw: str) -> str:
    if len(raw) < 32:
        raise SettingsError("must be at least 32 characters long")
    return raw


def _parse_old_secrets(raw: str) -> tuple[str, ...]:
    old = tuple(part.strip() for part in raw.replace("\n", ",").split(",") if part.strip())
    for secret in old:
        _parse_secret(secret)
    return old


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    help: str
    default: str = ""
    secret: bool = False


# The table of settings: the README's settings table is checked against it by a test.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATA_DIR",
        _parse_str,
        "Folder for the embedded database, blobs and secret key.",
        ".sessionlens-data",
    ),
    Setting(
        "DATABASE_URL",
        _parse_database_url,
        "SQLAlchemy URL of the database (sqlite:/// or postgresql+psycopg://). "
        "Default: a SQLite file in the data dir.",
    ),
    Setting(
        "BLOB_URL",
        _parse_blob_url,
        "Where recording blocks are stored: file:///path, or s3://bucket/prefix for an "
        "S3-compatible store. Default: blobs/ in the data dir.",
    ),
    Setting(
        "S3_ENDPOINT",
        _parse_endpoint,
        "Endpoint of an S3-compatible store (MinIO, Ceph, ...), e.g. https://s3.example:9000; "
        "requests are path-style. Default: AWS S3.",
    ),
    Setting(
        "S3_REGION",
        _parse_str,
        "Region of the bucket. Default: AWS_REGION from the environment, else us-east-1.",
    ),
    Setting(
        "S3_ACCESS_KEY_ID",
        _parse_str,
        "Access key id for the S3 store. Default: the AWS_* environment variables.",
    ),
    Setting(
        "S3_SECRET_ACCESS_KEY",
        _parse_str,
        "Secret access key for the S3 store. Default: the AWS_* environment variables.",
        secret=True,
    ),
    Setting("HOST", _parse_str, "Address the server listens on.", "127.0.0.1"),
    Setting("PORT", _parse_port, "Port the server listens on.", "8000"),
    Setting(
        "BASE_URL",
        _parse_base_url,
        "Public URL of the server, used in the snippet and the demo. Default: http://HOST:PORT.",
    ),
    Setting(
        "SECRET_KEY",
        _parse_secret,
        "The server secret that keys for signing and encryption are derived from. "
        "Default: generated once and kept in the data dir.",
        secret=True,
    ),
    Setting(
        "OLD_SECRET_KEYS",
        _parse_old_secrets,
        "Previous secret keys, comma-separated, still accepted to decrypt recordings until "
        "`sessionlens rotate-keys` has re-encrypted them. Default: none.",
        secret=True,
    ),
    Setting(
        "ADMIN_EMAIL",
        _parse_str,
        "Email of the admin account created on first run.",
        "admin@example.com",
    ),
    Setting(
        "ADMIN_PASSWORD",
        _parse_str,
        "Password of the admin account created on first run. Default: a random one, printed once.",
        secret=True,
    ),
    Setting(
        "DEMO", _parse_bool, "Create the Demo project and serve the demo shop at /demo/.", "true"
    ),
    Setting(
        "PROCESSOR", _parse_bool, "Run the ingest-log processor inside the server process.", "true"
    ),
    Setting(
        "PROCESSOR_INTERVAL_MS",
        _parse_int,
        "How often the processor looks for new batches when idle, in ms.",
        "250",
    ),
    Setting(
        "QUEUE_URL",
        _parse_queue_url,
        "NATS server(s) with JetStream for the ingest queue, e.g. nats://127.0.0.1:4222 "
        "(comma-separated for a cluster). Default: none, the embedded log in the database.",
        secret=True,
    ),
    Setting(
        "QUEUE_STREAM",
        _parse_stream_name,
        "Name of the JetStream stream, also the subjects' prefix (dead letters: NAME-dead).",
        "sessionlens",
    ),
    Setting(
        "QUEUE_REPLICAS",
        _parse_replicas,
        "Copies of the stream JetStream keeps (1 on one node; 3 on a cluster of 3 or more).",
        "1",
    ),
    Setting(
        "QUEUE_PARTITIONS",
        _parse_partitions,
        "Subjects the stream's batches are spread over by session (a session stays on one).",
        "16",
    ),
    Setting(
        "QUEUE_ACK_WAIT_S",
        _parse_ack_wait,
        "Seconds a worker may hold batches before JetStream hands them to another worker.",
        "60",
    ),
    Setting(
        "SIGNUP", _parse_bool, "Let anyone create an account and organisation at /signup.", "true"
    ),
    Setting(
        "SMTP_URL",
        _parse_smtp_url,
        "Mail server for verification, reset and invitation emails: smtp://user:pass@host:587 "
        "(STARTTLS), smtps://... (TLS) or smtp+plain://host:25. Default: none, emails are "
        "written to the server log.",
        secret=True,
    ),
    Setting(
        "MAIL_FROM",
        _parse_str,
        "Sender address of sessionlens emails.",
        "sessionlens <no-reply@localhost>",
    ),
    Setting(
        "TLS_CERT",
        _parse_file,
        "PEM certificate (chain) to serve HTTPS directly. "
        "Default: plain HTTP (e.g. behind a TLS-terminating proxy).",
    ),
    Setting("TLS_KEY", _parse_file, "PEM private key of TLS_CERT.", secret=True),
    Setting(
        "HTTP_REDIRECT_PORT",
        _parse_port,
        "With TLS on, also listen on this port and redirect plain HTTP to HTTPS. Default: off.",
    ),
    Setting(
        "TRUSTED_PROXIES",
        _parse_str,
        "Comma-separated addresses of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed. Default: none (the headers are ignored).",
    ),
    Setting(
        "INGEST_RATE_PER_ADDRESS",
        _parse_int,
        "Batches a minute accepted from one address (per server process); 0 for no limit.",
        "600",
    ),
    Setting(
        "INGEST_RATE_PER_PROJECT",
        _parse_int,
        "Batches a minute accepted for one project (per server process); 0 for no limit.",
        "60000",
    ),
    Setting(
        "INGEST_MAX_BODY_MB",
        _bounded_int(1, 1024),
        "Largest batch body accepted as sent (compressed), in MB; over it the answer is 413.",
        "10",
    ),
    Setting(
        "INGEST_MAX_INFLATED_MB",
        _bounded_int(1, 4096),
        "Largest batch body accepted once decompressed, in MB (a gzip bomb stops there).",
        "50",
    ),
    Setting(
        "INGEST_MAX_EVENT_MB",
        _bounded_int(1, 1024),
        "Largest single event kept as sent, in MB; a larger one has its inline assets "
        "(data: URLs, big stylesheets) replaced by placeholders instead.",
        "5",
    ),
    Setting(
        "QUOTA_CACHE_S",
        _bounded_int(1, 3600),
        "How long each server process reuses a project's count of this month's sessions "
        "before reading it again (the monthly quota is approximate by this window).",
        "60",
    ),
    Setting(
        "GEOIP_DATABASE",
        _parse_file,
        "Path of a MaxMind-format country database (.mmdb) for the country of each session. "
        "Default: none (no countries).",
    ),
    Setting(
        "LOG_FORMAT",
        _parse_log_format,
        "Server log lines: text, or json (one object a line: time, level, logger, message, "
        "request fields).",
        "text",
    ),
    Setting(
        "METRICS_TOKEN",
        _parse_secret,
        "Bearer token that GET /metrics requires. Default: none, /metrics answers only "
        "direct requests from loopback.",
        secret=True,
    ),
    Setting(
        "SQLITE_SYNCHRONOUS",
        _parse_str,
        "SQLite synchronous mode (FULL survives power loss; NORMAL survives process crashes only).",
        "FULL",
    ),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    blob_url: str
    host: str
    port: int
    base_url: str
    secret_key: str
    admin_email: str
    admin_password: str
    demo: bool
    processor: bool
    processor_interval_ms: int
    sqlite_synchronous: str
    geoip_database: str | None
    tls_cert: str | None
    tls_key: str | None
    http_redirect_port: int | None
    trusted_proxies: str | None
    ingest_rate_per_address: int
    ingest_rate_per_project: int
    signup: bool
    smtp_url: str | None
    mail_from: str
    old_secret_keys: tuple[str, ...] = ()
    queue_url: str | None = None
    queue_stream: str = "sessionlens"
    queue_replicas: int = 1
    queue_partitions: int = 16
    queue_ack_wait_s: int = 60
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    log_format: str = "text"
    metrics_token: str | None = None
    ingest_max_body_mb: int = 10
    ingest_max_inflated_mb: int = 50
    ingest_max_event_mb: int = 5
    quota_cache_s: int = 60
    overrides: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")


def _raw_value(setting: Setting, env: Mapping[str, str]) -> str | None:
    key = PREFIX + setting.name
    if key in env and env[key] != "":
        return env[key]
    file_key = key + "_FILE"
    if setting.secret and env.get(file_key):
        try:
            return Path(env[file_key]).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"{file_key}: cannot read {env[file_key]!r}: {exc}") from exc
    return None


def _secret_from_data_dir(data_dir: Path) -> str:
    """Keep a generated secret key in the data dir so restarts keep console logins."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read every setting; raise SettingsError naming the variable on a bad value."""
    source = dict(os.environ if env is None else env)
    for name, value in overrides.items():
        if value is not None:
            source[PREFIX + name.upper()] = str(value)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = _raw_value(setting, source)
        if raw is None:
            raw = setting.default
            if raw == "":
                values[setting.name.lower()] = None
                continue
        try:
            values[setting.name.lower()] = setting.parse(raw)
        except SettingsError as exc:
            raise SettingsError(f"{PREFIX}{setting.name}: {exc}") from None
    if values["sqlite_synchronous"].upper() not in {"FULL", "NORMAL", "EXTRA"}:
        raise SettingsError(f"{PREFIX}SQLITE_SYNCHRONOUS: expected FULL, NORMAL or EXTRA")
    values["sqlite_synchronous"] = values["sqlite_synchronous"].upper()
    data_dir = Path(values["data_dir"]).expanduser().resolve()
    values["data_dir"] = data_dir
    if values["database_url"] is None:
        values["database_url"] = f"sqlite:///{data_dir / 'sessionlens.db'}"
    if values["blob_url"] is None:
        values["blob_url"] = (data_dir / "blobs").as_uri()
    if (values["tls_cert"] is None) != (values["tls_key"] is None):
        raise SettingsError(f"{PREFIX}TLS_CERT and {PREFIX}TLS_KEY go together: set both")
    if values["base_url"] is None:
        scheme = "https" if values["tls_cert"] else "http"
        values["base_url"] = f"{scheme}://{values['host']}:{values['port']}"
    if values["secret_key"] is None:
        values["secret_key"] = _secret_from_data_dir(data_dir)
    if values["old_secret_keys"] is None:
        values["old_secret_keys"] = ()
    if values["admin_password"] is None:
        values["admin_password"] = ""
    names = {f.name for f in fields(Settings)} - {"overrides"}
    return Settings(**{k: v for k, v in values.items() if k in names})


def markdown_table() -> str:
    """The README's table of settings, made from SETTINGS so the two cannot drift."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        default = f"`{setting.default}`" if setting.default else "—"
        extra = f" Also `{PREFIX}{setting.name}_FILE` (read from a file)." if setting.secret else ""
        lines.append(f"| `{PREFIX}{setting.name}` | {default} | {setting.help}{extra} |")
    return "\n".join(lines)
