"""The audit trail: who did what, with the detail fields Fleet documents per type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen
class Activity:
    id: int
    actor_id: int | None
    actor_full_name: str
    actor_email: str
    actor_gravatar: str
    type: str
    details: Mapping[str, Any] | None
    created_at: dt.datetime


@attrs.frozen
class NewActivity:
    actor_id: int | None
    actor_full_name: str
    actor_email: str
    actor_gravatar: str
    type: str
    details: Mapping[str, Any] | None
