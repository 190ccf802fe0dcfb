from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sessionlens.cli import main


def run(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {"SESSIONLENS_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "sessionlens", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_user_project_and_token_from_the_command_line(tmp_path: Path) -> None:
    made = run(
        tmp_path,
        "user",
        "create",
        "carol@example.com",
        "--name",
        "Carol",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert made.returncode == 0, made.stderr
    assert "created user carol@example.com" in made.stdout
    project = run(
        tmp_path,
        "project",
        "create",
        "Store",
        "--website",
        "https://store.example",
        "--owner",
        "carol@example.com",
    )
    assert project.returncode == 0, project.stderr
    assert "project id: 1" in project.stdout
    assert "project key: " in project.stdout
    token = run(tmp_path, "token", "create", "carol@example.com")
    assert token.returncode == 0
    assert token.stdout.startswith("slk_")


def test_second_user_joins_an_existing_organisation(tmp_path: Path) -> None:
    run(
        tmp_path,
        "user",
        "create",
        "carol@example.com",
        "--name",
        "Carol",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    joined = run(
        tmp_path,
        "user",
        "create",
        "dave@example.com",
        "--org",
        "Carol",
        "--password-stdin",
        stdin="another long password\n",
    )
    assert joined.returncode == 0, joined.stderr
    assert "in organisation 1" in joined.stdout
    missing = run(
        tmp_path,
        "user",
        "create",
        "erin@example.com",
        "--org",
        "Nope",
        "--password-stdin",
        stdin="another long password\n",
    )
    assert missing.returncode == 1
    assert "no organisation named 'Nope'" in missing.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("user", "create", "not-an-email", "--password-stdin"),
            "a long enough password\n",
            "is not an email address",
        ),
        (("user", "create", "x@example.com", "--password-stdin"), "short\n", "at least 10"),
        (("user", "create", "x@example.com"), "", "--password-stdin"),
        (
            ("project", "create", "P", "--website", "shop", "--owner", "x@example.com"),
            "",
            "no user",
        ),
        (("token", "create", "nobody@example.com"), "", "no user with email"),
    ],
)
def test_user_errors_are_one_clear_line(
    tmp_path: Path, args: tuple[str, ...], stdin: str, message: str
) -> None:
    result = run(tmp_path, *args, stdin=stdin)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SESSIONLENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SESSIONLENS_PORT", "http")
    assert main(["migrate"]) == 2
    assert "SESSIONLENS_PORT: expected an integer" in capsys.readouterr().err


def test_migrate_is_repeatable(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    again = run(tmp_path, "migrate")
    assert again.returncode == 0
    assert "up to date" in again.stdout
