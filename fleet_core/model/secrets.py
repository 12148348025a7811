"""Enroll secrets: what an agent presents to join the fleet (global or team-scoped)."""

from __future__ import annotations

import datetime as dt

import attrs


@attrs.frozen
class EnrollSecret:
    secret: str = attrs.field(repr=False)
    team_id: int | None
    created_at: dt.datetime
