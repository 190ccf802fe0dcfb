from __future__ import annotations

import re
from pathlib import Path

import pytest

from sessionlens import config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_put_everything_in_the_data_dir(tmp_path: Path) -> None:
    settings = config.load({"SESSIONLENS_DATA_DIR": str(tmp_path)})
    assert settings.data_dir == tmp_path
    assert settings.database_url == f"sqlite:///{tmp_path / 'sessionlens.db'}"
    assert settings.blob_url == (tmp_path / "blobs").as_uri()
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.base_url == "http://127.0.0.1:8000"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = config.load({"SESSIONLENS_DATA_DIR": str(tmp_path)}).secret_key
    second = config.load({"SESSIONLENS_DATA_DIR": str(tmp_path)}).secret_key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_every_setting_reads_its_env_var(tmp_path: Path) -> None:
    settings = config.load(
        {
            "SESSIONLENS_DATA_DIR": str(tmp_path),
            "SESSIONLENS_DATABASE_URL": "postgresql+psycopg://db.internal/sl",
            "SESSIONLENS_BLOB_URL": "file:///srv/blobs",
            "SESSIONLENS_HOST": "0.0.0.0",  # noqa: S104
            "SESSIONLENS_PORT": "9000",
            "SESSIONLENS_BASE_URL": "https://replay.example/",
            "SESSIONLENS_SECRET_KEY": "k" * 40,
            "SESSIONLENS_DEMO": "no",
            "SESSIONLENS_PROCESSOR": "off",
            "SESSIONLENS_SQLITE_SYNCHRONOUS": "normal",
        }
    )
    assert settings.database_url == "postgresql+psycopg://db.internal/sl"
    assert settings.blob_url == "file:///srv/blobs"
    assert settings.port == 9000
    assert settings.base_url == "https://replay.example"
    assert settings.is_https
    assert settings.secret_key == "k" * 40
    assert settings.demo is False
    assert settings.processor is False
    assert settings.sqlite_synchronous == "NORMAL"


def test_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "key"
    secret_file.write_text("s" * 48 + "\n")
    settings = config.load(
        {"SESSIONLENS_DATA_DIR": str(tmp_path), "SESSIONLENS_SECRET_KEY_FILE": str(secret_file)}
    )
    assert settings.secret_key == "s" * 48


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "eighty", "SESSIONLENS_PORT: expected an integer"),
        ("PORT", "70000", "SESSIONLENS_PORT: expected a port"),
        ("DATABASE_URL", "mysql://x/y", "SESSIONLENS_DATABASE_URL"),
        ("BLOB_URL", "/just/a/path", "SESSIONLENS_BLOB_URL"),
        ("BASE_URL", "ftp://x", "SESSIONLENS_BASE_URL"),
        ("SECRET_KEY", "short", "SESSIONLENS_SECRET_KEY: must be at least 32"),
        ("DEMO", "maybe", "SESSIONLENS_DEMO: expected true or false"),
        ("SQLITE_SYNCHRONOUS", "OFF", "SESSIONLENS_SQLITE_SYNCHRONOUS"),
        ("PROCESSOR_INTERVAL_MS", "soon", "SESSIONLENS_PROCESSOR_INTERVAL_MS"),
    ],
)
def test_bad_value_names_the_variable(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(config.SettingsError, match=re.escape(message)):
        config.load({"SESSIONLENS_DATA_DIR": str(tmp_path), f"SESSIONLENS_{name}": value})


def test_readme_settings_table_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert config.markdown_table() in readme, "run: sessionlens settings, paste into README"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for setting in config.SETTINGS:
        assert f"`SESSIONLENS_{setting.name}`" in readme, f"{setting.name} is not in README.md"
    documented = set(re.findall(r"`SESSIONLENS_([A-Z_]+)`", readme))
    known = {s.name for s in config.SETTINGS} | {"ADMIN_EMAIL", "ADMIN_PASSWORD"}
    assert documented <= known | {f"{s.name}_FILE" for s in config.SETTINGS}
