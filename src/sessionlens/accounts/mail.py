"""Sending the emails of sign-up, password reset and invitations.

With SESSIONLENS_SMTP_URL set, mail goes through that server; without it, each message
(with its link) is written to the server log, so a private install works without mail.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sessionlens.config import Settings

logger = logging.getLogger("sessionlens.mail")
# Tests read what would have been sent from here when no SMTP server is configured.
outbox: list[EmailMessage] = []


def send(settings: Settings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if not settings.smtp_url:
        outbox.append(message)
        del outbox[:-100]
        logger.info("email to %s (no SMTP configured): %s\n%s", to, subject, body)
        return
    parts = urlsplit(settings.smtp_url)
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        with smtplib.SMTP_SSL(
            host, parts.port or 465, timeout=20, context=ssl.create_default_context()
        ) as server:
            _login_and_send(server, parts.username, parts.password, message)
        return
    with smtplib.SMTP(host, parts.port or 587, timeout=20) as server:
        if parts.scheme != "smtp+plain":
            server.starttls(context=ssl.create_default_context())
        _login_and_send(server, parts.username, parts.password, message)


def _login_and_send(
    server: smtplib.SMTP, user: str | None, password: str | None, message: EmailMessage
) -> None:
    if user:
        server.login(unquote(user), unquote(password or ""))
    server.send_message(message)
