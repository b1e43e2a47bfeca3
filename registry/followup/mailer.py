"""Sending e-mail through the configured SMTP server (standard library only).

Settings (app config, from ``REGISTRY_SMTP_*``): ``SMTP_HOST``, ``SMTP_PORT``,
``SMTP_SECURITY`` (``none`` | ``starttls`` | ``ssl``), ``SMTP_USER``, ``SMTP_PASSWORD``,
``SMTP_SENDER``.  One connection is opened on first use and reused for the whole run.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import TracebackType
from typing import Any

SECURITY_MODES = ("none", "starttls", "ssl")


class MailConfigError(ValueError):
    """The SMTP settings cannot work (e.g. an unknown security mode)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings:
        security = str(config.get("SMTP_SECURITY") or "none").lower()
        if security not in SECURITY_MODES:
            raise MailConfigError(f"SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, "
                                  f"not {security!r}.")
        return cls(host=str(config.get("SMTP_HOST") or "localhost"),
                   port=int(config.get("SMTP_PORT") or 25), security=security,
                   user=config.get("SMTP_USER") or None,
                   password=config.get("SMTP_PASSWORD") or None,
                   sender=str(config.get("SMTP_SENDER") or "registry@localhost"))


def build_message(settings: SmtpSettings, recipient: str, subject: str,
                  body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


class Mailer:
    """A reusable SMTP connection: ``with Mailer(settings) as mailer: mailer.send(...)``."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                smtp.starttls(context=context)
        if s.user:
            smtp.login(s.user, s.password or "")
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message; reconnect once if the server dropped the connection."""
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                self._smtp.send_message(message)
                return
            except smtplib.SMTPServerDisconnected:
                self._smtp = None
                if attempt == 2:
                    raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except smtplib.SMTPException:
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
