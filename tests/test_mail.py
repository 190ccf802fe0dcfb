"""Emails go out through a real SMTP server (aiosmtpd on loopback) when one is set."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from sessionlens import config
from sessionlens.accounts import mail
from tests.server import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_mail_is_sent_through_the_configured_server(
    smtp_server: tuple[Inbox, int], settings: config.Settings
) -> None:
    inbox, port = smtp_server
    with_smtp = dataclasses.replace(
        settings,
        smtp_url=f"smtp+plain://127.0.0.1:{port}",
        mail_from="sessionlens <replay@example.com>",
    )
    mail.send(with_smtp, "zoe@example.com", "Hello", "Open https://x.example/verify/abc")
    [(sender, recipients, content)] = inbox.messages
    assert sender == "replay@example.com"
    assert recipients == ["zoe@example.com"]
    from email import message_from_bytes

    parsed: Message = message_from_bytes(content)
    assert parsed["Subject"] == "Hello"
    assert "verify/abc" in parsed.get_payload(decode=True).decode()  # type: ignore[union-attr]


def test_without_smtp_the_mail_goes_to_the_log(
    settings: config.Settings, caplog: pytest.LogCaptureFixture
) -> None:
    mail.outbox.clear()
    with caplog.at_level("INFO", logger="sessionlens.mail"):
        mail.send(settings, "zoe@example.com", "Reset", "https://x.example/password/reset/t")
    assert "password/reset/t" in caplog.text
    assert mail.outbox[-1]["To"] == "zoe@example.com"


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "mail.example:25"])
def test_bad_smtp_url_stops_start_up(tmp_path: Any, url: str) -> None:
    with pytest.raises(config.SettingsError, match="SESSIONLENS_SMTP_URL"):
        config.load({"SESSIONLENS_DATA_DIR": str(tmp_path), "SESSIONLENS_SMTP_URL": url})
