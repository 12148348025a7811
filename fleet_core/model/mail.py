"""Outgoing email as the core composes it; the Mailer port delivers it."""

from __future__ import annotations

import attrs


@attrs.frozen
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None
