"""Email through the partnership's SMTP relay (``LOCMAP_SMTP_*``), with the standard library.

Settings: ``LOCMAP_SMTP_HOST`` (unset: no email; links are only shown to the admin),
``LOCMAP_SMTP_PORT`` (587), ``LOCMAP_SMTP_USER`` / ``LOCMAP_SMTP_PASSWORD`` (optional),
``LOCMAP_SMTP_FROM`` (default ``locmap@<host>``), ``LOCMAP_SMTP_STARTTLS`` (1; 0 for a
local relay that offers no TLS). A relay that fails raises :class:`MailNotSent`; callers
decide what the user sees (an admin's one-time link is still shown to them).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage

__all__ = ["configured", "send", "MailNotSent"]


class MailNotSent(Exception):
    """The relay refused, was unreachable or timed out; the message says why."""


def configured() -> bool:
    return bool(os.environ.get("LOCMAP_SMTP_HOST"))


def send(to: str, subject: str, body: str) -> None:
    host = os.environ["LOCMAP_SMTP_HOST"]
    port = int(os.environ.get("LOCMAP_SMTP_PORT", "587"))
    msg = EmailMessage()
    msg["From"] = os.environ.get("LOCMAP_SMTP_FROM", f"locmap@{host}")
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    try:
        with smtplib.SMTP(host, port, timeout=20) as smtp:
            if os.environ.get("LOCMAP_SMTP_STARTTLS", "1") != "0":
                smtp.starttls(context=ssl.create_default_context())
            user = os.environ.get("LOCMAP_SMTP_USER")
            if user:
                smtp.login(user, os.environ.get("LOCMAP_SMTP_PASSWORD", ""))
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:  # OSError: refused, unreachable, timeout
        raise MailNotSent(f"{host}:{port}: {exc or type(exc).__name__}") from exc
