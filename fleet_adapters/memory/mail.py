"""A mailer that keeps what it would have sent, for tests and demo mode."""

from __future__ import annotations

from fleet_core.errors import NotConfigured, Unavailable
from fleet_core.model.config import SMTPSettings
from fleet_core.model.mail import Email


class RecordingMailer:
    """Delivers into ``sent``. Set ``unavailable`` to make the next sends fail as a dead server
    would, so services' error paths can be tested."""

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.unavailable = False

    async def send(self, settings: SMTPSettings, email: Email) -> None:
        if not settings.enable_smtp:
            raise NotConfigured("email not configured")
        if self.unavailable:
            raise Unavailable("could not send email: mail server unreachable")
        self.sent.append(email)
